//! An agent served over MQTT: it connects to a broker as an MQTT client (MQTT 5 or 3.1.1,
//! as the broker address says), subscribes to its own topic, sends an `MQTTConnectRecord`
//! to each configured controller topic, and answers every Record on the reply-to topic the
//! Record came with (the Response Topic, or the 3.1.1 `/reply-to=` suffix).
//!
//! Each controller (by the `from_id` of its Records) gets its own [`RecordPipe`], created at
//! connect for the configured controllers and on the first Record for the others, so the
//! agent serves it exactly as it serves a WebSocket controller. When the broker goes away
//! the pipes end and the agent connects again with a growing wait (0.2 s to 5 s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};
use usp_client::mtp::mqtt::address::{is_topic_name, Address};
use usp_client::mtp::mqtt::{Event, Publisher, Session, SessionOptions};
use usp_client::Login;
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::MqttConnectRecord;

use crate::server::RecordPipe;
use crate::AgentHandle;

/// The most controllers one agent serves over MQTT at a time (each has a pipe).
const MAX_PEERS: usize = 64;

/// How one agent reaches its broker.
#[derive(Clone, Debug)]
pub struct MqttServe {
    /// The broker: `mqtt://host:port`, `mqtts://…`, `mqtt+ws://…` with `?version=3.1.1` for
    /// MQTT 3.1.1. A path in it is ignored (the agent's topic is [`MqttServe::topic`]).
    pub broker: String,
    /// The topic the agent subscribes to (its reply-to topic).
    pub topic: String,
    /// Controllers told at connect where the agent is (an `MQTTConnectRecord` to their topic).
    pub controllers: Vec<(EndpointId, String)>,
    /// Broker login.
    pub login: Option<Login>,
    /// TLS settings for `mqtts://` and `mqtt+wss://`.
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl MqttServe {
    /// The agent's address for a controller: the broker address with the agent's topic as
    /// its path (and the same arguments).
    pub fn agent_address(&self) -> String {
        let (base, query) = match self.broker.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.broker.as_str(), None),
        };
        let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
        let base = match base[after_scheme..].find('/') {
            Some(i) => &base[..after_scheme + i],
            None => base,
        };
        match query {
            Some(q) => format!("{base}/{}?{q}", self.topic),
            None => format!("{base}/{}", self.topic),
        }
    }
}

/// The topic a controller with no configured topic is told to use by default:
/// `usp/controller/<EID>` (what usp-home derives when the broker names none).
pub fn controller_topic(eid: &EndpointId) -> String {
    format!("usp/controller/{eid}")
}

impl AgentHandle {
    /// Serves this agent over MQTT through the broker `serve` names, reconnecting when the
    /// broker goes away, until [`MqttServing`] is dropped or the agent stops.
    pub fn serve_mqtt(&self, serve: MqttServe) -> MqttServing {
        let agent = self.clone();
        let (up_tx, up) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut wait = Duration::from_millis(200);
            loop {
                match session(&agent, &serve, &up_tx).await {
                    Ok(why) => {
                        info!(agent = %agent.key, why = %why, "MQTT session ended");
                        wait = Duration::from_millis(200);
                    }
                    Err(e) => warn!(agent = %agent.key, error = %e, "MQTT broker not reachable"),
                }
                if agent.cmd.is_closed() {
                    return;
                }
                up_tx.send_replace(false);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        });
        MqttServing { task, up }
    }
}

/// An agent serving over MQTT; dropping it stops that.
#[derive(Debug)]
pub struct MqttServing {
    task: tokio::task::JoinHandle<()>,
    up: watch::Receiver<bool>,
}

impl MqttServing {
    /// Waits until the agent is subscribed at its broker (true), at most `within`.
    pub async fn wait_up(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, self.up.wait_for(|up| *up)).await.map(|r| r.is_ok()).unwrap_or(false)
    }
}

