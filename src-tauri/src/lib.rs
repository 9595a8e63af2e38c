//! usp-home app shell: Tauri wiring only.
//!
//! Commands are thin, typed adapters (see [`commands`]) over `app_core::home::Home`; their
//! argument and result types come from `ipc-types`, shared with the UI. No business logic lives
//! here. The home starts in the background at launch; commands sent before it is ready wait for it.
//!
//! Environment (all optional): see [`state::Env`] (`USP_HOME_DATA_DIR`, `USP_HOME_INTERFACES`,
//! `USP_HOME_AGENTS`, `USP_HOME_VAULT_PASSPHRASE`, `USP_HOME_VAULT_BACKEND`), `USP_HOME_GPU` (see
//! [`rendering`]) and `RUST_LOG`.

#[cfg(desktop)]
mod background;
mod commands;
mod logging;
mod notify;
mod pick;
pub mod rendering;
mod state;

use tauri::Manager;

use crate::state::{Env, Shell};

/// `tauri::generate_handler!` of every command of the table of `ipc-types`: a command of kind
/// `home`, `shell` or `live` is `commands::<kind>::<name>`.
macro_rules! handler {
    ($( $(#[$doc:meta])* $kind:ident $spec:ident = $name:ident ( $($args:ty)? ) -> $out:ty; )*) => {
        tauri::generate_handler![$(commands::$kind::$name),*]
    };
}

/// Starts the app: installs logging, starts the home, registers the commands and runs the event
/// loop until the last window closes (on desktops, while a tray icon shows, until Quit: see
/// [`background`]). Desktop calls it from `main`; mobile enters here directly.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    // Before GTK starts and before any thread exists.
    rendering::apply();
    // `--quit`, and a second start while the app runs: handled here, before any window.
    #[cfg(desktop)]
    let Some(start) = background::before_start(&std::env::args().collect::<Vec<_>>(), &early_data_dir()) else {
        return;
    };
    // Devtools: tauri enables the inspector in debug builds only (no `devtools` cargo feature).
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let log_dir = app.path().app_log_dir().ok();
            if let Some(problem) = logging::init(log_dir.as_deref()) {
                tracing::warn!("{problem}; logging to stderr only");
            }
            let env = Env::from_process();
            let data_dir = match env.data_dir.clone() {
                Some(dir) => dir,
                None => default_data_dir(app)?,
            };
            tracing::info!(data = %data_dir.display(), logs = ?log_dir, "usp-home starting");

            let (shell, ready) = Shell::starting();
            app.manage(shell);
            tauri::async_runtime::spawn(async move {
                let started = state::start_home(env, data_dir).await;
                match &started {
                    Ok(_) => tracing::info!("home started"),
                    Err(err) => tracing::error!(error = %err, "the home could not start"),
                }
                let _ = ready.send(Some(started));
            });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let shell = handle.state::<Shell>();
                notify::alerts(handle.clone(), &shell).await;
            });
            #[cfg(desktop)]
            background::setup(app, start)?;
            #[cfg(mobile)]
            {
                let config = app.config().app.windows.first().cloned().ok_or(tauri::Error::WindowNotFound)?;
                tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?;
            }
            Ok(())
        })
        .invoke_handler(ipc_types::with_commands!(handler))
        .build(tauri::generate_context!());

    let app = match app {
        Ok(app) => app,
        Err(err) => fail(&err),
    };
    app.run(|handle, event| {
        // The last window closed: the app stays while its tray icon shows.
        #[cfg(desktop)]
        if let tauri::RunEvent::ExitRequested { code: None, api, .. } = &event {
            if background::keeps_running(handle) {
                api.prevent_exit();
            }
        }
        // The Dock icon clicked with no window open.
        #[cfg(target_os = "macos")]
        if let tauri::RunEvent::Reopen { has_visible_windows: false, .. } = &event {
            background::show_window_later(handle);
        }
        if let tauri::RunEvent::Exit = event {
            // Close connections and stop discovery (mDNS goodbyes) before the process ends.
            let shell = handle.state::<Shell>();
            let stop = async {
                if let Ok(home) = shell.home().await {
                    home.shutdown().await;
                }
            };
            // Bounded: a home still starting (or a stuck agent) must not keep the app alive.
            let stopped = tauri::async_runtime::block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(3), stop).await.is_ok()
            });
            if !stopped {
                tracing::warn!("the home did not stop within 3 s; exiting anyway");
            }
            tracing::info!("usp-home stopped");
        }
    });
}

