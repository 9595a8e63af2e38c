//! What interoperating with the reference agent's experimental session context (OB-USPA
//! 11.0.4, `obuspa-e2e`) needs of the layer; `tests/e2e_reference.rs` shows the agent itself.

use super::*;

/// The agent restarts the context on a session-context Record without exactly one
/// `payload` entry, so our Records without a Message carry one empty entry; an empty entry
/// from the peer is no data (not acknowledged, so two idle layers stay quiet).
#[test]
fn control_records_carry_one_empty_payload_entry() {
    let (mut c, mut a) = pair();
    let t0 = Instant::now();
    // The agent's acknowledgement.
    c.send(msg(1, 10), t0).expect("send");
    for r in drain(&mut c) {
        a.handle_bytes(r, t0);
    }
    assert_eq!(delivered(&mut a), vec![msg(1, 10)]);
    let ack = drain(&mut a);
    assert_eq!(ack.len(), 1);
    assert_eq!(sc(&ack[0]).payload, vec![Bytes::new()]);
    c.handle_bytes(ack[0].clone(), t0);
    // A retransmit request: the agent's Record 2 lost, 3 arrives.
    a.send(msg(2, 10), t0).expect("send");
    a.send(msg(3, 10), t0).expect("send");
    let out = drain(&mut a);
    assert_eq!(out.len(), 2);
    c.handle_bytes(out[1].clone(), t0);
    c.handle_timeout(t0 + Duration::from_secs(2));
    let asks: Vec<_> = drain(&mut c).iter().map(sc).filter(|s| s.retransmit_id != 0).collect();
    assert_eq!(asks.len(), 1, "a retransmit request went out");
    assert_eq!(asks[0].payload, vec![Bytes::new()]);
    // The peer's empty entry is not data: an opening Record from the peer is not acknowledged.
    let (mut c, _) = pair();
    let open = SessionContext {
        session_id: 4242,
        sequence_id: 1,
        expected_id: 1,
        retransmit_id: 0,
        payload_sar_state: SAR_NONE,
        payloadrec_sar_state: SAR_NONE,
        payload: vec![Bytes::new()],
    };
    assert!(c.handle_record(record(A, C, open), t0).is_none());
    assert_eq!(events(&mut c), vec![E2eEvent::Started { session_id: 4242, by_peer: true }]);
    assert!(drain(&mut c).is_empty(), "nothing to acknowledge");
    assert!(delivered(&mut c).is_empty());
}

/// With `resend_unacknowledged` off, a data Record the peer does not acknowledge is not sent
/// again on a timer (the agent would run it twice), the context stays, the peer's next
/// Record acknowledges it, and a `retransmit_id` request is still honoured.
#[test]
fn without_timer_resends_an_unacknowledged_record_waits_for_the_peers_next_one() {
    let t0 = Instant::now();
    let mut c = E2eSession::new(E2eConfig { resend_unacknowledged: false, ..config(C, A, 100) });
    let mut a = E2eSession::new(config(A, C, 9000));
    c.send(msg(1, 40), t0).expect("send");
    let first = drain(&mut c);
    assert_eq!(first.len(), 1);
    assert_eq!(c.poll_timeout(), None, "no resend timer");
    for s in 1..20 {
        c.handle_timeout(t0 + Duration::from_secs(s));
    }
    assert!(drain(&mut c).is_empty(), "nothing sent again");
    assert_eq!(c.unacknowledged(), 1);
    assert_eq!(c.stats().records_resent, 0);
    assert!(events(&mut c).iter().all(|e| matches!(e, E2eEvent::Started { .. })), "no restart");
    // The peer asks for it: sent again.
    a.handle_bytes(first[0].clone(), t0);
    let _ = drain(&mut a);
    let _ = delivered(&mut a);
    let ask = SessionContext {
        session_id: 100,
        sequence_id: 2,
        expected_id: 1,
        retransmit_id: 1,
        payload_sar_state: SAR_NONE,
        payloadrec_sar_state: SAR_NONE,
        payload: vec![Bytes::new()],
    };
    let mut ask1 = ask.clone();
    ask1.sequence_id = 1;
    ask1.retransmit_id = 0;
    c.handle_record(record(A, C, ask1), t0);
    c.handle_record(record(A, C, ask), t0);
    let again: Vec<_> = drain(&mut c).iter().map(sc).filter(|s| s.sequence_id == 1).collect();
    assert_eq!(again.len(), 1, "the asked-for Record went out again");
    assert_eq!(again[0].payload, vec![msg(1, 40)]);
    // The peer's next Record acknowledges it.
    let reply = SessionContext {
        session_id: 100,
        sequence_id: 3,
        expected_id: 2,
        retransmit_id: 0,
        payload_sar_state: SAR_NONE,
        payloadrec_sar_state: SAR_NONE,
        payload: vec![msg(9, 20)],
    };
    c.handle_record(record(A, C, reply), t0);
    assert_eq!(delivered(&mut c), vec![msg(9, 20)]);
    let acks = drain(&mut c);
    assert_eq!(acks.len(), 1, "our acknowledgement of the reply");
    assert_eq!(c.unacknowledged(), 1, "only that acknowledgement is left unacknowledged");
}

