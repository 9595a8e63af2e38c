//! Decoding: one function per protobuf message, each a loop over `(key, value)` pairs
//! between two offsets of the input buffer.
//!
//! Conventions: `pos`/`end` are offsets into the whole input; `end <= data.len()` always
//! holds (every length is checked against what is left of its enclosing message before
//! it is used), so indexing never panics. Functions that decode a message containing a
//! `oneof` take the previous value of the field (for proto3 merging of a repeated
//! singular sub-message) and return the merged value.

use bytes::Bytes;

use super::{DecodeError, Limits};
use crate::msg::*;
use crate::record::{Record, RecordType, SessionContext};

/// Internally the error is boxed: results stay small on the hot path, and an error is
/// allocated only once, when decoding fails.
pub(super) type R<T> = Result<T, Box<DecodeError>>;

#[cold]
#[inline(never)]
fn fail<T>(e: DecodeError) -> R<T> {
    Err(Box::new(e))
}

/// Wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;
/// Not a field of the message.
const NO: u8 = 0xff;

/// A protobuf message's name and, per field number, its wire type (`NO` = unknown).
pub(super) struct Desc {
    name: &'static str,
    wire: &'static [u8],
}

macro_rules! desc {
    ($id:ident, $name:expr, [$($w:expr),* $(,)?]) => {
        static $id: Desc = Desc { name: $name, wire: &[NO, $($w),*] };
    };
}

// Record file.
desc!(RECORD, "Record", [LEN, LEN, LEN, VARINT, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN]);
desc!(NO_SESSION, "NoSessionContextRecord", [NO, LEN]);
desc!(SESSION, "SessionContextRecord", [VARINT, VARINT, VARINT, VARINT, VARINT, VARINT, LEN]);
desc!(WS_CONNECT, "WebSocketConnectRecord", []);
desc!(MQTT_CONNECT, "MQTTConnectRecord", [VARINT, LEN]);
desc!(STOMP_CONNECT, "STOMPConnectRecord", [VARINT, LEN]);
desc!(DISCONNECT, "DisconnectRecord", [LEN, I32]);
desc!(UDS_CONNECT, "UDSConnectRecord", []);
// Message file.
desc!(MSG, "Msg", [LEN, LEN]);
desc!(HEADER, "Header", [LEN, VARINT]);
desc!(BODY, "Body", [LEN, LEN, LEN]);
desc!(REQUEST, "Request", [LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN]);
desc!(RESPONSE, "Response", [LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN, LEN]);
desc!(ERROR, "Error", [I32, LEN, LEN]);
desc!(PARAM_ERROR, "Error.ParamError", [LEN, I32, LEN]);
desc!(GET, "Get", [LEN, I32]);
desc!(GET_RESP, "GetResp", [LEN]);
desc!(GET_REQ_PATH, "GetResp.RequestedPathResult", [LEN, I32, LEN, LEN]);
desc!(RESOLVED, "GetResp.ResolvedPathResult", [LEN, LEN]);
desc!(GSDM, "GetSupportedDM", [LEN, VARINT, VARINT, VARINT, VARINT, VARINT]);
desc!(GSDM_RESP, "GetSupportedDMResp", [LEN]);
desc!(REQ_OBJ, "GetSupportedDMResp.RequestedObjectResult", [LEN, I32, LEN, LEN, LEN]);
desc!(SUP_OBJ, "GetSupportedDMResp.SupportedObjectResult", [LEN, VARINT, VARINT, LEN, LEN, LEN, LEN, LEN]);
desc!(SUP_PARAM, "GetSupportedDMResp.SupportedParamResult", [LEN, VARINT, VARINT, VARINT]);
desc!(SUP_CMD, "GetSupportedDMResp.SupportedCommandResult", [LEN, LEN, LEN, VARINT]);
desc!(SUP_EVENT, "GetSupportedDMResp.SupportedEventResult", [LEN, LEN]);
desc!(SUP_UKS, "GetSupportedDMResp.SupportedUniqueKeySet", [LEN]);
desc!(GET_INST, "GetInstances", [LEN, VARINT]);
desc!(GET_INST_RESP, "GetInstancesResp", [LEN]);
desc!(INST_REQ_PATH, "GetInstancesResp.RequestedPathResult", [LEN, I32, LEN, LEN]);
desc!(CURR_INST, "GetInstancesResp.CurrInstance", [LEN, LEN]);
desc!(GSP, "GetSupportedProtocol", [LEN]);
desc!(GSP_RESP, "GetSupportedProtocolResp", [LEN]);
desc!(ADD, "Add", [VARINT, LEN]);
desc!(CREATE_OBJ, "Add.CreateObject", [LEN, LEN]);
desc!(CREATE_PARAM, "Add.CreateParamSetting", [LEN, LEN, VARINT]);
desc!(ADD_RESP, "AddResp", [LEN]);
desc!(CREATED, "AddResp.CreatedObjectResult", [LEN, LEN]);
desc!(ADD_STATUS, "AddResp.CreatedObjectResult.OperationStatus", [LEN, LEN]);
desc!(ADD_FAIL, "AddResp.CreatedObjectResult.OperationStatus.OperationFailure", [I32, LEN]);
desc!(ADD_OK, "AddResp.CreatedObjectResult.OperationStatus.OperationSuccess", [LEN, LEN, LEN]);
desc!(ADD_PARAM_ERR, "AddResp.ParameterError", [LEN, I32, LEN]);
desc!(DELETE, "Delete", [VARINT, LEN]);
desc!(DELETE_RESP, "DeleteResp", [LEN]);
desc!(DELETED, "DeleteResp.DeletedObjectResult", [LEN, LEN]);
desc!(DEL_STATUS, "DeleteResp.DeletedObjectResult.OperationStatus", [LEN, LEN]);
desc!(DEL_FAIL, "DeleteResp.DeletedObjectResult.OperationStatus.OperationFailure", [I32, LEN]);
desc!(DEL_OK, "DeleteResp.DeletedObjectResult.OperationStatus.OperationSuccess", [LEN, LEN]);
desc!(UNAFFECTED, "DeleteResp.UnaffectedPathError", [LEN, I32, LEN]);
desc!(SET, "Set", [VARINT, LEN]);
desc!(UPDATE_OBJ, "Set.UpdateObject", [LEN, LEN]);
desc!(UPDATE_PARAM, "Set.UpdateParamSetting", [LEN, LEN, VARINT]);
desc!(SET_RESP, "SetResp", [LEN]);
desc!(UPDATED, "SetResp.UpdatedObjectResult", [LEN, LEN]);
desc!(SET_STATUS, "SetResp.UpdatedObjectResult.OperationStatus", [LEN, LEN]);
desc!(SET_FAIL, "SetResp.UpdatedObjectResult.OperationStatus.OperationFailure", [I32, LEN, LEN]);
desc!(SET_OK, "SetResp.UpdatedObjectResult.OperationStatus.OperationSuccess", [LEN]);
desc!(INST_FAIL, "SetResp.UpdatedInstanceFailure", [LEN, LEN]);
desc!(INST_RESULT, "SetResp.UpdatedInstanceResult", [LEN, LEN, LEN]);
desc!(SET_PARAM_ERR, "SetResp.ParameterError", [LEN, I32, LEN]);
desc!(OPERATE, "Operate", [LEN, LEN, VARINT, LEN]);
desc!(OPERATE_RESP, "OperateResp", [LEN]);
desc!(OPER_RESULT, "OperateResp.OperationResult", [LEN, LEN, LEN, LEN]);
desc!(OPER_OUT, "OperateResp.OperationResult.OutputArgs", [LEN]);
desc!(OPER_FAIL, "OperateResp.OperationResult.CommandFailure", [I32, LEN]);
desc!(NOTIFY, "Notify", [LEN, VARINT, LEN, LEN, LEN, LEN, LEN, LEN]);
desc!(EVENT, "Notify.Event", [LEN, LEN, LEN]);
desc!(VALUE_CHANGE, "Notify.ValueChange", [LEN, LEN]);
desc!(OBJ_CREATION, "Notify.ObjectCreation", [LEN, LEN]);
desc!(OBJ_DELETION, "Notify.ObjectDeletion", [LEN]);
desc!(OPER_COMPLETE, "Notify.OperationComplete", [LEN, LEN, LEN, LEN, LEN]);
desc!(COMPLETE_OUT, "Notify.OperationComplete.OutputArgs", [LEN]);
desc!(COMPLETE_FAIL, "Notify.OperationComplete.CommandFailure", [I32, LEN]);
desc!(ON_BOARD, "Notify.OnBoardRequest", [LEN, LEN, LEN, LEN]);
desc!(NOTIFY_RESP, "NotifyResp", [LEN]);
desc!(REGISTER, "Register", [VARINT, LEN]);
desc!(REG_PATH, "Register.RegistrationPath", [LEN]);
desc!(REGISTER_RESP, "RegisterResp", [LEN]);
desc!(REGISTERED, "RegisterResp.RegisteredPathResult", [LEN, LEN]);
desc!(REG_STATUS, "RegisterResp.RegisteredPathResult.OperationStatus", [LEN, LEN]);
desc!(REG_FAIL, "RegisterResp.RegisteredPathResult.OperationStatus.OperationFailure", [I32, LEN]);
desc!(REG_OK, "RegisterResp.RegisteredPathResult.OperationStatus.OperationSuccess", [LEN]);
desc!(DEREGISTER, "Deregister", [LEN]);
desc!(DEREGISTER_RESP, "DeregisterResp", [LEN]);
desc!(DEREGISTERED, "DeregisterResp.DeregisteredPathResult", [LEN, LEN]);
desc!(DEREG_STATUS, "DeregisterResp.DeregisteredPathResult.OperationStatus", [LEN, LEN]);
desc!(DEREG_FAIL, "DeregisterResp.DeregisteredPathResult.OperationStatus.OperationFailure", [I32, LEN]);
desc!(DEREG_OK, "DeregisterResp.DeregisteredPathResult.OperationStatus.OperationSuccess", [LEN]);
// Map entries (`map<string, string>` is a repeated message of key = 1, value = 2).
desc!(MAP_ENTRY, "map entry", [LEN, LEN]);

