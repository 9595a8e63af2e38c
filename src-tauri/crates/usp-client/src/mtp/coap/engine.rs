//! The CoAP message layer USP needs, without I/O: confirmable POSTs of whole Records with
//! retransmission (RFC 7252 §4.2) and Block1 for large ones (RFC 7959), and the receiving
//! side (acknowledgements, duplicate detection by message ID, bounded Block1 reassembly).
//!
//! Both ends use it: the controller's transport ([`super::CoapTransport`]) and sim-home's
//! agents. The owner feeds it datagrams and the time, and takes out datagrams to send and
//! [`Event`]s. Every table in it is bounded, so a hostile peer (garbage, floods, absurd
//! block numbers) costs a bounded amount of memory and at most one small answer per
//! datagram.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use coap_lite::{CoapOption, ContentFormat, MessageClass, MessageType, Packet, RequestType};
use tokio::time::Instant;

use super::uri::CoapUri;

/// RFC 7252 ACK_TIMEOUT: the first wait for an acknowledgement (times a random factor up
/// to 1.5, doubled after each retransmission).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// RFC 7252 MAX_RETRANSMIT.
pub const MAX_RETRANSMIT: u32 = 4;
/// The largest datagram sent, as the reference agent sizes its buffers (1024 bytes of
/// payload and room for the header and options).
pub const MAX_PDU: usize = 1152;
/// RFC 7252 EXCHANGE_LIFETIME: how long a message ID is remembered for duplicates.
const EXCHANGE_LIFETIME: Duration = Duration::from_secs(247);
/// Message IDs remembered for duplicate detection (oldest forgotten first).
const SEEN_CAPACITY: usize = 1024;
/// Records being reassembled from blocks at once (one per peer; the oldest is dropped).
const MAX_REASSEMBLIES: usize = 8;
/// A reassembly with no new block for this long is dropped.
const REASSEMBLY_IDLE: Duration = Duration::from_secs(60);
/// Peers we send to at once.
const MAX_DESTINATIONS: usize = 256;

/// How an [`Engine`] behaves.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Our resource's path segments: POSTs elsewhere get 4.04.
    pub resource: Vec<String>,
    /// The largest Record accepted (`config.limits.max_record_size`).
    pub max_record_size: usize,
    /// The first wait for an acknowledgement ([`ACK_TIMEOUT`]).
    pub ack_timeout: Duration,
    /// Retransmissions before giving up ([`MAX_RETRANSMIT`]).
    pub max_retransmit: u32,
    /// Records waiting per peer before [`Engine::send`] refuses more.
    pub max_queue: usize,
    /// Only this host may POST Records to us (4.03 for others); `None`: anyone.
    pub accept_from: Option<IpAddr>,
}

impl Settings {
    /// RFC defaults for a resource.
    pub fn new(resource: Vec<String>, max_record_size: usize) -> Settings {
        Settings {
            resource,
            max_record_size,
            ack_timeout: ACK_TIMEOUT,
            max_retransmit: MAX_RETRANSMIT,
            max_queue: 256,
            accept_from: None,
        }
    }
}

/// What happened, for the owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole Record was POSTed to our resource (and acknowledged 2.04).
    Record {
        /// Who sent it.
        from: SocketAddr,
        /// Where its sender wants answers (`reply-to` URI-Query).
        reply_to: Option<CoapUri>,
        /// The Record.
        record: Bytes,
    },
    /// A Record we sent was acknowledged with a success code.
    Delivered {
        /// To whom.
        to: SocketAddr,
    },
    /// A ping was answered (by a Reset, or any acknowledgement).
    Pong {
        /// Who answered.
        from: SocketAddr,
    },
    /// The peer answered a Record with an error code (`"4.04"`...); the Record is dropped.
    Refused {
        /// Who refused.
        to: SocketAddr,
        /// The CoAP response code.
        code: String,
    },
    /// No acknowledgement came after every retransmission; the message is dropped.
    Failed {
        /// The silent peer.
        to: SocketAddr,
        /// Why, in words.
        why: String,
    },
}

/// Why [`Engine::send`] did not take a Record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    /// Too many Records already wait for this peer.
    Queue,
    /// Too many peers have Records waiting.
    Peers,
}

/// One Record to POST.
#[derive(Clone, Debug)]
pub struct Post {
    /// The peer's resource path.
    pub path: Vec<String>,
    /// Our URI for answers (the `reply-to` URI-Query), if any.
    pub reply_to: Option<String>,
    /// The Record.
    pub record: Bytes,
}

enum Job {
    Post(Post),
    Ping,
}

