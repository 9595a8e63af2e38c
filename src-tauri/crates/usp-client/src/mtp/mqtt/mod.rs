//! The MQTT MTP (USP over an MQTT broker): MQTT 5 and 3.1.1, over TCP, TLS, WebSocket and
//! WebSocket over TLS, with rumqttc.
//!
//! The address names the broker and, usually, the agent's topic:
//! `mqtt://[user@]host[:port][/<agent topic>][?agent-id=<EID>&reply-to=<topic>&version=5|3.1.1&client-id=<id>&qos=0|1]`
//! (also `mqtts://`, `mqtt+ws://`, `mqtt+wss://`; see [`Address`]). The password comes from
//! [`ClientConfig::login`], never from the address. The agent's Endpoint ID must be known
//! (`agent-id=` or [`ClientConfig::agent_id`]) unless the agent connects to the broker after
//! us: its `MQTTConnectRecord` is the only Record an agent sends unasked.
//!
//! What the USP MQTT binding asks of us, and how it is done here:
//! - CONNECT (MQTT 5) carries the User Property `usp-endpoint-id` = our Endpoint ID (first and
//!   only) and Request Response Information = 1 (R-MQTT.12/13). With no client id configured,
//!   MQTT 5 sends an empty one and keeps the broker's assigned id for every reconnect (in the
//!   [`MqttConnector`], which lives as long as the client); 3.1.1 uses our Endpoint ID (R-MQTT.8/9).
//! - Our reply-to topic: the CONNACK's Response Information, else the address's `reply-to`,
//!   else `usp/controller/<our Endpoint ID>` (mosquitto never sends Response Information). We
//!   subscribe to it and to every CONNACK `subscribe-topic` User Property (R-MQTT.15), and
//!   refuse to go on when the broker refuses a subscription (R-MQTT.17).
//! - Every PUBLISH carries our reply-to topic: the Response Topic with Content Type `usp.msg`
//!   (MQTT 5), or the `/reply-to=<topic, "/" as %2F>` topic suffix (3.1.1) (R-MQTT.22-27). QoS 1
//!   by default.
//! - The agent's topic: the address's path, else the `subscribed_topic` of its
//!   `MQTTConnectRecord`, else the reply-to topic of what it publishes. Records are held
//!   (a few) until it is known.
//! - A shared reply topic may carry Records of other agents: those are dropped here quietly.
//! - The broker's TLS certificate says nothing about the agent, so
//!   [`Handshake::peer_certificates`](crate::mtp::Handshake) stays empty.
//! - rumqttc keeps the broker connection alive with MQTT pings (keep alive = the client's ping
//!   interval, at least 5 s) and ends the session when they go unanswered; the driver's
//!   keepalive is answered locally while the session stands.

pub mod address;
pub mod session;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::debug;

use usp_core::record::RecordType;

pub use address::{derived_reply_topic, Address, Version};
pub use session::{ConnAckInfo, Event, Events, Publisher, Session, SessionOptions};

use crate::error::ConnectError;
use crate::mtp::{BoxFuture, Carrier, Close, Connector, Handshake, Inbound, Mtp, Opened, Outbound, Transport};
use crate::ClientConfig;

/// Records held while the agent's topic is not known yet.
const HELD_MAX: usize = 32;
/// Records read from the broker and not yet taken by the driver.
const INBOUND_QUEUE: usize = 64;

/// What a client learnt from the broker and the agent, kept across reconnects.
#[derive(Debug, Default, Clone)]
struct Memory {
    /// The client id the broker assigned (MQTT 5).
    client_id: Option<String>,
    /// The agent's topic, when learnt rather than configured.
    agent_topic: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    memory: Mutex<Memory>,
    /// The transport waiting for the agent's topic.
    waiting: Mutex<Option<Waker>>,
}

impl Shared {
    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn learn_topic(&self, topic: String) {
        self.memory().agent_topic = Some(topic);
        if let Some(w) = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).take() {
            w.wake();
        }
    }
}

