//! Agent-initiated WebSocket against usp-sim-home on loopback, beside the same agent reached
//! the usual way (we dial its server), in the same run:
//!
//! `cargo bench -p usp-home-tests --bench dialled` prints sequential Get p50/p99 over both,
//! their ratio, pipelined Gets per second over both, and how long a dialling agent takes from
//! its first dial to a served Get.

use std::time::{Duration, Instant};

use sim_home::dial::DialConfig;
use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use usp_client::listen::{Listener, ListenerConfig};
use usp_client::{Client, ClientConfig};
use usp_core::request;
use usp_core::EndpointId;
use usp_home_tests::bench::percentile;

const FULL_WARMUP: usize = 1_000;
const FULL_SEQUENTIAL: usize = 10_000;
const FULL_PIPELINED: usize = 100_000;
const WINDOW: usize = 1_000;

/// `cargo bench` passes `--bench`; without it (the test command's quick check) a hundredth.
fn sized(full: usize) -> usize {
    if std::env::args().any(|a| a == "--bench") {
        full
    } else {
        (full / 100).max(10)
    }
}
const PATH: &str = "Device.DeviceInfo.SoftwareVersion";

async fn sequential(c: &Client) -> (Duration, Duration) {
    for _ in 0..sized(FULL_WARMUP) {
        c.get(&[PATH], 0).await.expect("get");
    }
    let mut times = Vec::with_capacity(sized(FULL_SEQUENTIAL));
    for _ in 0..sized(FULL_SEQUENTIAL) {
        let t = Instant::now();
        c.get(&[PATH], 0).await.expect("get");
        times.push(t.elapsed());
    }
    times.sort_unstable();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

async fn pipelined(c: &Client) -> f64 {
    let req = request::get([PATH]).build().expect("request");
    let t = Instant::now();
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let mut sent = 0;
    let mut done = 0;
    use futures_util::StreamExt;
    let total = sized(FULL_PIPELINED);
    while done < total {
        while sent < total && in_flight.len() < WINDOW {
            in_flight.push(c.request(req.clone()));
            sent += 1;
        }
        in_flight.next().await.expect("in flight").expect("get");
        done += 1;
    }
    total as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        // Two controllers: an agent keeps one session per controller (R-WS.4), so the dialled
        // connection of the same controller would replace the direct one.
        let me: EndpointId = "self::bench-dialled".parse().expect("eid");
        let other: EndpointId = "self::bench-direct".parse().expect("eid");
        let mut config = HomeConfig::new(Scenario::builtin());
        config.extra_controllers =
            vec![(me.clone(), "Full Access".to_owned()), (other.clone(), "Full Access".to_owned())];
        let home = Home::start(config).await.expect("home");
        let gw = home.agent("gateway").expect("gateway");

        let mut direct_config = ClientConfig::new(&gw.url, other);
        direct_config.request_timeout = Duration::from_secs(30);
        let direct = Client::connect(direct_config).await.expect("direct");

        let listener =
            Listener::bind(ListenerConfig::new(([127, 0, 0, 1], 0).into(), me.clone())).await.expect("listener");
        let started = Instant::now();
        let _dialler = gw.dial(DialConfig::new(listener.url("127.0.0.1"), me.clone()));
        let mut dialled_config = ClientConfig::new(listener.url("127.0.0.1"), me.clone());
        dialled_config.agent_id = Some(gw.endpoint_id.clone());
        dialled_config.connector = Some(listener.connector_for(gw.endpoint_id.clone()));
        dialled_config.request_timeout = Duration::from_secs(30);
        let dialled = Client::connect(dialled_config).await.expect("dialled");
        dialled.get(&[PATH], 0).await.expect("first get");
        let first = started.elapsed();

        let (d50, d99) = sequential(&direct).await;
        let (a50, a99) = sequential(&dialled).await;
        let direct_rate = pipelined(&direct).await;
        let dialled_rate = pipelined(&dialled).await;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!("sequential Get, {} after {} warm-up (µs):", sized(FULL_SEQUENTIAL), sized(FULL_WARMUP));
        println!("  we dial the agent      p50 {:7.1}  p99 {:7.1}", us(d50), us(d99));
        println!("  the agent dials us     p50 {:7.1}  p99 {:7.1}", us(a50), us(a99));
        println!("  ratio dialled/direct   p50 {:7.2}", a50.as_secs_f64() / d50.as_secs_f64());
        println!("pipelined Gets/s ({}, window {WINDOW}):", sized(FULL_PIPELINED));
        println!("  we dial the agent      {direct_rate:10.0}");
        println!("  the agent dials us     {dialled_rate:10.0}");
        println!("from the agent's first dial to a served Get: {:.1} ms", first.as_secs_f64() * 1e3);
        direct.close().await;
        dialled.close().await;
    });
}
