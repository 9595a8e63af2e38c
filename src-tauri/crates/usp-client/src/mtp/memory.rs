//! An MTP inside one process: Records travel through channels, nothing touches a socket.
//!
//! It exists for tests that must not wait on real time: with tokio's clock paused
//! (`#[tokio::test(start_paused = true)]`) a whole client session (connect, requests,
//! timeouts, reconnect backoff) runs in virtual time, because the driver reads its clock
//! from tokio. [`channel`] gives the two ends: the [`MemoryConnector`] goes into a
//! [`crate::ClientConfig`], the [`MemoryListener`] hands each connection's agent end
//! ([`MemoryPeer`]) to whoever plays the agent.

use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;

use usp_core::EndpointId;

use super::{BoxFuture, Carrier, Close, Connector, Handshake, Inbound, Mtp, Opened, Outbound, Transport};
use crate::error::ConnectError;
use crate::ClientConfig;

/// A new in-memory network with one agent address. `agent` is what the connection's
/// handshake names as the agent (as the WebSocket extension header does), if anything.
pub fn channel(agent: Option<EndpointId>) -> (MemoryConnector, MemoryListener) {
    let (dial, accept) = mpsc::unbounded_channel();
    (MemoryConnector { dial, agent }, MemoryListener { accept })
}

/// The client's end: each `connect` is one new connection to the listener.
#[derive(Debug, Clone)]
pub struct MemoryConnector {
    dial: mpsc::UnboundedSender<MemoryPeer>,
    agent: Option<EndpointId>,
}

/// The agent's end: the connections clients opened, in order.
#[derive(Debug)]
pub struct MemoryListener {
    accept: mpsc::UnboundedReceiver<MemoryPeer>,
}

impl MemoryListener {
    /// The next connection; `None` once every connector is gone.
    pub async fn accept(&mut self) -> Option<MemoryPeer> {
        self.accept.recv().await
    }

    /// A connection already waiting, if any.
    pub fn try_accept(&mut self) -> Option<MemoryPeer> {
        self.accept.try_recv().ok()
    }
}

/// One connection, seen from the agent: the Records the client sent, and a way to answer.
/// Dropping it is the agent closing the connection.
#[derive(Debug)]
pub struct MemoryPeer {
    /// The client's Endpoint ID (as `?eid=` tells a WebSocket server).
    pub controller: EndpointId,
    to_client: mpsc::UnboundedSender<Bytes>,
    from_client: mpsc::UnboundedReceiver<Bytes>,
    keepalives: u64,
}

impl MemoryPeer {
    /// The next message from the client, a keepalive as empty bytes; `None` when the
    /// client closed the connection. [`MemoryPeer::next_record`] answers keepalives itself.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.from_client.recv().await
    }

    /// A message already waiting, if any (a keepalive as empty bytes).
    pub fn try_recv(&mut self) -> Option<Bytes> {
        self.from_client.try_recv().ok()
    }

    /// Sends one Record to the client; false when the client has gone.
    pub fn send(&self, record: Bytes) -> bool {
        self.to_client.send(record).is_ok()
    }

    /// The parts: the client's Endpoint ID, the sender of messages to the client and the
    /// receiver of its messages (a keepalive is an empty message both ways).
    pub fn into_parts(self) -> (EndpointId, mpsc::UnboundedSender<Bytes>, mpsc::UnboundedReceiver<Bytes>) {
        (self.controller, self.to_client, self.from_client)
    }

    /// How many keepalive probes the client sent so far.
    pub fn keepalives(&self) -> u64 {
        self.keepalives
    }
}

impl Connector for MemoryConnector {
    fn connect<'a>(&'a self, config: &'a ClientConfig) -> BoxFuture<'a, Result<Opened, ConnectError>> {
        Box::pin(async move {
            let (to_client, from_agent) = mpsc::unbounded_channel();
            let (to_agent, from_client) = mpsc::unbounded_channel();
            let peer = MemoryPeer { controller: config.own_id.clone(), to_client, from_client, keepalives: 0 };
            self.dial
                .send(peer)
                .map_err(|_| ConnectError::Tcp(format!("{}: nothing is listening in memory", config.url)))?;
            let transport = MemoryTransport { to_agent: Some(to_agent), from_agent };
            Ok(Opened {
                transport: Box::new(transport),
                handshake: Handshake { agent_id_hint: self.agent.clone(), peer_certificates: Vec::new() },
            })
        })
    }
}

/// The client's side of one in-memory connection.
struct MemoryTransport {
    to_agent: Option<mpsc::UnboundedSender<Bytes>>,
    from_agent: mpsc::UnboundedReceiver<Bytes>,
}

const GONE: &str = "the agent closed the connection";

impl Transport for MemoryTransport {
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(match &self.to_agent {
            Some(tx) if !tx.is_closed() => Ok(()),
            _ => Err(GONE.into()),
        })
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        let tx = self.to_agent.as_ref().ok_or_else(|| GONE.to_owned())?;
        match item {
            Outbound::Record(bytes) => tx.send(bytes).map_err(|_| GONE.to_owned()),
            // The agent end sees a keepalive as an empty message, which no Record is.
            Outbound::KeepAlive => tx.send(Bytes::new()).map_err(|_| GONE.to_owned()),
        }
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        self.from_agent.poll_recv(cx).map(|r| match r {
            // An empty message from the agent end answers a keepalive.
            Some(b) if b.is_empty() => Inbound::Alive,
            Some(b) => Inbound::Record(b),
            None => Inbound::Lost(GONE.into()),
        })
    }

    fn close(&mut self, _why: Close) -> BoxFuture<'_, ()> {
        self.to_agent = None;
        Box::pin(async {})
    }

    fn carrier(&self) -> Carrier {
        Carrier::new(Mtp::Memory, false)
    }
    fn any_task_may_send(&self) -> bool {
        true
    }
    fn any_task_may_receive(&self) -> bool {
        true
    }
}

impl MemoryPeer {
    /// Answers keepalives the way a WebSocket agent answers pings, and returns the next
    /// Record: what most tests want from [`MemoryPeer::recv`].
    pub async fn next_record(&mut self) -> Option<Bytes> {
        loop {
            let b = self.from_client.recv().await?;
            if b.is_empty() {
                self.keepalives += 1;
                let _ = self.to_client.send(Bytes::new());
                continue;
            }
            return Some(b);
        }
    }
}
