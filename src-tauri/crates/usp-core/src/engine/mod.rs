//! The controller's end of a link to one agent, without I/O.
//!
//! [`Link`] follows the shape of a sans-IO protocol core:
//! - inputs: [`Link::send`] (a request to make), [`Link::handle_record`] (bytes that
//!   arrived), [`Link::handle_timeout`] (time has passed), [`Link::connection_lost`];
//! - outputs, to be drained after every input, in any order:
//!   [`Link::poll_transmit`] (Record bytes to send), [`Link::poll_event`] (what happened),
//!   [`Link::poll_timeout`] (when to call `handle_timeout` next).
//!
//! Time is an argument (`now`), never read from a clock, so tests drive it virtually.
//!
//! What the link takes care of:
//! - msg_id generation and correlation: replies may come in any order, any number of
//!   requests may be outstanding (pipelining), a reply with an unknown msg_id is ignored
//!   (R-MSG.8/9);
//! - per-request deadlines kept as data (a timer table), so a lost reply becomes a
//!   [`RequestError::Timeout`] and a late one is ignored;
//! - Record rules: size limit, `to_id` must be ours, `from_id` must be the agent's once
//!   known, broken Records dropped as R-MTP.5 says, session context answered with a
//!   DisconnectRecord 7106 (E2E sessions are not supported yet);
//! - the agent's WebSocketConnect record teaches the agent's Endpoint ID;
//! - Notify is surfaced as an event and answered with NotifyResp when `send_resp` is set;
//!   other requests from the agent get Error 7001 (not supported by a controller).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::eid::EndpointId;
use crate::msg::{self, Body, Msg, MsgType, Notify, Request, Response, Text};
use crate::record::{Record, RecordType, PAYLOAD_SECURITY_PLAINTEXT};
use crate::text::{self, for_log};
use crate::wire::{self, DecodeError, Limits};

/// The USP version we implement, written into every Record we send.
pub const USP_VERSION: &str = "1.4";
/// Versions we can speak, for GetSupportedProtocol.
pub const SUPPORTED_PROTOCOL_VERSIONS: &str = "1.0,1.1,1.2,1.3,1.4";

/// Settings of a [`Link`].
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// How long a request may wait for its reply, unless the request says otherwise.
    pub request_timeout: Duration,
    /// Size and item limits for received Records.
    pub limits: Limits,
    /// Prefix of generated msg_ids (unique per link; e.g. a short random tag).
    pub msg_id_prefix: String,
    /// Maximum number of requests waiting for a reply at once; beyond it `send` refuses.
    pub max_outstanding: usize,
    /// Largest Notify surfaced as an event, in bytes once re-encoded on its own (larger
    /// ones are dropped). Default 256 KiB.
    pub max_notify_size: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            limits: Limits::controller(),
            msg_id_prefix: "uh".to_owned(),
            max_outstanding: 100_000,
            max_notify_size: 256 * 1024,
        }
    }
}

/// Identifies one request of a link: its msg_id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub Text);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The agent answered with a USP Error message.
    #[error("the agent refused the request: {0}")]
    Usp(UspError),
    /// No reply before the deadline.
    #[error("the agent did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection went away before the reply came.
    #[error("the connection to the agent was lost before it answered ({0})")]
    Disconnected(String),
    /// The agent answered with a response of another kind than the request asks for.
    #[error("the agent answered a {expected:?} request with {got:?}")]
    UnexpectedResponse {
        /// The response type the request asks for.
        expected: MsgType,
        /// What came instead.
        got: MsgType,
    },
}

pub use crate::error::{error_code_text, UspError, MAX_AGENT_TEXT, MAX_ERROR_PARAMS};

