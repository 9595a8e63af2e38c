//! The actor of one agent: it owns the [`Agent`], runs every request, timer, life tick and
//! internal edit in turn, and routes each Notify to the connection of its controller.

use std::collections::HashMap;
use std::future::pending;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use usp_core::eid::EndpointId;

use super::{close, stopped, Cmd, Out, ACTOR_BATCH, MAX_IN_FLIGHT, TIMER_MIN_GAP};
use crate::agent::{Agent, Outgoing};

pub(super) struct ConnEntry {
    eid: EndpointId,
    out: mpsc::Sender<Out>,
    close: Option<oneshot::Sender<(u16, &'static str)>>,
}

pub(super) struct Actor {
    pub(super) key: String,
    pub(super) agent: Agent,
    pub(super) rng: StdRng,
    pub(super) conns: HashMap<u64, ConnEntry>,
    pub(super) by_eid: HashMap<EndpointId, u64>,
    /// Published list of connected controllers (for [`crate::home::AgentHandle`]).
    pub(super) connected: watch::Sender<Vec<EndpointId>>,
}

impl Actor {
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Cmd>, mut shutdown: watch::Receiver<bool>) {
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
