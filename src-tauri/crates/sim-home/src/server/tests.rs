//! Tests of the agent server on a real socket, and the helpers other modules' tests use
//! (a raw USP WebSocket client).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;
use usp_core::eid::EndpointId;
use usp_proto::usp::{self, body::MsgBody, header::MsgType, request::ReqType, response::RespType, Msg};
use usp_proto::usp_record::record::{PayloadSecurity, RecordType};
use usp_proto::usp_record::{
    DisconnectRecord, NoSessionContextRecord, Record, SessionContextRecord, WebSocketConnectRecord,
};

use super::handshake::controller_eid;
use super::record::{classify_record, encode_no_session, encode_record, record_prefix, RecordAction};
use super::*;
use crate::home::{Home, HomeConfig};
use crate::scenario::Scenario;
use crate::spec::UnknownControllerPolicy;

pub(crate) const AGENT: &str = "proto::sim-test-gw";
pub(crate) const CTRL: &str = "self::test-ctrl";
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) type Client = WebSocketStream<TcpStream>;

pub(crate) fn scenario(keep_alive_secs: u64) -> Scenario {
    Scenario::from_json(&format!(
        r#"{{"seed": 1, "agents": [{{
            "key": "gw", "endpoint_id": "{AGENT}", "port": 0, "path": "/usp",
            "keep_alive_secs": {keep_alive_secs}, "unknown_controllers": "ignore",
            "controllers": [{{"endpoint_id": "{CTRL}", "role": "Full Access"}}],
            "data": {{"Device.DeviceInfo.": {{"FriendlyName": "Test gateway"}}}} }}]}}"#
    ))
    .unwrap()
}

pub(crate) async fn start(keep_alive_secs: u64) -> Home {
    Home::start(HomeConfig::new(scenario(keep_alive_secs))).await.unwrap()
}

pub(crate) fn addr(home: &Home) -> SocketAddr {
    home.agents()[0].addr
}

/// A raw handshake to `target` (path and query) with an optional subprotocol header.
pub(crate) async fn open(
    addr: SocketAddr,
    target: &str,
    protocol: Option<&str>,
) -> Result<(Client, Response), WsError> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}{target}").into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    timeout(WAIT, tokio_tungstenite::client_async_with_config(req, tcp, None)).await.unwrap()
}

/// Connects as `eid` and checks the WebSocketConnect Record comes first.
pub(crate) async fn connect_as(addr: SocketAddr, eid: &str) -> (Client, Response) {
    let (mut ws, resp) = open(addr, &format!("/usp?eid={eid}"), Some(USP_SUBPROTOCOL)).await.unwrap();
    let rec = next_record(&mut ws).await;
    assert_eq!(rec.version, RECORD_VERSION);
    assert_eq!(rec.to_id, eid);
    assert_eq!(rec.from_id, AGENT);
    assert!(matches!(rec.record_type, Some(RecordType::WebsocketConnect(_))), "{rec:?}");
    (ws, resp)
}

pub(crate) async fn connect(addr: SocketAddr) -> Client {
    connect_as(addr, CTRL).await.0
}

/// The next data or close frame (Pings and Pongs skipped).
pub(crate) async fn next_frame<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Option<WsMessage> {
    loop {
        match timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            Some(Ok(m)) => return Some(m),
            Some(Err(_)) | None => return None,
        }
    }
}

pub(crate) async fn next_record<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Record {
    match next_frame(ws).await {
        Some(WsMessage::Binary(b)) => Record::decode(&b[..]).unwrap(),
        other => panic!("expected a binary record, got {other:?}"),
    }
}

pub(crate) async fn next_msg<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Msg {
    let rec = next_record(ws).await;
    assert_eq!(rec.version, RECORD_VERSION);
    assert_eq!(rec.from_id, AGENT);
    match rec.record_type {
        Some(RecordType::NoSessionContext(nsc)) => Msg::decode(&nsc.payload[..]).unwrap(),
        other => panic!("expected no_session_context, got {other:?}"),
    }
}

/// Expects a close frame with this code (and then the end of the stream).
pub(crate) async fn expect_close<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, code: u16) -> String {
    match next_frame(ws).await {
        Some(WsMessage::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), code, "{frame:?}");
            frame.reason.to_string()
        }
        other => panic!("expected close {code}, got {other:?}"),
    }
}

