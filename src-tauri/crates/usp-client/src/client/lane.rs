//! What the handles share with the driver task: the [`Link`], the open transport and the
//! callers waiting for replies.
//!
//! A request made while the connection is idle (nothing in flight, nothing queued) goes out
//! from its caller's own task: through the driver's queue it would cost a wake-up of the
//! driver and a turn of its loop before the first byte leaves. Its reply comes in the same
//! way when the transport allows it (the read lane, [`Reader`]): one waiting caller at a
//! time reads the transport itself, as long as all it reads are replies (and pongs); the
//! first thing that is not (a notification, a record to answer, a lost connection) is
//! handed to the driver, which reads from then on. The driver runs the timers and pings,
//! reads whenever no caller does, and takes the requests made while others are in flight
//! (those leave together in one flush).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::task::{Wake, Waker};

use bytes::Bytes;
use futures_util::task::AtomicWaker;

use super::driver::{lock_lane, now};
use super::*;

pub(super) struct Lane {
    pub(super) link: Link,
    /// The callers waiting for the answer to a request, by the link's id for it.
    pub(super) waiters: HashMap<RequestId, Reply, foldhash::fast::RandomState>,
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
    /// A waiting caller may read the transport ([`Transport::any_task_may_receive`], once
    /// connected).
    pub(super) direct_read: bool,
    /// Events a caller's read made that are the driver's to handle (all but the replies
    /// to waiting callers), oldest first; the driver takes them before the link's own.
    pub(super) for_driver: VecDeque<Event>,
    /// What a caller read that ends the session (the connection lost, a broken rule).
    pub(super) handed: Option<Inbound>,
    /// When the agent last sent anything (for the driver's "stopped answering").
    pub(super) last_rx: Instant,
    /// The agent answered something in this session.
    pub(super) answered: bool,
    /// The last read found nothing: the transport holds the shared read waker and wakes
    /// it when something comes, so a caller may wait for that without reading first.
    pub(super) read_armed: bool,
    /// Replies their callers read themselves (diagnostics).
    pub(super) read_by_callers: u64,
    /// Times a caller took the read lane (numbers each holder).
    pub(super) claims: u64,
    /// The holder the driver took the lane back from: it stopped being polled (see
    /// [`ReadWake::steal`]).
    pub(super) stolen: Option<u64>,
}

impl Lane {
    pub(super) fn new(link: Link) -> Lane {
        Lane {
            link,
            waiters: HashMap::default(),
            socket: None,
            direct: false,
            out: Outgoing::default(),
            // Later than any timer the driver arms: the first request tells it.
            armed: now() + Duration::from_secs(365 * 86_400),
            failed: None,
            direct_read: false,
            for_driver: VecDeque::new(),
            handed: None,
            last_rx: now(),
            answered: false,
            read_armed: false,
            read_by_callers: 0,
            claims: 0,
            stolen: None,
        }
    }

    /// Opens a session on `socket`.
    pub(super) fn open(&mut self, socket: Box<dyn Transport>) {
        self.socket = Some(socket);
        self.out = Outgoing::default();
        self.last_rx = now();
        self.answered = false;
        self.end_direct();
    }

    /// Ends the session: the transport (if still here) is dropped. Events a caller left
    /// for the driver stay: the driver handles them with the session's end.
    pub(super) fn end(&mut self) -> Option<Box<dyn Transport>> {
        self.out = Outgoing::default();
        self.end_direct();
        self.socket.take()
    }

    fn end_direct(&mut self) {
        self.read_armed = false;
        self.direct = false;
        self.direct_read = false;
        self.failed = None;
        self.handed = None;
    }

    /// The session is connected: callers may write (and read) the transport themselves
    /// when it allows.
    pub(super) fn connected(&mut self) {
        let socket = self.socket.as_ref();
        self.direct = socket.is_some_and(|s| s.any_task_may_send());
        self.direct_read = self.direct && socket.is_some_and(|s| s.any_task_may_receive());
    }

