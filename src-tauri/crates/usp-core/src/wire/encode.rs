//! Encoding: one traversal per message type, written once against the [`Sink`] trait
//! and run twice: [`Sizer`] computes the total length and records the length of every
//! sub-message in visiting order, [`Writer`] then writes into a buffer reserved to the
//! exact size, taking the lengths from that list in the same order. Map entries are
//! sized inline (their length is two string lengths), so the list holds one number per
//! non-trivial sub-message only.
//!
//! Every key of the USP schema is one byte (field numbers <= 13), so keys are `u8`.

use crate::msg::*;
use crate::record::{Record, RecordType};

/// Length of `v` as a varint.
#[inline(always)]
pub(super) fn varint_len(v: u64) -> usize {
    (((v | 1).ilog2() * 9 + 73) / 64) as usize
}

/// Length of a length-delimited field with a one-byte key.
#[inline(always)]
fn ld_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Length of a map entry's body (key = 1, value = 2; empty strings omitted, as prost does).
#[inline(always)]
fn entry_len(k: &str, v: &str) -> usize {
    let mut n = 0;
    if !k.is_empty() {
        n += ld_len(k.len());
    }
    if !v.is_empty() {
        n += ld_len(v.len());
    }
    n
}

/// What a traversal writes to.
trait Sink: Sized {
    /// A length-delimited field, written even when empty.
    fn ld(&mut self, key: u8, b: &[u8]);
    /// A varint field, written even when 0.
    fn varint(&mut self, key: u8, v: u64);
    /// A fixed32 field, written even when 0.
    fn fixed32(&mut self, key: u8, v: u32);
    /// All entries of a map field.
    fn map(&mut self, key: u8, p: &Params);
    /// A sub-message, written even when empty; `f` writes its fields.
    fn msg(&mut self, key: u8, f: impl FnOnce(&mut Self));

    /// A singular string/bytes field (omitted when empty).
    #[inline(always)]
    fn str(&mut self, key: u8, s: &str) {
        if !s.is_empty() {
            self.ld(key, s.as_bytes());
        }
    }
    /// A singular bytes field (omitted when empty).
    #[inline(always)]
    fn bytes(&mut self, key: u8, b: &[u8]) {
        if !b.is_empty() {
            self.ld(key, b);
        }
    }
    /// A repeated string field (every element written).
    #[inline(always)]
    fn strs(&mut self, key: u8, v: &[Text]) {
        for s in v {
            self.ld(key, s.as_bytes());
        }
    }
    /// A `uint64` field (omitted when 0).
    #[inline(always)]
    fn u64(&mut self, key: u8, v: u64) {
        if v != 0 {
            self.varint(key, v);
        }
    }
    /// An enum (`int32`) field (omitted when 0; negative values take 10 bytes).
    #[inline(always)]
    fn enum_i32(&mut self, key: u8, v: i32) {
        if v != 0 {
            self.varint(key, v as u64);
        }
    }
    /// A bool field (omitted when false).
    #[inline(always)]
    fn bool(&mut self, key: u8, v: bool) {
        if v {
            self.varint(key, 1);
        }
    }
    /// A fixed32 field (omitted when 0).
    #[inline(always)]
    fn fx32(&mut self, key: u8, v: u32) {
        if v != 0 {
            self.fixed32(key, v);
        }
    }
}

/// The lengths of the sub-messages in visiting order: the first ones in place (no
/// allocation for small messages), the rest in a `Vec`.
struct Sizes {
    inline: [usize; INLINE_SIZES],
    len: usize,
    spill: Vec<usize>,
}

const INLINE_SIZES: usize = 32;

impl Sizes {
    fn new() -> Self {
        Self { inline: [0; INLINE_SIZES], len: 0, spill: Vec::new() }
    }
    /// Reserves the next slot.
    #[inline(always)]
    fn push(&mut self) -> usize {
        let slot = self.len;
        self.len += 1;
        if slot >= INLINE_SIZES {
            self.spill.push(0);
        }
        slot
    }
    #[inline(always)]
    fn set(&mut self, slot: usize, v: usize) {
        if let Some(x) = self.inline.get_mut(slot) {
            *x = v;
        } else if let Some(x) = self.spill.get_mut(slot - INLINE_SIZES) {
            *x = v;
        }
    }
    #[inline(always)]
    fn get(&self, slot: usize) -> usize {
        match self.inline.get(slot) {
            Some(v) => *v,
            None => self.spill.get(slot - INLINE_SIZES).copied().unwrap_or(0),
        }
    }
}

/// First pass: total length, and the length of every sub-message in visiting order.
struct Sizer {
    n: usize,
    sizes: Sizes,
}