/// Opens MQTT sessions for one client, remembering the broker-assigned client id and the
/// agent's learnt topic between them. [`crate::Client::start`] installs one for `mqtt*://`
/// addresses.
#[derive(Debug, Default)]
pub struct MqttConnector {
    shared: Arc<Shared>,
}

impl MqttConnector {
    /// A connector with nothing learnt yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client id the broker assigned, once it did.
    pub fn assigned_client_id(&self) -> Option<String> {
        self.shared.memory().client_id.clone()
    }
}

impl Connector for MqttConnector {
    fn connect<'a>(&'a self, config: &'a ClientConfig) -> BoxFuture<'a, Result<Opened, ConnectError>> {
        Box::pin(open(self, config))
    }
}

/// Opens one MQTT session for `config` and subscribes to our reply-to topic.
///
/// # Errors
/// A bad address, the broker unreachable or refusing (a refused login is
/// [`ConnectError::BrokerLogin`]), a refused subscription.
pub async fn open(connector: &MqttConnector, config: &ClientConfig) -> Result<Opened, ConnectError> {
    let address = Address::parse(&config.url)?;
    let remembered = connector.shared.memory().clone();
    let client_id = match address.version {
        Version::V5 => address.client_id.clone().or(remembered.client_id),
        Version::V311 => None,
    };
    let opts = SessionOptions {
        address: address.clone(),
        own_id: config.own_id.clone(),
        client_id,
        login: config.login.clone(),
        tls: config.tls.clone(),
        max_record_size: config.limits.max_record_size,
        keep_alive: config.ping_interval.max(Duration::from_secs(5)),
        connect_timeout: config.connect_timeout,
    };
    let Session { publisher, mut events, connack } = Session::connect(opts).await?;
    if let Some(id) = &connack.assigned_client_id {
        connector.shared.memory().client_id = Some(id.clone());
    }
    let reply_to = connack
        .response_information
        .clone()
        .or_else(|| address.reply_to.clone())
        .unwrap_or_else(|| derived_reply_topic(&config.own_id));
    let mut filters = vec![match address.version {
        // 3.1.1 agents publish to `<our topic>/reply-to=...`, one level below.
        Version::V311 => format!("{reply_to}/#"),
        Version::V5 => reply_to.clone(),
    }];
    filters.extend(connack.subscribe_topics.iter().filter(|t| **t != reply_to).cloned());
    let mut early = Vec::new();
    let subscribed = async {
        for f in &filters {
            publisher.subscribe(f).await?;
        }
        let mut acks = 0;
        while acks < filters.len() {
            match events.next().await? {
                Event::SubAck { granted: true } => acks += 1,
                Event::SubAck { granted: false } => {
                    return Err(format!("the broker refused our subscription to {:?}", filters.get(acks)))
                }
                e @ Event::Publish { .. } if early.len() < INBOUND_QUEUE => early.push(e),
                _ => {}
            }
        }
        Ok(())
    };
    match tokio::time::timeout(config.connect_timeout, subscribed).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ConnectError::Broker(e)),
        Err(_) => return Err(ConnectError::Timeout(config.connect_timeout)),
    }
    let (tx, inbound) = mpsc::channel(INBOUND_QUEUE);
    let filter = Filter {
        agent: config.agent_id.as_ref().or(address.agent_id.as_ref()).map(|a| a.as_str().to_owned()),
        learn_topic: address.agent_topic.is_none(),
        limits: config.limits,
        shared: connector.shared.clone(),
        dropped: 0,
    };
    let task = tokio::spawn(pump(events, early, tx, filter));
    debug!(reply_to = %reply_to, version = %address.version, "MQTT session open");
    let transport = MqttTransport {
        publisher,
        reply_to,
        agent_topic: address.agent_topic.clone(),
        shared: connector.shared.clone(),
        inbound,
        sending: None,
        held: VecDeque::new(),
        alive: false,
        carrier: Carrier::new(Mtp::Mqtt, address.tls),
        broker_max_packet: connack.max_packet_size.map(|n| n as usize),
        task,
    };
    let handshake = Handshake { agent_id_hint: address.agent_id.clone(), peer_certificates: Vec::new() };
    Ok(Opened { transport: Box::new(transport), handshake })
}

