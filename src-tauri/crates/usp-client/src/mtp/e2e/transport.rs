//! [`E2eTransport`]: the session-context layer between the driver and an MTP.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, info, warn};

use usp_core::e2e::{
    E2eConfig, E2eDropped, E2eEvent, E2eSendError, E2eSession, RestartReason, CODE_NOT_ALLOWED, CODE_TERMINATED,
};
use usp_core::record::{Record, RecordType};
use usp_core::text::for_log;
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

use super::{E2eMode, E2eSettings};
use crate::mtp::{BoxFuture, Carrier, Close, Inbound, Outbound, Transport};
use crate::ClientConfig;

/// Records waiting for the MTP beyond which `poll_ready` says "not yet".
const OUT_HIGH_BYTES: usize = 4 * 1024 * 1024;
/// Copies of Messages sent in a context the agent has not answered yet (for a 7106 under
/// [`E2eMode::Prefer`]), at most this many bytes; older ones are forgotten.
const UNCONFIRMED_BYTES: usize = 8 * 1024 * 1024;
/// Inbound items handled per `poll_recv` before yielding.
const RECV_BATCH: usize = 256;
/// After a Record of the agent's fails the integrity check, its session-context Records
/// are ignored this long (then twice as long after the next failure, up to
/// [`QUIET_MAX`]): each failure restarts the context (R-E2E.23), the agent follows and
/// sends again, and without a pause the two would restart each other as fast as they can.
/// The first wait is `SessionRetryMinimumWaitInterval`'s default.
const QUIET_FIRST: Duration = Duration::from_secs(5);
/// The longest pause after repeated integrity failures.
const QUIET_MAX: Duration = Duration::from_secs(300);

/// The session-context layer over one MTP connection (see the [module](super)).
pub struct E2eTransport {
    inner: Box<dyn Transport>,
    settings: E2eSettings,
    own_id: EndpointId,
    agent_id: Option<EndpointId>,
    limits: Limits,
    session: Option<E2eSession>,
    /// The agent refused session contexts and the mode allows going on without.
    plain: bool,
    /// Why the connection must end (Require and a 7106, or a key that cannot sign).
    failed: Option<String>,
    /// Encoded Records for the MTP, oldest first, and their size.
    out: VecDeque<Outbound>,
    out_bytes: usize,
    unflushed: bool,
    /// The plain Records of Messages sent in a context not yet answered.
    unconfirmed: VecDeque<Bytes>,
    unconfirmed_bytes: usize,
    /// What the driver reads next.
    inbound: VecDeque<Inbound>,
    timer: Pin<Box<tokio::time::Sleep>>,
    armed: Option<Instant>,
    /// Session-context Records of the agent's are ignored until then (integrity failures).
    quiet_until: Option<Instant>,
    quiet_next: Duration,
    /// When a context of ours must have been answered by (until the agent first takes part
    /// in one: after that it supports them, and a restart is no reason to give up).
    answer_by: Option<Instant>,
    answered_once: bool,
    /// The plain Records sent again after a 7106, sent once more if the agent reconnects
    /// to its MTP soon after (the reference agent drops its MQTT connection after a 7106,
    /// and what reached the broker meanwhile is lost).
    after_refusal: Vec<Bytes>,
    after_refusal_until: Option<Instant>,
    /// The last integrity failure of the agent's Records, in words.
    integrity_error: Option<String>,
    /// The agent's 7105 dropped Messages of ours: sent again after the events are handled.
    send_dropped_again: bool,
}

