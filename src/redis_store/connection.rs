use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::epoch::EpochWatch;
use super::keyspace::Keyspace;
use super::stall::Stall;
use crate::store::StoreError;

/// How the Redis stores connect.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Prefix of every key.
    pub prefix: String,
    /// The longest a call may take before it counts as a store error.
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "memorysync:".into(),
            timeout: Duration::from_millis(500),
        }
    }
}

/// A shared, self-reconnecting connection with the options of every store built on it.
#[derive(Clone)]
pub struct RedisConnection {
    manager: ConnectionManager,
    /// For connections of their own: the key cache's pub/sub subscription. Behind an `Arc`:
    /// the connection is cloned into every store and kept small.
    client: Arc<redis::Client>,
    options: Arc<RedisOptions>,
    keyspace: Keyspace,
    stall: Arc<Stall>,
    epoch: Arc<EpochWatch>,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: it is not kept, so it cannot be shown.
        f.debug_struct("RedisConnection")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS).
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| redis_error(&e))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            options.timeout * 4,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| StoreError::new("redis did not answer in time"))?
        .map_err(|e| redis_error(&e))?;
        let keyspace = Keyspace::new(&options.prefix);
        Ok(RedisConnection {
            manager,
            client: Arc::new(client),
            epoch: Arc::new(EpochWatch::new(keyspace.epoch())),
            keyspace,
            options: Arc::new(options),
            stall: Arc::default(),
        })
    }

    /// The prefix and `parts` joined with `:`, taken as they are (not escaped): what a test
    /// reads to see what a store wrote. The stores name their keys through the keyspace.
    pub fn key(&self, parts: &[&str]) -> String {
        self.keyspace.join(parts)
    }

    /// The names of every key under the prefix.
    pub(crate) fn keyspace(&self) -> &Keyspace {
        &self.keyspace
    }

    /// What this connection knows of the epoch it trusts.
    pub(crate) fn epoch_watch(&self) -> &Arc<EpochWatch> {
        &self.epoch
    }

    /// The options.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The client the connection was opened with, for a connection that cannot be shared (a
    /// pub/sub subscription).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A connection handle for one call (cheap: the connection is multiplexed).
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// Runs `call` with the configured timeout; a timeout or an error is a [`StoreError`].
    ///
    /// While Redis is known not to answer (a call on this connection or a clone of it timed out
    /// or found it broken, and no probe has answered since), fails at once without sending
    /// `call`: the stages of one request share one timeout, not one each. So it does while Redis
    /// is known to have lost the data of the watched epoch (see
    /// [`watch_epoch`](Self::watch_epoch)): the stages apply their outage policy.
    pub async fn timed<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        if self.stall.is_stalled() {
            return Err(Stall::refusal());
        }
        if self.epoch.is_lost() {
            return Err(EpochWatch::refusal());
        }
        self.timed_and_noted(call).await
    }

    /// `call` with the timeout, whatever the stall and epoch notes say; its outcome updates the
    /// stall note.
    pub(super) async fn timed_and_noted<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.options.timeout, call).await {
            Ok(Ok(value)) => {
                self.stall.recovered();
                Ok(value)
            }
            Ok(Err(error)) => {
                // A script or type error is an answer; these say Redis is not reachable.
                if error.is_timeout()
                    || error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                {
                    self.note_stalled();
                }
                Err(redis_error(&error))
            }
            Err(_) => {
                self.note_stalled();
                Err(StoreError::new("redis call timed out"))
            }
        }
    }

    fn note_stalled(&self) {
        let connection = self.clone();
        self.stall.stalled(move || {
            let mut manager = connection.manager();
            let timeout = connection.options.timeout;
            async move {
                let ping = redis::cmd("PING");
                let answer = ping.query_async::<String>(&mut manager);
                matches!(tokio::time::timeout(timeout, answer).await, Ok(Ok(_)))
            }
        });
    }

    /// `PING`: whether Redis answers now. Sent even while the connection is known not to
    /// answer (it is how a health check finds out), and noted.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.manager();
        self.timed_and_noted(async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        })
        .await
        .map(|_| ())
    }
}

impl RedisConnection {
    /// A `/health` check named `redis`: `unreachable` while Redis does not answer, `data_lost`
    /// while it lost the data of the watched epoch. Each probe looks at the epoch marker (a
    /// `PING` when no epoch is watched) within the call timeout, so an outage, a loss and a
    /// recovery show on the next probe.
    pub fn health_check(&self) -> impl crate::health::HealthCheck {
        RedisHealth {
            connection: self.clone(),
        }
    }
}

struct RedisHealth {
    connection: RedisConnection,
}

impl crate::health::HealthCheck for RedisHealth {
    fn name(&self) -> &str {
        "redis"
    }

    fn check(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = crate::health::CheckStatus> + Send + '_>> {
        Box::pin(async move {
            match self.connection.observe_epoch().await {
                Ok(false) => crate::health::CheckStatus::Ok,
                Ok(true) => crate::health::CheckStatus::Degraded("data_lost".into()),
                Err(_) => crate::health::CheckStatus::Degraded("unreachable".into()),
            }
        })
    }
}

/// A Redis error as a store error, without the URL or any value.
pub(crate) fn redis_error(error: &redis::RedisError) -> StoreError {
    StoreError::new(format!("redis: {:?}: {}", error.kind(), error.category()))
}
