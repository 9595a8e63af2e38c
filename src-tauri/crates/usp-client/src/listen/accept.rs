//! One dialling agent's connection: TLS (told apart from plain WebSocket by its first
//! byte when both are allowed), the WebSocket handshake with the USP checks, the wait for a
//! client ("parked"), and the transport handed to the client.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use percent_encoding::percent_decode_str;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use usp_core::EndpointId;

use super::{Inner, ListenerConfig, ListenerEvent};
use crate::mtp::{BoxFuture, Carrier, Close, Handshake, Inbound, Mtp, Opened, Outbound, Transport};
use crate::tls::{Fingerprint, TlsError};
use crate::ws::{agent_id_from_extensions, Stream, WsTransport, USP_SUBPROTOCOL};

/// Records kept from a connection that waits for its client (the WebSocketConnect record
/// and a few more), and their bytes at most; later ones are dropped.
const MAX_BUFFERED: usize = 8;
const MAX_BUFFERED_BYTES: usize = 256 * 1024;

/// A dialled connection after its handshake.
pub(super) struct Conn {
    pub(super) agent: EndpointId,
    pub(super) address: SocketAddr,
    /// The agent's certificate chain (DER), empty over plain `ws://`.
    pub(super) chain: Vec<Vec<u8>>,
    socket: WebSocketStream<Box<dyn Stream>>,
    buffered: VecDeque<Bytes>,
    buffered_bytes: usize,
}

pub(super) async fn accept_loop(tcp: TcpListener, inner: Weak<Inner>) {
    loop {
        let (stream, address) = match tcp.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(inner) = inner.upgrade() else { return };
        inner.stats.accepted.fetch_add(1, Ordering::Relaxed);
        match inner.handshakes.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    let _permit = permit;
                    handle(inner, stream, address).await;
                });
            }
            Err(_) => {
                drop(stream);
                inner.refused(address, None, "too many connections in their handshake".into());
            }
        }
    }
}

async fn handle(inner: Arc<Inner>, tcp: TcpStream, address: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let limit = inner.config.handshake_timeout;
    match tokio::time::timeout(limit, handshake(&inner, tcp, address)).await {
        Err(_) => inner.refused(address, None, format!("no complete handshake within {limit:?}")),
        Ok(Err((agent, why))) => inner.refused(address, agent, why),
        Ok(Ok(conn)) => arrived(&inner, conn),
    }
}

type Refusal = (Option<EndpointId>, String);

async fn handshake(inner: &Inner, tcp: TcpStream, address: SocketAddr) -> Result<Conn, Refusal> {
    let (stream, chain): (Box<dyn Stream>, Vec<Vec<u8>>) = match &inner.tls {
        None => (Box::new(tcp), Vec::new()),
        Some(acceptor) => {
            let is_tls = if inner.config.allow_plain {
                let mut first = [0u8; 1];
                let n = tcp.peek(&mut first).await.map_err(|e| (None, format!("network error: {e}")))?;
                n == 1 && first[0] == 0x16
            } else {
                true
            };
            if is_tls {
                let s = acceptor.accept(tcp).await.map_err(|e| (None, format!("secure connection failed: {e}")))?;
                let chain = s
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|c| c.iter().map(|c| c.as_ref().to_vec()).collect())
                    .unwrap_or_default();
                (Box::new(s), chain)
            } else {
                (Box::new(tcp), Vec::new())
            }
        }
    };
    let max = inner.config.limits.max_record_size;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(crate::client::READ_BUFFER_SIZE)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let mut decided: Option<Result<EndpointId, String>> = None;
    let config = &inner.config;
    let chain_ref = &chain;
    let decided_ref = &mut decided;
    #[allow(clippy::result_large_err)] // the callback type is tungstenite's
    let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match check_request(config, chain_ref, req, resp) {
            Ok((agent, resp)) => {
                *decided_ref = Some(Ok(agent));
                Ok(resp)
            }
            Err((status, why)) => {
                *decided_ref = Some(Err(why.clone()));
                let mut r = ErrorResponse::new(Some(why));
                *r.status_mut() = status;
                Err(r)
            }
        }
    };
    let result = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config)).await;
    let agent = match decided {
        Some(Ok(agent)) => agent,
        Some(Err(why)) => return Err((None, why)),
        None => None.ok_or((None, "no WebSocket request".to_owned()))?,
    };
    let socket = result.map_err(|e| (Some(agent.clone()), format!("WebSocket handshake failed: {e}")))?;
    Ok(Conn { agent, address, chain, socket, buffered: VecDeque::new(), buffered_bytes: 0 })
}