/// With `early_7105_means_not_allowed`, a 7105 that ends a context of ours the peer never
/// took part in refuses further contexts like a 7106; a 7105 later in a context still only
/// ends it. Off (the default), the early 7105 only ends the context.
#[test]
fn an_early_7105_can_mean_not_allowed() {
    let t0 = Instant::now();
    let disc = || Record::new("1.3", C, A, RecordType::Disconnect { reason: "forbidden".into(), reason_code: 7105 });
    let mut c = E2eSession::new(E2eConfig { early_7105_means_not_allowed: true, ..config(C, A, 100) });
    c.send(msg(1, 10), t0).expect("send");
    let _ = drain(&mut c);
    c.handle_record(disc(), t0);
    assert!(matches!(events(&mut c).last(), Some(E2eEvent::NotAllowed { lost_messages: 1, .. })));
    assert!(c.is_not_allowed());
    assert_eq!(c.send(msg(2, 10), t0), Err(E2eSendError::NotAllowed));

    // Once the peer took part, a 7105 is a termination.
    let mut c = E2eSession::new(E2eConfig { early_7105_means_not_allowed: true, ..config(C, A, 100) });
    let mut a = E2eSession::new(config(A, C, 9000));
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    c.handle_record(disc(), t0);
    assert!(matches!(events(&mut c).last(), Some(E2eEvent::Terminated { .. })));
    assert!(!c.is_not_allowed());
    c.send(msg(2, 10), t0).expect("a new context");

    // Off: the early 7105 ends the context only.
    let (mut c, _) = pair();
    c.send(msg(1, 10), t0).expect("send");
    c.handle_record(disc(), t0);
    assert!(matches!(events(&mut c).last(), Some(E2eEvent::Terminated { lost_messages: 1, .. })));
    assert!(!c.is_not_allowed());
}

