//! The receiving side of the [`Engine`](super::Engine): confirmable and non-confirmable
//! messages, pings, duplicates by message ID, POSTs of whole Records and Block1 reassembly.

use std::net::SocketAddr;

use bytes::Bytes;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use tokio::time::Instant;

use super::{
    block_size, decode_block, decode_uint, empty_ack, encode_block, encode_uint, reset, Engine, Event, Reassembly,
    MAX_REASSEMBLIES,
};
use crate::mtp::coap::uri::reply_to;

impl Engine {
    pub(super) fn on_message(&mut self, from: SocketAddr, p: &Packet, now: Instant) {
        let confirmable = p.header.get_type() == MessageType::Confirmable;
        let mid = p.header.message_id;
        match p.header.code {
            // A CoAP ping: answered with a Reset.
            MessageClass::Empty => {
                if confirmable {
                    self.transmit.push_back((from, reset(mid)));
                }
                return;
            }
            // A separate response to something we sent: acknowledged, nothing more.
            MessageClass::Response(_) => {
                if confirmable {
                    self.transmit.push_back((from, empty_ack(mid)));
                }
                return;
            }
            _ => {}
        }
        if let Some((_, answer)) = self.seen.get(&(from, mid)) {
            self.stats.duplicates += 1;
            if let Some(a) = answer {
                self.transmit.push_back((from, a.clone()));
            }
            return;
        }
        let (code, block1, size1) = match p.header.code {
            MessageClass::Request(RequestType::Post) => self.on_post(from, p, now),
            MessageClass::Request(_) => (ResponseType::MethodNotAllowed, None, None),
            _ => (ResponseType::BadRequest, None, None),
        };
        if matches!(code, ResponseType::BadRequest | ResponseType::BadOption) {
            self.stats.garbage += 1;
        }
        let answer = confirmable.then(|| {
            let mut a = Packet::new();
            a.header.set_type(MessageType::Acknowledgement);
            a.header.message_id = mid;
            a.header.code = MessageClass::Response(code);
            a.set_token(p.get_token().to_vec());
            if let Some(b) = block1 {
                a.add_option(CoapOption::Block1, b);
            }
            if let Some(s) = size1 {
                a.add_option(CoapOption::Size1, encode_uint(s));
            }
            a.to_bytes_unlimited().unwrap_or_default()
        });
        if let Some(a) = &answer {
            self.transmit.push_back((from, a.clone()));
        }
        self.seen.insert((from, mid), (now, answer));
        self.seen_order.push_back((from, mid, now));
        self.expire(now);
    }

    /// A POST to us: its answer code, the Block1 option to echo, the Size1 to announce.
    fn on_post(&mut self, from: SocketAddr, p: &Packet, now: Instant) -> (ResponseType, Option<Vec<u8>>, Option<u32>) {
        let max = self.settings.max_record_size;
        let too_large = (ResponseType::RequestEntityTooLarge, None, Some(u32::try_from(max).unwrap_or(u32::MAX)));
        if self.settings.accept_from.is_some_and(|ip| ip != from.ip()) {
            return (ResponseType::Forbidden, None, None);
        }
        // Critical options (odd numbers) we do not understand make the request fail (§5.4.1).
        if p.options().any(|(n, _)| n % 2 == 1 && ![3, 7, 11, 15, 27].contains(n)) {
            return (ResponseType::BadOption, None, None);
        }
        let path: Vec<&[u8]> =
            p.get_option(CoapOption::UriPath).map(|l| l.iter().map(Vec::as_slice).collect()).unwrap_or_default();
        if path.len() != self.settings.resource.len()
            || path.iter().zip(&self.settings.resource).any(|(a, b)| *a != b.as_bytes())
        {
            return (ResponseType::NotFound, None, None);
        }
        if let Some(cf) = p.get_first_option(CoapOption::ContentFormat) {
            if decode_uint(cf) != Some(42) {
                return (ResponseType::UnsupportedContentFormat, None, None);
            }
        }
        if p.get_first_option(CoapOption::Size1).and_then(|v| decode_uint(v)).is_some_and(|s| s as usize > max) {
            return too_large;
        }
        let reply = p.get_option(CoapOption::UriQuery).and_then(|l| l.iter().find_map(|q| reply_to(q)));
        let Some(block) = p.get_first_option(CoapOption::Block1) else {
            if p.payload.is_empty() {
                return (ResponseType::BadRequest, None, None);
            }
            if p.payload.len() > max {
                return too_large;
            }
            let record = Bytes::copy_from_slice(&p.payload);
            self.events.push_back(Event::Record { from, reply_to: reply, record });
            return (ResponseType::Changed, None, None);
        };
        let Some((num, more, szx)) = decode_block(block) else {
            return (ResponseType::BadRequest, None, None);
        };
        let size = block_size(szx);
        if (more && p.payload.len() != size) || p.payload.len() > size || (p.payload.is_empty() && num == 0) {
            self.reassembly.remove(&from);
            return (ResponseType::BadRequest, None, None);
        }
        if num == 0 {
            if !self.reassembly.contains_key(&from) && self.reassembly.len() >= MAX_REASSEMBLIES {
                let oldest = self.reassembly.iter().min_by_key(|(_, r)| r.touched).map(|(a, _)| *a);
                if let Some(o) = oldest {
                    self.reassembly.remove(&o);
                }
            }
            self.reassembly.insert(
                from,
                Reassembly { token: p.get_token().to_vec(), data: Vec::new(), reply_to: reply.clone(), touched: now },
            );
        }
        let Some(r) = self.reassembly.get_mut(&from).filter(|r| r.token == p.get_token()) else {
            return (ResponseType::RequestEntityIncomplete, None, None);
        };
        let offset = (num as usize).checked_mul(size);
        match offset {
            Some(o) if o == r.data.len() => {
                if r.data.len() + p.payload.len() > max {
                    self.reassembly.remove(&from);
                    return too_large;
                }
                r.data.extend_from_slice(&p.payload);
                r.touched = now;
            }
            // A block we already have (its acknowledgement was lost): acknowledged again.
            Some(o) if o + p.payload.len() <= r.data.len() => {}
            _ => {
                self.reassembly.remove(&from);
                return (ResponseType::RequestEntityIncomplete, None, None);
            }
        }
        if more {
            return (ResponseType::Continue, Some(encode_block(num, true, szx.min(6))), None);
        }
        let Some(done) = self.reassembly.remove(&from) else {
            return (ResponseType::RequestEntityIncomplete, None, None);
        };
        let reply_to = done.reply_to.or(reply);
        self.events.push_back(Event::Record { from, reply_to, record: Bytes::from(done.data) });
        (ResponseType::Changed, None, None)
    }
}
