//! A plain-HTTP client of a server on loopback, for the tests of the binary and of the server
//! example: a request in, the status and the JSON (or text) body out.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A client of the server listening at one address.
#[derive(Clone)]
pub(crate) struct Running {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Running {
    /// A client of the server listening at `addr` (in this process or another).
    pub(crate) fn at(addr: SocketAddr) -> Running {
        Running {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The status and body of a request without headers or body, the body as text (for
    /// answers that are not JSON).
    pub(crate) async fn send_text(&self, method: &str, path: &str) -> (u16, String) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The status and the JSON body (`null` when it is not JSON).
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let (status, _, body) = self.send_full(method, path, headers, body).await;
        (status, body)
    }

    /// Posts `form` (already encoded) as a browser posts a form: the status, the response's
    /// header fields and its body as text.
    #[allow(dead_code)]
    pub(crate) async fn post_form(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        form: &str,
    ) -> (u16, http::HeaderMap, String) {
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(form.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let fields = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, fields, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The status, the response's header fields and its JSON body.
    pub(crate) async fn send_full(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, http::HeaderMap, Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let fields = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, fields, json)
    }
}
