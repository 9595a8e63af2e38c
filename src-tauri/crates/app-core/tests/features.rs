//! The homeowner features (WiFi, guest, devices, parental controls, mesh, smart home) against
//! the simulated home: real agents on loopback over real WebSockets. The pure `*::rules`
//! decoders and encoders run on what real Gets return and their requests go to real agents, as
//! the Full Access controller `self::usp-home-admin` and as a "Home User" controller (who reads
//! secured WiFi passwords as ""). The last tests drive the same features through `Home`.

#[path = "../../../../tests/support/speed_server.rs"]
mod speed_server;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use app_core::home::{Home, HomeConfig};
use app_core::vault::{Vault, VaultBackendKind, VaultConfig};
use std::time::Duration;

use app_core::guest::rules::{self as guest, AgentNetwork};
use app_core::hosts::rules::{self as devices, AgentData, Known, Step};
use app_core::mesh::rules as mesh;
use app_core::params::{Params, Supported};
use app_core::parental::rules as parental;
use app_core::qr;
use app_core::smart::rules as smart;
use app_core::wifi::rules as wifi;
use ipc_types::{
    code, AgentArgs, AgentAuth, BedtimeCreate, BedtimeDelete, DevicePause, DeviceRename, GuestEnable, GuestPassphrase,
    GuestSource, Link, PairingSubmit, RuleOrigin, ScheduleModel, ThingSet, ThingState, Weekday, WifiEnable,
    WifiPassphrase, WifiRename,
};
use sim_home::scenario::Scenario;
use usp_client::{Client, ClientConfig};
use usp_core::request::SupportedDmOptions;
use usp_core::EndpointId;

const ADMIN: &str = "self::usp-home-admin";
const USER: &str = "self::features-home-user";
const WAIT: Duration = Duration::from_secs(20);

async fn sim(scenario: Scenario) -> sim_home::Home {
    let mut c = sim_home::HomeConfig::new(scenario);
    c.extra_controllers = vec![(USER.parse().expect("eid"), "Home User".to_owned())];
    sim_home::Home::start(c).await.expect("the simulated home starts")
}

async fn client(home: &sim_home::Home, key: &str, eid: &str) -> Client {
    let agent = home.agent(key).expect("agent");
    let mut c = ClientConfig::new(agent.url.clone(), eid.parse::<EndpointId>().expect("eid"));
    c.request_timeout = Duration::from_secs(10);
    c.connect_timeout = Duration::from_secs(10);
    tokio::time::timeout(WAIT, Client::connect(c)).await.expect("connect in time").expect("connects")
}

async fn get(c: &Client, paths: &[&str]) -> Params {
    Params::from_get(&c.get(paths, 0).await.expect("get"))
}

async fn set(c: &Client, params: &[(String, String)]) {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
    c.set(&pairs).await.expect("set accepted");
}

async fn add(c: &Client, table: &str, params: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
    let resp = c.add(table, &pairs).await.expect("add accepted");
    let (_, res) = resp.per_object().into_iter().next().expect("one result");
    let p = res.expect("created").instantiated_path.to_string();
    if p.ends_with('.') {
        p
    } else {
        format!("{p}.")
    }
}

async fn supported(c: &Client, paths: &[&str]) -> Supported {
    let opts =
        SupportedDmOptions { commands: false, events: false, unique_key_sets: false, ..SupportedDmOptions::default() };
    let req = usp_core::request::get_supported_dm(paths, opts).expect("request");
    let resp: usp_core::msg::GetSupportedDmResp = c.request(req).await.expect("gsdm").try_into().expect("resp");
    Supported::from_resp(&resp)
}

async fn run(c: &Client, steps: &[Step]) {
    for s in steps {
        match s {
            Step::Add { table, params } => {
                add(c, table, params).await;
            }
            Step::Set(params) => set(c, params).await,
            Step::Delete(path) => {
                c.delete(&[path.as_str()]).await.expect("delete");
            }
        }
    }
}

