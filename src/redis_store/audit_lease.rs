//! The lease that makes one writer of an audit stream: a key set with `NX` and an expiry,
//! renewed by a thread of its own while the writer lives and deleted when it stops.
//!
//! A writer that dies without a word (SIGKILL, a lost host) stops renewing, and its lease
//! expires within one lease time; a new writer may then take the stream.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::connection::redis_error;
use super::sync_target::SyncTarget;

/// How long a lease lasts without renewal: how long a killed writer's stream stays closed.
pub const AUDIT_LEASE: Duration = Duration::from_secs(10);

/// Renews the lease when it is still this writer's; takes it back when it lapsed with no one
/// else taking it (Redis unreachable for longer than the lease). 1: held, 0: someone else's.
const RENEW: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Deletes the lease only when it is still this writer's.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A held lease; dropping it stops the renewal and releases the key.
pub(super) struct Lease {
    stop: Option<mpsc::Sender<()>>,
    renewal: Option<JoinHandle<()>>,
    lost: Arc<AtomicBool>,
}

impl Lease {
    /// Takes the lease `key` for `ttl`, renewed every `ttl * 3 / 10` (3 s of 10 s).
    ///
    /// # Errors
    /// [`io::ErrorKind::WouldBlock`] when another writer holds it, naming `stream`; others when
    /// Redis does not answer.
    pub(super) fn take(
        target: &SyncTarget,
        timeout: Duration,
        stream: &str,
        key: String,
        ttl: Duration,
    ) -> io::Result<Lease> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let owner = owner_token()?;
        let connect = {
            let target = target.for_key(&key);
            move || target.connect(timeout)
        };
        let mut connection = connect().map_err(|e| io::Error::other(redis_error(&e)))?;
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query(&mut connection)
            .map_err(|e| io::Error::other(redis_error(&e)))?;
        if taken.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "audit stream {stream} has a live writer already (its lease {key} is held; \
                     a writer that died loses it within {} ms)",
                    ttl.as_millis()
                ),
            ));
        }
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let every = (ttl * 3 / 10).max(Duration::from_millis(1));
        let lost_by_renewal = Arc::clone(&lost);
        let renewal = std::thread::Builder::new()
            .name("audit-lease".into())
            .spawn(move || {
                let (renew, release) = (redis::Script::new(RENEW), redis::Script::new(RELEASE));
                let mut connection = Some(connection);
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if connection.is_none() {
                        connection = connect().ok();
                    }
                    let Some(held) = connection.as_mut() else {
                        continue;
                    };
                    match renew.key(&key).arg(&owner).arg(ttl_ms).invoke::<i64>(held) {
                        Ok(1) => {}
                        Ok(_) => {
                            tracing::error!(lease = %key, "audit stream lease taken by another writer");
                            lost_by_renewal.store(true, Ordering::Release);
                            return;
                        }
                        Err(error) => {
                            let error = redis_error(&error);
                            tracing::warn!(lease = %key, %error, "audit stream lease not renewed");
                            connection = None;
                        }
                    }
                }
                if let Some(mut held) = connection.or_else(|| connect().ok()) {
                    let _ = release.key(&key).arg(&owner).invoke::<i64>(&mut held);
                }
            })?;
        Ok(Lease {
            stop: Some(stop),
            renewal: Some(renewal),
            lost,
        })
    }

    /// Whether another writer holds the stream now: writing must stop.
    pub(super) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Closing the channel wakes the renewal thread, which releases the lease and ends.
        drop(self.stop.take());
        if let Some(renewal) = self.renewal.take() {
            let _ = renewal.join();
        }
    }
}

/// 16 random bytes in hex: tells this writer's lease from any other's.
fn owner_token() -> io::Result<String> {
    super::random_hex128().map_err(|e| io::Error::other(e.to_string()))
}
