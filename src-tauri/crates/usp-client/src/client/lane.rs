//! What the handles share with the driver task: the [`Link`], the open transport and the
//! callers waiting for replies.
//!
//! A request made while the connection is idle (nothing in flight, nothing queued) goes out
//! from its caller's own task: through the driver's queue it would cost a wake-up of the
//! driver and a turn of its loop before the first byte leaves. The driver still reads every
//! reply, runs the timers and pings, and takes the requests made while others are in flight
//! (those leave together in one flush).

use super::driver::{lock_lane, now};
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

/// Frames waiting for the socket, written from inside the driver's `select!` (or by the
/// caller of a request on an idle connection, [`Client::send_direct`]) so that a
/// peer that stops reading never stops the timers.
#[derive(Default)]
pub(super) struct Outgoing {
    pub(super) queue: VecDeque<Outbound>,
    /// Frames handed to the socket but not flushed yet.
    unflushed: bool,
    /// Since when data has been waiting without the socket taking any of it.
    pub(super) stalled_since: Option<tokio::time::Instant>,
}

impl Outgoing {
    /// Queues `m` (the stall clock starts when a write leaves something waiting).
    pub(super) fn push(&mut self, m: Outbound) {
        self.queue.push_back(m);
    }

    pub(super) fn pending(&self) -> bool {
        !self.queue.is_empty() || self.unflushed
    }
}

/// What the transport did.
pub(super) enum Io {
    /// Something came from the agent (or the connection ended).
    In(Inbound),
    /// Writing failed.
    WriteFailed(String),
}

/// Moves queued frames into the socket as far as it takes them now and flushes, without
/// waiting. Cancel-safe: a frame leaves the queue only when the socket has accepted it.
pub(super) fn poll_write(socket: &mut dyn Transport, out: &mut Outgoing, cx: &mut Context<'_>) -> Result<(), String> {
    let mut progress = false;
    while !out.queue.is_empty() {
        match socket.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let Some(m) = out.queue.pop_front() else { break };
                socket.start_send(m)?;
                out.unflushed = true;
                progress = true;
            }
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => break,
        }
    }
    if out.unflushed {
        match socket.poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                out.unflushed = false;
                progress = true;
            }
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => {}
        }
    }
    if !out.pending() {
        out.stalled_since = None;
    } else if progress || out.stalled_since.is_none() {
        out.stalled_since = Some(tokio::time::Instant::now());
    }
    Ok(())
}

/// Writes what it can (see [`poll_write`]), then reads.
pub(super) fn poll_io(socket: &mut dyn Transport, out: &mut Outgoing, cx: &mut Context<'_>) -> Poll<Io> {
    if let Err(e) = poll_write(socket, out, cx) {
        return Poll::Ready(Io::WriteFailed(e));
    }
    socket.poll_recv(cx).map(Io::In)
}
