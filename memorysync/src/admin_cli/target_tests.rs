use std::collections::HashMap;
use std::ffi::OsString;

use memorysync_pipeline::key::AdminToken;

use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(*v)))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn admin_urls_keep_scheme_authority_and_base_path() {
    for (text, base, clear) in [
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090", false),
        ("http://localhost:9090/", "http://localhost:9090", false),
        ("http://[::1]:9090", "http://[::1]:9090", false),
        (
            "https://ops.example:8443/ms/",
            "https://ops.example:8443/ms",
            false,
        ),
        ("http://10.0.0.5:9090", "http://10.0.0.5:9090", true),
    ] {
        let url = AdminUrl::parse(text).expect(text);
        assert_eq!(
            (url.base.as_str(), url.plaintext_off_loopback),
            (base, clear)
        );
    }
    for bad in [
        "127.0.0.1:9090",
        "ftp://host",
        "https://user:secret@host",
        "http://host/?a=b",
        "http://host/#x",
        "/admin",
        "",
    ] {
        assert_eq!(AdminUrl::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_flag_wins_over_the_variable_and_a_missing_or_bad_url_is_a_usage_error() {
    let from_env = env(&[(URL_VARIABLE, "http://127.0.0.1:1")]);
    let url = AdminUrl::resolve(Some("http://127.0.0.1:2"), &from_env).unwrap();
    assert_eq!(url.base, "http://127.0.0.1:2");
    assert_eq!(
        AdminUrl::resolve(None, &from_env).unwrap().base,
        "http://127.0.0.1:1"
    );
    let Err(Failure::Usage(message)) = AdminUrl::resolve(None, env(&[])) else {
        panic!("no URL is a usage error")
    };
    assert!(message.contains("--admin-url") && message.contains(URL_VARIABLE));
    let bad = env(&[(URL_VARIABLE, "https://u:hunter2@host")]);
    let Err(Failure::Usage(message)) = AdminUrl::resolve(None, bad) else {
        panic!("a bad URL is a usage error")
    };
    assert!(message.starts_with(URL_VARIABLE) && !message.contains("hunter2"));
}

#[test]
fn the_token_comes_from_the_named_variable_and_errors_never_show_it() {
    let token = AdminToken::generate().unwrap();
    let secret = token.expose_secret();
    let with_newline = format!("{secret}\n");
    let read = super::token("OPS_TOKEN", env(&[("OPS_TOKEN", &with_newline)])).unwrap();
    assert_eq!(read.hash(), token.hash());

    let unset = super::token("OPS_TOKEN", env(&[])).unwrap_err();
    assert!(matches!(&unset, Failure::Other(m) if m.starts_with("OPS_TOKEN is not set")));
    let mut broken = secret.to_owned();
    broken.replace_range(10..11, if &secret[10..11] == "a" { "b" } else { "a" });
    for value in [broken.as_str(), "msk_live_x", "hunter2"] {
        let failure = super::token("OPS_TOKEN", env(&[("OPS_TOKEN", value)])).unwrap_err();
        let Failure::Other(message) = &failure else {
            panic!("{failure:?}")
        };
        assert!(message.starts_with("OPS_TOKEN does not hold an admin token"));
        assert!(!message.contains(&value[4..]), "{message}");
    }
    // The token given where the variable's name goes is refused without being shown.
    for name in [secret, "", "1VAR", "A-B", "msa_OPS"] {
        let failure = super::token(name, env(&[])).unwrap_err();
        let Failure::Usage(message) = &failure else {
            panic!("{failure:?}")
        };
        assert!(message.starts_with("--token-env takes the name"));
        assert!(!message.contains(&secret[4..]), "{message}");
    }
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let failure = ca_file(&missing).unwrap_err();
    assert!(failure.to_string().contains("cannot be read"), "{failure}");
    let failure = ca_file(&empty).unwrap_err();
    assert!(
        failure.to_string().contains("holds no PEM CERTIFICATE"),
        "{failure}"
    );
}
