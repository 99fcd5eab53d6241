//! What goes wrong, said clearly and without a secret: the token's variable unset or
//! malformed, a read token refused a change, the API's problems, an unreachable URL, and bad
//! arguments.
#![allow(clippy::unwrap_used)]

use crate::cli::{FILE_KEY, Secrets, cli, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_variables_problems_and_unreachable_urls_exit_1_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::new();
    let server = serve(dir.path(), &secrets.config(""), "cli-errors").await;
    let url = format!("http://{}", server.admin.unwrap());
    let list = ["keys", "list", "--admin-url", url.as_str()];

    // The default variable unset, then a variable of the operator's choosing unset.
    let run = cli(&list, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with("error: MEMORYSYNC_ADMIN_TOKEN is not set"),
        "{run:?}"
    );
    let mut named = list.to_vec();
    named.extend(["--token-env", "OPS_TOKEN"]);
    let run = cli(
        &named,
        &[("MEMORYSYNC_ADMIN_TOKEN", secrets.admin.expose_secret())],
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with("error: OPS_TOKEN is not set"),
        "{run:?}"
    );

    // A malformed token: named, never shown.
    let secret = secrets.admin.expose_secret();
    // Its last character changed (to one it is not): the checksum no longer holds.
    let last = if secret.ends_with('x') { "y" } else { "x" };
    let malformed = format!("{}{last}", &secret[..41]);
    let run = cli(&named, &[("OPS_TOKEN", &malformed)]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with("error: OPS_TOKEN does not hold an admin token: "),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains(&secret[4..40]) && run.stdout.is_empty(),
        "{run:?}"
    );
    // The token given as the variable's name is refused before anything is read or sent.
    let run = cli(
        &["keys", "list", "--admin-url", &url, "--token-env", secret],
        &[],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(!run.stderr.contains(&secret[4..]), "{run:?}");
    // A well-formed token that no `[[admin_tokens]]` entry has.
    let stranger = memorysync_pipeline::key::AdminToken::generate().unwrap();
    let run = cli(&named, &[("OPS_TOKEN", stranger.expose_secret())]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with("error: invalid_admin_token: "),
        "{run:?}"
    );

    // The read token lists, and is refused a change with the problem's code.
    let reader = [("OPS_TOKEN", secrets.reader.expose_secret())];
    assert!(cli(&named, &reader).ok().starts_with("ID "));
    let mut revoke = vec!["keys", "revoke", FILE_KEY, "--admin-url", &url];
    revoke.extend(["--token-env", "OPS_TOKEN"]);
    let run = cli(&revoke, &reader);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:?}");
    assert!(
        run.stderr.starts_with("error: read_only_token: "),
        "{run:?}"
    );
    assert!(!run.stderr.contains(&secrets.reader.expose_secret()[4..]));

    // The API's own problems: an unknown key, a key the file manages.
    let admin = [("MEMORYSYNC_ADMIN_TOKEN", secret)];
    let run = cli(&["keys", "show", "key_nope", "--admin-url", &url], &admin);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stderr,
        "error: unknown_key: no key with id `key_nope`\n"
    );
    let run = cli(
        &[
            "keys",
            "update",
            FILE_KEY,
            "--rps",
            "5",
            "--admin-url",
            &url,
        ],
        &admin,
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with("error: owned_by_config: "),
        "{run:?}"
    );

    // Bad arguments: clap's, the CLI's checks, no URL at all.
    for args in [
        vec!["keys", "rotate", "key_a", "--admin-url", &url],
        vec!["keys", "list", "--limit", "0", "--admin-url", &url],
        vec!["keys", "list"],
        vec!["keys", "list", "--admin-url", "ftp://127.0.0.1:1"],
    ] {
        let run = cli(&args, &admin);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (Some(2), ""),
            "{args:?}: {run:?}"
        );
    }

    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let run = cli(&["keys", "list", "--admin-url", &gone], &admin);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .starts_with(&format!("error: cannot reach the admin API at {gone}: ")),
        "{run:?}"
    );
    assert!(!run.stderr.contains(&secret[4..]), "{run:?}");

    server.kill().await;
}
