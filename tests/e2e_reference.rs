//! The end-to-end session context (issue 13) against the reference agent built with its
//! experimental E2E support (`obuspa-e2e`, OB-USPA 11.0.4 with
//! `E2ESESSION_EXPERIMENTAL_USP_V_1_2`), over MQTT 5 through a real mosquitto on loopback.
//!
//! usp-client's MQTT transport carries the Records; [`usp_core::e2e::E2eSession`] is driven
//! by one helper here ([`E2ePeer`]), so the app's own wrapper can take its place later. The
//! agent's controller entry has `Controller.1.E2ESession.SessionMode` Require, Allow or Forbid
//! and `MaxUSPRecordSize` 0 or 1024. What these tests show is written down in the README
//! ("The reference agent's session context"): what works, and where the agent leaves the spec.

#[path = "e2e_reference/by_hand.rs"]
mod by_hand;
#[path = "e2e_reference/client.rs"]
mod client;
#[path = "e2e_reference/peer.rs"]
mod peer;

use std::time::Duration;

use bytes::Bytes;
use usp_core::e2e::{E2eConfig, E2eEvent, SAR_BEGIN, SAR_COMPLETE, SAR_INPROCESS, SAR_NONE};
use usp_core::msg::{Body, Response};
use usp_core::record::RecordType;
use usp_core::request;
use usp_core::request::CommandOutcome;
use usp_core::wire;

use peer::{get, session_records, E2ePeer, Setup};

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
    let sent_before = p.sent.len();
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
    let acks = p.sent.len() - sent_before - 1;
    println!("our layer sent {acks} acknowledgements for them (the agent never acknowledges on its own)");
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

/// Forbid: the agent answers a session-context Record with 7105 where the spec asks for
/// 7106; with `early_7105_means_not_allowed` our layer takes it as "not allowed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_mode_answers_7105() {
    let setup = Setup::start("forbid", "Forbid", 0);
    let mut p = setup.peer(|c| c.early_7105_means_not_allowed = true).await;
    let before = p.received.len();
    p.send_request(get("Device.LocalAgent.EndpointID")).await;
    p.until("the agent's refusal", |p| p.session.is_not_allowed()).await;
    let disc = p.disconnects_since(before);
    assert_eq!(disc.len(), 1);
    assert_eq!(disc[0].0, 7105, "{disc:?}");
    assert!(disc[0].1.contains("forbidden"), "{disc:?}");
    assert!(p.events.iter().any(|e| matches!(e, E2eEvent::NotAllowed { lost_messages: 1, .. })));
    assert!(p.inbox.is_empty());
    // Plain Records are answered.
    let plain = p.request_no_session(get("Device.LocalAgent.EndpointID")).await;
    assert!(matches!(plain, Response::GetResp(_)));
}

/// The agent forgets its context when it restarts: our next Record gets 7105 and, in
/// Require mode, a new context of the agent's with session id 2, every time. Our 7105
/// makes it answer with a DisconnectRecord and drop its MQTT connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_on_both_sides() {
    let setup = Setup::start("restart", "Require", 0);
    let mut p = setup.peer(|c| c.resend_unacknowledged = false).await;
    p.get(&["Device.LocalAgent.EndpointID"]).await;
    let ours = p.session.session_id().expect("ours");
    let mut openings = Vec::new();
    for round in 0..2 {
        p.proc_.stop();
        assert!(p.proc_.run(), "the agent starts again");
        p.wait_connect_record().await;
        let before = p.received.len();
        let events_before = p.events.len();
        p.send_request(get("Device.LocalAgent.EndpointID")).await;
        p.until("the agent's 7105 and its new context", |p| {
            !p.disconnects_since(before).is_empty()
                && session_records(&p.received[before..]).iter().any(|(_, sc)| sc.sequence_id == 1)
        })
        .await;
        p.idle(Duration::from_millis(300)).await;
        assert_eq!(p.disconnects_since(before)[0].0, 7105, "round {round}");
        let (_, open) = session_records(&p.received[before..]).into_iter().next().expect("opening");
        openings.push(open.session_id);
        let evs = p.events[events_before..].to_vec();
        assert!(evs.iter().any(|e| matches!(e, E2eEvent::Terminated { lost_messages: 1, .. })), "{evs:?}");
        // Our request was lost with the context: asked again, it is answered.
        let got = p.get(&["Device.LocalAgent.EndpointID"]).await;
        assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(p.agent.as_str()));
        if round == 0 {
            // We follow the agent's new context.
            assert!(evs.iter().any(|e| matches!(e, E2eEvent::Started { by_peer: true, .. })), "{evs:?}");
            assert_eq!(p.session.session_id(), Some(open.session_id));
        } else {
            // The same id again: a context we left, so its opening is ignored and our
            // next request starts a context of ours, which the agent follows.
            assert!(
                evs.iter().any(|e| matches!(e, E2eEvent::Dropped(usp_core::e2e::E2eDropped::StaleSession { .. }))),
                "{evs:?}"
            );
            assert_ne!(p.session.session_id(), Some(open.session_id));
        }
    }
    assert_eq!(openings, vec![2, 2], "the agent reuses session id 2 after every restart");
    assert_ne!(ours, 2);

    // Our 7105: the agent answers with a DisconnectRecord and reconnects to the broker.
    let before = p.received.len();
    assert_eq!(p.session.terminate("test ends the context"), 0);
    p.flush().await;
    p.wait_connect_record().await;
    assert_eq!(p.disconnects_since(before).first().map(|d| d.0), Some(7105));
    // A new context of ours afterwards works.
    let got = p.get(&["Device.LocalAgent.EndpointID"]).await;
    assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(p.agent.as_str()));
}

