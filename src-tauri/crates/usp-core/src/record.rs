//! The USP Record (`usp-record-1-4.proto`) as plain Rust types. Codec in [`crate::wire`].

use crate::msg::Text;
use bytes::Bytes;

/// `Record.PayloadSecurity`: PLAINTEXT = 0, TLS12 = 1.
pub const PAYLOAD_SECURITY_PLAINTEXT: i32 = 0;
/// `Record.PayloadSecurity.TLS12`.
pub const PAYLOAD_SECURITY_TLS12: i32 = 1;

/// A USP Record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// `version`: "Major.Minor" of USP the sender implements.
    pub version: Text,
    /// `to_id`: the receiver's Endpoint ID.
    pub to_id: Text,
    /// `from_id`: the sender's Endpoint ID.
    pub from_id: Text,
    /// `payload_security` (raw wire number; see the `PAYLOAD_SECURITY_*` constants).
    pub payload_security: i32,
    /// `mac_signature`.
    pub mac_signature: Bytes,
    /// `sender_cert`.
    pub sender_cert: Bytes,
    /// The `record_type` oneof.
    pub record_type: RecordType,
}

/// `Record.record_type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// `no_session_context`: one whole serialized `usp.Msg` (field 2 of NoSessionContextRecord).
    NoSessionContext {
        /// The serialized Message.
        payload: Bytes,
    },
    /// `session_context` (E2E sessions; recognised, not yet supported).
    SessionContext(SessionContext),
    /// `websocket_connect {}`.
    WebSocketConnect,
    /// `mqtt_connect`.
    MqttConnect {
        /// MQTTVersion: V3_1_1 = 0, V5 = 1.
        version: i32,
        /// `subscribed_topic`.
        subscribed_topic: Text,
    },
    /// `stomp_connect`.
    StompConnect {
        /// STOMPVersion: V1_2 = 0.
        version: i32,
        /// `subscribed_destination`.
        subscribed_destination: Text,
    },
    /// `disconnect`.
    Disconnect {
        /// `reason`.
        reason: Text,
        /// `reason_code` (fixed32).
        reason_code: u32,
    },
    /// `uds_connect {}`.
    UdsConnect,
}

/// `SessionContextRecord`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SessionContext {
    pub session_id: u64,
    pub sequence_id: u64,
    pub expected_id: u64,
    pub retransmit_id: u64,
    /// PayloadSARState: NONE 0, BEGIN 1, INPROCESS 2, COMPLETE 3.
    pub payload_sar_state: i32,
    pub payloadrec_sar_state: i32,
    pub payload: Vec<Bytes>,
}

impl Record {
    /// A Record of the given type with the other fields at their defaults.
    pub fn new(
        version: impl Into<Text>,
        to_id: impl Into<Text>,
        from_id: impl Into<Text>,
        record_type: RecordType,
    ) -> Self {
        Self {
            version: version.into(),
            to_id: to_id.into(),
            from_id: from_id.into(),
            payload_security: PAYLOAD_SECURITY_PLAINTEXT,
            mac_signature: Bytes::new(),
            sender_cert: Bytes::new(),
            record_type,
        }
    }
}
