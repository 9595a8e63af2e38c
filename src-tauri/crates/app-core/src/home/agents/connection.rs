//! The task that keeps one agent connected: it follows the client's states, asks a device that
//! keeps this app out again now and then (or at once on "Check now"), and re-checks a changed
//! certificate or a wrong device in the background.

use std::sync::Arc;
use std::time::Duration;

use ipc_types::{AgentArgs, AgentAuth, AgentSummary, Topic};
use usp_client::tls::{self, AgentTrust, ObservedCert, PinStore};
use usp_client::{Client, ClientConfig, ClientError, ConnectionState};
use usp_core::EndpointId;

use super::state::{auth_of, offline_words};
use super::AgentEntry;
use crate::home::{is_wss, AppError, AppResult, Home};
use crate::pairing::AuthState;

/// How often to ask a connected device that keeps this app out again: every 10 s for its first
/// 30 checks (5 minutes: the person is probably at the router's settings page right now), then
/// every minute; an untrusted device (which offers pairing) every minute. `None` for any other
/// state.
fn recheck_every(e: &AgentEntry) -> Option<Duration> {
    match e.auth {
        _ if !e.connected => None,
        AgentAuth::NotAuthorised { .. } if e.checks < 30 => Some(NOT_AUTHORISED_RECHECK),
        AgentAuth::NotAuthorised { .. } | AgentAuth::Untrusted { .. } => Some(SLOW_RECHECK),
        _ => None,
    }
}

/// How often a device that ignores this app is asked again at first.
const NOT_AUTHORISED_RECHECK: Duration = Duration::from_secs(10);
/// How often later, and for a device that answers but gives no rights.
const SLOW_RECHECK: Duration = Duration::from_secs(60);

/// How one connection attempt ended for the connection task.
enum Ended {
    /// The client was closed (forgotten, restarted, shut down).
    Closed,
    /// A certificate question or a refusal that needs the person (or the genuine device back);
    /// whether the client had been connected before.
    NeedsUser(AuthState, bool),
}

impl Home {
    /// Starts (or restarts) the connection task of `eid`.
    pub(super) fn spawn_connection(&self, eid: &str) {
        if self.is_stopped() {
            return;
        }
        let home = self.clone();
        let id = eid.to_owned();
        let task = tokio::spawn(async move { home.run_connection(id).await });
        let orphan = self
            .with_agent(eid, |e| {
                if let Some(old) = e.task.replace(task) {
                    old.abort();
                }
            })
            .is_none();
        if orphan {
            tracing::debug!(eid, "agent forgotten before its connection started");
        }
    }

    /// Closes the current connection of `eid` and starts a new one.
    pub(crate) async fn restart_connection(&self, eid: &str) {
        let old = self.with_agent(eid, AgentEntry::disconnect);
        if let Some(Some(client)) = &old {
            let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
        }
        if old.is_some() {
            self.spawn_connection(eid);
        }
    }

