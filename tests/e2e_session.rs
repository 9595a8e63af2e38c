//! The end-to-end session context through real brokers against usp-sim-home: MQTT through
//! mosquitto and STOMP through RabbitMQ. Get / Set / Add / Delete / Operate / a subscription
//! inside a context; a GetResp over 1 MiB segmented at MaxUSPRecordSize 1024 and
//! reassembled, and a Set of about 1 MiB the other way (a watcher on the broker sees that no
//! Record is larger than 1024 bytes); the agent's Require / Allow / Forbid; Records signed
//! both ways, and a Record forged on the broker (signed with another key) not heard.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sim_home::home::{Home, HomeConfig};
use sim_home::mqtt::{controller_topic, MqttServe, MqttServing};
use sim_home::scenario::{crowded_mesh, Scenario};
use sim_home::server::stomp::StompBroker;
use sim_home::spec::{ControllerSpec, E2eSpec, SessionMode};
use sim_home::AgentHandle;
use usp_client::mtp::e2e::{E2eIntegrity, E2eMode, E2eSettings};
use usp_client::tls::Identity;
use usp_client::{Client, ClientConfig, ClientError, Login, NotifKind};
use usp_core::e2e::{E2eConfig, E2eSession, PeerTrust, RecordSigner};
use usp_core::msg::{self, Notification};
use usp_core::request::CommandOutcome;
use usp_core::EndpointId;
use usp_home_tests::mosquitto::{Broker, Options};
use usp_home_tests::rabbitmq::{Rabbit, PASSWORD, USER};
use usp_home_tests::{bounded, next_notification, test_config, test_eid, BOUND};

/// Stations of the crowded gateway: its mesh view is a GetResp of over 1 MiB.
const STATIONS: usize = 3200;

/// `scenario` with `me` provisioned on the gateway (Full Access) under `e2e`.
fn provisioned(mut scenario: Scenario, me: &EndpointId, e2e: E2eSpec) -> Scenario {
    let gw = scenario.agents.iter_mut().find(|a| a.key == "gateway").expect("gateway");
    gw.controllers.push(ControllerSpec { endpoint_id: me.to_string(), role: "Full Access".into(), e2e: Some(e2e) });
    scenario
}

fn policy(mode: SessionMode, max_record_size: u32, integrity: bool) -> E2eSpec {
    E2eSpec { mode, max_record_size, integrity }
}

async fn home(scenario: Scenario) -> Home {
    bounded(Home::start(HomeConfig::new(scenario))).await.expect("home starts")
}

fn e2e(mode: E2eMode, max_record_size: usize) -> E2eSettings {
    E2eSettings { max_record_size, ..E2eSettings::new(mode) }
}

fn signed(me: &EndpointId, agent_cert: &[u8]) -> E2eIntegrity {
    let id = Identity::generate(me).expect("identity");
    let trust = PeerTrust::Pinned(vec![Bytes::copy_from_slice(agent_cert)]);
    E2eIntegrity::new(id.private_key_der().expose_secret(), id.cert_der(), trust).expect("integrity")
}

/// Get, Set, Add, Delete, Operate and a ValueChange subscription, all in a session context.
async fn suite(c: &Client, gw: &AgentHandle, how: &str, in_context: bool) {
    let name = if in_context { "Named in a context" } else { "Named without one" };
    bounded(c.set(&[("Device.DeviceInfo.FriendlyName", name)])).await.expect("set");
    let got = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(got.value("Device.DeviceInfo.FriendlyName"), Some(name), "{how}");
    assert_eq!(c.carrier().expect("carrier").session_context, in_context, "{how}: the agent took part");

    let added = bounded(
        c.add("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:0e:2e"), ("AccessPolicy", "Deny")]),
    )
    .await
    .expect("add");
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let path = ok.expect("created").instantiated_path.to_string();
    assert_eq!(gw.get(&format!("{path}AccessPolicy")).await.as_deref(), Some("Deny"), "{how}");
    bounded(c.delete(&[path.as_str()])).await.expect("delete");
    assert_eq!(gw.get(&format!("{path}AccessPolicy")).await, None, "{how}: deleted");

    let op =
        bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[("Host", "192.0.2.1")], "e2e")).await.expect("operate");
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    assert!(matches!(outcome, CommandOutcome::Started(p) if p.starts_with("Device.LocalAgent.Request.")), "{how}");

    let mut rx = c.notifications();
    let sub = bounded(c.subscribe(NotifKind::ValueChange, &["Device.WiFi.SSID.3.Enable"])).await.expect("subscribe");
    let now = gw.get("Device.WiFi.SSID.3.Enable").await.expect("a value");
    let next = if now == "true" { "false" } else { "true" };
    gw.set("Device.WiFi.SSID.3.Enable", next).await.expect("set on the agent");
    let notif = next_notification(&mut rx, &sub.id).await;
    assert_eq!(
        notif.notify.notification,
        Notification::ValueChange(msg::ValueChangeNotif {
            param_path: "Device.WiFi.SSID.3.Enable".into(),
            param_value: next.into()
        }),
        "{how}"
    );
    bounded(c.unsubscribe(&sub)).await.expect("unsubscribe");
}

