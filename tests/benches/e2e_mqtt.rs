//! A GetResp of over 1 MiB through a real mosquitto on loopback, without a session context
//! and in one segmented at MaxUSPRecordSize 1024 and 64 KiB (both directions segment at the
//! same size: the agent's policy for each controller says so).
//!
//! `cargo bench -p usp-home-tests --bench e2e_mqtt` prints, per case, the GetResp size, the
//! Records it took, ms per GetResp (p50, and the mean) and MB/s. Nothing is asserted.
//! `cargo test --bench e2e_mqtt` runs the same with one Get per case, as a check that it works.
//! The broker, the agent and the measuring client run on their own threads.

use std::time::{Duration, Instant};

use sim_home::home::{Home, HomeConfig};
use sim_home::mqtt::{controller_topic, MqttServe};
use sim_home::scenario::crowded_mesh;
use sim_home::spec::{ControllerSpec, E2eSpec, SessionMode};
use usp_client::mtp::e2e::{E2eMode, E2eSettings};
use usp_client::{Client, ClientConfig};
use usp_core::msg;
use usp_core::EndpointId;
use usp_home_tests::bench::{percentile, runtime};
use usp_home_tests::mosquitto::{Broker, Options};

const STATIONS: usize = 3200;
const TOPIC: &str = "usp/agent/crowded";
const PATH: &str = "Device.WiFi.DataElements.Network.";

/// (label, controller, its MaxUSPRecordSize; None = no session context).
const CASES: [(&str, &str, Option<u32>); 3] = [
    ("no session context", "self::bench-e2e-plain", None),
    ("session context, segments of 64 KiB", "self::bench-e2e-64k", Some(64 * 1024)),
    ("session context, segments of 1024 bytes", "self::bench-e2e-1k", Some(1024)),
];

/// The crowded home on its own thread, serving every case's controller over MQTT 5.
fn start_agent(url: String) -> EndpointId {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let mut scenario = crowded_mesh(STATIONS);
            for (_, eid, size) in CASES {
                scenario.agents[0].controllers.push(ControllerSpec {
                    endpoint_id: eid.into(),
                    role: "Full Access".into(),
                    e2e: Some(E2eSpec {
                        mode: SessionMode::Allow,
                        max_record_size: size.unwrap_or(0),
                        integrity: false,
                    }),
                });
            }
            let home = Home::start(HomeConfig::new(scenario)).await.expect("home");
            let gw = home.agent("gateway").expect("gateway");
            let controllers = CASES
                .iter()
                .map(|(_, eid, _)| {
                    let eid: EndpointId = eid.parse().expect("eid");
                    let topic = controller_topic(&eid);
                    (eid, topic)
                })
                .collect();
            let mut serving =
                gw.serve_mqtt(MqttServe { broker: url, topic: TOPIC.into(), controllers, login: None, tls: None });
            assert!(serving.wait_up(Duration::from_secs(20)).await, "the agent is at the broker");
            tx.send(gw.endpoint_id.clone()).expect("send");
            std::future::pending::<()>().await;
            drop((serving, home));
        })
    });
    rx.recv().expect("agent up")
}

fn measure(url: &str, agent: &EndpointId, eid: &str, size: Option<u32>, rounds: usize) -> (usize, Vec<Duration>) {
    runtime().block_on(async {
        let mut config = ClientConfig::new(format!("{url}/{TOPIC}"), eid.parse().expect("eid"));
        config.agent_id = Some(agent.clone());
        config.request_timeout = Duration::from_secs(300);
        if let Some(size) = size {
            config.e2e = E2eSettings { max_record_size: size as usize, ..E2eSettings::new(E2eMode::Require) };
        }
        let client = Client::connect(config).await.expect("connects");
        // One to warm up, and to know the size.
        let first = client.get(&[PATH], 0).await.expect("get");
        let body = msg::Body::Response(msg::Response::GetResp(first));
        let bytes = usp_core::wire::encoded_msg_len(&msg::Msg::new("x", body));
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            client.get(&[PATH], 0).await.expect("get");
            times.push(t.elapsed());
        }
        client.close().await;
        (bytes, times)
    })
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 10 } else { 1 };
    let broker = Broker::start(Options::default());
    let url = broker.url();
    let agent = start_agent(url.clone());
    println!("A GetResp of {STATIONS} Wi-Fi stations through mosquitto on loopback, MQTT 5, {rounds} Gets per case");
    for (label, eid, size) in CASES {
        let (bytes, mut times) = measure(&url, &agent, eid, size, rounds);
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        println!(
            "  {label}: GetResp of {:.2} MiB: p50 {:.1} ms, mean {:.1} ms per GetResp, {:.1} MB/s",
            bytes as f64 / (1024.0 * 1024.0),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            mean.as_secs_f64() * 1e3,
            bytes as f64 / mean.as_secs_f64() / 1e6,
        );
    }
}
