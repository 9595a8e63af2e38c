//! usp-home app shell: Tauri wiring only.
//!
//! Commands are thin, typed adapters (see [`commands`]) over `app-core`; their argument and result
//! types come from `ipc-types`, shared with the UI. No business logic lives here.

mod commands;

use tracing_subscriber::EnvFilter;

/// Starts the app: installs logging, registers the commands and runs the event loop until the
/// last window closes. Desktop calls it from `main`; mobile enters here directly.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    init_logging();

    // Devtools: tauri enables the inspector in debug builds only (no `devtools` cargo feature).
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![commands::app::app_info])
        .run(tauri::generate_context!());

    if let Err(err) = result {
        tracing::error!(error = %err, "usp-home stopped with an error");
        eprintln!("usp-home: {err}");
        std::process::exit(1);
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: `info` for our crates, `warn` for the rest).
fn init_logging() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,usp_home_lib=info,app_core=info"));
    // Fails only when a subscriber is already installed (e.g. by an embedding test): keep that one.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