/// Why a received Record or Message was dropped (the link goes on). The agent's text in it
/// is cut to [`MAX_AGENT_TEXT`] bytes, and escaped and shortened further when displayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The bytes are not a Record we can read (or are over the size limit).
    Malformed(String),
    /// The Record is addressed to another endpoint.
    NotForUs {
        /// The `to_id` it carried.
        to_id: String,
    },
    /// The Record comes from another endpoint than the agent of this link.
    WrongSender {
        /// The `from_id` it carried.
        from_id: String,
    },
    /// A reply whose msg_id matches no outstanding request (late, duplicate or made up).
    UnknownMsgId(String),
    /// A Record type a controller does not act on (e.g. an encrypted payload).
    Unsupported(String),
    /// A Notify whose msg_id came a moment ago already (a retransmission, R-MSG.4): it
    /// was answered again but not surfaced twice.
    DuplicateNotify(String),
    /// A Notify larger than [`LinkConfig::max_notify_size`].
    NotifyTooLarge {
        /// Its size, re-encoded.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::Malformed(why) => write!(f, "unreadable record: {why}"),
            Dropped::NotForUs { to_id } => write!(f, "record addressed to {:?}, not to us", for_log(to_id)),
            Dropped::WrongSender { from_id } => {
                write!(f, "record from {:?}, not from the agent of this connection", for_log(from_id))
            }
            Dropped::UnknownMsgId(id) => write!(f, "reply with unknown msg_id {:?}", for_log(id)),
            Dropped::Unsupported(what) => write!(f, "unsupported record: {what}"),
            Dropped::DuplicateNotify(id) => write!(f, "repeated Notify with msg_id {:?}", for_log(id)),
            Dropped::NotifyTooLarge { size, limit } => {
                write!(f, "a {size}-byte Notify, over the {limit}-byte limit for notifications")
            }
        }
    }
}

/// Something that happened on the link.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The agent's WebSocketConnect (or another MTP connect) record arrived.
    Connected {
        /// The agent's Endpoint ID, from the record's `from_id`.
        agent: EndpointId,
    },
    /// A request finished.
    Completed {
        /// Which request.
        id: RequestId,
        /// Its response, or why there is none.
        result: Result<Response, RequestError>,
    },
    /// The agent sent a notification (already answered with NotifyResp when it asked).
    Notification {
        /// The msg_id the agent gave it.
        msg_id: Text,
        /// The Notify itself.
        notify: Notify,
    },
    /// The agent sent a DisconnectRecord: it is about to close the connection.
    Disconnect {
        /// `reason_code` (71xx).
        reason_code: u32,
        /// `reason`.
        reason: String,
    },
    /// A Record or Message was dropped; the link is still fine.
    Dropped(Dropped),
}

/// Why a request could not be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The agent's Endpoint ID is not known yet (no WebSocketConnect record received and
    /// none configured), so the Record cannot be addressed.
    #[error("the agent's endpoint id is not known yet")]
    AgentUnknown,
    /// Too many requests are waiting for replies.
    #[error("too many requests are waiting for a reply ({0})")]
    TooManyOutstanding(usize),
    /// The encoded Record would exceed the size limit.
    #[error("the request is {size} bytes, over the {limit}-byte record limit")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

struct Pending {
    expected: MsgType,
    timeout: Duration,
    deadline: Instant,
}

/// The controller's side of the link to one agent. See the module documentation.
pub struct Link {
    own_id: EndpointId,
    agent_id: Option<EndpointId>,
    config: LinkConfig,
    next_msg_id: u64,
    /// Keyed by our own msg_ids (the agent only looks up): a fast hasher serves.
    pending: HashMap<Text, Pending, foldhash::fast::RandomState>,
    timers: BinaryHeap<Reverse<(Instant, Text)>>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<Event>,
    recent_notifies: RecentIds,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("own_id", &self.own_id)
            .field("agent_id", &self.agent_id)
            .field("outstanding", &self.pending.len())
            .finish()
    }
}

