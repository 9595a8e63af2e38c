//! Opening the file (create, migrate, recover) and recording samples.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction};

use crate::counter::counter_step;
use crate::query::{DeviceKind, Event, SpeedTest};
use crate::schema::{self, CURRENT_VERSION};
use crate::{day_start, hour_start, Config, Error, OpenNote, Result};
use crate::{EVICT_AFTER_IDLE_SECS, MAX_KEY_BYTES, PRESENCE_MERGE_SECS};

/// The history file's name inside the data folder.
pub const FILE_NAME: &str = "history.sqlite3";

/// Times outside 1970..3000 are dropped as invalid.
pub(crate) const MAX_TS: i64 = 32_503_680_000;
/// Longest text kept for speed test servers/sources and event kinds (bytes).
const MAX_LABEL_BYTES: usize = 256;
/// Longest event message kept (bytes).
const MAX_MESSAGE_BYTES: usize = 1024;

/// One observation handed to [`Store::record`]. Keys identify the device (for hosts, e.g. its
/// MAC address as `Hosts.Host.{i}.PhysAddress` gives it; the app decides, consistently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sample {
    /// A host's cumulative traffic counters (`Hosts.Host.{i}.WANStats`): `down_total` is
    /// `BytesReceived`, `up_total` is `BytesSent`.
    Traffic {
        /// The host's key.
        key: String,
        /// When the counters were read (Unix seconds).
        at: i64,
        /// Bytes received by the host, cumulative.
        down_total: u64,
        /// Bytes sent by the host, cumulative.
        up_total: u64,
    },
    /// The line's (WAN interface's) cumulative counters; `key` names the line (e.g. the gateway).
    Line {
        /// The line's key.
        key: String,
        /// When the counters were read (Unix seconds).
        at: i64,
        /// Bytes received from the internet, cumulative.
        down_total: u64,
        /// Bytes sent to the internet, cumulative.
        up_total: u64,
    },
    /// A WiFi client's signal strength (`AssociatedDevice.{i}.SignalStrength`, dBm, -200..=0).
    Signal {
        /// The client's key (the same as its host key).
        key: String,
        /// When it was read (Unix seconds).
        at: i64,
        /// Signal strength in dBm.
        dbm: i32,
    },
    /// A device was seen online or went offline.
    Presence {
        /// The device's key.
        key: String,
        /// When (Unix seconds).
        at: i64,
        /// Online (true) or offline (false).
        online: bool,
    },
}

/// What [`Store::record`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordOutcome {
    /// Samples stored (including counter baselines).
    pub stored: u32,
    /// Samples not newer than what the store already had for that series.
    pub stale: u32,
    /// Samples with a bad key, time or value.
    pub invalid: u32,
    /// Samples of new devices dropped because the device cap was reached.
    pub over_device_cap: u32,
    /// Counter directions that reset, wrapped or jumped implausibly (see [`crate::counter`]).
    pub counter_discontinuities: u32,
}

/// The history store: one SQLite connection on one file. Not shared between threads; see
/// [`crate::StoreHandle`] for async use.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) cfg: Config,
    pub(crate) path: PathBuf,
    /// Set when devices were removed, so [`Store::maintain`] sweeps their rows.
    pub(crate) orphans: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Why an open failed: the file is damaged (move it aside) or something else (report it).
enum OpenFailure {
    Damaged(String),
    Other(Error),
}

impl From<rusqlite::Error> for OpenFailure {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => OpenFailure::Damaged(e.to_string()),
            _ => OpenFailure::Other(Error::Sqlite(e)),
        }
    }
}

