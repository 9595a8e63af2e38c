//! Typed IPC between the Leptos UI (wasm32) and the Tauri shell (native).
//!
//! Every command the shell exposes is described once here by a type implementing [`Command`]:
//! its name on the wire, its argument object and its result. The UI invokes commands only through
//! these specs, and the shell's `#[tauri::command]` functions take and return these types, so both
//! sides agree at compile time. Errors cross the boundary as [`IpcError`] (`{code, message}`), never
//! as free text to be parsed.
//!
//! This crate depends on serde alone and builds for `wasm32-unknown-unknown` and native targets.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One command of the shell: its wire name, its arguments and its successful result.
pub trait Command {
    /// The name registered with `tauri::generate_handler!` (the Rust function name).
    const NAME: &'static str;
    /// Arguments, serialised as a JSON object (Tauri matches keys to parameter names).
    type Args: Serialize;
    /// What the command returns on success.
    type Output: DeserializeOwned;
}

/// Arguments of a command that takes none: serialises as `{}`, as Tauri expects an object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoArgs {}

/// `app_info`: name and version of the running app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetAppInfo;

impl Command for GetAppInfo {
    const NAME: &'static str = "app_info";
    type Args = NoArgs;
    type Output = AppInfo;
}

/// Name and version of the running app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    /// Package version, e.g. `0.1.0`.
    pub version: String,
    /// Product name, e.g. `usp-home`.
    pub name: String,
}

/// Stable error codes carried by [`IpcError::code`]. The UI matches on these, never on messages.
pub mod code {
    /// The page is not running inside the app shell (no `window.__TAURI__`), e.g. a plain browser.
    pub const NO_SHELL: &str = "no_shell";
    /// The shell rejected the call itself (unknown command, denied by a capability, bad arguments).
    pub const SHELL: &str = "shell";
    /// Arguments could not be encoded, or a result could not be decoded: the two sides disagree.
    pub const PROTOCOL: &str = "protocol";
}

/// An error as it crosses the IPC boundary: a stable machine-readable `code` (see [`code`]) and a
/// human-readable `message` for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcError {
    /// Stable, machine-readable code, e.g. [`code::NO_SHELL`].
    pub code: String,
    /// Human-readable explanation; for display only.
    pub message: String,
}

impl IpcError {
    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }

    /// Whether this error has the given code.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for IpcError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_info_wire_shape() {
        let info = AppInfo { version: "0.1.0".into(), name: "usp-home".into() };
        let value = serde_json::to_value(&info).expect("serialise");
        assert_eq!(value, json!({"version": "0.1.0", "name": "usp-home"}));
        assert_eq!(serde_json::from_value::<AppInfo>(value).expect("deserialise"), info);
    }

    #[test]
    fn ipc_error_wire_shape() {
        let err = IpcError::new(code::SHELL, "command app_info not found");
        let value = serde_json::to_value(&err).expect("serialise");
        assert_eq!(value, json!({"code": "shell", "message": "command app_info not found"}));
        assert!(err.is(code::SHELL));
        assert_eq!(err.to_string(), "command app_info not found (shell)");
    }

    #[test]
    fn no_args_is_an_empty_object() {
        assert_eq!(serde_json::to_value(NoArgs {}).expect("serialise"), json!({}));
    }

    #[test]
    fn command_names_match_the_shell_functions() {
        assert_eq!(GetAppInfo::NAME, "app_info");
    }
}
