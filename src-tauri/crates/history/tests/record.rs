//! Recording samples and reading them back through the chart queries.

use usp_history::{
    Config, DeviceKind, Event, OnlinePeriod, OpenNote, Sample, Span, SpeedTest, Step, Store, UsagePoint,
};

/// 2024-01-01 00:00:00 UTC.
const T0: i64 = 1_704_067_200;
const H: i64 = 3600;
const D: i64 = 86_400;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, note) = Store::open(dir.path(), Config::default(), T0).expect("open");
    assert_eq!(note, OpenNote::Created);
    assert!(note.message().is_none());
    (dir, store)
}

fn traffic(key: &str, at: i64, down_total: u64, up_total: u64) -> Sample {
    Sample::Traffic { key: key.into(), at, down_total, up_total }
}

#[test]
fn counters_become_hourly_and_daily_usage() {
    let (_dir, mut s) = store();
    // Baseline at 00:10, then +100/+10 at 00:40, +300/+30 at 01:20, and next day +5/+1.
    let out = s
        .record(&[
            traffic("phone", T0 + 600, 1000, 100),
            traffic("phone", T0 + 2400, 1100, 110),
            traffic("phone", T0 + H + 1200, 1400, 140),
            traffic("phone", T0 + D + 60, 1405, 141),
        ])
        .expect("record");
    assert_eq!(out.stored, 4);
    assert_eq!(out.counter_discontinuities, 0);

    let today = s.today(T0 + 5 * H);
    assert_eq!((today.from, today.to, today.step), (T0, T0 + D, Step::Hour));
    let hours = s.device_usage("phone", today).expect("today");
    assert_eq!(hours.len(), 24, "zero-filled");
    assert_eq!(hours[0], UsagePoint { start: T0, down: 100, up: 10 });
    assert_eq!(hours[1], UsagePoint { start: T0 + H, down: 300, up: 30 });
    assert!(hours[2..].iter().all(|p| p.down == 0 && p.up == 0));

    let week = s.last_days(T0 + D + 100, 7);
    assert_eq!((week.from, week.to), (T0 - 5 * D, T0 + 2 * D));
    let days = s.device_usage("phone", week).expect("week");
    assert_eq!(days.len(), 7);
    assert_eq!(days[5], UsagePoint { start: T0, down: 400, up: 40 });
    assert_eq!(days[6], UsagePoint { start: T0 + D, down: 5, up: 1 });
    assert_eq!(s.device_usage("phone", s.last_days(T0, 30)).expect("30").len(), 30);
    assert_eq!(s.last_seen("phone").expect("seen"), Some(T0 + D + 60));
    assert_eq!(s.device_usage("unknown", today).expect("unknown"), vec![]);
}

#[test]
fn a_reboot_and_a_wrap_are_counted_sensibly() {
    // A device known to have 32-bit counters.
    let dir = tempfile::tempdir().expect("dir");
    let (mut s, _) = Store::open(dir.path(), Config { wrap_32bit: true, ..Config::default() }, T0).expect("open");
    let near_top = u64::from(u32::MAX) - 499;
    let out = s
        .record(&[
            traffic("tv", T0, 5_000_000, near_top),
            // Reboot: down goes back to 2000 (2000 used since); up wraps (500 + 100 used).
            traffic("tv", T0 + 60, 2000, 100),
            // Stale and duplicate samples change nothing.
            traffic("tv", T0 + 60, 9_999_999, 9_999_999),
            traffic("tv", T0 + 30, 0, 0),
            traffic("tv", T0 + 120, 2500, 200),
        ])
        .expect("record");
    assert_eq!((out.stored, out.stale), (3, 2));
    assert_eq!(out.counter_discontinuities, 2);
    let hours = s.device_usage("tv", s.today(T0)).expect("today");
    assert_eq!((hours[0].down, hours[0].up), (2000 + 500, 600 + 100));
}

