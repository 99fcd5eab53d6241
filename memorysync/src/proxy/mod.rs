//! The reverse proxy of `memorysync serve --upstream URL`: the whole pipeline in front of any
//! HTTP/1.1 service, in any language.
//!
//! [`Upstream`] is a tower service that `serve` puts behind the pipeline
//! (`PipelineLayer::around(upstream)`). Each request goes to the upstream with the same method,
//! path (after the URL's base path), query and body, and these header fields rewritten:
//! - hop-by-hop fields are removed first, in both directions: `Connection`, `Keep-Alive`,
//!   `Proxy-Connection`, `Proxy-Authenticate`, `Proxy-Authorization`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`, and every field a `Connection` line names;
//! - then `X-MemorySync-Key-Id`, `X-MemorySync-Project` and `X-MemorySync-Environment` are
//!   removed from the client's request and written from the pipeline's `Principal` and `Scope`:
//!   a client can neither forge them nor have them dropped (`Connection: x-memorysync-project`
//!   is undone, as the identity is written after the hop-by-hop fields are gone);
//! - `X-Forwarded-For` (the peer, after the client's list only when the peer is a trusted
//!   proxy), `X-Forwarded-Proto`, `X-Forwarded-Host` (the client's `Host`); `X-Request-Id` is
//!   the id the audit log records.
//!
//! Bodies stream both ways, never held whole. A `Content-Length` over `[server]
//! max_body_bytes` is 413 before the upstream is contacted; a chunked body that passes it
//! aborts the upstream request, and is 413 if no response has started. An upstream that cannot
//! be reached is 502 `upstream_unavailable` (the quota unit goes back); one that gives no
//! response head within `[upstream] request_timeout_ms` is 504 `upstream_timeout`, marked
//! [`MayHaveStored`](memorysync_pipeline::quota::MayHaveStored) so that the unit is kept.
//!
//! # Decisions
//! - The client's `Authorization` and `X-API-Key` never go upstream, with or without a
//!   `Principal`: they carry the MemorySync API key, a secret the upstream has no use for; it
//!   trusts the identity fields. An upstream with credentials of its own cannot take them through
//!   these two fields.
//! - Without a `Principal` (the proxy used without the pipeline) no identity is written, and
//!   the client's identity fields are still removed.
//! - The client's `Host` is not passed on: the upstream gets its own authority (as the URL
//!   names it), and the client's in `X-Forwarded-Host`. `Forwarded` (RFC 7239) is passed on from
//!   trusted peers only. `Expect` is not passed on: this server answered it.
//! - `https://` upstreams are supported, checked against the Mozilla roots (webpki-roots);
//!   HTTP/1.1 only, to the upstream as to the client. Upgrades (WebSocket) are not proxied.
//! - The request timeout runs from the start of the call to the response head, sending the
//!   request body included. A timeout before any connection was made is 502, not 504: the
//!   upstream cannot have seen the request.
//! - A connection that fails after the request went out, before a response head, is 502
//!   `upstream_unavailable` but keeps the quota unit: the upstream may have stored. A chunked
//!   body over the limit gives the unit back: the upstream never got a whole request.
//! - A response body that fails midway ends the client's body with an error (logged): the
//!   client sees a cut answer, never a whole-looking one.
//! - The `upstream` health check opens a TCP connection within the connect timeout; its
//!   degraded text never names the upstream's address.

mod answers;
mod body;
mod client;
mod forward;
mod forwarding;
mod health;
mod hop_by_hop;
mod identity;
mod request;
mod service;
mod target;

#[cfg(test)]
mod tests;

pub(crate) use service::Upstream;