/// Reads a varint starting at `pos`, not past `end`.
#[inline(always)]
fn varint(data: &[u8], pos: usize, end: usize) -> R<(u64, usize)> {
    if pos < end {
        let b = data[pos];
        if b < 0x80 {
            return Ok((u64::from(b), pos + 1));
        }
        if pos + 1 < end {
            let b2 = data[pos + 1];
            if b2 < 0x80 {
                return Ok((u64::from(b & 0x7f) | (u64::from(b2) << 7), pos + 2));
            }
        }
    }
    varint_slow(data, pos, end)
}

#[cold]
fn varint_slow(data: &[u8], pos: usize, end: usize) -> R<(u64, usize)> {
    let mut value = 0u64;
    let mut p = pos;
    let mut shift = 0u32;
    loop {
        if p >= end {
            return fail(DecodeError::TruncatedVarint { at: pos });
        }
        let b = data[p];
        p += 1;
        if shift == 63 && b > 1 {
            return fail(DecodeError::VarintOverflow { at: pos });
        }
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok((value, p));
        }
        shift += 7;
    }
}

/// The decoding context: the input, and the item budget.
/// Whether a string field holds a data-model path (its name ends in `path` or `paths`):
/// those are held to [`Limits::max_path_len`].
#[cold]
fn is_path_field(field: &str) -> bool {
    field.ends_with("path") || field.ends_with("paths")
}

pub(super) struct Cx<'a> {
    buf: &'a Bytes,
    data: &'a [u8],
    items: usize,
    max_items: usize,
    max_path_len: usize,
}

impl<'a> Cx<'a> {
    fn new(buf: &'a Bytes, limits: &Limits) -> R<Self> {
        if buf.len() > limits.max_record_size {
            return fail(DecodeError::TooLarge { size: buf.len(), limit: limits.max_record_size });
        }
        Ok(Self { buf, data: &buf[..], items: 0, max_items: limits.max_items, max_path_len: limits.max_path_len })
    }

    /// Reads a field key; returns `(key, pos after it)`. Keys of USP fields are one byte.
    #[inline(always)]
    fn key(&self, pos: usize, end: usize) -> R<(u32, usize)> {
        let (k, p) = varint(self.data, pos, end)?;
        let field = k >> 3;
        if field == 0 || field > 0x1fff_ffff {
            return fail(DecodeError::InvalidFieldNumber { at: pos, field });
        }
        // k < 2^32 here because field <= 2^29 - 1.
        Ok((k as u32, p))
    }

    #[inline(always)]
    fn varint(&self, pos: usize, end: usize) -> R<(u64, usize)> {
        varint(self.data, pos, end)
    }

    #[inline(always)]
    fn bool(&self, pos: usize, end: usize) -> R<(bool, usize)> {
        let (v, p) = varint(self.data, pos, end)?;
        Ok((v != 0, p))
    }

    /// An `int32` enum: the low 32 bits of the varint, as protobuf defines it.
    #[inline(always)]
    fn enum_i32(&self, pos: usize, end: usize) -> R<(i32, usize)> {
        let (v, p) = varint(self.data, pos, end)?;
        Ok((v as i32, p))
    }

