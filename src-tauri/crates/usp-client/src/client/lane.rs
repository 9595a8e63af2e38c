//! What the handles share with the driver task: the [`Link`], the open transport and the
//! callers waiting for replies.
//!
//! A request made while the connection is idle (nothing in flight, nothing queued) goes out
//! from its caller's own task: through the driver's queue it would cost a wake-up of the
//! driver and a turn of its loop before the first byte leaves. The driver still reads every
//! reply, runs the timers and pings, and takes the requests made while others are in flight
//! (those leave together in one flush).

use super::driver::{lock_lane, now, poll_write, Outgoing};
use super::*;

pub(super) struct Lane {
    pub(super) link: Link,
    /// The callers waiting for the answer to a request, by the link's id for it.
    pub(super) waiters: HashMap<RequestId, Reply>,
    /// The open transport, during a session.
    pub(super) socket: Option<Box<dyn Transport>>,
    /// The session is connected (the agent identified itself) and its transport lets a
    /// caller's task write ([`Transport::any_task_may_send`]).
    pub(super) direct: bool,
    /// Frames waiting for the transport.
    pub(super) out: Outgoing,
    /// When the driver's timer fires next: a request with an earlier deadline must tell it.
    pub(super) armed: Instant,
    /// A write from a caller's task failed: the driver ends the session with these words.
    pub(super) failed: Option<String>,
}

impl Lane {
    pub(super) fn new(link: Link) -> Lane {
        Lane {
            link,
            waiters: HashMap::new(),
            socket: None,
            direct: false,
            out: Outgoing::default(),
            // Later than any timer the driver arms: the first request tells it.
            armed: now() + Duration::from_secs(365 * 86_400),
            failed: None,
        }
    }

    /// Opens a session on `socket`.
    pub(super) fn open(&mut self, socket: Box<dyn Transport>) {
        self.socket = Some(socket);
        self.direct = false;
        self.out = Outgoing::default();
        self.failed = None;
    }

    /// Ends the session: the transport (if still here) is dropped.
    pub(super) fn end(&mut self) -> Option<Box<dyn Transport>> {
        self.direct = false;
        self.out = Outgoing::default();
        self.failed = None;
        self.socket.take()
    }
}

impl Client {
    /// Sends `request` from the caller's task when the connection is idle, its answer to
    /// come through `reply`. Gives the request back when it must go through the driver's
    /// queue instead.
    pub(super) fn send_direct(
        &self,
        cx: &mut Context<'_>,
        request: Request,
        timeout: Option<Duration>,
        reply: Reply,
    ) -> Option<(Request, Reply)> {
        // Something queued for the driver goes first; an Operate that wants no answer is
        // completed by the driver.
        let queue_empty = self.commands.capacity() == self.commands.max_capacity();
        if !queue_empty || matches!(&request, Request::Operate(op) if !op.send_resp) {
            return Some((request, reply));
        }
        let mut guard = lock_lane(&self.shared);
        let lane = &mut *guard;
        if !lane.direct || !lane.waiters.is_empty() || lane.out.pending() || lane.failed.is_some() {
            return Some((request, reply));
        }
        let Some(socket) = lane.socket.as_mut() else { return Some((request, reply)) };
        let timeout = timeout.unwrap_or(self.config.request_timeout);
        let at = now();
        match lane.link.send_with_timeout(request, timeout, at) {
            Ok(id) => {
                lane.waiters.insert(id, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return None;
            }
        }
        while let Some(bytes) = lane.link.poll_transmit() {
            lane.out.push(Outbound::Record(bytes));
        }
        let mut kick = at + timeout < lane.armed;
        match poll_write(&mut **socket, &mut lane.out, cx) {
            Ok(()) => kick |= lane.out.pending(),
            Err(e) => {
                lane.failed = Some(e);
                kick = true;
            }
        }
        drop(guard);
        if kick {
            // A full queue has the driver busy already: it looks again after it.
            let _ = self.commands.try_send(Command::Kick);
        }
        None
    }
}
