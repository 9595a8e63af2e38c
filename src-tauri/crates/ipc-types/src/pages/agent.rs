//! The Device page (one agent: gateway, extender or hub): its DeviceInfo, firmware, controllers,
//! and diagnostics (ping).

use serde::{Deserialize, Serialize};

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
    /// It holds a valid image the device could start (`Available`).
    #[serde(default)]
    pub available: bool,
    /// Its state in words ("In use", "Ready", "Download failed: the image was refused"...).
    #[serde(default)]
    pub state: String,
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

/// Run a speed test (TR-143 download then upload) from a device, usually the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeedTestArgs {
    pub agent: String,
}

/// Where speed tests download from and upload to (a setting: usp-home has no server of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeedTestServer {
    /// An `http://` or `https://` URL of a large file.
    pub download_url: String,
    /// An `http://` or `https://` URL that accepts an upload (HTTP PUT).
    pub upload_url: String,
}

/// One speed test's result, from the device's own byte counts and timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedTestResult {
    pub agent: String,
    /// When it ran, Unix milliseconds.
    pub at_ms: i64,
    pub down_mbps: f64,
    pub up_mbps: f64,
    /// The test server (its host).
    pub server: String,
}

/// The speed test history and the server setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedTestsView {
    pub server: Option<SpeedTestServer>,
    /// Newest first.
    pub results: Vec<SpeedTestResult>,
}
