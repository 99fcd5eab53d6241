use std::fmt;
use std::path::Path;

/// A configuration problem, with the line it is on when it has one.
///
/// The message never repeats a secret: a plaintext key in the file is reported by line only,
/// and `whsec_`, `msk_` and `msa_` material in a quoted value is redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    file: Option<String>,
    line: Option<usize>,
    message: String,
}

impl ConfigError {
    pub(super) fn at_line(line: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: Some(line),
            message: super::secrets::redact(&message.into()),
        }
    }

    pub(super) fn unreadable(path: &Path, error: &std::io::Error) -> Self {
        ConfigError {
            file: Some(path.display().to_string()),
            line: None,
            message: format!("cannot read the file: {error}"),
        }
    }

    pub(super) fn in_file(mut self, path: &Path) -> Self {
        self.file = Some(path.display().to_string());
        self
    }

    /// The 1-based line of the problem.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
