//! Creates an API key and the `[[keys]]` entry that stores its hash.
//!
//! ```text
//! cargo run --example keygen -- --project P --environment development|production [--id ID]
//! ```
//! The first line is the key, shown once; keep it secret. The rest is the config entry, which
//! holds only the key's SHA-256.

use memorysync_pipeline::Environment;
use memorysync_pipeline::key::ApiKey;

const USAGE: &str = "usage: keygen --project P --environment development|production [--id ID]";

fn main() {
    match run(std::env::args().skip(1)) {
        Ok(output) => print!("{output}"),
        Err(message) => {
            eprintln!("keygen: {message}");
            std::process::exit(2);
        }
    }
}

fn run(mut words: impl Iterator<Item = String>) -> Result<String, String> {
    let (mut project, mut environment, mut id) = (None, None, None);
    while let Some(word) = words.next() {
        let mut value = || {
            words
                .next()
                .ok_or_else(|| format!("{word} needs a value\n{USAGE}"))
        };
        match word.as_str() {
            "--project" => project = Some(value()?),
            "--environment" => {
                let text = value()?;
                environment = Some(
                    text.parse::<Environment>()
                        .map_err(|e| format!("{e}\n{USAGE}"))?,
                );
            }
            "--id" => id = Some(value()?),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let project = project.filter(|p| !p.trim().is_empty()).ok_or(USAGE)?;
    let environment = environment.ok_or(USAGE)?;
    for (name, value) in [("--project", Some(&project)), ("--id", id.as_ref())] {
        if value.is_some_and(|v| v.contains(['"', '\\', '\n'])) {
            return Err(format!(
                "{name} must not contain quotes, backslashes or newlines"
            ));
        }
    }
    let key = ApiKey::generate(environment).map_err(|e| format!("no randomness: {e}"))?;
    let id = match id {
        Some(id) => id,
        None => random_id()?,
    };
    Ok(format!(
        "{secret}\n\n[[keys]]\nid = \"{id}\"\nsha256 = \"{hash}\"\nproject = \"{project}\"\nenvironment = \"{environment}\"\nrps = 10\nrpm = 300\n",
        secret = key.expose_secret(),
        hash = key.hash().to_hex(),
    ))
}

fn random_id() -> Result<String, String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!(
        "key_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::run;
    use memorysync_pipeline::config::Config;
    use memorysync_pipeline::key::ApiKey;

    fn words(s: &str) -> impl Iterator<Item = String> {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_key_comes_alone_first_and_the_entry_loads_with_its_hash() {
        let output = run(words(
            "--project proj_demo --environment production --id key_x",
        ))
        .unwrap();
        let (first, entry) = output.split_once('\n').unwrap();
        let key = ApiKey::parse(first).unwrap();
        assert!(!entry.contains(first), "the entry must not hold the key");
        let file = format!(
            "environment = \"production\"\n[[projects]]\nid = \"proj_demo\"\nadds_per_month = 1\nqueries_per_month = 1\n{entry}"
        );
        let config = Config::from_toml(&file).unwrap();
        assert_eq!(config.keys[0].sha256, key.hash());
        assert_eq!(&*config.keys[0].id, "key_x");
        assert_eq!(
            (config.keys[0].rps, config.keys[0].rpm),
            (Some(10), Some(300))
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(run(words("--project p")).is_err());
        assert!(run(words("--project p --environment staging")).is_err());
        assert!(run(words("--environment development")).is_err());
        assert!(run(words("--project p\"x --environment development")).is_err());
        assert!(run(words("--project p --environment development --colour red")).is_err());
    }
}
