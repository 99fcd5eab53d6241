//! Command-line arguments of the server example.

use std::net::SocketAddr;
use std::path::PathBuf;

pub(crate) struct Args {
    pub(crate) config: PathBuf,
    pub(crate) listen: SocketAddr,
    pub(crate) bare: bool,
}

const USAGE: &str = "usage: server [--config FILE] [--listen ADDR] [--bare]";

impl Args {
    pub(crate) fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            config: PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/memorysync.toml"
            )),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            bare: false,
        };
        while let Some(word) = words.next() {
            match word.as_str() {
                "--config" => args.config = words.next().ok_or(USAGE)?.into(),
                "--listen" => {
                    let addr = words.next().ok_or(USAGE)?;
                    args.listen = addr
                        .parse()
                        .map_err(|_| format!("--listen: not an address: {addr}"))?;
                }
                "--bare" => args.bare = true,
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(args)
    }
}
