//! The agent of one server and the task that runs its clock.
//!
//! The [`Agent`] lives in an [`AgentCore`] behind a short async lock. A WebSocket
//! connection task takes the lock to answer a request itself (no message to another task
//! and back: see `conn`); the **actor** task takes it for timers, life ticks, internal edits,
//! connection changes and the requests of record pipes. The lock is never held across an
//! `.await`, and it is fair (first come, first served), so a busy connection cannot starve
//! another one or the clock. After every step, whoever holds the lock routes the agent's
//! outbox: each Notify to the connection of its controller.

use std::collections::HashMap;
use std::future::pending;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use tokio::sync::{mpsc, oneshot, watch, Mutex, Notify};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use usp_core::eid::EndpointId;
use usp_proto::usp::request::ReqType;
use usp_proto::usp::{body::MsgBody, Msg};

use super::{close, stopped, Cmd, Out, ACTOR_BATCH, MAX_IN_FLIGHT, TIMER_MIN_GAP};
use crate::agent::{Agent, Outgoing};

pub(super) struct ConnEntry {
    eid: EndpointId,
    out: mpsc::Sender<Out>,
    close: Option<oneshot::Sender<(u16, &'static str)>>,
}

/// One agent and its connections, shared by the actor and the connection tasks.
pub(crate) struct AgentCore {
    state: Mutex<AgentState>,
    /// Told when a request may have moved the agent's next deadline (the actor then sleeps
    /// until the new one).
    deadline_moved: Notify,
}

pub(super) struct AgentState {
    pub(super) key: String,
    pub(super) agent: Agent,
    pub(super) rng: StdRng,
    pub(super) conns: HashMap<u64, ConnEntry>,
    pub(super) by_eid: HashMap<EndpointId, u64>,
    /// Published list of connected controllers (for [`crate::home::AgentHandle`]).
    pub(super) connected: watch::Sender<Vec<EndpointId>>,
}

impl AgentCore {
    pub(super) fn new(state: AgentState) -> Self {
        Self { state: Mutex::new(state), deadline_moved: Notify::new() }
    }

    /// Registers a new connection before it serves anything: the connection task answers
    /// requests itself, so the agent must know `conn` before the first one (through the
    /// actor's queue, a request could overtake the registration and go unanswered).
    pub(super) async fn connected(&self, conn: u64, eid: EndpointId, link: super::ConnLink) {
        self.state.lock().await.handle(Cmd::Connected { conn, eid, link }, SystemTime::now());
        self.deadline_moved.notify_one();
    }

    /// Queues a keep-alive Ping to every connection (from the keep-alive clock's thread:
    /// blocks it while a request is being answered). A full queue skips its Ping: that
    /// connection is not reading, which the write-stall timeout catches.
    pub(super) fn queue_pings(&self) {
        let state = self.state.blocking_lock();
        for entry in state.conns.values() {
            let _ = entry.out.try_send(Out::Ping);
        }
    }

    /// Answers a Msg from the controller of `conn` (`Ok(None)`: no answer, or `conn` is
    /// gone), and routes the Notifies it caused, when the agent's lock is free now (then
    /// nobody waits: the lock stays fair). The Msg comes back when it is not: then
    /// [`AgentCore::answer_when_free`].
    // The Msg goes back as it came (no copy); the answer in `Ok` is a Msg of the same size.
    #[allow(clippy::result_large_err)]
    pub(super) fn try_answer(&self, conn: u64, msg: Msg) -> Result<Option<Msg>, Msg> {
        match self.state.try_lock() {
            Ok(state) => Ok(self.answer_with(state, conn, msg)),
            Err(_) => Err(msg),
        }
    }

    /// [`AgentCore::try_answer`] after waiting for the lock. Boxed: waiting is rare, and its
    /// future would make the connection loop's larger to move on every request.
    pub(super) async fn answer_when_free(&self, conn: u64, msg: Msg) -> Option<Msg> {
        Box::pin(async move {
            let state = self.state.lock().await;
            self.answer_with(state, conn, msg)
        })
        .await
    }

    fn answer_with(&self, mut state: tokio::sync::MutexGuard<'_, AgentState>, conn: u64, msg: Msg) -> Option<Msg> {
        // Reads change no deadline: only other requests wake the actor.
        let reads_only = matches!(
            msg.body.as_ref().and_then(|b| b.msg_body.as_ref()),
            Some(MsgBody::Request(r)) if matches!(
                r.req_type,
                Some(ReqType::Get(_) | ReqType::GetSupportedDm(_) | ReqType::GetInstances(_) | ReqType::GetSupportedProtocol(_))
            )
        );
        let reply = state.handle_msg(conn, msg, SystemTime::now());
        state.route_outbox();
        drop(state);
        if !reads_only {
            self.deadline_moved.notify_one();
        }
        reply
    }

    /// Runs the agent's clock and the commands of `rx` until the home shuts down.
    pub(super) async fn run(&self, mut rx: mpsc::Receiver<Cmd>, mut shutdown: watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(ACTOR_BATCH);
        let mut earliest_timer = Instant::now();
        let key = self.state.lock().await.key.clone();
        loop {
            let next = self.state.lock().await.agent.next_deadline();
            let deadline = next.map(|d| to_instant(d).max(earliest_timer));
            tokio::select! {
                biased;
                () = stopped(&mut shutdown) => break,
                () = sleep_until(deadline) => {
                    let mut state = self.state.lock().await;
                    state.agent.handle_timeout(SystemTime::now());
                    state.route_outbox();
                    earliest_timer = Instant::now() + TIMER_MIN_GAP;
                }
                () = self.deadline_moved.notified() => {}
                n = rx.recv_many(&mut batch, ACTOR_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    let now = SystemTime::now();
                    let mut state = self.state.lock().await;
                    for cmd in batch.drain(..) {
                        state.handle(cmd, now);
                    }
                }
            }
        }
        debug!(agent = %key, "agent actor stopped");
    }
}

impl AgentState {
    /// The agent's answer to a Msg from the controller of `conn`.
    fn handle_msg(&mut self, conn: u64, msg: Msg, now: SystemTime) -> Option<Msg> {
        let entry = self.conns.get(&conn)?; // replaced or gone: nobody to answer
                                            // Whatever a controller sends must not take the agent down: a panic in the brain
                                            // loses this message only.
        let agent = &mut self.agent;
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| agent.handle_msg(&entry.eid, msg, now)));
        match handled {
            Ok(reply) => reply,
            Err(_) => {
                tracing::error!(agent = %self.key, controller = %entry.eid, "the agent panicked on a message: ignored");
                None
            }
        }
    }

    fn handle(&mut self, cmd: Cmd, now: SystemTime) {
        match cmd {
            Cmd::Msg { conn, msg, permit } => {
                if let Some(reply) = self.handle_msg(conn, msg, now) {
                    if let Some(entry) = self.conns.get(&conn) {
                        if let Err(e) = entry.out.try_send(Out::Msg(reply, Some(permit))) {
                            debug!(agent = %self.key, controller = %entry.eid, "reply dropped: {e}");
                        }
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

    /// Sends each pending Notify to its controller's connection (dropped if it has none);
    /// after a restart of the agent (new firmware), closes every connection with 1001.
    fn route_outbox(&mut self) {
        if self.agent.take_restart() {
            info!(agent = %self.key, "the agent restarts: closing every connection");
            for entry in self.conns.values_mut() {
                if let Some(close) = entry.close.take() {
                    let _ = close.send((close::GOING_AWAY, close::GOING_AWAY_REASON));
                }
            }
        }
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
