//! Generates the USP Record and Msg types from `proto/` with prost.
//! `protox` compiles the schema in pure Rust, so no system `protoc` is needed.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not when it is compiled: a build cache shared by two checkouts
    // reuses the compiled script, and a path baked in at compile time names the other one.
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../../proto");
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
