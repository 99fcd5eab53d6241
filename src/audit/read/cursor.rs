//! The opaque cursor of a page of audit lines: where the next page goes on, in terms of the
//! log it came from.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::AuditReadError;

/// The longest cursor text accepted: the longest one handed out is well under it.
const MAX_TEXT: usize = 96;

/// Where a page of a newest-first query stopped: the next page holds only lines older than
/// every line this page examined, so lines appended meanwhile (all newer) are never seen, and
/// none is skipped or given twice.
///
/// Opaque: it serialises to a URL-safe string ([`fmt::Display`], serde) and parses back
/// ([`FromStr`]); anything that is not a cursor is refused with
/// [`AuditReadError::InvalidCursor`]. A cursor belongs to the log that handed it out, and is
/// used with the same filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor(pub(super) Position);

/// A place in one kind of log; the next page reads what comes before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Position {
    /// Byte `offset` of the segment of UTC day number `day`: the lines before it, then the
    /// older segments.
    JsonLines { day: i64, offset: u64 },
    /// The entries before stream entry id `millis-seq`.
    Stream { millis: u64, seq: u64 },
    /// The lines of the in-memory log whose `seq` is below this one.
    Memory { seq: u64 },
}

impl fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = match self.0 {
            Position::JsonLines { day, offset } => format!("1:j:{day}:{offset}"),
            Position::Stream { millis, seq } => format!("1:r:{millis}:{seq}"),
            Position::Memory { seq } => format!("1:m:{seq}"),
        };
        f.write_str(&URL_SAFE_NO_PAD.encode(plain))
    }
}

impl FromStr for AuditCursor {
    type Err = AuditReadError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() || text.len() > MAX_TEXT {
            return Err(garbage());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| garbage())?;
        let plain = String::from_utf8(bytes).map_err(|_| garbage())?;
        let parts: Vec<&str> = plain.split(':').collect();
        let position = match parts.as_slice() {
            ["1", "j", day, offset] => Position::JsonLines {
                day: number(day)?,
                offset: number(offset)?,
            },
            ["1", "r", millis, seq] => Position::Stream {
                millis: number(millis)?,
                seq: number(seq)?,
            },
            ["1", "m", seq] => Position::Memory { seq: number(seq)? },
            _ => return Err(garbage()),
        };
        Ok(AuditCursor(position))
    }
}

/// The one answer to text that is not a cursor: which way it is wrong is of no use to a client.
fn garbage() -> AuditReadError {
    AuditReadError::InvalidCursor("not a cursor of this audit log")
}

/// A decimal number as written by `Display`: digits only (`parse` alone would take a sign).
fn number<T: FromStr>(text: &str) -> Result<T, AuditReadError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(garbage());
    }
    text.parse().map_err(|_| garbage())
}

impl serde::Serialize for AuditCursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AuditCursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_through_text_and_serde() {
        let all = [
            Position::JsonLines {
                day: 20_000,
                offset: 12_345,
            },
            Position::JsonLines { day: -3, offset: 0 },
            Position::Stream {
                millis: u64::MAX,
                seq: u64::MAX,
            },
            Position::Memory { seq: 7 },
        ];
        for position in all {
            let cursor = AuditCursor(position);
            let text = cursor.to_string();
            assert!(text.len() <= MAX_TEXT, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(text.parse::<AuditCursor>().ok(), Some(cursor));
            let json = serde_json::to_string(&cursor).ok();
            assert_eq!(json, Some(format!("\"{text}\"")));
            let back: Option<AuditCursor> = json.and_then(|j| serde_json::from_str(&j).ok());
            assert_eq!(back, Some(cursor));
        }
    }

    #[test]
    fn garbage_is_a_typed_error_never_a_panic() {
        let encode = |plain: &str| URL_SAFE_NO_PAD.encode(plain);
        let bad = [
            String::new(),
            "!!!".to_owned(),
            "x".repeat(MAX_TEXT + 1),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
            encode("1:j:1"),
            encode("1:j:1:2:3"),
            encode("1:j:a:2"),
            encode("1:j:1:-2"),
            encode("1:j:1:+2"),
            encode("1:r:1:"),
            encode("1:m:99999999999999999999999"),
            encode("2:m:1"),
            encode("1:x:1"),
        ];
        for text in bad {
            let refused = text.parse::<AuditCursor>();
            assert!(
                matches!(refused, Err(AuditReadError::InvalidCursor(_))),
                "{text:?}: {refused:?}"
            );
        }
        assert!(serde_json::from_str::<AuditCursor>("\"nope\"").is_err());
    }
}
