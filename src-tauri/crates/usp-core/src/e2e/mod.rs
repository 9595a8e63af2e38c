//! The USP end-to-end session context (TR-369 "E2E Message Exchange"), without I/O.
//!
//! [`E2eSession`] sits between the serialized USP Messages of one Controller–Agent pair and
//! the `session_context` Records that carry them across whatever lies in between (an MQTT or
//! STOMP broker, a proxy). It follows the same sans-IO shape as [`crate::engine::Link`]:
//! - inputs: [`E2eSession::send`] (a serialized `usp.Msg` to deliver),
//!   [`E2eSession::handle_bytes`] / [`E2eSession::handle_record`] (a Record that arrived),
//!   [`E2eSession::handle_timeout`] (time has passed), [`E2eSession::terminate`];
//! - outputs, drained after every input: [`E2eSession::poll_transmit`] (encoded Records to
//!   send), [`E2eSession::poll_delivered`] (whole Messages, in order, once each),
//!   [`E2eSession::poll_event`] (what happened), [`E2eSession::poll_timeout`] (when to call
//!   `handle_timeout` next).
//!
//! What it does (rule numbers of TR-369 SPEC-E2E):
//! - **Context**: one per peer (R-E2E.5). We start one with a fresh `session_id` (> 1,
//!   R-E2E.3) on the first send; a Record with a session id we have not used before restarts
//!   the context with the peer's id (R-E2E.4/6). A context is restarted with a new id of ours
//!   when a sequence id comes within 10,000 of `u64::MAX` (R-E2E.8/9), on a Record that fails
//!   integrity (R-E2E.23), on an invalid session id (R-E2E.24) and on any processing failure
//!   (R-E2E.21: reassembly, an unknown retransmit request, a change of `payload_security`...).
//! - **Sequencing** (R-E2E.14-20, 25): `sequence_id` from 1, +1 per Record; incoming Records
//!   ahead of `expected_id` are buffered (bounded), those behind and duplicates ignored, runs
//!   of contiguous Records processed in order; every Record we send carries our
//!   `expected_id` (a cumulative acknowledgement) and is kept until the peer's `expected_id`
//!   passes it; the peer's `retransmit_id` requests are honoured.
//! - **Retransmission**: a gap still open after [`E2eConfig::retransmit_interval`] makes us
//!   ask for the missing Record (`retransmit_id`); a data Record still unacknowledged after
//!   that interval is sent again. A Record retransmitted (or asked for) more than
//!   [`E2eConfig::max_retransmit_tries`] times fails the context: an
//!   [`E2eEvent::Restarted`] with [`RestartReason::RetransmitLimit`].
//! - **Segmentation and reassembly** (`payload_sar_state` / `payloadrec_sar_state`) at the
//!   peer's `MaxUSPRecordSize` ([`E2eConfig::max_record_size`]), both directions, with a
//!   bound on a reassembled Message ([`E2eConfig::max_message_size`]).
//! - **Record integrity** (R-E2E.28-31) when configured: ECDSA P-256 / SHA-256 over the
//!   non-payload fields (see [`integrity`]); a Record with a missing or wrong signature is
//!   dropped silently and the context restarted.
//! - **DisconnectRecord**: the peer's 7105 ("Session Context terminated") and 7106 ("Session
//!   Context not allowed") become [`E2eEvent::Terminated`] and [`E2eEvent::NotAllowed`];
//!   [`E2eSession::terminate`] sends our 7105, [`not_allowed_record`] builds a 7106.
//!
//! Decisions where the spec leaves room (each one tested in `tests/`):
//! - Our session ids are >= 2 (R-E2E.3 says "greater than 1"); any non-zero id of the peer's
//!   is accepted (whether 1 is really excluded is unverified).
//! - A Record that only acknowledges or asks for a retransmission is an empty
//!   session-context Record (allowed since USP 1.2) with its own `sequence_id`: R-E2E.20 only
//!   processes `retransmit_id` of a Record taken in order, so it needs one. An acknowledgement
//!   goes out when data arrived (also a duplicate: the peer lost our earlier one) and nothing
//!   we sent since carries our `expected_id`; empty Records are not acknowledged themselves
//!   and not resent on a timer (a later gap asks for them), so two idle layers stay quiet.
//! - `expected_id` is taken from every Record of the current context that passed the
//!   integrity check, also one buffered ahead or behind (it is cumulative: the highest wins),
//!   and a `retransmit_id` is honoured when its Record arrives, also ahead of order (our lost
//!   acknowledgement may be what keeps it waiting). A request for a Record the peer has since
//!   acknowledged is stale and ignored; one for a Record never sent fails the context.
//! - A Record sent again carries our current `expected_id` and no `retransmit_id` (and a new
//!   signature). `MaxRetransmitTries` counts every resend of one Record, asked for or timed
//!   out; a Record already sent again that many times fails the context ("greater than or
//!   equal", as SPEC-E2E puts it). A gap asked for that many times fails it too.
//! - A session id we used before (ours or the peer's, the last 16) is a late Record of a
//!   context left behind: ignored, not a restart (R-E2E.6 read literally would restart on
//!   it, and a reordering broker would then make the two sides chase each other).
//! - Both sides starting at once ("glare"): while our own context is younger than
//!   `max_retransmit_tries` × `retransmit_interval`, a *smaller* new id from the peer is the
//!   loser's and ignored; a larger one wins and we follow it. The same rule on both sides
//!   ends in one context. (A peer that restarts with a smaller id in that window is heard
//!   only when its retransmissions give up and it restarts again.)
//! - On a restart our Messages not yet acknowledged are sent again in the new context (the
//!   spec leaves that policy to the sender), so across a restart delivery is at least once
//!   (the USP msg_id tells a repeat); without a restart it is exactly once. On the peer's
//!   7105 they are dropped and counted in the event instead; [`E2eSession::take_dropped`]
//!   hands them back to a caller that wants to send them again.
//! - PLAINTEXT: `payloadrec_sar_state` must equal `payload_sar_state` and a Record carries at
//!   most one `payload`; anything else fails the context.
//!
//! - A Record without a Message (opening, acknowledgement, retransmit request) carries one
//!   empty `payload` entry: an empty payload in either reading, and the reference agent
//!   (OB-USPA) fails the context on a Record without exactly one entry.
//!
//! Tolerances for the reference agent's experimental session context, each off by default
//! (README, "The reference agent's session context"; [`E2eConfig::with_reference_agent_tolerances`]
//! sets all four): [`E2eConfig::resend_unacknowledged`], [`E2eConfig::send_acknowledgements`],
//! [`E2eConfig::early_7105_means_not_allowed`], [`E2eConfig::peer_reuses_session_ids`].
//!
//! Only `payload_security = PLAINTEXT` is implemented: a Record with `TLS12` fails the context
//! (E2E TLS is not done). Not wired to an MTP yet: the transports and the app use it later.

