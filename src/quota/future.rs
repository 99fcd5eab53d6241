use std::sync::Arc;

use http::{Request, Response};
use tracing::Span;

use super::layer::Shared;
use super::reserving::Reserving;
use super::{MayHaveStored, QuotaAlert, QuotaKey, QuotaStore, Reservation};
use crate::admission::{Admit, Verdict};
use crate::rejection::{Rejection, RejectionCode};
use crate::store::StoreError;
use crate::store::refusals::Refusals;
use crate::telemetry::{self, Stage};

crate::admission::stage_response_future! {
    /// The response future of [`QuotaDegrade`](super::QuotaDegrade): the reservation, then the
    /// inner service's future (giving the unit back if it fails), or the degraded answer. Held
    /// inline, never boxed.
    ResponseFuture<S, Q, C> where Q: QuotaStore => Charge<Q, C>
}

/// Whether the quota stage is refusing for want of its store, for the log.
static REFUSALS: Refusals = Refusals::new("quota");

/// A reservation of one unit of a project's month.
pub(super) struct Charge<Q, C> {
    pub(super) key: QuotaKey,
    pub(super) limit: u64,
    pub(super) shared: Arc<Shared<Q, C>>,
}

/// The unit a call holds, to give back if the inner service fails.
pub(super) struct Charged<Q, C> {
    key: QuotaKey,
    shared: Arc<Shared<Q, C>>,
}

impl<Q: QuotaStore, C> Admit for Charge<Q, C> {
    type Answer = Reserving<Q>;
    type Admitted = Charged<Q, C>;
    const STAGE: Stage = Stage::Quota;

    fn decide<ReqBody, ResBody>(
        self,
        reserved: Result<Reservation, StoreError>,
        _request: &mut Request<ReqBody>,
        grpc: bool,
        _span: &Span,
    ) -> Verdict<Charged<Q, C>, ResBody> {
        let Charge { key, limit, shared } = self;
        if reserved.is_ok() {
            REFUSALS.answered();
        }
        match reserved {
            Ok(Reservation::Reserved { used, alerts }) => {
                telemetry::quota_reserved(&key.project, key.operation.as_str(), used, limit);
                if let Some(sink) = &shared.alerts {
                    for threshold in alerts.iter() {
                        sink(&QuotaAlert {
                            project: key.project.clone(),
                            operation: key.operation,
                            month: key.month,
                            threshold,
                            used,
                            limit,
                        });
                    }
                }
                Verdict::Admit(Charged { key, shared })
            }
            Ok(Reservation::Exhausted) => {
                tracing::debug!(project = &*key.project, operation = %key.operation, "quota used up; degraded");
                telemetry::quota_degraded(&key.project, key.operation.as_str(), limit);
                Verdict::Answer(shared.answer.response(key.operation, grpc))
            }
            Err(error) => {
                REFUSALS.refused(&error);
                Verdict::Reject(
                    Rejection::new(
                        RejectionCode::StoreUnavailable,
                        "the quota store is unavailable; retry shortly",
                    )
                    .with_retry_after(1),
                )
            }
        }
    }

    fn after<B, E>(charged: Charged<Q, C>, outcome: &mut Result<Response<B>, E>) {
        let stored = outcome.as_ref().is_ok_and(|response| {
            (response.status().is_success() && !grpc_failure(response.headers()))
                || response.extensions().get::<MayHaveStored>().is_some()
        });
        if !stored {
            // A 404 for a path the router does not serve, a 400 for a malformed body, a 5xx
            // not marked `MayHaveStored`: nothing was stored, so the unit goes back.
            charged.shared.store.refund(&charged.key);
        }
    }
}

/// Whether a trailers-only gRPC answer carries a status other than OK, the gRPC counterpart of
/// an answer that is not 2xx. A status sent in trailers after a body is not seen here (the body
/// is the handler's), so such a call keeps its unit.
fn grpc_failure(headers: &http::HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() != b"0")
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{Request, Response, StatusCode};
    use tower::{ServiceExt, service_fn};

    use crate::clock::{ManualClock, Timestamp};
    use crate::environment::Environment;
    use crate::quota::{MayHaveStored, Month, Operation, Plan, QuotaDegradeLayer, QuotaPlans};
    use crate::scope::Scope;

    /// Adds `status` answers, with or without the marker, and reads the month's adds after.
    async fn adds_after(status: StatusCode, marked: bool) -> u64 {
        let at = Timestamp::parse_rfc3339("2027-03-10T00:00:00Z").expect("a valid time");
        let layer = QuotaDegradeLayer::new(QuotaPlans::new().with_plan("p", Plan::new(5, 5)))
            .with_clock(ManualClock::new(at));
        let inner = service_fn(move |_: Request<()>| async move {
            let mut response = Response::new(());
            *response.status_mut() = status;
            if marked {
                response.extensions_mut().insert(MayHaveStored);
            }
            Ok::<_, Infallible>(response)
        });
        let service = tower_layer::Layer::layer(&layer, inner);
        let request = Request::post("/v1/memories")
            .extension(Scope::new("p", Environment::Development))
            .body(())
            .expect("a valid request");
        let response = service.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), status);
        let month = Month::of(at);
        let usage = layer
            .usage("p", Operation::Add, month)
            .await
            .expect("memory store");
        usage.expect("a plan").used
    }

    #[tokio::test]
    async fn a_failure_marked_may_have_stored_keeps_its_unit() {
        assert_eq!(adds_after(StatusCode::GATEWAY_TIMEOUT, true).await, 1);
        assert_eq!(adds_after(StatusCode::BAD_GATEWAY, true).await, 1);
    }

    #[tokio::test]
    async fn an_unmarked_failure_gives_its_unit_back() {
        assert_eq!(adds_after(StatusCode::GATEWAY_TIMEOUT, false).await, 0);
        assert_eq!(adds_after(StatusCode::BAD_GATEWAY, false).await, 0);
        assert_eq!(adds_after(StatusCode::CREATED, false).await, 1);
    }
}
