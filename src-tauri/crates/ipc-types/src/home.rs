//! DTOs of the app's pages (the commands that carry them are in [`crate::commands`]). Every page reads one `*View` (re-fetched when a
//! [`crate::live::LiveEvent::Changed`] names its [`crate::live::Topic`]) and changes things with
//! small commands. Agents are addressed by their Endpoint ID string (`agent`), objects by their
//! full instance path on that agent (`Device.WiFi.SSID.3`), never by display names.

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Home and pairing

/// What the app may do on an agent (mirrors `app_core::pairing::AuthState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentAuth {
    /// Connecting or probing.
    Connecting,
    /// Not reachable now; `message` says why in words.
    Offline { message: String },
    /// First `wss://` contact: the user is asked to trust this certificate fingerprint.
    FirstUse { fingerprint: String },
    /// The pinned certificate changed since the last visit: the app does not connect and keeps
    /// checking in the background (the genuine device comes back by itself). The way out for a
    /// device that really was replaced or reset is "Forget and pair again", never one click.
    CertificateChanged {
        /// Fingerprint of the certificate presented now.
        fingerprint: String,
        /// Fingerprint of the certificate trusted at pairing (the pinned one), when known.
        #[serde(default)]
        pinned: Option<String>,
    },
    /// The certificate belongs to another device than the one advertised.
    WrongDevice,
    /// The agent ignores this controller: its Endpoint ID must be added on the device first.
    /// The app asks again by itself ([`AgentAuth::NotAuthorised::next_check_secs`]) and turns the
    /// card into the paired state once the device answers.
    NotAuthorised {
        our_endpoint_id: String,
        /// Seconds until the app asks the device again; `None` while it is asking now.
        #[serde(default)]
        next_check_secs: Option<u64>,
    },
    /// Connected with a limited role (e.g. Untrusted): pairing with the passcode raises it.
    Untrusted { role: Option<String> },
    /// Paired: connected with a role that lets the user manage things.
    Paired { role: Option<String> },
}

/// What kind of box an agent is (from mDNS subtypes, ProductClass and its data model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Gateway,
    Extender,
    Hub,
    Other,
}

/// One agent of the home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    /// Endpoint ID: the key every other command uses.
    pub agent: String,
    /// FriendlyName (or the mDNS `name`, or the Endpoint ID).
    pub name: String,
    pub kind: AgentKind,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// Seconds since the agent booted, as last read.
    pub uptime_secs: Option<u64>,
    /// `ws://` or `wss://` URL in use.
    pub url: String,
    pub auth: AgentAuth,
    /// Whether the app keeps this agent (paired or trusted) rather than only having discovered it.
    pub remembered: bool,
    /// The link is encrypted (`wss://`).
    #[serde(default)]
    pub encrypted: bool,
    /// The device proved who it is: connected over `wss://` with the certificate the person
    /// trusted. Over `ws://` a device is never verified.
    #[serde(default)]
    pub verified: bool,
    /// The device is on this computer (loopback address): nothing crosses the network.
    #[serde(default)]
    pub local: bool,
    /// The person agreed to send passcodes and passwords to it unencrypted
    /// ([`AgentConsent`]); only meaningful when neither `encrypted` nor `local`.
    #[serde(default)]
    pub allow_unencrypted: bool,
}

/// An advert or address that claimed to be a device the app knows as encrypted, but offered a
/// plain `ws://` link (or another certificate at a new address). Nothing was sent to it; it is
/// shown apart from the device's own card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impersonation {
    /// The Endpoint ID it claimed.
    pub agent: String,
    /// The name of the genuine device (as the app knows it).
    pub name: String,
    /// Where the impostor said it was (`ws://10.0.0.9:8080/usp`).
    pub address: String,
    /// What happened, in words ("Someone on your network is pretending to be …").
    pub message: String,
}

