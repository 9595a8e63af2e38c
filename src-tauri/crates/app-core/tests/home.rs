//! The home use-cases against an in-process simulated home (real USP agents on loopback, real
//! WebSockets, mDNS confined to `lo`). Every wait is bounded, so a failure fails fast.

mod common;

use app_core::home::{Home, HomeConfig};
use common::{app, auth_of, bounded, is_paired, is_untrusted, pair, vault, wait_home, GW_PASSCODE};
use ipc_types::{
    code, AgentAddress, AgentArgs, AgentAuth, AgentKind, BrokerLogin, DmKind, ExploreArgs, LiveEvent, PairingSubmit,
    ParamSet, PingArgs, SetInterfaces, SetTheme, Theme, TrustArgs,
};
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use usp_client::discovery::Interfaces;

/// The built-in home with Endpoint IDs of its own, so homes of tests running side by side
/// never answer for each other on mDNS.
fn scenario(tag: &str) -> Scenario {
    let mut s = Scenario::builtin();
    for a in &mut s.agents {
        a.endpoint_id = format!("{}-{tag}", a.endpoint_id);
    }
    s
}

async fn sim(tag: &str, advertise: bool) -> sim_home::Home {
    let mut c = sim_home::HomeConfig::new(scenario(tag));
    c.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    if advertise {
        c.advertise = Some(Interfaces::Loopback);
    }
    let home = sim_home::Home::start(c).await.expect("the simulated home starts");
    // The built-in scenario lets the Untrusted role read the Challenge rows (so the app can say
    // how many tries are left) and Home User read its own role's name.
    home
}

/// A simulated home and the app paired with its gateway; the agents are given by address (the
/// hub without its Endpoint ID), with no discovery.
async fn paired_gateway(tag: &str) -> (sim_home::Home, Home, tempfile::TempDir, String) {
    let sim = sim(tag, false).await;
    let gw = sim.agent("gateway").expect("gateway");
    let eid = gw.endpoint_id.as_str().to_owned();
    let manual = sim
        .agents()
        .iter()
        .map(|a| (a.url.clone(), (a.key != "hub").then(|| a.endpoint_id.as_str().to_owned())))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, manual).await;
    let all: Vec<String> = sim.agents().iter().map(|a| a.endpoint_id.as_str().to_owned()).collect();
    wait_home(&home, "every agent untrusted", |v| all.iter().all(|e| is_untrusted(v, e))).await;
    let done = bounded("pairing", pair(&home, &eid, GW_PASSCODE)).await.expect("pairing with the right passcode");
    assert_eq!(done.role.as_deref(), Some("Home User"));
    (sim, home, dir, eid)
}

