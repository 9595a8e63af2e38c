//! The queries behind the charts, and their result types.
//!
//! Ranges are half-open `[from, to)` in Unix seconds. Usage series are filled with zero buckets
//! so a chart can draw them as they come; signal buckets are only those with samples (a gap is
//! "not connected", not "0 dBm").

use rusqlite::{params, OptionalExtension};

use crate::store::valid_key;
use crate::{day_start, hour_start, Error, Result, Store, DAY, HOUR};

/// The most buckets one query returns.
pub const MAX_POINTS: u64 = 2000;

/// What a device row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum DeviceKind {
    /// A host in the home (`Hosts.Host.{i}`).
    Host = 0,
    /// The internet line (the WAN interface of a gateway).
    Line = 1,
}

/// Bucket size of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Hours (from the hourly buckets, kept for [`crate::Config::hourly_retention_secs`]).
    Hour,
    /// Local days (from the daily buckets, kept for [`crate::Config::daily_retention_secs`]).
    Day,
}

/// A chart's time span: `[from, to)` in buckets of `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start (inclusive), Unix seconds.
    pub from: i64,
    /// End (exclusive), Unix seconds.
    pub to: i64,
    /// Bucket size.
    pub step: Step,
}

/// Usage in one bucket, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePoint {
    /// The bucket's start, Unix seconds.
    pub start: i64,
    /// Bytes downloaded (received by the device / from the internet).
    pub down: u64,
    /// Bytes uploaded.
    pub up: u64,
}

/// Signal strength in one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalPoint {
    /// The bucket's start, Unix seconds.
    pub start: i64,
    /// Number of samples.
    pub samples: u32,
    /// Mean, dBm.
    pub avg_dbm: f64,
    /// Weakest, dBm.
    pub min_dbm: i32,
    /// Strongest, dBm.
    pub max_dbm: i32,
}

/// One period a device was online; `end` is `None` while it still is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnlinePeriod {
    /// Came online, Unix seconds.
    pub start: i64,
    /// Went offline, Unix seconds.
    pub end: Option<i64>,
}

/// A speed test result.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedTest {
    /// When it ran, Unix seconds.
    pub at: i64,
    /// Which gateway ran it (the app's key for it).
    pub source: String,
    /// The test server (URL or name).
    pub server: String,
    /// Download, Mbit/s.
    pub down_mbps: f64,
    /// Upload, Mbit/s.
    pub up_mbps: f64,
}

/// An entry of the event log (firmware, alerts, restarts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When, Unix seconds.
    pub at: i64,
    /// A short machine word, e.g. `firmware`, `alert`, `restart`.
    pub kind: String,
    /// The device concerned, if any.
    pub device: Option<String>,
    /// The words to show.
    pub message: String,
}

/// A tracked device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// Its key.
    pub key: String,
    /// Host or line.
    pub kind: DeviceKind,
    /// First sample, Unix seconds.
    pub first_seen: i64,
    /// Latest sample or online report, Unix seconds.
    pub last_seen: i64,
    /// Whether it has an open online period.
    pub online: bool,
}

impl Store {
    /// Today (the local day holding `now`) in hours.
    pub fn today(&self, now: i64) -> Span {
        let from = day_start(now, self.cfg.utc_offset_secs);
        Span { from, to: from + DAY, step: Step::Hour }
    }

    /// The last `days` local days, today included, in days (7 and 30 for the charts).
    pub fn last_days(&self, now: i64, days: u32) -> Span {
        let today = day_start(now, self.cfg.utc_offset_secs);
        Span { from: today - (i64::from(days.max(1)) - 1) * DAY, to: today + DAY, step: Step::Day }
    }

    /// A host's usage per bucket; empty if the key is unknown.
    pub fn device_usage(&self, key: &str, span: Span) -> Result<Vec<UsagePoint>> {
        self.usage_of(DeviceKind::Host, key, span)
    }

    /// A line's usage per bucket; empty if the key is unknown.
    pub fn line_usage(&self, key: &str, span: Span) -> Result<Vec<UsagePoint>> {
        self.usage_of(DeviceKind::Line, key, span)
    }

    fn usage_of(&self, kind: DeviceKind, key: &str, span: Span) -> Result<Vec<UsagePoint>> {
        let buckets = self.buckets(span)?;
        let Some(id) = self.id_of(kind, key)? else {
            return Ok(Vec::new());
        };
        let sql = match span.step {
            Step::Hour => {
                "SELECT bucket, down, up FROM traffic_hour WHERE bucket >= ?1 AND bucket < ?2 AND device_id = ?3"
            }
            Step::Day => {
                "SELECT bucket, down, up FROM traffic_day WHERE bucket >= ?1 AND bucket < ?2 AND device_id = ?3"
            }
        };
        self.fill_usage(sql, params![buckets.0, span.to, id], buckets)
    }

    /// The whole home's usage per bucket: the sum over all hosts.
    pub fn home_usage(&self, span: Span) -> Result<Vec<UsagePoint>> {
        let buckets = self.buckets(span)?;
        let sql = match span.step {
            Step::Hour => "SELECT bucket, SUM(down), SUM(up) FROM traffic_hour WHERE bucket >= ?1 AND bucket < ?2 AND device_id IN (SELECT id FROM device WHERE kind = 0) GROUP BY bucket",
            Step::Day => "SELECT bucket, SUM(down), SUM(up) FROM traffic_day WHERE bucket >= ?1 AND bucket < ?2 AND device_id IN (SELECT id FROM device WHERE kind = 0) GROUP BY bucket",
        };
        self.fill_usage(sql, params![buckets.0, span.to], buckets)
    }

