//! The name of an audit chain's writer: given by the deployment, or generated once and kept in
//! the audit directory so that a restart continues the same chain.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// The longest instance name accepted.
pub const MAX_INSTANCE_NAME: usize = 64;

/// What an instance name must be, as said to whoever gave a bad one.
pub const INSTANCE_NAME_RULE: &str =
    "instance must be 1 to 64 characters of letters, digits, `.`, `_` and `-`";

/// The file under the audit directory that keeps a generated name.
pub const INSTANCE_FILE: &str = "instance";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `name` is 1 to [`MAX_INSTANCE_NAME`] characters of `[A-Za-z0-9._-]`: safe in a file
/// name, a Redis key and a log line.
pub fn is_instance_name(name: &str) -> bool {
    (1..=MAX_INSTANCE_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A fresh name: `inst_` and 16 random base62 characters.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn generate_instance_name() -> io::Result<String> {
    let mut name = String::from("inst_");
    while name.len() < 21 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
        // Rejection sampling: 248 = 4 × 62, so bytes below it map onto base62 uniformly.
        for byte in bytes.into_iter().filter(|b| *b < 248) {
            if name.len() < 21 {
                name.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(name)
}

/// The instance name kept in `<dir>/instance`, generated and written there at the first call
/// (a temporary file renamed into place, so a crash never leaves half a name).
///
/// # Errors
/// When the directory cannot be read or written, or the file holds something that is not a
/// name.
pub fn instance_in_dir(dir: &Path) -> io::Result<String> {
    let path = dir.join(INSTANCE_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let name = text.trim();
            if is_instance_name(name) {
                Ok(name.to_owned())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {INSTANCE_NAME_RULE}", path.display()),
                ))
            }
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            let name = generate_instance_name()?;
            let temporary = dir.join(format!(".{INSTANCE_FILE}.{}.tmp", std::process::id()));
            let mut file = File::create(&temporary)?;
            file.write_all(format!("{name}\n").as_bytes())?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            Ok(name)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_generated_ones_pass() {
        assert!(is_instance_name("a"));
        assert!(is_instance_name("node-1.eu_west"));
        assert!(is_instance_name(&"x".repeat(64)));
        assert!(!is_instance_name(""));
        assert!(!is_instance_name(&"x".repeat(65)));
        assert!(!is_instance_name("0.0.0.0:8080"));
        assert!(!is_instance_name("a/b"));
        let name = generate_instance_name().unwrap();
        assert!(is_instance_name(&name) && name.len() == 21, "{name}");
        assert_ne!(name, generate_instance_name().unwrap());
    }
}