impl Sizer {
    fn new() -> Self {
        Self { n: 0, sizes: Sizes::new() }
    }
}

impl Sink for Sizer {
    #[inline(always)]
    fn ld(&mut self, _key: u8, b: &[u8]) {
        self.n += ld_len(b.len());
    }
    #[inline(always)]
    fn varint(&mut self, _key: u8, v: u64) {
        self.n += 1 + varint_len(v);
    }
    #[inline(always)]
    fn fixed32(&mut self, _key: u8, _v: u32) {
        self.n += 5;
    }
    #[inline(always)]
    fn map(&mut self, _key: u8, p: &Params) {
        for (k, v) in &p.0 {
            self.n += ld_len(entry_len(k, v));
        }
    }
    #[inline(always)]
    fn msg(&mut self, _key: u8, f: impl FnOnce(&mut Self)) {
        let slot = self.sizes.push();
        let start = self.n;
        f(self);
        let len = self.n - start;
        self.sizes.set(slot, len);
        self.n += 1 + varint_len(len as u64);
    }
}

/// Second pass: the bytes, into a buffer of exactly the computed size. Writes past the
/// end (impossible when both passes agree) are dropped rather than panicking.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    sizes: &'a Sizes,
    next: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if let Some(x) = self.buf.get_mut(self.pos) {
            *x = b;
        }
        self.pos += 1;
    }
    #[inline(always)]
    fn put_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }
    #[inline(always)]
    fn raw(&mut self, b: &[u8]) {
        let end = self.pos + b.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(b);
        }
        self.pos = end;
    }
    #[inline(always)]
    fn key_len(&mut self, key: u8, len: usize) {
        self.byte(key);
        self.put_varint(len as u64);
    }
}

impl Sink for Writer<'_> {
    #[inline(always)]
    fn ld(&mut self, key: u8, b: &[u8]) {
        self.key_len(key, b.len());
        self.raw(b);
    }
    #[inline(always)]
    fn varint(&mut self, key: u8, v: u64) {
        self.byte(key);
        self.put_varint(v);
    }
    #[inline(always)]
    fn fixed32(&mut self, key: u8, v: u32) {
        self.byte(key);
        self.raw(&v.to_le_bytes());
    }
    #[inline(always)]
    fn map(&mut self, key: u8, p: &Params) {
        for (k, v) in &p.0 {
            self.key_len(key, entry_len(k, v));
            if !k.is_empty() {
                self.ld(0x0a, k.as_bytes());
            }
            if !v.is_empty() {
                self.ld(0x12, v.as_bytes());
            }
        }
    }
    #[inline(always)]
    fn msg(&mut self, key: u8, f: impl FnOnce(&mut Self)) {
        let len = self.sizes.get(self.next);
        self.next += 1;
        self.key_len(key, len);
        f(self);
    }
}

/// Expands to the two-pass encoding of `$value` with the traversal function `$visit`.
macro_rules! encode_with {
    ($visit:ident, $value:expr, $out:expr) => {{
        let mut sizer = Sizer::new();
        $visit(&mut sizer, $value);
        let out: &mut Vec<u8> = $out;
        let start = out.len();
        out.resize(start + sizer.n, 0);
        let mut w = Writer { buf: &mut out[start..], pos: 0, sizes: &sizer.sizes, next: 0 };
        $visit(&mut w, $value);
        debug_assert_eq!(w.pos, sizer.n);
    }};
}

pub(super) fn msg(m: &Msg, out: &mut Vec<u8>) {
    encode_with!(enc_msg, m, out);
}

pub(super) fn record(r: &Record, out: &mut Vec<u8>) {
    encode_with!(enc_record, r, out);
}

pub(super) fn msg_len(m: &Msg) -> usize {
    let mut s = Sizer::new();
    enc_msg(&mut s, m);
    s.n
}

pub(super) fn record_len(r: &Record) -> usize {
    let mut s = Sizer::new();
    enc_record(&mut s, r);
    s.n
}

// ---------------------------------------------------------------------------------------
// Record