impl Drop for MqttServing {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A controller's pipe: where its Records go in, and the topic its answers go to.
struct Peer {
    incoming: mpsc::Sender<Bytes>,
    reply_to: Arc<Mutex<String>>,
}

/// One broker session: Ok(why it ended) once it was up, Err before.
async fn session(agent: &AgentHandle, serve: &MqttServe, up: &watch::Sender<bool>) -> Result<String, String> {
    let address = Address::parse(&serve.broker).map_err(|e| e.to_string())?;
    let version = address.version;
    let opts = SessionOptions {
        address,
        own_id: agent.endpoint_id.clone(),
        client_id: Some(format!("sim-{}", agent.endpoint_id)),
        login: serve.login.clone(),
        tls: serve.tls.clone(),
        max_record_size: usp_core::wire::Limits::default().max_record_size,
        keep_alive: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
    };
    let Session { publisher, mut events, .. } = Session::connect(opts).await.map_err(|e| e.to_string())?;
    // `/#` takes the topic itself and the 3.1.1 senders' `<topic>/reply-to=...` alike.
    let filter = format!("{}/#", serve.topic);
    publisher.subscribe(&filter).await?;
    let mut peers: HashMap<String, Peer> = HashMap::new();
    let mut early = Vec::new();
    loop {
        match events.next().await? {
            Event::SubAck { granted: true } => break,
            Event::SubAck { granted: false } => return Err(format!("the broker refused the subscription to {filter}")),
            e @ Event::Publish { .. } if early.len() < 64 => early.push(e),
            _ => {}
        }
    }
    info!(agent = %agent.key, topic = %serve.topic, %version, "serving over MQTT");
    up.send_replace(true);
    for (eid, topic) in &serve.controllers {
        let connect = RecordType::MqttConnect(MqttConnectRecord {
            version: version.record_number(),
            subscribed_topic: serve.topic.clone(),
        });
        let peer = open_pipe(agent, &publisher, &serve.topic, eid.clone(), topic.clone(), Some(connect));
        peers.insert(eid.to_string(), peer);
    }
    let handle = |event: Event, peers: &mut HashMap<String, Peer>| {
        let Event::Publish { payload, reply_to, .. } = event else { return None };
        let from = match usp_core::wire::decode_record(payload.clone(), &usp_core::wire::Limits::default()) {
            Ok(r) => r.from_id.to_string(),
            Err(e) => {
                debug!(agent = %agent.key, error = %e, "left out an undecodable MQTT message");
                return None;
            }
        };
        if let Some(peer) = peers.get(&from) {
            if let Some(t) = reply_to.filter(|t| is_topic_name(t)) {
                let mut current = peer.reply_to.lock().unwrap_or_else(|p| p.into_inner());
                if *current != t {
                    *current = t;
                }
            }
            return Some((peer.incoming.clone(), payload));
        }
        let (Ok(eid), Some(reply_to)) = (from.parse::<EndpointId>(), reply_to.filter(|t| is_topic_name(t))) else {
            debug!(agent = %agent.key, "left out a Record with no sender or no usable reply-to topic");
            return None;
        };
        if peers.len() >= MAX_PEERS {
            debug!(agent = %agent.key, "left out a Record from one controller too many");
            return None;
        }
        let peer = open_pipe(agent, &publisher, &serve.topic, eid, reply_to, None);
        let tx = peer.incoming.clone();
        peers.insert(from, peer);
        Some((tx, payload))
    };
    for e in early {
        if let Some((tx, payload)) = handle(e, &mut peers) {
            let _ = tx.send(payload).await;
        }
    }
    loop {
        let event = match events.next().await {
            Ok(e) => e,
            Err(why) => return Ok(why),
        };
        if let Some((tx, payload)) = handle(event, &mut peers) {
            // A controller whose pipe ended (it sent a Disconnect...) gets a new one next time.
            if tx.send(payload).await.is_err() {
                peers.retain(|_, p| !p.incoming.is_closed());
            }
        }
    }
}

/// Starts serving one controller through a pipe whose answers are published to its topic.
fn open_pipe(
    agent: &AgentHandle,
    publisher: &Publisher,
    own_topic: &str,
    controller: EndpointId,
    reply_to: String,
    connect_record: Option<RecordType>,
) -> Peer {
    let (incoming_tx, incoming) = mpsc::channel(64);
    let (outgoing, mut out_rx) = mpsc::channel::<Bytes>(64);
    let reply_to = Arc::new(Mutex::new(reply_to));
    let topic = reply_to.clone();
    let publisher = publisher.clone();
    let own_topic = own_topic.to_owned();
    let key = agent.key.clone();
    tokio::spawn(async move {
        while let Some(record) = out_rx.recv().await {
            let to = topic.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Err(e) = publisher.publish(&to, &own_topic, record).await {
                debug!(agent = %key, error = %e, "could not publish to a controller");
                return;
            }
        }
    });
    agent.attach(RecordPipe { controller, incoming, outgoing, connect_record });
    Peer { incoming: incoming_tx, reply_to }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_addresses_put_the_topic_in_the_path() {
        let s = |broker: &str| MqttServe {
            broker: broker.into(),
            topic: "usp/agent/gw".into(),
            controllers: vec![],
            login: None,
            tls: None,
        };
        assert_eq!(s("mqtt://127.0.0.1:1883").agent_address(), "mqtt://127.0.0.1:1883/usp/agent/gw");
        assert_eq!(s("mqtt://h:1/x?version=3.1.1").agent_address(), "mqtt://h:1/usp/agent/gw?version=3.1.1");
    }
}
