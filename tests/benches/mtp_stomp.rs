//! The STOMP MTP through a real RabbitMQ (started here on loopback, like tests/stomp.rs).
//!
//! `cargo bench -p usp-home-tests --bench mtp_stomp` prints, in one run:
//! - how long the broker took to start;
//! - the STOMP echo floor: p50/p99 of a ~100-byte SEND to a destination the same connection
//!   subscribes to (one trip through the broker);
//! - the request/response floor: a bare STOMP peer echoing each SEND to its `reply-to-dest`
//!   (two trips through the broker, as a USP request and its answer make);
//! - sequential Get p50/p99 through usp-client to usp-sim-home over STOMP, and its ratios to
//!   both floors (the target: within 1.3× of the broker's own floor);
//! - pipelined Gets per second on one STOMP connection, and the bare peer's pipelined echo rate
//!   through the same broker (its floor).
//!
//! The three sequential measurements run in interleaved rounds so that they see the same
//! machine load. Every party (the agent, the echo peer, the measuring client) has its own
//! single-threaded runtime and OS thread. Without `--bench` (as `cargo test --benches` runs it)
//! it does a few iterations of each, to show it still works.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use sim_home::server::stomp::StompBroker;
use usp_client::mtp::stomp::{ConnectParams, StompConn};
use usp_client::{Client, ClientConfig, Login};
use usp_core::request;
use usp_core::stomp::{Frame, Incoming, Limits};
use usp_core::EndpointId;
use usp_home_tests::bench::{micros, percentile, runtime};
use usp_home_tests::rabbitmq::{Rabbit, PASSWORD, USER};

const PATH: &str = "Device.DeviceInfo.SoftwareVersion";

struct Sizes {
    warmup: usize,
    sequential: usize,
    pipelined: usize,
    window: usize,
}

fn login() -> Login {
    Login { username: USER.to_owned(), password: PASSWORD.to_owned().into() }
}

async fn raw_conn(port: u16, me: &EndpointId) -> StompConn {
    StompConn::connect(ConnectParams {
        host: "127.0.0.1",
        port,
        tls: None,
        vhost: "/",
        endpoint_id: me,
        login: Some((USER, PASSWORD)),
        heart_beat: (0, 0),
        limits: Limits::default(),
    })
    .await
    .expect("bare STOMP connection")
}

/// The next MESSAGE; `None` when the connection ended.
async fn try_next_message(conn: &mut StompConn) -> Option<Frame> {
    loop {
        match conn.next().await.ok()? {
            Incoming::Frame(f) if f.command == "MESSAGE" => return Some(f),
            Incoming::Frame(f) if f.command == "ERROR" => panic!("broker error: {f:?}"),
            _ => {}
        }
    }
}

/// The next MESSAGE.
async fn next_message(conn: &mut StompConn) -> Frame {
    try_next_message(conn).await.expect("broker connection")
}

/// Runs `f` on a thread of its own with a single-threaded runtime.
fn on_thread<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || runtime().block_on(f()));
}

/// The simulated home, serving through the broker; returns the gateway's STOMP address.
fn start_agent(rabbit: &Rabbit, me: &EndpointId) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let me = me.clone();
    let broker_url = rabbit.url("");
    let port = rabbit.stomp_port;
    on_thread(move || async move {
        let mut config = HomeConfig::new(Scenario::builtin());
        config.extra_controllers = vec![(me.clone(), "Full Access".to_owned())];
        let mut home = Home::start(config).await.expect("home");
        let mut broker = StompBroker::new(&broker_url, std::slice::from_ref(&me));
        broker.login = Some(login());
        let served = home.serve_stomp(&broker);
        let (gw, dest) = served.into_iter().next().expect("an agent");
        tx.send(format!("stomp://127.0.0.1:{port}{dest}?agent-id={gw}")).expect("send url");
        std::future::pending::<()>().await;
        drop(home);
    });
    rx.recv().expect("agent url")
}

/// A bare STOMP peer that sends every message back to its `reply-to-dest`; returns its
/// destination.
fn start_echo_peer(rabbit: &Rabbit) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = rabbit.stomp_port;
    let dest = format!("/queue/bench.echo-peer.{}", std::process::id());
    let d = dest.clone();
    on_thread(move || async move {
        let me: EndpointId = "proto::bench-echo-peer".parse().expect("eid");
        let mut conn = raw_conn(port, &me).await;
        conn.subscribe("echo", &d).await.expect("subscribe");
        tx.send(()).expect("ready");
        // Until the broker goes away at the end of the run.
        while let Some(f) = try_next_message(&mut conn).await {
            let Some(back) = f.header("reply-to-dest").map(str::to_owned) else { continue };
            conn.queue(&Frame::send(&back, &d, f.body));
            if conn.flush().await.is_err() {
                break;
            }
        }
    });
    rx.recv().expect("echo peer ready");
    dest
}

