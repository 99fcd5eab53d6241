//! Command-line arguments of the server example.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::app::Mode;

pub(crate) struct Args {
    pub(crate) config: PathBuf,
    pub(crate) listen: SocketAddr,
    /// `--bare`, `--stages`, or the full pipeline when neither is given.
    pub(crate) mode: Mode,
    /// This process's audit chain; `[server] instance` or the audit directory's if unset.
    pub(crate) instance: Option<String>,
}

const USAGE: &str = "usage: server [--config FILE] [--listen ADDR] [--bare | --stages all|auth,scope,limit] [--instance NAME]";

impl Args {
    pub(crate) fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            config: PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/memorysync.toml"
            )),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            mode: Mode::Full,
            instance: None,
        };
        let mut mode_given = false;
        while let Some(word) = words.next() {
            match word.as_str() {
                "--config" => args.config = words.next().ok_or(USAGE)?.into(),
                "--listen" => {
                    let addr = words.next().ok_or(USAGE)?;
                    args.listen = addr
                        .parse()
                        .map_err(|_| format!("--listen: not an address: {addr}"))?;
                }
                "--bare" | "--stages" => {
                    if mode_given {
                        return Err(format!("give one of --bare and --stages, once\n{USAGE}"));
                    }
                    mode_given = true;
                    args.mode = match word.as_str() {
                        "--bare" => Mode::Bare,
                        _ => Mode::from_stages(&words.next().ok_or(USAGE)?)?,
                    };
                }
                "--instance" => {
                    let name = words.next().ok_or(USAGE)?;
                    if !memorysync_pipeline::audit::is_instance_name(&name) {
                        return Err(format!(
                            "--instance: {}",
                            memorysync_pipeline::audit::INSTANCE_NAME_RULE
                        ));
                    }
                    args.instance = Some(name);
                }
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(args)
    }
}