    #[inline(always)]
    fn fixed32(&self, pos: usize, end: usize) -> R<(u32, usize)> {
        if end - pos < 4 {
            return fail(DecodeError::TruncatedFixed { at: pos, width: 32 });
        }
        let b = &self.data[pos..pos + 4];
        Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]), pos + 4))
    }

    /// A length-delimited value: returns its `(start, end)`.
    #[inline(always)]
    fn len(&self, pos: usize, end: usize) -> R<(usize, usize)> {
        let (len, p) = varint(self.data, pos, end)?;
        let left = end - p;
        if len > left as u64 {
            return fail(DecodeError::LengthOverrun { at: pos, len, left });
        }
        Ok((p, p + len as usize))
    }

    /// A string field: a validated slice of the input.
    #[inline(always)]
    fn text(&self, pos: usize, end: usize, field: &'static str) -> R<(Text, usize)> {
        let (s, e) = self.len(pos, end)?;
        if e - s > self.max_path_len && is_path_field(field) {
            return fail(DecodeError::PathTooLong { field, len: e - s, limit: self.max_path_len });
        }
        Ok((self.slice_text(s, e, field)?, e))
    }

    /// The bytes `s..e` of the input as a validated string sharing the input.
    #[inline(always)]
    fn slice_text(&self, s: usize, e: usize, field: &'static str) -> R<Text> {
        if s == e {
            return Ok(Text::new());
        }
        match Text::try_from(self.buf.slice(s..e)) {
            Ok(t) => Ok(t),
            Err(_) => fail(DecodeError::InvalidUtf8 { field }),
        }
    }

    /// A bytes field: a slice of the input.
    #[inline(always)]
    fn bytes(&self, pos: usize, end: usize) -> R<(Bytes, usize)> {
        let (s, e) = self.len(pos, end)?;
        if s == e {
            return Ok((Bytes::new(), e));
        }
        Ok((self.buf.slice(s..e), e))
    }

    /// Counts one repeated element or map entry.
    #[inline(always)]
    fn item(&mut self) -> R<()> {
        self.items += 1;
        if self.items > self.max_items {
            return fail(DecodeError::TooManyItems { limit: self.max_items });
        }
        Ok(())
    }

    /// A field that matched no arm of its message: a known field with the wrong wire
    /// type is an error, an unknown field is skipped. `at` is the key's offset.
    #[cold]
    fn other(&self, desc: &Desc, key: u32, at: usize, pos: usize, end: usize) -> R<usize> {
        let field = key >> 3;
        let wt = (key & 7) as u8;
        if let Some(&expected) = desc.wire.get(field as usize) {
            if expected != NO && expected != wt {
                return fail(DecodeError::WrongWireType { message: desc.name, field, found: wt, expected });
            }
        }
        match wt {
            VARINT => Ok(self.varint(pos, end)?.1),
            I64 => {
                if end - pos < 8 {
                    return fail(DecodeError::TruncatedFixed { at: pos, width: 64 });
                }
                Ok(pos + 8)
            }
            LEN => Ok(self.len(pos, end)?.1),
            I32 => Ok(self.fixed32(pos, end)?.1),
            3 | 4 => fail(DecodeError::Group { at, field, wire_type: wt }),
            _ => fail(DecodeError::InvalidWireType { at, field, wire_type: wt }),
        }
    }

    /// A map entry (`key = 1`, `value = 2`); missing fields read as `""`.
    #[inline]
    fn map_entry(&mut self, pos: usize, end: usize, field: &'static str) -> R<((Text, Text), usize)> {
        self.item()?;
        let (mut p, e) = self.len(pos, end)?;
        // Fast path: `0a kl <key> 12 vl <value>` with one-byte lengths, filling the entry.
        let d = self.data;
        if e - p >= 4 && d[p] == 0x0a && d[p + 1] < 0x80 {
            let ke = p + 2 + d[p + 1] as usize;
            if ke + 2 <= e && d[ke] == 0x12 && d[ke + 1] < 0x80 && ke + 2 + d[ke + 1] as usize == e {
                let k = self.slice_text(p + 2, ke, field)?;
                let v = self.slice_text(ke + 2, e, field)?;
                return Ok(((k, v), e));
            }
        }
        let mut k = Text::new();
        let mut v = Text::new();
        while p < e {
            let at = p;
            let (key, q) = self.key(p, e)?;
            p = q;
            match key {
                0x0a => (k, p) = self.text(p, e, field)?,
                0x12 => (v, p) = self.text(p, e, field)?,
                _ => p = self.other(&MAP_ENTRY, key, at, p, e)?,
            }
        }
        Ok(((k, v), e))
    }

    /// A map entry appended to `map`. The first entry reserves room for all the entries
    /// of the same field in the rest of the message (at most 256). `pos` follows the key
    /// (one byte unless encoded non-minimally, which only spoils the capacity hint).
    #[inline(always)]
    fn push_entry(&mut self, map: &mut Params, pos: usize, end: usize, field: &'static str) -> R<usize> {
        if map.0.capacity() == 0 {
            let key = self.data[pos - 1];
            let n = self.count(pos - 1, end, key).min(256);
            map.0.reserve_exact(n);
        }
        let (kv, next) = self.map_entry(pos, end, field)?;
        map.0.push(kv);
        Ok(next)
    }

    /// How many length-delimited fields with the one-byte `key` follow `pos` (a key) in
    /// the message ending at `end`. A capacity hint only: stops quietly at anything odd.
    fn count(&self, mut pos: usize, end: usize, key: u8) -> usize {
        let d = self.data;
        let mut n = 0;
        while pos < end {
            let k = d[pos];
            pos += 1;
            match k {
                0x80.. => break,
                _ if k & 7 == LEN => match varint(d, pos, end) {
                    Ok((len, p)) if len <= (end - p) as u64 => {
                        pos = p + len as usize;
                        n += usize::from(k == key);
                    }
                    _ => break,
                },
                _ if k & 7 == VARINT => match varint(d, pos, end) {
                    Ok((_, p)) => pos = p,
                    Err(_) => break,
                },
                _ if k & 7 == I64 => pos += 8,
                _ if k & 7 == I32 => pos += 4,
                _ => break,
            }
        }
        n
    }

    /// A repeated string element.
    #[inline(always)]
    fn push_text(&mut self, v: &mut Vec<Text>, pos: usize, end: usize, field: &'static str) -> R<usize> {
        self.item()?;
        let (t, p) = self.text(pos, end, field)?;
        v.push(t);
        Ok(p)
    }

    /// A repeated sub-message element decoded by `f` into a default value. `pos` follows
    /// the key (one byte unless encoded non-minimally, which only spoils the capacity hint).
    #[inline(always)]
    fn push_msg<T: Default>(
        &mut self,
        v: &mut Vec<T>,
        pos: usize,
        end: usize,
        f: impl FnOnce(&mut Self, usize, usize, &mut T) -> R<()>,
    ) -> R<usize> {
        if v.capacity() == 0 {
            // Room for all the elements of this field in the rest of the message.
            let key = self.data[pos - 1];
            v.reserve_exact(self.count(pos - 1, end, key).min(256));
        }
        self.item()?;
        let (s, e) = self.len(pos, end)?;
        let mut t = T::default();
        f(self, s, e, &mut t)?;
        v.push(t);
        Ok(e)
    }

    /// A singular sub-message merged into `t` by `f`.
    #[inline(always)]
    fn merge_msg<T>(
        &mut self,
        t: &mut T,
        pos: usize,
        end: usize,
        f: impl FnOnce(&mut Self, usize, usize, &mut T) -> R<()>,
    ) -> R<usize> {
        let (s, e) = self.len(pos, end)?;
        f(self, s, e, t)?;
        Ok(e)
    }
}

/// Loops over the fields of one message. Each arm is `key => expression` where the
/// expression evaluates to the position after the value; `$p` is the position of the
/// value (after the key).
macro_rules! fields {
    ($cx:ident, $pos:expr, $end:ident, $desc:expr, |$p:ident| { $($key:literal => $e:expr,)* }) => {{
        let mut cur = $pos;
        while cur < $end {
            let at = cur;
            let (key, $p) = $cx.key(cur, $end)?;
            cur = match key {
                $($key => $e,)*
                _ => $cx.other(&$desc, key, at, $p, $end)?,
            };
        }
        Ok(())
    }};
}

