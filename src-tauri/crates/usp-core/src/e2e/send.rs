//! Sending: Messages cut into Records, control Records, resends, signing and encoding.

use std::time::Instant;

use bytes::Bytes;

use super::config::{E2eConfig, E2eSendError, RestartReason};
use super::integrity::RecordSigner;
use super::layer::{E2eSession, Sent};
use super::sar;
use super::{CODE_NOT_ALLOWED, SAR_COMPLETE, SAR_NONE, SEQUENCE_MARGIN};
use crate::msg::Text;
use crate::record::{Record, RecordType, SessionContext, PAYLOAD_SECURITY_PLAINTEXT};
use crate::wire;

/// The longest DER ECDSA P-256 signature.
const MAX_SIGNATURE: usize = 72;

impl E2eSession {
    // -----------------------------------------------------------------------------------
    // Sending

    /// Starts pending Messages while the window allows.
    pub(super) fn flush(&mut self, now: Instant) {
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
    /// (Never with `send_acknowledgements` off: our next Message carries `expected_id`.)
    pub(super) fn ack_if_due(&mut self, now: Instant) {
        if !self.cfg.send_acknowledgements {
            return;
        }
        if self.ctx.as_ref().is_some_and(|c| c.ack_due) {
            self.send_control(0, now);
        }
    }

    /// A Record without payload: an acknowledgement, a retransmit request (`retransmit_id`
    /// != 0) or the opening Record of a context.
    pub(super) fn send_control(&mut self, retransmit_id: u64, now: Instant) {
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

    pub(super) fn send_new(&mut self, sent: Sent, now: Instant) {
        let interval = self.cfg.retransmit_interval;
        let Some(ctx) = self.ctx.as_mut() else { return };
        let seq = ctx.next_seq;
        ctx.next_seq += 1;
        if !sent.payload.is_empty() {
            ctx.in_flight += sent.payload.len();
            if self.cfg.resend_unacknowledged {
                ctx.resend_at.get_or_insert(now + interval);
            }
        }
        let sc = SessionContext {
            session_id: ctx.session_id,
            sequence_id: seq,
            expected_id: ctx.expected,
            retransmit_id: sent.retransmit_id,
            payload_sar_state: sent.state,
            payloadrec_sar_state: sent.state,
            // Exactly one entry, also when empty (see `tests/reference.rs`).
            payload: vec![sent.payload.clone()],
        };
        ctx.ack_due = false;
        ctx.unacked.insert(seq, sent);
        self.stats.records_sent += 1;
        self.emit_session(sc);
    }

    /// Sends Record `seq` again (it is in `unacked`), with our current `expected_id`.
    pub(super) fn resend(&mut self, seq: u64) {
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
            // Exactly one entry, also when empty (see `tests/reference.rs`).
            payload: vec![sent.payload.clone()],
        };
        ctx.ack_due = false;
        self.stats.records_resent += 1;
        self.emit_session(sc);
    }

    pub(super) fn emit_session(&mut self, sc: SessionContext) {
        let rec = Record::new(
            self.cfg.version.clone(),
            self.cfg.peer_id.clone(),
            self.cfg.own_id.clone(),
            RecordType::SessionContext(sc),
        );
        self.emit(rec);
    }

    /// Signs (when configured), encodes and queues a Record.
    pub(super) fn emit(&mut self, mut rec: Record) {
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

/// Payload bytes that fit in one Record next to the header at `cfg.max_record_size`.
pub(super) fn chunk_size(cfg: &E2eConfig, signer: Option<&RecordSigner>) -> Result<usize, E2eSendError> {
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
