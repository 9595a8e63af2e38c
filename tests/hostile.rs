//! A hostile agent: a real WebSocket server on loopback that sends text frames, garbage,
//! oversized Records, Records for other endpoints, replies with made-up msg_ids, floods
//! of Notifies, and closes in the middle of a frame. The client must report each as a
//! clear error or ignore it as the spec says, never panic or hang, and the requests it
//! has outstanding must still complete or fail cleanly.
// The WebSocket handshake callback type is tungstenite's: its large error is not ours.
#![allow(clippy::result_large_err)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use usp_client::{Backoff, Client, ClientConfig, ClientError, ConnectionState};
use usp_core::msg::{self, Body, Msg, Notification, Notify, Request, Response};
use usp_core::record::{Record, RecordType};
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

const AGENT: &str = "proto::hostile-agent";
const ME: &str = "self::hostile-test";
/// Nothing in this file may take longer than this: a hang fails the test.
const BOUND: Duration = Duration::from_secs(20);

type Ws = WebSocketStream<TcpStream>;

async fn listen() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("ws://{}/usp", l.local_addr().expect("addr"));
    (l, url)
}

async fn accept(l: &TcpListener) -> Ws {
    let (tcp, _) = l.accept().await.expect("accept");
    let cb = |_req: &HsRequest, mut resp: HsResponse| {
        resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
        Ok(resp)
    };
    let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(64 << 20));
    let mut ws = tokio_tungstenite::accept_hdr_async_with_config(tcp, cb, Some(config)).await.expect("handshake");
    ws.send(Message::Binary(record(RecordType::WebSocketConnect, ME))).await.expect("connect record");
    ws
}

fn record(rt: RecordType, to: &str) -> Bytes {
    let rec = Record::new("1.3", to, AGENT, rt);
    let mut out = Vec::new();
    wire::encode_record(&rec, &mut out);
    Bytes::from(out)
}

fn msg_record(m: &Msg, to: &str) -> Bytes {
    let mut p = Vec::new();
    wire::encode_msg(m, &mut p);
    record(RecordType::NoSessionContext { payload: Bytes::from(p) }, to)
}

/// Reads Records until a Get arrives; returns its msg_id.
async fn next_request(ws: &mut Ws) -> Msg {
    loop {
        match ws.next().await.expect("stream open").expect("frame") {
            Message::Binary(b) => {
                let rec = wire::decode_record(b, &Limits::default()).expect("client sends valid records");
                assert_eq!(&*rec.to_id, AGENT);
                assert_eq!(&*rec.from_id, ME);
                if let RecordType::NoSessionContext { payload } = rec.record_type {
                    return wire::decode_msg(payload, &Limits::default()).expect("valid msg");
                }
            }
            _ => continue,
        }
    }
}

fn get_resp(msg_id: &str, value: &str) -> Msg {
    let resp = msg::GetResp {
        req_path_results: vec![msg::GetRequestedPathResult {
            requested_path: "Device.DeviceInfo.FriendlyName".into(),
            err_code: 0,
            err_msg: "".into(),
            resolved_path_results: vec![msg::ResolvedPathResult {
                resolved_path: "Device.DeviceInfo.".into(),
                result_params: [("FriendlyName", value)].into_iter().collect(),
            }],
        }],
    };
    Msg::new(msg_id, Body::Response(Response::GetResp(resp)))
}

fn client(url: &str) -> Client {
    let mut config = ClientConfig::new(url, ME.parse::<EndpointId>().expect("eid"));
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(5);
    config.backoff =
        Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200), multiplier: 2.0, jitter: 0.1 };
    Client::start(config)
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f).await.expect("the client hung")
}

async fn friendly_name(c: &Client) -> Result<String, ClientError> {
    let r = c.get(&["Device.DeviceInfo.FriendlyName"], 0).await?;
    Ok(r.value("Device.DeviceInfo.FriendlyName").unwrap_or_default().to_owned())
}

