//! Files written by earlier releases (schema versions 1 and 2) open with today's code, data kept.

use rusqlite::Connection;
use usp_history::{AgentBoot, Config, OpenNote, Sample, Store, CURRENT_VERSION, FILE_NAME};

const T0: i64 = 1_704_067_200; // 2024-01-01 00:00:00 UTC
const H: i64 = 3600;

/// Version 1 as the first release wrote it (rollback journal, no auto_vacuum), written here
/// by hand so that this test does not depend on the code it checks.
fn write_v1(dir: &std::path::Path) {
    let conn = Connection::open(dir.join(FILE_NAME)).expect("create v1");
    conn.execute_batch(
        "
        CREATE TABLE device (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL
        );
        CREATE TABLE counter_state (
            device_id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL
        );
        CREATE TABLE traffic_raw (
            ts INTEGER NOT NULL, device_id INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL, PRIMARY KEY (ts, device_id)
        ) WITHOUT ROWID;
        CREATE TABLE traffic_hour (
            bucket INTEGER NOT NULL, device_id INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL, PRIMARY KEY (bucket, device_id)
        ) WITHOUT ROWID;
        CREATE TABLE traffic_day (
            bucket INTEGER NOT NULL, device_id INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL, PRIMARY KEY (bucket, device_id)
        ) WITHOUT ROWID;
        INSERT INTO device (id, key, first_seen, last_seen) VALUES
            (1, 'aa:bb:cc:00:00:01', 1704067200, 1704074400),
            (2, 'aa:bb:cc:00:00:02', 1704067200, 1704070800);
        INSERT INTO counter_state VALUES (1, 1704074400, 5000, 500), (2, 1704070800, 70, 7);
        INSERT INTO traffic_raw VALUES (1704070800, 1, 1000, 100), (1704074400, 1, 4000, 400),
            (1704070800, 2, 70, 7);
        INSERT INTO traffic_hour VALUES (1704070800, 1, 1000, 100), (1704074400, 1, 4000, 400),
            (1704070800, 2, 70, 7);
        INSERT INTO traffic_day VALUES (1704067200, 1, 5000, 500), (1704067200, 2, 70, 7);
        PRAGMA user_version = 1;
        ",
    )
    .expect("write v1");
}

#[test]
fn a_version_1_file_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_v1(dir.path());
    let (mut s, note) = Store::open(dir.path(), Config::default(), T0).expect("open");
    assert_eq!(note, OpenNote::Migrated { from: 1, to: CURRENT_VERSION });
    assert!(note.message().expect("said").contains("nothing was lost"));

    // The old data reads back through today's queries.
    let today = s.today(T0);
    let h = s.device_usage("aa:bb:cc:00:00:01", today).expect("usage");
    assert_eq!((h[1].down, h[2].down, h[2].up), (1000, 4000, 400));
    let days = s.home_usage(s.last_days(T0, 1)).expect("home");
    assert_eq!((days[0].down, days[0].up), (5070, 507));
    assert_eq!(s.last_seen("aa:bb:cc:00:00:02").expect("seen"), Some(T0 + H));

    // The counters carry on from the old state; new kinds of data work.
    s.record(&[
        Sample::Traffic { key: "aa:bb:cc:00:00:01".into(), at: T0 + 2 * H + 60, down_total: 5100, up_total: 510 },
        Sample::Signal { key: "aa:bb:cc:00:00:01".into(), at: T0 + 2 * H + 60, dbm: -61 },
    ])
    .expect("record");
    let h = s.device_usage("aa:bb:cc:00:00:01", today).expect("usage");
    assert_eq!((h[2].down, h[2].up), (4100, 410));
    assert_eq!(s.signal("aa:bb:cc:00:00:01", today).expect("signal").len(), 1);
    // Version 3: routers' boots are kept.
    let boot = AgentBoot { boot: T0, seen: T0 + H };
    assert!(s.record_agent_boot("os::gw", boot).expect("boot"));
    drop(s);

    // The file is now in WAL mode with incremental vacuum, at the current version.
    let c = Connection::open(dir.path().join(FILE_NAME)).expect("open");
    let q = |p: &str| c.query_row(p, [], |r| r.get::<_, String>(0)).expect(p);
    assert_eq!(q("PRAGMA journal_mode"), "wal");
    let q = |p: &str| c.query_row(p, [], |r| r.get::<_, i64>(0)).expect(p);
    assert_eq!(q("PRAGMA auto_vacuum"), 2);
    assert_eq!(q("PRAGMA user_version"), i64::from(CURRENT_VERSION));
    drop(c);
    // And it opens again as it is.
    let (s, note) = Store::open(dir.path(), Config::default(), T0).expect("reopen");
    assert_eq!(note, OpenNote::Opened);
    assert_eq!(s.agent_boot("os::gw").expect("boot"), Some(boot));
}

