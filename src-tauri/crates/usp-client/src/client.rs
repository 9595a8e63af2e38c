//! The cloneable client handle and the driver task behind it.
//!
//! One driver task per agent owns the socket and a [`usp_core::engine::Link`]; handles
//! talk to it through a channel. The driver reconnects with jittered exponential
//! backoff, pings the agent, fails outstanding requests when the connection drops, and
//! re-creates the subscriptions made through [`Client::subscribe`] after a reconnect.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Sink, StreamExt};
use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use usp_core::engine::{Event, Link, LinkConfig, RequestId};
use usp_core::msg::{self, Notify, Request, Response, Text};
use usp_core::request;
use usp_core::text::for_log;
use usp_core::wire::Limits;
use usp_core::EndpointId;

use crate::error::{ClientError, ConnectError};
use crate::ws;

/// How to retry after the connection fails: exponential backoff with jitter.
#[derive(Clone, Debug)]
pub struct Backoff {
    /// First wait.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
    /// Growth per failed attempt.
    pub multiplier: f64,
    /// Fraction of randomness (0.2 = ±20%), so many clients don't retry in lockstep.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(250), max: Duration::from_secs(30), multiplier: 2.0, jitter: 0.2 }
    }
}

impl Backoff {
    /// A curve from `initial` doubling up to `max`, without jitter (for waits that need not be
    /// spread, like the app's own re-checks).
    pub fn doubling(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max, multiplier: 2.0, jitter: 0.0 }
    }

    /// The wait before attempt number `attempt` (0-based) on the curve, before jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let base = self.initial.as_secs_f64() * self.multiplier.powi(attempt.min(60) as i32);
        Duration::from_secs_f64(base.min(self.max.as_secs_f64()).max(0.0))
    }

    /// The wait before attempt number `attempt` (0-based), jittered with `rng`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let j = if self.jitter > 0.0 { rng.random_range(-self.jitter..=self.jitter) } else { 0.0 };
        Duration::from_secs_f64((self.nominal(attempt).as_secs_f64() * (1.0 + j)).max(0.0))
    }
}

/// Settings of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The agent's WebSocket URL, e.g. `ws://192.0.2.1:8080/usp`.
    pub url: String,
    /// Our own Endpoint ID.
    pub own_id: EndpointId,
    /// The agent's Endpoint ID when known in advance (mDNS); otherwise learnt on connect.
    pub agent_id: Option<EndpointId>,
    /// Default time a request may wait for its reply.
    pub request_timeout: Duration,
    /// Time allowed for TCP + TLS + WebSocket handshake and the agent's connect record.
    pub connect_timeout: Duration,
    /// How often to ping the agent; the connection is considered dead after three
    /// intervals without any frame from the agent.
    pub ping_interval: Duration,
    /// How long the socket may refuse to take what we write (the agent stopped reading)
    /// before the connection is dropped and made again. Timers, pings and requests keep
    /// running meanwhile.
    pub write_timeout: Duration,
    /// Reconnect policy. The backoff starts again from its first wait only after a
    /// healthy session: one in which the agent answered, or that lasted
    /// [`HEALTHY_AFTER`].
    pub backoff: Backoff,
    /// Size limits for received Records.
    pub limits: Limits,
    /// TLS settings for wss:// (certificates, trust).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientConfig {
    /// Settings with sensible defaults for `url`.
    pub fn new(url: impl Into<String>, own_id: EndpointId) -> Self {
        Self {
            url: url.into(),
            own_id,
            agent_id: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            write_timeout: Duration::from_secs(20),
            backoff: Backoff::default(),
            limits: Limits::controller(),
            tls: None,
        }
    }
}

/// The state of the connection, as the app shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Trying to connect (attempt number, 0-based).
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// Connected and the agent identified itself.
    Connected {
        /// The agent.
        agent: EndpointId,
    },
    /// Not connected; the next attempt comes after `retry_in`.
    Disconnected {
        /// What went wrong, in words.
        reason: String,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// The client stopped because of something only a person can resolve (a certificate
    /// to trust, a changed certificate, a wrong address). Make a new client after that.
    NeedsUser {
        /// What happened, with what to do about it.
        error: ConnectError,
    },
    /// The client was closed.
    Closed,
}

/// A notification from the agent.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentNotification {
    /// Which agent sent it.
    pub agent: EndpointId,
    /// The agent's msg_id for it.
    pub msg_id: Text,
    /// The Notify.
    pub notify: Notify,
    /// How many notifications were left out just before this one: the queue for slow
    /// receivers was over its byte budget ([`NOTIFY_QUEUE_BUDGET`]) or a Notify was too
    /// large. Like `RecvError::Lagged`, a receiver should then refresh what it shows.
    pub missed: u64,
}

/// Notifications waiting in the channel for slow receivers may hold at most this many
/// bytes (each one is a compact copy, not its received frame); beyond it new ones are left
/// out and counted in [`AgentNotification::missed`] of the next one that fits.
pub const NOTIFY_QUEUE_BUDGET: usize = 16 * 1024 * 1024;
/// Slots of the notification channel.
pub const NOTIFY_QUEUE_LEN: usize = 4096;