pub(crate) fn request(msg_id: &str, t: MsgType, req: ReqType) -> Msg {
    Msg {
        header: Some(usp::Header { msg_id: msg_id.to_owned(), msg_type: t as i32 }),
        body: Some(usp::Body { msg_body: Some(MsgBody::Request(usp::Request { req_type: Some(req) })) }),
    }
}

pub(crate) fn get(msg_id: &str, path: &str) -> Msg {
    request(msg_id, MsgType::Get, ReqType::Get(usp::Get { param_paths: vec![path.to_owned()], max_depth: 0 }))
}

/// An Add (Message ID "sub") of the ValueChange subscription `id` on `reference`.
pub(crate) fn value_change_subscription(id: &str, reference: &str) -> Msg {
    request(
        "sub",
        MsgType::Add,
        ReqType::Add(usp::Add {
            allow_partial: false,
            create_objs: vec![usp::add::CreateObject {
                obj_path: "Device.LocalAgent.Subscription.".into(),
                param_settings: [
                    ("Enable", "true"),
                    ("ID", id),
                    ("NotifType", "ValueChange"),
                    ("ReferenceList", reference),
                ]
                .into_iter()
                .map(|(p, v)| usp::add::CreateParamSetting { param: p.into(), value: v.into(), required: true })
                .collect(),
            }],
        }),
    )
}

/// The Notify `msg` carries, if it is one.
pub(crate) fn notify_in(msg: Msg) -> Option<usp::Notify> {
    match msg.body.and_then(|b| b.msg_body) {
        Some(MsgBody::Request(usp::Request { req_type: Some(ReqType::Notify(n)) })) => Some(n),
        _ => None,
    }
}

pub(crate) fn record(from: &str, to: &str, record_type: RecordType) -> Vec<u8> {
    Record {
        version: "1.4".to_owned(),
        to_id: to.to_owned(),
        from_id: from.to_owned(),
        record_type: Some(record_type),
        ..Default::default()
    }
    .encode_to_vec()
}

pub(crate) fn wrap(from: &str, to: &str, msg: &Msg) -> Vec<u8> {
    record(from, to, RecordType::NoSessionContext(NoSessionContextRecord { payload: msg.encode_to_vec() }))
}

pub(crate) async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, bytes: Vec<u8>) {
    ws.send(WsMessage::Binary(bytes.into())).await.unwrap();
}

pub(crate) fn get_resp_value(msg: &Msg, param: &str) -> Option<String> {
    let Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::GetResp(resp)) })) =
        msg.body.as_ref().and_then(|b| b.msg_body.clone())
    else {
        panic!("expected a GetResp, got {msg:?}");
    };
    resp.req_path_results
        .iter()
        .flat_map(|r| r.resolved_path_results.iter())
        .find_map(|r| r.result_params.get(param).cloned())
}

pub(crate) fn msg_id(msg: &Msg) -> &str {
    msg.header.as_ref().map(|h| h.msg_id.as_str()).unwrap_or_default()
}

#[test]
fn no_session_context_encoding_matches_prost() {
    let msg = get("m-1", "Device.DeviceInfo.");
    let ours = encode_no_session(&record_prefix("self::c", AGENT), &msg);
    let theirs = Record {
        version: RECORD_VERSION.to_owned(),
        to_id: "self::c".to_owned(),
        from_id: AGENT.to_owned(),
        record_type: Some(RecordType::NoSessionContext(NoSessionContextRecord { payload: msg.encode_to_vec() })),
        ..Default::default()
    };
    assert_eq!(ours, theirs.encode_to_vec());
    assert_eq!(Record::decode(&ours[..]).unwrap(), theirs);
    // A big Msg: multi-byte length varints.
    let big = get("m-2", &"x".repeat(300_000));
    let ours = encode_no_session(&record_prefix("self::c", AGENT), &big);
    let rec = Record::decode(&ours[..]).unwrap();
    let Some(RecordType::NoSessionContext(nsc)) = rec.record_type else { panic!() };
    assert_eq!(Msg::decode(&nsc.payload[..]).unwrap(), big);
}

