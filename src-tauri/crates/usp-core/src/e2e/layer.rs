//! [`E2eSession`]: the context state machine (see the module documentation of [`super`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::config::{E2eConfig, E2eDropped, E2eEvent, E2eSendError, E2eStats, RestartReason};
use super::integrity::{RecordSigner, Verifier};
use super::sar::Reassembly;
use super::CODE_TERMINATED;
use crate::record::{Record, RecordType, SessionContext};
use crate::wire;

/// How many session ids left behind are remembered (their late Records are ignored).
const RETIRED: usize = 16;
/// The longest [`E2eConfig::retransmit_interval`] taken (a day).
const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(86_400);
/// The most [`E2eConfig::max_retransmit_tries`] taken.
const MAX_TRIES: u32 = 1000;

/// A Record we sent, kept until the peer's `expected_id` passes it (R-E2E.16).
#[derive(Debug)]
pub(super) struct Sent {
    /// `payload_sar_state` (= `payloadrec_sar_state`).
    pub(super) state: i32,
    /// Empty for a control Record (acknowledgement, retransmit request, opening).
    pub(super) payload: Bytes,
    /// `retransmit_id` when first sent (a resend carries 0: the request is stale by then).
    pub(super) retransmit_id: u64,
    /// On the last Record of a Message: the whole Message, sent again in a new context
    /// if this Record is not acknowledged when the context ends.
    pub(super) message: Option<Bytes>,
    /// Times sent again.
    pub(super) tries: u32,
}

/// One session context.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) session_id: u64,
    pub(super) by_peer: bool,
    pub(super) started_at: Instant,
    /// A Record of the peer's was processed in it.
    pub(super) confirmed: bool,
    // --- sending
    pub(super) next_seq: u64,
    pub(super) unacked: BTreeMap<u64, Sent>,
    /// Payload bytes of `unacked`.
    pub(super) in_flight: usize,
    /// The highest `expected_id` the peer sent: everything below it is acknowledged.
    pub(super) peer_expected: u64,
    pub(super) resend_at: Option<Instant>,
    // --- receiving
    pub(super) expected: u64,
    pub(super) ahead: BTreeMap<u64, SessionContext>,
    pub(super) ahead_bytes: usize,
    pub(super) gap_at: Option<Instant>,
    pub(super) gap_tries: u32,
    pub(super) reassembly: Reassembly,
    pub(super) ack_due: bool,
}

impl Context {
    pub(super) fn new(session_id: u64, by_peer: bool, started_at: Instant) -> Self {
        Self {
            session_id,
            by_peer,
            started_at,
            confirmed: false,
            next_seq: 1,
            unacked: BTreeMap::new(),
            in_flight: 0,
            peer_expected: 1,
            resend_at: None,
            expected: 1,
            ahead: BTreeMap::new(),
            ahead_bytes: 0,
            gap_at: None,
            gap_tries: 0,
            reassembly: Reassembly::default(),
            ack_due: false,
        }
    }
}

/// The end-to-end session context with one peer. See the module documentation of
/// [`crate::e2e`].
#[derive(Debug)]
pub struct E2eSession {
    pub(super) cfg: E2eConfig,
    pub(super) signer: Option<RecordSigner>,
    pub(super) verifier: Option<Verifier>,
    /// Payload bytes per Record, or why the configured record size cannot work.
    pub(super) chunk: Result<usize, E2eSendError>,
    pub(super) ctx: Option<Context>,
    pub(super) not_allowed: bool,
    pub(super) retired: VecDeque<u64>,
    pub(super) next_session_id: u64,
    pub(super) pending: VecDeque<Bytes>,
    pub(super) pending_bytes: usize,
    /// What the last end of a context dropped ([`E2eSession::take_dropped`]).
    pub(super) dropped: VecDeque<Bytes>,
    pub(super) transmits: VecDeque<Bytes>,
    pub(super) delivered: VecDeque<Bytes>,
    pub(super) events: VecDeque<E2eEvent>,
    pub(super) stats: E2eStats,
    pub(super) scratch: Vec<u8>,
}

