//! The arguments of `memorysync serve`, as clap reads them from a command line.

use std::net::SocketAddr;

use clap::Parser;
use clap::error::ErrorKind;

use super::ServeArgs;
use crate::{Cli, Command};

fn parse(words: &str) -> Result<ServeArgs, clap::Error> {
    let line = std::iter::once("memorysync").chain(words.split_whitespace());
    match Cli::try_parse_from(line)?.command {
        Command::Serve(args) => Ok(args),
        other => panic!("not serve: {other:?}"),
    }
}

#[test]
fn the_arguments_parse_with_their_defaults_and_bad_ones_are_refused() {
    let args = parse("serve --config x.toml").expect("only --config is required");
    assert_eq!(args.config.to_str(), Some("x.toml"));
    assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
    assert_eq!((args.admin_listen, args.instance), (None, None));

    let args = parse(
        "serve --config x.toml --listen 0.0.0.0:9000 --admin-listen 127.0.0.1:9090 --instance api-1",
    )
    .expect("every flag");
    assert_eq!(args.listen.port(), 9000);
    assert_eq!(args.admin_listen.map(|a| a.port()), Some(9090));
    assert_eq!(args.instance.as_deref(), Some("api-1"));

    let missing = parse("serve --listen 127.0.0.1:9000").expect_err("no --config");
    assert_eq!(missing.kind(), ErrorKind::MissingRequiredArgument);
    assert!(missing.to_string().contains("--config"), "{missing}");
    for bad in [
        "serve --config x.toml --listen nowhere",
        "serve --config x.toml --admin-listen 9090",
        "serve --config",
        "serve --config x.toml --bare",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_instance_that_is_not_a_name_is_refused_by_the_flag() {
    let error = parse("serve --config x.toml --instance 0.0.0.0:8080").expect_err("refused");
    let error = error.to_string();
    assert!(
        error.contains("--instance") && error.contains("1 to 64"),
        "{error}"
    );
}

#[test]
fn serve_help_lists_every_flag_with_its_default() {
    let help = parse("serve --help").expect_err("help is an early exit");
    assert_eq!(help.kind(), ErrorKind::DisplayHelp);
    let text = help.to_string();
    for words in [
        "--config <FILE>",
        "--listen <ADDR>",
        "[default: 127.0.0.1:8080]",
        "--admin-listen <ADDR>",
        "GET /metrics",
        "--instance <NAME>",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
}
