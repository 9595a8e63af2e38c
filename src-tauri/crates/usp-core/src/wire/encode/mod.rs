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

/// A no-session-context Record carrying `m`, in one pass over one buffer (no payload
/// encoded apart and copied): the same bytes as [`record`] of that Record.
pub(super) fn no_session_record(version: &str, to_id: &str, from_id: &str, m: &Msg, out: &mut Vec<u8>) {
    fn visit<S: Sink>(s: &mut S, (version, to_id, from_id, m): (&str, &str, &str, &Msg)) {
        s.str(0x0a, version);
        s.str(0x12, to_id);
        s.str(0x1a, from_id);
        // payload_security plaintext (0), no mac_signature, no sender_cert: not on the wire.
        // The payload (bytes, field 2 of the NoSessionContextRecord, field 7) is the
        // Msg's encoding, written in place as a nested message: never empty (a Msg always
        // has its header), so the bytes are those of the payload field.
        s.msg(0x3a, |s| s.msg(0x12, |s| enc_msg(s, m)));
    }
    encode_with!(visit, (version, to_id, from_id, m), out);
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

mod message;

use message::enc_msg;