    /// Hands a record just read to the link (under the same lock as the read, so that the
    /// link's events stay in the order the records came).
    pub(super) fn feed(&mut self, bytes: Bytes) {
        let at = now();
        self.last_rx = at;
        self.link.handle_record(bytes, at);
    }

    /// The next event for the driver: what a caller's read left first, then the link's.
    pub(super) fn next_event(&mut self) -> Option<Event> {
        self.for_driver.pop_front().or_else(|| self.link.poll_event())
    }

    /// Answers the caller waiting for request `id`, if one is; gives the event back
    /// otherwise.
    pub(super) fn complete(
        &mut self,
        id: RequestId,
        result: Result<Response, usp_core::engine::RequestError>,
    ) -> Result<(), (RequestId, Result<Response, usp_core::engine::RequestError>)> {
        use usp_core::engine::RequestError;
        if matches!(result, Ok(_) | Err(RequestError::Usp(_)) | Err(RequestError::UnexpectedResponse { .. })) {
            self.answered = true;
        }
        match self.waiters.remove(&id) {
            Some(reply) => {
                let _ = reply.send(result.map_err(ClientError::from));
                Ok(())
            }
            None => Err((id, result)),
        }
    }

    /// Reads the transport from a caller's task (the read lane) while all it reads are
    /// replies, each sent to its waiter; `done` says when the caller has what it waits
    /// for. `waker` is the shared read waker ([`ReadWake`]).
    fn read_replies(&mut self, waker: &Waker, mut done: impl FnMut() -> bool) -> Read {
        let mut cx = Context::from_waker(waker);
        for _ in 0..READS_PER_TURN {
            if !self.direct_read || self.handed.is_some() || !self.for_driver.is_empty() {
                return Read::Handover;
            }
            let Some(socket) = self.socket.as_mut() else { return Read::Handover };
            let polled = socket.poll_recv(&mut cx);
            self.read_armed = polled.is_pending();
            match polled {
                Poll::Pending => return Read::Pending,
                Poll::Ready(Inbound::Record(bytes)) => {
                    self.feed(bytes);
                    while let Some(event) = self.link.poll_event() {
                        let event = match event {
                            Event::Completed { id, result } => match self.complete(id, result) {
                                Ok(()) => continue,
                                Err((id, result)) => Event::Completed { id, result },
                            },
                            other => other,
                        };
                        self.for_driver.push_back(event);
                    }
                    // Something to send back (an Error for a request the agent made, a
                    // NotifyResp): the driver writes it and minds the write's stall.
                    while let Some(bytes) = self.link.poll_transmit() {
                        self.out.push(Outbound::Record(bytes));
                    }
                    if !self.for_driver.is_empty() || self.out.pending() {
                        return Read::Handover;
                    }
                }
                Poll::Ready(Inbound::Alive) => self.last_rx = now(),
                Poll::Ready(other) => {
                    self.handed = Some(other);
                    return Read::Handover;
                }
            }
            if done() {
                return Read::Done;
            }
        }
        // A long run of replies (or pongs) to others: the driver reads on.
        Read::Handover
    }
}

/// Frames a caller reads in one turn of the read lane before the driver takes over.
const READS_PER_TURN: usize = 64;

/// How a turn of the read lane ended.
enum Read {
    /// The caller's reply (or the end of its wait) is here.
    Done,
    /// Nothing more to read now; the shared read waker is registered.
    Pending,
    /// The driver must read from here on (and handle what was left for it).
    Handover,
}

/// The waker the transport's read side is always polled with, by the driver and by a
/// caller in the read lane alike: it wakes the caller that reads, when one does, and the
/// driver otherwise. So a reply wakes only its caller, and handing reading back and forth
/// needs no new registration with the transport.
#[derive(Default)]
pub(super) struct ReadWake {
    /// A caller reads (at most one at a time).
    reader_active: AtomicBool,
    reader: AtomicWaker,
    driver: AtomicWaker,
}

