//! `usp-history`: the local history store of usp-home.
//!
//! usp-home keeps the home over time on the user's machine, never anywhere else: per device
//! traffic (from `Hosts.Host.{i}.WANStats`), the line's traffic, WiFi signal per client,
//! online/offline periods, speed test results and a small event log. This crate is that store;
//! the app feeds it and draws charts from it.
//!
//! # Why SQLite (rusqlite, bundled)
//! One file, transactions that survive a killed process, a query planner for the chart queries,
//! and decades of testing against power loss and corruption. `bundled` compiles SQLite into the
//! app, so every platform runs the same, tested version and no system library is needed.
//!
//! # Durability
//! The file is in WAL mode with `synchronous = NORMAL`: a commit is safe the moment it returns
//! against the app being killed or crashing (the WAL is written before commit returns); only a
//! power cut or OS crash can lose the last few commits, never corrupt the file. FULL would add an
//! fsync per commit for data that is, at worst, a minute of usage statistics.
//!
//! # Opening
//! [`Store::open`] checks the whole file (`PRAGMA quick_check`) before using it, so a damaged
//! file is found at start rather than in the middle of a chart: about 0.5 s for two years of 200
//! devices (65 MiB) on the 2-core development machine. [`StoreHandle::open`] does it on the
//! store's own thread.
//!
//! # Time
//! Every time is Unix seconds (UTC) passed in by the caller; nothing reads the wall clock, so
//! tests run under any clock. Day buckets are local days for the fixed UTC offset in [`Config`].
//!
//! # Using it
//! - [`Store::open`] opens (or creates, migrates, or recovers) `history.sqlite3` in the folder
//!   given, and says what happened in an [`OpenNote`];
//! - [`Store::record`] takes a batch of [`Sample`]s (raw cumulative counters, signal, presence)
//!   in one transaction; [`Store::record_speed_test`], [`Store::record_event`];
//! - chart queries in [`query`]: [`Store::device_usage`], [`Store::home_usage`],
//!   [`Store::line_usage`], [`Store::signal`], [`Store::online_timeline`],
//!   [`Store::speed_tests`], [`Store::events`], [`Store::last_seen`], [`Store::devices`];
//! - [`Store::record_agent_boot`] / [`Store::agent_boot`]: each router's last known boot, so a
//!   restart while the app was closed is noticed;
//! - [`Store::maintain`] applies retention and the size cap (run it now and then, e.g. hourly);
//! - from async code, [`StoreHandle`] runs the store on its own thread.
//!
//! # Bounds (inputs from devices are hostile)
//! - Keys (host identifiers) are 1 to [`MAX_KEY_BYTES`] bytes without control characters;
//!   others are dropped and counted in [`RecordOutcome::invalid`].
//! - At most [`Config::max_devices`] devices are tracked. A new device beyond that replaces the
//!   least recently seen device, if that one has not been seen for [`EVICT_AFTER_IDLE_SECS`]
//!   (its history is then forgotten); otherwise the new device's samples are dropped and counted
//!   in [`RecordOutcome::over_device_cap`]. A flood of made-up devices can thus never push out a
//!   device that is in use.
//! - Counters follow the rule in [`counter`]; an online/offline flapping device adds at most one
//!   period per [`PRESENCE_MERGE_SECS`]; the event log keeps at most [`Config::max_events`].
#![warn(missing_docs)]

mod boots;
pub mod counter;
mod error;
pub mod fill;
mod handle;
mod maintain;
pub mod query;
mod schema;
mod store;

pub use boots::{AgentBoot, MAX_AGENT_BOOTS};
pub use error::{Error, OpenNote, Result};
pub use handle::StoreHandle;
pub use maintain::MaintainReport;
pub use query::{DeviceKind, DeviceSummary, Event, OnlinePeriod, SignalPoint, Span, SpeedTest, Step, UsagePoint};
pub use schema::CURRENT_VERSION;
pub use store::{RecordOutcome, Sample, Store, FILE_NAME};

/// The longest host identifier kept, in bytes.
pub const MAX_KEY_BYTES: usize = 128;
/// A device must have been unseen this long before a new one may take its place at the cap.
pub const EVICT_AFTER_IDLE_SECS: i64 = 24 * 3600;
/// A device that comes back online within this many seconds of going offline continues its
/// previous online period.
pub const PRESENCE_MERGE_SECS: i64 = 60;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Retention, size and trust settings. [`Config::default`] holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long raw samples are kept (default 7 days).
    pub raw_retention_secs: i64,
    /// How long hourly buckets and online periods are kept (default 90 days).
    pub hourly_retention_secs: i64,
    /// How long daily buckets, speed tests and events are kept (default 2 years).
    pub daily_retention_secs: i64,
    /// The most the file may use, in bytes (default 256 MiB); [`Store::maintain`] drops the
    /// oldest detail first to stay under it.
    pub max_bytes: u64,
    /// The most devices tracked (default 2000).
    pub max_devices: u32,
    /// The most events kept (default 10 000; the oldest go first).
    pub max_events: u32,
    /// The fastest a counter may plausibly grow, bytes per second (default 10 Gbit/s).
    pub max_rate_bytes_per_sec: u64,
    /// The devices' counters are 32 bits wide, so a drop from the upper half of that range is a
    /// wrap (default false: TR-181 byte counters are 64-bit; see [`counter`]).
    pub wrap_32bit: bool,
    /// The local time's offset from UTC, seconds, for day buckets (default 0).
    pub utc_offset_secs: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            raw_retention_secs: 7 * DAY,
            hourly_retention_secs: 90 * DAY,
            daily_retention_secs: 730 * DAY,
            max_bytes: 256 * 1024 * 1024,
            max_devices: 2000,
            max_events: 10_000,
            max_rate_bytes_per_sec: 1_250_000_000,
            wrap_32bit: false,
            utc_offset_secs: 0,
        }
    }
}

/// The start of the hour holding `ts`.
pub(crate) fn hour_start(ts: i64) -> i64 {
    ts - ts.rem_euclid(HOUR)
}

/// The start (UTC seconds) of the local day holding `ts`, for a fixed UTC offset.
pub(crate) fn day_start(ts: i64, utc_offset_secs: i32) -> i64 {
    let off = i64::from(utc_offset_secs);
    let local = ts.saturating_add(off);
    local - local.rem_euclid(DAY) - off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_local_boundaries() {
        assert_eq!(hour_start(7199), 3600);
        assert_eq!(hour_start(-1), -3600);
        assert_eq!(day_start(DAY + 5, 0), DAY);
        // UTC+2: local midnight is 22:00 UTC the day before.
        assert_eq!(day_start(DAY + 5, 7200), DAY - 7200);
        assert_eq!(day_start(DAY - 7200, 7200), DAY - 7200);
        assert_eq!(day_start(DAY - 7201, 7200), -7200);
    }
}
