//! A server with an admin listener and two admin tokens, and runs of the CLI against it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use memorysync_pipeline::key::{AdminToken, ApiKey};

use crate::process::ServerProcess;

/// The project of every config here.
pub(crate) const PROJECT: &str = "proj_cli";
/// The key the config file manages.
pub(crate) const FILE_KEY: &str = "key_file";

/// The tokens and the file's key of one config.
pub(crate) struct Secrets {
    pub(crate) admin: AdminToken,
    pub(crate) reader: AdminToken,
    pub(crate) file_key: ApiKey,
}

impl Secrets {
    pub(crate) fn new() -> Self {
        Secrets {
            admin: AdminToken::generate().unwrap(),
            reader: AdminToken::generate().unwrap(),
            file_key: ApiKey::generate(memorysync_pipeline::Environment::Development).unwrap(),
        }
    }

    /// A development config: the project, the file's key, `tok_ops` (admin) and `tok_read`.
    pub(crate) fn config(&self, extra: &str) -> String {
        format!(
            "environment = \"development\"\n{extra}\
             [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 100\nqueries_per_month = 100\n\
             [[keys]]\nid = \"{FILE_KEY}\"\nsha256 = \"{}\"\nproject = \"{PROJECT}\"\nenvironment = \"development\"\n\
             [[admin_tokens]]\nid = \"tok_ops\"\nsha256 = \"{}\"\nrole = \"admin\"\n\
             [[admin_tokens]]\nid = \"tok_read\"\nsha256 = \"{}\"\nrole = \"read\"\n",
            self.file_key.hash().to_hex(),
            self.admin.hash().to_hex(),
            self.reader.hash().to_hex(),
        )
    }
}

/// `memorysync serve` on `config` with an admin listener on loopback.
pub(crate) async fn serve(dir: &Path, config: &str, instance: &str) -> ServerProcess {
    let path = dir.join("memorysync.toml");
    std::fs::write(&path, config).unwrap();
    ServerProcess::start_with(
        &path,
        &["--instance", instance, "--admin-listen", "127.0.0.1:0"],
        &[],
    )
    .await
}

/// What a run of the CLI gave.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The standard output of a run that must have succeeded.
    pub(crate) fn ok(self) -> String {
        assert_eq!((self.code, self.stderr.as_str()), (Some(0), ""), "{self:?}");
        self.stdout
    }

    /// The JSON printed by a run (with `--json`) that must have succeeded.
    pub(crate) fn json(self) -> serde_json::Value {
        serde_json::from_str(&self.ok()).unwrap()
    }
}

/// `memorysync args...` with only `env` of the admin CLI's variables set.
pub(crate) fn cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memorysync"));
    command
        .args(args)
        .env_remove("MEMORYSYNC_ADMIN_TOKEN")
        .env_remove("MEMORYSYNC_ADMIN_URL")
        .envs(env.iter().copied());
    let output = command.output().unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
