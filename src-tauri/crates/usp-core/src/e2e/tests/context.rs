//! Contexts: restarts (new peer id, sequence exhaustion, failures), the retransmit limit,
//! DisconnectRecords, and both sides starting at once.

use super::*;

fn restarts(evs: &[E2eEvent]) -> Vec<RestartReason> {
    evs.iter()
        .filter_map(|e| match e {
            E2eEvent::Restarted { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_retransmit_storm_beyond_the_limit_restarts_the_context() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    drain(&mut c);
    events(&mut c);
    // The "agent" asks for record 1 again and again, each request a new record of its own.
    for n in 1..=6u64 {
        let s =
            SessionContext { session_id: 100, sequence_id: n, expected_id: 1, retransmit_id: 1, ..Default::default() };
        c.handle_record(record(A, C, s), t0);
        let out = drain(&mut c);
        if n <= 5 {
            assert_eq!(out.len(), 1, "request {n} is honoured");
            assert_eq!(sc(&out[0]).sequence_id, 1);
            assert!(events(&mut c).is_empty());
        } else {
            // The sixth is one too many: the context restarts and the Message goes again.
            let evs = events(&mut c);
            assert_eq!(
                evs,
                vec![E2eEvent::Restarted {
                    old: 100,
                    new: 101,
                    reason: RestartReason::RetransmitLimit { sequence_id: 1, tries: 5 }
                }]
            );
            assert_eq!(out.len(), 1);
            let first = sc(&out[0]);
            assert_eq!((first.session_id, first.sequence_id), (101, 1));
            assert_eq!(first.payload, vec![msg(1, 10)]);
        }
    }
}

#[test]
fn a_gap_that_never_fills_gives_up_after_max_retransmit_tries() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    c.send(msg(2, 10), t0).expect("send");
    let out = drain(&mut c);
    a.handle_bytes(out[1].clone(), t0); // record 1 never arrives
    for n in 1..=5 {
        let now = a.poll_timeout().expect("gap timer");
        a.handle_timeout(now);
        let req = drain(&mut a);
        assert_eq!(req.len(), 1, "request {n}");
        assert_eq!(sc(&req[0]).retransmit_id, 1);
    }
    let now = a.poll_timeout().expect("gap timer");
    a.handle_timeout(now);
    let evs = events(&mut a);
    assert_eq!(restarts(&evs), vec![RestartReason::RetransmitLimit { sequence_id: 1, tries: 5 }]);
    assert_eq!(a.session_id(), Some(9000), "the agent starts a context of its own");
    assert!(delivered(&mut a).is_empty());
    assert_eq!(a.buffered_bytes(), 0, "what was buffered is gone");
}

#[test]
fn an_unacknowledged_record_is_resent_at_most_max_tries_times() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    drain(&mut c);
    events(&mut c);
    for _ in 0..5 {
        let t = c.poll_timeout().expect("resend timer");
        c.handle_timeout(t);
        assert_eq!(drain(&mut c).len(), 1);
    }
    let t = c.poll_timeout().expect("resend timer");
    c.handle_timeout(t);
    assert_eq!(restarts(&events(&mut c)), vec![RestartReason::RetransmitLimit { sequence_id: 1, tries: 5 }]);
    let out = drain(&mut c);
    assert_eq!(sc(&out[0]).session_id, 101);
    assert_eq!(sc(&out[0]).payload, vec![msg(1, 10)], "the Message is sent again in the new context");
}

#[test]
fn a_new_session_id_from_the_peer_restarts_and_resends_what_was_unacknowledged() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    assert_eq!(delivered(&mut a), vec![msg(1, 10)]);
    c.send(msg(2, 10), t0).expect("send");
    drain(&mut c); // lost
    events(&mut c);
    // The agent restarts (e.g. it rebooted) with session 4242.
    let s = SessionContext {
        session_id: 4242,
        sequence_id: 1,
        expected_id: 1,
        payload: vec![msg(50, 10)],
        ..Default::default()
    };
    c.handle_record(record(A, C, s), t0);
    assert_eq!(
        events(&mut c),
        vec![E2eEvent::Restarted { old: 100, new: 4242, reason: RestartReason::PeerNewSession }]
    );
    assert_eq!(delivered(&mut c), vec![msg(50, 10)]);
    let out = drain(&mut c);
    let first = sc(&out[0]);
    assert_eq!((first.session_id, first.sequence_id, first.expected_id), (4242, 1, 2));
    assert_eq!(first.payload, vec![msg(2, 10)], "message 2, unacknowledged, goes again");
    // A late record of the old context is ignored, not a restart.
    let late = SessionContext {
        session_id: 100,
        sequence_id: 2,
        expected_id: 2,
        payload: vec![msg(9, 9)],
        ..Default::default()
    };
    c.handle_record(record(A, C, late), t0);
    assert_eq!(events(&mut c), vec![E2eEvent::Dropped(E2eDropped::StaleSession { session_id: 100 })]);
    assert_eq!(c.session_id(), Some(4242));
    assert!(delivered(&mut c).is_empty());
}

