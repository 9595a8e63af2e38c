//! Records made by hand (not by the layer) against the reference agent: what it does with
//! Records out of order, behind, twice, a retransmit request, a Record without payload entry,
//! interleaved segments, a forged signature and a TLS12 payload.

use std::time::Duration;

use bytes::Bytes;
use usp_core::e2e::{E2eEvent, SAR_BEGIN, SAR_COMPLETE, SAR_NONE};
use usp_core::msg::{Body, Response};
use usp_core::record::SessionContext;
use usp_core::request;
use usp_core::wire::{self, Limits};

use super::peer::{get, raw, raw_msg, replies_to, session_records, wait_replies, E2ePeer, Setup};

/// Records sent by hand in a context of our own numbering, and what the agent does with
/// them. The layer here only watches: it is set up for another agent, so it drops what
/// this one sends (the Records are kept in `received`) and sends nothing itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_neither_orders_nor_deduplicates_nor_retransmits() {
    let setup = Setup::start("order", "Require", 0);
    let mut p = setup.peer(|c| c.peer_id = "proto::somebody-else".into()).await;
    let sid = 5_000_000;
    p.send_record(&raw_msg(&p, sid, 1, get("Device.LocalAgent.EndpointID"), "o-1")).await;
    let r1 = wait_replies(&mut p, "o-1", 1).await;
    assert_eq!((r1[0].session_id, r1[0].sequence_id, r1[0].expected_id), (sid, 1, 2));
    // Record 3 before 2: answered at once, not held for the missing one (R-E2E.20).
    let third = raw_msg(&p, sid, 3, get("Device.DeviceInfo."), "o-3");
    p.send_record(&third).await;
    let r3 = wait_replies(&mut p, "o-3", 1).await;
    assert_eq!(r3[0].expected_id, 4, "expected_id = the last received + 1, gap or not");
    // Record 2, now behind: answered, not ignored (R-E2E.20); expected_id goes back.
    p.send_record(&raw_msg(&p, sid, 2, get("Device.LocalAgent.EndpointID"), "o-2")).await;
    let r2 = wait_replies(&mut p, "o-2", 1).await;
    assert_eq!(r2[0].expected_id, 3);
    // Record 3 again: answered again (R-E2E.25).
    p.send_record(&third).await;
    wait_replies(&mut p, "o-3", 2).await;
    // An Add that comes twice runs twice.
    let add = request::add()
        .object("Device.LocalAgent.Controller.", [("EndpointID", "proto::twice", true), ("Enable", "false", true)])
        .build()
        .expect("add");
    let add = raw_msg(&p, sid, 4, add, "o-add");
    p.send_record(&add).await;
    p.send_record(&add).await;
    let adds = wait_replies(&mut p, "o-add", 2).await;
    let said: Vec<String> = adds
        .iter()
        .map(|sc| {
            let m = wire::decode_msg(sc.payload[0].clone(), &Limits::default()).expect("msg");
            match m.body {
                Body::Response(Response::AddResp(a)) => {
                    let (_, ok) = a.per_object().into_iter().next().expect("one");
                    ok.expect("created").instantiated_path.to_string()
                }
                Body::Error(e) => format!("error {}: {}", e.err_code, e.err_msg),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    // The first run made the row; the second ran too and found its EndpointID taken by it.
    let row = said[0].trim_end_matches('.');
    assert!(row.starts_with("Device.LocalAgent.Controller."), "{said:?}");
    assert!(said[1].starts_with("error 7004") && said[1].contains(row), "the Add ran twice: {said:?}");
    // A retransmit request for its Record 1: never answered (the agent keeps nothing).
    let ask = raw(
        &p,
        SessionContext {
            session_id: sid,
            sequence_id: 5,
            expected_id: 2,
            retransmit_id: 1,
            payload_sar_state: SAR_NONE,
            payloadrec_sar_state: SAR_NONE,
            payload: vec![Bytes::new()],
        },
    );
    p.send_record(&ask).await;
    p.idle(Duration::from_millis(1500)).await;
    let ours = session_records(&p.received);
    assert_eq!(ours.iter().filter(|(_, sc)| sc.sequence_id == 1).count(), 1, "Record 1 was not sent again");
    // Every Record of the agent carried a Message: it never acknowledges on its own.
    assert!(ours.iter().all(|(_, sc)| sc.payload.len() == 1 && !sc.payload[0].is_empty()));
    assert!(p.disconnects_since(0).is_empty(), "{:?}", p.disconnects_since(0));

    // A Record without a payload entry (an empty payload, allowed since USP 1.2): the agent
    // ends the context with 7105 and opens one of its own: our session id + 1.
    let before = p.received.len();
    let bare = raw(
        &p,
        SessionContext {
            session_id: sid,
            sequence_id: 6,
            expected_id: 2,
            retransmit_id: 0,
            payload_sar_state: SAR_NONE,
            payloadrec_sar_state: SAR_NONE,
            payload: vec![],
        },
    );
    p.send_record(&bare).await;
    p.until("the agent's new context", |p| {
        session_records(&p.received[before..]).iter().any(|(_, sc)| sc.sequence_id == 1)
    })
    .await;
    assert_eq!(p.disconnects_since(before).first().map(|d| d.0), Some(7105));
    let (_, open) = &session_records(&p.received[before..])[0];
    assert_eq!((open.session_id, open.sequence_id, open.expected_id), (sid + 1, 1, 1));
    assert_eq!(open.payload, vec![Bytes::new()], "its opening Record: one empty payload entry");

    // A segmented Message with an acknowledgement between its Records: the reassembly
    // fails with 7105 and the Message is never answered.
    let before = p.received.len();
    let sid = 5_200_000;
    let whole = E2ePeer::encode(get("Device.LocalAgent.EndpointID"), "split");
    let (a, b) = whole.split_at(whole.len() / 2);
    let part = |seq: u64, state: i32, payload: &[u8]| SessionContext {
        session_id: sid,
        sequence_id: seq,
        expected_id: 1,
        retransmit_id: 0,
        payload_sar_state: state,
        payloadrec_sar_state: state,
        payload: vec![Bytes::copy_from_slice(payload)],
    };
    p.send_record(&raw(&p, part(1, SAR_BEGIN, a))).await;
    p.send_record(&raw(&p, part(2, SAR_NONE, &[]))).await;
    p.send_record(&raw(&p, part(3, SAR_COMPLETE, b))).await;
    p.until("a DisconnectRecord", |p| !p.disconnects_since(before).is_empty()).await;
    p.idle(Duration::from_millis(500)).await;
    assert_eq!(p.disconnects_since(before)[0].0, 7105);
    assert!(replies_to(&p, "split").is_empty());
    // The same three Records back to back, in a new context: answered.
    let sid = 5_300_000;
    let part = |seq: u64, state: i32, payload: &[u8]| SessionContext { session_id: sid, ..part(seq, state, payload) };
    p.send_record(&raw(&p, part(1, SAR_BEGIN, a))).await;
    p.send_record(&raw(&p, part(2, SAR_COMPLETE, b))).await;
    wait_replies(&mut p, "split", 1).await;
}

/// The agent checks no signature and signs nothing; it refuses TLS12 payloads with a
/// DisconnectRecord 7102 and drops its MQTT connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_integrity_check_and_no_e2e_tls() {
    let setup = Setup::start("integrity", "Require", 0);
    let mut p = setup.peer(|c| c.peer_id = "proto::somebody-else".into()).await;
    let sid = 6_000_000;
    let mut forged = raw_msg(&p, sid, 1, get("Device.LocalAgent.EndpointID"), "forged");
    forged.mac_signature = Bytes::from_static(b"\x30\x06\x02\x01\x01\x02\x01\x01");
    forged.sender_cert = Bytes::from_static(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    p.send_record(&forged).await;
    let r = wait_replies(&mut p, "forged", 1).await;
    assert_eq!(r.len(), 1, "a Record with a made-up signature is answered (R-E2E.23)");
    let (rec, _) = session_records(&p.received).into_iter().next().expect("one");
    assert!(rec.mac_signature.is_empty() && rec.sender_cert.is_empty());
    // Our layer, told to verify, refuses the agent's unsigned Records (R-E2E.29).
    let mut verifying = usp_core::e2e::E2eSession::new(usp_core::e2e::E2eConfig {
        peer_trust: Some(usp_core::e2e::PeerTrust::TrustOnFirstUse),
        ..usp_core::e2e::E2eConfig::new(p.me.as_str(), p.agent.as_str())
    });
    verifying.handle_record(rec, std::time::Instant::now());
    assert!(verifying.poll_delivered().is_none());
    assert!(matches!(
        verifying.poll_event(),
        Some(E2eEvent::Dropped(usp_core::e2e::E2eDropped::Integrity(usp_core::e2e::IntegrityError::Unsigned)))
    ));

    let before = p.received.len();
    let mut tls = raw_msg(&p, sid, 2, get("Device.LocalAgent.EndpointID"), "tls");
    tls.payload_security = 1;
    p.send_record(&tls).await;
    p.until("a DisconnectRecord", |p| !p.disconnects_since(before).is_empty()).await;
    assert_eq!(p.disconnects_since(before)[0].0, 7102);
    p.wait_connect_record().await;
    assert!(replies_to(&p, "tls").is_empty());
}