mod config;
pub mod integrity;
mod layer;
mod receive;
mod sar;
mod send;
#[cfg(test)]
mod tests;

pub use config::{E2eConfig, E2eDropped, E2eEvent, E2eSendError, E2eStats, RestartReason};
pub use integrity::{IntegrityError, PeerTrust, RecordSigner};
pub use layer::E2eSession;
pub use sar::SarError;
pub use send::not_allowed_record;

/// `SessionContextRecord.PayloadSARState`: the Message fits in this one Record.
pub const SAR_NONE: i32 = 0;
/// `PayloadSARState.BEGIN`: the first Record of a segmented Message.
pub const SAR_BEGIN: i32 = 1;
/// `PayloadSARState.INPROCESS`: a Record between the first and the last.
pub const SAR_INPROCESS: i32 = 2;
/// `PayloadSARState.COMPLETE`: the last Record of a segmented Message.
pub const SAR_COMPLETE: i32 = 3;

/// A context is restarted when a sequence id gets this close to `u64::MAX` (R-E2E.8/9).
pub const SEQUENCE_MARGIN: u64 = 10_000;

/// DisconnectRecord `reason_code`: "Session Context terminated" (the MTP stays up).
pub const CODE_TERMINATED: u32 = 7105;
/// DisconnectRecord `reason_code`: "Session Context not allowed".
pub const CODE_NOT_ALLOWED: u32 = 7106;
