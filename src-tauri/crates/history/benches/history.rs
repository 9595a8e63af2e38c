//! History store benchmark.
//!
//! 1. Inserting one day of samples for 200 devices: one batch (one transaction) per minute of
//!    200 traffic counters, as a BulkData push brings them: 288 000 samples.
//! 2. The chart queries on a store holding two years of 200 devices as retention leaves it:
//!    7 days of one sample a minute, 90 days of hourly buckets, 2 years of daily buckets, WiFi
//!    signal for half the devices, online periods and speed tests; then `maintain`.
//!
//! `cargo bench -p usp-history --bench history` runs it for real and prints criterion's times,
//! then a plain summary (median of repeated runs) and the file size. Run as a test
//! (`cargo test --bench history`) it builds a small store and checks each query once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use usp_history::fill::{self, Feeder};
use usp_history::{Config, Span, Step, Store};

const NOW: i64 = 1_767_225_600; // 2026-01-01 00:00:00 UTC
const MIN: i64 = 60;
const H: i64 = 3600;
const D: i64 = 86_400;

struct Scale {
    devices: u64,
    /// Days of per-minute samples, hourly samples, daily samples.
    raw_days: i64,
    hourly_days: i64,
    daily_days: i64,
}

const FULL: Scale = Scale { devices: 200, raw_days: 7, hourly_days: 90, daily_days: 730 };
const SMOKE: Scale = Scale { devices: 10, raw_days: 1, hourly_days: 3, daily_days: 10 };

fn key(d: u64) -> String {
    format!("aa:bb:cc:00:{:02x}:{:02x}", d >> 8, d & 0xff)
}

fn keys(devices: u64) -> Vec<String> {
    (0..devices).map(key).collect()
}

fn insert_one_day(dir: &std::path::Path, devices: u64) -> (Duration, u64) {
    let (mut s, _) = Store::open(dir, Config::default(), NOW).expect("open");
    let mut f = Feeder::new(keys(devices));
    let start = NOW - D;
    let t = Instant::now();
    let mut samples = 0;
    for m in 0..(D / MIN) {
        let batch = f.batch(start + m * MIN, 1, false);
        samples += batch.len() as u64;
        s.record(&batch).expect("record");
    }
    (t.elapsed(), samples)
}

/// Builds the two-year store ([`usp_history::fill`]) and returns it with the time the build took.
fn build_history(dir: &std::path::Path, sc: &Scale) -> (Store, Duration) {
    let t = Instant::now();
    let (mut s, _) = Store::open(dir, Config::default(), NOW).expect("open");
    let scale = fill::Scale { raw_days: sc.raw_days, hourly_days: sc.hourly_days, daily_days: sc.daily_days };
    fill::two_years(&mut s, &keys(sc.devices), &scale, NOW).expect("fill");
    (s, t.elapsed())
}

