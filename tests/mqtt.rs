//! The MQTT MTP against real mosquitto brokers on loopback: the same Get / Set / Add / Delete /
//! Operate / subscription suite over MQTT 5 and 3.1.1, plain, TLS and WebSocket, against
//! usp-sim-home serving over MQTT and against the reference agent; a broker restart in the
//! middle; a refused broker login.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sim_home::mqtt::{controller_topic, MqttServe, MqttServing};
use sim_home::AgentHandle;
use usp_client::mtp::fallback::Fallback;
use usp_client::mtp::mqtt::MqttConnector;
use usp_client::mtp::{Carrier, Mtp};
use usp_client::{Client, ClientConfig, ClientError, ConnectionState, Login, NotifKind};
use usp_core::msg::{self, Notification};
use usp_core::request::CommandOutcome;
use usp_core::EndpointId;
use usp_home_tests::mosquitto::{Broker, Options};
use usp_home_tests::obuspa::{self, Agent, Variant};
use usp_home_tests::{bounded, next_notification, start_home, test_config, test_eid, BOUND};

fn serve(gw: &AgentHandle, broker: &str, me: &EndpointId, login: Option<Login>) -> MqttServing {
    gw.serve_mqtt(MqttServe {
        broker: broker.to_owned(),
        topic: format!("usp/agent/{}", gw.key),
        controllers: vec![(me.clone(), controller_topic(me))],
        login,
        tls: None,
    })
}

/// Logs to the test's output with `RUST_LOG=...`.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn mqtt_config(url: &str, me: &EndpointId, agent: &str) -> ClientConfig {
    let mut c = test_config(url, me);
    c.agent_id = Some(agent.parse().expect("agent eid"));
    c
}

async fn connect(config: ClientConfig) -> Client {
    bounded(Client::connect(config)).await.expect("connects over MQTT")
}

/// Get, Set, Add, Delete, Operate and a ValueChange subscription against a sim-home gateway;
/// `n` keeps what one round adds apart from the others.
async fn sim_suite(c: &Client, gw: &AgentHandle, n: u8, how: &str) {
    let name = format!("over MQTT, round {n}");
    bounded(c.set(&[("Device.DeviceInfo.FriendlyName", name.as_str())])).await.expect("set");
    let got = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(got.value("Device.DeviceInfo.FriendlyName"), Some(name.as_str()), "{how}");
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some(name.as_str()));

    let mac = format!("02:00:00:00:01:{n:02x}");
    let added =
        bounded(c.add("Device.Hosts.AccessControl.", &[("PhysAddress", mac.as_str()), ("AccessPolicy", "Deny")]))
            .await
            .expect("add");
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let path = ok.expect("created").instantiated_path.to_string();
    assert_eq!(gw.get(&format!("{path}AccessPolicy")).await.as_deref(), Some("Deny"), "{how}");
    let del = bounded(c.delete(&[path.as_str()])).await.expect("delete");
    let (_, d) = del.per_object().into_iter().next().expect("one result");
    assert_eq!(
        d.expect("deleted").affected_paths.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        vec![path.clone()]
    );
    assert_eq!(gw.get(&format!("{path}AccessPolicy")).await, None, "{how}: deleted");

    let op =
        bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[("Host", "192.0.2.1")], "mqtt")).await.expect("operate");
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

