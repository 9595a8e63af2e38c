//! The cloneable client handle (here) and the driver task behind it (`driver.rs`).
//!
//! One driver task per agent runs the connection and a [`usp_core::engine::Link`]; handles
//! talk to it through a channel, except that a request on an idle connection goes out from
//! its caller's own task (`lane.rs`). The driver reads every reply, reconnects with
//! jittered exponential backoff, pings the agent, fails outstanding requests when the
//! connection drops, and re-creates the subscriptions made through [`Client::subscribe`]
//! after a reconnect.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use usp_core::engine::{Event, Link, LinkConfig, RequestId};
use usp_core::msg::{self, Notify, Request, Response, Text};
use usp_core::request;
use usp_core::text::for_log;
use usp_core::wire::Limits;
use usp_core::EndpointId;

use crate::error::{ClientError, ConnectError};
use crate::mtp::{self, Carrier, Close, Connector, Handshake, Inbound, Opened, Outbound, Transport};

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
    /// TLS settings for wss:// (certificates, trust), and for TLS to a broker.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// User name and password at the broker (MQTT, STOMP), from the vault.
    pub login: Option<Login>,
    /// Opens the connections instead of the connector `url`'s scheme names (the in-memory
    /// transport, the listener for agents that dial us).
    pub connector: Option<Arc<dyn Connector>>,
    /// The shared endpoint for `coap://` addresses (devices send their Notifies to its fixed
    /// address); without it each CoAP session has a socket of its own.
    pub coap: Option<crate::mtp::coap::CoapEndpoint>,
    /// The end-to-end session context: off (the default), preferred or required, the
    /// agent's `MaxUSPRecordSize`, Record integrity ([`mtp::e2e`]).
    pub e2e: mtp::e2e::E2eSettings,
}

/// A user name and password at a message broker. The password never reaches logs: `Debug`
/// leaves it out, and it is wiped from memory when dropped.
#[derive(Clone)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password.
    pub password: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("username", &self.username).field("password", &"<hidden>").finish()
    }
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
            login: None,
            connector: None,
            coap: None,
            e2e: mtp::e2e::E2eSettings::default(),
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
type ReplyRx = oneshot::Receiver<Result<Response, ClientError>>;

enum Command {
    Request {
        request: Request,
        timeout: Option<Duration>,
        reply: Reply,
    },
    Track(Subscription),
    Untrack(String),
    Close(oneshot::Sender<()>),
    /// A request went out from its caller's task and the driver must look again (an
    /// earlier deadline than its timer's, a write left half done or failed).
    Kick,
}

struct Shared {
    notifications: broadcast::Sender<AgentNotification>,
    stats: Stats,
    sub_counter: AtomicU64,
    sub_prefix: String,
    /// What carries the open connection, if one is open.
    carrier: std::sync::Mutex<Option<Carrier>>,
    /// The link, the transport and the waiting callers, shared with the driver.
    lane: std::sync::Mutex<Lane>,
    /// Whom the transport's read side wakes: the caller in the read lane, or the driver.
    read_wake: Arc<ReadWake>,
    /// `read_wake` as the waker the read side is polled with.
    read_waker: std::task::Waker,
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
        let read_wake = Arc::new(ReadWake::default());
        let shared = Arc::new(Shared {
            notifications: notif_tx,
            stats: Stats::default(),
            sub_counter: AtomicU64::new(1),
            sub_prefix: format!("usphome-{tag:08x}"),
            carrier: std::sync::Mutex::new(None),
            lane: std::sync::Mutex::new(Lane::new(link)),
            read_waker: std::task::Waker::from(read_wake.clone()),
            read_wake,
        });
        let config = Arc::new(crate::mtp::with_lasting_connector(config));
        let driver = Driver::new(config.clone(), shared.clone(), state_tx);
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

    /// What carries the open connection, if one is open.
    pub fn carrier(&self) -> Option<Carrier> {
        *self.shared.carrier.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// How many replies their own callers read from the transport, without the driver
    /// task (diagnostics of the read lane: requests on an idle connection over WebSocket or
    /// in memory).
    pub fn replies_read_by_callers(&self) -> u64 {
        driver::lock_lane(&self.shared).read_by_callers
    }

    /// Sends any request and waits for its response.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub fn request(&self, request: Request) -> impl Future<Output = Result<Response, ClientError>> + Send + '_ {
        // No async layer of its own: the future is the one below, not a copy of it inside another.
        self.request_with_timeout(request, None)
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
        let (tx, mut rx) = oneshot::channel();
        // The reply: read from here when the transport lets a caller read and no other
        // caller does, else from the driver.
        let mut reader = Reader::new(&self.shared);
        // On an idle connection the request goes out from here; otherwise through the
        // driver's queue, where requests made together leave in one flush.
        let mut item = Some((request, tx));
        let queued = std::future::poll_fn(|cx| {
            Poll::Ready(item.take().and_then(|(r, tx)| self.send_direct(cx, r, timeout, tx, &mut reader)))
        })
        .await;
        if let Some((request, tx)) = queued {
            // Boxed: the queue's send future is large, and only this path needs it.
            Box::pin(self.commands.send(Command::Request { request, timeout, reply: tx }))
                .await
                .map_err(|_| ClientError::Closed)?;
        }
        std::future::poll_fn(|cx| reader.poll_reply(&mut rx, cx)).await
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

mod driver;
mod lane;

use driver::Driver;
use lane::{Lane, ReadWake, Reader};

#[cfg(test)]
mod tests;
