//! Alerts: what the app tells the person about (a new device, a device they follow arriving or
//! leaving, a device offline for long, a restarted router, a slow speed test), which of them
//! are on, and the recent ones. Shown on the Settings page; the per-device "tell me when it
//! arrives or leaves" is on the device's panel of the Devices page.

use serde::{Deserialize, Serialize};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A device joined the home network for the first time.
    NewDevice,
    /// A device the person follows came home.
    Arrived,
    /// A device the person follows left.
    Left,
    /// A device has been offline for longer than the setting.
    Offline,
    /// A router, extender or hub restarted.
    Restarted,
    /// A speed test measured less than the setting.
    SlowSpeed,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 6] = [
        AlertKind::NewDevice,
        AlertKind::Arrived,
        AlertKind::Left,
        AlertKind::Offline,
        AlertKind::Restarted,
        AlertKind::SlowSpeed,
    ];

    /// A short machine word (kept in the history's event log as `alert.<word>`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NewDevice => "new_device",
            AlertKind::Arrived => "arrived",
            AlertKind::Left => "left",
            AlertKind::Offline => "offline",
            AlertKind::Restarted => "restarted",
            AlertKind::SlowSpeed => "slow_speed",
        }
    }

    /// The kind of a word from [`AlertKind::as_str`].
    pub fn parse(word: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// The title of its desktop notification.
    pub fn title(self) -> &'static str {
        match self {
            AlertKind::NewDevice => "New device on your network",
            AlertKind::Arrived => "Arrived home",
            AlertKind::Left => "Left home",
            AlertKind::Offline => "Device offline",
            AlertKind::Restarted => "Restarted",
            AlertKind::SlowSpeed => "Slow internet",
        }
    }
}

/// One alert as shown (a desktop notification, a line of "Recent alerts").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    pub kind: AlertKind,
    /// [`AlertKind::title`].
    pub title: String,
    /// The words, e.g. "Anna's phone is home."
    pub text: String,
}

/// Which alerts are on, and their thresholds. Missing fields take the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertSettings {
    /// A device joined the home network for the first time.
    pub new_device: bool,
    /// Devices the person follows arrive or leave.
    pub arrive_leave: bool,
    /// A followed device counts as gone once offline this long (a short drop is no news).
    pub away_after_secs: u64,
    /// A device has been offline longer than [`AlertSettings::offline_after_secs`].
    pub offline: bool,
    pub offline_after_secs: u64,
    /// A router, extender or hub restarted.
    pub restarted: bool,
    /// A speed test's download below [`AlertSettings::slow_below_mbps`].
    pub slow_speed: bool,
    pub slow_below_mbps: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            new_device: true,
            arrive_leave: true,
            away_after_secs: 120,
            offline: false,
            offline_after_secs: 1800,
            restarted: true,
            slow_speed: true,
            slow_below_mbps: 10,
        }
    }
}

/// The alerts part of the Settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsView {
    pub settings: AlertSettings,
    /// Names of the devices the person follows.
    #[serde(default)]
    pub watched: Vec<String>,
    /// The latest alerts, newest first.
    pub recent: Vec<Alert>,
}

/// Follow (or stop following) a device's arrivals and departures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceWatch {
    pub mac: String,
    pub watch: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_old_settings_take_defaults() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        let s: AlertSettings = serde_json::from_str(r#"{"offline":true}"#).expect("reads");
        assert!(s.offline && s.new_device);
        assert_eq!(s.offline_after_secs, 1800);
    }
}
