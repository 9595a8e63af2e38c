//! `cargo fuzz run e2e_records`: sequences of session-context Records (well-formed ones with
//! fuzzed ids, states and payloads, raw frames, DisconnectRecords), Messages to send and
//! timers fed to a `usp_core::e2e::E2eSession`. It must never panic; everything it sends
//! must decode and fit the record size; what it holds stays within its bounds.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usp_core::e2e::{E2eConfig, E2eSession};
use usp_core::record::{Record, RecordType, SessionContext};
use usp_core::wire::{self, Limits};

const ME: &str = "self::fuzz-controller";
const PEER: &str = "proto::fuzz-agent";

/// Reads the fuzzer's bytes as a script.
struct Script<'a>(&'a [u8]);

impl<'a> Script<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn small(&mut self) -> u64 {
        u64::from(self.byte() % 16)
    }
    /// Mostly small numbers near the interesting ones, sometimes anything.
    fn id(&mut self) -> u64 {
        match self.byte() % 8 {
            0 => 0,
            1 => u64::MAX - self.small(),
            2 => u64::MAX - 10_000 - self.small(),
            3 => u64::from_le_bytes(std::array::from_fn(|_| self.byte())),
            _ => self.small(),
        }
    }
    fn bytes(&mut self, max: usize) -> Bytes {
        let n = (usize::from(self.byte()) * 8).min(max).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Bytes::copy_from_slice(b)
    }
}

fn encode(rec: &Record) -> Bytes {
    let mut out = Vec::new();
    wire::encode_record(rec, &mut out);
    Bytes::from(out)
}

fuzz_target!(|data: &[u8]| {
    let mut s = Script(data);
    let max_record_size = [0usize, 512, 1024][usize::from(s.byte() % 3)];
    let cfg = E2eConfig {
        first_session_id: Some(100),
        max_record_size,
        max_retransmit_tries: u32::from(s.byte() % 4),
        retransmit_interval: Duration::from_millis(100),
        max_message_size: 16 * 1024,
        max_ahead_records: 32,
        max_ahead_bytes: 8 * 1024,
        max_in_flight_bytes: 4 * 1024,
        max_pending_bytes: 64 * 1024,
        max_unacked_records: 256,
        // The reference agent's tolerances, on or off.
        resend_unacknowledged: s.byte() % 2 == 0,
        send_acknowledgements: s.byte() % 2 == 0,
        early_7105_means_not_allowed: s.byte() % 2 == 0,
        peer_reuses_session_ids: s.byte() % 2 == 0,
        limits: Limits { max_record_size: 64 * 1024, max_items: 512, ..Limits::controller() },
        ..E2eConfig::new(ME, PEER)
    };
    let mut layer = E2eSession::new(cfg);
    let mut now = Instant::now();
    let mut session = 100u64;
    for _ in 0..512 {
        if s.0.is_empty() {
            break;
        }
        match s.byte() % 8 {
            // A session-context Record from the peer, fields shaped by the script.
            0..=3 => {
                if s.byte() % 4 == 0 {
                    session = s.id();
                }
                let sc = SessionContext {
                    session_id: session,
                    sequence_id: s.id(),
                    expected_id: s.id(),
                    retransmit_id: if s.byte() % 4 == 0 { s.id() } else { 0 },
                    payload_sar_state: i32::from(s.byte() % 5),
                    payloadrec_sar_state: i32::from(s.byte() % 5),
                    payload: (0..s.byte() % 3).map(|_| s.bytes(4096)).collect(),
                };
                let mut rec = Record::new("1.4", ME, PEER, RecordType::SessionContext(sc));
                if s.byte() % 16 == 0 {
                    rec.payload_security = 1;
                }
                if s.byte() % 32 == 0 {
                    rec.from_id = "proto::intruder".into();
                }
                layer.handle_bytes(encode(&rec), now);
            }
            // Raw bytes.
            4 => {
                let b = s.bytes(4096);
                layer.handle_bytes(b, now);
            }
            // We send a Message.
            5 => {
                let mut m = s.bytes(4096).to_vec();
                m.resize(m.len() * (usize::from(s.byte() % 8) + 1), 0x5a);
                let _ = layer.send(Bytes::from(m), now);
            }
            // Time passes.
            6 => {
                now += Duration::from_millis(u64::from(s.byte()) * 4);
                layer.handle_timeout(now);
            }
            // A DisconnectRecord, or we end the context.
            _ => match s.byte() % 3 {
                0 => {
                    let _ = layer.terminate("fuzz");
                }
                n => {
                    let code = if n == 1 { 7105 } else { 7106 };
                    let rec = Record::new(
                        "1.4",
                        ME,
                        PEER,
                        RecordType::Disconnect { reason: "fuzz".into(), reason_code: code },
                    );
                    layer.handle_bytes(encode(&rec), now);
                }
            },
        }
        while let Some(out) = layer.poll_transmit() {
            if max_record_size != 0 {
                assert!(out.len() <= max_record_size, "a {}-byte record", out.len());
            }
            let rec = wire::decode_record(out, &Limits::default()).expect("we send valid records");
            assert_eq!(&*rec.from_id, ME);
            assert_eq!(&*rec.to_id, PEER);
        }
        while let Some(m) = layer.poll_delivered() {
            assert!(!m.is_empty() && m.len() <= 16 * 1024);
        }
        while let Some(ev) = layer.poll_event() {
            let _ = format!("{ev:?}");
        }
        assert!(layer.buffered_bytes() <= 8 * 1024 + 16 * 1024, "held {}", layer.buffered_bytes());
        assert!(layer.unacknowledged() <= 256);
        if layer.session_id().is_none() {
            assert_eq!(layer.poll_timeout(), None, "no timer without a context");
        }
    }
});