#[tokio::test]
async fn wifi_networks_rename_passphrase_and_share_as_admin() {
    let home = sim(Scenario::builtin()).await;
    let c = client(&home, "gateway", ADMIN).await;
    let nets = wifi::networks(&get(&c, &wifi::GET_PATHS).await);
    let summary: Vec<(&str, &str, Vec<String>)> =
        nets.iter().map(|n| (n.ssid_path.as_str(), n.ssid.as_str(), n.bands.clone())).collect();
    assert_eq!(
        summary,
        [
            ("Device.WiFi.SSID.1", "Home", vec!["2.4GHz".to_owned()]),
            ("Device.WiFi.SSID.2", "Home", vec!["5GHz".to_owned()]),
            ("Device.WiFi.SSID.3", "Home-Guest", vec!["2.4GHz".to_owned()]),
        ]
    );
    assert_eq!(nets[2].ap_path.as_deref(), Some("Device.WiFi.AccessPoint.3"));
    assert_eq!(nets[0].passphrase.as_deref(), Some("correct-horse-battery"), "Full Access is a secured role");
    let dm = supported(&c, &["Device.WiFi.SSID.", "Device.WiFi.AccessPoint."]).await;
    assert!(wifi::writable(&nets[0], Some(&dm)));
    assert_eq!(
        wifi::offered_modes(&nets[0].modes_supported),
        ["WPA2-Personal", "WPA3-Personal", "WPA3-Personal-Transition"]
    );

    // Guest by isolation; share text from the readable passphrase.
    let list: Vec<AgentNetwork> = nets.iter().map(|n| AgentNetwork { agent: "gw".into(), net: n.clone() }).collect();
    let found = guest::find(&list, None).expect("guest found");
    assert_eq!((found.main, found.source), (2, GuestSource::Isolation));
    let g = &nets[2];
    let text = qr::wifi_share_text(&g.ssid, g.passphrase.as_deref(), g.security.as_deref().unwrap_or(""), g.hidden);
    assert_eq!(text, "WIFI:T:WPA;S:Home-Guest;P:welcome-guests-2024;;");
    assert!(qr::svg(&text).starts_with("<svg"));

    // Rename and a WPA3 passphrase with a mode change, as the agent stores them.
    wifi::check_ssid("Home; 5G").expect("valid");
    set(&c, &[("Device.WiFi.SSID.2.SSID".to_owned(), "Home; 5G".to_owned())]).await;
    let params = wifi::passphrase_params(&nets[0], "new:pass;word", Some("WPA3-Personal")).expect("valid");
    set(&c, &params).await;
    let nets = wifi::networks(&get(&c, &wifi::GET_PATHS).await);
    assert_eq!(nets[1].ssid, "Home; 5G");
    assert_eq!(nets[0].security.as_deref(), Some("WPA3-Personal"));
    assert_eq!(nets[0].passphrase.as_deref(), Some("new:pass;word"));
    let sae = get(&c, &["Device.WiFi.AccessPoint.1.Security.SAEPassphrase"]).await;
    assert_eq!(sae.raw("Device.WiFi.AccessPoint.1.Security.SAEPassphrase"), Some("new:pass;word"));
    assert_eq!(
        qr::wifi_share_text(&nets[0].ssid, nets[0].passphrase.as_deref(), "WPA3-Personal", false),
        r"WIFI:T:WPA;S:Home;P:new\:pass\;word;;"
    );
    // The agent refuses what the app refuses too: a 7-character passphrase.
    assert!(wifi::check_passphrase("1234567").is_err());
    let refused = c.set(&[("Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "1234567")]).await;
    assert!(refused.is_err(), "the simulated agent checks 8-63 as well");
    home.shutdown().await;
}

#[tokio::test]
async fn home_user_reads_no_passphrase_so_the_guest_network_cannot_be_shared_until_set() {
    let home = sim(Scenario::builtin()).await;
    let c = client(&home, "gateway", USER).await;
    let nets = wifi::networks(&get(&c, &wifi::GET_PATHS).await);
    assert_eq!(nets.len(), 3);
    assert!(nets.iter().all(|n| n.passphrase.is_none()), "secured: reads empty for Home User");
    let dm = supported(&c, &["Device.WiFi.SSID.", "Device.WiFi.AccessPoint."]).await;
    assert!(wifi::writable(&nets[2], Some(&dm)), "Home User may change WiFi");
    // Setting works although reading doesn't: the app then knows the passphrase.
    let params = wifi::passphrase_params(&nets[2], "visitors-welcome", None).expect("valid");
    assert_eq!(params.len(), 1, "WPA2 guest: KeyPassphrase only");
    set(&c, &params).await;
    assert_eq!(
        home.agent("gateway").expect("gw").get("Device.WiFi.AccessPoint.3.Security.KeyPassphrase").await.as_deref(),
        Some("visitors-welcome")
    );
    let again = wifi::networks(&get(&c, &wifi::GET_PATHS).await);
    assert_eq!(again[2].passphrase, None, "still hidden from this role");
    // The Untrusted role sees no WiFi at all.
    let stranger = client(&home, "gateway", "self::features-stranger").await;
    assert!(wifi::networks(&get(&stranger, &wifi::GET_PATHS).await).is_empty());
    home.shutdown().await;
}

#[tokio::test]
async fn devices_are_merged_and_paused_then_resumed_on_the_agent() {
    let home = sim(Scenario::builtin()).await;
    let gw = client(&home, "gateway", ADMIN).await;
    let ex = client(&home, "extender", ADMIN).await;
    let gp = get(&gw, &devices::GET_PATHS).await;
    let ep = get(&ex, &devices::GET_PATHS).await;
    let labels = BTreeMap::from([("00:1b:a9:70:80:05".to_owned(), "Office printer".to_owned())]);
    let seen = BTreeSet::from(["a4:83:e7:10:20:01".to_owned()]);
    let agents = [
        AgentData { agent: "gw", name: "Living room gateway", params: &gp },
        AgentData { agent: "ex", name: "Upstairs extender", params: &ep },
    ];
    let list = devices::devices(&agents, Known { labels: &labels, seen: &seen });
    assert_eq!(list.len(), 7);
    let by = |mac: &str| list.iter().find(|d| d.mac == mac).expect(mac).clone();
    let anna = by("a4:83:e7:10:20:01");
    assert_eq!((anna.name.as_str(), anna.link, anna.signal_dbm), ("Annas-Phone", Link::Wifi, Some(-52)));
    assert_eq!(anna.node.as_deref(), Some("Living room gateway"));
    assert_eq!(anna.bytes_received, Some(2_300_000_000));
    assert!(!anna.new);
    let tom = by("3c:22:fb:50:60:03");
    assert_eq!(tom.node.as_deref(), Some("Upstairs extender"), "associated with the extender's AP");
    assert_eq!(tom.signal_dbm, Some(-48));
    assert!(tom.new);
    let printer = by("00:1b:a9:70:80:05");
    assert_eq!((printer.name.as_str(), printer.labelled, printer.online), ("Office printer", true, false));
    let tv = by("b8:27:eb:11:22:02");
    assert_eq!((tv.link, tv.signal_dbm), (Link::Wired, None));
    assert!(list.iter().all(|d| !d.paused));

    // Pause Anna's phone: a Deny row of ours, made by a controller.
    let rows = devices::access_rows(&gp);
    run(&gw, &devices::pause_steps(&rows, &anna.mac, anna.host_name.as_deref(), true)).await;
    let gp = get(&gw, &devices::GET_PATHS).await;
    let rows = devices::access_rows(&gp);
    let row = rows.iter().find(|r| r.mac.as_deref() == Some(anna.mac.as_str())).expect("pause row");
    assert!(row.denies() && row.ours());
    assert_eq!(row.origin.as_deref(), Some("Controller"));
    let agents = [AgentData { agent: "gw", name: "gw", params: &gp }];
    let list = devices::devices(&agents, Known { labels: &labels, seen: &seen });
    assert!(list.iter().find(|d| d.mac == anna.mac).expect("anna").paused);
    assert_eq!(devices::pause_steps(&rows, &anna.mac, None, true), [], "pausing twice does nothing");
    // Resume: our row is deleted.
    run(&gw, &devices::pause_steps(&rows, &anna.mac, None, false)).await;
    let gp = get(&gw, &devices::GET_PATHS).await;
    assert!(devices::access_rows(&gp).iter().all(|r| r.mac.as_deref() != Some(anna.mac.as_str())));

    // The kids' tablet has someone else's schedule row: pause flips it to Deny, resume back.
    let kid = "f0:d4:15:30:40:04";
    let rows = devices::access_rows(&gp);
    run(&gw, &devices::pause_steps(&rows, kid, None, true)).await;
    let gp = get(&gw, &devices::GET_PATHS).await;
    let rows = devices::access_rows(&gp);
    let row = rows.iter().find(|r| r.mac.as_deref() == Some(kid)).expect("row");
    assert!(row.denies() && !row.ours());
    run(&gw, &devices::pause_steps(&rows, kid, None, false)).await;
    let gp = get(&gw, &devices::GET_PATHS).await;
    let row = devices::access_rows(&gp).into_iter().find(|r| r.mac.as_deref() == Some(kid)).expect("row");
    assert_eq!((row.policy.as_str(), row.enabled, row.schedule_refs.len()), ("Allow", true, 2), "schedules kept");
    home.shutdown().await;
}

#[tokio::test]
async fn bedtime_on_a_2_18_agent_round_trips_through_schedules() {
    let home = sim(Scenario::builtin()).await;
    // Home User: what a paired homeowner holds.
    let c = client(&home, "gateway", USER).await;
    let hosts = supported(&c, &["Device.Hosts."]).await;
    let scheds = supported(&c, &["Device.Schedules."]).await;
    let model = parental::model(
        scheds.has_object("Device.Schedules.Schedule.{i}."),
        hosts.has_object("Device.Hosts.AccessControl.{i}.Schedule.{i}."),
        hosts.has_object("Device.Hosts.AccessControl.{i}."),
    );
    assert_eq!(model, ScheduleModel::Schedules);
    let mac = "3c:22:fb:50:60:03";
    let spec = parental::Spec::new(&[Weekday::Sunday, Weekday::Monday], "21:30", "06:45").expect("valid");
    let sched = add(&c, "Device.Schedules.Schedule.", &spec.schedule_params(mac, "Tom's laptop")).await;
    let mut access = parental::access_params(mac, Some("Toms-Laptop"));
    access.push(("ScheduleRef".into(), sched.trim_end_matches('.').to_owned()));
    let row = add(&c, "Device.Hosts.AccessControl.", &access).await;
    let gw = home.agent("gateway").expect("gw");
    assert_eq!(gw.get(&format!("{sched}InverseMode")).await.as_deref(), Some("true"));
    assert_eq!(gw.get(&format!("{sched}Duration")).await.as_deref(), Some("33300"));
    assert_eq!(gw.get(&format!("{row}AccessPolicy")).await.as_deref(), Some("Allow"));

    let p = get(&c, &["Device.Hosts.", "Device.Schedules."]).await;
    let rows = devices::access_rows(&p);
    let (beds, others) = parental::rules("gw", &p, &rows, &|m| format!("name of {m}"));
    assert_eq!(beds.len(), 1, "{beds:?}");
    let b = &beds[0];
    assert_eq!(b.id, format!("gw {}", row.trim_end_matches('.')));
    assert_eq!((b.start.as_str(), b.end.as_str()), ("21:30", "06:45"));
    assert_eq!(b.days, [Weekday::Monday, Weekday::Sunday]);
    assert_eq!((b.origin, b.enabled), (RuleOrigin::Ours, true));
    // The kids' tablet rule from the router's own page is shown apart, read-only.
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].origin, RuleOrigin::Other);
    assert!(others[0].summary.starts_with("Online only: Mon,Tue,Wed,Thu,Sun 07:00-20:00"), "{}", others[0].summary);
    home.shutdown().await;
}

/// The built-in home with a gateway of the TR-181 2.14-2.17 generation: access-control
/// schedules inside each AccessControl row, no `Device.Schedules`, no `ScheduleRef`.
fn legacy_scenario() -> Scenario {
    let mut s = Scenario::builtin();
    let gw = s.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    let schedules: sim_home::spec::Feature = serde_json::from_value(serde_json::json!("schedules")).expect("feature");
    gw.features.retain(|f| *f != schedules);
    gw.features.push(serde_json::from_value(serde_json::json!("legacy-schedules")).expect("legacy feature"));
    gw.data.remove("Device.Schedules.Schedule.");
    gw.data.insert(
        "Device.Hosts.AccessControl.".into(),
        serde_json::json!([{
            "Alias": "kids-tablet", "PhysAddress": "F0:D4:15:30:40:04", "HostName": "Kids-Tablet",
            "Enable": true, "AccessPolicy": "Allow", "Origin": "User",
            "Schedule.": [ { "Enable": true, "Day": "Monday,Tuesday", "StartTime": "07:00", "Duration": 46800 } ]
        }]),
    );
    s
}

#[tokio::test]
async fn bedtime_on_a_legacy_agent_uses_access_control_schedules() {
    let home = sim(legacy_scenario()).await;
    let c = client(&home, "gateway", USER).await;
    let hosts = supported(&c, &["Device.Hosts."]).await;
    let scheds = supported(&c, &["Device.Schedules."]).await;
    assert!(!scheds.has_object("Device.Schedules.Schedule.{i}."));
    assert!(!hosts.has_param("Device.Hosts.AccessControl.{i}.ScheduleRef"));
    let model = parental::model(
        scheds.has_object("Device.Schedules.Schedule.{i}."),
        hosts.has_object("Device.Hosts.AccessControl.{i}.Schedule.{i}."),
        hosts.has_object("Device.Hosts.AccessControl.{i}."),
    );
    assert_eq!(model, ScheduleModel::Legacy);

    let mac = "a4:83:e7:10:20:01";
    let spec = parental::Spec::new(&[Weekday::Friday, Weekday::Saturday], "23:00", "08:00").expect("valid");
    let row = add(&c, "Device.Hosts.AccessControl.", &parental::access_params(mac, Some("Annas-Phone"))).await;
    let windows = spec.legacy_schedule_rows();
    assert_eq!(windows.len(), 2);
    for params in &windows {
        add(&c, &format!("{row}Schedule."), params).await;
    }
    let p = get(&c, &["Device.Hosts."]).await;
    let rows = devices::access_rows(&p);
    let ours = rows.iter().find(|r| r.path == row).expect("row");
    assert_eq!(ours.legacy_schedules.len(), 2);
    assert!(ours.schedule_refs.is_empty());
    let (beds, others) = parental::rules("gw", &p, &rows, &|m| m.to_owned());
    assert_eq!(beds.len(), 1, "{beds:?} {others:?}");
    assert_eq!(beds[0].days, [Weekday::Friday, Weekday::Saturday]);
    assert_eq!((beds[0].start.as_str(), beds[0].end.as_str()), ("23:00", "08:00"));
    assert_eq!(beds[0].origin, RuleOrigin::Ours);
    // Someone else's legacy window is no bedtime of ours: shown as it is.
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].summary, "Online only: Mon,Tue 07:00-20:00");
    // Deleting the row takes its schedules with it.
    c.delete(&[row.as_str()]).await.expect("delete");
    let p = get(&c, &["Device.Hosts."]).await;
    assert!(p.instances(&format!("{row}Schedule.")).is_empty());
    home.shutdown().await;
}

