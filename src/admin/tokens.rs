//! Who calls: the `Authorization: Bearer msa_...` header checked against `[[admin_tokens]]`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{HeaderMap, header};
use subtle::{Choice, ConstantTimeEq};

use crate::key::{AdminRole, AdminToken, AdminTokenRecord, KeyHash};

/// The admin tokens in force: the config's `[[admin_tokens]]`, replaced as a whole when the file
/// is reloaded (a token removed from the file stops working at once). Cheap to clone; clones
/// share the set.
#[derive(Clone)]
pub struct AdminTokens {
    records: Arc<ArcSwap<Vec<AdminTokenRecord>>>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids and roles only: the hashes are worth nothing, but there is no reason to show them.
        let records = self.records.load();
        let ids: Vec<(&str, AdminRole)> = records.iter().map(|r| (&*r.id, r.role)).collect();
        f.debug_struct("AdminTokens").field("tokens", &ids).finish()
    }
}

/// The token a call authenticated with: its public id and role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminCaller {
    /// The token's id from `[[admin_tokens]]`, e.g. `tok_ops`: what the audit log records.
    pub token_id: Arc<str>,
    /// What it may do.
    pub role: AdminRole,
}

/// Why a call was not authenticated. Never says which part of a token was wrong beyond its
/// format, and never repeats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// No `Authorization` header, or not `Bearer`.
    Missing,
    /// Not a well-formed admin token.
    Malformed(&'static str),
    /// Well-formed, and no `[[admin_tokens]]` entry has its hash.
    Unknown,
}

impl AdminTokens {
    /// These tokens.
    pub fn new(records: Vec<AdminTokenRecord>) -> Self {
        AdminTokens {
            records: Arc::new(ArcSwap::from_pointee(records)),
        }
    }

    /// Puts `records` in force instead of the current set (a reloaded config file).
    pub fn replace(&self, records: Vec<AdminTokenRecord>) {
        self.records.store(Arc::new(records));
    }

    /// How many tokens are in force.
    pub fn len(&self) -> usize {
        self.records.load().len()
    }

    /// Whether no token is in force: then every call is refused.
    pub fn is_empty(&self) -> bool {
        self.records.load().is_empty()
    }

    /// The caller of a request with these headers.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<AdminCaller, TokenRefusal> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(TokenRefusal::Missing);
        };
        let bytes = value.as_bytes();
        // The scheme is case-insensitive (RFC 9110 section 11.1).
        let token = match bytes.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => &bytes[7..],
            _ => return Err(TokenRefusal::Missing),
        };
        let token = AdminToken::parse_bytes(token.trim_ascii())
            .map_err(|e| TokenRefusal::Malformed(e.message()))?;
        self.find(&token.hash()).ok_or(TokenRefusal::Unknown)
    }

    /// The caller of an admin token typed into the console's login form.
    pub(crate) fn authenticate_token(
        &self,
        text: &str,
    ) -> Result<(AdminCaller, KeyHash), TokenRefusal> {
        let token = AdminToken::parse_bytes(text.trim().as_bytes())
            .map_err(|e| TokenRefusal::Malformed(e.message()))?;
        let hash = token.hash();
        self.find(&hash)
            .map(|caller| (caller, hash))
            .ok_or(TokenRefusal::Unknown)
    }

    /// The role of the token `id` with this hash, while the set still lists it: a console
    /// session ends when its token leaves the file (or is replaced under the same id).
    pub(crate) fn still_listed(&self, id: &str, hash: &KeyHash) -> Option<AdminRole> {
        self.find(hash)
            .filter(|caller| &*caller.token_id == id)
            .map(|caller| caller.role)
    }

    /// The record with this hash. Every record is compared, whichever matches, so the time taken
    /// says nothing about where in the list (or how close) a match was.
    fn find(&self, hash: &KeyHash) -> Option<AdminCaller> {
        let records = self.records.load();
        let mut found: Option<&AdminTokenRecord> = None;
        for record in records.iter() {
            let matches: Choice = record.sha256.as_bytes().ct_eq(hash.as_bytes());
            if bool::from(matches) {
                found = Some(record);
            }
        }
        found.map(|record| AdminCaller {
            token_id: Arc::from(record.id.as_str()),
            role: record.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_listed_token_authenticates_with_its_role_and_a_removed_one_stops() {
        let ops = AdminToken::generate().unwrap();
        let reader = AdminToken::generate().unwrap();
        let tokens = AdminTokens::new(vec![
            AdminTokenRecord::new("tok_ops", ops.hash(), AdminRole::Admin),
            AdminTokenRecord::new("tok_read", reader.hash(), AdminRole::Read),
        ]);
        let bearer = |t: &AdminToken| headers(&format!("Bearer {}", t.expose_secret()));
        let caller = tokens.authenticate(&bearer(&reader)).unwrap();
        assert_eq!(
            (&*caller.token_id, caller.role),
            ("tok_read", AdminRole::Read)
        );
        let lower = headers(&format!("bearer {}", ops.expose_secret()));
        assert_eq!(tokens.authenticate(&lower).unwrap().role, AdminRole::Admin);

        tokens.replace(vec![AdminTokenRecord::new(
            "tok_read",
            reader.hash(),
            AdminRole::Read,
        )]);
        assert_eq!(
            tokens.authenticate(&bearer(&ops)),
            Err(TokenRefusal::Unknown)
        );
    }

    #[test]
    fn missing_malformed_and_doubled_headers_are_refused() {
        let tokens = AdminTokens::new(Vec::new());
        assert_eq!(
            tokens.authenticate(&HeaderMap::new()),
            Err(TokenRefusal::Missing)
        );
        assert_eq!(
            tokens.authenticate(&headers("Basic abc")),
            Err(TokenRefusal::Missing)
        );
        assert!(matches!(
            tokens.authenticate(&headers("Bearer msa_short")),
            Err(TokenRefusal::Malformed(_))
        ));
        let token = AdminToken::generate().unwrap();
        let mut two = headers(&format!("Bearer {}", token.expose_secret()));
        two.append(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).unwrap(),
        );
        assert_eq!(tokens.authenticate(&two), Err(TokenRefusal::Missing));
        // An API key is no admin token.
        let key = crate::key::ApiKey::generate(crate::Environment::Production).unwrap();
        let api = headers(&format!("Bearer {}", key.expose_secret()));
        assert!(matches!(
            tokens.authenticate(&api),
            Err(TokenRefusal::Malformed(_))
        ));
    }

    #[test]
    fn debug_shows_ids_and_roles_only() {
        let token = AdminToken::generate().unwrap();
        let tokens = AdminTokens::new(vec![AdminTokenRecord::new(
            "tok_ops",
            token.hash(),
            AdminRole::Admin,
        )]);
        let shown = format!("{tokens:?}");
        assert!(shown.contains("tok_ops"), "{shown}");
        assert!(!shown.contains(&token.hash().to_hex()[..8]), "{shown}");
    }
}
