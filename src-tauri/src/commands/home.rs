//! Home page, pairing and settings.

use ipc_types::{
    AgentAddress, AgentArgs, AgentConsent, AgentSummary, HomeView, PairingDone, PairingPrompt, PairingSubmit,
    SetInterfaces, SetTheme, Settings, TrustArgs,
};

use super::{Reply, Shell};

/// `home`: every agent of the home.
#[tauri::command]
pub async fn home(shell: Shell<'_>) -> Reply<HomeView> {
    shell.home().await?.home().await.map_err(|e| e.to_ipc())
}

/// `trust_agent`: accept the certificate the user saw.
#[tauri::command]
pub async fn trust_agent(shell: Shell<'_>, args: TrustArgs) -> Reply<AgentSummary> {
    shell.home().await?.trust_agent(args).await.map_err(|e| e.to_ipc())
}

/// `forget_agent`: drop an agent (and its pinned certificate and role).
#[tauri::command]
pub async fn forget_agent(shell: Shell<'_>, args: AgentArgs) -> Reply<()> {
    shell.home().await?.forget_agent(args).await.map_err(|e| e.to_ipc())
}

/// `agent_allow_unencrypted`: allow (or stop allowing) secrets to one device over `ws://`.
#[tauri::command]
pub async fn agent_allow_unencrypted(shell: Shell<'_>, args: AgentConsent) -> Reply<AgentSummary> {
    shell.home().await?.agent_allow_unencrypted(args).await.map_err(|e| e.to_ipc())
}

/// `agent_add`: add a device by its address (when discovery does not find it).
#[tauri::command]
pub async fn agent_add(shell: Shell<'_>, args: AgentAddress) -> Reply<AgentSummary> {
    shell.home().await?.agent_add(args).await.map_err(|e| e.to_ipc())
}

/// `agent_check_now`: ask a device that does not know this app yet again, now.
#[tauri::command]
pub async fn agent_check_now(shell: Shell<'_>, args: AgentArgs) -> Reply<AgentSummary> {
    shell.home().await?.agent_check_now(args).await.map_err(|e| e.to_ipc())
}

/// `pairing_start`: ask the agent for its passcode challenge.
#[tauri::command]
pub async fn pairing_start(shell: Shell<'_>, args: AgentArgs) -> Reply<PairingPrompt> {
    shell.home().await?.pairing_start(args).await.map_err(|e| e.to_ipc())
}

/// `pairing_submit`: send the passcode (never logged: `PairingSubmit`'s Debug redacts it).
#[tauri::command]
pub async fn pairing_submit(shell: Shell<'_>, args: PairingSubmit) -> Reply<PairingDone> {
    shell.home().await?.pairing_submit(args).await.map_err(|e| e.to_ipc())
}

/// `settings`: own Endpoint ID, trusted certificates, discovery interfaces, theme.
#[tauri::command]
pub async fn settings(shell: Shell<'_>) -> Reply<Settings> {
    shell.home().await?.settings().await.map_err(|e| e.to_ipc())
}

/// `settings_interfaces`: which network interfaces discovery uses.
#[tauri::command]
pub async fn settings_interfaces(shell: Shell<'_>, args: SetInterfaces) -> Reply<Settings> {
    shell.home().await?.settings_interfaces(args).await.map_err(|e| e.to_ipc())
}

/// `settings_theme`: light, dark or the system's.
#[tauri::command]
pub async fn settings_theme(shell: Shell<'_>, args: SetTheme) -> Reply<Settings> {
    shell.home().await?.settings_theme(args).await.map_err(|e| e.to_ipc())
}

/// `trust_forget`: forget a pinned certificate.
#[tauri::command]
pub async fn trust_forget(shell: Shell<'_>, args: AgentArgs) -> Reply<Settings> {
    shell.home().await?.trust_forget(args).await.map_err(|e| e.to_ipc())
}

/// `certificate_save`: write this app's certificate (PEM) to a file; returns where.
#[tauri::command]
pub async fn certificate_save(app: tauri::AppHandle, shell: Shell<'_>) -> Reply<String> {
    use tauri::Manager as _;
    let downloads = app.path().download_dir().ok();
    shell.home().await?.certificate_save(downloads).await.map_err(|e| e.to_ipc())
}
