//! The Devices page: the hosts (devices on the LAN) of the home, renaming and pausing one.

use serde::{Deserialize, Serialize};

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
    /// Internet paused by a Deny access rule, or for a while ([`ConnectedDevice::paused_until`]).
    pub paused: bool,
    /// Paused for a while: the device's own time (`hh:mm`) when the gateway lets it back on.
    #[serde(default)]
    pub paused_until: Option<String>,
    /// The agent that reports it (where pause rules go).
    pub agent: String,
    /// The person is told when it arrives or leaves.
    #[serde(default)]
    pub watched: bool,
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

/// No internet for a device for a while, enforced by the gateway's own schedule (it holds with
/// the app closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePauseFor {
    pub mac: String,
    /// How long: 1 minute to 24 hours; `None` = until 07:00 the next morning (device time).
    pub minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacArgs {
    pub mac: String,
}

/// Which stretch of time a usage chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageRange {
    /// Since midnight, by hour.
    Today,
    /// The last 7 days (today included), by day.
    Week,
    /// The last 30 days, by day.
    Month,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceUsageArgs {
    pub mac: String,
    pub range: UsageRange,
}

/// One bar of a usage chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBar {
    /// The bucket's start, Unix milliseconds.
    pub start_ms: i64,
    /// Bytes the device downloaded.
    pub down: u64,
    /// Bytes it uploaded.
    pub up: u64,
}

/// A device's usage over time, from the history kept on this computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceUsage {
    pub mac: String,
    pub range: UsageRange,
    /// One bar per hour (today) or day, oldest first; empty buckets are zeros.
    pub bars: Vec<UsageBar>,
    pub total_down: u64,
    pub total_up: u64,
    /// How the history is collected, in words ("Every 5 minutes, by asking your router").
    pub collecting: String,
    /// Why there is no history, when there is none (the file could not be opened...).
    pub problem: Option<String>,
}
