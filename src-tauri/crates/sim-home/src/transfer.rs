//! The agents' own HTTP transfers: a small HTTP/1.1 client on tokio for the TR-143 speed
//! tests (`DownloadDiagnostics()`, `UploadDiagnostics()`) and firmware downloads
//! (`FirmwareImage.{i}.Download()`). Plain `http://` only; bodies by `Content-Length`,
//! `chunked` or until the server closes. Everything is bounded: connect and total
//! timeouts, header size, body size. A download keeps only the first bytes of the body
//! (the firmware header) and a digest of all of it; credentials go in a Basic
//! `Authorization` header and never into errors or logs.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Most bytes of response headers.
const MAX_HEADER: usize = 16 * 1024;
/// Body bytes a download keeps (the rest is only counted and digested).
pub const KEPT_HEAD: usize = 256;
const CHUNK: usize = 64 * 1024;

/// An `http://host[:port]/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses an `http://` URL (no user info, no fragment kept).
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let rest = url
            .trim()
            .strip_prefix("http://")
            .ok_or_else(|| "the URL must start with http:// (other schemes are not supported)".to_owned())?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        if authority.is_empty() || authority.contains('@') {
            return Err("the URL has no host (or has credentials in it)".to_owned());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or("bad IPv6 address in the URL")?;
            (h.to_owned(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p),
                None => (authority.to_owned(), ""),
            }
        };
        let port = if port.is_empty() { 80 } else { port.parse::<u16>().map_err(|_| "bad port in the URL")? };
        if host.is_empty() || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("the URL is malformed".to_owned());
        }
        Ok(HttpUrl { host, port, path: path.to_owned() })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Why a transfer failed (each maps to a TR-143 `Error_…` status).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("cannot resolve the host name: {0}")]
    Resolve(String),
    #[error("cannot connect to the server: {0}")]
    Connect(String),
    #[error("no answer in time")]
    Timeout,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the server refused the credentials (HTTP {0})")]
    Login(u16),
    #[error("the server's answer is not HTTP/1.x: {0}")]
    NoResponse(String),
    #[error("the transfer broke off after {got} bytes: {reason}")]
    Broken { got: u64, reason: String },
    #[error("the file is larger than {0} bytes")]
    TooBig(u64),
}

impl TransferError {
    /// The TR-143 `Status` for this failure.
    pub fn tr143_status(&self) -> &'static str {
        match self {
            TransferError::Resolve(_) => "Error_CannotResolveHostName",
            TransferError::Connect(_) => "Error_InitConnectionFailed",
            TransferError::Timeout => "Error_Timeout",
            TransferError::Status(_) => "Error_TransferFailed",
            TransferError::Login(_) => "Error_LoginFailed",
            TransferError::NoResponse(_) => "Error_NoResponse",
            TransferError::Broken { .. } => "Error_TransferFailed",
            TransferError::TooBig(_) => "Error_IncorrectSize",
        }
    }
}

/// Bounds of one transfer.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub connect: Duration,
    /// The whole transfer, connection included.
    pub total: Duration,
    /// Most body bytes accepted.
    pub max_body: u64,
    /// A time-based download (TR-143 `TimeBasedTestDuration`): stop reading this long after
    /// the request, successfully, with the bytes received by then.
    pub stop_after: Option<Duration>,
}

/// TR-143 times of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    pub tcp_open_request: SystemTime,
    pub tcp_open_response: SystemTime,
    /// Request sent (download: GET; upload: PUT headers).
    pub rom: SystemTime,
    /// First body byte received (download) or sent (upload).
    pub bom: SystemTime,
    /// Last body byte received (download) or the server's answer to the upload.
    pub eom: SystemTime,
}

/// The outcome of a download.
#[derive(Clone, Debug)]
pub struct Download {
    pub times: Times,
    pub ip_used: String,
    /// Body bytes.
    pub body_bytes: u64,
    /// Every byte received (headers included) and sent on the connection.
    pub total_received: u64,
    pub total_sent: u64,
    /// The first [`KEPT_HEAD`] bytes of the body.
    pub head: Vec<u8>,
    /// The digest of the whole body (when one was asked for).
    pub digest: Option<Vec<u8>>,
}

/// The outcome of an upload.
#[derive(Clone, Debug)]
pub struct Upload {
    pub times: Times,
    pub ip_used: String,
    pub body_bytes: u64,
    pub total_received: u64,
    pub total_sent: u64,
}