/// Counters for diagnostics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records or messages dropped (malformed, not for us, unknown msg_id...).
    pub dropped: AtomicU64,
    /// Successful connections.
    pub connects: AtomicU64,
    /// Notifications received.
    pub notifications: AtomicU64,
    /// Notifications left out (too large, or the queue over its byte budget).
    pub notifications_missed: AtomicU64,
}

/// What kind of notification a subscription asks for (`NotifType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifKind {
    /// `ValueChange`.
    ValueChange,
    /// `ObjectCreation`.
    ObjectCreation,
    /// `ObjectDeletion`.
    ObjectDeletion,
    /// `OperationComplete`.
    OperationComplete,
    /// `Event`.
    Event,
}

impl NotifKind {
    /// The TR-181 `NotifType` value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifKind::ValueChange => "ValueChange",
            NotifKind::ObjectCreation => "ObjectCreation",
            NotifKind::ObjectDeletion => "ObjectDeletion",
            NotifKind::OperationComplete => "OperationComplete",
            NotifKind::Event => "Event",
        }
    }
}

impl std::str::FromStr for NotifKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "valuechange" => NotifKind::ValueChange,
            "objectcreation" | "objcreation" => NotifKind::ObjectCreation,
            "objectdeletion" | "objdeletion" => NotifKind::ObjectDeletion,
            "operationcomplete" | "opercomplete" => NotifKind::OperationComplete,
            "event" => NotifKind::Event,
            _ => return Err(format!("unknown notification kind {s:?} (value-change, object-creation, object-deletion, event, operation-complete)")),
        })
    }
}

/// A subscription this client made; it is re-created after a reconnect if the agent
/// lost it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Our unique ID for it (`Subscription.{i}.ID`; `Notify.subscription_id`).
    pub id: String,
    /// What it asks for.
    pub kind: NotifKind,
    /// `ReferenceList`.
    pub references: Vec<String>,
    /// The instance the agent created, e.g. `Device.LocalAgent.Subscription.3.`.
    pub instance: String,
}

impl Subscription {
    fn add_request(id: &str, kind: NotifKind, references: &[String]) -> Result<Request, ClientError> {
        let refs = references.join(",");
        Ok(request::add()
            .object(
                "Device.LocalAgent.Subscription.",
                [
                    ("Enable", "true", true),
                    ("ID", id, true),
                    ("NotifType", kind.as_str(), true),
                    ("ReferenceList", refs.as_str(), true),
                    ("NotifRetry", "false", false),
                    ("Persistent", "false", false),
                ],
            )
            .build()?)
    }
}

/// A session that stays connected this long counts as healthy (the backoff starts over
/// after it) even when the agent answered nothing.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// Initial WebSocket read buffer (see `Driver::ws_config`).
pub const READ_BUFFER_SIZE: usize = 8 * 1024;

type Reply = oneshot::Sender<Result<Response, ClientError>>;

enum Command {
    Request { request: Request, timeout: Option<Duration>, reply: Reply },
    Track(Subscription),
    Untrack(String),
    Close(oneshot::Sender<()>),
}

struct Shared {
    notifications: broadcast::Sender<AgentNotification>,
    stats: Stats,
    sub_counter: AtomicU64,
    sub_prefix: String,
}

/// A handle to one agent. Cheap to clone; every clone talks to the same connection.
/// The connection ends when the last handle is dropped or [`Client::close`] is called.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<ConnectionState>,
    shared: Arc<Shared>,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("url", &self.config.url).field("state", &*self.state.borrow()).finish()
    }
}

