//! The upstream's URL: checked once at start, then joined with every request's path.

use http::uri::{Authority, PathAndQuery, Scheme, Uri};

/// Where requests go: `http://host:port[/base]` or `https://...`.
#[derive(Clone, Debug)]
pub(super) struct Target {
    scheme: Scheme,
    authority: Authority,
    /// The base path without its trailing `/`; empty for none.
    base: String,
}

impl Target {
    /// Checks `url`. The errors never repeat the URL: a refused one may hold a password or a
    /// token in its user part or query.
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        // `http::Uri` drops a fragment without a word, so it is looked for in the text.
        if url.contains('#') {
            return Err("the upstream URL must not have a fragment (`#...`)".to_owned());
        }
        let uri: Uri = url.parse().map_err(|_| {
            "the upstream URL is not a valid URL; expected http://host:port[/base]".to_owned()
        })?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::HTTP,
            Some("https") => Scheme::HTTPS,
            Some(_) => {
                return Err(
                    "the upstream URL must start with http:// or https:// (other schemes are \
                     not proxied)"
                        .to_owned(),
                );
            }
            None => {
                return Err("the upstream URL needs a scheme: http://host:port[/base]".to_owned());
            }
        };
        let Some(authority) = uri.authority().cloned() else {
            return Err("the upstream URL needs a host: http://host:port[/base]".to_owned());
        };
        if authority.as_str().contains('@') {
            return Err(
                "the upstream URL must not carry a user or password; the upstream trusts the \
                 X-MemorySync-* identity headers instead"
                    .to_owned(),
            );
        }
        if authority.host().is_empty() {
            return Err("the upstream URL needs a host: http://host:port[/base]".to_owned());
        }
        if uri.query().is_some() {
            return Err("the upstream URL must not have a query string (`?...`)".to_owned());
        }
        let base = uri.path().trim_end_matches('/').to_owned();
        Ok(Target {
            scheme,
            authority,
            base,
        })
    }

    /// The upstream URI of a request for `path_and_query` (`/v1/x?y`): the base path, then the
    /// request's path and query as the client sent them.
    pub(super) fn uri_for(
        &self,
        path_and_query: Option<&PathAndQuery>,
    ) -> Result<Uri, http::Error> {
        let tail = path_and_query.map_or("/", PathAndQuery::as_str);
        let path_and_query = if self.base.is_empty() {
            PathAndQuery::try_from(tail)?
        } else {
            PathAndQuery::try_from(format!("{}{tail}", self.base))?
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }

    /// `scheme://authority/base`, for the startup line: the URL has neither user part nor
    /// query (both refused), so nothing secret.
    pub(super) fn describe(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.base)
    }

    /// Whether requests go over TLS.
    pub(super) fn is_https(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }

    /// The host and port to connect to, the scheme's port when the URL names none.
    pub(super) fn host_and_port(&self) -> (String, u16) {
        let default = if self.is_https() { 443 } else { 80 };
        // `[::1]` is how a URL writes an IPv6 host; a socket address wants `::1`.
        let host = self
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        (
            host.to_owned(),
            self.authority.port_u16().unwrap_or(default),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(url: &str, request: &str) -> String {
        let target = Target::parse(url).expect("a valid upstream URL");
        let path: PathAndQuery = request.parse().expect("a valid path");
        target
            .uri_for(Some(&path))
            .expect("a valid URI")
            .to_string()
    }

    #[test]
    fn the_base_path_goes_before_the_request_path_and_query() {
        assert_eq!(
            joined("http://127.0.0.1:9000", "/v1/m?x=1"),
            "http://127.0.0.1:9000/v1/m?x=1"
        );
        assert_eq!(joined("http://h:9000/", "/v1/m"), "http://h:9000/v1/m");
        assert_eq!(joined("http://h/api", "/v1/m?q"), "http://h/api/v1/m?q");
        assert_eq!(joined("http://h/api/", "/"), "http://h/api/");
        assert_eq!(joined("https://h:8443/a/b", "/c"), "https://h:8443/a/b/c");
    }

    #[test]
    fn host_and_port_default_to_the_scheme_s_port() {
        let port = |url: &str| Target::parse(url).expect("valid").host_and_port();
        assert_eq!(port("http://example.com"), ("example.com".to_owned(), 80));
        assert_eq!(
            port("https://example.com/x"),
            ("example.com".to_owned(), 443)
        );
        assert_eq!(port("http://[::1]:9000"), ("::1".to_owned(), 9000));
    }

    #[test]
    fn other_schemes_userinfo_query_and_fragment_are_refused_without_repeating_the_url() {
        for (url, says) in [
            ("ftp://h:21/", "http:// or https://"),
            ("ws://h:9000/", "http:// or https://"),
            ("unix:///run/app.sock", "not a valid URL"),
            ("h:9000", "scheme"),
            ("/just/a/path", "scheme"),
            ("http://user:hunter2@h:9000/", "user or password"),
            ("http://token@h:9000/", "user or password"),
            ("http://h:9000/?token=hunter2", "query string"),
            ("http://h:9000/#hunter2", "fragment"),
            ("http://h:9000/a b", "not a valid URL"),
            ("", "not a valid URL"),
        ] {
            let error = Target::parse(url).expect_err(url);
            assert!(error.contains(says), "{url}: {error}");
            assert!(
                !error.contains("hunter2") && !error.contains("token@"),
                "{error}"
            );
        }
    }
}
