//! The Redis durability items: `appendonly yes` and `maxmemory-policy noeviction`, read with
//! `CONFIG GET`. A Redis without them loses what a reseed cannot bring back (keys created
//! through the admin API, this month's quota counters, usage, the webhook queue) on a restart,
//! or evicts it when full. A Redis that does not allow `CONFIG` (a managed service that renames
//! it, an ACL without it) cannot be asked: the items are skipped, saying so.

use std::time::Duration;

use memorysync_pipeline::config::{RedisTarget, StoreBackend, StoreConfig};

use super::checks::Outcome;

/// The outcomes of `redis-appendonly` and `redis-noeviction`.
pub(crate) struct Durability {
    pub(crate) appendonly: Outcome,
    pub(crate) noeviction: Outcome,
}

impl Durability {
    fn both(outcome: Outcome) -> Self {
        Durability {
            appendonly: outcome.clone(),
            noeviction: outcome,
        }
    }
}

/// Asks the Redis of `store` for its persistence and eviction settings. The URL is never
/// printed: it may hold a password.
pub(crate) async fn redis_durability(store: &StoreConfig, timeout: Duration) -> Durability {
    let url = match (store.backend, &store.redis_url) {
        (StoreBackend::Redis, Some(url)) => url,
        (StoreBackend::Redis, None) => {
            return Durability::both(Outcome::Skipped("no redis_url".to_owned()));
        }
        (other, _) => {
            let backend = format!("{other:?} backend").to_lowercase();
            return Durability::both(Outcome::Skipped(backend));
        }
    };
    ask(url, timeout).await
}

/// One Redis: its settings. A cluster: every live master's, the first failure (naming the
/// master) deciding each item.
#[cfg(feature = "redis")]
async fn ask(target: &RedisTarget, timeout: Duration) -> Durability {
    let seeds = match target {
        RedisTarget::Cluster(seeds) => seeds,
        _ => {
            return match redis::Client::open(target.urls()[0].as_str()) {
                Ok(client) => ask_node(client, timeout).await,
                Err(_) => Durability::both(Outcome::Skipped(UNREACHABLE.to_owned())),
            };
        }
    };
    let Ok(view) = super::cluster::view(seeds, timeout).await else {
        return Durability::both(Outcome::Skipped(UNREACHABLE.to_owned()));
    };
    let mut all = Durability::both(Outcome::Pass);
    for master in view.live_masters() {
        let Ok(client) = super::cluster::node_client(&seeds[0], &master.addr) else {
            return Durability::both(Outcome::Skipped(UNREACHABLE.to_owned()));
        };
        let node = ask_node(client, timeout).await;
        let named = |outcome: Outcome| match outcome {
            Outcome::Fail(why) => Outcome::Fail(format!("master {}: {why}", master.addr)),
            other => other,
        };
        if all.appendonly == Outcome::Pass {
            all.appendonly = named(node.appendonly);
        }
        if all.noeviction == Outcome::Pass {
            all.noeviction = named(node.noeviction);
        }
    }
    all
}

#[cfg(feature = "redis")]
async fn ask_node(client: redis::Client, timeout: Duration) -> Durability {
    let settings = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        let appendonly = config_get(&mut connection, "appendonly").await;
        let policy = config_get(&mut connection, "maxmemory-policy").await;
        Ok::<_, redis::RedisError>((appendonly, policy))
    };
    let unreachable = || Durability::both(Outcome::Skipped(UNREACHABLE.to_owned()));
    let Ok(Ok((appendonly, policy))) = tokio::time::timeout(timeout, settings).await else {
        return unreachable();
    };
    Durability {
        appendonly: judge("appendonly", appendonly, "yes", APPENDONLY_WHY),
        noeviction: judge("maxmemory-policy", policy, "noeviction", NOEVICTION_WHY),
    }
}

/// Built without Redis, the `redis-reachable` item fails already.
#[cfg(not(feature = "redis"))]
async fn ask(_target: &RedisTarget, _timeout: Duration) -> Durability {
    Durability::both(Outcome::Skipped(
        "this memorysync was built without the redis feature".to_owned(),
    ))
}

#[cfg(feature = "redis")]
/// The reason of both items when Redis does not answer: `redis-reachable` fails with the cause.
const UNREACHABLE: &str = "not checked: Redis does not answer (see redis-reachable)";

#[cfg(feature = "redis")]
const APPENDONLY_WHY: &str = "a Redis restart loses every write since its last snapshot, \
     and a reseed cannot bring back API-created keys, this month's quota counters, usage or the \
     webhook queue; set appendonly yes";

#[cfg(feature = "redis")]
const NOEVICTION_WHY: &str = "a full Redis evicts key records, quota counters and tombstones \
     without a word; set maxmemory-policy noeviction";

/// `CONFIG GET name`: the value, `None` when Redis does not know the setting.
#[cfg(feature = "redis")]
async fn config_get(
    connection: &mut redis::aio::MultiplexedConnection,
    name: &str,
) -> redis::RedisResult<Option<String>> {
    let reply: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(connection)
        .await?;
    Ok(reply.into_iter().nth(1))
}

/// Pass when `setting` is `wanted`; skipped when Redis refused to say (the command is not
/// allowed) or does not know it.
#[cfg(feature = "redis")]
fn judge(
    name: &str,
    answer: redis::RedisResult<Option<String>>,
    wanted: &str,
    why: &str,
) -> Outcome {
    match answer {
        Ok(Some(value)) if value == wanted => Outcome::Pass,
        Ok(Some(value)) => Outcome::Fail(format!("{name} is {value:?}: {why}")),
        Ok(None) => Outcome::Skipped(format!("Redis does not report {name}")),
        Err(error) if error.is_io_error() || error.is_timeout() => {
            Outcome::Skipped(UNREACHABLE.to_owned())
        }
        // The server's own words ("unknown command", "NOPERM ..."): they hold no secret.
        Err(error) => Outcome::Skipped(format!("CONFIG GET is not allowed here: {error}")),
    }
}
