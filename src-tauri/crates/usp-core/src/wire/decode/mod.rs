//! Decoding: one function per protobuf message, each a loop over `(key, value)` pairs
//! between two offsets of the input buffer.
//!
//! Conventions: `pos`/`end` are offsets into the whole input; `end <= data.len()` always
//! holds (every length is checked against what is left of its enclosing message before
//! it is used), so indexing never panics. Functions that decode a message containing a
//! `oneof` take the previous value of the field (for proto3 merging of a repeated
//! singular sub-message) and return the merged value.
//!
//! This file holds the reader ([`Cx`]) and the macros the decoders share; the decoders are
//! in one file per message family (`record.rs`, `message.rs`, `get.rs`, `edit.rs`,
//! `notify.rs`), the field tables in `tables.rs`.

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
        pub(super) static $id: Desc = Desc { name: $name, wire: &[NO, $($w),*] };
    };
}

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

// The decoders, one file per message family. Declared after the macros above, which they use.
mod edit;
mod get;
mod message;
mod notify;
mod peek;
mod record;
mod tables;

use edit::*;
use get::*;
use notify::*;
use tables::*;

pub(super) use message::msg;
pub use peek::RecordPeek;
pub(super) use peek::{peek_msg_id, peek_record};
pub(super) use record::record;
