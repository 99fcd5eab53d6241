//! `memorysync admin-token`: a new `msa_` admin token, printed once, and the `[[admin_tokens]]`
//! entry that stores its SHA-256.
//!
//! The output has the shape of `keygen`'s: the token alone, a blank line, the entry, which is
//! loaded through the config's loader before anything is printed.

use memorysync_pipeline::config::{AdminRole, Config, RECORD_ID_RULE, is_record_id};
use memorysync_pipeline::key::AdminToken;

/// Creates an admin token: prints the token alone on the first line (shown once: keep it
/// secret), then the `[[admin_tokens]]` entry holding only its SHA-256.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminTokenArgs {
    /// The token's public id, shown in logs and audit events: letters, digits, `.`, `_` and `-`,
    /// at most 64.
    #[arg(long, value_name = "ID")]
    pub(crate) id: String,
    /// What the token may do: `admin` (everything) or `read` (GET calls only).
    #[arg(long, value_name = "admin|read")]
    pub(crate) role: String,
}

pub(crate) fn run(args: AdminTokenArgs) -> Result<(), String> {
    print!("{}", admin_token(&args)?);
    Ok(())
}

/// The printed text: the token, a blank line, the entry.
pub(crate) fn admin_token(args: &AdminTokenArgs) -> Result<String, String> {
    // The value is not quoted back: a token pasted here by mistake stays off the terminal.
    if !is_record_id(&args.id) {
        return Err(format!("--id: {RECORD_ID_RULE}"));
    }
    let role: AdminRole = args
        .role
        .parse()
        .map_err(|_| "--role must be admin or read".to_owned())?;
    let token =
        AdminToken::generate().map_err(|e| format!("the system's random source failed: {e}"))?;
    let entry = format!(
        "[[admin_tokens]]\nid = \"{id}\"\nsha256 = \"{hash}\"\nrole = \"{role}\"\n",
        id = args.id,
        hash = token.hash().to_hex(),
    );
    Config::from_toml(&format!("environment = \"development\"\n\n{entry}"))
        .map_err(|e| format!("the entry would not load in a config: {}", e.message()))?;
    Ok(format!("{}\n\n{entry}", token.expose_secret()))
}

#[cfg(test)]
mod tests {
    use memorysync_pipeline::config::{AdminRole, Config};
    use memorysync_pipeline::key::AdminToken;

    use super::{AdminTokenArgs, admin_token};

    fn args(id: &str, role: &str) -> AdminTokenArgs {
        AdminTokenArgs {
            id: id.to_owned(),
            role: role.to_owned(),
        }
    }

    #[test]
    fn the_token_comes_alone_first_and_the_entry_loads_with_its_hash_and_role() {
        for (role, expected) in [("admin", AdminRole::Admin), ("read", AdminRole::Read)] {
            let output = admin_token(&args("tok_ops", role)).expect("a token");
            let (first, rest) = output.split_once("\n\n").expect("a blank line");
            let token = AdminToken::parse(first).expect("the first line is a token");
            assert!(!rest.contains(first));
            let config = Config::from_toml(&format!("environment = \"production\"\n{rest}"))
                .expect("the entry loads");
            let record = &config.admin_tokens[0];
            assert_eq!((record.id.as_str(), record.role), ("tok_ops", expected));
            assert_eq!(record.sha256, token.hash());
        }
    }

    #[test]
    fn a_bad_id_or_role_is_refused_without_being_quoted() {
        let token = AdminToken::generate().expect("a token");
        let secret = token.expose_secret();
        for (id, role, option) in [
            ("tok ops", "admin", "--id"),
            ("", "admin", "--id"),
            ("tok", "root", "--role"),
            ("tok", secret, "--role"),
            // A token pasted as the id has the id's shape: the loader's plaintext check refuses it.
            (secret, "admin", "plaintext"),
        ] {
            let error = admin_token(&args(id, role)).expect_err(option);
            assert!(error.contains(option), "{error}");
            assert!(!error.contains(&secret[4..]), "{error}");
        }
    }
}