#[test]
fn websocket_connect_record_bytes_are_like_the_reference_agent() {
    let bytes = encode_record(
        "self::usp-home-test",
        "proto::obuspa-test-agent",
        RecordType::WebsocketConnect(WebSocketConnectRecord {}),
    );
    let mut want = vec![0x0a, 3];
    want.extend_from_slice(b"1.3");
    want.extend_from_slice(&[0x12, 0x13]);
    want.extend_from_slice(b"self::usp-home-test");
    want.extend_from_slice(&[0x1a, 0x18]);
    want.extend_from_slice(b"proto::obuspa-test-agent");
    want.extend_from_slice(&[0x4a, 0x00]);
    assert_eq!(bytes, want);
    assert_eq!(bytes.len(), 54);
}

#[test]
fn records_are_classified() {
    let get = get("1", "Device.");
    let ok = wrap(CTRL, AGENT, &get);
    assert_eq!(classify_record(&ok, AGENT, CTRL), RecordAction::Msg(get.clone()));
    assert_eq!(classify_record(b"\xff\xff\xff garbage", AGENT, CTRL), RecordAction::Ignore);
    assert_eq!(classify_record(&wrap(CTRL, "self::other", &get), AGENT, CTRL), RecordAction::Ignore);
    assert_eq!(classify_record(&wrap("self::other", AGENT, &get), AGENT, CTRL), RecordAction::Ignore);
    let bad_payload =
        record(CTRL, AGENT, RecordType::NoSessionContext(NoSessionContextRecord { payload: vec![0xff, 0xff] }));
    assert_eq!(classify_record(&bad_payload, AGENT, CTRL), RecordAction::Ignore);
    let no_type = Record { version: "1.3".into(), to_id: AGENT.into(), from_id: CTRL.into(), ..Default::default() };
    assert_eq!(classify_record(&no_type.encode_to_vec(), AGENT, CTRL), RecordAction::Ignore);
    let session = record(CTRL, AGENT, RecordType::SessionContext(SessionContextRecord::default()));
    assert!(matches!(classify_record(&session, AGENT, CTRL), RecordAction::Disconnect { code: 7106, .. }));
    let mut encrypted = Record::decode(&ok[..]).unwrap();
    encrypted.payload_security = PayloadSecurity::Tls12 as i32;
    assert!(matches!(
        classify_record(&encrypted.encode_to_vec(), AGENT, CTRL),
        RecordAction::Disconnect { code: 7106, .. }
    ));
    let disconnect =
        record(CTRL, AGENT, RecordType::Disconnect(DisconnectRecord { reason: "bye".into(), reason_code: 7105 }));
    assert!(matches!(classify_record(&disconnect, AGENT, CTRL), RecordAction::Disconnect { code: 7105, .. }));
    let connect = record(CTRL, AGENT, RecordType::WebsocketConnect(WebSocketConnectRecord {}));
    assert_eq!(classify_record(&connect, AGENT, CTRL), RecordAction::Ignore);
}

#[test]
fn eid_query_argument() {
    assert_eq!(controller_eid(Some("eid=self::a")).unwrap().as_str(), "self::a");
    assert_eq!(controller_eid(Some("x=1&eid=self%3A%3Aa&y=2")).unwrap().as_str(), "self::a");
    assert_eq!(controller_eid(Some("eid=self::a%2541")).unwrap().as_str(), "self::a%41");
    assert!(controller_eid(None).is_err());
    assert!(controller_eid(Some("eid=")).is_err());
    assert!(controller_eid(Some("eid=not%20an%20eid")).is_err());
    assert!(controller_eid(Some("eid=%ff%fe")).is_err());
}

#[tokio::test]
async fn handshake_connect_record_and_get() {
    let home = start(30).await;
    let (mut ws, resp) = connect_as(addr(&home), CTRL).await;
    let headers = resp.headers();
    assert_eq!(headers.get("sec-websocket-protocol").unwrap(), "v1.usp");
    assert_eq!(headers.get("sec-websocket-extensions").unwrap(), &format!("bbf-usp-protocol; eid=\"{AGENT}\""));
    send(&mut ws, wrap(CTRL, AGENT, &get("get-1", "Device.DeviceInfo.FriendlyName"))).await;
    let reply = next_msg(&mut ws).await;
    assert_eq!(msg_id(&reply), "get-1");
    assert_eq!(get_resp_value(&reply, "FriendlyName").as_deref(), Some("Test gateway"));
    assert_eq!(home.agents()[0].connected_controllers(), vec![CTRL.parse::<EndpointId>().unwrap()]);
    home.shutdown().await;
}