#[cold]
fn two(message: &'static str, oneof: &'static str, first: u32, second: u32) -> Box<DecodeError> {
    Box::new(DecodeError::TwoOneofMembers { message, oneof, first, second })
}

#[cold]
fn empty(message: &'static str, oneof: &'static str, what: &'static str) -> Box<DecodeError> {
    Box::new(DecodeError::EmptyOneof { message, oneof, what })
}

/// Assigns a value and returns the new position: `set!(out.x, cx.text(p, end, "x"))`.
macro_rules! set {
    ($place:expr, $call:expr) => {{
        let (v, next) = $call?;
        $place = v;
        next
    }};
}

// ---------------------------------------------------------------------------------------
// Record

#[inline]
pub(super) fn record(buf: &Bytes, limits: &Limits) -> R<Record> {
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
fn record_member(
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

// ---------------------------------------------------------------------------------------
// Msg

#[inline]
pub(super) fn msg(buf: &Bytes, limits: &Limits) -> R<Msg> {
    let mut cx = Cx::new(buf, limits)?;
    let end = cx.data.len();
    let cx = &mut cx;
    let mut msg_id = Text::new();
    let mut msg_type = 0i32;
    let mut body: Option<Body> = None;
    let r: R<()> = fields!(cx, 0, end, MSG, |p| {
        0x0a => {
            let (s, e) = cx.len(p, end)?;
            let r: R<()> = fields!(cx, s, e, HEADER, |q| {
                0x0a => set!(msg_id, cx.text(q, e, "msg_id")),
                0x10 => set!(msg_type, cx.enum_i32(q, e)),
            });
            r?;
            e
        },
        0x12 => {
            let (s, e) = cx.len(p, end)?;
            body = Some(dec_body(cx, s, e, body.take())?);
            e
        },
    });
    r?;
    let body = body.ok_or_else(|| Box::new(DecodeError::NoBody))?;
    let msg_type = MsgType::from_number(msg_type).ok_or(msg_type);
    Ok(Msg { msg_id, msg_type, body })
}

fn body_field(b: &Body) -> u32 {
    match b {
        Body::Request(_) => 1,
        Body::Response(_) => 2,
        Body::Error(_) => 3,
    }
}

#[inline]
fn dec_body(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Body>) -> R<Body> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, BODY, |p| {
        0x0a => {
            let (s, e) = cx.len(p, end)?;
            let prev = match cur.take() {
                None => None,
                Some(Body::Request(r)) => Some(r),
                Some(b) => return Err(two("Body", "msg_body", body_field(&b), 1)),
            };
            cur = Some(Body::Request(dec_request(cx, s, e, prev)?));
            e
        },
        0x12 => {
            let (s, e) = cx.len(p, end)?;
            let prev = match cur.take() {
                None => None,
                Some(Body::Response(r)) => Some(r),
                Some(b) => return Err(two("Body", "msg_body", body_field(&b), 2)),
            };
            cur = Some(Body::Response(dec_response(cx, s, e, prev)?));
            e
        },
        0x1a => {
            let mut err = match cur.take() {
                None => Error::default(),
                Some(Body::Error(err)) => err,
                Some(b) => return Err(two("Body", "msg_body", body_field(&b), 3)),
            };
            let e = cx.merge_msg(&mut err, p, end, dec_error)?;
            cur = Some(Body::Error(err));
            e
        },
    });
    r?;
    cur.ok_or_else(|| empty("Body", "msg_body", "message body"))
}

fn dec_error(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Error) -> R<()> {
    fields!(cx, pos, end, ERROR, |p| {
        0x0d => set!(out.err_code, cx.fixed32(p, end)),
        0x12 => set!(out.err_msg, cx.text(p, end, "err_msg")),
        0x1a => cx.push_msg(&mut out.param_errs, p, end, |cx, s, e, pe: &mut ParamError| {
            fields!(cx, s, e, PARAM_ERROR, |q| {
                0x0a => set!(pe.param_path, cx.text(q, e, "param_path")),
                0x15 => set!(pe.err_code, cx.fixed32(q, e)),
                0x1a => set!(pe.err_msg, cx.text(q, e, "err_msg")),
            })
        })?,
    })
}

/// One member of a `oneof` whose members are messages with a `Default`: takes the
/// previous value of the same member (merge) or a default, decodes into it, stores it
/// back. `$num` is the function giving a current value's field number.
macro_rules! member {
    ($cx:ident, $cur:ident, $p:ident, $end:ident, $msg:literal, $oneof:literal, $num:ident,
     $Enum:ident :: $Var:ident, $field:literal, $f:expr) => {{
        let mut v = match $cur.take() {
            None => Default::default(),
            Some($Enum::$Var(v)) => v,
            Some(other) => return Err(two($msg, $oneof, $num(&other), $field)),
        };
        let e = $cx.merge_msg(&mut v, $p, $end, $f)?;
        $cur = Some($Enum::$Var(v));
        e
    }};
}

fn request_field(r: &Request) -> u32 {
    match r {
        Request::Get(_) => 1,
        Request::GetSupportedDm(_) => 2,
        Request::GetInstances(_) => 3,
        Request::Set(_) => 4,
        Request::Add(_) => 5,
        Request::Delete(_) => 6,
        Request::Operate(_) => 7,
        Request::Notify(_) => 8,
        Request::GetSupportedProtocol(_) => 9,
        Request::Register(_) => 10,
        Request::Deregister(_) => 11,
    }
}

#[inline]
fn dec_request(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Request>) -> R<Request> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, REQUEST, |p| {
        0x0a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Get, 1, dec_get),
        0x12 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::GetSupportedDm, 2, dec_gsdm),
        0x1a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::GetInstances, 3, dec_get_instances),
        0x22 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Set, 4, dec_set),
        0x2a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Add, 5, dec_add),
        0x32 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Delete, 6, dec_delete),
        0x3a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Operate, 7, dec_operate),
        0x42 => {
            let prev = match cur.take() {
                None => None,
                Some(Request::Notify(n)) => Some(n),
                Some(other) => return Err(two("Request", "req_type", request_field(&other), 8)),
            };
            let (s, e) = cx.len(p, end)?;
            cur = Some(Request::Notify(dec_notify(cx, s, e, prev)?));
            e
        },
        0x4a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::GetSupportedProtocol, 9, dec_gsp),
        0x52 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Register, 10, dec_register),
        0x5a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Deregister, 11, dec_deregister),
    });
    r?;
    cur.ok_or_else(|| empty("Request", "req_type", "request type"))
}

fn response_field(r: &Response) -> u32 {
    match r {
        Response::GetResp(_) => 1,
        Response::GetSupportedDmResp(_) => 2,
        Response::GetInstancesResp(_) => 3,
        Response::SetResp(_) => 4,
        Response::AddResp(_) => 5,
        Response::DeleteResp(_) => 6,
        Response::OperateResp(_) => 7,
        Response::NotifyResp(_) => 8,
        Response::GetSupportedProtocolResp(_) => 9,
        Response::RegisterResp(_) => 10,
        Response::DeregisterResp(_) => 11,
    }
}

