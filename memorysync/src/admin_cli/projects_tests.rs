use http::Method;
use serde_json::json;

use crate::admin_cli::testing::{call, clap_refuses, printed, refused, sent};

#[test]
fn each_projects_command_builds_its_request() {
    let cases = [
        (
            vec!["projects", "list"],
            Method::GET,
            "/admin/v1/projects",
            None,
        ),
        (
            vec!["projects", "show", "proj_a"],
            Method::GET,
            "/admin/v1/projects/proj_a",
            None,
        ),
        (
            vec![
                "projects",
                "create",
                "proj_b",
                "--adds-per-month",
                "1000",
                "--queries-per-month",
                "0",
            ],
            Method::POST,
            "/admin/v1/projects",
            Some(json!({"id": "proj_b", "adds_per_month": 1000, "queries_per_month": 0})),
        ),
        (
            vec![
                "projects",
                "set-plan",
                "proj_b",
                "--adds-per-month",
                "5",
                "--queries-per-month",
                "50",
                "--alert-thresholds",
                "50,100",
            ],
            Method::PUT,
            "/admin/v1/projects/proj_b/plan",
            Some(json!({"adds_per_month": 5, "queries_per_month": 50,
                        "alert_thresholds": [50, 100]})),
        ),
    ];
    for (args, method, path, body) in cases {
        assert_eq!(
            sent(&call(&args)),
            (method, path.to_owned(), body),
            "{args:?}"
        );
    }
    assert_eq!(
        call(&["projects", "list", "--limit", "2"]).list,
        Some(Some(2))
    );
}

#[test]
fn bad_projects_arguments_are_refused() {
    for (args, says) in [
        (
            vec![
                "projects",
                "create",
                "p a",
                "--adds-per-month",
                "1",
                "--queries-per-month",
                "1",
            ],
            "ID: an id is",
        ),
        (
            vec![
                "projects",
                "set-plan",
                "p",
                "--adds-per-month=-1",
                "--queries-per-month",
                "1",
            ],
            "--adds-per-month",
        ),
        (
            vec![
                "projects",
                "set-plan",
                "p",
                "--adds-per-month",
                "1",
                "--queries-per-month",
                "1",
                "--alert-thresholds",
                "0,101",
            ],
            "--alert-thresholds",
        ),
    ] {
        let message = refused(&args);
        assert!(message.contains(says), "{args:?}: {message}");
    }
    assert!(clap_refuses(&[
        "projects",
        "set-plan",
        "p",
        "--adds-per-month",
        "1"
    ]));
}

#[test]
fn projects_print_use_against_the_plan() {
    let project = json!({"id": "proj_a", "owner": "config",
        "plan": {"adds_per_month": 1000, "queries_per_month": 5000, "alert_thresholds": [75, 90, 100]},
        "month": "2026-11",
        "tile": {"adds": {"used": 760, "limit": 1000, "alerts_fired": [75]},
                 "queries": {"used": 12, "limit": 5000, "alerts_fired": []}}});
    let page = json!({"items": [project, {"id": "proj_new", "owner": "api",
        "plan": {"adds_per_month": 0, "queries_per_month": 10, "alert_thresholds": [100]},
        "month": "2026-11"}], "next_cursor": null});
    assert_eq!(
        printed(&call(&["projects", "list"]), &page),
        "ID        OWNER   MONTH    ADDS      QUERIES  THRESHOLDS  ADDS_ALERTS  QUERIES_ALERTS\n\
         proj_a    config  2026-11  760/1000  12/5000  75,90,100   75           -\n\
         proj_new  api     2026-11  -/0       -/10     100         -            -\n"
    );
    let shown = printed(&call(&["projects", "show", "proj_a"]), &project);
    assert_eq!(
        shown,
        "ID                 proj_a\n\
         OWNER              config\n\
         ADDS_PER_MONTH     1000\n\
         QUERIES_PER_MONTH  5000\n\
         THRESHOLDS         75,90,100\n\
         MONTH              2026-11\n\
         ADDS_USED          760/1000\n\
         ADDS_ALERTS        75\n\
         QUERIES_USED       12/5000\n\
         QUERIES_ALERTS     -\n"
    );
}
