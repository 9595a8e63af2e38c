//! Agents given by address, by a person (`agent_add`) or a setting (`USP_HOME_AGENTS`): the
//! address checked, the Endpoint ID learnt by connecting once when it is not given, and the
//! sticky-security rule (a device known to use `wss://` is never reached over `ws://`).

use std::sync::Arc;
use std::time::Duration;

use ipc_types::{AgentAddress, AgentSummary};
use usp_client::discovery;
use usp_client::tls::{self, AgentTrust, ObservedCert, PinStore};
use usp_client::{Client, ClientConfig, ClientError, ConnectionState};
use usp_core::EndpointId;

use super::connection::retry_delay;
use crate::home::{is_wss, lock, AppError, AppResult, Home};

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

impl Home {
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

    /// An address that passed [`Home::check_offered`]: a known agent may switch to it
    /// ([`Home::switch_secure_address`]), an unknown one is added.
    fn add_or_switch(&self, eid: &str, url: &str) {
        if self.with_agent(eid, |_| ()).is_some() {
            self.switch_secure_address(eid, url);
        } else {
            self.add_agent(eid, url, |_| {});
        }
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
            self.add_or_switch(eid, &url);
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
        self.within(crate::home::COMMAND_DEADLINE, None, self.agent_add_inner(args)).await
    }

    async fn agent_add_inner(&self, args: AgentAddress) -> AppResult<AgentSummary> {
        let url = address_to_url(&args.address)?;
        let eid = args.endpoint_id.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let agent = manual_target(&url, eid)?;
        let url = agent.url.clone().unwrap_or(url);
        let eid = if agent.endpoint_id_known {
            agent.endpoint_id.to_string()
        } else if agent.mtp != discovery::Mtp::Ws {
            return Err(AppError::InvalidInput(
                "For a device reached through a message broker or over CoAP, add its Endpoint ID too (on its label \
                 or its settings page): the broker's address alone does not say which device it is."
                    .into(),
            ));
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
            config.connector = self.connector_for(&url);
            let found = first_attempt(config).await;
            found
                .map_err(|reason| {
                    tracing::info!(%url, %reason, "no USP agent at the address the user gave");
                    AppError::Offline { name: shown }
                })?
                .to_string()
        };
        self.check_offered(&eid, &url, "an address typed without encryption").await?;
        // TLS to a broker: its certificate is checked (and pinned on first use) before any
        // login goes to it.
        let shown = args.address.trim().to_owned();
        let broker_cert = self.trust_broker_on_first_use(&eid, &url, &shown, ADD_BY_ADDRESS_TIMEOUT).await?;
        match (&args.broker_login, agent.mtp) {
            (Some(login), discovery::Mtp::Mqtt | discovery::Mtp::Stomp) => self.save_broker_login(&eid, &url, login)?,
            (Some(_), _) => {
                return Err(AppError::InvalidInput(
                    "A user name and password are only for devices reached through a broker (mqtt://, stomp://)."
                        .into(),
                ))
            }
            (None, _) => {}
        }
        self.add_or_switch(&eid, &url);
        if broker_cert.is_some() {
            self.with_agent(&eid, |e| e.broker_cert = broker_cert);
        }
        self.agent_summary(&eid)
    }

    /// Connects once to learn the Endpoint ID of an agent given only by address, then adds it.
    async fn resolve_manual(self, url: String) {
        let mut attempt = 0u32;
        loop {
            let mut config = ClientConfig::new(&url, self.identity().eid().clone());
            config.connect_timeout = Duration::from_secs(10);
            config.connector = self.connector_for(&url);
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
                            self.add_or_switch(eid, &url);
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
}
