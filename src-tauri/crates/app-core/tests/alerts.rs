//! Alerts against the simulated home: a followed device leaving and arriving, a device offline
//! for longer than the setting, the gateway restarting, a slow speed test, each kind turned off
//! giving nothing, and a hostile flood (thousands of new hosts, a device flapping thousands of
//! times) giving a bounded number of alerts. Real agents on loopback over real WebSockets; every
//! wait is bounded.

#[path = "../../../../tests/support/speed_server.rs"]
mod speed_server;

mod common;

use std::time::Duration;

use app_core::home::Home;
use common::{app, bounded, is_paired, is_untrusted, pair, wait_home, GW_PASSCODE, WAIT};
use ipc_types::{
    Alert, AlertKind, AlertSettings, DeviceRename, DeviceWatch, LiveEvent, SpeedTestArgs, SpeedTestServer,
};
use tokio::sync::broadcast;

/// Anna's phone in the built-in scenario (`Device.Hosts.Host.1.`).
const ANNA: &str = "a4:83:e7:10:20:01";
const ANNA_ROW: &str = "Device.Hosts.Host.1.";
/// The living-room TV (`Device.Hosts.Host.2.`), HostName `Living-Room-TV`.
const TV_ROW: &str = "Device.Hosts.Host.2.";

struct Setup {
    sim: sim_home::Home,
    home: Home,
    _dir: tempfile::TempDir,
    gw: String,
    alerts: broadcast::Receiver<Alert>,
}

impl Setup {
    async fn stop(self) {
        self.home.shutdown().await;
        self.sim.shutdown().await;
    }

    fn gateway(&self) -> &sim_home::AgentHandle {
        self.sim.agent("gateway").expect("gateway")
    }

    async fn set(&self, path: &str, value: &str) {
        self.gateway().set(path, value).await.expect("the sim sets it");
    }

    /// The next alert, whatever its kind.
    async fn next(&mut self, what: &str) -> Alert {
        bounded(what, async {
            loop {
                match self.alerts.recv().await {
                    Ok(a) => break a,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(e) => panic!("alerts closed: {e}"),
                }
            }
        })
        .await
    }

    async fn settings(&self, f: impl FnOnce(&mut AlertSettings)) {
        let mut s = self.home.alerts().await.expect("alerts").settings;
        f(&mut s);
        self.home.alerts_set(s).await.expect("alert settings saved");
    }

    /// A speed test whose result is below any alert level when `slow`, with `server` set.
    async fn speed_test(&self) {
        let r = bounded("speed test", self.home.speed_test(SpeedTestArgs { agent: self.gw.clone() })).await;
        r.expect("the speed test runs");
    }

    /// A new host on the gateway; returns when the app saw it join.
    async fn new_host(&self, mac: &str, name: &str) {
        let mut rx = self.home.events();
        self.gateway()
            .add("Device.Hosts.Host.", &[("PhysAddress", mac), ("HostName", name), ("Active", "true")])
            .await
            .expect("the sim adds a host");
        bounded("DeviceJoined", async {
            loop {
                if let Ok(LiveEvent::DeviceJoined { mac: m, .. }) = rx.recv().await {
                    if m == mac {
                        break;
                    }
                }
            }
        })
        .await;
    }
}

/// The built-in home (own Endpoint IDs), the app paired with its gateway (the only agent it is
/// given), alerts at most one per kind every 200 ms, a test server for speed tests.
async fn setup(tag: &str) -> Setup {
    let sim = common::own_builtin_home(tag).await;
    let gw = sim.agent("gateway").expect("gateway");
    let eid = gw.endpoint_id.as_str().to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, vec![(gw.url.clone(), Some(eid.clone()))]).await;
    wait_home(&home, "the gateway untrusted", |v| is_untrusted(v, &eid)).await;
    bounded("pairing", pair(&home, &eid, GW_PASSCODE)).await.expect("paired");
    home.set_alert_gap(Duration::from_millis(200));
    let addr = speed_server::start(200_000).await.expect("the test server");
    let server =
        SpeedTestServer { download_url: format!("http://{addr}/small.bin"), upload_url: format!("http://{addr}/up") };
    home.speed_test_server_set(server).await.expect("server set");
    let alerts = home.alert_events();
    Setup { sim, home, _dir: dir, gw: eid, alerts }
}

