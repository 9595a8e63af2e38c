//! Across a broker the app asks for USP's end-to-end session context (issue 13's policy): a
//! simulated gateway reached through a real mosquitto takes it, and its card says so; a
//! gateway that forbids it is reached without one, and not asked again while the app runs.
//! A device with a small `MaxUSPRecordSize` gets the app's large requests in pieces of at
//! most that size (it drops a larger Record).

mod common;
#[allow(dead_code)]
#[path = "../../../../tests/support/mosquitto.rs"]
mod mosquitto;

use common::{app, auth_of, bounded, is_paired, wait_home};
use ipc_types::{AgentAddress, AgentAuth, HomeView};
use mosquitto::{Broker, Options};
use sim_home::mqtt::{controller_topic, MqttServe};
use sim_home::spec::{E2eSpec, SessionMode, UnknownControllerPolicy};
use usp_core::EndpointId;

/// The simulated home with its gateway (Endpoint ID and topic ending in `-{suffix}`) serving
/// `me` through `broker` with the session-context policy `e2e`: the home, the gateway, its topic
/// and the serving task (kept alive by the caller).
async fn gateway_for(
    broker: &Broker,
    me: &EndpointId,
    suffix: &str,
    e2e: E2eSpec,
) -> (sim_home::Home, sim_home::AgentHandle, String, sim_home::mqtt::MqttServing) {
    let mut c = sim_home::HomeConfig::new(sim_home::scenario::Scenario::builtin());
    let gw_spec = c.scenario.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    gw_spec.endpoint_id = format!("{}-{suffix}", gw_spec.endpoint_id);
    gw_spec.controllers.push(sim_home::spec::ControllerSpec {
        endpoint_id: me.to_string(),
        role: "Full Access".into(),
        e2e: Some(e2e),
    });
    let sim = sim_home::Home::start(c).await.expect("the simulated home starts");
    let gw = sim.agent("gateway").expect("gateway").clone();
    let topic = format!("usp/agent/{}-{suffix}", gw.key);
    let serving = gw.serve_mqtt(MqttServe {
        broker: broker.url(),
        topic: topic.clone(),
        controllers: vec![(me.clone(), controller_topic(me))],
        login: None,
        tls: None,
    });
    (sim, gw, topic, serving)
}

fn transport<'a>(view: &'a HomeView, eid: &str) -> Option<&'a str> {
    view.agents.iter().find(|a| a.agent == eid).map(|a| a.transport.as_str())
}

fn connected(view: &HomeView, eid: &str) -> bool {
    matches!(auth_of(view, eid), Some(AgentAuth::Untrusted { .. }))
        && transport(view, eid).is_some_and(|t| t.starts_with("MQTT"))
}

/// The gateway (its controller entry for the app with `mode`, when given) served through the
/// broker, and the app that adds it by the broker's address. Returns what the card says.
async fn card_over_mqtt(broker: &Broker, tag: &str, mode: Option<SessionMode>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, Vec::new()).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    let mut c = sim_home::HomeConfig::new(sim_home::scenario::Scenario::builtin());
    c.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    let gw_spec = c.scenario.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    gw_spec.endpoint_id = format!("{}-{tag}", gw_spec.endpoint_id);
    if let Some(mode) = mode {
        gw_spec.controllers.push(sim_home::spec::ControllerSpec {
            endpoint_id: me.to_string(),
            role: "Untrusted".into(),
            e2e: Some(E2eSpec { mode, max_record_size: 0, integrity: false }),
        });
    }
    let sim = sim_home::Home::start(c).await.expect("the simulated home starts");
    let gw = sim.agent("gateway").expect("gateway");
    let topic = format!("usp/agent/{}-{tag}", gw.key);
    let _serving = gw.serve_mqtt(MqttServe {
        broker: broker.url(),
        topic: topic.clone(),
        controllers: vec![(me.clone(), controller_topic(&me))],
        login: None,
        tls: None,
    });
    let eid = gw.endpoint_id.as_str().to_owned();
    let address = format!("{}/{topic}", broker.url());
    bounded(
        "add by the broker's address",
        home.agent_add(AgentAddress { address, endpoint_id: Some(eid.clone()), broker_login: None }),
    )
    .await
    .expect("added");
    let view = wait_home(&home, "connected through the broker", |v| connected(v, &eid)).await;
    let words = transport(&view, &eid).unwrap_or_default().to_owned();
    // A page through it: the session (context or not) carries requests both ways.
    bounded("device facts", home.home()).await.expect("home view");
    home.shutdown().await;
    sim.shutdown().await;
    words
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_broker_the_app_uses_a_session_context_where_the_device_allows_one() {
    let broker = tokio::task::spawn_blocking(|| Broker::start(Options::default())).await.expect("broker");
    let allowed = card_over_mqtt(&broker, "e2e-allow", None).await;
    assert_eq!(allowed, "MQTT, in a session context", "the card says what carries it");
    let required = card_over_mqtt(&broker, "e2e-require", Some(SessionMode::Require)).await;
    assert_eq!(required, "MQTT, in a session context");
    let forbidden = card_over_mqtt(&broker, "e2e-forbid", Some(SessionMode::Forbid)).await;
    assert_eq!(forbidden, "MQTT", "reached without one");
}

