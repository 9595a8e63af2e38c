//! Round trips against usp-sim-home on loopback, with a bare WebSocket echo as the floor.
//!
//! `cargo bench -p usp-home-tests --bench roundtrip` prints:
//! - sequential Get latency p50/p99 through usp-client to a simulated agent;
//! - the same for a bare tokio-tungstenite echo of a Record-sized binary message over
//!   the same loopback (server and client set up the same way): the floor;
//! - their ratio (target ≤ 1.2);
//! - pipelined Gets per second on one connection (target ≥ 50,000);
//! - as a diagnostic, usp-client against a server that answers with a ready-made
//!   GetResp (no agent behind it), which separates client cost from agent cost.
//!
//! Server and client each run on their own single-threaded runtime and OS thread, for
//! both the agent and the echo, so the comparison is like for like.
// The WebSocket handshake callback type is tungstenite's: its large error is not ours.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use usp_client::{Client, ClientConfig};
use usp_core::request;
use usp_core::EndpointId;

const WARMUP: usize = 2_000;
const SEQUENTIAL: usize = 20_000;
const PIPELINED: usize = 200_000;
const WINDOW: usize = 2_000;
const PATH: &str = "Device.DeviceInfo.SoftwareVersion";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Starts the simulated home on its own thread; returns the gateway URL.
fn start_agent(me: &EndpointId) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let me = me.clone();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let mut config = HomeConfig::new(Scenario::builtin());
            config.extra_controllers = vec![(me, "Full Access".to_owned())];
            let home = Home::start(config).await.expect("home");
            tx.send(home.agent("gateway").expect("gateway").url.clone()).expect("send url");
            std::future::pending::<()>().await;
            drop(home);
        });
    });
    rx.recv().expect("agent url")
}

/// The echo is configured like usp-client and usp-sim-home (same read buffer size), so
/// the floor is like for like.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(usp_client::client::READ_BUFFER_SIZE)
}

/// Starts a bare WebSocket echo server (v1.usp) on its own thread; returns its URL.
fn start_echo() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(format!("ws://{}/usp", l.local_addr().expect("addr"))).expect("send url");
            while let Ok((tcp, _)) = l.accept().await {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(async move {
                    let cb = |_r: &HsRequest, mut resp: HsResponse| {
                        resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                        Ok(resp)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, cb, Some(ws_config())).await
                    else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if let Message::Binary(b) = m {
                            if ws.send(Message::Binary(b)).await.is_err() {
                                break;
                            }
                        }
                    }
                });
            }
        });
    });
    rx.recv().expect("echo url")
}

