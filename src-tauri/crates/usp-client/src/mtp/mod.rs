//! The transport seam: every USP MTP (WebSocket, MQTT, STOMP, CoAP, and an in-memory one for
//! tests) behind one small interface, so that the driver above (correlation, timeouts,
//! reconnect, subscriptions) and the app never know which one carries the Records.
//!
//! A [`Connector`] opens one connection to an agent and hands back a [`Transport`]: a duplex
//! of whole Records. The driver writes [`Outbound`] items into it (Records, and a keepalive
//! probe at its ping interval, which each MTP turns into what it has: a WebSocket ping, a
//! STOMP heart-beat, nothing for MQTT whose client pings by itself) and reads [`Inbound`]
//! items out of it. Which connector is used follows the address's scheme ([`connect`]),
//! unless [`crate::ClientConfig::connector`] names one (the in-memory transport, the
//! listener for agents that dial us).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use usp_core::EndpointId;

use crate::error::ConnectError;
use crate::ClientConfig;

pub mod broker_url;
pub mod coap;
pub mod e2e;
pub mod fallback;
pub mod memory;
pub mod mqtt;
pub mod stomp;

/// A boxed future that can be sent between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the driver hands a transport to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// One whole USP Record (protobuf).
    Record(Bytes),
    /// Time to prove the connection is alive (the driver's ping interval).
    KeepAlive,
}

/// What a transport read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// One whole USP Record from the agent (or from the path to it).
    Record(Bytes),
    /// Something that proves the connection alive but carries no Record (a pong, a
    /// heart-beat, a broker acknowledgement).
    Alive,
    /// The connection is gone; the words say why.
    Lost(String),
    /// The peer broke the MTP's rules: the driver closes the transport with
    /// [`Close::Violation`] and ends the session with these words.
    Violation(String),
}

/// Why the driver closes a transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// The user or the app closed the client.
    Normal,
    /// The agent broke the MTP's rules (a text WebSocket frame...).
    Violation,
    /// The agent never identified itself in time.
    Silent,
}

/// A USP message transfer protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mtp {
    /// WebSocket (`_usp-agt-ws._tcp`).
    Ws,
    /// MQTT (`_usp-agt-mqtt._tcp`; the advertised address is the broker's).
    Mqtt,
    /// STOMP 1.2 (`_usp-agt-stomp._tcp`; the advertised address is the broker's).
    Stomp,
    /// CoAP (`_usp-agt-coap._udp`), for USP 1.0-1.2 agents.
    Coap,
    /// In memory, inside one process (tests); never advertised.
    Memory,
}

impl Mtp {
    /// The DNS-SD service type agents advertise it with (`_usp-agt-ws._tcp.local.`, …).
    pub fn service_type(self) -> Option<&'static str> {
        match self {
            Mtp::Ws => Some(crate::discovery::SERVICE_WS),
            Mtp::Mqtt => Some(crate::discovery::SERVICE_MQTT),
            Mtp::Stomp => Some(crate::discovery::SERVICE_STOMP),
            Mtp::Coap => Some(crate::discovery::SERVICE_COAP),
            Mtp::Memory => None,
        }
    }

    /// Whether the path to the agent crosses a broker usp-home does not control (what the
    /// end-to-end session context exists for).
    pub fn crosses_broker(self) -> bool {
        matches!(self, Mtp::Mqtt | Mtp::Stomp)
    }
}

/// What carries one connection, as a device card says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Carrier {
    /// The MTP.
    pub mtp: Mtp,
    /// TLS protects the hop from us (to the agent, or to the broker).
    pub tls: bool,
    /// The agent opened the connection (it dialled our listener).
    pub agent_dialled: bool,
    /// Messages travel in an end-to-end session context the agent takes part in
    /// ([`e2e`]): sequenced, retransmitted, segmented as the agent asks.
    pub session_context: bool,
    /// ...and its Records are signed and verified both ways: whatever sits between (a
    /// broker) can neither change nor forge them. What the device card calls "protected
    /// end to end".
    pub end_to_end: bool,
}

