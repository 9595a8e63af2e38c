//! The agents of the home: discovery (and agents given by address or remembered), one
//! connection task per agent that keeps it connected and knows what it lets us do, and the
//! Home page's use-cases (the list, trusting a certificate, forgetting a device).
//!
//! Whom the app trusts: an agent once reached over `wss://` with its pinned certificate (or
//! that has a pin) is *secure* (`KnownAgent::secure` in home.json): from then on it is reached
//! only over `wss://` with that pin. A plain `ws://` advert or address for it is refused, nothing
//! is sent there, and it is shown apart as an impersonation; a new `wss://` address is tried
//! with the pin and saved only once that works. A changed certificate or a wrong device is
//! never re-trusted with one click ("Forget and pair again"); the connection is checked again
//! in the background (30 s growing to 10 min), so the genuine device comes back by itself.
//! Adverts never make a device "the gateway": only its own ProductClass does.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ipc_types::{AgentAddress, AgentArgs, AgentAuth, AgentConsent, AgentSummary, HomeView, Topic, TrustArgs};
use usp_client::discovery::{self, DiscoveryEvent, Interfaces, Mtp};
use usp_client::tls::{self, AgentTrust, Fingerprint, ObservedCert, PinStore};
use usp_client::{Client, ClientConfig, ClientError, ConnectionState};
use usp_core::EndpointId;

use super::{
    device_text, interfaces_text, is_loopback_url, is_wss, lock, AgentEntry, AppError, AppResult, DeviceFacts,
    DiscoveryRun, Home, KnownAgent, MAX_DISCOVERED, MAX_NAME_CHARS, REQUEST_DEADLINE,
};
use crate::pairing::{self, AuthState, RoleSummary};

/// `Device.DeviceInfo.` parameters read on every connection.
const DEVICE_INFO: [&str; 6] =
    ["FriendlyName", "Manufacturer", "ModelName", "SoftwareVersion", "UpTime", "ProductClass"];

/// The name of a role to show, when the agent lets us know it.
pub(crate) fn role_label(role: &RoleSummary) -> Option<String> {
    if role.names_known() {
        // "Untrusted" inherited beside a real role says nothing a person needs.
        let real: Vec<&str> = role.names.iter().map(String::as_str).filter(|n| *n != "Untrusted").collect();
        Some(if real.is_empty() { role.names.join(", ") } else { real.join(", ") })
    } else if role.full_access {
        Some("Full access".to_owned())
    } else {
        None
    }
}

/// "Can't be reached" in words, with the technical reason in brackets.
fn offline_words(reason: &str) -> String {
    let reason = reason.trim().trim_end_matches('.');
    if reason.is_empty() {
        "Can't be reached right now; the app keeps trying.".to_owned()
    } else {
        format!("Can't be reached right now ({reason}); the app keeps trying.")
    }
}

/// What the UI shows for a pairing [`AuthState`], the certificate waiting for a decision, and
/// our role.
pub(crate) fn auth_of(state: &AuthState) -> (AgentAuth, Option<Fingerprint>, Option<RoleSummary>) {
    match state {
        AuthState::Connected { role } => (AgentAuth::Paired { role: role_label(role) }, None, Some(role.clone())),
        AuthState::Untrusted { .. } | AuthState::LockedOut { .. } => (AgentAuth::Untrusted { role: None }, None, None),
        AuthState::NotAuthorised { own_eid } => (
            AgentAuth::NotAuthorised { our_endpoint_id: own_eid.as_str().to_owned(), next_check_secs: None },
            None,
            None,
        ),
        AuthState::CertificateChanged { presented, pinned, .. } => (
            AgentAuth::CertificateChanged { fingerprint: presented.to_string(), pinned: Some(pinned.to_string()) },
            Some(*presented),
            None,
        ),
        AuthState::WrongDevice { .. } => (AgentAuth::WrongDevice, None, None),
        AuthState::FirstUse { fingerprint, .. } => {
            (AgentAuth::FirstUse { fingerprint: fingerprint.to_string() }, Some(*fingerprint), None)
        }
        AuthState::Unreachable { reason } => (AgentAuth::Offline { message: offline_words(reason) }, None, None),
    }
}

/// Reads what the device says about itself.
pub(crate) async fn read_facts(client: &Client) -> Option<DeviceFacts> {
    let paths: Vec<String> = DEVICE_INFO.iter().map(|n| format!("Device.DeviceInfo.{n}")).collect();
    let resp = match tokio::time::timeout(REQUEST_DEADLINE, client.get(&paths, 0)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "DeviceInfo not readable");
            return None;
        }
        Err(_) => {
            tracing::debug!("DeviceInfo: no answer in time");
            return None;
        }
    };
    // The device's own words: plain text, capped.
    let v = |i: usize| resp.value(&paths[i]).map(|s| device_text(s, MAX_NAME_CHARS)).filter(|s| !s.is_empty());
    Some(DeviceFacts {
        friendly_name: v(0),
        manufacturer: v(1),
        model: v(2),
        firmware: v(3),
        uptime_secs: v(4).and_then(|u| u.parse().ok()),
        product_class: v(5),
    })
}

