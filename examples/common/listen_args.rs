//! `--config FILE` and `--listen ADDR`, both optional: the arguments of the hyper and gRPC
//! examples (the axum server has more and parses its own).

use std::net::SocketAddr;
use std::path::PathBuf;

/// The config file and the address to listen on; `listen` is the example's default address.
pub(crate) fn parse_args(
    mut args: impl Iterator<Item = String>,
    listen: SocketAddr,
) -> Result<(PathBuf, SocketAddr), String> {
    let mut config = PathBuf::from("examples/memorysync.toml");
    let mut listen = listen;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--config" => config = value.into(),
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?
            }
            _ => {
                return Err(format!(
                    "unknown argument {flag}; usage: [--config FILE] [--listen ADDR]"
                ));
            }
        }
    }
    Ok((config, listen))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

    fn parse(words: &[&str]) -> Result<(PathBuf, SocketAddr), String> {
        parse_args(words.iter().map(|w| (*w).to_owned()), DEFAULT)
    }

    #[test]
    fn flags_override_the_defaults_and_bad_ones_are_refused_by_name() {
        assert_eq!(parse(&[]).unwrap().1, DEFAULT);
        let (config, listen) = parse(&["--config", "c.toml", "--listen", "127.0.0.1:9"]).unwrap();
        assert_eq!((config, listen.port()), (PathBuf::from("c.toml"), 9));
        assert!(
            parse(&["--listen"])
                .unwrap_err()
                .contains("--listen needs a value")
        );
        assert!(
            parse(&["--listen", "nowhere"])
                .unwrap_err()
                .starts_with("--listen nowhere")
        );
        assert!(
            parse(&["--port", "1"])
                .unwrap_err()
                .contains("unknown argument --port")
        );
    }
}
