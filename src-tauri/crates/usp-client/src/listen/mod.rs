//! Agents that dial usp-home: a WebSocket server for agents configured with usp-home as
//! their controller (`Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.Host/Port/Path`).
//!
//! The USP WebSocket rules for the controller as server (R-WS.4-12): the client must offer
//! the subprotocol `v1.usp` (refused with HTTP 400 otherwise) and we echo it; the agent
//! names itself in the request URI's `eid` query argument (USP 1.3+), or in the older
//! `Sec-WebSocket-Extensions: bbf-usp-protocol; eid="..."` header (USP 1.0-1.2, answered
//! with our own EID in the same header), or, over `wss://`, by its client certificate; the
//! path must be the configured one (404 otherwise). With TLS the agent must present a
//! certificate naming that EID (403 otherwise), and it is trusted by the same rules as when
//! we dial an agent: a configured CA or the pinned certificate; an unknown one is kept aside
//! for the first-use flow ([`ListenerEvent::Dialled`], [`Listener::trust`]), a changed one
//! is refused.
//!
//! There is at most one connection per agent: a new trusted one replaces the old one
//! (R-WS.4). A connection is handed to the [`Client`](crate::Client) that waits for that
//! agent through [`Listener::connector_for`]; until one asks, it is kept ("parked"), read
//! (pings answered, the first Records kept) and bounded in number and time. Handshakes are
//! bounded in time, number and size (tungstenite refuses an HTTP request over 64 KiB).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot, Notify, Semaphore};
use tracing::{info, warn};
use usp_core::wire::Limits;
use usp_core::EndpointId;

use crate::error::ConnectError;
use crate::mtp::{BoxFuture, Connector, Opened};
use crate::tls::{AgentTrust, Fingerprint, Identity, Observed, ObservedCert, TlsError};
use crate::ClientConfig;

mod accept;

use accept::Conn;

/// Where and how usp-home listens for agents.
#[derive(Clone, Debug)]
pub struct ListenerConfig {
    /// The address to listen on: `127.0.0.1:PORT` (this computer only), `0.0.0.0:PORT`
    /// (every interface), port 0 for any free port.
    pub addr: SocketAddr,
    /// Our Endpoint ID (what the agent has in its `Controller.{i}.EndpointID`).
    pub own_id: EndpointId,
    /// The WebSocket resource path, e.g. `/usp`.
    pub path: String,
    /// `wss://` with our identity and mutual TLS.
    pub tls: Option<ListenerTls>,
    /// With TLS, still accept plain `ws://` on the same port (told apart by the first byte).
    pub allow_plain: bool,
    /// Time for the TLS and WebSocket handshakes of one connection.
    pub handshake_timeout: Duration,
    /// Connections in their handshake at once; more are closed at once.
    pub max_handshakes: usize,
    /// Connections no client asked for yet, kept at most (the oldest one goes first).
    pub max_parked: usize,
    /// Of those, from one IP address at most.
    pub max_parked_per_ip: usize,
    /// How long a connection no client asks for is kept.
    pub park_time: Duration,
    /// Size limits for received Records (the largest WebSocket message).
    pub limits: Limits,
}

impl ListenerConfig {
    /// Plain `ws://` on `addr`, path `/usp`, with the default bounds.
    pub fn new(addr: SocketAddr, own_id: EndpointId) -> ListenerConfig {
        ListenerConfig {
            addr,
            own_id,
            path: "/usp".to_owned(),
            tls: None,
            allow_plain: false,
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 32,
            max_parked: 64,
            max_parked_per_ip: 8,
            park_time: Duration::from_secs(300),
            limits: Limits::controller(),
        }
    }
}

/// Our TLS identity for `wss://` and what we trust for agents.
#[derive(Clone, Debug)]
pub struct ListenerTls {
    /// The certificate and key we present (the agent checks it against its trust store).
    pub identity: Identity,
    /// CA roots and pins for the agents' client certificates.
    pub trust: AgentTrust,
}