fn enc_record<S: Sink>(s: &mut S, r: &Record) {
    s.str(0x0a, &r.version);
    s.str(0x12, &r.to_id);
    s.str(0x1a, &r.from_id);
    s.enum_i32(0x20, r.payload_security);
    s.bytes(0x2a, &r.mac_signature);
    s.bytes(0x32, &r.sender_cert);
    match &r.record_type {
        RecordType::NoSessionContext { payload } => s.msg(0x3a, |s| s.bytes(0x12, payload)),
        RecordType::SessionContext(sc) => s.msg(0x42, |s| {
            s.u64(0x08, sc.session_id);
            s.u64(0x10, sc.sequence_id);
            s.u64(0x18, sc.expected_id);
            s.u64(0x20, sc.retransmit_id);
            s.enum_i32(0x28, sc.payload_sar_state);
            s.enum_i32(0x30, sc.payloadrec_sar_state);
            for p in &sc.payload {
                s.ld(0x3a, p);
            }
        }),
        RecordType::WebSocketConnect => s.msg(0x4a, |_| {}),
        RecordType::MqttConnect { version, subscribed_topic } => s.msg(0x52, |s| {
            s.enum_i32(0x08, *version);
            s.str(0x12, subscribed_topic);
        }),
        RecordType::StompConnect { version, subscribed_destination } => s.msg(0x5a, |s| {
            s.enum_i32(0x08, *version);
            s.str(0x12, subscribed_destination);
        }),
        RecordType::Disconnect { reason, reason_code } => s.msg(0x62, |s| {
            s.str(0x0a, reason);
            s.fx32(0x15, *reason_code);
        }),
        RecordType::UdsConnect => s.msg(0x6a, |_| {}),
    }
}

// ---------------------------------------------------------------------------------------
// Msg

fn enc_msg<S: Sink>(s: &mut S, m: &Msg) {
    let msg_type = match m.msg_type {
        Ok(t) => t.number(),
        Err(n) => n,
    };
    s.msg(0x0a, |s| {
        s.str(0x0a, &m.msg_id);
        s.enum_i32(0x10, msg_type);
    });
    s.msg(0x12, |s| match &m.body {
        Body::Request(r) => s.msg(0x0a, |s| enc_request(s, r)),
        Body::Response(r) => s.msg(0x12, |s| enc_response(s, r)),
        Body::Error(e) => s.msg(0x1a, |s| {
            s.fx32(0x0d, e.err_code);
            s.str(0x12, &e.err_msg);
            for pe in &e.param_errs {
                s.msg(0x1a, |s| {
                    s.str(0x0a, &pe.param_path);
                    s.fx32(0x15, pe.err_code);
                    s.str(0x1a, &pe.err_msg);
                });
            }
        }),
    });
}

fn enc_request<S: Sink>(s: &mut S, r: &Request) {
    match r {
        Request::Get(g) => s.msg(0x0a, |s| {
            s.strs(0x0a, &g.param_paths);
            s.fx32(0x15, g.max_depth);
        }),
        Request::GetSupportedDm(g) => s.msg(0x12, |s| {
            s.strs(0x0a, &g.obj_paths);
            s.bool(0x10, g.first_level_only);
            s.bool(0x18, g.return_commands);
            s.bool(0x20, g.return_events);
            s.bool(0x28, g.return_params);
            s.bool(0x30, g.return_unique_key_sets);
        }),
        Request::GetInstances(g) => s.msg(0x1a, |s| {
            s.strs(0x0a, &g.obj_paths);
            s.bool(0x10, g.first_level_only);
        }),
        Request::Set(set) => s.msg(0x22, |s| {
            s.bool(0x08, set.allow_partial);
            for uo in &set.update_objs {
                s.msg(0x12, |s| {
                    s.str(0x0a, &uo.obj_path);
                    for ps in &uo.param_settings {
                        s.msg(0x12, |s| enc_param_setting(s, ps));
                    }
                });
            }
        }),
        Request::Add(add) => s.msg(0x2a, |s| {
            s.bool(0x08, add.allow_partial);
            for co in &add.create_objs {
                s.msg(0x12, |s| {
                    s.str(0x0a, &co.obj_path);
                    for ps in &co.param_settings {
                        s.msg(0x12, |s| enc_param_setting(s, ps));
                    }
                });
            }
        }),
        Request::Delete(d) => s.msg(0x32, |s| {
            s.bool(0x08, d.allow_partial);
            s.strs(0x12, &d.obj_paths);
        }),
        Request::Operate(o) => s.msg(0x3a, |s| {
            s.str(0x0a, &o.command);
            s.str(0x12, &o.command_key);
            s.bool(0x18, o.send_resp);
            s.map(0x22, &o.input_args);
        }),
        Request::Notify(n) => s.msg(0x42, |s| enc_notify(s, n)),
        Request::GetSupportedProtocol(g) => s.msg(0x4a, |s| {
            s.str(0x0a, &g.controller_supported_protocol_versions);
        }),
        Request::Register(r) => s.msg(0x52, |s| {
            s.bool(0x08, r.allow_partial);
            for p in &r.reg_paths {
                s.msg(0x12, |s| s.str(0x0a, p));
            }
        }),
        Request::Deregister(d) => s.msg(0x5a, |s| s.strs(0x0a, &d.paths)),
    }
}

