//! A `memorysync serve` with an admin listener for the browser: one project on a plan of four
//! adds, an admin and a read token, and the key that seals webhook secrets.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use memorysync_pipeline::key::AdminToken;
use memorysync_pipeline::webhook::endpoints::SecretKey;
use serde_json::Value;

use crate::client::Running;
use crate::process::ServerProcess;

/// The project of the config: four adds a month.
pub(crate) const PROJECT: &str = "proj_console";

/// The server, its two tokens, and clients of both listeners.
pub(crate) struct Console {
    pub(crate) server: ServerProcess,
    pub(crate) admin: AdminToken,
    pub(crate) reader: AdminToken,
    pub(crate) public: Running,
    pub(crate) admin_api: Running,
    _dir: tempfile::TempDir,
}

impl Console {
    pub(crate) async fn start(instance: &str) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let (admin, reader) = (
            AdminToken::generate().unwrap(),
            AdminToken::generate().unwrap(),
        );
        let sealing = dir.path().join("sealing.key");
        std::fs::write(&sealing, SecretKey::generate().unwrap().to_base64()).unwrap();
        std::fs::set_permissions(&sealing, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = format!(
            "environment = \"development\"\n\
             [[projects]]\nid = \"{PROJECT}\"\nadds_per_month = 4\nqueries_per_month = 100\n\
             [[admin_tokens]]\nid = \"tok_ops\"\nsha256 = \"{}\"\nrole = \"admin\"\n\
             [[admin_tokens]]\nid = \"tok_read\"\nsha256 = \"{}\"\nrole = \"read\"\n\
             [admin]\nsecret_key_file = \"{}\"\n",
            admin.hash().to_hex(),
            reader.hash().to_hex(),
            sealing.display(),
        );
        let path = dir.path().join("memorysync.toml");
        std::fs::write(&path, config).unwrap();
        let server = ServerProcess::start_with(
            &path,
            &["--instance", instance, "--admin-listen", "127.0.0.1:0"],
            &[],
        )
        .await;
        let public = Running::at(server.addr);
        let admin_api = Running::at(server.admin.unwrap());
        Console {
            server,
            admin,
            reader,
            public,
            admin_api,
            _dir: dir,
        }
    }

    /// An add to the project through the public listener with `key`: its status and whether
    /// it was served (not degraded).
    pub(crate) async fn add(&self, key: &str) -> (u16, bool) {
        let auth = format!("Bearer {key}");
        let headers = [("authorization", auth.as_str()), ("x-project-id", PROJECT)];
        let (status, body) = self
            .public
            .send("POST", "/v1/memories", &headers, r#"{"text":"a"}"#)
            .await;
        let served = body["results"].as_array().is_some_and(|r| !r.is_empty());
        (status, served)
    }

    /// An admin API call with the admin token.
    pub(crate) async fn api(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let auth = format!("Bearer {}", self.admin.expose_secret());
        let mut headers = vec![("authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        self.admin_api.send(method, path, &headers, body).await
    }
}