#[tokio::test]
async fn a_followed_device_leaving_and_arriving() {
    let mut s = setup("al-follow").await;
    s.settings(|a| a.away_after_secs = 1).await;
    s.home.device_rename(DeviceRename { mac: ANNA.into(), name: "Anna's phone".into() }).await.expect("label");
    s.home.device_watch(DeviceWatch { mac: ANNA.to_uppercase(), watch: true }).await.expect("followed");
    let devices = s.home.devices().await.expect("devices").devices;
    let anna = devices.iter().find(|d| d.mac == ANNA).expect("Anna's phone listed");
    assert!(anna.watched, "the device page shows the toggle on");
    assert!(devices.iter().filter(|d| d.mac != ANNA).all(|d| !d.watched));

    s.set(&format!("{ANNA_ROW}Active"), "false").await;
    let left = s.next("left").await;
    assert_eq!((left.kind, left.text.as_str()), (AlertKind::Left, "Anna's phone left home."));
    assert_eq!(left.title, "Left home");
    s.set(&format!("{ANNA_ROW}Active"), "true").await;
    let back = s.next("arrived").await;
    assert_eq!((back.kind, back.text.as_str()), (AlertKind::Arrived, "Anna's phone is home."));

    // Kept in the history: "Recent alerts", newest first.
    let view = s.home.alerts().await.expect("alerts");
    let texts: Vec<&str> = view.recent.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["Anna's phone is home.", "Anna's phone left home."]);
    assert_eq!(view.watched, ["Anna's phone"]);

    // A device nobody follows comes and goes without a word (the TV): the next alert is the
    // speed test's, run after it.
    s.set(&format!("{TV_ROW}Active"), "false").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.settings(|a| a.slow_below_mbps = 100_000).await;
    s.speed_test().await;
    assert_eq!(s.next("marker").await.kind, AlertKind::SlowSpeed);

    // No longer followed: nothing when it leaves. The TV, away already, followed now: no "left"
    // for an absence that began before; the list names it as its agent does.
    s.home.device_watch(DeviceWatch { mac: ANNA.into(), watch: false }).await.expect("unfollowed");
    s.home.device_watch(DeviceWatch { mac: "b8:27:eb:11:22:02".into(), watch: true }).await.expect("followed");
    let watched: Vec<String> =
        s.home.devices().await.expect("devices").devices.into_iter().filter(|d| d.watched).map(|d| d.mac).collect();
    assert_eq!(watched, ["b8:27:eb:11:22:02"]);
    s.set(&format!("{ANNA_ROW}Active"), "false").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.speed_test().await;
    assert_eq!(s.next("marker").await.kind, AlertKind::SlowSpeed);
    assert_eq!(s.home.alerts().await.expect("alerts").watched, ["Living-Room-TV"]);
    s.stop().await;
}

#[tokio::test]
async fn a_device_offline_longer_than_the_setting() {
    let mut s = setup("al-offline").await;
    s.settings(|a| {
        a.offline = true;
        a.offline_after_secs = 2;
    })
    .await;
    // Toms-Laptop drops off and comes back at once: no news. Then the TV goes for good.
    s.set("Device.Hosts.Host.3.Active", "false").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.set("Device.Hosts.Host.3.Active", "true").await;
    s.set(&format!("{TV_ROW}Active"), "false").await;
    let a = s.next("offline").await;
    assert_eq!(a.kind, AlertKind::Offline);
    assert_eq!(a.text, "Living-Room-TV has been offline for 2 seconds.");
    assert_eq!(a.title, "Device offline");
    // A host deleted from the gateway's table is offline too.
    s.gateway().delete("Device.Hosts.Host.4.").await.expect("the sim deletes a host");
    let a = s.next("offline").await;
    assert_eq!(a.text, "Kids-Tablet has been offline for 2 seconds.");
    s.stop().await;
}

