//! The acceptor and one task per connection: TLS and WebSocket handshakes, then the
//! reader, which decodes Records and forwards Msgs to the actor.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::{debug, info, warn};
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::{DisconnectRecord, WebSocketConnectRecord};

use super::handshake::{check_certificate, check_handshake};
use super::record::{classify_record, encode_record, record_prefix, RecordAction};
use super::writer::{Writer, WriterEnd};
use super::{
    close, stopped, Cmd, ConnLink, Io, Out, PeerCert, ServerCtx, WsStream, CLOSE_GRACE, HANDSHAKE_TIMEOUT,
    MAX_BUSY_ANSWERS, MAX_CONNECTIONS, MAX_IN_FLIGHT, OUT_QUEUE,
};
use crate::tls::Fingerprint;

pub(super) async fn accept_loop(listener: TcpListener, ctx: Arc<ServerCtx>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let busy_slots = Arc::new(Semaphore::new(MAX_BUSY_ANSWERS));
    let mut shutdown = ctx.shutdown.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    if let Ok(slot) = slots.clone().try_acquire_owned() {
                        conns.spawn(serve_connection(tcp, peer, ctx.clone(), slot));
                    } else if let Ok(slot) = busy_slots.clone().try_acquire_owned() {
                        warn!(agent = %ctx.key, %peer, "{MAX_CONNECTIONS} connections already: 503");
                        let tls = ctx.tls.as_ref().map(|t| t.acceptor.clone());
                        conns.spawn(answer_busy(tcp, tls, slot));
                    } else {
                        drop(tcp);
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    warn!(agent = %ctx.key, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    // The connections see the shutdown too and close with 1001; give them a moment.
    let _ =
        timeout(CLOSE_GRACE + Duration::from_millis(500), async { while conns.join_next().await.is_some() {} }).await;
    debug!(agent = %ctx.key, "acceptor stopped");
}

/// Answers HTTP 503 to a connection over [`MAX_CONNECTIONS`] (after the TLS handshake,
/// with TLS).
async fn answer_busy(tcp: TcpStream, tls: Option<TlsAcceptor>, _slot: OwnedSemaphorePermit) {
    const BODY: &str = "too many connections to this USP agent\n";
    let _ = timeout(CLOSE_GRACE, async {
        let mut tcp: Box<dyn Io> = match tls {
            Some(acceptor) => Box::new(acceptor.accept(tcp).await?),
            None => Box::new(tcp),
        };
        // Read the request head first, so that closing does not reset the connection
        // before the client reads the answer.
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let n = tcp.read(&mut buf).await?;
            head.extend_from_slice(buf.get(..n).unwrap_or_default());
            if n == 0 || head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() > 16 * 1024 {
                break;
            }
        }
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await
    })
    .await;
}

/// Drops (aborts) a spawned task with its owner.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// The handshake callback's error type is tungstenite's (an HTTP response).
#[allow(clippy::result_large_err)]
async fn serve_connection(tcp: TcpStream, peer: SocketAddr, ctx: Arc<ServerCtx>, _slot: OwnedSemaphorePermit) {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let (stream, peer_cert): (Box<dyn Io>, Option<PeerCert>) = match &ctx.tls {
        None => (Box::new(tcp), None),
        Some(tls) => match timeout_at(deadline, tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let session = stream.get_ref().1;
                let eid = usp_client::tls::peer_endpoint_id(session);
                let fingerprint = session.peer_certificates().and_then(|c| c.first()).map(|c| Fingerprint::of(c));
                let (Some(eid), Some(fingerprint)) = (eid, fingerprint) else {
                    // The verifier requires a certificate naming one EID: not reached.
                    debug!(agent = %ctx.key, %peer, "TLS client without a usable certificate");
                    return;
                };
                (Box::new(stream), Some(PeerCert { eid, fingerprint }))
            }
            Ok(Err(e)) => {
                debug!(agent = %ctx.key, %peer, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                debug!(agent = %ctx.key, %peer, "TLS handshake timed out");
                return;
            }
        },
    };
    let mut accepted: Option<EndpointId> = None;
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let (resp, eid) = check_handshake(&ctx, req, resp)?;
        if let (Some(cert), Some(tls)) = (&peer_cert, &ctx.tls) {
            check_certificate(&eid, cert, &tls.pins)?;
        }
        accepted = Some(eid);
        Ok(resp)
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ctx.ws_config));
    let ws = match timeout_at(deadline, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            debug!(agent = %ctx.key, %peer, "handshake refused: {e}");
            return;
        }
        Err(_) => {
            debug!(agent = %ctx.key, %peer, "handshake timed out");
            return;
        }
    };
    let Some(eid) = accepted else {
        return;
    };
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    info!(agent = %ctx.key, controller = %eid, conn, %peer, "controller connected");

    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let (close_tx, close_rx) = oneshot::channel();
    // The WebSocketConnect Record goes first, before anything the actor may queue.
    let connect =
        encode_record(eid.as_str(), ctx.agent_eid.as_str(), RecordType::WebsocketConnect(WebSocketConnectRecord {}));
    if out_tx.try_send(Out::Raw(connect)).is_err() {
        return;
    }
    let link = ConnLink { out: out_tx.clone(), close: close_tx };
    if ctx.actor.send(Cmd::Connected { conn, eid: eid.clone(), link }).await.is_err() {
        return; // the agent is stopped
    }

    let (sink, stream) = ws.split();
    let liveness = Arc::new(AtomicU64::new(0));
    let writer = Writer {
        sink,
        out: out_rx,
        close: Some(close_rx),
        shutdown: ctx.shutdown.clone(),
        prefix: record_prefix(eid.as_str(), ctx.agent_eid.as_str()),
        keep_alive: ctx.keep_alive,
        liveness: liveness.clone(),
    };
    let mut writer = AbortOnDrop(tokio::spawn(writer.run()));
    let reader = read_loop(stream, &ctx, conn, &eid, out_tx, liveness);
    tokio::pin!(reader);

    tokio::select! {
        () = &mut reader => {
            // The controller closed (or broke) the connection.
            let _ = ctx.actor.send(Cmd::Disconnected { conn }).await;
            let _ = timeout(CLOSE_GRACE, &mut writer.0).await;
        }
        end = &mut writer.0 => {
            if matches!(end, Ok(WriterEnd::Closing)) {
                // Wait (a little) for the controller's close frame.
                let _ = timeout(CLOSE_GRACE, &mut reader).await;
            }
            let _ = ctx.actor.send(Cmd::Disconnected { conn }).await;
        }
    }
    info!(agent = %ctx.key, controller = %eid, conn, "controller disconnected");
}

