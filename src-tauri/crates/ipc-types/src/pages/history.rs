//! The home over time: the whole home's usage (home page), and a device's signal and online
//! periods (Devices page, beside its usage chart), from the history kept on this computer.

use serde::{Deserialize, Serialize};

use crate::pages::hosts::{UsageBar, UsageRange};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeUsageArgs {
    pub range: UsageRange,
}

/// Every device's usage added up, over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeUsage {
    pub range: UsageRange,
    /// One bar per hour (today) or day, oldest first; empty buckets are zeros.
    pub bars: Vec<UsageBar>,
    pub total_down: u64,
    pub total_up: u64,
    /// How the history is collected, in words.
    pub collecting: String,
    /// Why there is no history, when there is none.
    pub problem: Option<String>,
}

/// Which stretch of time a device's signal and online charts show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistorySpan {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHistoryArgs {
    pub mac: String,
    pub span: HistorySpan,
}

/// A WiFi client's signal in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalBar {
    /// The hour's start, Unix milliseconds.
    pub start_ms: i64,
    /// Mean, dBm.
    pub avg_dbm: f64,
    /// Weakest and strongest, dBm.
    pub min_dbm: i32,
    pub max_dbm: i32,
}

/// One period a device was online; `end_ms` is `None` while it still is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineSpan {
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

/// A device's signal and online periods over [`DeviceHistory::from_ms`, `to_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceHistory {
    pub mac: String,
    pub span: HistorySpan,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Hours with signal samples, oldest first (a missing hour: not on WiFi then).
    pub signal: Vec<SignalBar>,
    /// Online periods overlapping the span, oldest first, clipped to it.
    pub online: Vec<OnlineSpan>,
    /// Online now, as far as the history knows.
    pub online_now: bool,
    /// The last time the device was seen, Unix milliseconds, if it ever was.
    pub last_seen_ms: Option<i64>,
    /// Why there is no history, when there is none.
    pub problem: Option<String>,
}
