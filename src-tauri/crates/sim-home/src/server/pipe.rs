//! A controller connection over any MTP that carries whole Records (MQTT and STOMP through a
//! broker, CoAP, a WebSocket the agent dialled, the in-memory transport of tests): the MTP
//! side moves bytes through a [`RecordPipe`], and this module does the rest as the WebSocket
//! server does (the connect Record first, the same Record checks, replies in request order,
//! Notifies routed by the actor).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tracing::{debug, info};
use usp_client::tls::Identity;
use usp_core::eid::EndpointId;
use usp_proto::usp::Msg;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::DisconnectRecord;

use super::e2e::PipeE2e;
use super::record::{classify_record, encode_no_session, encode_record, record_prefix, RecordAction};
use super::{
    Cmd, ConnLink, Out, DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED, DISCONNECT_SESSION_CONTEXT_TERMINATED, MAX_IN_FLIGHT,
    OUT_QUEUE,
};
use crate::spec::SessionMode;

/// The agent's end of one controller connection over some MTP.
#[derive(Debug)]
pub struct RecordPipe {
    /// The controller at the other end (the MTP says who: the `usp-endpoint-id` property,
    /// the STOMP `endpoint-id` header, the `from_id` of its first Record...).
    pub controller: EndpointId,
    /// Records from the controller. An empty message is a keepalive and is ignored. The
    /// connection ends when this closes.
    pub incoming: mpsc::Receiver<Bytes>,
    /// Records to the controller. The connection ends when its receiver is dropped.
    pub outgoing: mpsc::Sender<Bytes>,
    /// The connect Record to send first (`MQTTConnectRecord`, `STOMPConnectRecord`,
    /// `WebSocketConnectRecord`), if the MTP has one.
    pub connect_record: Option<RecordType>,
}

/// Connection numbers of pipes, apart from those of the WebSocket servers (which count
/// from 1 per agent).
static NEXT_PIPE: AtomicU64 = AtomicU64::new(1 << 40);