/// What happened at the listener, for the app (a bounded channel: a receiver that falls
/// behind misses the oldest).
#[derive(Clone, Debug)]
pub enum ListenerEvent {
    /// An agent connected and is kept until a client asks for it.
    Dialled {
        /// The agent's Endpoint ID.
        agent: EndpointId,
        /// Where it connected from.
        address: SocketAddr,
        /// SHA-256 of its certificate (`wss://`).
        fingerprint: Option<Fingerprint>,
        /// Whether a CA or a pin vouches for it; `false` over `wss://` means first use:
        /// show the fingerprint, and [`Listener::trust`] it if the user agrees.
        trusted: bool,
    },
    /// A connection was refused.
    Refused {
        /// Where it came from.
        address: SocketAddr,
        /// The agent it claimed to be, if it got that far.
        agent: Option<EndpointId>,
        /// Why, in words.
        reason: String,
    },
}

/// Counters of the listener.
#[derive(Debug, Default)]
pub struct ListenerStats {
    /// TCP connections accepted.
    pub accepted: AtomicU64,
    /// Connections refused (handshake failed, over a limit, untrusted...).
    pub refused: AtomicU64,
    /// Agents that completed the handshake.
    pub dialled: AtomicU64,
    /// Connections handed to a client.
    pub handed_over: AtomicU64,
    /// Connections closed because a newer one of the same agent came.
    pub replaced: AtomicU64,
}

/// A connection that waits for its client, served by its parking task.
struct Parked {
    id: u64,
    address: SocketAddr,
    since: Instant,
    observed: Option<Observed>,
    /// Asks the parking task to hand the connection over.
    claim: oneshot::Sender<oneshot::Sender<Conn>>,
}

/// A connection handed to a client; firing `replace` ends it.
struct Active {
    id: u64,
    replace: oneshot::Sender<()>,
}

#[derive(Default)]
struct State {
    parked: HashMap<EndpointId, Parked>,
    active: HashMap<EndpointId, Active>,
    next_id: u64,
}

struct Inner {
    config: ListenerConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Mutex<State>,
    events: broadcast::Sender<ListenerEvent>,
    arrived: Notify,
    handshakes: Arc<Semaphore>,
    stats: ListenerStats,
    warnings: Mutex<(Option<Instant>, u32, u64)>,
}

/// The listener for agents that dial usp-home. Dropping it stops listening; connections
/// already handed to clients stay theirs.
pub struct Listener {
    inner: Arc<Inner>,
    local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("addr", &self.local_addr).field("tls", &self.inner.tls.is_some()).finish()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
        // Parked connections end when their claim channel goes.
        self.inner.lock().parked.clear();
    }
}

/// Slots of the event channel.
const EVENTS: usize = 64;
/// Warnings logged per minute at most (a hostile peer must not fill the log).
const WARN_BURST: u32 = 10;

