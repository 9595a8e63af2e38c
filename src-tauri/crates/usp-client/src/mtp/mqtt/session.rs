//! One MQTT session with a broker, the same for MQTT 5 and 3.1.1 (rumqttc's two clients):
//! connect with the USP properties, subscribe, publish a Record with our reply-to topic,
//! and read what the broker sends. Both ends use it: the controller's transport and the
//! agents of usp-sim-home.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5::{ConnectProperties, Packet as Packet5, PublishProperties};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::{Packet as Packet4, QoS as QoS4, TlsConfiguration};

use usp_core::EndpointId;

use super::address::{split_reply_suffix, with_reply_suffix, Address, Link, Version};
use crate::error::ConnectError;
use crate::Login;

/// The MQTT 5 Content Type of a USP Record (R-MQTT.27).
pub const CONTENT_TYPE: &str = "usp.msg";
/// The other Content Type receivers accept (R-MQTT.27a).
pub const CONTENT_TYPE_LONG: &str = "application/vnd.bbf.usp.msg";
/// Room for the fixed header, the topic and the properties on top of a Record in a PUBLISH.
pub const PACKET_OVERHEAD: usize = 16 * 1024;
/// Requests rumqttc queues between us and its event loop.
const REQUEST_QUEUE: usize = 256;

/// What a session needs to connect.
#[derive(Clone)]
pub struct SessionOptions {
    /// Where the broker is and how to speak to it.
    pub address: Address,
    /// Our Endpoint ID (the `usp-endpoint-id` user property; the 3.1.1 client id by default).
    pub own_id: EndpointId,
    /// The client identifier to use; `None` for the address's or the default.
    pub client_id: Option<String>,
    /// Broker login.
    pub login: Option<Login>,
    /// TLS settings for mqtts / mqtt+wss.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The largest Record we accept.
    pub max_record_size: usize,
    /// MQTT keep alive (at least 5 s).
    pub keep_alive: Duration,
    /// How long the broker connection and its CONNACK may take.
    pub connect_timeout: Duration,
}

/// What the broker said in its CONNACK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnAckInfo {
    /// Response Information (MQTT 5): the topic the broker wants us to receive on.
    pub response_information: Option<String>,
    /// `subscribe-topic` user properties (MQTT 5).
    pub subscribe_topics: Vec<String>,
    /// The client identifier the broker assigned (MQTT 5, when we sent none).
    pub assigned_client_id: Option<String>,
    /// The largest packet the broker accepts (MQTT 5 Maximum Packet Size), when it says.
    pub max_packet_size: Option<u32>,
}

/// What the broker sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A message.
    Publish {
        /// Its topic (for 3.1.1 without the `/reply-to=` suffix).
        topic: String,
        /// The payload (a USP Record).
        payload: Bytes,
        /// The sender's reply-to topic (Response Topic or the 3.1.1 suffix).
        reply_to: Option<String>,
    },
    /// The answer to a SUBSCRIBE: whether every filter was granted.
    SubAck {
        /// All filters granted.
        granted: bool,
    },
    /// Anything else (acknowledgements, pings).
    Other,
}

/// The sending half of a session (cheap to clone).
#[derive(Clone)]
pub enum Publisher {
    /// MQTT 5.
    V5(v5::AsyncClient, QoS5),
    /// MQTT 3.1.1.
    V311(rumqttc::AsyncClient, QoS4),
}

/// The receiving half: rumqttc's event loop.
pub enum Events {
    /// MQTT 5.
    V5(Box<v5::EventLoop>),
    /// MQTT 3.1.1.
    V311(Box<rumqttc::EventLoop>),
}

/// An open session.
pub struct Session {
    /// Publishes and subscribes.
    pub publisher: Publisher,
    /// What the broker sends (must be polled for anything to move).
    pub events: Events,
    /// What the CONNACK said.
    pub connack: ConnAckInfo,
}

/// TCP settings: no Nagle delay (a Record waiting for an ACK costs 40 ms a hop on Linux).
fn network(connect_secs: u64) -> rumqttc::NetworkOptions {
    let mut n = rumqttc::NetworkOptions::new();
    n.set_tcp_nodelay(true);
    n.set_connection_timeout(connect_secs);
    n
}

fn transport(address: &Address, tls: Option<Arc<rustls::ClientConfig>>) -> Result<rumqttc::Transport, ConnectError> {
    let tls =
        if address.tls { Some(TlsConfiguration::Rustls(tls.ok_or(ConnectError::TlsNotConfigured)?)) } else { None };
    Ok(match (&address.link, tls) {
        (Link::Tcp, None) => rumqttc::Transport::Tcp,
        (Link::Tcp, Some(t)) => rumqttc::Transport::Tls(t),
        (Link::WebSocket { .. }, None) => rumqttc::Transport::Ws,
        (Link::WebSocket { .. }, Some(t)) => rumqttc::Transport::Wss(t),
    })
}

