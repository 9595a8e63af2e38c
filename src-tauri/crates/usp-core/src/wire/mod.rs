//! The protobuf codec of the USP Record and Message, written by hand.
//!
//! Decoding (`decode_record`, `decode_msg`):
//! - proto3 semantics: an absent scalar is its default, a repeated singular scalar keeps
//!   the last value, a repeated singular sub-message is merged into the earlier one, a
//!   map entry without a key or value field reads as `""`;
//! - unknown fields of wire types 0, 1, 2 and 5 are skipped (forward compatibility);
//!   groups (wire types 3 and 4) and wire types 6 and 7 are errors; a known field with
//!   the wrong wire type is an error;
//! - strict `oneof`s (R-ENC.3/4): a required `oneof` with no member is an error, and so
//!   is a message that carries two *different* members of one `oneof`; an empty
//!   sub-message that is present selects its case (`4a 00` is `websocket_connect {}`);
//! - zero copy: every string is a validated [`Text`](crate::msg::Text) slice of the input
//!   [`Bytes`], and so are `bytes` fields;
//! - hostile input: the size limit is checked first, every length against what is left of
//!   its enclosing message (nothing is allocated from an untrusted length), the number of
//!   repeated elements and map entries against [`Limits::max_items`]. Decoding never
//!   panics and only recurses along the schema (at most 8 levels).
//!
//! Encoding (`encode_record`, `encode_msg`) is canonical proto3: fields in number order,
//! default scalars omitted (also inside map entries, as prost does), map entries in
//! [`Params`](crate::msg::Params) order, the member of a `oneof` always written even
//! when it is empty. One pass computes and caches the length of every sub-message, a
//! second pass writes the bytes into a buffer reserved to the exact size.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::msg::Msg;
use crate::record::Record;

/// Limits applied while decoding untrusted input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest Record (or Message) accepted, in bytes. Default 5 MiB.
    pub max_record_size: usize,
    /// Largest number of repeated elements plus map entries in one decoded Record or
    /// Message. Default 1,000,000; [`Limits::controller`] 65,536.
    pub max_items: usize,
    /// Longest data-model path accepted in a path field (`resolved_path`, `obj_path`,
    /// `affected_path`, `param_path`...), in bytes. Default
    /// [`MAX_PATH_LEN`](crate::path::MAX_PATH_LEN) (4096), the limit our own path parser
    /// applies. Without it one long path shared by many parameters would multiply into a
    /// huge flattened result.
    pub max_path_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_record_size: 5 * 1024 * 1024, max_items: 1_000_000, max_path_len: crate::path::MAX_PATH_LEN }
    }
}

impl Limits {
    /// The limits a controller applies to what agents send: 5 MiB records, at most 65,536
    /// repeated elements and map entries (a home device's whole data model has a few
    /// thousand parameters), paths of at most 4096 bytes.
    pub fn controller() -> Self {
        Self { max_items: 65_536, ..Self::default() }
    }
}

