//! One simulated agent on the wire: a WebSocket server on 127.0.0.1 that speaks the USP
//! WebSocket MTP the way the reference agent does (spec notes §6 and §14.4).
//!
//! Tasks of one agent:
//! - the **actor** owns the [`Agent`]. Requests, timers, life ticks and internal edits all
//!   go through its queue, so no lock is ever held across an `.await`. After every step it
//!   drains the agent's outbox and routes each Notify to the connection of its controller;
//! - the **acceptor** takes TCP connections (at most [`MAX_CONNECTIONS`] at once);
//! - per connection, a task runs the handshake and then the **reader** (decodes Records and
//!   forwards Msgs to the actor), plus a **writer** task, the only one that writes frames:
//!   replies in request order, Notifies, keep-alive Pings and close frames.
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
use std::future::pending;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use rand::rngs::StdRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{timeout, timeout_at, Instant, MissedTickBehavior};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{
    HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, warn};
use usp_core::eid::EndpointId;
use usp_proto::usp::Msg;
use usp_proto::usp_record::record::{PayloadSecurity, RecordType};
use usp_proto::usp_record::{DisconnectRecord, Record, WebSocketConnectRecord};

use crate::agent::{Agent, Outgoing};
use crate::scenario::AgentSpec;
use crate::tls::{ControllerPins, Fingerprint};

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
/// Writer queue per connection.
const OUT_QUEUE: usize = 4096;
/// Requests of one connection in the actor or the writer queue at once. Smaller than
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

/// What the writer of a connection sends.
enum Out {
    /// A Msg, wrapped in a no_session_context Record to the connection's controller.
    Msg(Msg, Option<OwnedSemaphorePermit>),
    /// An encoded Record.
    Raw(Vec<u8>),
    /// A close frame, after everything queued before it.
    Close(u16, &'static str),
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
    keep_alive: Option<Duration>,
    ws_config: WebSocketConfig,
    next_conn: AtomicU64,
    actor: mpsc::Sender<Cmd>,
    shutdown: watch::Receiver<bool>,
    tls: Option<ServerTls>,
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
    let ctx = Arc::new(ServerCtx {
        key: key.to_owned(),
        agent_eid,
        path: path.to_owned(),
        extensions,
        keep_alive: (keep_alive_secs > 0).then(|| Duration::from_secs(keep_alive_secs)),
        // A small initial read buffer: tungstenite zero-fills all of it before every read
        // attempt (128 KiB by default); it still grows for large messages.
        ws_config: WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .max_message_size(Some(MAX_WS_MESSAGE_SIZE))
            .max_frame_size(Some(MAX_WS_MESSAGE_SIZE)),
        next_conn: AtomicU64::new(1),
        actor: cmd_tx.clone(),
        shutdown: shutdown.clone(),
        tls,
    });
    let ctx_tls = ctx.tls.is_some();
    let (connected_tx, connected) = watch::channel(Vec::new());
    let actor = Actor {
        key: key.to_owned(),
        agent,
        rng,
        conns: HashMap::new(),
        by_eid: HashMap::new(),
        connected: connected_tx,
    };
    tasks.spawn(actor.run(cmd_rx, shutdown));
    tasks.spawn(accept_loop(listener, ctx));
    info!(agent = key, %addr, path, tls = ctx_tls, "agent listening");
    Ok(Started { addr, cmd: cmd_tx, connected })
}

/// Resolves when the home shuts down (or its handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

// ---------------------------------------------------------------------------------------
// The actor

struct ConnEntry {
    eid: EndpointId,
    out: mpsc::Sender<Out>,
    close: Option<oneshot::Sender<(u16, &'static str)>>,
}

struct Actor {
    key: String,
    agent: Agent,
    rng: StdRng,
    conns: HashMap<u64, ConnEntry>,
    by_eid: HashMap<EndpointId, u64>,
    /// Published list of connected controllers (for [`crate::home::AgentHandle`]).
    connected: watch::Sender<Vec<EndpointId>>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>, mut shutdown: watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(ACTOR_BATCH);
        let mut earliest_timer = Instant::now();
        loop {
            let deadline = self.agent.next_deadline().map(|d| to_instant(d).max(earliest_timer));
            tokio::select! {
                biased;
                () = stopped(&mut shutdown) => break,
                () = sleep_until(deadline) => {
                    self.agent.handle_timeout(SystemTime::now());
                    self.route_outbox();
                    earliest_timer = Instant::now() + TIMER_MIN_GAP;
                }
                n = rx.recv_many(&mut batch, ACTOR_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    let now = SystemTime::now();
                    for cmd in batch.drain(..) {
                        self.handle(cmd, now);
                    }
                }
            }
        }
        debug!(agent = %self.key, "agent actor stopped");
    }

    fn handle(&mut self, cmd: Cmd, now: SystemTime) {
        match cmd {
            Cmd::Msg { conn, msg, permit } => {
                let Some(entry) = self.conns.get(&conn) else {
                    return; // replaced or gone: nobody to answer
                };
                // Whatever a controller sends must not take the agent down: a panic in the
                // brain loses this message only.
                let agent = &mut self.agent;
                let handled =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| agent.handle_msg(&entry.eid, msg, now)));
                match handled {
                    Ok(Some(reply)) => {
                        if let Err(e) = entry.out.try_send(Out::Msg(reply, Some(permit))) {
                            debug!(agent = %self.key, controller = %entry.eid, "reply dropped: {e}");
                        }
                    }
                    Ok(None) => {}
                    Err(_) => {
                        tracing::error!(agent = %self.key, controller = %entry.eid, "the agent panicked on a message: ignored");
                    }
                }
            }
            Cmd::Connected { conn, eid, link } => {
                if let Some(old) = self.by_eid.insert(eid.clone(), conn) {
                    if let Some(mut entry) = self.conns.remove(&old) {
                        info!(agent = %self.key, controller = %eid, "new connection replaces the old one");
                        if let Some(close) = entry.close.take() {
                            let _ = close.send((close::NORMAL, close::REPLACED_REASON));
                        }
                        self.agent.controller_disconnected(&entry.eid);
                    }
                }
                self.agent.controller_connected(&eid);
                self.conns.insert(conn, ConnEntry { eid, out: link.out, close: Some(link.close) });
                self.publish_connected();
            }
            Cmd::Disconnected { conn } => {
                if let Some(entry) = self.conns.remove(&conn) {
                    if self.by_eid.get(&entry.eid) == Some(&conn) {
                        self.by_eid.remove(&entry.eid);
                    }
                    self.agent.controller_disconnected(&entry.eid);
                    self.publish_connected();
                }
            }
            Cmd::Call(f) => f(&mut self.agent, now),
            Cmd::Tick(done) => {
                self.agent.tick(&mut self.rng, now);
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            Cmd::CloseAll(done) => {
                for entry in self.conns.values_mut() {
                    if let Some(close) = entry.close.take() {
                        let _ = close.send((close::GOING_AWAY, close::GOING_AWAY_REASON));
                    }
                }
                let _ = done.send(());
            }
        }
        self.route_outbox();
    }

