//! The end-to-end session context (issue 13) against the reference agent built with its
//! experimental E2E support (`obuspa-e2e`, OB-USPA 11.0.4 with
//! `E2ESESSION_EXPERIMENTAL_USP_V_1_2`), over MQTT 5 through a real mosquitto on loopback.
//!
//! usp-client's MQTT transport carries the Records; [`usp_core::e2e::E2eSession`] is driven
//! by one helper here ([`E2ePeer`]), so the app's own wrapper can take its place later. The
//! agent's controller entry has `Controller.1.E2ESession.SessionMode` Require, Allow or Forbid
//! and `MaxUSPRecordSize` 0 or 1024. What these tests show is written down in the README
//! ("The reference agent's session context"): what works, and where the agent leaves the spec.

#[path = "e2e_reference/peer.rs"]
mod peer;

use std::time::Duration;

use bytes::Bytes;
use usp_core::e2e::{E2eConfig, E2eEvent, SAR_BEGIN, SAR_COMPLETE, SAR_INPROCESS, SAR_NONE};
use usp_core::msg::{Body, Response};
use usp_core::record::{Record, RecordType, SessionContext};
use usp_core::request;
use usp_core::request::CommandOutcome;

use peer::{agent_lines, session_records, E2ePeer, Setup};

/// Get, Set, Add, Delete and Operate through the session context; returns the Records the
/// agent sent for them.
async fn suite(p: &mut E2ePeer, n: u32) {
    let got = p.get(&["Device.LocalAgent.EndpointID"]).await;
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(p.agent.as_str()));

    let other = format!("proto::e2e-other-{n}");
    let add = request::add()
        .object("Device.LocalAgent.Controller.", [("EndpointID", other.as_str(), true), ("Enable", "false", true)])
        .build()
        .expect("add");
    let Response::AddResp(added) = p.request(add).await else { panic!("not an AddResp") };
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let path = ok.expect("created").instantiated_path.to_string();

    let alias = format!("e2e-{n}");
    let set = request::set().param(&format!("{path}Alias"), &alias, true).build().expect("set");
    let Response::SetResp(_) = p.request(set).await else { panic!("not a SetResp") };
    let got = p.get(&[format!("{path}Alias").as_str()]).await;
    assert_eq!(got.value(&format!("{path}Alias")), Some(alias.as_str()));

    let del = request::delete([path.as_str()], false).expect("delete");
    let Response::DeleteResp(d) = p.request(del).await else { panic!("not a DeleteResp") };
    let (_, d) = d.per_object().into_iter().next().expect("one result");
    assert_eq!(d.expect("deleted").affected_paths.iter().map(|p| p.to_string()).collect::<Vec<_>>(), vec![path]);

    let op = request::operate("Device.ScheduleTimer()").arg("DelaySeconds", "1").command_key("e2e").build();
    let Response::OperateResp(op) = p.request(op.expect("operate")).await else { panic!("not an OperateResp") };
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    assert!(!matches!(outcome, CommandOutcome::Failed(_)), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_mode_carries_every_message_in_our_context() {
    let setup = Setup::start("require", "Require", 0);
    let mut p = setup.peer(|_| {}).await;
    suite(&mut p, 1).await;
    let status = p.get(&["Device.LocalAgent.Controller.1.E2ESession.Status"]).await;
    assert_eq!(status.value("Device.LocalAgent.Controller.1.E2ESession.Status"), Some("Up"));

    // Everything the agent sent was in our context, numbered from 1 without a gap, one
    // payload entry each, unsigned, and acknowledging every Record of ours before it.
    let ours = p.session.session_id().expect("a context");
    let theirs = session_records(&p.received);
    assert!(theirs.len() >= 6, "{theirs:?}");
    for (i, (rec, sc)) in theirs.iter().enumerate() {
        assert_eq!(sc.session_id, ours);
        assert_eq!(sc.sequence_id, i as u64 + 1, "the agent numbers its Records from 1");
        assert_eq!(sc.payload.len(), 1);
        assert_eq!((sc.payload_sar_state, sc.payloadrec_sar_state), (SAR_NONE, SAR_NONE));
        assert_eq!(sc.retransmit_id, 0);
        assert!(rec.mac_signature.is_empty() && rec.sender_cert.is_empty(), "the agent signs nothing");
        assert_eq!(&*rec.version, "1.3");
    }
    // The agent's expected_id counts every Record of ours, also our empty acknowledgements.
    let last = &theirs.last().expect("one").1;
    assert!(last.expected_id >= 6);
    assert!(p.session.is_established());
    assert_eq!(p.session.stats().records_resent, 0);
    assert_eq!(p.events_of(|e| matches!(e, E2eEvent::Restarted { .. } | E2eEvent::Terminated { .. })), 0);

    // A no_session_context Record while the agent requires a context: no answer; the agent
    // ends the context with a DisconnectRecord 7105 and opens a new one of its own.
    let before = p.received.len();
    p.send_no_session(request::get(["Device.DeviceInfo."]).build().expect("get"), "plain").await;
    p.until("the agent's 7105 and its new context", |p| {
        p.events.iter().any(|e| matches!(e, E2eEvent::Terminated { .. }))
            && p.events.iter().any(|e| matches!(e, E2eEvent::Started { by_peer: true, .. }))
    })
    .await;
    assert!(p.inbox.iter().all(|m| &*m.msg_id != "plain"), "the plain Get was not answered");
    let disc = p.received[before..]
        .iter()
        .find_map(|r| match &r.record_type {
            RecordType::Disconnect { reason_code, .. } => Some(*reason_code),
            _ => None,
        })
        .expect("a DisconnectRecord");
    assert_eq!(disc, 7105);
    let new_sid = p.session.session_id().expect("the agent's context");
    assert_ne!(new_sid, ours);
    // ...and the requests go on in the agent's context.
    suite(&mut p, 2).await;
    assert_eq!(p.session.session_id(), Some(new_sid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segmented_both_ways_at_1024_bytes() {
    let setup = Setup::start("sar", "Require", 1024);
    let mut p = setup
        .peer(|c| {
            c.max_record_size = 1024;
        })
        .await;
    // A large GetResp: the agent cuts it into Records of at most 1024 bytes.
    let before = p.received.len();
    let all = p.get(&["Device."; 20]).await;
    let params = all.params().into_vec();
    assert!(params.len() > 2000, "the whole data model 20 times: {} parameters", params.len());
    let recs = session_records(&p.received[before..]);
    assert!(recs.len() > 50, "segmented into {} Records", recs.len());
    let states: Vec<i32> = recs.iter().map(|(_, sc)| sc.payload_sar_state).collect();
    assert_eq!(states[0], SAR_BEGIN);
    assert_eq!(*states.last().expect("one"), SAR_COMPLETE);
    assert!(states[1..states.len() - 1].iter().all(|s| *s == SAR_INPROCESS), "{states:?}");
    let sizes: Vec<usize> = p.received_sizes[before..].to_vec();
    assert!(sizes.iter().all(|s| *s <= 1024), "every Record fits the agent's MaxUSPRecordSize: {sizes:?}");
    for w in recs.windows(2) {
        assert_eq!(w[1].1.sequence_id, w[0].1.sequence_id + 1);
        assert_eq!(w[1].1.payloadrec_sar_state, w[1].1.payload_sar_state);
    }
    println!(
        "GetResp of Device. x 20: {} parameters, {} bytes in {} Records of at most {} bytes",
        params.len(),
        sizes.iter().sum::<usize>(),
        recs.len(),
        sizes.iter().max().expect("one")
    );

    // Our request cut at 1024 bytes: a Get of 100 paths; the agent puts it back together.
    let paths: Vec<String> = (0..100).map(|i| format!("Device.LocalAgent.Controller.1.Alias{i:03}x.")).collect();
    let mut paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    paths.push("Device.LocalAgent.EndpointID");
    let sent_before = p.sent.len();
    let req = request::get(&paths).build().expect("get");
    let Response::GetResp(r) = p.request(req).await else { panic!("not a GetResp") };
    let ours = session_records(&p.sent_decoded()[sent_before..]);
    let data: Vec<_> = ours.iter().filter(|(_, sc)| sc.payload.iter().any(|x| !x.is_empty())).collect();
    assert!(data.len() >= 3, "our Get went in {} Records", data.len());
    assert_eq!(data[0].1.payload_sar_state, SAR_BEGIN);
    assert!(p.sent[sent_before..].iter().all(|b| b.len() <= 1024));
    assert_eq!(r.req_path_results.len(), 101, "the agent answered every path of the reassembled Get");
    assert_eq!(r.value("Device.LocalAgent.EndpointID"), Some(p.agent.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_mode_takes_both_record_types() {
    let setup = Setup::start("allow", "Allow", 0);
    let mut p = setup.peer(|_| {}).await;
    // Without a context: plain Records are answered in kind.
    let plain = p.request_no_session(request::get(["Device.LocalAgent.EndpointID"]).build().expect("get")).await;
    assert!(matches!(plain, Response::GetResp(_)));
    // With one: answered in the context.
    suite(&mut p, 1).await;
    let sid = p.session.session_id().expect("our context");
    assert!(session_records(&p.received).iter().all(|(_, sc)| sc.session_id == sid));
    // A plain Record while the context is up: not answered; the context is ended (7105);
    // the agent does not start one of its own in Allow mode.
    p.send_no_session(request::get(["Device.DeviceInfo."]).build().expect("get"), "plain-2").await;
    p.until("the agent's 7105", |p| p.events.iter().any(|e| matches!(e, E2eEvent::Terminated { .. }))).await;
    assert!(p.session.session_id().is_none());
    // The next plain Record is answered again, and a new context of ours works.
    let plain = p.request_no_session(request::get(["Device.LocalAgent.EndpointID"]).build().expect("get")).await;
    assert!(matches!(plain, Response::GetResp(_)));
    suite(&mut p, 2).await;
    assert_ne!(p.session.session_id(), Some(sid));
}