#[inline(always)]
fn enc_param_setting<S: Sink>(s: &mut S, ps: &ParamSetting) {
    s.str(0x0a, &ps.param);
    s.str(0x12, &ps.value);
    s.bool(0x18, ps.required);
}

#[inline(always)]
fn enc_parameter_error<S: Sink>(s: &mut S, pe: &ParameterError) {
    s.str(0x0a, &pe.param);
    s.fx32(0x15, pe.err_code);
    s.str(0x1a, &pe.err_msg);
}

fn enc_notify<S: Sink>(s: &mut S, n: &Notify) {
    s.str(0x0a, &n.subscription_id);
    s.bool(0x10, n.send_resp);
    match &n.notification {
        Notification::Event(e) => s.msg(0x1a, |s| {
            s.str(0x0a, &e.obj_path);
            s.str(0x12, &e.event_name);
            s.map(0x1a, &e.params);
        }),
        Notification::ValueChange(v) => s.msg(0x22, |s| {
            s.str(0x0a, &v.param_path);
            s.str(0x12, &v.param_value);
        }),
        Notification::ObjCreation(o) => s.msg(0x2a, |s| {
            s.str(0x0a, &o.obj_path);
            s.map(0x12, &o.unique_keys);
        }),
        Notification::ObjDeletion(o) => s.msg(0x32, |s| s.str(0x0a, &o.obj_path)),
        Notification::OperComplete(oc) => s.msg(0x3a, |s| {
            s.str(0x0a, &oc.obj_path);
            s.str(0x12, &oc.command_name);
            s.str(0x1a, &oc.command_key);
            match &oc.operation_resp {
                OperationCompleteResp::ReqOutputArgs(a) => s.msg(0x22, |s| s.map(0x0a, a)),
                OperationCompleteResp::CmdFailure(f) => s.msg(0x2a, |s| {
                    s.fx32(0x0d, f.err_code);
                    s.str(0x12, &f.err_msg);
                }),
            }
        }),
        Notification::OnBoardReq(o) => s.msg(0x42, |s| {
            s.str(0x0a, &o.oui);
            s.str(0x12, &o.product_class);
            s.str(0x1a, &o.serial_number);
            s.str(0x22, &o.agent_supported_protocol_versions);
        }),
    }
}

/// `OperationStatus` (field 2 of every `*ObjectResult`/`*PathResult` with a status).
/// `inst_failures`: SetResp's failure carries `updated_inst_failures` (field 3).
#[inline(always)]
fn enc_oper_status<S: Sink, T>(s: &mut S, st: &OperStatus<T>, inst_failures: bool, success: impl FnOnce(&mut S, &T)) {
    s.msg(0x12, |s| match st {
        OperStatus::Failure(f) => s.msg(0x0a, |s| {
            s.fx32(0x0d, f.err_code);
            s.str(0x12, &f.err_msg);
            if inst_failures {
                for uf in &f.updated_inst_failures {
                    s.msg(0x1a, |s| {
                        s.str(0x0a, &uf.affected_path);
                        for pe in &uf.param_errs {
                            s.msg(0x12, |s| enc_parameter_error(s, pe));
                        }
                    });
                }
            }
        }),
        OperStatus::Success(v) => s.msg(0x12, |s| success(s, v)),
    });
}

