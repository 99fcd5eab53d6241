//! The Lua scripts of the webhook queue, one `.lua` file each: each move between waiting,
//! claimed and dead is one step on the server, so two instances never take the same delivery.

use std::sync::LazyLock;

use redis::Script;

/// Moves the due deliveries from waiting to claimed (`claim.lua`).
pub(super) static CLAIM: LazyLock<Script> = lua_script!("claim.lua");

/// Moves every claimed delivery back to waiting (`release.lua`).
pub(super) static RELEASE: LazyLock<Script> = lua_script!("release.lua");

/// Moves the deliveries claimed before a time back to waiting (`release_stale.lua`).
pub(super) static RELEASE_STALE: LazyLock<Script> = lua_script!("release_stale.lua");

/// Moves a dead letter back to waiting (`replay.lua`).
pub(super) static REPLAY: LazyLock<Script> = lua_script!("replay.lua");
