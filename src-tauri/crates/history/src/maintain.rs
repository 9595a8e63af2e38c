//! Retention, the size cap, and housekeeping: [`Store::maintain`].
//!
//! Downsampling happens as samples arrive (each usage delta and signal sample is added to its
//! hour and day bucket in the same transaction), so `maintain` only has to drop what is past its
//! retention:
//! - raw samples (`traffic_raw`, `signal_raw`) older than [`Config::raw_retention_secs`];
//! - hourly buckets and online periods that ended before [`Config::hourly_retention_secs`];
//! - daily buckets, speed tests and events older than [`Config::daily_retention_secs`], and
//!   events beyond [`Config::max_events`] (the oldest);
//! - devices not seen within the daily retention (nothing of theirs is left to show).
//!
//! Then the size cap: while the data uses more than [`Config::max_bytes`], the oldest detail
//! goes first: raw samples a day at a time (the hourly and daily totals keep their usage), then
//! hourly buckets a week at a time, then daily buckets, speed tests and events a month at a time.
//! Freed pages are returned to the file system (incremental vacuum) and the WAL is truncated.
//!
//! [`Config::raw_retention_secs`]: crate::Config::raw_retention_secs
//! [`Config::hourly_retention_secs`]: crate::Config::hourly_retention_secs
//! [`Config::daily_retention_secs`]: crate::Config::daily_retention_secs
//! [`Config::max_events`]: crate::Config::max_events
//! [`Config::max_bytes`]: crate::Config::max_bytes

use rusqlite::params;

use crate::store::forget_device;
use crate::{Result, Store, DAY};

/// What [`Store::maintain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Rows removed by retention.
    pub expired_rows: u64,
    /// Rows removed to honour the size cap.
    pub trimmed_rows: u64,
    /// Devices forgotten (unseen for the whole daily retention).
    pub forgotten_devices: u64,
    /// Bytes the data used before.
    pub bytes_before: u64,
    /// Bytes the data uses now.
    pub bytes_after: u64,
}

/// Tiers of detail for the size cap, finest first: the tables and how much to drop per step.
const TIERS: &[(&[(&str, &str)], i64)] = &[
    (&[("traffic_raw", "ts"), ("signal_raw", "ts")], DAY),
    (&[("traffic_hour", "bucket"), ("signal_hour", "bucket")], 7 * DAY),
    (&[("traffic_day", "bucket"), ("signal_day", "bucket"), ("speed_test", "ts"), ("event", "ts")], 30 * DAY),
];

/// Tables with a `device_id` column, swept when devices are forgotten.
const DEVICE_TABLES: &[&str] = &[
    "traffic_raw",
    "traffic_hour",
    "traffic_day",
    "signal_raw",
    "signal_hour",
    "signal_day",
    "counter_state",
    "presence",
];