/// The 1 MiB GetResp one way, a Set of about 1 MiB the other way.
async fn big_both_ways(c: &Client, gw: &AgentHandle, how: &str) {
    let big = tokio::time::timeout(Duration::from_secs(120), c.get(&["Device.WiFi.DataElements.Network."], 0))
        .await
        .expect("in time")
        .expect("the big get");
    assert_eq!(big.params().iter().filter(|p| p.path.ends_with(".Hostname")).count(), STATIONS, "{how}");
    let body = msg::Body::Response(msg::Response::GetResp(big));
    let size = usp_core::wire::encoded_msg_len(&msg::Msg::new("x", body));
    assert!(size > 1024 * 1024, "{how}: the GetResp is {size} bytes");

    let row = bounded(c.add("Device.LocalAgent.ControllerTrust.Role.3.Permission.", &[("Order", "77")]))
        .await
        .expect("add a permission row");
    let (_, ok) = row.per_object().into_iter().next().expect("one result");
    let path = format!("{}Targets", ok.expect("created").instantiated_path);
    let values: Vec<String> = (0..260).map(|i| format!("Device.X{i:03}.{}", "A".repeat(3990))).collect();
    let params: Vec<(&str, &str)> = values.iter().map(|v| (path.as_str(), v.as_str())).collect();
    tokio::time::timeout(Duration::from_secs(120), c.set(&params)).await.expect("in time").expect("the big set");
    assert_eq!(gw.get(&path).await.as_deref(), Some(values[259].as_str()), "{how}");
}

// ---------------------------------------------------------------------------------------
// MQTT

fn serve(gw: &AgentHandle, broker: &Broker, topic: &str, me: &EndpointId) -> MqttServing {
    gw.serve_mqtt(MqttServe {
        broker: broker.url(),
        topic: topic.to_owned(),
        controllers: vec![(me.clone(), controller_topic(me))],
        login: None,
        tls: None,
    })
}

fn mqtt_config(broker: &Broker, topic: &str, me: &EndpointId, gw: &AgentHandle, e2e: E2eSettings) -> ClientConfig {
    let mut c = test_config(&format!("{}/{topic}", broker.url()), me);
    c.agent_id = Some(gw.endpoint_id.clone());
    c.request_timeout = Duration::from_secs(30);
    c.e2e = e2e;
    c
}

