//! Retention, downsampling and the size cap, under an injected clock.

use rusqlite::Connection;
use usp_history::{Config, Event, Sample, Span, Step, Store, FILE_NAME};

const NOW: i64 = 1_735_689_600; // 2025-01-01 00:00:00 UTC
const H: i64 = 3600;
const D: i64 = 86_400;

fn traffic(key: &str, at: i64, total: u64) -> Sample {
    Sample::Traffic { key: key.into(), at, down_total: total, up_total: total / 10 }
}

fn rows(dir: &std::path::Path, table: &str) -> i64 {
    Connection::open(dir.join(FILE_NAME))
        .expect("open")
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn sum_down(s: &Store, key: &str, span: Span) -> u64 {
    s.device_usage(key, span).expect("usage").iter().map(|p| p.down).sum()
}

#[test]
fn each_tier_is_kept_for_its_own_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut s, _) = Store::open(dir.path(), Config::default(), NOW).expect("open");
    // Usage 1000 bytes at each of these ages (each preceded by a baseline a minute before).
    let ages = [800 * D, 100 * D, 10 * D, D];
    let mut total = 0;
    let mut batch = vec![];
    for age in ages {
        batch.push(traffic("pc", NOW - age - 60, total));
        total += 1000;
        batch.push(traffic("pc", NOW - age, total));
        // The next baseline follows a restart at 0 minutes later: keep counting up instead.
    }
    s.record(&batch).expect("record");
    assert_eq!(rows(dir.path(), "traffic_raw"), 4);
    assert_eq!(rows(dir.path(), "traffic_hour"), 4);
    assert_eq!(rows(dir.path(), "traffic_day"), 4);

    let report = s.maintain(NOW).expect("maintain");
    assert_eq!(report.expired_rows, 3 + 2 + 1);
    // Raw: only the one a day old; hourly: 10 days and 1 day; daily: all but 800 days.
    assert_eq!(rows(dir.path(), "traffic_raw"), 1);
    assert_eq!(rows(dir.path(), "traffic_hour"), 2);
    assert_eq!(rows(dir.path(), "traffic_day"), 3);
    // The charts still show it all at the resolution kept.
    assert_eq!(sum_down(&s, "pc", s.last_days(NOW, 30)), 2000);
    let two_years = Span { from: NOW - 730 * D, to: NOW, step: Step::Day };
    assert_eq!(sum_down(&s, "pc", two_years), 3000);
    let hours = Span { from: NOW - 89 * D, to: NOW, step: Step::Hour };
    assert!(s.device_usage("pc", hours).is_err(), "2136 points is over the limit");
    let hours = Span { from: NOW - 80 * D, to: NOW, step: Step::Hour };
    assert_eq!(sum_down(&s, "pc", hours), 2000);
}

#[test]
fn retention_times_are_configurable_and_signal_and_presence_follow_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg =
        Config { raw_retention_secs: H, hourly_retention_secs: D, daily_retention_secs: 3 * D, ..Config::default() };
    let (mut s, _) = Store::open(dir.path(), cfg, NOW).expect("open");
    let sig = |at| Sample::Signal { key: "tab".into(), at, dbm: -55 };
    let pres = |at, online| Sample::Presence { key: "tab".into(), at, online };
    s.record(&[
        sig(NOW - 2 * D),
        pres(NOW - 2 * D, true),
        pres(NOW - 2 * D + 600, false),
        sig(NOW - 2 * H),
        pres(NOW - 2 * H, true),
        sig(NOW - 60),
    ])
    .expect("record");
    s.maintain(NOW).expect("maintain");
    assert_eq!(rows(dir.path(), "signal_raw"), 1);
    assert_eq!(rows(dir.path(), "signal_hour"), 2);
    assert_eq!(rows(dir.path(), "signal_day"), 2);
    let tl = s.online_timeline("tab", NOW - 3 * D, NOW).expect("timeline");
    assert_eq!(tl.len(), 1, "the period that ended two days ago is gone: {tl:?}");
    assert_eq!(tl[0].end, None);
    // Days later the device (still online) is kept; events past 3 days go.
    s.record_event(&Event { at: NOW, kind: "alert".into(), device: None, message: "m".into() }).expect("event");
    s.maintain(NOW + 10 * D).expect("maintain later");
    assert_eq!(s.devices().expect("devices").len(), 1, "online devices are kept");
    assert!(s.events(0, i64::MAX, 10).expect("events").is_empty());
    // Once offline and unseen for the daily retention, the device is forgotten.
    s.record(&[pres(NOW + 10 * D, false)]).expect("offline");
    let r = s.maintain(NOW + 20 * D).expect("maintain much later");
    assert_eq!(r.forgotten_devices, 1);
    assert!(s.devices().expect("devices").is_empty());
}

#[test]
fn the_event_log_keeps_the_newest_up_to_its_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config { max_events: 5, ..Config::default() };
    let (mut s, _) = Store::open(dir.path(), cfg, NOW).expect("open");
    for i in 0..12 {
        s.record_event(&Event { at: NOW + i, kind: "alert".into(), device: None, message: format!("event {i}") })
            .expect("event");
    }
    s.maintain(NOW + 20).expect("maintain");
    let ev = s.events(0, i64::MAX, 100).expect("events");
    let msgs: Vec<&str> = ev.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, ["event 11", "event 10", "event 9", "event 8", "event 7"]);
}

#[test]
fn the_size_cap_drops_the_oldest_detail_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = 400 * 1024;
    let cfg = Config { max_bytes: cap, ..Config::default() };
    let (mut s, _) = Store::open(dir.path(), cfg, NOW).expect("open");
    // 30 devices, one sample a minute for 3 days: ~130 000 raw rows, several MB.
    let start = NOW - 3 * D;
    for minute in 0..(3 * 24 * 60) {
        let at = start + minute * 60;
        let batch: Vec<Sample> =
            (0..30).map(|d| traffic(&format!("dev-{d}"), at, (minute as u64) * 1000 + d)).collect();
        s.record(&batch).expect("record");
    }
    let week = s.last_days(NOW - 1, 7);
    let before = sum_down(&s, "dev-7", week);
    assert_eq!(before, (3 * 24 * 60 - 1) * 1000);
    let raw_before = rows(dir.path(), "traffic_raw");
    let r = s.maintain(NOW).expect("maintain");
    assert!(r.bytes_before > cap, "the test data must exceed the cap: {r:?}");
    assert!(r.bytes_after <= cap, "{r:?}");
    assert!(r.trimmed_rows > 0);
    assert!(s.file_bytes() <= cap + 64 * 1024, "the file shrank: {}", s.file_bytes());
    // Raw detail went, oldest first; the hourly and daily totals are intact.
    let raw_after = rows(dir.path(), "traffic_raw");
    assert!(raw_after < raw_before);
    let oldest_raw: i64 = Connection::open(dir.path().join(FILE_NAME))
        .expect("open")
        .query_row("SELECT MIN(ts) FROM traffic_raw", [], |r| r.get::<_, Option<i64>>(0))
        .expect("min")
        .unwrap_or(NOW);
    assert!(oldest_raw > start + D, "the oldest day went first");
    assert_eq!(sum_down(&s, "dev-7", week), before);
    assert_eq!(rows(dir.path(), "traffic_hour"), 30 * 72);
}