/// The objects right under `Device.` that the device offers (`WiFi`, `Hosts`...), from its
/// supported data model; `None` when it does not say (then every page simply tries).
pub(crate) async fn read_objects(client: &Client) -> Option<BTreeSet<String>> {
    let opts = usp_core::request::SupportedDmOptions {
        first_level_only: true,
        commands: false,
        events: false,
        params: false,
        unique_key_sets: false,
    };
    let resp = tokio::time::timeout(REQUEST_DEADLINE, client.get_supported_dm(&["Device."], opts)).await.ok()?.ok()?;
    top_level_objects(&resp)
}

/// The most top-level object names kept from one device, and the longest name kept.
const MAX_OBJECTS: usize = 256;
const MAX_OBJECT_NAME: usize = 64;

/// The names right under `Device.` in a GetSupportedDM answer, at most [`MAX_OBJECTS`] of at
/// most [`MAX_OBJECT_NAME`] bytes; `None` when it lists not even `DeviceInfo` (such a device
/// does not really say what it has).
fn top_level_objects(resp: &usp_core::msg::GetSupportedDmResp) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for (_, result) in resp.per_path() {
        for obj in result.unwrap_or_default() {
            let rest = obj.supported_obj_path.strip_prefix("Device.").unwrap_or("");
            if let Some(name) = rest.split('.').next().filter(|n| !n.is_empty() && n.len() <= MAX_OBJECT_NAME) {
                if names.len() < MAX_OBJECTS {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    names.contains("DeviceInfo").then_some(names)
}

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

/// How long "add by address" waits for the device to answer.
const ADD_BY_ADDRESS_TIMEOUT: Duration = Duration::from_secs(8);

/// The URL of an address as a person types it: `ws://` when no scheme is given.
fn address_to_url(address: &str) -> AppResult<String> {
    let address = address.trim();
    if address.is_empty() {
        return Err(AppError::InvalidInput("Type the device's address, like 192.168.1.1:8080/usp.".into()));
    }
    Ok(if address.contains("://") { address.to_owned() } else { format!("ws://{address}") })
}

/// An agent given by address (`ws[s]://host[:port][/path]`) and maybe its Endpoint ID, checked,
/// for the settings (`USP_HOME_AGENTS`) and for the person adding one by hand.
fn manual_target(url: &str, eid: Option<&str>) -> AppResult<discovery::DiscoveredAgent> {
    let parsed = eid
        .map(str::parse::<EndpointId>)
        .transpose()
        .map_err(|e| AppError::InvalidInput(format!("That is not a USP Endpoint ID ({e}).")))?;
    discovery::manual_agent(url, parsed).map_err(|e| match e {
        discovery::DiscoveryError::BadUrl { reason, .. } => AppError::InvalidInput(format!(
            "That address can't be right ({reason}). Type it like 192.168.1.1:8080/usp."
        )),
        other => AppError::InvalidInput(other.to_string()),
    })
}

/// One connection attempt (no retries: the person waits for the answer): the agent's
/// Endpoint ID, or why it failed.
async fn first_attempt(config: ClientConfig) -> Result<EndpointId, String> {
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let client = Client::start(config);
    let mut state = client.state();
    let outcome = loop {
        let now = state.borrow_and_update().clone();
        match now {
            ConnectionState::Connected { agent } => break Ok(agent),
            ConnectionState::Disconnected { reason, .. } => break Err(reason),
            ConnectionState::NeedsUser { error } => break Err(error.to_string()),
            ConnectionState::Closed => break Err("closed".to_owned()),
            ConnectionState::Connecting { .. } => {}
        }
        match tokio::time::timeout_at(deadline, state.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break Err("closed".to_owned()),
            Err(_) => break Err("no answer in time".to_owned()),
        }
    };
    client.close().await;
    outcome
}

/// How one connection attempt ended for the connection task.
enum Ended {
    /// The client was closed (forgotten, restarted, shut down).
    Closed,
    /// A certificate question or a refusal that needs the person (or the genuine device back);
    /// whether the client had been connected before.
    NeedsUser(AuthState, bool),
}

impl Home {
    /// Adds an agent (or updates a known one with `f`) and starts its connection task.
    pub(crate) fn add_agent(&self, eid: &str, url: &str, f: impl FnOnce(&mut AgentEntry)) {
        let start = self.with_agents(|m| {
            let e = m.entry(eid.to_owned()).or_insert_with(|| AgentEntry::new(eid, url));
            f(e);
            e.task.is_none()
        });
        if start {
            self.spawn_connection(eid);
        }
        self.changed(&[Topic::Home]);
    }

    /// The address saved for `eid` (the last one that worked), if it is remembered.
    fn saved_url(&self, eid: &str) -> Option<String> {
        self.store().read(|d| d.agents.iter().find(|k| k.agent == eid).map(|k| k.url.clone()))
    }

    /// The sticky-security rule for an address offered for `eid` by a person or a setting: an
    /// agent known to use `wss://` (or pinned) is never reached over `ws://`. A refused address
    /// is shown as an impersonation.
    ///
    /// # Errors
    /// [`AppError::Certificate`] when the address would downgrade a secure agent.
    async fn check_offered(&self, eid: &str, url: &str, how: &str) -> AppResult<()> {
        if is_wss(url) {
            return Ok(());
        }
        let secure = self.with_agent(eid, |e| e.secure).unwrap_or(false) || self.has_pin(eid).await;
        if !secure {
            return Ok(());
        }
        self.with_agent(eid, |e| e.secure = true);
        self.record_impostor(eid, url, how);
        let name = self.with_agent(eid, |e| e.name()).unwrap_or_else(|| eid.to_owned());
        Err(AppError::Certificate(format!(
            "{name} uses an encrypted connection, and this address offers none. The app did not connect to it: \
             someone on your network may be pretending to be {name}. Use the device's encrypted (wss://) address."
        )))
    }

    /// An address offered for a known `eid` (typed, configured, or from an advert) that passed
    /// [`Home::check_offered`]: a secure agent not connected now tries the new `wss://` address
    /// (its pin decides; the address is saved only once that works).
    fn switch_secure_address(&self, eid: &str, url: &str) -> bool {
        let switch = self
            .with_agent(eid, |e| {
                if e.secure && is_wss(url) && e.url != url && !e.connected {
                    e.url = url.to_owned();
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if switch {
            let home = self.clone();
            let eid = eid.to_owned();
            tokio::spawn(async move { home.restart_connection(&eid).await });
        }
        switch
    }

    /// An agent given by address (`ws://host:port/path`), with or without its Endpoint ID.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for an address that can't be right; [`AppError::Certificate`]
    /// for an unencrypted address of a device known to use encryption.
    pub(crate) async fn add_manual(&self, url: &str, eid: Option<&str>) -> AppResult<()> {
        let agent = manual_target(url, eid)?;
        let url = agent.url.clone().unwrap_or_else(|| url.trim().to_owned());
        if agent.endpoint_id_known {
            let eid = agent.endpoint_id.as_str();
            self.check_offered(eid, &url, "a configured address without encryption").await?;
            if self.with_agent(eid, |_| ()).is_some() {
                self.switch_secure_address(eid, &url);
            } else {
                self.add_agent(eid, &url, |_| {});
            }
            return Ok(());
        }
        let home = self.clone();
        let task = tokio::spawn(async move { home.resolve_manual(url).await });
        lock(&self.inner.side_tasks).push(task);
        Ok(())
    }

    /// `agent_add`: the user adds a device by its address. Without an Endpoint ID the app
    /// connects once to learn it (the device's WebSocketConnect Record), so a wrong address is
    /// reported at once rather than becoming a card that never connects.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for an address or Endpoint ID that can't be right, or a
    /// `wss://` device added without its Endpoint ID; [`AppError::Offline`] when nothing
    /// answers there as a USP agent; [`AppError::Certificate`] for a `ws://` address of a
    /// device known to use `wss://` (shown as an impersonation).
    pub async fn agent_add(&self, args: AgentAddress) -> AppResult<AgentSummary> {
        self.within(super::COMMAND_DEADLINE, None, self.agent_add_inner(args)).await
    }

    async fn agent_add_inner(&self, args: AgentAddress) -> AppResult<AgentSummary> {
        let url = address_to_url(&args.address)?;
        let eid = args.endpoint_id.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let agent = manual_target(&url, eid)?;
        let url = agent.url.clone().unwrap_or(url);
        let eid = if agent.endpoint_id_known {
            agent.endpoint_id.to_string()
        } else if agent.encrypt {
            return Err(AppError::InvalidInput(
                "This device uses an encrypted connection: add its Endpoint ID too (on its label or its settings \
                 page), so the app can check that the certificate is really the device's."
                    .into(),
            ));
        } else {
            let shown = args.address.trim().to_owned();
            let mut config = ClientConfig::new(&url, self.identity().eid().clone());
            config.connect_timeout = ADD_BY_ADDRESS_TIMEOUT;
            let found = first_attempt(config).await;
            found
                .map_err(|reason| {
                    tracing::info!(%url, %reason, "no USP agent at the address the user gave");
                    AppError::Offline { name: shown }
                })?
                .to_string()
        };
        self.check_offered(&eid, &url, "an address typed without encryption").await?;
        if self.with_agent(&eid, |_| ()).is_some() {
            self.switch_secure_address(&eid, &url);
        } else {
            self.add_agent(&eid, &url, |_| {});
        }
        self.agent_summary(&eid)
    }

    /// Connects once to learn the Endpoint ID of an agent given only by address, then adds it.
    async fn resolve_manual(self, url: String) {
        let mut attempt = 0u32;
        loop {
            let mut config = ClientConfig::new(&url, self.identity().eid().clone());
            config.connect_timeout = Duration::from_secs(10);
            if is_wss(&url) {
                let trust = AgentTrust::new(self.pins().clone() as Arc<dyn PinStore>);
                match tls::client_config(self.identity().tls(), trust, None, ObservedCert::new()) {
                    Ok(t) => config.tls = Some(t),
                    Err(e) => {
                        tracing::warn!(%url, error = %e, "cannot set up TLS for a manual agent");
                        return;
                    }
                }
            }
            match Client::connect(config).await {
                Ok(client) => {
                    let eid = client.agent_id();
                    client.close().await;
                    if let Some(eid) = eid {
                        let eid = eid.as_str();
                        if self.check_offered(eid, &url, "a configured address without encryption").await.is_ok() {
                            if self.with_agent(eid, |_| ()).is_some() {
                                self.switch_secure_address(eid, &url);
                            } else {
                                self.add_agent(eid, &url, |_| {});
                            }
                        }
                    }
                    return;
                }
                Err(ClientError::Connect(e)) if e.needs_user() => {
                    tracing::warn!(%url, error = %e, "a manual agent needs a decision; add it with its Endpoint ID");
                    return;
                }
                Err(e) => tracing::debug!(%url, error = %e, "manual agent not reachable yet"),
            }
            let wait = retry_delay(attempt);
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(wait).await;
        }
    }

    /// Starts (or restarts) the connection task of `eid`.
    fn spawn_connection(&self, eid: &str) {
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

    fn set_auth(&self, eid: &str, auth: AgentAuth) {
        self.with_agent(eid, |e| e.auth = auth);
        self.changed(&[Topic::Home]);
    }

    fn on_lost(&self, eid: &str, auth: AgentAuth, presented: Option<Fingerprint>) {
        let was_paired = self
            .with_agent(eid, |e| {
                let was = e.is_paired();
                e.connected = false;
                e.auth = auth;
                e.presented = presented;
                was
            })
            .unwrap_or(false);
        if was_paired {
            self.changed(&Topic::ALL);
        } else {
            self.changed(&[Topic::Home]);
        }
    }

    /// Probes what the agent lets us do, reads its DeviceInfo and starts live updates. A device
    /// that ignores us is shown so as soon as the probe knows it: it is not asked for its
    /// DeviceInfo (it would not answer that either, and the card would wait for nothing).
    async fn on_connected(&self, eid: &str, client: &Client) {
        let state = match tokio::time::timeout(REQUEST_DEADLINE, pairing::probe(client)).await {
            Ok(s) => s,
            Err(_) => AuthState::Unreachable { reason: "no answer in time".into() },
        };
        let (auth, presented, role) = auth_of(&state);
        if matches!(auth, AgentAuth::Offline { .. }) {
            self.on_lost(eid, auth, presented);
            return;
        }
        // Another answer than before: the checks start over.
        self.with_agent(eid, |e| {
            if std::mem::discriminant(&e.auth) != std::mem::discriminant(&auth) {
                e.checks = 0;
                e.next_check = None;
            }
        });
        if matches!(auth, AgentAuth::NotAuthorised { .. }) {
            let _ = self.apply_connected(eid, client, auth, role, None);
            return;
        }
        // It answers: its facts come in a moment, with the state (so a card is never shown
        // untrusted under a bare Endpoint ID).
        let facts = read_facts(client).await;
        if matches!(auth, AgentAuth::Paired { .. }) {
            let objects = read_objects(client).await;
            self.with_agent(eid, |e| e.objects = objects);
        }
        let _ = self.apply_connected(eid, client, auth, role, facts);
    }

    /// Records a connected agent's state; starts live updates when paired (the receiver
    /// completes once they are on).
    pub(crate) fn apply_connected(
        &self,
        eid: &str,
        client: &Client,
        auth: AgentAuth,
        role: Option<RoleSummary>,
        facts: Option<DeviceFacts>,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let paired = matches!(auth, AgentAuth::Paired { .. });
        let start_live = self
            .with_agent(eid, |e| {
                e.connected = true;
                e.auth = auth;
                e.role = role;
                e.presented = None;
                // Connected over wss: the certificate was the pinned one (or a CA's), so from
                // now on this agent is reached only over wss.
                if is_wss(&e.url) {
                    e.secure = true;
                }
                if let Some(f) = facts {
                    e.facts = f;
                }
                paired && e.live.is_none()
            })
            .unwrap_or(false);
        let mut live_ready = None;
        if start_live {
            let (task, ready) = self.start_live(eid, client.clone());
            live_ready = Some(ready);
            let stale = self.with_agent(eid, |e| e.live.replace(task));
            if let Some(Some(t)) = stale {
                t.abort();
            }
        }
        // A remembered agent keeps its last address and name. A secure agent's address is
        // saved only when this connection was authenticated (wss with the pin).
        let (url, name, secure) = self.with_agent(eid, |e| (e.url.clone(), e.name(), e.secure)).unwrap_or_default();
        let updated = self.store().update(|d| {
            if let Some(k) = d.agents.iter_mut().find(|k| k.agent == eid) {
                if !secure || is_wss(&url) {
                    k.url = url;
                }
                k.secure |= secure;
                k.name = name;
            }
        });
        if let Err(e) = updated {
            tracing::warn!(error = %e, "cannot save the agent's address");
        }
        if paired {
            self.changed(&Topic::ALL);
        } else {
            self.changed(&[Topic::Home]);
        }
        live_ready
    }

    /// Keeps `eid` in the settings file (paired or trusted agents).
    pub(crate) fn remember(&self, eid: &str) -> AppResult<()> {
        let Some((url, name, secure, allow)) =
            self.with_agent(eid, |e| (e.url.clone(), e.name(), e.secure, e.allow_unencrypted))
        else {
            return Ok(());
        };
        self.store().update(|d| match d.agents.iter_mut().find(|k| k.agent == eid) {
            Some(k) => {
                if !k.secure || is_wss(&url) {
                    k.url = url;
                }
                k.name = name;
                k.secure |= secure;
                k.allow_unencrypted = allow;
            }
            None => d.agents.push(KnownAgent { agent: eid.to_owned(), url, name, secure, allow_unencrypted: allow }),
        })
    }

    /// Starts browsing on `interfaces` (replacing a running browse).
    pub(crate) fn start_discovery(&self, interfaces: Interfaces) {
        *lock(&self.inner.interfaces) = interfaces_text(&interfaces);
        self.stop_discovery();
        if self.is_stopped() {
            return;
        }
        match crate::platform::start_discovery(interfaces) {
            Ok(mut d) => {
                if let Some(mut rx) = d.take_events() {
                    let home = self.clone();
                    let task = tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            home.on_discovery(event);
                        }
                    });
                    *lock(&self.inner.discovery) = Some(DiscoveryRun { discovery: d, task });
                }
            }
            Err(e) => tracing::warn!(error = %e, "discovery is not available; only known agents are used"),
        }
        self.changed(&[Topic::Home]);
    }

    /// Stops browsing (known agents stay).
    pub(crate) fn stop_discovery(&self) {
        let run = lock(&self.inner.discovery).take();
        if let Some(run) = run {
            run.task.abort();
            run.discovery.stop();
        }
    }

    fn on_discovery(&self, event: DiscoveryEvent) {
        /// What an advert means for the agents.
        enum Act {
            /// An advert that pretends to be a known agent (a plain-ws advert for a secure one, or
            /// another address for one paired and connected here): refused, shown apart, with why.
            Impostor(&'static str),
            /// A known agent at a new address: reconnect.
            Restart,
            /// Name or subtype changed.
            Changed,
            /// A new agent.
            New,
            /// Too many discovered agents already.
            Full,
        }
        match event {
            DiscoveryEvent::Appeared(a) | DiscoveryEvent::Updated(a) => {
                let Some(url) = a.url.clone().filter(|_| a.mtp == Mtp::Ws) else {
                    tracing::debug!(eid = %a.endpoint_id, mtp = ?a.mtp, "agent without a WebSocket address skipped");
                    return;
                };
                let eid = a.endpoint_id.as_str().to_owned();
                let name = a.name.as_deref().map(|n| device_text(n, MAX_NAME_CHARS)).filter(|n| !n.is_empty());
                let subtypes: Vec<String> = a.subtypes.iter().take(4).map(|s| device_text(s, 64)).collect();
                let act = self.with_agents(|m| {
                    let full = !m.contains_key(&eid) && m.values().filter(|e| e.discovered).count() >= MAX_DISCOVERED;
                    match m.get_mut(&eid) {
                        Some(e) if e.secure && !is_wss(&url) => Act::Impostor("an advert without encryption"),
                        // A paired device is connected right here: an advert for it elsewhere is
                        // not its move (a genuine move comes after it went offline).
                        Some(e) if e.is_paired() && !same_place(&e.url, &url) => {
                            Act::Impostor("an advert at another address while it is connected here")
                        }
                        Some(e) => {
                            e.mdns_name = name.clone().or(e.mdns_name.take());
                            e.subtypes = subtypes.clone();
                            e.announced = true;
                            if e.url != url && !e.connected {
                                e.url = url.clone();
                                Act::Restart
                            } else {
                                Act::Changed
                            }
                        }
                        None if full => Act::Full,
                        None => Act::New,
                    }
                });
                match act {
                    Act::Impostor(how) => self.record_impostor(&eid, &url, how),
                    Act::Restart => {
                        let home = self.clone();
                        tokio::spawn(async move { home.restart_connection(&eid).await });
                        self.changed(&[Topic::Home]);
                    }
                    Act::Changed => self.changed(&[Topic::Home]),
                    Act::Full => {
                        let n = self.inner.dropped_adverts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n == 0 {
                            tracing::warn!(max = MAX_DISCOVERED, "too many devices announce themselves; ignoring more");
                        }
                    }
                    Act::New => {
                        tracing::info!(eid, %url, "agent discovered");
                        self.add_agent(&eid, &url, |e| {
                            e.mdns_name = name;
                            e.subtypes = subtypes;
                            e.announced = true;
                            e.discovered = true;
                        });
                    }
                }
            }
            DiscoveryEvent::Disappeared { endpoint_id, mtp: Mtp::Ws } => {
                let eid = endpoint_id.as_str();
                self.with_agent(eid, |e| {
                    e.announced = false;
                    if !e.connected && matches!(e.auth, AgentAuth::Connecting | AgentAuth::Offline { .. }) {
                        e.auth = AgentAuth::Offline { message: "It no longer announces itself on the network.".into() };
                    }
                });
                self.changed(&[Topic::Home]);
            }
            DiscoveryEvent::Disappeared { .. } => {}
            DiscoveryEvent::Skipped { instance, reason } => {
                tracing::debug!(instance = %device_text(&instance, 200), reason = %device_text(&reason, 300), "mDNS instance skipped");
            }
        }
    }

    fn summary(e: &AgentEntry, remembered: &BTreeSet<String>) -> AgentSummary {
        let mut auth = e.auth.clone();
        if let AgentAuth::NotAuthorised { next_check_secs, .. } = &mut auth {
            // Whole seconds, rounded up: "in 0 s" would read as "now".
            *next_check_secs = e.next_check.map(|at| {
                let left = at.saturating_duration_since(tokio::time::Instant::now());
                left.as_secs() + u64::from(left.subsec_nanos() > 0)
            });
        }
        AgentSummary {
            agent: e.eid.clone(),
            name: e.name(),
            kind: e.kind(),
            manufacturer: e.facts.manufacturer.clone(),
            model: e.facts.model.clone(),
            firmware: e.facts.firmware.clone(),
            uptime_secs: e.facts.uptime_secs,
            url: e.url.clone(),
            auth,
            remembered: remembered.contains(&e.eid),
            encrypted: is_wss(&e.url),
            verified: e.verified(),
            local: is_loopback_url(&e.url),
            allow_unencrypted: e.allow_unencrypted,
        }
    }

    fn remembered_set(&self) -> BTreeSet<String> {
        self.store().read(|d| d.agents.iter().map(|k| k.agent.clone()).collect())
    }

    /// One agent's summary.
    pub(crate) fn agent_summary(&self, eid: &str) -> AppResult<AgentSummary> {
        let remembered = self.remembered_set();
        self.with_agent(eid, |e| Home::summary(e, &remembered)).ok_or(AppError::UnknownAgent)
    }

    /// `home`: every agent (the gateway by its own data first, paired devices before others,
    /// then by kind and name), impersonation warnings, and whether discovery runs.
    ///
    /// # Errors
    /// None today; the signature leaves room.
    pub async fn home(&self) -> AppResult<HomeView> {
        let remembered = self.remembered_set();
        let (mut agents, claims) = self.with_agents(|m| {
            let agents: Vec<_> = m.values().map(|e| (e.sort_key(), Home::summary(e, &remembered))).collect();
            let claims: Vec<String> = m.values().filter(|e| e.claims_gateway()).map(AgentEntry::name).collect();
            (agents, claims)
        });
        agents.sort_by(|a, b| a.0.cmp(&b.0));
        let gateway_conflict = (claims.len() > 1).then(|| {
            let shown: Vec<String> = claims.iter().take(4).map(|n| format!("\"{n}\"")).collect();
            format!(
                "{} devices say they are your gateway ({}). Only one is your router: check on the router itself \
                 (its label or its settings page) which one it is before you type its passcode.",
                claims.len(),
                shown.join(", ")
            )
        });
        let discovering = lock(&self.inner.discovery).is_some();
        // The QR code only when a card asks for this app's ID.
        let own = self.identity().eid().clone();
        let waiting = agents.iter().any(|(_, a)| matches!(a.auth, AgentAuth::NotAuthorised { .. }));
        Ok(HomeView {
            agents: agents.into_iter().map(|(_, s)| s).collect(),
            discovering,
            impersonations: self.impostors(),
            gateway_conflict,
            our_endpoint_id: own.as_str().to_owned(),
            our_endpoint_id_qr_svg: if waiting { crate::qr::svg(own.as_str()) } else { String::new() },
        })
    }

    /// `agent_allow_unencrypted`: allows (or stops allowing) passcodes and passwords to go to
    /// one device over an unencrypted link. Remembered with the device once it is paired.
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`]; [`AppError::Internal`] when the settings can't be saved.
    pub async fn agent_allow_unencrypted(&self, args: AgentConsent) -> AppResult<AgentSummary> {
        self.with_agent(&args.agent, |e| e.allow_unencrypted = args.allow).ok_or(AppError::UnknownAgent)?;
        self.store().update(|d| {
            if let Some(k) = d.agents.iter_mut().find(|k| k.agent == args.agent) {
                k.allow_unencrypted = args.allow;
            }
        })?;
        tracing::info!(agent = %args.agent, allow = args.allow, "sending secrets unencrypted");
        self.changed(&[Topic::Home]);
        self.agent_summary(&args.agent)
    }

    /// `trust_agent`: accepts the certificate a device shows on its first secure connection,
    /// only when it is the one whose fingerprint the user checked; then reconnects. A
    /// *changed* certificate is never re-trusted here: the way out is "Forget and pair again"
    /// (the passcode then proves the device).
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`]; [`AppError::Certificate`] when nothing waits for a decision,
    /// the certificate changed since pairing, or the agent now shows another certificate;
    /// [`AppError::InvalidInput`] for a malformed fingerprint; [`AppError::Internal`] when the
    /// vault fails.
    pub async fn trust_agent(&self, args: TrustArgs) -> AppResult<AgentSummary> {
        let who = args.agent.clone();
        self.within(super::COMMAND_DEADLINE, Some(&who), self.trust_agent_inner(args)).await
    }

    async fn trust_agent_inner(&self, args: TrustArgs) -> AppResult<AgentSummary> {
        let wanted: Fingerprint = args
            .fingerprint
            .parse()
            .map_err(|_| AppError::InvalidInput("That is not a certificate fingerprint (64 hex digits).".into()))?;
        let (presented, auth, name) =
            self.with_agent(&args.agent, |e| (e.presented, e.auth.clone(), e.name())).ok_or(AppError::UnknownAgent)?;
        if matches!(auth, AgentAuth::CertificateChanged { .. } | AgentAuth::WrongDevice) {
            return Err(AppError::Certificate(format!(
                "The certificate of {name} changed since you paired it, so the app does not trust it with one click. \
                 If you replaced or reset the device, choose \"Forget and pair again\" and pair it with its \
                 passcode. Otherwise someone may be pretending to be it: the app keeps checking in the background \
                 and reconnects by itself when the genuine device is back."
            )));
        }
        let Some(presented) = presented else {
            return Err(AppError::Certificate("This device has no new certificate waiting to be trusted.".into()));
        };
        if presented != wanted {
            return Err(AppError::Certificate(
                "The device now shows another certificate than the one you checked. Compare the fingerprint again."
                    .into(),
            ));
        }
        let eid: EndpointId = args.agent.parse().map_err(|_| AppError::UnknownAgent)?;
        let pins = self.pins().clone();
        // First use: there is no pin to replace, so this is one write.
        tokio::task::spawn_blocking(move || pins.pin(&eid, presented))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(format!("cannot keep the certificate: {e}")))?;
        tracing::info!(agent = %args.agent, fingerprint = %presented, "certificate trusted by the user");
        self.with_agent(&args.agent, |e| {
            e.presented = None;
            e.auth = AgentAuth::Connecting;
            e.secure = true;
        });
        self.remember(&args.agent)?;
        self.restart_connection(&args.agent).await;
        self.changed(&[Topic::Home, Topic::Settings]);
        self.agent_summary(&args.agent)
    }

    /// `forget_agent`: closes the connection and drops the agent's pin and remembered entry.
    /// A device that still announces itself comes back as a new, unpaired one ("Forget and
    /// pair again": its first-use certificate is shown, and the passcode proves it).
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`]; [`AppError::Internal`] when the settings can't be saved.
    pub async fn forget_agent(&self, args: AgentArgs) -> AppResult<()> {
        let who = args.agent.clone();
        self.within(super::COMMAND_DEADLINE, Some(&who), self.forget_agent_inner(args)).await
    }

    async fn forget_agent_inner(&self, args: AgentArgs) -> AppResult<()> {
        let entry = self.with_agents(|m| m.remove(&args.agent)).ok_or(AppError::UnknownAgent)?;
        if let Some(t) = &entry.task {
            t.abort();
        }
        if let Some(t) = &entry.live {
            t.abort();
        }
        if let Some(client) = &entry.client {
            let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
        }
        lock(&self.inner.pending).remove(&args.agent);
        lock(&self.inner.impostors).remove(&args.agent);
        if let Ok(eid) = args.agent.parse::<EndpointId>() {
            let pins = self.pins().clone();
            let dropped = tokio::task::spawn_blocking(move || match pins.pinned(&eid) {
                Some(_) => pins.forget(&eid),
                None => Ok(()),
            })
            .await;
            if let Ok(Err(e)) = dropped {
                tracing::warn!(agent = %args.agent, error = %e, "cannot drop the certificate pin");
            }
        }
        self.store().update(|d| d.agents.retain(|k| k.agent != args.agent))?;
        tracing::info!(agent = %args.agent, "agent forgotten");
        self.changed(&Topic::ALL);
        let announced = lock(&self.inner.discovery).as_ref().and_then(|r| {
            r.discovery.snapshot().into_iter().find(|a| a.endpoint_id.as_str() == args.agent && a.mtp == Mtp::Ws)
        });
        if let Some(a) = announced {
            self.on_discovery(DiscoveryEvent::Appeared(a));
        }
        Ok(())
    }
}

/// Two URLs name the same host and port (`localhost` and 127.0.0.1 count as one).
fn same_place(a: &str, b: &str) -> bool {
    let place = |u: &str| {
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or("").to_ascii_lowercase();
        authority.replace("localhost", "127.0.0.1")
    };
    place(a) == place(b)
}

/// Wait before retry number `attempt`: 250 ms doubling up to 30 s.
fn retry_delay(attempt: u32) -> Duration {
    usp_client::Backoff::doubling(Duration::from_millis(250), Duration::from_secs(30)).nominal(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inherited_untrusted_role_beside_a_real_one_is_not_shown() {
        let role =
            |names: &[&str]| RoleSummary { names: names.iter().map(|n| (*n).to_owned()).collect(), full_access: false };
        assert_eq!(role_label(&role(&["Full Access", "Untrusted"])).as_deref(), Some("Full Access"));
        assert_eq!(role_label(&role(&["Home User", "Parent"])).as_deref(), Some("Home User, Parent"));
        assert_eq!(role_label(&role(&["Untrusted"])).as_deref(), Some("Untrusted"));
        assert_eq!(role_label(&role(&[])), None);
    }

    fn answer(paths: impl IntoIterator<Item = String>) -> usp_core::msg::GetSupportedDmResp {
        use usp_core::msg::{GetSupportedDmResp, RequestedObjectResult, SupportedObjectResult};
        GetSupportedDmResp {
            req_obj_results: vec![RequestedObjectResult {
                req_obj_path: "Device.".into(),
                supported_objs: paths
                    .into_iter()
                    .map(|p| SupportedObjectResult { supported_obj_path: p.into(), ..Default::default() })
                    .collect(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_devices_top_level_objects() {
        let objects = |paths: &[&str]| top_level_objects(&answer(paths.iter().map(|p| (*p).to_owned())));
        let found = objects(&["Device.", "Device.DeviceInfo.", "Device.LocalAgent.", "Device.WiFi.SSID.{i}."]);
        assert_eq!(found.unwrap().into_iter().collect::<Vec<_>>(), ["DeviceInfo", "LocalAgent", "WiFi"]);
        assert_eq!(objects(&["Device.", "Device.WiFi."]), None, "no DeviceInfo: the device says nothing");
    }

    /// A hostile device listing 100,000 made-up objects with long names: the app keeps at most
    /// 256 names of at most 64 bytes.
    #[test]
    fn a_flood_of_top_level_objects_is_bounded() {
        let flood = std::iter::once("Device.DeviceInfo.".to_owned())
            .chain((0..100_000).map(|i| format!("Device.Obj{i}{}.", "x".repeat(i % 200))));
        let found = top_level_objects(&answer(flood)).expect("DeviceInfo is listed");
        assert_eq!(found.len(), MAX_OBJECTS);
        assert!(found.iter().all(|n| n.len() <= MAX_OBJECT_NAME));
    }

    #[test]
    fn places_compare_by_host_and_port() {
        assert!(same_place("ws://127.0.0.1:8080/usp", "ws://localhost:8080/"));
        assert!(same_place("wss://10.0.0.1:443/usp", "ws://10.0.0.1:443/other"));
        assert!(!same_place("ws://10.0.0.1:8080/usp", "ws://10.0.0.2:8080/usp"));
        assert!(!same_place("ws://10.0.0.1:8080/usp", "ws://10.0.0.1:8081/usp"));
    }
}