    /// A WiFi client's signal per bucket (only buckets with samples).
    pub fn signal(&self, key: &str, span: Span) -> Result<Vec<SignalPoint>> {
        let (first, _, _) = self.buckets(span)?;
        let Some(id) = self.id_of(DeviceKind::Host, key)? else {
            return Ok(Vec::new());
        };
        let sql = match span.step {
            Step::Hour => "SELECT bucket, n, sum, lo, hi FROM signal_hour WHERE bucket >= ?1 AND bucket < ?2 AND device_id = ?3 ORDER BY bucket",
            Step::Day => "SELECT bucket, n, sum, lo, hi FROM signal_day WHERE bucket >= ?1 AND bucket < ?2 AND device_id = ?3 ORDER BY bucket",
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![first, span.to, id], |r| {
            let n: i64 = r.get(1)?;
            let sum: i64 = r.get(2)?;
            Ok(SignalPoint {
                start: r.get(0)?,
                samples: u32::try_from(n).unwrap_or(u32::MAX),
                avg_dbm: if n > 0 { sum as f64 / n as f64 } else { 0.0 },
                min_dbm: r.get(3)?,
                max_dbm: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A device's online periods overlapping `[from, to)`, oldest first, clipped to the range
    /// (an open period stays open).
    pub fn online_timeline(&self, key: &str, from: i64, to: i64) -> Result<Vec<OnlinePeriod>> {
        let Some(id) = self.id_of(DeviceKind::Host, key)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT start, end FROM presence WHERE device_id = ?1 AND start < ?3 \
             AND (end IS NULL OR end > ?2) ORDER BY start LIMIT 5000",
        )?;
        let rows = stmt.query_map(params![id, from, to], |r| {
            let start: i64 = r.get(0)?;
            let end: Option<i64> = r.get(1)?;
            Ok(OnlinePeriod { start: start.max(from), end: end.map(|e| e.min(to)) })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Speed tests in `[from, to)`, newest first, at most `limit` (capped at 2000).
    pub fn speed_tests(&self, from: i64, to: i64, limit: u32) -> Result<Vec<SpeedTest>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts, source, server, down_mbps, up_mbps FROM speed_test \
             WHERE ts >= ?1 AND ts < ?2 ORDER BY ts DESC, id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![from, to, limit.min(2000)], |r| {
            Ok(SpeedTest {
                at: r.get(0)?,
                source: r.get(1)?,
                server: r.get(2)?,
                down_mbps: r.get(3)?,
                up_mbps: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Events in `[from, to)`, newest first, at most `limit` (capped at 2000).
    pub fn events(&self, from: i64, to: i64, limit: u32) -> Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts, kind, device, message FROM event \
             WHERE ts >= ?1 AND ts < ?2 ORDER BY ts DESC, id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![from, to, limit.min(2000)], |r| {
            Ok(Event { at: r.get(0)?, kind: r.get(1)?, device: r.get(2)?, message: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When a host was last seen (latest sample or online report), if it is tracked.
    pub fn last_seen(&self, key: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT last_seen FROM device WHERE kind = 0 AND key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Every tracked device, most recently seen first.
    pub fn devices(&self) -> Result<Vec<DeviceSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, kind, first_seen, last_seen, \
             EXISTS (SELECT 1 FROM presence p WHERE p.device_id = d.id AND p.end IS NULL) \
             FROM device d ORDER BY last_seen DESC, key",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind: i64 = r.get(1)?;
            Ok(DeviceSummary {
                key: r.get(0)?,
                kind: if kind == 1 { DeviceKind::Line } else { DeviceKind::Host },
                first_seen: r.get(2)?,
                last_seen: r.get(3)?,
                online: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn id_of(&self, kind: DeviceKind, key: &str) -> Result<Option<i64>> {
        if !valid_key(key) {
            return Ok(None);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM device WHERE kind = ?1 AND key = ?2")?
            .query_row(params![kind as i64, key], |r| r.get(0))
            .optional()?)
    }

    /// First bucket start, bucket width and count for a span.
    fn buckets(&self, span: Span) -> Result<(i64, i64, u64)> {
        let (first, width) = match span.step {
            Step::Hour => (hour_start(span.from), HOUR),
            Step::Day => (day_start(span.from, self.cfg.utc_offset_secs), DAY),
        };
        let count =
            if span.to > first { u64::try_from((span.to - first + width - 1) / width).unwrap_or(u64::MAX) } else { 0 };
        if count > MAX_POINTS {
            return Err(Error::RangeTooLarge { asked: count, max: MAX_POINTS });
        }
        Ok((first, width, count))
    }

    fn fill_usage(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        (first, width, count): (i64, i64, u64),
    ) -> Result<Vec<UsagePoint>> {
        let mut points: Vec<UsagePoint> =
            (0..count as i64).map(|i| UsagePoint { start: first + i * width, down: 0, up: 0 }).collect();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        while let Some(r) = rows.next()? {
            let bucket: i64 = r.get(0)?;
            let down: i64 = r.get(1)?;
            let up: i64 = r.get(2)?;
            let i = (bucket - first) / width;
            if let Some(p) = usize::try_from(i).ok().and_then(|i| points.get_mut(i)) {
                p.down = p.down.saturating_add(down.max(0) as u64);
                p.up = p.up.saturating_add(up.max(0) as u64);
            }
        }
        Ok(points)
    }
}