#[inline]
fn dec_response(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Response>) -> R<Response> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, RESPONSE, |p| {
        0x0a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetResp, 1, dec_get_resp),
        0x12 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetSupportedDmResp, 2, dec_gsdm_resp),
        0x1a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetInstancesResp, 3, dec_get_instances_resp),
        0x22 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::SetResp, 4, dec_set_resp),
        0x2a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::AddResp, 5, dec_add_resp),
        0x32 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::DeleteResp, 6, dec_delete_resp),
        0x3a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::OperateResp, 7, dec_operate_resp),
        0x42 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::NotifyResp, 8, dec_notify_resp),
        0x4a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetSupportedProtocolResp, 9, dec_gsp_resp),
        0x52 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::RegisterResp, 10, dec_register_resp),
        0x5a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::DeregisterResp, 11, dec_deregister_resp),
    });
    r?;
    cur.ok_or_else(|| empty("Response", "resp_type", "response type"))
}

// --- Get -------------------------------------------------------------------------------

fn dec_get(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Get) -> R<()> {
    fields!(cx, pos, end, GET, |p| {
        0x0a => cx.push_text(&mut out.param_paths, p, end, "param_paths")?,
        0x15 => set!(out.max_depth, cx.fixed32(p, end)),
    })
}

fn dec_get_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetResp) -> R<()> {
    fields!(cx, pos, end, GET_RESP, |p| {
        0x0a => cx.push_msg(&mut out.req_path_results, p, end, dec_get_req_path)?,
    })
}

fn dec_get_req_path(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetRequestedPathResult) -> R<()> {
    fields!(cx, pos, end, GET_REQ_PATH, |p| {
        0x0a => set!(out.requested_path, cx.text(p, end, "requested_path")),
        0x15 => set!(out.err_code, cx.fixed32(p, end)),
        0x1a => set!(out.err_msg, cx.text(p, end, "err_msg")),
        0x22 => cx.push_msg(&mut out.resolved_path_results, p, end, dec_resolved)?,
    })
}

fn dec_resolved(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut ResolvedPathResult) -> R<()> {
    fields!(cx, pos, end, RESOLVED, |p| {
        0x0a => set!(out.resolved_path, cx.text(p, end, "resolved_path")),
        0x12 => cx.push_entry(&mut out.result_params, p, end, "result_params")?,
    })
}

// --- GetSupportedDM --------------------------------------------------------------------

fn dec_gsdm(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedDm) -> R<()> {
    fields!(cx, pos, end, GSDM, |p| {
        0x0a => cx.push_text(&mut out.obj_paths, p, end, "obj_paths")?,
        0x10 => set!(out.first_level_only, cx.bool(p, end)),
        0x18 => set!(out.return_commands, cx.bool(p, end)),
        0x20 => set!(out.return_events, cx.bool(p, end)),
        0x28 => set!(out.return_params, cx.bool(p, end)),
        0x30 => set!(out.return_unique_key_sets, cx.bool(p, end)),
    })
}

fn dec_gsdm_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedDmResp) -> R<()> {
    fields!(cx, pos, end, GSDM_RESP, |p| {
        0x0a => cx.push_msg(&mut out.req_obj_results, p, end, dec_req_obj)?,
    })
}

fn dec_req_obj(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut RequestedObjectResult) -> R<()> {
    fields!(cx, pos, end, REQ_OBJ, |p| {
        0x0a => set!(out.req_obj_path, cx.text(p, end, "req_obj_path")),
        0x15 => set!(out.err_code, cx.fixed32(p, end)),
        0x1a => set!(out.err_msg, cx.text(p, end, "err_msg")),
        0x22 => set!(out.data_model_inst_uri, cx.text(p, end, "data_model_inst_uri")),
        0x2a => cx.push_msg(&mut out.supported_objs, p, end, dec_sup_obj)?,
    })
}

fn dec_sup_obj(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut SupportedObjectResult) -> R<()> {
    fields!(cx, pos, end, SUP_OBJ, |p| {
        0x0a => set!(out.supported_obj_path, cx.text(p, end, "supported_obj_path")),
        0x10 => set!(out.access, cx.enum_i32(p, end)),
        0x18 => set!(out.is_multi_instance, cx.bool(p, end)),
        0x22 => cx.push_msg(&mut out.supported_commands, p, end, |cx, s, e, c: &mut SupportedCommandResult| {
            fields!(cx, s, e, SUP_CMD, |q| {
                0x0a => set!(c.command_name, cx.text(q, e, "command_name")),
                0x12 => cx.push_text(&mut c.input_arg_names, q, e, "input_arg_names")?,
                0x1a => cx.push_text(&mut c.output_arg_names, q, e, "output_arg_names")?,
                0x20 => set!(c.command_type, cx.enum_i32(q, e)),
            })
        })?,
        0x2a => cx.push_msg(&mut out.supported_events, p, end, |cx, s, e, ev: &mut SupportedEventResult| {
            fields!(cx, s, e, SUP_EVENT, |q| {
                0x0a => set!(ev.event_name, cx.text(q, e, "event_name")),
                0x12 => cx.push_text(&mut ev.arg_names, q, e, "arg_names")?,
            })
        })?,
        0x32 => cx.push_msg(&mut out.supported_params, p, end, |cx, s, e, pr: &mut SupportedParamResult| {
            fields!(cx, s, e, SUP_PARAM, |q| {
                0x0a => set!(pr.param_name, cx.text(q, e, "param_name")),
                0x10 => set!(pr.access, cx.enum_i32(q, e)),
                0x18 => set!(pr.value_type, cx.enum_i32(q, e)),
                0x20 => set!(pr.value_change, cx.enum_i32(q, e)),
            })
        })?,
        0x3a => cx.push_text(&mut out.divergent_paths, p, end, "divergent_paths")?,
        0x42 => cx.push_msg(&mut out.unique_key_sets, p, end, |cx, s, e, u: &mut SupportedUniqueKeySet| {
            fields!(cx, s, e, SUP_UKS, |q| {
                0x0a => cx.push_text(&mut u.key_names, q, e, "key_names")?,
            })
        })?,
    })
}

// --- GetInstances ----------------------------------------------------------------------

fn dec_get_instances(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetInstances) -> R<()> {
    fields!(cx, pos, end, GET_INST, |p| {
        0x0a => cx.push_text(&mut out.obj_paths, p, end, "obj_paths")?,
        0x10 => set!(out.first_level_only, cx.bool(p, end)),
    })
}

fn dec_get_instances_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetInstancesResp) -> R<()> {
    fields!(cx, pos, end, GET_INST_RESP, |p| {
        0x0a => cx.push_msg(&mut out.req_path_results, p, end, |cx, s, e, r: &mut InstancesRequestedPathResult| {
            fields!(cx, s, e, INST_REQ_PATH, |q| {
                0x0a => set!(r.requested_path, cx.text(q, e, "requested_path")),
                0x15 => set!(r.err_code, cx.fixed32(q, e)),
                0x1a => set!(r.err_msg, cx.text(q, e, "err_msg")),
                0x22 => cx.push_msg(&mut r.curr_insts, q, e, |cx, s2, e2, ci: &mut CurrInstance| {
                    fields!(cx, s2, e2, CURR_INST, |t| {
                        0x0a => set!(ci.instantiated_obj_path, cx.text(t, e2, "instantiated_obj_path")),
                        0x12 => cx.push_entry(&mut ci.unique_keys, t, e2, "unique_keys")?,
                    })
                })?,
            })
        })?,
    })
}

