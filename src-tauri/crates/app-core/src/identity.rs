//! This install's identity as a USP controller: its Endpoint ID (a small file in the data
//! folder, not a secret) and its TLS certificate and private key, which live in the
//! [`Vault`]: the key as [`SecretKind::ControllerKey`] `"default"`, the certificate beside it
//! as `"default.cert"` (so the two can never drift apart). Also [`VaultPinStore`], the
//! agent-certificate pins of `wss://` kept as [`SecretKind::PinnedCert`] entries.
//!
//! Vault calls block (a keyring may ask the user to unlock it): call these from a blocking
//! context, not from an async executor thread that must stay responsive.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use usp_client::tls::{Fingerprint, Identity, PinStore, TlsError};
use usp_core::EndpointId;

use crate::secret::Secret;
use crate::vault::{SecretKind, Vault, VaultError};

/// Vault id of the controller's private key (PKCS#8 DER).
pub const KEY_ID: &str = "default";
/// Vault id of the controller's certificate (DER), kept beside the key.
pub const CERT_ID: &str = "default.cert";

/// Why this install's identity could not be loaded or created.
///
/// No variant holds key material.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The Endpoint ID file could not be read or written.
    #[error(transparent)]
    EndpointId(#[from] usp_client::identity::IdentityError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Creating the certificate failed, or the stored one cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Only one of the certificate and the key is in the vault.
    #[error(
        "The vault holds only half of this controller's identity (the {missing} is missing). \
         Remove the other half to create a new identity; agents will then need pairing again."
    )]
    Incomplete {
        /// "certificate" or "private key".
        missing: &'static str,
    },
}

/// This install's identity: who we are to agents.
#[derive(Clone)]
pub struct ControllerIdentity {
    eid: EndpointId,
    tls: Identity,
    data_dir: PathBuf,
    created: bool,
    renewed: bool,
}

impl fmt::Debug for ControllerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllerIdentity")
            .field("eid", &self.eid.as_str())
            .field("fingerprint", &self.tls.fingerprint())
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl ControllerIdentity {
    /// Our Endpoint ID.
    pub fn eid(&self) -> &EndpointId {
        &self.eid
    }

    /// Our TLS certificate and key, for [`usp_client::tls::client_config`].
    pub fn tls(&self) -> &Identity {
        &self.tls
    }

    /// SHA-256 of our certificate, as agents (and their admin pages) show it.
    pub fn fingerprint(&self) -> Fingerprint {
        self.tls.fingerprint()
    }

    /// The data folder the Endpoint ID file is in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// True when this call created the certificate (first use, or a vault that forgets).
    pub fn newly_created(&self) -> bool {
        self.created
    }

    /// True when this call replaced an identity whose key was lost with a new one (new
    /// Endpoint ID): devices paired before must be paired again.
    pub fn renewed(&self) -> bool {
        self.renewed
    }
}

/// Loads this install's identity, creating what is missing on first use: the Endpoint ID
/// file in `data_dir`, then the certificate and key in `vault`.
///
/// # Errors
/// [`IdentityError`]: file or vault problems, a stored identity that does not match the
/// Endpoint ID, or only half an identity in the vault.
pub fn load_or_create(vault: &Vault, data_dir: &Path) -> Result<ControllerIdentity, IdentityError> {
    let had_eid = data_dir.join(usp_client::identity::ENDPOINT_ID_FILE).exists();
    let mut eid = usp_client::identity::load_or_create_endpoint_id(data_dir)?;
    let key = vault.get(SecretKind::ControllerKey, KEY_ID)?;
    let cert = vault.get(SecretKind::ControllerKey, CERT_ID)?;
    let mut renewed = false;
    let (tls, created) = match (cert, key) {
        // The Endpoint ID file was replaced (a new data folder beside an old keyring): the old
        // certificate names another controller, so agents would refuse it anyway.
        (Some(cert), Some(_)) if usp_client::tls::endpoint_id_of(cert.expose()).ok().as_ref() != Some(&eid) => {
            tracing::warn!(eid = %eid, "the stored certificate is for another Endpoint ID; creating a new one");
            (create(vault, &eid)?, true)
        }
        (Some(cert), Some(key)) => (Identity::from_der(&eid, cert.expose(), key.expose())?, false),
        // The key of an existing identity is lost (a vault that forgets at reboot or exit, a
        // keyring reset): agents that knew our certificate under this Endpoint ID must refuse a
        // new one, so this is a new identity, and devices must be paired again.
        (None, None) if had_eid => {
            let old = eid;
            eid = usp_client::identity::renew_endpoint_id(data_dir)?;
            tracing::warn!(old = %old, new = %eid, "this controller's key was lost; a new identity was made, and devices need pairing again");
            renewed = true;
            (create(vault, &eid)?, true)
        }
        (None, None) => (create(vault, &eid)?, true),
        (Some(_), None) => return Err(IdentityError::Incomplete { missing: "private key" }),
        (None, Some(_)) => return Err(IdentityError::Incomplete { missing: "certificate" }),
    };
    Ok(ControllerIdentity { eid, tls, data_dir: data_dir.to_owned(), created, renewed })
}