struct InFlight {
    job: Job,
    token: Vec<u8>,
    mid: u16,
    /// Bytes of the Record acknowledged so far.
    offset: usize,
    /// Block size exponent, when the Record goes in blocks.
    szx: Option<u8>,
    datagram: Vec<u8>,
    tries: u32,
    wait: Duration,
    deadline: Instant,
}

#[derive(Default)]
struct Dest {
    queue: VecDeque<Job>,
    current: Option<InFlight>,
}

struct Reassembly {
    token: Vec<u8>,
    data: Vec<u8>,
    reply_to: Option<CoapUri>,
    touched: Instant,
}

/// When a message ID from a peer was seen, and the answer it got (resent for duplicates).
type Seen = (Instant, Option<Vec<u8>>);

/// Counters, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams that were not CoAP, or broke its rules.
    pub garbage: u64,
    /// Duplicates answered from the cache.
    pub duplicates: u64,
    /// Our retransmissions.
    pub retransmissions: u64,
    /// Records the peer refused with an error code.
    pub refused: u64,
    /// Records given up after every retransmission.
    pub failed: u64,
}

/// The sans-IO CoAP endpoint (see the module docs).
pub struct Engine {
    settings: Settings,
    next_mid: u16,
    next_token: u64,
    dests: HashMap<SocketAddr, Dest>,
    seen: HashMap<(SocketAddr, u16), Seen>,
    seen_order: VecDeque<(SocketAddr, u16, Instant)>,
    reassembly: HashMap<SocketAddr, Reassembly>,
    transmit: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Engine {
    /// A new endpoint; message IDs and tokens start at random values.
    pub fn new(settings: Settings) -> Engine {
        Engine {
            settings,
            next_mid: rand::random(),
            next_token: rand::random(),
            dests: HashMap::new(),
            seen: HashMap::new(),
            seen_order: VecDeque::new(),
            reassembly: HashMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Queues a Record for `to` (sent when the ones before it are acknowledged: one
    /// confirmable message at a time per peer, RFC 7252 NSTART = 1).
    pub fn send(&mut self, to: SocketAddr, post: Post, now: Instant) -> Result<(), Full> {
        if !self.dests.contains_key(&to) && self.dests.len() >= MAX_DESTINATIONS {
            self.dests.retain(|_, d| d.current.is_some() || !d.queue.is_empty());
            if self.dests.len() >= MAX_DESTINATIONS {
                return Err(Full::Peers);
            }
        }
        let dest = self.dests.entry(to).or_default();
        if dest.queue.len() >= self.settings.max_queue {
            return Err(Full::Queue);
        }
        dest.queue.push_back(Job::Post(post));
        self.start_next(to, now);
        Ok(())
    }

    /// Whether [`Engine::send`] would take a Record for `to` now.
    pub fn can_send(&self, to: SocketAddr) -> bool {
        match self.dests.get(&to) {
            Some(d) => d.queue.len() < self.settings.max_queue,
            None => self.dests.len() < MAX_DESTINATIONS,
        }
    }

    /// Sends a CoAP ping (an empty confirmable message) to `to`, unless a message to it is
    /// already on its way (its acknowledgement proves as much). Answered by [`Event::Pong`].
    pub fn ping(&mut self, to: SocketAddr, now: Instant) {
        let busy = self.dests.get(&to).is_some_and(|d| d.current.is_some() || !d.queue.is_empty());
        if busy || self.dests.len() >= MAX_DESTINATIONS {
            return;
        }
        self.dests.entry(to).or_default().queue.push_back(Job::Ping);
        self.start_next(to, now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether events wait (the owner reads no more datagrams until they are taken).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`Engine::handle_timeout`] must run next.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.dests.values().filter_map(|d| d.current.as_ref().map(|c| c.deadline)).min()
    }

    /// Retransmits what waited too long, gives up on what waited for every try.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .dests
            .iter()
            .filter(|(_, d)| d.current.as_ref().is_some_and(|c| c.deadline <= now))
            .map(|(a, _)| *a)
            .collect();
        for to in due {
            let Some(cur) = self.dests.get_mut(&to).and_then(|d| d.current.as_mut()) else { continue };
            if cur.tries < self.settings.max_retransmit {
                cur.tries += 1;
                cur.wait *= 2;
                cur.deadline = now + cur.wait;
                self.transmit.push_back((to, cur.datagram.clone()));
                self.stats.retransmissions += 1;
            } else {
                let tries = cur.tries + 1;
                let ping = matches!(cur.job, Job::Ping);
                self.finish(to, now);
                if !ping {
                    self.stats.failed += 1;
                }
                let what = if ping { "ping" } else { "Record" };
                self.events.push_back(Event::Failed {
                    to,
                    why: format!("no CoAP acknowledgement from {to} for a {what} after {tries} tries"),
                });
            }
        }
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(peer, mid, at)) = self.seen_order.front() {
            if now.duration_since(at) < EXCHANGE_LIFETIME && self.seen_order.len() <= SEEN_CAPACITY {
                break;
            }
            self.seen_order.pop_front();
            if self.seen.get(&(peer, mid)).is_some_and(|(t, _)| *t == at) {
                self.seen.remove(&(peer, mid));
            }
        }
        self.reassembly.retain(|_, r| now.duration_since(r.touched) < REASSEMBLY_IDLE);
    }

    /// Ends the message in flight to `to` and starts the next one.
    fn finish(&mut self, to: SocketAddr, now: Instant) {
        if let Some(d) = self.dests.get_mut(&to) {
            d.current = None;
        }
        self.start_next(to, now);
    }

    fn start_next(&mut self, to: SocketAddr, now: Instant) {
        let Some(dest) = self.dests.get_mut(&to) else { return };
        if dest.current.is_some() {
            return;
        }
        let Some(job) = dest.queue.pop_front() else {
            self.dests.remove(&to);
            return;
        };
        let token = match job {
            Job::Ping => Vec::new(),
            Job::Post(_) => {
                self.next_token = self.next_token.wrapping_add(1);
                self.next_token.to_be_bytes().to_vec()
            }
        };
        let szx = match &job {
            Job::Post(p) => block_exponent(p),
            Job::Ping => None,
        };
        let mut flight = InFlight {
            job,
            token,
            mid: 0,
            offset: 0,
            szx,
            datagram: Vec::new(),
            tries: 0,
            wait: Duration::ZERO,
            deadline: now,
        };
        self.emit(to, &mut flight, now);
        if let Some(dest) = self.dests.get_mut(&to) {
            dest.current = Some(flight);
        }
    }

    /// Builds and sends the datagram for the flight's current block, with a new message ID.
    fn emit(&mut self, to: SocketAddr, flight: &mut InFlight, now: Instant) {
        self.next_mid = self.next_mid.wrapping_add(1);
        flight.mid = self.next_mid;
        let mut p = Packet::new();
        p.header.set_type(MessageType::Confirmable);
        p.header.message_id = flight.mid;
        // A ping is an empty message (code 0.00; coap-lite's default is GET).
        p.header.code = MessageClass::Empty;
        p.set_token(flight.token.clone());
        if let Job::Post(post) = &flight.job {
            p.header.code = MessageClass::Request(RequestType::Post);
            add_post_options(&mut p, post);
            let total = post.record.len();
            match flight.szx {
                None => p.payload = post.record.to_vec(),
                Some(szx) => {
                    let size = block_size(szx);
                    let end = (flight.offset + size).min(total);
                    let more = end < total;
                    let num = (flight.offset / size) as u32;
                    p.add_option(CoapOption::Block1, encode_block(num, more, szx));
                    p.add_option(CoapOption::Size1, encode_uint(total as u32));
                    p.payload = post.record[flight.offset..end].to_vec();
                }
            }
        }
        flight.datagram = p.to_bytes_unlimited().unwrap_or_default();
        flight.tries = 0;
        // ACK_TIMEOUT times a random factor between 1 and 1.5 (RFC 7252 §4.8).
        let factor = 1.0 + rand::random::<f64>() * 0.5;
        flight.wait = self.settings.ack_timeout.mul_f64(factor);
        flight.deadline = now + flight.wait;
        self.transmit.push_back((to, flight.datagram.clone()));
    }

    /// Takes one datagram from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        let packet = match Packet::from_bytes(data) {
            Ok(p) if p.header.get_version() == 1 => p,
            _ => {
                self.stats.garbage += 1;
                // A confirmable message we cannot read is rejected with a Reset (§4.2).
                if data.len() >= 4 && data[0] >> 6 == 1 && (data[0] >> 4) & 3 == 0 {
                    self.transmit.push_back((from, reset(u16::from_be_bytes([data[2], data[3]]))));
                }
                return;
            }
        };
        match packet.header.get_type() {
            MessageType::Acknowledgement | MessageType::Reset => self.on_answer(from, &packet, now),
            MessageType::Confirmable | MessageType::NonConfirmable => self.on_message(from, &packet, now),
        }
    }