#[test]
fn a_received_sequence_id_near_the_uint64_limit_restarts() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    let near = u64::MAX - SEQUENCE_MARGIN;
    let s = SessionContext {
        session_id: 77,
        sequence_id: near,
        expected_id: 1,
        payload: vec![msg(1, 5)],
        ..Default::default()
    };
    c.handle_record(record(A, C, s), t0);
    let evs = events(&mut c);
    assert_eq!(evs[0], E2eEvent::Started { session_id: 77, by_peer: true });
    assert_eq!(restarts(&evs), vec![RestartReason::SequenceExhausted { sequence_id: near }]);
    let out = drain(&mut c);
    assert_eq!(out.len(), 1, "the new context opens with an empty record");
    let open = sc(&out[0]);
    assert_eq!((open.session_id, open.sequence_id), (100, 1));
    assert_eq!(open.payload, vec![bytes::Bytes::new()], "one empty payload entry");
    // One below the margin is fine.
    let (mut c, _) = pair();
    let s = SessionContext {
        session_id: 77,
        sequence_id: 1,
        expected_id: 1,
        payload: vec![msg(1, 5)],
        ..Default::default()
    };
    c.handle_record(record(A, C, s), t0);
    let s = SessionContext { session_id: 77, sequence_id: near - 1, expected_id: 1, ..Default::default() };
    c.handle_record(record(A, C, s), t0);
    assert!(!restarts(&events(&mut c)).iter().any(|r| matches!(r, RestartReason::SequenceExhausted { .. })));
}

#[test]
fn sending_near_the_uint64_limit_starts_a_new_context_first() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    delivered(&mut a);
    events(&mut c);
    c.set_next_sequence(u64::MAX - SEQUENCE_MARGIN - 1);
    c.send(msg(2, 10), t0).expect("send");
    assert_eq!(
        restarts(&events(&mut c)),
        vec![RestartReason::SequenceExhausted { sequence_id: u64::MAX - SEQUENCE_MARGIN - 1 }]
    );
    let out = drain(&mut c);
    assert_eq!(out.len(), 1);
    let first = sc(&out[0]);
    assert_eq!((first.session_id, first.sequence_id), (101, 1));
    for r in out {
        a.handle_bytes(r, t0);
    }
    assert_eq!(delivered(&mut a), vec![msg(2, 10)]);
    assert_eq!(a.session_id(), Some(101));
    // Two below the margin, a one-record Message still goes in the same context.
    c.set_next_sequence(u64::MAX - SEQUENCE_MARGIN - 2);
    events(&mut c);
    c.send(msg(3, 10), t0).expect("send");
    assert!(restarts(&events(&mut c)).is_empty());
    assert_eq!(sc(&drain(&mut c)[0]).sequence_id, u64::MAX - SEQUENCE_MARGIN - 2);
}

#[test]
fn invalid_ids_restart_an_existing_context() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    for s in [
        SessionContext { session_id: 0, sequence_id: 1, ..Default::default() },
        SessionContext { session_id: 5, sequence_id: 0, ..Default::default() },
    ] {
        c.handle_record(record(A, C, s), t0);
    }
    assert_eq!(events(&mut c), vec![E2eEvent::Dropped(E2eDropped::InvalidId); 2]);
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    events(&mut c);
    c.handle_record(record(A, C, SessionContext { session_id: 100, sequence_id: 0, ..Default::default() }), t0);
    assert_eq!(restarts(&events(&mut c)), vec![RestartReason::InvalidId]);
}

