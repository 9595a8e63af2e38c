//! Devices reached through a message broker (MQTT, STOMP): the user name and password at the
//! broker live in the vault under the device's Endpoint ID, and go into its client's settings.

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
    pub(crate) fn save_broker_login(&self, eid: &str, login: &BrokerLogin) -> AppResult<()> {
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
        let mut bytes = Vec::with_capacity(user.len() + 1 + login.password.len());
        bytes.extend_from_slice(user.as_bytes());
        bytes.push(SEPARATOR);
        bytes.extend_from_slice(login.password.as_bytes());
        self.vault().put(SecretKind::BrokerLogin, eid, &Secret::new(bytes)).map_err(|e| {
            tracing::warn!(agent = eid, error = %e, "cannot keep the broker login");
            AppError::Internal(format!("The broker login could not be kept safely: {e}"))
        })
    }

    /// The broker login kept for `eid`, if any.
    pub(crate) fn broker_login(&self, eid: &str) -> Option<Login> {
        let secret = self.vault().get(SecretKind::BrokerLogin, eid).ok()??;
        let bytes = secret.expose();
        let at = bytes.iter().position(|b| *b == SEPARATOR)?;
        let (user, rest) = bytes.split_at(at);
        let password = rest.get(1..)?;
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
