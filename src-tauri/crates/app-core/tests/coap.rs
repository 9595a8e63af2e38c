//! A CoAP device in the app: while usp-home listens for devices, it also opens its CoAP
//! endpoint on the same port number (UDP), shows the address to enter in the device, and every
//! CoAP session goes through it, so the device's Notifies (sent to that one address) reach the
//! app's live view. Real sockets on loopback, a simulated hub served over CoAP.

mod common;

use std::net::SocketAddr;

use common::{app, bounded, is_paired, is_untrusted, pair, wait_home};
use ipc_types::{AgentAddress, ListenerSettings, LiveEvent};
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use sim_home::{Home as SimHome, HomeConfig as SimConfig};

#[tokio::test]
async fn a_coap_device_is_paired_and_its_notifies_reach_the_app() {
    let dir = tempfile::tempdir().expect("data folder");
    let home = app(dir.path(), None, Vec::new()).await;
    let off = bounded("listener view", home.listener()).await.expect("view");
    assert!(off.coap_urls.is_empty() && off.coap_error.is_none(), "{off:?}");
    let view =
        bounded("listener on", home.listener_set(ListenerSettings { enabled: true, port: 0, all_interfaces: false }))
            .await
            .expect("listening");
    assert_eq!(view.coap_error, None);
    assert_eq!(view.coap_urls, vec![format!("coap://127.0.0.1:{}/usp", view.port_in_use)], "{view:?}");

    let mut config = SimConfig::new(Scenario::builtin());
    config.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    let sim = bounded("sim home", SimHome::start(config)).await.expect("sim home");
    let hub = sim.agent("hub").expect("hub");
    let served = hub.serve_coap(SocketAddr::from(([127, 0, 0, 1], 0)), "/usp").await.expect("CoAP");
    let eid = hub.endpoint_id.to_string();
    let added = bounded(
        "add over CoAP",
        home.agent_add(AgentAddress {
            address: served.url.clone(),
            endpoint_id: Some(eid.clone()),
            broker_login: None,
        }),
    )
    .await
    .expect("added");
    assert_eq!(added.url, served.url);
    wait_home(&home, "connected over CoAP", |v| is_untrusted(v, &eid)).await;
    bounded("pairing", pair(&home, &eid, "159372")).await.expect("the hub's passcode pairs over CoAP");
    let card = home.home().await.expect("view").agents.into_iter().find(|a| a.agent == eid).expect("card");
    assert_eq!(card.transport, "CoAP");
    let view = bounded("listener view", home.listener()).await.expect("view");
    assert_eq!(view.coap_sessions, 1, "the session goes through the app's CoAP endpoint");

    // The hub's sensor changes: its Notify comes to the app's CoAP endpoint, then live to the UI.
    let mut rx = home.events();
    hub.set("Device.IoTCapability.4.LevelSensor.Value", "19.5").await.expect("the sensor changes");
    let value = bounded("the sensor's value, live", async {
        loop {
            if let LiveEvent::Value { agent, path, value } = rx.recv().await.expect("events") {
                if agent == eid && path == "Device.IoTCapability.4.LevelSensor.Value" {
                    break value;
                }
            }
        }
    })
    .await;
    assert_eq!(value, "19.5");

    // Listening off: the endpoint closes; the device is reached again with a socket of its own.
    let off =
        bounded("listener off", home.listener_set(ListenerSettings { enabled: false, port: 0, all_interfaces: false }))
            .await
            .expect("off");
    assert!(off.coap_urls.is_empty() && off.coap_sessions == 0, "{off:?}");
    wait_home(&home, "connected again", |v| {
        is_paired(v, &eid) && v.agents.iter().any(|a| a.agent == eid && a.transport == "CoAP")
    })
    .await;
    let smart = bounded("a page over CoAP", home.smart_home()).await.expect("the hub still answers");
    assert!(!smart.groups.is_empty(), "{smart:?}");
    home.shutdown().await;
    sim.shutdown().await;
}
