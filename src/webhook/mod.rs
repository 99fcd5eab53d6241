//! Webhooks signed to Standard Webhooks v1 (section 8).
//!
//! A message carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, several
//! space-separated while a secret is being rotated. Secrets are `whsec_<base64>`.
//! [`Verifier`] is the receiving side: a strict parser (unknown versions and malformed entries
//! skipped, never a panic), ±300 s tolerance both ways without overflow, and a constant-time
//! comparison after a length check.
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

mod address;
mod dispatcher;
mod endpoint;
mod memory_queue;
mod queue;
mod retry;
mod secret;
mod signature;
#[cfg(feature = "webhook-client")]
mod transport;
mod worker;

pub use address::{TargetError, check_address, check_url, is_global};
pub use dispatcher::{WebhookSettings, WebhookStats, Webhooks};
pub use endpoint::Endpoint;
pub use memory_queue::MemoryWebhookQueue;
pub use queue::{DeadLetter, Delivery, WebhookQueue};
pub use retry::RetryPolicy;
pub use secret::{SECRET_PREFIX, SecretError, WebhookSecret};
pub use signature::{
    DEFAULT_TOLERANCE_SECS, MAX_ID_LEN, MAX_SIGNATURE_HEADER, Verifier, VerifyError, WEBHOOK_ID,
    WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, parse_timestamp, sign, signed_headers, v1_signatures,
};
#[cfg(feature = "webhook-client")]
pub use transport::{GuardedResolver, HttpsTransport};