impl Wake for ReadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.reader_active.load(Ordering::Acquire) {
            self.reader.wake();
        } else {
            self.driver.wake();
        }
    }
}

impl ReadWake {
    /// The driver polls the read side with `waker` as its own.
    pub(super) fn driver_polls(&self, waker: &Waker) {
        self.driver.register(waker);
    }

    /// Wakes the driver (a caller handed reading back, or left it something).
    pub(super) fn wake_driver(&self) {
        self.driver.wake();
    }

    /// Wakes the reading caller, if one reads: the driver answered a waiter (perhaps
    /// the reader's request: it timed out, or the driver read its reply).
    pub(super) fn wake_reader(&self) {
        if self.reader_active.load(Ordering::Acquire) {
            self.reader.wake();
        }
    }

    /// Whether a caller holds the read lane.
    pub(super) fn reader_active(&self) -> bool {
        self.reader_active.load(Ordering::Acquire)
    }

    /// The driver takes the lane back from its holder (the last of `lane`'s claims), which
    /// has not been polled for a while: a future kept alive but no longer awaited must not
    /// keep the transport from everyone else. The holder is woken, and waits for its reply
    /// from the driver from then on. Called with the lane locked.
    pub(super) fn steal(&self, lane: &mut Lane) {
        lane.stolen = Some(lane.claims);
        self.reader_active.store(false, Ordering::Release);
        self.reader.wake();
    }
}

/// A caller's wait for its reply, reading the transport itself when it may (the read lane).
pub(super) struct Reader<'a> {
    shared: &'a Shared,
    /// This caller holds the read lane.
    holds: bool,
    /// It tried once and could not: it waits for the oneshot from then on.
    queued: bool,
    /// It has just taken the lane and not read yet.
    fresh: bool,
    /// It took the lane as its request left ([`Reader::park`]): its first poll only waits.
    parked: bool,
    /// Its number as the lane's holder ([`Lane::claims`]).
    claim_no: u64,
}

impl<'a> Reader<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
        Reader { shared, holds: false, queued: false, fresh: false, parked: false, claim_no: 0 }
    }

    /// Takes the lane (if free) for a request being sent from this task on an armed
    /// transport, and registers the task to be woken by what comes.
    fn park(&mut self, claims: &mut u64, cx: &Context<'_>) {
        if self.claim(claims) {
            self.shared.read_wake.reader.register(cx.waker());
            self.parked = true;
        }
    }

    /// Polls for the reply on `rx`.
    pub(super) fn poll_reply(&mut self, rx: &mut ReplyRx, cx: &mut Context<'_>) -> Poll<Result<Response, ClientError>> {
        if !self.holds {
            // The reply may be here already; otherwise try to take the lane (without
            // registering with the oneshot: a reply this task routes itself then wakes
            // nobody).
            if let Some(r) = reply_now(rx) {
                return Poll::Ready(r);
            }
            if self.queued {
                return wait_oneshot(rx, cx);
            }
        } else if std::mem::take(&mut self.parked) {
            // Parked as the request left: nothing can have been read for it since without
            // waking this task (a reply wakes the lane's reader; the driver answering it
            // wakes the reader too).
            return Poll::Pending;
        }
        let wake = &self.shared.read_wake;
        let mut guard = lock_lane(self.shared);
        let lane = &mut *guard;
        if !self.holds {
            if !self.claim(&mut lane.claims) {
                drop(guard);
                self.queued = true;
                return wait_oneshot(rx, cx);
            }
            self.fresh = true;
        } else if lane.stolen == Some(self.claim_no) {
            // The driver took the lane back while this caller was not polled.
            drop(guard);
            self.holds = false;
            self.queued = true;
            return wait_oneshot(rx, cx);
        }
        wake.reader.register(cx.waker());
        let mut reply = None;
        let mut take = || {
            reply = reply_now(rx);
            reply.is_some()
        };
        let outcome = if take() {
            Read::Done
        } else if std::mem::take(&mut self.fresh) && lane.read_armed && lane.direct_read {
            // The last read found nothing and left the read waker with the transport: what
            // comes wakes this caller now. (Reading again would find nothing, at the cost
            // of a registration.)
            Read::Pending
        } else {
            let read = lane.read_replies(&self.shared.read_waker, take);
            if matches!(read, Read::Done) {
                lane.read_by_callers += 1;
            }
            read
        };
        match outcome {
            Read::Pending => Poll::Pending,
            Read::Done => {
                self.holds = false;
                wake.reader_active.store(false, Ordering::Release);
                // Read on until the transport has nothing more, so that it wakes the driver
                // for what comes next (a read that returned something registers nobody).
                let drained = lane.read_replies(&self.shared.read_waker, || false);
                drop(guard);
                if !matches!(drained, Read::Pending) {
                    wake.wake_driver();
                }
                Poll::Ready(reply.unwrap_or(Err(ClientError::Closed)))
            }
            Read::Handover => {
                self.release(lane);
                drop(guard);
                self.queued = true;
                // The reply may have come with the last record read.
                wait_oneshot(rx, cx)
            }
        }
    }

    /// Takes the lane if no other caller holds it (with the lane locked: `claims` is its
    /// [`Lane::claims`]).
    fn claim(&mut self, claims: &mut u64) -> bool {
        let wake = &self.shared.read_wake;
        self.holds = wake.reader_active.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if self.holds {
            *claims += 1;
            self.claim_no = *claims;
        }
        self.holds
    }

    /// Gives the read lane back (unless the driver took it already) and wakes the driver
    /// to read (and to handle what was left). With `lane` locked.
    fn release(&mut self, lane: &Lane) {
        if std::mem::take(&mut self.holds) {
            if lane.stolen != Some(self.claim_no) {
                self.shared.read_wake.reader_active.store(false, Ordering::Release);
            }
            self.shared.read_wake.wake_driver();
        }
    }
}

