//! The end-to-end session context (TR-369 SPEC-E2E) as a layer over any [`Transport`]:
//! sequencing with retransmission, segmentation at the agent's `MaxUSPRecordSize` and
//! reassembly, and Record integrity (ECDSA signatures) when the MTP does not protect the
//! Record all the way to the agent (MQTT and STOMP cross a broker).
//!
//! The driver's [`usp_core::engine::Link`] does not know about it: it keeps writing
//! `no_session_context` Records, and [`E2eTransport`] takes their payload (the serialized
//! `usp.Msg`) into a [`usp_core::e2e::E2eSession`], sends the `session_context` Records
//! that come out, and hands the Link every Message the session delivers as a
//! `no_session_context` Record again (same `to_id` / `from_id`). MTP connect Records,
//! keepalives and DisconnectRecords other than 7105/7106 pass through untouched. The
//! session's timers run on tokio's clock, so tests with a paused clock run it in virtual
//! time.
//!
//! [`E2eMode`] says when: never, whenever the agent allows it ([`E2eMode::Prefer`]: an
//! agent that answers DisconnectRecord 7106 "Session Context not allowed" gets plain
//! `no_session_context` Records from then on, and what was sent in the refused context is
//! sent again that way, as when the agent says nothing at all to our context for
//! [`E2eSettings::answer_within`]), or always ([`E2eMode::Require`]: a 7106 ends the connection with
//! words that say so). Only `payload_security = PLAINTEXT` exists: E2E TLS is not done.

mod transport;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use std::time::Duration;

use usp_core::e2e::{IntegrityError, PeerTrust, RecordSigner};
use zeroize::Zeroizing;

pub use transport::E2eTransport;

use super::Opened;
use crate::ClientConfig;

/// When the client puts its Messages in a session context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum E2eMode {
    /// Never: `no_session_context` Records only (and the layer is not there at all).
    #[default]
    Off,
    /// Use one; if the agent does not allow it (7106), carry on without.
    Prefer,
    /// Use one; if the agent does not allow it, the connection fails with a clear error.
    Require,
}

/// Settings of the end-to-end layer ([`ClientConfig::e2e`]).
#[derive(Clone, Debug)]
pub struct E2eSettings {
    /// When to use a session context. Default [`E2eMode::Off`].
    pub mode: E2eMode,
    /// The agent's `MaxUSPRecordSize` (`Controller.{i}.E2ESession.MaxUSPRecordSize`) as
    /// configured, or what to assume until [`E2eSettings::agent_record_size`] says: our
    /// Messages are segmented into Records of at most this many bytes. 0 = no limit (one
    /// Record per Message). The spec wants at least 512 when set. Whatever applies, a
    /// smaller limit of the MTP's (an MQTT 5 broker's Maximum Packet Size) wins.
    pub max_record_size: usize,
    /// The agent's `MaxUSPRecordSize` once read from it (after the connection is up): set it
    /// through this handle (a clone), and the Messages sent from then on are cut to it
    /// instead of [`E2eSettings::max_record_size`].
    pub agent_record_size: AgentRecordSize,
    /// The largest Message of the agent's a reassembly may hold, in bytes; a larger one is
    /// refused and the context restarted. Default 5 MiB (the largest Record the client
    /// accepts at all, [`ClientConfig::limits`]).
    pub max_message_size: usize,
    /// How long a gap or an unacknowledged Record waits before a retransmission. Default 2 s.
    pub retransmit_interval: Duration,
    /// Retransmissions of one Record before the context is restarted. Default 5.
    pub max_retransmit_tries: u32,
    /// How long the agent may stay silent on a context we started before the client goes on
    /// without one ([`E2eMode::Prefer`]) or ends the connection saying so
    /// ([`E2eMode::Require`]): the reference agent as shipped drops session-context Records
    /// over MQTT without a word, no 7106. Default 5 s.
    pub answer_within: Duration,
    /// Sign our Records and verify the agent's (needed when the MTP does not protect the
    /// Record end to end, R-E2E.28). `None`: unsigned.
    pub integrity: Option<E2eIntegrity>,
}

