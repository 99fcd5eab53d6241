//! `[admin]`: where the key that seals the secrets of webhook endpoints created through the
//! admin API comes from: an environment variable (`secret_key_env`) or a file
//! (`secret_key_file`), each holding 32 bytes as base64; not both.
//!
//! The file must not be readable, writable or runnable by others (mode `o-rwx`, as `ssh`
//! asks of a private key); group permissions are allowed, for containers that share a group
//! with a secret's mount. Its path is checked when the config is read (with its line); the key
//! itself is read when the deployment starts, and never quoted.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::validate::Lines;
use crate::webhook::endpoints::{CipherError, SecretKey};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    secret_key_env: Option<Spanned<String>>,
    secret_key_file: Option<Spanned<String>>,
}

/// `[admin]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Where the key that seals webhook endpoint secrets is read; `None`: creating endpoints
    /// or rotating their secrets through the API is refused.
    pub secret_key: Option<SecretKeySource>,
}

/// Where the sealing key is read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKeySource {
    /// `secret_key_env`: the name of the environment variable.
    Env(String),
    /// `secret_key_file`: the file, relative to the working directory.
    File(PathBuf),
}

/// Why the sealing key could not be read. Names the variable or the file, never the value.
#[derive(Debug)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// The variable is not set.
    NotSet(String),
    /// The file could not be read.
    Unreadable(PathBuf, std::io::Error),
    /// The file is open to others: make it `chmod o-rwx`.
    OpenToOthers(PathBuf),
    /// What it holds is not base64 of 32 bytes.
    Invalid(String, CipherError),
}

impl std::fmt::Display for SecretKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretKeyError::NotSet(name) => write!(f, "variable {name} is not set"),
            SecretKeyError::Unreadable(path, error) => write!(f, "{}: {error}", path.display()),
            SecretKeyError::OpenToOthers(path) => write!(
                f,
                "{} is open to other users: chmod o-rwx it (and make a new key if others read it)",
                path.display()
            ),
            SecretKeyError::Invalid(from, error) => write!(f, "{from}: {error}"),
        }
    }
}

impl std::error::Error for SecretKeyError {}

impl SecretKeySource {
    /// Reads the key: the variable through `env` (the process environment, or a test's or a
    /// secret manager's source), or the file.
    ///
    /// # Errors
    /// [`SecretKeyError`]: unset, unreadable, open to others, or not a key.
    pub fn read(&self, env: impl Fn(&str) -> Option<String>) -> Result<SecretKey, SecretKeyError> {
        match self {
            SecretKeySource::Env(name) => {
                let text = env(name).ok_or_else(|| SecretKeyError::NotSet(name.clone()))?;
                SecretKey::from_base64(&text)
                    .map_err(|e| SecretKeyError::Invalid(format!("variable {name}"), e))
            }
            SecretKeySource::File(path) => {
                check_private(path).map_err(|e| e.unwrap_or_else(|| open_to_others(path)))?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SecretKeyError::Unreadable(path.clone(), e))?;
                SecretKey::from_base64(&text)
                    .map_err(|e| SecretKeyError::Invalid(path.display().to_string(), e))
            }
        }
    }
}

fn open_to_others(path: &Path) -> SecretKeyError {
    SecretKeyError::OpenToOthers(path.to_owned())
}

/// `Ok` for a regular file closed to others; `Err(None)` for one open to them.
fn check_private(path: &Path) -> Result<(), Option<SecretKeyError>> {
    let metadata =
        std::fs::metadata(path).map_err(|e| Some(SecretKeyError::Unreadable(path.into(), e)))?;
    if !metadata.is_file() {
        let error = std::io::Error::other("not a regular file");
        return Err(Some(SecretKeyError::Unreadable(path.into(), error)));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o007 != 0 {
            return Err(None);
        }
    }
    Ok(())
}