/// A bare MQTT client on the broker that records the size of every message on `topics`.
async fn watcher(
    broker: &Broker,
    topics: &[String],
) -> (rumqttc::v5::AsyncClient, tokio::task::JoinHandle<()>, Arc<std::sync::Mutex<Vec<usize>>>) {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{Event, Incoming};
    let mut o = rumqttc::v5::MqttOptions::new("e2e-watcher", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = rumqttc::v5::AsyncClient::new(o, 64);
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    let pump = tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            match ev {
                Event::Incoming(Incoming::Publish(p)) => seen.lock().expect("lock").push(p.payload.len()),
                Event::Incoming(Incoming::SubAck(_)) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                _ => {}
            }
        }
    });
    for t in topics {
        client.subscribe(t.as_str(), QoS::AtMostOnce).await.expect("subscribe");
    }
    bounded(subscribed).await.expect("subscribed");
    (client, pump, sizes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_session_context_suite_segmentation_and_policies() {
    let broker = Broker::start(Options::default());

    // The suite in a context the agent requires, signed both ways.
    let me = test_eid("e2e-mqtt");
    let h = home(provisioned(Scenario::builtin(), &me, policy(SessionMode::Require, 4096, true))).await;
    let gw = h.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker, "usp/agent/e2e-gw", &me);
    assert!(serving.wait_up(BOUND).await, "the agent subscribed: {}", broker.log());
    let mut settings = e2e(E2eMode::Require, 4096);
    settings.integrity = Some(signed(&me, gw.e2e_certificate_der()));
    let c =
        bounded(Client::connect(mqtt_config(&broker, "usp/agent/e2e-gw", &me, gw, settings))).await.expect("connects");
    suite(&c, gw, "MQTT, required, signed", true).await;
    let carrier = c.carrier().expect("carrier");
    assert!(carrier.end_to_end, "{carrier:?}");
    assert_eq!(gw.get("Device.LocalAgent.Controller.2.E2ESession.Status").await.as_deref(), Some("Up"));
    c.close().await;

    // Without a context, this agent answers 7101.
    let c = bounded(Client::connect(mqtt_config(&broker, "usp/agent/e2e-gw", &me, gw, e2e(E2eMode::Off, 0))))
        .await
        .expect("connects");
    match bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await {
        Err(ClientError::Usp(e)) => assert_eq!(e.code, 7101, "{e:?}"),
        other => panic!("expected Error 7101, got {other:?}"),
    }
    c.close().await;
    drop(serving);
    h.shutdown().await;

    // Forbid: with Prefer the client goes on without; with Require it fails, saying why.
    let me = test_eid("e2e-mqtt-forbid");
    let h = home(provisioned(Scenario::builtin(), &me, policy(SessionMode::Forbid, 0, false))).await;
    let gw = h.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker, "usp/agent/e2e-forbid", &me);
    assert!(serving.wait_up(BOUND).await);
    let cfg = mqtt_config(&broker, "usp/agent/e2e-forbid", &me, gw, e2e(E2eMode::Prefer, 0));
    let c = bounded(Client::connect(cfg)).await.expect("connects");
    let got = bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get without a context");
    assert_eq!(got.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    assert!(!c.carrier().expect("carrier").session_context);
    c.close().await;
    let cfg = mqtt_config(&broker, "usp/agent/e2e-forbid", &me, gw, e2e(E2eMode::Require, 0));
    let c = bounded(Client::connect(cfg)).await.expect("connects");
    let err = bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect_err("refused").to_string();
    assert!(err.contains("does not allow an end-to-end session context"), "{err}");
    c.close().await;
    drop(serving);
    h.shutdown().await;

    // Allow, a crowded gateway, MaxUSPRecordSize 1024 both ways: 1 MiB each way, and no
    // Record on the broker over 1024 bytes.
    let me = test_eid("e2e-mqtt-big");
    let h = home(provisioned(crowded_mesh(STATIONS), &me, policy(SessionMode::Allow, 1024, false))).await;
    let gw = h.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker, "usp/agent/e2e-crowded", &me);
    assert!(serving.wait_up(BOUND).await);
    let (watch, pump, sizes) = watcher(&broker, &["usp/agent/e2e-crowded".into(), controller_topic(&me)]).await;
    let cfg = mqtt_config(&broker, "usp/agent/e2e-crowded", &me, gw, e2e(E2eMode::Prefer, 1024));
    let c = bounded(Client::connect(cfg)).await.expect("connects");
    big_both_ways(&c, gw, "MQTT, segmented at 1024").await;
    assert!(c.carrier().expect("carrier").session_context);
    let sizes = sizes.lock().expect("lock").clone();
    assert!(sizes.len() > 2 * 1024, "both megabytes crossed the broker in pieces: {} messages", sizes.len());
    assert!(sizes.iter().all(|&s| s <= 1024), "largest {:?}", sizes.iter().max());
    c.close().await;
    drop(watch);
    pump.abort();
    drop(serving);
    h.shutdown().await;
}

