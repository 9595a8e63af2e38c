//! Helpers for the tests of the home over time: a simulated home in this process, and a
//! usp-client controller connected to one of its agents.

#![allow(dead_code)]

use std::time::Duration;

use sim_home::scenario::Scenario;
use sim_home::{Home, HomeConfig};
use usp_client::{AgentNotification, Client, ClientConfig};
use usp_core::eid::EndpointId;
use usp_core::msg::Notification;

/// Every wait of these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(20);
/// A controller with Full Access on every agent.
pub const ADMIN: &str = "self::history-admin";
/// A controller with the homeowner's role ("Home User") on every agent.
pub const USER: &str = "self::history-user";

/// The built-in home, with [`ADMIN`] and [`USER`] provisioned.
pub async fn home() -> Home {
    let mut config = HomeConfig::new(Scenario::builtin());
    config.extra_controllers = vec![
        (ADMIN.parse().expect("eid"), "Full Access".to_owned()),
        (USER.parse().expect("eid"), "Home User".to_owned()),
    ];
    Home::start(config).await.expect("the home starts")
}

/// A client of the agent `key` as the controller `me`, connected.
pub async fn client(home: &Home, key: &str, me: &str) -> Client {
    let agent = home.agent(key).expect("agent");
    let me: EndpointId = me.parse().expect("eid");
    let mut config = ClientConfig::new(&agent.url, me);
    config.request_timeout = WAIT;
    config.backoff = usp_client::Backoff::doubling(Duration::from_millis(50), Duration::from_millis(200));
    tokio::time::timeout(WAIT, Client::connect(config)).await.expect("connect in time").expect("connect")
}

/// One parameter's value through a Get.
pub async fn get(c: &Client, path: &str) -> Option<String> {
    let r = tokio::time::timeout(WAIT, c.get(&[path], 0)).await.expect("in time").expect("get");
    r.value(path).map(str::to_owned)
}

/// The next notification `pick` accepts (others are skipped), within `within`.
pub async fn next_notification<T>(
    rx: &mut tokio::sync::broadcast::Receiver<AgentNotification>,
    within: Duration,
    mut pick: impl FnMut(&Notification) -> Option<T>,
) -> T {
    tokio::time::timeout(within, async {
        loop {
            match rx.recv().await {
                Ok(n) => {
                    if let Some(t) = pick(&n.notify.notification) {
                        return t;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("notifications ended: {e}"),
            }
        }
    })
    .await
    .expect("the notification in time")
}

/// A loopback HTTP/1.1 server for the agents' transfers:
/// - `GET /bytes/N`: N bytes (`Content-Length`);
/// - `GET /broken/N`: announces N bytes, sends half, closes;
/// - `GET /slow/N`: N bytes, 1,000 every 10 ms;
/// - `GET /file`: the bytes given to [`HttpServer::start`];
/// - `GET /secret`: the same, only with `Authorization: Basic` of `user:pass`, else 401;
/// - `PUT` anything: reads the body (`Content-Length`), answers 201, counts the bytes.
pub struct HttpServer {
    pub addr: std::net::SocketAddr,
    /// Body bytes received by PUTs.
    pub uploaded: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Every request's head, as received.
    pub heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    pub async fn start(file: Vec<u8>, auth: (&str, &str)) -> HttpServer {
        use base64::Engine as _;
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let uploaded = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let file = std::sync::Arc::new(file);
        let token =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", auth.0, auth.1)));
        let (up, hs) = (uploaded.clone(), heads.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (up, hs, file, token) = (up.clone(), hs.clone(), file.clone(), token.clone());
                tokio::spawn(async move {
                    let mut r = BufReader::new(tcp);
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    hs.lock().expect("lock").push(head.clone());
                    let mut parts = head.split(' ');
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_owned());
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                    };
                    let ok = |n: usize| format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n");
                    if method == "PUT" {
                        let n: u64 = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                        let mut body = (&mut r).take(n);
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match body.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(k) => {
                                    up.fetch_add(k as u64, Ordering::Relaxed);
                                }
                            }
                        }
                        let _ = r.get_mut().write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n").await;
                        let _ = r.get_mut().shutdown().await;
                        return;
                    }
                    let mut tcp = r.into_inner();
                    if let Some(n) = path.strip_prefix("/bytes/") {
                        let n: usize = n.parse().unwrap_or(0);
                        let _ = tcp.write_all(ok(n).as_bytes()).await;
                        let block = vec![b'x'; 64 * 1024];
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(block.len());
                            if tcp.write_all(&block[..k]).await.is_err() {
                                return;
                            }
                            left -= k;
                        }
                    } else if let Some(n) = path.strip_prefix("/slow/") {
                        // N bytes announced, 1,000 every 10 ms.
                        let n: usize = n.parse().unwrap_or(0);
                        let _ = tcp.write_all(ok(n).as_bytes()).await;
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(1000);
                            if tcp.write_all(&vec![b's'; k]).await.is_err() {
                                return;
                            }
                            left -= k;
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                    } else if let Some(n) = path.strip_prefix("/broken/") {
                        let n: usize = n.parse().unwrap_or(0);
                        let _ = tcp.write_all(ok(n).as_bytes()).await;
                        let _ = tcp.write_all(&file[..(n / 2).min(file.len())]).await;
                    } else if path == "/file" || (path == "/secret" && header("authorization") == Some(token)) {
                        let _ = tcp.write_all(ok(file.len()).as_bytes()).await;
                        let _ = tcp.write_all(&file).await;
                    } else if path == "/secret" {
                        let _ = tcp.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").await;
                    } else {
                        let _ = tcp.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
                    }
                    let _ = tcp.shutdown().await;
                });
            }
        });
        HttpServer { addr, uploaded, heads, task }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Output arguments of the next OperationComplete of `command` (e.g. `DownloadDiagnostics()`),
/// or its failure (code, message).
pub async fn next_completion(
    rx: &mut tokio::sync::broadcast::Receiver<AgentNotification>,
    command: &str,
) -> Result<std::collections::BTreeMap<String, String>, (u32, String)> {
    use usp_core::msg::OperationCompleteResp;
    next_notification(rx, WAIT, |n| match n {
        Notification::OperComplete(oc) if &*oc.command_name == command => Some(match &oc.operation_resp {
            OperationCompleteResp::ReqOutputArgs(args) => Ok(args.to_btree()),
            OperationCompleteResp::CmdFailure(f) => Err((f.err_code, f.err_msg.to_string())),
        }),
        _ => None,
    })
    .await
}
