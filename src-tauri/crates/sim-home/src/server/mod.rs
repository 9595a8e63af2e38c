//! One simulated agent on the wire: a WebSocket server on 127.0.0.1 that speaks the USP
//! WebSocket MTP the way the reference agent does (spec notes §6 and §14.4).
//!
//! Tasks of one agent:
//! - the [`Agent`] sits behind a short, fair async lock (never held across an `.await`);
//!   the **actor** runs its timers, life ticks, internal edits and connection changes from
//!   its queue. Whoever steps the agent then drains its outbox and routes each Notify to the
//!   queue of its controller's connection;
//! - the **acceptor** takes TCP connections (at most [`MAX_CONNECTIONS`] at once);
//! - per connection, one task runs the handshake and then the **connection loop**: it
//!   decodes Records, answers each request itself under the agent's lock and writes the
//!   reply at once (so replies go in request order, with no hop to another task), and writes
//!   what the actor queued for it (Notifies, close requests) and the keep-alive Pings;
//! - the **keep-alive clock**, a thread, asks each connection for a Ping every
//!   `keep_alive_secs` (`keepalive`: it keeps timers out of the agent's runtime).
//!
//! Files: `actor` (the agent's lock and clock), `conn` (acceptor, handshakes),
//! `connection` (the connection loop), `handshake`, `keepalive`, `record` (Records received and sent),
//! `pipe` (controllers over other MTPs); this one holds what they share and `start`.
//!
//! Wire rules (as the reference agent, unless said otherwise):
//! - handshake: `Sec-WebSocket-Protocol` must be exactly `v1.usp` (else HTTP 400), the
//!   resource path must be the agent's `path` (else HTTP 404), the controller EID comes
//!   from the percent-decoded `eid` query argument (missing or invalid: HTTP 400; the
//!   reference agent accepts a missing one but then cannot route Notifies). The response
//!   echoes `v1.usp` and always carries `Sec-WebSocket-Extensions: bbf-usp-protocol;
//!   eid="<agent EID>"`;
//! - the first frame is the WebSocketConnect Record;
//! - one connection per controller EID: a new one replaces the old, which is closed with
//!   1000 "replaced by a new connection";
//! - Records travel in binary frames: a text frame closes with 1003; undecodable bytes, a
//!   Record for another `to_id`, or whose `from_id` is not the connection's EID, are
//!   ignored; a SessionContext Record (or an encrypted payload) gets a DisconnectRecord
//!   7106 and close 1008; a DisconnectRecord gets a DisconnectRecord 7105 and close 1008;
//! - a Ping every `keep_alive_secs` with a 1-byte counter; a connection that answers
//!   nothing to 3 Pings in a row is dropped (no close frame, as the reference agent);
//! - records up to 5 MiB; a larger message closes with 1009.
//!
//! With TLS ([`crate::tls`]), the TCP stream is wrapped in a TLS server session that
//! requires a client certificate before the handshake above; the `?eid=` must then be
//! the Endpoint ID of that certificate, and its certificate the one the agent remembers
//! for that EID (first use pins it): otherwise HTTP 403.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::http::header::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;
use tracing::{info, warn};
use usp_core::eid::EndpointId;
use usp_proto::usp::Msg;

use crate::agent::Agent;
use crate::spec::AgentSpec;
use crate::tls::{ControllerPins, Fingerprint};

mod actor;
mod conn;
mod connection;
mod e2e;
mod handshake;
mod keepalive;
mod pipe;
mod record;
pub mod stomp;
#[cfg(test)]
pub(crate) mod tests;

use actor::{AgentCore, AgentState};
use conn::accept_loop;
pub(crate) use pipe::serve_pipe;
pub use pipe::RecordPipe;