#[tokio::test]
async fn mesh_tree_from_the_gateways_data_elements() {
    let home = sim(Scenario::builtin()).await;
    let gw = client(&home, "gateway", ADMIN).await;
    let p = get(&gw, &["Device.WiFi.DataElements.Network.", "Device.DeviceInfo.SerialNumber"]).await;
    let agents = vec![
        ("os::012345-GW0001".to_owned(), "Living room gateway".to_owned(), Some("GW0001".to_owned())),
        ("os::012345-EX0001".to_owned(), "Upstairs extender".to_owned(), Some("EX0001".to_owned())),
    ];
    let names = HashMap::from([("a4:83:e7:10:20:01".to_owned(), "Anna's phone".to_owned())]);
    let bands = HashMap::new();
    let nodes = mesh::nodes(&p, mesh::Names { agents: &agents, devices: &names, bands: &bands });
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].name, "Living room gateway");
    assert_eq!(nodes[0].parent, None);
    assert_eq!(nodes[0].agent.as_deref(), Some("os::012345-GW0001"));
    let clients: Vec<(&str, Option<i32>)> = nodes[0].clients.iter().map(|c| (c.name.as_str(), c.signal_dbm)).collect();
    assert_eq!(clients, [("Anna's phone", Some(-52)), ("Kids-Tablet", Some(-61))]);
    let ex = &nodes[1];
    assert_eq!(ex.name, "Upstairs extender");
    assert_eq!(ex.parent.as_deref(), Some("00:12:34:56:00:00"));
    assert_eq!(ex.backhaul.as_deref(), Some("Wi-Fi 5GHz"));
    assert_eq!(ex.phy_rate_mbps, Some(1200));
    assert_eq!(ex.clients.len(), 1);
    assert_eq!(ex.clients[0].signal_dbm, Some(-48));
    home.shutdown().await;
}

#[tokio::test]
async fn smart_home_controls_are_validated_and_set() {
    let home = sim(Scenario::builtin()).await;
    for eid in [ADMIN, USER] {
        let c = client(&home, "hub", eid).await;
        let p = get(&c, &smart::GET_PATHS).await;
        let dm = supported(&c, &smart::GET_PATHS).await;
        let groups = smart::groups(&p, "hub", "Kitchen hub", Some(&dm));
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].title, "Kitchen hub");
        let things = &groups[0].things;
        let names: Vec<&str> = things.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Kitchen light", "Living room dimmer", "Front door", "Living room temperature"]);
        assert!(things[0].writable && things[1].writable && !things[2].writable);
        assert_eq!(
            things[3].state,
            ThingState::Sensor {
                value: "21.5".into(),
                unit: Some("°C".into()),
                last_change: Some("2024-06-01T07:55:00Z".into())
            }
        );
        assert!(smart::set_value(&things[1], "65").is_err(), "off the step grid");
        let on = if eid == ADMIN { "on" } else { "off" };
        let (param, value) = smart::set_value(&things[0], on).expect("valid");
        set(&c, &[(param, value)]).await;
        let (param, value) = smart::set_value(&things[1], "30").expect("valid");
        set(&c, &[(param, value)]).await;
        let p = get(&c, &["Device.IoTCapability.1.", "Device.IoTCapability.2."]).await;
        let light = smart::thing(&p, "hub", "Device.IoTCapability.1.", None).expect("light");
        assert_eq!(light.state, ThingState::Switch { on: eid == ADMIN });
        let dimmer = smart::thing(&p, "hub", "Device.IoTCapability.2.", None).expect("dimmer");
        assert!(matches!(dimmer.state, ThingState::Level { value, .. } if value == 30.0));
    }
    home.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Through `Home`, after pairing every agent with its passcode (role "Home User")

