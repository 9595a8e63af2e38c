//! The commands written by hand (kind `shell` in the command table of `ipc-types`): those that
//! need the app handle.

use app_core::autostart::Autostart;
use ipc_types::{AppInfo, BackgroundView, FirmwareFile, IpcError, StartAtLogin};

use super::{Reply, Shell};

/// `app_info`: name and version of the running app (`ipc_types::GetAppInfo`).
#[tauri::command]
pub async fn app_info(app: tauri::AppHandle) -> AppInfo {
    let package = app.package_info();
    app_info_of(&package.name, &package.version.to_string())
}

/// `certificate_save`: write this app's certificate (PEM) to a file; returns where.
#[tauri::command]
pub async fn certificate_save(app: tauri::AppHandle, shell: Shell<'_>) -> Reply<String> {
    use tauri::Manager as _;
    let downloads = app.path().download_dir().ok();
    Ok(shell.home().await?.certificate_save(downloads).await?)
}

/// `firmware_pick`: the system's file dialog for a firmware image; `None` when the person
/// cancelled. The file is checked as `firmware_update` checks it, so a file it could not send
/// is said so at once.
#[tauri::command]
pub async fn firmware_pick(app: tauri::AppHandle) -> Reply<Option<FirmwareFile>> {
    let chosen = crate::pick::firmware_image(&app)
        .await
        .map_err(|message| IpcError::new(ipc_types::code::UNSUPPORTED, message))?;
    let Some(file) = chosen else { return Ok(None) };
    Ok(Some(app_core::firmware::image_file(&file).await?))
}

/// `background`: whether closing the window keeps the app in the tray, and start at login.
#[tauri::command]
pub async fn background(app: tauri::AppHandle) -> BackgroundView {
    let (autostart, problem) = match autostart() {
        Ok(autostart) => (autostart, None),
        Err(problem) => (None, Some(problem)),
    };
    let (start_at_login, problem) = match autostart.map(|a| a.is_enabled()) {
        None => (None, problem),
        Some(Ok(on)) => (Some(on), problem),
        Some(Err(err)) => (Some(false), Some(err.to_string())),
    };
    // Asking D-Bus whether a tray shows may wait: off the async workers.
    let closes_to_tray = tauri::async_runtime::spawn_blocking(move || closes_to_tray(&app)).await.unwrap_or(false);
    BackgroundView { closes_to_tray, start_at_login, problem }
}

/// `start_at_login_set`: add or remove the start-at-login entry; answers like `background`.
#[tauri::command]
pub async fn start_at_login_set(app: tauri::AppHandle, args: StartAtLogin) -> Reply<BackgroundView> {
    let unavailable = |message: String| IpcError::new(ipc_types::code::INTERNAL, message);
    let autostart = autostart().map_err(unavailable)?;
    let autostart = autostart.ok_or_else(|| unavailable("Start at login is not available on this device.".into()))?;
    let changed = tauri::async_runtime::spawn_blocking(move || autostart.set(args.enabled))
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    changed.map_err(|e| unavailable(e.to_string()))?;
    tracing::info!(enabled = args.enabled, "start at login changed");
    Ok(background(app).await)
}

/// This platform's start-at-login entry for this program (`None` on phones).
fn autostart() -> Result<Option<Autostart>, String> {
    #[cfg(desktop)]
    let program = crate::background::program();
    #[cfg(mobile)]
    let program: Option<std::path::PathBuf> = None;
    let Some(program) = program else { return Ok(None) };
    Autostart::for_this_platform(program).map_err(|e| e.to_string())
}

#[cfg(desktop)]
fn closes_to_tray(app: &tauri::AppHandle) -> bool {
    crate::background::tray_shows(app)
}

#[cfg(mobile)]
fn closes_to_tray(_app: &tauri::AppHandle) -> bool {
    false
}

/// The [`AppInfo`] DTO for a product name and version.
fn app_info_of(name: &str, version: &str) -> AppInfo {
    AppInfo { version: version.to_owned(), name: name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_info_carries_name_and_version() {
        let info = app_info_of("usp-home", "0.1.0");
        assert_eq!(info, AppInfo { version: "0.1.0".into(), name: "usp-home".into() });
    }
}