fn enc_response<S: Sink>(s: &mut S, r: &Response) {
    match r {
        Response::GetResp(g) => s.msg(0x0a, |s| {
            for rpr in &g.req_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &rpr.requested_path);
                    s.fx32(0x15, rpr.err_code);
                    s.str(0x1a, &rpr.err_msg);
                    for res in &rpr.resolved_path_results {
                        s.msg(0x22, |s| {
                            s.str(0x0a, &res.resolved_path);
                            s.map(0x12, &res.result_params);
                        });
                    }
                });
            }
        }),
        Response::GetSupportedDmResp(g) => s.msg(0x12, |s| {
            for ro in &g.req_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &ro.req_obj_path);
                    s.fx32(0x15, ro.err_code);
                    s.str(0x1a, &ro.err_msg);
                    s.str(0x22, &ro.data_model_inst_uri);
                    for so in &ro.supported_objs {
                        s.msg(0x2a, |s| enc_supported_obj(s, so));
                    }
                });
            }
        }),
        Response::GetInstancesResp(g) => s.msg(0x1a, |s| {
            for rpr in &g.req_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &rpr.requested_path);
                    s.fx32(0x15, rpr.err_code);
                    s.str(0x1a, &rpr.err_msg);
                    for ci in &rpr.curr_insts {
                        s.msg(0x22, |s| {
                            s.str(0x0a, &ci.instantiated_obj_path);
                            s.map(0x12, &ci.unique_keys);
                        });
                    }
                });
            }
        }),
        Response::SetResp(r) => s.msg(0x22, |s| {
            for uo in &r.updated_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &uo.requested_path);
                    enc_oper_status(s, &uo.oper_status, true, |s, ok: &SetSuccess| {
                        for ur in &ok.updated_inst_results {
                            s.msg(0x0a, |s| {
                                s.str(0x0a, &ur.affected_path);
                                for pe in &ur.param_errs {
                                    s.msg(0x12, |s| enc_parameter_error(s, pe));
                                }
                                s.map(0x1a, &ur.updated_params);
                            });
                        }
                    });
                });
            }
        }),
        Response::AddResp(r) => s.msg(0x2a, |s| {
            for co in &r.created_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &co.requested_path);
                    enc_oper_status(s, &co.oper_status, false, |s, ok: &AddSuccess| {
                        s.str(0x0a, &ok.instantiated_path);
                        for pe in &ok.param_errs {
                            s.msg(0x12, |s| enc_parameter_error(s, pe));
                        }
                        s.map(0x1a, &ok.unique_keys);
                    });
                });
            }
        }),
        Response::DeleteResp(r) => s.msg(0x32, |s| {
            for d in &r.deleted_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &d.requested_path);
                    enc_oper_status(s, &d.oper_status, false, |s, ok: &DeleteSuccess| {
                        s.strs(0x0a, &ok.affected_paths);
                        for u in &ok.unaffected_path_errs {
                            s.msg(0x12, |s| {
                                s.str(0x0a, &u.unaffected_path);
                                s.fx32(0x15, u.err_code);
                                s.str(0x1a, &u.err_msg);
                            });
                        }
                    });
                });
            }
        }),
        Response::OperateResp(r) => s.msg(0x3a, |s| {
            for or in &r.operation_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &or.executed_command);
                    match &or.operation_resp {
                        OperationResp::ReqObjPath(p) => s.ld(0x12, p.as_bytes()),
                        OperationResp::ReqOutputArgs(a) => s.msg(0x1a, |s| s.map(0x0a, a)),
                        OperationResp::CmdFailure(f) => s.msg(0x22, |s| {
                            s.fx32(0x0d, f.err_code);
                            s.str(0x12, &f.err_msg);
                        }),
                    }
                });
            }
        }),
        Response::NotifyResp(n) => s.msg(0x42, |s| s.str(0x0a, &n.subscription_id)),
        Response::GetSupportedProtocolResp(g) => s.msg(0x4a, |s| {
            s.str(0x0a, &g.agent_supported_protocol_versions);
        }),
        Response::RegisterResp(r) => s.msg(0x52, |s| {
            for rp in &r.registered_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &rp.requested_path);
                    enc_oper_status(s, &rp.oper_status, false, |s, path: &Text| s.str(0x0a, path));
                });
            }
        }),
        Response::DeregisterResp(r) => s.msg(0x5a, |s| {
            for dp in &r.deregistered_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &dp.requested_path);
                    enc_oper_status(s, &dp.oper_status, false, |s, paths: &Vec<Text>| s.strs(0x0a, paths));
                });
            }
        }),
    }
}

fn enc_supported_obj<S: Sink>(s: &mut S, so: &SupportedObjectResult) {
    s.str(0x0a, &so.supported_obj_path);
    s.enum_i32(0x10, so.access);
    s.bool(0x18, so.is_multi_instance);
    for c in &so.supported_commands {
        s.msg(0x22, |s| {
            s.str(0x0a, &c.command_name);
            s.strs(0x12, &c.input_arg_names);
            s.strs(0x1a, &c.output_arg_names);
            s.enum_i32(0x20, c.command_type);
        });
    }
    for e in &so.supported_events {
        s.msg(0x2a, |s| {
            s.str(0x0a, &e.event_name);
            s.strs(0x12, &e.arg_names);
        });
    }
    for p in &so.supported_params {
        s.msg(0x32, |s| {
            s.str(0x0a, &p.param_name);
            s.enum_i32(0x10, p.access);
            s.enum_i32(0x18, p.value_type);
            s.enum_i32(0x20, p.value_change);
        });
    }
    s.strs(0x3a, &so.divergent_paths);
    for u in &so.unique_key_sets {
        s.msg(0x42, |s| s.strs(0x0a, &u.key_names));
    }
}
