//! The gateway-restart alert across runs of the app, against the simulated home: the app runs,
//! stops, runs again on the same data folder; a gateway that restarted in between is told once
//! ("… restarted at 03:12 while usp-home was closed."), one that did not is not told; a device
//! whose UpTime lies (huge, impossible, back and forth) with a stream of `Boot!` events gets a
//! rate-limited trickle of alerts and no crash. Real agents on loopback over real WebSockets;
//! every wait is bounded.

mod common;

use std::time::Duration;

use app_core::home::Home;
use common::{app, bounded, is_paired, is_untrusted, pair, wait_home, GW_PASSCODE};
use ipc_types::{Alert, AlertKind, LiveEvent, Topic};
use tokio::sync::broadcast;

struct Sim {
    sim: sim_home::Home,
    gw: String,
    url: String,
    started: tokio::time::Instant,
}

impl Sim {
    async fn start(tag: &str) -> Sim {
        let sim = common::own_builtin_home(tag).await;
        let started = tokio::time::Instant::now();
        let gw = sim.agent("gateway").expect("gateway");
        let (eid, url) = (gw.endpoint_id.as_str().to_owned(), gw.url.clone());
        Sim { sim, gw: eid, url, started }
    }

    fn gateway(&self) -> &sim_home::AgentHandle {
        self.sim.agent("gateway").expect("gateway")
    }

    /// Waits until the gateway has been up `secs` seconds (its UpTime follows the messages it
    /// handles, and none come while the app is closed: the time since it started tells).
    async fn up_for(&self, secs: u64) {
        tokio::time::sleep_until(self.started + Duration::from_secs(secs)).await;
    }

    /// A new host on the gateway (the marker alert: whatever came before it has been told).
    async fn new_host(&self, home: &Home, mac: &str) {
        let mut rx = home.events();
        self.gateway()
            .add("Device.Hosts.Host.", &[("PhysAddress", mac), ("HostName", "Marker"), ("Active", "true")])
            .await
            .expect("the sim adds a host");
        bounded("DeviceJoined", async {
            while !matches!(rx.recv().await, Ok(LiveEvent::DeviceJoined { mac: m, .. }) if m == mac) {}
        })
        .await;
    }

    /// A persistent `Boot!` subscription for the controller `me` (the app makes volatile ones,
    /// which a reboot removes): each reboot's `Boot!` reaches the app.
    async fn persistent_boot_subscription(&self, me: &str) {
        let mut row = None;
        for i in 1..=32 {
            if self.gateway().get(&format!("Device.LocalAgent.Controller.{i}.EndpointID")).await.as_deref() == Some(me)
            {
                row = Some(format!("Device.LocalAgent.Controller.{i}"));
                break;
            }
        }
        let row = row.expect("the app's Controller row");
        self.gateway()
            .add(
                "Device.LocalAgent.Subscription.",
                &[
                    ("Enable", "true"),
                    ("ID", "test-boot"),
                    ("NotifType", "Event"),
                    ("ReferenceList", "Device.Boot!"),
                    ("Persistent", "true"),
                    ("Recipient", &row),
                ],
            )
            .await
            .expect("subscription added");
    }
}

/// The app on `dir`, with the gateway paired (pairing on the first run, remembered after),
/// alerts at most one per kind every `gap`.
async fn run(sim: &Sim, dir: &std::path::Path, gap: Duration) -> (Home, broadcast::Receiver<Alert>) {
    let home = app(dir, None, vec![(sim.url.clone(), Some(sim.gw.clone()))]).await;
    home.set_alert_gap(gap);
    let alerts = home.alert_events();
    let gw = sim.gw.clone();
    let view = wait_home(&home, "the gateway", |v| is_untrusted(v, &gw) || is_paired(v, &gw)).await;
    if !is_paired(&view, &gw) {
        bounded("pairing", pair(&home, &gw, GW_PASSCODE)).await.expect("paired");
    }
    wait_home(&home, "the gateway paired", |v| is_paired(v, &gw)).await;
    (home, alerts)
}

