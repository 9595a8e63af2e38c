//! The commands written by hand (kind `shell` in the command table of `ipc-types`): those that
//! need the app handle.

use ipc_types::AppInfo;

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