/// The USP checks of the agent's upgrade request; the agent's EID and our answer.
fn check_request(
    config: &ListenerConfig,
    chain: &[Vec<u8>],
    req: &Request,
    mut resp: Response,
) -> Result<(EndpointId, Response), (StatusCode, String)> {
    let bad = |why: String| (StatusCode::BAD_REQUEST, why);
    if req.uri().path() != config.path {
        return Err((StatusCode::NOT_FOUND, format!("no USP endpoint at this path (it is {})", config.path)));
    }
    let offers_usp = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == USP_SUBPROTOCOL);
    if !offers_usp {
        return Err(bad(format!("the WebSocket subprotocol {USP_SUBPROTOCOL} is required (R-WS.12a)")));
    }
    let extensions: Vec<&str> =
        req.headers().get_all("Sec-WebSocket-Extensions").iter().filter_map(|v| v.to_str().ok()).collect();
    let offered_ext = extensions.iter().any(|e| e.contains("bbf-usp-protocol"));
    let from_query = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("eid=")));
    let agent: EndpointId = match from_query {
        Some(raw) => {
            let text = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| bad("the eid query argument is not UTF-8".to_owned()))?;
            text.parse().map_err(|e| bad(format!("invalid Endpoint ID in the eid query argument: {e}")))?
        }
        None => match extensions.iter().find_map(|v| agent_id_from_extensions(v)) {
            Some(eid) => eid,
            None => match chain.first() {
                Some(cert) => crate::tls::endpoint_id_of(cert).map_err(|e| (StatusCode::FORBIDDEN, e.to_string()))?,
                None => return Err(bad("the device did not say its Endpoint ID (eid= query argument)".to_owned())),
            },
        },
    };
    if agent == config.own_id {
        return Err(bad("the device uses usp-home's own Endpoint ID".to_owned()));
    }
    if let Some(cert) = chain.first() {
        crate::tls::endpoint_id_matching(cert, Some(&agent)).map_err(|e| (StatusCode::FORBIDDEN, e.to_string()))?;
    }
    let headers = resp.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static(USP_SUBPROTOCOL));
    if offered_ext {
        // R-WS.11a: answer the old extension with our own EID.
        if let Ok(v) = HeaderValue::from_str(&format!("bbf-usp-protocol; eid=\"{}\"", config.own_id)) {
            headers.insert("Sec-WebSocket-Extensions", v);
        }
    }
    Ok((agent, resp))
}

/// A connection passed its handshake: trusted ones replace the agent's connection in use;
/// unknown certificates wait for the user; others are refused.
fn arrived(inner: &Arc<Inner>, mut conn: Conn) {
    inner.stats.dialled.fetch_add(1, Ordering::Relaxed);
    let fingerprint = conn.chain.first().map(|c| Fingerprint::of(c));
    let event =
        |trusted| ListenerEvent::Dialled { agent: conn.agent.clone(), address: conn.address, fingerprint, trusted };
    match inner.judge(&conn.agent, &conn.chain).map_err(|b| *b) {
        // Kept first, then told: whoever reacts to the event finds the connection.
        Ok(()) => {
            tracing::info!(agent = %conn.agent, address = %conn.address, "an agent dialled in");
            let told = event(true);
            inner.replace_active(&conn.agent);
            inner.park(conn, None);
            inner.event(told);
        }
        Err((TlsError::Untrusted { .. }, seen)) => {
            let told = event(false);
            inner.park(conn, seen);
            inner.event(told);
        }
        Err((e, _)) => {
            inner.refused(conn.address, Some(conn.agent.clone()), e.to_string());
            tokio::spawn(async move {
                let frame = CloseFrame { code: CloseCode::Policy, reason: "not trusted".into() };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn.socket.close(Some(frame))).await;
            });
        }
    }
}

