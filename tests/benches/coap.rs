//! CoAP round trips against usp-sim-home on loopback, beside WebSocket to the same agent
//! and a bare UDP echo (the floor).
//!
//! `cargo bench -p usp-home-tests --bench coap` prints sequential Get latency p50/p99 over
//! CoAP and over WebSocket (interleaved, same agent, same runtime), a bare UDP echo of a
//! Record-sized datagram, and pipelined Gets per second over CoAP (one confirmable message
//! at a time each way, RFC 7252 NSTART = 1, so this is bounded by round trips).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use usp_client::{Client, ClientConfig};
use usp_core::request;
use usp_core::EndpointId;
use usp_home_tests::bench::percentile;

const WARMUP: usize = 500;
const SEQUENTIAL: usize = 5_000;
const PIPELINED: usize = 20_000;
const WINDOW: usize = 256;
const PATH: &str = "Device.DeviceInfo.SoftwareVersion";
const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

fn line(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!("{name:<34} p50 {:>7.1} µs   p99 {:>7.1} µs", p50.as_secs_f64() * 1e6, p99.as_secs_f64() * 1e6);
    p50
}

async fn udp_echo_floor(size: usize) -> Vec<Duration> {
    let server = tokio::net::UdpSocket::bind(LOOPBACK).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = server.recv_from(&mut buf).await {
            let _ = server.send_to(&buf[..n], from).await;
        }
    });
    let client = tokio::net::UdpSocket::bind(LOOPBACK).await.expect("bind");
    let (msg, mut buf) = (vec![7u8; size], vec![0u8; 2048]);
    let mut out = Vec::with_capacity(SEQUENTIAL);
    for i in 0..WARMUP + SEQUENTIAL {
        let t = Instant::now();
        client.send_to(&msg, addr).await.expect("send");
        client.recv_from(&mut buf).await.expect("recv");
        if i >= WARMUP {
            out.push(t.elapsed());
        }
    }
    out
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("coap: run with `cargo bench -p usp-home-tests --bench coap`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        // Two controllers: an agent keeps one connection per controller (a new one replaces it).
        let me: EndpointId = "self::coap-bench".parse().expect("eid");
        let me_ws: EndpointId = "self::coap-bench-ws".parse().expect("eid");
        let mut config = HomeConfig::new(Scenario::builtin());
        config.extra_controllers =
            vec![(me.clone(), "Full Access".to_owned()), (me_ws.clone(), "Full Access".to_owned())];
        let home = Home::start(config).await.expect("home");
        let gw = home.agent("gateway").expect("gateway");
        let server = gw.serve_coap(LOOPBACK, "/usp").await.expect("CoAP");
        let ws = Client::connect(ClientConfig::new(gw.url.clone(), me_ws)).await.expect("ws");
        let mut coap_config = ClientConfig::new(server.url.clone(), me.clone());
        coap_config.agent_id = Some(gw.endpoint_id.clone());
        let coap = Client::connect(coap_config).await.expect("coap");
        let req = request::get([PATH]).build().expect("get");
        let (mut over_ws, mut over_coap) = (Vec::new(), Vec::new());
        for i in 0..WARMUP + SEQUENTIAL {
            for (client, out) in [(&ws, &mut over_ws), (&coap, &mut over_coap)] {
                let t = Instant::now();
                client.request(req.clone()).await.expect("get");
                if i >= WARMUP {
                    out.push(t.elapsed());
                }
            }
        }
        // A Get Record in a CoAP POST (about 40 bytes of header and options).
        let record = {
            let mut link = usp_core::engine::Link::new(me.clone(), Some(gw.endpoint_id.clone()), Default::default());
            link.send(req.clone(), Instant::now()).expect("send");
            link.poll_transmit().expect("record").len() + 40
        };
        let floor = udp_echo_floor(record).await;
        println!("sequential Get, {SEQUENTIAL} each, interleaved, against usp-sim-home:");
        let c = line("  over CoAP", over_coap);
        let w = line("  over WebSocket", over_ws);
        let f = line(&format!("  bare UDP echo ({record} B)"), floor);
        println!(
            "  CoAP / UDP echo: {:.2}x   CoAP / WebSocket: {:.2}x",
            c.as_secs_f64() / f.as_secs_f64(),
            c.as_secs_f64() / w.as_secs_f64()
        );

        let coap = Arc::new(coap);
        let t = Instant::now();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let (mut sent, mut done) = (0usize, 0usize);
        while done < PIPELINED {
            while sent < PIPELINED && in_flight.len() < WINDOW {
                let (c, r) = (coap.clone(), req.clone());
                in_flight.push(async move { c.request(r).await });
                sent += 1;
            }
            if let Some(r) = in_flight.next().await {
                r.expect("get");
                done += 1;
            }
        }
        let rate = PIPELINED as f64 / t.elapsed().as_secs_f64();
        println!("pipelined Gets over CoAP ({PIPELINED} requests, window {WINDOW}): {rate:.0} per second");
        ws.close().await;
        drop(server);
        home.shutdown().await;
    });
}
