//! The admin console in a real browser (headless Chromium over WebDriver) against a real
//! `memorysync serve` with an admin listener: the operator's dashboard tasks done by clicking,
//! checked on the public API, with a screenshot of every page saved under `target/`.

mod browser;
#[path = "../common/client.rs"]
mod client;
mod operator;
// Only some of the process helpers are used here.
#[allow(dead_code)]
#[path = "../serve/process.rs"]
mod process;
mod roles;
mod server;
#[path = "../common/status_receiver.rs"]
mod status_receiver;