#[tokio::test]
async fn sim_home_over_mqtt_5_and_3_1_1_plain_tls_websocket_and_wss() {
    logs();
    let broker = Broker::start(Options { tls: true, websockets: true, login: None, max_packet_size: None });
    let me = test_eid("mqtt-sim");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    // The gateway speaks MQTT 5 to the broker and serves controllers of both versions (it
    // reads the 3.1.1 reply-to suffix).
    let mut serving = serve(gw, &broker.url(), &me, None);
    assert!(serving.wait_up(BOUND).await, "the agent subscribed: {}", broker.log());
    let topic = "usp/agent/gateway";
    let cases = [
        (format!("{}/{topic}", broker.url()), false, "MQTT 5"),
        (format!("{}/{topic}?version=3.1.1", broker.url()), false, "MQTT 3.1.1"),
        (format!("{}/{topic}", broker.tls_url()), true, "MQTT 5 over TLS"),
        (format!("{}/{topic}?version=3.1.1", broker.tls_url()), true, "MQTT 3.1.1 over TLS"),
        (format!("{}/{topic}", broker.ws_url()), false, "MQTT 5 over WebSocket"),
        (format!("{}/{topic}?version=3.1.1&qos=0", broker.ws_url()), false, "MQTT 3.1.1 over WebSocket, QoS 0"),
        (format!("{}/{topic}", broker.wss_url()), true, "MQTT 5 over WebSocket over TLS"),
    ];
    for (n, (url, tls, how)) in cases.into_iter().enumerate() {
        let mut config = mqtt_config(&url, &me, gw.endpoint_id.as_str());
        if tls {
            config.tls = Some(broker.client_tls());
        }
        let c = connect(config).await;
        assert_eq!(c.carrier(), Some(Carrier::new(Mtp::Mqtt, tls)), "{how}");
        sim_suite(&c, gw, n as u8, how).await;
        c.close().await;
    }

    // The gateway speaking MQTT 3.1.1, which only 3.1.1 controllers can reach (a 3.1.1
    // receiver never sees an MQTT 5 Response Topic).
    drop(serving);
    let mut serving = serve(gw, &format!("{}?version=3.1.1", broker.url()), &me, None);
    assert!(serving.wait_up(BOUND).await, "the agent subscribed: {}", broker.log());
    let url = format!("{}/{topic}?version=3.1.1", broker.url());
    let c = connect(mqtt_config(&url, &me, gw.endpoint_id.as_str())).await;
    sim_suite(&c, gw, 100, "MQTT 3.1.1 at both ends").await;
    c.close().await;

    // The agent named in the address rather than in the settings.
    let url = format!("{}/{topic}?version=3.1.1&agent-id={}", broker.url(), gw.endpoint_id);
    let c = connect(test_config(&url, &me)).await;
    assert_eq!(c.agent_id().as_ref(), Some(&gw.endpoint_id));
    assert!(bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.is_ok());
    c.close().await;

    // Without the broker's certificate among the trusted ones, TLS to it fails and says so.
    let mut config = mqtt_config(&format!("{}/{topic}", broker.tls_url()), &me, gw.endpoint_id.as_str());
    config.tls = Some(untrusting_tls());
    let err = bounded(Client::connect(config)).await.expect_err("untrusted broker");
    assert!(err.to_string().contains("secure connection failed"), "{err}");
}

fn untrusting_tls() -> std::sync::Arc<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    )
}

