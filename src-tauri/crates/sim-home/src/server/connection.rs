//! The loop of one WebSocket connection after its handshake, the only code that reads or
//! writes its frames: it decodes Records, answers each request itself (under the agent's
//! lock, see `actor`) and writes the reply at once, so replies go out in request order with
//! no hop to another task; it writes what was queued for it: Notifies and a close from the
//! actor, and the keep-alive Pings the keep-alive clock asks for (`keepalive`: no timer in
//! this loop).
//!
//! While it writes, it does not read: a controller that sends requests but does not read
//! the replies stops being read (TCP pushes back), and is dropped when nothing it is sent
//! gets through for [`WRITE_STALL_TIMEOUT`].

use std::future::pending;
use std::task::Poll;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tracing::{debug, warn};
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::DisconnectRecord;

use super::record::{classify_record, encode_no_session, encode_record, RecordAction};
use super::{
    close, stopped, Out, ServerCtx, WsStream, CLOSE_GRACE, MAX_MISSED_PONGS, WRITE_BATCH, WRITE_STALL_TIMEOUT,
};

/// How a connection ends, after it stopped.
enum End {
    /// We sent a close frame: wait (a little) for the controller's.
    Closing,
    /// The connection is gone (or must be dropped without a close frame).
    Dropped,
}

pub(super) struct Connection<'a> {
    pub(super) ws: WsStream,
    pub(super) ctx: &'a ServerCtx,
    pub(super) conn: u64,
    pub(super) eid: EndpointId,
    /// What the actor queues for this connection.
    pub(super) out: mpsc::Receiver<Out>,
    /// A close asked by the actor (replaced by a newer connection, the agent reboots).
    pub(super) close: Option<oneshot::Receiver<(u16, &'static str)>>,
    pub(super) shutdown: watch::Receiver<bool>,
    /// The encoded `version`, `to_id` and `from_id` of every Record of this connection.
    pub(super) prefix: Vec<u8>,
    /// Replies handed to the socket since the last flush.
    pub(super) unflushed: usize,
    /// The last read found nothing, with this task's waker: the socket wakes the task when
    /// a frame comes, so the loop's next turn need not read before it waits.
    pub(super) read_armed: bool,
    /// Keep-alive: frames received since the last Ping, Pings in a row that got none, the
    /// counter in the last Ping.
    pub(super) heard: bool,
    pub(super) unanswered: u32,
    pub(super) counter: u8,
}

/// One turn of the loop.
enum Step {
    Frame(Option<Result<WsMessage, WsError>>),
    Queued(Out),
    Close(u16, &'static str),
    /// The actor dropped this connection's queue: the agent is gone.
    Orphaned,
}

impl Connection<'_> {
    /// Runs until either side ends the connection.
    pub(super) async fn run(mut self) {
        if let End::Closing = self.serve().await {
            // Read (and ignore) until the controller's close frame, a little while at most.
            let _ = timeout(CLOSE_GRACE, async { while let Some(Ok(_)) = self.ws.next().await {} }).await;
        }
    }

