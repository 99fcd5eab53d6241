//! Pagination: `?cursor=&limit=`, answered as `{"items": [...], "next_cursor": "..." | null}`.
//!
//! A cursor is opaque to the client: the base64url of the sort key of the last item given. It
//! stays right while records are added or removed between two pages (the next page starts after
//! that key, whatever is there now), and it leaks nothing the page did not show.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::AdminError;

/// Items per page when the query does not say.
pub(crate) const DEFAULT_LIMIT: u32 = 50;
/// The most items one page holds.
pub(crate) const MAX_LIMIT: u32 = 500;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Page<T> {
    /// The items, in the list's order.
    pub(crate) items: Vec<T>,
    /// Give it as `?cursor=` for the next page; `null` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// The page size asked for, checked.
pub(crate) fn limit(asked: Option<u32>) -> Result<usize, AdminError> {
    match asked.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        _ => Err(AdminError::bad_request(format!(
            "limit is 1 to {MAX_LIMIT}"
        ))),
    }
}

/// The sort key a cursor stands for.
pub(crate) fn after(cursor: Option<&str>) -> Result<Option<String>, AdminError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key| !key.is_empty())
        .map(Some)
        .ok_or_else(|| {
            AdminError::new(
                http::StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "cursor is not one this API gave",
            )
        })
}

/// The page of `items` (sorted ascending by `key`, keys unique) after the cursor's key.
pub(crate) fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Page<T>, AdminError> {
    let limit = self::limit(limit)?;
    let after = after(cursor)?;
    let mut rest: Vec<T> = match &after {
        Some(after) => items
            .into_iter()
            .filter(|item| key(item) > after.as_str())
            .collect(),
        None => items,
    };
    let next_cursor = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
    } else {
        None
    };
    Ok(Page {
        items: rest,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_the_list_once_even_when_it_changes_between_them() {
        let ids = |from: &[&str]| from.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first = page(ids(&["a", "b", "c", "d"]), |s| s, None, Some(2)).unwrap();
        assert_eq!(first.items, ["a", "b"]);
        let cursor = first.next_cursor.unwrap();
        // "b" removed and "bb" added before the next page is asked for.
        let second = page(ids(&["a", "bb", "c", "d"]), |s| s, Some(&cursor), Some(2)).unwrap();
        assert_eq!(second.items, ["bb", "c"]);
        let third = page(
            ids(&["a", "bb", "c", "d"]),
            |s| s,
            second.next_cursor.as_deref(),
            Some(2),
        )
        .unwrap();
        assert_eq!(
            (third.items, third.next_cursor),
            (vec!["d".to_owned()], None)
        );
    }

    #[test]
    fn bad_cursors_and_limits_are_refused() {
        let items = vec!["a".to_owned()];
        for cursor in ["%%%", "", "_w"] {
            let error = page(items.clone(), |s| s, Some(cursor), None).unwrap_err();
            assert_eq!(error.code, "invalid_cursor", "{cursor}");
        }
        for limit in [0, MAX_LIMIT + 1] {
            assert!(page(items.clone(), |s| s, None, Some(limit)).is_err());
        }
    }
}
