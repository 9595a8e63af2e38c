//! TLS to a message broker in the app, against a real mosquitto with a self-signed certificate
//! made by the test (as on a home gateway): adding a device by its `mqtts://` address pins the
//! broker's certificate (first use) and the card shows its fingerprint; a broker restarted with
//! the same certificate is used again; a broker restarted with another certificate is refused in
//! words, the pin stays, and adding the device again does not re-pin; forgetting the device
//! drops the pin, and adding it again trusts the new certificate. The same over `mqtt+wss://`,
//! and over `stomps://` through a real RabbitMQ (a CA made by the test, restarted with another).
//! The simulated gateway serves over the broker's plain port; only the app's side uses TLS.

mod common;
#[allow(dead_code)]
#[path = "../../../../tests/support/mosquitto.rs"]
mod mosquitto;
#[allow(dead_code)]
#[path = "../../../../tests/support/rabbitmq.rs"]
mod rabbitmq;

use app_core::home::{AppError, Home};
use app_core::identity::VaultPinStore;
use common::{app, auth_of, bounded, wait_home};
use ipc_types::{AgentAddress, AgentArgs, AgentAuth, AgentSummary, BrokerLogin, HomeView};
use mosquitto::{Broker, Options};
use sim_home::mqtt::{controller_topic, MqttServe, MqttServing};
use sim_home::server::stomp::{agent_destination, StompBroker};
use sim_home::spec::UnknownControllerPolicy;
use usp_client::discovery::Interfaces;
use usp_client::tls::{Fingerprint, Pin};
use usp_client::Login;
use usp_core::EndpointId;

fn card<'a>(view: &'a HomeView, eid: &str) -> Option<&'a AgentSummary> {
    view.agents.iter().find(|a| a.agent == eid)
}

/// Connected, and the card says it goes through the broker over TLS.
fn connected_over_tls(view: &HomeView, eid: &str) -> bool {
    connected_by(view, eid, "MQTT, encrypted")
}

/// Connected, and the card's transport starts with `carrier`.
fn connected_by(view: &HomeView, eid: &str, carrier: &str) -> bool {
    matches!(auth_of(view, eid), Some(AgentAuth::Untrusted { .. }))
        && card(view, eid).is_some_and(|c| c.transport.starts_with(carrier))
}

fn offline_with(view: &HomeView, eid: &str, words: &str) -> bool {
    matches!(auth_of(view, eid), Some(AgentAuth::Offline { message }) if message.contains(words))
}

async fn add(home: &Home, address: &str, eid: &str) -> Result<AgentSummary, AppError> {
    bounded(
        "add by the broker's address",
        home.agent_add(AgentAddress {
            address: address.to_owned(),
            endpoint_id: Some(eid.to_owned()),
            broker_login: None,
        }),
    )
    .await
}

async fn add_with_login(home: &Home, address: &str, eid: &str, login: BrokerLogin) -> Result<AgentSummary, AppError> {
    let args =
        AgentAddress { address: address.to_owned(), endpoint_id: Some(eid.to_owned()), broker_login: Some(login) };
    bounded("add by the broker's address", home.agent_add(args)).await
}

/// The simulated home (the gateway served through `broker`'s plain port, to the app's topic)
/// and the app.
/// The simulated home, the app, the app's data folder, the gateway's Endpoint ID and topic, and
/// the gateway's MQTT service (it stops when dropped).
struct Homes {
    sim: sim_home::Home,
    home: Home,
    dir: tempfile::TempDir,
    eid: String,
    topic: String,
    _serving: MqttServing,
}