/// A diagnostic peer: answers every Get with a ready-made one-parameter GetResp (same
/// msg_id), with no data model, permissions or actor behind it. usp-client against it
/// shows what the client side costs on top of the echo floor.
fn start_canned(me: &EndpointId) -> String {
    use usp_core::msg::{self, Body, Msg, Response};
    use usp_core::record::{Record, RecordType};
    use usp_core::wire::{self, Limits};
    let (tx, rx) = std::sync::mpsc::channel();
    let me = me.clone();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(format!("ws://{}/usp", l.local_addr().expect("addr"))).expect("send url");
            const AGENT: &str = "proto::canned-agent";
            while let Ok((tcp, _)) = l.accept().await {
                let _ = tcp.set_nodelay(true);
                let me = me.clone();
                tokio::spawn(async move {
                    let cb = |_r: &HsRequest, mut resp: HsResponse| {
                        resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                        Ok(resp)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, cb, Some(ws_config())).await
                    else {
                        return;
                    };
                    let record = |rt: RecordType| {
                        let mut out = Vec::new();
                        wire::encode_record(&Record::new("1.3", me.as_str(), AGENT, rt), &mut out);
                        bytes::Bytes::from(out)
                    };
                    if ws.send(Message::Binary(record(RecordType::WebSocketConnect))).await.is_err() {
                        return;
                    }
                    let limits = Limits::default();
                    while let Some(Ok(m)) = ws.next().await {
                        let Message::Binary(b) = m else { continue };
                        let Ok(rec) = wire::decode_record(b, &limits) else { continue };
                        let RecordType::NoSessionContext { payload } = rec.record_type else { continue };
                        let Ok(req) = wire::decode_msg(payload, &limits) else { continue };
                        let resp = msg::GetResp {
                            req_path_results: vec![msg::GetRequestedPathResult {
                                requested_path: PATH.into(),
                                err_code: 0,
                                err_msg: "".into(),
                                resolved_path_results: vec![msg::ResolvedPathResult {
                                    resolved_path: "Device.DeviceInfo.".into(),
                                    result_params: [("SoftwareVersion", "6.2.1")].into_iter().collect(),
                                }],
                            }],
                        };
                        let mut p = Vec::new();
                        wire::encode_msg(&Msg::new(req.msg_id, Body::Response(Response::GetResp(resp))), &mut p);
                        if ws
                            .send(Message::Binary(record(RecordType::NoSessionContext {
                                payload: bytes::Bytes::from(p),
                            })))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
    });
    rx.recv().expect("canned url")
}

/// Sequential round trips over three connections, measured in interleaved rounds so
/// that all three see the same machine load: usp-client to the agent, the bare echo,
/// and usp-client to the canned-reply server. Returns the three latency lists.
fn sequential_interleaved(agent: &str, echo: &str, canned: &str, me: &EndpointId, size: usize) -> [Vec<Duration>; 3] {
    const ROUNDS: usize = 20;
    runtime().block_on(async {
        let usp = Client::connect(ClientConfig::new(agent, me.clone())).await.expect("connect agent");
        let diag = Client::connect(ClientConfig::new(canned, me.clone())).await.expect("connect canned");
        let tcp = tokio::net::TcpStream::connect(echo.trim_start_matches("ws://").trim_end_matches("/usp"))
            .await
            .expect("tcp");
        tcp.set_nodelay(true).expect("nodelay");
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(echo).expect("req");
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(request, tcp, Some(ws_config())).await.expect("handshake");
        let payload = bytes::Bytes::from(vec![0x5au8; size]);
        let req = request::get([PATH]).build().expect("get");
        let mut out: [Vec<Duration>; 3] = Default::default();
        for round in 0..=ROUNDS {
            // Round 0 is the warm-up and is not kept.
            let n = if round == 0 { WARMUP } else { SEQUENTIAL / ROUNDS };
            for _ in 0..n {
                let t = Instant::now();
                std::hint::black_box(usp.request(req.clone()).await.expect("get"));
                if round > 0 {
                    out[0].push(t.elapsed());
                }
            }
            for _ in 0..n {
                let t = Instant::now();
                ws.send(Message::Binary(payload.clone())).await.expect("send");
                loop {
                    if let Some(Ok(Message::Binary(b))) = ws.next().await {
                        std::hint::black_box(b);
                        break;
                    }
                }
                if round > 0 {
                    out[1].push(t.elapsed());
                }
            }
            for _ in 0..n {
                let t = Instant::now();
                std::hint::black_box(diag.request(req.clone()).await.expect("get"));
                if round > 0 {
                    out[2].push(t.elapsed());
                }
            }
        }
        usp.close().await;
        diag.close().await;
        out
    })
}

fn pipelined_usp(url: &str, me: &EndpointId) -> f64 {
    runtime().block_on(async {
        let client = Client::connect(ClientConfig::new(url, me.clone())).await.expect("connect");
        let req = request::get([PATH]).build().expect("get");
        for _ in 0..WARMUP {
            client.request(req.clone()).await.expect("get");
        }
        let t = Instant::now();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let mut sent = 0usize;
        let mut done = 0usize;
        while done < PIPELINED {
            while sent < PIPELINED && in_flight.len() < WINDOW {
                let c = client.clone();
                let r = req.clone();
                in_flight.push(async move { c.request(r).await });
                sent += 1;
            }
            if let Some(r) = in_flight.next().await {
                r.expect("get");
                done += 1;
            }
        }
        let rate = PIPELINED as f64 / t.elapsed().as_secs_f64();
        client.close().await;
        rate
    })
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("roundtrip: run with `cargo bench -p usp-home-tests --bench roundtrip`");
        return;
    }
    let me: EndpointId = "self::bench-controller".parse().expect("eid");
    let agent = start_agent(&me);
    let echo = start_echo();
    // The echo carries a message the size of our Get Record.
    let size = {
        let mut link = usp_core::engine::Link::new(
            me.clone(),
            Some("os::012345-GW0001".parse().expect("eid")),
            Default::default(),
        );
        link.send(request::get([PATH]).build().expect("get"), Instant::now()).expect("send");
        link.poll_transmit().expect("record").len()
    };

    let canned = start_canned(&me);
    let [mut usp, mut floor, mut client_only] = sequential_interleaved(&agent, &echo, &canned, &me, size);
    usp.sort();
    floor.sort();
    client_only.sort();
    let (u50, u99) = (percentile(&usp, 0.50), percentile(&usp, 0.99));
    let (f50, f99) = (percentile(&floor, 0.50), percentile(&floor, 0.99));
    println!(
        "sequential Get (usp-client -> usp-sim-home, {SEQUENTIAL} requests): p50 {:.1} us, p99 {:.1} us",
        micros(u50),
        micros(u99)
    );
    println!("bare tungstenite echo floor ({size}-byte message): p50 {:.1} us, p99 {:.1} us", micros(f50), micros(f99));
    println!(
        "ratio usp/floor: p50 {:.2}, p99 {:.2} (target <= 1.2)",
        micros(u50) / micros(f50),
        micros(u99) / micros(f99)
    );
    println!(
        "diagnostic: usp-client against a canned-reply server (no agent logic): p50 {:.1} us, p99 {:.1} us",
        micros(percentile(&client_only, 0.50)),
        micros(percentile(&client_only, 0.99))
    );
    let rate = pipelined_usp(&agent, &me);
    println!("pipelined Gets on one connection ({PIPELINED} requests, window {WINDOW}): {rate:.0} per second (target >= 50000)");
}
