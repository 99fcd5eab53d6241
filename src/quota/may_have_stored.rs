//! The marker by which an answer that is not a 2xx keeps its quota unit.

/// Put into the extensions of a response that is not a 2xx but whose request may still have been
/// acted on inside, so that [`QuotaDegrade`](super::QuotaDegrade) keeps the unit it reserved
/// instead of giving it back.
///
/// A quota counts what was served, and is never exceeded: a 504 from a reverse proxy whose
/// upstream did not answer in time may hide a stored memory, so such an answer must keep its
/// unit, while a 502 for an upstream that could not be reached gives it back.
///
/// # Example
/// ```
/// use memorysync_pipeline::quota::MayHaveStored;
///
/// let mut response = http::Response::new(());
/// *response.status_mut() = http::StatusCode::GATEWAY_TIMEOUT;
/// response.extensions_mut().insert(MayHaveStored);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MayHaveStored;
