//! A small HTTP/1.1 test server on loopback for speed tests (TR-143) and downloads: GET
//! answers a body of the size given, PUT takes its body and answers 200. Shared by the app's
//! tests (`app-core/tests`, by path) and the window suite.

/// A small HTTP/1.1 test server on loopback: GET answers `size` bytes, PUT takes its body.
pub async fn start(size: usize) -> std::io::Result<std::net::SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if s.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                if text.starts_with("put") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let (mut left, mut buf) = (len, vec![0u8; 65536]);
                    while left > 0 {
                        match s.read(&mut buf[..left.min(65536)]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => left -= n,
                        }
                    }
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                } else {
                    let header = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n");
                    let _ = s.write_all(header.as_bytes()).await;
                    let _ = s.write_all(&vec![7u8; size]).await;
                }
            });
        }
    });
    Ok(addr)
}
