//! Serving one image file to one device, once: a small HTTP/1.1 server on a random port of the
//! address this computer uses toward the device, at a random path (128 random bits) that only
//! the device is told. The first GET of that path gets the file (`Content-Length`); the server
//! then closes, whether the transfer completed or not. Everything is bounded: the time it
//! waits, the request's size and time, stalls while sending, and the requests for other paths.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most bytes of a request's head.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request.
const HEAD_TIME: Duration = Duration::from_secs(10);
/// The longest one write may wait for the device to take more bytes.
const STALL: Duration = Duration::from_secs(60);
/// Requests for other paths before the server gives up (someone is guessing).
const MAX_WRONG: u32 = 8;
const CHUNK: usize = 64 * 1024;

/// How far the transfer is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Body bytes written to the device.
    pub bytes: u64,
    /// The device asked for the file.
    pub started: bool,
    /// `Some(true)`: every byte went out; `Some(false)`: the transfer broke off.
    pub finished: Option<bool>,
}

/// The file being offered; dropping it closes the server.
pub(crate) struct Served {
    /// What the device is told to download.
    pub url: String,
    /// Follows the transfer.
    pub progress: watch::Receiver<Sent>,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a test does to the next transfer of a file.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestTamper {
    /// Stop after this many bytes, as if the connection broke.
    CutAfter(u64),
    /// Change one byte (the size stays right, the checksum does not).
    Corrupt,
}

static TAMPER: Mutex<Vec<(PathBuf, TestTamper)>> = Mutex::new(Vec::new());

/// For tests: spoil the next transfer of `file` (the device must report it).
#[doc(hidden)]
pub fn tamper_next_transfer_for_tests(file: &Path, how: TestTamper) {
    TAMPER.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((file.to_owned(), how));
}

fn take_tamper(file: &Path) -> Option<TestTamper> {
    let mut all = TAMPER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = all.iter().position(|(f, _)| f == file)?;
    Some(all.swap_remove(i).1)
}

/// The file name as it may appear in a URL (letters, digits, `.-_`; at most 64).
fn url_name(file: &Path) -> String {
    let name: String = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(64)
        .collect();
    if name.trim_matches(['.', '_']).is_empty() {
        "firmware.bin".to_owned()
    } else {
        name
    }
}

/// Offers `file` (`size` bytes) on `ip` for at most `wait`.
pub(crate) async fn serve_once(file: &Path, size: u64, ip: IpAddr, wait: Duration) -> std::io::Result<Served> {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
    let addr = listener.local_addr()?;
    let path = format!("/usp-home/firmware/{}/{}", uuid::Uuid::new_v4().simple(), url_name(file));
    let url = format!("http://{addr}{path}");
    let (tx, progress) = watch::channel(Sent::default());
    let tamper = take_tamper(file);
    let file = file.to_owned();
    let task = tokio::spawn(async move {
        let until = tokio::time::Instant::now() + wait;
        let mut wrong = 0;
        while wrong < MAX_WRONG {
            let Ok(Ok((tcp, peer))) = tokio::time::timeout_at(until, listener.accept()).await else { break };
            match answer(tcp, &path, &file, size, tamper, &tx).await {
                Answer::Served => break,
                Answer::Other => {
                    wrong += 1;
                    tracing::debug!(%peer, "a request for another path on the firmware server");
                }
            }
        }
        // Dropping the listener closes the server.
    });
    Ok(Served { url, progress, task })
}

enum Answer {
    /// The file was asked for (whatever came of the transfer).
    Served,
    Other,
}

async fn answer(
    mut tcp: TcpStream,
    path: &str,
    file: &Path,
    size: u64,
    tamper: Option<TestTamper>,
    tx: &watch::Sender<Sent>,
) -> Answer {
    let Ok(Some(head)) = tokio::time::timeout(HEAD_TIME, read_head(&mut tcp)).await else { return Answer::Other };
    let mut words = head.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if target != path {
        let _ = reply(&mut tcp, "404 Not Found").await;
        return Answer::Other;
    }
    if method != "GET" {
        let _ = reply(&mut tcp, "405 Method Not Allowed").await;
        return Answer::Other;
    }
    tx.send_modify(|s| s.started = true);
    let complete = send_file(&mut tcp, file, size, tamper, tx).await.unwrap_or(false);
    let _ = tcp.shutdown().await;
    tx.send_modify(|s| s.finished = Some(complete));
    Answer::Served
}

/// The request line of a request head, once the head has ended; `None` when it is too large
/// or the client went away.
async fn read_head(tcp: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let line = buf.split(|&b| b == b'\n').next()?;
            return Some(String::from_utf8_lossy(line).trim_end().to_owned());
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}

async fn reply(tcp: &mut TcpStream, status: &str) -> std::io::Result<()> {
    let text = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    write_bounded(tcp, text.as_bytes()).await
}

/// Writes the response and the file; true when all `size` bytes went out.
async fn send_file(
    tcp: &mut TcpStream,
    file: &Path,
    size: u64,
    tamper: Option<TestTamper>,
    tx: &watch::Sender<Sent>,
) -> std::io::Result<bool> {
    let mut f = tokio::fs::File::open(file).await?;
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {size}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n"
    );
    write_bounded(tcp, head.as_bytes()).await?;
    let limit = match tamper {
        Some(TestTamper::CutAfter(n)) => n.min(size),
        _ => size,
    };
    let mut sent = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while sent < limit {
        let want = (limit - sent).min(CHUNK as u64) as usize;
        let n = f.read(&mut buf[..want]).await?;
        if n == 0 {
            // The file is shorter than it was: the device gets less than announced.
            return Ok(false);
        }
        if sent == 0 && tamper == Some(TestTamper::Corrupt) {
            buf[n - 1] ^= 0x55;
        }
        write_bounded(tcp, &buf[..n]).await?;
        sent += n as u64;
        tx.send_modify(|s| s.bytes = sent);
    }
    Ok(sent == size)
}