/// A broker that takes packets of at most 2048 bytes (its MQTT 5 CONNACK says so) and an
/// agent that states no MaxUSPRecordSize: the client cuts an Add of about 4 kB to what the
/// broker carries; every Record crossing it stays under 2048 bytes, and the agent puts the Add
/// back together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_records_fit_the_brokers_maximum_packet_size() {
    let broker = Broker::start(Options { max_packet_size: Some(2048), ..Options::default() });
    let me = test_eid("e2e-mqtt-packet");
    let h = home(provisioned(Scenario::builtin(), &me, policy(SessionMode::Allow, 0, false))).await;
    let gw = h.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker, "usp/agent/e2e-packet", &me);
    assert!(serving.wait_up(BOUND).await);
    let (watch, pump, sizes) = watcher(&broker, &["usp/agent/e2e-packet".into(), controller_topic(&me)]).await;
    let c = bounded(Client::connect(mqtt_config(&broker, "usp/agent/e2e-packet", &me, gw, e2e(E2eMode::Prefer, 0))))
        .await
        .expect("connects");
    // An Add (its answer is small: the agent states no size, so it does not cut its own).
    let targets = format!("Device.X.{}", "B".repeat(4000));
    let row = bounded(
        c.add("Device.LocalAgent.ControllerTrust.Role.3.Permission.", &[("Order", "78"), ("Targets", &targets)]),
    )
    .await
    .expect("the add");
    let (_, ok) = row.per_object().into_iter().next().expect("one result");
    let path = format!("{}Targets", ok.expect("created").instantiated_path);
    assert_eq!(gw.get(&path).await.as_deref(), Some(targets.as_str()));
    assert!(c.carrier().expect("carrier").session_context);
    let sizes = sizes.lock().expect("lock").clone();
    assert!(sizes.len() >= 3, "the Add crossed in pieces: {} messages", sizes.len());
    assert!(sizes.iter().all(|&s| s < 2048), "largest {:?}", sizes.iter().max());
    c.close().await;
    drop(watch);
    pump.abort();
    drop(serving);
    h.shutdown().await;
}