pub(super) fn validate(
    lines: &Lines<'_>,
    raw: Option<Spanned<RawAdmin>>,
) -> Result<AdminConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(AdminConfig::default());
    };
    let raw = raw.into_inner();
    let secret_key = match (raw.secret_key_env, raw.secret_key_file) {
        (Some(_), Some(file)) => {
            return Err(lines.error(
                &file,
                "[admin] takes secret_key_env or secret_key_file, not both",
            ));
        }
        (Some(env), None) => Some(SecretKeySource::Env(variable(lines, &env)?)),
        (None, Some(file)) => {
            let path = PathBuf::from(file.get_ref().trim());
            if path.as_os_str().is_empty() {
                return Err(lines.error(&file, "secret_key_file names a file"));
            }
            match check_private(&path) {
                Ok(()) => {}
                Err(Some(error)) => {
                    return Err(lines.error(&file, format!("secret_key_file {error}")));
                }
                Err(None) => {
                    return Err(
                        lines.error(&file, format!("secret_key_file {}", open_to_others(&path)))
                    );
                }
            }
            Some(SecretKeySource::File(path))
        }
        (None, None) => None,
    };
    Ok(AdminConfig { secret_key })
}

/// The name of an environment variable, which must not be the key itself.
fn variable(lines: &Lines<'_>, raw: &Spanned<String>) -> Result<String, ConfigError> {
    let name = raw.get_ref().trim();
    if SecretKey::from_base64(name).is_ok() || super::secrets::holds_secret(name) {
        return Err(lines.error(
            raw,
            "secret_key_env holds a key, not the name of the environment variable that holds \
             it; make a new key, this one may have leaked",
        ));
    }
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(lines.error(raw, "secret_key_env names an environment variable"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const HEAD: &str = "environment = \"development\"\n";

    fn admin(table: &str) -> Result<AdminConfig, ConfigError> {
        Config::from_toml(&format!("{HEAD}[admin]\n{table}")).map(|c| c.admin)
    }

    #[test]
    fn a_variable_or_a_file_not_both() {
        assert_eq!(
            Config::from_toml(HEAD).unwrap().admin,
            AdminConfig::default()
        );
        let env = admin("secret_key_env = \"SEAL_KEY\"\n").unwrap();
        assert_eq!(
            env.secret_key,
            Some(SecretKeySource::Env("SEAL_KEY".into()))
        );

        let error = admin("secret_key_env = \"A\"\nsecret_key_file = \"k\"\n").unwrap_err();
        assert_eq!(error.line(), Some(4), "{error}");
        assert!(error.message().contains("not both"), "{error}");
        let error = admin("secret_key = \"A\"\n").unwrap_err();
        assert_eq!(error.line(), Some(3), "{error}");
    }

    #[test]
    fn a_key_in_place_of_the_variable_name_is_refused_without_quoting_it() {
        let key = SecretKey::generate().unwrap().to_base64();
        let error = admin(&format!("secret_key_env = \"{key}\"\n")).unwrap_err();
        assert_eq!(error.line(), Some(3));
        assert!(!error.to_string().contains(&key), "{error}");
        assert!(error.message().contains("may have leaked"), "{error}");
    }

    #[test]
    fn the_file_must_exist_and_be_closed_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seal.key");
        let missing = admin(&format!("secret_key_file = \"{}\"\n", path.display())).unwrap_err();
        assert_eq!(missing.line(), Some(3), "{missing}");
        let key = SecretKey::generate().unwrap();
        std::fs::write(&path, format!("{}\n", key.to_base64())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |m| std::fs::Permissions::from_mode(m);
            std::fs::set_permissions(&path, mode(0o644)).unwrap();
            let open = admin(&format!("secret_key_file = \"{}\"\n", path.display())).unwrap_err();
            assert!(open.message().contains("o-rwx"), "{open}");
            std::fs::set_permissions(&path, mode(0o640)).unwrap();
        }
        let config = admin(&format!("secret_key_file = \"{}\"\n", path.display())).unwrap();
        let source = config.secret_key.unwrap();
        assert_eq!(source.read(|_| None).unwrap(), key);
    }

    #[test]
    fn reading_names_the_variable_never_the_value() {
        let source = SecretKeySource::Env("SEAL_KEY".into());
        let unset = source.read(|_| None).unwrap_err();
        assert_eq!(unset.to_string(), "variable SEAL_KEY is not set");
        let bad = source.read(|_| Some("whsec_notakey".into())).unwrap_err();
        assert!(!bad.to_string().contains("notakey"), "{bad}");
    }
}