/// Writes `data`, giving up when the device takes none of it for [`STALL`].
async fn write_bounded(tcp: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(STALL, tcp.write_all(data))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

/// The address of this computer toward the device at `url` (its host: an address, or a name
/// resolved now): what the device can reach us at. Nothing is sent to find it.
pub(crate) async fn local_address_toward(url: &str) -> std::io::Result<IpAddr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
        (h, p.strip_prefix(':').unwrap_or(""))
    } else {
        authority.rsplit_once(':').unwrap_or((authority, ""))
    };
    let port = port.parse::<u16>().unwrap_or(80);
    let target = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?,
    };
    if target.ip().is_loopback() {
        return Ok(target.ip());
    }
    // A UDP "connection" only picks the route: no packet leaves.
    let any: SocketAddr =
        if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = tokio::net::UdpSocket::bind(any).await?;
    socket.connect(target).await?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_urls_are_plain() {
        assert_eq!(url_name(Path::new("/tmp/router 7.0 (final).bin")), "router_7.0__final_.bin");
        assert_eq!(url_name(Path::new("/tmp/..")), "firmware.bin");
        assert_eq!(url_name(Path::new("/tmp/ä")), "firmware.bin");
    }

    #[tokio::test]
    async fn the_address_toward_a_loopback_device_is_loopback() {
        let ip = local_address_toward("ws://127.0.0.1:9000/usp").await.expect("loopback");
        assert_eq!(ip, IpAddr::from([127, 0, 0, 1]));
        let ip = local_address_toward("wss://[::1]:9000/").await.expect("v6");
        assert!(ip.is_loopback());
    }

    #[tokio::test]
    async fn the_file_is_served_once_at_its_path_only() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("img.bin");
        std::fs::write(&file, b"0123456789").expect("write");
        let served = serve_once(&file, 10, IpAddr::from([127, 0, 0, 1]), Duration::from_secs(10)).await.expect("serve");
        let (base, path) = served.url.trim_start_matches("http://").split_once('/').expect("url");
        let get = |p: String| {
            let base = base.to_owned();
            async move {
                let mut tcp = TcpStream::connect(&base).await?;
                tcp.write_all(format!("GET {p} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).await?;
                let mut out = Vec::new();
                tcp.read_to_end(&mut out).await?;
                std::io::Result::Ok(String::from_utf8_lossy(&out).into_owned())
            }
        };
        assert!(get("/usp-home/firmware/guess/img.bin".into()).await.expect("404").starts_with("HTTP/1.1 404"));
        let body = get(format!("/{path}")).await.expect("200");
        assert!(body.starts_with("HTTP/1.1 200") && body.ends_with("\r\n\r\n0123456789"), "{body}");
        assert_eq!(served.progress.borrow().finished, Some(true));
        // Served once: the server is closed.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(get(format!("/{path}")).await.map_or(true, |r| r.is_empty()));
    }
}
