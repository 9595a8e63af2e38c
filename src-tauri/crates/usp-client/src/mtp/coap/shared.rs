//! One CoAP endpoint for every agent: a single UDP socket at a fixed address, the one a
//! device is configured to send its Notifies to (`Controller.{i}.MTP.{i}.CoAP.Host/Port/
//! Path`), shared by the sessions with all CoAP agents.
//!
//! A CoAP agent has no connection to answer on: it POSTs its answers and Notifies to the
//! controller's resource. Per-session sockets (the default [`super::CoapConnector`]) are
//! fine for answers, which go to the `reply-to` of each request, but a device sends its
//! Notifies to the address configured for its controller, which must therefore stay the
//! same across sessions and for every device: this endpoint.
//!
//! Which session a Record belongs to: the session whose agent resource equals the Record's
//! `reply-to` (an agent names its own resource there), else the session with the Record's
//! `from_id`, else the only session with an agent at the sender's IP address. A Record that
//! matches no session is dropped and counted ([`CoapEndpoint::unrouted`]). CoAP without
//! DTLS authenticates nobody: the Link above still checks that a Record comes from the
//! agent of its session, but anyone on the LAN can send as that agent (as the README says).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};
use usp_core::text::for_log;
use usp_core::wire::Limits;

use super::engine::{Engine, Event, Post, Settings};
use super::transport::{agent_of, check_answers, route_to, DATAGRAM_BUFFER, MAX_REPLY_TO, REFUSALS_LOST};
use super::uri::CoapUri;
use crate::error::ConnectError;
use crate::mtp::{BoxFuture, Carrier, Close, Handshake, Inbound, Mtp, Opened, Outbound, Transport};
use crate::ClientConfig;

/// Items waiting in one session's inbox at most (the driver reads them at once; an inbox
/// this full means the session is stuck, and more would only grow memory).
const MAX_INBOX: usize = 128;

/// usp-home's CoAP endpoint: one UDP socket for the sessions with every CoAP agent (see the
/// module docs). Cheap to clone; the socket closes when the last clone is dropped, and the
/// sessions still open through it are then lost.
#[derive(Clone)]
pub struct CoapEndpoint {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for CoapEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoapEndpoint").field("local", &self.handle.shared.local).finish_non_exhaustive()
    }
}

struct Handle {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.task.abort();
        let mut state = self.shared.lock();
        state.closed = true;
        for s in state.sessions.values_mut() {
            s.wake_all();
        }
    }
}

struct Shared {
    socket: UdpSocket,
    local: SocketAddr,
    path: Vec<String>,
    limits: Limits,
    state: Mutex<State>,
    /// Wakes the endpoint's task: datagrams to send, or a new timer.
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct State {
    engine: Engine,
    sessions: HashMap<u64, Session>,
    next_id: u64,
    closed: bool,
    /// Records that matched no session.
    unrouted: u64,
    /// Records dropped because their session's inbox was full.
    overflow: u64,
    warned: u64,
}

struct Session {
    target: SocketAddr,
    agent_path: Vec<String>,
    agent_id: String,
    /// When the session was opened (the newest wins when several match a Record).
    opened: u64,
    inbox: VecDeque<Inbound>,
    inbox_bytes: usize,
    refusals: u32,
    recv_waker: Option<Waker>,
    send_waker: Option<Waker>,
}

impl Session {
    fn wake_all(&mut self) {
        if let Some(w) = self.recv_waker.take() {
            w.wake();
        }
        if let Some(w) = self.send_waker.take() {
            w.wake();
        }
    }

