//! One STOMP 1.2 connection to a broker: TCP (and TLS), the `STOMP`/`CONNECTED` exchange, a
//! subscription confirmed by a receipt, then frames in and out. Both ends of USP use it: the
//! controller's transport ([`super::StompTransport`]) and an agent serving over a broker
//! (sim-home).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use usp_core::stomp::{negotiate, parse_heart_beat, Decoder, Frame, HeartBeats, Incoming, Limits};
use usp_core::text::{capped, for_log};
use usp_core::EndpointId;

use crate::error::ConnectError;
use crate::ws::Stream;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Frames a broker may deliver between our `SUBSCRIBE` and its receipt, and their bytes.
const MAX_EARLY_FRAMES: usize = 1024;
const MAX_EARLY_BYTES: usize = 16 * 1024 * 1024;
/// The most characters of a broker's error message kept.
pub const MAX_BROKER_TEXT: usize = 300;

/// How a connection ended, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnEnd {
    /// Closed, reset, or an error frame.
    Lost(String),
    /// The broker sent something that is not STOMP 1.2 within our limits.
    Violation(String),
}

impl ConnEnd {
    /// The words.
    pub fn text(&self) -> &str {
        match self {
            ConnEnd::Lost(s) | ConnEnd::Violation(s) => s,
        }
    }
}

/// What opening a connection needs.
#[derive(Clone)]
pub struct ConnectParams<'a> {
    /// The broker's host.
    pub host: &'a str,
    /// The broker's port.
    pub port: u16,
    /// TLS to the broker, with these settings.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The `host` header (the broker's virtual host).
    pub vhost: &'a str,
    /// Our Endpoint ID (`endpoint-id`).
    pub endpoint_id: &'a EndpointId,
    /// `login` and `passcode`.
    pub login: Option<(&'a str, &'a str)>,
    /// The heart-beats we offer (`send,receive` in milliseconds).
    pub heart_beat: (u32, u32),
    /// Bounds on received frames.
    pub limits: Limits,
}

/// An open STOMP connection.
pub struct StompConn {
    stream: Box<dyn Stream>,
    decoder: Decoder,
    read_buf: Box<[u8]>,
    out: Vec<u8>,
    written: usize,
    /// The heart-beats negotiated.
    pub heart_beats: HeartBeats,
    /// The `subscribe-dest` header of `CONNECTED` (R-STOMP.6), if the broker gave one.
    pub subscribe_dest: Option<String>,
    /// The `server` header of `CONNECTED`.
    pub server: Option<String>,
}

/// A broker's `ERROR` frame in words: its `message` header, else the start of its body;
/// escaped, capped, and with `secret` (the passcode) left out should the broker repeat it.
pub fn error_text(frame: &Frame, secret: Option<&str>) -> String {
    let body = String::from_utf8_lossy(&frame.body[..frame.body.len().min(MAX_BROKER_TEXT * 4)]);
    let body = body.trim();
    let text = match frame.header("message").map(str::trim) {
        Some(m) if !m.is_empty() && !body.is_empty() && m != body => format!("{m}: {body}"),
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => body.to_owned(),
    };
    let text = match secret {
        Some(s) if s.len() >= 3 => text.replace(s, "<hidden>"),
        _ => text,
    };
    let text = capped(&for_log(&text).to_string(), MAX_BROKER_TEXT);
    if text.trim().is_empty() {
        "no reason given".into()
    } else {
        text
    }
}

/// Whether a broker's refusal of `STOMP` is about the login (RabbitMQ: "Access refused for
/// user …"; others: "Authentication failed", "bad passcode"…).
pub fn is_login_refusal(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["access refused", "login", "passcode", "password", "authenticat", "credential", "unauthori", "not authori"]
        .iter()
        .any(|w| t.contains(w))
}

