//! Hand-built wire bytes: every `DecodeError`, the proto3 corner cases of the brief,
//! the known-answer vectors of `shared/vectors/`, and `peek_msg_id`.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;

use super::*;
use crate::msg::*;
use crate::record::{RecordType, SessionContext};

// --- tiny protobuf writer for hand-made inputs -------------------------------------------

fn vint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// A length-delimited field.
fn ld(field: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vint(u64::from(field << 3 | 2));
    out.extend(vint(body.len() as u64));
    out.extend_from_slice(body);
    out
}

/// A varint field.
fn vf(field: u32, v: u64) -> Vec<u8> {
    let mut out = vint(u64::from(field << 3));
    out.extend(vint(v));
    out
}

/// A fixed32 field.
fn f32f(field: u32, v: u32) -> Vec<u8> {
    let mut out = vint(u64::from(field << 3 | 5));
    out.extend(v.to_le_bytes());
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn header(id: &str, t: u64) -> Vec<u8> {
    ld(1, &cat(&[ld(1, id.as_bytes()), vf(2, t)]))
}

/// `Msg { header { msg_id: id, msg_type: t }, body: <body bytes> }`.
fn msg_bytes(id: &str, t: u64, body: &[u8]) -> Vec<u8> {
    cat(&[header(id, t), ld(2, body)])
}

/// Body bytes holding a request whose `req_type` member is `field` with `inner`.
fn request(field: u32, inner: &[u8]) -> Vec<u8> {
    ld(1, &ld(field, inner))
}

fn response(field: u32, inner: &[u8]) -> Vec<u8> {
    ld(2, &ld(field, inner))
}

fn dm(b: Vec<u8>) -> Result<Msg, DecodeError> {
    decode_msg(Bytes::from(b), &Limits::default())
}

fn dr(b: Vec<u8>) -> Result<Record, DecodeError> {
    decode_record(Bytes::from(b), &Limits::default())
}

fn enc(m: &Msg) -> Vec<u8> {
    let mut v = Vec::new();
    encode_msg(m, &mut v);
    v
}

fn enc_rec(r: &Record) -> Vec<u8> {
    let mut v = Vec::new();
    encode_record(r, &mut v);
    v
}

fn get_msg() -> Vec<u8> {
    msg_bytes("m1", 1, &request(1, &ld(1, b"Device.")))
}

// --- positive cases ----------------------------------------------------------------------

#[test]
fn get_decodes_and_reencodes_canonically() {
    let bytes = get_msg();
    let m = dm(bytes.clone()).unwrap();
    assert_eq!(&*m.msg_id, "m1");
    assert_eq!(m.msg_type, Ok(MsgType::Get));
    assert_eq!(m.body, Body::Request(Request::Get(Get { param_paths: vec!["Device.".into()], max_depth: 0 })));
    assert_eq!(enc(&m), bytes);
    assert_eq!(encoded_msg_len(&m), bytes.len());
}

#[test]
fn strings_share_the_input_buffer() {
    let buf = Bytes::from(get_msg());
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let m = decode_msg(buf.clone(), &Limits::default()).unwrap();
    assert!(range.contains(&(m.msg_id.as_ptr() as usize)));
    let Body::Request(Request::Get(g)) = &m.body else { panic!() };
    assert!(range.contains(&(g.param_paths[0].as_ptr() as usize)));
}

#[test]
fn empty_websocket_connect_selects_the_case() {
    let bytes = cat(&[ld(1, b"1.3"), ld(2, b"to"), ld(3, b"from"), vec![0x4a, 0x00]]);
    let r = dr(bytes.clone()).unwrap();
    assert_eq!(r.record_type, RecordType::WebSocketConnect);
    assert_eq!(enc_rec(&r), bytes);
    let uds = dr(vec![0x6a, 0x00]).unwrap();
    assert_eq!(uds.record_type, RecordType::UdsConnect);
    assert_eq!(enc_rec(&uds), vec![0x6a, 0x00]);
}

#[test]
fn empty_no_session_context_is_an_empty_payload() {
    let r = dr(vec![0x3a, 0x00]).unwrap();
    assert_eq!(r.record_type, RecordType::NoSessionContext { payload: Bytes::new() });
    assert_eq!(enc_rec(&r), vec![0x3a, 0x00]);
}

#[test]
fn map_entries_without_key_or_value_read_as_empty() {
    let entries = cat(&[
        ld(2, &ld(1, b"SoftwareVersion")),        // key only
        ld(2, &ld(2, b"orphan")),                 // value only
        ld(2, &[]),                               // neither
        ld(2, &cat(&[ld(1, b"K"), ld(2, b"V")])), // both
    ]);
    let body = response(1, &ld(1, &ld(4, &cat(&[ld(1, b"Device.DeviceInfo."), entries]))));
    let m = dm(msg_bytes("x", 2, &body)).unwrap();
    let Body::Response(Response::GetResp(g)) = &m.body else { panic!() };
    let p = &g.req_path_results[0].resolved_path_results[0].result_params;
    let got: Vec<(&str, &str)> = p.iter().collect();
    assert_eq!(got, vec![("SoftwareVersion", ""), ("", "orphan"), ("", ""), ("K", "V")]);
    // Re-encoding keeps the order and omits the empty fields of each entry.
    assert_eq!(dm(enc(&m)).unwrap(), m);
}

#[test]
fn empty_output_args_select_the_case() {
    // OperateResp.OperationResult { executed_command: "X()", req_output_args {} }
    let or = cat(&[ld(1, b"X()"), vec![0x1a, 0x00]]);
    let m = dm(msg_bytes("o", 7, &response(7, &ld(1, &or)))).unwrap();
    let Body::Response(Response::OperateResp(r)) = &m.body else { panic!() };
    assert_eq!(r.operation_results[0].operation_resp, OperationResp::ReqOutputArgs(Params::new()));
    assert_eq!(dm(enc(&m)).unwrap(), m);
    assert!(enc(&m).windows(2).any(|w| w == [0x1a, 0x00]));

    // Notify.OperationComplete { req_output_args {} }
    let oc = cat(&[ld(1, b"Device."), ld(2, b"ScheduleTimer()"), vec![0x22, 0x00]]);
    let m = dm(msg_bytes("n", 3, &request(8, &ld(7, &oc)))).unwrap();
    let Body::Request(Request::Notify(n)) = &m.body else { panic!() };
    let Notification::OperComplete(oc) = &n.notification else { panic!() };
    assert_eq!(oc.operation_resp, OperationCompleteResp::ReqOutputArgs(Params::new()));
}

#[test]
fn empty_req_obj_path_is_still_a_member() {
    let m = Msg::new(
        "a",
        Body::Response(Response::OperateResp(OperateResp {
            operation_results: vec![OperationResult {
                executed_command: "".into(),
                operation_resp: OperationResp::ReqObjPath("".into()),
            }],
        })),
    );
    let b = enc(&m);
    assert_eq!(dm(b).unwrap(), m);
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let unknown = cat(&[
        vf(99, 300),
        vec![0x79, 1, 2, 3, 4, 5, 6, 7, 8], // field 15, wire type 1
        ld(1000, b"future"),
        f32f(14, 7),
    ]);
    let get = cat(&[unknown.clone(), ld(1, b"Device."), unknown.clone()]);
    let body = cat(&[unknown.clone(), ld(1, &cat(&[unknown.clone(), ld(1, &get)]))]);
    let bytes = cat(&[unknown.clone(), header("m1", 1), ld(2, &body), unknown]);
    let m = dm(bytes).unwrap();
    assert_eq!(m, dm(get_msg()).unwrap());
}

#[test]
fn last_scalar_wins_and_repeated_sub_messages_merge() {
    let bytes = cat(&[
        header("first", 1),
        ld(1, &ld(1, b"second")), // header again: msg_id replaced, msg_type kept
        ld(2, &request(1, &ld(1, b"A."))),
        ld(2, &request(1, &cat(&[ld(1, b"B."), f32f(2, 3)]))),
    ]);
    let m = dm(bytes).unwrap();
    assert_eq!(&*m.msg_id, "second");
    assert_eq!(m.msg_type, Ok(MsgType::Get));
    assert_eq!(m.body, Body::Request(Request::Get(Get { param_paths: vec!["A.".into(), "B.".into()], max_depth: 3 })));
}

#[test]
fn unknown_msg_type_is_kept() {
    let m = dm(msg_bytes("u", 99, &request(1, &[]))).unwrap();
    assert_eq!(m.msg_type, Err(99));
    assert_eq!(dm(enc(&m)).unwrap(), m);
    let neg = cat(&[ld(1, &cat(&[ld(1, b"n"), vf(2, (-5i64) as u64)])), ld(2, &request(1, &[]))]);
    let m = dm(neg.clone()).unwrap();
    assert_eq!(m.msg_type, Err(-5));
    assert_eq!(enc(&m), neg);
}

#[test]
fn error_message_header_has_only_the_msg_id() {
    let m = Msg::new("e1", Body::Error(Error { err_code: 7004, err_msg: "x".into(), param_errs: vec![] }));
    let b = enc(&m);
    assert_eq!(&b[..6], &[0x0a, 0x04, 0x0a, 0x02, b'e', b'1']);
    assert_eq!(dm(b).unwrap(), m);
}

#[test]
fn encoding_appends() {
    let m = dm(get_msg()).unwrap();
    let mut out = vec![0xaa];
    encode_msg(&m, &mut out);
    assert_eq!(out[0], 0xaa);
    assert_eq!(&out[1..], &get_msg()[..]);
    let rec = Record::new("1.3", "to", "from", RecordType::Disconnect { reason: "bye".into(), reason_code: 7105 });
    let mut out = vec![1, 2];
    encode_record(&rec, &mut out);
    assert_eq!(out.len(), 2 + encoded_record_len(&rec));
    assert_eq!(dr(out[2..].to_vec()).unwrap(), rec);
}

#[test]
fn session_context_record_round_trips() {
    let rec = Record::new(
        "1.3",
        "proto::a",
        "self::c",
        RecordType::SessionContext(SessionContext {
            session_id: 1,
            sequence_id: u64::MAX,
            expected_id: 3,
            retransmit_id: 0,
            payload_sar_state: 2,
            payloadrec_sar_state: 0,
            payload: vec![Bytes::new(), Bytes::from_static(b"\x01\x02")],
        }),
    );
    let b = enc_rec(&rec);
    assert_eq!(b.len(), encoded_record_len(&rec));
    assert_eq!(dr(b).unwrap(), rec);
}

// --- every DecodeError ---------------------------------------------------------------------

#[test]
fn too_large_is_checked_first() {
    let limits = Limits { max_record_size: 10, ..Limits::default() };
    let e = decode_record(Bytes::from(vec![0xff; 11]), &limits).unwrap_err();
    assert_eq!(e, DecodeError::TooLarge { size: 11, limit: 10 });
    assert_eq!(e.to_string(), "record is 11 bytes, over the 10-byte limit");
    let e = decode_msg(Bytes::from(vec![0xff; 11]), &limits).unwrap_err();
    assert!(matches!(e, DecodeError::TooLarge { .. }));
    let big = vec![0u8; 6 * 1024 * 1024];
    assert_eq!(dr(big).unwrap_err().to_string(), "record is 6291456 bytes, over the 5242880-byte limit");
}

#[test]
fn truncated_varint() {
    let e = dr(vec![0x0a, 0x80]).unwrap_err();
    assert_eq!(e, DecodeError::TruncatedVarint { at: 1 });
    assert_eq!(e.to_string(), "truncated varint at byte 1");
    let mut b = get_msg();
    b.extend([0x18, 0xff, 0xff]); // unknown varint field 3 of Msg, cut short
    assert_eq!(dm(b.clone()).unwrap_err(), DecodeError::TruncatedVarint { at: b.len() - 2 });
}

#[test]
fn varint_overflow() {
    let mut b = vec![0x20];
    b.extend([0xff; 9]);
    b.push(0x02);
    assert_eq!(dr(b).unwrap_err(), DecodeError::VarintOverflow { at: 1 });
    // 10 bytes with a last byte of 1 is the largest u64: accepted.
    let mut b = vec![0x20];
    b.extend([0xff; 9]);
    b.push(0x01);
    b.extend([0x4a, 0x00]);
    assert_eq!(dr(b).unwrap().payload_security, -1);
}

#[test]
fn truncated_fixed() {
    let e = dr(vec![0x62, 0x03, 0x15, 0x01, 0x02]).unwrap_err();
    assert_eq!(e, DecodeError::TruncatedFixed { at: 3, width: 32 });
    let e = dr(vec![0x79, 1, 2, 3]).unwrap_err();
    assert_eq!(e, DecodeError::TruncatedFixed { at: 1, width: 64 });
}

#[test]
fn length_overrun() {
    let e = dr(vec![0x0a, 0x05, b'a']).unwrap_err();
    assert_eq!(e, DecodeError::LengthOverrun { at: 1, len: 5, left: 1 });
    assert_eq!(e.to_string(), "length 5 at byte 1 runs past the end of its message (1 bytes left)");
    // A length that fits the buffer but not its enclosing message.
    let e = dr(vec![0x62, 0x02, 0x0a, 0x05, b'a', b'b', b'c', b'd', b'e']).unwrap_err();
    assert_eq!(e, DecodeError::LengthOverrun { at: 3, len: 5, left: 0 });
    // A huge length is rejected without allocating.
    let mut b = vec![0x0a];
    b.extend(vint(u64::MAX));
    assert!(matches!(dr(b).unwrap_err(), DecodeError::LengthOverrun { .. }));
}

#[test]
fn invalid_field_number() {
    assert_eq!(dr(vec![0x00, 0x00]).unwrap_err(), DecodeError::InvalidFieldNumber { at: 0, field: 0 });
    let mut b = vint(1u64 << 35);
    b.push(0);
    assert!(matches!(dr(b).unwrap_err(), DecodeError::InvalidFieldNumber { .. }));
}

#[test]
fn wrong_wire_type() {
    let rpr = ld(1, &ld(4, &cat(&[ld(1, b"Device."), vf(2, 1)])));
    let e = dm(msg_bytes("w", 2, &response(1, &rpr))).unwrap_err();
    assert_eq!(
        e,
        DecodeError::WrongWireType { message: "GetResp.ResolvedPathResult", field: 2, found: 0, expected: 2 }
    );
    assert_eq!(e.to_string(), "field 2 of GetResp.ResolvedPathResult has wire type 0, expected 2");
    // err_code is fixed32, not a varint.
    let e = dm(msg_bytes("w", 2, &response(1, &ld(1, &vf(2, 7026))))).unwrap_err();
    assert_eq!(e.to_string(), "field 2 of GetResp.RequestedPathResult has wire type 0, expected 5");
    // In the record too.
    let e = dr(vec![0x22, 0x00]).unwrap_err();
    assert_eq!(e.to_string(), "field 4 of Record has wire type 2, expected 0");
}

#[test]
fn groups_and_invalid_wire_types() {
    let e = dr(vec![0x7b]).unwrap_err(); // field 15, start group
    assert_eq!(e, DecodeError::Group { at: 0, field: 15, wire_type: 3 });
    assert_eq!(e.to_string(), "wire type 3 (groups) are not supported (field 15 at byte 0)");
    assert!(matches!(dr(vec![0x7c]).unwrap_err(), DecodeError::Group { wire_type: 4, .. }));
    assert!(matches!(dr(vec![0x7e]).unwrap_err(), DecodeError::InvalidWireType { wire_type: 6, .. }));
    assert!(matches!(dr(vec![0x7f]).unwrap_err(), DecodeError::InvalidWireType { wire_type: 7, .. }));
}

#[test]
fn invalid_utf8() {
    let rpr = ld(1, &ld(4, &ld(1, b"Device.\xff")));
    let e = dm(msg_bytes("u", 2, &response(1, &rpr))).unwrap_err();
    assert_eq!(e, DecodeError::InvalidUtf8 { field: "resolved_path" });
    assert_eq!(e.to_string(), "invalid UTF-8 in string field resolved_path");
    assert_eq!(dr(ld(2, b"\xc3\x28")).unwrap_err(), DecodeError::InvalidUtf8 { field: "to_id" });
    // bytes fields are not UTF-8 checked.
    assert!(dr(cat(&[ld(5, b"\xff\xfe"), vec![0x4a, 0x00]])).is_ok());
}

#[test]
fn no_body() {
    let e = dm(header("h", 1)).unwrap_err();
    assert_eq!(e, DecodeError::NoBody);
    assert_eq!(e.to_string(), "message has no body");
    assert_eq!(dm(vec![]).unwrap_err(), DecodeError::NoBody);
}

fn empty_oneof(b: Vec<u8>) -> (&'static str, &'static str) {
    match dm(b) {
        Err(DecodeError::EmptyOneof { message, oneof, .. }) => (message, oneof),
        other => panic!("expected EmptyOneof, got {other:?}"),
    }
}

#[test]
fn empty_oneofs() {
    let e = dm(msg_bytes("r", 1, &ld(1, &[]))).unwrap_err();
    assert_eq!(e.to_string(), "Request carries no request type (oneof req_type is empty)");
    assert_eq!(empty_oneof(msg_bytes("b", 1, &[])), ("Body", "msg_body"));
    assert_eq!(empty_oneof(msg_bytes("r", 2, &ld(2, &[]))), ("Response", "resp_type"));
    assert_eq!(empty_oneof(msg_bytes("n", 3, &request(8, &ld(1, b"sub")))), ("Notify", "notification"));
    assert_eq!(
        empty_oneof(msg_bytes("o", 7, &response(7, &ld(1, &ld(1, b"X()"))))),
        ("OperateResp.OperationResult", "operation_resp")
    );
    assert_eq!(
        empty_oneof(msg_bytes("c", 3, &request(8, &ld(7, &ld(1, b"Device."))))),
        ("Notify.OperationComplete", "operation_resp")
    );
    // oper_status absent, and present but empty.
    for status in [vec![], vec![0x12, 0x00]] {
        let item = cat(&[ld(1, b"Device.X."), status]);
        for (field, name) in [
            (4, "SetResp.UpdatedObjectResult.OperationStatus"),
            (5, "AddResp.CreatedObjectResult.OperationStatus"),
            (6, "DeleteResp.DeletedObjectResult.OperationStatus"),
            (10, "RegisterResp.RegisteredPathResult.OperationStatus"),
            (11, "DeregisterResp.DeregisteredPathResult.OperationStatus"),
        ] {
            let b = msg_bytes("s", 0, &response(field, &ld(1, &item)));
            assert_eq!(empty_oneof(b), (name, "oper_status"));
        }
    }
    let e = dr(cat(&[ld(1, b"1.3"), ld(2, b"to")])).unwrap_err();
    assert_eq!(e, DecodeError::EmptyOneof { message: "Record", oneof: "record_type", what: "record type" });
}

fn two_members(b: Vec<u8>) -> (&'static str, &'static str, u32, u32) {
    match dm(b) {
        Err(DecodeError::TwoOneofMembers { message, oneof, first, second }) => (message, oneof, first, second),
        other => panic!("expected TwoOneofMembers, got {other:?}"),
    }
}

#[test]
fn two_oneof_members() {
    let e = dr(vec![0x3a, 0x00, 0x4a, 0x00]).unwrap_err();
    assert_eq!(e, DecodeError::TwoOneofMembers { message: "Record", oneof: "record_type", first: 7, second: 9 });
    assert_eq!(e.to_string(), "two members of oneof record_type in Record (fields 7 and 9)");
    // The same member twice is a merge, not an error.
    assert!(dr(vec![0x4a, 0x00, 0x4a, 0x00]).is_ok());

    let body = cat(&[ld(1, &ld(1, &[])), ld(3, &[])]);
    assert_eq!(two_members(msg_bytes("b", 1, &body)), ("Body", "msg_body", 1, 3));
    let req = ld(1, &cat(&[ld(1, &[]), ld(4, &[])]));
    assert_eq!(two_members(msg_bytes("r", 1, &req)), ("Request", "req_type", 1, 4));
    let resp = ld(2, &cat(&[ld(8, &[]), ld(1, &[])]));
    assert_eq!(two_members(msg_bytes("r", 2, &resp)), ("Response", "resp_type", 8, 1));
    let notify = request(8, &cat(&[ld(3, &[]), ld(4, &[])]));
    assert_eq!(two_members(msg_bytes("n", 3, &notify)), ("Notify", "notification", 3, 4));
    let or = response(7, &ld(1, &cat(&[ld(2, b"Device.LocalAgent.Request.1"), ld(4, &[])])));
    assert_eq!(two_members(msg_bytes("o", 7, &or)), ("OperateResp.OperationResult", "operation_resp", 2, 4));
    let oc = request(8, &ld(7, &cat(&[ld(5, &[]), ld(4, &[])])));
    assert_eq!(two_members(msg_bytes("c", 3, &oc)), ("Notify.OperationComplete", "operation_resp", 5, 4));
    let st = response(5, &ld(1, &ld(2, &cat(&[ld(1, &[]), ld(2, &[])]))));
    assert_eq!(
        two_members(msg_bytes("a", 9, &st)),
        ("AddResp.CreatedObjectResult.OperationStatus", "oper_status", 1, 2)
    );
    // Across two occurrences of the status sub-message, too.
    let st = response(6, &ld(1, &cat(&[ld(2, &ld(2, &[])), ld(2, &ld(1, &[]))])));
    assert_eq!(
        two_members(msg_bytes("d", 11, &st)),
        ("DeleteResp.DeletedObjectResult.OperationStatus", "oper_status", 2, 1)
    );
}

#[test]
fn too_many_items() {
    let get = cat(&[ld(1, b"A."), ld(1, b"B."), ld(1, b"C.")]);
    let b = Bytes::from(msg_bytes("t", 1, &request(1, &get)));
    let limits = Limits { max_items: 2, ..Limits::default() };
    let e = decode_msg(b.clone(), &limits).unwrap_err();
    assert_eq!(e, DecodeError::TooManyItems { limit: 2 });
    assert!(e.to_string().starts_with("too many items"));
    assert!(decode_msg(b, &Limits { max_items: 3, ..Limits::default() }).is_ok());
    // Map entries count too.
    let entries: Vec<u8> = (0..5).flat_map(|_| ld(4, &ld(1, b"k"))).collect();
    let op = cat(&[ld(1, b"X()"), entries]);
    let b = Bytes::from(msg_bytes("t", 6, &request(7, &op)));
    assert!(matches!(decode_msg(b, &limits), Err(DecodeError::TooManyItems { .. })));
}

// --- peek_msg_id ---------------------------------------------------------------------------

#[test]
fn peek_msg_id_reads_broken_payloads() {
    assert_eq!(peek_msg_id(&get_msg()).as_deref(), Some("m1"));
    // Body broken: an empty Request.
    assert_eq!(peek_msg_id(&msg_bytes("id-7", 1, &ld(1, &[]))).as_deref(), Some("id-7"));
    // Garbage after the header.
    let mut b = header("id-8", 1);
    b.extend([0x12, 0xff, 0xff, 0xff]);
    assert_eq!(peek_msg_id(&b).as_deref(), Some("id-8"));
    // Header after the body still counts (field order is free).
    let b = cat(&[ld(2, &request(1, &[])), header("late", 1)]);
    assert_eq!(peek_msg_id(&b).as_deref(), Some("late"));
    // No header, empty id, invalid UTF-8, truncated header: nothing.
    assert_eq!(peek_msg_id(&ld(2, &[])), None);
    assert_eq!(peek_msg_id(&header("", 1)), None);
    assert_eq!(peek_msg_id(&ld(1, &ld(1, b"\xff"))), None);
    assert_eq!(peek_msg_id(&[0x0a, 0x05, 0x0a, 0x03, b'a']), None);
    assert_eq!(peek_msg_id(&[]), None);
}

// --- peek_record ---------------------------------------------------------------------------

#[test]
fn peek_record_reads_ids_and_the_stomp_destination() {
    let rec = |rt: RecordType| Record {
        version: "1.3".into(),
        to_id: "self::c".into(),
        from_id: "proto::a".into(),
        payload_security: 0,
        mac_signature: Bytes::new(),
        sender_cert: Bytes::new(),
        record_type: rt,
    };
    let b = enc_rec(&rec(RecordType::NoSessionContext { payload: Bytes::from_static(b"xyz") }));
    let p = peek_record(&b).expect("well formed");
    assert_eq!((p.to_id, p.from_id, p.stomp_destination), ("self::c", "proto::a", None));
    let b = enc_rec(&rec(RecordType::StompConnect { version: 0, subscribed_destination: "/queue/a".into() }));
    assert_eq!(peek_record(&b).expect("well formed").stomp_destination, Some("/queue/a"));
    // Truncated, not UTF-8, a broken connect record: nothing.
    assert_eq!(peek_record(&b[..b.len() - 1]), None);
    assert_eq!(peek_record(&ld(3, b"\xff")), None);
    assert_eq!(peek_record(&ld(11, &[0x12, 0x05, b'a'])), None);
    assert_eq!(peek_record(&[]), Some(RecordPeek::default()));
}

// --- known-answer vectors (shared/vectors, captured from OB-USPA) ------------------------

/// The vectors; a missing folder fails the test (a known-answer test that skips itself
/// silently would pass on a machine without them).
fn vectors() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/vectors");
    assert!(dir.is_dir(), "shared/vectors not found at {}: the known-answer tests need them", dir.display());
    let mut out = Vec::new();
    for side in ["agent", "controller"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(side)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "bin") {
                let name = format!("{side}/{}", f.file_name().unwrap().to_string_lossy());
                out.push((name, std::fs::read(&f).unwrap()));
            }
        }
    }
    out
}

