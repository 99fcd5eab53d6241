use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// The answer of one health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    /// Working.
    Ok,
    /// Serving in a reduced way; the text says how. It is shown on the public `/health` route,
    /// so it must not contain secrets or internal addresses.
    Degraded(Cow<'static, str>),
}

/// A check that `/health` runs on every probe, such as "is Redis reachable" or "is the audit sink
/// writing". Any failing check turns the report `degraded`.
pub trait HealthCheck: Send + Sync + 'static {
    /// The name shown under `checks` in a degraded report.
    fn name(&self) -> &str;

    /// Runs the check. It is given a deadline by the route; a check that misses it is degraded.
    fn check(&self) -> Pin<Box<dyn Future<Output = CheckStatus> + Send + '_>>;
}

/// A [`HealthCheck`] from a name and a closure returning a future.
pub fn check_fn<F, Fut>(name: impl Into<String>, check: F) -> impl HealthCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckStatus> + Send + 'static,
{
    CheckFn {
        name: name.into(),
        check,
    }
}

struct CheckFn<F> {
    name: String,
    check: F,
}

impl<F, Fut> HealthCheck for CheckFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckStatus> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = CheckStatus> + Send + '_>> {
        Box::pin((self.check)())
    }
}
