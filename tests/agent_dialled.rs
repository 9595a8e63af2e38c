//! Agent-initiated WebSocket on real loopback sockets: usp-home's listener
//! (`usp_client::listen`) with simulated agents that dial it (`sim_home::dial`), over `ws://`
//! and `wss://` with mutual TLS, reconnects, and hostile diallers. The reference agent
//! dialling the listener is in `agent_dialled_reference.rs`.

use std::time::Duration;

use futures_util::SinkExt;
use sim_home::dial::DialConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use usp_client::listen::{Listener, ListenerConfig, ListenerEvent, ListenerTls};
use usp_client::tls::{AgentTrust, Identity, MemoryPinStore};
use usp_client::{Client, ClientConfig, ConnectError, ConnectionState, NotifKind};
use usp_core::EndpointId;
use usp_home_tests::{bounded, next_notification, start_home, test_config, test_eid, BOUND};

async fn listen(me: &EndpointId, tls: Option<ListenerTls>, tune: impl FnOnce(&mut ListenerConfig)) -> Listener {
    let mut config = ListenerConfig::new(([127, 0, 0, 1], 0).into(), me.clone());
    config.tls = tls;
    config.handshake_timeout = Duration::from_secs(2);
    tune(&mut config);
    Listener::bind(config).await.expect("the listener binds a loopback port")
}

/// A client for `agent` that waits for it at `listener`.
fn dialled_config(listener: &Listener, me: &EndpointId, agent: &EndpointId) -> ClientConfig {
    let mut c = test_config(&listener.url("127.0.0.1"), me);
    c.agent_id = Some(agent.clone());
    c.connector = Some(listener.connector_for(agent.clone()));
    c
}

async fn connected(config: ClientConfig) -> Client {
    bounded(Client::connect(config)).await.expect("the dialling agent is served")
}

/// Get, Set, Add, Delete, Operate and a subscription with its Notify, on the gateway.
async fn suite(c: &Client, gw: &sim_home::AgentHandle) {
    let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    bounded(c.set(&[("Device.DeviceInfo.FriendlyName", "Dialled gateway")])).await.expect("set");
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Dialled gateway"));
    let added =
        bounded(c.add("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:00:77")])).await.expect("add");
    let (_, created) = added.per_object().into_iter().next().expect("one object");
    let path = created.expect("created").instantiated_path.to_string();
    bounded(c.delete(&[path.as_str()])).await.expect("delete");
    assert_eq!(gw.get(&format!("{path}Policy")).await, None, "the row is gone");
    let op = bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[("Host", "192.0.2.1")], "k1")).await.expect("op");
    assert_eq!(op.operation_results.len(), 1);
    let mut rx = c.notifications();
    let vc = bounded(c.subscribe(NotifKind::ValueChange, &["Device.WiFi.SSID.3.Enable"])).await.expect("subscribe");
    gw.set("Device.WiFi.SSID.3.Enable", "false").await.expect("set");
    let n = next_notification(&mut rx, &vc.id).await;
    assert_eq!(n.agent, gw.endpoint_id);
}

/// A WebSocket client handshake with `req` on a fresh TCP connection to `addr`.
async fn ws_to(
    addr: std::net::SocketAddr,
    req: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    tokio_tungstenite::client_async(req, tcp).await
}

#[tokio::test]
async fn a_simulated_agent_dials_usp_home_over_ws() {
    let me = test_eid("dial-ws");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let listener = listen(&me, None, |_| {}).await;
    let mut events = listener.events();
    let _dialler = gw.dial(DialConfig::new(listener.url("127.0.0.1"), me.clone()));
    let c = connected(dialled_config(&listener, &me, &gw.endpoint_id)).await;
    let carrier = c.carrier().expect("connected");
    assert!(carrier.agent_dialled && !carrier.tls, "{carrier:?}");
    match bounded(events.recv()).await.expect("an event") {
        ListenerEvent::Dialled { agent, trusted, fingerprint, .. } => {
            assert_eq!(agent, gw.endpoint_id);
            assert!(trusted && fingerprint.is_none());
        }
        other => panic!("{other:?}"),
    }
    suite(&c, gw).await;
    c.close().await;
}