impl Link {
    /// A link from `own_id` to an agent. `agent_id` may be known in advance (from mDNS
    /// or configuration); otherwise it is learnt from the agent's connect record and
    /// requests can only be sent after that.
    pub fn new(own_id: EndpointId, agent_id: Option<EndpointId>, config: LinkConfig) -> Self {
        Self {
            own_id,
            agent_id,
            config,
            next_msg_id: 1,
            pending: HashMap::default(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            recent_notifies: RecentIds::new(),
        }
    }

    /// Our own Endpoint ID.
    pub fn own_id(&self) -> &EndpointId {
        &self.own_id
    }

    /// The agent's Endpoint ID, once known.
    pub fn agent_id(&self) -> Option<&EndpointId> {
        self.agent_id.as_ref()
    }

    /// Sets the agent's Endpoint ID (e.g. learnt from the WebSocket handshake header).
    pub fn set_agent_id(&mut self, agent: EndpointId) {
        self.agent_id = Some(agent);
    }

    /// Number of requests waiting for a reply.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// The settings.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Queues `request` for sending with the default timeout. See [`Link::send_with_timeout`].
    ///
    /// # Errors
    /// See [`SendError`].
    pub fn send(&mut self, request: Request, now: Instant) -> Result<RequestId, SendError> {
        let timeout = self.config.request_timeout;
        self.send_with_timeout(request, timeout, now)
    }

    /// Queues `request` for sending; its reply (or timeout) comes back as
    /// [`Event::Completed`] with the returned id. An Operate with `send_resp = false`
    /// expects no reply: it completes at once with an empty OperateResp.
    ///
    /// # Errors
    /// [`SendError::AgentUnknown`] before the agent's Endpoint ID is known,
    /// [`SendError::TooManyOutstanding`], [`SendError::TooLarge`].
    pub fn send_with_timeout(
        &mut self,
        request: Request,
        timeout: Duration,
        now: Instant,
    ) -> Result<RequestId, SendError> {
        if self.agent_id.is_none() {
            return Err(SendError::AgentUnknown);
        }
        if self.pending.len() >= self.config.max_outstanding {
            return Err(SendError::TooManyOutstanding(self.pending.len()));
        }
        let msg_id = self.make_msg_id();
        let expected = request.expected_response();
        let fire_and_forget = matches!(&request, Request::Operate(op) if !op.send_resp);
        let msg = Msg::new(msg_id.clone(), Body::Request(request));
        self.transmit(&msg)?;
        let id = RequestId(msg_id.clone());
        if fire_and_forget {
            self.events.push_back(Event::Completed {
                id: id.clone(),
                result: Ok(Response::OperateResp(msg::OperateResp::default())),
            });
        } else {
            let deadline = now + timeout;
            self.pending.insert(msg_id.clone(), Pending { expected, timeout, deadline });
            self.timers.push(Reverse((deadline, msg_id)));
        }
        Ok(id)
    }

    /// Forgets an outstanding request: its reply, if it ever comes, is ignored.
    /// Returns whether it was outstanding.
    pub fn cancel(&mut self, id: &RequestId) -> bool {
        self.pending.remove(&id.0).is_some()
    }

    /// Queues a DisconnectRecord (e.g. before closing the connection on purpose).
    pub fn send_disconnect(&mut self, reason_code: u32, reason: &str) {
        if let Some(agent) = self.agent_id.clone() {
            let rec = Record::new(
                USP_VERSION,
                agent.as_str(),
                self.own_id.as_str(),
                RecordType::Disconnect { reason: reason.into(), reason_code },
            );
            self.push_record(&rec);
        }
    }

    /// Feeds one received Record (one binary WebSocket message).
    pub fn handle_record(&mut self, bytes: Bytes, now: Instant) {
        let _ = now;
        let record = match wire::decode_record(bytes, &self.config.limits) {
            Ok(r) => r,
            Err(e) => return self.drop_it(Dropped::Malformed(e.to_string())),
        };
        if &*record.to_id != self.own_id.as_str() {
            return self.drop_it(Dropped::NotForUs { to_id: text::capped(&record.to_id, MAX_AGENT_TEXT) });
        }
        match &self.agent_id {
            Some(agent) if agent.as_str() != &*record.from_id => {
                return self.drop_it(Dropped::WrongSender { from_id: text::capped(&record.from_id, MAX_AGENT_TEXT) });
            }
            Some(_) => {}
            None => match record.from_id.parse::<EndpointId>() {
                Ok(eid) => self.agent_id = Some(eid),
                Err(e) => {
                    return self.drop_it(Dropped::Malformed(format!(
                        "from_id {:?} is not an endpoint id: {e}",
                        for_log(&record.from_id)
                    )))
                }
            },
        }
        match record.record_type {
            RecordType::WebSocketConnect
            | RecordType::MqttConnect { .. }
            | RecordType::StompConnect { .. }
            | RecordType::UdsConnect => {
                if let Some(agent) = self.agent_id.clone() {
                    self.events.push_back(Event::Connected { agent });
                }
            }
            RecordType::Disconnect { reason, reason_code } => {
                self.events.push_back(Event::Disconnect { reason_code, reason: text::capped(&reason, MAX_AGENT_TEXT) });
            }
            RecordType::SessionContext(_) => {
                // E2E session contexts are not supported yet: say so, as R-E2E.6a asks.
                self.send_disconnect(7106, "Session Context not allowed");
                self.drop_it(Dropped::Unsupported("session context record (E2E sessions)".into()));
            }
            RecordType::NoSessionContext { payload } => {
                if record.payload_security != PAYLOAD_SECURITY_PLAINTEXT {
                    return self.drop_it(Dropped::Unsupported(format!(
                        "payload_security {} outside a session context",
                        record.payload_security
                    )));
                }
                self.handle_payload(payload);
            }
        }
    }

    fn handle_payload(&mut self, payload: Bytes) {
        let msg = match wire::decode_msg(payload.clone(), &self.config.limits) {
            Ok(m) => m,
            Err(e) => return self.handle_broken_msg(&payload, e),
        };
        match msg.body {
            Body::Response(resp) => {
                let got = resp.msg_type();
                self.complete(&msg.msg_id, |expected| {
                    if got == expected {
                        Ok(resp)
                    } else {
                        Err(RequestError::UnexpectedResponse { expected, got })
                    }
                });
            }
            Body::Error(err) => {
                let err = UspError::from(&err);
                self.complete(&msg.msg_id, |_| Err(RequestError::Usp(err)));
            }
            Body::Request(Request::Notify(notify)) => {
                if notify.send_resp {
                    let resp = Msg::new(
                        msg.msg_id.clone(),
                        Body::Response(Response::NotifyResp(msg::NotifyResp {
                            subscription_id: notify.subscription_id.clone(),
                        })),
                    );
                    // A NotifyResp is tiny; it cannot exceed the limit. (The agent is known: it
                    // sent this.)
                    let _ = self.transmit(&resp);
                }
                if !self.recent_notifies.insert(&msg.msg_id) {
                    return self.drop_it(Dropped::DuplicateNotify(text::capped(&msg.msg_id, MAX_AGENT_TEXT)));
                }
                match compact_notify(msg.msg_id, notify, self.config.max_notify_size) {
                    Ok((msg_id, notify)) => self.events.push_back(Event::Notification { msg_id, notify }),
                    Err(why) => self.drop_it(why),
                }
            }
            Body::Request(other) => {
                // Get/Set/... sent to a controller, or Register/Deregister (for USP Services).
                self.reply_error(
                    &msg.msg_id,
                    7001,
                    &format!("{:?} is not supported by this controller", other.msg_type()),
                );
            }
        }
    }

    /// R-MTP.5: answer a broken request with an Error when its msg_id can be read;
    /// a broken reply fails the request it answers; anything else is dropped.
    fn handle_broken_msg(&mut self, payload: &[u8], e: DecodeError) {
        let reason = e.to_string();
        match wire::peek_msg_id(payload) {
            Some(id) if self.pending.contains_key(id.as_str()) => {
                let err = UspError {
                    code: crate::code::RECORD_NOT_PARSED,
                    message: format!("unreadable reply: {reason}"),
                    param_errs: vec![],
                };
                let key: Text = id.into();
                self.complete(&key, |_| Err(RequestError::Usp(err)));
            }
            _ => self.drop_it(Dropped::Malformed(reason)),
        }
    }

    fn reply_error(&mut self, msg_id: &Text, code: u32, text: &str) {
        let err = Msg::new(
            msg_id.clone(),
            Body::Error(msg::Error { err_code: code, err_msg: text.into(), param_errs: vec![] }),
        );
        // The agent is known: it sent what this answers.
        let _ = self.transmit(&err);
    }

    fn complete(&mut self, msg_id: &Text, result: impl FnOnce(MsgType) -> Result<Response, RequestError>) {
        match self.pending.remove(msg_id) {
            Some(p) => {
                self.events.push_back(Event::Completed { id: RequestId(msg_id.clone()), result: result(p.expected) })
            }
            None => self.drop_it(Dropped::UnknownMsgId(text::capped(msg_id, MAX_AGENT_TEXT))),
        }
    }

    /// Fails every outstanding request: the connection is gone. Requests sent after this
    /// (on a new connection) are unaffected.
    pub fn connection_lost(&mut self, reason: &str) {
        self.transmits.clear();
        self.timers.clear();
        let mut ids: Vec<Text> = self.pending.drain().map(|(id, _)| id).collect();
        ids.sort();
        for id in ids {
            self.events.push_back(Event::Completed {
                id: RequestId(id),
                result: Err(RequestError::Disconnected(reason.to_owned())),
            });
        }
    }

    /// Expires requests whose deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, _))) = self.timers.peek() {
            if *deadline > now {
                break;
            }
            let Some(Reverse((deadline, id))) = self.timers.pop() else { break };
            // The timer may belong to a request that was answered already.
            if let Some(p) = self.pending.get(&id) {
                if p.deadline == deadline {
                    let timeout = p.timeout;
                    self.pending.remove(&id);
                    self.events
                        .push_back(Event::Completed { id: RequestId(id), result: Err(RequestError::Timeout(timeout)) });
                }
            }
        }
    }

    /// When [`Link::handle_timeout`] should be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        // Drop timers of answered requests so the heap does not grow without bound.
        while let Some(Reverse((deadline, id))) = self.timers.peek() {
            match self.pending.get(id) {
                Some(p) if p.deadline == *deadline => return Some(*deadline),
                _ => {
                    self.timers.pop();
                }
            }
        }
        None
    }

    /// The next Record to send, as one binary message.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn make_msg_id(&mut self) -> Text {
        use std::fmt::Write as _;
        let n = self.next_msg_id;
        self.next_msg_id += 1;
        let mut s = String::with_capacity(self.config.msg_id_prefix.len() + 21);
        s.push_str(&self.config.msg_id_prefix);
        // Writing to a String cannot fail.
        let _ = write!(s, "-{n}");
        s.into()
    }

    /// Queues the Record carrying `msg` to the agent (known: the callers check).
    fn transmit(&mut self, msg: &Msg) -> Result<(), SendError> {
        let Some(agent) = &self.agent_id else { return Err(SendError::AgentUnknown) };
        let mut out = Vec::new();
        wire::encode_no_session_record(USP_VERSION, agent.as_str(), self.own_id.as_str(), msg, &mut out);
        let size = out.len();
        if size > self.config.limits.max_record_size {
            return Err(SendError::TooLarge { size, limit: self.config.limits.max_record_size });
        }
        self.transmits.push_back(Bytes::from(out));
        Ok(())
    }

    fn push_record(&mut self, rec: &Record) {
        let mut out = Vec::with_capacity(wire::encoded_record_len(rec));
        wire::encode_record(rec, &mut out);
        self.transmits.push_back(Bytes::from(out));
    }

    fn drop_it(&mut self, why: Dropped) {
        self.events.push_back(Event::Dropped(why));
    }
}

mod notifies;

pub use notifies::RECENT_NOTIFY_IDS;
use notifies::{compact_notify, RecentIds};

#[cfg(test)]
mod tests;