impl Carrier {
    /// A connection we opened.
    pub fn new(mtp: Mtp, tls: bool) -> Carrier {
        Carrier { mtp, tls, agent_dialled: false, session_context: false, end_to_end: false }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.mtp {
            Mtp::Ws => "WebSocket",
            Mtp::Mqtt => "MQTT",
            Mtp::Stomp => "STOMP",
            Mtp::Coap => "CoAP",
            Mtp::Memory => "in memory",
        })?;
        if self.tls {
            f.write_str(", encrypted")?;
        }
        if self.agent_dialled {
            f.write_str(", the device connects to usp-home")?;
        }
        if self.end_to_end {
            f.write_str(", protected end to end")?;
        } else if self.session_context {
            f.write_str(", in a session context")?;
        }
        Ok(())
    }
}

/// What opening a connection told us, besides the transport itself.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// The agent's Endpoint ID as the MTP named it before any Record (the WebSocket
    /// extension header, the agent that dialled in).
    pub agent_id_hint: Option<EndpointId>,
    /// The agent's TLS certificate chain (DER), when TLS ends at the agent itself (wss).
    /// Empty when TLS ends at a broker: a broker's certificate says nothing about the agent.
    pub peer_certificates: Vec<Vec<u8>>,
}

/// One open connection to an agent, carrying whole Records in both directions.
///
/// The three sending methods follow `futures::Sink`: `poll_ready` before each
/// `start_send`, then `poll_flush`. None of the methods may block; errors are words for
/// the connection state the app shows.
pub trait Transport: Send {
    /// Ready to take one more item.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>>;
    /// Takes one item (after `poll_ready` said yes).
    fn start_send(&mut self, item: Outbound) -> Result<(), String>;
    /// Pushes what was taken onto the wire.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>>;
    /// The next thing from the agent.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound>;
    /// Closes the connection politely. The driver bounds how long it waits.
    fn close(&mut self, why: Close) -> BoxFuture<'_, ()>;
    /// What carries this connection.
    fn carrier(&self) -> Carrier;
    /// The largest Record this MTP can carry to the agent, when it says (an MQTT 5 broker's
    /// Maximum Packet Size less what the PUBLISH around the Record takes). `None`: no
    /// limit known.
    fn max_record_size(&self) -> Option<usize> {
        None
    }
    /// Whether a request may be written from its caller's task while the driver's task
    /// reads (the client's direct path for a request on an idle connection): true only
    /// when writing needs nothing from the reading side (no timers or state that only
    /// `poll_recv` drives) and a later write from the driver picks up whatever a write
    /// left half done. Off by default.
    fn any_task_may_send(&self) -> bool {
        false
    }
    /// Whether the task of a caller waiting for its reply may read from the transport
    /// (the client's read lane: no hop through the driver's task for the reply): true only
    /// when reading needs nothing but the waker it is given (no timers or writes of its
    /// own) and whatever one task left half read, another task's read goes on with. Off by
    /// default.
    fn any_task_may_receive(&self) -> bool {
        false
    }
}

/// An open connection and what its handshake told us.
pub struct Opened {
    /// The connection.
    pub transport: Box<dyn Transport>,
    /// What the handshake told us.
    pub handshake: Handshake,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("carrier", &self.transport.carrier())
            .field("handshake", &self.handshake)
            .finish()
    }
}

/// Opens connections to one agent. The driver calls it for the first connection and for
/// every reconnect.
pub trait Connector: Send + Sync + fmt::Debug {
    /// Opens one connection, within `config.connect_timeout` (the driver enforces it too).
    fn connect<'a>(&'a self, config: &'a ClientConfig) -> BoxFuture<'a, Result<Opened, ConnectError>>;
}

