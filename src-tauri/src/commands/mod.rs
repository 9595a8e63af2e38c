//! `#[tauri::command]` functions, generated from the command table of `ipc-types`
//! (`ipc_types::with_commands!`): each takes and returns `ipc-types` DTOs. A `home` command is one
//! call into `app_core::home::Home` (the method of the same name), so the logic is testable
//! without Tauri; its wrapper is generated here in [`home`]. The few commands that need the app
//! handle or a channel are written by hand in [`shell`] and [`live`]. App errors become
//! [`ipc_types::IpcError`] through one conversion, `From<AppError> for IpcError` (app-core), by `?`.
//!
//! All commands are `async`: they run on the async runtime, never on the window's thread.
//!
//! A new command is one line in the table of `ipc-types` (and, for a `home` command, the `Home`
//! method of that name): the wrapper, the handler list (`lib.rs`), the UI's `api` function, the
//! `allow-<command>` permission and the capabilities' grant (`build.rs`) follow from it.

pub mod live;
pub mod shell;

/// The state every command takes.
type Shell<'a> = tauri::State<'a, crate::state::Shell>;

/// What every app command returns.
type Reply<T> = Result<T, ipc_types::IpcError>;

/// One `#[tauri::command]` wrapper for a `home` command of the table; nothing for the others.
macro_rules! home_command {
    (home $(#[$doc:meta])* $name:ident () -> $out:ty) => {
        $(#[$doc])*
        #[tauri::command]
        pub async fn $name(shell: Shell<'_>) -> Reply<$out> {
            Ok(shell.home().await?.$name().await?)
        }
    };
    (home $(#[$doc:meta])* $name:ident ($args:ty) -> $out:ty) => {
        $(#[$doc])*
        #[tauri::command]
        pub async fn $name(shell: Shell<'_>, args: $args) -> Reply<$out> {
            Ok(shell.home().await?.$name(args).await?)
        }
    };
    ($other:ident $($rest:tt)*) => {};
}

/// The module [`home`] from the command table.
macro_rules! home_commands {
    ($( $(#[$doc:meta])* $kind:ident $spec:ident = $name:ident ( $($args:ty)? ) -> $out:ty; )*) => {
        /// The `home` commands of the table: one call each into `app_core::home::Home`.
        pub mod home {
            #[allow(unused_imports)]
            use ipc_types::*;

            use super::{Reply, Shell};

            $( home_command!($kind $(#[$doc])* $name ($($args)?) -> $out); )*
        }
    };
}

ipc_types::with_commands!(home_commands);
