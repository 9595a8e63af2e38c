//! Opening one WebSocket MTP connection to an agent (ws:// or wss://).
//!
//! What the USP WebSocket binding asks of a controller acting as WebSocket client:
//! offer exactly `Sec-WebSocket-Protocol: v1.usp` and refuse a server that does not
//! echo it (R-WS.9-12), put our Endpoint ID in the `eid` query argument with `%`
//! escaped (R-WS.10b/c), and carry each Record in one binary message (R-WS.14).
//! Real agents send `Sec-WebSocket-Extensions: bbf-usp-protocol; eid="..."` even when
//! the client did not offer it; we tolerate it and read the agent's Endpoint ID from it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, StreamExt};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use usp_core::EndpointId;

use crate::error::ConnectError;
use crate::mtp::{BoxFuture, Carrier, Close, Inbound, Mtp, Opened, Outbound, Transport};
use crate::ClientConfig;

/// The only WebSocket subprotocol USP defines.
pub const USP_SUBPROTOCOL: &str = "v1.usp";

/// Characters escaped in the `eid` query value: everything but the unreserved set and
/// the `:` that every Endpoint ID has (agents accept both forms; `%` must be escaped).
const EID_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b':');

/// A byte stream that is either plain TCP or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// An open WebSocket to an agent.
pub type Socket = WebSocketStream<Box<dyn Stream>>;

pub use crate::mtp::Handshake;

/// The request URI for `url`, with `eid=<own id>` appended to its query.
///
/// # Errors
/// [`ConnectError::BadUrl`] when `url` is not a ws:// or wss:// URL.
pub fn request_uri(url: &str, own_id: &EndpointId) -> Result<Uri, ConnectError> {
    let uri: Uri = url.parse().map_err(|e| ConnectError::BadUrl(format!("{url:?}: {e}")))?;
    match uri.scheme_str() {
        Some("ws") | Some("wss") => {}
        _ => return Err(ConnectError::BadUrl(format!("{url:?}: the address must start with ws:// or wss://"))),
    }
    if uri.host().is_none() {
        return Err(ConnectError::BadUrl(format!("{url:?}: no host")));
    }
    let eid = utf8_percent_encode(own_id.as_str(), EID_ESCAPE).to_string();
    let path = uri.path();
    let path = if path.is_empty() { "/" } else { path };
    let query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{q}&eid={eid}"),
        _ => format!("eid={eid}"),
    };
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let scheme = uri.scheme_str().unwrap_or("ws");
    format!("{scheme}://{authority}{path}?{query}").parse().map_err(|e| ConnectError::BadUrl(format!("{url:?}: {e}")))
}

/// Reads the agent EID from a `Sec-WebSocket-Extensions` value such as
/// `bbf-usp-protocol; eid="proto::obuspa-test-agent"`. The value is not a valid RFC 6455
/// extension token list (it contains `:`), so it is parsed leniently here.
pub fn agent_id_from_extensions(value: &str) -> Option<EndpointId> {
    for ext in value.split(',') {
        let mut parts = ext.split(';').map(str::trim);
        if parts.next() != Some("bbf-usp-protocol") {
            continue;
        }
        for p in parts {
            if let Some(v) = p.strip_prefix("eid=") {
                let v = v.trim().trim_matches('"');
                if let Ok(eid) = v.parse() {
                    return Some(eid);
                }
            }
        }
    }
    None
}

/// Connects TCP (+ TLS for wss) and performs the WebSocket handshake.
///
/// # Errors
/// Every step reports a [`ConnectError`] that says which step failed.
pub async fn connect(
    url: &str,
    own_id: &EndpointId,
    tls: Option<Arc<rustls::ClientConfig>>,
    ws_config: WebSocketConfig,
    timeout: Duration,
) -> Result<(Socket, Handshake), ConnectError> {
    match tokio::time::timeout(timeout, connect_inner(url, own_id, tls, ws_config)).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout(timeout)),
    }
}

