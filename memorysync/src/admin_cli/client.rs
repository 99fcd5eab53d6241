//! Sending [`ApiRequest`]s: one HTTP/1.1 client over TCP or rustls, the token in
//! `Authorization` (marked sensitive), answers read as JSON, problems as [`Failure::Api`], and
//! lists walked page by page.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use memorysync_pipeline::key::AdminToken;
use serde_json::Value;

use super::failure::Failure;
use super::request::ApiRequest;
use super::target::AdminUrl;
use crate::https::Roots;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take, from connecting to the end of the answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read: far over any page of 500 records.
const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// The largest page the API gives.
pub(crate) const MAX_PAGE: u32 = 500;

/// A client of one admin listener, holding one token.
pub(crate) struct AdminClient {
    url: AdminUrl,
    authorization: HeaderValue,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("url", &self.url.base)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

impl AdminClient {
    /// A client of `url` sending `token`, trusting `roots` over `https://`.
    pub(crate) fn new(url: AdminUrl, token: &AdminToken, roots: Roots) -> Result<Self, Failure> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = crate::https::connector(http, roots).map_err(Failure::Other)?;
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map_err(|_| Failure::Other("the admin token cannot be sent".to_owned()))?;
        // hyper and any logging of the request leave it out.
        authorization.set_sensitive(true);
        Ok(AdminClient {
            url,
            authorization,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends `request`: the answer's JSON (`null` for an empty body) when it is a success.
    pub(crate) async fn send(&self, request: &ApiRequest) -> Result<Value, Failure> {
        let unreachable = |why: String| Failure::Unreachable {
            url: self.url.base.clone(),
            why,
        };
        let call = async {
            let mut builder = http::Request::builder()
                .method(request.method.clone())
                .uri(format!("{}{}", self.url.base, request.path_and_query()))
                .header(header::AUTHORIZATION, self.authorization.clone())
                .header(header::ACCEPT, "application/json")
                .header(
                    header::USER_AGENT,
                    concat!("memorysync-cli/", env!("CARGO_PKG_VERSION")),
                );
            let body = match &request.body {
                Some(body) => {
                    builder = builder.header(header::CONTENT_TYPE, "application/json");
                    Bytes::from(body.to_string())
                }
                None => Bytes::new(),
            };
            let http_request = builder
                .body(Full::new(body))
                .map_err(|e| Failure::Other(format!("the request cannot be made: {e}")))?;
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(|e| unreachable(chain(&e)))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| unreachable(format!("the answer was cut: {e}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", CALL_TIMEOUT.as_secs())))??;
        answer(status, &bytes, &self.url.base)
    }

    /// Every item of a list, page after page, or the first `limit` items: one answer of the
    /// first page's shape, its `items` all those read and its `next_cursor` the last page's
    /// (`null` when the list was read to its end).
    pub(crate) async fn list(
        &self,
        request: &ApiRequest,
        limit: Option<u32>,
    ) -> Result<Value, Failure> {
        let mut cursor: Option<String> = None;
        let mut items: Vec<Value> = Vec::new();
        let mut first: Option<Value> = None;
        loop {
            let read = u32::try_from(items.len()).unwrap_or(u32::MAX);
            let left = limit.map(|n| n.saturating_sub(read).min(MAX_PAGE));
            let page = self.send(&request.page(cursor.as_deref(), left)).await?;
            let Some(Value::Array(got)) = page.get("items").cloned() else {
                return Err(Failure::Other(format!(
                    "the admin API at {} answered a list without `items`",
                    self.url.base
                )));
            };
            items.extend(got);
            cursor = page
                .get("next_cursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            first.get_or_insert(page);
            let full = limit.is_some_and(|n| items.len() >= n as usize);
            if cursor.is_none() || full {
                break;
            }
        }
        let mut answer = first.unwrap_or_else(|| Value::Object(Default::default()));
        answer["items"] = Value::Array(items);
        answer["next_cursor"] = cursor.map_or(Value::Null, Value::String);
        Ok(answer)
    }
}

/// The JSON of a success, or the failure an error status stands for.
pub(crate) fn answer(status: http::StatusCode, bytes: &[u8], url: &str) -> Result<Value, Failure> {
    let json = if bytes.is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_slice::<Value>(bytes).ok()
    };
    if status.is_success() {
        return json.ok_or_else(|| {
            Failure::Other(format!(
                "the admin API at {url} answered {status} with a body that is not JSON"
            ))
        });
    }
    let problem = json.as_ref().and_then(|json| {
        let code = json.get("code")?.as_str()?;
        let detail = json.get("detail").and_then(Value::as_str).unwrap_or("");
        Some((code.to_owned(), detail.to_owned()))
    });
    Err(match problem {
        Some((code, detail)) => Failure::Api { code, detail },
        // Not the admin API (a proxy's page, another server): its body is not shown.
        None => Failure::Other(format!(
            "{url} answered {status}, not a problem of the admin API: is it an admin listener?"
        )),
    })
}

/// An error and its sources, `: `-separated: hyper's own message says little without them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
