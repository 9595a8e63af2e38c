//! A hostile agent writing to our logs: Records whose `to_id`, `from_id`, Disconnect
//! `reason`, msg_id and error message are 5 MiB each and full of newlines that imitate log
//! lines. What reaches the log must be short, escaped (no forged line) and rate-limited.
// The WebSocket handshake callback type is tungstenite's: its large error is not ours.
#![allow(clippy::result_large_err)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use usp_client::{Backoff, Client, ClientConfig, ClientError};
use usp_core::msg::{self, Body, Msg};
use usp_core::record::{Record, RecordType};
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

const AGENT: &str = "proto::log-flooder";
const ME: &str = "self::hostile-logs";
const FORGED: &str = "2026-12-04T00:00:00.000000Z ERROR usp_home: FORGED pay 1 BTC to unlock your router";
const BOUND: Duration = Duration::from_secs(60);

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Agent text of about 5 MiB (just under the record limit with the rest of a record):
/// lines that look like our own log lines.
fn evil_text(room: usize) -> String {
    let line = format!("\n{FORGED}\r\n");
    let mut s = String::with_capacity(room);
    while s.len() + line.len() < room {
        s.push_str(&line);
    }
    s
}

fn encode(rec: &Record) -> Bytes {
    let mut out = Vec::new();
    wire::encode_record(rec, &mut out);
    Bytes::from(out)
}

fn msg_record(m: &Msg) -> Bytes {
    let mut p = Vec::new();
    wire::encode_msg(m, &mut p);
    encode(&Record::new("1.3", ME, AGENT, RecordType::NoSessionContext { payload: Bytes::from(p) }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_mib_multi_line_agent_text_reaches_the_log_short_and_escaped() {
    let logs = Capture::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        // Everything of ours at TRACE; tungstenite's own TRACE lines print whole frames in
        // hex, which is its business (the app logs at INFO).
        .with_env_filter("trace,tungstenite=debug,tokio_tungstenite=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("ws://{}/usp", l.local_addr().expect("addr"));
    let evil = evil_text((5 << 20) - 4096);
    let agent = tokio::spawn({
        let evil = evil.clone();
        async move {
            let (tcp, _) = l.accept().await.expect("accept");
            let cb = |_req: &HsRequest, mut resp: HsResponse| {
                resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                Ok(resp)
            };
            let mut ws = tokio_tungstenite::accept_hdr_async(tcp, cb).await.expect("handshake");
            ws.send(Message::Binary(encode(&Record::new("1.3", ME, AGENT, RecordType::WebSocketConnect))))
                .await
                .expect("connect record");
            // The client's Get: answered with an Error whose message is the flood.
            let req = loop {
                if let Some(Ok(Message::Binary(b))) = ws.next().await {
                    let rec = wire::decode_record(b, &Limits::default()).expect("record");
                    if let RecordType::NoSessionContext { payload } = rec.record_type {
                        break wire::decode_msg(payload, &Limits::default()).expect("msg");
                    }
                }
            };
            let error = msg::Error { err_code: 7002, err_msg: evil.as_str().into(), param_errs: vec![] };
            ws.send(Message::Binary(msg_record(&Msg::new(req.msg_id.clone(), Body::Error(error)))))
                .await
                .expect("send");
            // 100 records, each carrying ~5 MiB of forged lines where the client logs them.
            for i in 0..100 {
                let rec = match i % 4 {
                    0 => Record::new("1.3", evil.as_str(), AGENT, RecordType::WebSocketConnect),
                    1 => Record::new("1.3", ME, evil.as_str(), RecordType::WebSocketConnect),
                    2 => Record::new(
                        "1.3",
                        ME,
                        AGENT,
                        RecordType::Disconnect { reason: evil.as_str().into(), reason_code: 7105 },
                    ),
                    _ => {
                        let resp = msg::GetResp::default();
                        let m = Msg::new(evil.as_str(), Body::Response(msg::Response::GetResp(resp)));
                        let mut p = Vec::new();
                        wire::encode_msg(&m, &mut p);
                        Record::new("1.3", ME, AGENT, RecordType::NoSessionContext { payload: Bytes::from(p) })
                    }
                };
                ws.send(Message::Binary(encode(&rec))).await.expect("send");
            }
            // Then a close with a multi-line reason (within the 123-byte limit of a close frame).
            let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
                reason: "\nFORGED close".into(),
            };
            let _ = ws.close(Some(frame)).await;
            while ws.next().await.is_some() {}
        }
    });

    let mut config = ClientConfig::new(&url, ME.parse::<EndpointId>().expect("eid"));
    config.backoff = Backoff { initial: Duration::from_secs(30), ..Backoff::default() };
    let c = Client::start(config);
    tokio::time::timeout(BOUND, c.wait_connected(BOUND)).await.expect("bounded").expect("connected");
    let err = tokio::time::timeout(BOUND, c.get(&["Device.DeviceInfo."], 0)).await.expect("bounded");
    match &err {
        Err(ClientError::Usp(e)) => {
            assert!(e.message.len() <= 1024 + 4, "the agent's message is cut: {}", e.message.len());
            assert!(err.as_ref().map_err(ToString::to_string).unwrap_err().len() < 4096);
        }
        other => panic!("{other:?}"),
    }
    tokio::time::timeout(BOUND, agent).await.expect("agent done").expect("agent task");
    // Wait for the client to see the close (its "connection lost" line).
    let mut states = c.state();
    tokio::time::timeout(BOUND, async {
        while matches!(*states.borrow_and_update(), usp_client::ConnectionState::Connected { .. }) {
            states.changed().await.expect("alive");
        }
    })
    .await
    .expect("the client saw the close");
    c.close().await;

    let out = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8 logs");
    eprintln!("{} bytes of log, {} lines", out.len(), out.lines().count());
    assert!(out.contains("ignored a record from the agent"), "the drops are logged:\n{out}");
    assert!(out.contains("the agent announced a disconnect"), "{out}");
    assert!(out.len() < 64 * 1024, "{} bytes of log", out.len());
    for line in out.lines() {
        assert!(!line.starts_with(FORGED) && !line.starts_with("FORGED"), "forged line: {line}");
        assert!(line.len() < 2048, "a {}-byte line", line.len());
    }
    assert!(c.stats().dropped.load(std::sync::atomic::Ordering::Relaxed) >= 75);
}