#[test]
fn asking_for_a_record_never_sent_or_acknowledging_one_restarts() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    events(&mut c);
    let s = SessionContext { session_id: 100, sequence_id: 2, expected_id: 2, retransmit_id: 9, ..Default::default() };
    c.handle_record(record(A, C, s), t0);
    assert!(matches!(&restarts(&events(&mut c))[..], [RestartReason::Processing(w)] if w.contains("record 9")));
    let s = SessionContext { session_id: 101, sequence_id: 1, expected_id: 50, ..Default::default() };
    c.handle_record(record(A, C, s), t0);
    assert!(matches!(&restarts(&events(&mut c))[..], [RestartReason::Processing(w)] if w.contains("never sent")));
}

#[test]
fn tls12_payload_security_is_refused_with_a_restart() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    let mut rec = record(A, C, SessionContext { session_id: 33, sequence_id: 1, expected_id: 1, ..Default::default() });
    rec.payload_security = crate::record::PAYLOAD_SECURITY_TLS12;
    c.handle_record(rec, t0);
    assert!(matches!(&restarts(&events(&mut c))[..], [RestartReason::Processing(w)] if w.contains("PLAINTEXT")));
}

#[test]
fn disconnect_7106_refuses_further_contexts_until_the_peer_starts_one() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    drain(&mut c);
    events(&mut c);
    let bytes = not_allowed_record("1.3", A, C);
    let rec = decode(&bytes);
    assert_eq!(
        rec.record_type,
        RecordType::Disconnect { reason: "Session Context not allowed".into(), reason_code: 7106 }
    );
    c.handle_bytes(bytes, t0);
    assert_eq!(
        events(&mut c),
        vec![E2eEvent::NotAllowed { reason: "Session Context not allowed".into(), lost_messages: 1 }]
    );
    assert!(c.is_not_allowed());
    assert_eq!(c.session_id(), None);
    assert_eq!(c.poll_timeout(), None, "nothing left to resend");
    assert_eq!(c.send(msg(2, 10), t0), Err(E2eSendError::NotAllowed));
    // The agent starts one after all: allowed again.
    let s = SessionContext { session_id: 555, sequence_id: 1, expected_id: 1, ..Default::default() };
    c.handle_record(record(A, C, s), t0);
    assert!(!c.is_not_allowed());
    c.send(msg(3, 10), t0).expect("send after the peer started a context");
}

#[test]
fn disconnect_7105_ends_the_context_and_the_next_send_starts_another() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    events(&mut c);
    events(&mut a);
    // Our side ends it: the agent sees a 7105.
    assert_eq!(c.terminate("bye"), 0);
    let out = drain(&mut c);
    assert_eq!(decode(&out[0]).record_type, RecordType::Disconnect { reason: "bye".into(), reason_code: 7105 });
    a.handle_bytes(out[0].clone(), t0);
    assert_eq!(events(&mut a), vec![E2eEvent::Terminated { reason: "bye".into(), lost_messages: 0 }]);
    assert_eq!(a.session_id(), None);
    // The agent's next message starts a new context, which the controller follows.
    a.send(msg(2, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    assert_eq!(delivered(&mut c), vec![msg(2, 10)]);
    assert_eq!(c.session_id(), Some(9000));
    assert_eq!(events(&mut c), vec![E2eEvent::Started { session_id: 9000, by_peer: true }]);
    // Other codes are reported and leave the context alone.
    let rec = Record::new("1.4", C, A, RecordType::Disconnect { reason: "x".repeat(5000).into(), reason_code: 7100 });
    c.handle_record(rec, t0);
    match &events(&mut c)[..] {
        [E2eEvent::Disconnect { reason_code: 7100, reason }] => assert_eq!(reason.len(), 1024),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.session_id(), Some(9000));
}

/// The peer's 7105 drops our unacknowledged Messages; `take_dropped` hands them back (once),
/// and sent again they start a new context the peer follows.
#[test]
fn messages_dropped_by_a_7105_can_be_taken_back_and_sent_again() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    delivered(&mut a);
    // Two more Messages the peer never sees: it ends the context instead.
    c.send(msg(2, 10), t0).expect("send");
    c.send(msg(3, 10), t0).expect("send");
    drain(&mut c);
    let bye = Record::new("1.4", C, A, RecordType::Disconnect { reason: "forgot it".into(), reason_code: 7105 });
    c.handle_record(bye, t0);
    assert!(events(&mut c).contains(&E2eEvent::Terminated { reason: "forgot it".into(), lost_messages: 2 }));
    let again = c.take_dropped();
    assert_eq!(again, vec![msg(2, 10), msg(3, 10)]);
    assert!(c.take_dropped().is_empty(), "handed back once");
    for m in again {
        c.send(m, t0).expect("send again");
    }
    exchange(&mut c, &mut a, t0);
    assert_eq!(delivered(&mut a), vec![msg(2, 10), msg(3, 10)]);
    assert_ne!(c.session_id(), Some(100));
}