async fn connect_inner(
    url: &str,
    own_id: &EndpointId,
    tls: Option<Arc<rustls::ClientConfig>>,
    ws_config: WebSocketConfig,
) -> Result<(Socket, Handshake), ConnectError> {
    let uri = request_uri(url, own_id)?;
    let secure = uri.scheme_str() == Some("wss");
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| ConnectError::Tcp(format!("{host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    // A peer that vanishes (unplugged, powered off) is noticed by the kernel too, not only
    // by our pings: best effort, a platform without these options still connects.
    if let Err(e) = set_keepalive(&tcp) {
        tracing::debug!(error = %e, "could not set TCP keepalive");
    }
    let mut handshake = Handshake::default();
    let stream: Box<dyn Stream> = if secure {
        let config = tls.ok_or(ConnectError::TlsNotConfigured)?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| ConnectError::BadUrl(format!("{host:?} is not a valid TLS server name: {e}")))?;
        let tls_stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| crate::error::connect_error(&e))?;
        if let Some(certs) = tls_stream.get_ref().1.peer_certificates() {
            handshake.peer_certificates = certs.iter().map(|c| c.as_ref().to_vec()).collect();
        }
        Box::new(tls_stream)
    } else {
        Box::new(tcp)
    };
    let mut request = uri.into_client_request().map_err(|e| ConnectError::BadUrl(e.to_string()))?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(USP_SUBPROTOCOL));
    let (socket, response) = tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config))
        .await
        .map_err(|e| ConnectError::Handshake(e.to_string()))?;
    check_response(&response)?;
    handshake.agent_id_hint = response
        .headers()
        .get_all("Sec-WebSocket-Extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(agent_id_from_extensions);
    Ok((socket, handshake))
}

/// Opens the WebSocket MTP for a client: [`connect`] with the client's settings, as a
/// [`Transport`].
///
/// # Errors
/// As [`connect`].
pub async fn open(config: &ClientConfig) -> Result<Opened, ConnectError> {
    let max = config.limits.max_record_size;
    // tungstenite zero-fills its whole read buffer before every read attempt, even one
    // that would block; the 128 KiB default costs several microseconds per poll. The
    // buffer still grows for large messages.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(crate::client::READ_BUFFER_SIZE)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let (socket, handshake) =
        connect(&config.url, &config.own_id, config.tls.clone(), ws_config, config.connect_timeout).await?;
    let carrier = Carrier::new(Mtp::Ws, !handshake.peer_certificates.is_empty());
    Ok(Opened { transport: Box::new(WsTransport::new(socket, carrier)), handshake })
}

/// One WebSocket connection as a [`Transport`]: Records in binary messages, the keepalive
/// a ping, a text message a violation (R-WS.14).
pub struct WsTransport<S = Box<dyn Stream>> {
    socket: WebSocketStream<S>,
    pings: u8,
    carrier: Carrier,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> WsTransport<S> {
    /// Wraps an open WebSocket (either side of the handshake).
    pub fn new(socket: WebSocketStream<S>, carrier: Carrier) -> Self {
        Self { socket, pings: 0, carrier }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Transport for WsTransport<S> {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.socket).poll_ready(cx).map_err(|e| describe_ws_error(&e))
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        let m = match item {
            Outbound::Record(bytes) => Message::Binary(bytes),
            Outbound::KeepAlive => {
                self.pings = self.pings.wrapping_add(1);
                Message::Ping(Bytes::copy_from_slice(&[self.pings]))
            }
        };
        Pin::new(&mut self.socket).start_send(m).map_err(|e| describe_ws_error(&e))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.socket).poll_flush(cx).map_err(|e| describe_ws_error(&e))
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        self.socket.poll_next_unpin(cx).map(|frame| match frame {
            None => Inbound::Lost("the agent closed the connection".into()),
            Some(Err(e)) => Inbound::Lost(describe_ws_error(&e)),
            Some(Ok(Message::Binary(bytes))) => Inbound::Record(bytes),
            Some(Ok(Message::Text(_))) => {
                Inbound::Violation("the agent sent a text frame, which USP does not allow".into())
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("code {}, {}", u16::from(f.code), usp_core::text::for_log(f.reason.as_str())))
                    .unwrap_or_else(|| "no reason".into());
                Inbound::Lost(format!("the agent closed the connection ({why})"))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Inbound::Alive,
        })
    }