#[test]
fn a_restart_of_a_device_whose_64_bit_counter_stood_high_is_no_wrap() {
    // TR-181's counters are 64-bit: 2.35 GB then 1000 is a restart (1000 used), not 1.9 GB
    // through a 32-bit wrap.
    let (_dir, mut s) = store();
    s.record(&[traffic("tv", T0, 2_350_000_000, 0), traffic("tv", T0 + 600, 1000, 0)]).expect("record");
    let hours = s.device_usage("tv", s.today(T0)).expect("today");
    assert_eq!(hours.iter().map(|h| h.down).sum::<u64>(), 1000);
}

#[test]
fn a_hostile_jump_counts_as_nothing() {
    let (_dir, mut s) = store();
    s.record(&[
        traffic("evil", T0, 0, 0),
        traffic("evil", T0 + 1, u64::MAX / 2, u64::MAX),
        traffic("evil", T0 + 2, u64::MAX / 2 + 10, 5),
    ])
    .expect("record");
    let hours = s.device_usage("evil", s.today(T0)).expect("today");
    // Only the plausible +10 down (after the jump became the baseline); up wrapped by 6.
    assert_eq!((hours[0].down, hours[0].up), (10, 6));
}

#[test]
fn home_total_sums_hosts_and_not_the_line() {
    let (_dir, mut s) = store();
    s.record(&[
        traffic("a", T0, 0, 0),
        traffic("b", T0, 0, 0),
        Sample::Line { key: "gw".into(), at: T0, down_total: 0, up_total: 0 },
        traffic("a", T0 + 60, 100, 1),
        traffic("b", T0 + 60, 200, 2),
        Sample::Line { key: "gw".into(), at: T0 + 60, down_total: 350, up_total: 4 },
    ])
    .expect("record");
    let home = s.home_usage(s.today(T0)).expect("home");
    assert_eq!((home[0].down, home[0].up), (300, 3));
    let line = s.line_usage("gw", s.today(T0)).expect("line");
    assert_eq!((line[0].down, line[0].up), (350, 4));
    let days = s.home_usage(s.last_days(T0, 7)).expect("days");
    assert_eq!((days[6].down, days[6].up), (300, 3));
    // The same key as a host and as a line are two devices.
    assert_eq!(s.device_usage("gw", s.today(T0)).expect("host gw"), vec![]);
    let kinds: Vec<DeviceKind> = s.devices().expect("devices").iter().map(|d| d.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == DeviceKind::Line).count(), 1);
}

#[test]
fn signal_keeps_average_lowest_and_highest_per_bucket() {
    let (_dir, mut s) = store();
    let samples: Vec<Sample> = [(0, -40), (600, -60), (1200, -50), (H + 5, -70)]
        .iter()
        .map(|&(dt, dbm)| Sample::Signal { key: "laptop".into(), at: T0 + dt, dbm })
        .collect();
    let out = s.record(&samples).expect("record");
    assert_eq!(out.stored, 4);
    let out = s
        .record(&[Sample::Signal {
            key: "laptop".into(),
            at: T0,
            dbm: 5, // not a signal strength
        }])
        .expect("record");
    assert_eq!(out.invalid, 1);
    let pts = s.signal("laptop", s.today(T0)).expect("signal");
    assert_eq!(pts.len(), 2, "only buckets with samples");
    assert_eq!((pts[0].start, pts[0].samples, pts[0].min_dbm, pts[0].max_dbm), (T0, 3, -60, -40));
    assert!((pts[0].avg_dbm + 50.0).abs() < 1e-9);
    assert_eq!((pts[1].start, pts[1].avg_dbm), (T0 + H, -70.0));
    let day = s.signal("laptop", s.last_days(T0, 1)).expect("day");
    assert_eq!((day.len(), day[0].samples, day[0].min_dbm), (1, 4, -70));
}