/// A new certificate and key for `eid`, saved in `vault`.
fn create(vault: &Vault, eid: &EndpointId) -> Result<Identity, IdentityError> {
    let tls = Identity::generate(eid)?;
    let key = tls.private_key_der();
    // The key first: a certificate without its key would be useless.
    vault.put(SecretKind::ControllerKey, KEY_ID, &Secret::from_slice(key.expose_secret()))?;
    vault.put(SecretKind::ControllerKey, CERT_ID, &Secret::from_slice(tls.cert_der()))?;
    tracing::info!(eid = %eid, fingerprint = %tls.fingerprint(), "created this controller's certificate");
    Ok(tls)
}

/// Agent certificate pins in the vault: [`SecretKind::PinnedCert`], id = the agent's
/// Endpoint ID, value = the SHA-256 fingerprint as text (`AB:CD:...`).
#[derive(Clone)]
pub struct VaultPinStore {
    vault: Arc<Vault>,
}

impl fmt::Debug for VaultPinStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultPinStore").field("backend", &self.vault.backend().kind()).finish()
    }
}

impl VaultPinStore {
    /// Pins kept in `vault`.
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    fn read(&self, agent: &str) -> Option<Fingerprint> {
        match self.vault.get(SecretKind::PinnedCert, agent) {
            Ok(Some(v)) => match std::str::from_utf8(v.expose()).ok().map(str::parse::<Fingerprint>) {
                Some(Ok(fp)) => Some(fp),
                _ => {
                    tracing::warn!(agent, "ignoring an unreadable certificate pin in the vault");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(agent, error = %e, "cannot read a certificate pin from the vault");
                None
            }
        }
    }
}

impl PinStore for VaultPinStore {
    fn pinned(&self, agent: &EndpointId) -> Option<Fingerprint> {
        self.read(agent.as_str())
    }

    fn pin(&self, agent: &EndpointId, fp: Fingerprint) -> Result<(), TlsError> {
        let text = fp.to_string();
        self.vault
            .put(SecretKind::PinnedCert, agent.as_str(), &Secret::from_slice(text.as_bytes()))
            .map_err(|e| TlsError::PinStore(e.to_string()))
    }

    fn forget(&self, agent: &EndpointId) -> Result<(), TlsError> {
        self.vault.delete(SecretKind::PinnedCert, agent.as_str()).map_err(|e| TlsError::PinStore(e.to_string()))
    }

    fn list(&self) -> Vec<(EndpointId, Fingerprint)> {
        let ids = match self.vault.list(SecretKind::PinnedCert) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the certificate pins in the vault");
                return Vec::new();
            }
        };
        ids.iter().filter_map(|id| Some((id.parse::<EndpointId>().ok()?, self.read(id)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::vault::{VaultBackendKind, VaultConfig};

    fn memory_vault(dir: &Path) -> Arc<Vault> {
        let mut c = VaultConfig::new(dir);
        c.prefer = Some(VaultBackendKind::Memory);
        Arc::new(Vault::open(c).unwrap())
    }

    #[test]
    fn identity_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let vault = memory_vault(dir.path());
        let a = load_or_create(&vault, dir.path()).unwrap();
        assert!(a.newly_created());
        let b = load_or_create(&vault, dir.path()).unwrap();
        assert!(!b.newly_created());
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.eid(), b.eid());
        assert!(!format!("{a:?}").contains("key"), "{a:?}");
        // Another data folder (another Endpoint ID) beside the same vault: a new certificate.
        let other = tempfile::tempdir().unwrap();
        let c = load_or_create(&vault, other.path()).unwrap();
        assert!(c.newly_created());
        assert_ne!(c.eid(), a.eid());
        assert_eq!(usp_client::tls::endpoint_id_of(c.tls().cert_der()).unwrap(), *c.eid());
    }

    #[test]
    fn half_an_identity_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let vault = memory_vault(dir.path());
        load_or_create(&vault, dir.path()).unwrap();
        vault.delete(SecretKind::ControllerKey, KEY_ID).unwrap();
        let e = load_or_create(&vault, dir.path()).unwrap_err();
        assert!(matches!(e, IdentityError::Incomplete { missing: "private key" }), "{e}");
    }

    #[test]
    fn vault_pins_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let pins = VaultPinStore::new(memory_vault(dir.path()));
        let a: EndpointId = "os::012345-GW0001".parse().unwrap();
        assert_eq!(pins.pinned(&a), None);
        pins.pin(&a, Fingerprint::of(b"cert")).unwrap();
        assert_eq!(pins.pinned(&a), Some(Fingerprint::of(b"cert")));
        assert_eq!(pins.list(), vec![(a.clone(), Fingerprint::of(b"cert"))]);
        pins.forget(&a).unwrap();
        assert!(pins.list().is_empty());
        assert_eq!(pins.pinned(&a), None);
    }
}