/// A Record forged on the broker: the agent's Endpoint ID as sender, a Notify inside, signed
/// with a key the client does not trust. The client never delivers it, and the session
/// goes on after its pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_a_forged_record_is_not_heard() {
    use rumqttc::v5::mqttbytes::QoS;
    let broker = Broker::start(Options::default());
    let me = test_eid("e2e-forged");
    let h = home(provisioned(Scenario::builtin(), &me, policy(SessionMode::Require, 0, true))).await;
    let gw = h.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker, "usp/agent/e2e-forged", &me);
    assert!(serving.wait_up(BOUND).await);
    let mut settings = e2e(E2eMode::Require, 0);
    settings.integrity = Some(signed(&me, gw.e2e_certificate_der()));
    let cfg = mqtt_config(&broker, "usp/agent/e2e-forged", &me, gw, settings);
    let c = bounded(Client::connect(cfg)).await.expect("connects");
    bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get before");
    let mut rx = c.notifications();

    // The forger: the agent's name, another key.
    let forger_id = Identity::generate(&gw.endpoint_id).expect("identity");
    let mut cfg = E2eConfig::new(gw.endpoint_id.as_str(), me.as_str());
    cfg.signer = Some(
        RecordSigner::new(forger_id.private_key_der().expose_secret(), forger_id.cert_der()).expect("forger's signer"),
    );
    let mut forger = E2eSession::new(cfg);
    let notify = msg::Msg::new(
        "forged-1",
        msg::Body::Request(msg::Request::Notify(msg::Notify {
            subscription_id: "forged".into(),
            send_resp: false,
            notification: Notification::ValueChange(msg::ValueChangeNotif {
                param_path: "Device.DeviceInfo.FriendlyName".into(),
                param_value: "forged".into(),
            }),
        })),
    );
    let mut buf = Vec::new();
    usp_core::wire::encode_msg(&notify, &mut buf);
    forger.send(Bytes::from(buf), std::time::Instant::now()).expect("forge");
    let mut o = rumqttc::v5::MqttOptions::new("e2e-forger", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(30));
    let (forging, mut events) = rumqttc::v5::AsyncClient::new(o, 64);
    let pump = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    while let Some(r) = forger.poll_transmit() {
        forging.publish(controller_topic(&me), QoS::AtLeastOnce, false, r.to_vec()).await.expect("publish");
    }
    // The agent still answers (after the pause that follows a failed check), and the forged
    // Notify never arrived.
    let got = tokio::time::timeout(Duration::from_secs(40), c.get(&["Device.DeviceInfo.FriendlyName"], 0))
        .await
        .expect("in time")
        .expect("get after");
    assert_eq!(got.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    assert!(rx.try_recv().is_err(), "the forged notification was delivered");
    drop(forging);
    pump.abort();
    c.close().await;
    drop(serving);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// STOMP

fn login() -> Option<Login> {
    Some(Login { username: USER.to_owned(), password: zeroize::Zeroizing::new(PASSWORD.to_owned()) })
}

async fn stomp_home(rabbit: &Rabbit, scenario: Scenario, me: &EndpointId) -> (Home, String) {
    let mut h = home(scenario).await;
    let mut broker = StompBroker::new(&rabbit.url(""), std::slice::from_ref(me));
    broker.login = login();
    let served = h.serve_stomp(&broker);
    let gw = h.agent("gateway").expect("gateway").endpoint_id.clone();
    let dest = served.into_iter().find(|(e, _)| *e == gw).expect("served").1;
    (h, dest)
}

fn stomp_config(rabbit: &Rabbit, dest: &str, me: &EndpointId, gw: &AgentHandle, e2e: E2eSettings) -> ClientConfig {
    let mut c = test_config(&rabbit.url(&format!("{dest}?agent-id={}", gw.endpoint_id)), me);
    c.login = login();
    c.connect_timeout = Duration::from_secs(10);
    c.request_timeout = Duration::from_secs(30);
    c.e2e = e2e;
    c
}

#[test]
fn stomp_session_context_through_rabbitmq() {
    let rabbit = Rabbit::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        // The suite, required and signed.
        let me = test_eid("e2e-stomp");
        let (h, dest) =
            stomp_home(&rabbit, provisioned(Scenario::builtin(), &me, policy(SessionMode::Require, 2048, true)), &me)
                .await;
        let gw = h.agent("gateway").expect("gateway");
        let mut settings = e2e(E2eMode::Require, 2048);
        settings.integrity = Some(signed(&me, gw.e2e_certificate_der()));
        let c = bounded(Client::connect(stomp_config(&rabbit, &dest, &me, gw, settings))).await.expect("connects");
        suite(&c, gw, "STOMP, required, signed", true).await;
        assert!(c.carrier().expect("carrier").end_to_end);
        c.close().await;
        // Forbid on another home: Prefer goes on without a context.
        h.shutdown().await;
        let me = test_eid("e2e-stomp-forbid");
        let (h, dest) =
            stomp_home(&rabbit, provisioned(Scenario::builtin(), &me, policy(SessionMode::Forbid, 0, false)), &me)
                .await;
        let gw = h.agent("gateway").expect("gateway");
        let c = bounded(Client::connect(stomp_config(&rabbit, &dest, &me, gw, e2e(E2eMode::Prefer, 0))))
            .await
            .expect("connects");
        suite(&c, gw, "STOMP, forbidden, plain", false).await;
        c.close().await;
        h.shutdown().await;

        // 1 MiB each way at MaxUSPRecordSize 1024.
        let me = test_eid("e2e-stomp-big");
        let (h, dest) =
            stomp_home(&rabbit, provisioned(crowded_mesh(STATIONS), &me, policy(SessionMode::Allow, 1024, false)), &me)
                .await;
        let gw = h.agent("gateway").expect("gateway");
        let c = bounded(Client::connect(stomp_config(&rabbit, &dest, &me, gw, e2e(E2eMode::Prefer, 1024))))
            .await
            .expect("connects");
        big_both_ways(&c, gw, "STOMP, segmented at 1024").await;
        assert!(c.carrier().expect("carrier").session_context);
        c.close().await;
        h.shutdown().await;
    });
    drop(rt);
}

