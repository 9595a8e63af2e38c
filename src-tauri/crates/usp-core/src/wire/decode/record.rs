//! Decoding a Record: its header fields and the `record_type` `oneof` (the connect,
//! disconnect and session-context records).

use super::*;

#[inline]
pub(in crate::wire) fn record(buf: &Bytes, limits: &Limits) -> R<Record> {
    let mut cx = Cx::new(buf, limits)?;
    let end = cx.data.len();
    let mut rec = Record {
        version: Text::new(),
        to_id: Text::new(),
        from_id: Text::new(),
        payload_security: 0,
        mac_signature: Bytes::new(),
        sender_cert: Bytes::new(),
        // Placeholder, replaced below (or an error is returned).
        record_type: RecordType::WebSocketConnect,
    };
    let mut rt: Option<RecordType> = None;
    let mut rt_field = 0u32;
    let cx = &mut cx;
    let r: R<()> = fields!(cx, 0, end, RECORD, |p| {
        0x0a => set!(rec.version, cx.text(p, end, "version")),
        0x12 => set!(rec.to_id, cx.text(p, end, "to_id")),
        0x1a => set!(rec.from_id, cx.text(p, end, "from_id")),
        0x20 => set!(rec.payload_security, cx.enum_i32(p, end)),
        0x2a => set!(rec.mac_signature, cx.bytes(p, end)),
        0x32 => set!(rec.sender_cert, cx.bytes(p, end)),
        0x3a => record_member(cx, &mut rt, &mut rt_field, 7, p, end)?,
        0x42 => record_member(cx, &mut rt, &mut rt_field, 8, p, end)?,
        0x4a => record_member(cx, &mut rt, &mut rt_field, 9, p, end)?,
        0x52 => record_member(cx, &mut rt, &mut rt_field, 10, p, end)?,
        0x5a => record_member(cx, &mut rt, &mut rt_field, 11, p, end)?,
        0x62 => record_member(cx, &mut rt, &mut rt_field, 12, p, end)?,
        0x6a => record_member(cx, &mut rt, &mut rt_field, 13, p, end)?,
    });
    r?;
    rec.record_type = rt.ok_or_else(|| empty("Record", "record_type", "record type"))?;
    Ok(rec)
}

/// One member of `Record.record_type`, merged into the previous one of the same field.
pub(super) fn record_member(
    cx: &mut Cx<'_>,
    rt: &mut Option<RecordType>,
    rt_field: &mut u32,
    field: u32,
    pos: usize,
    end: usize,
) -> R<usize> {
    if *rt_field != 0 && *rt_field != field {
        return Err(two("Record", "record_type", *rt_field, field));
    }
    *rt_field = field;
    let (s, e) = cx.len(pos, end)?;
    let prev = rt.take();
    let next = match field {
        7 => {
            let mut payload = match prev {
                Some(RecordType::NoSessionContext { payload }) => payload,
                _ => Bytes::new(),
            };
            let r: R<()> = fields!(cx, s, e, NO_SESSION, |p| {
                0x12 => set!(payload, cx.bytes(p, e)),
            });
            r?;
            RecordType::NoSessionContext { payload }
        }
        8 => {
            let mut sc = match prev {
                Some(RecordType::SessionContext(sc)) => sc,
                _ => SessionContext::default(),
            };
            let r: R<()> = fields!(cx, s, e, SESSION, |p| {
                0x08 => set!(sc.session_id, cx.varint(p, e)),
                0x10 => set!(sc.sequence_id, cx.varint(p, e)),
                0x18 => set!(sc.expected_id, cx.varint(p, e)),
                0x20 => set!(sc.retransmit_id, cx.varint(p, e)),
                0x28 => set!(sc.payload_sar_state, cx.enum_i32(p, e)),
                0x30 => set!(sc.payloadrec_sar_state, cx.enum_i32(p, e)),
                0x3a => {
                    cx.item()?;
                    let (b, next) = cx.bytes(p, e)?;
                    sc.payload.push(b);
                    next
                },
            });
            r?;
            RecordType::SessionContext(sc)
        }
        9 => {
            let r: R<()> = fields!(cx, s, e, WS_CONNECT, |p| {});
            r?;
            RecordType::WebSocketConnect
        }
        10 => {
            let (mut version, mut subscribed_topic) = match prev {
                Some(RecordType::MqttConnect { version, subscribed_topic }) => (version, subscribed_topic),
                _ => (0, Text::new()),
            };
            let r: R<()> = fields!(cx, s, e, MQTT_CONNECT, |p| {
                0x08 => set!(version, cx.enum_i32(p, e)),
                0x12 => set!(subscribed_topic, cx.text(p, e, "subscribed_topic")),
            });
            r?;
            RecordType::MqttConnect { version, subscribed_topic }
        }
        11 => {
            let (mut version, mut subscribed_destination) = match prev {
                Some(RecordType::StompConnect { version, subscribed_destination }) => (version, subscribed_destination),
                _ => (0, Text::new()),
            };
            let r: R<()> = fields!(cx, s, e, STOMP_CONNECT, |p| {
                0x08 => set!(version, cx.enum_i32(p, e)),
                0x12 => set!(subscribed_destination, cx.text(p, e, "subscribed_destination")),
            });
            r?;
            RecordType::StompConnect { version, subscribed_destination }
        }
        12 => {
            let (mut reason, mut reason_code) = match prev {
                Some(RecordType::Disconnect { reason, reason_code }) => (reason, reason_code),
                _ => (Text::new(), 0),
            };
            let r: R<()> = fields!(cx, s, e, DISCONNECT, |p| {
                0x0a => set!(reason, cx.text(p, e, "reason")),
                0x15 => set!(reason_code, cx.fixed32(p, e)),
            });
            r?;
            RecordType::Disconnect { reason, reason_code }
        }
        _ => {
            let r: R<()> = fields!(cx, s, e, UDS_CONNECT, |p| {});
            r?;
            RecordType::UdsConnect
        }
    };
    *rt = Some(next);
    Ok(e)
}