/// The Home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeView {
    pub agents: Vec<AgentSummary>,
    /// Discovery is running (on the interfaces of [`Settings::interfaces`]).
    pub discovering: bool,
    /// Adverts or addresses that pretended to be a known encrypted device (refused).
    #[serde(default)]
    pub impersonations: Vec<Impersonation>,
    /// Set when more than one device says it is the gateway: which one to trust is for the
    /// person to check (the message names them).
    #[serde(default)]
    pub gateway_conflict: Option<String>,
    /// This app's Endpoint ID, for cards of devices that don't know it yet.
    #[serde(default)]
    pub our_endpoint_id: String,
    /// The same as an SVG QR code.
    #[serde(default)]
    pub our_endpoint_id_qr_svg: String,
}

/// Allow (or stop allowing) passcodes and passwords to go to one device over an unencrypted
/// link. Only the app's own window can call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConsent {
    pub agent: String,
    pub allow: bool,
}

/// Arguments naming one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentArgs {
    pub agent: String,
}

/// Add a device by its address, for when discovery does not find it (multicast blocked, another
/// subnet, a phone without multicast access).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentAddress {
    /// As typed: `192.168.1.1:8080/usp`, `ws://…` or `wss://…` (no scheme means `ws://`).
    pub address: String,
    /// The device's USP Endpoint ID, when the user has it (needed for `wss://` devices the
    /// app has not met: their certificate is checked against it).
    pub endpoint_id: Option<String>,
}

/// Accept (or re-accept after a change) the certificate the agent shows now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustArgs {
    pub agent: String,
    /// The fingerprint the user saw; refused if the agent now shows another one.
    pub fingerprint: String,
}

/// What to show in the passcode dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingPrompt {
    /// The device's Endpoint ID (shown in the dialog).
    pub agent: String,
    /// The device's name (plain text, at most 64 characters).
    #[serde(default)]
    pub name: String,
    /// The link is encrypted (`wss://`).
    #[serde(default)]
    pub encrypted: bool,
    /// The device is on this computer (loopback).
    #[serde(default)]
    pub local: bool,
    /// `wss://`: the fingerprint of the certificate the device proved it holds.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The device's own words ("Enter the 6-digit passcode printed on the label"): plain text,
    /// control characters removed, at most 300 characters. Show it as what the device says.
    pub instruction: String,
    /// Longer description of the challenge, if any.
    pub description: Option<String>,
    /// Tries left before the agent locks pairing for a while, when known.
    pub tries_left: Option<u32>,
}

/// Submit the passcode for the prompt last started on `agent`. The passcode is a secret: the
/// shell never logs it and drops it after use.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingSubmit {
    pub agent: String,
    pub passcode: String,
}

impl std::fmt::Debug for PairingSubmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingSubmit").field("agent", &self.agent).field("passcode", &"<redacted>").finish()
    }
}

/// Successful pairing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingDone {
    pub agent: String,
    /// The role now held, e.g. "Home User".
    pub role: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// WiFi and guest

/// WPA modes offered to the user (TR-181 `ModeEnabled` values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityMode {
    /// TR-181 value, e.g. `WPA2-Personal`, `WPA3-Personal`, `WPA2-WPA3-Personal`, `None`.
    pub value: String,
}

/// One WiFi network (SSID + its AccessPoint) on one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiNetwork {
    pub agent: String,
    pub agent_name: String,
    /// `Device.WiFi.SSID.{i}`
    pub ssid_path: String,
    /// `Device.WiFi.AccessPoint.{i}` serving it, if any.
    pub ap_path: Option<String>,
    /// The network name.
    pub ssid: String,
    /// Bands, e.g. `["2.4GHz"]`.
    pub bands: Vec<String>,
    pub enabled: bool,
    /// Current `Security.ModeEnabled`.
    pub security: Option<String>,
    /// `Security.ModesSupported` that are WPA2/WPA3 personal (or None), for the mode picker.
    pub modes_supported: Vec<String>,
    /// The passphrase can be read with our role (it is a secured parameter on most agents).
    pub passphrase_readable: bool,
    /// This is the guest network.
    pub guest: bool,
    /// The role lets us change this network.
    pub writable: bool,
}

