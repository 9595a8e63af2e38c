//! The Settings page: own identity, trusted certificates, discovery interfaces, theme.

use serde::{Deserialize, Serialize};

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
    /// How the usage history is collected from each paired device.
    #[serde(default)]
    pub usage_collection: Vec<UsageCollection>,
}

/// How the usage history comes from one paired device: its BulkData reports, or asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCollection {
    /// The device's Endpoint ID.
    pub agent: String,
    pub name: String,
    /// True while its BulkData reports come (the app does not ask it then).
    pub by_reports: bool,
    /// When its last report came, Unix milliseconds.
    pub last_report_ms: Option<i64>,
    /// In words: how, how often, and why not by reports when not.
    pub how: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetInterfaces {
    pub interfaces: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTheme {
    pub theme: Theme,
}

/// Devices that connect to usp-home (agents configured to dial their controller): the
/// listener setting and what to enter in the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerView {
    /// usp-home listens for devices.
    pub enabled: bool,
    /// The port set (0: any free port) and the one in use (0 when off).
    pub port: u16,
    pub port_in_use: u16,
    /// Listens on every network interface (else on this computer only).
    pub all_interfaces: bool,
    /// What to enter in the device as its controller's address: one URL per address of this
    /// computer (`wss://` with mutual TLS; `ws://` is accepted on the same port).
    pub urls: Vec<String>,
    /// The first URL as an SVG QR code ("" when off).
    pub url_qr_svg: String,
    /// The Endpoint ID to enter in the device as its controller's.
    pub endpoint_id: String,
    /// Why it is not listening, when it should.
    pub error: Option<String>,
    /// What to enter in a CoAP device as its controller's CoAP address (usp-home's CoAP
    /// endpoint, on the same port number over UDP, while listening): where it sends Notifies.
    #[serde(default)]
    pub coap_urls: Vec<String>,
    /// Why the CoAP endpoint is not open, when listening.
    #[serde(default)]
    pub coap_error: Option<String>,
    /// Sessions with CoAP devices going through the endpoint now.
    #[serde(default)]
    pub coap_sessions: usize,
    /// The certificate usp-home presents to devices that connect over `wss://` (PEM), naming
    /// the addresses it listens on: what goes in the device's trust store ("" when off).
    #[serde(default)]
    pub certificate_pem: String,
    /// Its SHA-256 fingerprint, as the device shows it ("" when off).
    #[serde(default)]
    pub certificate_sha256: String,
}

/// The listener setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerSettings {
    pub enabled: bool,
    /// 0: any free port.
    pub port: u16,
    /// Every network interface (else this computer only).
    pub all_interfaces: bool,
}

/// Running in the background: whether closing the window keeps the app in the tray, and the
/// start-at-login setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackgroundView {
    /// Closing the window keeps usp-home running in the system tray (false where no tray shows:
    /// closing the window then quits).
    pub closes_to_tray: bool,
    /// usp-home starts (in the tray) when the user logs in; `None` where this platform has no
    /// such setting (phones).
    pub start_at_login: Option<bool>,
    /// Why the setting could not be read or changed, in words.
    #[serde(default)]
    pub problem: Option<String>,
}

/// Start at login on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartAtLogin {
    pub enabled: bool,
}
