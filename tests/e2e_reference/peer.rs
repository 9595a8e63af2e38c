//! The test's side of `e2e_reference.rs`: a mosquitto, the reference agent `obuspa-e2e` on it,
//! and [`E2ePeer`], which drives one [`E2eSession`] over usp-client's MQTT transport. All the
//! driving of the session layer is in [`E2ePeer`] (send, absorb, step), so the client's own
//! wrapper can replace it.

#![allow(dead_code)] // each test uses a part

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use usp_client::mtp::{self, Inbound, Outbound, Transport};
use usp_core::e2e::{E2eConfig, E2eEvent, E2eSession, SAR_NONE};
use usp_core::msg::{Body, GetResp, Msg, Request, Response};
use usp_core::record::{Record, RecordType, SessionContext};
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;
use usp_home_tests::mosquitto::{Broker, Options};
use usp_home_tests::obuspa::{self, Agent, Variant};
use usp_home_tests::rabbitmq::{Rabbit, PASSWORD, USER};
use usp_home_tests::{test_config, test_eid, BOUND};

/// The broker between us and the agent.
pub enum Via {
    Mqtt(Broker),
    Stomp(Rabbit),
}

/// A broker, and what the agent will be told.
pub struct Setup {
    pub via: Via,
    pub me: EndpointId,
    pub agent: String,
    pub name: String,
    pub lines: String,
    /// Our transport's address (the agent's topic or destination in it).
    pub url: String,
}

/// The reference agent's reset lines for STOMP: RabbitMQ on `port`, its destination
/// `agent_dest`, and `me` (Full Access) at `controller_dest` with its `E2ESession`.
pub fn agent_stomp_lines(
    port: u16,
    agent_dest: &str,
    controller_dest: &str,
    me: &EndpointId,
    mode: &str,
    max_record_size: u32,
) -> String {
    let c = "Device.LocalAgent.Controller.1";
    format!(
        "Device.STOMP.Connection.1.Alias \"loopback-rabbitmq\"\n\
         Device.STOMP.Connection.1.Enable \"true\"\n\
         Device.STOMP.Connection.1.Host \"127.0.0.1\"\n\
         Device.STOMP.Connection.1.Port \"{port}\"\n\
         Device.STOMP.Connection.1.Username \"{USER}\"\n\
         Device.STOMP.Connection.1.Password \"{PASSWORD}\"\n\
         Device.STOMP.Connection.1.EnableEncryption \"false\"\n\
         Device.STOMP.Connection.1.VirtualHost \"/\"\n\
         Device.STOMP.Connection.1.EnableHeartbeats \"true\"\n\
         Device.STOMP.Connection.1.OutgoingHeartbeat \"30000\"\n\
         Device.STOMP.Connection.1.IncomingHeartbeat \"300000\"\n\
         Device.STOMP.Connection.1.ServerRetryInitialInterval \"1\"\n\
         Device.STOMP.Connection.1.ServerRetryIntervalMultiplier \"2000\"\n\
         Device.STOMP.Connection.1.ServerRetryMaxInterval \"30720\"\n\
         Device.LocalAgent.MTP.1.Alias \"stomp\"\n\
         Device.LocalAgent.MTP.1.Enable \"true\"\n\
         Device.LocalAgent.MTP.1.Protocol \"STOMP\"\n\
         Device.LocalAgent.MTP.1.STOMP.Reference \"Device.STOMP.Connection.1\"\n\
         Device.LocalAgent.MTP.1.STOMP.Destination \"{agent_dest}\"\n\
         {controller}\
         {c}.MTP.1.Alias \"stomp\"\n\
         {c}.MTP.1.Enable \"true\"\n\
         {c}.MTP.1.Protocol \"STOMP\"\n\
         {c}.MTP.1.STOMP.Reference \"Device.STOMP.Connection.1\"\n\
         {c}.MTP.1.STOMP.Destination \"{controller_dest}\"\n\
         {c}.E2ESession.SessionMode \"{mode}\"\n\
         {c}.E2ESession.MaxUSPRecordSize \"{max_record_size}\"\n",
        controller = obuspa::controller_lines(1, me.as_str(), "Device.LocalAgent.ControllerTrust.Role.1"),
    )
}

