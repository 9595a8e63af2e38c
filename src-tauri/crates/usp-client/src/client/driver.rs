//! The driver task behind a [`Client`]: it connects and reconnects, pings, reads and
//! routes what the agent sends, and writes what the engine wants sent (but a request on
//! an idle connection, which its caller writes: `lane.rs`). The [`Link`] and the socket
//! live in the lane both share.

use super::lane::{poll_io, poll_write, Io};
use super::*;

pub(super) enum SessionEnd {
    /// Reconnect after a backoff.
    Lost(String),
    /// Stop for good.
    Closed,
}

pub(super) struct Driver {
    config: Arc<ClientConfig>,
    shared: Arc<Shared>,
    state: watch::Sender<ConnectionState>,
    internal: HashMap<RequestId, String>,
    subscriptions: Vec<Subscription>,
    close_ack: Option<oneshot::Sender<()>>,
    /// Rate limit of the "ignored a record" warnings.
    drop_log: RateLimit,
    /// Sizes of the notifications sent last, newest at the back (at most the channel's
    /// length): what the channel may still hold.
    notif_sizes: VecDeque<usize>,
    /// Notifications left out since the last one sent.
    notif_missed: u64,
    /// When an agent's connect record last made us send the subscriptions again.
    last_restore: Option<Instant>,
    /// Which caller held the read lane at the last ping (see [`ReadWake::steal`]).
    lane_held_at_ping: Option<u64>,
}

/// At most [`RateLimit::BURST`] log lines per [`RateLimit::WINDOW`]; the next line after a
/// quiet stretch says how many were left out.
#[derive(Debug)]
pub(super) struct RateLimit {
    window_start: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

pub(super) enum Allow {
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

impl Driver {
    pub(super) fn new(config: Arc<ClientConfig>, shared: Arc<Shared>, state: watch::Sender<ConnectionState>) -> Self {
        Self {
            config,
            shared,
            state,
            internal: HashMap::new(),
            subscriptions: Vec::new(),
            close_ack: None,
            drop_log: RateLimit::new(),
            notif_sizes: VecDeque::new(),
            notif_missed: 0,
            last_restore: None,
            lane_held_at_ping: None,
        }
    }