    async fn serve(&mut self) -> End {
        // Armed once, not at every turn of the loop.
        let mut shutdown = self.shutdown.clone();
        let stop = stopped(&mut shutdown);
        tokio::pin!(stop);
        loop {
            // The controller's frames first: a request that woke the loop is read without
            // polling the three quiet branches before it. They are not starved: a
            // controller that keeps sending runs out of tokio's cooperative budget every
            // 128 reads, and the branches below are polled then.
            let step = tokio::select! {
                biased;
                frame = next_frame(&mut self.ws, &mut self.read_armed) => Step::Frame(frame),
                () = &mut stop => Step::Close(close::GOING_AWAY, close::GOING_AWAY_REASON),
                asked = async {
                    match self.close.as_mut() {
                        Some(rx) => rx.await,
                        None => pending().await,
                    }
                } => {
                    self.close = None;
                    match asked {
                        Ok((code, reason)) => Step::Close(code, reason),
                        Err(_) => continue,
                    }
                }
                queued = self.out.recv() => queued.map_or(Step::Orphaned, Step::Queued),
            };
            let end = match step {
                Step::Frame(frame) => {
                    self.heard = true;
                    match self.on_frame(frame).await {
                        None => self.answer_waiting().await,
                        end => end,
                    }
                }
                Step::Queued(first) => match timeout(WRITE_STALL_TIMEOUT, self.write_batch(first)).await {
                    Ok(end) => end,
                    Err(_) => Some(self.stalled()),
                },
                Step::Close(code, reason) => Some(self.send_close(code, reason).await),
                Step::Orphaned => Some(End::Dropped),
            };
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// The keep-alive Ping to send now (the keep-alive clock's tick came), or `None` when
    /// the controller answered none of the last [`MAX_MISSED_PONGS`]: drop the connection.
    fn keep_alive_ping(&mut self) -> Option<WsMessage> {
        if std::mem::take(&mut self.heard) {
            self.unanswered = 0;
        }
        if self.unanswered >= MAX_MISSED_PONGS {
            warn!(
                agent = %self.ctx.key,
                controller = %self.eid,
                "no answer to {MAX_MISSED_PONGS} websocket pings: dropping the connection"
            );
            return None;
        }
        self.counter = self.counter.wrapping_add(1);
        self.unanswered += 1;
        Some(WsMessage::Ping(vec![self.counter].into()))
    }

    /// After a request that came after a wait: its reply goes out at once, then the requests
    /// already read or readable are answered without waiting, their replies flushed together
    /// (pipelined requests cost one write per batch, not one each). Flushing first keeps the
    /// read that finds nothing more off the path of a lone request's reply.
    async fn answer_waiting(&mut self) -> Option<End> {
        if self.unflushed == 0 {
            return None;
        }
        if let Some(end) = self.flush().await {
            return Some(end);
        }
        while self.unflushed < WRITE_BATCH {
            // Read with this task's waker: finding nothing leaves it with the socket.
            let ws = &mut self.ws;
            let next = std::future::poll_fn(|cx| Poll::Ready(ws.poll_next_unpin(cx))).await;
            let Poll::Ready(frame) = next else {
                self.read_armed = true;
                break;
            };
            if let Some(end) = self.on_frame(frame).await {
                return Some(end);
            }
        }
        if self.unflushed > 0 {
            return self.flush().await;
        }
        None
    }

    /// Handles one frame from the controller; `Some` ends the connection.
    async fn on_frame(&mut self, frame: Option<Result<WsMessage, WsError>>) -> Option<End> {
        let frame = match frame {
            None => return Some(End::Dropped), // the controller closed the connection
            Some(Ok(frame)) => frame,
            Some(Err(WsError::Capacity(e))) => {
                warn!(agent = %self.ctx.key, controller = %self.eid, "closing: {e}");
                return Some(self.send_close(close::TOO_BIG, "USP record larger than 5 MiB").await);
            }
            Some(Err(e)) => {
                debug!(agent = %self.ctx.key, controller = %self.eid, "connection error: {e}");
                return Some(End::Dropped);
            }
        };
        match frame {
            WsMessage::Binary(data) => match classify_record(&data, self.ctx.agent_eid.as_str(), self.eid.as_str()) {
                RecordAction::Ignore => None,
                RecordAction::Msg(msg) => {
                    drop(data);
                    let reply = match self.ctx.core.try_answer(self.conn, msg) {
                        Ok(reply) => reply?,
                        Err(msg) => self.ctx.core.answer_when_free(self.conn, msg).await?,
                    };
                    let frame = encode_no_session(&self.prefix, &reply);
                    drop(reply);
                    // Flushed when nothing more is waiting to be read (see `serve`).
                    self.unflushed += 1;
                    match bounded(self.ws.feed(WsMessage::Binary(frame.into()))).await {
                        Ok(Ok(())) => None,
                        Ok(Err(_)) => Some(End::Dropped),
                        Err(_) => Some(self.stalled()),
                    }
                }
                RecordAction::Disconnect { code, reason } => {
                    let record = encode_record(
                        self.eid.as_str(),
                        self.ctx.agent_eid.as_str(),
                        RecordType::Disconnect(DisconnectRecord { reason: reason.to_owned(), reason_code: code }),
                    );
                    if let Some(end) = self.write(WsMessage::Binary(record.into())).await {
                        return Some(end);
                    }
                    Some(self.send_close(close::POLICY, reason).await)
                }
            },
            WsMessage::Text(_) => {
                debug!(agent = %self.ctx.key, controller = %self.eid, "text frame: closing with 1003");
                Some(self.send_close(close::UNSUPPORTED_DATA, close::TEXT_REASON).await)
            }
            // Pongs to our Pings count as heard; tungstenite answers Pings and Close.
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Close(_) | WsMessage::Frame(_) => None,
        }
    }

    /// Writes one frame and flushes it with everything before it; `Some` ends the connection.
    async fn write(&mut self, frame: WsMessage) -> Option<End> {
        self.unflushed = 0;
        match timeout(WRITE_STALL_TIMEOUT, self.ws.send(frame)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                debug!(agent = %self.ctx.key, controller = %self.eid, "write failed: {e}");
                Some(End::Dropped)
            }
            Err(_) => Some(self.stalled()),
        }
    }

    /// Flushes the replies handed to the socket; `Some` ends the connection.
    async fn flush(&mut self) -> Option<End> {
        self.unflushed = 0;
        match bounded(self.ws.flush()).await {
            Ok(Ok(())) => None,
            Ok(Err(_)) => Some(End::Dropped),
            Err(_) => Some(self.stalled()),
        }
    }

    fn stalled(&self) -> End {
        warn!(agent = %self.ctx.key, controller = %self.eid, "the controller reads nothing: dropping the connection");
        End::Dropped
    }

    /// Writes `first` and whatever else is queued (up to [`WRITE_BATCH`]), then flushes.
    async fn write_batch(&mut self, first: Out) -> Option<End> {
        let mut item = first;
        let mut written = 0;
        loop {
            let frame = match item {
                Out::Msg(msg, _permit) => WsMessage::Binary(encode_no_session(&self.prefix, &msg).into()),
                Out::Raw(bytes) => WsMessage::Binary(bytes.into()),
                Out::Ping => match self.keep_alive_ping() {
                    Some(ping) => ping,
                    None => return Some(End::Dropped),
                },
                Out::Close(code, reason) => {
                    if self.ws.flush().await.is_err() {
                        return Some(End::Dropped);
                    }
                    return Some(self.send_close(code, reason).await);
                }
            };
            if self.ws.feed(frame).await.is_err() {
                return Some(End::Dropped);
            }
            written += 1;
            if written >= WRITE_BATCH {
                break;
            }
            match self.out.try_recv() {
                Ok(next) => item = next,
                Err(_) => break,
            }
        }
        self.unflushed = 0;
        if self.ws.flush().await.is_err() {
            return Some(End::Dropped);
        }
        None
    }

    async fn send_close(&mut self, code: u16, reason: &'static str) -> End {
        let frame = CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) };
        match timeout(CLOSE_GRACE, self.ws.send(WsMessage::Close(Some(frame)))).await {
            Ok(Ok(())) => End::Closing,
            Ok(Err(_)) | Err(_) => End::Dropped,
        }
    }
}

/// `write` bounded by [`WRITE_STALL_TIMEOUT`]. A write the socket takes at once (the usual
/// case: one reply into an empty socket buffer) arms no timer: reading the clock and
/// arming a timer for each reply cost on every request.
async fn bounded<F: std::future::Future>(write: F) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut write = std::pin::pin!(write);
    match futures_util::poll!(write.as_mut()) {
        std::task::Poll::Ready(done) => Ok(done),
        std::task::Poll::Pending => timeout(WRITE_STALL_TIMEOUT, write).await,
    }
}

/// The next frame from the controller; when `armed` (the last read found nothing and left
/// this task's waker with the socket), the first poll only clears it: the socket wakes the
/// task when a frame comes, and then the frame is read.
async fn next_frame(ws: &mut WsStream, armed: &mut bool) -> Option<Result<WsMessage, WsError>> {
    std::future::poll_fn(|cx| {
        if std::mem::take(armed) {
            return Poll::Pending;
        }
        ws.poll_next_unpin(cx)
    })
    .await
}
