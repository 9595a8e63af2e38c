//! Generates the USP Record and Msg types from `proto/` with prost.
//! `protox` compiles the schema in pure Rust, so no system `protoc` is needed.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../proto");
    let files = [proto_dir.join("usp-record-1-4.proto"), proto_dir.join("usp-msg-1-4.proto")];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let descriptors = protox::compile(&files, [&proto_dir])?;
    prost_build::Config::new()
        // Sorted maps: deterministic encoding (same bytes for the same message) and
        // stable iteration for display.
        .btree_map(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
