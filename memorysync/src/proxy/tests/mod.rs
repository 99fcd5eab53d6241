//! The proxy behind the full pipeline, served on loopback, against real upstreams: a plain
//! hyper server and Python's `http.server`.

mod bodies;
mod client;
mod failures;
mod harness;
mod headers;
mod python;
#[path = "../../../tests/common/python_upstream.rs"]
mod python_upstream;
mod tls;
mod upstreams;