fn report(name: &str, mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let (p50, p99) = (micros(percentile(&v, 0.5)), micros(percentile(&v, 0.99)));
    println!("  {name} ({} round trips): p50 {p50:.1} us, p99 {p99:.1} us", v.len());
    (p50, p99)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes = if bench {
        Sizes { warmup: 500, sequential: 5_000, pipelined: 50_000, window: 1_000 }
    } else {
        Sizes { warmup: 5, sequential: 40, pipelined: 400, window: 50 }
    };
    let rabbit = Rabbit::start();
    println!(
        "mtp_stomp{}: RabbitMQ 3.10 with rabbitmq_stomp started in {:.1} s",
        if bench { "" } else { " (test mode: few iterations; run with `cargo bench`)" },
        rabbit.started_in.as_secs_f64()
    );
    let me: EndpointId = "self::bench-stomp".parse().expect("eid");
    let agent_url = start_agent(&rabbit, &me);
    let echo_peer = start_echo_peer(&rabbit);
    let port = rabbit.stomp_port;
    runtime().block_on(async {
        let mut config = ClientConfig::new(agent_url.clone(), me.clone());
        config.login = Some(login());
        config.connect_timeout = Duration::from_secs(20);
        let client = Client::connect(config).await.expect("usp-client over STOMP");
        let req = request::get([PATH]).build().expect("get");

        // One trip: SEND to our own subscription.
        let self_dest = format!("/queue/bench.self.{}", std::process::id());
        let mut own = raw_conn(port, &me).await;
        own.subscribe("self", &self_dest).await.expect("subscribe");
        // Two trips: SEND to the echo peer, which answers on our reply-to-dest.
        let back_dest = format!("/queue/bench.back.{}", std::process::id());
        let mut two = raw_conn(port, &me).await;
        two.subscribe("back", &back_dest).await.expect("subscribe");
        let body = Bytes::from(vec![0x5a; 100]);

        let (mut one_trip, mut echo, mut get) = (Vec::new(), Vec::new(), Vec::new());
        const ROUNDS: usize = 10;
        for round in 0..=ROUNDS {
            let n = if round == 0 { sizes.warmup } else { sizes.sequential / ROUNDS };
            for _ in 0..n {
                let t = Instant::now();
                own.queue(&Frame::send(&self_dest, &self_dest, body.clone()));
                own.flush().await.expect("send");
                next_message(&mut own).await;
                let d1 = t.elapsed();
                let t = Instant::now();
                two.queue(&Frame::send(&echo_peer, &back_dest, body.clone()));
                two.flush().await.expect("send");
                next_message(&mut two).await;
                let d2 = t.elapsed();
                let t = Instant::now();
                client.request(req.clone()).await.expect("get");
                let d3 = t.elapsed();
                if round > 0 {
                    one_trip.push(d1);
                    echo.push(d2);
                    get.push(d3);
                }
            }
        }
        println!("sequential, interleaved in {ROUNDS} rounds:");
        let (f1, _) = report("STOMP echo floor: SEND to our own subscription (one trip through RabbitMQ)", one_trip);
        let (f2, f2_99) =
            report("request/response floor: bare STOMP peer echoing to reply-to-dest (two trips)", echo);
        let (g, g99) = report("sequential Get, usp-client -> usp-sim-home over STOMP", get);
        println!(
            "  ratio Get / request-response floor: p50 {:.2}x, p99 {:.2}x (target <= 1.3x); Get / one-trip echo: p50 {:.2}x",
            g / f2,
            g99 / f2_99,
            g / f1
        );

        let t = Instant::now();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let (mut sent, mut done) = (0usize, 0usize);
        while done < sizes.pipelined {
            while sent < sizes.pipelined && in_flight.len() < sizes.window {
                let c = client.clone();
                let r = req.clone();
                in_flight.push(async move { c.request(r).await });
                sent += 1;
            }
            if let Some(r) = in_flight.next().await {
                r.expect("pipelined get");
                done += 1;
            }
        }
        let rate = sizes.pipelined as f64 / t.elapsed().as_secs_f64();
        println!(
            "pipelined Gets on one STOMP connection ({} requests, window {}): {rate:.0} per second",
            sizes.pipelined, sizes.window
        );

        // The broker's own pipelined floor: the bare echo peer, same window, same count.
        let t = Instant::now();
        let (mut sent, mut done) = (0usize, 0usize);
        while done < sizes.pipelined {
            while sent < sizes.pipelined && sent - done < sizes.window {
                two.queue(&Frame::send(&echo_peer, &back_dest, body.clone()));
                sent += 1;
            }
            two.flush().await.expect("send");
            next_message(&mut two).await;
            done += 1;
        }
        let floor = sizes.pipelined as f64 / t.elapsed().as_secs_f64();
        println!(
            "pipelined floor: bare STOMP peer echoing ({} messages, window {}): {floor:.0} per second; Gets reach {:.0}% of it",
            sizes.pipelined,
            sizes.window,
            100.0 * rate / floor
        );
        client.close().await;
    });
    drop(rabbit);
}
