//! Pure UI logic: no DOM, no `JsValue`, no reactive types. Everything here is plain Rust with
//! plain `#[test]`s, and builds for any target (wasm32, the host, Android).

pub mod chart;
pub mod errors;
pub mod format;
pub mod home;
pub mod hosts;
pub mod mesh;
pub mod pairing;
pub mod route;
pub mod schedule;
pub mod things;
pub mod usage;
pub mod wifi;