impl Session {
    /// Connects to the broker and waits for its CONNACK.
    ///
    /// # Errors
    /// A [`ConnectError`] in words: [`ConnectError::BrokerLogin`] when the broker refused
    /// the login, [`ConnectError::Broker`] for other refusals, TCP and TLS errors as for
    /// WebSocket agents.
    pub async fn connect(opts: SessionOptions) -> Result<Session, ConnectError> {
        let a = &opts.address;
        let broker = match a.websocket_url() {
            Some(url) => url,
            None => a.host.clone(),
        };
        let keep_alive = opts.keep_alive.max(Duration::from_secs(5));
        let max_packet = opts.max_record_size.saturating_add(PACKET_OVERHEAD);
        let transport = transport(a, opts.tls.clone())?;
        let login = opts.login.as_ref().map(|l| {
            let user = if l.username.is_empty() { a.username.clone().unwrap_or_default() } else { l.username.clone() };
            (user, l.password.as_str().to_owned())
        });
        let login = login.or_else(|| a.username.clone().map(|u| (u, String::new())));
        let client_id = opts.client_id.clone().or_else(|| a.client_id.clone());
        let secs = opts.connect_timeout.as_secs().max(1);
        let (publisher, events) = match a.version {
            Version::V5 => {
                let mut o = v5::MqttOptions::new(client_id.unwrap_or_default(), broker, a.port);
                o.set_transport(transport)
                    .set_keep_alive(keep_alive)
                    .set_connection_timeout(secs)
                    .set_network_options(network(secs));
                let mut props = ConnectProperties::new();
                props.user_properties = vec![("usp-endpoint-id".into(), opts.own_id.as_str().to_owned())];
                props.request_response_info = Some(1);
                props.max_packet_size = Some(u32::try_from(max_packet).unwrap_or(u32::MAX));
                o.set_connect_properties(props);
                if let Some((u, p)) = login {
                    o.set_credentials(u, p);
                }
                let (c, e) = v5::AsyncClient::new(o, REQUEST_QUEUE);
                let qos = if a.qos == 0 { QoS5::AtMostOnce } else { QoS5::AtLeastOnce };
                (Publisher::V5(c, qos), Events::V5(Box::new(e)))
            }
            Version::V311 => {
                let id = client_id.unwrap_or_else(|| opts.own_id.as_str().to_owned());
                let mut o = rumqttc::MqttOptions::new(id, broker, a.port);
                o.set_transport(transport).set_keep_alive(keep_alive).set_max_packet_size(max_packet, max_packet);
                if let Some((u, p)) = login {
                    o.set_credentials(u, p);
                }
                let (c, mut e) = rumqttc::AsyncClient::new(o, REQUEST_QUEUE);
                e.set_network_options(network(secs));
                let qos = if a.qos == 0 { QoS4::AtMostOnce } else { QoS4::AtLeastOnce };
                (Publisher::V311(c, qos), Events::V311(Box::new(e)))
            }
        };
        let mut session = Session { publisher, events, connack: ConnAckInfo::default() };
        let wait = async {
            loop {
                let raw: Result<Raw, Failure> = session.events.next_raw().await;
                match raw? {
                    Raw::ConnAck(info) => return Ok::<ConnAckInfo, Failure>(info),
                    Raw::Event(_) => {}
                }
            }
        };
        session.connack = match tokio::time::timeout(opts.connect_timeout, wait).await {
            Ok(r) => r.map_err(|e| e.into_connect_error(&opts.address))?,
            Err(_) => return Err(ConnectError::Timeout(opts.connect_timeout)),
        };
        Ok(session)
    }
}

impl Publisher {
    /// Subscribes to `filter` (answered by an [`Event::SubAck`]).
    ///
    /// # Errors
    /// The session is gone.
    pub async fn subscribe(&self, filter: &str) -> Result<(), String> {
        let r = match self {
            Publisher::V5(c, q) => c.subscribe(filter, *q).await.map_err(|e| e.to_string()),
            Publisher::V311(c, q) => c.subscribe(filter, *q).await.map_err(|e| e.to_string()),
        };
        r.map_err(|e| format!("the MQTT session ended: {e}"))
    }

