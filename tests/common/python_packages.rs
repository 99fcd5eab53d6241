//! Python packages from PyPI for the tests that run a reference implementation or a tool
//! written in Python (`standardwebhooks`, `schemathesis`): installed with pip into a folder
//! under the target directory on first use (staged, then renamed, so that concurrent test
//! binaries never import half an install).
//!
//! Without `python3` or pip (or the package index), [`installed`] says why, and the test skips
//! with a printed line, unless `MEMORYSYNC_REQUIRE_PYTHON=1` (as in `.ci/run`), where it fails.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

/// Whether a missing Python package fails the test instead of skipping it.
pub(crate) fn required() -> bool {
    std::env::var("MEMORYSYNC_REQUIRE_PYTHON").is_ok_and(|v| v == "1")
}

/// `Some(value)`, or `None` after saying why the test skips (or failing, when Python is
/// required).
pub(crate) fn or_skip<T>(found: Result<T, String>) -> Option<T> {
    match found {
        Ok(value) => Some(value),
        Err(why) => {
            assert!(!required(), "MEMORYSYNC_REQUIRE_PYTHON=1, but {why}");
            println!("skipped: {why} (set MEMORYSYNC_REQUIRE_PYTHON=1 to fail instead)");
            None
        }
    }
}

/// The folder to put on `PYTHONPATH` for `module` of `package` to import.
pub(crate) fn installed(package: &str, module: &str) -> Result<PathBuf, String> {
    // Integration tests have a folder of their own under the target directory; examples do not.
    let tmp = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let packages = tmp.join(format!("python-{package}"));
    if !packages.join(module).exists() {
        let pip = Command::new("python3")
            .args(["-m", "pip", "--version"])
            .output()
            .map_err(|e| format!("python3 cannot be run: {e}"))?;
        if !pip.status.success() {
            return Err(format!(
                "python3 has no pip: {}",
                String::from_utf8_lossy(&pip.stderr).trim()
            ));
        }
        // Into a folder of its own first, so that a concurrent run never imports half an install.
        let staging = tmp.join(format!("python-{package}.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let install = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&staging)
            .arg(package)
            .output()
            .map_err(|e| format!("pip cannot be run: {e}"))?;
        if !install.status.success() {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(format!(
                "pip could not install {package}: {}",
                String::from_utf8_lossy(&install.stderr).trim()
            ));
        }
        if !packages.join(module).exists() {
            // A leftover without the package in it.
            let _ = std::fs::remove_dir_all(&packages);
        }
        if std::fs::rename(&staging, &packages).is_err() {
            // Another run got there first.
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
    // Installed is not enough: python3 may have gone, or the folder may be from another one.
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .env("PYTHONPATH", &packages)
        .output()
        .map_err(|e| format!("python3 cannot be run: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "{module} does not import: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    Ok(packages)
}
