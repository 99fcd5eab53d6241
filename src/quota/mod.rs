//! `QuotaDegrade`: stage 6, monthly plan quotas that degrade silently (section 6).
//!
//! Each project has a plan: adds per month and queries per month, counted over calendar months
//! in UTC. A classifier maps each request to [`Operation::Add`], [`Operation::Query`] or
//! unmetered ([`DefaultClassifier`], a [`RouteClassifier`] over a list of routes such as a
//! config's `[[quota.routes]]`, or any closure). A metered request reserves one unit before
//! the inner service is called, so the quota is never exceeded, even by concurrent requests; any
//! answer from inside but a 2xx (a 404, a 400, a 5xx) or an error gives the unit back. When the month's units are used up, the
//! request is answered 200 with an empty result (`{"results":[]}` by default, per operation
//! configurable), the inner service is not called, nothing is stored and the counter stays at
//! the limit. gRPC requests get status OK with one zero-length message.
//!
//! Usage alerts fire once per project, operation, threshold and month, at 75, 90 and 100
//! percent by default, to the callback given to [`QuotaDegradeLayer::with_alerts`].
//!
//! The plans in force are replaced whole at run time ([`QuotaDegradeLayer::set_plans`]). The
//! plans the admin API manages are kept in a [`PlanStore`] beside the key records, so that
//! every instance sharing a store, and a restarted one, puts the same ones in force.
//!
//! # Example
//! ```
//! use memorysync_pipeline::quota::{Plan, QuotaDegradeLayer, QuotaPlans};
//! use memorysync_pipeline::scope::Scope;
//! use memorysync_pipeline::Environment;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let plans = QuotaPlans::new().with_plan("proj_demo", Plan::new(1, 100));
//! let service = ServiceBuilder::new()
//!     .layer(QuotaDegradeLayer::new(plans))
//!     .service(service_fn(|_: http::Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("stored")))
//!     }));
//! // ProjectScope puts the scope in; here the test does.
//! let add = || {
//!     http::Request::post("/v1/memories")
//!         .extension(Scope::new("proj_demo", Environment::Development))
//!         .body(String::new())
//!         .unwrap()
//! };
//! let first = service.clone().oneshot(add()).await.unwrap();
//! assert_eq!(first.status(), 200);
//! let second = service.oneshot(add()).await.unwrap();
//! assert_eq!(second.status(), 200); // degraded: the inner service was not called
//! assert_eq!(second.headers()["content-type"], "application/json");
//! # });
//! ```
//!
//! # Decisions
//!
//! Where the design is silent:
//! - A project without a plan is unmetered, logged once per project (the first 1024 such
//!   projects) and counted on every request; a metered request without a
//!   [`Scope`](crate::scope::Scope) (no `ProjectScope` outside) is refused 401.
//! - The degraded response carries no marker by default; [`QuotaDegradeLayer::with_degraded_header`]
//!   opts in to a header naming the operation. A [`QuotaDegraded`] extension is always on it
//!   for the audit stage.
//! - The alert callback runs on the request that crossed the threshold; several thresholds
//!   crossed by one request (a plan of 3 units crosses 75, 90 and 100 on the third) each fire.
//! - Only a 2xx keeps the unit: an inner error, a 3xx, a 4xx or a 5xx refunds (nothing was
//!   stored: a 404 for a path the router does not serve, a 400 for a malformed body), and so
//!   does a trailers-only gRPC answer whose `grpc-status` is not OK. An answer carrying a
//!   [`MayHaveStored`] extension keeps its unit whatever its status (a reverse proxy's 504:
//!   the upstream may have stored before it stopped answering).
//! - `HEAD /v1/memories` is a query, like the `GET` it stands for.
//! - In a [`RouteClassifier`], `HEAD` follows `GET` too: a `GET` route meters `HEAD` unless a
//!   `HEAD` route matches first. An exact route wins over a prefix (`/a/*`, which covers `/a`
//!   and every path under `/a/`), a longer prefix over a shorter; a trailing slash and the query
//!   string are ignored, as [`DefaultClassifier`] ignores them.
//! - A request dropped before the inner service was called (the client went away, a timeout
//!   outside fired while the store was answering) gives its unit back: the reservation is
//!   finished, in the background if it has to wait, and refunded. Once the inner service was
//!   called, a dropped request keeps its unit: the handler may have stored. An alert that
//!   such a cancelled reservation crossed does not fire.
//! - The in-memory store keeps the current and the previous month's counters.

mod alert;
mod degrade;
mod fallback;
mod future;
mod layer;
mod may_have_stored;
mod memory;
mod month;
mod operation;
mod plan;
mod plan_store;
mod reserving;
mod routes;
mod service;
mod store;
mod unplanned;

pub use crate::store::WithFallback;
pub use alert::{AlertSink, QuotaAlert};
pub use degrade::{EMPTY_RESULTS, QuotaDegraded};
pub use future::ResponseFuture;
pub use layer::{QuotaDegradeLayer, QuotaUsage};
pub use may_have_stored::MayHaveStored;
pub use memory::MemoryQuotaStore;
pub use month::Month;
pub use operation::{Classify, DefaultClassifier, Operation};
pub use plan::{AlertThresholds, Plan, QuotaPlans};
pub use plan_store::{ApiPlans, MemoryPlanStore, PlanChange, PlanPut, PlanStore, PutMode};
#[cfg(feature = "embedded")]
pub(crate) use plan_store::{decode_plan, encode_plan};
pub use routes::{QuotaRoute, RouteClassifier, RoutePath, RoutePathError, RoutesOrDefault};
pub use service::QuotaDegrade;
pub use store::{QuotaKey, QuotaStore, Reservation};