const PASSCODES: [(&str, &str); 3] = [("gateway", "482913"), ("extender", "730146"), ("hub", "159372")];

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// The simulated home (own Endpoint IDs) and the app paired with all of its agents.
async fn paired_home(tag: &str, scenario: Scenario) -> (sim_home::Home, Home, tempfile::TempDir) {
    let mut scenario = scenario;
    for a in &mut scenario.agents {
        a.endpoint_id = format!("{}-{tag}", a.endpoint_id);
    }
    let sim = sim(scenario).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vc = VaultConfig::new(dir.path());
    vc.prefer = Some(VaultBackendKind::Memory);
    let vault = Arc::new(Vault::open(vc).expect("memory vault"));
    let manual = sim.agents().iter().map(|a| (a.url.clone(), Some(a.endpoint_id.as_str().to_owned()))).collect();
    let config = HomeConfig {
        data_dir: dir.path().to_owned(),
        interfaces: Some(usp_client::discovery::Interfaces::Named(Vec::new())),
        manual_agents: manual,
        connectors: Vec::new(),
    };
    let home = Home::start(config, vault).await.expect("the app's home starts");
    let eids: Vec<String> = sim.agents().iter().map(|a| a.endpoint_id.as_str().to_owned()).collect();
    let mut rx = home.events();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = home.home().await.expect("home view");
        let ready = eids
            .iter()
            .all(|e| view.agents.iter().any(|a| a.agent == *e && matches!(a.auth, AgentAuth::Untrusted { .. })));
        if ready {
            break;
        }
        if tokio::time::timeout_at(deadline, rx.recv()).await.is_err() {
            panic!("agents not connected in time: {view:#?}");
        }
    }
    for (key, passcode) in PASSCODES {
        let eid = sim.agent(key).expect("agent").endpoint_id.as_str().to_owned();
        bounded("pairing", async {
            home.pairing_start(AgentArgs { agent: eid.clone() }).await.expect("pairing starts");
            home.pairing_submit(PairingSubmit { agent: eid.clone(), passcode: passcode.to_owned() }).await
        })
        .await
        .expect("paired with the passcode");
    }
    (sim, home, dir)
}