impl Listener {
    /// Binds `config.addr` and starts accepting agents. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the address cannot be bound, or the TLS identity cannot be used.
    pub async fn bind(config: ListenerConfig) -> std::io::Result<Listener> {
        let tls = match &config.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(
                crate::tls::listener_config(&t.identity).map_err(std::io::Error::other)?,
            )),
            None => None,
        };
        let tcp = TcpListener::bind(config.addr).await?;
        let local_addr = tcp.local_addr()?;
        let inner = Arc::new(Inner {
            handshakes: Arc::new(Semaphore::new(config.max_handshakes.max(1))),
            config,
            tls,
            state: Mutex::new(State::default()),
            events: broadcast::channel(EVENTS).0,
            arrived: Notify::new(),
            stats: ListenerStats::default(),
            warnings: Mutex::new((None, 0, 0)),
        });
        info!(%local_addr, tls = inner.tls.is_some(), "listening for agents that dial usp-home");
        let task = tokio::spawn(accept::accept_loop(tcp, Arc::downgrade(&inner)));
        Ok(Listener { inner, local_addr, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL an agent dials, with `host` the address it reaches this computer at:
    /// `ws://host:port/usp`, or `wss://` with TLS.
    pub fn url(&self, host: &str) -> String {
        let scheme = if self.inner.tls.is_some() { "wss" } else { "ws" };
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
        format!("{scheme}://{host}:{}{}", self.local_addr.port(), self.inner.config.path)
    }

    /// Events: agents that dialled in, connections refused.
    pub fn events(&self) -> broadcast::Receiver<ListenerEvent> {
        self.inner.events.subscribe()
    }

    /// Counters.
    pub fn stats(&self) -> &ListenerStats {
        &self.inner.stats
    }

    /// The agents whose connection waits for a client: EID, address, certificate
    /// fingerprint.
    pub fn waiting(&self) -> Vec<(EndpointId, SocketAddr, Option<Fingerprint>)> {
        let state = self.inner.lock();
        state.parked.iter().map(|(a, p)| (a.clone(), p.address, p.observed.as_ref().map(|o| o.fingerprint))).collect()
    }

    /// Pins the certificate of the waiting connection of `agent` (first use, after the
    /// user compared its fingerprint); a client for it then gets that connection.
    ///
    /// # Errors
    /// [`TlsError::NothingObserved`] when no untrusted connection of that agent waits;
    /// [`TlsError::CertificateChanged`] when another certificate is pinned for it; pin
    /// store errors.
    pub fn trust(&self, agent: &EndpointId) -> Result<Fingerprint, TlsError> {
        let observed = self.inner.lock().parked.get(agent).and_then(|p| p.observed.clone());
        let (Some(seen), Some(tls)) = (observed, &self.inner.config.tls) else {
            return Err(TlsError::NothingObserved);
        };
        let slot = ObservedCert::new();
        slot.set(Some(seen));
        crate::tls::trust_on_first_use(tls.trust.pins.as_ref(), &slot)
    }

    /// A connector for a [`ClientConfig`] (with `agent_id` = `agent`): each `connect` waits,
    /// within the client's `connect_timeout`, for the agent's next connection. Give such a
    /// client a short backoff: waiting costs nothing, and the agent decides when it dials.
    pub fn connector_for(&self, agent: EndpointId) -> Arc<dyn Connector> {
        Arc::new(DialledConnector { inner: self.inner.clone(), agent })
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn event(&self, e: ListenerEvent) {
        let _ = self.events.send(e);
    }

    /// Refuses a connection: counted, reported, and logged within the rate limit.
    fn refused(&self, address: SocketAddr, agent: Option<EndpointId>, reason: String) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        let log = {
            let mut w = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if w.0.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60)) {
                *w = (Some(now), 0, w.2);
            }
            if w.1 < WARN_BURST {
                w.1 += 1;
                Some(std::mem::take(&mut w.2))
            } else {
                w.2 += 1;
                None
            }
        };
        if let Some(suppressed) = log {
            let who = agent.as_ref().map(|a| a.to_string()).unwrap_or_default();
            warn!(%address, agent = %who, suppressed, reason = %usp_core::text::for_log(&reason), "refused a connection of a dialling agent");
        }
        self.event(ListenerEvent::Refused { address, agent, reason });
    }

    /// Whether a connection of `agent` with this certificate chain may serve a client now.
    fn judge(&self, agent: &EndpointId, chain: &[Vec<u8>]) -> Result<(), Box<(TlsError, Option<Observed>)>> {
        let Some(tls) = &self.config.tls else { return Ok(()) };
        if chain.is_empty() {
            // Plain ws:// proves nothing: an agent paired by its certificate must use wss://.
            return match tls.trust.pins.lookup(agent) {
                Ok(None) => Ok(()),
                Ok(Some(pin)) => Err(Box::new((
                    TlsError::NotTrusted(format!(
                        "{agent} was paired with its certificate (SHA-256 {}), so it must connect with wss://",
                        pin.fingerprint()
                    )),
                    None,
                ))),
                Err(e) => Err(Box::new((e, None))),
            };
        }
        let slot = ObservedCert::new();
        crate::tls::check_dialling_agent(&tls.trust, agent, chain, &slot).map_err(|e| Box::new((e, slot.take())))
    }

    /// Keeps `conn` until a client asks for it, replacing an older waiting connection of the
    /// same agent and making room under the limits.
    fn park(self: &Arc<Self>, conn: Conn, observed: Option<Observed>) {
        let (claim, claims) = oneshot::channel();
        let agent = conn.agent.clone();
        let address = conn.address;
        let mut evicted = Vec::new();
        let id = {
            let mut state = self.lock();
            state.next_id += 1;
            let id = state.next_id;
            if state.parked.remove(&agent).is_some() {
                self.stats.replaced.fetch_add(1, Ordering::Relaxed);
            }
            let from_ip = state.parked.values().filter(|p| p.address.ip() == address.ip()).count();
            if from_ip >= self.config.max_parked_per_ip {
                if let Some(oldest) = oldest(&state.parked, |p| p.address.ip() == address.ip()) {
                    evicted.extend(state.parked.remove(&oldest).map(|p| p.address));
                }
            }
            while state.parked.len() >= self.config.max_parked.max(1) {
                let Some(oldest) = oldest(&state.parked, |_| true) else { break };
                evicted.extend(state.parked.remove(&oldest).map(|p| p.address));
            }
            state.parked.insert(agent.clone(), Parked { id, address, since: Instant::now(), observed, claim });
            id
        };
        for address in evicted {
            self.refused(address, None, "too many devices waiting: the oldest connection was closed".into());
        }
        tokio::spawn(accept::serve_parked(Arc::downgrade(self), conn, id, claims));
        self.arrived.notify_waiters();
    }

    /// Takes the waiting connection of `agent`, if any.
    async fn take(&self, agent: &EndpointId) -> Option<(Conn, Option<Observed>)> {
        let parked = self.lock().parked.remove(agent)?;
        let (tx, rx) = oneshot::channel();
        parked.claim.send(tx).ok()?;
        rx.await.ok().map(|c| (c, parked.observed))
    }

    /// Forgets the waiting connection `id` of `agent` (it ended).
    fn unpark(&self, agent: &EndpointId, id: u64) {
        let mut state = self.lock();
        if state.parked.get(agent).is_some_and(|p| p.id == id) {
            state.parked.remove(agent);
        }
    }

    /// A new trusted connection of `agent` arrived: the one a client uses ends (R-WS.4).
    fn replace_active(&self, agent: &EndpointId) {
        if let Some(old) = self.lock().active.remove(agent) {
            self.stats.replaced.fetch_add(1, Ordering::Relaxed);
            let _ = old.replace.send(());
        }
    }

    /// Registers `conn` as the connection of its agent in use; the receiver fires when a
    /// newer one replaces it.
    fn activate(&self, agent: &EndpointId) -> (u64, oneshot::Receiver<()>) {
        let (replace, replaced) = oneshot::channel();
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        if let Some(old) = state.active.insert(agent.clone(), Active { id, replace }) {
            let _ = old.replace.send(());
        }
        (id, replaced)
    }

    fn deactivate(&self, agent: &EndpointId, id: u64) {
        let mut state = self.lock();
        if state.active.get(agent).is_some_and(|a| a.id == id) {
            state.active.remove(agent);
        }
    }
}