impl Client {
    /// Starts the driver in the background (it connects and keeps reconnecting) and
    /// returns at once. Must be called inside a tokio runtime.
    pub fn start(config: ClientConfig) -> Client {
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting { attempt: 0 });
        let (notif_tx, _) = broadcast::channel(NOTIFY_QUEUE_LEN);
        let tag: u32 = rand::rng().random();
        let shared = Arc::new(Shared {
            notifications: notif_tx,
            stats: Stats::default(),
            sub_counter: AtomicU64::new(1),
            sub_prefix: format!("usphome-{tag:08x}"),
        });
        let config = Arc::new(config);
        let driver = Driver::new(config.clone(), shared.clone(), state_tx, tag);
        let span = tracing::info_span!("agent", url = %for_log(&config.url));
        tokio::spawn(tracing::Instrument::instrument(driver.run(cmd_rx), span));
        Client { commands: cmd_tx, state: state_rx, shared, config }
    }

    /// Starts the client and waits until it is connected (or the first attempts fail
    /// for longer than `connect_timeout`).
    ///
    /// # Errors
    /// [`ClientError::Connect`] / [`ClientError::NotConnected`] with the reason of the
    /// last failed attempt.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        let timeout = config.connect_timeout;
        let client = Client::start(config);
        match client.wait_connected(timeout).await {
            Ok(_) => Ok(client),
            Err(e) => {
                client.close().await;
                Err(e)
            }
        }
    }

    /// Waits until connected; returns the agent's Endpoint ID.
    ///
    /// # Errors
    /// [`ClientError::NotConnected`] with the last failure reason after `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<EndpointId, ClientError> {
        let mut rx = self.state.clone();
        let mut last_reason = String::from("no connection attempt finished yet");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match &*rx.borrow_and_update() {
                ConnectionState::Connected { agent } => return Ok(agent.clone()),
                ConnectionState::Closed => return Err(ClientError::Closed),
                ConnectionState::NeedsUser { error } => return Err(ClientError::Connect(error.clone())),
                ConnectionState::Disconnected { reason, .. } => last_reason = reason.clone(),
                ConnectionState::Connecting { .. } => {}
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(ClientError::Closed),
                Err(_) => return Err(ClientError::NotConnected(last_reason)),
            }
        }
    }

    /// The current connection state, and a way to watch it change.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// The agent's Endpoint ID if connected.
    pub fn agent_id(&self) -> Option<EndpointId> {
        match &*self.state.borrow() {
            ConnectionState::Connected { agent } => Some(agent.clone()),
            _ => None,
        }
    }

    /// Our own Endpoint ID.
    pub fn own_id(&self) -> &EndpointId {
        &self.config.own_id
    }

    /// Notifications from the agent. A slow receiver that falls more than 4,096
    /// notifications behind misses the oldest (and is told so by `Lagged`).
    pub fn notifications(&self) -> broadcast::Receiver<AgentNotification> {
        self.shared.notifications.subscribe()
    }

    /// Diagnostics counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Sends any request and waits for its response.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn request(&self, request: Request) -> Result<Response, ClientError> {
        self.request_with_timeout(request, None).await
    }

    /// Like [`Client::request`] with its own timeout.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn request_with_timeout(
        &self,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<Response, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Request { request, timeout, reply: tx }).await.map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Sends `request` and returns its answer as the response type `T` it asks for
    /// (`msg::GetResp` for a Get...): one place for "request, convert, map the error".
    ///
    /// # Errors
    /// See [`ClientError`]; another response type than `T` is [`ClientError::Protocol`].
    pub async fn call<T>(&self, request: Request) -> Result<T, ClientError>
    where
        T: TryFrom<Response, Error = request::WrongResponse>,
    {
        Ok(self.request(request).await?.try_into()?)
    }

    /// GetSupportedDM of these paths with `options`.
    ///
    /// # Errors
    /// See [`ClientError`]; per-path errors are inside the returned response.
    pub async fn get_supported_dm<S: AsRef<str>>(
        &self,
        paths: &[S],
        options: request::SupportedDmOptions,
    ) -> Result<msg::GetSupportedDmResp, ClientError> {
        self.call(request::get_supported_dm(paths.iter().map(AsRef::as_ref), options)?).await
    }

    /// Get of these paths.
    ///
    /// # Errors
    /// See [`ClientError`]; per-path errors are inside the returned GetResp.
    pub async fn get<S: AsRef<str>>(&self, paths: &[S], max_depth: u32) -> Result<msg::GetResp, ClientError> {
        self.call(request::get(paths.iter().map(AsRef::as_ref)).max_depth(max_depth).build()?).await
    }

    /// Set of `(full parameter path, value)` pairs, all required, allow_partial=false.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn set(&self, params: &[(&str, &str)]) -> Result<msg::SetResp, ClientError> {
        let mut b = request::set();
        for (p, v) in params {
            b = b.param(p, v, true);
        }
        self.call(b.build()?).await
    }

    /// Add one instance of `table` with `(name, value)` parameters, all required.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn add(&self, table: &str, params: &[(&str, &str)]) -> Result<msg::AddResp, ClientError> {
        self.call(request::add().object(table, params.iter().map(|(k, v)| (*k, *v, true))).build()?).await
    }

    /// Delete of these object paths (allow_partial=false).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn delete<S: AsRef<str>>(&self, paths: &[S]) -> Result<msg::DeleteResp, ClientError> {
        self.call(request::delete(paths.iter().map(AsRef::as_ref), false)?).await
    }

    /// Operate `command` with input arguments.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn operate(
        &self,
        command: &str,
        args: &[(&str, &str)],
        command_key: &str,
    ) -> Result<msg::OperateResp, ClientError> {
        let mut b = request::operate(command).command_key(command_key);
        for (k, v) in args {
            b = b.arg(k, v);
        }
        self.call(b.build()?).await
    }

    /// Creates a `Device.LocalAgent.Subscription.{i}` row with a unique ID of ours and
    /// keeps it alive across reconnects until [`Client::unsubscribe`].
    ///
    /// # Errors
    /// See [`ClientError`]; e.g. 7006 when the role may not subscribe.
    pub async fn subscribe<S: AsRef<str>>(
        &self,
        kind: NotifKind,
        references: &[S],
    ) -> Result<Subscription, ClientError> {
        let n = self.shared.sub_counter.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", self.shared.sub_prefix);
        let references: Vec<String> = references.iter().map(|r| r.as_ref().to_owned()).collect();
        let resp: msg::AddResp = self.call(Subscription::add_request(&id, kind, &references)?).await?;
        let instance = match resp.per_object().into_iter().next() {
            Some((_, Ok(ok))) => ok.instantiated_path.to_string(),
            Some((_, Err(e))) => return Err(ClientError::Usp(e)),
            None => return Err(ClientError::Protocol("the agent created no subscription".into())),
        };
        let sub = Subscription { id, kind, references, instance };
        let _ = self.commands.send(Command::Track(sub.clone())).await;
        Ok(sub)
    }

    /// Deletes a subscription made by [`Client::subscribe`].
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn unsubscribe(&self, sub: &Subscription) -> Result<(), ClientError> {
        let _ = self.commands.send(Command::Untrack(sub.id.clone())).await;
        let path = format!("Device.LocalAgent.Subscription.[ID==\"{}\"].", sub.id);
        self.delete(&[path]).await.map(|_| ())
    }

    /// Closes the connection (WebSocket close 1000) and stops reconnecting. Outstanding
    /// requests fail with [`ClientError::Disconnected`].
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