/// The reference agent's reset lines: MQTT 5 to the broker on `port`, its topic
/// `usp/agent/<name>`, and `me` (Full Access) at our reply topic with
/// `E2ESession.SessionMode` = `mode` and `MaxUSPRecordSize` = `max_record_size`.
pub fn agent_lines(port: u16, name: &str, me: &EndpointId, mode: &str, max_record_size: u32) -> String {
    let c = "Device.LocalAgent.Controller.1";
    format!(
        "Device.MQTT.Client.1.Alias \"loopback-broker\"\n\
         Device.MQTT.Client.1.Enable \"true\"\n\
         Device.MQTT.Client.1.BrokerAddress \"127.0.0.1\"\n\
         Device.MQTT.Client.1.BrokerPort \"{port}\"\n\
         Device.MQTT.Client.1.ProtocolVersion \"5.0\"\n\
         Device.MQTT.Client.1.TransportProtocol \"TCP/IP\"\n\
         Device.MQTT.Client.1.Username \"\"\n\
         Device.MQTT.Client.1.Password \"\"\n\
         Device.MQTT.Client.1.ClientID \"\"\n\
         Device.MQTT.Client.1.KeepAliveTime \"60\"\n\
         Device.MQTT.Client.1.ConnectRetryTime \"1\"\n\
         Device.MQTT.Client.1.ConnectRetryIntervalMultiplier \"2000\"\n\
         Device.MQTT.Client.1.ConnectRetryMaxInterval \"4\"\n\
         Device.LocalAgent.MTP.1.Alias \"mqtt\"\n\
         Device.LocalAgent.MTP.1.Enable \"true\"\n\
         Device.LocalAgent.MTP.1.Protocol \"MQTT\"\n\
         Device.LocalAgent.MTP.1.MQTT.Reference \"Device.MQTT.Client.1\"\n\
         Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured \"usp/agent/{name}\"\n\
         {c}.Alias \"usp-home-test\"\n\
         {c}.EndpointID \"{me}\"\n\
         {c}.Enable \"true\"\n\
         {c}.AssignedRole \"Device.LocalAgent.ControllerTrust.Role.1\"\n\
         {c}.MTP.1.Alias \"mqtt\"\n\
         {c}.MTP.1.Enable \"true\"\n\
         {c}.MTP.1.Protocol \"MQTT\"\n\
         {c}.MTP.1.MQTT.Reference \"Device.MQTT.Client.1\"\n\
         {c}.MTP.1.MQTT.Topic \"{}\"\n\
         {c}.E2ESession.SessionMode \"{mode}\"\n\
         {c}.E2ESession.MaxUSPRecordSize \"{max_record_size}\"\n",
        usp_client::mtp::mqtt::derived_reply_topic(me)
    )
}

pub fn obuspa_bins() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    obuspa::bin_dir(&target, &repo.join("../shared"))
}

impl Setup {
    /// A broker; the agent `proto::obuspa-e2e-<name>` starts with [`Setup::peer`].
    pub fn start(name: &str, mode: &str, max_record_size: u32) -> Setup {
        let broker = Broker::start(Options::default());
        let me = test_eid(&format!("e2e-{name}"));
        let lines = agent_lines(broker.port, &format!("e2e-{name}"), &me, mode, max_record_size);
        let url = format!("{}/usp/agent/e2e-{name}", broker.url());
        let agent = format!("proto::obuspa-e2e-{name}");
        Setup { via: Via::Mqtt(broker), me, agent, name: name.to_owned(), lines, url }
    }

    /// A RabbitMQ (about 25 s to start); the agent starts with [`Setup::peer`].
    pub fn start_stomp(name: &str, mode: &str, max_record_size: u32) -> Setup {
        let rabbit = Rabbit::start();
        let me = test_eid(&format!("e2e-{name}"));
        let tag = format!("{name}-{:x}", std::process::id());
        let agent_dest = format!("/queue/usp.agent.e2e-{tag}");
        let controller_dest = format!("/queue/usp.controller.e2e-{tag}");
        let lines = agent_stomp_lines(rabbit.stomp_port, &agent_dest, &controller_dest, &me, mode, max_record_size);
        let agent = format!("proto::obuspa-e2e-{name}");
        let url = rabbit.url(&format!("{agent_dest}?reply-to={controller_dest}"));
        Setup { via: Via::Stomp(rabbit), me, agent, name: name.to_owned(), lines, url }
    }