async fn homes(broker: &Broker, tag: &str, discover: bool) -> Homes {
    let mut c = sim_home::HomeConfig::new(sim_home::scenario::Scenario::builtin());
    c.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    for a in &mut c.scenario.agents {
        a.endpoint_id = format!("{}-{tag}", a.endpoint_id);
    }
    let sim = sim_home::Home::start(c).await.expect("the simulated home starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), discover.then_some(Interfaces::Loopback), Vec::new()).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    let gw = sim.agent("gateway").expect("gateway");
    let topic = format!("usp/agent/{}", gw.key);
    let serving = gw.serve_mqtt(MqttServe {
        broker: broker.url(),
        topic: topic.clone(),
        controllers: vec![(me.clone(), controller_topic(&me))],
        login: None,
        tls: None,
    });
    let eid = gw.endpoint_id.as_str().to_owned();
    Homes { sim, home, dir, eid, topic, _serving: serving }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_broker_is_pinned_when_added_and_a_changed_certificate_is_refused() {
    let mut broker = tokio::task::spawn_blocking(|| Broker::start(Options { tls: true, ..Options::default() }))
        .await
        .expect("broker");
    let first = Fingerprint::of(broker.cert_der.as_deref().expect("a certificate"));

    let Homes { sim, home, dir, eid, topic, _serving } = homes(&broker, "brokertls", false).await;
    let address = format!("{}/{topic}", broker.tls_url());
    let key = broker.tls_url();
    // The pins as the vault holds them now (a store reads the vault when it is made).
    let pin = || VaultPinStore::new(common::vault(dir.path())).broker_pin(&eid, &key);

    // First use: no authority vouches for the certificate, so it is pinned for this device.
    assert_eq!(pin(), Ok(None));
    add(&home, &address, &eid).await.expect("added");
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "pinned on first use");
    let view = wait_home(&home, "connected through the broker over TLS", |v| connected_over_tls(v, &eid)).await;
    let transport = &card(&view, &eid).expect("card").transport;
    assert!(transport.contains(&first.to_string()), "the card shows the pinned certificate: {transport}");

    // The broker restarts with the same certificate: the device comes back.
    broker = tokio::task::spawn_blocking(move || {
        broker.start_again();
        broker
    })
    .await
    .expect("restart");
    wait_home(&home, "the broker restart noticed", |v| !connected_over_tls(v, &eid)).await;
    wait_home(&home, "connected again with the same certificate", |v| connected_over_tls(v, &eid)).await;

    // The broker comes back with another certificate (reset, or someone in the middle): refused
    // in words, the pin unchanged.
    broker = tokio::task::spawn_blocking(move || {
        broker.start_again_with_new_certificate();
        broker
    })
    .await
    .expect("restart with a new certificate");
    let second = Fingerprint::of(broker.cert_der.as_deref().expect("a certificate"));
    assert_ne!(first, second);
    let changed = "The broker's certificate changed since you added this device";
    let view = wait_home(&home, "the changed certificate refused", |v| offline_with(v, &eid, changed)).await;
    let Some(AgentAuth::Offline { message }) = auth_of(&view, &eid) else { unreachable!() };
    assert!(message.contains(&first.to_string()) && message.contains(&second.to_string()), "{message}");
    assert!(message.contains("forget this device and add it again"), "{message}");
    assert_eq!(card(&view, &eid).expect("card").transport, "", "not connected");
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "never re-pinned");

    // Adding it again by the same address does not re-pin either.
    let err = add(&home, &address, &eid).await.expect_err("refused");
    assert!(err.to_string().contains(changed), "{err}");
    assert_eq!(err.code(), ipc_types::code::CERTIFICATE);
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "never re-pinned");

    // Forgetting the device drops its broker pin; added again, the new certificate is trusted.
    bounded("forget", home.forget_agent(AgentArgs { agent: eid.clone() })).await.expect("forgotten");
    assert_eq!(pin(), Ok(None), "the pin went with the device");
    add(&home, &address, &eid).await.expect("added again");
    wait_home(&home, "connected with the new certificate", |v| connected_over_tls(v, &eid)).await;
    assert_eq!(pin(), Ok(Some(Pin::Certificate(second))));

    home.shutdown().await;
    sim.shutdown().await;
}