    /// Queues `item`; false when the inbox is full.
    fn push(&mut self, item: Inbound, max_bytes: usize) -> bool {
        let size = match &item {
            Inbound::Record(r) => r.len(),
            // Liveness collapses: one waiting sign of life says as much as many.
            Inbound::Alive if matches!(self.inbox.back(), Some(Inbound::Alive)) => return true,
            _ => 0,
        };
        if self.inbox.len() >= MAX_INBOX || self.inbox_bytes + size > max_bytes {
            return false;
        }
        self.inbox_bytes += size;
        self.inbox.push_back(item);
        if let Some(w) = self.recv_waker.take() {
            w.wake();
        }
        true
    }
}

impl CoapEndpoint {
    /// Opens the endpoint on `addr` (port 0: a free one) with our resource at `path`
    /// (`/usp/controller`), taking Records up to `limits.max_record_size`. Needs a tokio
    /// runtime (its task runs there).
    pub async fn bind(addr: SocketAddr, path: &str, limits: Limits) -> std::io::Result<CoapEndpoint> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        let path: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let engine = Engine::new(Settings::new(path.clone(), limits.max_record_size));
        let state =
            State { engine, sessions: HashMap::new(), next_id: 0, closed: false, unrouted: 0, overflow: 0, warned: 0 };
        let shared = Arc::new(Shared { socket, local, path, limits, state: Mutex::new(state), wake: Notify::new() });
        let task = tokio::spawn(run(shared.clone()));
        debug!(%local, "CoAP endpoint open");
        Ok(CoapEndpoint { handle: Arc::new(Handle { shared, task }) })
    }

    /// The socket's address (the port to configure in devices).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.shared.local
    }

    /// Our resource's URI as a device at `ip`'s side sees it: `coap://<ip>:<port>/<path>`.
    pub fn uri_for(&self, ip: IpAddr) -> String {
        CoapUri::of(SocketAddr::new(ip, self.local_addr().port()), self.handle.shared.path.clone()).to_uri()
    }

    /// Records that came to the endpoint and belonged to no open session (dropped).
    pub fn unrouted(&self) -> u64 {
        self.handle.shared.lock().unrouted
    }

    /// Sessions open through the endpoint now.
    pub fn sessions(&self) -> usize {
        self.handle.shared.lock().sessions.len()
    }

    /// Opens a session with the agent of `config` through this endpoint.
    pub(crate) async fn open(&self, config: &ClientConfig) -> Result<Opened, ConnectError> {
        let (uri, target) = agent_of(config).await?;
        let agent_id = config.agent_id.as_ref().map(|a| a.as_str().to_owned()).unwrap_or_default();
        let shared = &self.handle.shared;
        let ip = match shared.local.ip() {
            ip if ip.is_unspecified() => route_to(target).await?,
            ip => ip,
        };
        let reply_to = CoapUri::of(SocketAddr::new(ip, shared.local.port()), shared.path.clone()).to_uri();
        if reply_to.len() > MAX_REPLY_TO {
            return Err(ConnectError::BadUrl(format!(
                "our CoAP address {:?} is longer than devices take ({MAX_REPLY_TO} characters): use a shorter path",
                for_log(&reply_to)
            )));
        }
        let id = {
            let mut state = shared.lock();
            if state.closed {
                return Err(ConnectError::Tcp("usp-home's CoAP endpoint is closed".into()));
            }
            state.next_id += 1;
            let id = state.next_id;
            let session = Session {
                target,
                agent_path: uri.path.clone(),
                agent_id,
                opened: id,
                inbox: VecDeque::new(),
                inbox_bytes: 0,
                refusals: 0,
                recv_waker: None,
                send_waker: None,
            };
            state.sessions.insert(id, session);
            id
        };
        let mut transport =
            SharedTransport { endpoint: self.clone(), id, target, agent_path: uri.path, reply_to, closed: false };
        debug!(agent = %target, reply_to = %for_log(&transport.reply_to), "CoAP (shared endpoint): checking the agent answers");
        check_answers(&mut transport, config).await?;
        Ok(Opened { transport: Box::new(transport), handshake: Handshake::default() })
    }
}

