//! usp-home app shell: Tauri wiring only.
//!
//! Commands are thin, typed adapters (see [`commands`]) over `app_core::home::Home`; their
//! argument and result types come from `ipc-types`, shared with the UI. No business logic lives
//! here. The home starts in the background at launch; commands sent before it is ready wait for it.
//!
//! Environment (all optional): see [`state::Env`] (`USP_HOME_DATA_DIR`, `USP_HOME_INTERFACES`,
//! `USP_HOME_AGENTS`, `USP_HOME_VAULT_PASSPHRASE`, `USP_HOME_VAULT_BACKEND`), `USP_HOME_GPU` (see
//! [`rendering`]) and `RUST_LOG`.

mod commands;
mod logging;
mod notify;
pub mod rendering;
mod state;

include!("command_names.rs");

use tauri::Manager;

use crate::state::{Env, Shell};

/// Starts the app: installs logging, starts the home, registers the commands and runs the event
/// loop until the last window closes. Desktop calls it from `main`; mobile enters here directly.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    // Before GTK starts and before any thread exists.
    rendering::apply();
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
                notify::new_devices(handle.clone(), &shell).await;
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::live::live_subscribe,
            commands::home::home,
            commands::home::trust_agent,
            commands::home::forget_agent,
            commands::home::agent_allow_unencrypted,
            commands::home::agent_add,
            commands::home::agent_check_now,
            commands::home::pairing_start,
            commands::home::pairing_submit,
            commands::network::wifi,
            commands::network::wifi_rename,
            commands::network::wifi_enable,
            commands::network::wifi_passphrase,
            commands::network::guest,
            commands::network::guest_enable,
            commands::network::guest_passphrase,
            commands::network::guest_mark,
            commands::devices::devices,
            commands::devices::device_rename,
            commands::devices::device_pause,
            commands::devices::devices_seen,
            commands::devices::parental,
            commands::devices::bedtime_create,
            commands::devices::bedtime_delete,
            commands::network::mesh,
            commands::things::smart_home,
            commands::things::thing_set,
            commands::things::device_details,
            commands::things::device_reboot,
            commands::things::device_ping,
            commands::things::explore,
            commands::things::param_set,
            commands::home::settings,
            commands::home::settings_interfaces,
            commands::home::settings_theme,
            commands::home::trust_forget,
            commands::home::certificate_save,
        ])
        .build(tauri::generate_context!());

    let app = match app {
        Ok(app) => app,
        Err(err) => fail(&err),
    };
    app.run(|handle, event| {
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

#[cfg(test)]
mod tests {
    /// Every command spec of `ipc-types`, by its wire name.
    fn spec_names() -> Vec<&'static str> {
        use ipc_types::*;
        vec![
            GetAppInfo::NAME,
            Subscribe::NAME,
            GetHome::NAME,
            TrustAgent::NAME,
            ForgetAgent::NAME,
            AllowUnencrypted::NAME,
            AddAgent::NAME,
            CheckAgentNow::NAME,
            PairingStart::NAME,
            PairingFinish::NAME,
            GetWifi::NAME,
            SetWifiName::NAME,
            SetWifiEnabled::NAME,
            SetWifiPassphrase::NAME,
            GetGuest::NAME,
            SetGuestEnabled::NAME,
            SetGuestPassphrase::NAME,
            MarkGuest::NAME,
            GetDevices::NAME,
            RenameDevice::NAME,
            PauseDevice::NAME,
            MarkDevicesSeen::NAME,
            GetParental::NAME,
            CreateBedtime::NAME,
            DeleteBedtime::NAME,
            GetMesh::NAME,
            GetSmartHome::NAME,
            SetThing::NAME,
            GetDeviceDetails::NAME,
            Reboot::NAME,
            Ping::NAME,
            Explore::NAME,
            SetParam::NAME,
            GetSettings::NAME,
            SetDiscoveryInterfaces::NAME,
            SetThemeCmd::NAME,
            ForgetCertificate::NAME,
            SaveCertificate::NAME,
        ]
    }

    #[test]
    fn every_command_spec_has_a_permission_and_nothing_else_does() {
        let mut specs = spec_names();
        let mut ours = super::COMMAND_NAMES.to_vec();
        specs.sort_unstable();
        ours.sort_unstable();
        assert_eq!(ours, specs);
    }

    /// Each command is granted one by one, on desktop and mobile alike.
    #[test]
    fn capabilities_grant_each_command() {
        for file in ["capabilities/default.json", "capabilities/mobile.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let text = std::fs::read_to_string(&path).expect("capability file readable");
            for name in super::COMMAND_NAMES {
                let permission = format!("\"allow-{}\"", name.replace('_', "-"));
                assert!(text.contains(&permission), "{file} lacks {permission}");
            }
            assert!(!text.contains("core:webview:allow-internal-toggle-devtools"), "{file}: devtools granted");
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
