//! The sans-IO controller engine against the simulated agent's brain, in memory, under a
//! virtual clock: no sockets, no sleeping, fully deterministic.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use sim_home::agent::Agent;
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use usp_core::engine::{Event, Link, LinkConfig, RequestError, RequestId};
use usp_core::msg::{self, Body, Msg, Notification, Response};
use usp_core::record::{Record, RecordType};
use usp_core::request::{self, CommandOutcome};
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

/// A virtual clock shared by both ends.
struct Clock {
    mono: Instant,
    wall: SystemTime,
    offset: Duration,
}

impl Clock {
    fn new() -> Self {
        Self {
            mono: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000),
            offset: Duration::ZERO,
        }
    }
    fn now(&self) -> Instant {
        self.mono + self.offset
    }
    fn wall(&self) -> SystemTime {
        self.wall + self.offset
    }
}

struct Pair {
    link: Link,
    agent: Agent,
    clock: Clock,
    me: EndpointId,
    events: Vec<Event>,
}

impl Pair {
    fn new(policy: UnknownControllerPolicy, role: Option<&str>) -> Self {
        let scenario = Scenario::builtin();
        let spec = scenario.agents.iter().find(|a| a.key == "gateway").expect("gateway spec");
        let clock = Clock::new();
        let mut agent = Agent::new(spec, policy, clock.wall()).expect("agent");
        let me: EndpointId = "self::in-memory-ctl".parse().expect("eid");
        if let Some(role) = role {
            agent.add_controller(me.clone(), role).expect("provision");
        }
        agent.controller_connected(&me);
        let mut link = Link::new(me.clone(), None, LinkConfig::default());
        // The agent's WebSocketConnect record.
        let rec = Record::new("1.3", me.as_str(), agent.endpoint_id().as_str(), RecordType::WebSocketConnect);
        link.handle_record(encode_record(&rec), clock.now());
        let mut pair = Pair { link, agent, clock, me, events: Vec::new() };
        pair.collect();
        assert!(matches!(pair.events.remove(0), Event::Connected { .. }));
        pair
    }

    fn collect(&mut self) {
        while let Some(e) = self.link.poll_event() {
            self.events.push(e);
        }
    }

    /// Delivers everything the link wants to send to the agent, and the agent's replies
    /// and notifications back, until both are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.link.poll_transmit() {
                moved = true;
                let rec = wire::decode_record(bytes, &Limits::default()).expect("controller record");
                let RecordType::NoSessionContext { payload } = rec.record_type else { continue };
                let m = wire::decode_msg(payload, &Limits::default()).expect("controller msg");
                if let Some(reply) = self.agent.handle_msg(&self.me, usp_proto::usp::Msg::from(&m), self.clock.wall()) {
                    self.deliver(reply);
                }
            }
            for out in self.agent.drain_outbox() {
                if out.to == self.me {
                    moved = true;
                    self.deliver(out.msg);
                }
            }
            self.collect();
            if !moved {
                break;
            }
        }
    }

    fn deliver(&mut self, m: usp_proto::usp::Msg) {
        let ours = Msg::try_from(m).expect("agent msg converts");
        let mut payload = Vec::new();
        wire::encode_msg(&ours, &mut payload);
        let rec = Record::new(
            "1.3",
            self.me.as_str(),
            self.agent.endpoint_id().as_str(),
            RecordType::NoSessionContext { payload: Bytes::from(payload) },
        );
        self.link.handle_record(encode_record(&rec), self.clock.now());
    }

    /// Advances virtual time by `d`, firing both ends' timers on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.clock.offset + d;
        loop {
            let agent_next = self.agent.next_deadline().and_then(|t| t.duration_since(self.clock.wall).ok());
            let link_next = self.link.poll_timeout().map(|t| t.duration_since(self.clock.mono));
            let next =
                [agent_next, link_next].into_iter().flatten().filter(|t| *t > self.clock.offset && *t <= end).min();
            match next {
                Some(t) => {
                    self.clock.offset = t;
                    self.agent.handle_timeout(self.clock.wall());
                    self.link.handle_timeout(self.clock.now());
                    self.pump();
                }
                None => break,
            }
        }
        self.clock.offset = end;
        self.agent.handle_timeout(self.clock.wall());
        self.link.handle_timeout(self.clock.now());
        self.pump();
    }

    fn completed(&mut self, id: &RequestId) -> Result<Response, RequestError> {
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Completed { id: x, .. } if x == id))
            .unwrap_or_else(|| panic!("request {id} has not completed; events: {:?}", self.events));
        match self.events.remove(i) {
            Event::Completed { result, .. } => result,
            _ => unreachable!(),
        }
    }
}

fn encode_record(rec: &Record) -> Bytes {
    let mut out = Vec::new();
    wire::encode_record(rec, &mut out);
    Bytes::from(out)
}