/// The gateway requires a session context with `MaxUSPRecordSize` 2048 and gives the app Full
/// Access, so the app reads that size. A Set of a 3.4 kB value (over 2048, under the 4096 the
/// app assumes while the size is unknown) reaches it: cut into Records of at most 2048 bytes
/// (each with the app's signature and certificate), which the gateway put back together (it
/// drops any larger Record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_cuts_its_requests_at_the_devices_max_record_size() {
    let broker = tokio::task::spawn_blocking(|| Broker::start(Options::default())).await.expect("broker");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, Vec::new()).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    let (sim, gw, topic, _serving) = gateway_for(
        &broker,
        &me,
        "e2e-sar",
        E2eSpec { mode: SessionMode::Require, max_record_size: 2048, integrity: false },
    )
    .await;
    let eid = gw.endpoint_id.as_str().to_owned();
    let address = format!("{}/{topic}", broker.url());
    bounded(
        "add by the broker's address",
        home.agent_add(AgentAddress { address, endpoint_id: Some(eid.clone()), broker_login: None }),
    )
    .await
    .expect("added");
    let view = wait_home(&home, "paired through the broker", |v| {
        is_paired(v, &eid) && transport(v, &eid).is_some_and(|t| t.starts_with("MQTT"))
    })
    .await;
    assert_eq!(transport(&view, &eid), Some("MQTT, in a session context"));

    let path = "Device.LocalAgent.ControllerTrust.Role.2.Permission.1.Targets";
    let value: String = (0..36).map(|i| format!("Device.X{i:02}.{}.", "A".repeat(90))).collect::<Vec<_>>().join(",");
    assert!(value.len() > 3000 && value.len() < 4096, "{}", value.len());
    // (The size is read before the card says paired.)
    let set = home.param_set(ipc_types::ParamSet { agent: eid.clone(), path: path.into(), value: value.clone() });
    bounded("the large set", set).await.expect("the large Set reached the device");
    assert_eq!(gw.get(path).await.as_deref(), Some(value.as_str()), "reassembled whole");
    home.shutdown().await;
    sim.shutdown().await;
}

/// A bare MQTT session on the broker: subscribed to `topic` (when given), every Record that
/// arrives there kept.
async fn on_broker(
    broker: &Broker,
    who: &str,
    topic: Option<&str>,
) -> (usp_client::mtp::mqtt::Publisher, std::sync::Arc<std::sync::Mutex<Vec<bytes::Bytes>>>, tokio::task::JoinHandle<()>)
{
    use usp_client::mtp::mqtt::{Address, Event, Session, SessionOptions};
    let opts = SessionOptions {
        address: Address::parse(&broker.url()).expect("address"),
        own_id: who.parse().expect("eid"),
        client_id: Some(who.replace(':', "-")),
        login: None,
        tls: None,
        max_record_size: 1024 * 1024,
        keep_alive: std::time::Duration::from_secs(30),
        connect_timeout: std::time::Duration::from_secs(10),
    };
    let Session { publisher, mut events, .. } =
        bounded("broker session", Session::connect(opts)).await.expect("session");
    if let Some(t) = topic {
        publisher.subscribe(t).await.expect("subscribe");
        bounded("suback", async {
            loop {
                if let Event::SubAck { granted } = events.next().await.expect("suback") {
                    assert!(granted);
                    return;
                }
            }
        })
        .await;
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let pump = tokio::spawn(async move {
        while let Ok(e) = events.next().await {
            if let Event::Publish { payload, .. } = e {
                keep.lock().expect("lock").push(payload);
            }
        }
    });
    (publisher, seen, pump)
}

/// The session ids of the session-context Records among `records`.
fn session_ids(records: &[bytes::Bytes]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|b| usp_core::wire::decode_record(b.clone(), &usp_core::wire::Limits::default()).ok())
        .filter_map(|r| match r.record_type {
            usp_core::record::RecordType::SessionContext(sc) => Some(sc.session_id),
            _ => None,
        })
        .collect()
}