    fn publish_connected(&self) {
        let mut eids: Vec<EndpointId> = self.by_eid.keys().cloned().collect();
        eids.sort();
        self.connected.send_replace(eids);
    }

    /// Sends each pending Notify to its controller's connection (dropped if it has none).
    fn route_outbox(&mut self) {
        for Outgoing { to, msg } in self.agent.drain_outbox() {
            let Some(entry) = self.by_eid.get(&to).and_then(|conn| self.conns.get(conn)) else {
                debug!(agent = %self.key, controller = %to, "Notify dropped: controller not connected");
                continue;
            };
            if entry.out.capacity() <= MAX_IN_FLIGHT {
                warn!(agent = %self.key, controller = %to, "Notify dropped: controller does not read");
                continue;
            }
            let _ = entry.out.try_send(Out::Msg(msg, None));
        }
    }
}

/// The tokio instant of a wall-clock deadline (now if it is past).
fn to_instant(deadline: SystemTime) -> Instant {
    let now = Instant::now();
    match deadline.duration_since(SystemTime::now()) {
        Ok(ahead) => now.checked_add(ahead).unwrap_or(now + Duration::from_secs(86_400 * 365)),
        Err(_) => now,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => pending().await,
    }
}

// ---------------------------------------------------------------------------------------
// Acceptor and connections

async fn accept_loop(listener: TcpListener, ctx: Arc<ServerCtx>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let busy_slots = Arc::new(Semaphore::new(MAX_BUSY_ANSWERS));
    let mut shutdown = ctx.shutdown.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    if let Ok(slot) = slots.clone().try_acquire_owned() {
                        conns.spawn(serve_connection(tcp, peer, ctx.clone(), slot));
                    } else if let Ok(slot) = busy_slots.clone().try_acquire_owned() {
                        warn!(agent = %ctx.key, %peer, "{MAX_CONNECTIONS} connections already: 503");
                        let tls = ctx.tls.as_ref().map(|t| t.acceptor.clone());
                        conns.spawn(answer_busy(tcp, tls, slot));
                    } else {
                        drop(tcp);
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    warn!(agent = %ctx.key, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    // The connections see the shutdown too and close with 1001; give them a moment.
    let _ =
        timeout(CLOSE_GRACE + Duration::from_millis(500), async { while conns.join_next().await.is_some() {} }).await;
    debug!(agent = %ctx.key, "acceptor stopped");
}

/// Answers HTTP 503 to a connection over [`MAX_CONNECTIONS`] (after the TLS handshake,
/// with TLS).
async fn answer_busy(tcp: TcpStream, tls: Option<TlsAcceptor>, _slot: OwnedSemaphorePermit) {
    const BODY: &str = "too many connections to this USP agent\n";
    let _ = timeout(CLOSE_GRACE, async {
        let mut tcp: Box<dyn Io> = match tls {
            Some(acceptor) => Box::new(acceptor.accept(tcp).await?),
            None => Box::new(tcp),
        };
        // Read the request head first, so that closing does not reset the connection
        // before the client reads the answer.
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let n = tcp.read(&mut buf).await?;
            head.extend_from_slice(buf.get(..n).unwrap_or_default());
            if n == 0 || head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() > 16 * 1024 {
                break;
            }
        }
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await
    })
    .await;
}

/// Drops (aborts) a spawned task with its owner.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// The handshake callback's error type is tungstenite's (an HTTP response).
#[allow(clippy::result_large_err)]
async fn serve_connection(tcp: TcpStream, peer: SocketAddr, ctx: Arc<ServerCtx>, _slot: OwnedSemaphorePermit) {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let (stream, peer_cert): (Box<dyn Io>, Option<PeerCert>) = match &ctx.tls {
        None => (Box::new(tcp), None),
        Some(tls) => match timeout_at(deadline, tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let session = stream.get_ref().1;
                let eid = usp_client::tls::peer_endpoint_id(session);
                let fingerprint = session.peer_certificates().and_then(|c| c.first()).map(|c| Fingerprint::of(c));
                let (Some(eid), Some(fingerprint)) = (eid, fingerprint) else {
                    // The verifier requires a certificate naming one EID: not reached.
                    debug!(agent = %ctx.key, %peer, "TLS client without a usable certificate");
                    return;
                };
                (Box::new(stream), Some(PeerCert { eid, fingerprint }))
            }
            Ok(Err(e)) => {
                debug!(agent = %ctx.key, %peer, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                debug!(agent = %ctx.key, %peer, "TLS handshake timed out");
                return;
            }
        },
    };
    let mut accepted: Option<EndpointId> = None;
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let (resp, eid) = check_handshake(&ctx, req, resp)?;
        if let (Some(cert), Some(tls)) = (&peer_cert, &ctx.tls) {
            check_certificate(&eid, cert, &tls.pins)?;
        }
        accepted = Some(eid);
        Ok(resp)
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ctx.ws_config));
    let ws = match timeout_at(deadline, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            debug!(agent = %ctx.key, %peer, "handshake refused: {e}");
            return;
        }
        Err(_) => {
            debug!(agent = %ctx.key, %peer, "handshake timed out");
            return;
        }
    };
    let Some(eid) = accepted else {
        return;
    };
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    info!(agent = %ctx.key, controller = %eid, conn, %peer, "controller connected");

    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let (close_tx, close_rx) = oneshot::channel();
    // The WebSocketConnect Record goes first, before anything the actor may queue.
    let connect =
        encode_record(eid.as_str(), ctx.agent_eid.as_str(), RecordType::WebsocketConnect(WebSocketConnectRecord {}));
    if out_tx.try_send(Out::Raw(connect)).is_err() {
        return;
    }
    let link = ConnLink { out: out_tx.clone(), close: close_tx };
    if ctx.actor.send(Cmd::Connected { conn, eid: eid.clone(), link }).await.is_err() {
        return; // the agent is stopped
    }

    let (sink, stream) = ws.split();
    let liveness = Arc::new(AtomicU64::new(0));
    let writer = Writer {
        sink,
        out: out_rx,
        close: Some(close_rx),
        shutdown: ctx.shutdown.clone(),
        prefix: record_prefix(eid.as_str(), ctx.agent_eid.as_str()),
        keep_alive: ctx.keep_alive,
        liveness: liveness.clone(),
    };
    let mut writer = AbortOnDrop(tokio::spawn(writer.run()));
    let reader = read_loop(stream, &ctx, conn, &eid, out_tx, liveness);
    tokio::pin!(reader);

    tokio::select! {
        () = &mut reader => {
            // The controller closed (or broke) the connection.
            let _ = ctx.actor.send(Cmd::Disconnected { conn }).await;
            let _ = timeout(CLOSE_GRACE, &mut writer.0).await;
        }
        end = &mut writer.0 => {
            if matches!(end, Ok(WriterEnd::Closing)) {
                // Wait (a little) for the controller's close frame.
                let _ = timeout(CLOSE_GRACE, &mut reader).await;
            }
            let _ = ctx.actor.send(Cmd::Disconnected { conn }).await;
        }
    }
    info!(agent = %ctx.key, controller = %eid, conn, "controller disconnected");
}