#[tokio::test]
async fn percent_encoded_eid_is_accepted() {
    let home = start(30).await;
    let (mut ws, _) = open(addr(&home), "/usp?eid=self%3A%3Atest-ctrl", Some("v1.usp")).await.unwrap();
    let rec = next_record(&mut ws).await;
    assert_eq!(rec.to_id, CTRL);
    send(&mut ws, wrap(CTRL, AGENT, &get("g", "Device.DeviceInfo.FriendlyName"))).await;
    assert_eq!(msg_id(&next_msg(&mut ws).await), "g");
}

fn http_status(result: Result<(Client, Response), WsError>) -> (u16, String) {
    match result {
        Err(WsError::Http(resp)) => {
            let body = resp.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            (resp.status().as_u16(), body)
        }
        Err(e) => panic!("expected an HTTP error, got {e}"),
        Ok(_) => panic!("expected an HTTP error, got a connection"),
    }
}

#[tokio::test]
async fn bad_handshakes_are_rejected_with_a_clear_answer() {
    let home = start(30).await;
    let a = addr(&home);
    let target = format!("/usp?eid={CTRL}");
    let (status, body) = http_status(open(a, &target, None).await);
    assert_eq!(status, 400);
    assert!(body.contains("Sec-WebSocket-Protocol: v1.usp"), "{body}");
    assert_eq!(http_status(open(a, &target, Some("v1.usp, v2.usp")).await).0, 400);
    assert_eq!(http_status(open(a, &target, Some("v2.usp")).await).0, 400);
    let (status, body) = http_status(open(a, &format!("/wrong?eid={CTRL}"), Some("v1.usp")).await);
    assert_eq!(status, 404);
    assert!(body.contains("/wrong") && body.contains("/usp"), "{body}");
    let (status, body) = http_status(open(a, "/usp", Some("v1.usp")).await);
    assert_eq!(status, 400);
    assert!(body.contains("eid"), "{body}");
    assert_eq!(http_status(open(a, "/usp?eid=garbage", Some("v1.usp")).await).0, 400);
    // Still serving.
    let mut ws = connect(a).await;
    send(&mut ws, wrap(CTRL, AGENT, &get("after", "Device.DeviceInfo.FriendlyName"))).await;
    assert_eq!(msg_id(&next_msg(&mut ws).await), "after");
    assert!(home.agents()[0].connected_controllers().len() == 1);
}

#[tokio::test]
async fn text_frame_closes_with_1003() {
    let home = start(30).await;
    let mut ws = connect(addr(&home)).await;
    ws.send(WsMessage::Text("hello".into())).await.unwrap();
    let reason = expect_close(&mut ws, 1003).await;
    assert_eq!(reason, "USP records travel in binary frames");
    let eid: EndpointId = CTRL.parse().unwrap();
    assert!(home.agents()[0].wait_disconnected(&eid, WAIT).await);
}

#[tokio::test]
async fn garbage_and_foreign_records_are_ignored() {
    let home = start(30).await;
    let mut ws = connect(addr(&home)).await;
    send(&mut ws, b"\x00\x01garbage\xff".to_vec()).await;
    send(&mut ws, Vec::new()).await;
    send(&mut ws, wrap(CTRL, "self::someone-else", &get("wrong-to", "Device."))).await;
    send(&mut ws, wrap("self::spoofed", AGENT, &get("wrong-from", "Device."))).await;
    let bad = record(CTRL, AGENT, RecordType::NoSessionContext(NoSessionContextRecord { payload: vec![0xff; 7] }));
    send(&mut ws, bad).await;
    send(&mut ws, wrap(CTRL, AGENT, &get("good", "Device.DeviceInfo.FriendlyName"))).await;
    // Replies keep the order of the requests: the first one is for "good".
    let reply = next_msg(&mut ws).await;
    assert_eq!(msg_id(&reply), "good");
}

#[tokio::test]
async fn second_connection_replaces_the_first() {
    let home = start(30).await;
    let mut first = connect(addr(&home)).await;
    let mut second = connect(addr(&home)).await;
    let reason = expect_close(&mut first, 1000).await;
    assert_eq!(reason, "replaced by a new connection");
    assert!(next_frame(&mut first).await.is_none());
    send(&mut second, wrap(CTRL, AGENT, &get("2", "Device.DeviceInfo.FriendlyName"))).await;
    assert_eq!(msg_id(&next_msg(&mut second).await), "2");
    assert_eq!(home.agents()[0].connected_controllers().len(), 1);
}