/// The reply if it is here, without registering with the oneshot (a closed one: the
/// client was closed).
fn reply_now(rx: &mut ReplyRx) -> Option<Result<Response, ClientError>> {
    match rx.try_recv() {
        Ok(r) => Some(r),
        Err(oneshot::error::TryRecvError::Closed) => Some(Err(ClientError::Closed)),
        Err(oneshot::error::TryRecvError::Empty) => None,
    }
}

/// The reply if it is here, else waiting for it on the oneshot (the driver, or the caller
/// in the read lane, sends it there).
fn wait_oneshot(rx: &mut ReplyRx, cx: &mut Context<'_>) -> Poll<Result<Response, ClientError>> {
    match reply_now(rx) {
        Some(r) => Poll::Ready(r),
        None => Pin::new(rx).poll(cx).map(|r| r.unwrap_or(Err(ClientError::Closed))),
    }
}

impl Drop for Reader<'_> {
    /// A caller that stops waiting (its future dropped) gives the lane back.
    fn drop(&mut self) {
        if self.holds {
            let lane = lock_lane(self.shared);
            self.release(&lane);
        }
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
        reader: &mut Reader<'_>,
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
                // The transport is armed (its last read found nothing): this caller waits
                // in the read lane from here, without a turn of its own to take it.
                if lane.direct_read && lane.read_armed {
                    reader.park(&mut lane.claims, cx);
                }
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
    /// A caller's read left events for the driver.
    Events,
    /// The driver read a record and fed it to the link: its events are to dispatch.
    Fed,
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

/// Writes what it can (see [`poll_write`]), then reads with the shared read waker.
pub(super) fn poll_io(socket: &mut dyn Transport, out: &mut Outgoing, cx: &mut Context<'_>, read: &Waker) -> Poll<Io> {
    if let Err(e) = poll_write(socket, out, cx) {
        return Poll::Ready(Io::WriteFailed(e));
    }
    socket.poll_recv(&mut Context::from_waker(read)).map(Io::In)
}
