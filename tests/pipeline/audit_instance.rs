//! One audit chain per process: its instance name, given or kept in the audit directory, and
//! one live writer per directory.

use memorysync_pipeline::audit::{INSTANCE_FILE, instance_in_dir, is_instance_name};
use memorysync_pipeline::config::Config;

const PRODUCTION: &str = "environment = \"production\"\n";

#[test]
fn the_instance_comes_from_the_server_table_and_a_bad_one_names_its_line() {
    let config = Config::from_toml(PRODUCTION).unwrap();
    assert_eq!(config.server.instance, None);
    let text = format!("{PRODUCTION}[server]\ninstance = \"node-1.eu_west\"\n");
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(config.server.instance.as_deref(), Some("node-1.eu_west"));
    let long = "x".repeat(65);
    for bad in ["", "0.0.0.0:8080", "a b", "a/b", &long] {
        let text = format!("{PRODUCTION}[server]\ninstance = \"{bad}\"\n");
        let error = Config::from_toml(&text).unwrap_err();
        assert_eq!(error.line(), Some(3), "{error}");
        assert!(error.to_string().contains("1 to 64 characters"), "{error}");
    }
}

#[test]
fn two_instances_in_containers_no_longer_share_the_bound_address_as_their_chain() {
    // Each container's audit directory gets its own generated name, kept across restarts.
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = instance_in_dir(one.path()).unwrap();
    let other = instance_in_dir(two.path()).unwrap();
    assert!(
        is_instance_name(&first) && first.starts_with("inst_"),
        "{first}"
    );
    assert_ne!(first, other);
    assert_ne!(first, "0.0.0.0:8080");
    // A restart reads the same name back.
    assert_eq!(instance_in_dir(one.path()).unwrap(), first);
    let kept = std::fs::read_to_string(one.path().join(INSTANCE_FILE)).unwrap();
    assert_eq!(kept.trim(), first);
    // Nothing but the name is left behind (no temporary file).
    let names: Vec<_> = std::fs::read_dir(one.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from(INSTANCE_FILE)]);
}

#[test]
fn a_kept_instance_name_that_is_not_a_name_is_an_error_not_a_new_chain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(INSTANCE_FILE), "not a name!\n").unwrap();
    let error = instance_in_dir(dir.path()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(error.to_string().contains("instance"), "{error}");
}

#[test]
fn a_second_writer_on_one_audit_dir_is_refused_until_the_first_is_dropped() {
    use memorysync_pipeline::audit::JsonLinesSink;
    let dir = tempfile::tempdir().unwrap();
    let first = JsonLinesSink::new(dir.path()).unwrap();
    let clone = first.clone();
    let error = JsonLinesSink::new(dir.path()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "the error names the directory: {error}"
    );
    // The clone shares the first writer's lock: both must go before another writer may open.
    drop(first);
    assert!(JsonLinesSink::new(dir.path()).is_err());
    drop(clone);
    JsonLinesSink::new(dir.path()).expect("the lock went with the last clone");
}

#[tokio::test]
async fn a_reader_beside_the_live_writer_takes_no_lock_and_cannot_write() {
    use memorysync_pipeline::audit::{AuditLog, AuditLogConfig, AuditSink, JsonLinesSink};
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::start(
        JsonLinesSink::new(dir.path()).unwrap(),
        AuditLogConfig::new(),
    )
    .unwrap();
    let reader = JsonLinesSink::reader(dir.path());
    assert_eq!(reader.read_lines().unwrap().len(), 0);
    let cutoff = memorysync_pipeline::clock::Timestamp::from_unix_secs(1_800_000_000);
    let error = reader.purge_before(cutoff).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    drop(log);
}
