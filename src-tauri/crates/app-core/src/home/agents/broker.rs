//! Devices reached through a message broker (MQTT, STOMP): the user name and password at the
//! broker live in the vault under the device's Endpoint ID, with the broker (host and port) they
//! were given for, and go into its client's settings only for that broker: an advert that names
//! another broker for the same device never gets them.
//!
//! TLS to a broker (`mqtts://`, `mqtt+wss://`, `stomps://`): a certificate valid for the
//! broker's host under the system's authorities is accepted; otherwise (a broker on the home
//! gateway, self-signed) the certificate is pinned when the person adds the device by that
//! address (trust on first use), beside the `wss://` pins in the vault, bound to the device and
//! the broker (scheme, host, port). From then on only that certificate is accepted: a changed
//! one is refused in words and never pinned again by itself (forget the device and add it again).
//! Only adding a device by hand pins: an advert naming a broker never does.

use std::sync::Arc;
use std::time::Duration;

use ipc_types::BrokerLogin;
use usp_client::mtp::stomp::StompAddress;
use usp_client::mtp::{carrier_of, Mtp};
use usp_client::tls::{self, BrokerCheck, BrokerTrust, Fingerprint, Pin};
use usp_client::{ConnectError, Login};
use zeroize::Zeroizing;

use crate::home::{AppError, AppResult, Home};
use crate::secret::Secret;
use crate::vault::SecretKind;

/// A broker reached over TLS: its host and port, and the key its pin is kept under
/// (`scheme://host:port`, lower case, the default port written out).
pub(crate) struct TlsBroker {
    pub host: String,
    pub port: u16,
    pub key: String,
}

/// The TLS broker of `url`, when it is a broker address over TLS.
pub(crate) fn tls_broker(url: &str) -> Option<TlsBroker> {
    let carrier = carrier_of(url).ok()?;
    if !carrier.mtp.crosses_broker() || !carrier.tls {
        return None;
    }
    let (host, port) = match carrier.mtp {
        Mtp::Stomp => StompAddress::parse(url).ok().map(|a| (a.host, a.port))?,
        _ => usp_client::mtp::mqtt::Address::parse(url).ok().map(|a| (a.host, a.port))?,
    };
    let scheme = url.trim().split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    let key =
        if host.contains(':') { format!("{scheme}://[{host}]:{port}") } else { format!("{scheme}://{host}:{port}") };
    Some(TlsBroker { key: key.to_ascii_lowercase(), host, port })
}

/// The system's certificate authorities (read from disk once, then kept).
fn roots() -> Option<Arc<rustls::RootCertStore>> {
    Some(tls::system_roots())
}

/// Separates the user name from the password in the vault entry (neither may contain it).
const SEPARATOR: u8 = 0;

impl Home {
    /// Keeps the broker login for `eid` in the vault (replacing an earlier one).
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a login that cannot be right; [`AppError::Internal`]
    /// when the vault refuses it.
    pub(crate) fn save_broker_login(&self, eid: &str, url: &str, login: &BrokerLogin) -> AppResult<()> {
        let user = login.username.trim();
        if user.is_empty() || user.len() > 256 || login.password.len() > 1024 {
            return Err(AppError::InvalidInput(
                "Type the user name and password of the broker (or leave both empty if it needs none).".into(),
            ));
        }
        if user.as_bytes().contains(&SEPARATOR) || login.password.as_bytes().contains(&SEPARATOR) {
            return Err(AppError::InvalidInput(
                "The broker's user name or password has a character it cannot have.".into(),
            ));
        }
        let broker = broker_of(url);
        let mut bytes = Vec::with_capacity(broker.len() + user.len() + 2 + login.password.len());
        bytes.extend_from_slice(broker.as_bytes());
        bytes.push(SEPARATOR);
        bytes.extend_from_slice(user.as_bytes());
        bytes.push(SEPARATOR);
        bytes.extend_from_slice(login.password.as_bytes());
        self.vault().put(SecretKind::BrokerLogin, eid, &Secret::new(bytes)).map_err(|e| {
            tracing::warn!(agent = eid, error = %e, "cannot keep the broker login");
            AppError::Internal(format!("The broker login could not be kept safely: {e}"))
        })
    }

    /// The broker login kept for `eid`, if any and if `url` names the broker it was given for.
    pub(crate) fn broker_login(&self, eid: &str, url: &str) -> Option<Login> {
        let secret = self.vault().get(SecretKind::BrokerLogin, eid).ok()??;
        let mut parts = secret.expose().splitn(3, |b| *b == SEPARATOR);
        let (broker, user, password) = (parts.next()?, parts.next()?, parts.next()?);
        if broker != broker_of(url).as_bytes() {
            tracing::debug!(agent = eid, "the broker login is for another broker: not used");
            return None;
        }
        Some(Login {
            username: String::from_utf8(user.to_vec()).ok()?,
            password: Zeroizing::new(String::from_utf8(password.to_vec()).ok()?),
        })
    }

