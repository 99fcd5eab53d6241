//! `memorysync keygen` as a process: the key alone on the first line, an entry that loads in a
//! config and authenticates the key, and refusals that never show a secret.

mod common;

use std::time::Duration;

use common::{Run, memorysync};
use memorysync_pipeline::Environment;
use memorysync_pipeline::auth::{ApiKeyAuthLayer, Principal};
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::config::Config;
use memorysync_pipeline::key::ApiKey;
use tower::{ServiceBuilder, ServiceExt, service_fn};

const PROJECT: &str = "environment = \"production\"\n\n[[projects]]\nid = \"proj_cli\"\nadds_per_month = 10\nqueries_per_month = 10\n\n";

/// The key of a successful run, and its entry.
fn key_and_entry(run: &Run) -> (ApiKey, String) {
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "");
    let (first, rest) = run.stdout.split_once('\n').expect("more than one line");
    let entry = rest.strip_prefix('\n').expect("a blank line after the key");
    (
        ApiKey::parse(first).expect("a key alone on line 1"),
        entry.to_owned(),
    )
}

#[tokio::test]
async fn the_entry_appended_to_a_config_loads_and_the_key_authenticates() {
    let expires = SystemClock
        .now()
        .saturating_add(Duration::from_secs(86_400));
    let run = memorysync(&[
        "keygen",
        "--project",
        "proj_cli",
        "--environment",
        "production",
        "--id",
        "key_cli",
        "--rps",
        "5",
        "--rpm",
        "100",
        "--rps-window",
        "4s",
        "--rpm-window",
        "10m",
        "--expires",
        &expires.to_rfc3339(),
    ]);
    let (key, entry) = key_and_entry(&run);
    assert!(entry.starts_with("[[keys]]\n"), "{entry}");
    assert!(
        !entry.contains(&key.expose_secret()[9..]),
        "the entry holds the key"
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("memorysync.toml");
    std::fs::write(&path, format!("{PROJECT}{entry}")).expect("written");
    let config = Config::load(&path).expect("the config loads");
    let record = &config.keys[0];
    assert_eq!(record.sha256, key.hash());
    assert_eq!((record.rps, record.rpm), (Some(5), Some(100)));
    assert_eq!(
        (record.rps_window, record.rpm_window),
        (Some(Duration::from_secs(4)), Some(Duration::from_secs(600)))
    );
    assert_eq!(
        record.expires_at.map(|t| t.unix_millis() / 1000),
        Some(expires.unix_millis() / 1000)
    );

    // The key against the file's records, through the authentication stage.
    let store = config
        .memory_key_store(SystemClock.now())
        .await
        .expect("a key store");
    let service = ServiceBuilder::new()
        .layer(ApiKeyAuthLayer::new(store, Environment::Production))
        .service(service_fn(|request: http::Request<String>| async move {
            let principal = request.extensions().get::<Principal>().cloned();
            let id = principal.map_or_else(String::new, |p| p.key_id().to_owned());
            let response = http::Response::builder().header("x-key-id", id);
            Ok::<_, std::convert::Infallible>(response.body(String::new()).expect("a response"))
        }));
    let bearer = |key: &str| {
        http::Request::get("/v1/memories")
            .header("authorization", format!("Bearer {key}"))
            .body(String::new())
            .expect("a request")
    };
    let response = service
        .clone()
        .oneshot(bearer(key.expose_secret()))
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-key-id"], "key_cli");
    let other = ApiKey::generate(Environment::Production).expect("a key");
    let response = service
        .oneshot(bearer(other.expose_secret()))
        .await
        .expect("an answer");
    assert_eq!(response.status(), 401);
}

#[test]
fn without_options_the_entry_has_a_random_id_and_no_limits() {
    let (key, entry) = key_and_entry(&memorysync(&[
        "keygen",
        "--project",
        "proj_cli",
        "--environment",
        "development",
    ]));
    assert_eq!(key.environment(), Environment::Development);
    assert!(!entry.contains("rps") && !entry.contains("rpm") && !entry.contains("expires_at"));
    let config = Config::from_toml(&format!(
        "{}{entry}",
        PROJECT.replace("production", "development")
    ))
    .expect("the entry loads");
    assert!(config.keys[0].id.starts_with("key_"), "{entry}");
}

#[test]
fn refused_values_exit_1_naming_the_option_and_nothing_is_printed() {
    let pasted = ApiKey::generate(Environment::Production).expect("a key");
    let secret = pasted.expose_secret();
    let base = [
        "keygen",
        "--project",
        "proj_cli",
        "--environment",
        "production",
    ];
    for (extra, says) in [
        (vec!["--rps", "0"], "--rps must be a whole number from 1"),
        (vec!["--rpm", "many"], "--rpm must be a whole number from 1"),
        (
            vec!["--rps-window", "2h"],
            "--rps-window must be a duration such as 4s or 10m, whole seconds from 1s to 1h",
        ),
        (
            vec!["--rpm-window", "30"],
            "--rpm-window must be a duration such as 4s or 10m, whole seconds from 1m to 24h",
        ),
        (
            vec!["--rps-window", secret],
            "--rps-window must be a duration",
        ),
        (vec!["--id", "key x"], "--id: an id is 1 to 64 characters"),
        (
            vec!["--expires", "2020-01-01T00:00:00Z"],
            "--expires must be in the future",
        ),
        (
            vec!["--expires", "tomorrow"],
            "--expires must be an RFC 3339 time",
        ),
        (
            vec!["--expires", secret],
            "--expires must be an RFC 3339 time",
        ),
        (vec!["--id", secret], "plaintext API key"),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra).collect();
        let run = memorysync(&args);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(run.stdout, "", "a refused run printed a key");
        assert!(
            run.stderr.starts_with("memorysync: ") && run.stderr.contains(says),
            "{run:?}"
        );
        assert!(!run.stderr.contains(&secret[9..]), "{run:?}");
    }
    let run = memorysync(&[
        "keygen",
        "--project",
        "proj_cli",
        "--environment",
        "staging",
    ]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("--environment must be development or production")
    );
}

#[test]
fn clap_usage_errors_exit_2() {
    let run = memorysync(&["keygen", "--environment", "production"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("--project"), "{run:?}");
    assert_eq!(run.stdout, "");
}

#[test]
fn every_tool_documents_every_option() {
    for (tool, options) in [
        (
            "keygen",
            &[
                "--project",
                "--environment",
                "--id",
                "--rps",
                "--rpm",
                "--rps-window",
                "--rpm-window",
                "--expires",
            ][..],
        ),
        ("admin-token", &["--id", "--role"][..]),
        (
            "preflight",
            &["--config", "--url", "--min-retention-days"][..],
        ),
        ("audit verify", &["--dir", "--config", "--instance"][..]),
    ] {
        let mut args: Vec<&str> = tool.split(' ').collect();
        args.push("--help");
        let run = memorysync(&args);
        assert_eq!(run.code, Some(0), "{run:?}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        for option in options {
            let at = lines
                .iter()
                .position(|l| l.trim_start().starts_with(option))
                .unwrap_or_else(|| panic!("{tool} --help lacks {option}:\n{}", run.stdout));
            // The description follows the value name, on the same line or the next.
            let same_line = lines[at].split_whitespace().count() > 2;
            let next_line = lines
                .get(at + 1)
                .is_some_and(|l| !l.trim().is_empty() && !l.trim_start().starts_with('-'));
            assert!(
                same_line || next_line,
                "{tool}: {option} has no description:\n{}",
                run.stdout
            );
        }
    }
}
