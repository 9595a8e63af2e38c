//! The MQTT MTP through a real mosquitto on loopback, with the broker's own publish/subscribe
//! echo as the floor.
//!
//! `cargo bench -p usp-home-tests --bench mtp_mqtt` prints, from one run:
//! - the floor: p50/p99 of a round trip of a 100-byte payload through the broker with rumqttc
//!   (MQTT 5, QoS 1, a Response Topic on each PUBLISH, as USP sends them): one client publishes,
//!   an echo client publishes it back to the Response Topic;
//! - sequential Get p50/p99 through usp-client over MQTT 5 to a usp-sim-home gateway serving
//!   over the same broker, and its ratio to the floor (target <= 1.3);
//! - pipelined: the echo's messages per second with a window in flight (the floor), then Gets
//!   per second on one MQTT session (QoS 1, then our requests at QoS 0).
//!
//! `cargo test --bench mtp_mqtt` runs the same with a few iterations, as a check that it works.
//! The broker, the agent, the echo and the measuring client each run on their own thread
//! (single-threaded runtimes for ours).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sim_home::home::{Home, HomeConfig};
use sim_home::mqtt::{controller_topic, MqttServe};
use sim_home::scenario::Scenario;
use usp_client::mtp::mqtt::{Address, Event, Session, SessionOptions};
use usp_client::{Client, ClientConfig};
use usp_core::request;
use usp_core::EndpointId;
use usp_home_tests::bench::{micros, percentile, runtime};
use usp_home_tests::mosquitto::{Broker, Options};

const PATH: &str = "Device.DeviceInfo.SoftwareVersion";
const ECHO_TOPIC: &str = "bench/echo";
const CLIENT_TOPIC: &str = "bench/client";

struct Sizes {
    warmup: usize,
    sequential: usize,
    pipelined: usize,
    window: usize,
}

fn session_options(url: &str, who: &str) -> SessionOptions {
    SessionOptions {
        address: Address::parse(url).expect("address"),
        own_id: who.parse().expect("eid"),
        client_id: Some(who.replace(':', "-")),
        login: None,
        tls: None,
        max_record_size: 64 * 1024,
        keep_alive: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
    }
}

async fn subscribed(url: &str, who: &str, topic: &str) -> Session {
    let mut s = Session::connect(session_options(url, who)).await.expect("broker session");
    s.publisher.subscribe(topic).await.expect("subscribe");
    loop {
        if let Event::SubAck { granted } = s.events.next().await.expect("suback") {
            assert!(granted, "subscription to {topic} granted");
            return s;
        }
    }
}

/// The echo: every message to `bench/echo` goes back to its Response Topic.
fn start_echo(url: String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let Session { publisher, mut events, .. } = subscribed(&url, "self::bench-echo", ECHO_TOPIC).await;
            tx.send(()).expect("ready");
            while let Ok(e) = events.next().await {
                if let Event::Publish { payload, reply_to: Some(to), .. } = e {
                    let p = publisher.clone();
                    // Not awaited here: the event loop must keep turning for the publish to go.
                    tokio::spawn(async move { p.publish(&to, ECHO_TOPIC, payload).await });
                }
            }
        })
    });
    rx.recv().expect("echo up");
}

/// The home on its own thread; its gateway serves over MQTT 5 at `usp/agent/gateway`.
fn start_agent(url: String, me: &EndpointId) -> EndpointId {
    let (tx, rx) = std::sync::mpsc::channel();
    let me = me.clone();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let mut config = HomeConfig::new(Scenario::builtin());
            config.extra_controllers = vec![(me.clone(), "Full Access".to_owned())];
            let home = Home::start(config).await.expect("home");
            let gw = home.agent("gateway").expect("gateway");
            let mut serving = gw.serve_mqtt(MqttServe {
                broker: url,
                topic: "usp/agent/gateway".into(),
                controllers: vec![(me.clone(), controller_topic(&me))],
                login: None,
                tls: None,
            });
            assert!(serving.wait_up(Duration::from_secs(20)).await, "the agent is at the broker");
            tx.send(gw.endpoint_id.clone()).expect("send");
            std::future::pending::<()>().await;
            drop((serving, home));
        })
    });
    rx.recv().expect("agent up")
}

fn echo_floor(url: &str, sizes: &Sizes) -> Vec<Duration> {
    runtime().block_on(async {
        let Session { publisher, mut events, .. } = subscribed(url, "self::bench-client", CLIENT_TOPIC).await;
        let payload = bytes::Bytes::from(vec![0x5au8; 100]);
        let mut out = Vec::with_capacity(sizes.sequential);
        for i in 0..sizes.warmup + sizes.sequential {
            let t = Instant::now();
            let send = publisher.publish(ECHO_TOPIC, CLIENT_TOPIC, payload.clone());
            let wait = async {
                loop {
                    if let Event::Publish { payload, .. } = events.next().await.expect("echo") {
                        return payload;
                    }
                }
            };
            let (sent, back) = tokio::join!(send, wait);
            sent.expect("publish");
            std::hint::black_box(back);
            if i >= sizes.warmup {
                out.push(t.elapsed());
            }
        }
        publisher.disconnect();
        out.sort();
        out
    })
}

