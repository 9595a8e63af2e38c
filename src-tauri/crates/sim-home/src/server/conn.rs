//! The acceptor and one task per connection: TLS and WebSocket handshakes, then the
//! connection loop (`connection`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tracing::{debug, info, warn};
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::WebSocketConnectRecord;

use super::connection::Connection;
use super::handshake::{check_certificate, check_handshake};
use super::record::{encode_record, record_prefix};
use super::{
    stopped, Cmd, ConnLink, Io, Out, PeerCert, ServerCtx, CLOSE_GRACE, HANDSHAKE_TIMEOUT, MAX_BUSY_ANSWERS,
    MAX_CONNECTIONS, OUT_QUEUE,
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
    // The actor keeps the only sender: the queue closes when the actor forgets this connection.
    let link = ConnLink { out: out_tx, close: close_tx };
    if ctx.actor.is_closed() {
        return; // the agent is stopped
    }
    ctx.core.connected(conn, eid.clone(), link).await;
    let connection = Connection {
        ws,
        ctx: &ctx,
        conn,
        eid: eid.clone(),
        out: out_rx,
        close: Some(close_rx),
        shutdown: ctx.shutdown.clone(),
        prefix: record_prefix(eid.as_str(), ctx.agent_eid.as_str()),
        unflushed: 0,
        read_armed: false,
        heard: false,
        unanswered: 0,
        counter: 0,
    };
    connection.run().await;
    let _ = ctx.actor.send(Cmd::Disconnected { conn }).await;
    info!(agent = %ctx.key, controller = %eid, conn, "controller disconnected");
}