/// A gateway whose controller entry for the app asks for Record integrity (it signs its
/// Records and requires ours): the app signs with its identity certificate and verifies the
/// gateway's, and the card says "protected end to end". A Record forged on the broker (the
/// gateway's Endpoint ID, signed with another key whose certificate names the gateway) is
/// dropped and the app restarts the context (a new session id of its own in its Records); the
/// app then goes on, still protected end to end. (Against a gateway that does not sign, the
/// first test: the card says "in a session context", not protected.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_both_ways_the_card_says_protected_end_to_end_and_a_forgery_restarts_the_context() {
    use usp_core::e2e::{E2eConfig, E2eSession, RecordSigner};
    let broker = tokio::task::spawn_blocking(|| Broker::start(Options::default())).await.expect("broker");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, Vec::new()).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    let (sim, gw, topic, _serving) = gateway_for(
        &broker,
        &me,
        "e2e-signed",
        E2eSpec { mode: SessionMode::Require, max_record_size: 0, integrity: true },
    )
    .await;
    let eid = gw.endpoint_id.as_str().to_owned();
    let (_w, to_agent, watch) = on_broker(&broker, "self::e2e-watcher", Some(&topic)).await;
    bounded(
        "add by the broker's address",
        home.agent_add(AgentAddress {
            address: format!("{}/{topic}", broker.url()),
            endpoint_id: Some(eid.clone()),
            broker_login: None,
        }),
    )
    .await
    .expect("added");
    let protected = |v: &HomeView| {
        is_paired(v, &eid)
            && v.agents.iter().any(|a| a.agent == eid && a.end_to_end && a.transport == "MQTT, protected end to end")
    };
    wait_home(&home, "paired and protected end to end", protected).await;
    let ours = session_ids(&to_agent.lock().expect("lock"));
    let first = *ours.last().expect("our records crossed the broker");
    assert!(ours.iter().all(|s| *s == first), "one context so far: {ours:?}");

    // The forger.
    let forger_id = usp_client::tls::Identity::generate(&gw.endpoint_id).expect("identity");
    let mut cfg = E2eConfig::new(eid.as_str(), me.as_str());
    cfg.signer = Some(
        RecordSigner::new(forger_id.private_key_der().expose_secret(), forger_id.cert_der()).expect("forger's signer"),
    );
    let mut forger = E2eSession::new(cfg);
    let get = usp_core::msg::Msg::new(
        "forged-1",
        usp_core::msg::Body::Request(usp_core::request::get(["Device.DeviceInfo."]).build().expect("get")),
    );
    let mut buf = Vec::new();
    usp_core::wire::encode_msg(&get, &mut buf);
    forger.send(bytes::Bytes::from(buf), std::time::Instant::now()).expect("forge");
    let (forging, _, forging_pump) = on_broker(&broker, "self::e2e-forger", None).await;
    let before = to_agent.lock().expect("lock").len();
    while let Some(r) = forger.poll_transmit() {
        forging.publish(&controller_topic(&me), &topic, r).await.expect("publish");
    }
    // The app drops it and leaves the context: its next Records carry a new session id of its
    // own (had it taken the forged Record, it would follow the forger's context instead).
    let forged_sid = forger.session_id().expect("the forger's context");
    bounded("a new context of the app's", async {
        loop {
            let ids = session_ids(&to_agent.lock().expect("lock")[before..]);
            assert!(!ids.contains(&forged_sid), "the app followed the forged context: {ids:?}");
            if ids.iter().any(|s| *s != first) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    // The app goes on: a page through the device works after the pause that follows a failed
    // check, and the card is protected end to end again.
    let page =
        home.explore(ipc_types::ExploreArgs { agent: eid.clone(), path: "Device.DeviceInfo.".into(), offset: 0 });
    bounded("a page after the forgery", page).await.expect("the device answers after the restart");
    wait_home(&home, "protected end to end again", protected).await;
    forging_pump.abort();
    watch.abort();
    home.shutdown().await;
    sim.shutdown().await;
}