#[tokio::test]
async fn garbage_strangers_and_made_up_ids_are_ignored_and_requests_still_complete() {
    let (l, url) = listen().await;
    let c = client(&url);
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let req = bounded(next_request(&mut ws)).await;
    let id = req.msg_id.to_string();
    // Binary garbage, truncated Records, a Record for someone else, a reply with a
    // made-up msg_id, a reply whose payload is not a Msg.
    ws.send(Message::Binary(Bytes::from_static(b"\x00\x01\x02 not protobuf \xff\xff"))).await.expect("send");
    let good = msg_record(&get_resp(&id, "real"), ME);
    ws.send(Message::Binary(good.slice(..good.len() / 2))).await.expect("send");
    ws.send(Message::Binary(msg_record(&get_resp(&id, "not for you"), "self::someone-else"))).await.expect("send");
    ws.send(Message::Binary(msg_record(&get_resp("made-up-id", "bogus"), ME))).await.expect("send");
    ws.send(Message::Binary(record(RecordType::NoSessionContext { payload: Bytes::from_static(b"\x0a\x05") }, ME)))
        .await
        .expect("send");
    // Then the real answer.
    ws.send(Message::Binary(good)).await.expect("send");
    let value = bounded(pending).await.expect("task").expect("request completed");
    assert_eq!(value, "real");
    assert!(c.stats().dropped.load(Ordering::Relaxed) >= 5, "every bad record was counted as dropped");
    assert!(matches!(*c.state().borrow(), ConnectionState::Connected { .. }), "still connected");
    c.close().await;
}

#[tokio::test]
async fn a_text_frame_closes_with_1003_fails_pending_requests_and_reconnects() {
    let (l, url) = listen().await;
    let c = client(&url);
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let _ = bounded(next_request(&mut ws)).await;
    ws.send(Message::Text("hello".into())).await.expect("send text");
    // The client closes with 1003 (R-WS.16).
    let close = bounded(async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => return f,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await;
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1003));
    let err = bounded(pending).await.expect("task").expect_err("must fail");
    assert!(matches!(err, ClientError::Disconnected(ref r) if r.contains("text frame")), "{err}");
    // It reconnects by itself and works again.
    let mut ws2 = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("reconnected");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let req = bounded(next_request(&mut ws2)).await;
    ws2.send(Message::Binary(msg_record(&get_resp(&req.msg_id, "again"), ME))).await.expect("send");
    assert_eq!(bounded(pending).await.expect("task").expect("ok"), "again");
    c.close().await;
}

#[tokio::test]
async fn an_oversized_record_is_refused_with_a_clear_error() {
    let (l, url) = listen().await;
    let c = client(&url);
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let req = bounded(next_request(&mut ws)).await;
    let huge = "x".repeat(6 << 20);
    let _ = ws.send(Message::Binary(msg_record(&get_resp(&req.msg_id, &huge), ME))).await;
    let err = bounded(pending).await.expect("task").expect_err("must fail");
    match &err {
        ClientError::Disconnected(r) => assert!(r.contains("limit"), "reason names the limit: {r}"),
        other => panic!("unexpected error {other}"),
    }
    c.close().await;
}