impl Store {
    /// Opens `dir/history.sqlite3`, creating the folder and file if needed, migrating an older
    /// schema, and moving a damaged file aside (to `history.sqlite3.damaged-<now>`) to start a
    /// fresh one. `now` (Unix seconds) only names the moved file. Never panics on a bad file.
    pub fn open(dir: &Path, cfg: Config, now: i64) -> Result<(Store, OpenNote)> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let path = dir.join(FILE_NAME);
        let existed = std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false);
        match Self::try_open(&path) {
            Ok((conn, from)) => {
                let note = match from {
                    _ if !existed => OpenNote::Created,
                    f if f == CURRENT_VERSION => OpenNote::Opened,
                    f => OpenNote::Migrated { from: f, to: CURRENT_VERSION },
                };
                Ok((Self::new(conn, cfg, path), note))
            }
            Err(OpenFailure::Other(e)) => Err(e),
            Err(OpenFailure::Damaged(reason)) => {
                let moved_to = move_aside(&path, now)?;
                let (conn, _) = Self::try_open(&path).map_err(|f| match f {
                    OpenFailure::Other(e) => e,
                    OpenFailure::Damaged(r) => Error::Io { path: path.clone(), source: std::io::Error::other(r) },
                })?;
                Ok((Self::new(conn, cfg, path), OpenNote::Recovered { moved_to, reason }))
            }
        }
    }

    fn new(conn: Connection, cfg: Config, path: PathBuf) -> Store {
        Store { conn, cfg, path, orphans: false }
    }

    /// Opens, checks and migrates; returns the version the file had.
    fn try_open(path: &Path) -> std::result::Result<(Connection, u32), OpenFailure> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Only takes effect on a new file (before any table); older files are converted below.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenFailure::Other(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!("journal mode {mode}, not WAL")),
            }));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 16777216;")?;
        let check: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(OpenFailure::Damaged(format!("integrity check: {check}")));
        }
        let from = schema::version(&conn)?;
        if from > CURRENT_VERSION {
            return Err(OpenFailure::Other(Error::NewerSchema { found: from, supported: CURRENT_VERSION }));
        }
        schema::migrate(&mut conn, from)?;
        let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        if auto_vacuum != 2 {
            // A file from before auto_vacuum was set: VACUUM rewrites it with it on.
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
        }
        Ok((conn, from))
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Records a batch of samples in one transaction. Bad samples are counted, never fatal.
    pub fn record(&mut self, samples: &[Sample]) -> Result<RecordOutcome> {
        let cfg = self.cfg.clone();
        let mut out = RecordOutcome::default();
        let tx = self.conn.transaction()?;
        let mut evicted = false;
        for s in samples {
            let (kind, key, at) = match s {
                Sample::Traffic { key, at, .. } | Sample::Signal { key, at, .. } | Sample::Presence { key, at, .. } => {
                    (DeviceKind::Host, key, *at)
                }
                Sample::Line { key, at, .. } => (DeviceKind::Line, key, *at),
            };
            if !valid_key(key) || !(0..MAX_TS).contains(&at) {
                out.invalid += 1;
                continue;
            }
            if let Sample::Signal { dbm, .. } = s {
                if !(-200..=0).contains(dbm) {
                    out.invalid += 1;
                    continue;
                }
            }
            // An offline report for a device we never saw adds nothing.
            let create = !matches!(s, Sample::Presence { online: false, .. });
            let id = match device_id(&tx, &cfg, kind, key, at, create, &mut evicted)? {
                DeviceSlot::Id(id) => id,
                DeviceSlot::Unknown => {
                    out.stale += 1;
                    continue;
                }
                DeviceSlot::Full => {
                    out.over_device_cap += 1;
                    continue;
                }
            };
            let fresh = match s {
                Sample::Traffic { down_total, up_total, .. } | Sample::Line { down_total, up_total, .. } => {
                    record_counters(&tx, &cfg, id, at, *down_total, *up_total, &mut out)?
                }
                Sample::Signal { dbm, .. } => record_signal(&tx, &cfg, id, at, *dbm)?,
                Sample::Presence { online, .. } => record_presence(&tx, id, at, *online)?,
            };
            if fresh {
                out.stored += 1;
            } else {
                out.stale += 1;
            }
        }
        tx.commit()?;
        self.orphans |= evicted;
        Ok(out)
    }

    /// Keeps a speed test result. Texts are cut to 256 bytes; a non-finite or negative speed is
    /// kept as 0.
    pub fn record_speed_test(&mut self, t: &SpeedTest) -> Result<()> {
        self.conn.execute(
            "INSERT INTO speed_test (ts, source, server, down_mbps, up_mbps) VALUES (?1,?2,?3,?4,?5)",
            params![
                t.at,
                cut(&t.source, MAX_LABEL_BYTES),
                cut(&t.server, MAX_LABEL_BYTES),
                sane_speed(t.down_mbps),
                sane_speed(t.up_mbps)
            ],
        )?;
        Ok(())
    }

    /// Keeps an event (firmware, alert, restart...). Kind and device are cut to 256 bytes, the
    /// message to 1024.
    pub fn record_event(&mut self, e: &Event) -> Result<()> {
        self.conn.execute(
            "INSERT INTO event (ts, kind, device, message) VALUES (?1,?2,?3,?4)",
            params![
                e.at,
                cut(&e.kind, MAX_LABEL_BYTES),
                e.device.as_deref().map(|d| cut(d, MAX_LABEL_BYTES)),
                cut(&e.message, MAX_MESSAGE_BYTES)
            ],
        )?;
        Ok(())
    }
}

