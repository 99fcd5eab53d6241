//! `memorysync admin-token` as a process: the token alone on the first line and an
//! `[[admin_tokens]]` entry that loads with its hash and role.

mod common;

use common::memorysync;
use memorysync_pipeline::config::{AdminRole, Config};
use memorysync_pipeline::key::AdminToken;

#[test]
fn the_entry_appended_to_a_config_loads_with_the_token_hash_and_role() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("memorysync.toml");
    let mut file = "environment = \"production\"\n".to_owned();
    let mut tokens = Vec::new();
    for (id, role) in [("tok_ops", "admin"), ("tok_dashboard", "read")] {
        let run = memorysync(&["admin-token", "--id", id, "--role", role]);
        assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
        let (first, entry) = run.stdout.split_once("\n\n").expect("a blank line");
        let token = AdminToken::parse(first).expect("a token alone on line 1");
        assert!(first.starts_with("msa_") && first.len() == 42);
        assert!(!entry.contains(&first[4..]), "the entry holds the token");
        file.push('\n');
        file.push_str(entry);
        tokens.push(token);
    }
    std::fs::write(&path, &file).expect("written");
    let config = Config::load(&path).expect("the config loads");
    let records = &config.admin_tokens;
    assert_eq!(records.len(), 2, "{file}");
    assert_eq!(
        (records[0].id.as_str(), records[0].role),
        ("tok_ops", AdminRole::Admin)
    );
    assert_eq!(
        (records[1].id.as_str(), records[1].role),
        ("tok_dashboard", AdminRole::Read)
    );
    assert_eq!(records[0].sha256, tokens[0].hash());
    assert_eq!(records[1].sha256, tokens[1].hash());

    // The token itself in the file is refused by line, and not shown.
    let leaked = format!("{file}# {}\n", tokens[0].expose_secret());
    std::fs::write(&path, leaked).expect("written");
    let error = Config::load(&path)
        .expect_err("a plaintext token loads")
        .to_string();
    assert!(error.contains("plaintext"), "{error}");
    assert!(!error.contains(&tokens[0].expose_secret()[4..]), "{error}");
}

#[test]
fn a_bad_id_or_role_exits_1_and_prints_no_token() {
    for (id, role, says) in [
        ("tok ops", "admin", "--id: an id is 1 to 64 characters"),
        ("tok_ops", "owner", "--role must be admin or read"),
    ] {
        let run = memorysync(&["admin-token", "--id", id, "--role", role]);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(run.stdout, "");
        assert!(run.stderr.contains(says), "{run:?}");
    }
    let run = memorysync(&["admin-token", "--role", "admin"]);
    assert_eq!(run.code, Some(2), "{run:?}");
}