/// Version 2 as its release wrote it (WAL, incremental vacuum), with an event and a speed test,
/// by hand as well.
fn write_v2(dir: &std::path::Path) {
    let conn = Connection::open(dir.join(FILE_NAME)).expect("create v2");
    conn.execute_batch(
        "
        PRAGMA auto_vacuum = INCREMENTAL;
        PRAGMA journal_mode = WAL;
        CREATE TABLE device (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, key TEXT NOT NULL,
            first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, UNIQUE (kind, key)
        );
        CREATE INDEX device_last_seen ON device (last_seen);
        CREATE TABLE counter_state (
            device_id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL
        );
        CREATE TABLE traffic_raw (ts INTEGER NOT NULL, device_id INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL, PRIMARY KEY (ts, device_id)) WITHOUT ROWID;
        CREATE TABLE traffic_hour (bucket INTEGER NOT NULL, device_id INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL, PRIMARY KEY (bucket, device_id)) WITHOUT ROWID;
        CREATE TABLE traffic_day (bucket INTEGER NOT NULL, device_id INTEGER NOT NULL,
            down INTEGER NOT NULL, up INTEGER NOT NULL, PRIMARY KEY (bucket, device_id)) WITHOUT ROWID;
        CREATE TABLE signal_raw (ts INTEGER NOT NULL, device_id INTEGER NOT NULL, dbm INTEGER NOT NULL,
            PRIMARY KEY (ts, device_id)) WITHOUT ROWID;
        CREATE TABLE signal_hour (bucket INTEGER NOT NULL, device_id INTEGER NOT NULL, n INTEGER NOT NULL,
            sum INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
            PRIMARY KEY (bucket, device_id)) WITHOUT ROWID;
        CREATE TABLE signal_day (bucket INTEGER NOT NULL, device_id INTEGER NOT NULL, n INTEGER NOT NULL,
            sum INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
            PRIMARY KEY (bucket, device_id)) WITHOUT ROWID;
        CREATE TABLE presence (id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL,
            start INTEGER NOT NULL, end INTEGER);
        CREATE INDEX presence_device ON presence (device_id, start);
        CREATE INDEX presence_start ON presence (start);
        CREATE TABLE speed_test (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, source TEXT NOT NULL,
            server TEXT NOT NULL, down_mbps REAL NOT NULL, up_mbps REAL NOT NULL);
        CREATE INDEX speed_test_ts ON speed_test (ts);
        CREATE TABLE event (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,
            device TEXT, message TEXT NOT NULL);
        CREATE INDEX event_ts ON event (ts);
        INSERT INTO device VALUES (1, 0, 'aa:bb:cc:00:00:01', 1704067200, 1704070800);
        INSERT INTO traffic_day VALUES (1704067200, 1, 900, 90);
        INSERT INTO speed_test VALUES (1, 1704070800, 'os::gw', 'http://speed', 95.5, 20.25);
        INSERT INTO event VALUES (1, 1704070800, 'alert.restarted', 'os::gw', 'Gateway restarted.');
        PRAGMA user_version = 2;
        ",
    )
    .expect("write v2");
}

#[test]
fn a_version_2_file_gains_the_routers_boots_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_v2(dir.path());
    let (mut s, note) = Store::open(dir.path(), Config::default(), T0).expect("open");
    assert_eq!(note, OpenNote::Migrated { from: 2, to: CURRENT_VERSION });
    let days = s.home_usage(s.last_days(T0, 1)).expect("home");
    assert_eq!((days[0].down, days[0].up), (900, 90));
    let events = s.events(T0, T0 + 2 * H, 10).expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message, "Gateway restarted.");
    let tests = s.speed_tests(T0, T0 + 2 * H, 10).expect("speed tests");
    assert_eq!((tests[0].down_mbps, tests[0].up_mbps), (95.5, 20.25));
    assert_eq!(s.agent_boot("os::gw").expect("boot"), None, "nothing known yet");
    let boot = AgentBoot { boot: T0 + 10, seen: T0 + H };
    assert!(s.record_agent_boot("os::gw", boot).expect("boot"));
    drop(s);
    let (s, note) = Store::open(dir.path(), Config::default(), T0).expect("reopen");
    assert_eq!(note, OpenNote::Opened);
    assert_eq!(s.agent_boot("os::gw").expect("boot"), Some(boot));
}