async fn expect_disconnect(ws: &mut Client, code: u32) {
    let rec = next_record(ws).await;
    assert_eq!(rec.to_id, CTRL);
    match rec.record_type {
        Some(RecordType::Disconnect(d)) => assert_eq!(d.reason_code, code, "{d:?}"),
        other => panic!("expected a DisconnectRecord, got {other:?}"),
    }
    expect_close(ws, 1008).await;
}

#[tokio::test]
async fn session_context_gets_disconnect_7106() {
    let home = start(30).await;
    let mut ws = connect(addr(&home)).await;
    let session = SessionContextRecord {
        session_id: 1,
        sequence_id: 1,
        expected_id: 1,
        payload: vec![get("s", "Device.").encode_to_vec()],
        ..Default::default()
    };
    send(&mut ws, record(CTRL, AGENT, RecordType::SessionContext(session))).await;
    expect_disconnect(&mut ws, 7106).await;
}

#[tokio::test]
async fn disconnect_record_gets_disconnect_7105() {
    let home = start(30).await;
    let mut ws = connect(addr(&home)).await;
    let bye = DisconnectRecord { reason: "bye".into(), reason_code: 7105 };
    send(&mut ws, record(CTRL, AGENT, RecordType::Disconnect(bye))).await;
    expect_disconnect(&mut ws, 7105).await;
}

#[tokio::test]
async fn pings_are_answered_and_sent() {
    let home = start(1).await;
    let mut ws = connect(addr(&home)).await;
    ws.send(WsMessage::Ping(b"abc".to_vec().into())).await.unwrap();
    let (mut pong, mut ping) = (None, None);
    while pong.is_none() || ping.is_none() {
        match timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(WsMessage::Pong(p))) => pong = Some(p.to_vec()),
            Some(Ok(WsMessage::Ping(p))) => ping = ping.or(Some(p.to_vec())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pong.unwrap(), b"abc");
    assert_eq!(ping.unwrap(), vec![1u8], "1-byte counter, starting at 1");
    // Reading answers the agent's pings: the connection stays up.
    send(&mut ws, wrap(CTRL, AGENT, &get("alive", "Device.DeviceInfo.FriendlyName"))).await;
    assert_eq!(msg_id(&next_msg(&mut ws).await), "alive");
}

#[tokio::test]
async fn silent_connection_is_dropped_after_three_pings() {
    let home = start(1).await;
    let _ws = connect(addr(&home)).await; // never read again: no pongs
    let eid: EndpointId = CTRL.parse().unwrap();
    let handle = &home.agents()[0];
    assert!(handle.wait_connected(&eid, WAIT).await);
    assert!(handle.wait_disconnected(&eid, WAIT).await, "dropped after ~4 s");
}

