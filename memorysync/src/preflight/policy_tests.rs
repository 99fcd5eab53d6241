//! Webhooks, usage alerts and audit retention failing on their own; the arguments; the line
//! format.
#![allow(clippy::unwrap_used)]

use super::checks::{Item, Outcome, redact};
use super::tests::{
    SECRET_VAR, assert_only_failure, edit, good_file, parse_args, run, webhook_secret,
};

#[tokio::test]
async fn a_plain_http_webhook_fails_by_host() {
    let text = edit(&good_file(), "https://hooks", "http://hooks");
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "webhooks-https");
    assert!(line.ends_with("webhook 1 (hooks.example.com)"), "{line}");
}

#[tokio::test]
async fn an_unset_webhook_secret_variable_fails_by_name() {
    let (items, _) = run(&good_file(), &[], &[]).await;
    let line = assert_only_failure(&items, "webhook-secrets");
    assert!(
        line.ends_with(&format!("{SECRET_VAR} is not set")),
        "{line}"
    );
}

#[tokio::test]
async fn an_invalid_webhook_secret_fails_without_being_shown() {
    for (bad, why) in [
        ("whsec_c2hvcnQ=", "holds 24 to 64 bytes"),
        ("sk_not_a_webhook_secret_at_all", "starts with whsec_"),
        ("whsec_!!!not base64!!!", "followed by base64"),
    ] {
        let (items, report) = run(&good_file(), &[], &[(SECRET_VAR, bad)]).await;
        let line = assert_only_failure(&items, "webhook-secrets");
        assert!(line.contains(why), "{line}");
        assert!(
            !report.contains(bad) && !report.contains(&bad[6..]),
            "{report}"
        );
    }
}

#[tokio::test]
async fn a_project_without_the_checklist_alerts_fails_naming_what_it_lacks() {
    let text = edit(
        &good_file(),
        "queries_per_month = 10000\n",
        "queries_per_month = 10000\nalert_thresholds = [50, 75]\n",
    );
    let (items, _) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "usage-alerts");
    assert!(line.ends_with("proj_live lacks 90%, 100%"), "{line}");
}

#[tokio::test]
async fn extra_alert_thresholds_are_fine() {
    let text = edit(
        &good_file(),
        "queries_per_month = 10000\n",
        "queries_per_month = 10000\nalert_thresholds = [50, 75, 90, 100]\n",
    );
    let (items, report) = run(&text, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    assert_eq!(super::exit_code(&items), 0, "{report}");
}

#[tokio::test]
async fn retention_under_the_minimum_fails_and_the_minimum_is_an_argument() {
    let secret = webhook_secret();
    let env = [(SECRET_VAR, secret.as_str())];
    let short = edit(&good_file(), "retention_days = 365", "retention_days = 30");
    let (items, _) = run(&short, &[], &env).await;
    let line = assert_only_failure(&items, "audit-retention");
    assert!(
        line.ends_with("under the minimum of 90 days: retention_days = 30"),
        "{line}"
    );

    let (items, report) = run(&short, &["--min-retention-days", "30"], &env).await;
    assert_eq!(super::exit_code(&items), 0, "{report}");

    // The tombstone period is held to the same minimum; its default (90) passed above.
    let tombstones = edit(&good_file(), "retention_days = 365", "tombstone_days = 89");
    let (items, _) = run(&tombstones, &[], &env).await;
    let line = assert_only_failure(&items, "audit-retention");
    assert!(line.ends_with("tombstone_days = 89"), "{line}");
}

#[tokio::test]
async fn a_production_config_passed_with_its_audit_log_in_memory() {
    let in_memory = edit(&good_file(), "dir = \"audit\"\n", "");
    let (items, report) = run(&in_memory, &[], &[(SECRET_VAR, &webhook_secret())]).await;
    let line = assert_only_failure(&items, "audit-not-in-memory");
    assert!(line.contains("set audit.dir"), "{line}");
    // The item keeps its place: after the retention, before the probes.
    let names: Vec<&str> = items.iter().map(|i| i.name).collect();
    assert_eq!(
        names[9..],
        [
            "audit-retention",
            "audit-not-in-memory",
            "durable-state",
            "redis-reachable",
            "redis-cluster",
            "redis-appendonly",
            "redis-noeviction",
            "health-ok"
        ],
        "{report}"
    );
}

#[test]
fn arguments_default_the_minimum_to_90_days_and_refuse_what_they_do_not_know() {
    let words = |s: &str| parse_args(s.split_whitespace());
    let args = words("--config c.toml").unwrap();
    assert_eq!((args.min_retention_days, args.url), (90, None));
    let args = words("--config c.toml --url http://x:1 --min-retention-days 7").unwrap();
    assert_eq!(
        (args.min_retention_days, args.url.as_deref()),
        (7, Some("http://x:1"))
    );
    for bad in [
        "",
        "--url http://x",
        "--config",
        "--config c --min-retention-days x",
        "--config c --colour",
    ] {
        assert!(words(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn each_item_is_one_line_and_secret_looking_text_is_cut_out() {
    let item = |outcome| Item { name: "x", outcome }.to_string();
    assert_eq!(item(Outcome::Pass), "pass x");
    assert_eq!(
        item(Outcome::Skipped("why".into())),
        "pass x (skipped: why)"
    );
    assert_eq!(
        item(Outcome::Fail("two\n  lines".into())),
        "fail x: two lines"
    );
    assert_eq!(
        redact("a whsec_abc+/= b msk_live_Z9 c"),
        "a <redacted> b <redacted> c"
    );
    assert_eq!(redact("whsec_msk_live_abc"), "<redacted>");
    assert_eq!(
        redact("the whsec_ secret, msk_live_ prefix"),
        "the whsec_ secret, msk_live_ prefix"
    );
}
