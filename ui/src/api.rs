//! One typed async function per shell command (named like the command); pages call these, never
//! [`ipc`] directly. Every function fails with the command's [`IpcError`]; see [`ipc::invoke`].

use ipc_types::*;

use crate::ipc;

/// Name and version of the running app.
pub async fn app_info() -> Result<AppInfo, IpcError> {
    ipc::invoke::<GetAppInfo>(&NoArgs {}).await
}

/// `home`
pub async fn home() -> Result<HomeView, IpcError> {
    ipc::invoke::<GetHome>(&NoArgs {}).await
}

/// `trust_agent`
pub async fn trust_agent(args: TrustArgs) -> Result<AgentSummary, IpcError> {
    ipc::invoke::<TrustAgent>(&args).await
}

/// `forget_agent`
pub async fn forget_agent(args: AgentArgs) -> Result<(), IpcError> {
    ipc::invoke::<ForgetAgent>(&args).await
}

/// `agent_allow_unencrypted`
pub async fn agent_allow_unencrypted(args: AgentConsent) -> Result<AgentSummary, IpcError> {
    ipc::invoke::<AllowUnencrypted>(&args).await
}

/// `agent_add`
pub async fn agent_add(args: AgentAddress) -> Result<AgentSummary, IpcError> {
    ipc::invoke::<AddAgent>(&args).await
}

/// `agent_check_now`
pub async fn agent_check_now(args: AgentArgs) -> Result<AgentSummary, IpcError> {
    ipc::invoke::<CheckAgentNow>(&args).await
}

/// `pairing_start`
pub async fn pairing_start(args: AgentArgs) -> Result<PairingPrompt, IpcError> {
    ipc::invoke::<PairingStart>(&args).await
}

/// `pairing_submit`
pub async fn pairing_submit(args: PairingSubmit) -> Result<PairingDone, IpcError> {
    ipc::invoke::<PairingFinish>(&args).await
}

/// `wifi`
pub async fn wifi() -> Result<WifiView, IpcError> {
    ipc::invoke::<GetWifi>(&NoArgs {}).await
}

/// `wifi_rename`
pub async fn wifi_rename(args: WifiRename) -> Result<(), IpcError> {
    ipc::invoke::<SetWifiName>(&args).await
}

/// `wifi_enable`
pub async fn wifi_enable(args: WifiEnable) -> Result<(), IpcError> {
    ipc::invoke::<SetWifiEnabled>(&args).await
}

/// `wifi_passphrase`
pub async fn wifi_passphrase(args: WifiPassphrase) -> Result<(), IpcError> {
    ipc::invoke::<SetWifiPassphrase>(&args).await
}

/// `guest`
pub async fn guest() -> Result<GuestView, IpcError> {
    ipc::invoke::<GetGuest>(&NoArgs {}).await
}

/// `guest_enable`
pub async fn guest_enable(args: GuestEnable) -> Result<GuestView, IpcError> {
    ipc::invoke::<SetGuestEnabled>(&args).await
}

/// `guest_passphrase`
pub async fn guest_passphrase(args: GuestPassphrase) -> Result<GuestView, IpcError> {
    ipc::invoke::<SetGuestPassphrase>(&args).await
}

/// `guest_mark`
pub async fn guest_mark(args: GuestMark) -> Result<GuestView, IpcError> {
    ipc::invoke::<MarkGuest>(&args).await
}

/// `devices`
pub async fn devices() -> Result<DevicesView, IpcError> {
    ipc::invoke::<GetDevices>(&NoArgs {}).await
}

/// `device_rename`
pub async fn device_rename(args: DeviceRename) -> Result<(), IpcError> {
    ipc::invoke::<RenameDevice>(&args).await
}

/// `device_pause`
pub async fn device_pause(args: DevicePause) -> Result<(), IpcError> {
    ipc::invoke::<PauseDevice>(&args).await
}

/// `devices_seen`
pub async fn devices_seen() -> Result<(), IpcError> {
    ipc::invoke::<MarkDevicesSeen>(&NoArgs {}).await
}

/// `parental`
pub async fn parental() -> Result<ParentalView, IpcError> {
    ipc::invoke::<GetParental>(&NoArgs {}).await
}

/// `bedtime_create`
pub async fn bedtime_create(args: BedtimeCreate) -> Result<Bedtime, IpcError> {
    ipc::invoke::<CreateBedtime>(&args).await
}

/// `bedtime_delete`
pub async fn bedtime_delete(args: BedtimeDelete) -> Result<(), IpcError> {
    ipc::invoke::<DeleteBedtime>(&args).await
}

/// `mesh`
pub async fn mesh() -> Result<MeshView, IpcError> {
    ipc::invoke::<GetMesh>(&NoArgs {}).await
}

/// `smart_home`
pub async fn smart_home() -> Result<SmartHomeView, IpcError> {
    ipc::invoke::<GetSmartHome>(&NoArgs {}).await
}

/// `thing_set`
pub async fn thing_set(args: ThingSet) -> Result<Thing, IpcError> {
    ipc::invoke::<SetThing>(&args).await
}

/// `device_details`
pub async fn device_details(args: AgentArgs) -> Result<DeviceDetails, IpcError> {
    ipc::invoke::<GetDeviceDetails>(&args).await
}

/// `device_reboot`
pub async fn device_reboot(args: AgentArgs) -> Result<(), IpcError> {
    ipc::invoke::<Reboot>(&args).await
}

/// `device_ping`
pub async fn device_ping(args: PingArgs) -> Result<PingResult, IpcError> {
    ipc::invoke::<Ping>(&args).await
}

/// `explore`
pub async fn explore(args: ExploreArgs) -> Result<ExplorerView, IpcError> {
    ipc::invoke::<Explore>(&args).await
}

/// `param_set`
pub async fn param_set(args: ParamSet) -> Result<(), IpcError> {
    ipc::invoke::<SetParam>(&args).await
}

/// `settings`
pub async fn settings() -> Result<Settings, IpcError> {
    ipc::invoke::<GetSettings>(&NoArgs {}).await
}

/// `settings_interfaces`
pub async fn settings_interfaces(args: SetInterfaces) -> Result<Settings, IpcError> {
    ipc::invoke::<SetDiscoveryInterfaces>(&args).await
}

/// `settings_theme`
pub async fn settings_theme(args: SetTheme) -> Result<Settings, IpcError> {
    ipc::invoke::<SetThemeCmd>(&args).await
}

/// `trust_forget`
pub async fn trust_forget(args: AgentArgs) -> Result<Settings, IpcError> {
    ipc::invoke::<ForgetCertificate>(&args).await
}

/// `certificate_save`
pub async fn certificate_save() -> Result<String, IpcError> {
    ipc::invoke::<SaveCertificate>(&NoArgs {}).await
}
