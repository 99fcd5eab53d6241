//! The configuration file of section 10: a good file loads, and every kind of bad file is refused
//! with the line of the problem.

use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::Timestamp;
use memorysync_pipeline::config::{Config, StoreBackend, StoreErrorPolicy};
use memorysync_pipeline::key::{ApiKey, KeyStore};

const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const HASH_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// The example of the design, with real hashes. Line numbers below count from here.
fn full_file() -> String {
    format!(
        r#"environment = "development"

[store]
backend = "redis"
redis_url = "redis://127.0.0.1:6379"
on_store_error = "deny"

[[projects]]
id = "proj_demo"
adds_per_month = 1000
queries_per_month = 10000
alert_thresholds = [50, 75, 100]

[[keys]]
id = "key_demo"
sha256 = "{HASH_A}"
project = "proj_demo"
environment = "development"
rps = 10
rpm = 300
expires_at = "2027-01-01T00:00:00Z"

[[keys]]
id = "key_old"
sha256 = "{HASH_B}"
project = "proj_demo"
environment = "production"
revoked_at = "2026-11-01T00:00:00Z"

[health]
per_ip_rps = 7
trusted_proxies = ["10.0.0.0/8", "192.168.1.1"]

[audit]
retention_days = 30
tombstone_days = 60
dir = "audit"

[[webhooks]]
url = "https://hooks.example.com/memorysync"
secret_env = "MEMORYSYNC_WEBHOOK_SECRET"
events = ["quota.threshold", "quota.exhausted"]
"#
    )
}

fn error_line(text: &str) -> (usize, String) {
    let error = Config::from_toml(text).unwrap_err();
    (
        error.line().expect("the error names a line"),
        error.to_string(),
    )
}

/// `full_file()` with the first occurrence of `from` replaced.
fn full_with(from: &str, to: &str) -> String {
    let file = full_file();
    assert!(file.contains(from), "test bug: {from:?} not in the file");
    file.replacen(from, to, 1)
}

#[test]
fn the_full_example_loads_with_every_field() {
    let config = Config::from_toml(&full_file()).unwrap();
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.store.backend, StoreBackend::Redis);
    assert_eq!(config.store.on_store_error, StoreErrorPolicy::Deny);
    assert_eq!(config.projects[0].alert_thresholds, vec![50, 75, 100]);
    let key = &config.keys[0];
    assert_eq!((key.rps, key.rpm), (Some(10), Some(300)));
    assert_eq!(
        key.expires_at,
        Some(Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap())
    );
    assert!(config.keys[1].revoked_at.is_some());
    assert_eq!(config.health.per_ip_rps, 7);
    assert_eq!(config.health.trusted_proxies.len(), 2);
    assert_eq!(config.audit.retention.as_secs(), 30 * 86_400);
    assert_eq!(config.webhooks[0].events.len(), 2);
}

#[test]
fn defaults_fill_the_optional_tables() {
    let config = Config::from_toml("environment = \"production\"\n").unwrap();
    assert_eq!(config.store.backend, StoreBackend::Memory);
    assert_eq!(config.store.on_store_error, StoreErrorPolicy::Local);
    assert_eq!(config.health.per_ip_rps, 5);
    assert_eq!(config.audit.retention.as_secs(), 90 * 86_400);
    assert_eq!(config.audit.tombstone_period.as_secs(), 90 * 86_400);
}

#[test]
fn audit_fsync_is_per_batch_unless_turned_off_and_nothing_else_is_taken() {
    use memorysync_pipeline::audit::Fsync;

    let default = Config::from_toml("environment = \"production\"\n").unwrap();
    assert_eq!(default.audit.fsync, Fsync::Batch);
    let off = "environment = \"production\"\n[audit]\nfsync = \"off\"\n";
    assert_eq!(Config::from_toml(off).unwrap().audit.fsync, Fsync::Off);
    let (line, message) = error_line(&off.replace("\"off\"", "\"always\""));
    assert_eq!(line, 3, "{message}");
    assert!(message.contains("`batch`"), "{message}");
}

