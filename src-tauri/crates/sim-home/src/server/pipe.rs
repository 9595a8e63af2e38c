//! A controller connection over any MTP that carries whole Records (MQTT and STOMP through a
//! broker, CoAP, a WebSocket the agent dialled, the in-memory transport of tests): the MTP
//! side moves bytes through a [`RecordPipe`], and this module does the rest as the WebSocket
//! server does (the connect Record first, the same Record checks, replies in request order,
//! Notifies routed by the actor).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{debug, info};
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::DisconnectRecord;

use super::record::{classify_record, encode_no_session, encode_record, record_prefix, RecordAction};
use super::{Cmd, ConnLink, Out, MAX_IN_FLIGHT, OUT_QUEUE};

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
pub(crate) async fn serve_pipe(actor: mpsc::Sender<Cmd>, key: String, agent_eid: EndpointId, pipe: RecordPipe) {
    let RecordPipe { controller, mut incoming, outgoing, connect_record } = pipe;
    let conn = NEXT_PIPE.fetch_add(1, Ordering::Relaxed);
    let (out_tx, mut out_rx) = mpsc::channel(OUT_QUEUE);
    let (close_tx, mut close_rx) = oneshot::channel();
    if let Some(rt) = connect_record {
        let _ = out_tx.try_send(Out::Raw(encode_record(controller.as_str(), agent_eid.as_str(), rt)));
    }
    let link = ConnLink { out: out_tx.clone(), close: close_tx };
    if actor.send(Cmd::Connected { conn, eid: controller.clone(), link }).await.is_err() {
        return;
    }
    info!(agent = %key, %controller, conn, "controller connected (record pipe)");
    let prefix = record_prefix(controller.as_str(), agent_eid.as_str());
    let writer = async {
        loop {
            let item = tokio::select! {
                biased;
                _ = &mut close_rx => return,
                item = out_rx.recv() => item,
            };
            let bytes = match item {
                Some(Out::Msg(msg, _permit)) => encode_no_session(&prefix, &msg),
                Some(Out::Raw(bytes)) => bytes,
                Some(Out::Close(..)) | None => return,
            };
            if outgoing.send(Bytes::from(bytes)).await.is_err() {
                return;
            }
        }
    };
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let reader = async {
        while let Some(bytes) = incoming.recv().await {
            if bytes.is_empty() {
                continue;
            }
            match classify_record(&bytes, agent_eid.as_str(), controller.as_str()) {
                RecordAction::Ignore => {}
                RecordAction::Msg(msg) => {
                    let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
                    if actor.send(Cmd::Msg { conn, msg, permit }).await.is_err() {
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
    }
    let _ = actor.send(Cmd::Disconnected { conn }).await;
    info!(agent = %key, %controller, conn, "controller disconnected (record pipe)");
}