type Query = (&'static str, Box<dyn Fn(&Store) -> usize>);

fn queries(devices: u64) -> Vec<Query> {
    let dev = key((devices / 2) & !1); // an even one: it has WiFi signal
    let dev2 = dev.clone();
    let dev3 = dev.clone();
    let dev4 = dev.clone();
    let dev5 = dev.clone();
    let dev6 = dev.clone();
    let dev7 = dev.clone();
    vec![
        ("device today by hour", Box::new(move |s: &Store| s.device_usage(&dev, s.today(NOW - 1)).expect("q").len())),
        (
            "device 7 days by day",
            Box::new(move |s: &Store| s.device_usage(&dev2, s.last_days(NOW - 1, 7)).expect("q").len()),
        ),
        (
            "device 30 days by day",
            Box::new(move |s: &Store| s.device_usage(&dev3, s.last_days(NOW - 1, 30)).expect("q").len()),
        ),
        ("home today by hour", Box::new(|s: &Store| s.home_usage(s.today(NOW - 1)).expect("q").len())),
        ("home 7 days by day", Box::new(|s: &Store| s.home_usage(s.last_days(NOW - 1, 7)).expect("q").len())),
        ("home 30 days by day", Box::new(|s: &Store| s.home_usage(s.last_days(NOW - 1, 30)).expect("q").len())),
        (
            "signal 7 days by hour",
            Box::new(move |s: &Store| {
                let span = Span { from: NOW - 7 * D, to: NOW, step: Step::Hour };
                s.signal(&dev4, span).expect("q").len()
            }),
        ),
        (
            "signal 2 years by day",
            Box::new(move |s: &Store| {
                let span = Span { from: NOW - 730 * D, to: NOW, step: Step::Day };
                s.signal(&dev5, span).expect("q").len()
            }),
        ),
        (
            "online timeline 30 days",
            Box::new(move |s: &Store| s.online_timeline(&dev6, NOW - 30 * D, NOW).expect("q").len()),
        ),
        ("speed tests 2 years", Box::new(|s: &Store| s.speed_tests(NOW - 730 * D, NOW, 2000).expect("q").len())),
        ("last seen", Box::new(move |s: &Store| usize::from(s.last_seen(&dev7).expect("q").is_some()))),
        ("device list", Box::new(|s: &Store| s.devices().expect("q").len())),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sc = if full { &FULL } else { &SMOKE };

    // 1. Insert one day.
    let runs = if full { 3 } else { 1 };
    let mut times = Vec::new();
    let mut samples = 0;
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let (t, n) = insert_one_day(dir.path(), sc.devices);
        times.push(t);
        samples = n;
    }
    let t = median(times);
    println!(
        "insert one day, {} devices, 1 sample/min, 1 transaction/min: {samples} samples in {:.2} s ({:.0} samples/s)",
        sc.devices,
        t.as_secs_f64(),
        samples as f64 / t.as_secs_f64()
    );

    // 2. The chart queries on two years of history.
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, built) = build_history(dir.path(), sc);
    println!(
        "history of {} devices ({} d per minute, {} d hourly, {} d daily) built in {:.1} s; file {:.1} MiB (data {:.1} MiB)",
        sc.devices,
        sc.raw_days,
        sc.hourly_days,
        sc.daily_days,
        built.as_secs_f64(),
        store.file_bytes() as f64 / 1048576.0,
        store.used_bytes().expect("size") as f64 / 1048576.0
    );
    let qs = queries(sc.devices);
    for (name, q) in &qs {
        assert!(q(&store) > 0, "{name} returned nothing");
    }
    if !full {
        println!("history bench: smoke run ok (cargo bench runs it for real)");
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut g = c.benchmark_group("history chart queries (2 years, 200 devices)");
    for (name, q) in &qs {
        g.bench_function(*name, |b| b.iter(|| black_box(q(black_box(&store)))));
    }
    g.finish();
    println!("\nsummary (median of 31 runs, target < 50 ms per chart query):");
    for (name, q) in &qs {
        let runs: Vec<Duration> = (0..31)
            .map(|_| {
                let t = Instant::now();
                black_box(q(&store));
                t.elapsed()
            })
            .collect();
        println!("  {name:<26} {:>9.3} ms", median(runs).as_secs_f64() * 1000.0);
    }
    // Housekeeping an hour later (an hour of raw samples expires), and opening the file again
    // (with its integrity check), as the app does at start.
    let mut store = store;
    let t = Instant::now();
    let r = store.maintain(NOW + H).expect("maintain");
    println!(
        "  {:<26} {:>9.3} ms ({} rows expired)",
        "maintain an hour later",
        t.elapsed().as_secs_f64() * 1000.0,
        r.expired_rows
    );
    drop(store);
    let t = Instant::now();
    let (store, _) = Store::open(dir.path(), Config::default(), NOW).expect("reopen");
    println!("  {:<26} {:>9.3} ms", "open (with quick_check)", t.elapsed().as_secs_f64() * 1000.0);
    drop(store);
}