    /// Publishes one Record to `topic`, telling the receiver to answer on `reply_to`.
    ///
    /// # Errors
    /// The session is gone.
    pub async fn publish(&self, topic: &str, reply_to: &str, record: Bytes) -> Result<(), String> {
        let r = match self {
            Publisher::V5(c, q) => {
                let props = PublishProperties {
                    response_topic: Some(reply_to.to_owned()),
                    content_type: Some(CONTENT_TYPE.into()),
                    ..Default::default()
                };
                c.publish_bytes_with_properties(topic, *q, false, record, props).await.map_err(|e| e.to_string())
            }
            Publisher::V311(c, q) => {
                c.publish_bytes(with_reply_suffix(topic, reply_to), *q, false, record).await.map_err(|e| e.to_string())
            }
        };
        r.map_err(|e| format!("the MQTT session ended: {e}"))
    }

    /// Says goodbye to the broker (DISCONNECT), without waiting.
    pub fn disconnect(&self) {
        match self {
            Publisher::V5(c, _) => drop(c.try_disconnect()),
            Publisher::V311(c, _) => drop(c.try_disconnect()),
        }
    }

    /// The MQTT version.
    pub fn version(&self) -> Version {
        match self {
            Publisher::V5(..) => Version::V5,
            Publisher::V311(..) => Version::V311,
        }
    }
}

enum Raw {
    ConnAck(ConnAckInfo),
    Event(Event),
}

/// Why a session failed, before it is put in words.
pub(crate) enum Failure {
    Refused {
        login: bool,
        code: String,
    },
    Io(String),
    Tls(String),
    /// The broker's certificate was refused by our check (changed since pinned, or untrusted).
    Cert(crate::tls::TlsError),
    TooLarge(String),
    Other(String),
}

impl Failure {
    fn into_connect_error(self, a: &Address) -> ConnectError {
        let at = format!("{}:{}", a.host, a.port);
        match self {
            Failure::Refused { login: true, code } => ConnectError::BrokerLogin(format!("{at} ({code})")),
            Failure::Refused { login: false, code } => {
                ConnectError::Broker(format!("the broker at {at} refused the connection ({code})"))
            }
            Failure::Io(e) => ConnectError::Tcp(format!("the MQTT broker at {at}: {e}")),
            Failure::Tls(e) => ConnectError::Tls(format!("to the MQTT broker at {at}: {e}")),
            Failure::Cert(e) => crate::tls::broker_cert_error(&e, &at)
                .unwrap_or_else(|| ConnectError::Tls(format!("to the MQTT broker at {at}: {e}"))),
            Failure::TooLarge(e) | Failure::Other(e) => ConnectError::Broker(format!("the broker at {at}: {e}")),
        }
    }

    /// In words, for a session that was up.
    pub(crate) fn words(&self) -> String {
        match self {
            Failure::Refused { code, .. } => format!("the broker refused the session ({code})"),
            Failure::Io(e) => format!("the connection to the broker was lost: {e}"),
            Failure::Tls(e) => format!("TLS to the broker failed: {e}"),
            Failure::Cert(e) => format!("TLS to the broker failed: {e}"),
            Failure::TooLarge(e) => format!("the broker sent a message over our size limit: {e}"),
            Failure::Other(e) => format!("the broker session ended: {e}"),
        }
    }
}

fn failure5(e: v5::ConnectionError) -> Failure {
    use v5::mqttbytes::v5::ConnectReturnCode as C;
    use v5::ConnectionError as E;
    if let Some(t) = crate::tls::tls_error_in_chain(&e) {
        return Failure::Cert(t);
    }
    match e {
        E::ConnectionRefused(code) => Failure::Refused {
            login: matches!(code, C::BadUserNamePassword | C::NotAuthorized),
            code: format!("{code:?}"),
        },
        E::Io(io) => Failure::Io(io.to_string()),
        E::Tls(t) => Failure::Tls(t.to_string()),
        E::MqttState(v5::StateError::IncomingPacketTooLarge { pkt_size, max }) => {
            Failure::TooLarge(format!("{pkt_size} bytes, limit {max}"))
        }
        E::MqttState(v5::StateError::Deserialization(rumqttc::v5::mqttbytes::Error::PayloadSizeLimitExceeded {
            pkt_size,
            max,
        })) => Failure::TooLarge(format!("{pkt_size} bytes, limit {max}")),
        E::MqttState(v5::StateError::ServerDisconnect { reason_code, reason_string }) => Failure::Other(format!(
            "the broker disconnected us ({reason_code:?}{})",
            reason_string.map(|r| format!(": {}", usp_core::text::for_log(&r))).unwrap_or_default()
        )),
        E::MqttState(v5::StateError::Io(io))
        | E::MqttState(v5::StateError::Deserialization(rumqttc::v5::mqttbytes::Error::Io(io))) => {
            Failure::Io(io.to_string())
        }
        E::MqttState(v5::StateError::ConnectionAborted) => Failure::Io("the broker closed the connection".into()),
        E::MqttState(v5::StateError::AwaitPingResp) => Failure::Io("the broker stopped answering pings".into()),
        other => Failure::Other(usp_core::text::for_log(&other.to_string()).to_string()),
    }
}

