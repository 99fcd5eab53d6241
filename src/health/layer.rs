use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tower_layer::Layer;

use super::HealthRoute;
use super::check::HealthCheck;
use super::limiter::HealthLimiter;
use crate::client_ip::TrustedProxies;
use crate::clock::{Clock, SharedClock, system_clock};
use crate::limit::Limits;

/// Applies [`HealthRoute`]. Cheap to clone: its state sits behind `Arc`s, and clones share one
/// per-IP limiter (the same strict sliding window as the rate-limit stage, keyed by IPv4
/// address or IPv6 /64).
#[derive(Clone)]
#[must_use]
pub struct HealthRouteLayer {
    pub(super) path: Arc<str>,
    pub(super) checks: Arc<[Arc<dyn HealthCheck>]>,
    pub(super) check_timeout: Duration,
    pub(super) limiter: Arc<HealthLimiter>,
    pub(super) limits: Limits,
    pub(super) trusted_proxies: TrustedProxies,
    pub(super) exempt: Arc<[IpNet]>,
    pub(super) clock: SharedClock,
}

impl HealthRouteLayer {
    /// The default per-IP rate: 5 requests per second.
    pub const DEFAULT_PER_IP_RPS: NonZeroU32 = NonZeroU32::new(5).expect("5 is not zero");
    /// How many clients (IPv4 addresses, IPv6 /64s) have a window of their own at most; while
    /// all are taken, new clients share one overflow window.
    pub const MAX_TRACKED_ADDRESSES: usize = 65_536;

    /// `GET /health` with no checks, 5 requests per second per client IP, no trusted proxies.
    pub fn new() -> Self {
        HealthRouteLayer {
            path: Arc::from("/health"),
            checks: Arc::new([]),
            check_timeout: Duration::from_secs(2),
            limiter: Arc::new(HealthLimiter::new(Self::MAX_TRACKED_ADDRESSES)),
            limits: Limits::new(Some(Self::DEFAULT_PER_IP_RPS.get()), None),
            trusted_proxies: TrustedProxies::default(),
            exempt: Arc::new([]),
            clock: system_clock(),
        }
    }

    /// Serves the report on another path than `/health`.
    pub fn with_path(mut self, path: impl Into<Arc<str>>) -> Self {
        self.path = path.into();
        self
    }

    /// Admits at most `rps` probes per second from one client address.
    pub fn with_per_ip_rps(mut self, rps: NonZeroU32) -> Self {
        self.limits = Limits::new(Some(rps.get()), None);
        self
    }

    /// Believes `X-Forwarded-For` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Never limits probes from these networks (the operator's load balancers and probers).
    /// The client address is the one [trusted proxies](Self::with_trusted_proxies) resolve.
    pub fn with_exempt(mut self, networks: impl IntoIterator<Item = IpNet>) -> Self {
        self.exempt = networks.into_iter().collect();
        self
    }

    /// Adds a check run on every probe.
    pub fn with_check(mut self, check: impl HealthCheck) -> Self {
        let mut checks = self.checks.to_vec();
        checks.push(Arc::new(check));
        self.checks = checks.into();
        self
    }

    /// How long a check may take before it counts as degraded (2 s by default).
    pub fn with_check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// Runs every check now, as a probe would (without its rate limit): each check's name and
    /// status, in the order they were added. For an operator's page.
    pub(crate) async fn check_each(&self) -> Vec<(String, super::CheckStatus)> {
        super::report::each_check(&self.checks, self.check_timeout).await
    }

    /// Reads the per-IP window's time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl Default for HealthRouteLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HealthRouteLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|c| c.name()).collect();
        f.debug_struct("HealthRouteLayer")
            .field("path", &self.path)
            .field("checks", &names)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("exempt", &self.exempt)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for HealthRouteLayer {
    type Service = HealthRoute<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HealthRoute::new(inner, self.clone())
    }
}