#[tokio::test]
async fn the_gateway_restarting() {
    let mut s = setup("al-restart").await;
    s.settings(|a| a.slow_below_mbps = 100_000).await;
    // The connection drops and comes back without a restart: no news.
    let me: usp_core::EndpointId = s.home.settings().await.expect("settings").endpoint_id.parse().expect("eid");
    s.gateway().disconnect_all().await.expect("the sim drops the connection");
    assert!(s.gateway().wait_disconnected(&me, WAIT).await);
    assert!(s.gateway().wait_connected(&me, WAIT).await, "the app connects again");
    let gw = s.gw.clone();
    wait_home(&s.home, "the gateway back", |v| is_paired(v, &gw)).await;
    s.speed_test().await;
    assert_eq!(s.next("marker").await.kind, AlertKind::SlowSpeed, "no restart told");
    // The gateway has been up a few seconds (UpTime is in whole seconds).
    bounded("uptime", async {
        while s.gateway().get("Device.DeviceInfo.UpTime").await.and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) < 5 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    bounded("reboot", s.home.device_reboot(ipc_types::AgentArgs { agent: gw.clone() })).await.expect("reboot");
    let a = s.next("restarted").await;
    assert_eq!((a.kind, a.text.as_str()), (AlertKind::Restarted, "Living room gateway restarted."));
    s.stop().await;
}

#[tokio::test]
async fn a_slow_speed_test() {
    let mut s = setup("al-speed").await;
    // The default level (10 Mbit/s) is far below what loopback measures: no alert. The next
    // alert is the new device that joined after.
    s.speed_test().await;
    s.new_host("02:00:00:00:0a:01", "marker").await;
    assert_eq!(s.next("marker").await.kind, AlertKind::NewDevice);
    s.settings(|a| a.slow_below_mbps = 100_000).await;
    s.speed_test().await;
    let a = s.next("slow").await;
    assert_eq!((a.kind, a.title.as_str()), (AlertKind::SlowSpeed, "Slow internet"));
    assert!(a.text.starts_with("The speed test on Living room gateway measured "), "{}", a.text);
    assert!(a.text.ends_with("Mbit/s down, below your alert level of 100000 Mbit/s."), "{}", a.text);
    let bad = AlertSettings { slow_below_mbps: 0, ..AlertSettings::default() };
    assert_eq!(s.home.alerts_set(bad).await.expect_err("0 Mbit/s").code(), ipc_types::code::INVALID_INPUT);
    let bad = AlertSettings { offline_after_secs: 0, ..AlertSettings::default() };
    assert!(s.home.alerts_set(bad).await.is_err());
    s.stop().await;
}

#[tokio::test]
async fn each_kind_turned_off_gives_nothing() {
    let mut s = setup("al-off").await;
    s.settings(|a| {
        *a = AlertSettings {
            new_device: false,
            arrive_leave: false,
            away_after_secs: 1,
            offline: false,
            offline_after_secs: 1,
            restarted: false,
            slow_speed: true,
            slow_below_mbps: 100_000,
        }
    })
    .await;
    s.home.device_watch(DeviceWatch { mac: ANNA.into(), watch: true }).await.expect("followed");
    bounded("uptime", async {
        while s.gateway().get("Device.DeviceInfo.UpTime").await.and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) < 5 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    // A new device, a followed one leaving, one offline for long, a restart: all off.
    s.new_host("02:00:00:00:0b:01", "quiet").await;
    s.set(&format!("{ANNA_ROW}Active"), "false").await;
    s.set(&format!("{TV_ROW}Active"), "false").await;
    let gw = s.gw.clone();
    bounded("reboot", s.home.device_reboot(ipc_types::AgentArgs { agent: gw.clone() })).await.expect("reboot");
    wait_home(&s.home, "the gateway back", |v| is_paired(v, &gw)).await;
    // Long enough for each of them to have been due.
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.set(&format!("{ANNA_ROW}Active"), "true").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The only one on: the first alert is the slow speed test.
    s.speed_test().await;
    assert_eq!(s.next("the speed alert").await.kind, AlertKind::SlowSpeed);
    assert!(s.alerts.try_recv().is_err(), "nothing else");
    // Now the speed alert off and new devices on: a slow test says nothing, a new device does.
    s.settings(|a| {
        a.slow_speed = false;
        a.new_device = true;
    })
    .await;
    s.speed_test().await;
    s.new_host("02:00:00:00:0b:02", "Marker-Phone").await;
    let a = s.next("new device").await;
    assert_eq!((a.kind, a.text.as_str()), (AlertKind::NewDevice, "Marker-Phone joined your home network."));
    let recent = s.home.alerts().await.expect("alerts").recent;
    assert_eq!(recent.len(), 2, "{recent:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_flood_of_new_devices_and_flapping_gives_few_alerts() {
    let mut s = setup("al-flood").await;
    let gap = Duration::from_secs(1);
    s.home.set_alert_gap(gap);
    s.settings(|a| a.away_after_secs = 1).await;
    s.home.device_watch(DeviceWatch { mac: ANNA.into(), watch: true }).await.expect("followed");
    let start = tokio::time::Instant::now();
    // An agent inventing 2,000 hosts and a followed device flapping 2,000 times.
    let gw = s.gateway().clone();
    let flood = tokio::spawn(async move {
        let mut rows = std::collections::VecDeque::new();
        for i in 0..2000u32 {
            let mac = format!("02:66:00:00:{:02x}:{:02x}", i / 256, i % 256);
            let name = format!("Evil\n{i}\u{202e}{}", "x".repeat(50));
            let row = gw
                .add("Device.Hosts.Host.", &[("PhysAddress", &mac), ("HostName", &name), ("Active", "true")])
                .await
                .expect("added");
            // The sim's table holds 256 rows: the invented hosts come and go.
            rows.push_back(row);
            if rows.len() > 100 {
                let old: String = rows.pop_front().expect("a row");
                gw.delete(&format!("{}.", old.trim_end_matches('.'))).await.expect("deleted");
            }
            gw.set(&format!("{ANNA_ROW}Active"), if i % 2 == 0 { "false" } else { "true" }).await.expect("flap");
        }
    });
    tokio::time::timeout(WAIT * 4, flood).await.expect("the flood ends in time").expect("flood");
    // Anna's phone ends the flood online; the last joins are told one gap later at most.
    let flood_time = start.elapsed();
    let mut got = Vec::new();
    let quiet_until = tokio::time::Instant::now() + gap * 3;
    while let Ok(Ok(a)) = tokio::time::timeout_at(quiet_until, s.alerts.recv()).await {
        got.push(a);
    }
    let total = start.elapsed();
    let joined: Vec<&Alert> = got.iter().filter(|a| a.kind == AlertKind::NewDevice).collect();
    let bound = (total.as_secs_f64() / gap.as_secs_f64()).ceil() as usize + 1;
    let kinds: Vec<AlertKind> = got.iter().map(|a| a.kind).collect();
    println!("flood of {flood_time:?}: {} alerts ({} new device) in {total:?}: {kinds:?}", got.len(), joined.len());
    assert!(!joined.is_empty() && joined.len() <= bound, "{} alerts for 2,000 joins (bound {bound})", joined.len());
    assert!(joined.iter().any(|a| a.text.contains("new devices joined your home network")), "{joined:?}");
    // Names from the agent are cleaned and cut.
    assert!(got.iter().all(|a| !a.text.contains('\n') && !a.text.contains('\u{202e}') && a.text.len() < 300));
    let flaps = got.iter().filter(|a| matches!(a.kind, AlertKind::Left | AlertKind::Arrived)).count();
    // A flapping device is judged once it settles (its agent's hosts stop changing).
    assert!(flaps <= 2, "{flaps} arrive/leave alerts");
    let recent = s.home.alerts().await.expect("alerts").recent;
    assert_eq!(recent.len(), got.len().min(50), "every alert told is kept, the list is bounded");
    s.stop().await;
}
