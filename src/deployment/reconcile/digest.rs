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
        let a = format!(
            "[[keys]]\nid = \"key_a\"\nsha256 = \"{HASH_A}\"\nproject = \"p\"\nenvironment = \"development\"\nrps = {rps}\n"
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
}