#[tokio::test]
async fn wss_first_use_then_trusted_and_a_changed_certificate_is_refused() {
    let me = test_eid("dial-wss");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let ours = Identity::generate(&me).expect("our identity");
    let pins = std::sync::Arc::new(MemoryPinStore::new());
    let tls = ListenerTls { identity: ours.clone(), trust: AgentTrust::new(pins.clone()) };
    let listener = listen(&me, Some(tls), |_| {}).await;
    assert!(listener.url("127.0.0.1").starts_with("wss://127.0.0.1:"));
    let mut events = listener.events();
    let agent_id = Identity::generate(&gw.endpoint_id).expect("agent identity");
    let mut dial = DialConfig::new(listener.url("127.0.0.1"), me.clone());
    dial.identity = Some(agent_id.clone());
    dial.controller_pin = Some(ours.fingerprint());
    let dialler = gw.dial(dial.clone());

    // First use: the agent is offered with its fingerprint, and a client is told so.
    match bounded(events.recv()).await.expect("an event") {
        ListenerEvent::Dialled { agent, trusted, fingerprint, .. } => {
            assert_eq!(agent, gw.endpoint_id);
            assert!(!trusted);
            assert_eq!(fingerprint, Some(agent_id.fingerprint()));
        }
        other => panic!("{other:?}"),
    }
    let err = bounded(Client::connect(dialled_config(&listener, &me, &gw.endpoint_id))).await.expect_err("untrusted");
    let usp_client::ClientError::Connect(e @ ConnectError::UntrustedCertificate { .. }) = err else { panic!("{err}") };
    assert!(e.needs_user());
    // The user compared the fingerprint and trusts it: the waiting connection is used.
    assert_eq!(listener.trust(&gw.endpoint_id), Ok(agent_id.fingerprint()));
    let before = *dialler.connects().borrow();
    let c = connected(dialled_config(&listener, &me, &gw.endpoint_id)).await;
    assert_eq!(*dialler.connects().borrow(), before, "no new dial was needed");
    assert!(c.carrier().is_some_and(|k| k.tls && k.agent_dialled));
    suite(&c, gw).await;

    // Someone else with the agent's EID but another key: refused, the paired one stays.
    let forged = Identity::generate(&gw.endpoint_id).expect("forged identity");
    let mut bad = dial.clone();
    bad.identity = Some(forged);
    let fake = gw.dial(bad);
    let refused = bounded(async {
        loop {
            if let Ok(ListenerEvent::Refused { agent: Some(a), reason, .. }) = events.recv().await {
                return (a, reason);
            }
        }
    })
    .await;
    assert_eq!(refused.0, gw.endpoint_id);
    assert!(refused.1.contains("changed"), "{}", refused.1);
    drop(fake);
    assert!(bounded(c.get(&["Device.DeviceInfo.UpTime"], 0)).await.is_ok(), "the paired connection is still used");
    c.close().await;
}

