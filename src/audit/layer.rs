use std::fmt;
use std::sync::Arc;

use http::Extensions;
use tower_layer::Layer;

use super::{AuditLog, AuditRecord};
use crate::client_ip::TrustedProxies;
use crate::clock::{Clock, SharedClock, system_clock};

type ExtensionHook = Arc<dyn Fn(&mut Extensions) + Send + Sync>;

/// Applies [`AuditRecord`]. Cheap to clone.
#[derive(Clone)]
#[must_use]
pub struct AuditRecordLayer {
    pub(super) log: AuditLog,
    pub(super) trusted_proxies: TrustedProxies,
    pub(super) clock: SharedClock,
    pub(super) hand_to_handlers: Option<ExtensionHook>,
}

impl AuditRecordLayer {
    /// Records every call into `log`.
    pub fn new(log: AuditLog) -> Self {
        AuditRecordLayer {
            log,
            trusted_proxies: TrustedProxies::default(),
            clock: system_clock(),
            hand_to_handlers: None,
        }
    }

    /// Records the forwarded client of these proxies instead of the proxy.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Stamps events with `clock`'s time.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Puts a clone of `tombstones` into every request's extensions, so handlers can leave and
    /// check tombstones (axum: `Extension<MemoryTombstones>`).
    pub fn with_tombstones<T: Clone + Send + Sync + 'static>(mut self, tombstones: T) -> Self {
        self.hand_to_handlers = Some(Arc::new(move |extensions: &mut Extensions| {
            extensions.insert(tombstones.clone());
        }));
        self
    }

    /// The log.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }
}

impl fmt::Debug for AuditRecordLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditRecordLayer")
            .field("log", &self.log)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for AuditRecordLayer {
    type Service = AuditRecord<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuditRecord::new(inner, self.clone())
    }
}
