//! usp-home user interface: a Leptos client-side app compiled to WebAssembly by trunk and shown
//! by the Tauri shell (or any browser, where shell calls fail with `code::NO_SHELL`).
//!
//! Layout: [`ipc`] is the only module touching `JsValue`; [`api`] gives one typed function per
//! shell command; [`app`] holds the views.

pub mod api;
pub mod app;
pub mod ipc;

/// Mounts the app on `<body>`. Called once by the wasm entry point.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