/// Waits (bounded) until the history holds the gateway's boot, then stops the app: what the next
/// run compares with.
async fn stop_once_kept(home: Home, dir: &std::path::Path, gw: &str) {
    // The app opens (on a first run: creates) its history first.
    home.alerts().await.expect("alerts");
    bounded("the boot kept", async {
        loop {
            let history = dir.to_owned();
            let key = gw.to_owned();
            let kept = tokio::task::spawn_blocking(move || {
                let (s, _) = usp_history::Store::open(&history, usp_history::Config::default(), 0).expect("history");
                s.agent_boot(&key).expect("read")
            })
            .await
            .expect("read");
            if kept.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    home.shutdown().await;
}

/// Alerts until the marker (a new device) arrives.
async fn alerts_until_marker(alerts: &mut broadcast::Receiver<Alert>) -> Vec<Alert> {
    bounded("the marker alert", async {
        let mut got = Vec::new();
        loop {
            match alerts.recv().await {
                Ok(a) if a.kind == AlertKind::NewDevice => break got,
                Ok(a) => got.push(a),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("alerts closed: {e}"),
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_restart_while_the_app_was_closed_is_told_once_at_the_next_start() {
    let sim = Sim::start("rs-closed").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gap = Duration::from_millis(200);

    // First run: the gateway's boot is kept.
    let (home, _) = run(&sim, dir.path(), gap).await;
    stop_once_kept(home, dir.path(), &sim.gw).await;

    // Second run, the gateway still up: nothing to tell.
    let (home, mut alerts) = run(&sim, dir.path(), gap).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    sim.new_host(&home, "02:00:00:00:0c:01").await;
    let told = alerts_until_marker(&mut alerts).await;
    assert!(told.is_empty(), "no restart, no alert: {told:?}");
    stop_once_kept(home, dir.path(), &sim.gw).await;

    // The power goes off and on while the app is closed.
    sim.up_for(6).await;
    sim.gateway().power_cycle().await.expect("power cycle");
    let rebooted = std::time::SystemTime::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Third run: told once, with the time.
    let (home, mut alerts) = run(&sim, dir.path(), gap).await;
    let a = bounded("the restart alert", async {
        loop {
            if let Ok(a) = alerts.recv().await {
                break a;
            }
        }
    })
    .await;
    assert_eq!(a.kind, AlertKind::Restarted);
    let hhmm = chrono::DateTime::<chrono::Local>::from(rebooted).format("%H:%M").to_string();
    let minute_before = chrono::DateTime::<chrono::Local>::from(rebooted - Duration::from_secs(60)).format("%H:%M");
    let expected = |t: &str| format!("Living room gateway restarted at {t} while usp-home was closed.");
    assert!(a.text == expected(&hhmm) || a.text == expected(&minute_before.to_string()), "{}", a.text);
    // The gateway repeats its Boot! (as agents do until acknowledged): the same boot, not told
    // again.
    let mut events = home.events();
    sim.gateway().resend_boot().await.expect("Boot! again");
    bounded("the Boot! handled", async {
        while !matches!(events.recv().await, Ok(LiveEvent::Changed { topics }) if topics == [Topic::Home, Topic::Agent])
        {
        }
    })
    .await;
    // Long enough for a second alert to have come.
    tokio::time::sleep(gap * 10).await;
    sim.new_host(&home, "02:00:00:00:0c:02").await;
    let told = alerts_until_marker(&mut alerts).await;
    assert!(told.is_empty(), "told once: {told:?}");
    let recent = home.alerts().await.expect("alerts").recent;
    let restarts: Vec<&str> =
        recent.iter().filter(|a| a.kind == AlertKind::Restarted).map(|a| a.text.as_str()).collect();
    assert_eq!(restarts, [a.text.as_str()], "kept once in the history");
    home.shutdown().await;
    sim.sim.shutdown().await;
}

#[tokio::test]
async fn a_lying_uptime_and_a_stream_of_boots_give_few_alerts_and_no_crash() {
    let sim = Sim::start("rs-lies").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gap = Duration::from_secs(1);
    let (home, mut alerts) = run(&sim, dir.path(), gap).await;
    let me = home.settings().await.expect("settings").endpoint_id;
    sim.persistent_boot_subscription(&me).await;
    let gw = sim.gw.clone();
    // Huge, impossible ("-1" as 64 and 32 bits), not a number, and back and forth.
    let lies = [
        Some("18446744073709551615"),
        Some("5"),
        Some("4294967295"),
        Some("1000000"),
        Some("-1"),
        Some("3"),
        Some("99999999999999999999999"),
        Some("not a number"),
        Some(""),
        Some("2000000000"),
        None,
        Some("1"),
    ];
    let start = tokio::time::Instant::now();
    for lie in lies.iter().cycle().take(60) {
        sim.gateway().lie_about_uptime(*lie).await.expect("lie");
        let reboot = home.device_reboot(ipc_types::AgentArgs { agent: gw.clone() });
        bounded("reboot", reboot).await.expect("the reboot is asked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sim.gateway().lie_about_uptime(None).await.expect("truth");
    let mut got = Vec::new();
    let quiet_until = tokio::time::Instant::now() + gap * 3;
    while let Ok(Ok(a)) = tokio::time::timeout_at(quiet_until, alerts.recv()).await {
        got.push(a);
    }
    let total = start.elapsed();
    let bound = (total.as_secs_f64() / gap.as_secs_f64()).ceil() as usize + 1;
    println!("60 reboots with lies in {total:?}: {} alerts (bound {bound})", got.len());
    assert!(got.iter().all(|a| a.kind == AlertKind::Restarted), "{got:?}");
    assert!(!got.is_empty() && got.len() <= bound, "{} alerts for 60 lying reboots (bound {bound})", got.len());
    // Still working: the gateway is there and answers, and the app tells a new device.
    wait_home(&home, "the gateway", |v| is_paired(v, &gw)).await;
    sim.new_host(&home, "02:00:00:00:0d:01").await;
    assert!(alerts_until_marker(&mut alerts).await.iter().all(|a| a.kind == AlertKind::Restarted));
    // What the history keeps is a boot that can be true (none before 1970, none after now).
    home.shutdown().await;
    let (s, _) = usp_history::Store::open(dir.path(), usp_history::Config::default(), 0).expect("history");
    let kept = s.agent_boot(&gw).expect("read").expect("a boot kept");
    let now = chrono::Local::now().timestamp();
    assert!((0..=now).contains(&kept.boot) && kept.boot <= kept.seen && kept.seen <= now + 1, "{kept:?}");
    drop(s);
    sim.sim.shutdown().await;
}
