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

/// The gateway requires a session context with `MaxUSPRecordSize` 1024 and gives the app Full
/// Access, so the app reads that size. A Set of a 3 kB value (over 1024, under the 4096 the
/// app assumes while the size is unknown) reaches it: cut into Records of at most 1024 bytes,
/// which the gateway put back together (it drops any larger Record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_cuts_its_requests_at_the_devices_max_record_size() {
    let broker = tokio::task::spawn_blocking(|| Broker::start(Options::default())).await.expect("broker");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, Vec::new()).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    let mut c = sim_home::HomeConfig::new(sim_home::scenario::Scenario::builtin());
    let gw_spec = c.scenario.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    gw_spec.endpoint_id = format!("{}-e2e-sar", gw_spec.endpoint_id);
    gw_spec.controllers.push(sim_home::spec::ControllerSpec {
        endpoint_id: me.to_string(),
        role: "Full Access".into(),
        e2e: Some(E2eSpec { mode: SessionMode::Require, max_record_size: 1024, integrity: false }),
    });
    let sim = sim_home::Home::start(c).await.expect("the simulated home starts");
    let gw = sim.agent("gateway").expect("gateway");
    let topic = format!("usp/agent/{}-e2e-sar", gw.key);
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
    let view = wait_home(&home, "paired through the broker", |v| {
        is_paired(v, &eid) && transport(v, &eid).is_some_and(|t| t.starts_with("MQTT"))
    })
    .await;
    assert_eq!(transport(&view, &eid), Some("MQTT, in a session context"));

    let path = "Device.LocalAgent.ControllerTrust.Role.2.Permission.1.Targets";
    let value: String = (0..30).map(|i| format!("Device.X{i:02}.{}.", "A".repeat(90))).collect::<Vec<_>>().join(",");
    assert!(value.len() > 2048 && value.len() < 4096, "{}", value.len());
    // (The size is read before the card says paired.)
    let set = home.param_set(ipc_types::ParamSet { agent: eid.clone(), path: path.into(), value: value.clone() });
    bounded("the large set", set).await.expect("the large Set reached the device");
    assert_eq!(gw.get(path).await.as_deref(), Some(value.as_str()), "reassembled whole");
    home.shutdown().await;
    sim.shutdown().await;
}
