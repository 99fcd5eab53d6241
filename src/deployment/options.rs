//! What a config file cannot say: the clock, a quota classifier, where secrets come from, where
//! quota alerts go, and this process's name.

use std::fmt;
use std::io;
use std::sync::Arc;

use http::Method;

use crate::audit::{AuditLog, AuditLogConfig, AuditSink};
use crate::clock::{Clock, SharedClock, system_clock};
use crate::health::{HealthCheck, HealthRouteLayer};
use crate::quota::{AlertSink, Classify, Operation, QuotaAlert, RoutesOrDefault};

/// Reads a secret by the name the config gives it (an environment variable's name).
pub type SecretSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Adds a check of the application's own to the health route.
pub(super) type AddCheck = Box<dyn FnOnce(HealthRouteLayer) -> HealthRouteLayer + Send>;

/// Starts the audit log on a sink the application chose.
pub(super) type AuditStarter = Box<dyn FnOnce(AuditLogConfig) -> io::Result<AuditLog> + Send>;

/// The options of [`Deployment::start`](super::Deployment::start). The default reads the
/// system clock and the process environment, and takes the instance name from the config.
#[must_use]
pub struct DeploymentOptions {
    pub(super) clock: SharedClock,
    pub(super) classifier: Option<Arc<dyn Classify>>,
    pub(super) secrets: SecretSource,
    pub(super) alerts: Option<AlertSink>,
    pub(super) instance: Option<String>,
    pub(super) audit_sink: Option<AuditStarter>,
    pub(super) health_checks: Vec<AddCheck>,
}

impl DeploymentOptions {
    /// The defaults.
    pub fn new() -> Self {
        DeploymentOptions {
            clock: system_clock(),
            classifier: None,
            secrets: Arc::new(|name: &str| std::env::var(name).ok()),
            alerts: None,
            instance: None,
            audit_sink: None,
            health_checks: Vec::new(),
        }
    }

    /// Every stage, the audit log and the health route read time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Which requests spend which quota, instead of the config's `[[quota.routes]]` (or the
    /// memory API's routes when it has none).
    pub fn with_classifier(mut self, classifier: impl Classify) -> Self {
        self.classifier = Some(Arc::new(classifier));
        self
    }

    /// Reads webhook secrets through `source` (given the variable names of `secret_env`, and
    /// of `[admin] secret_key_env`) instead of the process environment: a secret manager, a
    /// test.
    pub fn with_secret_source(
        mut self,
        source: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.secrets = Arc::new(source);
        self
    }

    /// Quota alerts go to `sink` as well as, when the config has webhooks, out as webhook events.
    pub fn with_alerts(mut self, sink: impl Fn(&QuotaAlert) + Send + Sync + 'static) -> Self {
        self.alerts = Some(Arc::new(sink));
        self
    }

    /// Names this process's audit chain, over the config's `[server] instance` and the name
    /// kept in the audit directory (a command-line `--instance`).
    pub fn with_instance(mut self, name: impl Into<String>) -> Self {
        self.instance = Some(name.into());
        self
    }
}

impl DeploymentOptions {
    /// Writes the audit log to `sink` (a log shipper, a test's [`MemoryAuditSink`]) instead of
    /// the sink the config names (`audit.dir`, the Redis stream, memory). Retention, the clock
    /// and the tombstones still come from the config.
    ///
    /// [`MemoryAuditSink`]: crate::audit::MemoryAuditSink
    pub fn with_audit_sink(mut self, sink: impl AuditSink) -> Self {
        self.audit_sink = Some(Box::new(move |settings| AuditLog::start(sink, settings)));
        self
    }
}

impl DeploymentOptions {
    /// `/health` runs `check` too, beside the deployment's own (audit log, shared store,
    /// webhooks): the service behind the pipeline, say.
    pub fn with_health_check(mut self, check: impl HealthCheck) -> Self {
        self.health_checks
            .push(Box::new(move |health: HealthRouteLayer| {
                health.with_check(check)
            }));
        self
    }
}

impl Default for DeploymentOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DeploymentOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeploymentOptions")
            .field("classifier", &self.classifier.is_some())
            .field("alerts", &self.alerts.is_some())
            .field("instance", &self.instance)
            .field("audit_sink", &self.audit_sink.is_some())
            .field("health_checks", &self.health_checks.len())
            .finish_non_exhaustive()
    }
}

/// The quota classifier of a deployment: the config's routes, or the one the options gave.
#[derive(Clone)]
pub enum DeploymentClassifier {
    /// `[[quota.routes]]`, or the memory API's routes when the config has none.
    Config(RoutesOrDefault),
    /// [`DeploymentOptions::with_classifier`].
    Custom(Arc<dyn Classify>),
}

impl Classify for DeploymentClassifier {
    fn classify(&self, method: &Method, path: &str) -> Option<Operation> {
        match self {
            DeploymentClassifier::Config(routes) => routes.classify(method, path),
            DeploymentClassifier::Custom(classifier) => classifier.classify(method, path),
        }
    }
}

impl fmt::Debug for DeploymentClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeploymentClassifier::Config(routes) => f.debug_tuple("Config").field(routes).finish(),
            DeploymentClassifier::Custom(_) => f.write_str("Custom"),
        }
    }
}