    fn on_answer(&mut self, from: SocketAddr, p: &Packet, now: Instant) {
        let Some(cur) = self.dests.get_mut(&from).and_then(|d| d.current.as_mut()) else { return };
        if cur.mid != p.header.message_id {
            return; // a late duplicate answer
        }
        let total = match &cur.job {
            Job::Ping => None,
            Job::Post(post) => Some(post.record.len()),
        };
        let (szx, offset, token_ok) = (cur.szx, cur.offset, p.get_token() == cur.token.as_slice());
        let Some(total) = total else {
            self.finish(from, now);
            self.events.push_back(Event::Pong { from });
            return;
        };
        if p.header.get_type() == MessageType::Reset {
            self.stats.refused += 1;
            self.finish(from, now);
            self.events.push_back(Event::Refused { to: from, code: "Reset".into() });
            return;
        }
        let code = p.header.code;
        if code != MessageClass::Empty && !token_ok {
            return; // a piggybacked response must echo our token
        }
        match code {
            MessageClass::Response(r) if r.is_error() => {
                self.stats.refused += 1;
                self.finish(from, now);
                self.events.push_back(Event::Refused { to: from, code: p.header.get_code() });
            }
            MessageClass::Empty | MessageClass::Response(_) => {
                let sent_end = szx.map_or(total, |s| (offset + block_size(s)).min(total));
                if sent_end >= total {
                    self.finish(from, now);
                    self.events.push_back(Event::Delivered { to: from });
                    return;
                }
                // 2.31 Continue: the next block, smaller if the peer asked for smaller.
                let asked = p.get_first_option(CoapOption::Block1).and_then(|v| decode_block(v)).map(|b| b.2);
                let Some(mut flight) = self.dests.get_mut(&from).and_then(|d| d.current.take()) else { return };
                flight.offset = sent_end;
                if let (Some(a), Some(s)) = (asked, szx) {
                    if a < s && sent_end % block_size(a) == 0 {
                        flight.szx = Some(a);
                    }
                }
                self.emit(from, &mut flight, now);
                if let Some(d) = self.dests.get_mut(&from) {
                    d.current = Some(flight);
                }
            }
            _ => self.stats.garbage += 1,
        }
    }
}