// --- GetSupportedProtocol --------------------------------------------------------------

fn dec_gsp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedProtocol) -> R<()> {
    fields!(cx, pos, end, GSP, |p| {
        0x0a => set!(out.controller_supported_protocol_versions,
            cx.text(p, end, "controller_supported_protocol_versions")),
    })
}

fn dec_gsp_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedProtocolResp) -> R<()> {
    fields!(cx, pos, end, GSP_RESP, |p| {
        0x0a => set!(out.agent_supported_protocol_versions,
            cx.text(p, end, "agent_supported_protocol_versions")),
    })
}

// --- Add / Set shared parts ------------------------------------------------------------

fn dec_param_setting(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut ParamSetting, desc: &Desc) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0a => set!(out.param, cx.text(p, end, "param")),
        0x12 => set!(out.value, cx.text(p, end, "value")),
        0x18 => set!(out.required, cx.bool(p, end)),
    })
}

fn dec_parameter_error(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut ParameterError, desc: &Desc) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0a => set!(out.param, cx.text(p, end, "param")),
        0x15 => set!(out.err_code, cx.fixed32(p, end)),
        0x1a => set!(out.err_msg, cx.text(p, end, "err_msg")),
    })
}

/// Descriptions of one response family's `OperationStatus` messages.
struct StatusDescs {
    status: &'static Desc,
    failure: &'static Desc,
    success: &'static Desc,
}

/// An `OperationStatus` message merged into `prev`. The caller checks that the merged
/// `oneof` is not empty once its own message is complete.
fn dec_oper_status<S: Default>(
    cx: &mut Cx<'_>,
    pos: usize,
    end: usize,
    prev: Option<OperStatus<S>>,
    d: &StatusDescs,
    success: fn(&mut Cx<'_>, usize, usize, &mut S) -> R<()>,
) -> R<Option<OperStatus<S>>> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, *d.status, |p| {
        0x0a => {
            let mut f = match cur.take() {
                None => OperFailure::default(),
                Some(OperStatus::Failure(f)) => f,
                Some(OperStatus::Success(_)) => return Err(two(d.status.name, "oper_status", 2, 1)),
            };
            let e = cx.merge_msg(&mut f, p, end, |cx, s, e, f: &mut OperFailure| {
                fields!(cx, s, e, *d.failure, |q| {
                    0x0d => set!(f.err_code, cx.fixed32(q, e)),
                    0x12 => set!(f.err_msg, cx.text(q, e, "err_msg")),
                    // Only SetResp's OperationFailure has field 3; for the others the
                    // descriptor does not know it and `other` skips it.
                    0x1a => if d.failure.wire.len() > 3 {
                        cx.push_msg(&mut f.updated_inst_failures, q, e, |cx, s2, e2, uf: &mut UpdatedInstanceFailure| {
                            fields!(cx, s2, e2, INST_FAIL, |t| {
                                0x0a => set!(uf.affected_path, cx.text(t, e2, "affected_path")),
                                0x12 => cx.push_msg(&mut uf.param_errs, t, e2, |cx, s3, e3, pe| {
                                    dec_parameter_error(cx, s3, e3, pe, &SET_PARAM_ERR)
                                })?,
                            })
                        })?
                    } else {
                        // Unknown outside SetResp: skipped (the key was one byte).
                        cx.other(d.failure, 0x1a, q - 1, q, e)?
                    },
                })
            })?;
            cur = Some(OperStatus::Failure(f));
            e
        },
        0x12 => {
            let mut v = match cur.take() {
                None => S::default(),
                Some(OperStatus::Success(v)) => v,
                Some(OperStatus::Failure(_)) => return Err(two(d.status.name, "oper_status", 1, 2)),
            };
            let e = cx.merge_msg(&mut v, p, end, success)?;
            cur = Some(OperStatus::Success(v));
            e
        },
    });
    r?;
    Ok(cur)
}

fn no_status(d: &StatusDescs) -> Box<DecodeError> {
    empty(d.status.name, "oper_status", "operation status")
}

// --- Add -------------------------------------------------------------------------------

fn dec_add(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Add) -> R<()> {
    fields!(cx, pos, end, ADD, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => cx.push_msg(&mut out.create_objs, p, end, |cx, s, e, co: &mut CreateObject| {
            fields!(cx, s, e, CREATE_OBJ, |q| {
                0x0a => set!(co.obj_path, cx.text(q, e, "obj_path")),
                0x12 => cx.push_msg(&mut co.param_settings, q, e, |cx, s2, e2, ps| {
                    dec_param_setting(cx, s2, e2, ps, &CREATE_PARAM)
                })?,
            })
        })?,
    })
}

static ADD_DESCS: StatusDescs = StatusDescs { status: &ADD_STATUS, failure: &ADD_FAIL, success: &ADD_OK };

fn dec_add_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut AddSuccess) -> R<()> {
    fields!(cx, pos, end, *ADD_DESCS.success, |p| {
        0x0a => set!(out.instantiated_path, cx.text(p, end, "instantiated_path")),
        0x12 => cx.push_msg(&mut out.param_errs, p, end, |cx, s, e, pe| {
            dec_parameter_error(cx, s, e, pe, &ADD_PARAM_ERR)
        })?,
        0x1a => cx.push_entry(&mut out.unique_keys, p, end, "unique_keys")?,
    })
}

fn dec_add_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut AddResp) -> R<()> {
    fields!(cx, pos, end, ADD_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, CREATED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &ADD_DESCS, dec_add_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&ADD_DESCS))?;
            out.created_obj_results.push(CreatedObjectResult { requested_path, oper_status });
            e
        },
    })
}

// --- Delete ----------------------------------------------------------------------------

fn dec_delete(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Delete) -> R<()> {
    fields!(cx, pos, end, DELETE, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => cx.push_text(&mut out.obj_paths, p, end, "obj_paths")?,
    })
}

static DEL_DESCS: StatusDescs = StatusDescs { status: &DEL_STATUS, failure: &DEL_FAIL, success: &DEL_OK };

fn dec_delete_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut DeleteSuccess) -> R<()> {
    fields!(cx, pos, end, *DEL_DESCS.success, |p| {
        0x0a => cx.push_text(&mut out.affected_paths, p, end, "affected_paths")?,
        0x12 => cx.push_msg(&mut out.unaffected_path_errs, p, end, |cx, s, e, u: &mut UnaffectedPathError| {
            fields!(cx, s, e, UNAFFECTED, |q| {
                0x0a => set!(u.unaffected_path, cx.text(q, e, "unaffected_path")),
                0x15 => set!(u.err_code, cx.fixed32(q, e)),
                0x1a => set!(u.err_msg, cx.text(q, e, "err_msg")),
            })
        })?,
    })
}

fn dec_delete_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut DeleteResp) -> R<()> {
    fields!(cx, pos, end, DELETE_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, DELETED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &DEL_DESCS, dec_delete_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&DEL_DESCS))?;
            out.deleted_obj_results.push(DeletedObjectResult { requested_path, oper_status });
            e
        },
    })
}

// --- Set -------------------------------------------------------------------------------

