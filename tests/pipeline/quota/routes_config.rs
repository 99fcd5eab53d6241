//! `[[quota.routes]]`: the config's own metered routes, every bad entry refused with its line,
//! and a route from the file metering a path the memory API does not have.

use super::*;
use memorysync_pipeline::config::{Config, QuotaRoute, RoutePath};

const HEAD_OF_FILE: &str = "environment = \"development\"\n\
    [[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 1\n";

/// The file with `routes` appended; its first route table is on line 6.
fn with_routes(routes: &str) -> String {
    format!("{HEAD_OF_FILE}{routes}")
}

fn route(method: &str, path: &str, operation: &str) -> String {
    format!(
        "[[quota.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\noperation = \"{operation}\"\n"
    )
}

fn refused(text: &str) -> (usize, String) {
    let error = Config::from_toml(text).unwrap_err();
    (error.line().expect("no line"), error.to_string())
}

#[test]
fn quota_routes_are_read_with_the_method_uppercased() {
    let file = with_routes(&format!(
        "{}{}",
        route("post", "/v2/notes/*", "add"),
        route("GET", "/v2/notes/", "query"),
    ));
    let config = Config::from_toml(&file).unwrap();
    assert_eq!(
        config.quota.routes,
        vec![
            QuotaRoute::new(
                Method::POST,
                RoutePath::Prefix("/v2/notes".into()),
                Operation::Add
            ),
            QuotaRoute::new(
                Method::GET,
                RoutePath::Exact("/v2/notes".into()),
                Operation::Query
            ),
        ]
    );
}

#[test]
fn without_quota_routes_the_memory_api_is_metered() {
    let config = Config::from_toml(HEAD_OF_FILE).unwrap();
    assert!(config.quota.routes.is_empty());
    let classifier = config.quota_classifier();
    assert_eq!(
        classifier.classify(&Method::POST, "/v1/memories"),
        Some(Operation::Add)
    );
    assert_eq!(
        classifier.classify(&Method::HEAD, "/v1/memories"),
        Some(Operation::Query)
    );
    assert_eq!(classifier.classify(&Method::POST, "/v2/notes"), None);
}

#[test]
fn every_bad_quota_route_names_its_line() {
    let bad = [
        (route("PO ST", "/v2/notes", "add"), 7, "HTTP method"),
        (route("", "/v2/notes", "add"), 7, "HTTP method"),
        (route("POST", "v2/notes", "add"), 8, "starts with `/`"),
        (route("POST", "", "add"), 8, "starts with `/`"),
        (route("POST", "/v2/notes?x=1", "add"), 8, "query string"),
        (route("POST", "/v2/notes#top", "add"), 8, "query string"),
        (route("POST", "/v2/*/notes", "add"), 8, "final `/*`"),
        (route("POST", "/v2/notes*", "add"), 8, "final `/*`"),
        (route("POST", "/v2/no tes", "add"), 8, "whitespace"),
        (
            route("POST", "/v2/notes", "delete"),
            9,
            "\"add\" or \"query\"",
        ),
        (route("POST", "/v2/notes", "Add"), 9, "\"add\" or \"query\""),
    ];
    for (table, line, message) in bad {
        let (got, text) = refused(&with_routes(&table));
        assert_eq!(got, line, "{table}: {text}");
        assert!(text.contains(message), "{table}: {text}");
    }
}

#[test]
fn a_quota_route_missing_a_field_or_with_an_unknown_one_is_refused() {
    let missing = "[[quota.routes]]\nmethod = \"POST\"\npath = \"/v2/notes\"\n";
    let (line, text) = refused(&with_routes(missing));
    assert!((6..=8).contains(&line), "{line}: {text}");
    assert!(text.contains("operation"), "{text}");

    let extra = format!("{}colour = \"blue\"\n", route("POST", "/v2/notes", "add"));
    let (line, text) = refused(&with_routes(&extra));
    assert_eq!(line, 10, "{text}");

    let (line, text) = refused(&with_routes("[quota]\nroute = []\n"));
    assert_eq!(line, 7, "{text}");
}

#[test]
fn an_empty_quota_routes_list_is_refused() {
    let (line, text) = refused(&with_routes("[quota]\nroutes = []\n"));
    assert_eq!(line, 7, "{text}");
    assert!(text.contains("leave it out"), "{text}");
}

#[test]
fn a_duplicate_quota_route_names_both_lines() {
    let file = with_routes(&format!(
        "{}{}",
        route("POST", "/v2/notes", "add"),
        route("post", "/v2/notes/", "query"),
    ));
    let (line, text) = refused(&file);
    assert_eq!(line, 12, "{text}");
    assert!(text.contains("first on line 8"), "{text}");

    let prefixes = with_routes(&format!(
        "{}{}",
        route("GET", "/v2/*", "query"),
        route("GET", "/v2//*", "query"),
    ));
    assert_eq!(refused(&prefixes).0, 12);
}

#[test]
fn the_same_path_under_two_methods_or_exact_and_prefix_is_no_duplicate() {
    let file = with_routes(&format!(
        "{}{}{}",
        route("POST", "/v2/notes", "add"),
        route("GET", "/v2/notes", "query"),
        route("POST", "/v2/notes/*", "query"),
    ));
    assert_eq!(Config::from_toml(&file).unwrap().quota.routes.len(), 3);
}

/// Before `[[quota.routes]]`, only the memory API's routes could be metered from a config:
/// `POST /v2/notes` went through unmetered, however many the plan allowed.
#[tokio::test]
async fn a_config_route_meters_a_path_the_memory_api_does_not_have() {
    let fixture = Fixture::new().await;
    let file = with_routes(&route("POST", "/v2/notes", "add"));
    let config = Config::from_toml(&file).unwrap();
    let quota = QuotaDegradeLayer::new(QuotaPlans::from_config(&config))
        .with_classifier(config.quota_classifier())
        .with_clock(fixture.clock.clone());
    let service = ServiceBuilder::new()
        .layer(fixture.auth_layer())
        .layer(ProjectScopeLayer::new())
        .layer(quota.clone())
        .service(recording_service(&fixture.recorder));
    let keyed = |method: Method, path: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", fixture.secret())
            .header("x-project-id", PROJECT)
            .body(String::new())
            .unwrap()
    };

    let first = send(service.clone(), keyed(Method::POST, "/v2/notes")).await;
    assert_eq!(first.text(), "inner", "{first:?}");
    let second = send(service.clone(), keyed(Method::POST, "/v2/notes?draft=1")).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.text(), r#"{"results":[]}"#);
    assert_eq!(
        fixture.recorder.calls(),
        1,
        "the degraded add reached inside"
    );

    // The config's routes replace the memory API's: its add is unmetered here.
    for _ in 0..2 {
        let reply = send(service.clone(), keyed(Method::POST, "/v1/memories")).await;
        assert_eq!(reply.text(), "inner", "{reply:?}");
    }
    let used = quota
        .usage(PROJECT, Operation::Add, Month::of(T0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((used.used, used.limit), (1, 1));
}