/// Serves one pipe until either side ends it.
pub(crate) async fn serve_pipe(
    actor: mpsc::Sender<Cmd>,
    key: String,
    agent_eid: EndpointId,
    identity: Arc<Identity>,
    pipe: RecordPipe,
) {
    let RecordPipe { controller, mut incoming, outgoing, connect_record } = pipe;
    let conn = NEXT_PIPE.fetch_add(1, Ordering::Relaxed);
    let (out_tx, mut out_rx) = mpsc::channel(OUT_QUEUE);
    let (close_tx, mut close_rx) = oneshot::channel();
    if let Some(rt) = connect_record {
        let _ = out_tx.try_send(Out::Raw(encode_record(controller.as_str(), agent_eid.as_str(), rt)));
    }
    // The controller's session-context policy, as the data model says now.
    let (policy_tx, policy_rx) = oneshot::channel();
    let who = controller.clone();
    let ask: super::AgentCall = Box::new(move |agent, _| {
        let _ = policy_tx.send(agent.e2e_policy(who.as_str()));
    });
    if actor.send(Cmd::Call(ask)).await.is_err() {
        return;
    }
    let Ok(policy) = policy_rx.await else { return };
    let e2e = std::sync::Mutex::new(PipeE2e::new(policy, &agent_eid, &controller, &identity));
    let lock = || e2e.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let changed = Notify::new();
    let link = ConnLink { out: out_tx.clone(), close: close_tx };
    if actor.send(Cmd::Connected { conn, eid: controller.clone(), link }).await.is_err() {
        return;
    }
    info!(agent = %key, %controller, conn, mode = ?policy.mode, "controller connected (record pipe)");
    let prefix = record_prefix(controller.as_str(), agent_eid.as_str());
    // Status changes go to the data model; a full actor queue only loses a status update.
    let set_status = |status: &'static str| {
        let who = controller.clone();
        let call: super::AgentCall = Box::new(move |agent, _| agent.set_e2e_status(who.as_str(), status));
        let _ = actor.try_send(Cmd::Call(call));
    };
    let writer = async {
        loop {
            let item = tokio::select! {
                biased;
                _ = &mut close_rx => return,
                item = out_rx.recv() => item,
            };
            let records = match item {
                Some(Out::Msg(msg, _permit)) => {
                    let mut e2e = lock();
                    if e2e.replies_in_context() && e2e.send(Bytes::from(msg.encode_to_vec())) {
                        let d = e2e.drain();
                        drop(e2e);
                        changed.notify_one();
                        if let Some(status) = d.status {
                            set_status(status);
                        }
                        d.transmits
                    } else {
                        vec![Bytes::from(encode_no_session(&prefix, &msg))]
                    }
                }
                Some(Out::Raw(bytes)) => vec![Bytes::from(bytes)],
                Some(Out::Ping) => continue,
                Some(Out::Close(..)) | None => return,
            };
            for r in records {
                if outgoing.send(r).await.is_err() {
                    return;
                }
            }
        }
    };
    let timer = async {
        loop {
            let deadline = lock().deadline();
            let notified = changed.notified();
            match deadline {
                Some(at) => tokio::select! {
                    () = notified => continue,
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                },
                None => {
                    notified.await;
                    continue;
                }
            }
            let d = {
                let mut e2e = lock();
                e2e.timeout();
                e2e.drain()
            };
            if let Some(status) = d.status {
                set_status(status);
            }
            for r in d.transmits {
                if out_tx.send(Out::Raw(r.to_vec())).await.is_err() {
                    return;
                }
            }
        }
    };
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let to_actor = |msg: Msg| {
        let in_flight = in_flight.clone();
        let actor = actor.clone();
        async move {
            let Ok(permit) = in_flight.acquire_owned().await else { return false };
            actor.send(Cmd::Msg { conn, msg, permit }).await.is_ok()
        }
    };
    let reader = async {
        while let Some(bytes) = incoming.recv().await {
            if bytes.is_empty() {
                continue;
            }
            let kind = peek_kind(&bytes, agent_eid.as_str(), controller.as_str());
            let has_session = lock().has_session();
            match kind {
                Kind::Session => {
                    let d = {
                        let mut e2e = lock();
                        if e2e.handle(bytes) {
                            Some(e2e.drain())
                        } else {
                            None
                        }
                    };
                    changed.notify_one();
                    let Some(d) = d else {
                        // Forbid: 7106, and the pipe stays up for Records without a context.
                        let record = encode_record(
                            controller.as_str(),
                            agent_eid.as_str(),
                            RecordType::Disconnect(DisconnectRecord {
                                reason: "Session Context not allowed".to_owned(),
                                reason_code: DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED,
                            }),
                        );
                        if out_tx.send(Out::Raw(record)).await.is_err() {
                            return;
                        }
                        continue;
                    };
                    if let Some(status) = d.status {
                        set_status(status);
                    }
                    for r in d.transmits {
                        if out_tx.send(Out::Raw(r.to_vec())).await.is_err() {
                            return;
                        }
                    }
                    for m in d.delivered {
                        match Msg::decode(m) {
                            Ok(msg) => {
                                if !to_actor(msg).await {
                                    return;
                                }
                            }
                            Err(e) => debug!("ignoring a session-context message that is not a USP Msg: {e}"),
                        }
                    }
                    continue;
                }
                Kind::SessionDisconnect if has_session => {
                    let d = {
                        let mut e2e = lock();
                        e2e.handle(bytes);
                        e2e.drain()
                    };
                    if let Some(status) = d.status {
                        set_status(status);
                    }
                    continue;
                }
                _ => {}
            }
            match classify_record(&bytes, agent_eid.as_str(), controller.as_str()) {
                RecordAction::Ignore => {}
                RecordAction::Msg(msg) => {
                    let require = {
                        let mut e2e = lock();
                        e2e.spoke_plain();
                        e2e.policy.mode == SessionMode::Require
                    };
                    if require {
                        // R-MTP.5: an Error in answer to a request, nothing to anything else.
                        if let Some(reply) = secure_session_required(&msg) {
                            let record = encode_no_session(&prefix, &reply);
                            if out_tx.send(Out::Raw(record)).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    if !to_actor(msg).await {
                        return;
                    }
                }
                RecordAction::Disconnect { code, reason } => {
                    let record = encode_record(
                        controller.as_str(),
                        agent_eid.as_str(),
                        RecordType::Disconnect(DisconnectRecord { reason: reason.to_owned(), reason_code: code }),
                    );
                    let _ = out_tx.send(Out::Raw(record)).await;
                    let _ = out_tx.send(Out::Close(0, reason)).await;
                    // Let the writer send it; the reader is done.
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    tokio::select! {
        () = writer => debug!(agent = %key, %controller, conn, "record pipe: the writer ended"),
        () = reader => debug!(agent = %key, %controller, conn, "record pipe: the controller side ended"),
        () = timer => debug!(agent = %key, %controller, conn, "record pipe: the session timer ended"),
    }
    let had_session = lock().has_session();
    if had_session {
        set_status("Down");
    }
    let _ = actor.send(Cmd::Disconnected { conn }).await;
    info!(agent = %key, %controller, conn, "controller disconnected (record pipe)");
}

/// Which layer a received Record is for.
enum Kind {
    /// A `session_context` Record for us from this controller.
    Session,
    /// A DisconnectRecord 7105 or 7106 (the session layer's, when a context exists).
    SessionDisconnect,
    /// Anything else ([`classify_record`] decides).
    Other,
}

fn peek_kind(bytes: &Bytes, agent: &str, controller: &str) -> Kind {
    let Ok(rec) = usp_core::wire::decode_record(bytes.clone(), &usp_core::wire::Limits::default()) else {
        return Kind::Other;
    };
    if &*rec.to_id != agent || &*rec.from_id != controller {
        return Kind::Other;
    }
    match rec.record_type {
        usp_core::record::RecordType::SessionContext(_) => Kind::Session,
        usp_core::record::RecordType::Disconnect { reason_code, .. }
            if reason_code == DISCONNECT_SESSION_CONTEXT_TERMINATED
                || reason_code == DISCONNECT_SESSION_CONTEXT_NOT_ALLOWED =>
        {
            Kind::SessionDisconnect
        }
        _ => Kind::Other,
    }
}

/// The Error 7101 "Secure session required" answering a request; `None` for anything that
/// is not a request.
fn secure_session_required(msg: &Msg) -> Option<Msg> {
    use usp_proto::usp::body::MsgBody;
    let header = msg.header.as_ref()?;
    if !matches!(msg.body.as_ref()?.msg_body, Some(MsgBody::Request(_))) {
        return None;
    }
    let e = crate::agent::err(7101, "Secure session required: this agent requires an end-to-end session context");
    Some(crate::agent::error_reply(&header.msg_id, e, Vec::new()))
}
