//! `RouteClassifier`: exact routes, prefixes, HEAD following GET, the unmatched unmetered, and a
//! query string never part of the route.

use super::*;
use memorysync_pipeline::quota::{RouteClassifier, RoutePath};

fn path(text: &str) -> RoutePath {
    RoutePath::parse(text).unwrap()
}

fn notes() -> RouteClassifier {
    RouteClassifier::new([
        (Method::POST, path("/v2/notes"), Operation::Add),
        (Method::GET, path("/v2/notes/*"), Operation::Query),
        (Method::POST, path("/v2/notes/search"), Operation::Query),
        (Method::DELETE, path("/*"), Operation::Add),
    ])
}

#[test]
fn an_exact_route_matches_its_path_with_or_without_a_trailing_slash() {
    let classifier = notes();
    for path in ["/v2/notes", "/v2/notes/"] {
        assert_eq!(
            classifier.classify(&Method::POST, path),
            Some(Operation::Add)
        );
    }
    for path in ["/v2/notes/x", "/v2/note", "/v2/notesx", "/v2"] {
        assert_eq!(classifier.classify(&Method::POST, path), None, "{path}");
    }
}

#[test]
fn a_prefix_covers_its_path_and_everything_under_it_on_segment_boundaries() {
    let classifier = notes();
    for path in ["/v2/notes", "/v2/notes/", "/v2/notes/a", "/v2/notes/a/b"] {
        assert_eq!(
            classifier.classify(&Method::GET, path),
            Some(Operation::Query),
            "{path}"
        );
    }
    for path in ["/v2/notesx", "/v2", "/v2/note/a"] {
        assert_eq!(classifier.classify(&Method::GET, path), None, "{path}");
    }
    for path in ["/", "/anything", "/v1/memories/x"] {
        assert_eq!(
            classifier.classify(&Method::DELETE, path),
            Some(Operation::Add),
            "{path}"
        );
    }
}

#[test]
fn an_exact_route_wins_over_a_prefix_and_a_longer_prefix_over_a_shorter() {
    let classifier = RouteClassifier::new([
        (Method::POST, path("/*"), Operation::Query),
        (Method::POST, path("/a/*"), Operation::Add),
        (Method::POST, path("/a/b/*"), Operation::Query),
        (Method::POST, path("/a/b/c"), Operation::Add),
    ]);
    let cases = [
        ("/x", Operation::Query),
        ("/a/x", Operation::Add),
        ("/a/b/x", Operation::Query),
        ("/a/b/c", Operation::Add),
        ("/a/b/c/d", Operation::Query),
    ];
    for (path, operation) in cases {
        assert_eq!(
            classifier.classify(&Method::POST, path),
            Some(operation),
            "{path}"
        );
    }
}

#[test]
fn of_two_routes_with_the_same_method_and_path_the_first_is_kept() {
    let classifier = RouteClassifier::new([
        (Method::POST, path("/n"), Operation::Add),
        (Method::POST, path("/n/"), Operation::Query),
    ]);
    assert_eq!(
        classifier.classify(&Method::POST, "/n"),
        Some(Operation::Add)
    );
}

/// A GET route left HEAD unmetered: a HEAD ran the GET handler for free and its
/// `content-length` told the size of the answer. HEAD follows GET.
#[test]
fn head_follows_get_in_a_route_classifier() {
    let classifier = notes();
    assert_eq!(
        classifier.classify(&Method::HEAD, "/v2/notes/a"),
        Some(Operation::Query)
    );
    assert_eq!(classifier.classify(&Method::HEAD, "/v2/other"), None);

    let own_head = RouteClassifier::new([
        (Method::GET, path("/n"), Operation::Query),
        (Method::HEAD, path("/n"), Operation::Add),
    ]);
    assert_eq!(own_head.classify(&Method::HEAD, "/n"), Some(Operation::Add));
}

#[test]
fn a_request_no_route_matches_is_unmetered() {
    let classifier = notes();
    for (method, path) in [
        (Method::PUT, "/v2/notes"),
        (Method::POST, "/v1/memories"),
        (Method::GET, "/v1/memories"),
        (Method::PATCH, "/"),
    ] {
        assert_eq!(classifier.classify(&method, path), None, "{method} {path}");
    }
    assert_eq!(
        RouteClassifier::default().classify(&Method::POST, "/v1/memories"),
        None
    );
}

#[test]
fn a_query_string_is_no_part_of_the_route() {
    let classifier = notes();
    assert_eq!(
        classifier.classify(&Method::POST, "/v2/notes?x=1"),
        Some(Operation::Add)
    );
    assert_eq!(
        classifier.classify(&Method::POST, "/v2/notes/?x=/y"),
        Some(Operation::Add)
    );
}

#[tokio::test]
async fn through_the_stage_a_route_classifier_meters_its_routes_and_head_follows_get() {
    let quota = Quota::new(1, 1).map(|layer| layer.with_classifier(notes()));
    quota
        .assert_served(request(Method::POST, "/v2/notes?draft=1"))
        .await;
    quota
        .assert_degraded(request(Method::POST, "/v2/notes/"), Operation::Add)
        .await;
    quota
        .assert_served(request(Method::HEAD, "/v2/notes/a"))
        .await;
    quota
        .assert_degraded(request(Method::GET, "/v2/notes/b"), Operation::Query)
        .await;
    quota.assert_served(add()).await;
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
    assert_eq!(quota.used(Operation::Query).await, 1);
}