impl StompConn {
    /// Connects TCP (+ TLS), sends `STOMP` and waits for `CONNECTED`. The caller bounds the
    /// time.
    ///
    /// # Errors
    /// [`ConnectError::Tcp`], [`ConnectError::Tls`], [`ConnectError::BrokerLogin`] when the
    /// broker refuses the login, [`ConnectError::Broker`] for its other refusals and
    /// anything that is not STOMP 1.2.
    pub async fn connect(p: ConnectParams<'_>) -> Result<StompConn, ConnectError> {
        let tcp = TcpStream::connect((p.host, p.port))
            .await
            .map_err(|e| ConnectError::Tcp(format!("the STOMP broker at {}:{}: {e}", p.host, p.port)))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match p.tls.clone() {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(p.host.to_owned())
                    .map_err(|e| ConnectError::BadUrl(format!("{:?} is not a valid TLS server name: {e}", p.host)))?;
                let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| {
                    let at = format!("{}:{}", p.host, p.port);
                    crate::tls::tls_error_in(&e)
                        .and_then(|t| crate::tls::broker_cert_error(t, &at))
                        .unwrap_or_else(|| ConnectError::Tls(format!("the STOMP broker: {e}")))
                })?;
                Box::new(tls)
            }
            None => Box::new(tcp),
        };
        let mut conn = StompConn {
            stream,
            decoder: Decoder::new(p.limits),
            read_buf: vec![0; READ_CHUNK].into_boxed_slice(),
            out: Vec::new(),
            written: 0,
            heart_beats: negotiate((0, 0), (0, 0)),
            subscribe_dest: None,
            server: None,
        };
        conn.queue(&Frame::connect(p.vhost, p.endpoint_id.as_str(), p.login, p.heart_beat));
        let broker = |e: ConnEnd| ConnectError::Broker(e.text().to_owned());
        conn.flush().await.map_err(broker)?;
        loop {
            match conn.next().await.map_err(broker)? {
                Incoming::HeartBeat => continue,
                Incoming::Frame(f) if f.command == "CONNECTED" => {
                    if let Some(v) = f.header("version") {
                        if v.trim() != "1.2" {
                            return Err(ConnectError::Broker(format!(
                                "the broker speaks STOMP {}, and USP needs 1.2",
                                for_log(v)
                            )));
                        }
                    }
                    let theirs = f.header("heart-beat").and_then(parse_heart_beat).unwrap_or((0, 0));
                    conn.heart_beats = negotiate(p.heart_beat, theirs);
                    conn.subscribe_dest = f
                        .header("subscribe-dest")
                        .filter(|d| super::address::check_destination(d).is_ok())
                        .map(str::to_owned);
                    conn.server = f.header("server").map(|s| capped(&for_log(s).to_string(), 100));
                    return Ok(conn);
                }
                Incoming::Frame(f) if f.command == "ERROR" => {
                    let text = error_text(&f, p.login.map(|l| l.1));
                    return Err(if is_login_refusal(&text) {
                        ConnectError::BrokerLogin(text)
                    } else {
                        ConnectError::Broker(text)
                    });
                }
                Incoming::Frame(f) => {
                    return Err(ConnectError::Broker(format!(
                        "the broker answered {} instead of CONNECTED",
                        for_log(&f.command)
                    )))
                }
            }
        }
    }

    /// Subscribes to `destination` with `ack:auto` (R-STOMP.17) and waits for the broker's
    /// receipt, so that nothing sent to it afterwards is missed. Returns the frames that
    /// arrived before the receipt (messages already waiting in a queue).
    ///
    /// # Errors
    /// The connection ended, or the broker refused.
    pub async fn subscribe(&mut self, id: &str, destination: &str) -> Result<Vec<Frame>, ConnEnd> {
        let receipt = format!("subscribe-{id}");
        self.queue(&Frame::subscribe(id, destination).with("receipt", &receipt));
        self.flush().await?;
        let mut early = Vec::new();
        let mut held = 0usize;
        loop {
            match self.next().await? {
                Incoming::HeartBeat => {}
                Incoming::Frame(f) if f.command == "RECEIPT" && f.header("receipt-id") == Some(&receipt) => {
                    return Ok(early)
                }
                Incoming::Frame(f) if f.command == "ERROR" => {
                    return Err(ConnEnd::Lost(format!(
                        "the broker refused the subscription to {}: {}",
                        for_log(destination),
                        error_text(&f, None)
                    )))
                }
                Incoming::Frame(f) => {
                    held += f.body.len();
                    if early.len() == MAX_EARLY_FRAMES || held > MAX_EARLY_BYTES {
                        return Err(ConnEnd::Violation(format!(
                            "the broker sent more than {MAX_EARLY_FRAMES} frames or {MAX_EARLY_BYTES} bytes before \
                             confirming the subscription"
                        )));
                    }
                    early.push(f);
                }
            }
        }
    }

    /// Adds `frame` to what goes out at the next flush.
    pub fn queue(&mut self, frame: &Frame) {
        frame.encode_into(&mut self.out);
    }

    /// Adds a heart-beat (an EOL) to what goes out at the next flush.
    pub fn queue_heart_beat(&mut self) {
        self.out.push(b'\n');
    }

    /// Bytes queued and not written yet.
    pub fn pending_out(&self) -> usize {
        self.out.len() - self.written
    }

    /// Writes what is queued.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnEnd>> {
        while self.written < self.out.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(ConnEnd::Lost("the broker closed the connection".into())))
                }
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(io_end(&e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.out.clear();
        self.written = 0;
        Pin::new(&mut self.stream).poll_flush(cx).map_err(|e| io_end(&e))
    }

    /// The next heart-beat or frame.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, ConnEnd>> {
        loop {
            match self.decoder.decode() {
                Ok(Some(item)) => return Poll::Ready(Ok(item)),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(ConnEnd::Violation(format!("the broker broke STOMP 1.2: {e}")))),
            }
            let mut buf = ReadBuf::new(&mut self.read_buf);
            match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    return Poll::Ready(Err(ConnEnd::Lost("the broker closed the connection".into())))
                }
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len();
                    self.decoder.push(&self.read_buf[..n]);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(io_end(&e))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The next heart-beat or frame (cancel-safe).
    ///
    /// # Errors
    /// The connection ended.
    pub async fn next(&mut self) -> Result<Incoming, ConnEnd> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Writes what is queued.
    ///
    /// # Errors
    /// The connection ended.
    pub async fn flush(&mut self) -> Result<(), ConnEnd> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Sends `DISCONNECT` and closes the socket (best effort; the caller bounds the time).
    pub async fn disconnect(&mut self) {
        self.queue(&Frame::new("DISCONNECT"));
        if self.flush().await.is_ok() {
            let _ = std::future::poll_fn(|cx| Pin::new(&mut self.stream).poll_shutdown(cx)).await;
        }
    }
}

