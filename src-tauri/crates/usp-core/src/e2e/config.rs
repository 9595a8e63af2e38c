//! Settings, events and errors of an [`E2eSession`](super::E2eSession).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use super::integrity::{IntegrityError, PeerTrust, RecordSigner};
use super::sar::SarError;
use crate::msg::Text;
use crate::text::for_log;
use crate::wire::Limits;

/// Settings of an [`E2eSession`](super::E2eSession). [`E2eConfig::new`] gives the defaults.
#[derive(Debug)]
pub struct E2eConfig {
    /// Our Endpoint ID (`from_id` of what we send, the `to_id` we accept).
    pub own_id: Text,
    /// The peer's Endpoint ID (`to_id` of what we send, the only `from_id` we accept).
    pub peer_id: Text,
    /// `Record.version` we write.
    pub version: Text,
    /// The largest Record the peer accepts, in bytes (its `MaxUSPRecordSize`, read from
    /// `Controller.{i}.E2ESession` or configured). 0 = no limit: a Message always travels
    /// in one Record. The spec asks for at least 512 when set; whatever is set must leave
    /// room for the Record header (and signature and certificate), or `send` refuses.
    pub max_record_size: usize,
    /// How often one Record may be retransmitted, or asked for, before the context is
    /// given up and restarted (`MaxRetransmitTries`). Default 5.
    pub max_retransmit_tries: u32,
    /// How long a gap in the received sequence, or an unacknowledged data Record, waits
    /// before we ask for (or send) a retransmission. Default 2 s.
    pub retransmit_interval: Duration,
    /// Send a data Record again when it is still unacknowledged after
    /// `retransmit_interval` (default true). False for a peer that never acknowledges on its
    /// own and executes a Record again when it comes twice: OB-USPA's experimental session
    /// context only acknowledges (`expected_id`) on the Records of its next Message and
    /// processes duplicates (see the README, "The reference agent's session context"), so a
    /// resend of a Set or Add would run it twice. Records the peer asks for with
    /// `retransmit_id` are sent again either way.
    pub resend_unacknowledged: bool,
    /// Send an empty Record to acknowledge the peer's data Records when nothing of ours
    /// carries our `expected_id` (default true). False for a peer that keeps nothing it sent
    /// and never resends, so an acknowledgement is of no use to it: OB-USPA's experimental
    /// session context (a GetResp in 117 Records drew 117 acknowledgements); worse, an
    /// acknowledgement that reaches it after it reset the context (`E2ESession.Reset()`)
    /// makes it end its new context too (7105).
    pub send_acknowledgements: bool,
    /// Take a DisconnectRecord 7105 that ends a context of ours the peer never took part in
    /// (no Record of its processed) as 7106, "not allowed" (default false). OB-USPA's
    /// experimental session context answers every session-context Record with 7105 when
    /// its `SessionMode` is Forbid, where the spec asks for 7106 (R-E2E.6a); without this,
    /// each Message starts a context that the agent ends again, and is lost.
    pub early_7105_means_not_allowed: bool,
    /// Take a Record with `sequence_id` 1 and `expected_id` 1 as the opening of a new context
    /// of the peer's even when its session id is the current one (and we are past its
    /// Record 1) or one we left (default false). OB-USPA's experimental session context opens
    /// its first context after every start of its process with session id 2 again: without
    /// this, its Records would pass for duplicates of an old context and be ignored. The
    /// price: a late copy of a peer's first Record restarts the context (our Messages not
    /// yet acknowledged are sent again in it).
    pub peer_reuses_session_ids: bool,
    /// The largest Message a reassembly may hold, in bytes; beyond it the Message is refused
    /// and the context restarted. Default 8 MiB.
    pub max_message_size: usize,
    /// How many Records ahead of the expected one may wait in the incoming buffer.
    /// Default 1024.
    pub max_ahead_records: usize,
    /// How many payload bytes may wait in the incoming buffer. Default 8 MiB.
    pub max_ahead_bytes: usize,
    /// A new Message is only started while less than this many payload bytes are sent and
    /// unacknowledged (a Message is never split by this bound). Default 1 MiB.
    pub max_in_flight_bytes: usize,
    /// Messages waiting to be sent (not yet in flight), in bytes; beyond it `send` refuses.
    /// Default 32 MiB.
    pub max_pending_bytes: usize,
    /// Records sent and not yet acknowledged, at most. A new Message is only started while
    /// it fits in half of this; beyond the whole of it (a peer that acknowledges nothing)
    /// the context fails. `send` refuses a Message that needs more than half. Default 32,768.
    pub max_unacked_records: usize,
    /// Limits for decoding received Records.
    pub limits: Limits,
    /// The session id of the first context we start; `None` picks a random one. Later
    /// ones count up from it, skipping ids used recently by either side.
    pub first_session_id: Option<u64>,
    /// Sign what we send (`mac_signature`, `sender_cert`). `None`: Records go unsigned
    /// (the MTP protects them, R-E2E.28).
    pub signer: Option<RecordSigner>,
    /// Verify what we receive: every session-context Record must carry a valid signature
    /// by a certificate this trusts. `None`: no verification.
    pub peer_trust: Option<PeerTrust>,
    /// A certificate learnt for the peer ([`PeerTrust::TrustOnFirstUse`],
    /// [`PeerTrust::WhenSigned`]) must name `peer_id` in a subjectAltName URI
    /// (`urn:bbf:usp:id:...`); one that does not fails the integrity check (`Untrusted`).
    /// Default false.
    pub peer_cert_names_peer: bool,
}