#[tokio::test]
async fn a_flood_of_notifies_does_not_starve_requests() {
    let (l, url) = listen().await;
    let c = client(&url);
    let mut notes = c.notifications();
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let req = bounded(next_request(&mut ws)).await;
    const FLOOD: usize = 20_000;
    for i in 0..FLOOD {
        let n = Notify {
            subscription_id: "flood".into(),
            send_resp: false,
            notification: Notification::ValueChange(msg::ValueChangeNotif {
                param_path: "Device.X.Y".into(),
                param_value: i.to_string().into(),
            }),
        };
        ws.feed(Message::Binary(msg_record(&Msg::new(format!("n-{i}"), Body::Request(Request::Notify(n))), ME)))
            .await
            .expect("feed");
    }
    ws.send(Message::Binary(msg_record(&get_resp(&req.msg_id, "after the flood"), ME))).await.expect("send");
    assert_eq!(bounded(pending).await.expect("task").expect("ok"), "after the flood");
    // A receiver that did not keep up is told it lagged rather than blocking the client.
    let mut received = 0usize;
    let mut lagged = 0u64;
    while received + (lagged as usize) < FLOOD {
        match bounded(notes.recv()).await {
            Ok(_) => received += 1,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => lagged += n,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(received + lagged as usize, FLOOD);
    assert_eq!(c.stats().notifications.load(Ordering::Relaxed), FLOOD as u64);
    c.close().await;
}

#[tokio::test]
async fn closing_mid_frame_fails_every_outstanding_request_cleanly() {
    let (l, url) = listen().await;
    let c = client(&url);
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { friendly_name(&c).await })
        })
        .collect();
    for _ in 0..10 {
        let _ = bounded(next_request(&mut ws)).await;
    }
    // Half a binary frame: header announcing 256 bytes, then 10 of them, then EOF.
    let tcp = ws.get_mut();
    tcp.write_all(&[0x82, 0x7e, 0x01, 0x00]).await.expect("write");
    tcp.write_all(&[0u8; 10]).await.expect("write");
    tcp.shutdown().await.expect("shutdown");
    drop(ws);
    for t in tasks {
        let err = bounded(t).await.expect("task").expect_err("must fail");
        assert!(matches!(err, ClientError::Disconnected(_)), "{err}");
    }
    // New requests while it is down fail fast with a clear reason, not a hang.
    let err = bounded(friendly_name(&c)).await.expect_err("down");
    assert!(err.is_connection(), "{err}");
    c.close().await;
}

#[tokio::test]
async fn an_agent_that_never_answers_gives_timeouts_not_hangs() {
    let (l, url) = listen().await;
    let mut config = ClientConfig::new(&url, ME.parse::<EndpointId>().expect("eid"));
    config.request_timeout = Duration::from_millis(300);
    let c = Client::start(config);
    let _ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let err = bounded(friendly_name(&c)).await.expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    c.close().await;
}

/// The client keeps one timer for all deadlines and moves it only to an earlier one: a short
/// timeout behind a long one, and timeouts after the timer already fired, still come on time.
#[tokio::test]
async fn short_timeouts_behind_long_ones_fire_on_time() {
    let (l, url) = listen().await;
    let config = ClientConfig::new(&url, ME.parse::<EndpointId>().expect("eid"));
    let c = Client::start(config);
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let get = usp_core::request::get(["Device.DeviceInfo.FriendlyName"]).build().expect("get");
    // Outstanding for the default 30 s: the timer is armed far ahead. The agent seeing its
    // Record shows it went out (and was armed) before the short ones.
    let long = tokio::spawn({
        let c = c.clone();
        let get = get.clone();
        async move { c.request(get).await }
    });
    let first = bounded(ws.next()).await;
    assert!(matches!(first, Some(Ok(Message::Binary(_)))), "the long request reached the agent: {first:?}");
    for round in 0..3 {
        let started = std::time::Instant::now();
        let err = bounded(c.request_with_timeout(get.clone(), Some(Duration::from_millis(200))))
            .await
            .expect_err("no answer");
        assert!(err.is_timeout(), "round {round}: {err}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "round {round}: the 200 ms timeout came after {took:?}");
    }
    assert!(!long.is_finished(), "the 30 s request must still wait");
    c.close().await;
    let closed = bounded(long).await.expect("task");
    assert!(closed.is_err(), "closing fails the outstanding request");
}

#[tokio::test]
async fn a_server_without_the_usp_subprotocol_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/usp", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            // A plain WebSocket server that does not echo v1.usp.
            let _ = tokio_tungstenite::accept_async(tcp).await;
        }
    });
    let mut config = ClientConfig::new(&url, ME.parse::<EndpointId>().expect("eid"));
    config.connect_timeout = Duration::from_secs(2);
    let err = bounded(Client::connect(config)).await.expect_err("refused");
    let text = err.to_string().to_lowercase();
    assert!(text.contains("v1.usp") || text.contains("subprotocol"), "{err}");
}