/// Why bytes could not be decoded as a Record or Message.
///
/// Byte offsets (`at`) count from the start of the buffer given to the decode function.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than [`Limits::max_record_size`].
    #[error("record is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The input ends inside a varint.
    #[error("truncated varint at byte {at}")]
    TruncatedVarint {
        /// Offset of the varint's first byte.
        at: usize,
    },
    /// A varint longer than 10 bytes or larger than 64 bits.
    #[error("varint at byte {at} does not fit in 64 bits")]
    VarintOverflow {
        /// Offset of the varint's first byte.
        at: usize,
    },
    /// A fixed32 or fixed64 value runs past the end of its message.
    #[error("truncated {width}-bit fixed value at byte {at}")]
    TruncatedFixed {
        /// Offset of the value.
        at: usize,
        /// 32 or 64.
        width: u8,
    },
    /// A length-delimited field claims more bytes than its message has left.
    #[error("length {len} at byte {at} runs past the end of its message ({left} bytes left)")]
    LengthOverrun {
        /// Offset of the length varint.
        at: usize,
        /// The claimed length.
        len: u64,
        /// Bytes left in the enclosing message after the length.
        left: usize,
    },
    /// A field key with field number 0 or above 2^29 - 1.
    #[error("invalid field number {field} at byte {at}")]
    InvalidFieldNumber {
        /// Offset of the key.
        at: usize,
        /// The field number read.
        field: u64,
    },
    /// A known field arrived with the wrong wire type.
    #[error("field {field} of {message} has wire type {found}, expected {expected}")]
    WrongWireType {
        /// Protobuf message name, e.g. `GetResp.RequestedPathResult`.
        message: &'static str,
        /// Field number.
        field: u32,
        /// Wire type on the wire.
        found: u8,
        /// Wire type of the schema.
        expected: u8,
    },
    /// Wire type 3 or 4 (start/end group): deprecated, and not in any USP schema.
    #[error("wire type {wire_type} (groups) are not supported (field {field} at byte {at})")]
    Group {
        /// Offset of the key.
        at: usize,
        /// Field number.
        field: u32,
        /// 3 or 4.
        wire_type: u8,
    },
    /// Wire type 6 or 7: not defined by protobuf.
    #[error("invalid wire type {wire_type} (field {field} at byte {at})")]
    InvalidWireType {
        /// Offset of the key.
        at: usize,
        /// Field number.
        field: u32,
        /// 6 or 7.
        wire_type: u8,
    },
    /// A string field that is not UTF-8.
    #[error("invalid UTF-8 in string field {field}")]
    InvalidUtf8 {
        /// Field name, e.g. `resolved_path`.
        field: &'static str,
    },
    /// `Msg.body` is absent.
    #[error("message has no body")]
    NoBody,
    /// A required `oneof` has no member (R-ENC.3).
    #[error("{message} carries no {what} (oneof {oneof} is empty)")]
    EmptyOneof {
        /// Protobuf message holding the `oneof`, e.g. `Request`.
        message: &'static str,
        /// The `oneof`'s name, e.g. `req_type`.
        oneof: &'static str,
        /// What is missing, in words, e.g. `request type`.
        what: &'static str,
    },
    /// Two different members of one `oneof` in the same message (R-ENC.3).
    #[error("two members of oneof {oneof} in {message} (fields {first} and {second})")]
    TwoOneofMembers {
        /// Protobuf message holding the `oneof`.
        message: &'static str,
        /// The `oneof`'s name.
        oneof: &'static str,
        /// Field number of the member seen first.
        first: u32,
        /// Field number of the other member.
        second: u32,
    },
    /// A path field longer than [`Limits::max_path_len`].
    #[error("{field} is {len} bytes long, over the {limit}-byte limit for paths")]
    PathTooLong {
        /// Field name, e.g. `resolved_path`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// More repeated elements and map entries than [`Limits::max_items`].
    #[error("too many items: more than {limit} repeated elements and map entries")]
    TooManyItems {
        /// The limit.
        limit: usize,
    },
}

/// Decodes a USP Record. The payload of a `no_session_context` Record (and every
/// `session_context` payload segment) shares `buf`.
pub fn decode_record(buf: Bytes, limits: &Limits) -> Result<Record, DecodeError> {
    decode::record(&buf, limits).map_err(|e| *e)
}

/// Decodes a USP Message (a Record's payload). Every string shares `buf`.
pub fn decode_msg(buf: Bytes, limits: &Limits) -> Result<Msg, DecodeError> {
    decode::msg(&buf, limits).map_err(|e| *e)
}

/// Appends the canonical encoding of `rec` to `out`.
pub fn encode_record(rec: &Record, out: &mut Vec<u8>) {
    encode::record(rec, out)
}

/// Appends the canonical encoding of the no-session-context Record from `from_id` to
/// `to_id` that carries `msg`: the bytes [`encode_record`] gives for it, made without
/// encoding the payload apart.
pub fn encode_no_session_record(version: &str, to_id: &str, from_id: &str, msg: &Msg, out: &mut Vec<u8>) {
    encode::no_session_record(version, to_id, from_id, msg, out)
}

/// Appends the canonical encoding of `msg` to `out`.
pub fn encode_msg(msg: &Msg, out: &mut Vec<u8>) {
    encode::msg(msg, out)
}

/// The number of bytes [`encode_msg`] appends.
pub fn encoded_msg_len(msg: &Msg) -> usize {
    encode::msg_len(msg)
}

/// The number of bytes [`encode_record`] appends.
pub fn encoded_record_len(rec: &Record) -> usize {
    encode::record_len(rec)
}

/// Best effort for R-MTP.5: the msg_id of a payload that fails full decoding, if the
/// header is readable. Returns `None` when no non-empty, valid UTF-8 `Header.msg_id`
/// can be found before the first structural error.
pub fn peek_msg_id(buf: &[u8]) -> Option<String> {
    decode::peek_msg_id(buf)
}

pub use decode::RecordPeek;

/// A Record's `to_id`, `from_id` and STOMP connect destination without decoding the rest
/// (an MTP routing or filtering Records by sender). `None` when the Record's top level is
/// not well formed.
pub fn peek_record(buf: &[u8]) -> Option<RecordPeek<'_>> {
    decode::peek_record(buf)
}