#[test]
fn the_embedded_backend_needs_a_path_and_only_it_takes_one() {
    let config = Config::from_toml(
        "environment = \"production\"\n[store]\nbackend = \"embedded\"\npath = \"state\"\n",
    )
    .unwrap();
    assert_eq!(config.store.backend, StoreBackend::Embedded);
    assert_eq!(
        config.store.path.as_deref(),
        Some(std::path::Path::new("state"))
    );
    let cases = [
        ("[store]\nbackend = \"embedded\"\n", 3, "needs path"),
        (
            "[store]\nbackend = \"embedded\"\npath = \" \"\n",
            4,
            "must name a directory",
        ),
        (
            "[store]\npath = \"state\"\n",
            3,
            "only with backend = \"embedded\"",
        ),
        (
            "[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1\"\npath = \"state\"\n",
            5,
            "only with backend = \"embedded\"",
        ),
    ];
    for (table, line, message) in cases {
        let error =
            Config::from_toml(&format!("environment = \"production\"\n{table}")).unwrap_err();
        assert_eq!(error.line(), Some(line), "{table}: {error}");
        assert!(error.to_string().contains(message), "{table}: {error}");
    }
}

#[test]
fn redis_url_is_one_redis_or_a_list_of_cluster_seeds_and_nonsense_is_refused_by_line() {
    use memorysync_pipeline::config::RedisTarget;
    let store = |table: &str| Config::from_toml(&format!("environment = \"production\"\n{table}"));
    let one =
        store("[store]\nbackend = \"redis\"\nredis_url = \"redis://10.0.0.1:6379\"\n").unwrap();
    assert_eq!(
        one.store.redis_url,
        Some(RedisTarget::Single("redis://10.0.0.1:6379".into()))
    );
    assert_eq!(one.store.quota_replica_wait, None);
    let seeds = store(
        "[store]\nbackend = \"redis\"\nredis_url = [\"redis://:pw@a:7000\", \"redis://b:7001\"]\n\
         quota_replica_wait_ms = 50\n",
    )
    .unwrap();
    let target = seeds.store.redis_url.unwrap();
    assert!(target.is_cluster());
    assert_eq!(target.urls().len(), 2);
    assert!(!format!("{target:?}").contains("pw"), "{target:?}");
    assert_eq!(
        seeds.store.quota_replica_wait,
        Some(std::time::Duration::from_millis(50))
    );

    let cases = [
        ("redis_url = []\n", "1 to 64 seed nodes"),
        ("redis_url = [\"http://a:1\"]\n", "must start with redis://"),
        (
            "redis_url = [\"redis://a:1\", \"rediss://b:1\"]\n",
            "mixes redis:// and rediss://",
        ),
        ("redis_url = 7\n", "expected a Redis URL, or a list"),
        ("redis_url = [7]\n", "invalid type: integer `7`"),
        (
            "redis_url = { host = \"a\" }\n",
            "expected a Redis URL, or a list",
        ),
        (
            "redis_url = \"redis://a:1\"\nquota_replica_wait_ms = 0\n",
            "1 to 250",
        ),
        (
            "redis_url = \"redis://a:1\"\nquota_replica_wait_ms = 251\n",
            "1 to 250",
        ),
        (
            "redis_url = \"redis://a:1\"\nquota_replica_wait_ms = -1\n",
            "line 5: invalid value",
        ),
    ];
    for (fields, message) in cases {
        let table = format!("[store]\nbackend = \"redis\"\n{fields}");
        let error = store(&table).unwrap_err();
        assert!(error.line().is_some(), "{table}: {error}");
        assert!(error.to_string().contains(message), "{table}: {error}");
    }
    let seeds: Vec<String> = (0..65).map(|n| format!("\"redis://n{n}:1\"")).collect();
    let error = store(&format!(
        "[store]\nbackend = \"redis\"\nredis_url = [{}]\n",
        seeds.join(", ")
    ))
    .unwrap_err();
    assert!(error.to_string().contains("1 to 64 seed nodes"), "{error}");
    let error = store("[store]\nquota_replica_wait_ms = 10\n").unwrap_err();
    assert!(
        error.to_string().contains("only with backend = \"redis\""),
        "{error}"
    );
}