/// A Message the agent does not answer (a NotifyResp) stays unacknowledged: the agent
/// acknowledges only on the Records of its next Message. With timer resends on (the
/// default) the layer sends it again (the agent runs each copy) and gives up with a restart
/// after `max_retransmit_tries`; with `resend_unacknowledged` off it waits quietly, and the
/// next answer acknowledges it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_message_and_timer_resends() {
    let setup = Setup::start("unanswered", "Require", 0);
    for resend in [true, false] {
        let mut p = setup
            .peer(|c| {
                c.resend_unacknowledged = resend;
                c.retransmit_interval = Duration::from_millis(200);
                c.max_retransmit_tries = 2;
            })
            .await;
        p.get(&["Device.LocalAgent.EndpointID"]).await;
        let notify_resp = usp_core::msg::Msg::new(
            "nr-1",
            Body::Response(Response::NotifyResp(usp_core::msg::NotifyResp { subscription_id: "none".into() })),
        );
        let mut out = Vec::new();
        wire::encode_msg(&notify_resp, &mut out);
        p.session.send(Bytes::from(out), std::time::Instant::now()).expect("send");
        p.flush().await;
        p.idle(Duration::from_millis(1500)).await;
        let restarts = p.events_of(|e| matches!(e, E2eEvent::Restarted { .. }));
        if resend {
            assert!(p.session.stats().records_resent >= 2, "{:?}", p.session.stats());
            assert!(restarts >= 1, "gave up and restarted: {:?}", p.events);
        } else {
            assert_eq!(p.session.stats().records_resent, 0);
            assert_eq!(restarts, 0, "{:?}", p.events);
            assert!(p.session.unacknowledged() >= 1);
            let got = p.get(&["Device.LocalAgent.EndpointID"]).await;
            assert_eq!(got.value("Device.LocalAgent.EndpointID"), Some(p.agent.as_str()));
            // Only our acknowledgement of that answer is left.
            assert_eq!(p.session.unacknowledged(), 1);
        }
        drop(p);
    }
}

/// The same through RabbitMQ over STOMP: every request in our context, and a GetResp cut
/// at 1024 bytes by the agent, reassembled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stomp_through_rabbitmq() {
    let setup = Setup::start_stomp("stomp", "Require", 1024);
    let mut p = setup
        .peer(|c| {
            c.max_record_size = 1024;
            c.resend_unacknowledged = false;
        })
        .await;
    suite(&mut p, 1).await;
    let before = p.received.len();
    let all = p.get(&["Device."; 5]).await;
    assert!(all.params().into_vec().len() > 500);
    let recs = session_records(&p.received[before..]);
    assert!(recs.len() > 20, "{} Records", recs.len());
    assert_eq!(recs[0].1.payload_sar_state, SAR_BEGIN);
    assert!(p.received_sizes[before..].iter().all(|s| *s <= 1024));
    let sid = p.session.session_id().expect("ours");
    assert!(session_records(&p.received).iter().all(|(_, sc)| sc.session_id == sid));
    assert_eq!(p.events_of(|e| matches!(e, E2eEvent::Restarted { .. } | E2eEvent::Terminated { .. })), 0);
}

