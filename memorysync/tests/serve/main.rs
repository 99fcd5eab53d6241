//! `memorysync serve` as a process, the way an operator runs it: the startup lines, HTTPS on
//! both listeners, startup errors, SIGTERM and SIGKILL, restarts, SIGHUP reloading the config,
//! two instances sharing one Redis, and the reverse proxy in front of a Python service.

mod admin;
#[path = "../common/tls.rs"]
mod cert;
#[path = "../common/client.rs"]
mod client;
#[cfg(all(feature = "redis", feature = "webhook-client"))]
mod cluster;
#[cfg(feature = "redis")]
mod data_lost;
#[cfg(feature = "embedded")]
mod embedded;
mod instance;
mod process;
#[path = "../common/python_upstream.rs"]
mod python_upstream;
#[cfg(all(feature = "redis", feature = "webhook-client"))]
mod receiver;
mod reload;
mod shutdown;
#[cfg(all(feature = "redis", feature = "webhook-client"))]
#[path = "../../../tests/common/redis_cluster.rs"]
mod test_cluster;
#[cfg(feature = "redis")]
#[path = "../../../tests/common/redis.rs"]
mod test_redis;
mod tls;
#[cfg(all(feature = "redis", feature = "webhook-client"))]
mod two_instances;
mod upstream;