#[test]
fn pipelined_requests_are_correlated_with_a_real_agent() {
    let mut p = Pair::new(UnknownControllerPolicy::Ignore, Some("Full Access"));
    let paths = [
        "Device.DeviceInfo.FriendlyName",
        "Device.WiFi.SSID.1.SSID",
        "Device.WiFi.SSID.3.SSID",
        "Device.DeviceInfo.ModelName",
    ];
    let ids: Vec<RequestId> = paths
        .iter()
        .map(|path| p.link.send(request::get([*path]).build().expect("get"), p.clock.now()).expect("send"))
        .collect();
    assert_eq!(p.link.outstanding(), 4);
    p.pump();
    for (id, path) in ids.iter().zip(paths) {
        let resp: msg::GetResp = p.completed(id).expect("ok").try_into().expect("GetResp");
        assert_eq!(resp.value(path).map(str::to_owned), p.agent.get_internal(path), "{path}");
    }
    assert_eq!(p.link.outstanding(), 0);
}

#[test]
fn an_ignoring_agent_produces_timeouts_on_the_virtual_clock() {
    let mut p = Pair::new(UnknownControllerPolicy::Ignore, None);
    let id = p
        .link
        .send_with_timeout(
            request::get(["Device.DeviceInfo."]).build().expect("get"),
            Duration::from_secs(3),
            p.clock.now(),
        )
        .expect("send");
    p.pump();
    assert!(p.events.is_empty(), "the agent ignored us: {:?}", p.events);
    p.advance(Duration::from_millis(2999));
    assert!(p.events.is_empty());
    p.advance(Duration::from_millis(1));
    assert_eq!(p.completed(&id), Err(RequestError::Timeout(Duration::from_secs(3))));
}

#[test]
fn async_operation_completes_after_virtual_time_passes() {
    let mut p = Pair::new(UnknownControllerPolicy::Ignore, Some("Full Access"));
    let sub = request::add()
        .object(
            "Device.LocalAgent.Subscription.",
            [
                ("Enable", "true", true),
                ("ID", "mem-oc", true),
                ("NotifType", "OperationComplete", true),
                ("ReferenceList", "Device.IP.Diagnostics.IPPing()", true),
            ],
        )
        .build()
        .expect("add");
    let sid = p.link.send(sub, p.clock.now()).expect("send");
    p.pump();
    p.completed(&sid).expect("subscribed");
    let op = request::operate("Device.IP.Diagnostics.IPPing()")
        .arg("Host", "192.0.2.9")
        .command_key("mem")
        .build()
        .expect("op");
    let oid = p.link.send(op, p.clock.now()).expect("send");
    p.pump();
    let resp: msg::OperateResp = p.completed(&oid).expect("ok").try_into().expect("OperateResp");
    assert!(matches!(resp.outcomes()[0].1, CommandOutcome::Started(_)));
    assert!(!p.events.iter().any(|e| matches!(e, Event::Notification { .. })), "not complete before time passes");
    p.advance(Duration::from_secs(10));
    let done = p.events.iter().find_map(|e| match e {
        Event::Notification { notify, .. } => match &notify.notification {
            Notification::OperComplete(o) => Some(o.clone()),
            _ => None,
        },
        _ => None,
    });
    let done = done.expect("OperationComplete after the virtual delay");
    assert_eq!(&*done.command_key, "mem");
}

#[test]
fn value_change_notifications_flow_through_the_engine() {
    let mut p = Pair::new(UnknownControllerPolicy::Ignore, Some("Full Access"));
    let sub = request::add()
        .object(
            "Device.LocalAgent.Subscription.",
            [
                ("Enable", "true", true),
                ("ID", "mem-vc", true),
                ("NotifType", "ValueChange", true),
                ("ReferenceList", "Device.WiFi.SSID.*.SSID", true),
                ("NotifRetry", "true", false),
            ],
        )
        .build()
        .expect("add");
    let sid = p.link.send(sub, p.clock.now()).expect("send");
    p.pump();
    p.completed(&sid).expect("subscribed");
    let set = request::set().param("Device.WiFi.SSID.2.SSID", "Upstairs", true).build().expect("set");
    let id = p.link.send(set, p.clock.now()).expect("send");
    p.pump();
    p.completed(&id).expect("set ok");
    let n = p
        .events
        .iter()
        .find_map(|e| match e {
            Event::Notification { notify, .. } => Some(notify.clone()),
            _ => None,
        })
        .expect("a notification");
    assert_eq!(&*n.subscription_id, "mem-vc");
    assert!(n.send_resp, "NotifRetry=true asks for a NotifyResp");
    assert_eq!(
        n.notification,
        Notification::ValueChange(msg::ValueChangeNotif {
            param_path: "Device.WiFi.SSID.2.SSID".into(),
            param_value: "Upstairs".into()
        })
    );
    // The engine answered with a NotifyResp, which the agent accepted silently.
    assert!(p.link.poll_transmit().is_none(), "already delivered by pump");
    let _ = Body::Error(msg::Error::default());
}
