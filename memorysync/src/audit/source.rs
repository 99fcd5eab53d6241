//! Where an audit chain is read from: a directory of JSON Lines segments, or an instance's
//! Redis stream, named directly or through a config file as the server would find it.

use std::path::PathBuf;

use memorysync_pipeline::audit::{AuditSource, INSTANCE_NAME_RULE, VerifyReport, is_instance_name};
use memorysync_pipeline::config::{Config, RedisTarget, StoreBackend};

use super::verify::VerifyArgs;

/// An audit log to verify.
#[derive(Debug)]
pub(super) enum Source {
    /// The segments under a directory.
    Dir(PathBuf),
    /// The stream `audit:<instance>` under the default key prefix of the Redis at `url`.
    Stream { url: RedisTarget, instance: String },
}

impl Source {
    /// The log `--dir` names, or the one the server reads from `--config`: `[audit] dir` when
    /// set, else, on a Redis store, the stream of `--instance` or `[server] instance`.
    pub(super) fn of(args: &VerifyArgs) -> Result<Source, String> {
        if let Some(dir) = &args.dir {
            return Ok(Source::Dir(dir.clone()));
        }
        let Some(path) = &args.config else {
            return Err("give --dir PATH or --config FILE".to_owned());
        };
        // The loader's errors name the file and line and never quote a secret.
        let config = Config::load(path).map_err(|e| e.to_string())?;
        if let Some(dir) = &config.audit.dir {
            if args.instance.is_some() {
                return Err(format!(
                    "--instance names a Redis audit stream, but this config keeps its audit log in {}",
                    dir.display()
                ));
            }
            return Ok(Source::Dir(dir.clone()));
        }
        if config.store.backend != StoreBackend::Redis {
            return Err(
                "this config keeps its audit log in memory (no audit.dir, store.backend = \"memory\"): \
                 there is nothing to verify offline"
                    .to_owned(),
            );
        }
        let instance = match (&args.instance, &config.server.instance) {
            (Some(name), _) if !is_instance_name(name) => {
                return Err(format!("--instance: {INSTANCE_NAME_RULE}"));
            }
            (Some(name), _) | (None, Some(name)) => name.clone(),
            (None, None) => {
                return Err(
                    "the audit log is on Redis, one stream per instance: pass --instance NAME \
                     or set [server] instance"
                        .to_owned(),
                );
            }
        };
        let url = config
            .store
            .redis_url
            .ok_or("store.backend = \"redis\" needs store.redis_url")?;
        Ok(Source::Stream { url, instance })
    }

    /// The first line of the report. A Redis URL is not shown: it may hold a password.
    pub(super) fn describe(&self) -> String {
        match self {
            Source::Dir(dir) => format!("audit dir {}", dir.display()),
            Source::Stream { instance, .. } => {
                format!("Redis audit stream of instance {instance}")
            }
        }
    }

    /// The log verified, read oldest first by the library's [`AuditSource`].
    pub(super) fn verify(&self) -> Result<VerifyReport, String> {
        match self {
            // A reader takes no lock: the server may be writing beside it.
            Source::Dir(dir) => AuditSource::JsonLines(dir.clone())
                .verify()
                .map_err(|e| e.to_string()),
            Source::Stream { url, instance } => stream::verify(url, instance),
        }
    }
}

#[cfg(feature = "redis")]
mod stream {
    use std::sync::Arc;
    use std::time::Duration;

    use memorysync_pipeline::audit::{AuditSource, VerifyReport};
    use memorysync_pipeline::config::RedisTarget;
    use memorysync_pipeline::redis_store::{RedisAuditSink, RedisOptions};

    /// How long each Redis call may take.
    const TIMEOUT: Duration = Duration::from_secs(5);

    /// The server's stream for `instance`: `audit:<instance>` under the default prefix.
    pub(super) fn verify(target: &RedisTarget, instance: &str) -> Result<VerifyReport, String> {
        let prefix = RedisOptions::default().prefix;
        let sink = RedisAuditSink::open_target(target, &prefix, TIMEOUT)
            .map_err(|e| format!("Redis: {e}"))?
            .with_stream(&format!("audit:{instance}"));
        if !sink.exists().map_err(|e| format!("Redis: {e}"))? {
            return Err(format!(
                "Redis has no audit stream {}: check --instance or [server] instance",
                sink.stream()
            ));
        }
        AuditSource::Redis(Arc::new(sink))
            .verify()
            .map_err(|e| e.to_string())
    }
}

#[cfg(not(feature = "redis"))]
mod stream {
    use memorysync_pipeline::audit::VerifyReport;
    use memorysync_pipeline::config::RedisTarget;

    pub(super) fn verify(_url: &RedisTarget, _instance: &str) -> Result<VerifyReport, String> {
        Err("this memorysync was built without the redis feature".to_owned())
    }
}
