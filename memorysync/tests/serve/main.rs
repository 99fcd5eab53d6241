//! `memorysync serve` as a process, the way an operator runs it: the startup lines, HTTPS on
//! both listeners, startup errors, SIGTERM and SIGKILL, restarts, and two instances sharing one
//! Redis.

#[path = "../common/tls.rs"]
mod cert;
#[path = "../common/client.rs"]
mod client;
mod instance;
mod process;
#[cfg(all(feature = "redis", feature = "webhook-client"))]
mod receiver;
mod shutdown;
#[cfg(feature = "redis")]
#[path = "../../../tests/common/redis.rs"]
mod test_redis;
mod tls;
#[cfg(all(feature = "redis", feature = "webhook-client"))]
mod two_instances;
