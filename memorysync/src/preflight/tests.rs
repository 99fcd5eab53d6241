//! The preflight over files in a temporary directory: a good production config passes every
//! item, and each bad item fails on its own, with exit code 1 and no secret in the output.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::env::VarError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use memorysync_pipeline::Environment;
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::webhook::WebhookSecret;

use super::checks::{Item, Outcome};
use super::{PreflightArgs, exit_code, preflight};

pub(crate) const SECRET_VAR: &str = "PREFLIGHT_TEST_WEBHOOK_SECRET";

/// The preflight's arguments as the program reads them from `words` (its name left out).
pub(crate) fn parse_args<S: Into<String>>(
    words: impl IntoIterator<Item = S>,
) -> Result<PreflightArgs, clap::Error> {
    #[derive(clap::Parser)]
    struct Preflight {
        #[command(flatten)]
        args: PreflightArgs,
    }
    let words = std::iter::once("preflight".to_owned()).chain(words.into_iter().map(Into::into));
    <Preflight as clap::Parser>::try_parse_from(words).map(|p| p.args)
}

/// A production config that passes every item. The comment on `secret_env` is the design's own
/// wording: prose mentioning `whsec_` must not count as a plaintext secret.
pub(crate) fn good_file() -> String {
    format!(
        r#"environment = "production"

[[projects]]
id = "proj_live"
adds_per_month = 1000
queries_per_month = 10000

[[keys]]
id = "key_live"
sha256 = "{}"
project = "proj_live"
environment = "production"
rps = 10
rpm = 300

[audit]
dir = "audit"
retention_days = 365

[[webhooks]]
url = "https://hooks.example.com/memorysync"
secret_env = "{SECRET_VAR}"   # the whsec_ secret comes from this variable, never the file
events = ["quota.threshold", "quota.exhausted"]

[store]
backend = "embedded"
path = "state"
"#,
        "a".repeat(64)
    )
}

/// `file` with `from` replaced; the test is void if `from` is not there, so that is a panic.
pub(crate) fn edit(file: &str, from: &str, to: &str) -> String {
    assert!(file.contains(from), "{from:?} is not in the file");
    file.replacen(from, to, 1)
}

/// A file in the system's temporary directory, removed when dropped.
pub(crate) struct TempConfig(pub(crate) PathBuf);

impl TempConfig {
    pub(crate) fn new(text: &str) -> TempConfig {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "preflight-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).unwrap();
        TempConfig(path)
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the preflight on `text` with `extra` arguments and `env` as the whole environment;
/// returns the items and the printed report.
pub(crate) async fn run(text: &str, extra: &[&str], env: &[(&str, &str)]) -> (Vec<Item>, String) {
    let file = TempConfig::new(text);
    let mut words = vec!["--config".to_owned(), file.0.display().to_string()];
    words.extend(extra.iter().map(|w| (*w).to_owned()));
    let args = parse_args(words).unwrap();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned().ok_or(VarError::NotPresent);
    let items = preflight(&args, &lookup).await;
    let report = items.iter().map(|i| format!("{i}\n")).collect();
    (items, report)
}

/// A fresh, valid `whsec_` secret.
pub(crate) fn webhook_secret() -> String {
    WebhookSecret::generate().unwrap().expose()
}

/// Asserts that `name` is the one failing item and the run fails; returns its line.
#[track_caller]
pub(crate) fn assert_only_failure(items: &[Item], name: &str) -> String {
    let failed: Vec<&Item> = items
        .iter()
        .filter(|i| matches!(i.outcome, Outcome::Fail(_)))
        .collect();
    let report: String = items.iter().map(|i| format!("{i}\n")).collect();
    assert_eq!(failed.len(), 1, "expected only {name} to fail:\n{report}");
    assert_eq!(failed[0].name, name);
    assert_eq!(exit_code(items), 1);
    failed[0].to_string()
}

#[tokio::test]
async fn a_good_production_config_passes_every_item_and_never_prints_the_secret() {
    let secret = webhook_secret();
    let (items, report) = run(&good_file(), &[], &[(SECRET_VAR, &secret)]).await;
    assert_eq!(exit_code(&items), 0, "{report}");
    assert_eq!(report.lines().count(), 17, "one line per item:\n{report}");
    assert!(report.lines().all(|l| l.starts_with("pass ")), "{report}");
    assert!(report.contains("pass redis-reachable (skipped: embedded backend)\n"));
    assert!(report.contains("pass redis-cluster (skipped: embedded backend)\n"));
    assert!(report.contains("pass redis-appendonly (skipped: embedded backend)\n"));
    assert!(report.contains("pass redis-noeviction (skipped: embedded backend)\n"));
    assert!(report.contains("pass health-ok (skipped: no --url given)\n"));
    assert!(!report.contains(&secret));
}

#[tokio::test]
async fn a_file_that_does_not_load_fails_with_the_loader_line_and_skips_what_needs_it() {
    let text = edit(&good_file(), "[audit]\n", "[audit]\ncolour = \"blue\"\n");
    let (items, report) = run(&text, &[], &[]).await;
    assert_eq!(exit_code(&items), 1);
    assert!(report.contains("fail config-loads: "), "{report}");
    assert!(
        report.contains("line 17: unknown field `colour`"),
        "{report}"
    );
    let not_checked = report
        .lines()
        .filter(|l| l.ends_with("not checked: the config did not load"));
    assert_eq!(not_checked.count(), 14, "{report}");
    assert!(report.contains("pass no-plaintext-secrets\n"));
    assert!(report.contains("pass health-ok (skipped"));
    assert_eq!(report.lines().count(), 17);
}

#[tokio::test]
async fn a_missing_file_fails_the_load_and_the_scan() {
    let args = parse_args(["--config", "/nonexistent/preflight.toml"]);
    let items = preflight(&args.unwrap(), &|_| Err(VarError::NotPresent)).await;
    let report: String = items.iter().map(|i| format!("{i}\n")).collect();
    assert!(report.contains("fail config-loads: /nonexistent/preflight.toml:cannot read"));
    assert!(report.contains("fail no-plaintext-secrets: not checked: cannot read the file"));
    assert_eq!(exit_code(&items), 1);
}

#[tokio::test]
async fn a_production_config_on_the_memory_backend_fails_durable_state_saying_why() {
    let text = edit(
        &good_file(),
        "[store]\nbackend = \"embedded\"\npath = \"state\"\n",
        "",
    );
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "durable-state");
    assert!(
        line.contains("a restart would undo") && line.contains("store.backend = \"embedded\""),
        "{line}"
    );
}

#[tokio::test]
async fn a_development_deployment_fails_the_environment_item() {
    let text = edit(
        &good_file(),
        "environment = \"production\"\n\n",
        "environment = \"development\"\n\n",
    );
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "production-environment");
    assert!(line.contains("environment = \"development\""), "{line}");
}