/// The only WebSocket subprotocol accepted (R-WS.9..12a).
pub const USP_SUBPROTOCOL: &str = "v1.usp";
/// `Record.version` of every Record the agents send.
pub const RECORD_VERSION: &str = "1.3";
/// Largest USP Record accepted (the reference agent's `MAX_USP_MSG_LEN`).
pub const MAX_RECORD_SIZE: usize = 5 * 1024 * 1024;
/// WebSocket message and frame limit: a Record of [`MAX_RECORD_SIZE`] plus a little.
pub const MAX_WS_MESSAGE_SIZE: usize = MAX_RECORD_SIZE + 64 * 1024;
/// Concurrent connections (handshakes included) per agent; more get HTTP 503.
pub const MAX_CONNECTIONS: usize = 16;
/// Missed Pings after which a silent connection is dropped.
pub const MAX_MISSED_PONGS: u32 = 3;

/// Close codes and reasons used by the agents.
pub mod close {
    /// Replaced by a newer connection of the same controller.
    pub const NORMAL: u16 = 1000;
    /// The home shuts down.
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A SessionContext or Disconnect Record.
    pub const POLICY: u16 = 1008;
    /// A message over [`super::MAX_WS_MESSAGE_SIZE`].
    pub const TOO_BIG: u16 = 1009;
    /// Reason sent with [`NORMAL`] to a replaced connection.
    pub const REPLACED_REASON: &str = "replaced by a new connection";
    /// Reason sent with [`UNSUPPORTED_DATA`].
    pub const TEXT_REASON: &str = "USP records travel in binary frames";
    /// Reason sent with [`GOING_AWAY`].
    pub const GOING_AWAY_REASON: &str = "going away";
}