#[test]
fn both_sides_starting_at_once_agree_on_the_larger_id() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    a.send(msg(2, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    assert_eq!(c.session_id(), Some(9000));
    assert_eq!(a.session_id(), Some(9000));
    assert_eq!(delivered(&mut a), vec![msg(1, 10)]);
    assert_eq!(delivered(&mut c), vec![msg(2, 10)]);
    assert!(events(&mut a).contains(&E2eEvent::Dropped(E2eDropped::LostRace { session_id: 100 })));
    assert_eq!((c.poll_timeout(), a.poll_timeout()), (None, None), "every data record acknowledged");
}

#[test]
fn a_peer_that_acknowledges_nothing_cannot_grow_our_buffer() {
    let mut cfg = config(C, A, 100);
    cfg.max_unacked_records = 64;
    let mut c = E2eSession::new(cfg);
    let t0 = Instant::now();
    for n in 1..=200u64 {
        let s = SessionContext {
            session_id: 7,
            sequence_id: n,
            expected_id: 0,
            payload: vec![msg(0, 3)],
            ..Default::default()
        };
        c.handle_record(record(A, C, s), t0);
        assert!(c.unacknowledged() <= 64);
    }
    assert!(restarts(&events(&mut c))
        .iter()
        .any(|r| matches!(r, RestartReason::Processing(w) if w.contains("unacknowledged"))));
}

#[test]
fn records_far_ahead_fill_the_buffer_and_restart() {
    let mut cfg = config(C, A, 100);
    cfg.max_ahead_records = 4;
    let mut c = E2eSession::new(cfg);
    let t0 = Instant::now();
    for n in 2..=6u64 {
        let s = SessionContext {
            session_id: 7,
            sequence_id: n,
            expected_id: 1,
            payload: vec![msg(0, 3)],
            ..Default::default()
        };
        c.handle_record(record(A, C, s), t0);
    }
    assert_eq!(restarts(&events(&mut c)), vec![RestartReason::BufferFull]);
    assert_eq!(c.buffered_bytes(), 0);
}

#[test]
fn a_request_for_a_record_already_acknowledged_is_stale_and_ignored() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    events(&mut c);
    // The agent acknowledged record 1 (expected_id 2); a late request for it changes nothing.
    let s = SessionContext { session_id: 100, sequence_id: 2, expected_id: 2, retransmit_id: 1, ..Default::default() };
    c.handle_record(record(A, C, s), t0);
    assert!(drain(&mut c).is_empty());
    assert!(events(&mut c).is_empty());
    assert_eq!(c.session_id(), Some(100));
}

#[test]
fn a_resent_record_carries_the_current_expected_id_and_no_request() {
    let (mut c, _) = pair();
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    assert_eq!(sc(&drain(&mut c)[0]).expected_id, 1);
    // Meanwhile the agent's records 1 and 2 arrive (record 2 asks for a record of ours).
    for n in 1..=2u64 {
        let s = SessionContext {
            session_id: 100,
            sequence_id: n,
            expected_id: 1,
            payload: vec![msg(n as usize, 5)],
            ..Default::default()
        };
        c.handle_record(record(A, C, s), t0);
    }
    drain(&mut c);
    c.handle_timeout(t0 + Duration::from_secs(1));
    let again = drain(&mut c);
    assert_eq!(again.len(), 1);
    let s = sc(&again[0]);
    assert_eq!((s.sequence_id, s.expected_id, s.retransmit_id), (1, 3, 0));
}
