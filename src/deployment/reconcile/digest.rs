//! The digest of a config file's reconciled content: its keys and its plans in a canonical form
//! (sorted by id, every field spelled out), so that the same records give the same digest
//! whatever the file's order, comments or other tables.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::config::Config;
use crate::environment::Environment;
use crate::store::ConfigDigest;

/// Names the canonical form inside what is hashed. Changing the form changes every digest, and a
/// file applied under the old form would then conflict with itself: a new form needs a new name
/// and a note in the changelog.
const FORM: &str = "memorysync-config-digest-1";

#[derive(Serialize)]
struct Content<'a> {
    form: &'static str,
    keys: Vec<Key<'a>>,
    projects: Vec<Project<'a>>,
}

#[derive(Serialize)]
struct Key<'a> {
    id: &'a str,
    sha256: String,
    project: &'a str,
    environment: Environment,
    rps: Option<u32>,
    rpm: Option<u32>,
    /// Whole seconds. Left out when the key sets none: a file without windows then hashes as
    /// the same form without these fields did, and the digests stores already hold still match.
    #[serde(skip_serializing_if = "Option::is_none")]
    rps_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rpm_window: Option<u64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(Serialize)]
struct Project<'a> {
    id: &'a str,
    adds_per_month: u64,
    queries_per_month: u64,
    alert_thresholds: &'a [u8],
}

/// The digest of `config`'s keys and plans.
pub(super) fn of(config: &Config) -> ConfigDigest {
    let mut keys: Vec<Key<'_>> = config
        .keys
        .iter()
        .map(|record| Key {
            id: &record.id,
            sha256: record.sha256.to_hex(),
            project: &record.project,
            environment: record.environment,
            rps: record.rps,
            rpm: record.rpm,
            rps_window: record.rps_window.map(|w| w.as_secs()),
            rpm_window: record.rpm_window.map(|w| w.as_secs()),
            expires_at: record.expires_at.map(Timestamp::unix_millis),
            revoked_at: record.revoked_at.map(Timestamp::unix_millis),
        })
        .collect();
    keys.sort_by(|a, b| a.id.cmp(b.id));
    let mut projects: Vec<Project<'_>> = config
        .projects
        .iter()
        .map(|project| Project {
            id: &project.id,
            adds_per_month: project.adds_per_month,
            queries_per_month: project.queries_per_month,
            alert_thresholds: &project.alert_thresholds,
        })
        .collect();
    projects.sort_by(|a, b| a.id.cmp(b.id));
    let content = Content {
        form: FORM,
        keys,
        projects,
    };
    // Plain data with string keys: serializing it cannot fail.
    let bytes = serde_json::to_vec(&content).unwrap_or_default();
    ConfigDigest(Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const HASH_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn config(text: &str) -> Config {
        Config::from_toml(text).expect("a valid config")
    }

    fn file(rps: u32, order_swapped: bool, extra: &str) -> Config {
        file_with(&format!("rps = {rps}"), order_swapped, extra)
    }

    /// Two keys; `key_a` has the fields `fields`.
    fn file_with(fields: &str, order_swapped: bool, extra: &str) -> Config {
        let a = format!(
            "[[keys]]\nid = \"key_a\"\nsha256 = \"{HASH_A}\"\nproject = \"p\"\nenvironment = \"development\"\n{fields}\n"
        );
        let b = format!(
            "[[keys]]\nid = \"key_b\"\nsha256 = \"{HASH_B}\"\nproject = \"p\"\nenvironment = \"development\"\n"
        );
        let (first, second) = if order_swapped { (b, a) } else { (a, b) };
        config(&format!(
            "environment = \"development\"\n{extra}\n[[projects]]\nid = \"p\"\nadds_per_month = 1\nqueries_per_month = 2\n{first}{second}"
        ))
    }

    #[test]
    fn order_comments_and_other_tables_do_not_change_the_digest_but_a_limit_does() {
        let base = of(&file(5, false, ""));
        assert_eq!(
            of(&file(5, true, "# a comment\n[health]\nper_ip_rps = 9")),
            base
        );
        assert_eq!(of(&file(5, false, "config_version = 3")), base);
        assert_ne!(of(&file(6, false, "")), base);
    }

    #[test]
    fn a_window_changes_the_digest_and_the_defaults_do_not() {
        let base = of(&file(5, false, ""));
        let with = |window: &str| of(&file_with(&format!("rps = 5\n{window}"), false, ""));
        assert_ne!(with("rps_window = \"4s\""), base);
        assert_ne!(with("rps_window = \"4s\""), with("rps_window = \"5s\""));
        assert_ne!(with("rpm_window = \"4m\""), base);
        assert_ne!(with("rpm_window = \"4m\""), with("rps_window = \"4m\""));
        // `[limits]` is no key's: it takes a restart, and reconciliation never sees it.
        assert_eq!(of(&file(5, false, "[limits]\nrps_window = \"3s\"")), base);
    }

    #[test]
    fn keys_without_windows_hash_as_the_form_without_window_fields() {
        // The SHA-256 of this file's content written without `rps_window`/`rpm_window`: a store
        // that applied it holds this digest, and a different one now would make the same file
        // conflict with itself.
        const WITHOUT_WINDOW_FIELDS: &str =
            "d777ee1b376694e5eee2f5915494b0c127893e433c421e7fdde4e51dff7844b1";
        let digest = of(&file(5, false, ""));
        assert_eq!(digest.to_hex(), WITHOUT_WINDOW_FIELDS);
    }
}
