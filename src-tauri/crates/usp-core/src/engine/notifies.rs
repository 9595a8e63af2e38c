//! What the link keeps of agents' Notifies: the recent msg_ids that spot a retransmission,
//! and each kept Notify compacted into a buffer of its own.

use super::*;

/// How many recent Notify msg_ids are remembered to spot retransmissions.
pub const RECENT_NOTIFY_IDS: usize = 1024;

/// The last [`RECENT_NOTIFY_IDS`] Notify msg_ids, as keyed hashes (a few bytes each, and
/// no reference into the frames they came in).
pub(super) struct RecentIds {
    hasher: std::collections::hash_map::RandomState,
    order: VecDeque<u64>,
    set: std::collections::HashSet<u64>,
}

impl RecentIds {
    pub(super) fn new() -> Self {
        Self { hasher: Default::default(), order: VecDeque::with_capacity(RECENT_NOTIFY_IDS), set: Default::default() }
    }

    /// Remembers `id`; `false` when it was remembered already.
    pub(super) fn insert(&mut self, id: &str) -> bool {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(id);
        if !self.set.insert(h) {
            return false;
        }
        if self.order.len() == RECENT_NOTIFY_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(h);
        true
    }
}

/// The Notify re-encoded on its own and decoded again, so that what is kept (queued for
/// slow receivers) shares a buffer of its own size rather than the whole received frame,
/// which may be megabytes of other fields.
pub(super) fn compact_notify(msg_id: Text, notify: Notify, limit: usize) -> Result<(Text, Notify), Dropped> {
    let m = Msg::new(msg_id, Body::Request(Request::Notify(notify)));
    let size = wire::encoded_msg_len(&m);
    if size > limit {
        return Err(Dropped::NotifyTooLarge { size, limit });
    }
    let mut out = Vec::with_capacity(size);
    wire::encode_msg(&m, &mut out);
    let limits = Limits { max_record_size: size, max_items: usize::MAX, max_path_len: usize::MAX };
    match wire::decode_msg(Bytes::from(out), &limits) {
        Ok(Msg { msg_id, body: Body::Request(Request::Notify(n)), .. }) => Ok((msg_id, n)),
        // Cannot happen: it was just decoded from the same fields.
        Ok(_) => Err(Dropped::Unsupported("a Notify that did not re-encode as one".into())),
        Err(e) => Err(Dropped::Malformed(e.to_string())),
    }
}
