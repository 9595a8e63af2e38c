//! Commands about the app itself.

use ipc_types::AppInfo;

/// Name and version of the running app (`ipc_types::GetAppInfo`).
#[tauri::command]
pub async fn app_info(app: tauri::AppHandle) -> AppInfo {
    let package = app.package_info();
    app_info_of(&package.name, &package.version.to_string())
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