/// The endpoint's task: sends what the engine has, reads datagrams, runs the timers, and
/// hands each event to its session.
async fn run(shared: Arc<Shared>) {
    let mut buf = vec![0u8; DATAGRAM_BUFFER].into_boxed_slice();
    let mut out = Vec::new();
    loop {
        let due = {
            let mut state = shared.lock();
            while let Some(d) = state.engine.poll_transmit() {
                out.push(d);
            }
            state.engine.next_timeout()
        };
        for (to, d) in out.drain(..) {
            if let Err(e) = shared.socket.send_to(&d, to).await {
                // A lost datagram is what CoAP retransmits: only worth a (rare) warning.
                shared.lock().warn(format_args!("CoAP: cannot send to {to}: {e}"));
            }
        }
        let timer = async {
            match due {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            got = shared.socket.recv_from(&mut buf) => match got {
                Ok((n, from)) => {
                    let mut state = shared.lock();
                    if n == buf.len() {
                        state.warn(format_args!("CoAP: dropped an oversized datagram from {from}"));
                        continue;
                    }
                    state.engine.handle_datagram(from, &buf[..n], Instant::now());
                    state.route(&shared.limits);
                }
                // ICMP errors surface here on some systems; CoAP's retransmission copes.
                Err(e) => shared.lock().warn(format_args!("CoAP: receive error: {e}")),
            },
            () = timer => {
                let mut state = shared.lock();
                state.engine.handle_timeout(Instant::now());
                state.route(&shared.limits);
            }
            () = shared.wake.notified() => {}
        }
    }
}

impl State {
    /// Logs the 1st, 2nd, 4th, 8th... warning.
    fn warn(&mut self, what: std::fmt::Arguments<'_>) {
        self.warned += 1;
        if self.warned.is_power_of_two() {
            warn!(count = self.warned, "{what}");
        }
    }

    /// Hands every event of the engine to its session.
    fn route(&mut self, limits: &Limits) {
        let max_bytes = limits.max_record_size.saturating_mul(4).max(DATAGRAM_BUFFER);
        while let Some(event) = self.engine.poll_event() {
            let to = match event {
                Event::Record { from, reply_to, record } => {
                    match self.owner(from, reply_to.as_ref(), &record, limits) {
                        Some(id) => {
                            let taken =
                                self.sessions.get_mut(&id).is_some_and(|s| s.push(Inbound::Record(record), max_bytes));
                            if !taken {
                                self.overflow += 1;
                                let n = self.overflow;
                                self.warn(format_args!("CoAP: a session's inbox is full; {n} Records dropped"));
                            }
                        }
                        None => {
                            self.unrouted += 1;
                            let n = self.unrouted;
                            self.warn(format_args!("CoAP: {n} Records for no open session dropped (last from {from})"));
                        }
                    }
                    continue;
                }
                Event::Delivered { to } | Event::Pong { from: to } => {
                    for s in self.sessions.values_mut().filter(|s| s.target == to) {
                        s.refusals = 0;
                        s.push(Inbound::Alive, max_bytes);
                    }
                    to
                }
                Event::Refused { to, code } => {
                    let mut warn = false;
                    for s in self.sessions.values_mut().filter(|s| s.target == to) {
                        s.refusals += 1;
                        warn = true;
                        if s.refusals == REFUSALS_LOST {
                            let why = format!("the agent at {to} refuses our CoAP messages (CoAP code {code})");
                            s.push(Inbound::Lost(why), max_bytes);
                        }
                    }
                    if warn {
                        self.warn(format_args!("CoAP: the agent at {to} refused a Record with {code}"));
                    }
                    to
                }
                Event::Failed { to, why } => {
                    for s in self.sessions.values_mut().filter(|s| s.target == to) {
                        s.push(Inbound::Lost(why.clone()), max_bytes);
                    }
                    to
                }
            };
            // The engine may take more for `to` now.
            if self.engine.can_send(to) {
                for s in self.sessions.values_mut().filter(|s| s.target == to) {
                    if let Some(w) = s.send_waker.take() {
                        w.wake();
                    }
                }
            }
        }
    }

    /// The session a Record from `from` belongs to (see the module docs).
    fn owner(
        &self,
        from: SocketAddr,
        reply_to: Option<&CoapUri>,
        record: &bytes::Bytes,
        limits: &Limits,
    ) -> Option<u64> {
        let newest =
            |it: &mut dyn Iterator<Item = (&u64, &Session)>| it.max_by_key(|(_, s)| s.opened).map(|(id, _)| *id);
        if let Some(uri) = reply_to {
            let named = uri.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, uri.port));
            let mut it = self.sessions.iter().filter(|(_, s)| Some(s.target) == named && s.agent_path == uri.path);
            if let Some(id) = newest(&mut it) {
                return Some(id);
            }
        }
        if let Ok(rec) = usp_core::wire::decode_record(record.clone(), limits) {
            let sender: &str = &rec.from_id;
            let same = |s: &Session| s.agent_id == sender;
            // The session with that agent at the sender's address, else the newest one with it.
            let mut at = self.sessions.iter().filter(|(_, s)| same(s) && s.target == from);
            if let Some(id) = newest(&mut at) {
                return Some(id);
            }
            let mut any = self.sessions.iter().filter(|(_, s)| same(s));
            if let Some(id) = newest(&mut any) {
                return Some(id);
            }
        }
        let mut at_ip = self.sessions.iter().filter(|(_, s)| s.target.ip() == from.ip());
        match (at_ip.next(), at_ip.next()) {
            (Some((id, _)), None) => Some(*id),
            _ => None,
        }
    }
}

