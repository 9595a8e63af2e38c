//! Smart-home things, one device's details and diagnostics, and the data-model explorer.

use ipc_types::{
    AgentArgs, DeviceDetails, ExploreArgs, ExplorerView, ParamSet, PingArgs, PingResult, SmartHomeView, Thing, ThingSet,
};

use super::{Reply, Shell};

/// `smart_home`: switches, dimmers and sensors, grouped by hub.
#[tauri::command]
pub async fn smart_home(shell: Shell<'_>) -> Reply<SmartHomeView> {
    shell.home().await?.smart_home().await.map_err(|e| e.to_ipc())
}

/// `thing_set`: switch, dim or choose.
#[tauri::command]
pub async fn thing_set(shell: Shell<'_>, args: ThingSet) -> Reply<Thing> {
    shell.home().await?.thing_set(args).await.map_err(|e| e.to_ipc())
}

/// `device_details`: DeviceInfo of one agent.
#[tauri::command]
pub async fn device_details(shell: Shell<'_>, args: AgentArgs) -> Reply<DeviceDetails> {
    shell.home().await?.device_details(args).await.map_err(|e| e.to_ipc())
}

/// `device_reboot`: restart an agent (the UI confirms first).
#[tauri::command]
pub async fn device_reboot(shell: Shell<'_>, args: AgentArgs) -> Reply<()> {
    shell.home().await?.device_reboot(args).await.map_err(|e| e.to_ipc())
}

/// `device_ping`: IPPing diagnostics (progress arrives as live events).
#[tauri::command]
pub async fn device_ping(shell: Shell<'_>, args: PingArgs) -> Reply<PingResult> {
    shell.home().await?.device_ping(args).await.map_err(|e| e.to_ipc())
}

/// `explore`: one level of an agent's data model with current values.
#[tauri::command]
pub async fn explore(shell: Shell<'_>, args: ExploreArgs) -> Reply<ExplorerView> {
    shell.home().await?.explore(args).await.map_err(|e| e.to_ipc())
}

/// `param_set`: write one parameter where the role allows.
#[tauri::command]
pub async fn param_set(shell: Shell<'_>, args: ParamSet) -> Reply<()> {
    shell.home().await?.param_set(args).await.map_err(|e| e.to_ipc())
}