#[tokio::test]
async fn home_wifi_guest_and_smart_home_after_pairing() {
    let (sim, home, _dir) = paired_home("feat-a", Scenario::builtin()).await;
    let gw = sim.agent("gateway").expect("gw");
    let ex = sim.agent("extender").expect("ex");

    let view = bounded("wifi", home.wifi()).await.expect("wifi");
    assert_eq!(view.networks.len(), 5, "{view:#?}");
    assert_eq!(view.networks[0].agent, gw.endpoint_id.as_str(), "gateway first");
    assert_eq!(view.networks[0].agent_name, "Living room gateway");
    let guests: Vec<&str> = view.networks.iter().filter(|n| n.guest).map(|n| n.ssid.as_str()).collect();
    assert_eq!(guests, ["Home-Guest"]);
    assert!(view.networks.iter().all(|n| !n.passphrase_readable && n.writable));

    // Home User can't read the guest password: offer to set one, then share it.
    let g = bounded("guest", home.guest()).await.expect("guest");
    assert_eq!(g.source, Some(GuestSource::Isolation));
    assert!(g.passphrase_hidden);
    assert_eq!(g.share_text, None);
    let err = home.guest_passphrase(GuestPassphrase { passphrase: "short".into() }).await.expect_err("too short");
    assert_eq!(err.code(), code::INVALID_INPUT);
    let g = bounded("guest pass", home.guest_passphrase(GuestPassphrase { passphrase: "visitors;2024".into() }))
        .await
        .expect("set");
    assert_eq!(g.share_text.as_deref(), Some(r"WIFI:T:WPA;S:Home-Guest;P:visitors\;2024;;"));
    assert!(g.qr_svg.as_deref().is_some_and(|s| s.starts_with("<svg") && s.ends_with("</svg>")));
    assert!(!g.passphrase_hidden);
    assert_eq!(gw.get("Device.WiFi.AccessPoint.3.Security.KeyPassphrase").await.as_deref(), Some("visitors;2024"));

    // Guest off, confirmed on the agent; and on again.
    let g = bounded("guest off", home.guest_enable(GuestEnable { enabled: false })).await.expect("off");
    assert!(g.network.as_ref().is_some_and(|n| !n.enabled));
    assert_eq!(gw.get("Device.WiFi.SSID.3.Enable").await.as_deref(), Some("false"));
    assert_eq!(gw.get("Device.WiFi.AccessPoint.3.Enable").await.as_deref(), Some("false"));
    let g = bounded("guest on", home.guest_enable(GuestEnable { enabled: true })).await.expect("on");
    assert!(g.network.as_ref().is_some_and(|n| n.enabled));
    assert_eq!(gw.get("Device.WiFi.SSID.3.Enable").await.as_deref(), Some("true"));

    // Rename on the extender; a name too long is refused before any request.
    let long = WifiRename {
        agent: ex.endpoint_id.as_str().into(),
        ssid_path: "Device.WiFi.SSID.1".into(),
        ssid: "x".repeat(33),
    };
    assert_eq!(home.wifi_rename(long).await.expect_err("too long").code(), code::INVALID_INPUT);
    let ok = WifiRename {
        agent: ex.endpoint_id.as_str().into(),
        ssid_path: "Device.WiFi.SSID.1".into(),
        ssid: "Upstairs".into(),
    };
    bounded("rename", home.wifi_rename(ok)).await.expect("renamed");
    assert_eq!(ex.get("Device.WiFi.SSID.1.SSID").await.as_deref(), Some("Upstairs"));
    let sneaky =
        WifiRename { agent: ex.endpoint_id.as_str().into(), ssid_path: "Device.DeviceInfo".into(), ssid: "x".into() };
    assert_eq!(home.wifi_rename(sneaky).await.expect_err("not an SSID").code(), code::INVALID_INPUT);

    // Switch a network off (SSID and its AccessPoint), and a new password with another mode.
    let off =
        WifiEnable { agent: ex.endpoint_id.as_str().into(), ssid_path: "Device.WiFi.SSID.2".into(), enabled: false };
    bounded("wifi off", home.wifi_enable(off)).await.expect("off");
    assert_eq!(ex.get("Device.WiFi.SSID.2.Enable").await.as_deref(), Some("false"));
    assert_eq!(ex.get("Device.WiFi.AccessPoint.2.Enable").await.as_deref(), Some("false"));
    let view = bounded("wifi", home.wifi()).await.expect("wifi");
    let n = view.networks.iter().find(|n| n.agent == ex.endpoint_id.as_str() && n.ssid_path == "Device.WiFi.SSID.2");
    assert!(n.is_some_and(|n| !n.enabled));
    let open = WifiPassphrase {
        agent: ex.endpoint_id.as_str().into(),
        ap_path: "Device.WiFi.AccessPoint.1".into(),
        passphrase: "upstairs-2024".into(),
        mode: Some("None".into()),
    };
    assert_eq!(home.wifi_passphrase(open).await.expect_err("no open networks").code(), code::INVALID_INPUT);
    let wpa2 = WifiPassphrase {
        agent: ex.endpoint_id.as_str().into(),
        ap_path: "Device.WiFi.AccessPoint.1".into(),
        passphrase: "upstairs-2024".into(),
        mode: Some("WPA2-Personal".into()),
    };
    bounded("passphrase", home.wifi_passphrase(wpa2)).await.expect("set");
    assert_eq!(ex.get("Device.WiFi.AccessPoint.1.Security.ModeEnabled").await.as_deref(), Some("WPA2-Personal"));
    assert_eq!(ex.get("Device.WiFi.AccessPoint.1.Security.KeyPassphrase").await.as_deref(), Some("upstairs-2024"));

    // Smart home: a light switched, a dimmer refused off its step grid.
    let sh = bounded("smart", home.smart_home()).await.expect("smart");
    assert_eq!(sh.groups.len(), 1);
    let hub = sim.agent("hub").expect("hub");
    let light = &sh.groups[0].things[0];
    assert_eq!(light.state, ThingState::Switch { on: false });
    let set = ThingSet { agent: light.agent.clone(), path: light.path.clone(), value: "true".into() };
    let fresh = bounded("switch", home.thing_set(set)).await.expect("switched");
    assert_eq!(fresh.state, ThingState::Switch { on: true });
    assert_eq!(hub.get("Device.IoTCapability.1.BinaryControl.Value").await.as_deref(), Some("true"));
    let dimmer = &sh.groups[0].things[1];
    let bad = ThingSet { agent: dimmer.agent.clone(), path: dimmer.path.clone(), value: "65".into() };
    let err = home.thing_set(bad).await.expect_err("off grid");
    assert_eq!(err.code(), code::INVALID_INPUT);
    assert!(err.to_string().contains("steps of 10%"), "{err}");

    // Mesh: the extender hangs off the gateway over 5 GHz, and both are agents of the home.
    let m = bounded("mesh", home.mesh()).await.expect("mesh");
    assert_eq!(m.nodes.len(), 2);
    assert_eq!(m.nodes[0].agent.as_deref(), Some(gw.endpoint_id.as_str()));
    assert_eq!(m.nodes[1].agent.as_deref(), Some(ex.endpoint_id.as_str()));
    assert_eq!(m.nodes[1].parent.as_deref(), Some(m.nodes[0].id.as_str()));
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn home_devices_pause_and_bedtimes_after_pairing() {
    let (sim, home, _dir) = paired_home("feat-b", Scenario::builtin()).await;
    let gw = sim.agent("gateway").expect("gw");
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    assert_eq!(list.len(), 7);
    assert!(list.iter().all(|d| d.new));
    bounded("seen", home.devices_seen()).await.expect("seen");
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    assert!(list.iter().all(|d| !d.new));
    let anna = "a4:83:e7:10:20:01";
    bounded("rename", home.device_rename(DeviceRename { mac: anna.to_uppercase(), name: "Anna's phone".into() }))
        .await
        .expect("label");
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    let d = list.iter().find(|d| d.mac == anna).expect("anna");
    assert_eq!((d.name.as_str(), d.labelled), ("Anna's phone", true));

    // Pause: a Deny row on the gateway; resume removes it.
    bounded("pause", home.device_pause(DevicePause { mac: anna.into(), paused: true })).await.expect("paused");
    assert_eq!(
        gw.get("Device.Hosts.AccessControl.[PhysAddress==\"A4:83:E7:10:20:01\"].AccessPolicy").await.as_deref(),
        Some("Deny")
    );
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    assert!(list.iter().find(|d| d.mac == anna).expect("anna").paused);
    bounded("resume", home.device_pause(DevicePause { mac: anna.into(), paused: false })).await.expect("resumed");
    assert_eq!(gw.get("Device.Hosts.AccessControlNumberOfEntries").await.as_deref(), Some("1"));
    let err =
        home.device_pause(DevicePause { mac: "02:00:00:00:00:99".into(), paused: true }).await.expect_err("unknown");
    assert_eq!(err.code(), code::NOT_FOUND);

    // Bedtime on the 2.18 gateway.
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.model, ScheduleModel::Schedules);
    assert!(p.bedtimes.is_empty());
    assert_eq!(p.other_rules.len(), 1, "the kids' tablet schedule from the router's page");
    let bad = BedtimeCreate { mac: anna.into(), days: vec![], start: "21:00".into(), end: "07:00".into() };
    assert_eq!(home.bedtime_create(bad).await.expect_err("no day").code(), code::INVALID_INPUT);
    let req = BedtimeCreate {
        mac: anna.into(),
        days: vec![Weekday::Friday, Weekday::Monday],
        start: "21:00".into(),
        end: "07:00".into(),
    };
    let b = bounded("bedtime", home.bedtime_create(req.clone())).await.expect("created");
    assert_eq!((b.start.as_str(), b.end.as_str(), b.origin), ("21:00", "07:00", RuleOrigin::Ours));
    assert_eq!(b.days, [Weekday::Monday, Weekday::Friday]);
    assert_eq!(b.device_name, "Anna's phone");
    assert_eq!(gw.get("Device.Schedules.ScheduleNumberOfEntries").await.as_deref(), Some("3"));
    let again = home.bedtime_create(req).await.expect_err("one per device");
    assert!(again.to_string().contains("already has a bedtime"), "{again}");
    let kid = BedtimeCreate {
        mac: "f0:d4:15:30:40:04".into(),
        days: vec![Weekday::Monday],
        start: "20:00".into(),
        end: "06:00".into(),
    };
    let err = home.bedtime_create(kid).await.expect_err("someone else's rule");
    assert!(err.to_string().contains("made elsewhere"), "{err}");
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes, std::slice::from_ref(&b));
    bounded("delete", home.bedtime_delete(BedtimeDelete { id: b.id.clone() })).await.expect("deleted");
    assert_eq!(gw.get("Device.Schedules.ScheduleNumberOfEntries").await.as_deref(), Some("2"), "our schedule gone");
    assert_eq!(gw.get("Device.Hosts.AccessControlNumberOfEntries").await.as_deref(), Some("1"));
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn home_bedtime_on_a_legacy_gateway() {
    let (sim, home, _dir) = paired_home("feat-c", legacy_scenario()).await;
    let gw = sim.agent("gateway").expect("gw");
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.model, ScheduleModel::Legacy);
    let req = BedtimeCreate {
        mac: "3c:22:fb:50:60:03".into(),
        days: vec![Weekday::Sunday],
        start: "22:00".into(),
        end: "06:30".into(),
    };
    let b = bounded("bedtime", home.bedtime_create(req)).await.expect("created");
    assert_eq!((b.start.as_str(), b.end.as_str(), b.days.clone()), ("22:00", "06:30", vec![Weekday::Sunday]));
    let row = b.id.split_once(' ').expect("id").1.to_owned();
    assert_eq!(gw.get(&format!("{row}.ScheduleNumberOfEntries")).await.as_deref(), Some("1"));
    assert_eq!(gw.get(&format!("{row}.Schedule.1.Day")).await.as_deref(), Some("Monday"));
    assert_eq!(gw.get(&format!("{row}.Schedule.1.StartTime")).await.as_deref(), Some("06:30"));
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes.len(), 1);
    bounded("delete", home.bedtime_delete(BedtimeDelete { id: b.id })).await.expect("deleted");
    assert_eq!(gw.get("Device.Hosts.AccessControlNumberOfEntries").await.as_deref(), Some("1"));
    home.shutdown().await;
    sim.shutdown().await;
}

/// The app provisioned with Full Access (a secured role) on every agent of `scenario`, as an
/// installer would do it: no passcode, the app's Endpoint ID is in each Controller table.
async fn admin_home(tag: &str, mut scenario: Scenario) -> (sim_home::Home, Home, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vc = VaultConfig::new(dir.path());
    vc.prefer = Some(VaultBackendKind::Memory);
    let vault = Arc::new(Vault::open(vc).expect("memory vault"));
    let identity = app_core::identity::load_or_create(&vault, dir.path()).expect("identity");
    for a in &mut scenario.agents {
        a.endpoint_id = format!("{}-{tag}", a.endpoint_id);
    }
    let mut c = sim_home::HomeConfig::new(scenario);
    c.extra_controllers = vec![(identity.eid().clone(), "Full Access".to_owned())];
    let sim = sim_home::Home::start(c).await.expect("sim");
    let manual = sim.agents().iter().map(|a| (a.url.clone(), Some(a.endpoint_id.as_str().to_owned()))).collect();
    let config = HomeConfig {
        data_dir: dir.path().to_owned(),
        interfaces: Some(usp_client::discovery::Interfaces::Named(Vec::new())),
        manual_agents: manual,
        connectors: Vec::new(),
    };
    let home = Home::start(config, vault).await.expect("app");
    let count = sim.agents().len();
    let mut rx = home.events();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = home.home().await.expect("home view");
        if view.agents.iter().filter(|a| matches!(a.auth, AgentAuth::Paired { .. })).count() == count {
            break;
        }
        if tokio::time::timeout_at(deadline, rx.recv()).await.is_err() {
            panic!("not paired in time: {view:#?}");
        }
    }
    (sim, home, dir)
}