/// Echoes per second with `window` in flight: the pipelined floor.
fn echo_pipelined(url: &str, sizes: &Sizes) -> f64 {
    runtime().block_on(async {
        let Session { publisher, mut events, .. } = subscribed(url, "self::bench-client-2", CLIENT_TOPIC).await;
        let payload = bytes::Bytes::from(vec![0x5au8; 100]);
        let window = std::sync::Arc::new(tokio::sync::Semaphore::new(sizes.window));
        let (n, w) = (sizes.pipelined, window.clone());
        let t = Instant::now();
        let sender = tokio::spawn(async move {
            for _ in 0..n {
                w.acquire().await.expect("window").forget();
                publisher.publish(ECHO_TOPIC, CLIENT_TOPIC, payload.clone()).await.expect("publish");
            }
            publisher
        });
        let mut back = 0;
        while back < n {
            if let Event::Publish { .. } = events.next().await.expect("echo") {
                back += 1;
                window.add_permits(1);
            }
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        sender.await.expect("sender").disconnect();
        rate
    })
}

fn config(url: &str, me: &EndpointId, agent: &EndpointId) -> ClientConfig {
    let mut c = ClientConfig::new(url, me.clone());
    c.agent_id = Some(agent.clone());
    c
}

fn sequential_gets(url: &str, me: &EndpointId, agent: &EndpointId, sizes: &Sizes) -> Vec<Duration> {
    runtime().block_on(async {
        let client = Client::connect(config(url, me, agent)).await.expect("connect over MQTT");
        let req = request::get([PATH]).build().expect("get");
        let mut out = Vec::with_capacity(sizes.sequential);
        for i in 0..sizes.warmup + sizes.sequential {
            let t = Instant::now();
            std::hint::black_box(client.request(req.clone()).await.expect("get"));
            if i >= sizes.warmup {
                out.push(t.elapsed());
            }
        }
        client.close().await;
        out.sort();
        out
    })
}

fn pipelined_gets(url: &str, me: &EndpointId, agent: &EndpointId, sizes: &Sizes) -> f64 {
    runtime().block_on(async {
        let client = Client::connect(config(url, me, agent)).await.expect("connect over MQTT");
        let req = request::get([PATH]).build().expect("get");
        let t = Instant::now();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let (mut sent, mut done) = (0usize, 0usize);
        while done < sizes.pipelined {
            while sent < sizes.pipelined && in_flight.len() < sizes.window {
                let (c, r) = (client.clone(), req.clone());
                in_flight.push(async move { c.request(r).await });
                sent += 1;
            }
            if let Some(r) = in_flight.next().await {
                r.expect("get");
                done += 1;
            }
        }
        let rate = sizes.pipelined as f64 / t.elapsed().as_secs_f64();
        client.close().await;
        rate
    })
}

fn main() {
    // `cargo test --benches` runs bench targets without --bench: a short run that checks it works.
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes = if bench {
        Sizes { warmup: 500, sequential: 5_000, pipelined: 50_000, window: 500 }
    } else {
        Sizes { warmup: 10, sequential: 50, pipelined: 500, window: 50 }
    };
    let broker = Broker::start(Options::default());
    let url = broker.url();
    let me: EndpointId = "self::bench-mqtt-controller".parse().expect("eid");
    start_echo(url.clone());
    let agent = start_agent(url.clone(), &me);
    let agent_url = format!("{url}/usp/agent/gateway");

    let floor = echo_floor(&url, &sizes);
    let gets = sequential_gets(&agent_url, &me, &agent, &sizes);
    let (f50, f99) = (percentile(&floor, 0.5), percentile(&floor, 0.99));
    let (g50, g99) = (percentile(&gets, 0.5), percentile(&gets, 0.99));
    println!("MQTT 5 through mosquitto on loopback ({} round trips each)", sizes.sequential);
    println!(
        "  floor: rumqttc publish/subscribe echo of 100 bytes: p50 {:.1} us, p99 {:.1} us",
        micros(f50),
        micros(f99)
    );
    println!("  sequential Get to usp-sim-home over MQTT: p50 {:.1} us, p99 {:.1} us", micros(g50), micros(g99));
    println!(
        "  ratio to the floor: p50 {:.2}, p99 {:.2} (target <= 1.3)",
        micros(g50) / micros(f50),
        micros(g99) / micros(f99)
    );
    let floor_rate = echo_pipelined(&url, &sizes);
    println!(
        "  floor, pipelined: {floor_rate:.0} echoes per second ({} messages, window {})",
        sizes.pipelined, sizes.window
    );
    let rate = pipelined_gets(&agent_url, &me, &agent, &sizes);
    println!(
        "  pipelined Gets on one MQTT session ({} requests, window {}): {rate:.0} per second",
        sizes.pipelined, sizes.window
    );
    let rate = pipelined_gets(&format!("{agent_url}?qos=0"), &me, &agent, &sizes);
    println!("  the same with our requests at QoS 0 (no PUBACK): {rate:.0} per second");
    if !bench {
        println!("(a short check run; `cargo bench -p usp-home-tests --bench mtp_mqtt` measures)");
    }
}