fn dec_set(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Set) -> R<()> {
    fields!(cx, pos, end, SET, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => cx.push_msg(&mut out.update_objs, p, end, |cx, s, e, uo: &mut UpdateObject| {
            fields!(cx, s, e, UPDATE_OBJ, |q| {
                0x0a => set!(uo.obj_path, cx.text(q, e, "obj_path")),
                0x12 => cx.push_msg(&mut uo.param_settings, q, e, |cx, s2, e2, ps| {
                    dec_param_setting(cx, s2, e2, ps, &UPDATE_PARAM)
                })?,
            })
        })?,
    })
}

static SET_DESCS: StatusDescs = StatusDescs { status: &SET_STATUS, failure: &SET_FAIL, success: &SET_OK };

fn dec_set_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut SetSuccess) -> R<()> {
    fields!(cx, pos, end, *SET_DESCS.success, |p| {
        0x0a => cx.push_msg(&mut out.updated_inst_results, p, end, |cx, s, e, ur: &mut UpdatedInstanceResult| {
            fields!(cx, s, e, INST_RESULT, |q| {
                0x0a => set!(ur.affected_path, cx.text(q, e, "affected_path")),
                0x12 => cx.push_msg(&mut ur.param_errs, q, e, |cx, s2, e2, pe| {
                    dec_parameter_error(cx, s2, e2, pe, &SET_PARAM_ERR)
                })?,
                0x1a => cx.push_entry(&mut ur.updated_params, q, e, "updated_params")?,
            })
        })?,
    })
}

fn dec_set_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut SetResp) -> R<()> {
    fields!(cx, pos, end, SET_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, UPDATED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &SET_DESCS, dec_set_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&SET_DESCS))?;
            out.updated_obj_results.push(UpdatedObjectResult { requested_path, oper_status });
            e
        },
    })
}

// --- Operate ---------------------------------------------------------------------------

fn dec_operate(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Operate) -> R<()> {
    fields!(cx, pos, end, OPERATE, |p| {
        0x0a => set!(out.command, cx.text(p, end, "command")),
        0x12 => set!(out.command_key, cx.text(p, end, "command_key")),
        0x18 => set!(out.send_resp, cx.bool(p, end)),
        0x22 => cx.push_entry(&mut out.input_args, p, end, "input_args")?,
    })
}

/// An `OutputArgs` message (`output_args` map = field 1), merged into `out`.
fn dec_output_args(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Params, desc: &Desc) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0a => cx.push_entry(out, p, end, "output_args")?,
    })
}

fn dec_command_failure(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut CommandFailure, desc: &Desc) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0d => set!(out.err_code, cx.fixed32(p, end)),
        0x12 => set!(out.err_msg, cx.text(p, end, "err_msg")),
    })
}

fn operation_resp_field(r: &OperationResp) -> u32 {
    match r {
        OperationResp::ReqObjPath(_) => 2,
        OperationResp::ReqOutputArgs(_) => 3,
        OperationResp::CmdFailure(_) => 4,
    }
}

fn dec_operate_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut OperateResp) -> R<()> {
    fields!(cx, pos, end, OPERATE_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut executed_command = Text::new();
            let mut cur: Option<OperationResp> = None;
            let r: R<()> = fields!(cx, s, e, OPER_RESULT, |q| {
                0x0a => set!(executed_command, cx.text(q, e, "executed_command")),
                0x12 => {
                    if let Some(other) = &cur {
                        if !matches!(other, OperationResp::ReqObjPath(_)) {
                            return Err(two("OperateResp.OperationResult", "operation_resp",
                                operation_resp_field(other), 2));
                        }
                    }
                    let (t, next) = cx.text(q, e, "req_obj_path")?;
                    cur = Some(OperationResp::ReqObjPath(t));
                    next
                },
                0x1a => {
                    let mut args = match cur.take() {
                        None => Params::new(),
                        Some(OperationResp::ReqOutputArgs(a)) => a,
                        Some(other) => return Err(two("OperateResp.OperationResult", "operation_resp",
                            operation_resp_field(&other), 3)),
                    };
                    let next = cx.merge_msg(&mut args, q, e, |cx, s2, e2, a| dec_output_args(cx, s2, e2, a, &OPER_OUT))?;
                    cur = Some(OperationResp::ReqOutputArgs(args));
                    next
                },
                0x22 => {
                    let mut f = match cur.take() {
                        None => CommandFailure::default(),
                        Some(OperationResp::CmdFailure(f)) => f,
                        Some(other) => return Err(two("OperateResp.OperationResult", "operation_resp",
                            operation_resp_field(&other), 4)),
                    };
                    let next = cx.merge_msg(&mut f, q, e, |cx, s2, e2, f| dec_command_failure(cx, s2, e2, f, &OPER_FAIL))?;
                    cur = Some(OperationResp::CmdFailure(f));
                    next
                },
            });
            r?;
            let operation_resp = cur.ok_or_else(|| {
                empty("OperateResp.OperationResult", "operation_resp", "operation response")
            })?;
            out.operation_results.push(OperationResult { executed_command, operation_resp });
            e
        },
    })
}

// --- Notify ----------------------------------------------------------------------------

fn notification_field(n: &Notification) -> u32 {
    match n {
        Notification::Event(_) => 3,
        Notification::ValueChange(_) => 4,
        Notification::ObjCreation(_) => 5,
        Notification::ObjDeletion(_) => 6,
        Notification::OperComplete(_) => 7,
        Notification::OnBoardReq(_) => 8,
    }
}

#[inline]
fn dec_notify(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Notify>) -> R<Notify> {
    let (mut subscription_id, mut send_resp, mut cur) = match prev {
        Some(n) => (n.subscription_id, n.send_resp, Some(n.notification)),
        None => (Text::new(), false, None),
    };
    let r: R<()> = fields!(cx, pos, end, NOTIFY, |p| {
        0x0a => set!(subscription_id, cx.text(p, end, "subscription_id")),
        0x10 => set!(send_resp, cx.bool(p, end)),
        0x1a => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::Event, 3,
            |cx: &mut Cx<'_>, s, e, ev: &mut Event| {
                fields!(cx, s, e, EVENT, |q| {
                    0x0a => set!(ev.obj_path, cx.text(q, e, "obj_path")),
                    0x12 => set!(ev.event_name, cx.text(q, e, "event_name")),
                    0x1a => cx.push_entry(&mut ev.params, q, e, "params")?,
                })
            }),
        0x22 => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::ValueChange, 4,
            |cx: &mut Cx<'_>, s, e, vc: &mut ValueChangeNotif| {
                fields!(cx, s, e, VALUE_CHANGE, |q| {
                    0x0a => set!(vc.param_path, cx.text(q, e, "param_path")),
                    0x12 => set!(vc.param_value, cx.text(q, e, "param_value")),
                })
            }),
        0x2a => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::ObjCreation, 5,
            |cx: &mut Cx<'_>, s, e, oc: &mut ObjectCreation| {
                fields!(cx, s, e, OBJ_CREATION, |q| {
                    0x0a => set!(oc.obj_path, cx.text(q, e, "obj_path")),
                    0x12 => cx.push_entry(&mut oc.unique_keys, q, e, "unique_keys")?,
                })
            }),
        0x32 => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::ObjDeletion, 6,
            |cx: &mut Cx<'_>, s, e, od: &mut ObjectDeletion| {
                fields!(cx, s, e, OBJ_DELETION, |q| {
                    0x0a => set!(od.obj_path, cx.text(q, e, "obj_path")),
                })
            }),
        0x3a => {
            let prev = match cur.take() {
                None => None,
                Some(Notification::OperComplete(oc)) => Some(oc),
                Some(other) => return Err(two("Notify", "notification", notification_field(&other), 7)),
            };
            let (s, e) = cx.len(p, end)?;
            cur = Some(Notification::OperComplete(dec_oper_complete(cx, s, e, prev)?));
            e
        },
        0x42 => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::OnBoardReq, 8,
            |cx: &mut Cx<'_>, s, e, ob: &mut OnBoardRequest| {
                fields!(cx, s, e, ON_BOARD, |q| {
                    0x0a => set!(ob.oui, cx.text(q, e, "oui")),
                    0x12 => set!(ob.product_class, cx.text(q, e, "product_class")),
                    0x1a => set!(ob.serial_number, cx.text(q, e, "serial_number")),
                    0x22 => set!(ob.agent_supported_protocol_versions,
                        cx.text(q, e, "agent_supported_protocol_versions")),
                })
            }),
    });
    r?;
    let notification = cur.ok_or_else(|| empty("Notify", "notification", "notification"))?;
    Ok(Notify { subscription_id, send_resp, notification })
}