fn oldest(parked: &HashMap<EndpointId, Parked>, keep: impl Fn(&Parked) -> bool) -> Option<EndpointId> {
    parked.iter().filter(|(_, p)| keep(p)).min_by_key(|(_, p)| p.since).map(|(a, _)| a.clone())
}

/// Opens connections to one agent by waiting for it to dial in.
struct DialledConnector {
    inner: Arc<Inner>,
    agent: EndpointId,
}

impl std::fmt::Debug for DialledConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialledConnector").field("agent", &self.agent.as_str()).finish()
    }
}

impl Connector for DialledConnector {
    fn connect<'a>(&'a self, config: &'a ClientConfig) -> BoxFuture<'a, Result<Opened, ConnectError>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + config.connect_timeout;
            loop {
                let arrived = self.inner.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some((conn, observed)) = self.inner.take(&self.agent).await {
                    match self.inner.judge(&self.agent, &conn.chain).map_err(|b| *b) {
                        Ok(()) => return Ok(accept::open(&self.inner, conn)),
                        Err((e @ TlsError::Untrusted { .. }, seen)) => {
                            // Still waiting for the user: keep the connection for after.
                            self.inner.park(conn, seen.or(observed));
                            return Err(ConnectError::from(e));
                        }
                        Err((e, _)) => {
                            self.inner.refused(conn.address, Some(self.agent.clone()), e.to_string());
                            return Err(ConnectError::from(e));
                        }
                    }
                }
                if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                    return Err(ConnectError::NotDialledIn(config.connect_timeout));
                }
            }
        })
    }
}
