//! Devices reached through a message broker (MQTT, STOMP): the user name and password at the
//! broker live in the vault under the device's Endpoint ID, with the broker (host and port) they
//! were given for, and go into its client's settings only for that broker: an advert that names
//! another broker for the same device never gets them.

use ipc_types::BrokerLogin;
use usp_client::Login;
use zeroize::Zeroizing;

use crate::home::{AppError, AppResult, Home};
use crate::secret::Secret;
use crate::vault::SecretKind;

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

    /// Drops the broker login of a forgotten device.
    pub(crate) fn forget_broker_login(&self, eid: &str) {
        if let Err(e) = self.vault().delete(SecretKind::BrokerLogin, eid) {
            tracing::debug!(agent = eid, error = %e, "no broker login to drop");
        }
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