fn add_post_options(p: &mut Packet, post: &Post) {
    for seg in &post.path {
        p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
    }
    p.set_content_format(ContentFormat::ApplicationOctetStream);
    if let Some(r) = &post.reply_to {
        p.add_option(CoapOption::UriQuery, format!("reply-to={r}").into_bytes());
    }
}

/// `None` when the Record fits one datagram, else the largest block size exponent (up to
/// 1024 bytes) whose datagrams stay within [`MAX_PDU`].
fn block_exponent(post: &Post) -> Option<u8> {
    let mut p = Packet::new();
    p.set_token(vec![0; 8]);
    add_post_options(&mut p, post);
    let head = p.to_bytes_unlimited().map(|b| b.len()).unwrap_or(MAX_PDU);
    if head + 1 + post.record.len() <= MAX_PDU {
        return None;
    }
    // Block1 (up to 3 bytes) and Size1 (up to 4), with their option headers.
    let room = MAX_PDU.saturating_sub(head + 1 + 4 + 6);
    Some((0..=6u8).rev().find(|s| block_size(*s) <= room).unwrap_or(0))
}

fn block_size(szx: u8) -> usize {
    16 << szx.min(6)
}

/// The Block1/Block2 option value (RFC 7959 §2.2).
fn encode_block(num: u32, more: bool, szx: u8) -> Vec<u8> {
    encode_uint((num << 4) | (u32::from(more) << 3) | u32::from(szx & 7))
}

/// `(num, more, szx)`; `None` for a malformed value or the reserved size 7.
fn decode_block(v: &[u8]) -> Option<(u32, bool, u8)> {
    if v.len() > 3 {
        return None;
    }
    let n = decode_uint(v)?;
    let szx = (n & 7) as u8;
    (szx != 7).then_some((n >> 4, n & 8 != 0, szx))
}

fn encode_uint(n: u32) -> Vec<u8> {
    let b = n.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}

fn decode_uint(v: &[u8]) -> Option<u32> {
    (v.len() <= 4).then(|| v.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

fn reset(mid: u16) -> Vec<u8> {
    let [hi, lo] = mid.to_be_bytes();
    vec![0x70, 0x00, hi, lo]
}

fn empty_ack(mid: u16) -> Vec<u8> {
    let [hi, lo] = mid.to_be_bytes();
    vec![0x60, 0x00, hi, lo]
}

/// The receiving side: acknowledgements, duplicates, Block1 reassembly.
#[path = "receive.rs"]
mod receive;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
