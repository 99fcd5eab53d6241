//! `[[admin_tokens]]`: the admin API's tokens, by id, SHA-256 and role; and the id rule they
//! follow.

use std::collections::HashMap;

use toml::Spanned;

use super::ConfigError;
use super::raw::RawAdminToken;
use super::validate::Lines;
use crate::key::{AdminRole, AdminTokenRecord, KeyHash};

/// The longest record id accepted.
pub const MAX_RECORD_ID: usize = 64;

/// What an admin token's id must be, as said to whoever gave a bad one.
pub const RECORD_ID_RULE: &str = "an id is 1 to 64 characters of letters, digits, `.`, `_` and `-`";

/// Whether `id` is 1 to [`MAX_RECORD_ID`] characters of `[A-Za-z0-9._-]`: the rule of
/// `[[admin_tokens]]` ids, which `memorysync keygen` also applies to the key ids and project
/// ids it writes. Such an id is safe in a log line, an audit event, a Redis key and an HTTP
/// header, and needs no quoting in TOML.
pub fn is_record_id(id: &str) -> bool {
    (1..=MAX_RECORD_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(super) fn validate(
    lines: &Lines<'_>,
    raw: Vec<RawAdminToken>,
) -> Result<Vec<AdminTokenRecord>, ConfigError> {
    let mut line_by_id: HashMap<String, usize> = HashMap::new();
    let mut line_by_hash: HashMap<String, usize> = HashMap::new();
    let first_line = |seen: &mut HashMap<String, usize>, at: &Spanned<String>| {
        seen.insert(at.get_ref().clone(), lines.of(at.span()))
    };
    raw.into_iter()
        .map(|token| {
            let id = token.id.get_ref();
            if !is_record_id(id) {
                return Err(lines.error(&token.id, format!("admin token: {RECORD_ID_RULE}")));
            }
            if let Some(first) = first_line(&mut line_by_id, &token.id) {
                return Err(lines.error(
                    &token.id,
                    format!("duplicate admin token id `{id}` (first on line {first})"),
                ));
            }
            let sha256 = KeyHash::from_hex(token.sha256.get_ref())
                .map_err(|e| lines.error(&token.sha256, e.to_string()))?;
            if let Some(first) = first_line(&mut line_by_hash, &token.sha256) {
                return Err(lines.error(
                    &token.sha256,
                    format!("admin token `{id}` repeats the sha256 of the token on line {first}"),
                ));
            }
            let role: AdminRole =
                token
                    .role
                    .get_ref()
                    .parse()
                    .map_err(|e: crate::key::UnknownAdminRole| {
                        lines.error(&token.role, e.to_string())
                    })?;
            Ok(AdminTokenRecord::new(id.as_str(), sha256, role))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::{AdminRole, Config, ConfigError};
    use crate::key::AdminToken;

    /// A development config with `entries` after it, on lines 2 and on.
    fn load(entries: &str) -> Result<Config, ConfigError> {
        Config::from_toml(&format!("environment = \"development\"\n{entries}"))
    }

    fn entry(id: &str, sha256: &str, role: &str) -> String {
        format!("[[admin_tokens]]\nid = \"{id}\"\nsha256 = \"{sha256}\"\nrole = \"{role}\"\n")
    }

    #[test]
    fn an_entry_loads_with_its_hash_and_role() {
        let token = AdminToken::generate().unwrap();
        let read = entry("tok_ci", &"b".repeat(64), "read");
        let config = load(&(entry("tok_ops", &token.hash().to_hex(), "admin") + &read)).unwrap();
        assert_eq!(config.admin_tokens.len(), 2);
        assert_eq!(config.admin_tokens[0].id, "tok_ops");
        assert_eq!(config.admin_tokens[0].sha256, token.hash());
        assert_eq!(config.admin_tokens[0].role, AdminRole::Admin);
        assert_eq!(config.admin_tokens[1].role, AdminRole::Read);
        assert!(load("").unwrap().admin_tokens.is_empty());
    }

    #[test]
    fn a_bad_id_hash_or_role_is_refused_on_its_line() {
        let hash = "a".repeat(64);
        let cases = [
            (entry("tok ops", &hash, "admin"), 3, "1 to 64 characters"),
            (entry("", &hash, "admin"), 3, "1 to 64 characters"),
            (
                entry(&"t".repeat(65), &hash, "admin"),
                3,
                "1 to 64 characters",
            ),
            (
                entry("tok", &"A".repeat(64), "admin"),
                4,
                "64 lowercase hex",
            ),
            (entry("tok", "abc", "admin"), 4, "64 lowercase hex"),
            (entry("tok", &hash, "root"), 5, "\"admin\" or \"read\""),
            (entry("tok", &hash, "Admin"), 5, "\"admin\" or \"read\""),
        ];
        for (text, line, why) in cases {
            let error = load(&text).unwrap_err();
            assert_eq!(error.line(), Some(line), "{error}\n{text}");
            assert!(error.message().contains(why), "{error}");
        }
        let unknown = format!("{}colour = \"blue\"\n", entry("tok", &hash, "read"));
        assert_eq!(load(&unknown).unwrap_err().line(), Some(6));
        let missing_role = format!("[[admin_tokens]]\nid = \"tok\"\nsha256 = \"{hash}\"\n");
        assert!(load(&missing_role).unwrap_err().message().contains("role"));
    }

    #[test]
    fn a_repeated_id_or_hash_is_refused_naming_both_lines() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let same_id = entry("tok", &a, "admin") + &entry("tok", &b, "read");
        let error = load(&same_id).unwrap_err();
        assert_eq!(error.line(), Some(7), "{error}");
        assert!(error.message().contains("first on line 3"), "{error}");
        let same_hash = entry("tok_a", &a, "admin") + &entry("tok_b", &a, "read");
        let error = load(&same_hash).unwrap_err();
        assert_eq!(error.line(), Some(8), "{error}");
        assert!(error.message().contains("line 4"), "{error}");
    }

    #[test]
    fn a_plaintext_admin_token_is_refused_by_line_without_echoing_it() {
        let token = AdminToken::generate().unwrap();
        let secret = token.expose_secret();
        let escaped = secret.replacen('_', "\\u005f", 1);
        for text in [
            format!("# ops token: {secret}\n"),
            entry(secret, &"a".repeat(64), "admin"),
            format!(
                "[[admin_tokens]]\nid = \"{escaped}\"\nsha256 = \"{}\"\nrole = \"read\"\n",
                "a".repeat(64)
            ),
        ] {
            let error = load(&text).unwrap_err();
            assert_eq!(
                error.line(),
                Some(2 + usize::from(!text.starts_with('#'))),
                "{error}"
            );
            assert!(error.message().contains("plaintext"), "{error}");
            assert!(!error.to_string().contains(&secret[4..]), "{error}");
        }
        // An id or prose that merely starts like a token is not one.
        let config = load(&(entry("msa_ops", &"a".repeat(64), "read") + "# the msa_ prefix\n"));
        assert_eq!(config.unwrap().admin_tokens[0].id, "msa_ops");
    }
}
