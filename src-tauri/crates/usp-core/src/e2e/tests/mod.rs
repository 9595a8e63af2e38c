//! Tests of the session layer on a virtual clock: two layers (a controller `C` and an
//! agent `A`) whose Records are moved by hand, lost, reordered or duplicated.

mod context;
mod props;
mod reference;
mod sar_integrity;

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::record::{Record, RecordType, SessionContext};
use crate::wire::{self, Limits};

const C: &str = "self::controller";
const A: &str = "proto::agent";

fn config(own: &str, peer: &str, first_session_id: u64) -> E2eConfig {
    E2eConfig {
        first_session_id: Some(first_session_id),
        retransmit_interval: Duration::from_secs(1),
        ..E2eConfig::new(own, peer)
    }
}

/// A controller layer (sessions from 100) and an agent layer (sessions from 9000).
fn pair() -> (E2eSession, E2eSession) {
    (E2eSession::new(config(C, A, 100)), E2eSession::new(config(A, C, 9000)))
}

fn drain(s: &mut E2eSession) -> Vec<Bytes> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn delivered(s: &mut E2eSession) -> Vec<Bytes> {
    std::iter::from_fn(|| s.poll_delivered()).collect()
}

fn events(s: &mut E2eSession) -> Vec<E2eEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn decode(b: &Bytes) -> Record {
    wire::decode_record(b.clone(), &Limits::default()).expect("we send valid records")
}

fn sc(b: &Bytes) -> SessionContext {
    match decode(b).record_type {
        RecordType::SessionContext(sc) => sc,
        other => panic!("not a session context record: {other:?}"),
    }
}

/// A session-context Record from `from` to `to`.
fn record(from: &str, to: &str, sc: SessionContext) -> Record {
    Record::new("1.4", to, from, RecordType::SessionContext(sc))
}

fn msg(i: usize, len: usize) -> Bytes {
    let mut v = format!("message {i}:").into_bytes();
    v.resize(len.max(v.len()), (i % 251) as u8);
    Bytes::from(v)
}

/// Moves Records both ways until both layers are quiet; returns how many moved.
fn exchange(c: &mut E2eSession, a: &mut E2eSession, now: Instant) -> usize {
    let mut moved = 0;
    for _ in 0..100_000 {
        let to_a = drain(c);
        let to_c = drain(a);
        if to_a.is_empty() && to_c.is_empty() {
            return moved;
        }
        moved += to_a.len() + to_c.len();
        for r in to_a {
            assert!(a.handle_bytes(r, now).is_none());
        }
        for r in to_c {
            assert!(c.handle_bytes(r, now).is_none());
        }
    }
    panic!("the layers never went quiet");
}

#[test]
fn a_message_goes_through_and_is_acknowledged() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 50), t0).expect("send");
    assert_eq!(events(&mut c), vec![E2eEvent::Started { session_id: 100, by_peer: false }]);
    let out = drain(&mut c);
    assert_eq!(out.len(), 1);
    let first = sc(&out[0]);
    assert_eq!((first.session_id, first.sequence_id, first.expected_id, first.retransmit_id), (100, 1, 1, 0));
    assert_eq!((first.payload_sar_state, first.payloadrec_sar_state), (SAR_NONE, SAR_NONE));
    assert_eq!(first.payload, vec![msg(1, 50)]);
    assert!(a.handle_bytes(out[0].clone(), t0).is_none());
    assert_eq!(delivered(&mut a), vec![msg(1, 50)]);
    assert_eq!(events(&mut a), vec![E2eEvent::Started { session_id: 100, by_peer: true }]);
    // The agent acknowledges with an empty Record of its own sequence.
    let ack = drain(&mut a);
    assert_eq!(ack.len(), 1);
    let ack_sc = sc(&ack[0]);
    assert_eq!((ack_sc.session_id, ack_sc.sequence_id, ack_sc.expected_id), (100, 1, 2));
    assert_eq!(ack_sc.payload, vec![Bytes::new()], "one empty payload entry");
    assert_eq!(c.unacknowledged(), 1);
    assert!(c.poll_timeout().is_some(), "an unacknowledged data record has a resend timer");
    c.handle_bytes(ack[0].clone(), t0);
    assert_eq!(c.unacknowledged(), 0);
    assert_eq!(c.poll_timeout(), None);
    assert!(drain(&mut c).is_empty(), "an acknowledgement is not acknowledged");
    assert!(c.is_established() && a.is_established());
}

#[test]
fn records_of_other_types_are_given_back() {
    let (mut c, _) = pair();
    let rec = Record::new("1.4", C, A, RecordType::WebSocketConnect);
    assert_eq!(c.handle_record(rec.clone(), Instant::now()), Some(rec));
    let rec = Record::new("1.4", C, A, RecordType::NoSessionContext { payload: msg(0, 9) });
    assert_eq!(c.handle_record(rec.clone(), Instant::now()), Some(rec));
}

