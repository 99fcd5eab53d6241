//! The dead letters through the handle: counted, listed a page at a time newest first (each
//! with its stable id), replayed one by id or all since a time.

use super::attempt_log::{MAX_PAGE, PageError};
use super::{DeadLetter, WebhookQueue, Webhooks};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// One page of dead letters, newest first, and how many there are in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterPage {
    /// Every dead letter, not only this page's.
    pub count: usize,
    /// The letters of this page ([`DeadLetter::id`] names each).
    pub items: Vec<DeadLetter>,
    /// Where the next page starts; `None` at the end.
    pub next_cursor: Option<String>,
}

impl<Q: WebhookQueue> Webhooks<Q> {
    /// How many dead letters wait.
    ///
    /// # Errors
    /// The queue did not answer.
    pub async fn dead_letter_count(&self) -> Result<usize, StoreError> {
        self.queue.dead_letter_count().await
    }

    /// A page of at most `limit` (1 to 1,000) dead letters, newest first, from after `cursor`
    /// (a previous page's `next_cursor`).
    ///
    /// # Errors
    /// [`PageError::BadCursor`], or the queue did not answer.
    pub async fn dead_letter_page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<DeadLetterPage, PageError> {
        let after = cursor.map(parse_cursor).transpose()?;
        let mut letters: Vec<(i64, String, DeadLetter)> = self
            .queue
            .dead_letters()
            .await?
            .into_iter()
            .map(|l| (l.at.unix_millis(), l.id(), l))
            .collect();
        // Newest first; one instant's letters by id, so that the order is the same every time.
        letters.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
        let count = letters.len();
        let limit = limit.clamp(1, MAX_PAGE);
        let mut rest = letters
            .into_iter()
            .filter(|(at, id, _)| after.as_ref().is_none_or(|(a, i)| (*at, id) < (*a, i)))
            .peekable();
        let items: Vec<(i64, String, DeadLetter)> = rest.by_ref().take(limit).collect();
        let next_cursor = match (rest.peek(), items.last()) {
            (Some(_), Some((at, id, _))) => Some(format!("{at}.{id}")),
            _ => None,
        };
        Ok(DeadLetterPage {
            count,
            items: items.into_iter().map(|(_, _, l)| l).collect(),
            next_cursor,
        })
    }

    /// Sends the dead letter with this id ([`DeadLetter::id`]) again, with a fresh set of
    /// attempts. `false` when there is no such dead letter.
    ///
    /// # Errors
    /// The queue did not answer.
    pub async fn replay_letter(&self, id: &str) -> Result<bool, StoreError> {
        let now = self.settings.clock.now();
        self.queue.replay_letter(id, now).await
    }

    /// Sends every letter dead-lettered at or after `since` again; how many.
    ///
    /// # Errors
    /// The queue did not answer (letters replayed before it stopped answering stay replayed).
    pub async fn replay_since(&self, since: Timestamp) -> Result<usize, StoreError> {
        let now = self.settings.clock.now();
        self.queue.replay_since(since, now).await
    }
}

/// `<millis>.<letter id>`.
fn parse_cursor(cursor: &str) -> Result<(i64, String), PageError> {
    let (at, id) = cursor.split_once('.').ok_or(PageError::BadCursor)?;
    let at = at.parse().map_err(|_| PageError::BadCursor)?;
    if !id.starts_with("dl_") {
        return Err(PageError::BadCursor);
    }
    Ok((at, id.to_owned()))
}
