//! Where an audit chain is read from: a directory of JSON Lines segments, or an instance's
//! Redis stream, named directly or through a config file as the server would find it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use memorysync_pipeline::audit::{INSTANCE_NAME_RULE, JsonLinesSink, is_instance_name};
use memorysync_pipeline::config::{Config, StoreBackend};

use super::tally::Tally;
use super::verify::VerifyArgs;

/// An audit log to verify.
#[derive(Debug)]
pub(super) enum Source {
    /// The segments under a directory.
    Dir(PathBuf),
    /// The stream `audit:<instance>` under the default key prefix of the Redis at `url`.
    Stream { url: String, instance: String },
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

    /// Hands every line to `tally`, oldest first.
    pub(super) fn read(&self, tally: &mut Tally) -> Result<(), String> {
        match self {
            Source::Dir(dir) => read_dir(dir, tally),
            Source::Stream { url, instance } => stream::read(url, instance, tally),
        }
    }
}

fn read_dir(dir: &Path, tally: &mut Tally) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("audit dir {}: {e}", dir.display());
    // A reader takes no lock: the server may be writing beside it.
    let sink = JsonLinesSink::reader(dir);
    let segments = sink.segments().map_err(cannot)?;
    // Before the lines: the writer moves the checkpoint after writing them.
    tally.checkpoint(
        sink.checkpoint()
            .transpose()
            .map(|read| read.map_err(|e| e.to_string())),
    );
    let newest = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        let name = segment
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let cannot = |e: std::io::Error| format!("{}: {e}", segment.display());
        tally.segment(name);
        let mut reader = BufReader::new(File::open(segment).map_err(cannot)?);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(cannot)? == 0 {
                break;
            }
            if line.pop_if(|b| *b == b'\n').is_none() && index == newest {
                // No newline yet: a line being written, or torn by a crash.
                tally.torn_tail(line.len());
                break;
            }
            // Bytes that are not UTF-8 are not an audit line: an empty one says so to `verify`.
            tally.line(String::from_utf8(std::mem::take(&mut line)).unwrap_or_default());
        }
    }
    Ok(())
}

#[cfg(feature = "redis")]
mod stream {
    use std::time::Duration;

    use memorysync_pipeline::redis_store::{RedisAuditSink, RedisOptions};

    use super::Tally;

    /// How long each Redis call may take.
    const TIMEOUT: Duration = Duration::from_secs(5);

    /// The server's stream for `instance`: `audit:<instance>` under the default prefix.
    pub(super) fn read(url: &str, instance: &str, tally: &mut Tally) -> Result<(), String> {
        let prefix = RedisOptions::default().prefix;
        let sink = RedisAuditSink::open(url, &prefix, TIMEOUT)
            .map_err(|e| format!("Redis: {e}"))?
            .with_stream(&format!("audit:{instance}"));
        if !exists(url, sink.stream())? {
            return Err(format!(
                "Redis has no audit stream {}: check --instance or [server] instance",
                sink.stream()
            ));
        }
        // Before the lines: each batch moves it with them, in one transaction.
        let checkpoint = sink.checkpoint().transpose();
        tally.checkpoint(checkpoint.map(|read| read.map_err(|e| format!("Redis: {e}"))));
        let lines = sink.read_lines().map_err(|e| format!("Redis: {e}"))?;
        for line in lines {
            tally.line(line);
        }
        Ok(())
    }

    /// Whether the key exists: an empty stream (trimmed by retention) is a log; none is a
    /// mistaken instance name.
    fn exists(url: &str, key: &str) -> Result<bool, String> {
        // Kind and category only: a connection error's text may carry the URL.
        let failed = |e: redis::RedisError| format!("Redis: {:?}: {}", e.kind(), e.category());
        let client = redis::Client::open(url).map_err(failed)?;
        let mut connection = client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(failed)?;
        connection.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
        redis::cmd("EXISTS")
            .arg(key)
            .query(&mut connection)
            .map_err(failed)
    }
}

#[cfg(not(feature = "redis"))]
mod stream {
    use super::Tally;

    pub(super) fn read(_url: &str, _instance: &str, _tally: &mut Tally) -> Result<(), String> {
        Err("this memorysync was built without the redis feature".to_owned())
    }
}