// ---------------------------------------------------------------------------------------
// The reference agent as shipped (no session context compiled in)

fn obuspa_bins() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    usp_home_tests::obuspa::bin_dir(&target, &repo.join("../shared"))
}

/// Reset lines: the agent at the broker on `port`, topic `usp/agent/<name>`, `me` with Full
/// Access at its controller topic.
fn obuspa_lines(port: u16, name: &str, me: &EndpointId) -> String {
    let mut s = String::new();
    for (p, v) in [
        ("Device.MQTT.Client.1.Enable", "true".to_owned()),
        ("Device.MQTT.Client.1.BrokerAddress", "127.0.0.1".to_owned()),
        ("Device.MQTT.Client.1.BrokerPort", port.to_string()),
        ("Device.MQTT.Client.1.ProtocolVersion", "5.0".to_owned()),
        ("Device.MQTT.Client.1.TransportProtocol", "TCP/IP".to_owned()),
        ("Device.MQTT.Client.1.KeepAliveTime", "60".to_owned()),
        ("Device.MQTT.Client.1.ConnectRetryTime", "1".to_owned()),
        ("Device.LocalAgent.MTP.1.Enable", "true".to_owned()),
        ("Device.LocalAgent.MTP.1.Protocol", "MQTT".to_owned()),
        ("Device.LocalAgent.MTP.1.MQTT.Reference", "Device.MQTT.Client.1".to_owned()),
        ("Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured", format!("usp/agent/{name}")),
        ("Device.LocalAgent.Controller.1.EndpointID", me.to_string()),
        ("Device.LocalAgent.Controller.1.Enable", "true".to_owned()),
        ("Device.LocalAgent.Controller.1.AssignedRole", "Device.LocalAgent.ControllerTrust.Role.1".to_owned()),
        ("Device.LocalAgent.Controller.1.MTP.1.Enable", "true".to_owned()),
        ("Device.LocalAgent.Controller.1.MTP.1.Protocol", "MQTT".to_owned()),
        ("Device.LocalAgent.Controller.1.MTP.1.MQTT.Reference", "Device.MQTT.Client.1".to_owned()),
        ("Device.LocalAgent.Controller.1.MTP.1.MQTT.Topic", controller_topic(me)),
    ] {
        s.push_str(&format!("{p} \"{v}\"\n"));
    }
    s
}

/// The shipped reference agent answers a session-context Record over MQTT with 7106 ("Session
/// Context record type not supported") and then reconnects to the broker, losing what came
/// meanwhile: with Prefer the client sends its request again as a plain Record (once more
/// when the agent's MQTTConnectRecord says it is back), with Require it fails saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_reference_agent_without_session_contexts() {
    use usp_home_tests::obuspa::{Agent, Variant};
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let broker = Broker::start(Options::default());
    let me = test_eid("e2e-obuspa");
    let eid = "proto::obuspa-e2e-stock";
    let lines = obuspa_lines(broker.port, "obuspa-e2e-stock", &me);
    let _agent = Agent::start_reset(&obuspa_bins(), Variant::Stock, &std::env::temp_dir(), "e2estock", eid, &lines);
    let url = format!("{}/usp/agent/obuspa-e2e-stock", broker.url());
    let config = |mode| {
        let mut c = test_config(&url, &me);
        c.agent_id = Some(eid.parse().expect("eid"));
        c.connect_timeout = BOUND;
        c.request_timeout = Duration::from_secs(15);
        c.e2e = e2e(mode, 0);
        c
    };
    let c = bounded(Client::connect(config(E2eMode::Off))).await.expect("connects");
    let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("get, plain");
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(eid));
    c.close().await;
    let c = bounded(Client::connect(config(E2eMode::Prefer))).await.expect("connects");
    let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("get without a context");
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(eid));
    assert!(!c.carrier().expect("carrier").session_context);
    c.close().await;
    let c = bounded(Client::connect(config(E2eMode::Require))).await.expect("connects");
    let err = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect_err("refused").to_string();
    assert!(err.contains("does not allow an end-to-end session context"), "{err}");
    c.close().await;
}