#[tokio::test]
async fn notify_after_internal_set() {
    let home = start(30).await;
    let mut ws = connect(addr(&home)).await;
    let add = value_change_subscription("vc-1", "Device.DeviceInfo.FriendlyName");
    send(&mut ws, wrap(CTRL, AGENT, &add)).await;
    let reply = next_msg(&mut ws).await;
    assert_eq!(msg_id(&reply), "sub");
    assert!(
        matches!(
            reply.body.as_ref().and_then(|b| b.msg_body.as_ref()),
            Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::AddResp(_)) }))
        ),
        "{reply:?}"
    );
    let gw = home.agent("gw").unwrap();
    gw.set("Device.DeviceInfo.FriendlyName", "Renamed gateway").await.unwrap();
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Renamed gateway"));
    let n = notify_in(next_msg(&mut ws).await).expect("a Notify");
    assert_eq!(n.subscription_id, "vc-1");
    match n.notification {
        Some(usp::notify::Notification::ValueChange(vc)) => {
            assert_eq!(vc.param_path, "Device.DeviceInfo.FriendlyName");
            assert_eq!(vc.param_value, "Renamed gateway");
        }
        other => panic!("expected a ValueChange, got {other:?}"),
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    const N: usize = 3000;
    let home = start(30).await;
    let ws = connect(addr(&home)).await;
    let (mut sink, mut stream) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let bytes = wrap(CTRL, AGENT, &get(&i.to_string(), "Device.DeviceInfo.FriendlyName"));
            sink.feed(WsMessage::Binary(bytes.into())).await.unwrap();
        }
        sink.flush().await.unwrap();
        sink
    });
    let started = std::time::Instant::now();
    let mut got = 0;
    while got < N {
        match timeout(WAIT, stream.next()).await.unwrap() {
            Some(Ok(WsMessage::Binary(b))) => {
                let rec = Record::decode(&b[..]).unwrap();
                let Some(RecordType::NoSessionContext(nsc)) = rec.record_type else { panic!() };
                let msg = Msg::decode(&nsc.payload[..]).unwrap();
                assert_eq!(msg_id(&msg), got.to_string());
                got += 1;
            }
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    eprintln!("{N} pipelined Gets in {elapsed:?} ({:.0}/s, {build} build)", N as f64 / elapsed.as_secs_f64());
    let _ = sender.await.unwrap();
}

#[tokio::test]
async fn unknown_controllers_under_the_untrusted_override_get_answers() {
    let mut config = HomeConfig::new(scenario(30));
    config.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    let home = Home::start(config).await.unwrap();
    let stranger = "self::stranger";
    let (mut ws, _) = connect_as(addr(&home), stranger).await;
    send(&mut ws, wrap(stranger, AGENT, &get("who", "Device.DeviceInfo.FriendlyName"))).await;
    let rec = next_record(&mut ws).await;
    assert_eq!(rec.to_id, stranger);
    let Some(RecordType::NoSessionContext(nsc)) = rec.record_type else { panic!() };
    assert_eq!(msg_id(&Msg::decode(&nsc.payload[..]).unwrap()), "who");
}

#[tokio::test]
async fn at_most_16_connections() {
    let home = start(30).await;
    let mut clients = Vec::new();
    for i in 0..MAX_CONNECTIONS {
        clients.push(connect_as(addr(&home), &format!("self::c{i}")).await.0);
    }
    let (status, body) = http_status(open(addr(&home), "/usp?eid=self::c99", Some("v1.usp")).await);
    assert_eq!(status, 503);
    assert!(body.contains("too many"), "{body}");
    // One leaves: a slot frees up.
    let mut leaving = clients.pop().unwrap();
    leaving.close(None).await.unwrap();
    while next_frame(&mut leaving).await.is_some() {}
    let eid: EndpointId = format!("self::c{}", MAX_CONNECTIONS - 1).parse().unwrap();
    assert!(home.agents()[0].wait_disconnected(&eid, WAIT).await);
    // The slot is released when the connection task ends, just after.
    let mut ok = false;
    for _ in 0..100 {
        if open(addr(&home), "/usp?eid=self::c99", Some("v1.usp")).await.is_ok() {
            ok = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(ok, "a slot freed up");
}

#[tokio::test]
async fn oversized_message_closes_the_connection() {
    let home = start(30).await;
    let ws = connect(addr(&home)).await;
    let (mut sink, mut stream) = ws.split();
    let sender = tokio::spawn(async move {
        let _ = sink.send(WsMessage::Binary(vec![0u8; MAX_WS_MESSAGE_SIZE + 1].into())).await;
    });
    // Either the close frame (1009) or a reset: never a hang, never a reply.
    loop {
        match timeout(WAIT, stream.next()).await.unwrap() {
            Some(Ok(WsMessage::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), close::TOO_BIG);
                break;
            }
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            Some(Err(_)) | None => break,
        }
    }
    let _ = sender.await;
    // The agent still serves.
    let mut ws = connect(addr(&home)).await;
    send(&mut ws, wrap(CTRL, AGENT, &get("ok", "Device.DeviceInfo.FriendlyName"))).await;
    assert_eq!(msg_id(&next_msg(&mut ws).await), "ok");
}

#[tokio::test]
async fn shutdown_closes_with_1001_and_stops_listening() {
    let home = start(30).await;
    let a = addr(&home);
    let mut ws = connect(a).await;
    let stopping = tokio::spawn(home.shutdown());
    let reason = expect_close(&mut ws, 1001).await;
    assert_eq!(reason, "going away");
    timeout(WAIT, stopping).await.unwrap().unwrap();
    assert!(TcpStream::connect(a).await.is_err(), "no longer listening");
}