    /// The TLS settings for the broker of `url` (a TLS broker address) through which `eid` is
    /// reached: the system's authorities, and the pin made when the device was added, which
    /// then is the only certificate accepted. Also notes the pin on the device's card.
    ///
    /// # Errors
    /// The reason in words, when the pins cannot be read (fail closed) or TLS cannot be set up.
    pub(crate) fn broker_tls(&self, eid: &str, url: &str) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        let Some(broker) = tls_broker(url) else { return Ok(None) };
        let pinned = self.pins().broker_pin(eid, &broker.key).map_err(|e| e.to_string())?;
        self.with_agent(eid, |e| e.broker_cert = pinned.map(|p| p.fingerprint()));
        let trust = BrokerTrust { roots: roots(), pinned };
        tls::broker_client_config(trust).map(Some).map_err(|e| e.to_string())
    }

    /// Adding a device by a TLS broker address: one TLS handshake with the broker (nothing
    /// sent). A certificate the system's authorities vouch for is used as it is; any other is
    /// pinned now for this device and broker (first use), and its SHA-256 returned. A broker
    /// whose certificate differs from the one pinned before is refused.
    ///
    /// # Errors
    /// [`AppError::Certificate`] for a changed certificate; [`AppError::Offline`] when the
    /// broker cannot be reached; [`AppError::Internal`] when the pin cannot be kept.
    pub(crate) async fn trust_broker_on_first_use(
        &self,
        eid: &str,
        url: &str,
        shown: &str,
        timeout: Duration,
    ) -> AppResult<Option<Fingerprint>> {
        let Some(broker) = tls_broker(url) else { return Ok(None) };
        let pins = self.pins().clone();
        let pinned = pins.broker_pin(eid, &broker.key).map_err(|e| AppError::Internal(e.to_string()))?;
        let trust = BrokerTrust { roots: roots(), pinned };
        match tls::check_broker(&broker.host, broker.port, trust, timeout).await {
            Ok(BrokerCheck::Trusted) => Ok(pinned.map(|p| p.fingerprint())),
            Ok(BrokerCheck::FirstUse(fp)) => {
                let (id, key) = (eid.to_owned(), broker.key.clone());
                tokio::task::spawn_blocking(move || pins.pin_broker(&id, &key, Pin::Certificate(fp)))
                    .await
                    .map_err(|e| AppError::Internal(e.to_string()))?
                    .map_err(|e| AppError::Internal(format!("The broker's certificate could not be kept: {e}")))?;
                tracing::info!(agent = eid, broker = %broker.key, fingerprint = %fp, "broker certificate pinned on first use");
                Ok(Some(fp))
            }
            Err(e @ ConnectError::BrokerCertificateChanged { .. }) => {
                tracing::warn!(agent = eid, broker = %broker.key, "the broker's certificate changed; not trusted");
                Err(AppError::Certificate(e.to_string()))
            }
            Err(e) => {
                tracing::info!(agent = eid, broker = %broker.key, error = %e, "the broker cannot be reached over TLS");
                Err(AppError::Offline { name: shown.to_owned() })
            }
        }
    }

    /// Drops the broker login of a forgotten device.
    pub(crate) fn forget_broker_login(&self, eid: &str) {
        if let Err(e) = self.vault().delete(SecretKind::BrokerLogin, eid) {
            tracing::debug!(agent = eid, error = %e, "no broker login to drop");
        }
        self.pins().forget_broker_pins(eid);
    }
}

/// The broker of an address: its scheme, host and port, lower case (`mqtt://10.0.0.1:1883`).
fn broker_of(url: &str) -> String {
    let (scheme, rest) = url.trim().split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_broker_is_its_scheme_host_and_port() {
        assert_eq!(super::broker_of("MQTT://10.0.0.1:1883/usp/agent/gw"), "mqtt://10.0.0.1:1883");
        assert_eq!(super::broker_of("stomp://b:61613/queue/a?x=1"), "stomp://b:61613");
        assert_ne!(super::broker_of("mqtt://10.0.0.1:1883/a"), super::broker_of("mqtt://10.0.0.9:1883/a"));
        assert_ne!(super::broker_of("mqtt://b:1883/a"), super::broker_of("mqtts://b:1883/a"));
    }
}