impl E2eConfig {
    /// The defaults for a context between `own_id` and `peer_id`.
    pub fn new(own_id: impl Into<Text>, peer_id: impl Into<Text>) -> Self {
        Self {
            own_id: own_id.into(),
            peer_id: peer_id.into(),
            version: crate::engine::USP_VERSION.into(),
            max_record_size: 0,
            max_retransmit_tries: 5,
            retransmit_interval: Duration::from_secs(2),
            resend_unacknowledged: true,
            send_acknowledgements: true,
            early_7105_means_not_allowed: false,
            peer_reuses_session_ids: false,
            max_message_size: 8 * 1024 * 1024,
            max_ahead_records: 1024,
            max_ahead_bytes: 8 * 1024 * 1024,
            max_in_flight_bytes: 1024 * 1024,
            max_pending_bytes: 32 * 1024 * 1024,
            max_unacked_records: 32_768,
            limits: Limits::controller(),
            first_session_id: None,
            signer: None,
            peer_trust: None,
            peer_cert_names_peer: false,
        }
    }
}

impl E2eConfig {
    /// These settings with every tolerance the reference agent's experimental session
    /// context (OB-USPA 11.0.4) needs: [`resend_unacknowledged`](Self::resend_unacknowledged)
    /// and [`send_acknowledgements`](Self::send_acknowledgements) off,
    /// [`early_7105_means_not_allowed`](Self::early_7105_means_not_allowed) and
    /// [`peer_reuses_session_ids`](Self::peer_reuses_session_ids) on. Leave `peer_trust`
    /// unset for it: it signs nothing.
    pub fn with_reference_agent_tolerances(mut self) -> Self {
        self.resend_unacknowledged = false;
        self.send_acknowledgements = false;
        self.early_7105_means_not_allowed = true;
        self.peer_reuses_session_ids = true;
        self
    }
}

/// Why a context was restarted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestartReason {
    /// The peer sent a Record with a session id we had not seen (R-E2E.6): we follow it.
    PeerNewSession,
    /// A sequence id came within 10,000 of `u64::MAX` (R-E2E.8/9).
    SequenceExhausted {
        /// The sequence id.
        sequence_id: u64,
    },
    /// A Record failed the integrity check; it was dropped (R-E2E.23).
    Integrity(IntegrityError),
    /// A Record carried an invalid session or sequence id (0) (R-E2E.24).
    InvalidId,
    /// A segmented Message could not be reassembled (R-E2E.21), e.g. it grew over the bound.
    Reassembly(SarError),
    /// A Record asked for something we cannot do, or broke a rule (R-E2E.21); in words.
    Processing(String),
    /// A Record was retransmitted, or asked for, more than `MaxRetransmitTries` times.
    RetransmitLimit {
        /// The Record's sequence id.
        sequence_id: u64,
        /// How many times.
        tries: u32,
    },
    /// The incoming buffer of Records ahead of the expected one is full (R-E2E.21).
    BufferFull,
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerNewSession => f.write_str("the peer started a new session context"),
            Self::SequenceExhausted { sequence_id } => {
                write!(f, "sequence id {sequence_id} is too close to the end of its range")
            }
            Self::Integrity(e) => write!(f, "a record failed the integrity check: {e}"),
            Self::InvalidId => f.write_str("a record carried session or sequence id 0"),
            Self::Reassembly(e) => write!(f, "a segmented message could not be reassembled: {e}"),
            Self::Processing(why) => write!(f, "a record could not be processed: {}", for_log(why)),
            Self::RetransmitLimit { sequence_id, tries } => {
                write!(f, "record {sequence_id} still missing after {tries} retransmissions")
            }
            Self::BufferFull => f.write_str("too many records arrived ahead of a missing one"),
        }
    }
}