#[tokio::test]
async fn home_as_full_access_controller_shares_the_guest_network_it_can_read() {
    let mut scenario = Scenario::builtin();
    scenario.agents.retain(|a| a.key == "gateway");
    let (sim, home, _dir) = admin_home("feat-d", scenario).await;
    let g = bounded("guest", home.guest()).await.expect("guest");
    assert!(!g.passphrase_hidden);
    assert_eq!(g.share_text.as_deref(), Some("WIFI:T:WPA;S:Home-Guest;P:welcome-guests-2024;;"));
    let w = bounded("wifi", home.wifi()).await.expect("wifi");
    assert!(w.networks.iter().all(|n| n.passphrase_readable));
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn mesh_without_data_elements_shows_the_wifi_agents_and_their_clients() {
    let mut scenario = Scenario::builtin();
    let gw = scenario.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    let mesh_feature: sim_home::spec::Feature = serde_json::from_value(serde_json::json!("mesh")).expect("feature");
    gw.features.retain(|f| *f != mesh_feature);
    gw.data.remove("Device.WiFi.DataElements.Network.");
    let (sim, home, _dir) = admin_home("feat-e", scenario).await;
    let m = bounded("mesh", home.mesh()).await.expect("mesh");
    let gw = sim.agent("gateway").expect("gw");
    let ex = sim.agent("extender").expect("ex");
    let nodes: Vec<(&str, Option<&str>)> = m.nodes.iter().map(|n| (n.id.as_str(), n.parent.as_deref())).collect();
    assert_eq!(nodes, [(gw.endpoint_id.as_str(), None), (ex.endpoint_id.as_str(), Some(gw.endpoint_id.as_str()))]);
    let on_ex: Vec<(&str, Option<i32>, Option<&str>)> =
        m.nodes[1].clients.iter().map(|c| (c.name.as_str(), c.signal_dbm, c.band.as_deref())).collect();
    assert_eq!(on_ex, [("Toms-Laptop", Some(-48), Some("5GHz"))]);
    assert_eq!(m.nodes[0].clients.len(), 2);
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn guest_network_recognised_by_its_easymesh_type() {
    let mut s = Scenario::builtin();
    let gw = s.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    let net = gw.data.get_mut("Device.WiFi.DataElements.Network.").and_then(|v| v.as_object_mut()).expect("network");
    net.insert(
        "SSID.".into(),
        serde_json::json!([
            { "SSID": "Home", "Band": "2.4GHz,5GHz", "Type": "Fronthaul" },
            { "SSID": "Home-Guest", "Band": "2.4GHz", "Type": "Guest" }
        ]),
    );
    // Without isolation the classic hint is gone: only the EasyMesh Type says "guest".
    let aps = gw.data.get_mut("Device.WiFi.AccessPoint.").and_then(|v| v.as_array_mut()).expect("aps");
    aps[2]["IsolationEnable"] = serde_json::json!(false);
    let home = sim(s).await;
    let c = client(&home, "gateway", USER).await;
    let nets = wifi::networks(&get(&c, &wifi::GET_PATHS).await);
    assert_eq!(nets[0].mesh_type.as_deref(), Some("Fronthaul"));
    assert_eq!(nets[2].isolation, Some(false));
    let list: Vec<AgentNetwork> = nets.iter().map(|n| AgentNetwork { agent: "gw".into(), net: n.clone() }).collect();
    let found = guest::find(&list, None).expect("found by type");
    assert_eq!((found.main, found.source, found.siblings.clone()), (2, GuestSource::Type, vec![2]));
    home.shutdown().await;
}

// Pause for a while and extra time, enforced by the gateway's schedules

/// The gateway's clock (`Device.Time.CurrentLocalTime`) as minutes of the day.
async fn gateway_minute(gw: &sim_home::AgentHandle) -> u32 {
    let t = gw.get("Device.Time.CurrentLocalTime").await.expect("the gateway's clock");
    let hh: u32 = t[11..13].parse().expect("hours");
    let mm: u32 = t[14..16].parse().expect("minutes");
    hh * 60 + mm
}

fn hhmm(m: u32) -> String {
    format!("{:02}:{:02}", (m % 1440) / 60, m % 60)
}

fn later(minutes: u64) -> std::time::SystemTime {
    std::time::SystemTime::now() + Duration::from_secs(minutes * 60)
}

#[tokio::test]
async fn home_pause_for_a_while_and_extra_time_on_a_2_18_gateway() {
    use ipc_types::{BedtimeExtra, DevicePauseFor};
    let (sim, home, _dir) = paired_home("feat-p", Scenario::builtin()).await;
    let gw = sim.agent("gateway").expect("gw");
    let anna = "a4:83:e7:10:20:01";
    let row_of = |mac: &str| format!("Device.Hosts.AccessControl.[PhysAddress==\"{}\"].", mac.to_uppercase());
    let rule = row_of(anna);

    // Bad lengths are refused in words.
    let e = home.device_pause_for(DevicePauseFor { mac: anna.into(), minutes: Some(0) }).await.expect_err("0 min");
    assert_eq!(e.code(), code::INVALID_INPUT);
    let e = home.device_pause_for(DevicePauseFor { mac: anna.into(), minutes: Some(2000) }).await.expect_err("long");
    assert!(e.to_string().contains("24 hours"), "{e}");

    // 30 minutes: a rule whose one allowed window starts when the pause ends; the gateway's own
    // schedule status says the device is off now.
    let now = gateway_minute(gw).await;
    bounded("pause 30", home.device_pause_for(DevicePauseFor { mac: anna.into(), minutes: Some(30) }))
        .await
        .expect("paused for a while");
    assert_eq!(gw.get(&format!("{rule}AccessPolicy")).await.as_deref(), Some("Allow"));
    let sched = gw.get(&format!("{rule}ScheduleRef")).await.expect("a schedule");
    assert!(!sched.contains(','), "one window: {sched}");
    let start = gw.get(&format!("{sched}.StartTime")).await.expect("start");
    assert!(start == hhmm(now + 30) || start == hhmm(now + 31), "{start} (now {})", hhmm(now));
    assert_eq!(
        gw.get(&format!("{sched}.Duration")).await.as_deref(),
        Some(((7 * 1440 - 30) * 60).to_string().as_str())
    );
    assert_eq!(gw.get(&format!("{sched}.Status")).await.as_deref(), Some("Inactive"), "no internet now");
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    let d = list.iter().find(|d| d.mac == anna).expect("anna");
    assert!(d.paused, "{d:?}");
    let until = d.paused_until.clone().expect("until");
    assert!(until == hhmm(now + 30) || until == hhmm(now + 31), "{until}");
    // Its time over, the rule goes away.
    home.check_timed_overrides(later(10)).await;
    assert_eq!(gw.get("Device.Hosts.AccessControlNumberOfEntries").await.as_deref(), Some("2"), "not yet");
    home.check_timed_overrides(later(31)).await;
    assert_eq!(gw.get("Device.Hosts.AccessControlNumberOfEntries").await.as_deref(), Some("1"));
    assert_eq!(gw.get("Device.Schedules.ScheduleNumberOfEntries").await.as_deref(), Some("2"));
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    assert!(!list.iter().find(|d| d.mac == anna).expect("anna").paused);

    // A bedtime every night starting in an hour; paused now for 45 minutes on top of it.
    let req = BedtimeCreate {
        mac: anna.into(),
        days: Weekday::ALL.to_vec(),
        start: hhmm(now + 60),
        end: hhmm(now + 60 + 600),
    };
    let bed = bounded("bedtime", home.bedtime_create(req)).await.expect("bedtime");
    let bed_sched = gw.get(&format!("{rule}ScheduleRef")).await.expect("bedtime schedule");
    bounded("pause 45", home.device_pause_for(DevicePauseFor { mac: anna.into(), minutes: Some(45) }))
        .await
        .expect("paused over a bedtime");
    let temp = gw.get(&format!("{rule}ScheduleRef")).await.expect("windows");
    assert_ne!(temp, bed_sched);
    assert!(temp.split(',').count() >= 2, "windows around the pause and the bedtimes: {temp}");
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes, std::slice::from_ref(&bed), "the bedtime is still shown as it is");
    home.check_timed_overrides(later(46)).await;
    assert_eq!(gw.get(&format!("{rule}ScheduleRef")).await, Some(bed_sched.clone()), "the bedtime is back");
    assert_eq!(gw.get("Device.Schedules.ScheduleNumberOfEntries").await.as_deref(), Some("3"), "windows deleted");

    // 30 more minutes tonight: the bedtime starts 30 minutes later, then is as before.
    let e = home.bedtime_extra(BedtimeExtra { id: bed.id.clone(), minutes: 0 }).await.expect_err("0 min");
    assert_eq!(e.code(), code::INVALID_INPUT);
    bounded("extra", home.bedtime_extra(BedtimeExtra { id: bed.id.clone(), minutes: 30 })).await.expect("extra time");
    assert_ne!(gw.get(&format!("{rule}ScheduleRef")).await, Some(bed_sched.clone()));
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes.len(), 1);
    assert_eq!(p.bedtimes[0].extra_until.as_deref(), Some(hhmm(now + 90).as_str()), "{:?}", p.bedtimes[0]);
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    assert!(!list.iter().find(|d| d.mac == anna).expect("anna").paused, "extra time is no pause");
    home.check_timed_overrides(later(91)).await;
    assert_eq!(gw.get(&format!("{rule}ScheduleRef")).await, Some(bed_sched.clone()));
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes, std::slice::from_ref(&bed));

    // Resuming a device paused for a while puts its rule back at once.
    bounded("pause 60", home.device_pause_for(DevicePauseFor { mac: anna.into(), minutes: None }))
        .await
        .expect("until tomorrow");
    let list = bounded("devices", home.devices()).await.expect("devices").devices;
    assert_eq!(list.iter().find(|d| d.mac == anna).expect("anna").paused_until.as_deref(), Some("07:00"));
    bounded("resume", home.device_pause(DevicePause { mac: anna.into(), paused: false })).await.expect("resumed");
    assert_eq!(gw.get(&format!("{rule}ScheduleRef")).await, Some(bed_sched));
    // Someone else's rule is left alone.
    let kid = DevicePauseFor { mac: "f0:d4:15:30:40:04".into(), minutes: Some(30) };
    let e = home.device_pause_for(kid).await.expect_err("someone else's rule");
    assert!(e.to_string().contains("made elsewhere"), "{e}");
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn home_pause_for_a_while_on_a_legacy_gateway() {
    use ipc_types::DevicePauseFor;
    let (sim, home, _dir) = paired_home("feat-pl", legacy_scenario()).await;
    let gw = sim.agent("gateway").expect("gw");
    let mac = "3c:22:fb:50:60:03";
    let rule = format!("Device.Hosts.AccessControl.[PhysAddress==\"{}\"].", mac.to_uppercase());
    let now = gateway_minute(gw).await;
    bounded("pause", home.device_pause_for(DevicePauseFor { mac: mac.into(), minutes: Some(20) }))
        .await
        .expect("paused");
    assert_eq!(gw.get(&format!("{rule}ScheduleNumberOfEntries")).await.as_deref(), Some("1"));
    let start = gw.get(&format!("{rule}Schedule.1.StartTime")).await.expect("window");
    assert!(start == hhmm(now + 20) || start == hhmm(now + 21), "{start}");
    home.check_timed_overrides(later(21)).await;
    assert_eq!(gw.get("Device.Hosts.AccessControlNumberOfEntries").await.as_deref(), Some("1"), "the pause's row gone");

    // Over a bedtime: its windows are switched off meanwhile, then on again.
    let req =
        BedtimeCreate { mac: mac.into(), days: vec![Weekday::Sunday], start: "22:00".into(), end: "06:30".into() };
    let bed = bounded("bedtime", home.bedtime_create(req)).await.expect("bedtime");
    bounded("pause", home.device_pause_for(DevicePauseFor { mac: mac.into(), minutes: Some(20) }))
        .await
        .expect("paused");
    assert_eq!(gw.get(&format!("{rule}Schedule.1.Enable")).await.as_deref(), Some("false"), "the bedtime's window off");
    let n: u32 = gw.get(&format!("{rule}ScheduleNumberOfEntries")).await.expect("n").parse().expect("number");
    assert!(n >= 3, "the bedtime's window and the pause's: {n}");
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes, std::slice::from_ref(&bed));
    home.check_timed_overrides(later(21)).await;
    assert_eq!(gw.get(&format!("{rule}ScheduleNumberOfEntries")).await.as_deref(), Some("1"));
    assert_eq!(gw.get(&format!("{rule}Schedule.1.Enable")).await.as_deref(), Some("true"));
    let p = bounded("parental", home.parental()).await.expect("parental");
    assert_eq!(p.bedtimes, std::slice::from_ref(&bed));
    home.shutdown().await;
    sim.shutdown().await;
}