#[tokio::test]
async fn the_agent_eid_is_learnt_from_the_unsolicited_extensions_header() {
    // Like the reference agent: `Sec-WebSocket-Extensions: bbf-usp-protocol; eid="..."`
    // although we offered no extension (not valid RFC 6455 syntax either). This agent
    // sends no WebSocketConnect record, so the header is the only way to learn its EID.
    let (l, url) = listen().await;
    tokio::spawn(async move {
        let (tcp, _) = l.accept().await.expect("accept");
        let cb = |_req: &HsRequest, mut resp: HsResponse| {
            resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
            resp.headers_mut().insert(
                "Sec-WebSocket-Extensions",
                HeaderValue::from_static("bbf-usp-protocol; eid=\"proto::hostile-agent\""),
            );
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, cb).await.expect("handshake");
        let req = next_request(&mut ws).await;
        ws.send(Message::Binary(msg_record(&get_resp(&req.msg_id, "from header"), ME))).await.expect("send");
        let _ = ws.next().await;
    });
    let c = client(&url);
    let agent = bounded(c.wait_connected(BOUND)).await.expect("connected");
    assert_eq!(agent.as_str(), AGENT);
    assert_eq!(bounded(friendly_name(&c)).await.expect("answered"), "from header");
    c.close().await;
}

/// An agent that accepts and then never reads: once the socket buffers are full nothing we
/// write gets out. Request timeouts must still fire, and the connection must be dropped
/// after the write timeout and made again.
#[tokio::test]
async fn an_agent_that_stops_reading_cannot_stop_timeouts_and_is_dropped_and_retried() {
    let (l, url) = listen().await;
    let mut config = ClientConfig::new(&url, ME.parse::<EndpointId>().expect("eid"));
    config.request_timeout = Duration::from_secs(1);
    config.write_timeout = Duration::from_secs(3);
    config.backoff =
        Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200), multiplier: 2.0, jitter: 0.1 };
    let c = Client::start(config);
    let mut states = c.state();
    let stalled = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    // 48 requests of 1 MiB each: far more than loopback's socket buffers hold.
    let big = "v".repeat(1 << 20);
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..48)
        .map(|_| {
            let c = c.clone();
            let big = big.clone();
            tokio::spawn(async move { c.set(&[("Device.X.1.Y", big.as_str())]).await })
        })
        .collect();
    for t in tasks {
        let err = bounded(t).await.expect("task").expect_err("nobody reads");
        assert!(err.is_timeout(), "{err}");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "the requests failed only after {took:?}");
    // The connection is dropped for not reading, and made again.
    let reason = bounded(async {
        loop {
            if let ConnectionState::Disconnected { reason, .. } = &*states.borrow_and_update() {
                return reason.clone();
            }
            states.changed().await.expect("client alive");
        }
    })
    .await;
    assert!(reason.contains("stopped reading"), "{reason}");
    let mut ws2 = bounded(accept(&l)).await;
    drop(stalled);
    bounded(c.wait_connected(BOUND)).await.expect("reconnected");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let req = bounded(next_request(&mut ws2)).await;
    ws2.send(Message::Binary(msg_record(&get_resp(&req.msg_id, "reading again"), ME))).await.expect("send");
    assert_eq!(bounded(pending).await.expect("task").expect("ok"), "reading again");
    c.close().await;
}

