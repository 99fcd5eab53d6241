//! `memorysync keygen`: a new API key, printed once, and the `[[keys]]` entry that stores its
//! SHA-256.
//!
//! The first line is the key alone, then a blank line, then the entry: `tail -n +3` gives the
//! entry for a config file. Every value is checked here, with messages that name the option and
//! never quote what was given (a key pasted into the wrong place stays off the terminal), and
//! the entry is loaded through the config's own loader before anything is printed.

use std::time::Duration;

use memorysync_pipeline::Environment;
use memorysync_pipeline::clock::{Clock, SystemClock, Timestamp};
use memorysync_pipeline::config::{Config, RECORD_ID_RULE, is_record_id};
use memorysync_pipeline::key::ApiKey;
use memorysync_pipeline::limit::{WindowName, format_window};

/// Creates an API key: prints the key alone on the first line (shown once: keep it secret),
/// then the `[[keys]]` entry holding only its SHA-256.
#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// The project the key belongs to: the id of its `[[projects]]` entry.
    #[arg(long, value_name = "PROJECT")]
    pub(crate) project: String,
    /// The key's environment: `development` (an `msk_test_` key) or `production` (`msk_live_`).
    #[arg(long, value_name = "development|production")]
    pub(crate) environment: String,
    /// The key's public id, shown in logs and audit events; default `key_` and 16 random hex
    /// digits. Letters, digits, `.`, `_` and `-`, at most 64.
    #[arg(long, value_name = "ID")]
    pub(crate) id: Option<String>,
    /// Requests per second, at least 1; absent, the key has no per-second limit.
    #[arg(long, value_name = "N")]
    pub(crate) rps: Option<String>,
    /// Requests per minute, at least 1; absent, the key has no per-minute limit.
    #[arg(long, value_name = "N")]
    pub(crate) rpm: Option<String>,
    /// The per-second rate's window, a duration such as 4s (whole seconds, 1s to 1h); absent,
    /// the deployment's default (`[limits] rps_window`, else 1s).
    #[arg(long, value_name = "DURATION")]
    pub(crate) rps_window: Option<String>,
    /// The per-minute rate's window, a duration such as 10m (whole seconds, 1m to 24h); absent,
    /// the deployment's default (`[limits] rpm_window`, else 60s).
    #[arg(long, value_name = "DURATION")]
    pub(crate) rpm_window: Option<String>,
    /// When the key stops working: an RFC 3339 time in the future, e.g. 2027-01-01T00:00:00Z.
    #[arg(long, value_name = "RFC3339")]
    pub(crate) expires: Option<String>,
}

pub(crate) fn run(args: KeygenArgs) -> Result<(), String> {
    let key = keygen(&args, SystemClock.now())?;
    print!("{key}");
    Ok(())
}

/// The printed text: the key, a blank line, the entry. `now` decides what "in the future" is.
pub(crate) fn keygen(args: &KeygenArgs, now: Timestamp) -> Result<String, String> {
    let project = record_id("--project", &args.project)?;
    let environment: Environment = args
        .environment
        .parse()
        .map_err(|_| "--environment must be development or production".to_owned())?;
    let id = match &args.id {
        Some(id) => record_id("--id", id)?.to_owned(),
        None => random_id()?,
    };
    let rps = args.rps.as_deref().map(|n| limit("--rps", n)).transpose()?;
    let rpm = args.rpm.as_deref().map(|n| limit("--rpm", n)).transpose()?;
    let rps_window = args.rps_window.as_deref();
    let rps_window = rps_window
        .map(|text| window("--rps-window", WindowName::Rps, text))
        .transpose()?;
    let rpm_window = args.rpm_window.as_deref();
    let rpm_window = rpm_window
        .map(|text| window("--rpm-window", WindowName::Rpm, text))
        .transpose()?;
    let expires_at = args
        .expires
        .as_deref()
        .map(|text| expiry(text, now))
        .transpose()?;
    let key = ApiKey::generate(environment)
        .map_err(|e| format!("the system's random source failed: {e}"))?;

    let mut entry = format!(
        "[[keys]]\nid = \"{id}\"\nsha256 = \"{hash}\"\nproject = \"{project}\"\nenvironment = \"{environment}\"\n",
        hash = key.hash().to_hex(),
    );
    for (name, value) in [("rps", rps), ("rpm", rpm)] {
        if let Some(value) = value {
            entry.push_str(&format!("{name} = {value}\n"));
        }
    }
    for (name, length) in [(WindowName::Rps, rps_window), (WindowName::Rpm, rpm_window)] {
        if let Some(length) = length {
            let text = format_window(length);
            entry.push_str(&format!("{} = \"{text}\"\n", name.field()));
        }
    }
    if let Some(at) = expires_at {
        entry.push_str(&format!("expires_at = \"{}\"\n", at.to_rfc3339()));
    }
    check_loads(&entry, project, environment)?;
    Ok(format!("{}\n\n{entry}", key.expose_secret()))
}

