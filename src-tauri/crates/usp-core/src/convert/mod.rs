//! Conversions between the [`msg`](crate::msg)/[`record`](crate::record) types and the
//! prost types of `usp-proto`.
//!
//! The prost types are the independent reference the hand-written [`wire`](crate::wire)
//! codec is tested against, and what a simulated agent may build messages with.
//! Differences in representation, all lossless except the first two:
//! - prost maps are `BTreeMap`s: converting [`Params`] sorts the entries, and of duplicate
//!   keys the last one wins (as when protobuf decodes a map);
//! - [`OperFailure::updated_inst_failures`] only exists on the wire for Set, so it is
//!   dropped when converting the failure of an Add, Delete, Register or Deregister result;
//! - a prost message whose required `oneof` is `None` (or whose `body`/`oper_status` is
//!   `None`) does not convert: see [`ConvertError`].

use std::collections::BTreeMap;

use usp_proto::usp as pb;
use usp_proto::usp_record as pr;

use crate::msg::*;
use crate::record::{Record, RecordType, SessionContext};

/// A prost message that has no counterpart among the [`msg`](crate::msg) types.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is empty")]
pub struct ConvertError(pub &'static str);

type R<T> = Result<T, ConvertError>;

fn s(t: &Text) -> String {
    t.to_string()
}

fn ss(v: &[Text]) -> Vec<String> {
    v.iter().map(s).collect()
}

fn t(v: String) -> Text {
    Text::from(v)
}

fn tt(v: Vec<String>) -> Vec<Text> {
    v.into_iter().map(Text::from).collect()
}

fn map(p: &Params) -> BTreeMap<String, String> {
    p.to_btree()
}

fn params(m: BTreeMap<String, String>) -> Params {
    Params(m.into_iter().map(|(k, v)| (Text::from(k), Text::from(v))).collect())
}

// ---------------------------------------------------------------------------------------
// Record

impl From<&Record> for pr::Record {
    fn from(r: &Record) -> Self {
        use pr::record::RecordType as P;
        let record_type = match &r.record_type {
            RecordType::NoSessionContext { payload } => {
                P::NoSessionContext(pr::NoSessionContextRecord { payload: payload.to_vec() })
            }
            RecordType::SessionContext(sc) => P::SessionContext(pr::SessionContextRecord {
                session_id: sc.session_id,
                sequence_id: sc.sequence_id,
                expected_id: sc.expected_id,
                retransmit_id: sc.retransmit_id,
                payload_sar_state: sc.payload_sar_state,
                payloadrec_sar_state: sc.payloadrec_sar_state,
                payload: sc.payload.iter().map(|p| p.to_vec()).collect(),
            }),
            RecordType::WebSocketConnect => P::WebsocketConnect(pr::WebSocketConnectRecord {}),
            RecordType::MqttConnect { version, subscribed_topic } => {
                P::MqttConnect(pr::MqttConnectRecord { version: *version, subscribed_topic: s(subscribed_topic) })
            }
            RecordType::StompConnect { version, subscribed_destination } => P::StompConnect(pr::StompConnectRecord {
                version: *version,
                subscribed_destination: s(subscribed_destination),
            }),
            RecordType::Disconnect { reason, reason_code } => {
                P::Disconnect(pr::DisconnectRecord { reason: s(reason), reason_code: *reason_code })
            }
            RecordType::UdsConnect => P::UdsConnect(pr::UdsConnectRecord {}),
        };
        pr::Record {
            version: s(&r.version),
            to_id: s(&r.to_id),
            from_id: s(&r.from_id),
            payload_security: r.payload_security,
            mac_signature: r.mac_signature.to_vec(),
            sender_cert: r.sender_cert.to_vec(),
            record_type: Some(record_type),
        }
    }
}

impl TryFrom<pr::Record> for Record {
    type Error = ConvertError;

    fn try_from(r: pr::Record) -> R<Self> {
        use pr::record::RecordType as P;
        let record_type = match r.record_type.ok_or(ConvertError("Record.record_type"))? {
            P::NoSessionContext(n) => RecordType::NoSessionContext { payload: n.payload.into() },
            P::SessionContext(sc) => RecordType::SessionContext(SessionContext {
                session_id: sc.session_id,
                sequence_id: sc.sequence_id,
                expected_id: sc.expected_id,
                retransmit_id: sc.retransmit_id,
                payload_sar_state: sc.payload_sar_state,
                payloadrec_sar_state: sc.payloadrec_sar_state,
                payload: sc.payload.into_iter().map(Into::into).collect(),
            }),
            P::WebsocketConnect(_) => RecordType::WebSocketConnect,
            P::MqttConnect(m) => {
                RecordType::MqttConnect { version: m.version, subscribed_topic: t(m.subscribed_topic) }
            }
            P::StompConnect(m) => {
                RecordType::StompConnect { version: m.version, subscribed_destination: t(m.subscribed_destination) }
            }
            P::Disconnect(d) => RecordType::Disconnect { reason: t(d.reason), reason_code: d.reason_code },
            P::UdsConnect(_) => RecordType::UdsConnect,
        };
        Ok(Record {
            version: t(r.version),
            to_id: t(r.to_id),
            from_id: t(r.from_id),
            payload_security: r.payload_security,
            mac_signature: r.mac_signature.into(),
            sender_cert: r.sender_cert.into(),
            record_type,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Msg: ours -> prost

impl From<&Msg> for pb::Msg {
    fn from(m: &Msg) -> Self {
        use pb::body::MsgBody;
        let msg_type = match m.msg_type {
            Ok(t) => t.number(),
            Err(n) => n,
        };
        let msg_body = match &m.body {
            Body::Request(r) => MsgBody::Request(pb::Request { req_type: Some(req_to_pb(r)) }),
            Body::Response(r) => MsgBody::Response(pb::Response { resp_type: Some(resp_to_pb(r)) }),
            Body::Error(e) => MsgBody::Error(pb::Error {
                err_code: e.err_code,
                err_msg: s(&e.err_msg),
                param_errs: e
                    .param_errs
                    .iter()
                    .map(|p| pb::error::ParamError {
                        param_path: s(&p.param_path),
                        err_code: p.err_code,
                        err_msg: s(&p.err_msg),
                    })
                    .collect(),
            }),
        };
        pb::Msg {
            header: Some(pb::Header { msg_id: s(&m.msg_id), msg_type }),
            body: Some(pb::Body { msg_body: Some(msg_body) }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Msg: prost -> ours

impl TryFrom<pb::Msg> for Msg {
    type Error = ConvertError;

    fn try_from(m: pb::Msg) -> R<Self> {
        use pb::body::MsgBody;
        let header = m.header.unwrap_or_default();
        let body = m.body.ok_or(ConvertError("Msg.body"))?;
        let body = match body.msg_body.ok_or(ConvertError("Body.msg_body"))? {
            MsgBody::Request(r) => Body::Request(req_from_pb(r.req_type.ok_or(ConvertError("Request.req_type"))?)?),
            MsgBody::Response(r) => {
                Body::Response(resp_from_pb(r.resp_type.ok_or(ConvertError("Response.resp_type"))?)?)
            }
            MsgBody::Error(e) => Body::Error(Error {
                err_code: e.err_code,
                err_msg: t(e.err_msg),
                param_errs: e
                    .param_errs
                    .into_iter()
                    .map(|p| ParamError { param_path: t(p.param_path), err_code: p.err_code, err_msg: t(p.err_msg) })
                    .collect(),
            }),
        };
        Ok(Msg {
            msg_id: t(header.msg_id),
            msg_type: MsgType::from_number(header.msg_type).ok_or(header.msg_type),
            body,
        })
    }
}

mod from_prost;
mod to_prost;

use from_prost::*;
use to_prost::*;

#[cfg(test)]
mod tests;