    /// Our MQTT session first (subscribed to our reply topic), then the agent; ready once
    /// its MQTTConnectRecord came (it is subscribed then). `tune` adjusts the layer's settings.
    pub async fn peer(&self, tune: impl FnOnce(&mut E2eConfig)) -> E2ePeer {
        let mut config = test_config(&self.url, &self.me);
        if matches!(self.via, Via::Stomp(_)) {
            config.login = Some(usp_client::Login {
                username: USER.to_owned(),
                password: zeroize::Zeroizing::new(PASSWORD.to_owned()),
            });
        }
        config.agent_id = Some(self.agent.parse().expect("agent eid"));
        config.connect_timeout = BOUND;
        let opened = tokio::time::timeout(BOUND, mtp::connect(&config)).await.expect("in time").expect("MQTT opens");
        let mut cfg = E2eConfig::new(self.me.as_str(), self.agent.as_str());
        cfg.version = "1.3".into();
        tune(&mut cfg);
        let proc_ = Agent::start_reset(
            &obuspa_bins(),
            Variant::E2e,
            &std::env::temp_dir(),
            &self.name,
            &self.agent,
            &self.lines,
        );
        let mut p = E2ePeer {
            transport: opened.transport,
            session: E2eSession::new(cfg),
            agent: self.agent.clone(),
            me: self.me.to_string(),
            proc_,
            inbox: Vec::new(),
            plain_inbox: Vec::new(),
            events: Vec::new(),
            received: Vec::new(),
            received_sizes: Vec::new(),
            sent: Vec::new(),
            next_id: 0,
        };
        p.wait_connect_record().await;
        p
    }
}

/// One controller side: the MQTT transport and the session layer between it and the
/// messages, with everything that went by kept for the assertions.
pub struct E2ePeer {
    transport: Box<dyn Transport>,
    pub session: E2eSession,
    pub agent: String,
    pub me: String,
    /// The agent process.
    pub proc_: Agent,
    /// Messages the session layer delivered, in order.
    pub inbox: Vec<Msg>,
    /// Messages that came in `no_session_context` Records.
    pub plain_inbox: Vec<Msg>,
    /// Every event of the layer.
    pub events: Vec<E2eEvent>,
    /// Every Record the agent sent (decoded), and its size on the wire.
    pub received: Vec<Record>,
    pub received_sizes: Vec<usize>,
    /// Every Record we sent, encoded.
    pub sent: Vec<Bytes>,
    next_id: u32,
}

/// The session-context Records among `recs`.
pub fn session_records(recs: &[Record]) -> Vec<(Record, SessionContext)> {
    recs.iter()
        .filter_map(|r| match &r.record_type {
            RecordType::SessionContext(sc) => Some((r.clone(), sc.clone())),
            _ => None,
        })
        .collect()
}

fn decode(b: &Bytes) -> Option<Record> {
    wire::decode_record(b.clone(), &Limits::default()).ok()
}

impl E2ePeer {
    /// Sends one encoded Record as it is.
    pub async fn send_raw(&mut self, b: Bytes) {
        self.sent.push(b.clone());
        let t = &mut self.transport;
        std::future::poll_fn(|cx| t.poll_ready(cx)).await.expect("transport ready");
        t.start_send(Outbound::Record(b)).expect("send");
        std::future::poll_fn(|cx| t.poll_flush(cx)).await.expect("flushed");
    }

    /// Sends what the layer has to send.
    pub async fn flush(&mut self) {
        while let Some(b) = self.session.poll_transmit() {
            self.send_raw(b).await;
        }
    }