/// Decides which Records from the broker reach the driver, and learns the agent's topic.
struct Filter {
    /// The agent's Endpoint ID: configured, or the sender of the first Record.
    agent: Option<String>,
    /// Whether the address left the agent's topic to be learnt.
    learn_topic: bool,
    limits: usp_core::wire::Limits,
    shared: Arc<Shared>,
    dropped: u64,
}

impl Filter {
    fn accept(&mut self, payload: &Bytes, reply_to: Option<String>) -> bool {
        let Ok(record) = usp_core::wire::decode_record(payload.clone(), &self.limits) else {
            // The Link says what is wrong with it.
            return true;
        };
        let from: &str = &record.from_id;
        match &self.agent {
            Some(a) if a != from => {
                // Another agent on a shared topic: not ours to see, and not worth a warning.
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    debug!(dropped = self.dropped, "records from other endpoints on our MQTT topic left out");
                }
                return false;
            }
            Some(_) => {}
            None => self.agent = Some(from.to_owned()),
        }
        if self.learn_topic {
            match &record.record_type {
                RecordType::MqttConnect { subscribed_topic, .. } if address::is_topic_name(subscribed_topic) => {
                    self.shared.learn_topic(subscribed_topic.to_string())
                }
                _ => {
                    if let Some(t) = reply_to.filter(|t| address::is_topic_name(t)) {
                        if self.shared.memory().agent_topic.is_none() {
                            self.shared.learn_topic(t);
                        }
                    }
                }
            }
        }
        true
    }
}

async fn pump(mut events: Events, early: Vec<Event>, tx: mpsc::Sender<Inbound>, mut filter: Filter) {
    for e in early {
        if let Event::Publish { payload, reply_to, .. } = e {
            if filter.accept(&payload, reply_to) && tx.send(Inbound::Record(payload)).await.is_err() {
                return;
            }
        }
    }
    loop {
        match events.next().await {
            Ok(Event::Publish { payload, reply_to, .. }) => {
                if filter.accept(&payload, reply_to) && tx.send(Inbound::Record(payload)).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(words) => {
                let _ = tx.send(Inbound::Lost(words)).await;
                return;
            }
        }
    }
}

/// One MQTT session as a [`Transport`].
pub struct MqttTransport {
    publisher: Publisher,
    reply_to: String,
    /// The agent's topic from the address.
    agent_topic: Option<String>,
    shared: Arc<Shared>,
    inbound: mpsc::Receiver<Inbound>,
    sending: Option<BoxFuture<'static, Result<(), String>>>,
    held: VecDeque<Bytes>,
    alive: bool,
    carrier: Carrier,
    /// The broker's Maximum Packet Size (MQTT 5 CONNACK).
    broker_max_packet: Option<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl MqttTransport {
    fn topic(&self) -> Option<String> {
        self.agent_topic.clone().or_else(|| self.shared.memory().agent_topic.clone())
    }

    fn publish(&self, topic: String, record: Bytes) -> BoxFuture<'static, Result<(), String>> {
        let p = self.publisher.clone();
        let reply_to = self.reply_to.clone();
        Box::pin(async move { p.publish(&topic, &reply_to, record).await })
    }

    /// Pushes what is in flight or held, as far as it goes without waiting.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        loop {
            if let Some(f) = &mut self.sending {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => {
                        self.sending = None;
                        r?;
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            if self.held.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let Some(topic) = self.topic() else {
                *self.shared.waiting.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
                // Re-check: the topic may have arrived between the two looks.
                if self.topic().is_none() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            };
            if let Some(record) = self.held.pop_front() {
                self.sending = Some(self.publish(topic, record));
            }
        }
    }
}

impl Transport for MqttTransport {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        match self.drive(cx) {
            Poll::Ready(Ok(())) if self.held.len() < HELD_MAX => Poll::Ready(Ok(())),
            Poll::Ready(Ok(())) => Poll::Pending,
            other => other,
        }
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        match item {
            // The session stands as long as rumqttc's own pings are answered.
            Outbound::KeepAlive => self.alive = true,
            Outbound::Record(record) => self.held.push_back(record),
        }
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.drive(cx)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        if std::mem::take(&mut self.alive) {
            return Poll::Ready(Inbound::Alive);
        }
        self.inbound.poll_recv(cx).map(|i| i.unwrap_or_else(|| Inbound::Lost("the MQTT session ended".into())))
    }

    fn close(&mut self, _why: Close) -> BoxFuture<'_, ()> {
        self.publisher.disconnect();
        Box::pin(async move {
            // Let the event loop send the DISCONNECT; the driver bounds the wait too.
            let _ = tokio::time::timeout(Duration::from_millis(200), &mut self.task).await;
            self.task.abort();
        })
    }

    fn carrier(&self) -> Carrier {
        self.carrier
    }

    fn max_record_size(&self) -> Option<usize> {
        let max = self.broker_max_packet?;
        // The PUBLISH around the Record: fixed header (5), topic (2 + its length, with a
        // 3.1.1 reply-to suffix), packet id (2), properties (length 4, response topic 3 +
        // its length, content type 3 + its length), and room to spare.
        let topic = self.topic().map_or(256, |t| t.len());
        let overhead = 64 + topic + 2 * self.reply_to.len() + session::CONTENT_TYPE.len();
        Some(max.saturating_sub(overhead).max(1))
    }
}