enum SessionEnd {
    /// Reconnect after a backoff.
    Lost(String),
    /// Stop for good.
    Closed,
}

struct Driver {
    config: Arc<ClientConfig>,
    shared: Arc<Shared>,
    state: watch::Sender<ConnectionState>,
    link: Link,
    waiters: HashMap<RequestId, Reply>,
    internal: HashMap<RequestId, String>,
    subscriptions: Vec<Subscription>,
    close_ack: Option<oneshot::Sender<()>>,
    /// The agent answered something in this session.
    answered: bool,
    /// Rate limit of the "ignored a record" warnings.
    drop_log: RateLimit,
    /// Sizes of the notifications sent last, newest at the back (at most the channel's
    /// length): what the channel may still hold.
    notif_sizes: VecDeque<usize>,
    /// Notifications left out since the last one sent.
    notif_missed: u64,
}

/// At most [`RateLimit::BURST`] log lines per [`RateLimit::WINDOW`]; the next line after a
/// quiet stretch says how many were left out.
#[derive(Debug)]
struct RateLimit {
    window_start: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

enum Allow {
    Log { suppressed: u64 },
    Quiet,
}

impl RateLimit {
    const BURST: u32 = 10;
    const WINDOW: Duration = Duration::from_secs(60);

    fn new() -> Self {
        Self { window_start: None, in_window: 0, suppressed: 0 }
    }

    fn allow(&mut self, now: Instant) -> Allow {
        match self.window_start {
            Some(start) if now.duration_since(start) < Self::WINDOW => {}
            _ => {
                self.window_start = Some(now);
                self.in_window = 0;
            }
        }
        if self.in_window < Self::BURST {
            self.in_window += 1;
            Allow::Log { suppressed: std::mem::take(&mut self.suppressed) }
        } else {
            self.suppressed += 1;
            Allow::Quiet
        }
    }
}

/// Frames waiting for the socket, written from inside the driver's `select!` so that a
/// peer that stops reading never stops the timers.
#[derive(Default)]
struct Outgoing {
    queue: VecDeque<Message>,
    /// Frames handed to the socket but not flushed yet.
    unflushed: bool,
    /// Since when data has been waiting without the socket taking any of it.
    stalled_since: Option<tokio::time::Instant>,
}

impl Outgoing {
    fn push(&mut self, m: Message) {
        self.queue.push_back(m);
        self.stalled_since.get_or_insert_with(tokio::time::Instant::now);
    }

    fn pending(&self) -> bool {
        !self.queue.is_empty() || self.unflushed
    }
}

/// What the socket did.
enum Io {
    /// A frame came (or the stream ended).
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    /// Writing failed.
    WriteFailed(String),
}

/// Moves queued frames into the socket as far as it takes them now and flushes, without
/// waiting. Cancel-safe: a frame leaves the queue only when the socket has accepted it.
fn poll_write(socket: &mut ws::Socket, out: &mut Outgoing, cx: &mut Context<'_>) -> Result<(), String> {
    let mut progress = false;
    while !out.queue.is_empty() {
        match Pin::new(&mut *socket).poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let Some(m) = out.queue.pop_front() else { break };
                Pin::new(&mut *socket).start_send(m).map_err(|e| describe_ws_error(&e))?;
                out.unflushed = true;
                progress = true;
            }
            Poll::Ready(Err(e)) => return Err(describe_ws_error(&e)),
            Poll::Pending => break,
        }
    }
    if out.unflushed {
        match Pin::new(&mut *socket).poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                out.unflushed = false;
                progress = true;
            }
            Poll::Ready(Err(e)) => return Err(describe_ws_error(&e)),
            Poll::Pending => {}
        }
    }
    if !out.pending() {
        out.stalled_since = None;
    } else if progress {
        out.stalled_since = Some(tokio::time::Instant::now());
    }
    Ok(())
}

