//! An agent served over CoAP (the MTP of USP 1.0-1.2 agents), plain UDP on loopback.
//!
//! One UDP socket per agent is its resource (`coap://127.0.0.1:PORT/usp`). A controller
//! POSTs Records to it with a `reply-to` URI-Query; the agent answers (and sends its
//! Notifies) in POSTs to the latest `reply-to` of that controller, whose Endpoint ID is the
//! `from_id` of its Records (CoAP has no handshake). As the reference agent does, a
//! `reply-to` must name the host the Record came from, so the agent cannot be used to
//! send datagrams elsewhere. Each controller is one [`RecordPipe`] into the agent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;

use bytes::Bytes;
use prost::Message as _;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info};
use usp_client::mtp::coap::engine::{Engine, Event, Post, Settings};
use usp_client::mtp::coap::uri::CoapUri;
use usp_core::eid::EndpointId;
use usp_proto::usp_record::Record;

use crate::server::RecordPipe;
use crate::AgentHandle;

/// Controllers one agent keeps pipes for at once (a flood of made-up Endpoint IDs
/// replaces the oldest ones).
const MAX_CONTROLLERS: usize = 64;
/// Records queued per controller, each way. CoAP acknowledges a Record as soon as it has
/// arrived, so a controller that pipelines requests is held back by nothing but this: more
/// waiting requests than this are dropped (and time out at the controller).
const PIPE_QUEUE: usize = 1024;

/// A running CoAP server of one agent; dropping it stops it.
#[derive(Debug)]
pub struct CoapServer {
    /// `coap://127.0.0.1:PORT/path`.
    pub url: String,
    /// The socket's address.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CoapServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `agent` over CoAP on `addr` (port 0: a free one) at `path` (`/usp`).
///
/// # Errors
/// When the socket cannot be bound.
pub async fn serve(agent: &AgentHandle, addr: SocketAddr, path: &str) -> std::io::Result<CoapServer> {
    let socket = UdpSocket::bind(addr).await?;
    let addr = socket.local_addr()?;
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let url = CoapUri::of(addr, segments.clone()).to_uri();
    let max = usp_core::wire::Limits::default().max_record_size;
    let server = Server {
        agent: agent.clone(),
        engine: Engine::new(Settings { max_queue: PIPE_QUEUE, ..Settings::new(segments, max) }),
        own_uri: url.clone(),
        controllers: HashMap::new(),
    };
    info!(agent = %agent.key, %url, "serving over CoAP");
    let task = tokio::spawn(server.run(socket));
    Ok(CoapServer { url, addr, task })
}

struct Controller {
    incoming: mpsc::Sender<Bytes>,
    reply_to: SocketAddr,
    path: Vec<String>,
    last: Instant,
}

struct Server {
    agent: AgentHandle,
    engine: Engine,
    own_uri: String,
    controllers: HashMap<EndpointId, Controller>,
}

impl Server {
    async fn run(mut self, socket: UdpSocket) {
        let (out_tx, mut out_rx) = mpsc::channel::<(EndpointId, Bytes)>(256);
        let mut buf = vec![0u8; 2048];
        loop {
            while let Some((to, d)) = self.engine.poll_transmit() {
                if let Err(e) = socket.send_to(&d, to).await {
                    debug!(agent = %self.agent.key, %to, "CoAP send: {e}");
                }
            }
            while let Some(event) = self.engine.poll_event() {
                match event {
                    Event::Record { from, reply_to, record } => self.on_record(from, reply_to, record, &out_tx),
                    Event::Refused { to, code } => debug!(agent = %self.agent.key, %to, %code, "CoAP: Record refused"),
                    Event::Failed { to, why } => debug!(agent = %self.agent.key, %to, "CoAP: {why}"),
                    Event::Delivered { .. } | Event::Pong { .. } => {}
                }
            }
            let deadline = self.engine.next_timeout();
            tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) if n < buf.len() => self.engine.handle_datagram(from, &buf[..n], Instant::now()),
                    Ok(_) => {} // larger than any CoAP datagram we accept
                    Err(e) => debug!(agent = %self.agent.key, "CoAP receive: {e}"),
                },
                Some((eid, record)) = out_rx.recv() => self.send_to_controller(&eid, record),
                () = sleep_until(deadline) => self.engine.handle_timeout(Instant::now()),
            }
        }
    }

    /// A Record from a controller: into its pipe (made on its first Record).
    fn on_record(
        &mut self,
        from: SocketAddr,
        reply_to: Option<CoapUri>,
        record: Bytes,
        out_tx: &mpsc::Sender<(EndpointId, Bytes)>,
    ) {
        let key = &self.agent.key;
        let Some(reply) = reply_to.as_ref().and_then(CoapUri::ip_addr).filter(|a| a.ip() == from.ip()) else {
            debug!(agent = %key, %from, "CoAP: a Record without a reply-to naming its sender's address is dropped");
            return;
        };
        let Some(eid) = Record::decode(&record[..]).ok().and_then(|r| EndpointId::from_str(&r.from_id).ok()) else {
            debug!(agent = %key, %from, "CoAP: a Record that names no sender is dropped");
            return;
        };
        let path = reply_to.map(|u| u.path).unwrap_or_default();
        let now = Instant::now();
        if let Some(c) = self.controllers.get_mut(&eid).filter(|c| !c.incoming.is_closed()) {
            c.reply_to = reply;
            c.path = path;
            c.last = now;
            // UDP semantics: a controller that floods faster than the agent answers loses Records.
            if c.incoming.try_send(record).is_err() {
                debug!(agent = %key, controller = %eid, "CoAP: too many Records wait for the agent; one dropped");
            }
            return;
        }
        self.controllers.retain(|_, c| !c.incoming.is_closed());
        if self.controllers.len() >= MAX_CONTROLLERS {
            if let Some(oldest) = self.controllers.iter().min_by_key(|(_, c)| c.last).map(|(e, _)| e.clone()) {
                self.controllers.remove(&oldest);
            }
        }
        let (in_tx, incoming) = mpsc::channel(PIPE_QUEUE);
        let (outgoing, mut from_agent) = mpsc::channel::<Bytes>(PIPE_QUEUE);
        let (out, who) = (out_tx.clone(), eid.clone());
        tokio::spawn(async move {
            while let Some(b) = from_agent.recv().await {
                if out.send((who.clone(), b)).await.is_err() {
                    break;
                }
            }
        });
        self.agent.attach(RecordPipe { controller: eid.clone(), incoming, outgoing, connect_record: None });
        let _ = in_tx.try_send(record);
        self.controllers.insert(eid, Controller { incoming: in_tx, reply_to: reply, path, last: now });
    }

    /// A Record from the agent: POSTed to the controller's latest reply-to.
    fn send_to_controller(&mut self, eid: &EndpointId, record: Bytes) {
        let Some(c) = self.controllers.get(eid) else { return };
        let post = Post { path: c.path.clone(), reply_to: Some(self.own_uri.clone()), record };
        if self.engine.send(c.reply_to, post, Instant::now()).is_err() {
            debug!(agent = %self.agent.key, controller = %eid, "CoAP: too many Records wait for the controller; one dropped");
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
