//! What the gRPC answers look like on the wire, read with a plain HTTP/2 client: a rejection is
//! trailers-only (the status in the response headers, no body), a degraded call is one empty
//! message then `grpc-status: 0`.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::tests::{Running, start};

/// An empty protobuf message, length-prefixed: not compressed, length 0.
const EMPTY_MESSAGE: [u8; 5] = [0; 5];

/// A unary call of `method` over HTTP/2 with prior knowledge, as gRPC clients make it.
async fn call(
    server: &Running,
    method: &str,
    headers: &[(&str, &str)],
) -> http::Response<Incoming> {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let mut request = http::Request::post(format!(
        "http://{}/memorysync.v1.Memories/{method}",
        server.addr
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::from(&EMPTY_MESSAGE[..])).unwrap();
    client.request(request).await.unwrap()
}

/// The data and the trailers of a response body.
async fn read(body: Incoming) -> (Vec<u8>, Option<HeaderMap>) {
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    (collected.to_bytes().to_vec(), trailers)
}

#[tokio::test]
async fn a_rejection_is_trailers_only() {
    let server = start(100, 10).await;
    let response = call(&server, "Search", &[("x-project-id", "proj_demo")]).await;
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "16");
    let message = response.headers()["grpc-message"].to_str().unwrap();
    assert!(message.starts_with("missing_api_key"), "{message}");
    // The headers frame ended the stream: no message, no trailers frame.
    let body = response.into_body();
    assert!(hyper::body::Body::is_end_stream(&body));
    assert_eq!(read(body).await, (Vec::new(), None));
    assert_eq!(server.service.calls(), 0);
}

#[tokio::test]
async fn a_degraded_call_is_one_empty_message_and_status_ok() {
    let server = start(1, 10).await;
    let headers = [
        ("authorization", server.bearer.as_str()),
        ("x-project-id", "proj_demo"),
    ];
    // The month's one add.
    let spend = server.authorized(crate::proto::AddRequest {
        text: "x".to_owned(),
    });
    server.client.clone().add(spend).await.unwrap();

    let response = call(&server, "Add", &headers).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("grpc-status").is_none(),
        "not trailers-only"
    );
    let (data, trailers) = read(response.into_body()).await;
    assert_eq!(data, EMPTY_MESSAGE);
    assert_eq!(trailers.unwrap()["grpc-status"], "0");
    assert_eq!(server.service.calls(), 1);
}

#[tokio::test]
async fn plain_http_probes_reach_health() {
    let server = start(100, 10).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let uri = format!("http://{}/health", server.addr).parse().unwrap();
    let response = client.get(uri).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert_eq!(response.status(), 200);
    let (data, _) = read(response.into_body()).await;
    let body: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(body["status"], "ok");
}