/// The WiFi page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiView {
    pub networks: Vec<WifiNetwork>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiRename {
    pub agent: String,
    pub ssid_path: String,
    /// 1-32 bytes.
    pub ssid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiEnable {
    pub agent: String,
    pub ssid_path: String,
    pub enabled: bool,
}

/// New passphrase (8-63 printable ASCII) and optionally a new mode. Secret: redacted in Debug.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiPassphrase {
    pub agent: String,
    pub ap_path: String,
    pub passphrase: String,
    pub mode: Option<String>,
}

impl std::fmt::Debug for WifiPassphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WifiPassphrase")
            .field("agent", &self.agent)
            .field("ap_path", &self.ap_path)
            .field("passphrase", &"<redacted>")
            .field("mode", &self.mode)
            .finish()
    }
}

/// How the guest network was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestSource {
    /// EasyMesh SSID `Type` says guest.
    Type,
    /// AccessPoint `IsolationEnable` is true.
    Isolation,
    /// The user marked it.
    Marked,
}

/// The Guest page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestView {
    /// The guest network, if one was found (or marked).
    pub network: Option<WifiNetwork>,
    pub source: Option<GuestSource>,
    /// `WIFI:T:..;S:..;P:..;;` to share, when the passphrase is known (read, or set by this app).
    pub share_text: Option<String>,
    /// The same as an SVG QR code (a complete `<svg>` element), for direct display.
    pub qr_svg: Option<String>,
    /// The passphrase is a secured parameter our role can't read and we never set it: offer to
    /// set a new one instead.
    pub passphrase_hidden: bool,
    /// Candidate networks the user may mark as guest when none was found.
    pub candidates: Vec<WifiNetwork>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestEnable {
    pub enabled: bool,
}

/// Set a new guest passphrase (remembered in the vault so it can be shared). Secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestPassphrase {
    pub passphrase: String,
}

impl std::fmt::Debug for GuestPassphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestPassphrase(<redacted>)")
    }
}

/// Mark one SSID as the guest network (when the agent has no way to say so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestMark {
    pub agent: String,
    pub ssid_path: String,
}

// ---------------------------------------------------------------------------------------------
// Connected devices and parental controls

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    Wired,
    Wifi,
    Unknown,
}

/// One device seen in `Device.Hosts.Host.` (merged across agents by MAC address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedDevice {
    /// MAC address, lower case `aa:bb:cc:dd:ee:ff`: the key of device commands.
    pub mac: String,
    /// The user's label if set, else HostName, else the MAC.
    pub name: String,
    /// The user gave it a label.
    pub labelled: bool,
    pub host_name: Option<String>,
    pub ip: Option<String>,
    pub link: Link,
    /// Name of the agent / mesh node it is connected through.
    pub node: Option<String>,
    /// WiFi signal in dBm.
    pub signal_dbm: Option<i32>,
    pub online: bool,
    /// RFC 3339 time of the last activity change (`ActiveLastChange`).
    pub last_seen: Option<String>,
    /// From `WANStats`.
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
    /// Joined since the user last looked at the Devices page.
    pub new: bool,
    /// Internet paused by a Deny access rule.
    pub paused: bool,
    /// The agent that reports it (where pause rules go).
    pub agent: String,
}

/// The Devices page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevicesView {
    pub devices: Vec<ConnectedDevice>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRename {
    pub mac: String,
    /// Empty clears the label.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePause {
    pub mac: String,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacArgs {
    pub mac: String,
}

/// TR-181 day names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// The TR-181 string (`Monday`).
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }
}

/// Who made an access rule (TR-181 `Origin`, 2.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOrigin {
    /// Created by this app.
    Ours,
    /// Created by another controller, the router's UI or the system.
    Other,
}

/// How the agent stores schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleModel {
    /// `Device.Schedules.Schedule.{i}` + `AccessControl.{i}.ScheduleRef` (TR-181 2.18).
    Schedules,
    /// `Device.Hosts.AccessControl.{i}.Schedule.{i}` (2.14-2.17).
    Legacy,
    /// The agent has no schedules.
    None,
}