async fn connect(url: &HttpUrl, limits: &Limits) -> Result<(TcpStream, SystemTime, SystemTime, String), TransferError> {
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(limits.connect, tokio::net::lookup_host((url.host.as_str(), url.port)))
            .await
            .map_err(|_| TransferError::Resolve("no answer in time".to_owned()))?
            .map_err(|e| TransferError::Resolve(e.to_string()))?
            .collect();
    let addr = *addrs.first().ok_or_else(|| TransferError::Resolve("no address".to_owned()))?;
    let opened = SystemTime::now();
    let tcp = tokio::time::timeout(limits.connect, TcpStream::connect(addr))
        .await
        .map_err(|_| TransferError::Timeout)?
        .map_err(|e| TransferError::Connect(e.to_string()))?;
    let ip_used = tcp.local_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    Ok((tcp, opened, SystemTime::now(), ip_used))
}

fn basic_auth(auth: Option<(&str, &str)>) -> String {
    use base64::Engine as _;
    match auth {
        Some((user, pass)) if !user.is_empty() || !pass.is_empty() => {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            format!("authorization: Basic {token}\r\n")
        }
        _ => String::new(),
    }
}

/// Status code and headers of a response (lower-case names).
struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    bytes: u64,
}

async fn read_head<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<Head, TransferError> {
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    loop {
        let mut line = String::new();
        let n = (&mut *r).take((MAX_HEADER as u64).saturating_sub(bytes)).read_line(&mut line).await;
        let n = n.map_err(|e| TransferError::NoResponse(e.to_string()))?;
        if n == 0 {
            return Err(TransferError::NoResponse("the connection closed before the headers ended".to_owned()));
        }
        bytes += n as u64;
        if bytes >= MAX_HEADER as u64 {
            return Err(TransferError::NoResponse("headers too large".to_owned()));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let status_line = lines.first().map(String::as_str).unwrap_or("");
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    let Some(status) = status.filter(|_| version.starts_with("HTTP/1.")) else {
        return Err(TransferError::NoResponse(status_line.chars().take(64).collect()));
    };
    let mut head = Head { status, content_length: None, chunked: false, bytes };
    for l in &lines[1..] {
        let Some((k, v)) = l.split_once(':') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "content-length" {
            head.content_length = v.parse().ok();
        } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            head.chunked = true;
        }
    }
    Ok(head)
}

fn fail_status(status: u16) -> TransferError {
    if status == 401 || status == 403 {
        TransferError::Login(status)
    } else {
        TransferError::Status(status)
    }
}

/// Downloads `url` (GET), keeping the first bytes of the body and a digest of all of it.
pub async fn download(
    url: &HttpUrl,
    auth: Option<(&str, &str)>,
    digest: Option<&'static ring::digest::Algorithm>,
    limits: Limits,
) -> Result<Download, TransferError> {
    tokio::time::timeout(limits.total, download_inner(url, auth, digest, limits))
        .await
        .map_err(|_| TransferError::Timeout)?
}

async fn download_inner(
    url: &HttpUrl,
    auth: Option<(&str, &str)>,
    digest: Option<&'static ring::digest::Algorithm>,
    limits: Limits,
) -> Result<Download, TransferError> {
    let (mut tcp, opened, open_done, ip_used) = connect(url, &limits).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\nuser-agent: usp-sim-home\r\naccept: */*\r\n{}connection: close\r\n\r\n",
        url.path,
        url.host_header(),
        basic_auth(auth)
    );
    let rom = SystemTime::now();
    let broken = |got: u64, e: std::io::Error| TransferError::Broken { got, reason: e.to_string() };
    tcp.write_all(request.as_bytes()).await.map_err(|e| broken(0, e))?;
    let mut r = BufReader::new(tcp);
    let head = read_head(&mut r).await?;
    if !(200..300).contains(&head.status) {
        return Err(fail_status(head.status));
    }
    if head.content_length.is_some_and(|n| n > limits.max_body) {
        return Err(TransferError::TooBig(limits.max_body));
    }
    let mut ctx = digest.map(ring::digest::Context::new);
    let mut kept = Vec::new();
    let mut got = 0u64;
    let mut bom = None;
    let mut buf = vec![0u8; CHUNK];
    let mut take = |data: &[u8], got: &mut u64| -> Result<(), TransferError> {
        if bom.is_none() && !data.is_empty() {
            bom = Some(SystemTime::now());
        }
        *got += data.len() as u64;
        if *got > limits.max_body {
            return Err(TransferError::TooBig(limits.max_body));
        }
        if kept.len() < KEPT_HEAD {
            let room = KEPT_HEAD - kept.len();
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        if let Some(c) = ctx.as_mut() {
            c.update(data);
        }
        Ok(())
    };
    let mut wire = head.bytes;
    let stop = limits.stop_after.map(|d| tokio::time::Instant::now() + d);
    // `None` when the time of a time-based test is up.
    async fn read_until<R: AsyncRead + Unpin>(
        r: &mut R,
        buf: &mut [u8],
        stop: Option<tokio::time::Instant>,
    ) -> Option<std::io::Result<usize>> {
        match stop {
            Some(at) => tokio::time::timeout_at(at, r.read(buf)).await.ok(),
            None => Some(r.read(buf).await),
        }
    }
    if head.chunked {
        'chunks: loop {
            let mut line = String::new();
            let n = (&mut r).take(128).read_line(&mut line).await.map_err(|e| broken(got, e))?;
            wire += n as u64;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| TransferError::Broken { got, reason: "bad chunk size".to_owned() })?;
            if size == 0 {
                break;
            }
            let mut left = size;
            while left > 0 {
                let want = left.min(CHUNK as u64) as usize;
                let Some(n) = read_until(&mut r, &mut buf[..want], stop).await else { break 'chunks };
                let n = n.map_err(|e| broken(got, e))?;
                if n == 0 {
                    return Err(TransferError::Broken { got, reason: "the server closed the connection".to_owned() });
                }
                take(&buf[..n], &mut got)?;
                left -= n as u64;
                wire += n as u64;
            }
            let mut crlf = String::new();
            wire += (&mut r).take(2).read_line(&mut crlf).await.map_err(|e| broken(got, e))? as u64;
        }
    } else {
        loop {
            if head.content_length.is_some_and(|n| got >= n) {
                break;
            }
            let Some(n) = read_until(&mut r, &mut buf, stop).await else { break };
            let n = n.map_err(|e| broken(got, e))?;
            if n == 0 {
                if let Some(expected) = head.content_length {
                    return Err(TransferError::Broken {
                        got,
                        reason: format!("the server closed the connection before {expected} bytes"),
                    });
                }
                break;
            }
            take(&buf[..n], &mut got)?;
            wire += n as u64;
        }
    }
    let eom = SystemTime::now();
    Ok(Download {
        times: Times { tcp_open_request: opened, tcp_open_response: open_done, rom, bom: bom.unwrap_or(eom), eom },
        ip_used,
        body_bytes: got,
        total_received: wire,
        total_sent: request.len() as u64,
        head: kept,
        digest: ctx.map(|c| c.finish().as_ref().to_vec()),
    })
}

/// Uploads `len` bytes to `url` (PUT) and waits for the server's answer.
pub async fn upload(url: &HttpUrl, len: u64, limits: Limits) -> Result<Upload, TransferError> {
    if len > limits.max_body {
        return Err(TransferError::TooBig(limits.max_body));
    }
    tokio::time::timeout(limits.total, upload_inner(url, len, limits)).await.map_err(|_| TransferError::Timeout)?
}

async fn upload_inner(url: &HttpUrl, len: u64, limits: Limits) -> Result<Upload, TransferError> {
    let (mut tcp, opened, open_done, ip_used) = connect(url, &limits).await?;
    let request = format!(
        "PUT {} HTTP/1.1\r\nhost: {}\r\nuser-agent: usp-sim-home\r\ncontent-type: application/octet-stream\r\n\
         content-length: {len}\r\nconnection: close\r\n\r\n",
        url.path,
        url.host_header()
    );
    let rom = SystemTime::now();
    let broken = |got: u64, e: std::io::Error| TransferError::Broken { got, reason: e.to_string() };
    tcp.write_all(request.as_bytes()).await.map_err(|e| broken(0, e))?;
    let bom = SystemTime::now();
    // A recognisable, incompressible-enough pattern.
    let block: Vec<u8> = (0..CHUNK).map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8).collect();
    let mut sent = 0u64;
    while sent < len {
        let n = (len - sent).min(CHUNK as u64) as usize;
        tcp.write_all(&block[..n]).await.map_err(|e| broken(sent, e))?;
        sent += n as u64;
    }
    tcp.flush().await.map_err(|e| broken(sent, e))?;
    let mut r = BufReader::new(tcp);
    let head = read_head(&mut r).await?;
    let eom = SystemTime::now();
    if !(200..300).contains(&head.status) {
        return Err(fail_status(head.status));
    }
    Ok(Upload {
        times: Times { tcp_open_request: opened, tcp_open_response: open_done, rom, bom, eom },
        ip_used,
        body_bytes: sent,
        total_received: head.bytes,
        total_sent: request.len() as u64 + sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/fw/image.bin?x=1#frag").expect("url");
        assert_eq!(u, HttpUrl { host: "127.0.0.1".into(), port: 8080, path: "/fw/image.bin?x=1".into() });
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = HttpUrl::parse("http://[::1]/").expect("v6");
        assert_eq!((u.host.as_str(), u.port, u.host_header().as_str()), ("::1", 80, "[::1]"));
        assert_eq!(HttpUrl::parse("http://speed.example").expect("bare").path, "/");
        for bad in ["https://x/", "ftp://x/", "http://", "http://u:p@x/", "http://x:99999/", "http://x/a b"] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
