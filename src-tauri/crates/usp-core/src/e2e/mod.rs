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
//! Only `payload_security = PLAINTEXT` is implemented: a Record with `TLS12` fails the context
//! (E2E TLS is not done). Not wired to an MTP yet: the transports and the app use it later.

mod config;
pub mod integrity;
mod layer;
mod sar;
#[cfg(test)]
mod tests;

pub use config::{E2eConfig, E2eDropped, E2eEvent, E2eSendError, E2eStats, RestartReason};
pub use integrity::{IntegrityError, PeerTrust, RecordSigner};
pub use layer::{not_allowed_record, E2eSession};
pub use sar::SarError;

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
