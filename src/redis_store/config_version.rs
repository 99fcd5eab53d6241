//! `RedisConfigVersions`: the config file last reconciled with a Redis store, shared by every
//! instance on it.
//!
//! Under the connection's prefix: `config:applied` is a hash with the `version` and the
//! `digest` (hex) of the last file applied; `config:reconciling` holds the lease of the
//! reconciliation under way (its holder, with a Redis expiry). Both change only through
//! `config_claim.lua` and `config_release.lua`.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::RedisConnection;
use crate::store::{AppliedConfig, ConfigClaim, ConfigDigest, ConfigVersionStore, StoreError};

/// The version check, the record and the lease in one step (`config_claim.lua`).
static CLAIM: LazyLock<Script> = lua_script!("config_claim.lua");

/// Gives back a lease unless another holder has it (`config_release.lua`).
static RELEASE: LazyLock<Script> = lua_script!("config_release.lua");

/// The config file last reconciled with this Redis. Clones share one connection.
#[derive(Clone, Debug)]
pub struct RedisConfigVersions {
    connection: RedisConnection,
}

impl RedisConfigVersions {
    /// On `connection`, under its prefix.
    pub fn new(connection: RedisConnection) -> Self {
        RedisConfigVersions { connection }
    }
}

fn unreadable() -> StoreError {
    StoreError::new("redis: unreadable record of the config applied")
}

/// A `version`, `digest` pair as stored.
fn applied_from(
    version: Option<&String>,
    digest: Option<&String>,
) -> Result<AppliedConfig, StoreError> {
    let version = version
        .and_then(|v| v.parse().ok())
        .ok_or_else(unreadable)?;
    let digest = digest
        .and_then(|d| ConfigDigest::from_hex(d))
        .ok_or_else(unreadable)?;
    Ok(AppliedConfig { version, digest })
}

impl ConfigVersionStore for RedisConfigVersions {
    fn claim(
        &self,
        file: AppliedConfig,
        holder: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<ConfigClaim, StoreError>> + Send {
        let connection = self.connection.clone();
        let holder = holder.to_owned();
        async move {
            let keyspace = connection.keyspace();
            let keys = [keyspace.config_applied(), keyspace.config_reconciling()];
            let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut manager = connection.manager();
            let answer: Vec<String> = connection
                .timed(
                    CLAIM
                        .key(&keys)
                        .arg(file.version)
                        .arg(file.digest.to_hex())
                        .arg(&holder)
                        .arg(lease_ms)
                        .invoke_async(&mut manager),
                )
                .await?;
            let applied = || applied_from(answer.get(1), answer.get(2));
            match answer.first().map(String::as_str) {
                Some("newer") => Ok(ConfigClaim::Newer),
                Some("same") => Ok(ConfigClaim::Same),
                Some("busy") => Ok(ConfigClaim::Busy),
                Some("older") => Ok(ConfigClaim::Older {
                    applied: applied()?,
                }),
                Some("conflicting") => Ok(ConfigClaim::Conflicting {
                    applied: applied()?,
                }),
                _ => Err(StoreError::new(
                    "redis: unexpected answer to a config claim",
                )),
            }
        }
    }

    fn release(&self, holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let connection = self.connection.clone();
        let holder = holder.to_owned();
        async move {
            let key = connection.keyspace().config_reconciling();
            let mut manager = connection.manager();
            connection
                .timed(
                    RELEASE
                        .key(&key)
                        .arg(&holder)
                        .invoke_async::<i64>(&mut manager),
                )
                .await
                .map(|_| ())
        }
    }

    fn applied(&self) -> impl Future<Output = Result<Option<AppliedConfig>, StoreError>> + Send {
        let connection = self.connection.clone();
        async move {
            let key = connection.keyspace().config_applied();
            let mut manager = connection.manager();
            let (version, digest): (Option<String>, Option<String>) = connection
                .timed(
                    redis::cmd("HMGET")
                        .arg(&key)
                        .arg(&["version", "digest"])
                        .query_async(&mut manager),
                )
                .await?;
            match version {
                None => Ok(None),
                Some(version) => applied_from(Some(&version), digest.as_ref()).map(Some),
            }
        }
    }
}