impl Drop for MqttTransport {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_agents_are_left_out_and_the_topic_is_learnt() {
        let shared = Arc::new(Shared::default());
        let mut f = Filter {
            agent: None,
            learn_topic: true,
            limits: usp_core::wire::Limits::default(),
            shared: shared.clone(),
            dropped: 0,
        };
        let record = |from: &str, rt: RecordType| {
            let r = usp_core::record::Record {
                version: "1.3".into(),
                to_id: "self::me".into(),
                from_id: from.into(),
                payload_security: 0,
                mac_signature: Bytes::new(),
                sender_cert: Bytes::new(),
                record_type: rt,
            };
            let mut out = Vec::new();
            usp_core::wire::encode_record(&r, &mut out);
            Bytes::from(out)
        };
        let connect = RecordType::MqttConnect { version: 1, subscribed_topic: "usp/agent/a".into() };
        assert!(f.accept(&record("proto::a", connect), None));
        assert_eq!(shared.memory().agent_topic.as_deref(), Some("usp/agent/a"));
        let other = RecordType::NoSessionContext { payload: Bytes::from_static(b"x") };
        assert!(!f.accept(&record("proto::b", other.clone()), Some("usp/agent/b".into())));
        assert_eq!(shared.memory().agent_topic.as_deref(), Some("usp/agent/a"));
        assert!(f.accept(&record("proto::a", other), None));
        assert!(f.accept(&Bytes::from_static(b"\xff\xff"), None), "undecodable records are the Link's to judge");

        // A topic we could not publish to is not learnt.
        let shared = Arc::new(Shared::default());
        let mut f =
            Filter { agent: None, learn_topic: true, limits: Default::default(), shared: shared.clone(), dropped: 0 };
        let wild = RecordType::MqttConnect { version: 1, subscribed_topic: "usp/agent/#".into() };
        assert!(f.accept(&record("proto::a", wild), Some("usp/+/x".into())));
        assert_eq!(shared.memory().agent_topic, None);
    }
}