/// With `peer_reuses_session_ids`, a Record 1 that acknowledges nothing (`expected_id` 1)
/// opens a new context of the peer's even with the current session id once we are past
/// its Record 1, or with an id we left; without it, it is a duplicate or a stale Record.
#[test]
fn a_peer_that_reuses_its_session_id_is_followed() {
    let t0 = Instant::now();
    let first = |n: usize| SessionContext {
        session_id: 2,
        sequence_id: 1,
        expected_id: 1,
        retransmit_id: 0,
        payload_sar_state: SAR_NONE,
        payloadrec_sar_state: SAR_NONE,
        payload: vec![msg(n, 12)],
    };
    let second = SessionContext { sequence_id: 2, expected_id: 1, payload: vec![msg(2, 12)], ..first(0) };
    for reuse in [false, true] {
        let mut c = E2eSession::new(E2eConfig { peer_reuses_session_ids: reuse, ..config(C, A, 100) });
        c.handle_record(record(A, C, first(1)), t0);
        c.handle_record(record(A, C, second.clone()), t0);
        assert_eq!(delivered(&mut c), vec![msg(1, 12), msg(2, 12)]);
        c.send(msg(3, 12), t0).expect("send");
        let _ = drain(&mut c);
        let _ = events(&mut c);
        // The agent restarted and opens session 2 again.
        c.handle_record(record(A, C, first(4)), t0);
        if reuse {
            assert_eq!(delivered(&mut c), vec![msg(4, 12)]);
            let evs = events(&mut c);
            assert!(
                matches!(evs[..], [E2eEvent::Restarted { old: 2, new: 2, reason: RestartReason::PeerNewSession }]),
                "{evs:?}"
            );
            // Our unacknowledged Message goes again in the new context.
            let again: Vec<_> = drain(&mut c).iter().map(sc).filter(|s| s.payload == vec![msg(3, 12)]).collect();
            assert_eq!(again.len(), 1);
            assert_eq!((again[0].session_id, again[0].sequence_id), (2, 1));
        } else {
            assert!(delivered(&mut c).is_empty(), "taken for a duplicate");
            assert_eq!(c.stats().duplicates, 1);
        }
        // After we left session 2, its Record 1 again.
        c.terminate("bye");
        let _ = drain(&mut c);
        let _ = events(&mut c);
        c.handle_record(record(A, C, first(5)), t0);
        if reuse {
            assert_eq!(delivered(&mut c), vec![msg(5, 12)]);
            assert_eq!(events(&mut c), vec![E2eEvent::Started { session_id: 2, by_peer: true }]);
        } else {
            assert!(delivered(&mut c).is_empty());
            assert_eq!(events(&mut c), vec![E2eEvent::Dropped(E2eDropped::StaleSession { session_id: 2 })]);
        }
    }
    // A Record 1 that acknowledges something is an ordinary (late) duplicate either way.
    let mut c = E2eSession::new(E2eConfig::new(C, A).with_reference_agent_tolerances());
    assert!(!c.config().resend_unacknowledged && c.config().early_7105_means_not_allowed);
    c.handle_record(record(A, C, first(1)), t0);
    c.handle_record(record(A, C, second), t0);
    c.send(msg(3, 12), t0).expect("send");
    let _ = drain(&mut c);
    let _ = delivered(&mut c);
    let _ = events(&mut c);
    c.handle_record(record(A, C, SessionContext { expected_id: 2, ..first(1) }), t0);
    assert!(delivered(&mut c).is_empty());
    assert!(events(&mut c).is_empty());
}

/// With `send_acknowledgements` off, the peer's data Records draw no empty Record; our next
/// Message carries the acknowledgement, and a gap is still asked for.
#[test]
fn without_acknowledgements_only_messages_and_requests_go_out() {
    let t0 = Instant::now();
    let mut c = E2eSession::new(E2eConfig { send_acknowledgements: false, ..config(C, A, 100) });
    let mut a = E2eSession::new(config(A, C, 9000));
    a.send(msg(1, 10), t0).expect("send");
    a.send(msg(2, 10), t0).expect("send");
    a.send(msg(3, 10), t0).expect("send");
    let out = drain(&mut a);
    c.handle_bytes(out[0].clone(), t0);
    c.handle_bytes(out[1].clone(), t0);
    assert_eq!(delivered(&mut c), vec![msg(1, 10), msg(2, 10)]);
    assert!(drain(&mut c).is_empty(), "no acknowledgement");
    c.send(msg(9, 10), t0).expect("send");
    let reply = drain(&mut c);
    assert_eq!(reply.len(), 1);
    assert_eq!(sc(&reply[0]).expected_id, 3, "the Message acknowledges");
    // A gap (4 lost, 5 arrives) is still asked for.
    a.send(msg(4, 10), t0).expect("send");
    a.send(msg(5, 10), t0).expect("send");
    let out2 = drain(&mut a);
    c.handle_bytes(out[2].clone(), t0);
    c.handle_bytes(out2[1].clone(), t0);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(t0 + Duration::from_secs(2));
    let asks: Vec<_> = drain(&mut c).iter().map(sc).filter(|s| s.retransmit_id != 0).collect();
    assert_eq!(asks.len(), 1);
    assert_eq!(asks[0].retransmit_id, 4, "asks for the agent's Record 4");
}
