//! [`KeyStore::find_by_hash`](crate::key::KeyStore::find_by_hash) on Redis: from the key cache
//! when its rule allows (see `cache.rs`), else one `HMGET` whose answer the cache keeps.

use std::fmt;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::Inner;
use super::stored::decode;
use crate::key::{KeyEntry, KeyHash};
use crate::store::StoreError;

type Answer = Result<Option<Arc<KeyEntry>>, StoreError>;

/// The future of [`RedisKeyStore::find_by_hash`](crate::key::KeyStore::find_by_hash): ready
/// at once when the key cache answers, else one round trip to Redis.
pub struct RedisKeyLookup {
    state: State,
}

enum State {
    /// Answered from memory: no allocation, no wait.
    Cached(Ready<Answer>),
    /// Read through to Redis.
    Remote(Pin<Box<dyn Future<Output = Answer> + Send>>),
}

impl fmt::Debug for RedisKeyLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Cached(_) => "cached",
            State::Remote(_) => "remote",
        };
        f.debug_struct("RedisKeyLookup")
            .field("state", &state)
            .finish()
    }
}

impl Future for RedisKeyLookup {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        // Both states are `Unpin`: a `Ready` and a box.
        match &mut self.get_mut().state {
            State::Cached(ready) => Pin::new(ready).poll(cx),
            State::Remote(future) => future.as_mut().poll(cx),
        }
    }
}

impl RedisKeyLookup {
    pub(super) fn new(inner: &Arc<Inner>, hash: KeyHash) -> Self {
        let state = match inner.cached(&hash) {
            Some(found) => State::Cached(std::future::ready(Ok(found))),
            None => {
                let inner = Arc::clone(inner);
                State::Remote(Box::pin(async move { inner.read_through(hash).await }))
            }
        };
        RedisKeyLookup { state }
    }
}

impl Inner {
    /// What the cache may answer for `hash` now: the entry, `Some(None)` for a hash known to
    /// have no record, `None` to ask Redis.
    fn cached(&self, hash: &KeyHash) -> Option<Option<Arc<KeyEntry>>> {
        let view = self.fresh.servable_view()?;
        if let Some(tracked) = self.cache.get(hash) {
            return tracked
                .is_confirmed_in(view)
                .then(|| Some(Arc::clone(&tracked.entry)));
        }
        let unknown = self.unknown.get(hash).is_some_and(|seen| *seen == view);
        unknown.then_some(None)
    }

    /// One `HMGET`, its answer kept for the view it was read in.
    async fn read_through(&self, hash: KeyHash) -> Answer {
        let view = self.fresh.view();
        let fields = self.fields(&hash).await?;
        let Some((record, stored)) = decode(hash, fields)? else {
            if let Some((_, gone)) = self.cache.remove(&hash) {
                self.retire(gone);
            }
            self.note_unknown(hash, view);
            return Ok(None);
        };
        self.unknown.remove(&hash);
        let tracked = self.track(hash, record, stored);
        tracked.confirm(view);
        Ok(Some(Arc::clone(&tracked.entry)))
    }

    fn note_unknown(&self, hash: KeyHash, view: u64) {
        let max = self.options.max_unknown;
        if max == 0 {
            return;
        }
        // Anyone can present new hashes: the whole set goes rather than growing past the cap.
        if self.unknown.len() >= max {
            self.unknown.clear();
        }
        self.unknown.insert(hash, view);
    }

    /// Drops records from the cache until one more fits: an eighth of the cap at a time, so a
    /// full cache is scanned once per batch of new keys, not once per key. Records not
    /// confirmed in the current view go first. A dropped record is retired: its usage is still
    /// flushed, and it is read again when used.
    pub(super) fn make_room(&self) {
        let max = self.options.max_records;
        let len = self.cache.len();
        if len < max {
            return;
        }
        let excess = len + 1 - max + max / 8;
        let view = self.fresh.view();
        let pick = |confirmed: bool, n: usize| -> Vec<KeyHash> {
            self.cache
                .iter()
                .filter(|tracked| tracked.is_confirmed_in(view) == confirmed)
                .map(|tracked| tracked.hash)
                .take(n)
                .collect()
        };
        let mut victims = pick(false, excess);
        if victims.len() < excess {
            victims.extend(pick(true, excess - victims.len()));
        }
        for hash in victims {
            if let Some((_, gone)) = self.cache.remove(&hash) {
                self.retire(gone);
            }
        }
    }
}
