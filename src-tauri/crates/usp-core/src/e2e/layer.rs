//! [`E2eSession`]: the context state machine (see the module documentation of [`super`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::config::{E2eConfig, E2eDropped, E2eEvent, E2eSendError, E2eStats, RestartReason};
use super::integrity::{RecordSigner, Verifier};
use super::sar::{self, Reassembly};
use super::{CODE_NOT_ALLOWED, CODE_TERMINATED, SAR_COMPLETE, SAR_NONE, SEQUENCE_MARGIN};
use crate::msg::Text;
use crate::record::{Record, RecordType, SessionContext, PAYLOAD_SECURITY_PLAINTEXT};
use crate::wire;

/// How many session ids left behind are remembered (their late Records are ignored).
const RETIRED: usize = 16;
/// The longest DER ECDSA P-256 signature.
const MAX_SIGNATURE: usize = 72;
/// The longest [`E2eConfig::retransmit_interval`] taken (a day).
const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(86_400);
/// The most [`E2eConfig::max_retransmit_tries`] taken.
const MAX_TRIES: u32 = 1000;
/// The longest peer text kept from a DisconnectRecord.
const MAX_REASON: usize = 1024;

/// A Record we sent, kept until the peer's `expected_id` passes it (R-E2E.16).
#[derive(Debug)]
struct Sent {
    /// `payload_sar_state` (= `payloadrec_sar_state`).
    state: i32,
    /// Empty for a control Record (acknowledgement, retransmit request, opening).
    payload: Bytes,
    /// `retransmit_id` when first sent (a resend carries 0: the request is stale by then).
    retransmit_id: u64,
    /// On the last Record of a Message: the whole Message, sent again in a new context
    /// if this Record is not acknowledged when the context ends.
    message: Option<Bytes>,
    /// Times sent again.
    tries: u32,
}

/// One session context.
#[derive(Debug)]
struct Context {
    session_id: u64,
    by_peer: bool,
    started_at: Instant,
    /// A Record of the peer's was processed in it.
    confirmed: bool,
    // --- sending
    next_seq: u64,
    unacked: BTreeMap<u64, Sent>,
    /// Payload bytes of `unacked`.
    in_flight: usize,
    /// The highest `expected_id` the peer sent: everything below it is acknowledged.
    peer_expected: u64,
    resend_at: Option<Instant>,
    // --- receiving
    expected: u64,
    ahead: BTreeMap<u64, SessionContext>,
    ahead_bytes: usize,
    gap_at: Option<Instant>,
    gap_tries: u32,
    reassembly: Reassembly,
    ack_due: bool,
}

impl Context {
    fn new(session_id: u64, by_peer: bool, started_at: Instant) -> Self {
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
    cfg: E2eConfig,
    signer: Option<RecordSigner>,
    verifier: Option<Verifier>,
    /// Payload bytes per Record, or why the configured record size cannot work.
    chunk: Result<usize, E2eSendError>,
    ctx: Option<Context>,
    not_allowed: bool,
    retired: VecDeque<u64>,
    next_session_id: u64,
    pending: VecDeque<Bytes>,
    pending_bytes: usize,
    transmits: VecDeque<Bytes>,
    delivered: VecDeque<Bytes>,
    events: VecDeque<E2eEvent>,
    stats: E2eStats,
    scratch: Vec<u8>,
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
        let verifier = cfg.peer_trust.take().map(Verifier::new);
        let next_session_id = cfg.first_session_id.unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0 >> 2).max(2);
        let chunk = chunk_size(&cfg, signer.as_ref());
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
    // Receiving

