//! The app's commands, each declared once in [`with_commands!`]: its kind, spec type, name,
//! arguments and result. Everything else that lists commands is generated from that table:
//!
//! - here: one spec type per command implementing [`Command`], and
//!   [`COMMAND_NAMES`];
//! - in the UI (`ui/src/api.rs`): one typed `async fn` per command, named like it;
//! - in the shell (`src-tauri/src/commands/mod.rs`, `lib.rs`): the `#[tauri::command]` wrappers
//!   of the `home` commands and the `generate_handler!` list;
//! - in the shell's `build.rs`: the `allow-<command>` permissions and the `app-commands`
//!   permission set that both capability files grant.
//!
//! A command's kind says where the shell's function is: `home` commands are one call to the
//! `app_core::home::Home` method of the same name (generated); `shell` and `live` commands are
//! written by hand in `src-tauri/src/commands/shell.rs` and `live.rs` (they need the app handle
//! or a channel). The UI gets no `api` function for the `live` command (see `ui::ipc::subscribe`).

/// Calls `$callback! { ... }` with every command of the app, one per line:
///
/// ```text
/// /// doc
/// kind SpecType = command_name(ArgsType) -> OutputType;   // or `command_name()` without arguments
/// ```
///
/// The order is the shell's `generate_handler!` order.
#[macro_export]
macro_rules! with_commands {
    ($callback:ident) => {
        $callback! {
            /// Name and version of the running app.
            shell GetAppInfo = app_info() -> AppInfo;
            /// Opens the stream of `LiveEvent`s. The Rust command takes one
            /// parameter `on_event: tauri::ipc::Channel<LiveEvent>`, which the UI passes as
            /// `{"onEvent": <Channel>}` (a JS `Channel` object, so this command is invoked by
            /// `ui::ipc::subscribe`, not `invoke`). Subscribing again replaces the previous channel.
            live Subscribe = live_subscribe() -> ();

            // home and pairing
            /// Every agent of the home.
            home GetHome = home() -> HomeView;
            /// Accept the certificate the user saw.
            home TrustAgent = trust_agent(TrustArgs) -> AgentSummary;
            /// Drop an agent (and its pinned certificate and role).
            home ForgetAgent = forget_agent(AgentArgs) -> ();
            /// Allow (or stop allowing) secrets to one device over `ws://`.
            home AllowUnencrypted = agent_allow_unencrypted(AgentConsent) -> AgentSummary;
            /// Add a device by its address (when discovery does not find it).
            home AddAgent = agent_add(AgentAddress) -> AgentSummary;
            /// Ask a device that does not know this app yet again, now.
            home CheckAgentNow = agent_check_now(AgentArgs) -> AgentSummary;
            /// Ask the agent for its passcode challenge.
            home PairingStart = pairing_start(AgentArgs) -> PairingPrompt;
            /// Send the passcode (never logged: `PairingSubmit`'s Debug redacts it).
            home PairingFinish = pairing_submit(PairingSubmit) -> PairingDone;

            // wifi and guest
            /// The home's networks by band.
            home GetWifi = wifi() -> WifiView;
            /// Change a network's name (SSID).
            home SetWifiName = wifi_rename(WifiRename) -> ();
            /// Switch a network on or off.
            home SetWifiEnabled = wifi_enable(WifiEnable) -> ();
            /// Change a network's passphrase (a secret: never logged).
            home SetWifiPassphrase = wifi_passphrase(WifiPassphrase) -> ();
            /// The guest network, its state and how to share it.
            home GetGuest = guest() -> GuestView;
            /// Switch the guest network on or off.
            home SetGuestEnabled = guest_enable(GuestEnable) -> GuestView;
            /// Set a new guest passphrase (a secret: never logged).
            home SetGuestPassphrase = guest_passphrase(GuestPassphrase) -> GuestView;
            /// The user says which network is the guest network.
            home MarkGuest = guest_mark(GuestMark) -> GuestView;

            // connected devices (hosts) and parental controls
            /// Every connected (or recently seen) device.
            home GetDevices = devices() -> DevicesView;
            /// The user's own label for a device.
            home RenameDevice = device_rename(DeviceRename) -> ();
            /// Pause or resume a device's internet access now.
            home PauseDevice = device_pause(DevicePause) -> ();
            /// No internet for a device for a while (30 min, 1 h, until tomorrow), ended by the
            /// gateway itself.
            home PauseDeviceFor = device_pause_for(DevicePauseFor) -> ();
            /// A device's usage today, this week or this month, from the local history.
            home GetDeviceUsage = device_usage(DeviceUsageArgs) -> DeviceUsage;
            /// A device's WiFi signal and when it was online, the last 24 hours or 7 days.
            home GetDeviceHistory = device_history(DeviceHistoryArgs) -> DeviceHistory;
            /// The whole home's usage today, this week or this month.
            home GetHomeUsage = home_usage(HomeUsageArgs) -> HomeUsage;
            /// The user has seen the list; nothing is "new" any more.
            home MarkDevicesSeen = devices_seen() -> ();
            /// Bedtime schedules and other access rules.
            home GetParental = parental() -> ParentalView;
            /// A new bedtime schedule for a device.
            home CreateBedtime = bedtime_create(BedtimeCreate) -> Bedtime;
            /// Remove a bedtime schedule this app created.
            home DeleteBedtime = bedtime_delete(BedtimeDelete) -> ();
            /// More time tonight before a bedtime starts.
            home ExtraBedtime = bedtime_extra(BedtimeExtra) -> ();

            // mesh and smart home
            /// Nodes, backhaul links and the clients on each node.
            home GetMesh = mesh() -> MeshView;
            /// Switches, dimmers and sensors, grouped by hub.
            home GetSmartHome = smart_home() -> SmartHomeView;
            /// Switch, dim or choose.
            home SetThing = thing_set(ThingSet) -> Thing;

            // one agent, the explorer
            /// DeviceInfo of one agent.
            home GetDeviceDetails = device_details(AgentArgs) -> DeviceDetails;
            /// Restart an agent (the UI confirms first).
            home Reboot = device_reboot(AgentArgs) -> ();
            /// IPPing diagnostics (progress arrives as live events).
            home Ping = device_ping(PingArgs) -> PingResult;
            /// A speed test from a device (download, then upload), kept in the history.
            home RunSpeedTest = speed_test(SpeedTestArgs) -> SpeedTestResult;
            /// Past speed tests and the test server.
            home GetSpeedTests = speed_tests() -> SpeedTestsView;
            /// The server speed tests use.
            home SetSpeedTestServer = speed_test_server_set(SpeedTestServer) -> SpeedTestsView;
            /// A device's firmware images.
            home GetFirmware = firmware(AgentArgs) -> FirmwareView;
            /// Choose an image file in the system's own file dialog (`None`: the person cancelled;
            /// an error on phones, which have no such dialog here: the UI offers the typed path).
            shell PickFirmwareFile = firmware_pick() -> Option<FirmwareFile>;
            /// Put an image file of this computer on a device's unused slot (served once over
            /// a local HTTP address; progress as live events). It does not restart the device.
            home UpdateFirmware = firmware_update(FirmwareUpdate) -> FirmwareUpdated;
            /// Restart a device on one of its images (the UI confirms first).
            home ActivateFirmware = firmware_activate(FirmwareActivate) -> FirmwareView;
            /// One level of an agent's data model with current values.
            home Explore = explore(ExploreArgs) -> ExplorerView;
            /// Write one parameter where the role allows.
            home SetParam = param_set(ParamSet) -> ();

            // settings
            /// Own Endpoint ID, trusted certificates, discovery interfaces, theme.
            home GetSettings = settings() -> Settings;
            /// Which network interfaces discovery uses.
            home SetDiscoveryInterfaces = settings_interfaces(SetInterfaces) -> Settings;
            /// Light, dark or the system's.
            home SetThemeCmd = settings_theme(SetTheme) -> Settings;
            /// Devices that connect to usp-home: the setting and the address and Endpoint ID to
            /// enter in the device.
            home GetListener = listener() -> ListenerView;
            /// Listen (or stop listening) for devices that connect to usp-home.
            home SetListener = listener_set(ListenerSettings) -> ListenerView;
            /// Which alerts are on, their thresholds, the devices followed, the recent alerts.
            home GetAlerts = alerts() -> AlertsView;
            /// Turn alerts on or off, change their thresholds.
            home SetAlerts = alerts_set(AlertSettings) -> AlertsView;
            /// Tell (or stop telling) when a device arrives or leaves.
            home WatchDevice = device_watch(DeviceWatch) -> ();
            /// Forget a pinned certificate.
            home ForgetCertificate = trust_forget(AgentArgs) -> Settings;
            /// Write this app's certificate (PEM) to a file (the downloads folder, else the data
            /// folder); returns where.
            shell SaveCertificate = certificate_save() -> String;
            /// Whether closing the window keeps the app in the tray, and start at login.
            shell GetBackground = background() -> BackgroundView;
            /// Turn start at login (in the tray) on or off.
            shell SetStartAtLogin = start_at_login_set(StartAtLogin) -> BackgroundView;
        }
    };
}