fn io_end(e: &io::Error) -> ConnEnd {
    ConnEnd::Lost(format!("network error to the broker: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_refusals_are_told_apart() {
        assert!(is_login_refusal("Access refused for user 'guest'"));
        assert!(is_login_refusal("Authentication failed"));
        assert!(!is_login_refusal("Virtual host '/x' does not exist"));
    }

    #[test]
    fn error_text_is_bounded_escaped_and_hides_the_passcode() {
        let f = Frame::new("ERROR").with("message", "bad login guest/hunter2\nforged line");
        let t = error_text(&f, Some("hunter2"));
        assert!(!t.contains("hunter2") && !t.contains('\n'), "{t}");
        let mut f = Frame::new("ERROR");
        f.body = bytes::Bytes::from(vec![b'x'; 100_000]);
        assert!(error_text(&f, None).len() <= MAX_BROKER_TEXT + 4);
        assert_eq!(error_text(&Frame::new("ERROR"), None), "no reason given");
        // RabbitMQ: the headline in `message`, the reason in the body.
        let mut f = Frame::new("ERROR").with("message", "Bad CONNECT");
        f.body = bytes::Bytes::from_static(b"Access refused for user 'guest'\n");
        let t = error_text(&f, None);
        assert_eq!(t, "Bad CONNECT: Access refused for user 'guest'");
        assert!(is_login_refusal(&t));
    }
}
