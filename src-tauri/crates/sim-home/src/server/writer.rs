//! The writer of a connection, the only task that writes frames: replies in request
//! order, Notifies, keep-alive Pings and close frames.

use std::future::pending;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tracing::warn;

use super::record::encode_no_session;
use super::{close, stopped, Out, WsStream, CLOSE_GRACE, MAX_MISSED_PONGS, WRITE_BATCH, WRITE_STALL_TIMEOUT};

/// How a writer ended.
pub(super) enum WriterEnd {
    /// It sent a close frame: the reader may wait for the controller's answer.
    Closing,
    /// The connection is gone (or must be dropped without a close frame).
    Dropped,
}

pub(super) struct Writer {
    pub(super) sink: SplitSink<WsStream, WsMessage>,
    pub(super) out: mpsc::Receiver<Out>,
    pub(super) close: Option<oneshot::Receiver<(u16, &'static str)>>,
    pub(super) shutdown: watch::Receiver<bool>,
    /// The encoded `version`, `to_id` and `from_id` of every Record of this connection.
    pub(super) prefix: Vec<u8>,
    pub(super) keep_alive: Option<Duration>,
    /// Frames received so far (read by the keep-alive check).
    pub(super) liveness: Arc<AtomicU64>,
}

impl Writer {
    pub(super) async fn run(mut self) -> WriterEnd {
        let mut pings = self.keep_alive.map(|period| {
            let mut pings = tokio::time::interval_at(Instant::now() + period, period);
            pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
            pings
        });
        let mut counter: u8 = 0;
        let mut unanswered: u32 = 0;
        let mut seen = self.liveness.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut self.shutdown) => {
                    return self.close(close::GOING_AWAY, close::GOING_AWAY_REASON).await;
                }
                asked = async {
                    match self.close.as_mut() {
                        Some(rx) => rx.await,
                        None => pending().await,
                    }
                } => {
                    self.close = None;
                    if let Ok((code, reason)) = asked {
                        return self.close(code, reason).await;
                    }
                }
                first = self.out.recv() => {
                    let Some(first) = first else {
                        return WriterEnd::Dropped; // the reader and the actor are done
                    };
                    match timeout(WRITE_STALL_TIMEOUT, self.write_batch(first)).await {
                        Ok(None) => {}
                        Ok(Some(end)) => return end,
                        Err(_) => {
                            warn!("the controller reads nothing: dropping the connection");
                            return WriterEnd::Dropped;
                        }
                    }
                }
                _ = async {
                    match pings.as_mut() {
                        Some(p) => p.tick().await,
                        None => pending().await,
                    }
                } => {
                    let now_seen = self.liveness.load(Ordering::Relaxed);
                    if now_seen != seen {
                        seen = now_seen;
                        unanswered = 0;
                    }
                    if unanswered >= MAX_MISSED_PONGS {
                        warn!("no answer to {MAX_MISSED_PONGS} websocket pings: dropping the connection");
                        return WriterEnd::Dropped;
                    }
                    counter = counter.wrapping_add(1);
                    unanswered += 1;
                    let ping = self.sink.send(WsMessage::Ping(vec![counter].into()));
                    if !matches!(timeout(WRITE_STALL_TIMEOUT, ping).await, Ok(Ok(()))) {
                        return WriterEnd::Dropped;
                    }
                }
            }
        }
    }

    /// Writes `first` and whatever else is queued (up to [`WRITE_BATCH`]), then flushes.
    async fn write_batch(&mut self, first: Out) -> Option<WriterEnd> {
        let mut item = first;
        let mut written = 0;
        loop {
            let frame = match item {
                Out::Msg(msg, _permit) => encode_no_session(&self.prefix, &msg),
                Out::Raw(bytes) => bytes,
                Out::Close(code, reason) => return Some(self.close(code, reason).await),
            };
            if self.sink.feed(WsMessage::Binary(frame.into())).await.is_err() {
                return Some(WriterEnd::Dropped);
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
        if self.sink.flush().await.is_err() {
            return Some(WriterEnd::Dropped);
        }
        None
    }

    async fn close(&mut self, code: u16, reason: &'static str) -> WriterEnd {
        let frame = CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::from_static(reason) };
        match timeout(CLOSE_GRACE, self.sink.send(WsMessage::Close(Some(frame)))).await {
            Ok(Ok(())) => WriterEnd::Closing,
            Ok(Err(_)) | Err(_) => WriterEnd::Dropped,
        }
    }
}