/// A bedtime: no internet for `mac` from `start` for `duration_mins` on `days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bedtime {
    /// Stable id for deletion (the AccessControl or Schedule path with its agent).
    pub id: String,
    pub agent: String,
    pub mac: String,
    pub device_name: String,
    pub days: Vec<Weekday>,
    /// `hh:mm` local time.
    pub start: String,
    /// `hh:mm` local time (may be the next day).
    pub end: String,
    pub enabled: bool,
    pub origin: RuleOrigin,
}

/// A pause or allow rule that is not a bedtime we understand (shown read-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    pub agent: String,
    pub path: String,
    pub mac: String,
    pub device_name: String,
    /// `Allow` or `Deny`.
    pub policy: String,
    pub enabled: bool,
    pub origin: RuleOrigin,
    pub summary: String,
}

/// The Parental page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentalView {
    pub model: ScheduleModel,
    pub bedtimes: Vec<Bedtime>,
    pub other_rules: Vec<AccessRule>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedtimeCreate {
    pub mac: String,
    pub days: Vec<Weekday>,
    /// `hh:mm`
    pub start: String,
    /// `hh:mm`; before `start` means the next morning.
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedtimeDelete {
    pub id: String,
}

// ---------------------------------------------------------------------------------------------
// Mesh

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshClient {
    pub mac: String,
    pub name: String,
    pub signal_dbm: Option<i32>,
    pub band: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshNode {
    /// EasyMesh device ID (AL MAC).
    pub id: String,
    pub name: String,
    /// Parent node id; `None` for the controller/root node.
    pub parent: Option<String>,
    /// Backhaul medium, e.g. `Ethernet`, `Wi-Fi 5GHz`.
    pub backhaul: Option<String>,
    /// Backhaul PHY rate in Mbit/s.
    pub phy_rate_mbps: Option<u64>,
    /// Backhaul signal in dBm, when wireless.
    pub backhaul_signal_dbm: Option<i32>,
    pub clients: Vec<MeshClient>,
    /// The agent (if any) that this node is.
    pub agent: Option<String>,
}

/// The Mesh page: nodes in tree order (parents before children).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshView {
    pub nodes: Vec<MeshNode>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Smart home

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ThingState {
    Switch { on: bool },
    Level { value: f64, unit: Option<String>, min: Option<f64>, max: Option<f64>, step: Option<f64> },
    Choice { value: String, options: Vec<String> },
    Sensor { value: String, unit: Option<String>, last_change: Option<String> },
}

/// One `IoTCapability` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    pub agent: String,
    /// `...IoTCapability.{i}`
    pub path: String,
    pub name: String,
    /// TR-181 `Class`, e.g. `BinaryControl`.
    pub class: String,
    /// e.g. `Light`, `Temperature`.
    pub kind_hint: Option<String>,
    pub state: ThingState,
    pub writable: bool,
}

/// Things of one agent / Node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingGroup {
    pub title: String,
    pub things: Vec<Thing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartHomeView {
    pub groups: Vec<ThingGroup>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

/// Set a control: `value` is `true`/`false`, a number, or one of the options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingSet {
    pub agent: String,
    pub path: String,
    pub value: String,
}

// ---------------------------------------------------------------------------------------------
// Device, diagnostics, explorer

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDetails {
    pub agent: String,
    pub name: String,
    /// Labelled DeviceInfo fields in display order, e.g. ("Model", "EX-GW6").
    pub fields: Vec<(String, String)>,
    pub can_reboot: bool,
    pub can_ping: bool,
    /// Firmware images (`DeviceInfo.FirmwareImage.{i}`), when the device has and shows them.
    #[serde(default)]
    pub firmware: Vec<FirmwareImage>,
    /// The controllers the device knows (`LocalAgent.Controller.{i}`), as far as our role may see.
    #[serde(default)]
    pub controllers: Vec<ControllerEntry>,
    /// What this device offers to usp-home, in words ("WiFi settings", "Connected devices"...).
    #[serde(default)]
    pub offers: Vec<String>,
    /// What it doesn't offer, in the same words.
    #[serde(default)]
    pub lacks: Vec<String>,
}

/// One firmware image slot of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareImage {
    /// `Device.DeviceInfo.FirmwareImage.1`.
    pub path: String,
    pub name: String,
    pub version: String,
    /// TR-181 `Status` (`Active`, `Available`, `Downloading`...).
    pub status: String,
    /// The image the device runs now (`ActiveFirmwareImage`).
    pub active: bool,
    /// The image it boots next (`BootFirmwareImage`).
    pub boot: bool,
}

