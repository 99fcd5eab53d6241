//! Console sessions: a random id in a cookie, kept in memory with an absolute and an idle
//! expiry read from the deployment's clock. A session holds its token's id, role and hash, never
//! the token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;
use crate::key::{AdminRole, KeyHash};

/// The cookie that carries the session id.
pub(crate) const COOKIE: &str = "msc_session";
/// A session ends this long after its login, however busy.
pub(crate) const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// A session ends this long after its last request.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// The most sessions one instance keeps: a login beyond it ends the least recently used one.
pub(crate) const MAX_SESSIONS: usize = 10_000;
/// The most sessions one token keeps: its own logins beyond it end its own least recently used
/// session, so one token logging in in a loop cannot push other operators out.
pub(crate) const MAX_SESSIONS_PER_TOKEN: usize = 32;

/// One logged-in console user.
#[derive(Clone)]
pub(crate) struct Session {
    /// The admin token's id, for the audit log.
    pub(crate) token_id: Arc<str>,
    /// Its role at login; each request re-reads it from the token set.
    pub(crate) role: AdminRole,
    /// The token's hash: a token replaced under the same id ends the session.
    pub(crate) token_hash: KeyHash,
    /// The form token every POST of this session carries.
    pub(crate) csrf: CsrfToken,
    started: Timestamp,
    last_seen: Timestamp,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CSRF token and the hash stay out of logs.
        f.debug_struct("Session")
            .field("token_id", &self.token_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A session's form token. Its `Debug` shows nothing of it: the pages write it through
/// [`as_str`](Self::as_str), and nothing else does.
#[derive(Clone)]
pub(crate) struct CsrfToken(pub(super) Arc<str>);

impl CsrfToken {
    /// The token, for a form's hidden field.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token, compared in constant time.
    pub(crate) fn matches(&self, given: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

/// The sessions of one console, keyed by the SHA-256 of their ids (a lookup's timing says
/// nothing about the ids held).
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<[u8; 32], Session>>,
    secure: AtomicBool,
    /// The most sessions kept: [`MAX_SESSIONS`].
    cap: usize,
    /// The most sessions of one token: [`MAX_SESSIONS_PER_TOKEN`].
    cap_per_token: usize,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            by_id: Mutex::default(),
            secure: AtomicBool::default(),
            cap: MAX_SESSIONS,
            cap_per_token: MAX_SESSIONS_PER_TOKEN,
        }
    }
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// Random bytes ran out: no session can be made.
#[derive(Debug)]
pub(crate) struct NoRandomness;

impl Sessions {
    /// Marks the session cookie `Secure` (the listener serves TLS).
    pub(crate) fn set_secure(&self, secure: bool) {
        self.secure.store(secure, Ordering::Relaxed);
    }

    /// A new session for this token; its id, for the cookie.
    pub(crate) fn open(
        &self,
        token_id: Arc<str>,
        role: AdminRole,
        token_hash: KeyHash,
        now: Timestamp,
    ) -> Result<String, NoRandomness> {
        let id = random_text()?;
        let session = Session {
            token_id,
            role,
            token_hash,
            csrf: CsrfToken(Arc::from(random_text()?)),
            started: now,
            last_seen: now,
        };
        let mut sessions = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        // Ended sessions go as new ones come: the map holds live sessions only, roughly.
        sessions.retain(|_, s| live(s, now));
        // A token's logins in a loop end its own sessions first, then (many tokens at once)
        // the map's: it cannot grow without end.
        let own = sessions
            .values()
            .filter(|s| s.token_id == session.token_id)
            .count();
        if own >= self.cap_per_token {
            evict_least_recent(&mut sessions, |s| s.token_id == session.token_id);
        }
        if sessions.len() >= self.cap {
            evict_least_recent(&mut sessions, |_| true);
        }
        sessions.insert(digest(&id), session);
        Ok(id)
    }

    /// The live session with this id, its idle time restarted; an ended one is forgotten.
    pub(crate) fn touch(&self, id: &str, now: Timestamp) -> Option<Session> {
        let mut sessions = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        let key = digest(id);
        let session = sessions.get_mut(&key)?;
        if !live(session, now) {
            sessions.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session with this id.
    pub(crate) fn close(&self, id: &str) {
        let mut sessions = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.remove(&digest(id));
    }

    /// The `Set-Cookie` value that gives the browser session `id`.
    pub(crate) fn cookie(&self, id: &str) -> String {
        self.set_cookie(id, LIFETIME.as_secs())
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub(crate) fn removal(&self) -> String {
        self.set_cookie("", 0)
    }

    /// The session cookie with `value` for `max_age` seconds, with the same attributes either
    /// way (a browser removes a cookie only when they match).
    fn set_cookie(&self, value: &str, max_age: u64) -> String {
        let secure = if self.secure.load(Ordering::Relaxed) {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/admin; Max-Age={max_age}{secure}"
        )
    }
}

/// Removes the least recently used session among those `which` selects.
fn evict_least_recent(sessions: &mut HashMap<[u8; 32], Session>, which: impl Fn(&Session) -> bool) {
    let oldest = sessions
        .iter()
        .filter(|(_, s)| which(s))
        .min_by_key(|(_, s)| s.last_seen)
        .map(|(key, _)| *key);
    if let Some(oldest) = oldest {
        sessions.remove(&oldest);
    }
}

fn live(session: &Session, now: Timestamp) -> bool {
    now < session.started.saturating_add(LIFETIME) && now < session.last_seen.saturating_add(IDLE)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// 32 random bytes in base64url: a session id or a form token.
fn random_text() -> Result<String, NoRandomness> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| NoRandomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The session id in a request's `Cookie` headers.
pub(crate) fn cookie_of(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

    fn open(sessions: &Sessions) -> String {
        let hash = crate::key::AdminToken::generate().unwrap().hash();
        sessions
            .open(Arc::from("tok_ops"), AdminRole::Admin, hash, T0)
            .unwrap()
    }

    #[test]
    fn a_session_lives_until_idle_or_old_and_its_id_is_the_only_way_in() {
        let sessions = Sessions::default();
        let id = open(&sessions);
        let other = open(&sessions);
        assert_ne!(id, other);
        assert!(sessions.touch("nope", T0).is_none());
        let session = sessions.touch(&id, T0.saturating_add(IDLE / 2)).unwrap();
        assert!(session.csrf.matches(session.csrf.as_str()));
        assert!(!session.csrf.matches(""));
        // Touched at IDLE/2, it lives to IDLE/2 + IDLE; the other, untouched, ended at IDLE.
        assert!(sessions.touch(&other, T0.saturating_add(IDLE)).is_none());
        assert!(sessions.touch(&id, T0.saturating_add(IDLE)).is_some());
        sessions.close(&id);
        assert!(sessions.touch(&id, T0.saturating_add(IDLE)).is_none());

        let id = open(&sessions);
        let mut at = T0;
        while at.saturating_add(IDLE / 2) < T0.saturating_add(LIFETIME) {
            at = at.saturating_add(IDLE / 2);
            assert!(sessions.touch(&id, at).is_some());
        }
        assert!(sessions.touch(&id, T0.saturating_add(LIFETIME)).is_none());
        assert!(!format!("{session:?}").contains(session.csrf.as_str()));
        assert!(!format!("{:?}", session.csrf).contains(session.csrf.as_str()));
    }

    #[test]
    fn logins_past_the_cap_end_the_least_recently_used_session() {
        let sessions = Sessions {
            cap: 3,
            ..Sessions::default()
        };
        let at = |secs| T0.saturating_add(Duration::from_secs(secs));
        let open_at = |secs| {
            let hash = crate::key::AdminToken::generate().unwrap().hash();
            sessions
                .open(Arc::from("tok_ops"), AdminRole::Admin, hash, at(secs))
                .unwrap()
        };
        let first = open_at(0);
        let second = open_at(1);
        // The first is used again: the second is now the least recently used.
        assert!(sessions.touch(&first, at(2)).is_some());
        let third = open_at(3);
        let fourth = open_at(4);
        let count = sessions
            .by_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert_eq!(count, 3);
        assert!(sessions.touch(&second, at(5)).is_none());
        for id in [first, third, fourth] {
            assert!(sessions.touch(&id, at(5)).is_some());
        }
    }

    #[test]
    fn one_token_logging_in_in_a_loop_ends_only_its_own_sessions() {
        let sessions = Sessions {
            cap: 10,
            cap_per_token: 3,
            ..Sessions::default()
        };
        let at = |secs| T0.saturating_add(Duration::from_secs(secs));
        let open_as = |token: &str, secs| {
            let hash = crate::key::AdminToken::generate().unwrap().hash();
            sessions
                .open(Arc::from(token), AdminRole::Read, hash, at(secs))
                .unwrap()
        };
        let operator = open_as("tok_ops", 0);
        let flood: Vec<String> = (1..=50).map(|i| open_as("tok_flood", i)).collect();
        assert!(
            sessions.touch(&operator, at(60)).is_some(),
            "another token's session survives the flood"
        );
        let alive = flood
            .iter()
            .filter(|id| sessions.touch(id, at(60)).is_some())
            .count();
        assert_eq!(alive, 3, "the flooding token keeps its newest three");
        assert!(sessions.touch(&flood[49], at(60)).is_some());
    }

    #[test]
    fn the_cookie_has_its_attributes_and_is_read_back_among_others() {
        let sessions = Sessions::default();
        assert!(!sessions.cookie("abc").contains("Secure"));
        sessions.set_secure(true);
        let cookie = sessions.cookie("abc");
        assert!(cookie.starts_with("msc_session=abc; HttpOnly; SameSite=Strict; Path=/admin"));
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        let removal = sessions.removal();
        assert!(
            removal.starts_with("msc_session=; HttpOnly; SameSite=Strict; Path=/admin; Max-Age=0"),
            "{removal}"
        );
        assert!(removal.ends_with("; Secure"), "{removal}");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("theme=dark; msc_session=xyz; other=1"),
        );
        assert_eq!(cookie_of(&headers).as_deref(), Some("xyz"));
        assert_eq!(cookie_of(&http::HeaderMap::new()), None);
    }
}
