//! Agents behind a message broker (MQTT: `mqtt://`, `mqtts://`, `mqtt+ws://`, `mqtt+wss://`;
//! STOMP: `stomp://`, `stomps://`): the agent's Endpoint ID, the broker login and the broker's
//! TLS trust.
//!
//! The broker password never goes on the command line (it would stay in the shell's
//! history): it comes from the environment variable `USPCTL_BROKER_PASSWORD`, else uspctl
//! asks for it when the address names a user (`mqtt://user@host/...`) and stdin is a
//! terminal. For `mqtts://` and `mqtt+wss://`, `USPCTL_BROKER_CA` names a PEM file of the
//! certificates that may sign the broker's.

use std::io::IsTerminal;
use std::sync::Arc;

use usp_client::mtp::mqtt::Address;
use usp_client::mtp::stomp::StompAddress;
use usp_client::mtp::{carrier_of, Mtp};
use usp_client::{ClientConfig, Login};
use usp_core::EndpointId;

use crate::failure::{local_failure, Failure};

/// The environment variable holding the broker password.
pub(crate) const PASSWORD_ENV: &str = "USPCTL_BROKER_PASSWORD";
/// The environment variable naming the broker's CA certificates (PEM).
pub(crate) const CA_ENV: &str = "USPCTL_BROKER_CA";

/// Whether `url` reaches the agent through a message broker.
pub(crate) fn is_broker(url: &str) -> bool {
    carrier_of(url).map(|c| c.mtp.crosses_broker()).unwrap_or(false)
}

/// Adds what a broker needs to `config`: whom to reach (`wanted`, else the address's
/// `agent-id=`), the login, and TLS trust.
pub(crate) fn apply(config: &mut ClientConfig, wanted: Option<EndpointId>) -> Result<(), Failure> {
    let usage = |e: usp_client::ConnectError| Failure::usage(e.to_string());
    let authority = config.url.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let authority = authority.split(['/', '?']).next().unwrap_or_default();
    if authority.rsplit_once('@').is_some_and(|(user, _)| user.contains(':')) {
        return Err(Failure::usage(format!(
            "the broker password never goes in the address: give the user as USER@HOST and the password in {PASSWORD_ENV}"
        )));
    }
    let (agent, user, tls, must_name) = match carrier_of(&config.url).map_err(usage)?.mtp {
        Mtp::Stomp => {
            let a = StompAddress::parse(&config.url).map_err(usage)?;
            // A STOMP agent is learnt from its STOMPConnectRecord or its first message.
            (a.agent, a.user, a.tls, false)
        }
        _ => {
            let a = Address::parse(&config.url).map_err(usage)?;
            (a.agent_id, a.username, a.tls, true)
        }
    };
    config.agent_id = wanted.or(agent);
    if must_name && config.agent_id.is_none() {
        return Err(Failure::usage(
            "over MQTT the agent's Endpoint ID must be given (--agent-eid, or agent-id= in the address): \
             an agent already at the broker does not announce itself again",
        ));
    }
    config.login = login(user.as_deref())?;
    if tls {
        config.tls = Some(broker_tls()?);
    }
    Ok(())
}

fn login(user: Option<&str>) -> Result<Option<Login>, Failure> {
    let username = user.unwrap_or_default().to_owned();
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(Some(Login { username, password: password.into() }));
    }
    match user {
        Some(user) if std::io::stdin().is_terminal() => {
            let password = rpassword::prompt_password(format!("Password of {user} at the broker: "))
                .map_err(|e| local_failure("cannot read the broker password", e))?;
            Ok(Some(Login { username, password: password.into() }))
        }
        // A user without a password (brokers that check only the name).
        Some(_) => Ok(Some(Login { username, password: String::new().into() })),
        None => Ok(None),
    }
}

fn broker_tls() -> Result<Arc<rustls::ClientConfig>, Failure> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let path = std::env::var_os(CA_ENV).ok_or_else(|| {
        Failure::usage(format!("TLS to a broker needs the certificates it is signed with: set {CA_ENV} to a PEM file"))
    })?;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| local_failure(&format!("cannot read {CA_ENV} ({})", path.to_string_lossy()), e))?;
    for cert in certs {
        let cert = cert.map_err(|e| local_failure(&format!("{CA_ENV}: not a PEM certificate"), e))?;
        roots.add(cert).map_err(|e| local_failure(&format!("{CA_ENV}: unusable certificate"), e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| local_failure("cannot set up TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
