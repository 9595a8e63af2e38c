//! The charts' data through `Home`: the whole home's usage, and a device's WiFi signal, online
//! periods and last sighting, read from a history the test fills (a real SQLite file in the
//! app's data folder, written with `usp-history` before the app starts), and from what the app
//! collects itself from the simulated home.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{bounded, GW_PASSCODE};
use ipc_types::{code, DeviceHistoryArgs, HistorySpan, HomeUsageArgs, LiveEvent, Topic, UsageRange};
use usp_history::{Config, Sample, Store};

const HOUR: i64 = 3600;
const ANNA: &str = "a4:83:e7:10:20:01";
const TOM: &str = "3c:22:fb:50:60:03";

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"))
}

/// Noon (local time, as the app computes day buckets) two days ago: every sample the test
/// writes is within the raw retention, and "today" never straddles midnight whatever the clock.
fn noon_two_days_ago() -> (i64, i32) {
    let offset = chrono::Local::now().offset().local_minus_utc();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    let local = now + i64::from(offset);
    (local - local.rem_euclid(86_400) - i64::from(offset) - 2 * 86_400 + 12 * HOUR, offset)
}

fn traffic(key: &str, at: i64, down: u64, up: u64) -> Sample {
    Sample::Traffic { key: key.into(), at, down_total: down, up_total: up }
}

#[tokio::test]
async fn home_total_signal_and_online_periods_from_a_filled_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (noon, offset) = noon_two_days_ago();
    {
        let (mut store, _) =
            Store::open(dir.path(), Config { utc_offset_secs: offset, ..Config::default() }, noon).expect("store");
        let signal = |at, dbm| Sample::Signal { key: ANNA.into(), at, dbm };
        let presence = |key: &str, at, online| Sample::Presence { key: key.into(), at, online };
        store
            .record(&[
                // Counters: a baseline at 10:00, growth by 11:00 and 12:00.
                traffic(ANNA, noon - 2 * HOUR, 1_000, 100),
                traffic(TOM, noon - 2 * HOUR, 50_000, 5_000),
                traffic(ANNA, noon - HOUR, 2_000_000, 200_000),
                traffic(TOM, noon - HOUR, 3_050_000, 305_000),
                traffic(ANNA, noon, 5_000_000, 500_000),
                // Anna's signal: -50 and -70 in the 09:00 hour, -60 at noon.
                signal(noon - 3 * HOUR, -50),
                signal(noon - 3 * HOUR + 600, -70),
                signal(noon, -60),
                // Anna online 07:00-09:00 and since 11:00; Tom online yesterday 06:00-08:00 only.
                presence(ANNA, noon - 5 * HOUR, true),
                presence(ANNA, noon - 3 * HOUR, false),
                presence(ANNA, noon - HOUR, true),
                presence(TOM, noon - 30 * HOUR, true),
                presence(TOM, noon - 28 * HOUR, false),
            ])
            .expect("recorded");
    }
    let home = common::app(dir.path(), None, Vec::new()).await;
    let now = at(noon + 1800);

    // The home total: both devices added up, by hour today and by day this week.
    let today = bounded("home today", home.home_usage_at(HomeUsageArgs { range: UsageRange::Today }, now))
        .await
        .expect("today");
    assert_eq!(today.bars.len(), 13, "00:00 through the 12:00 hour");
    assert!(today.problem.is_none() && today.collecting.contains("kept on this computer"), "{today:?}");
    let down = (2_000_000 - 1_000) + (5_000_000 - 2_000_000) + (3_050_000 - 50_000);
    let up = (200_000 - 100) + (500_000 - 200_000) + (305_000 - 5_000);
    assert_eq!((today.total_down, today.total_up), (down, up));
    // Hour 11:00 holds the growth up to 11:00 from both; 12:00 only Anna's.
    let by_hour: Vec<u64> = today.bars.iter().map(|b| b.down).collect();
    assert_eq!(by_hour[11] + by_hour[12], down);
    assert_eq!(by_hour[12], 3_000_000, "{by_hour:?}");
    let week =
        bounded("home week", home.home_usage_at(HomeUsageArgs { range: UsageRange::Week }, now)).await.expect("week");
    assert_eq!((week.bars.len(), week.total_down), (7, down));
    assert_eq!(week.bars.last().map(|b| b.down), Some(down), "all of it today, the last bar");
    let month = bounded("home month", home.home_usage_at(HomeUsageArgs { range: UsageRange::Month }, now))
        .await
        .expect("month");
    assert_eq!((month.bars.len(), month.total_up), (30, up));

    // Anna's last 24 hours: signal in two hours, two online periods, the last still open.
    let history = |mac: &str, span| home.device_history_at(DeviceHistoryArgs { mac: mac.into(), span }, now);
    let anna = bounded("anna", history(ANNA, HistorySpan::Day)).await.expect("anna");
    assert_eq!(anna.to_ms - anna.from_ms, 24 * HOUR * 1000);
    assert_eq!(anna.to_ms, (noon + HOUR) * 1000, "through the current hour");
    let hours: Vec<(i64, f64, i32, i32)> =
        anna.signal.iter().map(|s| ((s.start_ms / 1000 - noon) / HOUR, s.avg_dbm, s.min_dbm, s.max_dbm)).collect();
    assert_eq!(hours, [(-3, -60.0, -70, -50), (0, -60.0, -60, -60)]);
    let periods: Vec<(i64, Option<i64>)> =
        anna.online.iter().map(|p| (p.start_ms / 1000 - noon, p.end_ms.map(|e| e / 1000 - noon))).collect();
    assert_eq!(periods, [(-5 * HOUR, Some(-3 * HOUR)), (-HOUR, None)]);
    assert!(anna.online_now && anna.problem.is_none());
    assert_eq!(anna.last_seen_ms, Some(noon * 1000));

    // Tom: offline; his only period was yesterday morning, outside the last 24 hours but in the
    // last 7 days; no WiFi signal recorded; last seen when his counters were last read.
    let tom = bounded("tom", history(TOM, HistorySpan::Day)).await.expect("tom");
    assert!(tom.online.is_empty() && tom.signal.is_empty() && !tom.online_now, "{tom:?}");
    assert_eq!(tom.last_seen_ms, Some((noon - HOUR) * 1000));
    let tom_week = bounded("tom week", history(TOM, HistorySpan::Week)).await.expect("tom week");
    assert_eq!(tom_week.to_ms - tom_week.from_ms, 7 * 24 * HOUR * 1000);
    assert_eq!(tom_week.online.len(), 1);
    assert_eq!(tom_week.online[0].end_ms.map(|e| e / 1000), Some(noon - 28 * HOUR));

    // A device never seen: nothing, no error; a bad address is refused.
    let stranger = bounded("stranger", history("02:00:00:00:00:99", HistorySpan::Week)).await.expect("stranger");
    assert!(stranger.online.is_empty() && stranger.signal.is_empty() && stranger.last_seen_ms.is_none());
    let bad = history("not a mac", HistorySpan::Day).await;
    assert_eq!(bad.expect_err("bad mac").code(), code::INVALID_INPUT);
    home.shutdown().await;
}