    /// Hands a received Record to the layer and collects what comes out.
    fn absorb(&mut self, b: Bytes) {
        let size = b.len();
        if let Some(rec) = decode(&b) {
            self.received.push(rec);
            self.received_sizes.push(size);
        }
        if let Some(other) = self.session.handle_bytes(b, Instant::now()) {
            if let RecordType::NoSessionContext { payload } = other.record_type {
                self.plain_inbox.push(wire::decode_msg(payload, &Limits::default()).expect("the agent's message"));
            }
        }
        while let Some(m) = self.session.poll_delivered() {
            self.inbox.push(wire::decode_msg(m, &Limits::default()).expect("a whole message from the agent"));
        }
        while let Some(e) = self.session.poll_event() {
            self.events.push(e);
        }
    }

    /// Waits for one thing from the transport or the layer's next timer (at most `max`),
    /// then sends what the layer has to send.
    pub async fn step(&mut self, max: Duration) {
        let now = Instant::now();
        let wake = self.session.poll_timeout().map_or(now + max, |t| t.min(now + max));
        let t = &mut self.transport;
        let got =
            tokio::time::timeout(wake.saturating_duration_since(now), std::future::poll_fn(|cx| t.poll_recv(cx))).await;
        match got {
            Ok(Inbound::Record(b)) => self.absorb(b),
            Ok(Inbound::Alive) => {}
            Ok(Inbound::Lost(why) | Inbound::Violation(why)) => panic!("our MQTT session ended: {why}"),
            Err(_) => {
                if self.session.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                    self.session.handle_timeout(Instant::now());
                    while let Some(e) = self.session.poll_event() {
                        self.events.push(e);
                    }
                }
            }
        }
        self.flush().await;
    }

    /// Steps until `done` holds; fails after [`BOUND`].
    pub async fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + BOUND;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "waited {BOUND:?} for {what}; events: {:?}\n{}",
                self.events,
                self.trace()
            );
            self.step(Duration::from_millis(200)).await;
        }
    }

    /// What went by, one line per Record (for failure messages).
    pub fn trace(&self) -> String {
        let line = |dir: &str, r: &Record| match &r.record_type {
            RecordType::SessionContext(sc) => format!(
                "{dir} session {} seq {} exp {} rt {} sar {} payload {:?}\n",
                sc.session_id,
                sc.sequence_id,
                sc.expected_id,
                sc.retransmit_id,
                sc.payload_sar_state,
                sc.payload.iter().map(|p| p.len()).collect::<Vec<_>>()
            ),
            other => format!("{dir} {other:?}\n"),
        };
        let mut out = String::from("received:\n");
        self.received.iter().for_each(|r| out.push_str(&line("<-", r)));
        out.push_str("sent:\n");
        self.sent_decoded().iter().for_each(|r| out.push_str(&line("->", r)));
        out
    }

    /// Steps for `d`, whatever comes.
    pub async fn idle(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.step(end.saturating_duration_since(Instant::now())).await;
        }
    }

    /// Waits for the agent's MQTTConnectRecord or STOMPConnectRecord (it is subscribed to
    /// its topic or destination by then).
    pub async fn wait_connect_record(&mut self) {
        let seen = self.received.len();
        self.until("the agent's connect record", |p| {
            p.received[seen..]
                .iter()
                .any(|r| matches!(r.record_type, RecordType::MqttConnect { .. } | RecordType::StompConnect { .. }))
        })
        .await;
    }

    pub fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("e2e-{}", self.next_id)
    }

    /// Encodes `req` as a Message with `msg_id`.
    pub fn encode(req: Request, msg_id: &str) -> Bytes {
        let m = Msg::new(msg_id, Body::Request(req));
        let mut out = Vec::new();
        wire::encode_msg(&m, &mut out);
        Bytes::from(out)
    }

    /// Hands a request to the layer; returns its msg_id.
    pub async fn send_request(&mut self, req: Request) -> String {
        let id = self.fresh_id();
        self.session.send(Self::encode(req, &id), Instant::now()).expect("the layer takes the message");
        self.flush().await;
        id
    }

    /// Waits for the reply to `id` among the delivered messages.
    pub async fn reply(&mut self, id: &str) -> Response {
        self.until(&format!("the reply to {id}"), |p| p.inbox.iter().any(|m| &*m.msg_id == id)).await;
        let at = self.inbox.iter().position(|m| &*m.msg_id == id).expect("there");
        match self.inbox.remove(at).body {
            Body::Response(r) => r,
            other => panic!("{id}: the agent answered {other:?}"),
        }
    }

    /// A request through the session context, and its response.
    pub async fn request(&mut self, req: Request) -> Response {
        let id = self.send_request(req).await;
        self.reply(&id).await
    }

    /// A Get through the session context.
    pub async fn get(&mut self, paths: &[&str]) -> GetResp {
        match self.request(usp_core::request::get(paths).build().expect("get")).await {
            Response::GetResp(r) => r,
            other => panic!("not a GetResp: {other:?}"),
        }
    }

    /// A `no_session_context` Record carrying `req` as `msg_id`.
    pub async fn send_no_session(&mut self, req: Request, msg_id: &str) {
        let rec = Record::new(
            "1.3",
            self.agent.as_str(),
            self.me.as_str(),
            RecordType::NoSessionContext { payload: Self::encode(req, msg_id) },
        );
        self.send_record(&rec).await;
    }

    /// A request in a `no_session_context` Record, and its response (in one too).
    pub async fn request_no_session(&mut self, req: Request) -> Response {
        let id = self.fresh_id();
        self.send_no_session(req, &id).await;
        self.until(&format!("the plain reply to {id}"), |p| p.plain_inbox.iter().any(|m| *m.msg_id == id)).await;
        let at = self.plain_inbox.iter().position(|m| *m.msg_id == id).expect("there");
        match self.plain_inbox.remove(at).body {
            Body::Response(r) => r,
            other => panic!("{id}: the agent answered {other:?}"),
        }
    }

    /// Encodes and sends `rec` as it is (not through the layer).
    pub async fn send_record(&mut self, rec: &Record) {
        let mut out = Vec::new();
        wire::encode_record(rec, &mut out);
        self.send_raw(Bytes::from(out)).await;
    }

    /// How many events match.
    pub fn events_of(&self, f: impl Fn(&E2eEvent) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    /// Every Record we sent, decoded.
    pub fn sent_decoded(&self) -> Vec<Record> {
        self.sent.iter().filter_map(decode).collect()
    }

    /// The DisconnectRecords the agent sent from index `from` of [`E2ePeer::received`]:
    /// (code, reason).
    pub fn disconnects_since(&self, from: usize) -> Vec<(u32, String)> {
        self.received[from..]
            .iter()
            .filter_map(|r| match &r.record_type {
                RecordType::Disconnect { reason_code, reason } => Some((*reason_code, reason.to_string())),
                _ => None,
            })
            .collect()
    }
}