    fn on_session_record(&mut self, rec: Record, now: Instant) {
        self.stats.records_received += 1;
        // Integrity first (R-E2E.23): a forged Record touches nothing.
        if let Some(v) = self.verifier.as_mut() {
            match v.verify(&rec, &mut self.scratch) {
                Ok(None) => {}
                Ok(Some(cert)) => self.events.push_back(E2eEvent::PeerCertificate(cert)),
                Err(e) => {
                    if self.ctx.is_some() {
                        self.start_ours(Some(RestartReason::Integrity(e)), now);
                    } else {
                        self.events.push_back(E2eEvent::Dropped(E2eDropped::Integrity(e)));
                    }
                    return;
                }
            }
        }
        let payload_security = rec.payload_security;
        let RecordType::SessionContext(sc) = rec.record_type else { return };
        let sid = sc.session_id;
        if sid == 0 || sc.sequence_id == 0 {
            // R-E2E.24.
            if self.ctx.is_some() {
                self.start_ours(Some(RestartReason::InvalidId), now);
            } else {
                self.events.push_back(E2eEvent::Dropped(E2eDropped::InvalidId));
            }
            return;
        }
        enum Which {
            Current,
            Stale,
            Race,
            New,
        }
        let race_window = self.cfg.retransmit_interval * self.cfg.max_retransmit_tries;
        let which = match &self.ctx {
            Some(c) if c.session_id == sid => Which::Current,
            _ if self.retired.contains(&sid) => Which::Stale,
            // Both sides started a context at once: the larger id wins on both sides. A
            // smaller new id from the peer soon after we started ours is the loser's (its
            // Records may arrive late, after the peer has joined ours).
            Some(c) if !c.by_peer && sid < c.session_id && now < c.started_at + race_window => Which::Race,
            _ => Which::New,
        };
        match which {
            Which::Current => {}
            Which::Stale => {
                self.events.push_back(E2eEvent::Dropped(E2eDropped::StaleSession { session_id: sid }));
                self.nudge();
                return;
            }
            Which::Race => {
                self.events.push_back(E2eEvent::Dropped(E2eDropped::LostRace { session_id: sid }));
                self.remember(sid);
                self.nudge();
                return;
            }
            Which::New => self.start_peer(sid, now),
        }
        if payload_security != PAYLOAD_SECURITY_PLAINTEXT {
            let why = format!("payload_security {payload_security} (only PLAINTEXT is implemented)");
            self.start_ours(Some(RestartReason::Processing(why)), now);
            return;
        }
        if sc.sequence_id >= u64::MAX - SEQUENCE_MARGIN {
            // R-E2E.8.
            self.start_ours(Some(RestartReason::SequenceExhausted { sequence_id: sc.sequence_id }), now);
            return;
        }
        let Some(ctx) = self.ctx.as_mut() else { return };
        if sc.expected_id > ctx.next_seq {
            let why = format!("acknowledges record {} of ours, never sent", sc.expected_id - 1);
            self.start_ours(Some(RestartReason::Processing(why)), now);
            return;
        }
        acknowledge(ctx, sc.expected_id, now, self.cfg.retransmit_interval);
        let seq = sc.sequence_id;
        if seq < ctx.expected || ctx.ahead.contains_key(&seq) {
            // Behind or a duplicate (R-E2E.20, 25): ignored; acknowledged again when it
            // carries data, so the peer stops resending it.
            self.stats.duplicates += 1;
            ctx.ack_due |= !sc.payload.is_empty();
            return;
        }
        if seq > ctx.expected {
            // A retransmit request is honoured on arrival: the Record it asks for may be
            // the very one whose absence keeps this one waiting (our acknowledgement lost).
            let mut sc = sc;
            if sc.retransmit_id != 0 {
                if let Err(reason) = self.honour_retransmit(std::mem::take(&mut sc.retransmit_id)) {
                    self.start_ours(Some(reason), now);
                    return;
                }
            }
            let Some(ctx) = self.ctx.as_mut() else { return };
            let size: usize = sc.payload.iter().map(|p| p.len()).sum();
            if seq - ctx.expected > self.cfg.max_ahead_records as u64
                || ctx.ahead.len() >= self.cfg.max_ahead_records
                || ctx.ahead_bytes + size > self.cfg.max_ahead_bytes
            {
                self.start_ours(Some(RestartReason::BufferFull), now);
                return;
            }
            ctx.ahead_bytes += size;
            ctx.ahead.insert(seq, sc);
            if ctx.gap_at.is_none() {
                ctx.gap_at = Some(now + self.cfg.retransmit_interval);
            }
            return;
        }
        // In order: this one and the run of buffered ones after it.
        let mut next = Some(sc);
        while let Some(sc) = next {
            if let Err(reason) = self.process(sc) {
                self.start_ours(Some(reason), now);
                return;
            }
            let Some(ctx) = self.ctx.as_mut() else { return };
            next = ctx.ahead.remove(&ctx.expected);
            if let Some(sc) = &next {
                ctx.ahead_bytes -= sc.payload.iter().map(|p| p.len()).sum::<usize>();
            }
        }
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.gap_tries = 0;
            ctx.gap_at = (!ctx.ahead.is_empty()).then(|| now + self.cfg.retransmit_interval);
        }
    }

    /// Processes the Record with the expected sequence id (R-E2E.20 item 3).
    fn process(&mut self, sc: SessionContext) -> Result<(), RestartReason> {
        let Some(ctx) = self.ctx.as_mut() else { return Ok(()) };
        ctx.expected = sc.sequence_id + 1;
        ctx.confirmed = true;
        if !sc.payload.is_empty() {
            ctx.ack_due = true;
        }
        self.honour_retransmit(sc.retransmit_id)?;
        let Some(ctx) = self.ctx.as_mut() else { return Ok(()) };
        let limit = self.cfg.max_message_size;
        match ctx.reassembly.push(sc.payload_sar_state, sc.payloadrec_sar_state, &sc.payload, limit) {
            Ok(Some(msg)) => {
                self.stats.messages_delivered += 1;
                self.delivered.push_back(msg);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(RestartReason::Reassembly(e)),
        }
    }

    /// The peer asks for our Record `r` again (0: it does not).
    fn honour_retransmit(&mut self, r: u64) -> Result<(), RestartReason> {
        let Some(ctx) = self.ctx.as_ref() else { return Ok(()) };
        if r == 0 || r < ctx.peer_expected {
            // (Below `peer_expected` the request is stale: the peer acknowledged it since.)
            return Ok(());
        }
        match ctx.unacked.get(&r).map(|s| s.tries) {
            None => Err(RestartReason::Processing(format!("asked to resend record {r}, never sent"))),
            Some(tries) if tries >= self.cfg.max_retransmit_tries => {
                Err(RestartReason::RetransmitLimit { sequence_id: r, tries })
            }
            Some(_) => {
                self.resend(r);
                Ok(())
            }
        }
    }

    fn on_disconnect(&mut self, code: u32, reason: &str) {
        let mut end = reason.len().min(MAX_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let reason = reason[..end].to_owned();
        match code {
            CODE_TERMINATED => {
                let lost_messages = self.drop_context();
                self.events.push_back(E2eEvent::Terminated { reason, lost_messages });
            }
            CODE_NOT_ALLOWED => {
                let lost_messages = self.drop_context();
                self.not_allowed = true;
                self.events.push_back(E2eEvent::NotAllowed { reason, lost_messages });
            }
            reason_code => self.events.push_back(E2eEvent::Disconnect { reason_code, reason }),
        }
    }

    // -----------------------------------------------------------------------------------
    // Contexts

    /// Starts a context of ours (a first one, or a restart for `reason`) and sends what
    /// is pending in it, or an empty opening Record.
    fn start_ours(&mut self, reason: Option<RestartReason>, now: Instant) {
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
    fn start_peer(&mut self, sid: u64, now: Instant) {
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
    fn retire_context(&mut self) -> Option<u64> {
        let ctx = self.ctx.take()?;
        self.remember(ctx.session_id);
        for msg in ctx.unacked.into_values().rev().filter_map(|s| s.message) {
            self.pending_bytes += msg.len();
            self.pending.push_front(msg);
        }
        Some(ctx.session_id)
    }

    /// Remembers a session id left behind (its late Records are ignored).
    fn remember(&mut self, sid: u64) {
        if self.retired.len() == RETIRED {
            self.retired.pop_front();
        }
        self.retired.push_back(sid);
    }

    /// Ends the context and drops every Message of ours; returns how many.
    fn drop_context(&mut self) -> usize {
        self.retire_context();
        let lost = self.pending.len();
        self.pending.clear();
        self.pending_bytes = 0;
        lost
    }

    fn fresh_session_id(&mut self) -> u64 {
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
    fn nudge(&mut self) -> bool {
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

    // -----------------------------------------------------------------------------------
    // Sending

    /// Starts pending Messages while the window allows.
    fn flush(&mut self, now: Instant) {
        let Ok(chunk) = self.chunk.clone() else { return };
        while let Some(msg) = self.pending.front() {
            let Some(ctx) = self.ctx.as_ref() else { return };
            let records = msg.len().div_ceil(chunk).max(1);
            if !ctx.unacked.is_empty()
                && (ctx.in_flight >= self.cfg.max_in_flight_bytes
                    || ctx.unacked.len() + records > self.cfg.max_unacked_records / 2)
            {
                return;
            }
            if ctx.next_seq.saturating_add(records as u64) >= u64::MAX - SEQUENCE_MARGIN {
                // R-E2E.9: a new context before the sequence ids run out.
                let sequence_id = ctx.next_seq;
                self.start_ours(Some(RestartReason::SequenceExhausted { sequence_id }), now);
                return;
            }
            let Some(msg) = self.pending.pop_front() else { return };
            self.pending_bytes -= msg.len();
            let segments = sar::segments(&msg, chunk);
            let last = segments.len() - 1;
            for (i, (state, payload)) in segments.into_iter().enumerate() {
                let message = (i == last).then(|| msg.clone());
                self.send_new(Sent { state, payload, retransmit_id: 0, message, tries: 0 }, now);
            }
        }
    }

    /// Sends an acknowledgement when Records with data came in and nothing we sent since
    /// carried our `expected_id`.
    fn ack_if_due(&mut self, now: Instant) {
        if self.ctx.as_ref().is_some_and(|c| c.ack_due) {
            self.send_control(0, now);
        }
    }

    /// A Record without payload: an acknowledgement, a retransmit request (`retransmit_id`
    /// != 0) or the opening Record of a context.
    fn send_control(&mut self, retransmit_id: u64, now: Instant) {
        let Some(ctx) = self.ctx.as_ref() else { return };
        if ctx.unacked.len() >= self.cfg.max_unacked_records {
            let why = format!("{} records of ours unacknowledged", ctx.unacked.len());
            self.start_ours(Some(RestartReason::Processing(why)), now);
            return;
        }
        if ctx.next_seq >= u64::MAX - SEQUENCE_MARGIN {
            let sequence_id = ctx.next_seq;
            self.start_ours(Some(RestartReason::SequenceExhausted { sequence_id }), now);
            return;
        }
        self.send_new(Sent { state: SAR_NONE, payload: Bytes::new(), retransmit_id, message: None, tries: 0 }, now);
    }

    fn send_new(&mut self, sent: Sent, now: Instant) {
        let interval = self.cfg.retransmit_interval;
        let Some(ctx) = self.ctx.as_mut() else { return };
        let seq = ctx.next_seq;
        ctx.next_seq += 1;
        if !sent.payload.is_empty() {
            ctx.in_flight += sent.payload.len();
            ctx.resend_at.get_or_insert(now + interval);
        }
        let sc = SessionContext {
            session_id: ctx.session_id,
            sequence_id: seq,
            expected_id: ctx.expected,
            retransmit_id: sent.retransmit_id,
            payload_sar_state: sent.state,
            payloadrec_sar_state: sent.state,
            payload: if sent.payload.is_empty() { Vec::new() } else { vec![sent.payload.clone()] },
        };
        ctx.ack_due = false;
        ctx.unacked.insert(seq, sent);
        self.stats.records_sent += 1;
        self.emit_session(sc);
    }

    /// Sends Record `seq` again (it is in `unacked`), with our current `expected_id`.
    fn resend(&mut self, seq: u64) {
        let Some(ctx) = self.ctx.as_mut() else { return };
        let Some(sent) = ctx.unacked.get_mut(&seq) else { return };
        sent.tries += 1;
        let sc = SessionContext {
            session_id: ctx.session_id,
            sequence_id: seq,
            expected_id: ctx.expected,
            retransmit_id: 0,
            payload_sar_state: sent.state,
            payloadrec_sar_state: sent.state,
            payload: if sent.payload.is_empty() { Vec::new() } else { vec![sent.payload.clone()] },
        };
        ctx.ack_due = false;
        self.stats.records_resent += 1;
        self.emit_session(sc);
    }

    fn emit_session(&mut self, sc: SessionContext) {
        let rec = Record::new(
            self.cfg.version.clone(),
            self.cfg.peer_id.clone(),
            self.cfg.own_id.clone(),
            RecordType::SessionContext(sc),
        );
        self.emit(rec);
    }

    /// Signs (when configured), encodes and queues a Record.
    fn emit(&mut self, mut rec: Record) {
        if let Some(signer) = &self.signer {
            // A key that signed once at construction signs again; should it fail, the
            // Record goes unsigned and the peer's verification restarts the context.
            let _ = signer.sign(&mut rec, &mut self.scratch);
        }
        let mut out = Vec::with_capacity(wire::encoded_record_len(&rec));
        wire::encode_record(&rec, &mut out);
        self.transmits.push_back(Bytes::from(out));
    }
}

/// Takes the peer's `expected_id`: Records of ours below it are acknowledged (R-E2E.16).
fn acknowledge(ctx: &mut Context, expected_id: u64, now: Instant, interval: std::time::Duration) {
    if expected_id <= ctx.peer_expected {
        return;
    }
    ctx.peer_expected = expected_id;
    let kept = ctx.unacked.split_off(&expected_id);
    for sent in std::mem::replace(&mut ctx.unacked, kept).into_values() {
        ctx.in_flight -= sent.payload.len();
    }
    let data_left = ctx.unacked.values().any(|s| !s.payload.is_empty());
    ctx.resend_at = data_left.then(|| now + interval);
}

/// Payload bytes that fit in one Record next to the header at `cfg.max_record_size`.
fn chunk_size(cfg: &E2eConfig, signer: Option<&RecordSigner>) -> Result<usize, E2eSendError> {
    if cfg.max_record_size == 0 {
        return Ok(usize::MAX);
    }
    let probe = Record {
        version: cfg.version.clone(),
        to_id: cfg.peer_id.clone(),
        from_id: cfg.own_id.clone(),
        payload_security: PAYLOAD_SECURITY_PLAINTEXT,
        mac_signature: if signer.is_some() { Bytes::from(vec![0xff; MAX_SIGNATURE]) } else { Bytes::new() },
        sender_cert: signer.map(|s| s.sender_cert().clone()).unwrap_or_default(),
        record_type: RecordType::SessionContext(SessionContext {
            session_id: u64::MAX,
            sequence_id: u64::MAX,
            expected_id: u64::MAX,
            retransmit_id: 0,
            payload_sar_state: SAR_COMPLETE,
            payloadrec_sar_state: SAR_COMPLETE,
            payload: Vec::new(),
        }),
    };
    // + the payload's key and length, + the growth of the session_context length (5 bytes
    // each cover lengths up to 32 GiB).
    let overhead = wire::encoded_record_len(&probe) + 1 + 5 + 5;
    if overhead >= cfg.max_record_size {
        return Err(E2eSendError::RecordSizeTooSmall { limit: cfg.max_record_size, overhead });
    }
    Ok(cfg.max_record_size - overhead)
}

/// A DisconnectRecord 7106 ("Session Context not allowed") from `own_id` to `peer_id`,
/// encoded: the answer of an endpoint that does not take part in session contexts.
pub fn not_allowed_record(version: &str, own_id: &str, peer_id: &str) -> Bytes {
    let rec = Record::new(
        version,
        peer_id,
        own_id,
        RecordType::Disconnect { reason: Text::from("Session Context not allowed"), reason_code: CODE_NOT_ALLOWED },
    );
    let mut out = Vec::new();
    wire::encode_record(&rec, &mut out);
    Bytes::from(out)
}
