//! The committed gRPC code is what `proto/memorysync.proto` generates today.
//!
//! protox compiles the .proto in Rust (no system `protoc`) and tonic's generator writes the code
//! into a temporary directory; both are dev-dependencies, so users of the library never build
//! them. `MEMORYSYNC_REGENERATE=1` writes the fresh code over the committed file.

use std::path::Path;

const COMMITTED: &str = "examples/grpc/generated/memorysync.v1.rs";

#[test]
fn generated_code_matches_the_proto() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let descriptors = protox::compile(["memorysync.proto"], [root.join("proto")]).unwrap();
    let out = tempfile::tempdir().unwrap();
    tonic_prost_build::configure()
        .out_dir(out.path())
        .compile_fds(descriptors)
        .unwrap();
    let fresh = std::fs::read_to_string(out.path().join("memorysync.v1.rs")).unwrap();

    let committed_path = root.join(COMMITTED);
    if std::env::var_os("MEMORYSYNC_REGENERATE").is_some() {
        std::fs::write(&committed_path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    // Not assert_eq: a diff of two 400-line files would bury the instruction.
    assert!(
        committed == fresh,
        "{COMMITTED} is stale; regenerate it with \
         `MEMORYSYNC_REGENERATE=1 cargo test --example grpc generated_code`"
    );
}
