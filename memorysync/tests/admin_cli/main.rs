//! The admin CLI (`memorysync keys ...`) as an operator runs it: a real `memorysync serve` with
//! `--admin-listen`, the CLI binary run against it, over HTTP and over HTTPS with `--ca-file`.

#[path = "../common/tls.rs"]
mod cert;
#[cfg(feature = "webhook-client")]
mod checklist;
mod cli;
#[path = "../common/client.rs"]
mod client;
mod errors;
mod keys;
mod projects_audit;
#[cfg(feature = "webhook-client")]
#[path = "../common/status_receiver.rs"]
mod status_receiver;
// Only some of the process helpers are used here.
#[allow(dead_code)]
#[path = "../serve/process.rs"]
mod process;
#[cfg(feature = "redis")]
#[path = "../../../tests/common/redis.rs"]
mod test_redis;
mod tls;
#[cfg(feature = "webhook-client")]
mod webhooks;
