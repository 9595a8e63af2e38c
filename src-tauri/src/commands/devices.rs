//! Connected devices and parental controls.

use ipc_types::{Bedtime, BedtimeCreate, BedtimeDelete, DevicePause, DeviceRename, DevicesView, ParentalView};

use super::{Reply, Shell};

/// `devices`: every connected (or recently seen) device.
#[tauri::command]
pub async fn devices(shell: Shell<'_>) -> Reply<DevicesView> {
    shell.home().await?.devices().await.map_err(|e| e.to_ipc())
}

/// `device_rename`: the user's own label for a device.
#[tauri::command]
pub async fn device_rename(shell: Shell<'_>, args: DeviceRename) -> Reply<()> {
    shell.home().await?.device_rename(args).await.map_err(|e| e.to_ipc())
}

/// `device_pause`: pause or resume a device's internet access now.
#[tauri::command]
pub async fn device_pause(shell: Shell<'_>, args: DevicePause) -> Reply<()> {
    shell.home().await?.device_pause(args).await.map_err(|e| e.to_ipc())
}

/// `devices_seen`: the user has seen the list; nothing is "new" any more.
#[tauri::command]
pub async fn devices_seen(shell: Shell<'_>) -> Reply<()> {
    shell.home().await?.devices_seen().await.map_err(|e| e.to_ipc())
}

/// `parental`: bedtime schedules and other access rules.
#[tauri::command]
pub async fn parental(shell: Shell<'_>) -> Reply<ParentalView> {
    shell.home().await?.parental().await.map_err(|e| e.to_ipc())
}

/// `bedtime_create`: a new bedtime schedule for a device.
#[tauri::command]
pub async fn bedtime_create(shell: Shell<'_>, args: BedtimeCreate) -> Reply<Bedtime> {
    shell.home().await?.bedtime_create(args).await.map_err(|e| e.to_ipc())
}

/// `bedtime_delete`: remove a bedtime schedule this app created.
#[tauri::command]
pub async fn bedtime_delete(shell: Shell<'_>, args: BedtimeDelete) -> Reply<()> {
    shell.home().await?.bedtime_delete(args).await.map_err(|e| e.to_ipc())
}
