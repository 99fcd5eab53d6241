//! Headless Chromium driven over WebDriver (chromedriver), for the console's tests: a page
//! loaded, a field filled, a button clicked, a screenshot saved under `target/`.
//!
//! Without Debian's `chromium` and `chromedriver` (or the binaries `MEMORYSYNC_CHROMIUM` and
//! `MEMORYSYNC_CHROMEDRIVER` name) a test skips with a printed line, unless
//! `MEMORYSYNC_REQUIRE_BROWSER` is set, as `.ci/run` sets it: then it fails.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

/// How long chromedriver may take to answer, and a page to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// Where the screenshots go: `target/tmp/console-screenshots/`.
pub(crate) fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
}

fn program(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.is_file().then_some(path)
}

/// One Chromium session on the console at `base`; its chromedriver (and the browser it
/// started) is killed when dropped.
pub(crate) struct Browser {
    client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A browser on the console served at `admin`, or `None` (after a printed line) where
    /// Chromium is not installed.
    pub(crate) async fn open(admin: SocketAddr) -> Option<Browser> {
        let (Some(chromium), Some(chromedriver)) = (
            program("MEMORYSYNC_CHROMIUM", "/usr/bin/chromium"),
            program("MEMORYSYNC_CHROMEDRIVER", "/usr/bin/chromedriver"),
        ) else {
            assert!(
                std::env::var_os("MEMORYSYNC_REQUIRE_BROWSER").is_none(),
                "MEMORYSYNC_REQUIRE_BROWSER is set, but chromium or chromedriver is missing"
            );
            println!(
                "skipped: the console's browser tests need chromium and chromedriver \
                 (apt-get install -y chromium chromium-driver)"
            );
            return None;
        };
        let port = free_port();
        let mut driver = Command::new(chromedriver);
        driver
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: dropping the browser kills chromedriver and Chromium.
            .process_group(0)
            .kill_on_drop(true);
        let driver = driver.spawn().unwrap();
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    // Tests run as root in a container: Chromium's sandbox needs user namespaces.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{port}");
        let client = tokio::time::timeout(PATIENCE, async {
            loop {
                match builder.connect(&webdriver).await {
                    Ok(client) => return client,
                    // chromedriver is not listening yet.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        })
        .await
        .expect("chromedriver opens a session within 30 s");
        Some(Browser {
            client,
            base: format!("http://{admin}"),
            driver,
            _profile: profile,
        })
    }

    /// Loads the console's `path`.
    pub(crate) async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The path of the page shown.
    pub(crate) async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// The one element `css` selects.
    pub(crate) async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {}: {e}", self.path_now().await),
        }
    }

    /// How many elements `css` selects.
    pub(crate) async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// The visible text of the element `css` selects.
    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Types `value` into the field `css` selects (after emptying it).
    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks the element `css` selects.
    pub(crate) async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Clicks the link or button `css` selects and waits for the page it leads to: WebDriver's
    /// click returns before a form's answer has loaded.
    pub(crate) async fn follow(&self, css: &str) {
        // A mark on this page's window, gone when the next page's window replaces it.
        self.run("window.memorysyncOldPage = true;").await;
        self.click(css).await;
        tokio::time::timeout(PATIENCE, async {
            loop {
                let loaded = self
                    .run(
                        "return window.memorysyncOldPage === undefined \
                         && document.readyState === 'complete';",
                    )
                    .await;
                if loaded == serde_json::Value::Bool(true) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("clicking `{css}` loads no page within {PATIENCE:?}"));
    }

    /// Runs `script` in the page (WebDriver's script, which the page's policy does not limit).
    pub(crate) async fn run(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Saves what the window shows as `target/tmp/console-screenshots/NAME.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The page's source, for an assertion's message.
    pub(crate) async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    async fn path_now(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => e.to_string(),
        }
    }

    /// Ends the session; Chromium exits with it.
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its process group, Chromium's processes included.
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// A port nothing listens on now, for chromedriver (which cannot be told to pick one).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