/// One session with an agent through the shared endpoint.
struct SharedTransport {
    endpoint: CoapEndpoint,
    id: u64,
    target: SocketAddr,
    agent_path: Vec<String>,
    reply_to: String,
    closed: bool,
}

impl SharedTransport {
    fn shared(&self) -> &Shared {
        &self.endpoint.handle.shared
    }

    fn forget(&mut self) {
        if !self.closed {
            self.closed = true;
            self.shared().lock().sessions.remove(&self.id);
        }
    }
}

impl Drop for SharedTransport {
    fn drop(&mut self) {
        self.forget();
    }
}

impl Transport for SharedTransport {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        let mut state = self.shared().lock();
        if state.engine.can_send(self.target) {
            return Poll::Ready(Ok(()));
        }
        if let Some(s) = state.sessions.get_mut(&self.id) {
            s.send_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        let now = Instant::now();
        {
            let mut state = self.shared().lock();
            match item {
                Outbound::Record(record) => {
                    let post = Post { path: self.agent_path.clone(), reply_to: Some(self.reply_to.clone()), record };
                    state
                        .engine
                        .send(self.target, post, now)
                        .map_err(|_| "too many Records wait for the agent's CoAP acknowledgement".to_owned())?;
                }
                Outbound::KeepAlive => state.engine.ping(self.target, now),
            }
        }
        self.shared().wake.notify_one();
        Ok(())
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        // The endpoint's task sends; start_send woke it.
        Poll::Ready(Ok(()))
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        let mut state = self.shared().lock();
        let closed = state.closed;
        let Some(s) = state.sessions.get_mut(&self.id) else {
            return Poll::Ready(Inbound::Lost("the CoAP session was closed".into()));
        };
        if let Some(item) = s.inbox.pop_front() {
            if let Inbound::Record(r) = &item {
                s.inbox_bytes -= r.len();
            }
            return Poll::Ready(item);
        }
        if closed {
            return Poll::Ready(Inbound::Lost("usp-home's CoAP endpoint was closed".into()));
        }
        s.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn close(&mut self, _why: Close) -> BoxFuture<'_, ()> {
        self.forget();
        Box::pin(async {})
    }

    fn carrier(&self) -> Carrier {
        Carrier::new(Mtp::Coap, false)
    }
}