#[test]
fn a_project_without_thresholds_gets_75_90_100() {
    let file = full_with("alert_thresholds = [50, 75, 100]\n", "");
    let config = Config::from_toml(&file).unwrap();
    assert_eq!(config.projects[0].alert_thresholds, vec![75, 90, 100]);
}

#[test]
fn an_unknown_field_names_its_line() {
    assert_eq!(
        error_line(&full_with("rps = 10", "rps = 10\ncolour = \"blue\"")).0,
        20
    );
    assert_eq!(
        error_line("environment = \"development\"\n\n[store]\nbakend = \"memory\"\n").0,
        4
    );
    assert_eq!(
        error_line("environment = \"development\"\nextra = 1\n").0,
        2
    );
}

#[test]
fn a_malformed_value_names_its_line() {
    for (from, to, line) in [
        (
            "environment = \"development\"",
            "environment = \"staging\"",
            1,
        ),
        ("backend = \"redis\"", "backend = \"postgres\"", 4),
        ("on_store_error = \"deny\"", "on_store_error = \"maybe\"", 6),
        ("adds_per_month = 1000", "adds_per_month = -1", 10),
        (
            "alert_thresholds = [50, 75, 100]",
            "alert_thresholds = [75, 50]",
            12,
        ),
        (
            "alert_thresholds = [50, 75, 100]",
            "alert_thresholds = [0, 101]",
            12,
        ),
        (HASH_A, "not-hex", 16),
        (HASH_A, &HASH_A.to_uppercase(), 16),
        ("rps = 10", "rps = \"ten\"", 19),
        ("rps = 10", "rps = 0", 19),
        ("rpm = 300", "rpm = 99999999999", 20),
        ("2027-01-01T00:00:00Z", "next year", 21),
        ("per_ip_rps = 7", "per_ip_rps = 0", 31),
        ("\"10.0.0.0/8\"", "\"10.0.0.0/33\"", 32),
        ("retention_days = 30", "retention_days = 0", 35),
        (
            "https://hooks.example.com/memorysync",
            "ftp://hooks.example.com",
            40,
        ),
        ("\"quota.exhausted\"", "\"quota.sneezed\"", 42),
        ("[health]", "[health", 30),
    ] {
        let (got, message) = error_line(&full_with(from, to));
        assert_eq!(got, line, "{from} -> {to}: {message}");
    }
}

#[test]
fn a_key_takes_its_windows_as_durations() {
    let file = full_with(
        "rps = 10",
        "rps = 10\nrps_window = \"4s\"\nrpm_window = \"10m\"",
    );
    let config = Config::from_toml(&file).unwrap();
    let key = &config.keys[0];
    assert_eq!(key.rps_window, Some(Duration::from_secs(4)));
    assert_eq!(key.rpm_window, Some(Duration::from_secs(600)));
    let other = &config.keys[1];
    assert_eq!((other.rps_window, other.rpm_window), (None, None));
}

#[test]
fn a_bad_key_window_names_its_line() {
    for (window, expected) in [
        (
            "rps_window = \"0s\"",
            "rps_window must be whole seconds from 1s to 1h, not 0s",
        ),
        ("rps_window = \"61m\"", "rps_window must be whole seconds"),
        ("rpm_window = \"30s\"", "rpm_window must be whole seconds"),
        ("rpm_window = \"2days\"", "rpm_window must be whole seconds"),
        (
            "rps_window = \"1500ms\"",
            "rps_window must be whole seconds",
        ),
        ("rps_window = \"soon\"", "rps_window must be a duration"),
        ("rpm_window = \"\"", "rpm_window must be a duration"),
        ("rps_window = 4", "invalid type"),
        ("rpm_window = [\"1m\"]", "invalid type"),
    ] {
        let (line, message) = error_line(&full_with("rps = 10", &format!("rps = 10\n{window}")));
        assert_eq!(line, 20, "{window}: {message}");
        assert!(message.contains(expected), "{window}: {message}");
    }
}

#[test]
fn a_duplicate_key_id_names_the_second_and_the_first_line() {
    let file = full_with("id = \"key_old\"", "id = \"key_demo\"");
    let (line, message) = error_line(&file);
    assert_eq!(line, 24);
    assert!(message.contains("line 15"), "{message}");
}

