//! Webhook endpoint records in Redis, shared by every instance.
//!
//! Under the prefix: `webhook:{endpoints}:records`, a hash of id → the record as JSON, and
//! `webhook:{endpoints}:generation`, a counter that every write moves (one hash tag, so both
//! live in one cluster slot). A write is one script (`put.lua`, `remove.lua`) that checks the
//! revision the writer read, so two instances changing one record cannot both win. Every
//! instance reads the generation every poll (one `GET`) and reloads the hash when it moved.

use std::sync::LazyLock;

use redis::Script;

use super::RedisConnection;
use crate::store::StoreError;
use crate::webhook::endpoints::{EndpointRecord, EndpointStore};

/// Writes a record under the revision read (`put.lua`).
static PUT: LazyLock<Script> = lua_script!("put.lua");

/// Removes a record under the revision read (`remove.lua`).
static REMOVE: LazyLock<Script> = lua_script!("remove.lua");

/// Webhook endpoint records in Redis. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisEndpointStore {
    connection: RedisConnection,
    records: String,
    generation: String,
}

impl RedisEndpointStore {
    /// The records under `connection`'s prefix.
    pub fn new(connection: RedisConnection) -> Self {
        let [records, generation] = connection.keyspace().webhook_endpoints();
        RedisEndpointStore {
            connection,
            records,
            generation,
        }
    }

    /// The connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// A read, checked against the epoch this process trusts: an emptied Redis must not read
    /// as "no endpoints" (the live set would drop every API endpoint and dead-letter its
    /// deliveries) but as an error, which keeps the last endpoints in force.
    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, StoreError> {
        self.connection.timed_on_epoch(cmd).await
    }

    async fn script(&self, script: &Script, id: &str, args: &[&str]) -> Result<bool, StoreError> {
        let mut invocation = script.prepare_invoke();
        invocation.key(&self.records).key(&self.generation).arg(id);
        for arg in args {
            invocation.arg(*arg);
        }
        let mut manager = self.connection.manager();
        let done: i64 = self
            .connection
            .timed(async move { invocation.invoke_async(&mut manager).await })
            .await?;
        Ok(done == 1)
    }
}

impl EndpointStore for RedisEndpointStore {
    async fn all(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        let stored: Vec<String> = self
            .query(redis::cmd("HVALS").arg(&self.records).to_owned())
            .await?;
        stored
            .iter()
            .map(|json| EndpointRecord::from_json(json))
            .collect()
    }

    async fn get(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        let stored: Option<String> = self
            .query(redis::cmd("HGET").arg(&self.records).arg(id).to_owned())
            .await?;
        stored.as_deref().map(EndpointRecord::from_json).transpose()
    }

    async fn put(&self, record: &EndpointRecord, expected: u64) -> Result<bool, StoreError> {
        let (json, expected) = (record.to_json(), expected.to_string());
        self.script(&PUT, &record.id, &[&json, &expected]).await
    }

    async fn remove(&self, id: &str, expected: u64) -> Result<bool, StoreError> {
        self.script(&REMOVE, id, &[&expected.to_string()]).await
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        let generation: Option<u64> = self
            .query(redis::cmd("GET").arg(&self.generation).to_owned())
            .await?;
        Ok(generation.unwrap_or(0))
    }

    fn is_shared(&self) -> bool {
        true
    }
}
