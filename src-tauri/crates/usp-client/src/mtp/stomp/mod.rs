//! The STOMP 1.2 MTP (SPEC-STOMP): an agent reached through a message broker such as
//! RabbitMQ with its STOMP plugin. The framing is `usp_core::stomp`'s (sans-IO); here is the IO
//! over tokio, written by hand as no maintained STOMP crate exists.
//!
//! What USP asks of a controller's STOMP connection, and how it is kept:
//! - a `STOMP` frame with `accept-version:1.2`, `host` (the virtual host), `login`/`passcode`
//!   from [`crate::ClientConfig::login`], `endpoint-id` (our Endpoint ID, its colons escaped)
//!   and `heart-beat` (R-STOMP.3/4, 8-11);
//! - our destination: the `subscribe-dest` of `CONNECTED` if the broker gives one, else the
//!   address's `reply-to`, else one derived from our and the agent's Endpoint IDs
//!   (R-STOMP.6/14/15; see [`address`]);
//!   subscribed with `ack:auto` (R-STOMP.17), confirmed by a receipt before any Record goes;
//! - each Record in a `SEND` with `content-type: application/vnd.bbf.usp.msg`,
//!   `content-length` and `reply-to-dest: <our destination>` (R-STOMP.19-22);
//! - the agent's destination from the address, else from its `STOMPConnectRecord`
//!   (`subscribed_destination`) or the `reply-to-dest` of its messages;
//! - heart-beats both ways as negotiated: the driver's keepalive goes out as an EOL, the
//!   broker's EOLs are liveness; a broker that beats too seldom for the driver's check is
//!   watched here and the keepalive answered locally;
//! - `ERROR` frames end the session with the broker's words (escaped, capped); a refused login
//!   is [`ConnectError::BrokerLogin`], which needs the user;
//! - Records for other controllers or from other agents on a shared destination are dropped
//!   quietly; frames are bounded (body ≤ the client's `max_record_size`).
//!
//! TLS (`stomps://`) uses [`crate::ClientConfig::tls`]; it ends at the broker, so it says
//! nothing about the agent and [`Handshake::peer_certificates`] stays empty.
//!
//! The address format is in [`address`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use usp_core::stomp::Limits;
use usp_core::EndpointId;

use crate::error::ConnectError;
use crate::mtp::{Carrier, Handshake, Mtp, Opened};
use crate::ClientConfig;

pub mod address;
pub mod conn;
mod transport;

pub use address::{derived_destination, queue_name_part, StompAddress};
pub use conn::{ConnEnd, ConnectParams, StompConn};
pub use transport::StompTransport;

/// The subscription id of our destination.
const SUBSCRIPTION_ID: &str = "usp-0";

/// What earlier connections with the same address and Endpoint ID learnt: the agent and its
/// destination (a reconnect to an agent that sent its connect record long ago).
type Learnt = (Option<EndpointId>, Option<String>);
static LEARNT: Mutex<Option<HashMap<String, Learnt>>> = Mutex::new(None);
const MAX_LEARNT: usize = 256;

fn remember(key: &str, agent: Option<EndpointId>, dest: Option<String>) {
    let mut g = LEARNT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let map = g.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_LEARNT && !map.contains_key(key) {
        map.clear();
    }
    map.insert(key.to_owned(), (agent, dest));
}

fn recall(key: &str) -> Learnt {
    let g = LEARNT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    g.as_ref().and_then(|m| m.get(key).cloned()).unwrap_or((None, None))
}

/// The heart-beat period we offer both ways: the driver's ping interval, in milliseconds.
pub fn heart_beat_ms(config: &ClientConfig) -> u32 {
    u32::try_from(config.ping_interval.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// Opens the STOMP MTP for a client: connect, subscribe to our destination, and hand back a
/// [`StompTransport`].
///
/// # Errors
/// [`ConnectError::BadUrl`] for a bad address, [`ConnectError::TlsNotConfigured`] for
/// `stomps://` without TLS settings, and the errors of [`StompConn::connect`].
pub async fn open(config: &ClientConfig) -> Result<Opened, ConnectError> {
    let address = StompAddress::parse(&config.url)?;
    let tls = if address.tls { Some(config.tls.clone().ok_or(ConnectError::TlsNotConfigured)?) } else { None };
    let user = config.login.as_ref().map(|l| l.username.clone()).or_else(|| address.user.clone());
    let password = config.login.as_ref().map(|l| l.password.as_str()).unwrap_or_default();
    let beat = heart_beat_ms(config);
    let limits = Limits { max_body: config.limits.max_record_size, ..Limits::default() };
    let mut conn = StompConn::connect(ConnectParams {
        host: &address.host,
        port: address.port,
        tls,
        vhost: &address.vhost,
        endpoint_id: &config.own_id,
        login: user.as_deref().map(|u| (u, password)),
        heart_beat: (beat, beat),
        limits,
    })
    .await?;
    let memory_key = format!("{}\n{}", config.url, config.own_id);
    let (known_agent, known_dest) = recall(&memory_key);
    let named_agent = address.agent.clone().or_else(|| config.agent_id.clone());
    let our_dest = conn
        .subscribe_dest
        .clone()
        .or_else(|| address.reply_to.clone())
        .unwrap_or_else(|| derived_destination(&config.own_id, named_agent.as_ref()));
    let early =
        conn.subscribe(SUBSCRIPTION_ID, &our_dest).await.map_err(|e| ConnectError::Broker(e.text().to_owned()))?;
    let agent = named_agent.or(known_agent);
    let agent_dest = address.agent_destination.clone().or(known_dest);
    // The driver's liveness check allows three ping intervals of silence.
    let broker_beats = conn.heart_beats.expect_every.is_some_and(|d| d <= config.ping_interval * 2);
    let carrier = Carrier::new(Mtp::Stomp, address.tls);
    tracing::debug!(
        broker = %format!("{}:{}", address.host, address.port),
        server = conn.server.as_deref().unwrap_or("?"),
        our_destination = %usp_core::text::for_log(&our_dest),
        "STOMP connection open"
    );
    let transport = StompTransport {
        conn,
        own_id: config.own_id.clone(),
        our_dest,
        agent_dest,
        agent: agent.clone(),
        held: VecDeque::new(),
        early: early.into(),
        carrier,
        broker_beats,
        local_alive: false,
        last_rx: tokio::time::Instant::now(),
        lost: None,
        memory_key,
        dropped: 0,
    };
    Ok(Opened {
        transport: Box::new(transport),
        handshake: Handshake { agent_id_hint: agent, peer_certificates: Vec::new() },
    })
}
