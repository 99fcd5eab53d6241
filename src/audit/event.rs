//! What one API call leaves in the audit log.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::environment::Environment;
use crate::rejection::RejectionCode;

/// The longest user agent kept, in bytes; longer ones are cut and marked.
pub const MAX_USER_AGENT: usize = 512;
/// The longest path kept, in bytes.
pub const MAX_PATH: usize = 2048;

/// How a call ended, for the audit log. Parsed back from its word ([`FromStr`](std::str::FromStr),
/// serde), e.g. from a query's `outcome=rate_limited`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Served.
    Allowed,
    /// Refused for its key (401).
    Unauthenticated,
    /// Refused for its project scope (400 missing project, 403 another project).
    Forbidden,
    /// Refused by a rate limit (429).
    RateLimited,
    /// Answered with an empty result because the quota is used up.
    Degraded,
    /// Failed: a 5xx, an error from inside, or a store that did not answer.
    Error,
}

impl Outcome {
    /// The outcome as written in the log and in metrics labels, e.g. `rate_limited`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Forbidden => "forbidden",
            Outcome::RateLimited => "rate_limited",
            Outcome::Degraded => "degraded",
            Outcome::Error => "error",
        }
    }

    /// Every outcome, in the order of the design.
    pub const ALL: [Outcome; 6] = [
        Outcome::Allowed,
        Outcome::Unauthenticated,
        Outcome::Forbidden,
        Outcome::RateLimited,
        Outcome::Degraded,
        Outcome::Error,
    ];

    /// The outcome of a typed rejection.
    pub fn of_rejection(code: RejectionCode) -> Outcome {
        match code {
            RejectionCode::MissingApiKey
            | RejectionCode::MalformedApiKey
            | RejectionCode::InvalidApiKey
            | RejectionCode::RevokedApiKey
            | RejectionCode::ExpiredApiKey => Outcome::Unauthenticated,
            RejectionCode::MissingProjectId | RejectionCode::ProjectMismatch => Outcome::Forbidden,
            RejectionCode::RateLimited | RejectionCode::HealthRateLimited => Outcome::RateLimited,
            _ => Outcome::Error,
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    /// The outcome whose word ([`Outcome::as_str`]) is `text`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
            .ok_or(UnknownOutcome)
    }
}

/// A word that is not an [`Outcome`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownOutcome;

impl std::fmt::Display for UnknownOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "not an outcome: allowed, unauthenticated, forbidden, rate_limited, degraded or error",
        )
    }
}

impl std::error::Error for UnknownOutcome {}

/// One audit event, before it is chained. It never holds a key, a key hash, a secret or a query
/// string: the fields are chosen, not copied from the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// When the call arrived, UTC.
    #[serde(serialize_with = "rfc3339")]
    pub ts: Timestamp,
    /// `X-Request-Id` as sent (when well-formed), else one generated; the id the services inside
    /// see, echoed on the response.
    pub request_id: String,
    /// The method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The final status.
    pub status: u16,
    /// How the call ended.
    pub outcome: Outcome,
    /// The key's public id, once authenticated.
    pub key_id: Option<Arc<str>>,
    /// The key's project, once authenticated.
    pub project: Option<Arc<str>>,
    /// The key's environment, once authenticated.
    pub environment: Option<Environment>,
    /// The client address (the peer, or behind trusted proxies the forwarded client).
    pub client_ip: Option<IpAddr>,
    /// The user agent, at most [`MAX_USER_AGENT`] bytes, non-UTF-8 bytes escaped as `\xNN`.
    pub user_agent: Option<String>,
    /// Time from the call's arrival to its response, in microseconds.
    pub latency_us: u64,
    /// What an operator's event did, e.g. a reconciliation's summary (method `RECONCILE`);
    /// `None` for API calls, whose lines then carry no `detail` field at all.
    pub detail: Option<String>,
}

fn rfc3339<S: serde::Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&ts.to_rfc3339())
}

/// `bytes` as text: valid UTF-8 kept, other bytes escaped as `\xNN`, cut at `max` bytes (on a
/// character boundary) with `…` appended when cut.
pub(crate) fn sanitized(bytes: &[u8], max: usize) -> String {
    // The usual path and user agent: printable ASCII that fits, copied as it is.
    if bytes.len() <= max && bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = String::with_capacity(bytes.len().min(max + 4));
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if out.len() + c.len_utf8() > max {
                out.push('…');
                return out;
            }
            // Control characters would let a client forge line structure in naive readers.
            if c.is_control() {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            if out.len() + 4 > max {
                out.push('…');
                return out;
            }
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_marked() {
        let long = vec![b'a'; 64 * 1024];
        let kept = sanitized(&long, MAX_USER_AGENT);
        assert!(kept.len() <= MAX_USER_AGENT + '…'.len_utf8());
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn invalid_utf8_and_controls_are_escaped() {
        assert_eq!(sanitized(b"ok\xff\xfe", 100), "ok\\xff\\xfe");
        assert_eq!(sanitized("é\n".as_bytes(), 100), "é\\u{a}");
        assert_eq!(sanitized("ééé".as_bytes(), 4), "éé…");
    }

    #[test]
    fn outcome_words_match_the_log_and_the_metrics_labels_and_parse_back() {
        assert_eq!(Outcome::ALL.len(), crate::telemetry::AUDIT_OUTCOMES.len());
        for (index, outcome) in Outcome::ALL.into_iter().enumerate() {
            let logged = serde_json::to_string(&outcome).unwrap();
            assert_eq!(logged, format!("\"{}\"", outcome.as_str()));
            assert_eq!(crate::telemetry::AUDIT_OUTCOMES[index], outcome.as_str());
            assert_eq!(outcome.as_str().parse(), Ok(outcome));
            assert_eq!(serde_json::from_str::<Outcome>(&logged).ok(), Some(outcome));
        }
        assert_eq!("Allowed".parse::<Outcome>(), Err(UnknownOutcome));
        assert_eq!("".parse::<Outcome>(), Err(UnknownOutcome));
    }
}
