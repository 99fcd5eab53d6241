use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::cluster::ClusterClient;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};

use super::epoch::EpochWatch;
use super::handle::RedisHandle;
use super::keyspace::Keyspace;
use super::stall::Stall;
use crate::config::RedisTarget;
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

/// A shared, self-reconnecting connection with the options of every store built on it: to one
/// Redis, or to a Redis Cluster.
///
/// On a cluster, the connection-wide breaker is off: one master down says nothing of the
/// others, so each call waits out its own timeout (the `redis` crate retries it on the slot's
/// new master after a failover), and calls on healthy masters go on.
#[derive(Clone)]
pub struct RedisConnection {
    handle: RedisHandle,
    /// For connections of their own: the key cache's pub/sub subscription, one client per URL
    /// given (a cluster's seeds; classic `PUBLISH` reaches every node of a cluster). Behind an
    /// `Arc`: the connection is cloned into every store and kept small.
    clients: Arc<[redis::Client]>,
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
        refuse_a_cluster_node(&mut manager.clone(), options.timeout).await?;
        let keyspace = Keyspace::new(&options.prefix);
        Ok(RedisConnection {
            handle: RedisHandle::Single(manager),
            clients: Arc::new([client]),
            epoch: Arc::new(EpochWatch::new(keyspace.epoch())),
            keyspace,
            options: Arc::new(options),
            stall: Arc::default(),
        })
    }

    /// Connects to one Redis or to a cluster, as `target` says.
    pub async fn connect_to(
        target: &RedisTarget,
        options: RedisOptions,
    ) -> Result<Self, StoreError> {
        match target {
            RedisTarget::Single(url) => Self::connect(url, options).await,
            RedisTarget::Cluster(seeds) => Self::connect_cluster(seeds, options).await,
        }
    }

    /// Connects to the Redis Cluster that `seeds` belong to (any reachable one is enough) and
    /// learns its slots. Key names carry hash tags so that each operation touches one slot
    /// (see the keyspace).
    pub async fn connect_cluster(
        seeds: &[String],
        options: RedisOptions,
    ) -> Result<Self, StoreError> {
        let clients = seeds
            .iter()
            .map(|url| redis::Client::open(url.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| redis_error(&e))?;
        if clients.is_empty() {
            return Err(StoreError::new(
                "a redis cluster needs at least one seed node",
            ));
        }
        let cluster =
            ClusterClient::builder(clients.iter().map(|c| c.get_connection_info().clone()))
                .connection_timeout(options.timeout)
                .response_timeout(options.timeout)
                // The call's own timeout bounds the crate's retries (after a refused connection or a
                // redirection) and the waits between them.
                .overall_response_timeout(Some(options.timeout))
                .retries(RETRIES)
                .min_retry_wait(RETRY_WAIT_MS.0)
                .max_retry_wait(RETRY_WAIT_MS.1)
                .build()
                .map_err(|e| redis_error(&e))?;
        let connection = tokio::time::timeout(options.timeout * 4, cluster.get_async_connection())
            .await
            .map_err(|_| StoreError::new("redis cluster did not answer in time"))?
            .map_err(|e| redis_error(&e))?;
        let keyspace = Keyspace::for_cluster(&options.prefix);
        Ok(RedisConnection {
            handle: RedisHandle::Cluster(connection),
            clients: clients.into(),
            epoch: Arc::new(EpochWatch::new(keyspace.epoch())),
            keyspace,
            options: Arc::new(options),
            stall: Arc::default(),
        })
    }

    /// Whether this is a connection to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.handle, RedisHandle::Cluster(_))
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

    /// A client for a connection that cannot be shared (a pub/sub subscription): the `attempt`th
    /// of the URLs given, round the list, so that a subscription lost with a cluster node is
    /// taken again on the next seed.
    pub(crate) fn client(&self, attempt: usize) -> &redis::Client {
        &self.clients[attempt % self.clients.len()]
    }

    /// A connection handle for one call (cheap: the connection is multiplexed).
    pub fn manager(&self) -> RedisHandle {
        self.handle.clone()
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
        self.timed_longer(Duration::ZERO, call).await
    }

    /// [`timed_and_noted`](Self::timed_and_noted) for a call that may take `extra` longer than
    /// the timeout by design (a `WAIT`).
    pub(super) async fn timed_longer<T, F>(&self, extra: Duration, call: F) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.options.timeout + extra, call).await {
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
        if self.is_cluster() {
            // One node down stalls its slots only: the call's timeout is the bound.
            return;
        }
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
    ///
    /// On a cluster, every master is asked (not the replicas): the call fails when one does
    /// not answer.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.manager();
        self.timed_and_noted(async move {
            match connection.cluster() {
                Some(cluster) => {
                    let every_master = RoutingInfo::MultiNode((
                        MultipleNodeRoutingInfo::AllMasters,
                        Some(ResponsePolicy::AllSucceeded),
                    ));
                    cluster
                        .route_command(redis::cmd("PING"), every_master)
                        .await
                        .map(|_| ())
                }
                None => redis::cmd("PING").query_async::<()>(&mut connection).await,
            }
        })
        .await
    }
}

impl RedisConnection {
    /// A `/health` check named `redis`: `unreachable` while Redis (on a cluster: any master)
    /// does not answer, `data_lost`
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
            // On a cluster the marker lives on one master: every master answers a `PING` too.
            if self.connection.is_cluster() && self.connection.ping().await.is_err() {
                return crate::health::CheckStatus::Degraded("unreachable".into());
            }
            match self.connection.observe_epoch().await {
                Ok(false) => crate::health::CheckStatus::Ok,
                Ok(true) => crate::health::CheckStatus::Degraded("data_lost".into()),
                Err(_) => crate::health::CheckStatus::Degraded("unreachable".into()),
            }
        })
    }
}

/// A single URL that names a node of a Redis Cluster would meet `MOVED` on most keys: refused
/// at once, saying how to name a cluster. A Redis that does not allow `INFO` is taken as it is.
async fn refuse_a_cluster_node(
    manager: &mut redis::aio::ConnectionManager,
    timeout: Duration,
) -> Result<(), StoreError> {
    let mut command = redis::cmd("INFO");
    command.arg("cluster");
    let info = command.query_async::<String>(manager);
    if let Ok(Ok(info)) = tokio::time::timeout(timeout, info).await
        && info.lines().any(|line| line.trim() == "cluster_enabled:1")
    {
        return Err(StoreError::new(
            "redis_url names one node of a Redis Cluster: list the cluster's seed nodes \
             (redis_url = [\"redis://…\", …])",
        ));
    }
    Ok(())
}

/// How often a cluster call is retried after a refused connection or a redirection, and the
/// least and most wait before a retry, in ms; the call's timeout bounds them all.
const RETRIES: u32 = 6;
const RETRY_WAIT_MS: (u64, u64) = (10, 100);

/// A Redis error as a store error, without the URL or any value.
pub(crate) fn redis_error(error: &redis::RedisError) -> StoreError {
    StoreError::new(format!("redis: {:?}: {}", error.kind(), error.category()))
}