impl Default for E2eSettings {
    fn default() -> Self {
        Self {
            mode: E2eMode::Off,
            max_record_size: 0,
            agent_record_size: AgentRecordSize::default(),
            max_message_size: 5 * 1024 * 1024,
            retransmit_interval: Duration::from_secs(2),
            max_retransmit_tries: 5,
            answer_within: Duration::from_secs(5),
            integrity: None,
        }
    }
}

impl E2eSettings {
    /// A session context in `mode`, the other settings at their defaults.
    pub fn new(mode: E2eMode) -> Self {
        Self { mode, ..Self::default() }
    }
}

/// The agent's `MaxUSPRecordSize`, read while the connection runs, shared with its layer
/// ([`E2eSettings::agent_record_size`]). Clones share the value.
#[derive(Clone, Debug, Default)]
pub struct AgentRecordSize(Arc<AtomicU64>);

impl AgentRecordSize {
    /// Not known yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The agent says `bytes` (0 = no limit).
    pub fn set(&self, bytes: usize) {
        self.0.store((bytes as u64).saturating_add(1), Ordering::Relaxed);
    }

    /// What the agent said, once it did.
    pub fn get(&self) -> Option<usize> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(usize::try_from(n - 1).unwrap_or(usize::MAX)),
        }
    }
}

/// Record integrity: our key and certificate to sign with, and which certificates may sign
/// the agent's Records. The key never reaches logs (`Debug` leaves it out) and is wiped
/// from memory when dropped.
#[derive(Clone)]
pub struct E2eIntegrity {
    key_pkcs8: Zeroizing<Vec<u8>>,
    cert_der: Vec<u8>,
    /// Which certificates may sign the agent's Records.
    pub peer: PeerTrust,
    /// The agent's certificate once learnt ([`PeerTrust::TrustOnFirstUse`],
    /// [`PeerTrust::WhenSigned`]), shared by clones: pin it for the next connections.
    learnt: Arc<Mutex<Option<Bytes>>>,
}

impl fmt::Debug for E2eIntegrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("E2eIntegrity")
            .field("cert_len", &self.cert_der.len())
            .field("key", &"<hidden>")
            .field("peer", &self.peer)
            .finish()
    }
}

impl E2eIntegrity {
    /// Our private key (PKCS#8 DER, ECDSA P-256) and certificate (DER), checked to belong
    /// together, and the trust in the agent's certificate.
    ///
    /// # Errors
    /// When the key is not an ECDSA P-256 key or not the certificate's.
    pub fn new(key_pkcs8: &[u8], cert_der: &[u8], peer: PeerTrust) -> Result<Self, IntegrityError> {
        RecordSigner::new(key_pkcs8, cert_der)?;
        Ok(Self {
            key_pkcs8: Zeroizing::new(key_pkcs8.to_vec()),
            cert_der: cert_der.to_vec(),
            peer,
            learnt: Arc::default(),
        })
    }

    /// The certificate (DER) the agent signed its Records with, once learnt (it names the
    /// agent's Endpoint ID).
    pub fn learnt_peer_certificate(&self) -> Option<Bytes> {
        self.learnt.lock().ok().and_then(|l| l.clone())
    }

    pub(crate) fn learn(&self, cert: Bytes) {
        if let Ok(mut l) = self.learnt.lock() {
            *l = Some(cert);
        }
    }

    /// A signer for one connection.
    pub(crate) fn signer(&self) -> Result<RecordSigner, IntegrityError> {
        RecordSigner::new(&self.key_pkcs8, &self.cert_der)
    }
}

/// `opened` with the end-to-end layer over its transport when `config.e2e` asks for one.
pub fn wrap(opened: Opened, config: &ClientConfig) -> Opened {
    if config.e2e.mode == E2eMode::Off {
        return opened;
    }
    let Opened { transport, handshake } = opened;
    Opened { transport: Box::new(E2eTransport::new(transport, config)), handshake }
}