/// The argument type of a table entry: [`NoArgs`](crate::NoArgs) when it names none.
#[doc(hidden)]
#[macro_export]
macro_rules! __command_args {
    () => {
        $crate::NoArgs
    };
    ($args:ty) => {
        $args
    };
}

/// Declares the spec types and [`COMMAND_NAMES`] from the table.
macro_rules! declare_specs {
    ($( $(#[$doc:meta])* $kind:ident $spec:ident = $name:ident ( $($args:ty)? ) -> $out:ty; )*) => {
        $(
            $(#[$doc])*
            #[doc = ""]
            #[doc = concat!("The `", stringify!($name), "` command (", stringify!($kind), "); returns `", stringify!($out), "`.")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $spec;

            impl $crate::Command for $spec {
                const NAME: &'static str = stringify!($name);
                type Args = $crate::__command_args!($($args)?);
                type Output = $out;
            }
        )*

        /// The name of every app command, in the shell's `generate_handler!` order. The shell's
        /// `build.rs` gives each an `allow-<name>` permission and grants them all as one set.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

use crate::*;

with_commands!(declare_specs);

#[cfg(test)]
mod tests {
    use crate::*;

    #[test]
    fn names_are_the_commands_and_unique() {
        assert_eq!(GetAppInfo::NAME, "app_info");
        assert_eq!(PairingFinish::NAME, "pairing_submit");
        let mut names = COMMAND_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMAND_NAMES.len());
        assert_eq!(COMMAND_NAMES.len(), 57);
    }

    #[test]
    fn commands_without_arguments_take_no_args() {
        fn args_of<C: Command>() -> std::any::TypeId
        where
            C::Args: 'static,
        {
            std::any::TypeId::of::<C::Args>()
        }
        assert_eq!(args_of::<GetHome>(), std::any::TypeId::of::<NoArgs>());
        assert_eq!(args_of::<TrustAgent>(), std::any::TypeId::of::<TrustArgs>());
    }
}