#[test]
fn a_duplicate_hash_names_its_line() {
    let file = full_with(HASH_B, HASH_A);
    let (line, message) = error_line(&file);
    assert_eq!(line, 25);
    assert!(message.contains("line 16"), "{message}");
}

#[test]
fn a_duplicate_project_names_its_line() {
    let file = "environment = \"development\"\n[[projects]]\nid = \"p\"\nadds_per_month = 1\nqueries_per_month = 1\n\
         [[projects]]\nid = \"p\"\nadds_per_month = 1\nqueries_per_month = 1\n";
    assert_eq!(error_line(file).0, 7);
}

#[test]
fn a_key_naming_an_unknown_project_names_its_line() {
    let file = full_with("project = \"proj_demo\"", "project = \"proj_ghost\"");
    let (line, message) = error_line(&file);
    assert_eq!(line, 17);
    assert!(message.contains("proj_ghost"), "{message}");
}

#[test]
fn a_plaintext_key_anywhere_is_refused_by_line_without_echoing_it() {
    let key = ApiKey::generate(Environment::Production).unwrap();
    let secret = key.expose_secret();
    for (from, to, line) in [
        ("id = \"key_demo\"", format!("id = \"{secret}\""), 15),
        ("dir = \"audit\"", format!("dir = \"audit\" # {secret}"), 37),
        ("[health]", format!("# old key: {secret}\n[health]"), 30),
        // Even in a broken file, where the parser would quote the line.
        ("[health]", format!("[health {secret}"), 30),
    ] {
        let (got, message) = error_line(&full_with(from, &to));
        assert_eq!(got, line, "{message}");
        assert!(
            !message.contains(secret),
            "the error repeats the key: {message}"
        );
        assert!(message.contains("plaintext"), "{message}");
    }
}

#[test]
fn the_words_msk_live_alone_are_not_a_key() {
    let file = full_with(
        "[health]",
        "# keys look like msk_live_<32 chars><checksum>\n[health]",
    );
    Config::from_toml(&file).unwrap();
}

