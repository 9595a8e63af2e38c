//! WiFi, guest WiFi and the mesh.

use ipc_types::{
    GuestEnable, GuestMark, GuestPassphrase, GuestView, MeshView, WifiEnable, WifiPassphrase, WifiRename, WifiView,
};

use super::{Reply, Shell};

/// `wifi`: the home's networks by band.
#[tauri::command]
pub async fn wifi(shell: Shell<'_>) -> Reply<WifiView> {
    shell.home().await?.wifi().await.map_err(|e| e.to_ipc())
}

/// `wifi_rename`: change a network's name (SSID).
#[tauri::command]
pub async fn wifi_rename(shell: Shell<'_>, args: WifiRename) -> Reply<()> {
    shell.home().await?.wifi_rename(args).await.map_err(|e| e.to_ipc())
}

/// `wifi_enable`: switch a network on or off.
#[tauri::command]
pub async fn wifi_enable(shell: Shell<'_>, args: WifiEnable) -> Reply<()> {
    shell.home().await?.wifi_enable(args).await.map_err(|e| e.to_ipc())
}

/// `wifi_passphrase`: change a network's passphrase (a secret: never logged).
#[tauri::command]
pub async fn wifi_passphrase(shell: Shell<'_>, args: WifiPassphrase) -> Reply<()> {
    shell.home().await?.wifi_passphrase(args).await.map_err(|e| e.to_ipc())
}

/// `guest`: the guest network, its state and how to share it.
#[tauri::command]
pub async fn guest(shell: Shell<'_>) -> Reply<GuestView> {
    shell.home().await?.guest().await.map_err(|e| e.to_ipc())
}

/// `guest_enable`: switch the guest network on or off.
#[tauri::command]
pub async fn guest_enable(shell: Shell<'_>, args: GuestEnable) -> Reply<GuestView> {
    shell.home().await?.guest_enable(args).await.map_err(|e| e.to_ipc())
}

/// `guest_passphrase`: set a new guest passphrase (a secret: never logged).
#[tauri::command]
pub async fn guest_passphrase(shell: Shell<'_>, args: GuestPassphrase) -> Reply<GuestView> {
    shell.home().await?.guest_passphrase(args).await.map_err(|e| e.to_ipc())
}

/// `guest_mark`: the user says which network is the guest network.
#[tauri::command]
pub async fn guest_mark(shell: Shell<'_>, args: GuestMark) -> Reply<GuestView> {
    shell.home().await?.guest_mark(args).await.map_err(|e| e.to_ipc())
}

/// `mesh`: nodes, backhaul links and the clients on each node.
#[tauri::command]
pub async fn mesh(shell: Shell<'_>) -> Reply<MeshView> {
    shell.home().await?.mesh().await.map_err(|e| e.to_ipc())
}