/// Serves a waiting connection: reads it (pings answered, the first Records kept) until a
/// client claims it, it ends, or its time is up.
pub(super) async fn serve_parked(
    inner: Weak<Inner>,
    mut conn: Conn,
    id: u64,
    mut claims: oneshot::Receiver<oneshot::Sender<Conn>>,
) {
    let park_time = match inner.upgrade() {
        Some(i) => i.config.park_time,
        None => return,
    };
    let expiry = tokio::time::sleep(park_time);
    tokio::pin!(expiry);
    let agent = conn.agent.clone();
    let close = loop {
        tokio::select! {
            claim = &mut claims => match claim {
                Ok(reply) => match reply.send(conn) {
                    Ok(()) => return,
                    Err(back) => {
                        conn = back;
                        break Some((CloseCode::Away, "usp-home is closing"));
                    }
                },
                Err(_) => break Some((CloseCode::Away, "replaced or usp-home is closing")),
            },
            msg = conn.socket.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if conn.buffered.len() < MAX_BUFFERED && conn.buffered_bytes + b.len() <= MAX_BUFFERED_BYTES {
                        conn.buffered_bytes += b.len();
                        conn.buffered.push_back(b);
                    }
                }
                Some(Ok(Message::Text(_))) => break Some((CloseCode::Unsupported, "USP records travel in binary frames")),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
            },
            () = &mut expiry => break Some((CloseCode::Normal, "no one asked for this device in time")),
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn.socket.close(Some(frame))).await;
    }
    if let Some(inner) = inner.upgrade() {
        inner.unpark(&agent, id);
    }
}

/// Hands a claimed connection to a client.
pub(super) fn open(inner: &Arc<Inner>, conn: Conn) -> Opened {
    let (id, replaced) = inner.activate(&conn.agent);
    inner.stats.handed_over.fetch_add(1, Ordering::Relaxed);
    let carrier = Carrier { agent_dialled: true, ..Carrier::new(Mtp::Ws, !conn.chain.is_empty()) };
    let handshake = Handshake { agent_id_hint: Some(conn.agent.clone()), peer_certificates: conn.chain };
    let transport = DialledTransport {
        ws: WsTransport::new(conn.socket, carrier),
        buffered: conn.buffered,
        replaced: Some(replaced),
        inner: Arc::downgrade(inner),
        agent: conn.agent,
        id,
    };
    Opened { transport: Box::new(transport), handshake }
}

/// The WebSocket transport of a dialled connection, with the Records read while it waited
/// first, and an end when a newer connection of the agent replaces it.
struct DialledTransport {
    ws: WsTransport<Box<dyn Stream>>,
    buffered: VecDeque<Bytes>,
    replaced: Option<oneshot::Receiver<()>>,
    inner: Weak<Inner>,
    agent: EndpointId,
    id: u64,
}

impl Transport for DialledTransport {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.ws.poll_ready(cx)
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        self.ws.start_send(item)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.ws.poll_flush(cx)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        if let Some(b) = self.buffered.pop_front() {
            return Poll::Ready(Inbound::Record(b));
        }
        if let Some(rx) = &mut self.replaced {
            match std::pin::Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(())) => {
                    self.replaced = None;
                    return Poll::Ready(Inbound::Lost("the device connected again; the new connection is used".into()));
                }
                Poll::Ready(Err(_)) => self.replaced = None,
                Poll::Pending => {}
            }
        }
        self.ws.poll_recv(cx)
    }

    fn close(&mut self, why: Close) -> BoxFuture<'_, ()> {
        self.ws.close(why)
    }

    fn carrier(&self) -> Carrier {
        self.ws.carrier()
    }
    // Writing is the WebSocket's alone; reading adds the buffer and the replacement notice,
    // which need nothing but the waker they are polled with.
    fn any_task_may_send(&self) -> bool {
        self.ws.any_task_may_send()
    }
    fn any_task_may_receive(&self) -> bool {
        self.ws.any_task_may_receive()
    }
}

impl Drop for DialledTransport {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.deactivate(&self.agent, self.id);
        }
    }
}

use std::future::Future as _;
