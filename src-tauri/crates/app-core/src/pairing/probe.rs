//! Connecting and finding out what the agent lets us do.

use std::fmt;
use std::time::Duration;

use usp_client::tls::Fingerprint;
use usp_client::{Client, ClientConfig, ClientError, ConnectError};
use usp_core::msg::GetResp;
use usp_core::EndpointId;

use super::error::{HumanDuration, PairingError};
use super::{CHALLENGE_TABLE, FULL_ACCESS};

/// The role(s) this app has on an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSummary {
    /// Role names (`Role.{i}.Name` of `Controller.{i}.AssignedRole` and `InheritedRole`);
    /// empty when the agent does not let us read them (end-user roles usually may not).
    pub names: Vec<String>,
    /// True with full (administrator) rights.
    pub full_access: bool,
}

impl RoleSummary {
    /// True when the agent shows the names of our roles.
    pub fn names_known(&self) -> bool {
        !self.names.is_empty()
    }
}

impl fmt::Display for RoleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.names.is_empty(), self.full_access) {
            (false, _) => f.write_str(&self.names.join(", ")),
            (true, true) => f.write_str("full access"),
            (true, false) => f.write_str("end-user rights"),
        }
    }
}

/// What the user sees about an agent: may we manage it, and if not, what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthState {
    /// Connected with these rights.
    Connected {
        /// Our role(s).
        role: RoleSummary,
    },
    /// The agent answers but gives us no rights beyond its device information.
    Untrusted {
        /// True when it (probably) offers passcode pairing.
        can_pair: bool,
    },
    /// The agent ignores us: our ID must first be added in its admin page.
    NotAuthorised {
        /// Our Endpoint ID, to add there.
        own_eid: EndpointId,
    },
    /// Too many wrong passcodes; pairing is refused for a while.
    LockedOut {
        /// How long to wait (an upper bound).
        retry_in: Duration,
    },
    /// The agent's certificate differs from the one trusted at pairing.
    CertificateChanged {
        /// The agent.
        agent: EndpointId,
        /// Fingerprint trusted at pairing.
        pinned: Fingerprint,
        /// Fingerprint presented now.
        presented: Fingerprint,
    },
    /// The device at that address is another one than expected (its certificate says so).
    WrongDevice {
        /// The agent we wanted.
        expected: EndpointId,
        /// The agent its certificate names.
        in_certificate: EndpointId,
    },
    /// First secure connection: should we trust this certificate?
    FirstUse {
        /// The agent, from its certificate.
        agent: EndpointId,
        /// SHA-256 of its certificate, to compare with the device's label or admin page.
        fingerprint: Fingerprint,
    },
    /// Cannot reach the agent.
    Unreachable {
        /// Why, in words.
        reason: String,
    },
    /// The message broker through which the agent is reached presented a certificate the app
    /// refuses (changed since the device was added, or never trusted): only a person can
    /// decide (forget the device and add it again), so it is shown as it is.
    BrokerRefused {
        /// What happened and what to do, in words.
        reason: String,
    },
}

impl fmt::Display for AuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthState::Connected { role } => write!(f, "Connected with {role}."),
            AuthState::Untrusted { can_pair: true } => {
                f.write_str("Connected, but not paired yet: enter the device's passcode to manage it.")
            }
            AuthState::Untrusted { can_pair: false } => f.write_str(
                "Connected, but the device gives this app no rights and offers no passcode pairing. \
                 Give this app a role in the device's admin page.",
            ),
            AuthState::NotAuthorised { own_eid } => write!(
                f,
                "The device does not answer this app. Add this app's ID {own_eid} as a controller in \
                 the device's admin page, then try again."
            ),
            AuthState::LockedOut { retry_in } => {
                write!(f, "Too many wrong passcodes. Try again in {}.", HumanDuration(*retry_in))
            }
            AuthState::CertificateChanged { agent, pinned, presented } => f.write_str(
                &ConnectError::CertificateChanged {
                    agent: agent.clone(),
                    pinned_sha256: *pinned,
                    presented_sha256: *presented,
                }
                .to_string(),
            ),
            AuthState::WrongDevice { expected, in_certificate } => f.write_str(
                &ConnectError::CertificateEidMismatch {
                    expected: expected.clone(),
                    in_certificate: in_certificate.clone(),
                }
                .to_string(),
            ),
            AuthState::FirstUse { agent, fingerprint } => write!(
                f,
                "First secure connection to {agent}. Its certificate fingerprint is {fingerprint}; \
                 trust it only if it matches what the device shows."
            ),
            AuthState::Unreachable { reason } => write!(f, "Cannot reach the device: {reason}"),
            AuthState::BrokerRefused { reason } => f.write_str(reason),
        }
    }
}

