//! Secret material in a config file: what looks like a secret, the check of parsed values for
//! plaintext keys, and the redaction of every error message that quotes a value.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The prefixes of the secrets the crate issues: webhook secrets, API keys, admin tokens.
const SECRET_PREFIXES: [&str; 3] = ["whsec_", "msk_", "msa_"];

/// Whether `c` can be part of a secret's body (base64, base64url, hex or a key's tag).
fn secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=')
}

/// `text` with the body of every `whsec_`, `msk_` or `msa_` secret replaced by `[redacted]`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, prefix)) = SECRET_PREFIXES
        .iter()
        .filter_map(|p| rest.find(p).map(|at| (at, *p)))
        .min()
    {
        let body_start = at + prefix.len();
        let body_len = rest[body_start..]
            .find(|c: char| !secret_char(c))
            .unwrap_or(rest.len() - body_start);
        out.push_str(&rest[..body_start]);
        if body_len > 0 {
            out.push_str("[redacted]");
        }
        rest = &rest[body_start + body_len..];
    }
    out.push_str(rest);
    out
}

/// Whether `text` holds something shaped like an issued secret: a prefix and a body.
pub(super) fn holds_secret(text: &str) -> bool {
    redact(text) != text
}

/// Whether `text` holds a plaintext API key (`msk_live_` or `msk_test_` and a key character)
/// or admin token (`msa_` and the 38 base62 characters of a token's body: shorter, it is an
/// id such as `msa_ops` or prose).
pub(super) fn holds_credential(text: &str) -> bool {
    let followed_by = |prefix: &str, at_least: usize| {
        text.match_indices(prefix).any(|(at, _)| {
            text[at + prefix.len()..]
                .bytes()
                .take_while(u8::is_ascii_alphanumeric)
                .count()
                >= at_least
        })
    };
    followed_by("msk_live_", 1)
        || followed_by("msk_test_", 1)
        || followed_by("msa_", crate::key::ADMIN_TOKEN_LEN - "msa_".len())
}

/// The span of the first string (value or key) whose parsed text holds a credential: one can
/// hide from a look at the raw text behind an escape (`msk\u005flive_`) or a line continuation.
/// A file that does not parse has no parsed strings; its parse error is reported later.
pub(super) fn parsed_credential(text: &str) -> Option<std::ops::Range<usize>> {
    let table = DeTable::parse(text).ok()?;
    in_table(table.get_ref())
}

fn in_table(table: &DeTable<'_>) -> Option<std::ops::Range<usize>> {
    table.iter().find_map(|(key, value)| {
        if holds_credential(key.get_ref()) {
            Some(key.span())
        } else {
            in_value(value)
        }
    })
}

fn in_value(value: &Spanned<DeValue<'_>>) -> Option<std::ops::Range<usize>> {
    match value.get_ref() {
        DeValue::String(s) if holds_credential(s) => Some(value.span()),
        DeValue::Array(items) => items.iter().find_map(in_value),
        DeValue::Table(table) => in_table(table),
        _ => None,
    }
}