fn failure4(e: rumqttc::ConnectionError) -> Failure {
    use rumqttc::ConnectReturnCode as C;
    use rumqttc::ConnectionError as E;
    if let Some(t) = crate::tls::tls_error_in_chain(&e) {
        return Failure::Cert(t);
    }
    match e {
        E::ConnectionRefused(code) => Failure::Refused {
            login: matches!(code, C::BadUserNamePassword | C::NotAuthorized),
            code: format!("{code:?}"),
        },
        E::Io(io) => Failure::Io(io.to_string()),
        E::Tls(t) => Failure::Tls(t.to_string()),
        E::MqttState(rumqttc::StateError::Deserialization(rumqttc::Error::PayloadSizeLimitExceeded(n))) => {
            Failure::TooLarge(format!("{n} bytes"))
        }
        E::MqttState(rumqttc::StateError::Io(io))
        | E::MqttState(rumqttc::StateError::Deserialization(rumqttc::Error::Io(io))) => Failure::Io(io.to_string()),
        E::MqttState(rumqttc::StateError::ConnectionAborted) => Failure::Io("the broker closed the connection".into()),
        E::MqttState(rumqttc::StateError::AwaitPingResp) => Failure::Io("the broker stopped answering pings".into()),
        other => Failure::Other(usp_core::text::for_log(&other.to_string()).to_string()),
    }
}

fn props_first(props: &[(String, String)], key: &str) -> Vec<String> {
    props.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
}

impl Events {
    async fn next_raw(&mut self) -> Result<Raw, Failure> {
        match self {
            Events::V5(l) => match l.poll().await.map_err(failure5)? {
                v5::Event::Incoming(Packet5::ConnAck(ack)) => {
                    let Some(p) = ack.properties else { return Ok(Raw::ConnAck(ConnAckInfo::default())) };
                    Ok(Raw::ConnAck(ConnAckInfo {
                        response_information: p.response_information.filter(|t| !t.is_empty()),
                        subscribe_topics: props_first(&p.user_properties, "subscribe-topic"),
                        assigned_client_id: p.assigned_client_identifier,
                        max_packet_size: p.max_packet_size,
                    }))
                }
                v5::Event::Incoming(Packet5::Publish(p)) => {
                    let full = String::from_utf8_lossy(&p.topic);
                    // A 3.1.1 sender's reply-to is in the topic (a v5 agent may serve both).
                    let (topic, suffix) = split_reply_suffix(&full);
                    let response_topic = p.properties.and_then(|p| p.response_topic).filter(|t| !t.is_empty());
                    Ok(Raw::Event(Event::Publish {
                        topic: topic.to_owned(),
                        payload: p.payload,
                        reply_to: response_topic.or(suffix),
                    }))
                }
                v5::Event::Incoming(Packet5::SubAck(s)) => Ok(Raw::Event(Event::SubAck {
                    granted: s
                        .return_codes
                        .iter()
                        .all(|c| matches!(c, v5::mqttbytes::v5::SubscribeReasonCode::Success(_))),
                })),
                _ => Ok(Raw::Event(Event::Other)),
            },
            Events::V311(l) => match l.poll().await.map_err(failure4)? {
                rumqttc::Event::Incoming(Packet4::ConnAck(_)) => Ok(Raw::ConnAck(ConnAckInfo::default())),
                rumqttc::Event::Incoming(Packet4::Publish(p)) => {
                    let (topic, reply_to) = split_reply_suffix(&p.topic);
                    Ok(Raw::Event(Event::Publish { topic: topic.to_owned(), payload: p.payload, reply_to }))
                }
                rumqttc::Event::Incoming(Packet4::SubAck(s)) => Ok(Raw::Event(Event::SubAck {
                    granted: s.return_codes.iter().all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
                })),
                _ => Ok(Raw::Event(Event::Other)),
            },
        }
    }

    /// The next thing the broker sent; the error is in words.
    ///
    /// # Errors
    /// The session ended (connection lost, the broker disconnected us...).
    pub async fn next(&mut self) -> Result<Event, String> {
        match self.next_raw().await {
            Ok(Raw::Event(e)) => Ok(e),
            Ok(Raw::ConnAck(_)) => Ok(Event::Other),
            Err(f) => Err(f.words()),
        }
    }
}