/// A session-context Record of ours, built by hand (not through the layer).
pub fn raw(p: &E2ePeer, sc: SessionContext) -> Record {
    Record::new("1.3", p.agent.as_str(), p.me.as_str(), RecordType::SessionContext(sc))
}

/// A one-Record Message in context `sid` as Record `seq`.
pub fn raw_msg(p: &E2ePeer, sid: u64, seq: u64, req: Request, msg_id: &str) -> Record {
    raw(
        p,
        SessionContext {
            session_id: sid,
            sequence_id: seq,
            expected_id: 1,
            retransmit_id: 0,
            payload_sar_state: SAR_NONE,
            payloadrec_sar_state: SAR_NONE,
            payload: vec![E2ePeer::encode(req, msg_id)],
        },
    )
}

/// The agent's session-context Records carrying a reply to `msg_id`.
pub fn replies_to(p: &E2ePeer, msg_id: &str) -> Vec<SessionContext> {
    session_records(&p.received)
        .into_iter()
        .filter(|(_, sc)| {
            sc.payload
                .first()
                .is_some_and(|b| wire::decode_msg(b.clone(), &Limits::default()).is_ok_and(|m| &*m.msg_id == msg_id))
        })
        .map(|(_, sc)| sc)
        .collect()
}

/// Waits until `n` Records of the agent carry a reply to `msg_id`.
pub async fn wait_replies(p: &mut E2ePeer, msg_id: &str, n: usize) -> Vec<SessionContext> {
    p.until(&format!("{n} replies to {msg_id}"), |p| replies_to(p, msg_id).len() >= n).await;
    replies_to(p, msg_id)
}

/// A Get of one path.
pub fn get(path: &str) -> Request {
    usp_core::request::get([path]).build().expect("get")
}
