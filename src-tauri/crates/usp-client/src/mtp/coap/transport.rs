//! The controller's side of CoAP: a UDP socket that POSTs our Records to the agent's
//! resource and is itself the resource the agent POSTs its answers and Notifies to.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};
use usp_core::text::for_log;

use super::engine::{Engine, Event, Post, Settings};
use super::shared::CoapEndpoint;
use super::uri::CoapUri;
use crate::error::ConnectError;
use crate::mtp::{BoxFuture, Carrier, Close, Connector, Handshake, Inbound, Mtp, Opened, Outbound, Transport};
use crate::ClientConfig;

/// Refusals in a row (error codes for our Records) after which the session is lost.
pub(super) const REFUSALS_LOST: u32 = 3;
/// The receive buffer: a datagram that fills it is larger than any CoAP peer may send us.
pub(super) const DATAGRAM_BUFFER: usize = 2048;
/// The longest `reply-to` URI the reference agent stores (its 128-byte URI-Query buffer).
pub(super) const MAX_REPLY_TO: usize = 110;

/// Opens CoAP sessions, with our own endpoint where the caller wants it (the reference
/// agent sends Notifies to the address configured for its controller, so that one must be
/// stable). The default (`coap://` addresses without a connector in the config) binds a
/// free port on the address that routes to the agent, with the path `/usp/<our id>`.
#[derive(Clone, Debug, Default)]
pub struct CoapConnector {
    bind: Option<SocketAddr>,
    path: Option<Vec<String>>,
    shared: Option<CoapEndpoint>,
}

impl CoapConnector {
    /// The default connector.
    pub fn new() -> CoapConnector {
        CoapConnector::default()
    }

    /// Our CoAP endpoint's socket address (port 0: a free one).
    pub fn bind(mut self, addr: SocketAddr) -> CoapConnector {
        self.bind = Some(addr);
        self
    }

    /// Our resource's path (`/usp/controller`).
    pub fn path(mut self, path: &str) -> CoapConnector {
        self.path = Some(path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect());
        self
    }

    /// Sessions through `endpoint`, one socket shared with every other agent's session
    /// (its address and path replace [`CoapConnector::bind`] and [`CoapConnector::path`]).
    pub fn shared(endpoint: CoapEndpoint) -> CoapConnector {
        CoapConnector { shared: Some(endpoint), ..CoapConnector::default() }
    }
}

impl Connector for CoapConnector {
    fn connect<'a>(&'a self, config: &'a ClientConfig) -> BoxFuture<'a, Result<Opened, ConnectError>> {
        match &self.shared {
            Some(endpoint) => Box::pin(endpoint.open(config)),
            None => Box::pin(open_with(config, self)),
        }
    }
}

/// Opens a CoAP session for `config` with the default connector.
pub(crate) async fn open(config: &ClientConfig) -> Result<Opened, ConnectError> {
    open_with(config, &CoapConnector::default()).await
}

/// The agent's resource and address from `config` (its Endpoint ID is required: a CoAP agent
/// never speaks first).
pub(super) async fn agent_of(config: &ClientConfig) -> Result<(CoapUri, SocketAddr), ConnectError> {
    let url = &config.url;
    let bad = |why: String| ConnectError::BadUrl(format!("{:?}: {why}", for_log(url)));
    let uri = CoapUri::parse(url).map_err(bad)?;
    if config.agent_id.is_none() {
        return Err(bad(
            "over CoAP the agent never speaks first, so its Endpoint ID must be given with the address".into()
        ));
    }
    let target = tokio::net::lookup_host((uri.host.as_str(), uri.port))
        .await
        .map_err(|e| ConnectError::Tcp(format!("{}: {e}", for_log(url))))?
        .next()
        .ok_or_else(|| ConnectError::Tcp(format!("{}: the name has no address", for_log(url))))?;
    Ok((uri, target))
}

/// CoAP has no connection: a ping proves someone answers at the agent's address. Sends it
/// and waits (at most `config.connect_timeout`) for a sign of life.
pub(super) async fn check_answers(transport: &mut dyn Transport, config: &ClientConfig) -> Result<(), ConnectError> {
    transport.start_send(Outbound::KeepAlive).map_err(ConnectError::Tcp)?;
    let answered = tokio::time::timeout(config.connect_timeout, std::future::poll_fn(|cx| transport.poll_recv(cx)));
    match answered.await {
        // Someone talks: as good as an answer.
        Ok(Inbound::Alive | Inbound::Record(_)) => Ok(()),
        Ok(Inbound::Lost(why) | Inbound::Violation(why)) => Err(ConnectError::Tcp(why)),
        Err(_) => Err(ConnectError::Timeout(config.connect_timeout)),
    }
}

async fn open_with(config: &ClientConfig, options: &CoapConnector) -> Result<Opened, ConnectError> {
    let (uri, target) = agent_of(config).await?;
    let local = match options.bind {
        Some(a) => a,
        None => SocketAddr::new(route_to(target).await?, 0),
    };
    let socket =
        UdpSocket::bind(local).await.map_err(|e| ConnectError::Tcp(format!("our CoAP endpoint at {local}: {e}")))?;
    let local = socket.local_addr().map_err(|e| ConnectError::Tcp(e.to_string()))?;
    let mut path = options.path.clone().unwrap_or_else(|| vec!["usp".into(), config.own_id.as_str().to_owned()]);
    let mut reply_to = CoapUri::of(local, path.clone()).to_uri();
    if options.path.is_none() && reply_to.len() > MAX_REPLY_TO {
        path = vec!["usp".into()];
        reply_to = CoapUri::of(local, path.clone()).to_uri();
    }
    let mut settings = Settings::new(path, config.limits.max_record_size);
    settings.accept_from = Some(target.ip());
    let mut transport = CoapTransport {
        socket,
        engine: Engine::new(settings),
        target,
        agent_path: uri.path,
        reply_to,
        timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        unsent: None,
        refusals: 0,
        warned: 0,
        send_waker: None,
        buf: vec![0; DATAGRAM_BUFFER].into_boxed_slice(),
    };
    debug!(agent = %target, reply_to = %for_log(&transport.reply_to), "CoAP: checking the agent answers");
    check_answers(&mut transport, config).await?;
    Ok(Opened { transport: Box::new(transport), handshake: Handshake::default() })
}