/// The MTP an agent address names, by its scheme, and whether the scheme asks for TLS.
///
/// # Errors
/// [`ConnectError::BadUrl`] for a scheme usp-home does not speak.
pub fn carrier_of(url: &str) -> Result<Carrier, ConnectError> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    match scheme.as_str() {
        "ws" => Ok(Carrier::new(Mtp::Ws, false)),
        "wss" => Ok(Carrier::new(Mtp::Ws, true)),
        "mqtt" | "mqtt+ws" => Ok(Carrier::new(Mtp::Mqtt, false)),
        "mqtts" | "mqtt+wss" => Ok(Carrier::new(Mtp::Mqtt, true)),
        "stomp" => Ok(Carrier::new(Mtp::Stomp, false)),
        "stomps" => Ok(Carrier::new(Mtp::Stomp, true)),
        "coap" => Ok(Carrier::new(Mtp::Coap, false)),
        _ => Err(ConnectError::BadUrl(format!(
            "{:?}: the address must start with ws://, wss://, mqtt://, mqtts://, mqtt+ws://, mqtt+wss://, \
             stomp://, stomps:// or coap://",
            usp_core::text::for_log(url)
        ))),
    }
}

/// Opens a connection for `config`: its own connector when it has one, else the one the
/// address's scheme names.
pub async fn connect(config: &ClientConfig) -> Result<Opened, ConnectError> {
    if let Some(c) = &config.connector {
        return c.connect(config).await;
    }
    match carrier_of(&config.url)?.mtp {
        Mtp::Ws => crate::ws::open(config).await,
        Mtp::Coap => match &config.coap {
            Some(endpoint) => endpoint.open(config).await,
            None => coap::open(config).await,
        },
        Mtp::Stomp => stomp::open(config).await,
        // One session alone: a client keeps one connector for all its sessions
        // ([`with_lasting_connector`]), which remembers the broker-assigned client id.
        Mtp::Mqtt => mqtt::open(&mqtt::MqttConnector::new(), config).await,
        // No scheme names it: an in-memory connection always comes with its connector.
        Mtp::Memory => Err(ConnectError::BadUrl(format!(
            "{:?}: an in-memory address needs its connector",
            usp_core::text::for_log(&config.url)
        ))),
    }
}

/// `config` with a connector that lives as long as the client, for the MTPs whose
/// sessions remember something across reconnects (MQTT: the broker-assigned client id and
/// the agent's learnt topic).
pub fn with_lasting_connector(mut config: ClientConfig) -> ClientConfig {
    if config.connector.is_none() && carrier_of(&config.url).map(|c| c.mtp) == Ok(Mtp::Mqtt) {
        config.connector = Some(std::sync::Arc::new(mqtt::MqttConnector::new()));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_name_their_mtp() {
        let mtp = |u: &str| carrier_of(u).ok().map(|c| (c.mtp, c.tls));
        assert_eq!(mtp("ws://h:1/usp"), Some((Mtp::Ws, false)));
        assert_eq!(mtp("WSS://h"), Some((Mtp::Ws, true)));
        assert_eq!(mtp("mqtt://b"), Some((Mtp::Mqtt, false)));
        assert_eq!(mtp("mqtts://b"), Some((Mtp::Mqtt, true)));
        assert_eq!(mtp("mqtt+ws://b/mqtt"), Some((Mtp::Mqtt, false)));
        assert_eq!(mtp("mqtt+wss://b"), Some((Mtp::Mqtt, true)));
        assert_eq!(mtp("stomps://b"), Some((Mtp::Stomp, true)));
        assert_eq!(mtp("coap://h:5683/usp"), Some((Mtp::Coap, false)));
        for bad in ["http://h", "h:1", "", "ws:/h"] {
            assert!(matches!(carrier_of(bad), Err(ConnectError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn only_broker_mtps_cross_a_broker() {
        let all = [Mtp::Ws, Mtp::Mqtt, Mtp::Stomp, Mtp::Coap, Mtp::Memory];
        let crossing: Vec<Mtp> = all.into_iter().filter(|m| m.crosses_broker()).collect();
        assert_eq!(crossing, [Mtp::Mqtt, Mtp::Stomp]);
        assert_eq!(Mtp::Memory.service_type(), None);
        assert_eq!(Mtp::Coap.service_type(), Some("_usp-agt-coap._udp.local."));
    }
}
