//! `AuditRecord`: stage 2, the audit log (section 7).
//!
//! **Slot only, not recording yet.** The layer holds the stage's place in the pipeline order and
//! passes every request through; the audit log itself (one hash-chained event per API call with
//! its final outcome, retention, sinks) lands with its own issue. Rejections already carry a
//! typed [`Rejection`](crate::rejection::Rejection) in their response extensions for it to read.
//!
//! # Example
//! ```
//! use memorysync_pipeline::audit::AuditRecordLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let service = ServiceBuilder::new()
//!     .layer(AuditRecordLayer::new())
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! let response = service.oneshot(http::Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

crate::slot::slot_stage!(
    /// Applies [`AuditRecord`]. A slot for now: see the module docs.
    AuditRecordLayer,
    /// The audit log. A slot for now: passes every request through.
    AuditRecord
);