    fn close(&mut self, why: Close) -> BoxFuture<'_, ()> {
        let frame = match why {
            Close::Normal => Some(CloseFrame { code: CloseCode::Normal, reason: "controller closing".into() }),
            Close::Violation => {
                Some(CloseFrame { code: CloseCode::Unsupported, reason: "USP records travel in binary frames".into() })
            }
            Close::Silent => None,
        };
        Box::pin(async move {
            let _ = self.socket.close(frame).await;
        })
    }

    fn carrier(&self) -> Carrier {
        self.carrier
    }
    fn any_task_may_send(&self) -> bool {
        true
    }
    fn any_task_may_receive(&self) -> bool {
        true
    }
}

/// A WebSocket error in words for the connection state.
pub fn describe_ws_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match e {
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            format!("the agent sent a {size}-byte record, over our {max_size}-byte limit")
        }
        Error::Io(io) => format!("network error: {io}"),
        Error::Protocol(p) => format!("WebSocket protocol violation by the agent: {p}"),
        Error::ConnectionClosed | Error::AlreadyClosed => "the connection is closed".into(),
        other => other.to_string(),
    }
}

/// First probe after this much silence on the connection.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Time between probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

fn set_keepalive(tcp: &TcpStream) -> std::io::Result<()> {
    let ka = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "windows",
        target_os = "freebsd"
    ))]
    let ka = ka.with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))]
    let ka = ka.with_retries(3);
    socket2::SockRef::from(tcp).set_tcp_keepalive(&ka)
}

fn check_response(response: &Response) -> Result<(), ConnectError> {
    let proto = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    if proto.map(str::trim) != Some(USP_SUBPROTOCOL) {
        return Err(ConnectError::Handshake(format!(
            "the server did not accept the USP subprotocol {USP_SUBPROTOCOL:?} (it answered {proto:?})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(s: &str) -> EndpointId {
        s.parse().expect("valid eid")
    }

    #[tokio::test]
    async fn connections_have_tcp_keepalive() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tcp = TcpStream::connect(l.local_addr().expect("addr")).await.expect("connect");
        assert!(!socket2::SockRef::from(&tcp).keepalive().expect("read SO_KEEPALIVE"));
        set_keepalive(&tcp).expect("set");
        let s = socket2::SockRef::from(&tcp);
        assert!(s.keepalive().expect("read SO_KEEPALIVE"));
        #[cfg(target_os = "linux")]
        {
            assert_eq!(s.tcp_keepalive_time().expect("idle"), KEEPALIVE_IDLE);
            assert_eq!(s.tcp_keepalive_interval().expect("interval"), KEEPALIVE_INTERVAL);
        }
    }

    #[test]
    fn eid_goes_into_the_query() {
        let uri = request_uri("ws://127.0.0.1:8080/usp", &eid("self::usp-home-test")).expect("uri");
        assert_eq!(uri.to_string(), "ws://127.0.0.1:8080/usp?eid=self::usp-home-test");
        let uri = request_uri("ws://h:1/usp?x=1", &eid("self::a%25b")).expect("uri");
        assert_eq!(uri.query(), Some("x=1&eid=self::a%2525b"));
        let uri = request_uri("wss://h", &eid("doc::agent")).expect("uri");
        assert_eq!(uri.path(), "/");
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for bad in ["http://h/usp", "h:1/usp", "", "ws://"] {
            assert!(matches!(request_uri(bad, &eid("doc::a")), Err(ConnectError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn agent_eid_from_the_reference_agent_header() {
        let e = agent_id_from_extensions(r#"bbf-usp-protocol; eid="proto::obuspa-test-agent""#);
        assert_eq!(e.map(|e| e.to_string()).as_deref(), Some("proto::obuspa-test-agent"));
        assert!(agent_id_from_extensions("permessage-deflate").is_none());
        assert!(agent_id_from_extensions(r#"bbf-usp-protocol; eid="not an eid""#).is_none());
        let e = agent_id_from_extensions(r#"permessage-deflate, bbf-usp-protocol;eid="doc::x""#);
        assert_eq!(e.map(|e| e.to_string()).as_deref(), Some("doc::x"));
    }
}