#[tokio::test]
async fn a_broker_restart_brings_the_session_and_the_subscription_back() {
    logs();
    let mut broker = Broker::start(Options::default());
    let me = test_eid("mqtt-restart");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker.url(), &me, None);
    assert!(serving.wait_up(BOUND).await);
    // The controller comes back to the broker before the agent (its backoff starts at 20 ms,
    // the agent's at 200 ms): the subscription it makes again reaches nobody, so it makes it
    // once more when the agent's MQTTConnectRecord says the agent is back.
    let mut config = mqtt_config(&format!("{}/usp/agent/gateway", broker.url()), &me, gw.endpoint_id.as_str());
    // The connector the client keeps for all its sessions, to see what it remembers.
    let connector = Arc::new(MqttConnector::new());
    config.connector = Some(connector.clone());
    let c = connect(config).await;
    let assigned = connector.assigned_client_id().expect("mosquitto assigned a client id");
    let mut rx = c.notifications();
    let sub = bounded(c.subscribe(NotifKind::ValueChange, &["Device.WiFi.SSID.3.Enable"])).await.expect("subscribe");
    gw.set("Device.WiFi.SSID.3.Enable", "false").await.expect("set");
    next_notification(&mut rx, &sub.id).await;

    // A request outstanding when the broker goes: the agent left first, so nobody answers.
    drop(serving);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let outstanding = tokio::spawn({
        let c = c.clone();
        async move { c.get(&["Device.DeviceInfo.FriendlyName"], 0).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.stop();
    let err = bounded(outstanding).await.expect("join").expect_err("no answer");
    assert!(matches!(err, ClientError::Disconnected(_)), "{err}");
    assert!(err.to_string().contains("connection to the agent was lost"), "{err}");
    let mut state = c.state();
    bounded(state.wait_for(|s| !matches!(s, ConnectionState::Connected { .. }))).await.expect("state");
    let err = bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect_err("the broker is down");
    assert!(matches!(err, ClientError::NotConnected(_)), "{err}");
    assert!(err.to_string().contains("not connected"), "{err}");

    broker.start_again();
    let mut serving = serve(gw, &broker.url(), &me, None);
    bounded(state.wait_for(|s| matches!(s, ConnectionState::Connected { .. }))).await.expect("reconnected");
    assert!(serving.wait_up(BOUND).await, "the agent is back at the broker");
    // The client id the broker assigned at first was used again (else it would have assigned
    // another).
    assert_eq!(connector.assigned_client_id().as_deref(), Some(assigned.as_str()));
    // The subscription was made again: a change on the agent reaches us.
    let got = bounded(async {
        loop {
            if let Ok(r) = c.get(&["Device.LocalAgent.Subscription.*.ID"], 0).await {
                if r.params().iter().any(|p| p.value == sub.id) {
                    return r;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(!got.params().is_empty());
    gw.set("Device.WiFi.SSID.3.Enable", "true").await.expect("set");
    let n = next_notification(&mut rx, &sub.id).await;
    assert!(matches!(n.notify.notification, Notification::ValueChange(ref v) if &*v.param_value == "true"), "{n:?}");
    c.close().await;
}

#[tokio::test]
async fn a_fallback_to_mqtt_keeps_the_assigned_client_id_across_reconnects() {
    logs();
    let mut broker = Broker::start(Options::default());
    let me = test_eid("mqtt-fallback");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker.url(), &me, None);
    assert!(serving.wait_up(BOUND).await);
    let url = format!("{}/usp/agent/gateway", broker.url());
    // Nothing listens on loopback's discard port: every attempt falls back to the broker.
    let fallback = Arc::new(Fallback::new(vec!["ws://127.0.0.1:9/usp".to_owned(), url.clone()]));
    let mut config = mqtt_config(&url, &me, gw.endpoint_id.as_str());
    config.connector = Some(fallback.clone());
    let c = connect(config).await;
    assert_eq!(fallback.last_used().as_deref(), Some(url.as_str()));
    assert!(bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.is_ok());
    let assigned =
        fallback.mqtt_connector(&url).and_then(|m| m.assigned_client_id()).expect("mosquitto assigned a client id");

    drop(serving);
    broker.stop();
    let mut state = c.state();
    bounded(state.wait_for(|s| !matches!(s, ConnectionState::Connected { .. }))).await.expect("state");
    broker.start_again();
    let mut serving = serve(gw, &broker.url(), &me, None);
    bounded(state.wait_for(|s| matches!(s, ConnectionState::Connected { .. }))).await.expect("reconnected");
    assert!(serving.wait_up(BOUND).await, "the agent is back at the broker");
    let answered = bounded(async {
        loop {
            if c.get(&["Device.DeviceInfo.FriendlyName"], 0).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    answered.await;
    // The new session asked for the id the broker assigned at first (a fresh connector would
    // have asked for none, and mosquitto would have assigned another).
    assert_eq!(fallback.mqtt_connector(&url).and_then(|m| m.assigned_client_id()), Some(assigned));
    c.close().await;
}

#[tokio::test]
async fn a_wrong_broker_password_is_a_login_error() {
    logs();
    let broker = Broker::start(Options { login: Some(("home".into(), "right horse".into())), ..Options::default() });
    let me = test_eid("mqtt-login");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let login = |p: &str| Login { username: "home".into(), password: p.to_owned().into() };
    let mut serving = serve(gw, &broker.url(), &me, Some(login("right horse")));
    assert!(serving.wait_up(BOUND).await, "{}", broker.log());
    let url = format!("{}/usp/agent/gateway", broker.url());

    let mut config = mqtt_config(&url, &me, gw.endpoint_id.as_str());
    config.login = Some(login("right horse"));
    let c = connect(config).await;
    assert!(bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.is_ok());
    c.close().await;

    for (who, login) in [("a wrong password", Some(login("wrong staple"))), ("no login", None)] {
        let mut config = mqtt_config(&url, &me, gw.endpoint_id.as_str());
        config.login = login;
        let err = bounded(Client::connect(config)).await.expect_err(who);
        let ClientError::Connect(e) = &err else { panic!("{who}: {err}") };
        assert!(e.needs_user(), "{who}: {e}");
        assert!(e.to_string().contains("refused the login"), "{who}: {e}");
        assert!(!e.to_string().contains("staple"), "{who}: the password stays out: {e}");
    }
}

fn obuspa_bins() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    obuspa::bin_dir(&target, &repo.join("../shared"))
}

/// The reference agent's MQTT reset lines: the broker on `port`, `version` ("5.0" or "3.1.1"),
/// its topic `usp/agent/<name>`, and `me` (Full Access) at `usp/controller/<me>`.
fn obuspa_mqtt_lines(port: u16, version: &str, name: &str, me: &EndpointId) -> String {
    format!(
        "Device.MQTT.Client.1.Alias \"loopback-broker\"\n\
         Device.MQTT.Client.1.Enable \"true\"\n\
         Device.MQTT.Client.1.BrokerAddress \"127.0.0.1\"\n\
         Device.MQTT.Client.1.BrokerPort \"{port}\"\n\
         Device.MQTT.Client.1.ProtocolVersion \"{version}\"\n\
         Device.MQTT.Client.1.TransportProtocol \"TCP/IP\"\n\
         Device.MQTT.Client.1.Username \"\"\n\
         Device.MQTT.Client.1.Password \"\"\n\
         Device.MQTT.Client.1.ClientID \"\"\n\
         Device.MQTT.Client.1.KeepAliveTime \"60\"\n\
         Device.MQTT.Client.1.ConnectRetryTime \"1\"\n\
         Device.MQTT.Client.1.ConnectRetryIntervalMultiplier \"2000\"\n\
         Device.MQTT.Client.1.ConnectRetryMaxInterval \"4\"\n\
         Device.LocalAgent.MTP.1.Alias \"mqtt\"\n\
         Device.LocalAgent.MTP.1.Enable \"true\"\n\
         Device.LocalAgent.MTP.1.Protocol \"MQTT\"\n\
         Device.LocalAgent.MTP.1.MQTT.Reference \"Device.MQTT.Client.1\"\n\
         Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured \"usp/agent/{name}\"\n\
         Device.LocalAgent.Controller.1.Alias \"usp-home-test\"\n\
         Device.LocalAgent.Controller.1.EndpointID \"{me}\"\n\
         Device.LocalAgent.Controller.1.Enable \"true\"\n\
         Device.LocalAgent.Controller.1.AssignedRole \"Device.LocalAgent.ControllerTrust.Role.1\"\n\
         Device.LocalAgent.Controller.1.MTP.1.Alias \"mqtt\"\n\
         Device.LocalAgent.Controller.1.MTP.1.Enable \"true\"\n\
         Device.LocalAgent.Controller.1.MTP.1.Protocol \"MQTT\"\n\
         Device.LocalAgent.Controller.1.MTP.1.MQTT.Reference \"Device.MQTT.Client.1\"\n\
         Device.LocalAgent.Controller.1.MTP.1.MQTT.Topic \"{}\"\n",
        controller_topic(me)
    )
}

/// Get, Set, Add, Delete, Operate and an ObjectCreation subscription against the reference agent.
async fn obuspa_suite(c: &Client, agent: &str, n: u32, how: &str) {
    let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("get");
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(agent), "{how}");

    let mut rx = c.notifications();
    let sub =
        bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.LocalAgent.Controller."])).await.expect("subscribe");
    let other = format!("proto::mqtt-other-{n}");
    let added = bounded(c.add("Device.LocalAgent.Controller.", &[("EndpointID", other.as_str()), ("Enable", "false")]))
        .await
        .expect("add");
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let path = ok.expect("created").instantiated_path.to_string();
    let notif = next_notification(&mut rx, &sub.id).await;
    let Notification::ObjCreation(created) = notif.notify.notification else { panic!("{how}: {notif:?}") };
    assert_eq!(&*created.obj_path, path.as_str(), "{how}");

    let alias = format!("mqtt-{n}");
    bounded(c.set(&[(format!("{path}Alias").as_str(), alias.as_str())])).await.expect("set");
    let got = bounded(c.get(&[format!("{path}Alias")], 0)).await.expect("get");
    assert_eq!(got.value(&format!("{path}Alias")), Some(alias.as_str()), "{how}");
    bounded(c.delete(&[path.as_str()])).await.expect("delete");
    let gone = bounded(c.get(&[format!("{path}Alias")], 0)).await;
    assert!(gone.map(|r| r.value(&format!("{path}Alias")).is_none()).unwrap_or(true), "{how}: deleted");
    bounded(c.unsubscribe(&sub)).await.expect("unsubscribe");

    let op = bounded(c.operate("Device.ScheduleTimer()", &[("DelaySeconds", "1")], "mqtt")).await.expect("operate");
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    assert!(!matches!(outcome, CommandOutcome::Failed(_)), "{how}: {outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_agent_over_mqtt_5() {
    logs();
    let broker = Broker::start(Options { tls: true, ..Options::default() });
    let me = test_eid("mqtt-obuspa5");
    let eid = "proto::obuspa-mqtt5-agent";
    let dir = std::env::temp_dir();
    // Our controller first, with no agent topic and no agent Endpoint ID: both are learnt
    // from the MQTTConnectRecord the agent sends when it connects.
    let mut config = test_config(&broker.url(), &me);
    config.connect_timeout = BOUND;
    let c = Client::start(config);
    // Subscribed at the broker once the transport is open.
    bounded(async {
        while c.carrier().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let lines = obuspa_mqtt_lines(broker.port, "5.0", "obuspa5", &me);
    let _agent = Agent::start_reset(&obuspa_bins(), Variant::Stock, &dir, "mqtt5", eid, &lines);
    let agent = bounded(c.wait_connected(BOUND)).await.expect("learnt the agent");
    assert_eq!(agent.as_str(), eid);
    obuspa_suite(&c, eid, 1, "MQTT 5, learnt topic").await;
    c.close().await;

    let topic = "usp/agent/obuspa5";
    for (n, (url, tls, how)) in [
        (format!("{}/{topic}", broker.url()), false, "MQTT 5"),
        (format!("{}/{topic}?qos=0", broker.url()), false, "MQTT 5, QoS 0"),
        (format!("{}/{topic}", broker.tls_url()), true, "MQTT 5 over TLS"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut config = mqtt_config(&url, &me, eid);
        if tls {
            config.tls = Some(broker.client_tls());
        }
        let c = connect(config).await;
        obuspa_suite(&c, eid, n as u32 + 2, how).await;
        c.close().await;
    }
}

#[tokio::test]
async fn reference_agent_over_mqtt_3_1_1() {
    logs();
    let broker = Broker::start(Options::default());
    let me = test_eid("mqtt-obuspa311");
    let eid = "proto::obuspa-mqtt311-agent";
    let lines = obuspa_mqtt_lines(broker.port, "3.1.1", "obuspa311", &me);
    let _agent = Agent::start_reset(&obuspa_bins(), Variant::Stock, &std::env::temp_dir(), "mqtt311", eid, &lines);
    let url = format!("{}/usp/agent/obuspa311?version=3.1.1", broker.url());
    let c = connect(mqtt_config(&url, &me, eid)).await;
    obuspa_suite(&c, eid, 1, "MQTT 3.1.1").await;
    c.close().await;
}

/// What usp-client's PUBLISHes carry, seen by a bare MQTT 5 client at the agent's topic: the
/// Record, the Response Topic and the Content Type `usp.msg`; with 3.1.1, the reply-to suffix.
#[tokio::test]
async fn our_publishes_carry_the_reply_topic_and_content_type() {
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::mqttbytes::QoS;
    logs();
    let broker = Broker::start(Options::default());
    let me = test_eid("mqtt-wire");
    let mut o = rumqttc::v5::MqttOptions::new("wire-watcher", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(30));
    let (watcher, mut events) = rumqttc::v5::AsyncClient::new(o, 16);
    watcher.subscribe("usp/agent/watched/#", QoS::AtLeastOnce).await.expect("subscribe");
    // Subscribed once the SubAck went by.
    bounded(async {
        loop {
            if let rumqttc::v5::Event::Incoming(Packet::SubAck(_)) = events.poll().await.expect("watcher") {
                break;
            }
        }
    })
    .await;
    for (query, v5) in [("", true), ("?version=3.1.1", false)] {
        let url = format!("{}/usp/agent/watched{query}", broker.url());
        let mut config = mqtt_config(&url, &me, "proto::watched-agent");
        config.request_timeout = Duration::from_secs(1);
        let c = connect(config).await;
        let get = tokio::spawn({
            let c = c.clone();
            async move { c.get(&["Device.DeviceInfo."], 0).await }
        });
        let p = bounded(async {
            loop {
                if let rumqttc::v5::Event::Incoming(Packet::Publish(p)) = events.poll().await.expect("watcher") {
                    return p;
                }
            }
        })
        .await;
        let record = usp_core::wire::decode_record(p.payload.clone(), &Default::default()).expect("a USP Record");
        assert_eq!(&*record.from_id, me.as_str());
        assert_eq!(&*record.to_id, "proto::watched-agent");
        let reply = controller_topic(&me);
        let topic = String::from_utf8_lossy(&p.topic).into_owned();
        if v5 {
            assert_eq!(topic, "usp/agent/watched");
            let props = p.properties.expect("properties");
            assert_eq!(props.response_topic.as_deref(), Some(reply.as_str()));
            assert_eq!(props.content_type.as_deref(), Some("usp.msg"));
        } else {
            assert_eq!(topic, format!("usp/agent/watched/reply-to={}", reply.replace('/', "%2F")));
        }
        // Nobody answers: the request fails in time, and says so.
        let err = bounded(get).await.expect("join").expect_err("no agent");
        assert!(err.is_timeout(), "{err}");
        c.close().await;
    }
    drop(watcher);
}

/// A hostile sender on the broker publishes to our reply topic: garbage, Records from another
/// endpoint, a flood, and a message over our size limit. The client drops what is not its
/// agent's without losing its session (one connection from start to end), the oversized one
/// never reaches it (our CONNECT's Maximum Packet Size, which the broker honours), and its
/// agent's answers still come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_sender_on_the_broker_costs_nothing() {
    use prost::Message as _;
    use rumqttc::v5::mqttbytes::QoS;
    use usp_proto::usp_record::record::RecordType;
    use usp_proto::usp_record::{NoSessionContextRecord, Record};
    logs();
    let broker = Broker::start(Options::default());
    let me = test_eid("mqtt-hostile");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let mut serving = serve(gw, &broker.url(), &me, None);
    assert!(serving.wait_up(BOUND).await, "the agent subscribed: {}", broker.log());
    let mut config = mqtt_config(&format!("{}/usp/agent/gateway", broker.url()), &me, gw.endpoint_id.as_str());
    config.limits.max_record_size = 64 * 1024;
    let c = connect(config).await;
    bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get before");

    let mut o = rumqttc::v5::MqttOptions::new("hostile-sender", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(30));
    let (hostile, mut events) = rumqttc::v5::AsyncClient::new(o, 64);
    let pump = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let reply = controller_topic(&me);
    let stranger = Record {
        version: "1.3".into(),
        to_id: me.to_string(),
        from_id: "proto::stranger".into(),
        record_type: Some(RecordType::NoSessionContext(NoSessionContextRecord { payload: b"not a msg".to_vec() })),
        ..Default::default()
    }
    .encode_to_vec();
    // The oversized one first: what comes after it from the same sender arrives after it.
    hostile.publish(reply.as_str(), QoS::AtMostOnce, false, vec![0u8; 1024 * 1024]).await.expect("publish big");
    for i in 0..300u32 {
        let payload = match i % 3 {
            0 => vec![0xff; 1 + (i as usize % 200)],
            1 => stranger.clone(),
            _ => Vec::new(),
        };
        hostile.publish(reply.as_str(), QoS::AtMostOnce, false, payload).await.expect("publish");
    }
    // Every one of them reached the client and was dropped (so the oversized one, sent first, is
    // behind us too)...
    let dropped = || c.stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    bounded(async {
        while dropped() < 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // ...and the agent's answers still come, on the same session.
    for _ in 0..20 {
        bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get after");
    }
    let stats = c.stats();
    assert_eq!(stats.connects.load(std::sync::atomic::Ordering::Relaxed), 1, "the session was never lost");
    assert!(matches!(*c.state().borrow(), ConnectionState::Connected { .. }));
    drop(hostile);
    pump.abort();
    c.close().await;
    drop(serving);
    home.shutdown().await;
}
