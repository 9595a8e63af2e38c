//! `decode`: a USP Record (or a bare Msg) from a file, printed as JSON.

use std::path::PathBuf;

use serde_json::{json, Value};
use usp_core::wire::{self, Limits};

use crate::failure::Failure;
use crate::output::print_json;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn decode(bare_msg: bool, file: &PathBuf) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let bytes = bytes::Bytes::from(bytes);
    let limits = Limits::default();
    let bad = |what: &str, e: wire::DecodeError| Failure {
        code: 1,
        message: format!("{} is not a valid USP {what}: {e}", file.display()),
    };
    if bare_msg {
        let m = wire::decode_msg(bytes, &limits).map_err(|e| bad("Msg", e))?;
        return print_json(&m);
    }
    let rec = wire::decode_record(bytes, &limits).map_err(|e| bad("Record", e))?;
    use usp_core::record::RecordType;
    let record_type = match &rec.record_type {
        RecordType::NoSessionContext { payload } => {
            let msg = match wire::decode_msg(payload.clone(), &limits) {
                Ok(m) => serde_json::to_value(&m).unwrap_or(Value::Null),
                Err(e) => json!({ "undecodable": e.to_string(), "hex": hex(payload) }),
            };
            json!({ "no_session_context": { "payload": msg } })
        }
        RecordType::SessionContext(s) => json!({ "session_context": {
            "session_id": s.session_id, "sequence_id": s.sequence_id, "expected_id": s.expected_id,
            "retransmit_id": s.retransmit_id, "payload_sar_state": s.payload_sar_state,
            "payloadrec_sar_state": s.payloadrec_sar_state,
            "payload": s.payload.iter().map(|p| match wire::decode_msg(p.clone(), &limits) {
                Ok(m) => serde_json::to_value(&m).unwrap_or(Value::Null),
                Err(_) => json!({ "hex": hex(p) }),
            }).collect::<Vec<_>>(),
        }}),
        RecordType::WebSocketConnect => json!({ "websocket_connect": {} }),
        RecordType::MqttConnect { version, subscribed_topic } => {
            json!({ "mqtt_connect": { "version": version, "subscribed_topic": &**subscribed_topic } })
        }
        RecordType::StompConnect { version, subscribed_destination } => {
            json!({ "stomp_connect": { "version": version, "subscribed_destination": &**subscribed_destination } })
        }
        RecordType::Disconnect { reason, reason_code } => {
            json!({ "disconnect": { "reason": &**reason, "reason_code": reason_code } })
        }
        RecordType::UdsConnect => json!({ "uds_connect": {} }),
    };
    let mut out = json!({
        "version": &*rec.version,
        "to_id": &*rec.to_id,
        "from_id": &*rec.from_id,
        "payload_security": if rec.payload_security == 0 { json!("PLAINTEXT") } else if rec.payload_security == 1 { json!("TLS12") } else { json!(rec.payload_security) },
        "record_type": record_type,
    });
    if !rec.mac_signature.is_empty() {
        out["mac_signature"] = json!(hex(&rec.mac_signature));
    }
    if !rec.sender_cert.is_empty() {
        out["sender_cert"] = json!(hex(&rec.sender_cert));
    }
    print_json(&out)
}