/// Why a received Record was dropped without touching the context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum E2eDropped {
    /// The bytes are not a Record we can read.
    Malformed(String),
    /// `to_id` is not ours (R-E2E.1).
    NotForUs,
    /// `from_id` is not the peer's.
    WrongSender,
    /// A Record of a context we already left (its id was used before the current one).
    StaleSession {
        /// Its session id.
        session_id: u64,
    },
    /// A Record that failed the integrity check while no context exists (R-E2E.23).
    Integrity(IntegrityError),
    /// A Record with session id 0 or sequence id 0 while no context exists.
    InvalidId,
    /// A Record of the peer's new context that loses against the one we are starting
    /// (both sides started one at once; the larger id wins, on both sides).
    LostRace {
        /// Its session id.
        session_id: u64,
    },
}

impl fmt::Display for E2eDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "unreadable record: {}", for_log(why)),
            Self::NotForUs => f.write_str("record addressed to another endpoint"),
            Self::WrongSender => f.write_str("record from another endpoint than the peer"),
            Self::StaleSession { session_id } => write!(f, "record of the earlier session context {session_id}"),
            Self::Integrity(e) => write!(f, "record failed the integrity check: {e}"),
            Self::InvalidId => f.write_str("record with session or sequence id 0"),
            Self::LostRace { session_id } => {
                write!(f, "record of session context {session_id}, started at the same time as ours")
            }
        }
    }
}

/// Something that happened to the session context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum E2eEvent {
    /// A context began: ours (on a send) or the peer's (on its first Record).
    Started {
        /// Its session id.
        session_id: u64,
        /// The peer chose it.
        by_peer: bool,
    },
    /// The context was replaced by a new one. Messages of ours not yet acknowledged are
    /// sent again in the new context (so the peer may see one twice; USP msg_ids tell);
    /// a Message of the peer's being reassembled is lost.
    Restarted {
        /// The session id left.
        old: u64,
        /// The new session id.
        new: u64,
        /// Why.
        reason: RestartReason,
    },
    /// The peer ended the context with DisconnectRecord 7105 (the MTP stays up). Our
    /// Messages not yet acknowledged are dropped (`take_dropped` hands them back); the next
    /// `send` starts a new context.
    Terminated {
        /// The peer's text.
        reason: String,
        /// How many of our Messages were dropped unacknowledged.
        lost_messages: usize,
    },
    /// The peer does not allow a session context (DisconnectRecord 7106): `send` refuses
    /// until the peer starts one itself; use `no_session_context` Records instead.
    NotAllowed {
        /// The peer's text.
        reason: String,
        /// How many of our Messages were dropped unacknowledged.
        lost_messages: usize,
    },
    /// The peer sent a DisconnectRecord with another code: it is about to close the MTP.
    Disconnect {
        /// `reason_code`.
        reason_code: u32,
        /// `reason`.
        reason: String,
    },
    /// With [`PeerTrust::TrustOnFirstUse`]: the peer's certificate (DER) was learnt and is
    /// required from now on. The app should check its Endpoint ID (subjectAltName).
    PeerCertificate(Bytes),
    /// A Record was dropped; the context goes on.
    Dropped(E2eDropped),
}

/// Why a Message could not be queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum E2eSendError {
    /// USP Messages are never empty.
    #[error("an empty message cannot be sent")]
    Empty,
    /// The peer answered our context with DisconnectRecord 7106.
    #[error("the peer does not allow a session context")]
    NotAllowed,
    /// The Message is larger than [`E2eConfig::max_message_size`].
    #[error("the message is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many bytes are waiting to be sent ([`E2eConfig::max_pending_bytes`]).
    #[error("{0} bytes are already waiting to be sent")]
    Full(usize),
    /// [`E2eConfig::max_record_size`] leaves no room for a payload next to the Record header.
    #[error("a {limit}-byte record has no room for a payload next to its {overhead}-byte header")]
    RecordSizeTooSmall {
        /// The configured size.
        limit: usize,
        /// What the header takes.
        overhead: usize,
    },
    /// The Message needs more Records than half of [`E2eConfig::max_unacked_records`].
    #[error("the message needs {records} records, over the {limit}-record limit")]
    TooManySegments {
        /// Records it needs.
        records: usize,
        /// The limit.
        limit: usize,
    },
    /// Signing failed (the key is unusable).
    #[error("could not sign the record: {0}")]
    Sign(IntegrityError),
}

/// Counters of an [`E2eSession`](super::E2eSession), for tests, logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct E2eStats {
    /// Records sent for the first time.
    pub records_sent: u64,
    /// Records sent again (asked for by the peer, or unacknowledged for too long).
    pub records_resent: u64,
    /// Retransmission requests we sent.
    pub retransmit_requests: u64,
    /// Session-context Records received (whatever became of them).
    pub records_received: u64,
    /// Received Records ignored as duplicates or behind the expected one.
    pub duplicates: u64,
    /// Whole Messages delivered.
    pub messages_delivered: u64,
    /// Contexts started or restarted.
    pub contexts: u64,
}
