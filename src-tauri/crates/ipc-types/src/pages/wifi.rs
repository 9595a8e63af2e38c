//! The WiFi page: every network of every agent, and renaming, switching and securing one.

use serde::{Deserialize, Serialize};

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
