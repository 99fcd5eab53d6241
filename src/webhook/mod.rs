//! Webhooks signed to Standard Webhooks v1 (section 8).
//!
//! A message carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, several
//! space-separated while a secret is being rotated. Secrets are `whsec_<base64>`.
//! [`Verifier`] is the receiving side: a strict parser (unknown versions and malformed entries
//! skipped, never a panic), ±300 s tolerance both ways without overflow, and a constant-time
//! comparison after a length check.
//!
//! The endpoints live in an [`EndpointSet`] that may change while the worker runs: the
//! [`endpoints`] module keeps it in step with records in a store, created and changed at run
//! time (the admin API), shared by every instance. Deliveries name their endpoint by id.
//!
//! [`Webhooks`] delivers: a background task started with [`Webhooks::start`] takes deliveries
//! from a [`WebhookQueue`] ([`MemoryWebhookQueue`] in one process; the Redis
//! store's queue shared by several) and sends them through any tower `Service` — [`HttpsTransport`] (feature
//! `webhook-client`: hyper-util with rustls) or your own. A delivery stays queued until it
//! arrives or is dead-lettered: failures are retried on the schedule 0 s, 5 s, 5 min, 30 min,
//! 2 h, 5 h, 10 h, 10 h with ±20% jitter; `Retry-After` is honoured within
//! `[delay, 2 × delay]`; each attempt has 15 s; 3xx is a failure (redirects are not followed);
//! 410 disables the endpoint; after the last attempt the delivery is a dead letter (counted,
//! shown by the health check, replayable one by one by [`DeadLetter::id`] or all since a time).
//! Every attempt can be written to an [`attempt_log`]. Publishing never waits and never drops an event: it
//! reaches the worker through a bounded channel (or, when that is full, kept aside), and an
//! event the queue refuses waits in the process and is offered again with back-off (50 ms
//! doubling to 1 s) while the health check reports the backlog; [`WebhookStats::published`]
//! counts only what the queue took. [`Webhooks::shutdown`] offers the backlog once more, lets
//! in-flight deliveries finish within a deadline, leaves the rest queued, and returns what the
//! queue never took. In a production deployment only
//! `https://` URLs to globally routable addresses are accepted, checked on the URL and on every
//! resolved address.
//!
//! # Example
//! ```
//! use memorysync_pipeline::clock::Timestamp;
//! use memorysync_pipeline::webhook::{Verifier, WebhookSecret, signed_headers};
//!
//! let secret = WebhookSecret::generate().unwrap();
//! let body = br#"{"type":"webhook.test"}"#;
//! let headers = signed_headers(&[secret.clone()], "msg_1", 1_800_000_000, body);
//! let verifier = Verifier::new(secret);
//! let now = Timestamp::from_unix_secs(1_800_000_100);
//! assert!(verifier.verify(&headers[0].1, &headers[1].1, &headers[2].1, body, now).is_ok());
//! assert!(verifier.verify(&headers[0].1, &headers[1].1, &headers[2].1, b"tampered", now).is_err());
//! ```

//!
//! # Decisions
//!
//! Where the design is silent:
//! - A secret holds 24 to 64 bytes; `webhook-id` 1 to 256 bytes; a `webhook-signature` header
//!   longer than 8 KiB is refused unread; signature entries other than `v1,<44 base64 chars>`
//!   are skipped.
//! - The body is `{"type", "timestamp", "data"}`; `webhook-timestamp` is the time of each
//!   attempt, `webhook-id` the same on every attempt.
//! - Deliveries to a disabled endpoint (by a 410 or by an operator) become dead letters, so
//!   nothing vanishes; a replay once it is enabled sends them again. So do deliveries whose
//!   endpoint has no secret that signs (a sealed secret that does not open): never unsigned.
//! - A dead letter's id is derived from its message id and endpoint: the same on every backend
//!   and instance, and again if the message is dead-lettered after a replay.
//! - A name with any non-global address among its answers is refused in production, not just
//!   the bad answers skipped.
//! - The backlog of events the queue refuses is held in memory without a limit: the other
//!   choices are dropping events or making requests wait. A SIGKILL loses it; a shutdown hands
//!   it back.

mod address;
mod attempt;
pub mod attempt_log;
mod backlog;
mod dead_letters;
mod endpoint;
mod endpoint_set;
pub mod endpoints;
mod memory_queue;
mod queue;
mod retry;
mod secret;
mod settings;
mod shared;
mod signature;
mod special;
#[cfg(feature = "webhook-client")]
mod transport;
mod webhooks;
mod worker;

pub use address::{TargetError, check_address, check_url, is_global};
pub use attempt_log::PageError;
pub use dead_letters::DeadLetterPage;
pub use endpoint::Endpoint;
pub use endpoint_set::EndpointSet;
pub use memory_queue::MemoryWebhookQueue;
#[cfg(feature = "redis")]
pub(crate) use queue::letter_id;
pub use queue::{DeadLetter, Delivery, WebhookQueue};
pub use retry::RetryPolicy;
pub use secret::{SECRET_PREFIX, SecretError, WebhookSecret};
pub use settings::WebhookSettings;
pub use signature::{
    DEFAULT_TOLERANCE_SECS, MAX_ID_LEN, MAX_SIGNATURE_HEADER, Verifier, VerifyError, WEBHOOK_ID,
    WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, parse_timestamp, sign, signed_headers, v1_signatures,
};
#[cfg(feature = "webhook-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook-client")))]
pub use transport::{GuardedResolver, HttpsTransport};
pub use webhooks::{WebhookStats, Webhooks};
