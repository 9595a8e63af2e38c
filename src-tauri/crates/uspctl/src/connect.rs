//! Connecting to the agent for the data-model commands, and saying plainly why it failed:
//! another device than `--agent-eid` answered, the agent refused our certificate, the
//! agent's certificate is not trusted yet.

use std::sync::Arc;
use std::time::Duration;

use app_core::identity::ControllerIdentity;
use usp_client::error::ConnectError;
use usp_client::tls::PinStore;
use usp_client::{Client, ClientConfig, ClientError, ConnectionState};
use usp_core::EndpointId;

use crate::cli::Cli;
use crate::failure::{local_failure, Failure};
use crate::identity::{load_identity, open_vault};

/// The `--timeout` as a duration, checked.
pub(crate) fn timeout(cli: &Cli) -> Result<Duration, Failure> {
    if !(cli.timeout.is_finite() && cli.timeout > 0.0) {
        return Err(Failure::usage("--timeout must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(cli.timeout))
}

/// `--agent-eid`, parsed.
pub(crate) fn wanted_agent(cli: &Cli) -> Result<Option<EndpointId>, Failure> {
    match &cli.agent_eid {
        Some(e) => Ok(Some(e.parse().map_err(|e| Failure::usage(format!("--agent-eid: {e}")))?)),
        None => Ok(None),
    }
}

/// Over wss://, who we are: this installation's identity (its certificate names its Endpoint
/// ID, so `--eid` is refused) and the agent certificates it trusts.
pub(crate) fn secure_identity(cli: &Cli) -> Result<(ControllerIdentity, Arc<dyn PinStore>), Failure> {
    if cli.eid.is_some() {
        return Err(Failure::usage(
            "--eid can't be used with wss://: the certificate names this installation's Endpoint ID",
        ));
    }
    let vault = open_vault()?;
    let me = load_identity(&vault)?;
    let pins: Arc<dyn PinStore> = Arc::new(app_core::identity::VaultPinStore::new(vault));
    Ok((me, pins))
}

/// Over ws://, who we are: `--eid`, else this installation's Endpoint ID.
pub(crate) fn own_endpoint_id(cli: &Cli) -> Result<EndpointId, Failure> {
    match &cli.eid {
        Some(e) => e.parse().map_err(|e| Failure::usage(format!("--eid: {e}"))),
        None => usp_client::identity::load_or_create_endpoint_id(&usp_client::identity::default_data_dir())
            .map_err(|e| local_failure("cannot load this installation's endpoint id", e)),
    }
}

/// Connects to `--agent`. Over wss:// this installation's certificate identifies us and the
/// agent's certificate must be the one trusted when it was paired (`uspctl pair`).
pub(crate) async fn connect(cli: &Cli) -> Result<Client, Failure> {
    let url = cli.agent.clone().ok_or_else(|| {
        Failure::usage("no agent given: use --agent ws://HOST:PORT/PATH or mqtt://BROKER/TOPIC (or set USPCTL_AGENT)")
    })?;
    let timeout = timeout(cli)?;
    let wanted = wanted_agent(cli)?;
    let secure = url.starts_with("wss://");
    let mut our_certificate = None;
    let mut config = if secure {
        let (me, pins) = secure_identity(cli)?;
        let trust = usp_client::tls::AgentTrust::new(pins);
        let seen = usp_client::tls::ObservedCert::new();
        let mut config = ClientConfig::new(url.clone(), me.eid().clone());
        // Over wss the agent's certificate says who it is; the verifier compares.
        config.tls = Some(
            usp_client::tls::client_config(me.tls(), trust, wanted.clone(), seen)
                .map_err(|e| local_failure("cannot set up TLS", e))?,
        );
        config.agent_id = wanted.clone();
        our_certificate = Some(OurCertificate::of(&me));
        config
    } else if crate::broker::is_broker(&url) {
        // Through a broker the agent is reached by its topic or destination; told whom to
        // expect, the client drops Records from others.
        let mut config = ClientConfig::new(url.clone(), own_endpoint_id(cli)?);
        crate::broker::apply(&mut config, wanted.clone())?;
        config
    } else {
        let own_id = own_endpoint_id(cli)?;
        let mut config = ClientConfig::new(url.clone(), own_id);
        if url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("coap://")) {
            // A CoAP agent never speaks first: we must name it in our Records' to_id.
            let agent = wanted
                .clone()
                .ok_or_else(|| Failure::usage("over coap:// the agent's Endpoint ID is needed: add --agent-eid EID"))?;
            config.agent_id = Some(agent);
        }
        // Over ws:// we learn who answers (the agent names itself in the WebSocket handshake
        // and its WebSocketConnect record) and compare below: told in advance whom to expect,
        // the client would only wait for records from that ID and time out.
        config
    };
    config.connect_timeout = timeout;
    config.request_timeout = timeout;
    let client = match start(config, our_certificate.as_ref()).await {
        Ok(c) => c,
        Err(Refusal::Refused(f)) => return Err(f),
        Err(Refusal::Other(e)) => return Err(connect_failure(&e, &url, our_certificate.as_ref())),
    };
    if let Some(wanted) = wanted.filter(|_| !secure) {
        check_reached(&client, &wanted, &url).await?;
    }
    Ok(client)
}

/// Why [`start`] has no connection.
pub(crate) enum Refusal {
    /// The agent refused our certificate: said at once, as retrying cannot help.
    Refused(Failure),
    /// Anything else, as the client reported it.
    Other(ClientError),
}

/// Like [`Client::connect`], but stops at the first attempt the agent ends by refusing our
/// certificate (`ours`, on wss://) instead of retrying until the timeout.
pub(crate) async fn start(config: ClientConfig, ours: Option<&OurCertificate>) -> Result<Client, Refusal> {
    let timeout = config.connect_timeout;
    let client = Client::start(config);
    let mut state = client.state();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_reason = String::from("no connection attempt finished yet");
    loop {
        let failed = match &*state.borrow_and_update() {
            ConnectionState::Connected { .. } => return Ok(client),
            ConnectionState::Closed => Some(Refusal::Other(ClientError::Closed)),
            ConnectionState::NeedsUser { error } => Some(Refusal::Other(ClientError::Connect(error.clone()))),
            ConnectionState::Disconnected { reason, .. } => {
                last_reason = reason.clone();
                match (ours, refusal_alert(reason)) {
                    (Some(ours), Some(alert)) => Some(Refusal::Refused(certificate_refused(alert, ours))),
                    _ => None,
                }
            }
            ConnectionState::Connecting { .. } => None,
        };
        if let Some(failed) = failed {
            client.close().await;
            return Err(failed);
        }
        match tokio::time::timeout_at(deadline, state.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Refusal::Other(ClientError::Closed)),
            Err(_) => {
                client.close().await;
                return Err(Refusal::Other(ClientError::NotConnected(last_reason)));
            }
        }
    }
}

/// Fails (and closes the connection, before anything was sent) when the agent that
/// answered is not `wanted`.
pub(crate) async fn check_reached(client: &Client, wanted: &EndpointId, url: &str) -> Result<(), Failure> {
    match client.agent_id() {
        Some(reached) if reached == *wanted => Ok(()),
        reached => {
            client.close().await;
            Err(wrong_device(wanted, reached.as_ref(), url))
        }
    }
}

/// "Another device answered": names the Endpoint ID that was reached.
pub(crate) fn wrong_device(wanted: &EndpointId, reached: Option<&EndpointId>, url: &str) -> Failure {
    let message = match reached {
        Some(reached) => format!(
            "wrong device: the agent at {url} is {reached}, not {wanted} (it names itself so when it \
             connects). Nothing was sent to it. Check the address, or use --agent-eid {reached} if that \
             is the device you mean."
        ),
        None => format!(
            "wrong device: the agent at {url} did not say that it is {wanted}. Nothing was sent to it; \
             check the address."
        ),
    };
    Failure { code: 3, message }
}

/// This installation's certificate, to name when an agent refuses it.
pub(crate) struct OurCertificate {
    pub(crate) eid: EndpointId,
    pub(crate) sha256: String,
}

impl OurCertificate {
    pub(crate) fn of(me: &ControllerIdentity) -> Self {
        OurCertificate { eid: me.eid().clone(), sha256: me.fingerprint().to_string() }
    }
}

/// The failure to report for a connection that did not come up.
pub(crate) fn connect_failure(e: &ClientError, url: &str, ours: Option<&OurCertificate>) -> Failure {
    if let Some(ours) = ours {
        if let Some(alert) = refusal_alert(&e.to_string()) {
            return certificate_refused(alert, ours);
        }
    }
    match e {
        ClientError::Connect(ConnectError::UntrustedCertificate { agent, sha256 }) => Failure {
            code: 3,
            message: format!(
                "the certificate of {agent} (SHA-256 {sha256}) is not trusted yet: pair with it first \
                 (uspctl pair {url}), comparing the fingerprint with the one the device shows"
            ),
        },
        other => Failure::from(other.clone()),
    }
}

/// "The agent refused our certificate", with what to add on the device.
pub(crate) fn certificate_refused(alert: &str, ours: &OurCertificate) -> Failure {
    Failure {
        code: 3,
        message: format!(
            "the agent refused this installation's certificate (it ended the secure connection with \
             the TLS alert {alert}). Add this certificate on the device as a trusted controller: \
             SHA-256 {sha}, Endpoint ID {eid} (uspctl whoami shows both), then try again.",
            sha = ours.sha256,
            eid = ours.eid,
        ),
    }
}

/// TLS alerts by which a server refuses the client certificate (RFC 8446 §6.2). rustls
/// reports a received alert as "received fatal alert: NAME".
const REFUSAL_ALERTS: [&str; 8] = [
    "BadCertificate",
    "UnsupportedCertificate",
    "CertificateRevoked",
    "CertificateExpired",
    "CertificateUnknown",
    "UnknownCA",
    "AccessDenied",
    "CertificateRequired",
];

/// The alert in an error text when it is one by which the agent refuses a client certificate.
pub(crate) fn refusal_alert(error: &str) -> Option<&'static str> {
    let (_, rest) = error.split_once("received fatal alert: ")?;
    let name: String = rest.chars().take_while(char::is_ascii_alphanumeric).collect();
    REFUSAL_ALERTS.iter().copied().find(|a| *a == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_refusals_are_told_from_other_alerts() {
        let e = "the agent did not accept the USP WebSocket connection: IO error: received fatal alert: UnknownCA";
        assert_eq!(refusal_alert(e), Some("UnknownCA"));
        assert_eq!(
            refusal_alert("secure connection failed: received fatal alert: BadCertificate"),
            Some("BadCertificate")
        );
        assert_eq!(refusal_alert("received fatal alert: ProtocolVersion"), None);
        assert_eq!(refusal_alert("received fatal alert: BadCertificateX"), None);
        assert_eq!(refusal_alert("cannot reach the agent at 127.0.0.1:1"), None);
    }

    #[test]
    fn the_refusal_names_our_fingerprint_and_eid() {
        let ours = OurCertificate { eid: "self::me".parse().expect("eid"), sha256: "AB:CD".into() };
        let f = certificate_refused("UnknownCA", &ours);
        assert_eq!(f.code, 3);
        assert!(f.message.contains("refused this installation's certificate"), "{}", f.message);
        assert!(f.message.contains("SHA-256 AB:CD") && f.message.contains("self::me"), "{}", f.message);
    }

    #[test]
    fn a_wrong_device_is_named() {
        let wanted: EndpointId = "proto::wanted".parse().expect("eid");
        let reached: EndpointId = "proto::other".parse().expect("eid");
        let f = wrong_device(&wanted, Some(&reached), "ws://127.0.0.1:1/usp");
        assert!(f.message.starts_with("wrong device"), "{}", f.message);
        assert!(f.message.contains("is proto::other, not proto::wanted"), "{}", f.message);
        assert!(!f.message.contains("Add this app"), "{}", f.message);
    }
}