#[test]
fn records_for_others_or_from_others_are_dropped() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    let s = SessionContext {
        session_id: 7,
        sequence_id: 1,
        expected_id: 1,
        payload: vec![msg(0, 5)],
        ..Default::default()
    };
    c.handle_record(record(A, "proto::other", s.clone()), t0);
    c.handle_record(record("proto::intruder", C, s), t0);
    assert_eq!(
        events(&mut c),
        vec![E2eEvent::Dropped(E2eDropped::NotForUs), E2eEvent::Dropped(E2eDropped::WrongSender)]
    );
    assert_eq!(c.session_id(), None);
    assert!(delivered(&mut c).is_empty());
    c.handle_bytes(Bytes::from_static(b"\xff\xff"), t0);
    assert!(matches!(events(&mut c)[..], [E2eEvent::Dropped(E2eDropped::Malformed(_))]));
}

#[test]
fn out_of_order_records_wait_for_the_missing_one_which_is_asked_for() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    for i in 1..=5 {
        c.send(msg(i, 20), t0).expect("send");
    }
    let out = drain(&mut c);
    assert_eq!(out.len(), 5);
    // Record 2 is lost; 5, 3 and 4 arrive out of order after 1.
    for i in [0, 4, 2, 3] {
        a.handle_bytes(out[i].clone(), t0);
    }
    assert_eq!(delivered(&mut a), vec![msg(1, 20)], "only the contiguous run is delivered");
    assert!(a.buffered_bytes() > 0);
    drain(&mut a); // the acknowledgement of record 1
                   // After the interval the agent asks for record 2.
    let t1 = a.poll_timeout().expect("gap timer");
    assert_eq!(t1, t0 + Duration::from_secs(1));
    a.handle_timeout(t1);
    let req = drain(&mut a);
    assert_eq!(req.len(), 1);
    let req_sc = sc(&req[0]);
    assert_eq!((req_sc.retransmit_id, req_sc.expected_id), (2, 2));
    assert_eq!(a.stats().retransmit_requests, 1);
    c.handle_bytes(req[0].clone(), t1);
    let resent = drain(&mut c);
    assert_eq!(resent.len(), 1);
    assert_eq!(sc(&resent[0]).sequence_id, 2);
    assert_eq!(c.stats().records_resent, 1);
    a.handle_bytes(resent[0].clone(), t1);
    assert_eq!(delivered(&mut a), (2..=5).map(|i| msg(i, 20)).collect::<Vec<_>>());
    assert_eq!(a.buffered_bytes(), 0);
    assert_eq!(a.poll_timeout(), None, "no gap left");
    exchange(&mut c, &mut a, t1);
    assert_eq!(c.unacknowledged(), 0, "everything acknowledged");
}

#[test]
fn a_lost_last_record_is_sent_again_after_the_interval() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 30), t0).expect("send");
    drain(&mut c); // lost
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    c.handle_timeout(t0 + Duration::from_secs(1));
    let again = drain(&mut c);
    assert_eq!(again.len(), 1);
    assert_eq!(sc(&again[0]).sequence_id, 1);
    a.handle_bytes(again[0].clone(), t0);
    assert_eq!(delivered(&mut a), vec![msg(1, 30)]);
}

#[test]
fn duplicates_are_delivered_once_and_acknowledged_again() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    c.send(msg(2, 10), t0).expect("send");
    let out = drain(&mut c);
    for r in [&out[0], &out[0], &out[1], &out[0], &out[1]] {
        a.handle_bytes(r.clone(), t0);
    }
    assert_eq!(delivered(&mut a), vec![msg(1, 10), msg(2, 10)]);
    assert_eq!(a.stats().duplicates, 3);
    // Each duplicate of a data record is acknowledged, so a sender that lost our
    // acknowledgement stops resending.
    let acks = drain(&mut a);
    assert_eq!(acks.len(), 5);
    assert!(acks.iter().all(|r| sc(r).payload == vec![Bytes::new()]));
    // A duplicated buffered-ahead record is kept once.
    let (mut c, mut a) = pair();
    for i in 1..=3 {
        c.send(msg(i, 10), t0).expect("send");
    }
    let out = drain(&mut c);
    a.handle_bytes(out[0].clone(), t0);
    a.handle_bytes(out[2].clone(), t0);
    a.handle_bytes(out[2].clone(), t0);
    a.handle_bytes(out[1].clone(), t0);
    assert_eq!(delivered(&mut a), (1..=3).map(|i| msg(i, 10)).collect::<Vec<_>>());
}