/// The largest Record for the agent: what it said (read from it), else what is configured,
/// and never more than the MTP carries. 0 = no limit.
fn record_size(settings: &E2eSettings, mtp: Option<usize>) -> usize {
    let agent = settings.agent_record_size.get().unwrap_or(settings.max_record_size);
    match (agent, mtp) {
        (0, Some(m)) => m,
        (a, Some(m)) => a.min(m),
        (a, None) => a,
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl E2eTransport {
    /// The layer over `inner`, for the client `config` describes.
    pub fn new(inner: Box<dyn Transport>, config: &ClientConfig) -> Self {
        Self {
            inner,
            settings: config.e2e.clone(),
            own_id: config.own_id.clone(),
            agent_id: config.agent_id.clone(),
            limits: config.limits,
            session: None,
            plain: false,
            failed: None,
            out: VecDeque::new(),
            out_bytes: 0,
            unflushed: false,
            unconfirmed: VecDeque::new(),
            unconfirmed_bytes: 0,
            inbound: VecDeque::new(),
            timer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            armed: None,
            quiet_until: None,
            quiet_next: QUIET_FIRST,
            answer_by: None,
            answered_once: false,
            after_refusal: Vec::new(),
            after_refusal_until: None,
            integrity_error: None,
            send_dropped_again: false,
        }
    }

    /// A session context exists and the agent has taken part in it.
    pub fn in_session_context(&self) -> bool {
        !self.plain && self.session.as_ref().is_some_and(E2eSession::is_established)
    }

    /// The session layer, once made (counters, the session id).
    pub fn session(&self) -> Option<&E2eSession> {
        self.session.as_ref()
    }

    /// The session with `peer`, made on first use. `None` when it cannot be made.
    fn session_for(&mut self, peer: &str) -> Option<&mut E2eSession> {
        if self.session.is_none() {
            let mut cfg = E2eConfig::new(self.own_id.as_str(), peer);
            cfg.max_record_size = record_size(&self.settings, self.inner.max_record_size());
            cfg.max_message_size = self.settings.max_message_size;
            cfg.max_ahead_bytes = self.settings.max_message_size.max(64 * 1024);
            cfg.retransmit_interval = self.settings.retransmit_interval;
            cfg.max_retransmit_tries = self.settings.max_retransmit_tries;
            cfg.limits = self.limits;
            // The reference agent's experimental session context answers a context it forbids
            // with 7105 instead of 7106; a 7105 before the agent took any part in our context
            // can only mean it does not want one (a restart of the agent after it took part
            // is told apart: that context was confirmed).
            cfg.early_7105_means_not_allowed = true;
            if let Some(integrity) = &self.settings.integrity {
                match integrity.signer() {
                    Ok(signer) => cfg.signer = Some(signer),
                    Err(e) => {
                        self.failed = Some(format!("cannot sign end-to-end records: {e}"));
                        return None;
                    }
                }
                cfg.peer_trust = Some(integrity.peer.clone());
                // A certificate learnt for the agent must name its Endpoint ID: another
                // endpoint's certificate is no proof that the agent sent the Record.
                cfg.peer_cert_names_peer = true;
            }
            self.session = Some(E2eSession::new(cfg));
        }
        self.session.as_mut()
    }

    fn push_out(&mut self, item: Outbound) {
        if let Outbound::Record(b) = &item {
            self.out_bytes += b.len();
        }
        self.out.push_back(item);
    }

    /// A Record from the Link.
    fn take_record(&mut self, bytes: Bytes) -> Result<(), String> {
        if self.plain {
            self.push_out(Outbound::Record(bytes));
            return Ok(());
        }
        let rec = match wire::decode_record(bytes.clone(), &Limits { max_record_size: usize::MAX, ..self.limits }) {
            Ok(rec) => rec,
            // Ours: cannot happen; the MTP gets it as it is.
            Err(_) => {
                self.push_out(Outbound::Record(bytes));
                return Ok(());
            }
        };
        let RecordType::NoSessionContext { payload } = rec.record_type else {
            self.push_out(Outbound::Record(bytes));
            return Ok(());
        };
        let prefer = self.settings.mode == E2eMode::Prefer;
        let t = now();
        let size = record_size(&self.settings, self.inner.max_record_size());
        let Some(session) = self.session_for(&rec.to_id) else {
            return match &self.failed {
                Some(why) => Err(why.clone()),
                None => Ok(()),
            };
        };
        let established = session.is_established();
        if session.config().max_record_size != size {
            if let Err(e) = session.set_max_record_size(size) {
                debug!(error = %e, "the record size cannot carry a message");
            }
        }
        match session.send(payload, t) {
            Ok(()) => {
                if !established && !self.answered_once {
                    self.answer_by.get_or_insert(t + self.settings.answer_within);
                }
                if prefer && !established {
                    self.unconfirmed_bytes += bytes.len();
                    self.unconfirmed.push_back(bytes);
                    while self.unconfirmed_bytes > UNCONFIRMED_BYTES {
                        let Some(old) = self.unconfirmed.pop_front() else { break };
                        self.unconfirmed_bytes -= old.len();
                    }
                }
            }
            Err(E2eSendError::NotAllowed) if prefer => self.go_plain(Some(bytes)),
            Err(e) if prefer => {
                debug!(error = %e, "a message goes without a session context");
                self.push_out(Outbound::Record(bytes));
            }
            Err(e) => return Err(format!("cannot send the message in the end-to-end session context: {e}")),
        }
        self.drain_session();
        Ok(())
    }

    /// The agent does not allow a session context: plain Records from now on, starting
    /// with the Messages the refused context carried.
    fn go_plain(&mut self, then: Option<Bytes>) {
        self.plain = true;
        let resend: Vec<Bytes> = self.unconfirmed.drain(..).chain(then).collect();
        self.unconfirmed_bytes = 0;
        for b in resend {
            self.push_out(Outbound::Record(b));
        }
    }

    /// Moves what the session produced to where it goes.
    fn drain_session(&mut self) {
        let Some(session) = self.session.as_mut() else { return };
        let mut transmits = Vec::new();
        while let Some(b) = session.poll_transmit() {
            transmits.push(b);
        }
        let mut delivered = Vec::new();
        while let Some(m) = session.poll_delivered() {
            delivered.push(m);
        }
        let mut events = Vec::new();
        while let Some(e) = session.poll_event() {
            events.push(e);
        }
        let (own, peer) = (session.config().own_id.clone(), session.config().peer_id.clone());
        if session.is_established() {
            self.answer_by = None;
            self.answered_once = true;
            self.unconfirmed.clear();
            self.unconfirmed_bytes = 0;
        }
        for b in transmits {
            self.push_out(Outbound::Record(b));
        }
        if !delivered.is_empty() {
            // Records pass the check again: the next failure waits the first pause only.
            self.quiet_next = QUIET_FIRST;
        }
        for payload in delivered {
            let rec = Record::new(
                usp_core::engine::USP_VERSION,
                own.clone(),
                peer.clone(),
                RecordType::NoSessionContext { payload },
            );
            let mut buf = Vec::with_capacity(wire::encoded_record_len(&rec));
            wire::encode_record(&rec, &mut buf);
            self.inbound.push_back(Inbound::Record(Bytes::from(buf)));
        }
        for e in events {
            self.on_event(e);
        }
        if std::mem::take(&mut self.send_dropped_again) {
            if let Some(s) = self.session.as_mut() {
                let t = now();
                for m in s.take_dropped() {
                    if let Err(e) = s.send(m, t) {
                        debug!(error = %e, "a message dropped by the agent's 7105 cannot go again");
                    }
                }
            }
            self.drain_session();
        }
    }

    /// A Record of the agent's failed the integrity check: ignore its Records for a while.
    fn integrity_failed(&mut self, why: &dyn std::fmt::Display) {
        self.integrity_error = Some(why.to_string());
        let t = now();
        if self.quiet_until.is_some_and(|q| q > t) {
            return;
        }
        warn!(
            error = %why,
            pause_s = self.quiet_next.as_secs(),
            "a record from the agent failed the end-to-end integrity check: dropped, its records ignored for a while"
        );
        self.quiet_until = Some(t + self.quiet_next);
        self.quiet_next = (self.quiet_next * 2).min(QUIET_MAX);
    }

    fn on_event(&mut self, e: E2eEvent) {
        match e {
            E2eEvent::Restarted { reason: RestartReason::Integrity(why), .. }
            | E2eEvent::Dropped(E2eDropped::Integrity(why)) => self.integrity_failed(&why),
            E2eEvent::Started { session_id, by_peer } => debug!(session_id, by_peer, "session context started"),
            E2eEvent::Restarted { old, new, reason } => info!(old, new, %reason, "session context restarted"),
            E2eEvent::Terminated { reason, lost_messages } => {
                info!(reason = %for_log(&reason), lost_messages, "the agent ended the session context (7105)");
                // What it had not acknowledged goes again, in a new context: an agent that
                // restarted (the reference agent forgets its context then) never ran it.
                self.send_dropped_again = lost_messages > 0;
            }
            E2eEvent::NotAllowed { reason, .. } => match self.settings.mode {
                E2eMode::Prefer => {
                    info!(reason = %for_log(&reason), "the agent does not allow a session context: going on without");
                    self.after_refusal = self.unconfirmed.iter().cloned().collect();
                    self.after_refusal_until = Some(now() + self.settings.answer_within);
                    self.go_plain(None);
                }
                _ => {
                    self.failed = Some(format!(
                        "the agent does not allow an end-to-end session context (7106: {}), and this connection requires one",
                        for_log(&reason)
                    ));
                }
            },
            E2eEvent::Disconnect { reason_code, reason } => {
                debug!(reason_code, reason = %for_log(&reason), "disconnect record in the session layer");
            }
            E2eEvent::PeerCertificate(cert) => {
                info!("learnt the agent's record-signing certificate");
                if let Some(i) = &self.settings.integrity {
                    i.learn(cert);
                }
            }
            E2eEvent::Dropped(why) => debug!(%why, "session-context record dropped"),
        }
    }

    /// A Record from the MTP: the session's, or the Link's.
    fn on_inbound(&mut self, bytes: Bytes) {
        let peek = match wire::decode_record(bytes.clone(), &self.limits) {
            Ok(rec) => rec,
            Err(_) => {
                // The Link counts and reports unreadable Records.
                self.inbound.push_back(Inbound::Record(bytes));
                return;
            }
        };
        let mine = match &peek.record_type {
            RecordType::SessionContext(_) => true,
            RecordType::Disconnect { reason_code, .. } => {
                matches!(*reason_code, CODE_TERMINATED | CODE_NOT_ALLOWED) && self.session.is_some()
            }
            _ => false,
        };
        let connect = matches!(
            peek.record_type,
            RecordType::MqttConnect { .. } | RecordType::StompConnect { .. } | RecordType::WebSocketConnect
        );
        if connect && self.after_refusal_until.take().is_some_and(|until| until > now()) {
            debug!(
                records = self.after_refusal.len(),
                "the agent reconnected after refusing our context: sending again"
            );
            for b in std::mem::take(&mut self.after_refusal) {
                self.push_out(Outbound::Record(b));
            }
        }
        if !mine || (self.plain && !matches!(peek.record_type, RecordType::SessionContext(_))) {
            self.inbound.push_back(Inbound::Record(bytes));
            return;
        }
        if &*peek.to_id != self.own_id.as_str() {
            debug!("session-context record for another endpoint dropped");
            return;
        }
        if self.agent_id.as_ref().is_some_and(|a| a.as_str() != &*peek.from_id) {
            debug!("session-context record from another endpoint than the agent dropped");
            return;
        }
        if self.quiet_until.is_some_and(|q| q > now()) {
            debug!("session-context record ignored after an integrity failure");
            return;
        }
        // The agent starting a context itself is fine also after it refused ours.
        if self.plain {
            self.plain = false;
        }
        let t = now();
        let from = peek.from_id.clone();
        let Some(session) = self.session_for(&from) else { return };
        if let Some(rest) = session.handle_record(peek, t) {
            let mut buf = Vec::new();
            wire::encode_record(&rest, &mut buf);
            self.inbound.push_back(Inbound::Record(Bytes::from(buf)));
        }
        self.drain_session();
    }

    /// Hands the MTP what it takes now, and flushes. Cancel-safe.
    fn poll_out(&mut self, cx: &mut Context<'_>) -> Result<(), String> {
        while !self.out.is_empty() {
            match self.inner.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let Some(item) = self.out.pop_front() else { break };
                    if let Outbound::Record(b) = &item {
                        self.out_bytes -= b.len();
                    }
                    self.inner.start_send(item)?;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if self.unflushed {
            if let Poll::Ready(r) = self.inner.poll_flush(cx) {
                r?;
                self.unflushed = false;
            }
        }
        Ok(())
    }

    /// The agent never answered our context: on without one (Prefer), or the end (Require).
    fn check_answered(&mut self, t: Instant) {
        if self.answer_by.is_some_and(|by| by <= t) {
            self.answer_by = None;
            let answered = self.plain || self.session.as_ref().is_some_and(E2eSession::is_established);
            if !answered && self.integrity_error.is_some() {
                // Something answers, but not with Records we can trust: never a reason to go
                // on without protection (a forger would only have to garble ours).
                let why = self.integrity_error.clone().unwrap_or_default();
                if self.settings.mode == E2eMode::Require {
                    self.failed = Some(format!(
                        "the agent's end-to-end records fail the integrity check ({why}), and this connection \
                         requires a session context"
                    ));
                }
            } else if !answered && self.settings.mode == E2eMode::Require {
                self.failed = Some(format!(
                    "the agent did not answer the end-to-end session context within {:?} (it may not support one), \
                     and this connection requires one",
                    self.settings.answer_within
                ));
            } else if !answered {
                info!(
                    waited_ms = self.settings.answer_within.as_millis() as u64,
                    "the agent did not answer our session context: going on without"
                );
                self.session = None;
                self.go_plain(None);
            }
        }
    }

    /// Runs the session's timer: true when it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let session_at = self.session.as_ref().and_then(E2eSession::poll_timeout);
        let want = match (session_at, self.answer_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if want != self.armed {
            self.armed = want;
            if let Some(at) = want {
                self.timer.as_mut().reset(tokio::time::Instant::from_std(at));
            }
        }
        if self.armed.is_none() {
            return false;
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.armed = None;
            let t = now();
            if session_at.is_some_and(|at| at <= t) {
                if let Some(s) = self.session.as_mut() {
                    s.handle_timeout(t);
                }
                self.drain_session();
            }
            self.check_answered(t);
            return true;
        }
        false
    }
}

use std::future::Future as _;

impl Transport for E2eTransport {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        if let Some(why) = &self.failed {
            return Poll::Ready(Err(why.clone()));
        }
        self.poll_out(cx)?;
        if self.out_bytes > OUT_HIGH_BYTES {
            // poll_out left the MTP's waker registered: it could not take more.
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, item: Outbound) -> Result<(), String> {
        match item {
            Outbound::Record(bytes) => self.take_record(bytes),
            Outbound::KeepAlive => {
                self.push_out(Outbound::KeepAlive);
                Ok(())
            }
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        if let Some(why) = &self.failed {
            return Poll::Ready(Err(why.clone()));
        }
        self.poll_out(cx)?;
        if self.out.is_empty() && !self.unflushed {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Inbound> {
        if let Some(why) = &self.failed {
            return Poll::Ready(Inbound::Lost(why.clone()));
        }
        if let Some(item) = self.inbound.pop_front() {
            return Poll::Ready(item);
        }
        for _ in 0..RECV_BATCH {
            while self.poll_timer(cx) {}
            // What the agent sends makes acknowledgements: no more reading while the MTP has
            // not taken what is waiting (poll_out registered its waker).
            if self.out_bytes > OUT_HIGH_BYTES {
                if let Err(e) = self.poll_out(cx) {
                    return Poll::Ready(Inbound::Lost(e));
                }
                if self.out_bytes > OUT_HIGH_BYTES {
                    break;
                }
            }
            match self.inner.poll_recv(cx) {
                Poll::Ready(Inbound::Record(bytes)) => self.on_inbound(bytes),
                Poll::Ready(other) => self.inbound.push_back(other),
                Poll::Pending => break,
            }
            if !self.inbound.is_empty() || self.failed.is_some() {
                break;
            }
        }
        if let Err(e) = self.poll_out(cx) {
            return Poll::Ready(Inbound::Lost(e));
        }
        // Arm the timer for what the last Records changed.
        while self.poll_timer(cx) {}
        if let Err(e) = self.poll_out(cx) {
            return Poll::Ready(Inbound::Lost(e));
        }
        if let Some(why) = &self.failed {
            warn!(error = %for_log(why), "end-to-end session context");
            return Poll::Ready(Inbound::Lost(why.clone()));
        }
        match self.inbound.pop_front() {
            Some(item) => Poll::Ready(item),
            None => Poll::Pending,
        }
    }

    fn close(&mut self, why: Close) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Say goodbye to the context (7105) when the MTP can still carry it.
            if let Some(s) = self.session.as_mut().filter(|s| s.session_id().is_some()) {
                s.terminate("the controller closed the connection");
                self.drain_session();
                let _ = std::future::poll_fn(|cx| match self.poll_out(cx) {
                    Err(_) => Poll::Ready(()),
                    Ok(()) if self.out.is_empty() && !self.unflushed => Poll::Ready(()),
                    Ok(()) => Poll::Pending,
                })
                .await;
            }
            self.inner.close(why).await;
        })
    }

    fn carrier(&self) -> Carrier {
        let mut c = self.inner.carrier();
        c.session_context = self.in_session_context();
        // Signed both ways: we sign (integrity set), and every Record of the agent's must be
        // signed by its known certificate.
        c.end_to_end = c.session_context
            && self.settings.integrity.is_some()
            && self.session.as_ref().is_some_and(E2eSession::peer_verified);
        c
    }
}
