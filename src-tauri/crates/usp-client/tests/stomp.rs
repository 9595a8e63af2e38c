//! The STOMP transport against a scripted broker on loopback: what it puts on the wire
//! (R-STOMP.4, 17, 19-22), and how it takes a hostile broker (ERROR frames, oversized bodies,
//! Records from other agents, other content types). The real broker: tests/stomp.rs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use usp_client::{Client, ClientConfig, ClientError, ConnectionState, Login};
use usp_core::record::{Record, RecordType};
use usp_core::stomp::{Decoder, Frame, Incoming, Limits};
use usp_core::EndpointId;

const AGENT: &str = "proto::scripted-agent";
const BOUND: Duration = Duration::from_secs(10);

/// The broker's side of one connection.
struct Peer {
    tcp: TcpStream,
    decoder: Decoder,
}

impl Peer {
    async fn frame(&mut self) -> Frame {
        tokio::time::timeout(BOUND, async {
            loop {
                match self.decoder.decode().expect("the client speaks STOMP 1.2") {
                    Some(Incoming::Frame(f)) => return f,
                    Some(Incoming::HeartBeat) => continue,
                    None => {}
                }
                let mut buf = [0u8; 4096];
                let n = self.tcp.read(&mut buf).await.expect("read");
                assert!(n > 0, "the client closed the connection");
                self.decoder.push(&buf[..n]);
            }
        })
        .await
        .expect("a frame in time")
    }

    async fn send(&mut self, f: Frame) {
        self.tcp.write_all(&f.encode()).await.expect("write");
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }
}

/// Accepts one client, checks its STOMP and SUBSCRIBE frames, and confirms both.
async fn accept(l: &TcpListener, me: &EndpointId) -> (Peer, String) {
    let (tcp, _) = tokio::time::timeout(BOUND, l.accept()).await.expect("in time").expect("accept");
    let mut p = Peer { tcp, decoder: Decoder::new(Limits::default()) };
    let hello = p.frame().await;
    assert_eq!(hello.command, "STOMP");
    assert_eq!(hello.header("accept-version"), Some("1.2"));
    assert_eq!(hello.header("host"), Some("/"));
    assert_eq!(hello.header("endpoint-id"), Some(me.as_str()));
    assert_eq!((hello.header("login"), hello.header("passcode")), (Some("user"), Some("pw")));
    assert!(hello.header("heart-beat").is_some());
    // On the wire the colons of the Endpoint ID are escaped (R-STOMP.4).
    assert!(String::from_utf8_lossy(&hello.encode()).contains("endpoint-id:self\\c\\c"));
    p.send(Frame::new("CONNECTED").with("version", "1.2").with("heart-beat", "0,0")).await;
    let sub = p.frame().await;
    assert_eq!(sub.command, "SUBSCRIBE");
    assert_eq!(sub.header("ack"), Some("auto"));
    let dest = sub.header("destination").expect("destination").to_owned();
    let receipt = sub.header("receipt").expect("asks for a receipt").to_owned();
    p.send(Frame::new("RECEIPT").with("receipt-id", &receipt)).await;
    (p, dest)
}

fn config(url: &str, me: &EndpointId) -> ClientConfig {
    let mut c = ClientConfig::new(url, me.clone());
    c.login = Some(Login { username: "user".into(), password: "pw".to_owned().into() });
    c.connect_timeout = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(5);
    c
}

fn record(to: &str, from: &str) -> bytes::Bytes {
    let mut out = Vec::new();
    usp_core::wire::encode_record(&Record::new("1.3", to, from, RecordType::WebSocketConnect), &mut out);
    out.into()
}

async fn disconnected(c: &Client) -> String {
    let mut state = c.state();
    tokio::time::timeout(BOUND, async {
        loop {
            if let ConnectionState::Disconnected { reason, .. } = &*state.borrow_and_update() {
                return reason.clone();
            }
            state.changed().await.expect("state");
        }
    })
    .await
    .expect("disconnected in time")
}

#[tokio::test]
async fn sends_usp_frames_and_ends_on_a_broker_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let me: EndpointId = "self::stomp-unit".parse().expect("eid");
    let url = format!("stomp://127.0.0.1:{port}/queue/usp.agent.x?agent-id={AGENT}");
    let client = tokio::spawn(Client::connect(config(&url, &me)));
    let (mut broker, our_dest) = accept(&l, &me).await;
    assert_eq!(our_dest, "/queue/usp.controller.self__stomp-unit.proto__scripted-agent");
    let c = client.await.expect("join").expect("connected");

    let pending = tokio::spawn({
        let c = c.clone();
        async move { c.get(&["Device.DeviceInfo."], 0).await }
    });
    let send = broker.frame().await;
    assert_eq!(send.command, "SEND");
    assert_eq!(send.header("destination"), Some("/queue/usp.agent.x"));
    assert_eq!(send.header("content-type"), Some("application/vnd.bbf.usp.msg"));
    assert_eq!(send.header("content-length"), Some(send.body.len().to_string().as_str()));
    assert_eq!(send.header("reply-to-dest"), Some(our_dest.as_str()));
    let sent = usp_core::wire::peek_record(&send.body).expect("a Record");
    assert_eq!((sent.to_id, sent.from_id), (AGENT, me.as_str()));

    // Quietly dropped: another agent's Record, a Record for another controller, a frame of
    // another content type. The session stays up.
    for (to, from, ct) in [
        (me.as_str(), "proto::someone-else", "application/vnd.bbf.usp.msg"),
        ("self::another-controller", AGENT, "application/vnd.bbf.usp.msg"),
        (me.as_str(), AGENT, "text/plain"),
    ] {
        let body = record(to, from);
        let mut m = Frame::new("MESSAGE")
            .with("destination", &our_dest)
            .with("content-type", ct)
            .with("content-length", &body.len().to_string());
        m.body = body;
        broker.send(m).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(*c.state().borrow(), ConnectionState::Connected { .. }));
    assert_eq!(c.stats().dropped.load(std::sync::atomic::Ordering::Relaxed), 0, "dropped before the link");

    // An ERROR ends the session with the broker's (escaped, bounded) words; the request fails.
    let mut error = Frame::new("ERROR").with("message", "queue deleted\nforged");
    error.body = bytes::Bytes::from("x".repeat(100_000));
    broker.send(error).await;
    let reason = disconnected(&c).await;
    assert!(reason.contains("queue deleted\\nforged"), "{reason}");
    assert!(reason.len() < 1000, "{} bytes", reason.len());
    let err = tokio::time::timeout(BOUND, pending).await.expect("in time").expect("join").expect_err("failed");
    assert!(matches!(err, ClientError::Disconnected(_)), "{err}");
    c.close().await;
}

#[tokio::test]
async fn an_oversized_body_is_a_violation() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let me: EndpointId = "self::stomp-unit-big".parse().expect("eid");
    let mut cfg = config(&format!("stomp://127.0.0.1:{port}/queue/a?agent-id={AGENT}"), &me);
    cfg.limits.max_record_size = 1024;
    let client = tokio::spawn(Client::connect(cfg));
    let (mut broker, dest) = accept(&l, &me).await;
    let c = client.await.expect("join").expect("connected");
    // Announced as 10 MB: refused before the body is read.
    broker.send_raw(format!("MESSAGE\ndestination:{dest}\ncontent-length:10000000\n\n").as_bytes()).await;
    let reason = disconnected(&c).await;
    assert!(reason.contains("larger than 1024 bytes"), "{reason}");
    c.close().await;
}