/// Moves the damaged file (and its WAL and shared-memory files) aside; returns the new name.
fn move_aside(path: &Path, now: i64) -> Result<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| FILE_NAME.to_owned());
    let mut target = path.with_file_name(format!("{name}.damaged-{now}"));
    let mut n = 1;
    while target.exists() && n < 1000 {
        target = path.with_file_name(format!("{name}.damaged-{now}-{n}"));
        n += 1;
    }
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    std::fs::rename(path, &target).map_err(io)?;
    for suffix in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("{name}{suffix}"));
        if side.exists() {
            let to = target.with_file_name(format!(
                "{}{suffix}",
                target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
            ));
            std::fs::rename(&side, to).map_err(io)?;
        }
    }
    Ok(target)
}

pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES && !key.chars().any(char::is_control)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn sane_speed(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v
    } else {
        0.0
    }
}

enum DeviceSlot {
    Id(i64),
    /// Not tracked and not to be created.
    Unknown,
    /// Not tracked, and the cap leaves no room.
    Full,
}

/// Finds (or adds, under the cap rule) the device and moves its last-seen time forward.
fn device_id(
    tx: &Transaction<'_>,
    cfg: &Config,
    kind: DeviceKind,
    key: &str,
    at: i64,
    create: bool,
    evicted: &mut bool,
) -> Result<DeviceSlot> {
    let found: Option<(i64, i64)> = tx
        .prepare_cached("SELECT id, last_seen FROM device WHERE kind = ?1 AND key = ?2")?
        .query_row(params![kind as i64, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, last_seen)) = found {
        if at > last_seen {
            tx.prepare_cached("UPDATE device SET last_seen = ?2 WHERE id = ?1")?.execute(params![id, at])?;
        }
        return Ok(DeviceSlot::Id(id));
    }
    if !create {
        return Ok(DeviceSlot::Unknown);
    }
    let count: i64 = tx.prepare_cached("SELECT COUNT(*) FROM device")?.query_row([], |r| r.get(0))?;
    if count >= i64::from(cfg.max_devices) {
        let victim: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM device WHERE last_seen < ?1 \
                 AND id NOT IN (SELECT device_id FROM presence WHERE end IS NULL) \
                 ORDER BY last_seen LIMIT 1",
            )?
            .query_row(params![at.saturating_sub(EVICT_AFTER_IDLE_SECS)], |r| r.get(0))
            .optional()?;
        let Some(victim) = victim else {
            return Ok(DeviceSlot::Full);
        };
        forget_device(tx, victim)?;
        *evicted = true;
    }
    tx.prepare_cached("INSERT INTO device (kind, key, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)")?
        .execute(params![kind as i64, key, at])?;
    Ok(DeviceSlot::Id(tx.last_insert_rowid()))
}

/// Removes a device and its small per-device state; its bucket rows are swept by maintain.
pub(crate) fn forget_device(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM device WHERE id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM counter_state WHERE device_id = ?1")?.execute([id])?;
    tx.prepare_cached("DELETE FROM presence WHERE device_id = ?1")?.execute([id])?;
    Ok(())
}

