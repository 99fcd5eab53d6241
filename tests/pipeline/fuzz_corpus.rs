//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same checks the
//! cargo-fuzz targets run, so that every CI run covers what fuzzing found.

#[path = "../../fuzz/checks/mod.rs"]
#[allow(unreachable_pub, dead_code)]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a readable corpus entry").path();
        let data = std::fs::read(&path).expect("a readable corpus file");
        check(&data);
        count += 1;
    }
    assert!(count > 0, "no corpus for {target}");
    println!("{target}: replayed {count} inputs");
}

#[test]
fn api_key_parse_corpus() {
    replay("api_key_parse", checks::api_key_parse);
}

#[test]
fn config_from_toml_corpus() {
    replay("config_from_toml", checks::config_from_toml);
}

#[test]
fn config_new_fields_corpus() {
    replay("config_new_fields", checks::config_new_fields);
}

#[test]
fn client_ip_corpus() {
    replay("client_ip", checks::client_ip);
}

#[test]
fn webhook_signature_header_corpus() {
    replay("webhook_signature_header", checks::webhook_signature_header);
}

#[test]
fn webhook_round_trip_corpus() {
    replay("webhook_round_trip", checks::webhook_round_trip);
}

#[test]
fn webhook_timestamp_corpus() {
    replay("webhook_timestamp", checks::webhook_timestamp);
}

#[test]
fn whsec_decoding_corpus() {
    replay("whsec_decoding", checks::whsec_decoding);
}

#[test]
fn webhook_target_corpus() {
    replay("webhook_target", checks::webhook_target);
}
