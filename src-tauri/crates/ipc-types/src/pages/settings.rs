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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetInterfaces {
    pub interfaces: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTheme {
    pub theme: Theme,
}