/// The local address that routes to `target` (a UDP socket "connected" to it sends nothing).
pub(super) async fn route_to(target: SocketAddr) -> Result<IpAddr, ConnectError> {
    let any = if target.is_ipv4() { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V6(Ipv6Addr::UNSPECIFIED) };
    let probe = UdpSocket::bind((any, 0)).await.map_err(|e| ConnectError::Tcp(e.to_string()))?;
    probe.connect(target).await.map_err(|e| ConnectError::Tcp(format!("no route to {target}: {e}")))?;
    Ok(probe.local_addr().map_err(|e| ConnectError::Tcp(e.to_string()))?.ip())
}

/// One CoAP session with an agent (see the module docs).
struct CoapTransport {
    socket: UdpSocket,
    engine: Engine,
    target: SocketAddr,
    agent_path: Vec<String>,
    reply_to: String,
    timer: Pin<Box<Sleep>>,
    /// A datagram the socket could not take yet.
    unsent: Option<(SocketAddr, Vec<u8>)>,
    refusals: u32,
    warned: u64,
    send_waker: Option<Waker>,
    buf: Box<[u8]>,
}

impl CoapTransport {
    /// Hands the socket every datagram the engine has; `Pending` when the socket is full.
    fn poll_transmit(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Some((to, d)) = self.unsent.take().or_else(|| self.engine.poll_transmit()) else {
                return Poll::Ready(());
            };
            match self.socket.poll_send_to(cx, &d, to) {
                Poll::Ready(Ok(_)) => {}
                // A lost datagram is what CoAP retransmits: only worth a (rare) warning.
                Poll::Ready(Err(e)) => self.warn(format_args!("CoAP: cannot send to {to}: {e}")),
                Poll::Pending => {
                    self.unsent = Some((to, d));
                    return Poll::Pending;
                }
            }
        }
    }

    /// Logs the 1st, 2nd, 4th, 8th... warning.
    fn warn(&mut self, what: std::fmt::Arguments<'_>) {
        self.warned += 1;
        if self.warned.is_power_of_two() {
            warn!(count = self.warned, "{what}");
        }
    }

    fn queue_full(&self) -> bool {
        !self.engine.can_send(self.target)
    }
}

impl Transport for CoapTransport {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        if self.queue_full() {
            self.send_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        let now = Instant::now();
        match item {
            Outbound::Record(record) => {
                let post = Post { path: self.agent_path.clone(), reply_to: Some(self.reply_to.clone()), record };
                self.engine
                    .send(self.target, post, now)
                    .map_err(|_| "too many Records wait for the agent's CoAP acknowledgement".to_owned())
            }
            Outbound::KeepAlive => {
                self.engine.ping(self.target, now);
                Ok(())
            }
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.poll_transmit(cx).map(Ok)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        loop {
            let _ = self.poll_transmit(cx);
            if let Some(event) = self.engine.poll_event() {
                if !self.queue_full() {
                    if let Some(w) = self.send_waker.take() {
                        w.wake();
                    }
                }
                match event {
                    Event::Record { record, .. } => return Poll::Ready(Inbound::Record(record)),
                    Event::Delivered { .. } | Event::Pong { .. } => {
                        self.refusals = 0;
                        return Poll::Ready(Inbound::Alive);
                    }
                    Event::Refused { code, .. } => {
                        self.refusals += 1;
                        let target = self.target;
                        self.warn(format_args!("CoAP: the agent at {target} refused a Record with {code}"));
                        if self.refusals >= REFUSALS_LOST {
                            return Poll::Ready(Inbound::Lost(format!(
                                "the agent at {} refuses our CoAP messages (CoAP code {code})",
                                self.target
                            )));
                        }
                        continue;
                    }
                    Event::Failed { why, .. } => return Poll::Ready(Inbound::Lost(why)),
                }
            }
            if let Some(due) = self.engine.next_timeout() {
                if due <= Instant::now() {
                    self.engine.handle_timeout(Instant::now());
                    continue;
                }
                if self.timer.deadline() != due {
                    self.timer.as_mut().reset(due);
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    continue;
                }
            }
            let mut buf = ReadBuf::new(&mut self.buf);
            match self.socket.poll_recv_from(cx, &mut buf) {
                Poll::Ready(Ok(from)) => {
                    let n = buf.filled().len();
                    if n == DATAGRAM_BUFFER {
                        self.warn(format_args!("CoAP: dropped an oversized datagram from {from}"));
                        continue;
                    }
                    self.engine.handle_datagram(from, &self.buf[..n], Instant::now());
                }
                // ICMP errors surface here on some systems; CoAP's retransmission copes.
                Poll::Ready(Err(e)) => self.warn(format_args!("CoAP: receive error: {e}")),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn close(&mut self, _why: Close) -> BoxFuture<'_, ()> {
        // CoAP has no connection to close; the socket closes when the transport is dropped.
        Box::pin(async {})
    }

    fn carrier(&self) -> Carrier {
        Carrier::new(Mtp::Coap, false)
    }
}
