//! Typed IPC between the Leptos UI (wasm32) and the Tauri shell (native).
//!
//! Every command the shell exposes is declared once, in the table of [`with_commands!`]
//! ([`commands`]): its name on the wire, its argument object and its result; each gets a spec
//! type implementing [`Command`]. The UI invokes commands only through
//! these specs, and the shell's `#[tauri::command]` functions take and return these types, so both
//! sides agree at compile time. Errors cross the boundary as [`IpcError`] (`{code, message}`), never
//! as free text to be parsed.
//!
//! Wire convention: every command that takes arguments has exactly one Rust parameter named
//! `args` of type [`Command::Args`]; the UI always sends `{"args": <Args>}` (commands without
//! arguments ignore it). The live channel is the one exception, see [`Subscribe`].
//!
//! This crate depends on serde alone and builds for `wasm32-unknown-unknown` and native targets.

pub mod commands;
pub mod live;
pub mod pages;
mod tagged;

pub use commands::*;
pub use home::*;

/// Every page's DTOs under one name (`ipc_types::home::WifiView`), as before they were split by
/// page into [`pages`].
pub mod home {
    pub use crate::pages::agent::*;
    pub use crate::pages::alerts::*;
    pub use crate::pages::explorer::*;
    pub use crate::pages::firmware::*;
    pub use crate::pages::guest::*;
    pub use crate::pages::history::*;
    pub use crate::pages::home::*;
    pub use crate::pages::hosts::*;
    pub use crate::pages::mesh::*;
    pub use crate::pages::pair::*;
    pub use crate::pages::parental::*;
    pub use crate::pages::settings::*;
    pub use crate::pages::smart::*;
    pub use crate::pages::wifi::*;
}
pub use live::{LiveEvent, Topic};

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

    // Errors of the app's own commands (made once, at the shell boundary, from app-core errors).
    /// No agent with that Endpoint ID is known (forgotten, or never discovered).
    pub const UNKNOWN_AGENT: &str = "unknown_agent";
    /// The agent can't be reached now (offline, connection dropped, timed out).
    pub const OFFLINE: &str = "offline";
    /// The agent answered too late.
    pub const TIMEOUT: &str = "timeout";
    /// Our role on that agent does not allow this (pair first, or ask the device's owner).
    pub const PERMISSION: &str = "permission";
    /// The agent refused the request (USP error other than permission); the message says why.
    pub const REFUSED: &str = "refused";
    /// The user's input is invalid (e.g. a passphrase shorter than 8 characters).
    pub const INVALID_INPUT: &str = "invalid_input";
    /// The passcode was wrong; the message says how many tries are left.
    pub const WRONG_PASSCODE: &str = "wrong_passcode";
    /// Too many wrong passcodes: pairing is locked for a while.
    pub const LOCKED_OUT: &str = "locked_out";
    /// The pairing attempt expired or was never started; start again.
    pub const PAIRING_EXPIRED: &str = "pairing_expired";
    /// The agent does not support this (e.g. no guest network, no schedules).
    pub const UNSUPPORTED: &str = "unsupported";
    /// A secret (passcode, password) would cross an unencrypted link to a device on the network;
    /// the person can allow it per device.
    pub const UNENCRYPTED: &str = "unencrypted";
    /// The certificate changed or is not the one the user confirmed.
    pub const CERTIFICATE: &str = "certificate";
    /// The thing asked for does not exist (any more).
    pub const NOT_FOUND: &str = "not_found";
    /// A bug or local failure (vault, disk); the message is for a bug report.
    pub const INTERNAL: &str = "internal";
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

    // Every command's shell function, handler, permission and grant are generated from the table
    // of `commands.rs` (a missing `Home` method fails to compile); src-tauri's `lib.rs` tests
    // check the generated permission set and the capability files.
}

/// The DOM id fragment for a key (an Endpoint ID, a MAC, a path): lower case, every character
/// other than `a-z0-9` becomes `-`. The UI builds element ids with it and the end-to-end tests
/// find elements with it, e.g. `format!("pause-{}", dom_id(mac))`.
pub fn dom_id(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

#[cfg(test)]
mod dom_id_tests {
    #[test]
    fn dom_ids_are_plain() {
        assert_eq!(super::dom_id("os::012345-GW0001"), "os--012345-gw0001");
        assert_eq!(super::dom_id("AA:bb:01:02:03:04"), "aa-bb-01-02-03-04");
    }
}
