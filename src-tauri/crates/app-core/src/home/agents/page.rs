//! The Home page's use-cases: the list of agents (with impersonation warnings and a gateway
//! conflict), allowing secrets over an unencrypted link, trusting a first-use certificate, and
//! forgetting a device.

use std::collections::BTreeSet;
use std::time::Duration;

use ipc_types::{AgentArgs, AgentAuth, AgentConsent, AgentSummary, HomeView, Topic, TrustArgs};
use usp_client::discovery::{DiscoveryEvent, Mtp};
use usp_client::tls::{Fingerprint, PinStore};
use usp_core::EndpointId;

use super::AgentEntry;
use crate::home::{is_loopback_url, is_wss, lock, AppError, AppResult, Home};

/// What carries the connection, in words; with the broker's pinned certificate when TLS to the
/// broker rests on it. Empty while not connected.
fn transport_text(e: &AgentEntry) -> String {
    let Some(carrier) = e.client.as_ref().and_then(|c| c.carrier()) else { return String::new() };
    match e.broker_cert {
        Some(fp) if carrier.tls && carrier.mtp.crosses_broker() => {
            format!("{carrier} (the broker's certificate, trusted when you added this device: SHA-256 {fp})")
        }
        _ => carrier.to_string(),
    }
}

impl Home {
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
            transport: transport_text(e),
            // A session context with Records signed and verified both ways (the client's `e2e`
            // settings), or TLS that ends at the device itself with the certificate trusted.
            end_to_end: e.verified() || e.client.as_ref().and_then(|c| c.carrier()).is_some_and(|c| c.end_to_end),
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
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.trust_agent_inner(args)).await
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
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.forget_agent_inner(args)).await
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
        self.forget_broker_login(&args.agent);
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