impl Store {
    /// Applies retention and the size cap as of `now` (Unix seconds). Run it now and then (for
    /// example hourly); it takes a moment on a large file.
    pub fn maintain(&mut self, now: i64) -> Result<MaintainReport> {
        let mut report = MaintainReport { bytes_before: self.used_bytes()?, ..MaintainReport::default() };
        let raw_cut = now.saturating_sub(self.cfg.raw_retention_secs);
        let hour_cut = now.saturating_sub(self.cfg.hourly_retention_secs);
        let day_cut = now.saturating_sub(self.cfg.daily_retention_secs);
        let tx = self.conn.transaction()?;
        let mut expired = 0usize;
        for (sql, cut) in [
            ("DELETE FROM traffic_raw WHERE ts < ?1", raw_cut),
            ("DELETE FROM signal_raw WHERE ts < ?1", raw_cut),
            ("DELETE FROM traffic_hour WHERE bucket < ?1", hour_cut),
            ("DELETE FROM signal_hour WHERE bucket < ?1", hour_cut),
            ("DELETE FROM presence WHERE end IS NOT NULL AND end < ?1", hour_cut),
            ("DELETE FROM traffic_day WHERE bucket < ?1", day_cut),
            ("DELETE FROM signal_day WHERE bucket < ?1", day_cut),
            ("DELETE FROM speed_test WHERE ts < ?1", day_cut),
            ("DELETE FROM event WHERE ts < ?1", day_cut),
            ("DELETE FROM agent_boot WHERE seen < ?1", day_cut),
        ] {
            expired += tx.execute(sql, [cut])?;
        }
        expired += tx.execute(
            "DELETE FROM event WHERE id IN (SELECT id FROM event ORDER BY ts DESC, id DESC \
             LIMIT -1 OFFSET ?1)",
            [self.cfg.max_events],
        )?;
        let gone: Vec<i64> = tx
            .prepare(
                "SELECT id FROM device WHERE last_seen < ?1 \
                 AND id NOT IN (SELECT device_id FROM presence WHERE end IS NULL)",
            )?
            .query_map([day_cut], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &gone {
            forget_device(&tx, *id)?;
        }
        report.forgotten_devices = gone.len() as u64;
        if self.orphans || !gone.is_empty() {
            for table in DEVICE_TABLES {
                expired +=
                    tx.execute(&format!("DELETE FROM {table} WHERE device_id NOT IN (SELECT id FROM device)"), [])?;
            }
        }
        tx.commit()?;
        self.orphans = false;
        report.expired_rows = expired as u64;
        self.reclaim()?;
        report.trimmed_rows = self.enforce_size_cap()?;
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        report.bytes_after = self.used_bytes()?;
        Ok(report)
    }

    /// Bytes the data uses: pages in use times page size (free pages not counted).
    pub fn used_bytes(&self) -> Result<u64> {
        let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self.conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        Ok(u64::try_from((pages - free).max(0) * page_size).unwrap_or(0))
    }

    /// The size of the file and its WAL on disk, bytes.
    pub fn file_bytes(&self) -> u64 {
        let wal = self.path.with_file_name(format!("{}-wal", crate::FILE_NAME));
        [&self.path, &wal].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }

    /// Gives free pages back to the file system.
    fn reclaim(&self) -> Result<()> {
        // Each step of this pragma frees pages; it must be stepped until done (a single
        // `execute` stops after the first).
        let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// Drops the oldest detail first until the data fits in `max_bytes`; returns rows removed.
    fn enforce_size_cap(&mut self) -> Result<u64> {
        let mut removed = 0u64;
        // Bounded: each step removes the oldest slice of a tier; a tier empties in at most
        // (span / slice) steps, and the loop also stops after 10 000 steps whatever happens.
        for _ in 0..10_000 {
            if self.used_bytes()? <= self.cfg.max_bytes {
                break;
            }
            let Some((tables, slice, oldest)) = self.oldest_tier()? else {
                break; // nothing left to drop
            };
            let tx = self.conn.transaction()?;
            for (table, col) in tables {
                removed += tx
                    .execute(&format!("DELETE FROM {table} WHERE {col} < ?1"), params![oldest.saturating_add(slice)])?
                    as u64;
            }
            tx.commit()?;
            self.reclaim()?;
        }
        Ok(removed)
    }

    /// The finest tier that still has rows, with its oldest time.
    #[allow(clippy::type_complexity)]
    fn oldest_tier(&self) -> Result<Option<(&'static [(&'static str, &'static str)], i64, i64)>> {
        for (tables, slice) in TIERS {
            let mut oldest: Option<i64> = None;
            for (table, col) in *tables {
                let min: Option<i64> =
                    self.conn.query_row(&format!("SELECT MIN({col}) FROM {table}"), [], |r| r.get(0))?;
                oldest = match (oldest, min) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            if let Some(oldest) = oldest {
                return Ok(Some((tables, *slice, oldest)));
            }
        }
        Ok(None)
    }
}
