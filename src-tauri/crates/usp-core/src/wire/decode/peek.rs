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
