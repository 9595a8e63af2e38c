//! The client's own session-context layer (`usp_client::mtp::e2e::E2eTransport`, switched on
//! by `ClientConfig::e2e`) against the reference agent's experimental one: a plain
//! [`Client`] over MQTT 5 through mosquitto, as the app uses it. A watcher on the broker
//! keeps every Record that crosses it, to see what the layer made of the requests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use usp_client::mtp::e2e::{E2eMode, E2eSettings};
use usp_client::Client;
use usp_core::e2e::{SAR_BEGIN, SAR_COMPLETE, SAR_INPROCESS};
use usp_core::record::{Record, RecordType, SessionContext};
use usp_core::wire::{self, Limits};
use usp_home_tests::mosquitto::Broker;
use usp_home_tests::obuspa::{Agent, Variant};
use usp_home_tests::{bounded, test_config, BOUND};

use super::peer::{obuspa_bins, Setup, Via};

/// Every MQTT message on the agent's and our topic, in order: (topic is the agent's, bytes).
type Seen = Arc<Mutex<Vec<(bool, Bytes)>>>;

/// A bare MQTT client on the broker that keeps every message on both topics.
async fn watcher(
    broker: &Broker,
    agent_topic: &str,
    our_topic: &str,
) -> (rumqttc::v5::AsyncClient, tokio::task::JoinHandle<()>, Seen) {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{Event, Incoming};
    let mut o = rumqttc::v5::MqttOptions::new("e2e-ref-watcher", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(Some(8 * 1024 * 1024));
    let (client, mut events) = rumqttc::v5::AsyncClient::new(o, 64);
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    let (subscribed_tx, subscribed) = tokio::sync::mpsc::channel(2);
    let agent_topic_owned = agent_topic.to_owned();
    let pump = tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            match ev {
                Event::Incoming(Incoming::Publish(p)) => {
                    let to_agent = p.topic.as_ref() == agent_topic_owned.as_bytes();
                    keep.lock().expect("lock").push((to_agent, p.payload.clone()));
                }
                Event::Incoming(Incoming::SubAck(_)) => {
                    let _ = subscribed_tx.try_send(());
                }
                _ => {}
            }
        }
    });
    let mut subscribed = subscribed;
    for t in [agent_topic, our_topic] {
        client.subscribe(t, QoS::AtMostOnce).await.expect("subscribe");
        bounded(subscribed.recv()).await.expect("subscribed");
    }
    (client, pump, seen)
}

/// The Records seen from index `from`: (sent to the agent, Record, size on the wire).
fn records(seen: &Seen, from: usize) -> Vec<(bool, Record, usize)> {
    seen.lock().expect("lock")[from..]
        .iter()
        .filter_map(|(to_agent, b)| {
            let limits = Limits { max_record_size: usize::MAX, ..Limits::default() };
            wire::decode_record(b.clone(), &limits).ok().map(|r| (*to_agent, r, b.len()))
        })
        .collect()
}

fn context_of(r: &Record) -> Option<&SessionContext> {
    match &r.record_type {
        RecordType::SessionContext(sc) => Some(sc),
        _ => None,
    }
}

fn seen_len(seen: &Seen) -> usize {
    seen.lock().expect("lock").len()
}

