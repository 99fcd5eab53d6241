//! The audit chain of a deployment: its instance name and its sink.
//!
//! One chain per process, continued across restarts: the name is the option's, else the
//! config's `[server] instance`, else the one generated at the first start and kept in the audit
//! directory (or, without one, in the embedded store's `store.path`). With the audit log on Redis and no name given there is no local place to keep one,
//! and a name made up per start would open a new chain at every restart, so that is an error.

use crate::audit::{
    AuditLog, AuditLogConfig, INSTANCE_NAME_RULE, JsonLinesSink, MemoryAuditSink,
    generate_instance_name, instance_in_dir, is_instance_name,
};
use crate::clock::SharedClock;
use crate::config::{Config, StoreBackend};
use crate::tombstone::MemoryTombstones;

use super::StartError;

/// This process's audit chain name.
pub(super) fn instance_name(config: &Config, given: Option<&str>) -> Result<String, StartError> {
    if let Some(name) = given.or(config.server.instance.as_deref()) {
        return if is_instance_name(name) {
            Ok(name.to_owned())
        } else {
            Err(StartError::Instance(INSTANCE_NAME_RULE.to_owned()))
        };
    }
    match (&config.audit.dir, config.store.backend) {
        (Some(dir), _) => instance_in_dir(dir)
            .map_err(|e| StartError::Instance(format!("audit dir {}: {e}", dir.display()))),
        // The store's directory keeps it, so a restart continues the chain.
        (None, StoreBackend::Embedded) => match &config.store.path {
            Some(path) => instance_in_dir(path)
                .map_err(|e| StartError::Instance(format!("store.path {}: {e}", path.display()))),
            None => generate_instance_name().map_err(|e| StartError::Instance(e.to_string())),
        },
        (None, StoreBackend::Redis) => Err(StartError::Instance(format!(
            "the audit log is on Redis: name this process (--instance NAME or [server] instance; {INSTANCE_NAME_RULE})"
        ))),
        // The audit log lives in memory: its chain ends with the process anyway.
        (None, _) => generate_instance_name().map_err(|e| StartError::Instance(e.to_string())),
    }
}

/// The audit log's settings from the config: retention, the clock, and the tombstones its
/// expiry purges (in memory only: Redis expires its own).
pub(super) fn settings(
    config: &Config,
    clock: &SharedClock,
    tombstones: Option<MemoryTombstones>,
) -> AuditLogConfig {
    let settings = AuditLogConfig::new()
        .with_retention(config.audit.retention)
        .with_clock(SharedClock::clone(clock));
    match tombstones {
        Some(tombstones) => settings.with_tombstones(tombstones),
        None => settings,
    }
}

/// The audit log on a local sink: daily JSON Lines files under `audit.dir` (locked against a
/// second writer), else memory. `None` when the config puts it on the shared store instead.
pub(super) fn start_local(
    config: &Config,
    settings: AuditLogConfig,
) -> Option<Result<AuditLog, StartError>> {
    let started = match (&config.audit.dir, config.store.backend) {
        (Some(dir), _) => JsonLinesSink::new(dir)
            .and_then(|sink| AuditLog::start(sink.with_fsync(config.audit.fsync), settings)),
        (None, StoreBackend::Memory | StoreBackend::Embedded) => {
            AuditLog::start(MemoryAuditSink::new(), settings)
        }
        (None, StoreBackend::Redis) => return None,
    };
    Some(started.map_err(StartError::Audit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml(text).expect("a valid config")
    }

    #[test]
    fn the_option_overrides_the_table_which_overrides_the_name_kept_in_the_audit_dir() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let audit = format!(
            "environment = \"development\"\n[audit]\ndir = \"{}\"\n",
            dir.path().display()
        );
        let kept = instance_name(&config(&audit), None).expect("a generated name");
        assert!(kept.starts_with("inst_"), "{kept}");
        assert_eq!(
            instance_name(&config(&audit), None).expect("the kept name"),
            kept,
            "a restart continues the chain"
        );
        let named = config(&format!("{audit}[server]\ninstance = \"from-table\"\n"));
        assert_eq!(instance_name(&named, None).expect("named"), "from-table");
        assert_eq!(
            instance_name(&named, Some("from-option")).expect("named"),
            "from-option"
        );
        let refused = instance_name(&named, Some("0.0.0.0:8080")).expect_err("not a name");
        assert!(refused.to_string().contains("1 to 64"), "{refused}");
    }

    #[test]
    fn without_an_audit_dir_the_embedded_store_path_keeps_the_name() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let text = format!(
            "environment = \"development\"\n[store]\nbackend = \"embedded\"\npath = \"{}\"\n",
            dir.path().display()
        );
        let kept = instance_name(&config(&text), None).expect("a generated name");
        assert_eq!(
            instance_name(&config(&text), None).expect("the kept name"),
            kept
        );
        assert!(dir.path().join(crate::audit::INSTANCE_FILE).exists());
    }

    #[test]
    fn an_audit_log_on_redis_without_an_instance_is_a_startup_error_not_the_bound_address() {
        let text = "environment = \"development\"\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379\"\n";
        let error = instance_name(&config(text), None).expect_err("no name, no local place");
        let error = error.to_string();
        assert!(
            error.contains("--instance") && error.contains("[server] instance"),
            "{error}"
        );
        assert_eq!(
            instance_name(&config(text), Some("node-a")).expect("named"),
            "node-a"
        );
    }
}