/// `text` when it is an id the config accepts and the other tools can carry as they are.
fn record_id<'t>(option: &str, text: &'t str) -> Result<&'t str, String> {
    if is_record_id(text) {
        Ok(text)
    } else {
        Err(format!("{option}: {RECORD_ID_RULE}"))
    }
}

fn limit(option: &str, text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{option} must be a whole number from 1 to {}",
            u32::MAX
        )),
    }
}

/// A window length, with a message that names the option and its bounds but not the text.
fn window(option: &str, name: WindowName, text: &str) -> Result<Duration, String> {
    name.parse(text).map_err(|_| {
        format!(
            "{option} must be a duration such as 4s or 10m, whole seconds {}",
            name.bounds_text()
        )
    })
}

fn expiry(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let at = Timestamp::parse_rfc3339(text).map_err(|_| {
        "--expires must be an RFC 3339 time such as 2027-01-01T00:00:00Z".to_owned()
    })?;
    if at <= now {
        return Err(format!(
            "--expires must be in the future (it is now {now}); the key would never work"
        ));
    }
    Ok(at)
}

/// Loads `entry` in a config with its project, as a server would: whatever the checks above
/// let through, the printed entry is one the loader takes (an id shaped like a key, say, is not).
fn check_loads(entry: &str, project: &str, environment: Environment) -> Result<(), String> {
    let file = format!(
        "environment = \"{environment}\"\n\n[[projects]]\nid = \"{project}\"\nadds_per_month = 0\nqueries_per_month = 0\n\n{entry}"
    );
    Config::from_toml(&file)
        .map(drop)
        .map_err(|e| format!("the entry would not load in a config: {}", e.message()))
}

