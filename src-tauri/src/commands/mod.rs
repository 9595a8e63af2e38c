//! `#[tauri::command]` adapters: each one takes and returns `ipc-types` DTOs and is one call into
//! `app_core::home::Home` (a method of the same name), so the logic is testable without Tauri.
//! App errors become [`ipc_types::IpcError`] here, exactly once (`AppError::to_ipc`).
//!
//! All commands are `async`: they run on the async runtime, never on the window's thread.
//!
//! Register commands by their full path (`commands::app::app_info`): a `pub use` re-export does
//! not carry the hidden items that `#[tauri::command]` generates next to the function. A new
//! command also goes into `src/command_names.rs` (its permission) and `capabilities/*.json`.

pub mod app;
pub mod devices;
pub mod home;
pub mod live;
pub mod network;
pub mod things;

/// The state every command takes.
type Shell<'a> = tauri::State<'a, crate::state::Shell>;

/// What every app command returns.
type Reply<T> = Result<T, ipc_types::IpcError>;