async fn read_loop(
    mut stream: SplitStream<WsStream>,
    ctx: &ServerCtx,
    conn: u64,
    eid: &EndpointId,
    out: mpsc::Sender<Out>,
    liveness: Arc<AtomicU64>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // Set once a close is requested: frames are then read (for the close handshake and
    // auto-pongs) but no longer handled.
    let mut closing = false;
    while let Some(frame) = stream.next().await {
        liveness.fetch_add(1, Ordering::Relaxed);
        let frame = match frame {
            Ok(frame) => frame,
            Err(WsError::Capacity(e)) => {
                warn!(agent = %ctx.key, controller = %eid, "closing: {e}");
                let _ = out.send(Out::Close(close::TOO_BIG, "USP record larger than 5 MiB")).await;
                return;
            }
            Err(e) => {
                debug!(agent = %ctx.key, controller = %eid, "connection error: {e}");
                return;
            }
        };
        if closing {
            continue;
        }
        match frame {
            WsMessage::Binary(data) => match classify_record(&data, ctx.agent_eid.as_str(), eid.as_str()) {
                RecordAction::Ignore => {}
                RecordAction::Msg(msg) => {
                    let Ok(permit) = in_flight.clone().acquire_owned().await else {
                        return;
                    };
                    if ctx.actor.send(Cmd::Msg { conn, msg, permit }).await.is_err() {
                        return;
                    }
                }
                RecordAction::Disconnect { code, reason } => {
                    let record = encode_record(
                        eid.as_str(),
                        ctx.agent_eid.as_str(),
                        RecordType::Disconnect(DisconnectRecord { reason: reason.to_owned(), reason_code: code }),
                    );
                    if out.send(Out::Raw(record)).await.is_err()
                        || out.send(Out::Close(close::POLICY, reason)).await.is_err()
                    {
                        return;
                    }
                    closing = true;
                }
            },
            WsMessage::Text(_) => {
                debug!(agent = %ctx.key, controller = %eid, "text frame: closing with 1003");
                if out.send(Out::Close(close::UNSUPPORTED_DATA, close::TEXT_REASON)).await.is_err() {
                    return;
                }
                closing = true;
            }
            // Pongs to our Pings are counted above; tungstenite answers Pings and Close.
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Close(_) | WsMessage::Frame(_) => {}
        }
    }
}
