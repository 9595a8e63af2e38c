//! The Guest WiFi page: the guest network, how it was recognised, and sharing it.

use serde::{Deserialize, Serialize};

use super::wifi::WifiNetwork;

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
