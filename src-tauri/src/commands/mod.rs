//! `#[tauri::command]` adapters: each one takes and returns `ipc-types` DTOs and is one call
//! into plain Rust, so the logic is testable without Tauri.
//!
//! Register commands by their full path (`commands::app::app_info`): a `pub use` re-export does
//! not carry the hidden items that `#[tauri::command]` generates next to the function.

pub mod app;