/// MQTT over WebSocket over TLS (`mqtt+wss://`): the same first-use pin, and the same refusal of
/// a changed certificate (the TLS error comes through the WebSocket library).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_over_wss_pins_and_refuses_a_changed_certificate_too() {
    let broker = Options { tls: true, websockets: true, ..Options::default() };
    let mut broker = tokio::task::spawn_blocking(move || Broker::start(broker)).await.expect("broker");
    let first = Fingerprint::of(broker.cert_der.as_deref().expect("a certificate"));
    let Homes { sim, home, dir, eid, topic, _serving } = homes(&broker, "brokerwss", false).await;
    let key = broker.wss_url();
    let pin = || VaultPinStore::new(common::vault(dir.path())).broker_pin(&eid, &key);
    add(&home, &format!("{}/{topic}", broker.wss_url()), &eid).await.expect("added");
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "pinned on first use");
    wait_home(&home, "connected over mqtt+wss", |v| connected_over_tls(v, &eid)).await;
    broker = tokio::task::spawn_blocking(move || {
        broker.start_again_with_new_certificate();
        broker
    })
    .await
    .expect("restart with a new certificate");
    let changed = "The broker's certificate changed since you added this device";
    wait_home(&home, "the changed certificate refused", |v| offline_with(v, &eid, changed)).await;
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "never re-pinned");
    home.shutdown().await;
    sim.shutdown().await;
    drop(broker);
}

/// STOMP over TLS (`stomps://`) through a real RabbitMQ whose certificate comes from a CA made by
/// the test (no system authority vouches for it): pinned on first use with the login kept, and a
/// RabbitMQ restarted with another certificate refused in the same words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stomps_through_rabbitmq_pins_and_refuses_a_changed_certificate() {
    let mut rabbit = tokio::task::spawn_blocking(rabbitmq::Rabbit::start).await.expect("RabbitMQ");
    let first = Fingerprint::of(&rabbit.cert_der());
    let mut c = sim_home::HomeConfig::new(sim_home::scenario::Scenario::builtin());
    c.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    for a in &mut c.scenario.agents {
        a.endpoint_id = format!("{}-stomps", a.endpoint_id);
    }
    let mut sim = sim_home::Home::start(c).await.expect("the simulated home starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app(dir.path(), None, Vec::new()).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    let mut broker = StompBroker::new(&rabbit.url(""), std::slice::from_ref(&me));
    broker.login = Some(Login { username: rabbitmq::USER.into(), password: rabbitmq::PASSWORD.to_owned().into() });
    sim.serve_stomp(&broker);
    let gw = sim.agent("gateway").expect("gateway").endpoint_id.clone();
    let eid = gw.as_str().to_owned();
    let address = rabbit.tls_url(&agent_destination(&gw));
    let key = rabbit.tls_url("");
    let pin = || VaultPinStore::new(common::vault(dir.path())).broker_pin(&eid, &key);
    let login = BrokerLogin { username: rabbitmq::USER.into(), password: rabbitmq::PASSWORD.into() };

    add_with_login(&home, &address, &eid, login.clone()).await.expect("added");
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "pinned on first use");
    let view = wait_home(&home, "connected over stomps", |v| connected_by(v, &eid, "STOMP, encrypted")).await;
    assert!(card(&view, &eid).expect("card").transport.contains(&first.to_string()));

    rabbit = tokio::task::spawn_blocking(move || {
        rabbit.stop_node();
        rabbit.new_certificate();
        rabbit.start_node();
        rabbit
    })
    .await
    .expect("RabbitMQ restarted with another certificate");
    let second = Fingerprint::of(&rabbit.cert_der());
    assert_ne!(first, second);
    let changed = "The broker's certificate changed since you added this device";
    let view = wait_home(&home, "the changed certificate refused", |v| offline_with(v, &eid, changed)).await;
    let Some(AgentAuth::Offline { message }) = auth_of(&view, &eid) else { unreachable!() };
    assert!(message.contains(&second.to_string()), "{message}");
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "never re-pinned");
    let err = add_with_login(&home, &address, &eid, login).await.expect_err("refused");
    assert!(err.to_string().contains(changed), "{err}");
    assert_eq!(pin(), Ok(Some(Pin::Certificate(first))), "never re-pinned");
    home.shutdown().await;
    sim.shutdown().await;
    drop(rabbit);
}

