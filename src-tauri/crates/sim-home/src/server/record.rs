//! USP Records on the wire: what to do with a received one, and the encoding of the ones
//! the agent sends.

use prost::Message as _;
use tracing::{debug, info, warn};
use usp_proto::usp::Msg;
use usp_proto::usp_record::record::{PayloadSecurity, RecordType};
use usp_proto::usp_record::Record;

use super::{DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED, DISCONNECT_SESSION_CONTEXT_TERMINATED, RECORD_VERSION};

/// What to do with a received binary frame.
#[derive(Debug, PartialEq)]
pub(super) enum RecordAction {
    Ignore,
    Msg(Msg),
    /// Answer a DisconnectRecord with this code and reason, then close with 1008.
    Disconnect {
        code: u32,
        reason: &'static str,
    },
}

pub(super) fn classify_record(data: &[u8], agent_eid: &str, controller_eid: &str) -> RecordAction {
    let record = match Record::decode(data) {
        Ok(r) => r,
        Err(e) => {
            debug!("ignoring undecodable record ({} bytes): {e}", data.len());
            return RecordAction::Ignore;
        }
    };
    if record.to_id != agent_eid {
        debug!(to_id = %record.to_id, "ignoring a record for another endpoint");
        return RecordAction::Ignore;
    }
    if record.from_id != controller_eid {
        debug!(from_id = %record.from_id, "ignoring a record whose from_id is not the connection's eid");
        return RecordAction::Ignore;
    }
    match record.record_type {
        Some(RecordType::NoSessionContext(nsc)) => {
            if record.payload_security != PayloadSecurity::Plaintext as i32 {
                // The reference agent rejects encrypted payloads like session contexts.
                return RecordAction::Disconnect {
                    code: DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED,
                    reason: "Session Context not allowed",
                };
            }
            match Msg::decode(nsc.payload.as_slice()) {
                Ok(msg) => RecordAction::Msg(msg),
                Err(e) => {
                    debug!("ignoring a record whose payload is not a USP Msg: {e}");
                    RecordAction::Ignore
                }
            }
        }
        Some(RecordType::SessionContext(_)) => RecordAction::Disconnect {
            code: DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED,
            reason: "Session Context not allowed",
        },
        Some(RecordType::Disconnect(d)) => {
            info!(reason_code = d.reason_code, reason = %d.reason, "the controller sent a DisconnectRecord");
            RecordAction::Disconnect {
                code: DISCONNECT_SESSION_CONTEXT_TERMINATED,
                reason: "Session Context terminated",
            }
        }
        Some(_) | None => {
            debug!("ignoring a record of an unexpected type");
            RecordAction::Ignore
        }
    }
}

/// The encoded `version`, `to_id` and `from_id` fields (protobuf fields 1-3, which come
/// before the `record_type` oneof in field order).
pub(super) fn record_prefix(to_id: &str, from_id: &str) -> Vec<u8> {
    Record {
        version: RECORD_VERSION.to_owned(),
        to_id: to_id.to_owned(),
        from_id: from_id.to_owned(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `prefix` + `no_session_context { payload: msg }`, in one buffer, without encoding `msg`
/// twice. Decodes to the same Record prost would encode.
pub(super) fn encode_no_session(prefix: &[u8], msg: &Msg) -> Vec<u8> {
    use prost::encoding::{encode_varint, encoded_len_varint};
    // Record field 7 (no_session_context), NoSessionContextRecord field 2 (payload), both
    // length-delimited: keys (7 << 3 | 2) and (2 << 3 | 2).
    const NO_SESSION_CONTEXT_KEY: u8 = 0x3a;
    const PAYLOAD_KEY: u8 = 0x12;
    let msg_len = msg.encoded_len();
    let inner_len = 1 + encoded_len_varint(msg_len as u64) + msg_len;
    let total = prefix.len() + 1 + encoded_len_varint(inner_len as u64) + inner_len;
    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(prefix);
    buf.push(NO_SESSION_CONTEXT_KEY);
    encode_varint(inner_len as u64, &mut buf);
    buf.push(PAYLOAD_KEY);
    encode_varint(msg_len as u64, &mut buf);
    // A Vec grows as needed: encoding into it cannot fail.
    if let Err(e) = msg.encode(&mut buf) {
        warn!("cannot encode a USP Msg: {e}");
    }
    buf
}

/// A whole Record from this agent.
pub(super) fn encode_record(to_id: &str, from_id: &str, record_type: RecordType) -> Vec<u8> {
    Record {
        version: RECORD_VERSION.to_owned(),
        to_id: to_id.to_owned(),
        from_id: from_id.to_owned(),
        record_type: Some(record_type),
        ..Default::default()
    }
    .encode_to_vec()
}
