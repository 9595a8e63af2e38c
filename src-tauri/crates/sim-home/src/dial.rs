//! An agent that dials its controller (agent-initiated WebSocket, R-WS.5): it connects to
//! the controller's listener as a WebSocket client, names itself in the `eid` query argument
//! as the reference agent does (`GET /usp?eid=<agent EID>`, subprotocol `v1.usp`), sends a
//! WebSocketConnect Record first, serves the controller through a
//! [`RecordPipe`](crate::server::RecordPipe), pings at its keepalive interval, and dials
//! again with a doubling backoff when the connection drops.
//!
//! Over `wss://` it presents its own certificate (mutual TLS) and checks the controller's:
//! pinned when given, else trusted on first use and remembered for the next connections.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use usp_client::tls::{AgentTrust, Fingerprint, Identity, MemoryPinStore, ObservedCert, PinStore};
use usp_client::ConnectError;
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::WebSocketConnectRecord;

use crate::server::RecordPipe;
use crate::AgentHandle;

/// How an agent dials its controller.
#[derive(Clone, Debug)]
pub struct DialConfig {
    /// The controller's listener, `ws://HOST:PORT/PATH` or `wss://…`.
    pub url: String,
    /// The controller's Endpoint ID (the `to_id` of our Records; it must be in the agent's
    /// Controller table to be served).
    pub controller: EndpointId,
    /// With `wss://`: the certificate the agent presents (naming its EID).
    pub identity: Option<Identity>,
    /// With `wss://`: the controller certificate to accept; `None`: the first one seen.
    pub controller_pin: Option<Fingerprint>,
    /// Ping interval (the agent's `KeepAliveInterval`).
    pub keepalive: Duration,
    /// First wait before dialling again; it doubles up to `max_backoff`.
    pub backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl DialConfig {
    /// Plain settings for `url`: no TLS, 30 s pings, backoff 200 ms doubling to 5 s.
    pub fn new(url: impl Into<String>, controller: EndpointId) -> DialConfig {
        DialConfig {
            url: url.into(),
            controller,
            identity: None,
            controller_pin: None,
            keepalive: Duration::from_secs(30),
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A dialling agent. Dropping it stops dialling and cuts the connection.
#[derive(Debug)]
pub struct Dialler {
    task: tokio::task::JoinHandle<()>,
    cut: Arc<Notify>,
    connects: watch::Receiver<u64>,
    last_error: watch::Receiver<String>,
}

impl Drop for Dialler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Dialler {
    /// Connections made so far, and a way to wait for the next one.
    pub fn connects(&self) -> watch::Receiver<u64> {
        self.connects.clone()
    }

    /// Why the last attempt or connection ended ("" before any).
    pub fn last_error(&self) -> String {
        self.last_error.borrow().clone()
    }

    /// Drops the current connection without a close frame, as a lost network would; the
    /// agent dials again after its backoff.
    pub fn cut(&self) {
        self.cut.notify_waiters();
    }
}

impl AgentHandle {
    /// Starts dialling the controller of `config` (see the module docs).
    pub fn dial(&self, config: DialConfig) -> Dialler {
        let (connects_tx, connects) = watch::channel(0);
        let (error_tx, last_error) = watch::channel(String::new());
        let cut = Arc::new(Notify::new());
        let task = tokio::spawn(dial_loop(self.clone(), config, cut.clone(), connects_tx, error_tx));
        Dialler { task, cut, connects, last_error }
    }
}

async fn dial_loop(
    agent: AgentHandle,
    config: DialConfig,
    cut: Arc<Notify>,
    connects: watch::Sender<u64>,
    last_error: watch::Sender<String>,
) {
    let pins: Arc<dyn PinStore> = Arc::new(MemoryPinStore::new());
    if let Some(fp) = config.controller_pin {
        let _ = pins.pin(&config.controller, fp);
    }
    let observed = ObservedCert::new();
    let tls = match &config.identity {
        Some(identity) => {
            let trust = AgentTrust::new(pins.clone());
            match usp_client::tls::client_config(identity, trust, Some(config.controller.clone()), observed.clone()) {
                Ok(c) => Some(c),
                Err(e) => {
                    last_error.send_replace(e.to_string());
                    return;
                }
            }
        }
        None => None,
    };
    let ws_config = WebSocketConfig::default().max_message_size(Some(8 << 20)).max_frame_size(Some(8 << 20));
    let mut wait = config.backoff;
    loop {
        let attempt =
            usp_client::ws::connect(&config.url, &agent.endpoint_id, tls.clone(), ws_config, Duration::from_secs(10))
                .await;
        match attempt {
            Ok((socket, _)) => {
                connects.send_modify(|n| *n += 1);
                let started = tokio::time::Instant::now();
                let why = serve(&agent, &config, socket, &cut).await;
                tracing::info!(agent = %agent.key, reason = %why, "the connection to the controller ended");
                last_error.send_replace(why);
                if started.elapsed() > Duration::from_secs(5) {
                    wait = config.backoff;
                }
            }
            Err(ConnectError::UntrustedCertificate { .. }) if config.controller_pin.is_none() => {
                // First use: remember the controller's certificate and dial again at once.
                match usp_client::tls::trust_on_first_use(pins.as_ref(), &observed) {
                    Ok(_) => continue,
                    Err(e) => {
                        last_error.send_replace(e.to_string());
                    }
                }
            }
            Err(e) => {
                tracing::debug!(agent = %agent.key, error = %e, "dialling the controller failed");
                last_error.send_replace(e.to_string());
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(config.max_backoff);
    }
}

/// Moves Records between the socket and a pipe to the agent until either ends.
async fn serve(agent: &AgentHandle, config: &DialConfig, mut socket: usp_client::ws::Socket, cut: &Notify) -> String {
    let (in_tx, incoming) = mpsc::channel::<Bytes>(64);
    let (outgoing, mut out_rx) = mpsc::channel::<Bytes>(64);
    let connect_record = Some(RecordType::WebsocketConnect(WebSocketConnectRecord {}));
    let job = agent.attach(RecordPipe { controller: config.controller.clone(), incoming, outgoing, connect_record });
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + config.keepalive, config.keepalive);
    let mut pings: u8 = 0;
    let why = loop {
        tokio::select! {
            msg = socket.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if in_tx.send(b).await.is_err() {
                        break "the agent ended the session".to_owned();
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    let _ = socket.close(None).await;
                    break "the controller sent a text frame".to_owned();
                }
                Some(Ok(Message::Close(f))) => break format!("the controller closed the connection ({f:?})"),
                Some(Ok(_)) => {}
                Some(Err(e)) => break format!("network error: {e}"),
                None => break "the connection ended".to_owned(),
            },
            out = out_rx.recv() => match out {
                Some(b) => {
                    if let Err(e) = socket.send(Message::Binary(b)).await {
                        break format!("network error: {e}");
                    }
                }
                None => {
                    let _ = socket.close(None).await;
                    break "the agent ended the session".to_owned();
                }
            },
            _ = ping.tick() => {
                pings = pings.wrapping_add(1);
                if let Err(e) = socket.send(Message::Ping(Bytes::copy_from_slice(&[pings]))).await {
                    break format!("network error: {e}");
                }
            }
            () = cut.notified() => break "cut by the test".to_owned(),
        }
    };
    // The pipe ends when both channels are gone, and tells the agent the controller left.
    drop(in_tx);
    drop(out_rx);
    if tokio::time::timeout(Duration::from_secs(2), job).await.is_err() {
        tracing::debug!(agent = %agent.key, "the pipe did not end in time");
    }
    why
}