/// `DisconnectRecord.reason_code` for a SessionContext Record.
pub const DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED: u32 = 7106;
/// `DisconnectRecord.reason_code` in answer to the controller's DisconnectRecord.
pub const DISCONNECT_SESSION_CONTEXT_TERMINATED: u32 = 7105;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Queue of frames for one connection (Notifies and close requests from the actor; the
/// replies of a record pipe).
const OUT_QUEUE: usize = 4096;
/// Requests of one record pipe in the actor or its queue at once. Smaller than
/// [`OUT_QUEUE`]: replies always fit, Notifies are dropped for a controller that does not
/// read (when less than this much room is left).
const MAX_IN_FLIGHT: usize = 1024;
/// Frames written before one flush.
const WRITE_BATCH: usize = 256;
const ACTOR_QUEUE: usize = 1024;
const ACTOR_BATCH: usize = 64;
/// Minimum gap between two timer runs, in case a deadline stays in the past.
const TIMER_MIN_GAP: Duration = Duration::from_millis(1);
/// A controller that reads nothing for this long while we have frames for it is dropped.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent "503 busy" answers; past that, extra connections are just closed.
const MAX_BUSY_ANSWERS: usize = 16;

/// A byte stream: plain TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type WsStream = WebSocketStream<Box<dyn Io>>;

/// The TLS side of an agent server: mutual TLS, and the controller certificates it
/// remembers.
pub(crate) struct ServerTls {
    pub acceptor: TlsAcceptor,
    pub pins: Arc<ControllerPins>,
}

/// What the client certificate of a TLS connection proves.
struct PeerCert {
    eid: EndpointId,
    fingerprint: Fingerprint,
}

/// A closure run by the actor on its agent (internal edits, queries).
pub(crate) type AgentCall = Box<dyn FnOnce(&mut Agent, SystemTime) + Send>;

/// What the actor of one agent is asked to do.
pub(crate) enum Cmd {
    /// A controller finished its handshake (the WebSocketConnect Record is already queued).
    Connected { conn: u64, eid: EndpointId, link: ConnLink },
    /// A connection ended.
    Disconnected { conn: u64 },
    /// A Msg from the controller of `conn`; `permit` is held until the reply is written.
    Msg { conn: u64, msg: Msg, permit: OwnedSemaphorePermit },
    /// Run a closure on the agent, then route its outbox.
    Call(AgentCall),
    /// One life step with the agent's seeded rng, then route its outbox.
    Tick(Option<oneshot::Sender<()>>),
    /// Close every controller connection with 1001 "going away" (as a rebooting agent
    /// does); the listener stays open, so controllers can reconnect.
    CloseAll(oneshot::Sender<()>),
}

/// The actor's side of a connection.
pub(crate) struct ConnLink {
    out: mpsc::Sender<Out>,
    close: oneshot::Sender<(u16, &'static str)>,
}

/// What the actor queues for a connection.
enum Out {
    /// A Msg, wrapped in a no_session_context Record to the connection's controller.
    Msg(Msg, Option<OwnedSemaphorePermit>),
    /// An encoded Record.
    Raw(Vec<u8>),
    /// A close frame, after everything queued before it.
    Close(u16, &'static str),
    /// Time for a keep-alive Ping (from the keep-alive clock, `keepalive`); other MTPs
    /// ignore it.
    Ping,
}

/// A running agent server, as [`crate::home`] keeps it.
pub(crate) struct Started {
    pub addr: SocketAddr,
    pub cmd: mpsc::Sender<Cmd>,
    /// The connected controllers (sorted), updated by the actor.
    pub connected: watch::Receiver<Vec<EndpointId>>,
}

/// What a server needs to know, shared by its connections.
struct ServerCtx {
    key: String,
    agent_eid: EndpointId,
    path: String,
    extensions: Option<HeaderValue>,
    ws_config: WebSocketConfig,
    next_conn: AtomicU64,
    actor: mpsc::Sender<Cmd>,
    /// The agent, for the connections to answer requests.
    core: Arc<AgentCore>,
    shutdown: watch::Receiver<bool>,
    tls: Option<ServerTls>,
    /// Dropped with the last connection and the acceptor: the keep-alive clock stops.
    _keep_alive_clock: Option<std::sync::mpsc::Sender<()>>,
}

/// Binds 127.0.0.1:`spec.port` and spawns the actor (owning `agent`) and the acceptor into
/// `tasks`. Returns once the listener is bound. With `tls`, it serves `wss://` with
/// mutual TLS.
pub(crate) async fn start(
    agent: Agent,
    rng: StdRng,
    spec: &AgentSpec,
    shutdown: watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
    tls: Option<ServerTls>,
) -> std::io::Result<Started> {
    let (key, path, keep_alive_secs) = (spec.key.as_str(), spec.path.as_str(), spec.keep_alive_secs);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, spec.port)).await?;
    let addr = listener.local_addr()?;
    let agent_eid = agent.endpoint_id().clone();
    let extensions = HeaderValue::from_str(&format!("bbf-usp-protocol; eid=\"{agent_eid}\"")).ok();
    if extensions.is_none() {
        warn!(agent = key, "the agent EID cannot go in a header: no Sec-WebSocket-Extensions");
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(ACTOR_QUEUE);
    let (connected_tx, connected) = watch::channel(Vec::new());
    let core = Arc::new(AgentCore::new(AgentState {
        key: key.to_owned(),
        agent,
        rng,
        conns: HashMap::new(),
        by_eid: HashMap::new(),
        connected: connected_tx,
    }));
    let keep_alive = (keep_alive_secs > 0).then(|| Duration::from_secs(keep_alive_secs));
    let keep_alive_clock = keep_alive.and_then(|period| keepalive::start_clock(Arc::downgrade(&core), period, key));
    let ctx = Arc::new(ServerCtx {
        key: key.to_owned(),
        agent_eid,
        path: path.to_owned(),
        extensions,
        // A small initial read buffer: tungstenite zero-fills all of it before every read
        // attempt (128 KiB by default); it still grows for large messages.
        ws_config: WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .max_message_size(Some(MAX_WS_MESSAGE_SIZE))
            .max_frame_size(Some(MAX_WS_MESSAGE_SIZE)),
        next_conn: AtomicU64::new(1),
        actor: cmd_tx.clone(),
        core: core.clone(),
        shutdown: shutdown.clone(),
        tls,
        _keep_alive_clock: keep_alive_clock,
    });
    let ctx_tls = ctx.tls.is_some();
    tasks.spawn(async move { core.run(cmd_rx, shutdown).await });
    tasks.spawn(accept_loop(listener, ctx));
    info!(agent = key, %addr, path, tls = ctx_tls, "agent listening");
    Ok(Started { addr, cmd: cmd_tx, connected })
}

/// Resolves when the home shuts down (or its handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