/// The handshake checks (the error is the HTTP answer, as tungstenite wants it); on success the 101 response (with `v1.usp` and the extensions
/// header) and the controller's EID.
#[allow(clippy::result_large_err)]
fn check_handshake(
    ctx: &ServerCtx,
    req: &Request,
    mut resp: Response,
) -> Result<(Response, EndpointId), ErrorResponse> {
    let mut protocols = req.headers().get_all(SEC_WEBSOCKET_PROTOCOL).iter();
    let usp = matches!((protocols.next(), protocols.next()),
        (Some(p), None) if p.as_bytes() == USP_SUBPROTOCOL.as_bytes());
    if !usp {
        return Err(http_error(
            StatusCode::BAD_REQUEST,
            format!("a USP agent needs the header 'Sec-WebSocket-Protocol: {USP_SUBPROTOCOL}' (exactly)\n"),
        ));
    }
    if req.uri().path() != ctx.path {
        return Err(http_error(
            StatusCode::NOT_FOUND,
            format!("no USP endpoint at {}: this agent serves {}\n", req.uri().path(), ctx.path),
        ));
    }
    let eid = controller_eid(req.uri().query()).map_err(|why| http_error(StatusCode::BAD_REQUEST, why))?;
    let headers = resp.headers_mut();
    headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(USP_SUBPROTOCOL));
    if let Some(ext) = &ctx.extensions {
        headers.insert(SEC_WEBSOCKET_EXTENSIONS, ext.clone());
    }
    Ok((resp, eid))
}

/// With TLS: the `?eid=` must be the client certificate's EID (R-SEC.0a), and the
/// certificate the one remembered for that EID (TOFU, R-SEC.8; first use pins it).
#[allow(clippy::result_large_err)]
fn check_certificate(eid: &EndpointId, cert: &PeerCert, pins: &ControllerPins) -> Result<(), ErrorResponse> {
    if cert.eid != *eid {
        return Err(http_error(
            StatusCode::FORBIDDEN,
            format!(
                "the client certificate belongs to {}, but the eid query argument says {eid}: \
                 they must be the same Endpoint ID\n",
                cert.eid
            ),
        ));
    }
    pins.admit(eid, cert.fingerprint).map_err(|why| {
        warn!(controller = %eid, "refused: {}", why.trim_end());
        http_error(StatusCode::FORBIDDEN, why)
    })
}

/// The controller EID from the request query (`eid=`, percent-decoded).
fn controller_eid(query: Option<&str>) -> Result<EndpointId, String> {
    let raw = query
        .unwrap_or_default()
        .split('&')
        .find_map(|arg| arg.strip_prefix("eid="))
        .ok_or_else(|| "the controller Endpoint ID must be in the query: ?eid=<EID>\n".to_owned())?;
    let text = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| "the eid query argument is not UTF-8 once percent-decoded\n".to_owned())?;
    EndpointId::from_str(&text).map_err(|e| format!("invalid controller Endpoint ID {text:?}: {e}\n"))
}