/// Writes what it can (see [`poll_write`]), then reads.
fn poll_io(socket: &mut ws::Socket, out: &mut Outgoing, cx: &mut Context<'_>) -> Poll<Io> {
    if let Err(e) = poll_write(socket, out, cx) {
        return Poll::Ready(Io::WriteFailed(e));
    }
    socket.poll_next_unpin(cx).map(Io::Frame)
}

impl Driver {
    fn new(config: Arc<ClientConfig>, shared: Arc<Shared>, state: watch::Sender<ConnectionState>, tag: u32) -> Self {
        let link = Link::new(
            config.own_id.clone(),
            config.agent_id.clone(),
            LinkConfig {
                request_timeout: config.request_timeout,
                limits: config.limits,
                msg_id_prefix: format!("uh{tag:08x}"),
                ..LinkConfig::default()
            },
        );
        Self {
            config,
            shared,
            state,
            link,
            waiters: HashMap::new(),
            internal: HashMap::new(),
            subscriptions: Vec::new(),
            close_ack: None,
            answered: false,
            drop_log: RateLimit::new(),
            notif_sizes: VecDeque::new(),
            notif_missed: 0,
        }
    }

    fn ws_config(&self) -> WebSocketConfig {
        let max = self.config.limits.max_record_size;
        // tungstenite zero-fills its whole read buffer before every read attempt, even one
        // that would block; the 128 KiB default costs several microseconds per poll. The
        // buffer still grows for large messages.
        WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_SIZE)
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut attempt: u32 = 0;
        loop {
            self.state.send_replace(ConnectionState::Connecting { attempt });
            let connect = ws::connect(
                &self.config.url,
                &self.config.own_id,
                self.config.tls.clone(),
                self.ws_config(),
                self.config.connect_timeout,
            );
            // Requests made while connecting fail at once with a clear error.
            let outcome = tokio::select! {
                r = connect => Some(r),
                end = Self::refuse_while_down(&mut commands, &mut self.close_ack, "connecting to the agent") => {
                    if matches!(end, SessionEnd::Closed) { None } else { continue }
                }
            };
            let reason = match outcome {
                None => break,
                Some(Ok((socket, handshake))) => {
                    if let Err(e) = self.learn_agent_id(&handshake) {
                        self.stop_for_user(e);
                        break;
                    }
                    let started = Instant::now();
                    self.answered = false;
                    match self.session(socket, &mut commands).await {
                        SessionEnd::Closed => break,
                        SessionEnd::Lost(reason) => {
                            // Only a healthy session starts the backoff over: an agent
                            // that accepts and drops us at once is retried ever slower.
                            if self.answered || started.elapsed() >= HEALTHY_AFTER {
                                attempt = 0;
                            }
                            reason
                        }
                    }
                }
                Some(Err(e)) if e.needs_user() => {
                    self.stop_for_user(e);
                    break;
                }
                Some(Err(e)) => e.to_string(),
            };
            self.link.connection_lost(&reason);
            self.dispatch_events();
            let delay = self.config.backoff.delay(attempt, &mut rand::rng());
            attempt = attempt.saturating_add(1);
            info!(reason = %for_log(&reason), retry_in_ms = delay.as_millis() as u64, "connection to agent lost");
            self.state.send_replace(ConnectionState::Disconnected { reason: reason.clone(), retry_in: delay });
            let sleep = tokio::time::sleep(delay);
            tokio::select! {
                _ = sleep => {}
                end = Self::refuse_while_down(&mut commands, &mut self.close_ack, &reason) => {
                    if matches!(end, SessionEnd::Closed) { break }
                }
            }
        }
        self.link.connection_lost("the client was closed");
        self.dispatch_events();
        if !matches!(*self.state.borrow(), ConnectionState::NeedsUser { .. }) {
            self.state.send_replace(ConnectionState::Closed);
        }
        if let Some(ack) = self.close_ack.take() {
            let _ = ack.send(());
        }
    }

    /// The agent's Endpoint ID from the handshake: on wss the certificate's SAN decides
    /// (R-SEC.0a: the WebSocketConnect record and every `from_id` must then match it, which
    /// the link enforces); otherwise the extensions header, when nothing better is known.
    fn learn_agent_id(&mut self, handshake: &ws::Handshake) -> Result<(), ConnectError> {
        if let Some(cert) = handshake.peer_certificates.first() {
            // The verifier accepted a certificate naming the expected EID, possibly among
            // others (L2): the same rule here, so such a device connects.
            let in_cert = crate::tls::endpoint_id_matching(cert, self.link.agent_id()).map_err(ConnectError::from)?;
            match self.link.agent_id() {
                Some(expected) if *expected != in_cert => {
                    return Err(ConnectError::CertificateEidMismatch {
                        expected: expected.clone(),
                        in_certificate: in_cert,
                    });
                }
                Some(_) => {}
                None => self.link.set_agent_id(in_cert),
            }
        } else if let (None, Some(hint)) = (self.link.agent_id(), handshake.agent_id_hint.clone()) {
            self.link.set_agent_id(hint);
        }
        Ok(())
    }

    fn stop_for_user(&mut self, error: ConnectError) {
        warn!(error = %for_log(&error.to_string()), "not connecting until the user decides");
        self.state.send_replace(ConnectionState::NeedsUser { error });
    }

    /// While not connected: answer requests with NotConnected; return on Close (or when
    /// every handle is gone). Never returns otherwise, so it is used inside `select!`.
    async fn refuse_while_down(
        commands: &mut mpsc::Receiver<Command>,
        close_ack: &mut Option<oneshot::Sender<()>>,
        reason: &str,
    ) -> SessionEnd {
        loop {
            match commands.recv().await {
                None => return SessionEnd::Closed,
                Some(Command::Close(ack)) => {
                    *close_ack = Some(ack);
                    return SessionEnd::Closed;
                }
                Some(Command::Request { reply, .. }) => {
                    let _ = reply.send(Err(ClientError::NotConnected(reason.to_owned())));
                }
                // Subscription bookkeeping cannot happen while down; the handle only
                // tracks after a successful Add, which needs a connection.
                Some(Command::Track(_)) | Some(Command::Untrack(_)) => {}
            }
        }
    }

    async fn session(&mut self, mut socket: ws::Socket, commands: &mut mpsc::Receiver<Command>) -> SessionEnd {
        let started = Instant::now();
        let mut connected = false;
        let mut last_rx = Instant::now();
        let ping_every = self.config.ping_interval;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut ping_counter: u8 = 0;
        // One timer for the link's deadlines, moved only when a deadline comes earlier than
        // the one armed: each request brings a later deadline and each reply removes one, and
        // moving a tokio timer for each of those costs on the hot path. A timer that fires
        // early (its request was answered) only re-arms for the next deadline.
        let idle = tokio::time::Instant::now() + Duration::from_secs(86_400);
        let timer = tokio::time::sleep_until(idle);
        tokio::pin!(timer);
        let mut armed = idle;
        let mut out = Outgoing::default();
        let write_timeout = self.config.write_timeout;
        if let Some(agent) = self.link.agent_id().cloned() {
            connected = true;
            self.on_connected(agent);
        }
        loop {
            while let Some(bytes) = self.link.poll_transmit() {
                out.push(Message::Binary(bytes));
            }
            // Hand the socket what it takes right now, without waiting: writes go on even
            // while commands or frames keep the select below busy.
            if out.pending() {
                let wrote = std::future::poll_fn(|cx| Poll::Ready(poll_write(&mut socket, &mut out, cx))).await;
                if let Err(e) = wrote {
                    return SessionEnd::Lost(e);
                }
            }
            if !connected {
                if let Some(agent) = self.link.agent_id().cloned() {
                    connected = true;
                    self.on_connected(agent);
                    continue;
                }
            }
            let link_deadline = self.link.poll_timeout().map(tokio::time::Instant::from_std);
            let silent_deadline =
                (!connected).then(|| tokio::time::Instant::from_std(started + self.config.connect_timeout));
            let write_deadline = out.stalled_since.map(|t| t + write_timeout);
            let wake = [link_deadline, silent_deadline, write_deadline].into_iter().flatten().min().unwrap_or(idle);
            if wake < armed {
                timer.as_mut().reset(wake);
                armed = wake;
            }
            tokio::select! {
                biased;
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { return self.close_socket(socket, None).await };
                    if let Err(ack) = self.on_command(cmd, connected) {
                        return self.close_socket(socket, ack).await;
                    }
                    // Take whatever else is queued before writing, so pipelined requests
                    // go out in one flush.
                    for _ in 0..1024 {
                        match commands.try_recv() {
                            Ok(cmd) => {
                                if let Err(ack) = self.on_command(cmd, connected) {
                                    return self.close_socket(socket, ack).await;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    self.dispatch_events();
                }
                io = std::future::poll_fn(|cx| poll_io(&mut socket, &mut out, cx)) => {
                    let frame = match io {
                        Io::Frame(frame) => frame,
                        Io::WriteFailed(e) => return SessionEnd::Lost(e),
                    };
                    last_rx = Instant::now();
                    match frame {
                        None => return SessionEnd::Lost("the agent closed the connection".into()),
                        Some(Err(e)) => return SessionEnd::Lost(describe_ws_error(&e)),
                        Some(Ok(Message::Binary(bytes))) => {
                            self.link.handle_record(bytes, Instant::now());
                            self.dispatch_events();
                        }
                        Some(Ok(Message::Text(_))) => {
                            let frame = CloseFrame { code: CloseCode::Unsupported, reason: "USP records travel in binary frames".into() };
                            let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(Some(frame))).await;
                            return SessionEnd::Lost("the agent sent a text frame, which USP does not allow".into());
                        }
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map(|f| format!("code {}, {}", u16::from(f.code), usp_core::text::for_log(f.reason.as_str()))).unwrap_or_else(|| "no reason".into());
                            return SessionEnd::Lost(format!("the agent closed the connection ({why})"));
                        }
                        Some(Ok(Message::Ping(_))) | Some(Ok(Message::Pong(_))) | Some(Ok(Message::Frame(_))) => {}
                    }
                }
                _ = ping.tick() => {
                    if last_rx.elapsed() > ping_every * 3 {
                        return SessionEnd::Lost(format!("the agent stopped answering (nothing for {:?})", last_rx.elapsed()));
                    }
                    ping_counter = ping_counter.wrapping_add(1);
                    out.push(Message::Ping(Bytes::copy_from_slice(&[ping_counter])));
                }
                _ = &mut timer => {
                    armed = idle;
                    timer.as_mut().reset(idle);
                    if let Some(since) = out.stalled_since {
                        if since.elapsed() >= write_timeout {
                            let waiting: usize = out.queue.len();
                            return SessionEnd::Lost(format!(
                                "the agent stopped reading what we send (nothing taken for {write_timeout:?}, {waiting} messages waiting)"
                            ));
                        }
                    }
                    if !connected && Instant::now() >= started + self.config.connect_timeout {
                        let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
                        return SessionEnd::Lost(ConnectError::AgentSilent(self.config.connect_timeout).to_string());
                    }
                    self.link.handle_timeout(Instant::now());
                    self.dispatch_events();
                }
            }
        }
    }

    /// Handles one command during a session. `Err` means: close, acknowledging with this.
    fn on_command(&mut self, cmd: Command, connected: bool) -> Result<(), Option<oneshot::Sender<()>>> {
        match cmd {
            Command::Close(ack) => return Err(Some(ack)),
            Command::Request { request, timeout, reply } => {
                if !connected {
                    let _ =
                        reply.send(Err(ClientError::NotConnected("waiting for the agent to identify itself".into())));
                    return Ok(());
                }
                let timeout = timeout.unwrap_or(self.config.request_timeout);
                match self.link.send_with_timeout(request, timeout, Instant::now()) {
                    Ok(id) => {
                        self.waiters.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Track(sub) => {
                self.subscriptions.retain(|s| s.id != sub.id);
                self.subscriptions.push(sub);
            }
            Command::Untrack(id) => self.subscriptions.retain(|s| s.id != id),
        }
        Ok(())
    }

    fn on_connected(&mut self, agent: EndpointId) {
        debug!(agent = %agent, "connected");
        self.shared.stats.connects.fetch_add(1, Ordering::Relaxed);
        self.state.send_replace(ConnectionState::Connected { agent });
        // Re-create subscriptions the agent may have lost (reboot, non-persistent rows).
        // An Add of an ID that still exists fails with 7025 (duplicate key): fine.
        for sub in self.subscriptions.clone() {
            let Ok(req) = Subscription::add_request(&sub.id, sub.kind, &sub.references) else { continue };
            if let Ok(id) = self.link.send(req, Instant::now()) {
                self.internal.insert(id, sub.id.clone());
            }
        }
    }

    fn dispatch_events(&mut self) {
        while let Some(event) = self.link.poll_event() {
            match event {
                Event::Completed { id, result } => {
                    if matches!(
                        result,
                        Ok(_)
                            | Err(usp_core::engine::RequestError::Usp(_))
                            | Err(usp_core::engine::RequestError::UnexpectedResponse { .. })
                    ) {
                        self.answered = true;
                    }
                    if let Some(reply) = self.waiters.remove(&id) {
                        let _ = reply.send(result.map_err(ClientError::from));
                    } else if let Some(sub_id) = self.internal.remove(&id) {
                        match result {
                            Ok(_) => info!(subscription = %sub_id, "subscription restored"),
                            // A duplicate ID: 7025, or 7004 carrying a 7025 param error (the
                            // reference agent): the agent still has it.
                            Err(usp_core::engine::RequestError::Usp(e)) if e.is_duplicate() => {
                                debug!(subscription = %sub_id, "subscription still in place")
                            }
                            Err(e) => {
                                warn!(subscription = %sub_id, error = %for_log(&e.to_string()), "could not restore subscription")
                            }
                        }
                    }
                }
                Event::Notification { msg_id, notify } => {
                    self.shared.stats.notifications.fetch_add(1, Ordering::Relaxed);
                    if let Some(agent) = self.link.agent_id().cloned() {
                        self.queue_notification(AgentNotification { agent, msg_id, notify, missed: 0 });
                    }
                }
                Event::Connected { agent } => debug!(agent = %agent, "agent connect record"),
                Event::Disconnect { reason_code, reason } => {
                    info!(reason_code, reason = %for_log(&reason), "the agent announced a disconnect")
                }
                Event::Dropped(why) => {
                    self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    if matches!(why, usp_core::engine::Dropped::NotifyTooLarge { .. }) {
                        self.notif_missed += 1;
                        self.shared.stats.notifications_missed.fetch_add(1, Ordering::Relaxed);
                    }
                    match self.drop_log.allow(Instant::now()) {
                        Allow::Log { suppressed: 0 } => warn!(%why, "ignored a record from the agent"),
                        Allow::Log { suppressed } => {
                            warn!(%why, suppressed, "ignored a record from the agent (and {suppressed} more not logged)")
                        }
                        Allow::Quiet => {}
                    }
                }
            }
        }
    }

    /// Sends a notification to the receivers unless the ones they have not read yet
    /// already hold [`NOTIFY_QUEUE_BUDGET`] bytes.
    fn queue_notification(&mut self, mut n: AgentNotification) {
        // The channel keeps the last `len()` values sent (until every receiver saw them).
        let queued = self.shared.notifications.len();
        while self.notif_sizes.len() > queued {
            self.notif_sizes.pop_front();
        }
        let held: usize = self.notif_sizes.iter().sum();
        let size = notification_size(&n);
        if held + size > NOTIFY_QUEUE_BUDGET {
            self.notif_missed += 1;
            self.shared.stats.notifications_missed.fetch_add(1, Ordering::Relaxed);
            if let Allow::Log { suppressed } = self.drop_log.allow(Instant::now()) {
                warn!(queued, held, suppressed, "notifications are not being read; leaving this one out");
            }
            return;
        }
        n.missed = std::mem::take(&mut self.notif_missed);
        if self.shared.notifications.send(n).is_ok() {
            self.notif_sizes.push_back(size);
            if self.notif_sizes.len() > NOTIFY_QUEUE_LEN {
                self.notif_sizes.pop_front();
            }
        }
    }

    async fn close_socket(&mut self, mut socket: ws::Socket, ack: Option<oneshot::Sender<()>>) -> SessionEnd {
        self.close_ack = ack;
        let frame = CloseFrame { code: CloseCode::Normal, reason: "controller closing".into() };
        let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(Some(frame))).await;
        SessionEnd::Closed
    }
}

/// What one queued notification costs: its text (one compact buffer) plus the slot.
fn notification_size(n: &AgentNotification) -> usize {
    let m = msg::Msg::new(n.msg_id.clone(), msg::Body::Request(Request::Notify(n.notify.clone())));
    usp_core::wire::encoded_msg_len(&m) + std::mem::size_of::<AgentNotification>()
}

/// How long a closing handshake may take before the socket is simply dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

fn describe_ws_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match e {
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            format!("the agent sent a {size}-byte record, over our {max_size}-byte limit")
        }
        Error::Io(io) => format!("network error: {io}"),
        Error::Protocol(p) => format!("WebSocket protocol violation by the agent: {p}"),
        Error::ConnectionClosed | Error::AlreadyClosed => "the connection is closed".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let b =
            Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2), multiplier: 2.0, jitter: 0.2 };
        let mut rng = rand::rng();
        for attempt in 0..20 {
            let d = b.delay(attempt, &mut rng).as_secs_f64();
            let base = (0.1 * 2f64.powi(attempt as i32)).min(2.0);
            assert!(d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9, "attempt {attempt}: {d} vs {base}");
        }
        let no_jitter = Backoff { jitter: 0.0, ..b };
        assert_eq!(no_jitter.delay(3, &mut rng), Duration::from_millis(800));
    }

    #[test]
    fn a_doubling_curve_without_jitter() {
        let b = Backoff::doubling(Duration::from_millis(250), Duration::from_secs(30));
        let waits: Vec<u128> = (0..9).map(|n| b.nominal(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
        let recheck = Backoff::doubling(Duration::from_secs(30), Duration::from_secs(600));
        assert_eq!(recheck.nominal(4), Duration::from_secs(480));
        assert_eq!(recheck.nominal(5), Duration::from_secs(600));
    }

    #[test]
    fn dropped_record_warnings_are_rate_limited() {
        let mut r = RateLimit::new();
        let t0 = Instant::now();
        let logged = (0..1000).filter(|_| matches!(r.allow(t0), Allow::Log { .. })).count();
        assert_eq!(logged, RateLimit::BURST as usize);
        match r.allow(t0 + RateLimit::WINDOW) {
            Allow::Log { suppressed } => assert_eq!(suppressed, 1000 - u64::from(RateLimit::BURST)),
            Allow::Quiet => panic!("a new window logs again"),
        }
    }

    #[test]
    fn notif_kinds_parse_from_cli_spelling() {
        assert_eq!("value-change".parse::<NotifKind>(), Ok(NotifKind::ValueChange));
        assert_eq!("object-creation".parse::<NotifKind>(), Ok(NotifKind::ObjectCreation));
        assert_eq!("ObjectDeletion".parse::<NotifKind>(), Ok(NotifKind::ObjectDeletion));
        assert_eq!("operation-complete".parse::<NotifKind>(), Ok(NotifKind::OperationComplete));
        assert_eq!("event".parse::<NotifKind>(), Ok(NotifKind::Event));
        assert!("boot".parse::<NotifKind>().is_err());
    }
}