#[tokio::test]
async fn agents_appear_by_discovery_and_pair_with_the_passcode() {
    let sim = sim("disc", true).await;
    let eids: Vec<String> = sim.agents().iter().map(|a| a.endpoint_id.as_str().to_owned()).collect();
    let gw = eids[0].clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), Some(Interfaces::Loopback), Vec::new()).await;

    let view = wait_home(&home, "all three agents, untrusted", |v| eids.iter().all(|e| is_untrusted(v, e))).await;
    assert!(view.discovering);
    let ours: Vec<_> = view.agents.iter().filter(|a| eids.contains(&a.agent)).collect();
    // Gateway first; kinds from the mDNS subtypes; names and firmware from DeviceInfo.
    assert_eq!(ours[0].agent, gw);
    assert_eq!(ours[0].kind, AgentKind::Gateway);
    assert_eq!(ours[0].name, "Living room gateway");
    assert_eq!(ours[0].model.as_deref(), Some("EX-GW6"));
    assert_eq!(ours[0].firmware.as_deref(), Some("6.2.1"));
    assert!(ours[0].uptime_secs.is_some());
    assert!(!ours[0].remembered);
    assert!(ours.iter().any(|a| a.kind == AgentKind::Extender));
    assert!(ours.iter().any(|a| a.kind == AgentKind::Hub));

    let prompt = bounded("pairing start", home.pairing_start(AgentArgs { agent: gw.clone() })).await.expect("start");
    assert_eq!(prompt.instruction, "Enter the 6-digit passcode printed on the label under the gateway");
    assert_eq!(prompt.tries_left, Some(3));

    let wrong = PairingSubmit { agent: gw.clone(), passcode: "000000".into() };
    let e = bounded("wrong passcode", home.pairing_submit(wrong)).await.expect_err("a wrong passcode is refused");
    assert_eq!(e.code(), code::WRONG_PASSCODE);
    assert_eq!(e.to_string(), "Wrong passcode, 2 tries left.");
    assert!(is_untrusted(&home.home().await.expect("view"), &gw));

    let right = PairingSubmit { agent: gw.clone(), passcode: GW_PASSCODE.into() };
    let done = bounded("right passcode", home.pairing_submit(right)).await.expect("the right passcode pairs");
    assert_eq!(done.role.as_deref(), Some("Home User"));
    let view = home.home().await.expect("view");
    let summary = view.agents.iter().find(|a| a.agent == gw).expect("gateway");
    assert_eq!(summary.auth, AgentAuth::Paired { role: Some("Home User".into()) });
    assert!(summary.remembered);
    // The extender is still untrusted.
    assert!(is_untrusted(&view, &eids[1]));

    // Submitting again without a challenge says to start again.
    let again = PairingSubmit { agent: gw.clone(), passcode: GW_PASSCODE.into() };
    assert_eq!(home.pairing_submit(again).await.expect_err("no challenge").code(), code::PAIRING_EXPIRED);

    // Forgotten, the gateway still announces itself: it comes back as a device the app does not
    // keep (the device itself still grants the role it gave).
    let mut rx = home.events();
    bounded("forget", home.forget_agent(AgentArgs { agent: gw.clone() })).await.expect("forget");
    let store = app_core::home::Store::open(dir.path()).expect("store");
    assert!(store.read(|d| d.agents.is_empty()));
    let view = wait_home(&home, "the gateway back", |v| is_paired(v, &gw)).await;
    assert!(!view.agents.iter().find(|a| a.agent == gw).expect("gateway").remembered);
    let mut saw_it_gone = false;
    while let Ok(e) = rx.try_recv() {
        saw_it_gone |= matches!(e, LiveEvent::Changed { ref topics } if topics.len() > 1);
    }
    assert!(saw_it_gone, "forgetting refreshes every page");
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_new_host_is_announced_live_once() {
    let (sim, home, _dir, eid) = paired_gateway("live").await;
    let mut rx = home.events();
    let gw = sim.agent("gateway").expect("gateway");
    let first = gw
        .add(
            "Device.Hosts.Host.",
            &[("PhysAddress", "02:00:00:00:00:99"), ("HostName", "new-tablet"), ("Active", "true")],
        )
        .await
        .expect("the sim adds a host");
    let joined = bounded("DeviceJoined", async {
        loop {
            match rx.recv().await.expect("events") {
                LiveEvent::DeviceJoined { mac, name, agent } => break (mac, name, agent),
                _ => continue,
            }
        }
    })
    .await;
    // The hosts present when the app connected were recorded silently: this is the first one.
    assert_eq!(joined, ("02:00:00:00:00:99".to_owned(), "new-tablet".to_owned(), eid.clone()));
    // The Devices page is told to refresh.
    bounded("Changed(Devices)", async {
        loop {
            if let LiveEvent::Changed { topics } = rx.recv().await.expect("events") {
                if topics.contains(&ipc_types::Topic::Hosts) {
                    break;
                }
            }
        }
    })
    .await;
    // The same device leaving and coming back is no news.
    let row = |r: String| if r.ends_with('.') { r } else { format!("{r}.") };
    gw.add("Device.Hosts.Host.", &[("PhysAddress", "02:00:00:00:00:98")]).await.expect("another host");
    gw.delete(&row(first)).await.expect("the first host leaves");
    gw.add("Device.Hosts.Host.", &[("PhysAddress", "02:00:00:00:00:99"), ("HostName", "new-tablet")])
        .await
        .expect("the first host again");
    gw.add("Device.Hosts.Host.", &[("PhysAddress", "02:00:00:00:00:97")]).await.expect("a third host");
    let macs = bounded("the third host", async {
        let mut macs = Vec::new();
        loop {
            if let LiveEvent::DeviceJoined { mac, .. } = rx.recv().await.expect("events") {
                macs.push(mac.clone());
                if mac == "02:00:00:00:00:97" {
                    break macs;
                }
            }
        }
    })
    .await;
    assert_eq!(macs, vec!["02:00:00:00:00:98".to_owned(), "02:00:00:00:00:97".to_owned()]);
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn device_details_and_ping() {
    let (sim, home, _dir, gw) = paired_gateway("dev").await;
    let ext = sim.agent("extender").expect("extender").endpoint_id.as_str().to_owned();

    let d = bounded("details", home.device_details(AgentArgs { agent: gw.clone() })).await.expect("details");
    assert_eq!(d.name, "Living room gateway");
    assert!(d.fields.contains(&("Model".to_owned(), "EX-GW6".to_owned())), "{:?}", d.fields);
    assert!(d.fields.iter().any(|(k, _)| k == "Running for"));
    assert!(d.can_reboot && d.can_ping, "{d:?}");
    // The Untrusted role may read the details but neither restart nor ping.
    let u = bounded("details", home.device_details(AgentArgs { agent: ext.clone() })).await.expect("details");
    assert!(!u.can_reboot && !u.can_ping, "{u:?}");

    let mut rx = home.events();
    let args = PingArgs { agent: gw.clone(), host: "192.168.1.20".into(), count: 4 };
    let r = bounded("ping", home.device_ping(args)).await.expect("ping");
    assert_eq!(r.status, "Complete");
    assert_eq!(r.success + r.failure, 4);
    assert!(r.success > 0 && r.avg_ms.is_some(), "{r:?}");
    let mut progress = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let LiveEvent::PingProgress { agent, message } = e {
            assert_eq!(agent, gw);
            progress.push(message);
        }
    }
    assert!(progress.first().is_some_and(|m| m.starts_with("Pinging 192.168.1.20")), "{progress:?}");

    let args = PingArgs { agent: gw.clone(), host: "nowhere.invalid".into(), count: 1 };
    let r = bounded("ping", home.device_ping(args)).await.expect("ping");
    assert_eq!((r.status.as_str(), r.success), ("Error_CannotResolveHostName", 0));
    let bad = PingArgs { agent: gw.clone(), host: " ".into(), count: 1 };
    assert_eq!(home.device_ping(bad).await.expect_err("empty host").code(), code::INVALID_INPUT);
    let denied = PingArgs { agent: ext.clone(), host: "192.168.1.20".into(), count: 1 };
    assert_eq!(home.device_ping(denied).await.expect_err("untrusted").code(), code::PERMISSION);
    let denied = AgentArgs { agent: ext.clone() };
    assert_eq!(home.device_reboot(denied).await.expect_err("untrusted").code(), code::PERMISSION);

    // The gateway restarts and the app reconnects to it.
    bounded("reboot", home.device_reboot(AgentArgs { agent: gw.clone() })).await.expect("reboot");
    wait_home(&home, "the gateway back", |v| is_paired(v, &gw)).await;
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn explorer_shows_one_level_and_edits_what_the_role_allows() {
    let (sim, home, _dir, gw) = paired_gateway("explore").await;
    let ext = sim.agent("extender").expect("extender").endpoint_id.as_str().to_owned();
    let explore = |agent: &str, path: &str| {
        home.explore(ExploreArgs { agent: agent.to_owned(), path: path.to_owned(), offset: 0 })
    };

    let root = bounded("explore", explore(&gw, "Device.")).await.expect("root");
    let kinds: Vec<(&str, DmKind)> = root.entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert!(kinds.contains(&("Device.WiFi.", DmKind::Object)), "{kinds:?}");
    assert!(kinds.contains(&("Device.DeviceInfo.", DmKind::Object)), "{kinds:?}");
    assert!(kinds.contains(&("Device.Reboot()", DmKind::Command)), "{kinds:?}");
    // What Home User may not see is not there.
    assert!(!kinds.iter().any(|(p, _)| p.starts_with("Device.LocalAgent.ControllerTrust")), "{kinds:?}");

    let wifi = bounded("explore", explore(&gw, "Device.WiFi.")).await.expect("wifi");
    assert!(wifi.entries.iter().any(|e| e.path == "Device.WiFi.SSID." && e.kind == DmKind::Table));
    let rows = bounded("explore", explore(&gw, "Device.WiFi.SSID.")).await.expect("rows");
    let paths: Vec<&str> = rows.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2.", "Device.WiFi.SSID.3."]);
    assert!(rows.entries.iter().all(|e| e.kind == DmKind::Instance));

    let guest = bounded("explore", explore(&gw, "Device.WiFi.SSID.3.")).await.expect("ssid 3");
    let field = |name: &str| guest.entries.iter().find(|e| e.name == name).cloned().expect(name);
    let ssid = field("SSID");
    assert_eq!(ssid.value.as_deref(), Some("Home-Guest"));
    assert_eq!(ssid.value_type.as_deref(), Some("string"));
    assert!(ssid.writable);
    assert!(!field("Status").writable, "Status is read-only in the model");

    let set = ParamSet { agent: gw.clone(), path: "Device.WiFi.SSID.3.SSID".into(), value: "Visitors".into() };
    bounded("set", home.param_set(set)).await.expect("a writable parameter is set");
    assert_eq!(sim.agent("gateway").expect("gw").get("Device.WiFi.SSID.3.SSID").await.as_deref(), Some("Visitors"));
    let bad = ParamSet { agent: gw.clone(), path: "Device.WiFi.SSID.3.Enable".into(), value: "maybe".into() };
    assert_eq!(home.param_set(bad).await.expect_err("not a boolean").code(), code::REFUSED);

    // The Untrusted role sees DeviceInfo read-only and can't write it.
    let info = bounded("explore", explore(&ext, "Device.DeviceInfo.")).await.expect("info");
    let name = info.entries.iter().find(|e| e.name == "FriendlyName").expect("FriendlyName");
    assert!(name.value.is_some() && !name.writable, "{name:?}");
    let denied = ParamSet { agent: ext.clone(), path: "Device.DeviceInfo.FriendlyName".into(), value: "x".into() };
    assert_eq!(home.param_set(denied).await.expect_err("untrusted").code(), code::PERMISSION);
    assert_eq!(explore(&gw, "Device.WiFi").await.expect_err("no dot").code(), code::INVALID_INPUT);
    assert_eq!(explore(&gw, "Device.Nothing.").await.expect_err("absent").code(), code::NOT_FOUND);
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn settings_and_forgetting_a_device() {
    let (sim, home, dir, gw) = paired_gateway("settings").await;
    let hub = sim.agent("hub").expect("hub").endpoint_id.as_str().to_owned();
    // The hub was given by address only: it is known by its real Endpoint ID.
    assert!(home.home().await.expect("view").agents.iter().any(|a| a.agent == hub && a.kind == AgentKind::Hub));

    let s = home.settings().await.expect("settings");
    assert!(s.endpoint_id.starts_with("uuid::") || !s.endpoint_id.is_empty());
    assert!(s.endpoint_id_qr_svg.contains("<svg"));
    assert_eq!(s.theme, Theme::System);
    assert!(s.trusted.is_empty(), "ws:// agents have no certificate to trust");
    // This app's certificate, to export: the PEM shown is the one saved, and it holds no key.
    assert!(s.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{}", s.certificate_pem);
    assert!(!s.certificate_pem.contains("PRIVATE KEY"));
    assert_eq!(s.certificate_fingerprint.len(), 32 * 3 - 1, "{}", s.certificate_fingerprint);
    let downloads = tempfile::tempdir().expect("a downloads folder");
    let saved = home.certificate_save(Some(downloads.path().to_owned())).await.expect("saved");
    assert_eq!(std::path::Path::new(&saved), downloads.path().join("usp-home-certificate.pem"));
    assert_eq!(std::fs::read_to_string(&saved).expect("readable"), s.certificate_pem);
    // No downloads folder: the app's own data folder.
    let saved = home.certificate_save(Some(downloads.path().join("missing"))).await.expect("saved");
    assert!(saved.ends_with("usp-home-certificate.pem") && !saved.contains("missing"), "{saved}");
    assert_eq!(std::fs::read_to_string(&saved).expect("readable"), s.certificate_pem);

    let e = home.settings_interfaces(SetInterfaces { interfaces: "eth0 wlan0".into() }).await.expect_err("bad list");
    assert_eq!(e.code(), code::INVALID_INPUT);
    let s = home.settings_interfaces(SetInterfaces { interfaces: "lo".into() }).await.expect("lo");
    assert_eq!(s.interfaces, "lo");
    assert!(home.home().await.expect("view").discovering);
    let s = home.settings_theme(SetTheme { theme: Theme::Dark }).await.expect("theme");
    assert_eq!(s.theme, Theme::Dark);
    let saved = app_core::home::Store::open(dir.path()).expect("store");
    assert_eq!(saved.read(|d| (d.interfaces.clone(), d.theme.clone())), (Some("lo".into()), Some("dark".into())));
    assert_eq!(saved.read(|d| d.agents.iter().map(|k| k.agent.clone()).collect::<Vec<_>>()), vec![gw.clone()]);
    let e = home.trust_forget(AgentArgs { agent: gw.clone() }).await.expect_err("no pin");
    assert_eq!(e.code(), code::NOT_FOUND);

    bounded("forget", home.forget_agent(AgentArgs { agent: gw.clone() })).await.expect("forget");
    let view = home.home().await.expect("view");
    assert!(view.agents.iter().all(|a| a.agent != gw));
    let saved = app_core::home::Store::open(dir.path()).expect("store");
    assert!(saved.read(|d| d.agents.is_empty()));
    let e = home.forget_agent(AgentArgs { agent: gw.clone() }).await.expect_err("gone");
    assert_eq!(e.code(), code::UNKNOWN_AGENT);
    assert_eq!(
        home.device_details(AgentArgs { agent: gw.clone() }).await.expect_err("gone").code(),
        code::UNKNOWN_AGENT
    );
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_paired_agent_is_remembered_across_restarts() {
    let (sim, home, dir, gw) = paired_gateway("restart").await;
    home.shutdown().await;
    // The same data folder and vault: no manual agent, no discovery, the gateway comes back.
    let config = HomeConfig {
        data_dir: dir.path().to_owned(),
        interfaces: Some(Interfaces::Named(Vec::new())),
        manual_agents: Vec::new(),
        connectors: Vec::new(),
    };
    let again = Home::start(config, vault(dir.path())).await.expect("restart");
    let view = wait_home(&again, "the gateway back, paired", |v| is_paired(v, &gw)).await;
    let summary = view.agents.iter().find(|a| a.agent == gw).expect("gateway");
    assert!(summary.remembered);
    assert_eq!(summary.name, "Living room gateway");
    again.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_secure_agent_is_trusted_only_with_the_fingerprint_the_user_saw() {
    let mut c = sim_home::HomeConfig::new(scenario("wss"));
    c.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    c.tls = Some(sim_home::TlsMode::self_signed());
    let sim = sim_home::Home::start(c).await.expect("the simulated home starts");
    let gw = sim.agent("gateway").expect("gateway");
    let eid = gw.endpoint_id.as_str().to_owned();
    let shown = gw.fingerprint.expect("a wss agent has a certificate").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, vec![(gw.url.clone(), Some(eid.clone()))]).await;

    let first_use = AgentAuth::FirstUse { fingerprint: shown.clone() };
    wait_home(&home, "the first-use question", |v| auth_of(v, &eid) == Some(&first_use)).await;
    let other = usp_client::tls::Fingerprint::of(b"another certificate").to_string();
    let e =
        home.trust_agent(TrustArgs { agent: eid.clone(), fingerprint: other }).await.expect_err("not what it shows");
    assert_eq!(e.code(), code::CERTIFICATE);
    assert_eq!(home.settings().await.expect("settings").trusted, Vec::new());

    bounded("trust", home.trust_agent(TrustArgs { agent: eid.clone(), fingerprint: shown.clone() }))
        .await
        .expect("the fingerprint the user saw is trusted");
    wait_home(&home, "connected over wss", |v| is_untrusted(v, &eid)).await;
    let trusted = home.settings().await.expect("settings").trusted;
    assert_eq!(trusted.len(), 1);
    assert_eq!((trusted[0].agent.as_str(), trusted[0].fingerprint.as_str()), (eid.as_str(), shown.as_str()));
    bounded("pairing", pair(&home, &eid, GW_PASSCODE)).await.expect("pairing over wss");
    assert!(is_paired(&home.home().await.expect("view"), &eid));

    // Forgetting the certificate asks again.
    let s = bounded("trust_forget", home.trust_forget(AgentArgs { agent: eid.clone() })).await.expect("forget pin");
    assert!(s.trusted.is_empty());
    wait_home(&home, "the first-use question again", |v| auth_of(v, &eid) == Some(&first_use)).await;
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn sensor_values_arrive_live_from_a_paired_hub() {
    let (sim, home, _dir, _gw) = paired_gateway("iot").await;
    let hub = sim.agent("hub").expect("hub");
    let eid = hub.endpoint_id.as_str().to_owned();
    bounded("pairing the hub", pair(&home, &eid, "159372")).await.expect("the hub's passcode");
    let mut rx = home.events();
    hub.set("Device.IoTCapability.4.LevelSensor.Value", "23.5").await.expect("the sim's sensor changes");
    let (path, value) = bounded("the sensor's value", async {
        loop {
            if let LiveEvent::Value { agent, path, value } = rx.recv().await.expect("events") {
                assert_eq!(agent, eid);
                if path.ends_with(".Value") {
                    break (path, value);
                }
            }
        }
    })
    .await;
    assert_eq!((path.as_str(), value.as_str()), ("Device.IoTCapability.4.LevelSensor.Value", "23.5"));
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn too_many_wrong_passcodes_lock_pairing() {
    let sim = sim("lock", false).await;
    let gw = sim.agent("gateway").expect("gateway");
    let eid = gw.endpoint_id.as_str().to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, vec![(gw.url.clone(), Some(eid.clone()))]).await;
    wait_home(&home, "the gateway untrusted", |v| is_untrusted(v, &eid)).await;
    let prompt = bounded("start", home.pairing_start(AgentArgs { agent: eid.clone() })).await.expect("start");
    assert_eq!(prompt.description.as_deref(), Some("Passcode printed on the label under the gateway"));
    let wrong = || PairingSubmit { agent: eid.clone(), passcode: "111111".into() };
    let e = bounded("wrong 1", home.pairing_submit(wrong())).await.expect_err("wrong");
    assert_eq!(e.to_string(), "Wrong passcode, 2 tries left.");
    let e = bounded("wrong 2", home.pairing_submit(wrong())).await.expect_err("wrong");
    assert_eq!((e.code(), e.to_string().as_str()), (code::WRONG_PASSCODE, "Wrong passcode, 1 try left."));
    let e = bounded("wrong 3", home.pairing_submit(wrong())).await.expect_err("locked");
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        (code::LOCKED_OUT, "Too many wrong passcodes. Try again in 30 seconds.")
    );
    // Even the right passcode needs a new start, which the device refuses during the lock-out.
    let right = PairingSubmit { agent: eid.clone(), passcode: GW_PASSCODE.into() };
    assert_eq!(home.pairing_submit(right).await.expect_err("no challenge").code(), code::PAIRING_EXPIRED);
    let e = bounded("start", home.pairing_start(AgentArgs { agent: eid.clone() })).await.expect_err("locked");
    assert_eq!(e.code(), code::LOCKED_OUT);
    assert!(is_untrusted(&home.home().await.expect("view"), &eid));
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_device_is_added_by_the_address_a_person_types() {
    let sim = sim("by-address", false).await;
    let gw = sim.agent("gateway").expect("gateway");
    let eid = gw.endpoint_id.as_str().to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, Vec::new()).await;
    let add = |address: &str, endpoint_id: Option<&str>| {
        home.agent_add(AgentAddress {
            address: address.to_owned(),
            endpoint_id: endpoint_id.map(str::to_owned),
            broker_login: None,
        })
    };

    // Typed without the scheme, without the Endpoint ID: the app asks the device who it is.
    let typed = gw.url.trim_start_matches("ws://").to_owned();
    let summary = bounded("add by address", add(&format!("  {typed} "), None)).await.expect("added");
    assert_eq!(summary.agent, eid);
    assert_eq!(summary.url, gw.url);
    let view = wait_home(&home, "the added gateway connected", |v| is_untrusted(v, &eid)).await;
    assert_eq!(view.agents.len(), 1);
    bounded("pairing", pair(&home, &eid, GW_PASSCODE)).await.expect("an added device pairs like a discovered one");
    let card = home.home().await.expect("view").agents.into_iter().find(|a| a.agent == eid).expect("card");
    assert_eq!((card.transport.as_str(), card.end_to_end), ("WebSocket", false), "the card says what carries it");

    // Adding it again changes nothing.
    let again = bounded("add again", add(&gw.url, Some(&eid))).await.expect("added again");
    assert_eq!(again.agent, eid);
    assert_eq!(home.home().await.expect("view").agents.len(), 1);

    // Mistakes get words a person can act on, and add nothing.
    let wrong = |e: app_core::home::AppError| (e.code(), e.to_string());
    let (c, m) = wrong(add("", None).await.expect_err("empty"));
    assert_eq!(c, code::INVALID_INPUT);
    assert!(m.contains("Type the device's address"), "{m}");
    let (c, m) = wrong(add("http://192.0.2.1/usp", None).await.expect_err("not ws"));
    assert_eq!(c, code::INVALID_INPUT);
    assert!(m.contains("like 192.168.1.1:8080/usp"), "{m}");
    let (c, m) = wrong(add(&typed, Some("not an endpoint id")).await.expect_err("bad eid"));
    assert_eq!(c, code::INVALID_INPUT);
    assert!(m.contains("not a USP Endpoint ID"), "{m}");
    let (c, m) = wrong(add("wss://127.0.0.1:9/usp", None).await.expect_err("wss without eid"));
    assert_eq!(c, code::INVALID_INPUT);
    assert!(m.contains("Endpoint ID"), "{m}");
    // Nothing listens on the discard port of loopback.
    let (c, m) = wrong(bounded("unreachable", add("127.0.0.1:9/usp", None)).await.expect_err("nobody there"));
    assert_eq!(c, code::OFFLINE);
    assert!(m.starts_with("127.0.0.1:9/usp can't be reached"), "{m}");
    assert_eq!(home.home().await.expect("view").agents.len(), 1);

    // A device behind a broker: its Endpoint ID is needed, and a login only makes sense there.
    let (c, m) = wrong(add("mqtt://127.0.0.1:9/usp/agent/gw", None).await.expect_err("broker without eid"));
    assert_eq!(c, code::INVALID_INPUT);
    assert!(m.contains("message broker") && m.contains("Endpoint ID"), "{m}");
    let login = BrokerLogin { username: "home".into(), password: "s3cret-broker".into() };
    let e = home
        .agent_add(AgentAddress {
            address: gw.url.clone(),
            endpoint_id: Some(eid.clone()),
            broker_login: Some(login.clone()),
        })
        .await
        .expect_err("a login for a ws device");
    assert_eq!(e.code(), code::INVALID_INPUT);
    assert!(!format!("{e:?}{e}").contains("s3cret-broker"), "the password never shows in errors");
    let broker_eid = "proto::behind-a-broker";
    let added = bounded(
        "add behind a broker",
        home.agent_add(AgentAddress {
            address: "mqtt://127.0.0.1:9/usp/agent/gw".into(),
            endpoint_id: Some(broker_eid.into()),
            broker_login: Some(login),
        }),
    )
    .await
    .expect("added with its Endpoint ID");
    assert_eq!(added.url, "mqtt://127.0.0.1:9/usp/agent/gw");
    assert_eq!(home.home().await.expect("view").agents.len(), 2);
    bounded("forget", home.forget_agent(AgentArgs { agent: broker_eid.into() })).await.expect("forgotten");
    home.shutdown().await;
    sim.shutdown().await;
}