    /// The state shared with the handles. Never held across an `.await`.
    fn lane(&self) -> std::sync::MutexGuard<'_, Lane> {
        lock_lane(&self.shared)
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut attempt: u32 = 0;
        loop {
            self.state.send_replace(ConnectionState::Connecting { attempt });
            let config = self.config.clone();
            let connect = async move {
                match tokio::time::timeout(config.connect_timeout, mtp::connect(&config)).await {
                    Ok(r) => r.map(|opened| mtp::e2e::wrap(opened, &config)),
                    Err(_) => Err(ConnectError::Timeout(config.connect_timeout)),
                }
            };
            // Requests made while connecting fail at once with a clear error.
            let outcome = tokio::select! {
                r = connect => Some(r),
                end = Self::refuse_while_down(&mut commands, &mut self.close_ack, "connecting to the agent") => {
                    if matches!(end, SessionEnd::Closed) { None } else { continue }
                }
            };
            let reason = match outcome {
                None => break,
                Some(Ok(Opened { transport, handshake })) => {
                    if let Err(e) = self.learn_agent_id(&handshake) {
                        self.stop_for_user(e);
                        break;
                    }
                    let started = now();
                    self.set_carrier(Some(transport.carrier()));
                    let end = self.session(transport, &mut commands).await;
                    self.set_carrier(None);
                    match end {
                        SessionEnd::Closed => break,
                        SessionEnd::Lost(reason) => {
                            // Only a healthy session starts the backoff over: an agent
                            // that accepts and drops us at once is retried ever slower.
                            if self.lane().answered || now().duration_since(started) >= HEALTHY_AFTER {
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
            self.lane().link.connection_lost(&reason);
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
        self.lane().link.connection_lost("the client was closed");
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
    fn learn_agent_id(&mut self, handshake: &Handshake) -> Result<(), ConnectError> {
        let mut lane = self.lane();
        let link = &mut lane.link;
        if let Some(cert) = handshake.peer_certificates.first() {
            // The verifier accepted a certificate naming the expected EID, possibly among
            // others (L2): the same rule here, so such a device connects.
            let in_cert = crate::tls::endpoint_id_matching(cert, link.agent_id()).map_err(ConnectError::from)?;
            match link.agent_id() {
                Some(expected) if *expected != in_cert => {
                    return Err(ConnectError::CertificateEidMismatch {
                        expected: expected.clone(),
                        in_certificate: in_cert,
                    });
                }
                Some(_) => {}
                None => link.set_agent_id(in_cert),
            }
        } else if let (None, Some(hint)) = (link.agent_id(), handshake.agent_id_hint.clone()) {
            link.set_agent_id(hint);
        }
        Ok(())
    }

    fn set_carrier(&self, carrier: Option<Carrier>) {
        *self.shared.carrier.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = carrier;
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
                Some(Command::Track(_)) | Some(Command::Untrack(_)) | Some(Command::Kick) => {}
            }
        }
    }

    /// Runs one session on `socket` (kept in the lane, where an idle connection's callers
    /// write too) until it ends.
    async fn session(&mut self, socket: Box<dyn Transport>, commands: &mut mpsc::Receiver<Command>) -> SessionEnd {
        self.lane().open(socket);
        let end = self.serve(commands).await;
        let socket = self.lane().end();
        drop(socket);
        end
    }

    /// Takes the transport out of the lane (to close it, or when the session ends).
    fn take_socket(&self) -> Option<Box<dyn Transport>> {
        self.lane().end()
    }

    async fn serve(&mut self, commands: &mut mpsc::Receiver<Command>) -> SessionEnd {
        let started = now();
        let mut connected = false;
        let ping_every = self.config.ping_interval;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        // One timer for the link's deadlines, moved only when a deadline comes earlier than
        // the one armed: each request brings a later deadline and each reply removes one, and
        // moving a tokio timer for each of those costs on the hot path. A timer that fires
        // early (its request was answered) only re-arms for the next deadline. The lane
        // knows when it fires, so that a request sent from its caller's task with an earlier
        // deadline wakes the driver ([`Command::Kick`]).
        let idle = tokio::time::Instant::now() + Duration::from_secs(86_400);
        let timer = tokio::time::sleep_until(idle);
        tokio::pin!(timer);
        let mut armed = idle;
        self.lane().armed = armed.into_std();
        let mut shown_carrier = self.lane().socket.as_ref().map(|s| s.carrier());
        let write_timeout = self.config.write_timeout;
        let agent = self.lane().link.agent_id().cloned();
        if let Some(agent) = agent {
            connected = true;
            self.lane().connected();
            self.on_connected(agent);
        }
        loop {
            // Hand the socket what it takes right now, without waiting: writes go on even
            // while commands or frames keep the select below busy.
            let wrote = std::future::poll_fn(|cx| {
                let mut guard = lock_lane(&self.shared);
                let lane = &mut *guard;
                if let Some(e) = lane.failed.take() {
                    return Poll::Ready(Err(e));
                }
                while let Some(bytes) = lane.link.poll_transmit() {
                    lane.out.push(Outbound::Record(bytes));
                }
                Poll::Ready(match lane.socket.as_mut() {
                    Some(socket) if lane.out.pending() => poll_write(&mut **socket, &mut lane.out, cx),
                    _ => Ok(()),
                })
            })
            .await;
            if let Err(e) = wrote {
                return SessionEnd::Lost(e);
            }
            if !connected {
                let agent = self.lane().link.agent_id().cloned();
                if let Some(agent) = agent {
                    connected = true;
                    self.lane().connected();
                    self.on_connected(agent);
                    continue;
                }
            }
            let wake = {
                let mut lane = self.lane();
                let link_deadline = lane.link.poll_timeout().map(tokio::time::Instant::from_std);
                let silent_deadline =
                    (!connected).then(|| tokio::time::Instant::from_std(started + self.config.connect_timeout));
                let write_deadline = lane.out.stalled_since.map(|t| t + write_timeout);
                let wake = [link_deadline, silent_deadline, write_deadline].into_iter().flatten().min().unwrap_or(idle);
                if wake < armed {
                    lane.armed = wake.into_std();
                }
                wake
            };
            if wake < armed {
                timer.as_mut().reset(wake);
                armed = wake;
            }
            tokio::select! {
                biased;
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { return self.close_socket(None).await };
                    if let Err(ack) = self.on_command(cmd, connected) {
                        return self.close_socket(ack).await;
                    }
                    // Take whatever else is queued before writing, so pipelined requests
                    // go out in one flush.
                    for _ in 0..1024 {
                        match commands.try_recv() {
                            Ok(cmd) => {
                                if let Err(ack) = self.on_command(cmd, connected) {
                                    return self.close_socket(ack).await;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    self.dispatch_events();
                }
                io = std::future::poll_fn(|cx| {
                    let shared = &*self.shared;
                    let mut guard = lock_lane(shared);
                    let lane = &mut *guard;
                    // What a caller in the read lane left for the driver comes first.
                    if let Some(inbound) = lane.handed.take() {
                        return Poll::Ready(Io::In(inbound));
                    }
                    if !lane.for_driver.is_empty() {
                        return Poll::Ready(Io::Events);
                    }
                    shared.read_wake.driver_polls(cx.waker());
                    match lane.socket.as_mut() {
                        Some(socket) => {
                            let io = poll_io(&mut **socket, &mut lane.out, cx, &shared.read_waker);
                            lane.read_armed = io.is_pending();
                            match io {
                                // Fed to the link under the lock it was read under: a caller
                                // reading the next record cannot get its events in first.
                                Poll::Ready(Io::In(Inbound::Record(bytes))) => {
                                    lane.feed(bytes);
                                    Poll::Ready(Io::Fed)
                                }
                                Poll::Ready(Io::In(inbound)) => {
                                    lane.last_rx = now();
                                    Poll::Ready(Io::In(inbound))
                                }
                                other => other,
                            }
                        }
                        None => Poll::Ready(Io::WriteFailed("the connection is closed".into())),
                    }
                }) => {
                    let inbound = match io {
                        Io::In(inbound) => Some(inbound),
                        Io::Fed => None,
                        Io::Events => {
                            self.dispatch_events();
                            continue;
                        }
                        Io::WriteFailed(e) => return SessionEnd::Lost(e),
                    };
                    // The end-to-end layer's state shows on the carrier.
                    let carrier = self.lane().socket.as_ref().map(|s| s.carrier());
                    if shown_carrier != carrier {
                        shown_carrier = carrier;
                        self.set_carrier(carrier);
                    }
                    let Some(inbound) = inbound else {
                        self.dispatch_events();
                        continue;
                    };
                    match inbound {
                        // Fed as it was read, above; a caller hands over only the end of the
                        // connection. Fed here all the same should one ever come this way.
                        Inbound::Record(bytes) => {
                            self.lane().feed(bytes);
                            self.dispatch_events();
                        }
                        Inbound::Alive => {}
                        Inbound::Lost(why) => return SessionEnd::Lost(why),
                        Inbound::Violation(why) => {
                            self.close_with(Close::Violation).await;
                            return SessionEnd::Lost(why);
                        }
                    }
                }
                _ = ping.tick() => {
                    let mut lane = self.lane();
                    let quiet = now().duration_since(lane.last_rx);
                    if quiet > ping_every * 3 {
                        return SessionEnd::Lost(format!("the agent stopped answering (nothing for {quiet:?})"));
                    }
                    lane.out.push(Outbound::KeepAlive);
                    // The same caller has held the read lane since the last ping: its future
                    // is kept but not awaited. The driver reads from now on.
                    let held = self.shared.read_wake.reader_active().then_some(lane.claims);
                    if held.is_some() && held == self.lane_held_at_ping {
                        self.shared.read_wake.steal(&mut lane);
                        debug!("a caller held the read lane for a whole ping interval: the driver reads");
                    }
                    drop(lane);
                    self.lane_held_at_ping = held;
                }
                _ = &mut timer => {
                    armed = idle;
                    timer.as_mut().reset(idle);
                    let stalled = {
                        let mut lane = self.lane();
                        lane.armed = idle.into_std();
                        lane.out.stalled_since.map(|since| (since, lane.out.queue.len()))
                    };
                    if let Some((since, waiting)) = stalled {
                        if since.elapsed() >= write_timeout {
                            return SessionEnd::Lost(format!(
                                "the agent stopped reading what we send (nothing taken for {write_timeout:?}, {waiting} messages waiting)"
                            ));
                        }
                    }
                    if !connected && now() >= started + self.config.connect_timeout {
                        self.close_with(Close::Silent).await;
                        return SessionEnd::Lost(ConnectError::AgentSilent(self.config.connect_timeout).to_string());
                    }
                    self.lane().link.handle_timeout(now());
                    self.dispatch_events();
                }
            }
        }
    }

    /// Closes the transport with `why`, waiting [`CLOSE_WAIT`] at most.
    async fn close_with(&self, why: Close) {
        if let Some(mut socket) = self.take_socket() {
            let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(why)).await;
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
                let mut lane = self.lane();
                match lane.link.send_with_timeout(request, timeout, now()) {
                    Ok(id) => {
                        lane.waiters.insert(id, reply);
                    }
                    Err(e) => {
                        drop(lane);
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Kick => {}
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
        self.restore_subscriptions();
    }

    /// Re-creates subscriptions the agent may have lost (reboot, non-persistent rows).
    /// An Add of an ID that still exists fails with 7025 (duplicate key): fine.
    fn restore_subscriptions(&mut self) {
        for sub in self.subscriptions.clone() {
            let Ok(req) = Subscription::add_request(&sub.id, sub.kind, &sub.references) else { continue };
            let sent = self.lane().link.send(req, now());
            if let Ok(id) = sent {
                self.internal.insert(id, sub.id.clone());
            }
        }
    }

    fn dispatch_events(&mut self) {
        loop {
            let event = self.lane().next_event();
            let Some(event) = event else { break };
            match event {
                Event::Completed { id, result } => {
                    let completed = self.lane().complete(id, result);
                    match completed {
                        // The caller in the read lane waits on the lane, not on its oneshot.
                        Ok(()) => self.shared.read_wake.wake_reader(),
                        Err((id, result)) => self.restored(id, result),
                    }
                }
                Event::Notification { msg_id, notify } => {
                    self.shared.stats.notifications.fetch_add(1, Ordering::Relaxed);
                    let agent = self.lane().link.agent_id().cloned();
                    if let Some(agent) = agent {
                        self.queue_notification(AgentNotification { agent, msg_id, notify, missed: 0 });
                    }
                }
                Event::Connected { agent } => {
                    debug!(agent = %agent, "agent connect record");
                    // Through a broker, a connect record while we are connected means the agent
                    // (re)joined the broker: what we sent before it did (the subscriptions made
                    // again after a broker restart) may never have reached it.
                    let via_broker =
                        self.shared.carrier.lock().ok().and_then(|c| *c).is_some_and(|c| c.mtp.crosses_broker());
                    // At most once per RESTORE_GAP: a peer repeating connect records must not make
                    // us repeat every subscription each time.
                    let due = self.last_restore.is_none_or(|t| now().duration_since(t) >= RESTORE_GAP);
                    if via_broker && due && matches!(*self.state.borrow(), ConnectionState::Connected { .. }) {
                        self.last_restore = Some(now());
                        self.restore_subscriptions();
                    }
                }
                Event::Disconnect { reason_code, reason } => {
                    info!(reason_code, reason = %for_log(&reason), "the agent announced a disconnect")
                }
                Event::Dropped(why) => {
                    self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    if matches!(why, usp_core::engine::Dropped::NotifyTooLarge { .. }) {
                        self.notif_missed += 1;
                        self.shared.stats.notifications_missed.fetch_add(1, Ordering::Relaxed);
                    }
                    match self.drop_log.allow(now()) {
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

    /// The answer to one of the driver's own requests (a subscription made again).
    fn restored(&mut self, id: RequestId, result: Result<Response, usp_core::engine::RequestError>) {
        let Some(sub_id) = self.internal.remove(&id) else { return };
        match result {
            Ok(_) => info!(subscription = %sub_id, "subscription restored"),
            // A duplicate ID: 7025, or 7004 carrying a 7025 param error (the
            // reference agent): the agent still has it.
            Err(usp_core::engine::RequestError::Usp(e)) if e.is_duplicate() => {
                debug!(subscription = %sub_id, "subscription still in place")
            }
            Err(e) => warn!(subscription = %sub_id, error = %for_log(&e.to_string()), "could not restore subscription"),
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
            if let Allow::Log { suppressed } = self.drop_log.allow(now()) {
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

    async fn close_socket(&mut self, ack: Option<oneshot::Sender<()>>) -> SessionEnd {
        self.close_ack = ack;
        self.close_with(Close::Normal).await;
        SessionEnd::Closed
    }
}

/// The lane of `shared`, poisoned or not (nothing in it is left half changed by a panic
/// that matters more than stopping the client).
pub(super) fn lock_lane(shared: &Shared) -> std::sync::MutexGuard<'_, Lane> {
    shared.lane.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What one queued notification costs: its text (one compact buffer) plus the slot.
pub(super) fn notification_size(n: &AgentNotification) -> usize {
    let m = msg::Msg::new(n.msg_id.clone(), msg::Body::Request(Request::Notify(n.notify.clone())));
    usp_core::wire::encoded_msg_len(&m) + std::mem::size_of::<AgentNotification>()
}

/// Shortest time between two restorations of the subscriptions asked by an agent's connect
/// records through a broker.
pub(super) const RESTORE_GAP: Duration = Duration::from_secs(5);

/// How long a closing handshake may take before the socket is simply dropped.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The clock the driver and its [`Link`] run on: tokio's, so that a test with the clock
/// paused runs a whole session in virtual time.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