#[tokio::test]
async fn development_keys_fail_by_id_and_never_by_secret() {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let entry = format!(
        "[[keys]]\nid = \"key_dev\"\nsha256 = \"{}\"\nproject = \"proj_live\"\nenvironment = \"development\"\nrps = 1\nrpm = 60\n\n[audit]",
        key.hash().to_hex()
    );
    let text = edit(&good_file(), "[audit]", &entry);
    let (items, report) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "no-development-keys");
    assert_eq!(line, "fail no-development-keys: development keys: key_dev");
    assert!(!report.contains(key.expose_secret()) && !report.contains(&key.hash().to_hex()));
}

#[tokio::test]
async fn a_key_without_a_per_minute_limit_fails_by_name() {
    let text = edit(&good_file(), "rpm = 300\n", "");
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "key-rate-limits");
    assert!(line.ends_with("key_live has no rpm"), "{line}");
}

#[tokio::test]
async fn a_whsec_secret_in_a_comment_fails_by_line_without_showing_it() {
    let secret = webhook_secret();
    let text = edit(
        &good_file(),
        "[audit]\n",
        &format!("[audit]\n# old secret: {secret}\n"),
    );
    let (items, report) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "no-plaintext-secrets");
    assert!(line.ends_with("line 17: a whsec_ webhook secret"), "{line}");
    assert!(!report.contains(&secret) && !report.contains(&secret["whsec_".len()..]));
}

/// The loader refuses an `msk_` key itself, so this item cannot fail alone: both say so, by line.
#[tokio::test]
async fn an_msk_key_in_the_file_fails_the_load_and_the_scan_without_showing_it() {
    let key = ApiKey::generate(Environment::Production).unwrap();
    let text = edit(
        &good_file(),
        "[audit]\n",
        &format!("[audit]\n# {}\n", key.expose_secret()),
    );
    let (items, report) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    assert!(report.contains("fail config-loads: "), "{report}");
    assert!(report.contains("line 17: a plaintext API key"), "{report}");
    assert!(report.contains(
        "fail no-plaintext-secrets: plaintext secrets in the file: line 17: an msk_ API key"
    ));
    assert!(!report.contains(key.expose_secret()), "{report}");
    assert_eq!(exit_code(&items), 1);
}

/// A serde message quotes the value it could not read; the report must not pass it on.
#[tokio::test]
async fn a_secret_quoted_by_the_loader_error_is_redacted() {
    let secret = webhook_secret();
    let text = edit(
        &good_file(),
        "retention_days = 365",
        &format!("retention_days = \"{secret}\""),
    );
    let (_, report) = run(&text, &[], &[]).await;
    assert!(report.contains("fail config-loads: "), "{report}");
    // The loader redacts the secret itself, before the preflight's own redaction sees it.
    assert!(
        report.contains("invalid type: string \"whsec_[redacted]\""),
        "{report}"
    );
    assert!(!report.contains(&secret["whsec_".len()..]), "{report}");
}