/// Waits until the agent's MQTTConnectRecord crossed the broker after index `from`.
async fn agent_connected_since(seen: &Seen, from: usize) {
    bounded(async {
        while !records(seen, from)
            .iter()
            .any(|(to, r, _)| !to && matches!(r.record_type, RecordType::MqttConnect { .. }))
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A Client (session context settings `e2e`) and the agent,
/// both on the broker; the client learnt the agent from its MQTTConnectRecord.
async fn client_and_agent(setup: &Setup, e2e: E2eSettings) -> (Client, Agent, Seen, impl Drop) {
    let Via::Mqtt(broker) = &setup.via else { panic!("MQTT") };
    let agent_topic = format!("usp/agent/e2e-{}", setup.name);
    let (watch, pump, seen) =
        watcher(broker, &agent_topic, &usp_client::mtp::mqtt::derived_reply_topic(&setup.me)).await;
    let mut config = test_config(&setup.url, &setup.me);
    config.agent_id = Some(setup.agent.parse().expect("eid"));
    config.connect_timeout = BOUND;
    config.request_timeout = Duration::from_secs(8);
    config.e2e = e2e;
    let c = Client::start(config);
    bounded(async {
        while c.carrier().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let agent = Agent::start_reset(
        &obuspa_bins(),
        Variant::E2e,
        &std::env::temp_dir(),
        &setup.name,
        &setup.agent,
        &setup.lines,
    );
    agent_connected_since(&seen, 0).await;
    /// The watcher's client (its connection lives as long as this) and its pump.
    struct Watching(#[allow(dead_code)] rumqttc::v5::AsyncClient, tokio::task::JoinHandle<()>);
    impl Drop for Watching {
        fn drop(&mut self) {
            self.1.abort();
        }
    }
    (c, agent, seen, Watching(watch, pump))
}

/// Get and Set through the client's layer in a context the agent requires; a GetResp the
/// agent cuts at its MaxUSPRecordSize (1024) and our Get cut the same way, both
/// reassembled; then the agent restarts twice (it forgets its context and opens its own
/// with id 2 each time): the request that meets the restart gets the agent's 7105, and the
/// client's layer sends it again in a new context of its own, where it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_in_a_required_context_with_segments_and_restarts() {
    let setup = Setup::start("client", "Require", 1024);
    let (c, mut agent, seen, _watch) =
        client_and_agent(&setup, E2eSettings { max_record_size: 1024, ..E2eSettings::new(E2eMode::Require) }).await;
    let eid = setup.agent.as_str();

    let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("get");
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(eid));
    let carrier = c.carrier().expect("carrier");
    assert!(carrier.session_context && !carrier.end_to_end, "{carrier:?}");
    assert_eq!(carrier.to_string(), "MQTT, in a session context");
    let alias = "Device.LocalAgent.Controller.1.PeriodicNotifInterval";
    bounded(c.set(&[(alias, "4321")])).await.expect("set");
    let got = bounded(c.get(&[alias, "Device.LocalAgent.Controller.1.E2ESession.Status"], 0)).await.expect("get");
    assert_eq!(got.value(alias), Some("4321"));
    assert_eq!(got.value("Device.LocalAgent.Controller.1.E2ESession.Status"), Some("Up"));
    // Nothing went plain: every Record in either direction after the agent's connect
    // Record was a session-context Record of one context.
    let all = records(&seen, 0);
    let contexts: Vec<&SessionContext> = all.iter().filter_map(|(_, r, _)| context_of(r)).collect();
    assert!(contexts.len() >= 6, "{} session-context Records", contexts.len());
    assert!(all.iter().all(|(_, r, _)| !matches!(r.record_type, RecordType::NoSessionContext { .. })));
    let sid = contexts[0].session_id;
    assert!(contexts.iter().all(|sc| sc.session_id == sid));

    // A large GetResp, cut by the agent.
    let from = seen_len(&seen);
    let big = tokio::time::timeout(Duration::from_secs(60), c.get(&["Device."; 20], 0))
        .await
        .expect("in time")
        .expect("the big get");
    let params = big.params().into_vec().len();
    assert!(params > 2000, "{params} parameters");
    // (The watcher may see the end of the last answer after the client did: from the first
    // segment on.)
    let theirs: Vec<(SessionContext, usize)> = records(&seen, from)
        .into_iter()
        .filter(|(to, _, _)| !to)
        .filter_map(|(_, r, n)| context_of(&r).cloned().map(|sc| (sc, n)))
        .skip_while(|(sc, _)| sc.payload_sar_state != SAR_BEGIN)
        .collect();
    let states: Vec<i32> = theirs.iter().map(|(sc, _)| sc.payload_sar_state).collect();
    assert!(states.len() > 50, "{} Records", states.len());
    assert_eq!(states[0], SAR_BEGIN);
    assert_eq!(*states.last().expect("one"), SAR_COMPLETE);
    assert!(states[1..states.len() - 1].iter().all(|s| *s == SAR_INPROCESS));
    let largest = theirs.iter().map(|(_, n)| *n).max().unwrap_or(0);
    assert!(largest <= 1024, "the agent's largest Record: {largest}");
    let ours_acks = records(&seen, from).iter().filter(|(to, _, _)| *to).count();
    println!(
        "GetResp of Device. x 20 through the client: {params} parameters in {} Records of at most {largest} bytes \
         ({} bytes); the client sent {ours_acks} Records meanwhile",
        states.len(),
        theirs.iter().map(|(_, n)| n).sum::<usize>()
    );

    // Our Get of 101 paths, cut at 1024 by the client's layer, reassembled by the agent.
    let from = seen_len(&seen);
    let paths: Vec<String> = (0..100).map(|i| format!("Device.LocalAgent.Controller.1.Alias{i:03}x.")).collect();
    let mut paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    paths.push("Device.LocalAgent.EndpointID");
    let r = bounded(c.get(&paths, 0)).await.expect("the long get");
    assert_eq!(r.req_path_results.len(), 101);
    assert_eq!(r.value("Device.LocalAgent.EndpointID"), Some(eid));
    let ours: Vec<(SessionContext, usize)> = records(&seen, from)
        .into_iter()
        .filter(|(to, _, _)| *to)
        .filter_map(|(_, r, n)| context_of(&r).cloned().map(|sc| (sc, n)))
        .collect();
    let data: Vec<_> = ours.iter().filter(|(sc, _)| sc.payload.iter().any(|p| !p.is_empty())).collect();
    assert!(data.len() >= 3, "our Get went in {} Records", data.len());
    assert_eq!(data[0].0.payload_sar_state, SAR_BEGIN);
    assert!(ours.iter().all(|(_, n)| *n <= 1024));

    // The agent restarts: it forgets the context.
    for round in 0..2 {
        agent.stop();
        let from = seen_len(&seen);
        assert!(agent.run(), "the agent starts again");
        agent_connected_since(&seen, from).await;
        // The Get meets the agent's 7105 (it does not know the context); the client's layer
        // sends it again in a new context of its own, and it is answered.
        let first = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await;
        let disconnects = bounded(async {
            loop {
                let codes: Vec<u32> = records(&seen, from)
                    .iter()
                    .filter_map(|(to, r, _)| match &r.record_type {
                        RecordType::Disconnect { reason_code, .. } if !to => Some(*reason_code),
                        _ => None,
                    })
                    .collect();
                if !codes.is_empty() {
                    return codes;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert_eq!(disconnects.first(), Some(&7105), "round {round}: the agent ends the context it does not know");
        let got = first.expect("the request that met the restart, sent again");
        assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(eid));
        let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("the next one");
        assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(eid));
        assert!(c.carrier().expect("carrier").session_context);
        let now: Vec<u64> =
            records(&seen, from).iter().filter_map(|(_, r, _)| context_of(r).map(|sc| sc.session_id)).collect();
        println!("round {round}: session ids after the restart {now:?}");
    }
    c.close().await;
}

/// An agent that forbids a session context answers ours with 7105 (not 7106): under Prefer
/// the client takes that as "not allowed" and sends the Get again in a plain Record, which
/// is answered; under Require the request fails, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_prefer_and_require_against_forbid() {
    let setup = Setup::start("client-forbid", "Forbid", 0);
    let (c, _agent, seen, _watch) = client_and_agent(&setup, E2eSettings::new(E2eMode::Prefer)).await;
    let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("get, plain after the refusal");
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(setup.agent.as_str()));
    assert!(!c.carrier().expect("carrier").session_context);
    let all = records(&seen, 0);
    let codes: Vec<u32> = all
        .iter()
        .filter_map(|(to, r, _)| match &r.record_type {
            RecordType::Disconnect { reason_code, .. } if !to => Some(*reason_code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![7105], "the agent refused with 7105");
    bounded(c.get(&["Device.DeviceInfo.SoftwareVersion"], 0)).await.expect("a second plain get");
    c.close().await;

    let mut config = test_config(&setup.url, &setup.me);
    config.agent_id = Some(setup.agent.parse().expect("eid"));
    config.e2e = E2eSettings::new(E2eMode::Require);
    let c = bounded(Client::connect(config)).await.expect("connects");
    let err = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect_err("refused").to_string();
    assert!(err.contains("does not allow an end-to-end session context"), "{err}");
    c.close().await;
}

/// The client signs its Records (as the app does, verifying the agent's once it signs): the
/// agent ignores the signatures and answers; it signs nothing, so nothing is verified and the
/// carrier does not claim protection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_records_are_taken_and_the_carrier_is_not_protected() {
    let setup = Setup::start("client-signed", "Require", 0);
    let id = usp_client::tls::Identity::generate(&setup.me).expect("identity");
    let integrity = usp_client::mtp::e2e::E2eIntegrity::new(
        id.private_key_der().expose_secret(),
        id.cert_der(),
        usp_core::e2e::PeerTrust::WhenSigned,
    )
    .expect("integrity");
    let e2e = E2eSettings { integrity: Some(integrity.clone()), ..E2eSettings::new(E2eMode::Require) };
    let (c, _agent, seen, _watch) = client_and_agent(&setup, e2e).await;
    let got = bounded(c.get(&["Device.LocalAgent.EndpointID"], 0)).await.expect("get");
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(setup.agent.as_str()));
    bounded(c.set(&[("Device.LocalAgent.Controller.1.PeriodicNotifInterval", "99")])).await.expect("set");
    let carrier = c.carrier().expect("carrier");
    assert!(carrier.session_context && !carrier.end_to_end, "{carrier:?}");
    assert_eq!(integrity.learnt_peer_certificate(), None);
    let all = records(&seen, 0);
    let ours: Vec<&Record> =
        all.iter().filter(|(to, r, _)| *to && context_of(r).is_some()).map(|(_, r, _)| r).collect();
    assert!(!ours.is_empty() && ours.iter().all(|r| !r.mac_signature.is_empty() && !r.sender_cert.is_empty()));
    assert!(all.iter().filter(|(to, _, _)| !to).all(|(_, r, _)| r.mac_signature.is_empty()), "the agent signs nothing");
    c.close().await;
}
