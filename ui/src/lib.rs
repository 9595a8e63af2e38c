//! usp-home user interface: a Leptos client-side app compiled to WebAssembly by trunk and shown
//! by the Tauri shell (or any browser, where it explains that it needs the app).
//!
//! Layout: [`ipc`] is the only module touching `JsValue`; [`api`] gives one typed function per
//! shell command; [`state`] is the shared context; [`model`] is pure logic with plain tests (no
//! DOM, portable to any target); [`pages`] and [`components`] are the views; [`app`] ties them.

pub mod api;
pub mod app;
pub mod components;
pub mod ipc;
pub mod model;
pub mod pages;
pub mod state;

/// Mounts the app on `<body>`. Called once by the wasm entry point.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
