use std::sync::{Arc, Mutex};

use http::StatusCode;
use serde_json::json;

use super::*;

#[test]
fn problems_become_api_failures_and_other_errors_do_not_show_their_body() {
    let problem = br#"{"type":"urn:memorysync:problem:read_only_token","status":403,"code":"read_only_token","detail":"it may only GET"}"#;
    assert_eq!(
        answer(StatusCode::FORBIDDEN, problem, "http://a").unwrap_err(),
        Failure::Api {
            code: "read_only_token".into(),
            detail: "it may only GET".into()
        }
    );
    let failure = answer(
        StatusCode::BAD_GATEWAY,
        b"<html>secret page</html>",
        "http://a",
    )
    .unwrap_err()
    .to_string();
    assert!(
        failure.contains("502") && !failure.contains("secret"),
        "{failure}"
    );
    assert_eq!(
        answer(StatusCode::OK, br#"{"a":1}"#, "http://a").unwrap(),
        json!({"a": 1})
    );
    assert_eq!(
        answer(StatusCode::NO_CONTENT, b"", "http://a").unwrap(),
        Value::Null
    );
    assert!(answer(StatusCode::OK, b"not json", "http://a").is_err());
}

/// A list of `total` numbered items on loopback, paged as the admin API pages (`limit`
/// default 2 here, at most [`MAX_PAGE`]; the cursor is the last number given), recording each
/// request's path and query and its `Authorization`.
async fn paged_list(total: usize) -> (AdminUrl, Arc<Mutex<Vec<(String, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/base/admin/v1/things",
        axum::routing::get(move |request: http::Request<axum::body::Body>| {
            let record = Arc::clone(&record);
            async move {
                let query = request.uri().query().unwrap_or("").to_owned();
                let auth = request.headers()[header::AUTHORIZATION].to_str().unwrap();
                record
                    .lock()
                    .unwrap()
                    .push((query.clone(), auth.to_owned()));
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                        .map(|v| v.parse::<usize>().unwrap())
                };
                let start = param("cursor").unwrap_or(0);
                let limit = param("limit").unwrap_or(2);
                assert!(limit <= MAX_PAGE as usize);
                let end = (start + limit).min(total);
                let next = (end < total).then(|| end.to_string());
                axum::Json(json!({"items": (start..end).collect::<Vec<_>>(),
                                  "next_cursor": next, "count": total}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = AdminUrl::parse(&format!("http://{addr}/base/")).unwrap();
    (url, seen)
}

#[tokio::test]
async fn a_list_follows_next_cursor_to_the_end_or_stops_at_the_limit() {
    let token = AdminToken::generate().unwrap();
    let (url, seen) = paged_list(1_205).await;
    let client = AdminClient::new(url, &token, Roots::Mozilla).unwrap();
    let things = ApiRequest::get(&["things"]);

    let all = client.list(&things, None).await.unwrap();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 1_205);
    assert!(items.iter().enumerate().all(|(n, item)| item == n));
    assert_eq!(
        (&all["next_cursor"], &all["count"]),
        (&Value::Null, &json!(1_205))
    );
    let asked = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(asked.len(), 603, "pages of the API's own size");
    assert_eq!(asked[1].0, "cursor=2");
    let bearer = format!("Bearer {}", token.expose_secret());
    assert!(asked.iter().all(|(_, auth)| *auth == bearer));

    // More than one page holds: pages of at most MAX_PAGE, the last one only what is left.
    let some = client.list(&things, Some(1_100)).await.unwrap();
    assert_eq!(some["items"].as_array().unwrap().len(), 1_100);
    assert_eq!(some["next_cursor"], "1100");
    let asked: Vec<String> = seen.lock().unwrap().drain(..).map(|(q, _)| q).collect();
    assert_eq!(
        asked,
        ["limit=500", "cursor=500&limit=500", "cursor=1000&limit=100"]
    );
}
