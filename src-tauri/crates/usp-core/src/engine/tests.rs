use super::*;
use crate::msg::{GetRequestedPathResult, GetResp, Notification, Params, ResolvedPathResult, ValueChangeNotif};
use crate::request;

fn eid(s: &str) -> EndpointId {
    s.parse().expect("eid")
}

/// The agent end of an in-memory link: decodes what the controller sent and
/// builds Records back, addressed as a real agent would.
struct FakeAgent {
    id: EndpointId,
    controller: EndpointId,
}

impl FakeAgent {
    fn new() -> Self {
        Self { id: eid("proto::fake-agent"), controller: eid("self::ctl") }
    }
    fn record(&self, rt: RecordType) -> Bytes {
        let rec = Record::new("1.3", self.controller.as_str(), self.id.as_str(), rt);
        let mut out = Vec::new();
        wire::encode_record(&rec, &mut out);
        Bytes::from(out)
    }
    fn msg(&self, m: &Msg) -> Bytes {
        let mut payload = Vec::new();
        wire::encode_msg(m, &mut payload);
        self.record(RecordType::NoSessionContext { payload: Bytes::from(payload) })
    }
    fn connect(&self) -> Bytes {
        self.record(RecordType::WebSocketConnect)
    }
    /// Reads a Record the controller sent, returns its Msg.
    fn read(&self, bytes: Bytes) -> Msg {
        let rec = wire::decode_record(bytes, &Limits::default()).expect("record");
        assert_eq!(&*rec.to_id, self.id.as_str());
        assert_eq!(&*rec.from_id, self.controller.as_str());
        assert_eq!(&*rec.version, USP_VERSION);
        match rec.record_type {
            RecordType::NoSessionContext { payload } => wire::decode_msg(payload, &Limits::default()).expect("msg"),
            other => panic!("unexpected record {other:?}"),
        }
    }
    fn get_resp(&self, msg_id: &str, path: &str, value: &str) -> Bytes {
        let (obj, name) = path.rsplit_once('.').expect("param path");
        let resp = GetResp {
            req_path_results: vec![GetRequestedPathResult {
                requested_path: path.into(),
                err_code: 0,
                err_msg: Text::new(),
                resolved_path_results: vec![ResolvedPathResult {
                    resolved_path: format!("{obj}.").into(),
                    result_params: [(name, value)].into_iter().collect(),
                }],
            }],
        };
        self.msg(&Msg::new(msg_id, Body::Response(Response::GetResp(resp))))
    }
}

fn connected_link() -> (Link, FakeAgent, Instant) {
    let agent = FakeAgent::new();
    let mut link = Link::new(agent.controller.clone(), None, LinkConfig::default());
    let t0 = Instant::now();
    link.handle_record(agent.connect(), t0);
    assert_eq!(link.poll_event(), Some(Event::Connected { agent: agent.id.clone() }));
    (link, agent, t0)
}

fn get(path: &str) -> Request {
    request::get([path]).build().expect("get")
}

#[test]
fn cannot_send_before_the_agent_is_known() {
    let mut link = Link::new(eid("self::ctl"), None, LinkConfig::default());
    assert_eq!(link.send(get("Device.DeviceInfo."), Instant::now()), Err(SendError::AgentUnknown));
    assert!(link.poll_transmit().is_none());
}

#[test]
fn replies_out_of_order_reach_the_right_request() {
    let (mut link, agent, t0) = connected_link();
    let ids: Vec<RequestId> =
        (0..50).map(|i| link.send(get(&format!("Device.X.{}.Name", i + 1)), t0).expect("send")).collect();
    let mut sent = Vec::new();
    while let Some(b) = link.poll_transmit() {
        sent.push(agent.read(b));
    }
    assert_eq!(sent.len(), 50);
    let unique: std::collections::HashSet<_> = sent.iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(unique.len(), 50, "msg_ids are unique");
    // Answer in reverse order, each with a value naming its own request.
    for m in sent.iter().rev() {
        let Body::Request(Request::Get(g)) = &m.body else { panic!("not a get") };
        link.handle_record(agent.get_resp(&m.msg_id, &g.param_paths[0], &m.msg_id), t0);
    }
    let mut done = 0;
    while let Some(ev) = link.poll_event() {
        let Event::Completed { id, result } = ev else { panic!("unexpected {ev:?}") };
        let Ok(Response::GetResp(resp)) = result else { panic!("failed: {result:?}") };
        assert_eq!(resp.params()[0].value, id.0, "value came back to the request that asked");
        assert!(ids.contains(&id));
        done += 1;
    }
    assert_eq!(done, 50);
    assert_eq!(link.outstanding(), 0);
}

