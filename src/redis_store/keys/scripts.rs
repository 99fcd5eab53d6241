//! The Lua scripts of the key store, one `.lua` file each: each check-and-write is one step on
//! the server.

use std::sync::LazyLock;

use redis::Script;

/// Adds a record unless a tombstone, its id or its hash is in the way (`insert.lua`).
pub(super) static INSERT: LazyLock<Script> = lua_script!("insert.lua");

/// Adds a record or replaces the record with its id (`upsert.lua`).
pub(super) static UPSERT: LazyLock<Script> = lua_script!("upsert.lua");

/// Sets `revoked_at` unless an earlier instant is there (`revoke.lua`).
pub(super) static REVOKE: LazyLock<Script> = lua_script!("revoke.lua");

/// Adds the usage counted here to the records (`flush_usage.lua`).
pub(super) static FLUSH: LazyLock<Script> = lua_script!("flush_usage.lua");

/// Records per flush call, so that one script never runs long on the server.
pub(super) const FLUSH_BATCH: usize = 256;