fn fail(err: &tauri::Error) -> ! {
    tracing::error!(error = %err, "usp-home could not start");
    eprintln!("usp-home: {err}");
    std::process::exit(1);
}

/// The data folder, before Tauri starts (desktops): `USP_HOME_DATA_DIR`, else the default one.
#[cfg(desktop)]
fn early_data_dir() -> std::path::PathBuf {
    Env::from_process().data_dir.unwrap_or_else(usp_client::identity::default_data_dir)
}

/// The data folder when `USP_HOME_DATA_DIR` names none. On desktops it is the one uspctl uses too
/// ([`usp_client::identity::default_data_dir`], the same path as Tauri's `app_data_dir`), after
/// uspctl's old folder is moved into it; on phones, the app's own sandboxed folder.
fn default_data_dir(app: &tauri::App) -> tauri::Result<std::path::PathBuf> {
    #[cfg(desktop)]
    {
        use usp_client::identity::{migrate_old_data_dir, Migration};
        let _ = app;
        match migrate_old_data_dir() {
            Ok(Migration::NothingToDo) => {}
            Ok(done) => tracing::info!(?done, "uspctl's old data folder moved"),
            Err(err) => tracing::warn!(error = %err, "uspctl's old data folder could not be moved"),
        }
        Ok(usp_client::identity::default_data_dir())
    }
    #[cfg(mobile)]
    {
        app.path().app_data_dir()
    }
}

#[cfg(test)]
mod tests {
    use ipc_types::COMMAND_NAMES;

    fn read(file: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{file} unreadable: {err}"))
    }

    /// Both capability files grant the commands as the set `build.rs` generates from the table,
    /// and no command one by one (a grant by name would outlive the command's removal).
    #[test]
    fn capabilities_grant_the_command_set() {
        for file in ["capabilities/default.json", "capabilities/mobile.json"] {
            let text = read(file);
            assert!(text.contains("\"app-commands\""), "{file} does not grant app-commands");
            for name in COMMAND_NAMES {
                let permission = format!("\"allow-{}\"", name.replace('_', "-"));
                assert!(!text.contains(&permission), "{file} grants {permission} by hand");
            }
            assert!(!text.contains("core:webview:allow-internal-toggle-devtools"), "{file}: devtools granted");
        }
    }

    /// The set holds every command of the table and nothing else, and each has its permission
    /// file (both written by `build.rs`; this catches a stale checkout of them).
    #[test]
    fn the_command_set_is_the_table() {
        let set = read("permissions/app-commands.toml");
        let granted: Vec<&str> = set.lines().filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\",")).collect();
        let wanted: Vec<String> = COMMAND_NAMES.iter().map(|n| format!("allow-{}", n.replace('_', "-"))).collect();
        assert_eq!(granted, wanted);
        for name in COMMAND_NAMES {
            assert!(read(&format!("permissions/autogenerated/{name}.toml")).contains(&format!("\"{name}\"")));
        }
    }

    /// The CSP stays strict: no inline scripts, no remote origins.
    #[test]
    fn csp_allows_only_the_app_itself() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tauri.conf.json");
        let conf = std::fs::read_to_string(path).expect("tauri.conf.json readable");
        // The release CSP: from `"csp"` up to `"devCsp"` (the dev server's, used by `tauri dev` only).
        let start = conf.find("\"csp\"").expect("tauri.conf.json has a csp");
        let end = conf.find("\"devCsp\"").expect("tauri.conf.json has a devCsp");
        let conf = &conf[start..end];
        assert!(conf.contains("\"script-src\": \"'self' 'wasm-unsafe-eval'\""), "script-src changed");
        assert!(conf.contains("\"object-src\": \"'none'\""));
        assert!(!conf.contains("unsafe-inline") && !conf.contains("http://*") && !conf.contains("https:"));
    }
}