#[test]
fn online_periods_form_a_timeline() {
    let (_dir, mut s) = store();
    let p = |at, online| Sample::Presence { key: "anna".into(), at, online };
    s.record(&[
        p(T0 + 100, true),
        p(T0 + 200, true), // already online
        p(T0 + 1000, false),
        p(T0 + 1030, true), // back within a minute: the same period goes on
        p(T0 + 2000, false),
        p(T0 + 5000, true),
    ])
    .expect("record");
    // An offline report for a device never seen adds nothing.
    let out = s.record(&[Sample::Presence { key: "ghost".into(), at: T0, online: false }]).expect("record");
    assert_eq!(out.stale, 1);
    assert_eq!(s.last_seen("ghost").expect("ghost"), None);

    let tl = s.online_timeline("anna", T0, T0 + D).expect("timeline");
    assert_eq!(
        tl,
        vec![OnlinePeriod { start: T0 + 100, end: Some(T0 + 2000) }, OnlinePeriod { start: T0 + 5000, end: None },]
    );
    // Clipped to the range asked.
    let tl = s.online_timeline("anna", T0 + 1500, T0 + 6000).expect("clip");
    assert_eq!(tl[0], OnlinePeriod { start: T0 + 1500, end: Some(T0 + 2000) });
    let anna = s.devices().expect("devices");
    assert!(anna[0].online && anna[0].key == "anna");
}

#[test]
fn speed_tests_and_events_are_kept_newest_first() {
    let (_dir, mut s) = store();
    for i in 0..3 {
        s.record_speed_test(&SpeedTest {
            at: T0 + i * H,
            source: "gw".into(),
            server: "http://127.0.0.1:8080/".into(),
            down_mbps: 100.0 + i as f64,
            up_mbps: f64::NAN,
        })
        .expect("speed test");
    }
    let tests = s.speed_tests(T0, T0 + D, 10).expect("tests");
    assert_eq!(tests.len(), 3);
    assert_eq!((tests[0].at, tests[0].down_mbps, tests[0].up_mbps), (T0 + 2 * H, 102.0, 0.0));
    s.record_event(&Event { at: T0, kind: "firmware".into(), device: Some("gw".into()), message: "x".repeat(5000) })
        .expect("event");
    let ev = s.events(T0, T0 + 1, 10).expect("events");
    assert_eq!((ev[0].kind.as_str(), ev[0].message.len()), ("firmware", 1024));
}

#[test]
fn hostile_keys_are_refused_and_long_ranges_too() {
    let (_dir, mut s) = store();
    let out = s
        .record(&[
            traffic("", T0, 0, 0),
            traffic(&"m".repeat(129), T0, 0, 0),
            traffic("line\nbreak", T0, 0, 0),
            traffic("ok", -5, 0, 0),
            traffic(&"m".repeat(128), T0, 0, 0),
        ])
        .expect("record");
    assert_eq!((out.invalid, out.stored), (4, 1));
    let huge = Span { from: 0, to: T0, step: Step::Hour };
    let err = s.device_usage("ok", huge).expect_err("too many points");
    assert!(err.to_string().contains("points"), "{err}");
}

#[test]
fn the_device_cap_keeps_active_devices_and_replaces_idle_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config { max_devices: 3, ..Config::default() };
    let (mut s, _) = Store::open(dir.path(), cfg, T0).expect("open");
    s.record(&[traffic("old", T0, 0, 0), traffic("a", T0 + 2 * D, 0, 0), traffic("b", T0 + 2 * D, 0, 0)])
        .expect("record");
    // A fourth device: "old" has not been seen for two days, so it makes room.
    let out = s.record(&[traffic("c", T0 + 2 * D + 10, 0, 0)]).expect("c");
    assert_eq!((out.stored, out.over_device_cap), (1, 0));
    assert_eq!(s.last_seen("old").expect("old"), None);
    // A flood of new devices cannot push out a, b and c, seen within the day.
    let flood: Vec<Sample> = (0..100).map(|i| traffic(&format!("fake-{i}"), T0 + 2 * D + 20, 0, 0)).collect();
    let out = s.record(&flood).expect("flood");
    assert_eq!((out.stored, out.over_device_cap), (0, 100));
    let keys: Vec<String> = s.devices().expect("devices").into_iter().map(|d| d.key).collect();
    assert_eq!(keys.len(), 3);
    for k in ["a", "b", "c"] {
        assert!(keys.contains(&k.to_string()), "{keys:?}");
    }
}
