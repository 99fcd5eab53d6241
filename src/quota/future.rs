use std::sync::Arc;

use http::{Request, Response};
use tracing::Span;

use super::layer::Shared;
use super::{QuotaAlert, QuotaKey, QuotaStore, Reservation};
use crate::admission::{Admit, Verdict};
use crate::rejection::{Rejection, RejectionCode};
use crate::store::StoreError;
use crate::telemetry::{self, Stage};

crate::admission::stage_response_future! {
    /// The response future of [`QuotaDegrade`](super::QuotaDegrade): the reservation, then the
    /// inner service's future (giving the unit back if it fails), or the degraded answer. Held
    /// inline, never boxed.
    ResponseFuture<S, Q, C> where Q: QuotaStore => Charge<Q, C>
}

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
    type Answer = Q::Reserve;
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
                tracing::warn!(%error, "quota store unavailable; refusing");
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
        let failed = outcome.as_ref().map_or(true, |response| {
            response.status().is_server_error() || grpc_server_error(response.headers())
        });
        if failed {
            // Nothing was stored: the unit goes back to the month.
            charged.shared.store.refund(&charged.key);
        }
    }
}

/// Whether a trailers-only gRPC answer carries a status of the server's failing, the gRPC
/// counterpart of a 5xx: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
/// DATA_LOSS. A status sent in trailers after a body is not seen here (the body is the
/// handler's), so such a call keeps its unit.
fn grpc_server_error(headers: &http::HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|code| matches!(code, "2" | "4" | "12" | "13" | "14" | "15"))
}