#[test]
fn unknown_msg_ids_are_ignored() {
    let (mut link, agent, t0) = connected_link();
    let id = link.send(get("Device.A.B"), t0).expect("send");
    link.handle_record(agent.get_resp("made-up", "Device.A.B", "x"), t0);
    assert_eq!(link.poll_event(), Some(Event::Dropped(Dropped::UnknownMsgId("made-up".into()))));
    assert_eq!(link.outstanding(), 1);
    link.handle_record(agent.get_resp(&id.0, "Device.A.B", "y"), t0);
    assert!(matches!(link.poll_event(), Some(Event::Completed { result: Ok(_), .. })));
    // A second reply to the same request is a duplicate: ignored.
    link.handle_record(agent.get_resp(&id.0, "Device.A.B", "z"), t0);
    assert!(matches!(link.poll_event(), Some(Event::Dropped(Dropped::UnknownMsgId(_)))));
}

#[test]
fn timeouts_fire_at_the_deadline_and_late_replies_are_ignored() {
    let (mut link, agent, t0) = connected_link();
    let slow = link.send_with_timeout(get("Device.A.B"), Duration::from_secs(5), t0).expect("send");
    let fast = link.send_with_timeout(get("Device.A.C"), Duration::from_secs(2), t0).expect("send");
    assert_eq!(link.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    link.handle_timeout(t0 + Duration::from_millis(1999));
    assert!(link.poll_event().is_none());
    link.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(
        link.poll_event(),
        Some(Event::Completed { id: fast.clone(), result: Err(RequestError::Timeout(Duration::from_secs(2))) })
    );
    assert_eq!(link.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    // The slow one is answered in time; its timer must not fire afterwards.
    link.handle_record(agent.get_resp(&slow.0, "Device.A.B", "1"), t0 + Duration::from_secs(3));
    assert!(matches!(link.poll_event(), Some(Event::Completed { result: Ok(_), .. })));
    assert_eq!(link.poll_timeout(), None);
    link.handle_timeout(t0 + Duration::from_secs(10));
    assert!(link.poll_event().is_none());
    // The late reply to the timed-out request is ignored.
    link.handle_record(agent.get_resp(&fast.0, "Device.A.C", "late"), t0 + Duration::from_secs(11));
    assert!(matches!(link.poll_event(), Some(Event::Dropped(Dropped::UnknownMsgId(_)))));
}

#[test]
fn errors_and_wrong_response_types_fail_the_request() {
    let (mut link, agent, t0) = connected_link();
    let a = link.send(get("Device.A.B"), t0).expect("send");
    let b = link.send(get("Device.A.C"), t0).expect("send");
    let err = msg::Error {
        err_code: 7004,
        err_msg: "Invalid arguments".into(),
        param_errs: vec![msg::ParamError { param_path: "Device.A.B".into(), err_code: 7010, err_msg: "no".into() }],
    };
    link.handle_record(agent.msg(&Msg::new(a.0.clone(), Body::Error(err))), t0);
    let Some(Event::Completed { result: Err(RequestError::Usp(e)), .. }) = link.poll_event() else { panic!() };
    assert_eq!(e.code, 7004);
    assert_eq!(e.param_errs, vec![("Device.A.B".to_owned(), 7010, "no".to_owned())]);
    assert!(e.to_string().contains("invalid arguments (7004)"), "{e}");
    let set_resp = Response::SetResp(msg::SetResp::default());
    link.handle_record(agent.msg(&Msg::new(b.0.clone(), Body::Response(set_resp))), t0);
    assert_eq!(
        link.poll_event(),
        Some(Event::Completed {
            id: b,
            result: Err(RequestError::UnexpectedResponse { expected: MsgType::GetResp, got: MsgType::SetResp })
        })
    );
}

#[test]
fn notifications_are_surfaced_and_answered_when_asked() {
    let (mut link, agent, t0) = connected_link();
    let notify = Notify {
        subscription_id: "sub-1".into(),
        send_resp: true,
        notification: Notification::ValueChange(ValueChangeNotif {
            param_path: "Device.WiFi.SSID.1.SSID".into(),
            param_value: "home".into(),
        }),
    };
    link.handle_record(agent.msg(&Msg::new("ValueChange-1", Body::Request(Request::Notify(notify.clone())))), t0);
    assert_eq!(link.poll_event(), Some(Event::Notification { msg_id: "ValueChange-1".into(), notify: notify.clone() }));
    let resp = agent.read(link.poll_transmit().expect("NotifyResp sent"));
    assert_eq!(&*resp.msg_id, "ValueChange-1");
    assert_eq!(resp.body, Body::Response(Response::NotifyResp(msg::NotifyResp { subscription_id: "sub-1".into() })));
    // send_resp = false: no reply.
    let quiet = Notify { send_resp: false, ..notify };
    link.handle_record(agent.msg(&Msg::new("ValueChange-2", Body::Request(Request::Notify(quiet)))), t0);
    assert!(matches!(link.poll_event(), Some(Event::Notification { .. })));
    assert!(link.poll_transmit().is_none());
}

#[test]
fn other_requests_from_the_agent_get_error_7001() {
    let (mut link, agent, t0) = connected_link();
    link.handle_record(agent.msg(&Msg::new("agent-get-1", Body::Request(get("Device.")))), t0);
    let reply = agent.read(link.poll_transmit().expect("error sent"));
    assert_eq!(&*reply.msg_id, "agent-get-1");
    let Body::Error(e) = reply.body else { panic!("not an error") };
    assert_eq!(e.err_code, 7001);
}

#[test]
fn records_not_for_us_or_from_strangers_are_dropped() {
    let (mut link, agent, t0) = connected_link();
    let id = link.send(get("Device.A.B"), t0).expect("send");
    let _ = link.poll_transmit();
    // Addressed to someone else.
    let mut payload = Vec::new();
    let m = Msg::new(id.0.clone(), Body::Response(Response::GetResp(GetResp::default())));
    wire::encode_msg(&m, &mut payload);
    let rec = Record::new(
        "1.3",
        "self::someone-else",
        agent.id.as_str(),
        RecordType::NoSessionContext { payload: Bytes::from(payload.clone()) },
    );
    let mut out = Vec::new();
    wire::encode_record(&rec, &mut out);
    link.handle_record(Bytes::from(out), t0);
    assert!(matches!(link.poll_event(), Some(Event::Dropped(Dropped::NotForUs { .. }))));
    // From another agent.
    let rec = Record::new(
        "1.3",
        agent.controller.as_str(),
        "proto::impostor",
        RecordType::NoSessionContext { payload: Bytes::from(payload) },
    );
    let mut out = Vec::new();
    wire::encode_record(&rec, &mut out);
    link.handle_record(Bytes::from(out), t0);
    assert!(matches!(link.poll_event(), Some(Event::Dropped(Dropped::WrongSender { .. }))));
    // Garbage.
    link.handle_record(Bytes::from_static(b"\xff\xff\xff\xff garbage"), t0);
    assert!(matches!(link.poll_event(), Some(Event::Dropped(Dropped::Malformed(_)))));
    // Over the size limit.
    let mut small = Link::new(
        agent.controller.clone(),
        Some(agent.id.clone()),
        LinkConfig { limits: Limits { max_record_size: 64, ..Limits::default() }, ..LinkConfig::default() },
    );
    small.handle_record(agent.get_resp("x", "Device.A.B", &"v".repeat(100)), t0);
    let Some(Event::Dropped(Dropped::Malformed(why))) = small.poll_event() else { panic!() };
    assert!(why.contains("limit"), "{why}");
    // The request is still outstanding and completes normally.
    assert_eq!(link.outstanding(), 1);
    link.handle_record(agent.get_resp(&id.0, "Device.A.B", "ok"), t0);
    assert!(matches!(link.poll_event(), Some(Event::Completed { result: Ok(_), .. })));
}

#[test]
fn session_context_is_answered_with_disconnect_7106() {
    let (mut link, agent, t0) = connected_link();
    link.handle_record(agent.record(RecordType::SessionContext(Default::default())), t0);
    let out = link.poll_transmit().expect("disconnect sent");
    let rec = wire::decode_record(out, &Limits::default()).expect("record");
    assert_eq!(
        rec.record_type,
        RecordType::Disconnect { reason: "Session Context not allowed".into(), reason_code: 7106 }
    );
    assert!(matches!(link.poll_event(), Some(Event::Dropped(Dropped::Unsupported(_)))));
    link.handle_record(agent.record(RecordType::Disconnect { reason: "bye".into(), reason_code: 7105 }), t0);
    assert_eq!(link.poll_event(), Some(Event::Disconnect { reason_code: 7105, reason: "bye".into() }));
}

#[test]
fn connection_loss_fails_every_outstanding_request() {
    let (mut link, _agent, t0) = connected_link();
    for i in 0..3 {
        link.send(get(&format!("Device.A.{}.B", i + 1)), t0).expect("send");
    }
    link.connection_lost("network down");
    let mut failed = 0;
    while let Some(ev) = link.poll_event() {
        assert!(
            matches!(ev, Event::Completed { result: Err(RequestError::Disconnected(ref r)), .. } if r == "network down")
        );
        failed += 1;
    }
    assert_eq!(failed, 3);
    assert_eq!(link.poll_timeout(), None);
    assert!(link.poll_transmit().is_none());
}

#[test]
fn operate_without_response_completes_at_once() {
    let (mut link, agent, t0) = connected_link();
    let req = request::operate("Device.Reboot()").send_resp(false).build().expect("op");
    let id = link.send(req, t0).expect("send");
    let sent = agent.read(link.poll_transmit().expect("sent"));
    let Body::Request(Request::Operate(op)) = sent.body else { panic!() };
    assert!(!op.send_resp);
    assert!(matches!(link.poll_event(), Some(Event::Completed { id: ref i, result: Ok(_) }) if *i == id));
    assert_eq!(link.outstanding(), 0);
}

#[test]
fn too_many_outstanding_is_refused() {
    let agent = FakeAgent::new();
    let mut link = Link::new(
        agent.controller.clone(),
        Some(agent.id.clone()),
        LinkConfig { max_outstanding: 2, ..LinkConfig::default() },
    );
    let t0 = Instant::now();
    link.send(get("Device.A.B"), t0).expect("1");
    link.send(get("Device.A.B"), t0).expect("2");
    assert_eq!(link.send(get("Device.A.B"), t0), Err(SendError::TooManyOutstanding(2)));
    let _ = Params::new();
}