/// An agent that accepts, says hello and hangs up at once, again and again: the client must
/// wait longer and longer between attempts instead of starting its backoff over each time.
#[tokio::test]
async fn a_flapping_agent_gets_a_growing_backoff() {
    let (l, url) = listen().await;
    let mut config = ClientConfig::new(&url, ME.parse::<EndpointId>().expect("eid"));
    config.backoff =
        Backoff { initial: Duration::from_millis(40), max: Duration::from_secs(5), multiplier: 2.0, jitter: 0.0 };
    let c = Client::start(config);
    let mut accepted = Vec::new();
    for _ in 0..6 {
        let mut ws = bounded(accept(&l)).await;
        accepted.push(std::time::Instant::now());
        let _ = ws.close(None).await;
    }
    let gaps: Vec<Duration> = accepted.windows(2).map(|w| w[1] - w[0]).collect();
    // 40, 80, 160, 320, 640 ms (plus connection time): each wait about twice the one before.
    assert!(gaps[4] >= Duration::from_millis(500), "{gaps:?}");
    assert!(gaps[4] > gaps[0] * 4, "{gaps:?}");
    c.close().await;
}

fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// A notify Record followed by `pad` bytes of an unknown Record field: what the decoded
/// Notify shares is the whole frame.
fn padded_notify(msg_id: &str, value: &str, pad: usize) -> Bytes {
    let n = Notify {
        subscription_id: "sub".into(),
        send_resp: false,
        notification: Notification::ValueChange(msg::ValueChangeNotif {
            param_path: "Device.X.Y".into(),
            param_value: value.into(),
        }),
    };
    let mut out = msg_record(&Msg::new(msg_id, Body::Request(Request::Notify(n))), ME).to_vec();
    out.push(0x7a); // field 15, length-delimited: unknown to USP, skipped
    let mut len = pad as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.resize(out.len() + pad, b'p');
    Bytes::from(out)
}

/// Notifications queue up for a receiver that does not read: each must be a compact copy,
/// not its whole received frame, and the queue has a byte budget. Retransmitted msg_ids
/// are not surfaced twice (R-MSG.4); a Notify over the size limit is left out and the next
/// one says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_notifications_do_not_keep_their_frames_alive() {
    const N: usize = 1024;
    const PAD: usize = 1 << 20;
    let (l, url) = listen().await;
    let c = client(&url);
    let mut notes = c.notifications();
    let mut ws = bounded(accept(&l)).await;
    bounded(c.wait_connected(BOUND)).await.expect("connected");
    let before = resident();
    for i in 0..N {
        ws.send(Message::Binary(padded_notify(&format!("n-{i}"), &i.to_string(), PAD))).await.expect("send");
        // The same msg_id again: a retransmission.
        ws.send(Message::Binary(padded_notify(&format!("n-{i}"), "again", 0))).await.expect("send");
    }
    // Over the 256 KiB limit for one Notify: left out, counted in the next one's `missed`.
    ws.send(Message::Binary(padded_notify("too-big", &"v".repeat(300 << 10), 0))).await.expect("send");
    ws.send(Message::Binary(padded_notify("last", "last", 0))).await.expect("send");
    // A request answered after all that: the client has handled every frame before it.
    let pending = tokio::spawn({
        let c = c.clone();
        async move { friendly_name(&c).await }
    });
    let req = bounded(next_request(&mut ws)).await;
    ws.send(Message::Binary(msg_record(&get_resp(&req.msg_id, "synced"), ME))).await.expect("send");
    assert_eq!(bounded(pending).await.expect("task").expect("ok"), "synced");
    let grown = resident().saturating_sub(before);
    eprintln!("resident grew by {} MiB with {N} notifications of {} KiB frames queued", grown >> 20, PAD >> 10);
    assert!(grown < 200 << 20, "resident grew by {} MiB", grown >> 20);
    assert_eq!(c.stats().notifications.load(Ordering::Relaxed), N as u64 + 1, "duplicates and the big one left out");
    assert_eq!(c.stats().notifications_missed.load(Ordering::Relaxed), 1);
    let mut seen = std::collections::HashSet::new();
    let mut last = None;
    while let Ok(n) = notes.try_recv() {
        assert!(seen.insert(n.msg_id.to_string()), "{} twice", n.msg_id);
        if &*n.msg_id == "last" {
            last = Some(n.missed);
        }
    }
    assert_eq!(seen.len(), N + 1);
    assert_eq!(last, Some(1), "the notification after the one left out says so");
    c.close().await;
}