#[test]
fn vectors_decode_and_reencode_byte_for_byte() {
    let vectors = vectors();
    assert!(vectors.len() >= 40, "{} vectors", vectors.len());
    for (name, bytes) in vectors {
        let rec = dr(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(enc_rec(&rec), bytes, "{name}: record re-encoding");
        assert_eq!(&*rec.version, "1.3", "{name}");
        let payloads = match &rec.record_type {
            RecordType::NoSessionContext { payload } => vec![payload.clone()],
            RecordType::SessionContext(sc) => sc.payload.clone(),
            _ => vec![],
        };
        for p in payloads {
            let m = decode_msg(p.clone(), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Our encoder keeps the wire order of map entries and omits empty values, as
            // the agent (protobuf-c) does, so even agent/02, 04 and 18 come back identical.
            assert_eq!(enc(&m), p.to_vec(), "{name}: msg re-encoding");
            assert_eq!(peek_msg_id(&p).as_deref(), Some(&*m.msg_id), "{name}");
        }
    }
}

#[test]
fn vector_details() {
    let vectors = vectors();
    let get = |n: &str| {
        let (_, b) = vectors.iter().find(|(name, _)| name.contains(n)).unwrap();
        let rec = dr(b.clone()).unwrap();
        (
            rec.clone(),
            match rec.record_type {
                RecordType::NoSessionContext { payload } => Some(decode_msg(payload, &Limits::default()).unwrap()),
                _ => None,
            },
        )
    };
    let (rec, _) = get("agent/01-");
    assert_eq!(rec.record_type, RecordType::WebSocketConnect);
    assert_eq!(&*rec.from_id, "proto::obuspa-test-agent");

    let (_, m) = get("agent/02-");
    let Body::Response(Response::GetResp(g)) = m.unwrap().body else { panic!() };
    let params = &g.req_path_results[0].resolved_path_results[0].result_params;
    assert_eq!(params.len(), 8);
    assert_eq!(params.get("SoftwareVersion"), Some(""));
    assert_eq!(params.0[0].0, "SoftwareVersion"); // wire order kept

    let (_, m) = get("agent/12-");
    let m = m.unwrap();
    assert_eq!(m.msg_type, Ok(MsgType::Error));
    let Body::Error(e) = m.body else { panic!() };
    assert_eq!((e.err_code, e.param_errs[0].err_code), (7004, 7010));

    let (_, m) = get("agent/15-");
    let Body::Request(Request::Notify(n)) = m.unwrap().body else { panic!() };
    let Notification::OperComplete(oc) = n.notification else { panic!() };
    assert_eq!(oc.operation_resp, OperationCompleteResp::ReqOutputArgs(Params::new()));

    let (_, m) = get("agent/20-");
    let Body::Response(Response::OperateResp(r)) = m.unwrap().body else { panic!() };
    assert_eq!(r.operation_results[0].operation_resp, OperationResp::ReqOutputArgs(Params::new()));

    let (rec, _) = get("agent/16-");
    assert!(matches!(rec.record_type, RecordType::Disconnect { reason_code: 7106, .. }));
    let (rec, _) = get("controller/16-");
    let RecordType::SessionContext(sc) = rec.record_type else { panic!() };
    assert_eq!((sc.session_id, sc.sequence_id, sc.expected_id, sc.payload.len()), (1, 1, 1, 1));
}

#[test]
fn path_fields_are_held_to_max_path_len() {
    let limits = Limits { max_path_len: 8, ..Limits::default() };
    // A Get of one 9-byte path: refused; 8 bytes: fine.
    let long = Bytes::from(msg_bytes("t", 1, &request(1, &ld(1, b"Device.X."))));
    let e = decode_msg(long, &limits).unwrap_err();
    assert_eq!(e, DecodeError::PathTooLong { field: "param_paths", len: 9, limit: 8 });
    assert!(decode_msg(Bytes::from(msg_bytes("t", 1, &request(1, &ld(1, b"Device.X")))), &limits).is_ok());
    // A GetResp whose resolved_path is too long, the default limit being 4096.
    let resolved = |len: usize| {
        let path = vec![b'a'; len];
        let res = cat(&[ld(1, &path), ld(2, &cat(&[ld(1, b"k"), ld(2, b"v")]))]);
        let rpr = cat(&[ld(1, b"Device."), ld(4, &res)]);
        Bytes::from(msg_bytes("t", 2, &response(1, &ld(1, &rpr))))
    };
    let e = decode_msg(resolved(4097), &Limits::default()).unwrap_err();
    assert_eq!(e, DecodeError::PathTooLong { field: "resolved_path", len: 4097, limit: 4096 });
    assert!(e.to_string().contains("limit for paths"), "{e}");
    assert!(decode_msg(resolved(4096), &Limits::default()).is_ok());
    // Values and other strings are not paths: a long value is fine.
    let op = cat(&[ld(1, b"X()"), ld(4, &cat(&[ld(1, b"k"), ld(2, &[b'v'; 10_000])]))]);
    assert!(decode_msg(Bytes::from(msg_bytes("t", 6, &request(7, &op))), &Limits::default()).is_ok());
}

#[test]
fn a_controller_accepts_fewer_items() {
    assert_eq!(Limits::controller().max_items, 65_536);
    assert_eq!(Limits::controller().max_path_len, crate::path::MAX_PATH_LEN);
}

#[test]
fn a_no_session_record_made_in_one_pass_is_the_canonical_one() {
    let big = format!("Device.{}.", "X".repeat(300));
    let msgs = [
        dm(get_msg()).unwrap(),
        Msg::new(Text::from("m-1"), Body::Request(crate::request::get(["Device."]).build().unwrap())),
        // Lengths that need two-byte varints at every level.
        Msg::new(
            Text::from(big.as_str()),
            Body::Request(crate::request::get([big.as_str(), "Device.WiFi."]).build().unwrap()),
        ),
    ];
    for m in &msgs {
        for (to, from) in [("os::agent", "self::me"), ("", ""), (big.as_str(), "proto::c")] {
            let rec = Record::new("1.4", to, from, RecordType::NoSessionContext { payload: Bytes::from(enc(m)) });
            let mut one_pass = vec![0xAA];
            encode_no_session_record("1.4", to, from, m, &mut one_pass);
            assert_eq!(one_pass[0], 0xAA, "appends");
            assert_eq!(&one_pass[1..], enc_rec(&rec).as_slice(), "{to:?} {from:?}");
        }
    }
}
