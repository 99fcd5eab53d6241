//! `RedisPlanStore`: the plans the admin API manages, shared by every instance on one Redis.
//!
//! Under the connection's prefix: `plan:{api}` is a hash of project -> plan (canonical JSON),
//! `plan:{api}:generation` a counter raised by every change. One hash tag, so that both live
//! in one cluster slot and each script's keys are in one slot. They change only through
//! `plan_put.lua`; `plans_load.lua` reads both in one step.
//!
//! An instance polls the counter (one `GET`, with the epoch check: an emptied Redis must not
//! read as "no plans") and loads the hash when it moved; see `deployment::plans`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use redis::Script;

use super::RedisConnection;
use crate::quota::{
    ApiPlans, Plan, PlanChange, PlanPut, PlanStore, PutMode, decode_plan, encode_plan,
};
use crate::store::StoreError;

/// Reads every plan and the generation (`plans_load.lua`).
static LOAD: LazyLock<Script> = lua_script!("plans_load.lua");

/// Writes one plan and reads them all back (`plan_put.lua`).
static PUT: LazyLock<Script> = lua_script!("plan_put.lua");

/// The API-owned plans in Redis. Clones share one connection.
#[derive(Clone, Debug)]
pub struct RedisPlanStore {
    connection: RedisConnection,
}

impl RedisPlanStore {
    /// On `connection`, under its prefix.
    pub fn new(connection: RedisConnection) -> Self {
        RedisPlanStore { connection }
    }

    fn keys(&self) -> [String; 2] {
        let keyspace = self.connection.keyspace();
        [keyspace.api_plans(), keyspace.api_plans_generation()]
    }
}

impl PlanStore for RedisPlanStore {
    async fn load(&self) -> Result<ApiPlans, StoreError> {
        let mut manager = self.connection.manager();
        let answer: Vec<String> = self
            .connection
            .timed(LOAD.key(&self.keys()).invoke_async(&mut manager))
            .await?;
        let (generation, pairs) = answer.split_first().ok_or_else(unexpected)?;
        plans_of(generation, pairs)
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        let mut get = redis::cmd("GET");
        get.arg(self.connection.keyspace().api_plans_generation());
        let found: Option<u64> = self.connection.timed_on_epoch(get).await?;
        Ok(found.unwrap_or(0))
    }

    async fn put(&self, project: &str, plan: Plan, mode: PutMode) -> Result<PlanPut, StoreError> {
        let mut manager = self.connection.manager();
        let mode_word = match mode {
            PutMode::Create => "create",
            PutMode::Set => "set",
        };
        let answer: Vec<String> = self
            .connection
            .timed(
                PUT.key(&self.keys())
                    .arg(project)
                    .arg(encode_plan(&plan))
                    .arg(mode_word)
                    .invoke_async(&mut manager),
            )
            .await?;
        let [outcome, generation, pairs @ ..] = answer.as_slice() else {
            return Err(unexpected());
        };
        let change = match outcome.as_str() {
            "added" => Some(PlanChange::Added),
            "changed" => Some(PlanChange::Changed),
            "unchanged" => Some(PlanChange::Unchanged),
            "exists" => None,
            _ => return Err(unexpected()),
        };
        Ok(PlanPut {
            change,
            plans: plans_of(generation, pairs)?,
        })
    }
}

fn unexpected() -> StoreError {
    StoreError::new("redis: unexpected answer about the plans")
}

/// The generation and the `project, plan` pairs a script answered.
fn plans_of(generation: &str, pairs: &[String]) -> Result<ApiPlans, StoreError> {
    let generation = generation
        .parse()
        .map_err(|_| StoreError::new("redis: unreadable plan generation"))?;
    let mut plans = HashMap::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        let [project, plan] = pair else {
            return Err(unexpected());
        };
        plans.insert(Arc::from(project.as_str()), decode_plan(plan.as_bytes())?);
    }
    Ok(ApiPlans { generation, plans })
}