#[test]
fn load_names_the_file_and_an_unreadable_file_is_an_error() {
    let dir = std::env::temp_dir().join(format!("memorysync-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "environment = \"development\"\nnope = 1\n").unwrap();
    let message = Config::load(&path).unwrap_err().to_string();
    assert!(message.contains("bad.toml:line 2"), "{message}");
    assert!(Config::load(dir.join("missing.toml")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_key_store_from_a_config_holds_revoked_keys_as_revoked_and_tombstoned() {
    let config = Config::from_toml(&full_file()).unwrap();
    let now = Timestamp::parse_rfc3339("2026-11-26T00:00:00Z").unwrap();
    let store = config.memory_key_store(now).await.unwrap();
    assert_eq!(store.len(), 2);
    let mut restored = config.keys[1].clone();
    restored.revoked_at = None;
    restored.id = "key_restored".into();
    let refused = store.insert(restored, now).await.unwrap_err();
    assert!(
        matches!(
            refused,
            memorysync_pipeline::key::KeyStoreError::Tombstoned(_)
        ),
        "{refused:?}"
    );
}

#[test]
fn the_example_config_of_the_server_loads() {
    Config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/memorysync.toml"
    ))
    .unwrap();
}

#[test]
fn a_whsec_secret_put_in_secret_env_is_refused_without_echoing_it() {
    let secret = memorysync_pipeline::webhook::WebhookSecret::generate()
        .unwrap()
        .expose();
    let file = full_with("\"MEMORYSYNC_WEBHOOK_SECRET\"", &format!("\"{secret}\""));
    let (line, message) = error_line(&file);
    assert_eq!(line, 41, "{message}");
    assert!(message.contains("secret_env holds a secret"), "{message}");
    let body = secret.trim_start_matches("whsec_");
    assert!(
        !message.contains(body),
        "the error repeats the secret: {message}"
    );
}

#[test]
fn config_errors_that_quote_a_value_redact_whsec_msk_and_msa_material() {
    for secret in [
        "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
        "msa_0123456789abcdefghijklmnopqrstuv",
        "msk_other_0123456789abcdef",
    ] {
        let file = full_with(
            "on_store_error = \"deny\"",
            &format!("on_store_error = \"{secret}\""),
        );
        let (line, message) = error_line(&file);
        assert_eq!(line, 6, "{message}");
        let body = &secret[secret.find('_').unwrap() + 1..];
        assert!(
            !message.contains(body),
            "the error repeats the secret: {message}"
        );
        assert!(message.contains("[redacted]"), "{message}");
    }
}

#[test]
fn a_plaintext_key_behind_an_escape_or_a_line_continuation_is_refused() {
    let key = ApiKey::generate(Environment::Development).unwrap();
    let secret = key.expose_secret();
    let tail = secret.strip_prefix("msk_test_").unwrap();
    for written in [
        format!("id = \"msk\\u005ftest_{tail}\""),
        format!("id = \"\"\"msk_te\\\n    st_{tail}\"\"\""),
    ] {
        let (line, message) = error_line(&full_with("id = \"key_demo\"", &written));
        assert_eq!(line, 15, "{message}");
        assert!(message.contains("plaintext"), "{message}");
        assert!(
            !message.contains(tail),
            "the error repeats the key: {message}"
        );
    }
}

#[test]
fn the_server_table_has_defaults_and_bounds() {
    let config = Config::from_toml("environment = \"production\"\n").unwrap();
    assert_eq!(config.server.header_read_timeout.as_millis(), 5_000);
    assert_eq!(config.server.idle_timeout.as_millis(), 60_000);
    assert_eq!(config.server.max_connections, 10_000);
    assert_eq!(config.server.max_body_bytes, 2_097_152);
    assert_eq!(config.server.shutdown_grace.as_millis(), 30_000);
    let text = "environment = \"production\"\n[server]\nheader_read_timeout_ms = 250\n\
                idle_timeout_ms = 1000\nmax_connections = 64\nmax_body_bytes = 4096\n\
                shutdown_grace_ms = 2000\n";
    let config = Config::from_toml(text).unwrap();
    assert_eq!(config.server.header_read_timeout.as_millis(), 250);
    assert_eq!(config.server.max_body_bytes, 4096);
    for (field, line) in [
        ("max_connections = 0", 3),
        ("shutdown_grace_ms = 3600001", 3),
    ] {
        let text = format!("environment = \"production\"\n[server]\n{field}\n");
        let (got, message) = error_line(&text);
        assert_eq!(got, line, "{message}");
        assert!(message.contains("must be from 1 to"), "{message}");
    }
}

#[test]
fn server_tls_takes_a_readable_cert_and_key_both_or_neither_with_the_line_of_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let file = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "environment = \"production\"\n[server]\nmax_connections = 8\n\n[server.tls]\n\
             cert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        )
    };
    let config = Config::from_toml(&file(&cert, &key)).unwrap();
    let tls = config.server.tls.expect("[server.tls] read");
    assert_eq!((tls.cert, tls.key), (cert.clone(), key.clone()));
    assert_eq!(
        Config::from_toml("environment = \"production\"\n")
            .unwrap()
            .server
            .tls,
        None
    );

    // A missing key file, a directory as the cert, an empty file: each named, with its line.
    let missing = dir.path().join("nowhere.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    for (text, line, named, why) in [
        (file(&cert, &missing), 7, &missing, "cannot be read"),
        (
            file(dir.path(), &key),
            6,
            &dir.path().to_owned(),
            "cannot be read",
        ),
        (file(&empty, &key), 6, &empty, "is empty"),
    ] {
        let (got, message) = error_line(&text);
        assert_eq!(got, line, "{message}");
        assert!(
            message.contains(&named.display().to_string()) && message.contains(why),
            "{message}"
        );
    }
    // Both or neither, and nothing else in the table.
    let only_cert = format!(
        "environment = \"production\"\n[server.tls]\ncert = \"{}\"\n",
        cert.display()
    );
    let (got, message) = error_line(&only_cert);
    assert_eq!(got, 2, "{message}");
    assert!(message.contains("both `cert` and `key`"), "{message}");
    let unknown = format!("{}password = \"x\"\n", file(&cert, &key));
    assert_eq!(error_line(&unknown).0, 8);
}
