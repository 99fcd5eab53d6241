//! `store.redis_url`: one Redis, or the seed nodes of a Redis Cluster.

use std::fmt;

/// Where the Redis stores live: `redis_url = "redis://…"` is one Redis; a list of URLs,
/// `redis_url = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"]`, names seed nodes of a
/// Redis Cluster (any reachable one is enough to find the rest).
///
/// Its `Debug` shows scheme, host and port only: a URL may carry a password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisTarget {
    /// One Redis (a replica set behind one address counts as one).
    Single(String),
    /// A Redis Cluster, through these seed nodes; never empty.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Every URL given: the one Redis, or each seed.
    pub fn urls(&self) -> &[String] {
        match self {
            RedisTarget::Single(url) => std::slice::from_ref(url),
            RedisTarget::Cluster(seeds) => seeds,
        }
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisTarget::Cluster(_))
    }
}

impl From<&str> for RedisTarget {
    fn from(url: &str) -> Self {
        RedisTarget::Single(url.to_owned())
    }
}

impl From<String> for RedisTarget {
    fn from(url: String) -> Self {
        RedisTarget::Single(url)
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.urls().iter().map(|url| without_secrets(url)).collect();
        match self {
            RedisTarget::Single(_) => f.debug_tuple("Single").field(&shown[0]).finish(),
            RedisTarget::Cluster(_) => f.debug_tuple("Cluster").field(&shown).finish(),
        }
    }
}

/// `scheme://host:port` of a Redis URL: what a log or an error may show of it. The user and
/// password (before `@`), the database and any query are left out.
fn without_secrets(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_password() {
        let single = RedisTarget::from("redis://user:s3cret@10.0.0.1:6379/2?x=y");
        let cluster = RedisTarget::Cluster(vec![
            "rediss://:s3cret@a:7000".into(),
            "redis://b:7001".into(),
        ]);
        let shown = format!("{single:?} {cluster:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            shown,
            r#"Single("redis://10.0.0.1:6379") Cluster(["rediss://a:7000", "redis://b:7001"])"#
        );
    }

    #[test]
    fn a_password_holding_an_at_sign_is_cut_at_the_last_one() {
        assert_eq!(without_secrets("redis://u:p@ss@host:1"), "redis://host:1");
    }
}
