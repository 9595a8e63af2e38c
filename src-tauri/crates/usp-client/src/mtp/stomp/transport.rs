//! The controller's STOMP connection as a [`Transport`]: Records out as `SEND` frames to the
//! agent's destination, Records in from the `MESSAGE` frames of our subscription.

use std::collections::VecDeque;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use usp_core::stomp::{Frame, Incoming, USP_CONTENT_TYPE};
use usp_core::text::for_log;
use usp_core::EndpointId;

use super::address::check_destination;
use super::conn::{error_text, ConnEnd, StompConn};
use super::remember;
use crate::mtp::{BoxFuture, Carrier, Close, Inbound, Outbound, Transport};

/// Records held while the agent's destination is not known yet.
pub const MAX_HELD: usize = 64;
/// Bytes queued for the socket beyond which the transport stops taking more.
const HIGH_WATER: usize = 256 * 1024;

/// One STOMP connection carrying one controller's Records to and from one agent.
pub struct StompTransport {
    pub(super) conn: StompConn,
    pub(super) own_id: EndpointId,
    /// Our destination (`reply-to-dest` of every SEND).
    pub(super) our_dest: String,
    /// The agent's destination, once known.
    pub(super) agent_dest: Option<String>,
    /// The agent, once known: Records from anyone else are dropped.
    pub(super) agent: Option<EndpointId>,
    /// Records waiting for the agent's destination.
    pub(super) held: VecDeque<Bytes>,
    /// Frames that came with the subscription's receipt.
    pub(super) early: VecDeque<Frame>,
    pub(super) carrier: Carrier,
    /// Whether the broker's heart-beats come often enough for the driver's liveness check;
    /// if not, a keepalive is answered here.
    pub(super) broker_beats: bool,
    pub(super) local_alive: bool,
    pub(super) last_rx: tokio::time::Instant,
    pub(super) lost: Option<String>,
    /// Where learnt destinations are remembered for the next connection.
    pub(super) memory_key: String,
    /// Frames dropped quietly (other agents, other controllers, other content types).
    pub dropped: u64,
}

impl StompTransport {
    /// Silence after which the broker counts as gone, when it promised heart-beats.
    fn silence_limit(&self) -> Option<Duration> {
        self.conn.heart_beats.expect_every.map(|d| d * 3 + Duration::from_secs(1))
    }

    fn send_record(&mut self, record: Bytes) -> Result<(), String> {
        match &self.agent_dest {
            Some(dest) => {
                self.conn.queue(&Frame::send(dest, &self.our_dest, record));
                Ok(())
            }
            None if self.held.len() < MAX_HELD => {
                self.held.push_back(record);
                Ok(())
            }
            None => Err("the agent's STOMP destination is not known: give it in the address \
                         (stomp://broker/<destination>) or let the agent send its STOMPConnectRecord"
                .into()),
        }
    }

    /// What a `MESSAGE` frame carries for the driver, if anything.
    fn on_message(&mut self, frame: Frame) -> Option<Bytes> {
        if let Some(ct) = frame.header("content-type") {
            let ct = ct.split(';').next().unwrap_or_default().trim();
            if !ct.eq_ignore_ascii_case(USP_CONTENT_TYPE) && !ct.eq_ignore_ascii_case("usp.msg") {
                self.dropped += 1;
                return None;
            }
        }
        let body = frame.body;
        let Some(peek) = usp_core::wire::peek_record(&body) else {
            // Not a Record: the link says so (rate-limited).
            return Some(body);
        };
        if peek.to_id != self.own_id.as_str() {
            self.dropped += 1;
            return None;
        }
        match &self.agent {
            Some(agent) if agent.as_str() != peek.from_id => {
                self.dropped += 1;
                return None;
            }
            Some(_) => {}
            None => match peek.from_id.parse::<EndpointId>() {
                Ok(eid) => self.agent = Some(eid),
                Err(_) => return Some(body),
            },
        }
        let learnt = match peek.stomp_destination {
            Some(d) if check_destination(d).is_ok() => Some(d.to_owned()),
            _ if self.agent_dest.is_none() => {
                frame.headers.iter().find(|(n, _)| n == "reply-to-dest").map(|(_, v)| v.clone())
            }
            _ => None,
        };
        if let Some(d) = learnt.filter(|d| check_destination(d).is_ok()) {
            if self.agent_dest.as_deref() != Some(d.as_str()) {
                tracing::debug!(destination = %for_log(&d), "learnt the agent's STOMP destination");
                self.agent_dest = Some(d);
                while let Some(r) = self.held.pop_front() {
                    let _ = self.send_record(r);
                }
                remember(&self.memory_key, self.agent.clone(), self.agent_dest.clone());
            }
        } else if self.agent.is_some() {
            remember(&self.memory_key, self.agent.clone(), self.agent_dest.clone());
        }
        Some(body)
    }

    fn on_frame(&mut self, frame: Frame) -> Option<Inbound> {
        match frame.command.as_str() {
            "MESSAGE" => self.on_message(frame).map(Inbound::Record),
            "ERROR" => Some(Inbound::Lost(format!("the STOMP broker reported an error: {}", error_text(&frame, None)))),
            // RECEIPT, and anything a broker may add: alive.
            _ => Some(Inbound::Alive),
        }
    }
}

impl Transport for StompTransport {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        if self.conn.pending_out() < HIGH_WATER {
            return Poll::Ready(Ok(()));
        }
        match self.conn.poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.text().to_owned())),
            Poll::Pending if self.conn.pending_out() < HIGH_WATER => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        match item {
            Outbound::Record(record) => self.send_record(record),
            Outbound::KeepAlive => {
                self.conn.queue_heart_beat();
                if !self.broker_beats {
                    self.local_alive = true;
                }
                if let Some(limit) = self.silence_limit() {
                    let quiet = self.last_rx.elapsed();
                    if quiet > limit {
                        self.lost = Some(format!("the STOMP broker sent no heart-beat for {quiet:?}"));
                    }
                }
                Ok(())
            }
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.conn.poll_flush(cx).map_err(|e| e.text().to_owned())
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        if let Some(why) = self.lost.take() {
            return Poll::Ready(Inbound::Lost(why));
        }
        if std::mem::take(&mut self.local_alive) {
            return Poll::Ready(Inbound::Alive);
        }
        while let Some(f) = self.early.pop_front() {
            if let Some(i) = self.on_frame(f) {
                return Poll::Ready(i);
            }
        }
        loop {
            let item = match self.conn.poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(ConnEnd::Lost(why))) => return Poll::Ready(Inbound::Lost(why)),
                Poll::Ready(Err(ConnEnd::Violation(why))) => return Poll::Ready(Inbound::Violation(why)),
                Poll::Ready(Ok(item)) => item,
            };
            self.last_rx = tokio::time::Instant::now();
            let inbound = match item {
                Incoming::HeartBeat => Some(Inbound::Alive),
                Incoming::Frame(f) => self.on_frame(f),
            };
            if let Some(i) = inbound {
                return Poll::Ready(i);
            }
        }
        // Records released by a destination just learnt go out without waiting for the
        // driver's next write.
        if self.conn.pending_out() > 0 {
            if let Poll::Ready(Err(e)) = self.conn.poll_flush(cx) {
                return Poll::Ready(Inbound::Lost(e.text().to_owned()));
            }
        }
        Poll::Pending
    }

    fn close(&mut self, _why: Close) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.conn.disconnect().await })
    }

    fn carrier(&self) -> Carrier {
        self.carrier
    }
}