    fn client_config(&self, eid: &str, url: &str, never_paired: bool) -> Result<ClientConfig, String> {
        let mut c = ClientConfig::new(url, self.identity().eid().clone());
        c.agent_id = eid.parse::<EndpointId>().ok();
        c.connect_timeout = Duration::from_secs(10);
        c.request_timeout = Duration::from_secs(15);
        if never_paired {
            // A discovered device nobody paired: retry slowly, so a flapping or fake one is not
            // dialled every few seconds forever.
            c.backoff.initial = Duration::from_secs(1);
            c.backoff.max = Duration::from_secs(300);
        }
        if self.with_agent(eid, |e| e.dialled).unwrap_or(false) {
            // It connects to us: wait for it at the listener.
            let agent = c.agent_id.clone().ok_or("the device has no valid Endpoint ID")?;
            c.connector = Some(self.dialled_connector(agent).ok_or(
                "This device connects to usp-home, but usp-home is not listening for devices now \
                 (Settings: devices that connect to usp-home).",
            )?);
            c.connect_timeout = Duration::from_secs(30);
            c.backoff = usp_client::Backoff::doubling(Duration::from_millis(200), Duration::from_secs(2));
            return Ok(c);
        }
        c.login = self.broker_login(eid, url);
        c.tls = self.broker_tls(eid, url)?;
        c.coap = self.coap_endpoint();
        c.connector = self.connector_for(url);
        if c.connector.is_none() {
            // Other MTPs it announced, tried after this address: never for a secure agent, nor
            // for one added by a TLS broker address (an advert must not move it to a plain or
            // unverified broker), and never a TLS broker from an advert (its certificate could
            // only be trusted by a pin, which only adding the device by hand makes).
            let tls_primary = super::broker::tls_broker(url).is_some();
            let others = self.with_agent(eid, |e| {
                if e.secure || tls_primary {
                    Vec::new()
                } else {
                    e.alternates.values().filter(|u| super::broker::tls_broker(u).is_none()).cloned().collect()
                }
            });
            let mut urls: Vec<String> = std::iter::once(url.to_owned()).chain(others.unwrap_or_default()).collect();
            if urls.len() > 1 {
                urls.sort_by_key(|u| usp_client::mtp::fallback::preference(u));
                urls.dedup();
                c.connector = Some(Arc::new(usp_client::mtp::fallback::Fallback::new(urls)));
            }
        }
        // Across a broker the app asks for USP's end-to-end session context: Messages then cross
        // whole (each side segments large ones at the other's MaxUSPRecordSize) and in order,
        // whatever the broker does. An agent that refuses or ignores it is reached without, and
        // not asked again while the app runs. Our Records are signed with the app's identity;
        // the agent's are verified once it signs one (agents in the field, the reference agent,
        // sign nothing and ignore our signatures).
        let crosses = usp_client::mtp::carrier_of(url).is_ok_and(|k| k.mtp.crosses_broker());
        if crosses && c.connector.is_none() {
            let known = self
                .with_agent(eid, |e| (!e.e2e_refused).then(|| (e.e2e_record_size.clone(), e.e2e_peer_cert.clone())));
            if let Some((size, peer_cert)) = known.flatten() {
                c.e2e = super::e2e::settings(&size);
                c.e2e.integrity = super::e2e::integrity(self.identity().tls(), peer_cert);
                let integrity = c.e2e.integrity.clone();
                self.with_agent(eid, |e| e.e2e_integrity = integrity);
            }
        }
        if is_wss(url) {
            let trust = AgentTrust::new(self.pins().clone() as Arc<dyn PinStore>);
            c.tls = Some(
                tls::client_config(self.identity().tls(), trust, c.agent_id.clone(), ObservedCert::new())
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(c)
    }

    /// Keeps one agent connected and its state current. A certificate question, a changed
    /// certificate or a wrong device stop the connection; it is then checked again in the
    /// background with a long backoff, so the genuine device comes back by itself.
    async fn run_connection(self, eid: String) {
        let mut recheck = 0u32;
        loop {
            let Some((url, secure, discovered)) = self.with_agent(&eid, |e| (e.url.clone(), e.secure, e.discovered))
            else {
                return;
            };
            if !is_wss(&url) && (secure || self.has_pin(&eid).await) {
                // Never over plain ws: back to the address that proved itself, or wait for one.
                self.with_agent(&eid, |e| e.secure = true);
                match self.saved_url(&eid).filter(|u| is_wss(u)) {
                    Some(saved) => {
                        self.record_impostor(&eid, &url, "it offered an unencrypted connection");
                        self.with_agent(&eid, |e| e.url = saved);
                        continue;
                    }
                    None => {
                        self.set_auth(
                            &eid,
                            AgentAuth::Offline {
                                message: "This device uses an encrypted connection, but only an unencrypted \
                                          address is known for it now; the app waits for its encrypted address."
                                    .into(),
                            },
                        );
                        return;
                    }
                }
            }
            let never_paired = discovered && self.saved_url(&eid).is_none();
            let config = match self.client_config(&eid, &url, never_paired) {
                Ok(c) => c,
                Err(reason) => {
                    self.set_auth(&eid, AgentAuth::Offline { message: offline_words(&reason) });
                    return;
                }
            };
            let client = Client::start(config);
            self.with_agent(&eid, |e| {
                e.client = Some(client.clone());
                e.connected = false;
                // While re-checking, the card keeps saying what is wrong.
                if !matches!(
                    e.auth,
                    AgentAuth::Offline { .. }
                        | AgentAuth::FirstUse { .. }
                        | AgentAuth::CertificateChanged { .. }
                        | AgentAuth::WrongDevice
                ) {
                    e.auth = AgentAuth::Connecting;
                }
            });
            self.changed(&[Topic::Home]);
            match self.follow(&eid, &client).await {
                Ended::Closed => return,
                Ended::NeedsUser(st, was_connected) => {
                    let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
                    if was_connected {
                        recheck = 0;
                    }
                    let wrong = matches!(st, AuthState::CertificateChanged { .. } | AuthState::WrongDevice { .. });
                    if wrong {
                        if let Some(saved) = self.saved_url(&eid).filter(|u| *u != url && is_wss(u)) {
                            // A new address answered with another certificate: not the device.
                            self.record_impostor(&eid, &url, "another certificate at a new address");
                            self.with_agent(&eid, |e| e.url = saved);
                            continue;
                        }
                    }
                    let (auth, presented, _) = auth_of(&st);
                    self.on_lost(&eid, auth, presented);
                    let wait = self.recheck_delay(recheck);
                    recheck = recheck.saturating_add(1);
                    tracing::info!(eid, state = %st, ?wait, "the connection needs a decision; checking again later");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Follows one client's states until it is closed or needs the user. While the device is
    /// connected but does not let this app in (not authorised, or untrusted), it is asked again
    /// now and then, and at once on "Check now": the card turns paired by itself once the
    /// person adds this app on the device.
    async fn follow(&self, eid: &str, client: &Client) -> Ended {
        let mut state = client.state();
        let mut was_connected = false;
        let Some(check_now) = self.with_agent(eid, |e| e.check_now.clone()) else { return Ended::Closed };
        loop {
            let now = state.borrow_and_update().clone();
            match now {
                ConnectionState::Connecting { .. } => {}
                ConnectionState::Connected { .. } => {
                    was_connected = true;
                    self.on_connected(eid, client).await;
                }
                ConnectionState::Disconnected { reason, .. } => {
                    self.on_lost(eid, AgentAuth::Offline { message: offline_words(&reason) }, None);
                }
                ConnectionState::NeedsUser { error } => {
                    let st = AuthState::from_client_error(&ClientError::Connect(error), client.own_id());
                    return Ended::NeedsUser(st, was_connected);
                }
                ConnectionState::Closed => return Ended::Closed,
            }
            loop {
                let next = self.plan_check(eid);
                let timer = async {
                    match next {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    changed = state.changed() => {
                        if changed.is_err() {
                            return Ended::Closed;
                        }
                        break;
                    }
                    () = timer => {}
                    () = check_now.notified() => {}
                }
                // Only a device still connected and still keeping us out is asked again.
                let keeps_out = self.with_agent(eid, |e| recheck_every(e).is_some()).unwrap_or(false);
                if !matches!(*state.borrow(), ConnectionState::Connected { .. }) || !keeps_out {
                    continue;
                }
                self.with_agent(eid, |e| {
                    e.next_check = None;
                    e.checks = e.checks.saturating_add(1);
                });
                self.changed(&[Topic::Home]);
                self.on_connected(eid, client).await;
            }
        }
    }

    /// When to ask `eid` again ([`recheck_every`]), planned if it is not yet; `None` when it
    /// need not be asked. The time is kept on the entry, so the card can count down to it.
    fn plan_check(&self, eid: &str) -> Option<tokio::time::Instant> {
        let (next, planned) = self.with_agent(eid, |e| match recheck_every(e) {
            None => {
                e.next_check = None;
                e.checks = 0;
                (None, false)
            }
            Some(_) if e.next_check.is_some() => (e.next_check, false),
            Some(every) => {
                let at = tokio::time::Instant::now() + every;
                e.next_check = Some(at);
                (Some(at), true)
            }
        })?;
        if planned {
            // The card shows when the next check comes.
            self.changed(&[Topic::Home]);
        }
        next
    }

    /// `agent_check_now`: asks a device that keeps this app out again, now (or reconnects to a
    /// device that can't be reached).
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`].
    pub async fn agent_check_now(&self, args: AgentArgs) -> AppResult<AgentSummary> {
        let (connected, offline, notify) = self
            .with_agent(&args.agent, |e| {
                if e.connected {
                    e.next_check = None;
                }
                (e.connected, matches!(e.auth, AgentAuth::Offline { .. }), e.check_now.clone())
            })
            .ok_or(AppError::UnknownAgent)?;
        if connected {
            notify.notify_one();
            self.changed(&[Topic::Home]);
        } else if offline {
            self.restart_connection(&args.agent).await;
        }
        self.agent_summary(&args.agent)
    }
}

/// Wait before retry number `attempt`: 250 ms doubling up to 30 s.
pub(super) fn retry_delay(attempt: u32) -> Duration {
    usp_client::Backoff::doubling(Duration::from_millis(250), Duration::from_secs(30)).nominal(attempt)
}