fn to_sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Applies the counter rule; returns whether the sample was new.
fn record_counters(
    tx: &Transaction<'_>,
    cfg: &Config,
    id: i64,
    at: i64,
    down: u64,
    up: u64,
    out: &mut RecordOutcome,
) -> Result<bool> {
    let prev: Option<(i64, i64, i64)> = tx
        .prepare_cached("SELECT ts, down, up FROM counter_state WHERE device_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    // Raw counters are stored bit for bit (a u64 may exceed i64::MAX).
    tx.prepare_cached(
        "INSERT INTO counter_state (device_id, ts, down, up) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (device_id) DO UPDATE SET ts = excluded.ts, down = excluded.down, up = excluded.up \
         WHERE excluded.ts > counter_state.ts",
    )?
    .execute(params![id, at, down as i64, up as i64])?;
    let Some((pts, pdown, pup)) = prev else {
        return Ok(true); // baseline
    };
    if at <= pts {
        return Ok(false);
    }
    let d = counter_step(pdown as u64, down, at - pts, cfg.max_rate_bytes_per_sec, cfg.wrap_32bit);
    let u = counter_step(pup as u64, up, at - pts, cfg.max_rate_bytes_per_sec, cfg.wrap_32bit);
    out.counter_discontinuities += u32::from(d.is_discontinuity()) + u32::from(u.is_discontinuity());
    let (dd, du) = (to_sql_u64(d.usage()), to_sql_u64(u.usage()));
    if dd == 0 && du == 0 {
        return Ok(true); // nothing used: no rows (idle devices cost nothing)
    }
    tx.prepare_cached("INSERT OR IGNORE INTO traffic_raw (ts, device_id, down, up) VALUES (?1,?2,?3,?4)")?
        .execute(params![at, id, dd, du])?;
    for (sql, bucket) in [
        (
            "INSERT INTO traffic_hour (bucket, device_id, down, up) VALUES (?1,?2,?3,?4) \
             ON CONFLICT DO UPDATE SET down = down + excluded.down, up = up + excluded.up",
            hour_start(at),
        ),
        (
            "INSERT INTO traffic_day (bucket, device_id, down, up) VALUES (?1,?2,?3,?4) \
             ON CONFLICT DO UPDATE SET down = down + excluded.down, up = up + excluded.up",
            day_start(at, cfg.utc_offset_secs),
        ),
    ] {
        tx.prepare_cached(sql)?.execute(params![bucket, id, dd, du])?;
    }
    Ok(true)
}

fn record_signal(tx: &Transaction<'_>, cfg: &Config, id: i64, at: i64, dbm: i32) -> Result<bool> {
    let n = tx
        .prepare_cached("INSERT OR IGNORE INTO signal_raw (ts, device_id, dbm) VALUES (?1,?2,?3)")?
        .execute(params![at, id, dbm])?;
    if n == 0 {
        return Ok(false); // the same time twice
    }
    for (sql, bucket) in [
        (
            "INSERT INTO signal_hour (bucket, device_id, n, sum, lo, hi) VALUES (?1,?2,1,?3,?3,?3) \
             ON CONFLICT DO UPDATE SET n = n + 1, sum = sum + excluded.sum, \
             lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
            hour_start(at),
        ),
        (
            "INSERT INTO signal_day (bucket, device_id, n, sum, lo, hi) VALUES (?1,?2,1,?3,?3,?3) \
             ON CONFLICT DO UPDATE SET n = n + 1, sum = sum + excluded.sum, \
             lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
            day_start(at, cfg.utc_offset_secs),
        ),
    ] {
        tx.prepare_cached(sql)?.execute(params![bucket, id, dbm])?;
    }
    Ok(true)
}

fn record_presence(tx: &Transaction<'_>, id: i64, at: i64, online: bool) -> Result<bool> {
    let last: Option<(i64, i64, Option<i64>)> = tx
        .prepare_cached("SELECT id, start, end FROM presence WHERE device_id = ?1 ORDER BY start DESC LIMIT 1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match (online, last) {
        // Already online, or a report older than what we know.
        (true, Some((_, start, None))) => Ok(at >= start),
        (true, Some((_, _, Some(end)))) if at < end => Ok(false),
        (true, Some((pid, _, Some(end)))) if at - end <= PRESENCE_MERGE_SECS => {
            tx.prepare_cached("UPDATE presence SET end = NULL WHERE id = ?1")?.execute([pid])?;
            Ok(true)
        }
        (true, _) => {
            tx.prepare_cached("INSERT INTO presence (device_id, start, end) VALUES (?1, ?2, NULL)")?
                .execute(params![id, at])?;
            Ok(true)
        }
        (false, Some((pid, start, None))) if at >= start => {
            tx.prepare_cached("UPDATE presence SET end = ?2 WHERE id = ?1")?.execute(params![pid, at])?;
            Ok(true)
        }
        (false, _) => Ok(false),
    }
}