fn http_error(status: StatusCode, body: String) -> ErrorResponse {
    let len = body.len();
    let mut resp = ErrorResponse::new(Some(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// What to do with a received binary frame.
#[derive(Debug, PartialEq)]
enum RecordAction {
    Ignore,
    Msg(Msg),
    /// Answer a DisconnectRecord with this code and reason, then close with 1008.
    Disconnect {
        code: u32,
        reason: &'static str,
    },
}

fn classify_record(data: &[u8], agent_eid: &str, controller_eid: &str) -> RecordAction {
    let record = match Record::decode(data) {
        Ok(r) => r,
        Err(e) => {
            debug!("ignoring undecodable record ({} bytes): {e}", data.len());
            return RecordAction::Ignore;
        }
    };
    if record.to_id != agent_eid {
        debug!(to_id = %record.to_id, "ignoring a record for another endpoint");
        return RecordAction::Ignore;
    }
    if record.from_id != controller_eid {
        debug!(from_id = %record.from_id, "ignoring a record whose from_id is not the connection's eid");
        return RecordAction::Ignore;
    }
    match record.record_type {
        Some(RecordType::NoSessionContext(nsc)) => {
            if record.payload_security != PayloadSecurity::Plaintext as i32 {
                // The reference agent rejects encrypted payloads like session contexts.
                return RecordAction::Disconnect {
                    code: DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED,
                    reason: "Session Context not allowed",
                };
            }
            match Msg::decode(nsc.payload.as_slice()) {
                Ok(msg) => RecordAction::Msg(msg),
                Err(e) => {
                    debug!("ignoring a record whose payload is not a USP Msg: {e}");
                    RecordAction::Ignore
                }
            }
        }
        Some(RecordType::SessionContext(_)) => RecordAction::Disconnect {
            code: DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED,
            reason: "Session Context not allowed",
        },
        Some(RecordType::Disconnect(d)) => {
            info!(reason_code = d.reason_code, reason = %d.reason, "the controller sent a DisconnectRecord");
            RecordAction::Disconnect {
                code: DISCONNECT_SESSION_CONTEXT_TERMINATED,
                reason: "Session Context terminated",
            }
        }
        Some(_) | None => {
            debug!("ignoring a record of an unexpected type");
            RecordAction::Ignore
        }
    }
}

async fn read_loop(
    mut stream: SplitStream<WsStream>,
    ctx: &ServerCtx,
    conn: u64,
    eid: &EndpointId,
    out: mpsc::Sender<Out>,
    liveness: Arc<AtomicU64>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // Set once a close is requested: frames are then read (for the close handshake and
    // auto-pongs) but no longer handled.
    let mut closing = false;
    while let Some(frame) = stream.next().await {
        liveness.fetch_add(1, Ordering::Relaxed);
        let frame = match frame {
            Ok(frame) => frame,
            Err(WsError::Capacity(e)) => {
                warn!(agent = %ctx.key, controller = %eid, "closing: {e}");
                let _ = out.send(Out::Close(close::TOO_BIG, "USP record larger than 5 MiB")).await;
                return;
            }
            Err(e) => {
                debug!(agent = %ctx.key, controller = %eid, "connection error: {e}");
                return;
            }
        };
        if closing {
            continue;
        }
        match frame {
            WsMessage::Binary(data) => match classify_record(&data, ctx.agent_eid.as_str(), eid.as_str()) {
                RecordAction::Ignore => {}
                RecordAction::Msg(msg) => {
                    let Ok(permit) = in_flight.clone().acquire_owned().await else {
                        return;
                    };
                    if ctx.actor.send(Cmd::Msg { conn, msg, permit }).await.is_err() {
                        return;
                    }
                }
                RecordAction::Disconnect { code, reason } => {
                    let record = encode_record(
                        eid.as_str(),
                        ctx.agent_eid.as_str(),
                        RecordType::Disconnect(DisconnectRecord { reason: reason.to_owned(), reason_code: code }),
                    );
                    if out.send(Out::Raw(record)).await.is_err()
                        || out.send(Out::Close(close::POLICY, reason)).await.is_err()
                    {
                        return;
                    }
                    closing = true;
                }
            },
            WsMessage::Text(_) => {
                debug!(agent = %ctx.key, controller = %eid, "text frame: closing with 1003");
                if out.send(Out::Close(close::UNSUPPORTED_DATA, close::TEXT_REASON)).await.is_err() {
                    return;
                }
                closing = true;
            }
            // Pongs to our Pings are counted above; tungstenite answers Pings and Close.
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Close(_) | WsMessage::Frame(_) => {}
        }
    }
}

/// How a writer ended.
enum WriterEnd {
    /// It sent a close frame: the reader may wait for the controller's answer.
    Closing,
    /// The connection is gone (or must be dropped without a close frame).
    Dropped,
}

struct Writer {
    sink: SplitSink<WsStream, WsMessage>,
    out: mpsc::Receiver<Out>,
    close: Option<oneshot::Receiver<(u16, &'static str)>>,
    shutdown: watch::Receiver<bool>,
    /// The encoded `version`, `to_id` and `from_id` of every Record of this connection.
    prefix: Vec<u8>,
    keep_alive: Option<Duration>,
    /// Frames received so far (read by the keep-alive check).
    liveness: Arc<AtomicU64>,
}

impl Writer {
    async fn run(mut self) -> WriterEnd {
        let mut pings = self.keep_alive.map(|period| {
            let mut pings = tokio::time::interval_at(Instant::now() + period, period);
            pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
            pings
        });
        let mut counter: u8 = 0;
        let mut unanswered: u32 = 0;
        let mut seen = self.liveness.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut self.shutdown) => {
                    return self.close(close::GOING_AWAY, close::GOING_AWAY_REASON).await;
                }
                asked = async {
                    match self.close.as_mut() {
                        Some(rx) => rx.await,
                        None => pending().await,
                    }
                } => {
                    self.close = None;
                    if let Ok((code, reason)) = asked {
                        return self.close(code, reason).await;
                    }
                }
                first = self.out.recv() => {
                    let Some(first) = first else {
                        return WriterEnd::Dropped; // the reader and the actor are done
                    };
                    match timeout(WRITE_STALL_TIMEOUT, self.write_batch(first)).await {
                        Ok(None) => {}
                        Ok(Some(end)) => return end,
                        Err(_) => {
                            warn!("the controller reads nothing: dropping the connection");
                            return WriterEnd::Dropped;
                        }
                    }
                }
                _ = async {
                    match pings.as_mut() {
                        Some(p) => p.tick().await,
                        None => pending().await,
                    }
                } => {
                    let now_seen = self.liveness.load(Ordering::Relaxed);
                    if now_seen != seen {
                        seen = now_seen;
                        unanswered = 0;
                    }
                    if unanswered >= MAX_MISSED_PONGS {
                        warn!("no answer to {MAX_MISSED_PONGS} websocket pings: dropping the connection");
                        return WriterEnd::Dropped;
                    }
                    counter = counter.wrapping_add(1);
                    unanswered += 1;
                    let ping = self.sink.send(WsMessage::Ping(vec![counter].into()));
                    if !matches!(timeout(WRITE_STALL_TIMEOUT, ping).await, Ok(Ok(()))) {
                        return WriterEnd::Dropped;
                    }
                }
            }
        }
    }

    /// Writes `first` and whatever else is queued (up to [`WRITE_BATCH`]), then flushes.
    async fn write_batch(&mut self, first: Out) -> Option<WriterEnd> {
        let mut item = first;
        let mut written = 0;
        loop {
            let frame = match item {
                Out::Msg(msg, _permit) => encode_no_session(&self.prefix, &msg),
                Out::Raw(bytes) => bytes,
                Out::Close(code, reason) => return Some(self.close(code, reason).await),
            };
            if self.sink.feed(WsMessage::Binary(frame.into())).await.is_err() {
                return Some(WriterEnd::Dropped);
            }
            written += 1;
            if written >= WRITE_BATCH {
                break;
            }
            match self.out.try_recv() {
                Ok(next) => item = next,
                Err(_) => break,
            }
        }
        if self.sink.flush().await.is_err() {
            return Some(WriterEnd::Dropped);
        }
        None
    }

    async fn close(&mut self, code: u16, reason: &'static str) -> WriterEnd {
        let frame = CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) };
        match timeout(CLOSE_GRACE, self.sink.send(WsMessage::Close(Some(frame)))).await {
            Ok(Ok(())) => WriterEnd::Closing,
            Ok(Err(_)) | Err(_) => WriterEnd::Dropped,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Record encoding

/// The encoded `version`, `to_id` and `from_id` fields (protobuf fields 1-3, which come
/// before the `record_type` oneof in field order).
fn record_prefix(to_id: &str, from_id: &str) -> Vec<u8> {
    Record {
        version: RECORD_VERSION.to_owned(),
        to_id: to_id.to_owned(),
        from_id: from_id.to_owned(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `prefix` + `no_session_context { payload: msg }`, in one buffer, without encoding `msg`
/// twice. Decodes to the same Record prost would encode.
fn encode_no_session(prefix: &[u8], msg: &Msg) -> Vec<u8> {
    use prost::encoding::{encode_varint, encoded_len_varint};
    // Record field 7 (no_session_context), NoSessionContextRecord field 2 (payload), both
    // length-delimited: keys (7 << 3 | 2) and (2 << 3 | 2).
    const NO_SESSION_CONTEXT_KEY: u8 = 0x3a;
    const PAYLOAD_KEY: u8 = 0x12;
    let msg_len = msg.encoded_len();
    let inner_len = 1 + encoded_len_varint(msg_len as u64) + msg_len;
    let total = prefix.len() + 1 + encoded_len_varint(inner_len as u64) + inner_len;
    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(prefix);
    buf.push(NO_SESSION_CONTEXT_KEY);
    encode_varint(inner_len as u64, &mut buf);
    buf.push(PAYLOAD_KEY);
    encode_varint(msg_len as u64, &mut buf);
    // A Vec grows as needed: encoding into it cannot fail.
    if let Err(e) = msg.encode(&mut buf) {
        warn!("cannot encode a USP Msg: {e}");
    }
    buf
}

/// A whole Record from this agent.
fn encode_record(to_id: &str, from_id: &str, record_type: RecordType) -> Vec<u8> {
    Record {
        version: RECORD_VERSION.to_owned(),
        to_id: to_id.to_owned(),
        from_id: from_id.to_owned(),
        record_type: Some(record_type),
        ..Default::default()
    }
    .encode_to_vec()
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use prost::Message as _;
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::handshake::client::Response;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
    use tokio_tungstenite::WebSocketStream;
    use usp_core::eid::EndpointId;
    use usp_proto::usp::{self, body::MsgBody, header::MsgType, request::ReqType, response::RespType, Msg};
    use usp_proto::usp_record::record::RecordType;
    use usp_proto::usp_record::{NoSessionContextRecord, Record, SessionContextRecord};

    use super::*;
    use crate::agent::UnknownControllerPolicy;
    use crate::home::{Home, HomeConfig};
    use crate::scenario::Scenario;

    pub(crate) const AGENT: &str = "proto::sim-test-gw";
    pub(crate) const CTRL: &str = "self::test-ctrl";
    pub(crate) const WAIT: Duration = Duration::from_secs(10);

    pub(crate) type Client = WebSocketStream<TcpStream>;

    pub(crate) fn scenario(keep_alive_secs: u64) -> Scenario {
        Scenario::from_json(&format!(
            r#"{{"seed": 1, "agents": [{{
                "key": "gw", "endpoint_id": "{AGENT}", "port": 0, "path": "/usp",
                "keep_alive_secs": {keep_alive_secs}, "unknown_controllers": "ignore",
                "controllers": [{{"endpoint_id": "{CTRL}", "role": "Full Access"}}],
                "data": {{"Device.DeviceInfo.": {{"FriendlyName": "Test gateway"}}}} }}]}}"#
        ))
        .unwrap()
    }

    pub(crate) async fn start(keep_alive_secs: u64) -> Home {
        Home::start(HomeConfig::new(scenario(keep_alive_secs))).await.unwrap()
    }

    pub(crate) fn addr(home: &Home) -> SocketAddr {
        home.agents()[0].addr
    }

    /// A raw handshake to `target` (path and query) with an optional subprotocol header.
    pub(crate) async fn open(
        addr: SocketAddr,
        target: &str,
        protocol: Option<&str>,
    ) -> Result<(Client, Response), WsError> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut req = format!("ws://{addr}{target}").into_client_request().unwrap();
        if let Some(p) = protocol {
            req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
        }
        timeout(WAIT, tokio_tungstenite::client_async_with_config(req, tcp, None)).await.unwrap()
    }

    /// Connects as `eid` and checks the WebSocketConnect Record comes first.
    pub(crate) async fn connect_as(addr: SocketAddr, eid: &str) -> (Client, Response) {
        let (mut ws, resp) = open(addr, &format!("/usp?eid={eid}"), Some(USP_SUBPROTOCOL)).await.unwrap();
        let rec = next_record(&mut ws).await;
        assert_eq!(rec.version, RECORD_VERSION);
        assert_eq!(rec.to_id, eid);
        assert_eq!(rec.from_id, AGENT);
        assert!(matches!(rec.record_type, Some(RecordType::WebsocketConnect(_))), "{rec:?}");
        (ws, resp)
    }

    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        connect_as(addr, CTRL).await.0
    }

    /// The next data or close frame (Pings and Pongs skipped).
    pub(crate) async fn next_frame<S: AsyncRead + AsyncWrite + Unpin>(
        ws: &mut WebSocketStream<S>,
    ) -> Option<WsMessage> {
        loop {
            match timeout(WAIT, ws.next()).await.expect("a frame in time") {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub(crate) async fn next_record<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Record {
        match next_frame(ws).await {
            Some(WsMessage::Binary(b)) => Record::decode(&b[..]).unwrap(),
            other => panic!("expected a binary record, got {other:?}"),
        }
    }

    pub(crate) async fn next_msg<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Msg {
        let rec = next_record(ws).await;
        assert_eq!(rec.version, RECORD_VERSION);
        assert_eq!(rec.from_id, AGENT);
        match rec.record_type {
            Some(RecordType::NoSessionContext(nsc)) => Msg::decode(&nsc.payload[..]).unwrap(),
            other => panic!("expected no_session_context, got {other:?}"),
        }
    }

    /// Expects a close frame with this code (and then the end of the stream).
    pub(crate) async fn expect_close<S: AsyncRead + AsyncWrite + Unpin>(
        ws: &mut WebSocketStream<S>,
        code: u16,
    ) -> String {
        match next_frame(ws).await {
            Some(WsMessage::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), code, "{frame:?}");
                frame.reason.to_string()
            }
            other => panic!("expected close {code}, got {other:?}"),
        }
    }

    pub(crate) fn request(msg_id: &str, t: MsgType, req: ReqType) -> Msg {
        Msg {
            header: Some(usp::Header { msg_id: msg_id.to_owned(), msg_type: t as i32 }),
            body: Some(usp::Body { msg_body: Some(MsgBody::Request(usp::Request { req_type: Some(req) })) }),
        }
    }

    pub(crate) fn get(msg_id: &str, path: &str) -> Msg {
        request(msg_id, MsgType::Get, ReqType::Get(usp::Get { param_paths: vec![path.to_owned()], max_depth: 0 }))
    }

    pub(crate) fn record(from: &str, to: &str, record_type: RecordType) -> Vec<u8> {
        Record {
            version: "1.4".to_owned(),
            to_id: to.to_owned(),
            from_id: from.to_owned(),
            record_type: Some(record_type),
            ..Default::default()
        }
        .encode_to_vec()
    }

    pub(crate) fn wrap(from: &str, to: &str, msg: &Msg) -> Vec<u8> {
        record(from, to, RecordType::NoSessionContext(NoSessionContextRecord { payload: msg.encode_to_vec() }))
    }

    pub(crate) async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, bytes: Vec<u8>) {
        ws.send(WsMessage::Binary(bytes.into())).await.unwrap();
    }

    pub(crate) fn get_resp_value(msg: &Msg, param: &str) -> Option<String> {
        let Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::GetResp(resp)) })) =
            msg.body.as_ref().and_then(|b| b.msg_body.clone())
        else {
            panic!("expected a GetResp, got {msg:?}");
        };
        resp.req_path_results
            .iter()
            .flat_map(|r| r.resolved_path_results.iter())
            .find_map(|r| r.result_params.get(param).cloned())
    }

    pub(crate) fn msg_id(msg: &Msg) -> &str {
        msg.header.as_ref().map(|h| h.msg_id.as_str()).unwrap_or_default()
    }

    #[test]
    fn no_session_context_encoding_matches_prost() {
        let msg = get("m-1", "Device.DeviceInfo.");
        let ours = encode_no_session(&record_prefix("self::c", AGENT), &msg);
        let theirs = Record {
            version: RECORD_VERSION.to_owned(),
            to_id: "self::c".to_owned(),
            from_id: AGENT.to_owned(),
            record_type: Some(RecordType::NoSessionContext(NoSessionContextRecord { payload: msg.encode_to_vec() })),
            ..Default::default()
        };
        assert_eq!(ours, theirs.encode_to_vec());
        assert_eq!(Record::decode(&ours[..]).unwrap(), theirs);
        // A big Msg: multi-byte length varints.
        let big = get("m-2", &"x".repeat(300_000));
        let ours = encode_no_session(&record_prefix("self::c", AGENT), &big);
        let rec = Record::decode(&ours[..]).unwrap();
        let Some(RecordType::NoSessionContext(nsc)) = rec.record_type else { panic!() };
        assert_eq!(Msg::decode(&nsc.payload[..]).unwrap(), big);
    }

    #[test]
    fn websocket_connect_record_bytes_are_like_the_reference_agent() {
        let bytes = encode_record(
            "self::usp-home-test",
            "proto::obuspa-test-agent",
            RecordType::WebsocketConnect(WebSocketConnectRecord {}),
        );
        let mut want = vec![0x0a, 3];
        want.extend_from_slice(b"1.3");
        want.extend_from_slice(&[0x12, 0x13]);
        want.extend_from_slice(b"self::usp-home-test");
        want.extend_from_slice(&[0x1a, 0x18]);
        want.extend_from_slice(b"proto::obuspa-test-agent");
        want.extend_from_slice(&[0x4a, 0x00]);
        assert_eq!(bytes, want);
        assert_eq!(bytes.len(), 54);
    }

    #[test]
    fn records_are_classified() {
        let get = get("1", "Device.");
        let ok = wrap(CTRL, AGENT, &get);
        assert_eq!(classify_record(&ok, AGENT, CTRL), RecordAction::Msg(get.clone()));
        assert_eq!(classify_record(b"\xff\xff\xff garbage", AGENT, CTRL), RecordAction::Ignore);
        assert_eq!(classify_record(&wrap(CTRL, "self::other", &get), AGENT, CTRL), RecordAction::Ignore);
        assert_eq!(classify_record(&wrap("self::other", AGENT, &get), AGENT, CTRL), RecordAction::Ignore);
        let bad_payload =
            record(CTRL, AGENT, RecordType::NoSessionContext(NoSessionContextRecord { payload: vec![0xff, 0xff] }));
        assert_eq!(classify_record(&bad_payload, AGENT, CTRL), RecordAction::Ignore);
        let no_type = Record { version: "1.3".into(), to_id: AGENT.into(), from_id: CTRL.into(), ..Default::default() };
        assert_eq!(classify_record(&no_type.encode_to_vec(), AGENT, CTRL), RecordAction::Ignore);
        let session = record(CTRL, AGENT, RecordType::SessionContext(SessionContextRecord::default()));
        assert!(matches!(classify_record(&session, AGENT, CTRL), RecordAction::Disconnect { code: 7106, .. }));
        let mut encrypted = Record::decode(&ok[..]).unwrap();
        encrypted.payload_security = PayloadSecurity::Tls12 as i32;
        assert!(matches!(
            classify_record(&encrypted.encode_to_vec(), AGENT, CTRL),
            RecordAction::Disconnect { code: 7106, .. }
        ));
        let disconnect =
            record(CTRL, AGENT, RecordType::Disconnect(DisconnectRecord { reason: "bye".into(), reason_code: 7105 }));
        assert!(matches!(classify_record(&disconnect, AGENT, CTRL), RecordAction::Disconnect { code: 7105, .. }));
        let connect = record(CTRL, AGENT, RecordType::WebsocketConnect(WebSocketConnectRecord {}));
        assert_eq!(classify_record(&connect, AGENT, CTRL), RecordAction::Ignore);
    }

    #[test]
    fn eid_query_argument() {
        assert_eq!(controller_eid(Some("eid=self::a")).unwrap().as_str(), "self::a");
        assert_eq!(controller_eid(Some("x=1&eid=self%3A%3Aa&y=2")).unwrap().as_str(), "self::a");
        assert_eq!(controller_eid(Some("eid=self::a%2541")).unwrap().as_str(), "self::a%41");
        assert!(controller_eid(None).is_err());
        assert!(controller_eid(Some("eid=")).is_err());
        assert!(controller_eid(Some("eid=not%20an%20eid")).is_err());
        assert!(controller_eid(Some("eid=%ff%fe")).is_err());
    }

    #[tokio::test]
    async fn handshake_connect_record_and_get() {
        let home = start(30).await;
        let (mut ws, resp) = connect_as(addr(&home), CTRL).await;
        let headers = resp.headers();
        assert_eq!(headers.get("sec-websocket-protocol").unwrap(), "v1.usp");
        assert_eq!(headers.get("sec-websocket-extensions").unwrap(), &format!("bbf-usp-protocol; eid=\"{AGENT}\""));
        send(&mut ws, wrap(CTRL, AGENT, &get("get-1", "Device.DeviceInfo.FriendlyName"))).await;
        let reply = next_msg(&mut ws).await;
        assert_eq!(msg_id(&reply), "get-1");
        assert_eq!(get_resp_value(&reply, "FriendlyName").as_deref(), Some("Test gateway"));
        assert_eq!(home.agents()[0].connected_controllers(), vec![CTRL.parse::<EndpointId>().unwrap()]);
        home.shutdown().await;
    }

    #[tokio::test]
    async fn percent_encoded_eid_is_accepted() {
        let home = start(30).await;
        let (mut ws, _) = open(addr(&home), "/usp?eid=self%3A%3Atest-ctrl", Some("v1.usp")).await.unwrap();
        let rec = next_record(&mut ws).await;
        assert_eq!(rec.to_id, CTRL);
        send(&mut ws, wrap(CTRL, AGENT, &get("g", "Device.DeviceInfo.FriendlyName"))).await;
        assert_eq!(msg_id(&next_msg(&mut ws).await), "g");
    }

    fn http_status(result: Result<(Client, Response), WsError>) -> (u16, String) {
        match result {
            Err(WsError::Http(resp)) => {
                let body = resp.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
                (resp.status().as_u16(), body)
            }
            Err(e) => panic!("expected an HTTP error, got {e}"),
            Ok(_) => panic!("expected an HTTP error, got a connection"),
        }
    }

    #[tokio::test]
    async fn bad_handshakes_are_rejected_with_a_clear_answer() {
        let home = start(30).await;
        let a = addr(&home);
        let target = format!("/usp?eid={CTRL}");
        let (status, body) = http_status(open(a, &target, None).await);
        assert_eq!(status, 400);
        assert!(body.contains("Sec-WebSocket-Protocol: v1.usp"), "{body}");
        assert_eq!(http_status(open(a, &target, Some("v1.usp, v2.usp")).await).0, 400);
        assert_eq!(http_status(open(a, &target, Some("v2.usp")).await).0, 400);
        let (status, body) = http_status(open(a, &format!("/wrong?eid={CTRL}"), Some("v1.usp")).await);
        assert_eq!(status, 404);
        assert!(body.contains("/wrong") && body.contains("/usp"), "{body}");
        let (status, body) = http_status(open(a, "/usp", Some("v1.usp")).await);
        assert_eq!(status, 400);
        assert!(body.contains("eid"), "{body}");
        assert_eq!(http_status(open(a, "/usp?eid=garbage", Some("v1.usp")).await).0, 400);
        // Still serving.
        let mut ws = connect(a).await;
        send(&mut ws, wrap(CTRL, AGENT, &get("after", "Device.DeviceInfo.FriendlyName"))).await;
        assert_eq!(msg_id(&next_msg(&mut ws).await), "after");
        assert!(home.agents()[0].connected_controllers().len() == 1);
    }

    #[tokio::test]
    async fn text_frame_closes_with_1003() {
        let home = start(30).await;
        let mut ws = connect(addr(&home)).await;
        ws.send(WsMessage::Text("hello".into())).await.unwrap();
        let reason = expect_close(&mut ws, 1003).await;
        assert_eq!(reason, "USP records travel in binary frames");
        let eid: EndpointId = CTRL.parse().unwrap();
        assert!(home.agents()[0].wait_disconnected(&eid, WAIT).await);
    }

    #[tokio::test]
    async fn garbage_and_foreign_records_are_ignored() {
        let home = start(30).await;
        let mut ws = connect(addr(&home)).await;
        send(&mut ws, b"\x00\x01garbage\xff".to_vec()).await;
        send(&mut ws, Vec::new()).await;
        send(&mut ws, wrap(CTRL, "self::someone-else", &get("wrong-to", "Device."))).await;
        send(&mut ws, wrap("self::spoofed", AGENT, &get("wrong-from", "Device."))).await;
        let bad = record(CTRL, AGENT, RecordType::NoSessionContext(NoSessionContextRecord { payload: vec![0xff; 7] }));
        send(&mut ws, bad).await;
        send(&mut ws, wrap(CTRL, AGENT, &get("good", "Device.DeviceInfo.FriendlyName"))).await;
        // Replies keep the order of the requests: the first one is for "good".
        let reply = next_msg(&mut ws).await;
        assert_eq!(msg_id(&reply), "good");
    }

    #[tokio::test]
    async fn second_connection_replaces_the_first() {
        let home = start(30).await;
        let mut first = connect(addr(&home)).await;
        let mut second = connect(addr(&home)).await;
        let reason = expect_close(&mut first, 1000).await;
        assert_eq!(reason, "replaced by a new connection");
        assert!(next_frame(&mut first).await.is_none());
        send(&mut second, wrap(CTRL, AGENT, &get("2", "Device.DeviceInfo.FriendlyName"))).await;
        assert_eq!(msg_id(&next_msg(&mut second).await), "2");
        assert_eq!(home.agents()[0].connected_controllers().len(), 1);
    }

    async fn expect_disconnect(ws: &mut Client, code: u32) {
        let rec = next_record(ws).await;
        assert_eq!(rec.to_id, CTRL);
        match rec.record_type {
            Some(RecordType::Disconnect(d)) => assert_eq!(d.reason_code, code, "{d:?}"),
            other => panic!("expected a DisconnectRecord, got {other:?}"),
        }
        expect_close(ws, 1008).await;
    }

    #[tokio::test]
    async fn session_context_gets_disconnect_7106() {
        let home = start(30).await;
        let mut ws = connect(addr(&home)).await;
        let session = SessionContextRecord {
            session_id: 1,
            sequence_id: 1,
            expected_id: 1,
            payload: vec![get("s", "Device.").encode_to_vec()],
            ..Default::default()
        };
        send(&mut ws, record(CTRL, AGENT, RecordType::SessionContext(session))).await;
        expect_disconnect(&mut ws, 7106).await;
    }

    #[tokio::test]
    async fn disconnect_record_gets_disconnect_7105() {
        let home = start(30).await;
        let mut ws = connect(addr(&home)).await;
        let bye = DisconnectRecord { reason: "bye".into(), reason_code: 7105 };
        send(&mut ws, record(CTRL, AGENT, RecordType::Disconnect(bye))).await;
        expect_disconnect(&mut ws, 7105).await;
    }

    #[tokio::test]
    async fn pings_are_answered_and_sent() {
        let home = start(1).await;
        let mut ws = connect(addr(&home)).await;
        ws.send(WsMessage::Ping(b"abc".to_vec().into())).await.unwrap();
        let (mut pong, mut ping) = (None, None);
        while pong.is_none() || ping.is_none() {
            match timeout(WAIT, ws.next()).await.unwrap() {
                Some(Ok(WsMessage::Pong(p))) => pong = Some(p.to_vec()),
                Some(Ok(WsMessage::Ping(p))) => ping = ping.or(Some(p.to_vec())),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(pong.unwrap(), b"abc");
        assert_eq!(ping.unwrap(), vec![1u8], "1-byte counter, starting at 1");
        // Reading answers the agent's pings: the connection stays up.
        send(&mut ws, wrap(CTRL, AGENT, &get("alive", "Device.DeviceInfo.FriendlyName"))).await;
        assert_eq!(msg_id(&next_msg(&mut ws).await), "alive");
    }

    #[tokio::test]
    async fn silent_connection_is_dropped_after_three_pings() {
        let home = start(1).await;
        let _ws = connect(addr(&home)).await; // never read again: no pongs
        let eid: EndpointId = CTRL.parse().unwrap();
        let handle = &home.agents()[0];
        assert!(handle.wait_connected(&eid, WAIT).await);
        assert!(handle.wait_disconnected(&eid, WAIT).await, "dropped after ~4 s");
    }

    #[tokio::test]
    async fn notify_after_internal_set() {
        let home = start(30).await;
        let mut ws = connect(addr(&home)).await;
        let add = request(
            "sub",
            MsgType::Add,
            ReqType::Add(usp::Add {
                allow_partial: false,
                create_objs: vec![usp::add::CreateObject {
                    obj_path: "Device.LocalAgent.Subscription.".into(),
                    param_settings: [
                        ("Enable", "true"),
                        ("ID", "vc-1"),
                        ("NotifType", "ValueChange"),
                        ("ReferenceList", "Device.DeviceInfo.FriendlyName"),
                    ]
                    .into_iter()
                    .map(|(p, v)| usp::add::CreateParamSetting { param: p.into(), value: v.into(), required: true })
                    .collect(),
                }],
            }),
        );
        send(&mut ws, wrap(CTRL, AGENT, &add)).await;
        let reply = next_msg(&mut ws).await;
        assert_eq!(msg_id(&reply), "sub");
        assert!(
            matches!(
                reply.body.as_ref().and_then(|b| b.msg_body.as_ref()),
                Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::AddResp(_)) }))
            ),
            "{reply:?}"
        );
        let gw = home.agent("gw").unwrap();
        gw.set("Device.DeviceInfo.FriendlyName", "Renamed gateway").await.unwrap();
        assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Renamed gateway"));
        let notify = next_msg(&mut ws).await;
        let Some(MsgBody::Request(usp::Request { req_type: Some(ReqType::Notify(n)) })) =
            notify.body.and_then(|b| b.msg_body)
        else {
            panic!("expected a Notify");
        };
        assert_eq!(n.subscription_id, "vc-1");
        match n.notification {
            Some(usp::notify::Notification::ValueChange(vc)) => {
                assert_eq!(vc.param_path, "Device.DeviceInfo.FriendlyName");
                assert_eq!(vc.param_value, "Renamed gateway");
            }
            other => panic!("expected a ValueChange, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_order() {
        const N: usize = 3000;
        let home = start(30).await;
        let ws = connect(addr(&home)).await;
        let (mut sink, mut stream) = ws.split();
        let sender = tokio::spawn(async move {
            for i in 0..N {
                let bytes = wrap(CTRL, AGENT, &get(&i.to_string(), "Device.DeviceInfo.FriendlyName"));
                sink.feed(WsMessage::Binary(bytes.into())).await.unwrap();
            }
            sink.flush().await.unwrap();
            sink
        });
        let started = std::time::Instant::now();
        let mut got = 0;
        while got < N {
            match timeout(WAIT, stream.next()).await.unwrap() {
                Some(Ok(WsMessage::Binary(b))) => {
                    let rec = Record::decode(&b[..]).unwrap();
                    let Some(RecordType::NoSessionContext(nsc)) = rec.record_type else { panic!() };
                    let msg = Msg::decode(&nsc.payload[..]).unwrap();
                    assert_eq!(msg_id(&msg), got.to_string());
                    got += 1;
                }
                Some(Ok(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let elapsed = started.elapsed();
        let build = if cfg!(debug_assertions) { "debug" } else { "release" };
        eprintln!("{N} pipelined Gets in {elapsed:?} ({:.0}/s, {build} build)", N as f64 / elapsed.as_secs_f64());
        let _ = sender.await.unwrap();
    }

    #[tokio::test]
    async fn unknown_controllers_under_the_untrusted_override_get_answers() {
        let mut config = HomeConfig::new(scenario(30));
        config.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
        let home = Home::start(config).await.unwrap();
        let stranger = "self::stranger";
        let (mut ws, _) = connect_as(addr(&home), stranger).await;
        send(&mut ws, wrap(stranger, AGENT, &get("who", "Device.DeviceInfo.FriendlyName"))).await;
        let rec = next_record(&mut ws).await;
        assert_eq!(rec.to_id, stranger);
        let Some(RecordType::NoSessionContext(nsc)) = rec.record_type else { panic!() };
        assert_eq!(msg_id(&Msg::decode(&nsc.payload[..]).unwrap()), "who");
    }

    #[tokio::test]
    async fn at_most_16_connections() {
        let home = start(30).await;
        let mut clients = Vec::new();
        for i in 0..MAX_CONNECTIONS {
            clients.push(connect_as(addr(&home), &format!("self::c{i}")).await.0);
        }
        let (status, body) = http_status(open(addr(&home), "/usp?eid=self::c99", Some("v1.usp")).await);
        assert_eq!(status, 503);
        assert!(body.contains("too many"), "{body}");
        // One leaves: a slot frees up.
        let mut leaving = clients.pop().unwrap();
        leaving.close(None).await.unwrap();
        while next_frame(&mut leaving).await.is_some() {}
        let eid: EndpointId = format!("self::c{}", MAX_CONNECTIONS - 1).parse().unwrap();
        assert!(home.agents()[0].wait_disconnected(&eid, WAIT).await);
        // The slot is released when the connection task ends, just after.
        let mut ok = false;
        for _ in 0..100 {
            if open(addr(&home), "/usp?eid=self::c99", Some("v1.usp")).await.is_ok() {
                ok = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(ok, "a slot freed up");
    }

    #[tokio::test]
    async fn oversized_message_closes_the_connection() {
        let home = start(30).await;
        let ws = connect(addr(&home)).await;
        let (mut sink, mut stream) = ws.split();
        let sender = tokio::spawn(async move {
            let _ = sink.send(WsMessage::Binary(vec![0u8; MAX_WS_MESSAGE_SIZE + 1].into())).await;
        });
        // Either the close frame (1009) or a reset: never a hang, never a reply.
        loop {
            match timeout(WAIT, stream.next()).await.unwrap() {
                Some(Ok(WsMessage::Close(Some(frame)))) => {
                    assert_eq!(u16::from(frame.code), close::TOO_BIG);
                    break;
                }
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(other)) => panic!("unexpected {other:?}"),
                Some(Err(_)) | None => break,
            }
        }
        let _ = sender.await;
        // The agent still serves.
        let mut ws = connect(addr(&home)).await;
        send(&mut ws, wrap(CTRL, AGENT, &get("ok", "Device.DeviceInfo.FriendlyName"))).await;
        assert_eq!(msg_id(&next_msg(&mut ws).await), "ok");
    }

    #[tokio::test]
    async fn shutdown_closes_with_1001_and_stops_listening() {
        let home = start(30).await;
        let a = addr(&home);
        let mut ws = connect(a).await;
        let stopping = tokio::spawn(home.shutdown());
        let reason = expect_close(&mut ws, 1001).await;
        assert_eq!(reason, "going away");
        timeout(WAIT, stopping).await.unwrap().unwrap();
        assert!(TcpStream::connect(a).await.is_err(), "no longer listening");
    }
}