fn random_id() -> Result<String, String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| format!("the system's random source failed: {e}"))?;
    Ok(format!(
        "key_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use memorysync_pipeline::Environment;
    use memorysync_pipeline::clock::Timestamp;
    use memorysync_pipeline::config::Config;
    use memorysync_pipeline::key::ApiKey;

    use super::{KeygenArgs, keygen};

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-06-01T00:00:00Z").expect("a time")
    }

    fn args(project: &str, environment: &str) -> KeygenArgs {
        KeygenArgs {
            project: project.to_owned(),
            environment: environment.to_owned(),
            id: None,
            rps: None,
            rpm: None,
            rps_window: None,
            rpm_window: None,
            expires: None,
        }
    }

    /// The key line and the entry of a run that succeeded.
    fn split(output: &str) -> (ApiKey, &str) {
        let (first, rest) = output.split_once('\n').expect("two parts");
        let entry = rest.strip_prefix('\n').expect("a blank line after the key");
        (
            ApiKey::parse(first).expect("the first line is a key"),
            entry,
        )
    }

    fn config_with(entry: &str, environment: Environment) -> Config {
        let file = format!(
            "environment = \"{environment}\"\n[[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 1\n{entry}"
        );
        Config::from_toml(&file).expect("the entry loads")
    }

    #[test]
    fn the_key_comes_alone_first_and_the_entry_loads_with_its_hash() {
        let mut given = args("proj_demo", "production");
        given.id = Some("key_x".into());
        given.rps = Some("10".into());
        given.rpm = Some("300".into());
        given.rps_window = Some("4s".into());
        given.rpm_window = Some("90s".into());
        given.expires = Some("2027-01-01T02:00:00+02:00".into());
        let output = keygen(&given, now()).expect("a key");
        let (key, entry) = split(&output);
        assert_eq!(key.environment(), Environment::Production);
        assert!(
            !entry.contains(key.expose_secret()),
            "the entry holds the key"
        );
        let config = config_with(entry, Environment::Production);
        let record = &config.keys[0];
        assert_eq!(record.sha256, key.hash());
        assert_eq!((&*record.id, &*record.project), ("key_x", "proj_demo"));
        assert_eq!((record.rps, record.rpm), (Some(10), Some(300)));
        assert!(
            entry.contains("rps_window = \"4s\"\nrpm_window = \"1m 30s\"\n"),
            "{entry}"
        );
        assert_eq!(
            (record.rps_window, record.rpm_window),
            (Some(Duration::from_secs(4)), Some(Duration::from_secs(90)))
        );
        // The expiry is written in UTC.
        assert!(
            entry.contains("expires_at = \"2027-01-01T00:00:00Z\"\n"),
            "{entry}"
        );
        assert_eq!(
            record.expires_at,
            Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").ok()
        );
    }

    #[test]
    fn limits_and_expiry_are_written_only_when_given_and_the_id_is_random() {
        let output = keygen(&args("proj_demo", "development"), now()).expect("a key");
        let (key, entry) = split(&output);
        assert!(key.expose_secret().starts_with("msk_test_"));
        for absent in ["rps", "rpm", "window", "expires_at"] {
            assert!(!entry.contains(absent), "{entry}");
        }
        let record = config_with(entry, Environment::Development).keys[0].clone();
        assert_eq!(
            (record.rps, record.rpm, record.expires_at),
            (None, None, None)
        );
        assert!(
            record.id.starts_with("key_") && record.id.len() == 20,
            "{}",
            record.id
        );
        let again = keygen(&args("proj_demo", "development"), now()).expect("a key");
        assert_ne!(split(&again).1, entry, "two runs gave the same id or key");
    }

    #[test]
    fn bad_values_are_refused_naming_the_option_and_never_the_value() {
        let key = ApiKey::generate(Environment::Production).expect("a key");
        let secret = key.expose_secret();
        type Edit = fn(&mut KeygenArgs, &str);
        let cases: [(Edit, &str, &str); 17] = [
            (|a, _| a.environment = "staging".into(), "--environment", ""),
            (
                |a, _| a.project = "proj demo".into(),
                "--project",
                "1 to 64",
            ),
            (|a, _| a.project = String::new(), "--project", "1 to 64"),
            (|a, _| a.id = Some("key\"x".into()), "--id", "1 to 64"),
            (|a, _| a.id = Some("k".repeat(65)), "--id", "1 to 64"),
            (|a, _| a.rps = Some("0".into()), "--rps", "from 1"),
            (|a, _| a.rpm = Some("-5".into()), "--rpm", "from 1"),
            (|a, _| a.rpm = Some("4294967296".into()), "--rpm", "from 1"),
            (
                |a, _| a.rps_window = Some("0s".into()),
                "--rps-window",
                "1s to 1h",
            ),
            (
                |a, _| a.rps_window = Some("1500ms".into()),
                "--rps-window",
                "whole seconds",
            ),
            (
                |a, _| a.rpm_window = Some("59s".into()),
                "--rpm-window",
                "1m to 24h",
            ),
            (
                |a, _| a.rpm_window = Some("soon".into()),
                "--rpm-window",
                "a duration",
            ),
            (
                |a, s| a.rps_window = Some(s.into()),
                "--rps-window",
                "a duration",
            ),
            (
                |a, _| a.expires = Some("2027-01-01".into()),
                "--expires",
                "RFC 3339",
            ),
            (
                |a, _| a.expires = Some("2026-05-31T23:59:59Z".into()),
                "--expires",
                "future",
            ),
            // A key pasted where an id goes: the loader's plaintext-key check refuses the entry.
            (|a, s| a.id = Some(s.into()), "plaintext API key", ""),
            (|a, s| a.expires = Some(s.into()), "--expires", "RFC 3339"),
        ];
        for (edit, option, why) in cases {
            let mut given = args("proj_demo", "production");
            edit(&mut given, secret);
            let error = keygen(&given, now()).expect_err(option);
            assert!(error.contains(option) && error.contains(why), "{error}");
            assert!(!error.contains(&secret[9..]), "{error}");
        }
    }
}