// The usage history kept on this computer

#[tokio::test]
async fn home_usage_history_from_the_devices_counters() {
    use ipc_types::{DeviceUsageArgs, UsageRange};
    let (sim, home, _dir) = paired_home("feat-u", Scenario::builtin()).await;
    let gw = sim.agent("gateway").expect("gw");
    assert_eq!(gw.get("Device.Hosts.Host.1.PhysAddress").await.as_deref(), Some("A4:83:E7:10:20:01"));
    let anna = "a4:83:e7:10:20:01";
    let down = "Device.Hosts.Host.1.WANStats.BytesReceived";
    let read = |v: Option<String>| v.expect("counter").parse::<u64>().expect("number");
    let usage = |range, at| home.device_usage_at(DeviceUsageArgs { mac: anna.into(), range }, at);

    let t0 = std::time::SystemTime::now() - Duration::from_secs(1800);
    // Nothing yet: the chart says when the next sample (the first numbers) is due.
    let none = bounded("usage", usage(UsageRange::Today, t0)).await.expect("usage");
    assert_eq!(none.total_down, 0);
    assert!(none.collecting.contains("Usage shows from the second sample on; the next is due at about "), "{none:?}");
    assert!(bounded("collect", home.collect_history(t0)).await.expect("collected") >= 7, "every device");
    let before = read(gw.get(down).await);
    gw.set(down, &(before + 50_000_000).to_string()).await.expect("the sim's counter grows");
    bounded("collect", home.collect_history(t0 + Duration::from_secs(600))).await.expect("collected");
    let week = bounded("usage", usage(UsageRange::Week, t0 + Duration::from_secs(600))).await.expect("usage");
    assert_eq!(week.bars.len(), 7);
    assert!(week.problem.is_none() && week.collecting.contains("Every 5 minutes"), "{week:?}");
    assert!(!week.collecting.contains("next is due"), "usage shown: no word of the next sample");
    // 50 MB more, plus what the simulated home's life added meanwhile (a little).
    assert!((50_000_000..60_000_000).contains(&week.total_down), "{}", week.total_down);
    assert_eq!(week.bars.iter().map(|b| b.down).sum::<u64>(), week.total_down);

    // The router restarted: its counter starts again from almost nothing. That counts as the
    // little it is, never as a wrap of the counter.
    gw.set(down, "1000").await.expect("reboot");
    bounded("collect", home.collect_history(t0 + Duration::from_secs(1200))).await.expect("collected");
    let after = bounded("usage", usage(UsageRange::Week, t0 + Duration::from_secs(1200))).await.expect("usage");
    assert!(after.total_down - week.total_down < 10_000_000, "{} then {}", week.total_down, after.total_down);
    assert!(after.total_down >= week.total_down + 1000);

    // Today by hour, the month by day; a device never seen has zeros; a bad address is refused.
    let today = bounded("today", usage(UsageRange::Today, std::time::SystemTime::now())).await.expect("today");
    assert!(!today.bars.is_empty() && today.bars.len() <= 24, "{}", today.bars.len());
    assert!(today.bars.windows(2).all(|w| w[1].start_ms - w[0].start_ms == 3_600_000));
    let month = bounded("month", usage(UsageRange::Month, std::time::SystemTime::now())).await.expect("month");
    assert_eq!(month.bars.len(), 30);
    let stranger = home
        .device_usage(DeviceUsageArgs { mac: "02:00:00:00:00:99".into(), range: UsageRange::Week })
        .await
        .expect("an unknown device");
    assert_eq!((stranger.total_down, stranger.total_up), (0, 0));
    let bad = home.device_usage(DeviceUsageArgs { mac: "not a mac".into(), range: UsageRange::Week }).await;
    assert_eq!(bad.expect_err("bad mac").code(), code::INVALID_INPUT);
    home.shutdown().await;
    sim.shutdown().await;
}

