use std::fmt;

use http::Method;

/// What a metered request spends: an add or a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Storing a memory: `adds_per_month`.
    Add,
    /// Reading memories: `queries_per_month`.
    Query,
}

impl Operation {
    /// `add` or `query`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Add => "add",
            Operation::Query => "query",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maps a request to the operation it spends, or `None` for an unmetered request.
///
/// Any `Fn(&Method, &str) -> Option<Operation>` is a classifier; the path has no query string.
pub trait Classify: Send + Sync + 'static {
    /// The operation of a request with this method and path.
    fn classify(&self, method: &Method, path: &str) -> Option<Operation>;
}

impl<F> Classify for F
where
    F: Fn(&Method, &str) -> Option<Operation> + Send + Sync + 'static,
{
    fn classify(&self, method: &Method, path: &str) -> Option<Operation> {
        self(method, path)
    }
}

/// The classifier of the design: `POST /v1/memories` adds; `POST /v1/memories/search` and
/// `GET /v1/memories` query; everything else is unmetered. `HEAD /v1/memories` is the GET it
/// stands for: routers answer it with the GET handler, so it reads (and its `content-length`
/// tells) what a query would.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultClassifier;

impl Classify for DefaultClassifier {
    fn classify(&self, method: &Method, path: &str) -> Option<Operation> {
        // A trailing slash names the same resource to most routers; count it the same.
        let path = path.strip_suffix('/').unwrap_or(path);
        match (method, path) {
            (&Method::POST, "/v1/memories") => Some(Operation::Add),
            (&Method::POST, "/v1/memories/search")
            | (&Method::GET | &Method::HEAD, "/v1/memories") => Some(Operation::Query),
            _ => None,
        }
    }
}