fn dec_oper_complete(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<OperationComplete>) -> R<OperationComplete> {
    let (mut obj_path, mut command_name, mut command_key, mut cur) = match prev {
        Some(oc) => (oc.obj_path, oc.command_name, oc.command_key, Some(oc.operation_resp)),
        None => (Text::new(), Text::new(), Text::new(), None),
    };
    let r: R<()> = fields!(cx, pos, end, OPER_COMPLETE, |p| {
        0x0a => set!(obj_path, cx.text(p, end, "obj_path")),
        0x12 => set!(command_name, cx.text(p, end, "command_name")),
        0x1a => set!(command_key, cx.text(p, end, "command_key")),
        0x22 => {
            let mut args = match cur.take() {
                None => Params::new(),
                Some(OperationCompleteResp::ReqOutputArgs(a)) => a,
                Some(OperationCompleteResp::CmdFailure(_)) => {
                    return Err(two("Notify.OperationComplete", "operation_resp", 5, 4))
                }
            };
            let next = cx.merge_msg(&mut args, p, end, |cx, s, e, a| dec_output_args(cx, s, e, a, &COMPLETE_OUT))?;
            cur = Some(OperationCompleteResp::ReqOutputArgs(args));
            next
        },
        0x2a => {
            let mut f = match cur.take() {
                None => CommandFailure::default(),
                Some(OperationCompleteResp::CmdFailure(f)) => f,
                Some(OperationCompleteResp::ReqOutputArgs(_)) => {
                    return Err(two("Notify.OperationComplete", "operation_resp", 4, 5))
                }
            };
            let next = cx.merge_msg(&mut f, p, end, |cx, s, e, f| dec_command_failure(cx, s, e, f, &COMPLETE_FAIL))?;
            cur = Some(OperationCompleteResp::CmdFailure(f));
            next
        },
    });
    r?;
    let operation_resp =
        cur.ok_or_else(|| empty("Notify.OperationComplete", "operation_resp", "operation response"))?;
    Ok(OperationComplete { obj_path, command_name, command_key, operation_resp })
}

fn dec_notify_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut NotifyResp) -> R<()> {
    fields!(cx, pos, end, NOTIFY_RESP, |p| {
        0x0a => set!(out.subscription_id, cx.text(p, end, "subscription_id")),
    })
}

// --- Register / Deregister -------------------------------------------------------------

fn dec_register(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Register) -> R<()> {
    fields!(cx, pos, end, REGISTER, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut path = Text::new();
            let r: R<()> = fields!(cx, s, e, REG_PATH, |q| {
                0x0a => set!(path, cx.text(q, e, "path")),
            });
            r?;
            out.reg_paths.push(path);
            e
        },
    })
}

static REG_DESCS: StatusDescs = StatusDescs { status: &REG_STATUS, failure: &REG_FAIL, success: &REG_OK };

fn dec_register_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Text) -> R<()> {
    fields!(cx, pos, end, *REG_DESCS.success, |p| {
        0x0a => set!(*out, cx.text(p, end, "registered_path")),
    })
}

fn dec_register_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut RegisterResp) -> R<()> {
    fields!(cx, pos, end, REGISTER_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, REGISTERED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &REG_DESCS, dec_register_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&REG_DESCS))?;
            out.registered_path_results.push(RegisteredPathResult { requested_path, oper_status });
            e
        },
    })
}

fn dec_deregister(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Deregister) -> R<()> {
    fields!(cx, pos, end, DEREGISTER, |p| {
        0x0a => cx.push_text(&mut out.paths, p, end, "paths")?,
    })
}

static DEREG_DESCS: StatusDescs = StatusDescs { status: &DEREG_STATUS, failure: &DEREG_FAIL, success: &DEREG_OK };

fn dec_deregister_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Vec<Text>) -> R<()> {
    fields!(cx, pos, end, *DEREG_DESCS.success, |p| {
        0x0a => cx.push_text(out, p, end, "deregistered_path")?,
    })
}

fn dec_deregister_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut DeregisterResp) -> R<()> {
    fields!(cx, pos, end, DEREGISTER_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, DEREGISTERED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &DEREG_DESCS, dec_deregister_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&DEREG_DESCS))?;
            out.deregistered_path_results.push(DeregisteredPathResult { requested_path, oper_status });
            e
        },
    })
}

// ---------------------------------------------------------------------------------------
// peek_msg_id

/// The top-level fields of a message as `(key, length-delimited value)`, stopping at the
/// first structural error.
struct RawFields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for RawFields<'a> {
    type Item = (u64, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let (data, end) = (self.data, self.data.len());
        if self.pos >= end {
            return None;
        }
        let (key, p) = varint(data, self.pos, end).ok()?;
        let (next, value) = match key & 7 {
            0 => (varint(data, p, end).ok()?.1, None),
            1 if end - p >= 8 => (p + 8, None),
            2 => {
                let (len, q) = varint(data, p, end).ok()?;
                if len > (end - q) as u64 {
                    return None;
                }
                let e = q + len as usize;
                (e, data.get(q..e))
            }
            5 if end - p >= 4 => (p + 4, None),
            _ => return None,
        };
        self.pos = next;
        Some((key, value))
    }
}

/// Scans `Msg` for `header` (field 1) and `header.msg_id` (field 1); the last one wins,
/// as in full decoding. Stops at the first structural error of each message.
pub(super) fn peek_msg_id(buf: &[u8]) -> Option<String> {
    let mut found: Option<&[u8]> = None;
    for (key, value) in (RawFields { data: buf, pos: 0 }) {
        if let (0x0a, Some(header)) = (key, value) {
            for (k, v) in (RawFields { data: header, pos: 0 }) {
                if let (0x0a, Some(id)) = (k, v) {
                    found = Some(id);
                }
            }
        }
    }
    let id = std::str::from_utf8(found?).ok()?;
    (!id.is_empty()).then(|| id.to_owned())
}