// The speed test (TR-143), against a test server on loopback

#[tokio::test]
async fn home_speed_test_from_the_gateway() {
    use ipc_types::{SpeedTestArgs, SpeedTestServer};
    let (sim, home, _dir) = paired_home("feat-s", Scenario::builtin()).await;
    let gw = sim.agent("gateway").expect("gw").endpoint_id.to_string();
    let run = || home.speed_test(SpeedTestArgs { agent: gw.clone() });
    let e = run().await.expect_err("no server yet");
    assert!(e.to_string().contains("test server"), "{e}");
    let bad = SpeedTestServer { download_url: "ftp://x/y".into(), upload_url: "http://x/".into() };
    assert_eq!(home.speed_test_server_set(bad).await.expect_err("ftp").code(), code::INVALID_INPUT);

    let addr = speed_server::start(4_000_000).await.expect("the test server");
    let server =
        SpeedTestServer { download_url: format!("http://{addr}/4MB.bin"), upload_url: format!("http://{addr}/upload") };
    bounded("server", home.speed_test_server_set(server.clone())).await.expect("set");
    let mut rx = home.events();
    let r = bounded("speed test", run()).await.expect("measured");
    assert!(r.down_mbps > 1.0 && r.up_mbps > 1.0, "{r:?}");
    assert_eq!(r.server, addr.to_string());
    let mut progress = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let ipc_types::LiveEvent::PingProgress { message, .. } = e {
            progress.push(message);
        }
    }
    assert!(progress.iter().any(|m| m.starts_with("Measuring the download")), "{progress:?}");
    assert!(progress.last().is_some_and(|m| m.starts_with("Done:")), "{progress:?}");
    let view = bounded("history", home.speed_tests()).await.expect("view");
    assert_eq!(view.server, Some(server));
    assert_eq!(view.results.len(), 1);
    assert_eq!(view.results[0].down_mbps, r.down_mbps);

    // A server nobody answers at: the device's reason, in words.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let gone = SpeedTestServer { download_url: format!("http://{dead}/x"), upload_url: format!("http://{dead}/y") };
    bounded("server", home.speed_test_server_set(gone)).await.expect("set");
    let e = bounded("speed test", run()).await.expect_err("nobody there");
    assert!(e.to_string().contains("can't reach the test server"), "{e}");
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn home_usage_history_from_bulkdata_reports_without_polling() {
    use ipc_types::{DeviceUsageArgs, UsageRange};
    let (sim, home, _dir) = paired_home("feat-b", Scenario::builtin()).await;
    let gw = sim.agent("gateway").expect("gw");
    home.set_history_interval(Duration::from_secs(1));
    // The first collection makes the profile on the gateway (and asks, this once).
    bounded("collect", home.collect_history(std::time::SystemTime::now())).await.expect("collected");
    let alias = "Device.BulkData.Profile.[Alias==\"uh-usage\"].";
    assert_eq!(gw.get(&format!("{alias}Protocol")).await.as_deref(), Some("USPEventNotif"));
    assert_eq!(gw.get(&format!("{alias}ReportingInterval")).await.as_deref(), Some("1"));
    let refs = app_core::usage::bulkdata::REFERENCES.len().to_string();
    assert_eq!(gw.get(&format!("{alias}ParameterNumberOfEntries")).await.as_deref(), Some(refs.as_str()));
    assert_eq!(gw.get(&format!("{alias}Enable")).await.as_deref(), Some("true"));

    // Reports come every second, the first one a baseline. The device downloads 1 MB at a time
    // until a report shows usage; the history then holds what was added since the baseline.
    let busy = "a4:83:e7:10:20:01";
    let down = "Device.Hosts.Host.1.WANStats.BytesReceived";
    let mut added = 0u64;
    let usage = bounded("usage from reports", async {
        loop {
            let now: u64 = gw.get(down).await.expect("counter").parse().expect("number");
            gw.set(down, &(now + 1_000_000).to_string()).await.expect("the sim's counter grows");
            added += 1_000_000;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let u =
                home.device_usage(DeviceUsageArgs { mac: busy.into(), range: UsageRange::Week }).await.expect("usage");
            if u.total_down >= 1_000_000 {
                break u;
            }
        }
    })
    .await;
    assert!(usage.total_down <= added + 1_000_000, "{} of {added} added", usage.total_down);
    // Reports come: the gateway is no longer asked (no other agent reports hosts).
    // The reports carry no WiFi signal: that is still recorded, from the data read anyway (a
    // signal Anna's phone never had before shows as this hour's weakest).
    let mut anna_signal = None;
    for i in 1..=8 {
        let mac = gw.get(&format!("Device.WiFi.AccessPoint.1.AssociatedDevice.{i}.MACAddress")).await;
        if mac.is_some_and(|m| m.eq_ignore_ascii_case(busy)) {
            anna_signal = Some(format!("Device.WiFi.AccessPoint.1.AssociatedDevice.{i}.SignalStrength"));
            break;
        }
    }
    let anna_signal = anna_signal.expect("Anna's phone is on the gateway's WiFi");
    gw.set(&anna_signal, "-91").await.expect("a weak signal");
    let asked = bounded("collect", home.collect_history(std::time::SystemTime::now())).await.expect("collected");
    assert_eq!(asked, 0, "the gateway's reports replace asking");
    let args = ipc_types::DeviceHistoryArgs { mac: busy.into(), span: ipc_types::HistorySpan::Day };
    let history = bounded("history", home.device_history(args)).await.expect("history");
    assert_eq!(history.signal.last().map(|s| s.min_dbm), Some(-91), "{history:?}");
    // Settings say so, for the gateway: its reports carry its hosts' counters.
    let ways = home.settings().await.expect("settings").usage_collection;
    assert!(
        ways.iter().any(|w| w.by_reports && w.how.contains("the counters of") && w.last_report_ms.is_some()),
        "{ways:?}"
    );
    // One profile, made once.
    assert_eq!(
        gw.get("Device.BulkData.ProfileNumberOfEntries").await.as_deref().map(|n| n.parse::<u32>().ok()),
        Some(Some(1))
    );
    home.shutdown().await;
    sim.shutdown().await;
}
