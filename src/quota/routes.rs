use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;

use http::Method;

use super::{Classify, DefaultClassifier, Operation};

/// The path of a metered route: one path, or every path under a prefix (written `/a/b/*`).
///
/// A trailing slash is dropped, as [`DefaultClassifier`] drops it from requests: `/v2/notes/`
/// and `/v2/notes` are one route. A prefix `/a/*` covers `/a` itself and every path under
/// `/a/`, never `/ab`; `/*` covers every path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RoutePath {
    /// Exactly this path.
    Exact(String),
    /// This path and every path under it, without the trailing `/*` (empty for `/*`).
    Prefix(String),
}

/// Why a route path was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePathError(&'static str);

impl fmt::Display for RoutePathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for RoutePathError {}

impl RoutePath {
    /// Reads `/exact/path` or `/prefix/*`. The path starts with `/`, has no query string or
    /// fragment, no whitespace, and no `*` but a final `/*`.
    pub fn parse(text: &str) -> Result<Self, RoutePathError> {
        if !text.starts_with('/') {
            return Err(RoutePathError("a route path starts with `/`"));
        }
        if text.contains(['?', '#']) {
            return Err(RoutePathError(
                "a route path has no query string or fragment: requests are matched on the path",
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RoutePathError("a route path has no whitespace"));
        }
        let (path, prefix) = match text.strip_suffix("/*") {
            Some(path) => (path, true),
            None => (text, false),
        };
        if path.contains('*') {
            return Err(RoutePathError(
                "`*` is allowed only as a final `/*`, for a prefix",
            ));
        }
        let path = trim_slash(path);
        Ok(if prefix {
            RoutePath::Prefix(path.trim_end_matches('/').to_owned())
        } else {
            RoutePath::Exact(path.to_owned())
        })
    }
}

impl fmt::Display for RoutePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoutePath::Exact(path) => f.write_str(path),
            RoutePath::Prefix(path) => write!(f, "{path}/*"),
        }
    }
}

/// A request path without a query string or its trailing slash; `/` stays `/`.
fn trim_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

/// One metered route: requests with this method and path spend this operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuotaRoute {
    /// The request method; a `GET` route meters `HEAD` too.
    pub method: Method,
    /// The path, exact or a prefix.
    pub path: RoutePath,
    /// What a matching request spends.
    pub operation: Operation,
}

impl QuotaRoute {
    /// Requests with `method` and `path` spend `operation`.
    pub fn new(method: Method, path: RoutePath, operation: Operation) -> Self {
        QuotaRoute {
            method,
            path,
            operation,
        }
    }
}

impl From<(Method, RoutePath, Operation)> for QuotaRoute {
    fn from((method, path, operation): (Method, RoutePath, Operation)) -> Self {
        QuotaRoute::new(method, path, operation)
    }
}

/// The routes of one method: exact paths by hash, prefixes longest first.
#[derive(Clone, Debug, Default)]
struct MethodRoutes {
    exact: HashMap<Box<str>, Operation>,
    prefixes: Vec<(Box<str>, Operation)>,
}

impl MethodRoutes {
    fn find(&self, path: &str) -> Option<Operation> {
        if let Some(operation) = self.exact.get(path) {
            return Some(*operation);
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(&**prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, operation)| *operation)
    }
}

/// A classifier from a list of [`QuotaRoute`]s: any service can be metered.
///
/// An exact route wins over a prefix, and a longer prefix over a shorter one, so the order of
/// the list does not matter; of two routes with the same method and path, the first is kept.
/// `HEAD` follows `GET`: a `HEAD` request is looked up among the `HEAD` routes, then the `GET`
/// ones. A request no route matches is unmetered.
///
/// ```
/// use http::Method;
/// use memorysync_pipeline::quota::{Classify, Operation, RouteClassifier, RoutePath};
///
/// let notes = RouteClassifier::new([
///     (Method::POST, RoutePath::parse("/v2/notes").unwrap(), Operation::Add),
///     (Method::GET, RoutePath::parse("/v2/notes/*").unwrap(), Operation::Query),
/// ]);
/// assert_eq!(notes.classify(&Method::POST, "/v2/notes/"), Some(Operation::Add));
/// assert_eq!(notes.classify(&Method::HEAD, "/v2/notes/n_1"), Some(Operation::Query));
/// assert_eq!(notes.classify(&Method::POST, "/v1/memories"), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RouteClassifier {
    methods: Vec<(Method, MethodRoutes)>,
}

impl RouteClassifier {
    /// The classifier of `routes`: [`QuotaRoute`]s or `(Method, RoutePath, Operation)`s.
    pub fn new<R: Into<QuotaRoute>>(routes: impl IntoIterator<Item = R>) -> Self {
        let mut methods: Vec<(Method, MethodRoutes)> = Vec::new();
        for route in routes {
            let QuotaRoute {
                method,
                path,
                operation,
            } = route.into();
            let index = match methods.iter().position(|(m, _)| *m == method) {
                Some(index) => index,
                None => {
                    methods.push((method, MethodRoutes::default()));
                    methods.len() - 1
                }
            };
            let table = &mut methods[index].1;
            match path {
                RoutePath::Exact(path) => {
                    table.exact.entry(path.into()).or_insert(operation);
                }
                RoutePath::Prefix(prefix) => {
                    if !table.prefixes.iter().any(|(p, _)| **p == *prefix) {
                        table.prefixes.push((prefix.into(), operation));
                    }
                }
            }
        }
        for (_, table) in &mut methods {
            // The longest prefix is the most specific route.
            table
                .prefixes
                .sort_by_key(|(prefix, _)| Reverse(prefix.len()));
        }
        RouteClassifier { methods }
    }

    fn find(&self, method: &Method, path: &str) -> Option<Operation> {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .and_then(|(_, table)| table.find(path))
    }
}

impl Classify for RouteClassifier {
    fn classify(&self, method: &Method, path: &str) -> Option<Operation> {
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        let path = trim_slash(path);
        let found = self.find(method, path);
        if found.is_none() && method == Method::HEAD {
            return self.find(&Method::GET, path);
        }
        found
    }
}

/// The classifier a config names: the memory API's routes, or the config's own. An enum, so
/// the hot path calls it without a box.
#[derive(Clone, Debug)]
pub enum RoutesOrDefault {
    /// No routes configured: [`DefaultClassifier`].
    Default(DefaultClassifier),
    /// The configured routes.
    Routes(RouteClassifier),
}

impl Classify for RoutesOrDefault {
    fn classify(&self, method: &Method, path: &str) -> Option<Operation> {
        match self {
            RoutesOrDefault::Default(classifier) => classifier.classify(method, path),
            RoutesOrDefault::Routes(classifier) => classifier.classify(method, path),
        }
    }
}