/// A hostile device announces the genuine device's Endpoint ID at a broker of its own (plain
/// MQTT, relaying the device), and a made-up device there too (the witness that the app heard
/// the adverts). The device added by its TLS broker address keeps its pin, no pin is made for
/// anything announced, and when its broker goes away it is not reached through the announced
/// plain broker: it waits for its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adverts_of_other_brokers_neither_pin_nor_carry_a_device_added_over_tls() {
    let mut genuine = tokio::task::spawn_blocking(|| Broker::start(Options { tls: true, ..Options::default() }))
        .await
        .expect("broker");
    let hostile = tokio::task::spawn_blocking(|| Broker::start(Options::default())).await.expect("hostile broker");
    let first = Fingerprint::of(genuine.cert_der.as_deref().expect("a certificate"));
    let Homes { sim, home, dir, eid, topic, _serving } = homes(&genuine, "brokeradvert", true).await;
    let me: EndpointId = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    // The attacker relays the device through its own broker.
    let _relayed = sim.agent("gateway").expect("gateway").serve_mqtt(MqttServe {
        broker: hostile.url(),
        topic: topic.clone(),
        controllers: vec![(me.clone(), controller_topic(&me))],
        login: None,
        tls: None,
    });
    let key = genuine.tls_url();
    let pin = |eid: &str, key: &str| VaultPinStore::new(common::vault(dir.path())).broker_pin(eid, key);
    add(&home, &format!("{}/{topic}", genuine.tls_url()), &eid).await.expect("added");
    wait_home(&home, "connected through its own broker", |v| connected_over_tls(v, &eid)).await;

    let witness = "proto::advert-witness";
    let adverts = [
        sim_home::advertise::RawAdvert {
            endpoint_id: eid.clone(),
            url: format!("{}/{topic}", hostile.url()),
            subtype: None,
            name: None,
        },
        sim_home::advertise::RawAdvert {
            endpoint_id: witness.to_owned(),
            url: format!("{}/usp/agent/witness", hostile.url()),
            subtype: None,
            name: None,
        },
    ];
    let advertiser = tokio::task::spawn_blocking(move || {
        let mut a = sim_home::advertise::Advertiser::start(&Interfaces::Loopback).expect("advertiser on loopback");
        for advert in &adverts {
            a.register_raw(advert).expect("advert");
        }
        a
    })
    .await
    .expect("adverts");
    wait_home(&home, "the adverts heard", |v| card(v, witness).is_some()).await;

    genuine.stop();
    let offline = |v: &HomeView| matches!(auth_of(v, &eid), Some(AgentAuth::Offline { .. }));
    wait_home(&home, "offline without its broker", offline).await;
    // "Check now" starts its connection afresh (with what the adverts said); it keeps trying its
    // own broker for a while, and the announced one never carries it.
    bounded("check now", home.agent_check_now(AgentArgs { agent: eid.clone() })).await.expect("check now");
    for _ in 0..30 {
        let view = home.home().await.expect("view");
        let now = card(&view, &eid).expect("card");
        assert!(now.transport.is_empty(), "reached through an advertised broker: {now:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(pin(&eid, &key), Ok(Some(Pin::Certificate(first))), "the pin stays");
    assert_eq!(pin(&eid, &hostile.url()), Ok(None));
    assert_eq!(pin(witness, &hostile.url()), Ok(None));
    drop(advertiser);
    home.shutdown().await;
    sim.shutdown().await;
}