impl AuthState {
    /// The state a failed pairing step leaves the agent in, when it changes it: a lock-out
    /// (its length when known, else TR-181's default `LockoutPeriod` of 30 s), being ignored,
    /// or a lost connection. Other failures (wrong passcode, expired request) leave it
    /// [`AuthState::Untrusted`].
    pub fn after(e: &PairingError) -> Option<AuthState> {
        match e {
            PairingError::LockedOut { retry_in } => {
                Some(AuthState::LockedOut { retry_in: retry_in.unwrap_or(Duration::from_secs(30)) })
            }
            PairingError::NotAuthorised { own_eid } => Some(AuthState::NotAuthorised { own_eid: own_eid.clone() }),
            PairingError::Connection(c) if c.is_connection() => Some(AuthState::Unreachable { reason: c.to_string() }),
            _ => None,
        }
    }

    /// The state a failed connection leaves the agent in.
    pub fn from_client_error(e: &ClientError, own_eid: &EndpointId) -> AuthState {
        match e {
            ClientError::Connect(c) => match c {
                ConnectError::CertificateChanged { agent, pinned_sha256, presented_sha256 } => {
                    AuthState::CertificateChanged {
                        agent: agent.clone(),
                        pinned: *pinned_sha256,
                        presented: *presented_sha256,
                    }
                }
                ConnectError::CertificateEidMismatch { expected, in_certificate } => {
                    AuthState::WrongDevice { expected: expected.clone(), in_certificate: in_certificate.clone() }
                }
                ConnectError::UntrustedCertificate { agent, sha256 } => {
                    AuthState::FirstUse { agent: agent.clone(), fingerprint: *sha256 }
                }
                ConnectError::AgentSilent(_) => AuthState::NotAuthorised { own_eid: own_eid.clone() },
                ConnectError::BrokerCertificateChanged { .. } | ConnectError::BrokerCertificateUntrusted { .. } => {
                    AuthState::BrokerRefused { reason: c.to_string() }
                }
                other => AuthState::Unreachable { reason: other.to_string() },
            },
            other => AuthState::Unreachable { reason: other.to_string() },
        }
    }
}

/// Connects with `config`; a failure becomes the [`AuthState`] to show (the TOFU question,
/// a changed certificate, unreachable...).
///
/// # Errors
/// The [`AuthState`] explaining why there is no connection.
pub async fn connect(config: ClientConfig) -> Result<Client, AuthState> {
    let own = config.own_id.clone();
    Client::connect(config).await.map_err(|e| AuthState::from_client_error(&e, &own))
}

/// Settings of [`probe_with`].
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// How long to wait for the answer to the first Get before concluding that the agent
    /// ignores us.
    pub answer_timeout: Duration,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self { answer_timeout: Duration::from_secs(3) }
    }
}

/// [`probe_with`] with the default settings.
pub async fn probe(client: &Client) -> AuthState {
    probe_with(client, &ProbeConfig::default()).await
}

/// Finds out what the agent lets us do, with harmless Gets: none answered in time ⇒
/// [`AuthState::NotAuthorised`]; only the device information readable ⇒
/// [`AuthState::Untrusted`]; otherwise [`AuthState::Connected`] with our role.
pub async fn probe_with(client: &Client, config: &ProbeConfig) -> AuthState {
    let own = client.own_id().clone();
    let first = usp_core::request::get(["Device.DeviceInfo.ModelName"]).build();
    let first = match first {
        Ok(r) => r,
        Err(e) => return AuthState::Unreachable { reason: e.to_string() },
    };
    match client.request_with_timeout(first, Some(config.answer_timeout)).await {
        Ok(_) => {}
        Err(ClientError::Timeout(_)) => {
            tracing::info!(own_eid = %own, "the agent does not answer: not authorised");
            return AuthState::NotAuthorised { own_eid: own };
        }
        // It answered, if only to refuse: it knows us.
        Err(ClientError::Usp(_)) => {}
        Err(e) => return AuthState::from_client_error(&e, &own),
    }
    let rights = [
        "Device.LocalAgent.EndpointID",
        "Device.WiFi.SSIDNumberOfEntries",
        "Device.LocalAgent.ControllerTrust.RoleNumberOfEntries",
    ];
    let resp = match client.get(&rights, 1).await {
        Ok(r) => Some(r),
        Err(ClientError::Usp(_)) => None,
        Err(e) => return AuthState::from_client_error(&e, &own),
    };
    let readable = |path: &str| resp.as_ref().is_some_and(|r| r.value(path).is_some());
    let controller_trust = readable(rights[2]);
    if !rights.iter().any(|p| readable(p)) {
        let can_pair = can_pair(client).await;
        tracing::debug!(can_pair, "untrusted");
        return AuthState::Untrusted { can_pair };
    }
    match read_role(client).await {
        Ok(mut role) => {
            // Reading ControllerTrust (role and permission tables) is an administrator's right.
            role.full_access |= role.names.is_empty() && controller_trust;
            AuthState::Connected { role }
        }
        Err(e) => AuthState::from_client_error(&e, &own),
    }
}

