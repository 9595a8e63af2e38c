//! The versioned schema and its migrations (`PRAGMA user_version`).
//!
//! Each migration takes the file from version `n` to `n + 1` in one transaction, so a file is
//! always at a version this code knows: a new file runs them all, an old one the ones it lacks.
//!
//! Layout, version 3 (all times are Unix seconds, UTC; all byte counts are usage, not raw
//! counters):
//! - `device`: every tracked host (kind 0) or line (kind 1) by its key, with first/last seen;
//! - `counter_state`: the last raw counters of each device, for the rule in [`crate::counter`];
//! - `traffic_raw` / `traffic_hour` / `traffic_day`: usage per sample / hour / local day; the
//!   hour and day buckets are added to as samples arrive (downsampling never lags behind);
//! - `signal_raw` / `signal_hour` / `signal_day`: WiFi signal (dBm): each sample, and per bucket
//!   the count, sum, lowest and highest;
//! - `presence`: online periods (`end` empty while online);
//! - `speed_test`, `event`: small logs;
//! - `agent_boot`: when each router (USP agent) last booted and when it was last seen so, for
//!   "it restarted while usp-home was closed" (version 3).
//!
//! Bucket tables are keyed `(bucket, device_id)`: a chart's time range is one contiguous range of
//! the key, whatever the number of devices, and retention deletes a prefix.

use rusqlite::{Connection, Transaction};

/// The schema version this code writes.
pub const CURRENT_VERSION: u32 = 3;

/// Version 1: hosts and their traffic only (the first release of the store).
const V1: &str = "
CREATE TABLE device (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE counter_state (
    device_id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    down INTEGER NOT NULL,
    up INTEGER NOT NULL
);
CREATE TABLE traffic_raw (
    ts INTEGER NOT NULL, device_id INTEGER NOT NULL, down INTEGER NOT NULL, up INTEGER NOT NULL,
    PRIMARY KEY (ts, device_id)
) WITHOUT ROWID;
CREATE TABLE traffic_hour (
    bucket INTEGER NOT NULL, device_id INTEGER NOT NULL, down INTEGER NOT NULL, up INTEGER NOT NULL,
    PRIMARY KEY (bucket, device_id)
) WITHOUT ROWID;
CREATE TABLE traffic_day (
    bucket INTEGER NOT NULL, device_id INTEGER NOT NULL, down INTEGER NOT NULL, up INTEGER NOT NULL,
    PRIMARY KEY (bucket, device_id)
) WITHOUT ROWID;
";

/// Version 2: devices get a kind (host or line: the same key may be both), and signal, presence,
/// speed tests and events arrive.
const V2: &str = "
CREATE TABLE device_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    UNIQUE (kind, key)
);
INSERT INTO device_v2 (id, kind, key, first_seen, last_seen)
    SELECT id, 0, key, first_seen, last_seen FROM device;
DROP TABLE device;
ALTER TABLE device_v2 RENAME TO device;
CREATE INDEX device_last_seen ON device (last_seen);
CREATE TABLE signal_raw (
    ts INTEGER NOT NULL, device_id INTEGER NOT NULL, dbm INTEGER NOT NULL,
    PRIMARY KEY (ts, device_id)
) WITHOUT ROWID;
CREATE TABLE signal_hour (
    bucket INTEGER NOT NULL, device_id INTEGER NOT NULL,
    n INTEGER NOT NULL, sum INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (bucket, device_id)
) WITHOUT ROWID;
CREATE TABLE signal_day (
    bucket INTEGER NOT NULL, device_id INTEGER NOT NULL,
    n INTEGER NOT NULL, sum INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (bucket, device_id)
) WITHOUT ROWID;
CREATE TABLE presence (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER
);
CREATE INDEX presence_device ON presence (device_id, start);
CREATE INDEX presence_start ON presence (start);
CREATE TABLE speed_test (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    source TEXT NOT NULL,
    server TEXT NOT NULL,
    down_mbps REAL NOT NULL,
    up_mbps REAL NOT NULL
);
CREATE INDEX speed_test_ts ON speed_test (ts);
CREATE TABLE event (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    device TEXT,
    message TEXT NOT NULL
);
CREATE INDEX event_ts ON event (ts);
";

/// Version 3: each agent's last known boot time (from its UpTime) and when it was seen running
/// that boot, so that a restart while the app was closed is noticed at the next start.
const V3: &str = "
CREATE TABLE agent_boot (
    agent TEXT PRIMARY KEY,
    boot INTEGER NOT NULL,
    seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX agent_boot_seen ON agent_boot (seen);
";

/// The migrations, in order: `MIGRATIONS[n]` takes version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The file's schema version.
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
}

/// Runs the migrations from `from` to [`CURRENT_VERSION`], each in its own transaction.
pub fn migrate(conn: &mut Connection, from: u32) -> rusqlite::Result<()> {
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx: Transaction<'_> = conn.transaction()?;
        tx.execute_batch(sql)?;
        // user_version takes no bound parameter; n is our own small integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", n + 1))?;
        tx.commit()?;
    }
    Ok(())
}