/// One controller a device knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerEntry {
    pub endpoint_id: String,
    /// `Alias`, when set.
    pub alias: Option<String>,
    pub enabled: bool,
    /// This app.
    pub this_app: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingArgs {
    pub agent: String,
    pub host: String,
    pub count: u32,
}

/// Result of `IPPing()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingResult {
    /// TR-181 `Status`, e.g. `Complete`, `Error_CannotResolveHostName`.
    pub status: String,
    pub success: u32,
    pub failure: u32,
    pub avg_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// Most entries one explorer answer holds ([`ExplorerView::entries`]); more come by offset.
pub const EXPLORER_PAGE: u32 = 500;

/// Explorer: one level of the data model under `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreArgs {
    pub agent: String,
    /// Object path ending in `.`; `Device.` for the root.
    pub path: String,
    /// The first entry to return (0 = from the start); the next page starts at
    /// [`ExplorerView::next_offset`].
    #[serde(default)]
    pub offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmKind {
    Object,
    Table,
    Instance,
    Parameter,
    Command,
    Event,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmEntry {
    /// Full path (objects end in `.`, commands in `()`, events in `!`).
    pub path: String,
    /// Last segment, for display.
    pub name: String,
    pub kind: DmKind,
    /// Current value of a parameter.
    pub value: Option<String>,
    /// TR-181 type, e.g. `boolean`, `unsignedInt`.
    pub value_type: Option<String>,
    /// Our role may write it (the model says writable and the role allows).
    pub writable: bool,
    /// A secret (passphrase, key, password): its value is never sent to the window, which
    /// shows it as hidden; it can still be replaced where `writable`.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplorerView {
    pub agent: String,
    pub path: String,
    /// One page of the entries of this level (at most a few hundred), from `offset`.
    pub entries: Vec<DmEntry>,
    /// Index of the first of `entries` among all entries of this level.
    #[serde(default)]
    pub offset: u32,
    /// Number of entries of this level in all.
    #[serde(default)]
    pub total: u32,
    /// Where the next page starts, when there is more.
    #[serde(default)]
    pub next_offset: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSet {
    pub agent: String,
    pub path: String,
    pub value: String,
}

// ---------------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedCertificate {
    pub agent: String,
    pub name: Option<String>,
    /// SHA-256 fingerprint, colon-separated hex.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// This app's USP Endpoint ID (to add on a device by hand).
    pub endpoint_id: String,
    /// The same as an SVG QR code.
    pub endpoint_id_qr_svg: String,
    pub trusted: Vec<TrustedCertificate>,
    /// Discovery interfaces: `all`, `lo`, or a comma-separated list of names.
    pub interfaces: String,
    pub theme: Theme,
    /// Where this app keeps its secrets (its key, trusted certificates, WiFi passwords), in
    /// one sentence: the OS keyring, an encrypted file, the kernel keyring until reboot, or
    /// memory only.
    #[serde(default)]
    pub vault_location: String,
    /// True when the secrets survive a restart of the computer and of the app.
    #[serde(default)]
    pub vault_persistent: bool,
    /// What the user loses at the next restart and how to avoid it, when they are not kept.
    #[serde(default)]
    pub vault_warning: Option<String>,
    /// This start made a new identity (new Endpoint ID) because the old key was lost: devices
    /// paired before must be paired again.
    #[serde(default)]
    pub identity_renewed: bool,
    /// This app's certificate (PEM), to add to a device's trust store for `wss://` with mutual TLS.
    #[serde(default)]
    pub certificate_pem: String,
    /// Its SHA-256 fingerprint, colon-separated hex.
    #[serde(default)]
    pub certificate_fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetInterfaces {
    pub interfaces: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTheme {
    pub theme: Theme,
}