/// Whether the agent offers a passcode challenge: true unless its Challenge table is
/// readable and has no enabled row (an unreadable table is tried blindly).
async fn can_pair(client: &Client) -> bool {
    match client.get(&[CHALLENGE_TABLE], 2).await {
        Ok(resp) => {
            // Looks at the entries in place: no full path is made, so a reply of any
            // shape costs nothing beyond itself.
            let mut entries = resp
                .req_path_results
                .iter()
                .filter(|r| r.err_code == 0)
                .flat_map(|r| r.resolved_path_results.iter())
                .flat_map(|res| res.result_params.0.iter())
                .peekable();
            if entries.peek().is_none() {
                return true;
            }
            entries.any(|(k, v)| !(&**k == "Enable" || k.ends_with(".Enable")) || &**v == "true")
        }
        Err(_) => true,
    }
}

/// The most roles of ours we look up (an agent assigns one or two).
const MAX_ROLES: usize = 8;
/// What the role reply may make when flattened: two parameters of one row are asked for.
const ROLE_BUDGET: usp_core::request::Budget = usp_core::request::Budget { max_bytes: 64 * 1024, max_items: 64 };

/// Our role(s) on the agent: `Controller.{i}.AssignedRole` and `InheritedRole` of our
/// Endpoint ID, resolved to `Role.{i}.Name`. When the agent does not let us read them the
/// names are empty and `full_access` is false.
///
/// # Errors
/// Connection failures only; refusals give an empty summary.
pub async fn read_role(client: &Client) -> Result<RoleSummary, ClientError> {
    let own = client.own_id().as_str().replace('"', "");
    let row = format!("Device.LocalAgent.Controller.[EndpointID==\"{own}\"].");
    let paths = [format!("{row}AssignedRole"), format!("{row}InheritedRole")];
    let resp = match client.get(&paths, 1).await {
        Ok(r) => r,
        Err(e) if e.usp_code().is_some() => return Ok(RoleSummary { names: Vec::new(), full_access: false }),
        Err(e) => return Err(e),
    };
    let mut refs: Vec<String> = Vec::new();
    'values: for p in resp.params_within(ROLE_BUDGET) {
        for r in p.value.split(',').map(|r| r.trim().trim_end_matches('.')).filter(|r| !r.is_empty()) {
            // Only references that make a valid path can be looked up; anything else is
            // the agent's noise, and must not fail the probe.
            if r.len() > usp_core::path::MAX_PATH_LEN || format!("{r}.Name").parse::<usp_core::Path>().is_err() {
                continue;
            }
            if !refs.iter().any(|x| x == r) {
                if refs.len() >= MAX_ROLES {
                    break 'values;
                }
                refs.push(r.to_owned());
            }
        }
    }
    let mut names = Vec::new();
    if !refs.is_empty() {
        let name_paths: Vec<String> = refs.iter().map(|r| format!("{r}.Name")).collect();
        let names_resp = match client.get(&name_paths, 1).await {
            Ok(r) => Some(r),
            Err(e) if e.usp_code().is_some() => None,
            Err(e) => return Err(e),
        };
        for (r, p) in refs.iter().zip(&name_paths) {
            match names_resp.as_ref().and_then(|n: &GetResp| n.value(p)) {
                Some(n) if !n.is_empty() => names.push(n.to_owned()),
                // The name is hidden: show the reference rather than nothing.
                _ => names.push(r.clone()),
            }
        }
    }
    let full_access = names.iter().any(|n| n == FULL_ACCESS);
    Ok(RoleSummary { names, full_access })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_after_pairing_errors() {
        let e = PairingError::LockedOut { retry_in: None };
        let s = AuthState::after(&e).expect("locked");
        assert_eq!(s, AuthState::LockedOut { retry_in: Duration::from_secs(30) });
        assert_eq!(s.to_string(), "Too many wrong passcodes. Try again in 30 seconds.");
        assert_eq!(AuthState::after(&PairingError::Expired), None);
        assert_eq!(AuthState::after(&PairingError::WrongPasscode { tries_left: Some(1) }), None);
    }

    #[test]
    fn role_summary_reads_well() {
        let r = RoleSummary { names: vec!["Home User".into()], full_access: false };
        assert_eq!(r.to_string(), "Home User");
        assert_eq!(RoleSummary { names: vec![], full_access: true }.to_string(), "full access");
    }
}