impl E2eSession {
    /// A session layer with no context yet: the first [`send`](Self::send) starts one, or
    /// the peer's first session-context Record does.
    pub fn new(mut cfg: E2eConfig) -> Self {
        // Settings that would make time arithmetic overflow or a restart loop forever.
        cfg.retransmit_interval = cfg.retransmit_interval.min(MAX_INTERVAL);
        cfg.max_retransmit_tries = cfg.max_retransmit_tries.min(MAX_TRIES);
        cfg.max_unacked_records = cfg.max_unacked_records.max(4);
        let signer = cfg.signer.take();
        let must_name = if cfg.peer_cert_names_peer { cfg.peer_id.parse().ok() } else { None };
        let verifier = cfg.peer_trust.take().map(|t| Verifier::new(t, must_name));
        let next_session_id = cfg.first_session_id.unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0 >> 2).max(2);
        let chunk = super::send::chunk_size(&cfg, signer.as_ref());
        Self {
            cfg,
            signer,
            verifier,
            chunk,
            ctx: None,
            not_allowed: false,
            retired: VecDeque::new(),
            next_session_id,
            pending: VecDeque::new(),
            pending_bytes: 0,
            dropped: VecDeque::new(),
            transmits: VecDeque::new(),
            delivered: VecDeque::new(),
            events: VecDeque::new(),
            stats: E2eStats::default(),
            scratch: Vec::new(),
        }
    }

    /// The settings (signer and peer trust were taken out of them; the retransmit interval
    /// is at most a day, the tries at most 1000, `max_unacked_records` at least 4).
    pub fn config(&self) -> &E2eConfig {
        &self.cfg
    }

    /// The current context's session id.
    pub fn session_id(&self) -> Option<u64> {
        self.ctx.as_ref().map(|c| c.session_id)
    }

    /// A context exists and the peer has taken part in it (a Record of its was processed).
    pub fn is_established(&self) -> bool {
        self.ctx.as_ref().is_some_and(|c| c.confirmed)
    }

    /// The peer's Records are verified: integrity is on and every Record of the peer's
    /// must now be signed by a certificate known for it (pinned, or learnt from its first
    /// signed Record). False without a [`E2eConfig::peer_trust`], and with
    /// [`PeerTrust::WhenSigned`](super::PeerTrust::WhenSigned) while the peer has signed nothing.
    pub fn peer_verified(&self) -> bool {
        self.verifier.as_ref().is_some_and(Verifier::anchored)
    }

    /// The peer refused session contexts (DisconnectRecord 7106).
    pub fn is_not_allowed(&self) -> bool {
        self.not_allowed
    }

    /// Counters.
    pub fn stats(&self) -> E2eStats {
        self.stats
    }

    /// Payload bytes per Record at the configured `max_record_size` (`usize::MAX` without).
    pub fn segment_size(&self) -> Result<usize, E2eSendError> {
        self.chunk.clone()
    }

    /// Changes the largest Record the peer accepts (its `MaxUSPRecordSize`, once read from
    /// it, or what the MTP carries); 0 = no limit. Messages started from now on are cut to
    /// it; one already being sent keeps its segments (they stay back to back). Returns the
    /// payload bytes per Record, or why the size cannot work (then `send` refuses, as
    /// with the same size from [`E2eConfig::max_record_size`]).
    pub fn set_max_record_size(&mut self, max_record_size: usize) -> Result<usize, E2eSendError> {
        if max_record_size != self.cfg.max_record_size {
            self.cfg.max_record_size = max_record_size;
            self.chunk = super::send::chunk_size(&self.cfg, self.signer.as_ref());
        }
        self.chunk.clone()
    }

    /// Bytes of the peer's held by the context: Records buffered ahead of a missing one and
    /// a Message being reassembled.
    pub fn buffered_bytes(&self) -> usize {
        self.ctx.as_ref().map_or(0, |c| c.ahead_bytes + c.reassembly.held())
    }

    /// Lets a test start from a sequence id near the end of its range.
    #[cfg(test)]
    pub(super) fn set_next_sequence(&mut self, seq: u64) {
        if let Some(c) = self.ctx.as_mut() {
            c.next_seq = seq;
            c.peer_expected = seq;
            c.unacked.clear();
            c.in_flight = 0;
            c.resend_at = None;
        }
    }

    /// Records sent and not yet acknowledged.
    pub fn unacknowledged(&self) -> usize {
        self.ctx.as_ref().map_or(0, |c| c.unacked.len())
    }

    /// Queues a serialized `usp.Msg` for the peer; starts a context when there is none.
    pub fn send(&mut self, msg: Bytes, now: Instant) -> Result<(), E2eSendError> {
        if msg.is_empty() {
            return Err(E2eSendError::Empty);
        }
        if self.not_allowed {
            return Err(E2eSendError::NotAllowed);
        }
        if msg.len() > self.cfg.max_message_size {
            return Err(E2eSendError::TooLarge { size: msg.len(), limit: self.cfg.max_message_size });
        }
        let chunk = self.chunk.clone()?;
        let records = msg.len().div_ceil(chunk);
        if records > self.cfg.max_unacked_records / 2 {
            return Err(E2eSendError::TooManySegments { records, limit: self.cfg.max_unacked_records / 2 });
        }
        if self.pending_bytes + msg.len() > self.cfg.max_pending_bytes {
            return Err(E2eSendError::Full(self.pending_bytes));
        }
        self.pending_bytes += msg.len();
        self.pending.push_back(msg);
        if self.ctx.is_none() {
            self.start_ours(None, now);
        } else {
            self.flush(now);
        }
        Ok(())
    }

    /// Ends the context with a DisconnectRecord 7105 (the MTP stays up). Returns how many
    /// of our Messages were dropped unacknowledged or unsent.
    pub fn terminate(&mut self, reason: &str) -> usize {
        if self.ctx.is_none() {
            return 0;
        }
        let lost = self.drop_context();
        let rec = Record::new(
            self.cfg.version.clone(),
            self.cfg.peer_id.clone(),
            self.cfg.own_id.clone(),
            RecordType::Disconnect { reason: reason.into(), reason_code: CODE_TERMINATED },
        );
        self.emit(rec);
        lost
    }

    /// Decodes and handles a received Record (see [`handle_record`](Self::handle_record)).
    /// Unreadable bytes become [`E2eDropped::Malformed`].
    pub fn handle_bytes(&mut self, bytes: Bytes, now: Instant) -> Option<Record> {
        match wire::decode_record(bytes, &self.cfg.limits) {
            Ok(rec) => self.handle_record(rec, now),
            Err(e) => {
                self.events.push_back(E2eEvent::Dropped(E2eDropped::Malformed(e.to_string())));
                None
            }
        }
    }

    /// Handles a received Record: session-context Records and DisconnectRecords are this
    /// layer's; any other Record is given back untouched (for the [`crate::engine::Link`]).
    pub fn handle_record(&mut self, rec: Record, now: Instant) -> Option<Record> {
        if !matches!(rec.record_type, RecordType::SessionContext(_) | RecordType::Disconnect { .. }) {
            return Some(rec);
        }
        if rec.to_id != self.cfg.own_id {
            self.events.push_back(E2eEvent::Dropped(E2eDropped::NotForUs));
            return None;
        }
        if rec.from_id != self.cfg.peer_id {
            self.events.push_back(E2eEvent::Dropped(E2eDropped::WrongSender));
            return None;
        }
        if let RecordType::Disconnect { reason, reason_code } = &rec.record_type {
            self.on_disconnect(*reason_code, reason);
            return None;
        }
        self.on_session_record(rec, now);
        self.flush(now);
        self.ack_if_due(now);
        None
    }

    /// Time has passed: asks for missing Records, resends unacknowledged ones, gives up
    /// after `max_retransmit_tries`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let interval = self.cfg.retransmit_interval;
        let max = self.cfg.max_retransmit_tries;
        let Some(ctx) = self.ctx.as_mut() else { return };
        if ctx.gap_at.is_some_and(|t| t <= now) {
            if ctx.ahead.is_empty() {
                ctx.gap_at = None;
            } else if ctx.gap_tries >= max {
                let reason = RestartReason::RetransmitLimit { sequence_id: ctx.expected, tries: ctx.gap_tries };
                self.start_ours(Some(reason), now);
                return;
            } else {
                ctx.gap_tries += 1;
                ctx.gap_at = Some(now + interval);
                let missing = ctx.expected;
                self.stats.retransmit_requests += 1;
                self.send_control(missing, now);
            }
        }
        let Some(ctx) = self.ctx.as_mut() else { return };
        if ctx.resend_at.is_some_and(|t| t <= now) {
            let oldest = ctx.unacked.iter().find(|(_, s)| !s.payload.is_empty()).map(|(&seq, s)| (seq, s.tries));
            match oldest {
                None => ctx.resend_at = None,
                Some((seq, tries)) if tries >= max => {
                    self.start_ours(Some(RestartReason::RetransmitLimit { sequence_id: seq, tries }), now);
                    return;
                }
                Some((seq, _)) => {
                    ctx.resend_at = Some(now + interval);
                    self.resend(seq);
                }
            }
        }
        self.ack_if_due(now);
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ctx = self.ctx.as_ref()?;
        match (ctx.gap_at, ctx.resend_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next encoded Record to send.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    /// The next whole Message received, in order.
    pub fn poll_delivered(&mut self) -> Option<Bytes> {
        self.delivered.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<E2eEvent> {
        self.events.pop_front()
    }

    // -----------------------------------------------------------------------------------
    // Contexts

    /// Starts a context of ours (a first one, or a restart for `reason`) and sends what
    /// is pending in it, or an empty opening Record.
    pub(super) fn start_ours(&mut self, reason: Option<RestartReason>, now: Instant) {
        let old = self.retire_context();
        let sid = self.fresh_session_id();
        self.ctx = Some(Context::new(sid, false, now));
        self.stats.contexts += 1;
        self.events.push_back(match (old, reason) {
            (Some(old), Some(reason)) => E2eEvent::Restarted { old, new: sid, reason },
            _ => E2eEvent::Started { session_id: sid, by_peer: false },
        });
        let before = self.stats.records_sent;
        self.flush(now);
        if self.stats.records_sent == before {
            self.send_control(0, now);
        }
    }

    /// Follows the peer into its context `sid` (R-E2E.4/6).
    pub(super) fn start_peer(&mut self, sid: u64, now: Instant) {
        let old = self.retire_context();
        self.ctx = Some(Context::new(sid, true, now));
        self.not_allowed = false;
        self.stats.contexts += 1;
        self.events.push_back(match old {
            Some(old) => E2eEvent::Restarted { old, new: sid, reason: RestartReason::PeerNewSession },
            None => E2eEvent::Started { session_id: sid, by_peer: true },
        });
    }

    /// Leaves the current context: its id is remembered, our unacknowledged Messages go
    /// back to the front of the queue. Returns its id.
    pub(super) fn retire_context(&mut self) -> Option<u64> {
        let ctx = self.ctx.take()?;
        self.remember(ctx.session_id);
        for msg in ctx.unacked.into_values().rev().filter_map(|s| s.message) {
            self.pending_bytes += msg.len();
            self.pending.push_front(msg);
        }
        Some(ctx.session_id)
    }

    /// Remembers a session id left behind (its late Records are ignored).
    pub(super) fn remember(&mut self, sid: u64) {
        if self.retired.len() == RETIRED {
            self.retired.pop_front();
        }
        self.retired.push_back(sid);
    }

    /// Ends the context and drops every Message of ours; returns how many.
    pub(super) fn drop_context(&mut self) -> usize {
        self.retire_context();
        let lost = self.pending.len();
        // Kept (only the last batch: bounded as `pending` is) for `take_dropped`.
        self.dropped = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        lost
    }

    /// The Messages of ours that the last end of a context dropped unacknowledged or unsent
    /// (the peer's 7105 or 7106, or [`terminate`](Self::terminate)), oldest first, for the
    /// caller to send again (in a new context, or without one) if it wants; the peer may have
    /// run some of them already. Only the last such batch is kept.
    pub fn take_dropped(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.dropped).into()
    }

    pub(super) fn fresh_session_id(&mut self) -> u64 {
        loop {
            let id = self.next_session_id;
            self.next_session_id = id.wrapping_add(1);
            if id >= 2 && !self.retired.contains(&id) {
                return id;
            }
        }
    }

    /// A Record of a context we left, or a losing race: if our own context has not been
    /// heard by the peer yet, resend its first Record. False when that is not possible.
    pub(super) fn nudge(&mut self) -> bool {
        let Some(ctx) = self.ctx.as_ref() else { return false };
        if ctx.by_peer || ctx.confirmed {
            return false;
        }
        match ctx.unacked.get(&1) {
            Some(s) if s.tries < self.cfg.max_retransmit_tries => {
                self.resend(1);
                true
            }
            _ => false,
        }
    }
}