/// After a restart of its process the agent opens its first context with session id 2
/// again. When that is the context we are in (the agent opened it before its restart) and
/// the agent speaks first (a notification of a persistent subscription), its Records pass
/// for old duplicates: the notification and the answers to our requests are ignored. With
/// `peer_reuses_session_ids` its Record 1 opens a new context and both come through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_id_2_again_after_its_restart() {
    let setup = Setup::start("reuse", "Require", 0);
    for tolerate in [false, true] {
        let mut p = setup
            .peer(|c| {
                c.resend_unacknowledged = false;
                c.peer_reuses_session_ids = tolerate;
            })
            .await;
        p.get(&["Device.LocalAgent.EndpointID"]).await;
        // Into the agent's context 2: it restarts and refuses our next Record with 7105
        // and its own context.
        p.proc_.stop();
        assert!(p.proc_.run());
        p.wait_connect_record().await;
        p.send_request(get("Device.LocalAgent.EndpointID")).await;
        p.until("the agent's context", |p| p.session.session_id() == Some(2)).await;
        let sub = request::add()
            .object(
                "Device.LocalAgent.Subscription.",
                [
                    ("Enable", "true", true),
                    ("ID", "reuse", true),
                    ("NotifType", "ObjectCreation", true),
                    ("ReferenceList", "Device.LocalAgent.Controller.", true),
                    ("Persistent", "true", true),
                ],
            )
            .build()
            .expect("add");
        let Response::AddResp(_) = p.request(sub).await else { panic!("not an AddResp") };
        // It restarts and speaks first: the notification opens session 2 again.
        p.proc_.stop();
        assert!(p.proc_.run());
        p.wait_connect_record().await;
        let before = p.received.len();
        let out = p.proc_.cli(&["add", "Device.LocalAgent.Controller."]);
        assert!(out.contains("Device.LocalAgent.Controller."), "{out}");
        p.until("the notification's Record", |p| !session_records(&p.received[before..]).is_empty()).await;
        let (_, open) = session_records(&p.received[before..]).into_iter().next().expect("one");
        assert_eq!((open.session_id, open.sequence_id, open.expected_id), (2, 1, 1));
        let id = p.send_request(get("Device.LocalAgent.EndpointID")).await;
        p.idle(Duration::from_secs(2)).await;
        let notified = p.inbox.iter().any(|m| matches!(m.body, Body::Request(usp_core::msg::Request::Notify(_))));
        let answered = p.inbox.iter().any(|m| *m.msg_id == *id);
        if tolerate {
            assert!(notified && answered, "events: {:?}", p.events);
        } else {
            assert!(!notified && !answered, "taken for duplicates; events: {:?}", p.events);
            assert!(p.session.stats().duplicates >= 2, "{:?}", p.session.stats());
        }
        drop(p);
    }
}

/// `E2ESession.Reset()` in Require mode: answered in the context, then the agent ends it
/// (7105) and opens one of its own; `SessionMode` set to Forbid ends it too (7105) and a
/// plain Record is answered afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_session_mode_changes() {
    let setup = Setup::start("reset", "Require", 0);
    let mut p =
        setup.peer(|c| *c = std::mem::replace(c, E2eConfig::new("", "")).with_reference_agent_tolerances()).await;
    p.get(&["Device.LocalAgent.EndpointID"]).await;
    let ours = p.session.session_id().expect("ours");
    let before = p.received.len();
    let reset = request::operate("Device.LocalAgent.Controller.1.E2ESession.Reset()").build().expect("operate");
    let Response::OperateResp(op) = p.request(reset).await else { panic!("not an OperateResp") };
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    assert!(!matches!(outcome, CommandOutcome::Failed(_)), "{outcome:?}");
    p.until("the agent's new context", |p| p.session.session_id().is_some_and(|s| s != ours)).await;
    assert_eq!(p.disconnects_since(before).first().map(|d| d.0), Some(7105));
    assert_eq!(p.session.session_id(), Some(ours + 1), "the agent's new context: our id + 1");
    p.get(&["Device.LocalAgent.EndpointID"]).await;

    // Forbid while the context is up: the Set is answered, then 7105.
    let before = p.received.len();
    let set = request::set()
        .param("Device.LocalAgent.Controller.1.E2ESession.SessionMode", "Forbid", true)
        .build()
        .expect("set");
    let Response::SetResp(_) = p.request(set).await else { panic!("not a SetResp") };
    p.until("the agent's 7105", |p| !p.disconnects_since(before).is_empty()).await;
    assert_eq!(p.disconnects_since(before)[0].0, 7105);
    let plain = p.request_no_session(get("Device.LocalAgent.EndpointID")).await;
    assert!(matches!(plain, Response::GetResp(_)));
    // Our DisconnectRecord 7106: answered with a DisconnectRecord, and the agent reconnects.
    let before = p.received.len();
    let seen_connects = p.received.iter().filter(|r| matches!(r.record_type, RecordType::MqttConnect { .. })).count();
    p.send_raw(usp_core::e2e::not_allowed_record("1.3", &p.me, &p.agent)).await;
    p.until("the agent's reconnection", |p| {
        p.received.iter().filter(|r| matches!(r.record_type, RecordType::MqttConnect { .. })).count() > seen_connects
    })
    .await;
    assert_eq!(p.disconnects_since(before).first().map(|d| d.0), Some(7105));
}
