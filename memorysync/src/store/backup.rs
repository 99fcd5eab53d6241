//! `memorysync store backup --config FILE --to PATH`: a consistent copy of the embedded store.
//!
//! The database has one writer, the process holding `store.path`'s lock, and only it can read
//! a snapshot while it writes. So when a server runs on the store, the server makes the copy:
//! this command writes a request file under `store.path` (the target and a nonce) and sends
//! the server SIGUSR1 (the lock file holds its pid); the server copies a snapshot between two
//! of its commits, then writes the result file this command waits for. No listener, no token:
//! only a user who may signal the server and write its directory can ask. When no server
//! runs, this command opens the store itself and copies it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use memorysync_pipeline::config::{Config, StoreBackend};
use memorysync_pipeline::embedded_store::{EmbeddedOptions, EmbeddedStore, lock_holder};

/// The request a running server answers, under `store.path`.
const REQUEST_FILE: &str = "backup.request";
/// The server's answer, under `store.path`.
const RESULT_FILE: &str = "backup.result";
/// How long the server gets to answer.
const PATIENCE: Duration = Duration::from_secs(120);

/// The arguments of `memorysync store backup`.
#[derive(Debug, clap::Args)]
pub(crate) struct BackupArgs {
    /// The config whose `[store]` names the embedded store (`backend = "embedded"`, `path`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The backup file to write (replaced if it exists).
    #[arg(long, value_name = "PATH")]
    to: PathBuf,
}

/// The embedded store's directory of the config at `path`.
pub(crate) fn store_dir(path: &Path) -> Result<PathBuf, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    match (config.store.backend, config.store.path) {
        (StoreBackend::Embedded, Some(dir)) => Ok(dir),
        _ => Err(format!(
            "{}: store.backend is not \"embedded\": back up Redis with its own tools (BGSAVE, an AOF copy)",
            path.display()
        )),
    }
}

pub(crate) fn run(args: &BackupArgs) -> Result<(), String> {
    let dir = store_dir(&args.config)?;
    let to = std::path::absolute(&args.to).map_err(|e| format!("--to: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async {
        match lock_holder(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            Some(pid) => ask_server(&dir, pid, &to).await?,
            None => {
                let store =
                    EmbeddedStore::open(&dir, EmbeddedOptions::new()).map_err(|e| e.to_string())?;
                let copied = store.backup(&to).await.map_err(|e| e.to_string());
                store.close().await;
                copied?;
            }
        }
        println!("backup of {} written to {}", dir.display(), to.display());
        Ok(())
    })
}

/// Asks the server `pid` to copy the store to `to`, and waits for its answer.
async fn ask_server(dir: &Path, pid: u32, to: &Path) -> Result<(), String> {
    let nonce = format!("{}-{}", std::process::id(), now_millis());
    let result = dir.join(RESULT_FILE);
    let _ = std::fs::remove_file(&result);
    write_atomically(
        &dir.join(REQUEST_FILE),
        &format!("{nonce}\n{}\n", to.display()),
    )
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    let sent = std::process::Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .map_err(|e| format!("cannot signal the server (pid {pid}): {e}"))?;
    if !sent.success() {
        return Err(format!(
            "cannot signal the server (pid {pid}): kill -USR1 failed"
        ));
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(&result)
            && let Some(answer) = text.strip_prefix(&format!("{nonce} "))
        {
            let _ = std::fs::remove_file(&result);
            return match answer.trim_end().strip_prefix("ok") {
                Some(_) => Ok(()),
                None => Err(format!(
                    "the server (pid {pid}) could not back up: {answer}"
                )),
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the server (pid {pid}) did not answer within {PATIENCE:?}; is it a memorysync serve with this store?"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGUSR1, caught from this call on: the server calls it before it opens the store (whose
/// lock file names its pid), since SIGUSR1's default action would end a process that a backup
/// signals before it listens for it.
pub(crate) fn catch_requests() -> Result<tokio::signal::unix::Signal, String> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::user_defined1()).map_err(|e| format!("cannot catch SIGUSR1: {e}"))
}

/// In the server: answers each SIGUSR1 in `requests` by copying the store to the target of the
/// request file.
pub(crate) fn answer_requests(store: EmbeddedStore, mut requests: tokio::signal::unix::Signal) {
    tokio::spawn(async move {
        while requests.recv().await.is_some() {
            let dir = store.dir().to_owned();
            let Ok(text) = std::fs::read_to_string(dir.join(REQUEST_FILE)) else {
                tracing::warn!("SIGUSR1 without a backup request file; ignored");
                continue;
            };
            let _ = std::fs::remove_file(dir.join(REQUEST_FILE));
            let mut lines = text.lines();
            let (Some(nonce), Some(to)) = (lines.next(), lines.next()) else {
                tracing::warn!("an unreadable backup request; ignored");
                continue;
            };
            let answer = match store.backup(to).await {
                Ok(()) => {
                    tracing::info!(to, "store backed up");
                    "ok".to_owned()
                }
                Err(error) => {
                    tracing::warn!(to, %error, "store backup failed");
                    format!("error: {error}")
                }
            };
            if let Err(error) =
                write_atomically(&dir.join(RESULT_FILE), &format!("{nonce} {answer}\n"))
            {
                tracing::warn!(%error, "the backup's answer could not be written");
            }
        }
    });
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