#[tokio::test]
async fn the_client_gets_the_agent_back_after_a_drop_with_its_subscription() {
    let me = test_eid("dial-again");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let listener = listen(&me, None, |_| {}).await;
    let dialler = gw.dial(DialConfig::new(listener.url("127.0.0.1"), me.clone()));
    let c = connected(dialled_config(&listener, &me, &gw.endpoint_id)).await;
    let mut rx = c.notifications();
    let vc = bounded(c.subscribe(NotifKind::ValueChange, &["Device.WiFi.SSID.2.Enable"])).await.expect("subscribe");
    let mut connects = dialler.connects();
    let mut state = c.state();

    // The network drops the connection: the agent dials again, the client follows.
    dialler.cut();
    bounded(state.wait_for(|s| !matches!(s, ConnectionState::Connected { .. }))).await.expect("noticed the loss");
    bounded(connects.wait_for(|n| *n >= 2)).await.expect("the agent dialled again");
    bounded(c.wait_connected(BOUND)).await.expect("connected again");
    // The agent dropped the subscription with the controller; the client made it again.
    let restored = bounded(async {
        loop {
            let r = c.get(&["Device.LocalAgent.Subscription.*.ID"], 0).await;
            if r.as_ref().is_ok_and(|r| r.params().iter().any(|p| &*p.value == vc.id.as_str())) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    restored.await;
    gw.set("Device.WiFi.SSID.2.Enable", "false").await.expect("set");
    let n = next_notification(&mut rx, &vc.id).await;
    assert_eq!(n.agent, gw.endpoint_id);

    // A second connection of the same agent replaces the first (one per agent, R-WS.4).
    let second = gw.dial(DialConfig::new(listener.url("127.0.0.1"), me.clone()));
    bounded(second.connects().wait_for(|n| *n >= 1)).await.expect("second dial");
    bounded(async {
        while c.get(&["Device.DeviceInfo.UpTime"], 0).await.is_err()
            || listener.stats().replaced.load(std::sync::atomic::Ordering::Relaxed) == 0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    c.close().await;
}

#[tokio::test]
async fn hostile_diallers_are_refused_without_harm() {
    let me = test_eid("dial-hostile");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let listener = listen(&me, None, |c| {
        c.max_handshakes = 8;
        c.max_parked = 16;
        c.max_parked_per_ip = 16;
        c.handshake_timeout = Duration::from_millis(500);
    })
    .await;
    let addr = listener.local_addr();
    let url = listener.url("127.0.0.1");

    // Garbage instead of HTTP.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    tcp.write_all(b"\x16\x03\x01garbage\r\n\r\n").await.expect("write");
    let mut buf = Vec::new();
    let _ = bounded(tcp.read_to_end(&mut buf)).await;
    // No subprotocol, no eid, wrong path, our own EID: HTTP errors, no WebSocket.
    let status = |req: tokio_tungstenite::tungstenite::handshake::client::Request| async move {
        match bounded(ws_to(addr, req)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| ())),
        }
    };
    let plain = format!("{url}?eid=proto::x").into_client_request().expect("request");
    assert_eq!(status(plain).await, 400, "no v1.usp subprotocol");
    let with = |u: String| {
        let mut r = u.into_client_request().expect("request");
        r.headers_mut().insert("Sec-WebSocket-Protocol", "v1.usp".parse().expect("header"));
        r
    };
    assert_eq!(status(with(url.clone())).await, 400, "no eid");
    assert_eq!(status(with(format!("{url}?eid=not-an-eid"))).await, 400, "bad eid");
    assert_eq!(status(with(format!("{url}?eid={me}"))).await, 400, "our own eid");
    let wrong_path = url.replace("/usp", "/other");
    assert_eq!(status(with(format!("{wrong_path}?eid=proto::x"))).await, 404);

    // 100 agents that complete the handshake and send a text frame or nothing: at most
    // max_parked wait.
    let mut flood = Vec::new();
    for i in 0..100 {
        let (mut ws, _) = bounded(ws_to(addr, with(format!("{url}?eid=proto::flood-{i}"))))
            .await
            .expect("a well-formed dialler is accepted");
        if i % 2 == 0 {
            let _ = ws.send(Message::text("hello")).await;
        }
        flood.push(ws);
    }
    assert!(listener.waiting().len() <= 16, "{} waiting", listener.waiting().len());
    // Many silent connections: only max_handshakes wait, the rest are closed at once, and
    // all are gone after the handshake timeout.
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(tokio::net::TcpStream::connect(addr).await.expect("tcp"));
    }
    // Every one is closed: those over the limit at once, the others at the handshake timeout.
    let mut closed = 0;
    for tcp in &mut silent {
        let mut b = [0u8; 1];
        if matches!(bounded(tcp.read(&mut b)).await, Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;

    // The real agent still gets through and is served.
    let _dialler = gw.dial(DialConfig::new(url.clone(), me.clone()));
    let c = connected(dialled_config(&listener, &me, &gw.endpoint_id)).await;
    assert!(bounded(c.get(&["Device.DeviceInfo.UpTime"], 0)).await.is_ok());
    let refused = listener.stats().refused.load(std::sync::atomic::Ordering::Relaxed);
    assert!(refused >= 100, "refused {refused}");
    c.close().await;
}

#[tokio::test]
async fn a_device_that_dials_a_thousand_times_keeps_one_connection() {
    let me = test_eid("dial-1000");
    let listener = listen(&me, None, |_| {}).await;
    let addr = listener.local_addr();
    let url = listener.url("127.0.0.1");
    let request = || {
        let mut r = format!("{url}?eid=proto::redialler").into_client_request().expect("request");
        r.headers_mut().insert("Sec-WebSocket-Protocol", "v1.usp".parse().expect("header"));
        r
    };
    let mut previous: Option<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> = None;
    for _ in 0..1000 {
        let (ws, _) = bounded(ws_to(addr, request())).await.expect("accepted");
        if let Some(mut old) = previous.take() {
            // The newer connection replaces it: the listener closes it.
            use futures_util::StreamExt;
            loop {
                match bounded(old.next()).await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
        previous = Some(ws);
    }
    // The last connection's handshake is over when the client has it, but the listener may
    // still be parking it.
    bounded(async {
        while listener.waiting().len() != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let replaced = listener.stats().replaced.load(std::sync::atomic::Ordering::Relaxed);
    assert!(replaced >= 999, "replaced {replaced}");
}
