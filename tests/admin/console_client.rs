//! A browser stand-in for the console: forms posted as a browser posts them, the session
//! cookie carried along, pages read as text.

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// One answer: status, headers, and the body as text.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The `Location` of a redirect.
    pub(crate) fn location(&self) -> &str {
        self.headers["location"].to_str().unwrap()
    }

    /// The `Set-Cookie` header.
    pub(crate) fn set_cookie(&self) -> &str {
        self.headers["set-cookie"].to_str().unwrap()
    }

    /// The page's CSRF token (every form carries it).
    pub(crate) fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        let rest = &self.body[at..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// How many forms the page has.
    pub(crate) fn forms(&self) -> usize {
        self.body.matches("<form").count()
    }
}

/// A browser on `router` with its cookie jar of one session cookie.
pub(crate) struct Browser {
    router: Router,
    pub(crate) cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new(router: Router) -> Self {
        Browser {
            router,
            cookie: None,
        }
    }

    /// A browser logged in with `token`.
    pub(crate) async fn logged_in(router: Router, token: &str) -> Self {
        let mut browser = Browser::new(router);
        let page = browser.login(token).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        browser
    }

    /// Posts the login form; keeps the cookie it sets.
    pub(crate) async fn login(&mut self, token: &str) -> Page {
        let page = self.post("/admin/login", &[("token", token)]).await;
        if let Some(cookie) = page.headers.get("set-cookie") {
            let pair = cookie.to_str().unwrap().split(';').next().unwrap();
            self.cookie = Some(pair.to_owned());
        }
        page
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        let request = self.request("GET", path).body(Body::empty()).unwrap();
        self.send(request).await
    }

    /// Posts `fields` as `application/x-www-form-urlencoded`.
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    /// Posts `fields` with the extra `headers` a browser would add.
    pub(crate) async fn post_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let mut request = self
            .request("POST", path)
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    fn request(&self, method: &str, path: &str) -> http::request::Builder {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request
    }

    async fn send(&self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }
}
