//! Receiving: R-E2E.20 processing of the peer's session-context Records, its retransmit
//! requests and DisconnectRecords.

use std::time::Instant;

use super::config::{E2eDropped, E2eEvent, RestartReason};
use super::layer::{Context, E2eSession};
use super::{CODE_NOT_ALLOWED, CODE_TERMINATED, SEQUENCE_MARGIN};
use crate::record::{Record, RecordType, SessionContext, PAYLOAD_SECURITY_PLAINTEXT};

/// The longest peer text kept from a DisconnectRecord.
const MAX_REASON: usize = 1024;

impl E2eSession {
    // -----------------------------------------------------------------------------------
    // Receiving

    pub(super) fn on_session_record(&mut self, rec: Record, now: Instant) {
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
        // (See `E2eConfig::peer_reuses_session_ids`.)
        let reopened = self.cfg.peer_reuses_session_ids && sc.sequence_id == 1 && sc.expected_id == 1;
        let which = match &self.ctx {
            Some(c) if c.session_id == sid && reopened && c.expected > 1 => Which::New,
            Some(c) if c.session_id == sid => Which::Current,
            _ if self.retired.contains(&sid) && !reopened => Which::Stale,
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
        let resend = self.cfg.resend_unacknowledged.then_some(self.cfg.retransmit_interval);
        acknowledge(ctx, sc.expected_id, now, resend);
        let seq = sc.sequence_id;
        if seq < ctx.expected || ctx.ahead.contains_key(&seq) {
            // Behind or a duplicate (R-E2E.20, 25): ignored; acknowledged again when it
            // carries data, so the peer stops resending it.
            self.stats.duplicates += 1;
            ctx.ack_due |= carries_data(&sc);
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
    pub(super) fn process(&mut self, sc: SessionContext) -> Result<(), RestartReason> {
        let Some(ctx) = self.ctx.as_mut() else { return Ok(()) };
        ctx.expected = sc.sequence_id + 1;
        ctx.confirmed = true;
        if carries_data(&sc) {
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
    pub(super) fn honour_retransmit(&mut self, r: u64) -> Result<(), RestartReason> {
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

    pub(super) fn on_disconnect(&mut self, code: u32, reason: &str) {
        let mut end = reason.len().min(MAX_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let reason = reason[..end].to_owned();
        // (See `E2eConfig::early_7105_means_not_allowed`.)
        let refused = code == CODE_TERMINATED
            && self.cfg.early_7105_means_not_allowed
            && self.ctx.as_ref().is_some_and(|c| !c.by_peer && !c.confirmed);
        let code = if refused { CODE_NOT_ALLOWED } else { code };
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
}

/// Takes the peer's `expected_id`: Records of ours below it are acknowledged (R-E2E.16).
/// `resend`: the resend interval, `None` when unacknowledged Records are not resent on a timer.
pub(super) fn acknowledge(ctx: &mut Context, expected_id: u64, now: Instant, resend: Option<std::time::Duration>) {
    if expected_id <= ctx.peer_expected {
        return;
    }
    ctx.peer_expected = expected_id;
    let kept = ctx.unacked.split_off(&expected_id);
    for sent in std::mem::replace(&mut ctx.unacked, kept).into_values() {
        ctx.in_flight -= sent.payload.len();
    }
    let data_left = ctx.unacked.values().any(|s| !s.payload.is_empty());
    ctx.resend_at = resend.filter(|_| data_left).map(|interval| now + interval);
}

/// The Record carries Message bytes (a control Record has no `payload` entry, or one empty
/// entry, as OB-USPA requires and as we send it).
pub(super) fn carries_data(sc: &SessionContext) -> bool {
    sc.payload.iter().any(|p| !p.is_empty())
}