#[tokio::test]
async fn an_empty_history_gives_empty_charts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = common::app(dir.path(), None, Vec::new()).await;
    let today = bounded("home", home.home_usage(HomeUsageArgs { range: UsageRange::Today })).await.expect("home");
    assert!(today.problem.is_none() && !today.bars.is_empty() && today.total_down == 0 && today.total_up == 0);
    let anna = bounded("anna", home.device_history(DeviceHistoryArgs { mac: ANNA.into(), span: HistorySpan::Week }))
        .await
        .expect("anna");
    assert!(anna.signal.is_empty() && anna.online.is_empty() && anna.last_seen_ms.is_none() && !anna.online_now);
    home.shutdown().await;
}

/// What the app collects from the simulated home itself: the home total grows with the
/// gateway's counters, and a WiFi client has its signal and an open online period.
#[tokio::test]
async fn charts_from_what_the_app_collects_in_the_simulated_home() {
    let sim = common::own_builtin_home("charts").await;
    let gw = sim.agent("gateway").expect("gateway");
    let dir = tempfile::tempdir().expect("tempdir");
    let manual = sim.agents().iter().map(|a| (a.url.clone(), Some(a.endpoint_id.as_str().to_owned()))).collect();
    let home = common::app(dir.path(), None, manual).await;
    let all: Vec<String> = sim.agents().iter().map(|a| a.endpoint_id.as_str().to_owned()).collect();
    common::wait_home(&home, "every agent", |v| all.iter().all(|e| common::is_untrusted(v, e))).await;
    for (key, passcode) in [("gateway", GW_PASSCODE), ("extender", "730146"), ("hub", "159372")] {
        let eid = sim.agent(key).expect("agent").endpoint_id.as_str().to_owned();
        bounded("pairing", common::pair(&home, &eid, passcode)).await.expect("paired");
    }

    let t0 = SystemTime::now();
    let mut events = home.events();
    bounded("collect", home.collect_history(t0)).await.expect("collected");
    // The charts hear that the history grew (they read it again then, without polling).
    bounded("the history's live event", async {
        loop {
            match events.recv().await {
                Ok(LiveEvent::Changed { topics }) if topics.contains(&Topic::History) => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the app's events ended: {e}"),
            }
        }
    })
    .await;
    let down = "Device.Hosts.Host.1.WANStats.BytesReceived";
    assert_eq!(gw.get("Device.Hosts.Host.1.PhysAddress").await.as_deref(), Some("A4:83:E7:10:20:01"));
    let before: u64 = gw.get(down).await.expect("counter").parse().expect("number");
    gw.set(down, &(before + 40_000_000).to_string()).await.expect("the counter grows");
    bounded("collect", home.collect_history(t0 + Duration::from_secs(60))).await.expect("collected");

    let week = bounded("home", home.home_usage_at(HomeUsageArgs { range: UsageRange::Week }, t0)).await.expect("home");
    assert!(week.total_down >= 40_000_000, "{}", week.total_down);
    let anna = bounded("anna", home.device_history(DeviceHistoryArgs { mac: ANNA.into(), span: HistorySpan::Day }))
        .await
        .expect("anna");
    assert!(anna.online_now, "{anna:?}");
    assert!(anna.online.last().is_some_and(|p| p.end_ms.is_none()));
    let signal = anna.signal.last().expect("Anna's phone is on WiFi: a signal");
    assert!((-100.0..0.0).contains(&signal.avg_dbm), "{signal:?}");
    assert!(anna.last_seen_ms.is_some());
    home.shutdown().await;
    sim.shutdown().await;
}
