//! The agent's end of the end-to-end session context with one controller, over a
//! [`super::RecordPipe`], on usp-core's sans-IO [`E2eSession`] (the same layer the
//! controller uses).
//!
//! Policy per controller (`Controller.{i}.E2ESession.`, read when the pipe starts):
//! - `Forbid`: a `session_context` Record is answered with DisconnectRecord 7106 "Session
//!   Context not allowed"; the pipe stays up, so the controller can go on without;
//! - `Allow`: the controller chooses, Record by Record; replies go the way the controller
//!   last spoke (in the context while one is up, else `no_session_context`);
//! - `Require`: a request in a `no_session_context` Record is answered with an Error 7101
//!   "Secure session required" (R-MTP.5: in a `no_session_context` Record, as the request
//!   came); anything else without a context is dropped.
//!
//! `MaxUSPRecordSize` segments what the agent sends, and a session-context Record of the
//! controller's larger than it is dropped (the controller must cut its Messages to it); with the scenario's `integrity`, the
//! agent signs its Records with its own certificate ([`crate::AgentHandle::e2e_certificate_der`])
//! and requires the controller's to be signed, trusting the first certificate that does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, info};
use usp_client::tls::Identity;
use usp_core::e2e::{E2eConfig, E2eDropped, E2eEvent, E2eSession, PeerTrust, RecordSigner, RestartReason};
use usp_core::eid::EndpointId;

use crate::agent::E2ePolicy;
use crate::spec::SessionMode;

/// The clock of the session layer: tokio's, so tests with a paused clock run it virtually.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// After a Record fails the integrity check (which restarts the context, R-E2E.23), the
/// controller's session-context Records are ignored this long, doubling up to
/// [`QUIET_MAX`]: otherwise the two sides would restart each other without pause.
const QUIET_FIRST: Duration = Duration::from_secs(5);
const QUIET_MAX: Duration = Duration::from_secs(300);

/// What the session produced after an input.
#[derive(Default)]
pub(super) struct Drained {
    /// Records for the controller.
    pub transmits: Vec<Bytes>,
    /// Whole Messages from the controller, in order.
    pub delivered: Vec<Bytes>,
    /// A new `E2ESession.Status`.
    pub status: Option<&'static str>,
}

/// The session context with one controller, under its policy.
pub(super) struct PipeE2e {
    pub policy: E2ePolicy,
    session: Option<E2eSession>,
    /// The controller spoke in a session context last (replies go the same way).
    in_context: bool,
    quiet_until: Option<Instant>,
    quiet_next: Duration,
    /// Records of the controller's dropped for being over `MaxUSPRecordSize`.
    oversized: u64,
}

impl PipeE2e {
    pub fn new(policy: E2ePolicy, agent: &EndpointId, controller: &EndpointId, identity: &Arc<Identity>) -> Self {
        let session = (policy.mode != SessionMode::Forbid).then(|| {
            let mut cfg = E2eConfig::new(agent.as_str(), controller.as_str());
            cfg.max_record_size = policy.max_record_size as usize;
            cfg.max_retransmit_tries = policy.max_retransmit_tries;
            cfg.max_message_size = super::MAX_RECORD_SIZE;
            cfg.limits = usp_core::wire::Limits::default();
            if policy.signed {
                match RecordSigner::new(identity.private_key_der().expose_secret(), identity.cert_der()) {
                    Ok(signer) => cfg.signer = Some(signer),
                    Err(e) => tracing::warn!("the agent cannot sign its records: {e}"),
                }
                cfg.peer_trust = Some(PeerTrust::TrustOnFirstUse);
            }
            E2eSession::new(cfg)
        });
        Self { policy, session, in_context: false, quiet_until: None, quiet_next: QUIET_FIRST, oversized: 0 }
    }

    /// Replies go in the session context.
    pub fn replies_in_context(&self) -> bool {
        self.in_context && self.session.as_ref().is_some_and(|s| s.session_id().is_some())
    }

    /// The controller sent a `no_session_context` Record.
    pub fn spoke_plain(&mut self) {
        self.in_context = false;
    }

    /// A `session_context` Record, or a DisconnectRecord 7105/7106, from the controller.
    /// False when the policy forbids session contexts (answer 7106).
    pub fn handle(&mut self, bytes: Bytes) -> bool {
        let Some(s) = self.session.as_mut() else { return false };
        self.in_context = true;
        let max = self.policy.max_record_size as usize;
        if max > 0 && bytes.len() > max {
            // Over this controller's MaxUSPRecordSize: the controller should have cut it.
            self.oversized += 1;
            if self.oversized.is_power_of_two() {
                info!(size = bytes.len(), max, dropped = self.oversized, "a record over MaxUSPRecordSize dropped");
            }
            return true;
        }
        if self.quiet_until.is_some_and(|q| q > now()) {
            debug!("session-context record ignored after an integrity failure");
            return true;
        }
        let _ = s.handle_bytes(bytes, now());
        true
    }

    /// The controller has a context with us (or we are in one).
    pub fn has_session(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.session_id().is_some())
    }

    /// Sends a serialized Message in the context; false when it cannot go there.
    pub fn send(&mut self, msg: Bytes) -> bool {
        let Some(s) = self.session.as_mut() else { return false };
        match s.send(msg, now()) {
            Ok(()) => true,
            Err(e) => {
                debug!("a reply goes without the session context: {e}");
                false
            }
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.session.as_ref().and_then(E2eSession::poll_timeout)
    }

    pub fn timeout(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.handle_timeout(now());
        }
    }

    pub fn drain(&mut self) -> Drained {
        let mut d = Drained::default();
        let Some(s) = self.session.as_mut() else { return d };
        while let Some(b) = s.poll_transmit() {
            d.transmits.push(b);
        }
        while let Some(m) = s.poll_delivered() {
            d.delivered.push(m);
            self.quiet_next = QUIET_FIRST;
        }
        while let Some(e) = s.poll_event() {
            match e {
                E2eEvent::Restarted { reason: RestartReason::Integrity(why), .. }
                | E2eEvent::Dropped(E2eDropped::Integrity(why)) => {
                    let t = now();
                    if self.quiet_until.is_none_or(|q| q <= t) {
                        info!(error = %why, "a record from the controller failed the integrity check");
                        self.quiet_until = Some(t + self.quiet_next);
                        self.quiet_next = (self.quiet_next * 2).min(QUIET_MAX);
                    }
                }
                E2eEvent::Started { session_id, by_peer } => {
                    info!(session_id, by_peer, "session context with the controller started");
                    d.status = Some("Up");
                }
                E2eEvent::Restarted { old, new, reason } => {
                    info!(old, new, %reason, "session context restarted");
                    d.status = Some("Up");
                }
                E2eEvent::Terminated { .. } | E2eEvent::NotAllowed { .. } => {
                    info!("the controller ended the session context");
                    self.in_context = false;
                    d.status = Some("Down");
                }
                other => debug!(?other, "session context"),
            }
        }
        d
    }
}
