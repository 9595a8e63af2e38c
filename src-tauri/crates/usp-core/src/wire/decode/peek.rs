//! Finding a message's `msg_id` without decoding it (to answer a message that fails to
//! decode with an Error that names it).

use super::*;

/// The top-level fields of a message as `(key, length-delimited value)`, stopping at the
/// first structural error.
pub(super) struct RawFields<'a> {
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
pub(in crate::wire) fn peek_msg_id(buf: &[u8]) -> Option<String> {
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

/// What an MTP needs to know of a Record before handing it on: who sent it, to whom, and
/// where a `STOMPConnectRecord` says its sender listens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordPeek<'a> {
    /// `to_id` (field 2).
    pub to_id: &'a str,
    /// `from_id` (field 3).
    pub from_id: &'a str,
    /// `stomp_connect.subscribed_destination` (fields 11 and 2), when it is a STOMP connect
    /// Record.
    pub stomp_destination: Option<&'a str>,
}

/// Scans a Record's top-level fields for [`RecordPeek`]; the last value wins, as in full
/// decoding. `None` on a structural error or a field that is not UTF-8.
pub(in crate::wire) fn peek_record(buf: &[u8]) -> Option<RecordPeek<'_>> {
    let mut peek = RecordPeek::default();
    let mut fields = RawFields { data: buf, pos: 0 };
    for (key, value) in fields.by_ref() {
        match (key, value) {
            (0x12, Some(v)) => peek.to_id = std::str::from_utf8(v).ok()?,
            (0x1a, Some(v)) => peek.from_id = std::str::from_utf8(v).ok()?,
            (0x5a, Some(v)) => {
                let mut dest = "";
                let mut inner = RawFields { data: v, pos: 0 };
                for (k, w) in inner.by_ref() {
                    if let (0x12, Some(w)) = (k, w) {
                        dest = std::str::from_utf8(w).ok()?;
                    }
                }
                if inner.pos != v.len() {
                    return None;
                }
                peek.stomp_destination = Some(dest);
            }
            _ => {}
        }
    }
    (fields.pos == buf.len()).then_some(peek)
}
