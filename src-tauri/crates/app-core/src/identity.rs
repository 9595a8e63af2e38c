//! This install's identity as a USP controller: its Endpoint ID (a small file in the data
//! folder, not a secret) and its TLS certificate and private key, which live in the
//! [`Vault`]: the key as [`SecretKind::ControllerKey`] `"default"`, the certificate beside it
//! as `"default.cert"` (so the two can never drift apart). Also [`VaultPinStore`], the
//! agent-certificate pins of `wss://` kept as [`SecretKind::PinnedCert`] entries.
//!
//! Vault calls block (a keyring may ask the user to unlock it): call these from a blocking
//! context, not from an async executor thread that must stay responsive.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use usp_client::tls::{Fingerprint, Identity, Pin, PinStore, TlsError};
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

/// The vault id of the certificate pinned for the message broker `broker` (`scheme://host:port`)
/// through which the device `eid` is reached: `broker <eid> <broker>`. Not an Endpoint ID (it has
/// spaces), so no device can ever be looked up under it, nor it under a device's.
pub fn broker_pin_id(eid: &str, broker: &str) -> String {
    format!("broker {eid} {broker}")
}

/// Agent certificate pins in the vault: [`SecretKind::PinnedCert`], id = the agent's
/// Endpoint ID, value = the pin as text: `spki:AB:CD:...` (SHA-256 of the public key) or,
/// for pins made before public-key pinning, `AB:CD:...` (SHA-256 of the whole
/// certificate, upgraded to the public key on the next good handshake).
///
/// The pins are read from the vault once, when the store is made (and again on
/// [`VaultPinStore::reload`]), and kept in memory, so a TLS handshake never waits for a
/// keyring. Changes write the vault first, then the memory. When the vault cannot be read,
/// every lookup fails (the connection is refused with that reason) rather than reading as
/// "no pin", which would offer a first-use trust prompt.
#[derive(Clone)]
pub struct VaultPinStore {
    vault: Arc<Vault>,
    cache: Arc<Mutex<Loaded>>,
}

/// The pins in memory: by agent, each one readable or the reason it is not; or why the
/// vault could not be listed.
type Loaded = Result<BTreeMap<String, Result<Pin, String>>, String>;

impl fmt::Debug for VaultPinStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultPinStore").field("backend", &self.vault.backend().kind()).finish()
    }
}

impl VaultPinStore {
    /// Pins kept in `vault`, read now (this blocks on the vault).
    pub fn new(vault: Arc<Vault>) -> Self {
        let loaded = Self::load(&vault);
        Self { vault, cache: Arc::new(Mutex::new(loaded)) }
    }

    /// Reads every pin from the vault again (after the vault was unlocked, say).
    ///
    /// # Errors
    /// [`TlsError::PinsUnreadable`] when the vault cannot be listed.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = Self::load(&self.vault);
        let result = loaded.as_ref().map(|_| ()).map_err(|e| TlsError::PinsUnreadable(e.clone()));
        *self.lock() = loaded;
        result
    }

    fn load(vault: &Vault) -> Loaded {
        let ids = vault.list(SecretKind::PinnedCert).map_err(|e| {
            tracing::warn!(error = %e, "cannot list the certificate pins in the vault");
            e.to_string()
        })?;
        let mut pins = BTreeMap::new();
        for id in ids {
            let pin = match vault.get(SecretKind::PinnedCert, &id) {
                Ok(Some(v)) => match std::str::from_utf8(v.expose()).ok().map(str::parse::<Pin>) {
                    Some(Ok(pin)) => Ok(pin),
                    _ => Err("the pin saved for this device is damaged".to_owned()),
                },
                Ok(None) => continue,
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = &pin {
                tracing::warn!(agent = %usp_core::text::for_log(&id), error = %e, "cannot read a certificate pin from the vault");
            }
            pins.insert(id, pin);
        }
        Ok(pins)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, agent: &EndpointId, pin: Pin) -> Result<(), TlsError> {
        self.write_id(agent.as_str(), pin)
    }

    fn write_id(&self, id: &str, pin: Pin) -> Result<(), TlsError> {
        let text = pin.to_string();
        self.vault
            .put(SecretKind::PinnedCert, id, &Secret::from_slice(text.as_bytes()))
            .map_err(|e| TlsError::PinStore(e.to_string()))
    }

    fn lookup_id(&self, id: &str) -> Result<Option<Pin>, TlsError> {
        match &*self.lock() {
            Err(e) => Err(TlsError::PinsUnreadable(e.clone())),
            Ok(pins) => match pins.get(id) {
                None => Ok(None),
                Some(Ok(pin)) => Ok(Some(*pin)),
                Some(Err(e)) => Err(TlsError::PinsUnreadable(e.clone())),
            },
        }
    }

    fn replace_id(&self, id: &str, old: Option<Pin>, new: Pin) -> Result<(), TlsError> {
        // The lock is held across the vault write: nobody sees or makes another pin between
        // the check and the write, and the vault entry is overwritten in one put (never
        // deleted first), so there is no moment without a pin.
        let mut loaded = self.lock();
        let pins = Self::pins_mut(&mut loaded)?;
        let current = match pins.get(id) {
            None => None,
            Some(Ok(p)) => Some(*p),
            Some(Err(e)) => return Err(TlsError::PinsUnreadable(e.clone())),
        };
        if current != old {
            return Err(TlsError::PinStore("the trusted certificate changed meanwhile; try again".into()));
        }
        self.write_id(id, new)?;
        pins.insert(id.to_owned(), Ok(new));
        Ok(())
    }

    /// The certificate pinned for the message broker `broker` (`scheme://host:port`, as
    /// [`broker_pin_id`] takes it) through which the device `eid` is reached, if any.
    ///
    /// # Errors
    /// [`TlsError::PinsUnreadable`] when the pins cannot be read (the broker is then not
    /// trusted: fail closed).
    pub fn broker_pin(&self, eid: &str, broker: &str) -> Result<Option<Pin>, TlsError> {
        self.lookup_id(&broker_pin_id(eid, broker))
    }

    /// Pins `pin` for the broker of device `eid`, only if none is pinned yet: a broker's pin is
    /// never replaced (a changed certificate is refused until the device is forgotten).
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when another pin exists or the vault fails.
    pub fn pin_broker(&self, eid: &str, broker: &str, pin: Pin) -> Result<(), TlsError> {
        self.replace_id(&broker_pin_id(eid, broker), None, pin)
    }

    /// Drops every broker pin of the device `eid` (it is forgotten).
    pub fn forget_broker_pins(&self, eid: &str) {
        let prefix = broker_pin_id(eid, "");
        let mut loaded = self.lock();
        let Ok(pins) = &mut *loaded else { return };
        let ids: Vec<String> = pins.keys().filter(|id| id.starts_with(&prefix)).cloned().collect();
        for id in ids {
            match self.vault.delete(SecretKind::PinnedCert, &id) {
                Ok(_) => {
                    pins.remove(&id);
                }
                Err(e) => tracing::warn!(agent = %eid, error = %e, "cannot drop the broker's certificate pin"),
            }
        }
    }

    /// The map to change, when the pins could be read.
    fn pins_mut(loaded: &mut Loaded) -> Result<&mut BTreeMap<String, Result<Pin, String>>, TlsError> {
        loaded.as_mut().map_err(|e| TlsError::PinsUnreadable(e.clone()))
    }
}

impl PinStore for VaultPinStore {
    fn lookup(&self, agent: &EndpointId) -> Result<Option<Pin>, TlsError> {
        self.lookup_id(agent.as_str())
    }

    fn store(&self, agent: &EndpointId, pin: Pin) -> Result<(), TlsError> {
        let mut loaded = self.lock();
        self.write(agent, pin)?;
        if let Ok(pins) = &mut *loaded {
            pins.insert(agent.as_str().to_owned(), Ok(pin));
        }
        Ok(())
    }

    fn replace(&self, agent: &EndpointId, old: Option<Pin>, new: Pin) -> Result<(), TlsError> {
        self.replace_id(agent.as_str(), old, new)
    }

    fn forget(&self, agent: &EndpointId) -> Result<(), TlsError> {
        let mut loaded = self.lock();
        self.vault.delete(SecretKind::PinnedCert, agent.as_str()).map_err(|e| TlsError::PinStore(e.to_string()))?;
        if let Ok(pins) = &mut *loaded {
            pins.remove(agent.as_str());
        }
        Ok(())
    }

    fn list(&self) -> Vec<(EndpointId, Fingerprint)> {
        match &*self.lock() {
            Ok(pins) => pins
                .iter()
                .filter_map(|(id, pin)| Some((id.parse::<EndpointId>().ok()?, pin.as_ref().ok()?.fingerprint())))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Called inside a handshake: the memory changes at once, the vault is written on a
    /// thread of its own (a keyring may be slow or ask to be unlocked). If that write
    /// fails the vault keeps the certificate pin, which still matches and is upgraded
    /// again next time.
    fn upgrade(&self, agent: &EndpointId, old: Pin, new: Pin) {
        {
            let mut loaded = self.lock();
            let Ok(pins) = Self::pins_mut(&mut loaded) else { return };
            match pins.get(agent.as_str()) {
                Some(Ok(p)) if *p == old => {}
                _ => return,
            }
            pins.insert(agent.as_str().to_owned(), Ok(new));
        }
        let store = self.clone();
        let agent = agent.clone();
        let spawned = std::thread::Builder::new().name("pin-upgrade".into()).spawn(move || {
            let loaded = store.lock();
            // Only if nothing changed it meanwhile.
            if matches!(&*loaded, Ok(p) if p.get(agent.as_str()) == Some(&Ok(new))) {
                match store.write(&agent, new) {
                    Ok(()) => tracing::info!(agent = %agent, "certificate pin upgraded to the public key"),
                    Err(e) => tracing::warn!(agent = %agent, error = %e, "cannot save the upgraded certificate pin"),
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start saving the upgraded certificate pin");
        }
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

    #[test]
    fn vault_pins_are_cached_and_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let vault = memory_vault(dir.path());
        let a: EndpointId = "os::012345-GW0001".parse().unwrap();
        let b: EndpointId = "os::012345-GW0002".parse().unwrap();
        // A legacy pin (whole certificate) and a damaged one, saved before the store is made.
        vault
            .put(SecretKind::PinnedCert, a.as_str(), &Secret::from_slice(Fingerprint::of(b"c").to_string().as_bytes()))
            .unwrap();
        vault.put(SecretKind::PinnedCert, b.as_str(), &Secret::from_slice(b"not a fingerprint")).unwrap();
        let pins = VaultPinStore::new(vault.clone());
        assert_eq!(pins.lookup(&a), Ok(Some(Pin::Certificate(Fingerprint::of(b"c")))));
        assert!(matches!(pins.lookup(&b), Err(TlsError::PinsUnreadable(_))), "a damaged pin is an error, not no pin");
        // Changes made behind the store's back are not seen: lookups answer from memory.
        vault.delete(SecretKind::PinnedCert, a.as_str()).unwrap();
        assert!(pins.lookup(&a).unwrap().is_some());
        pins.reload().unwrap();
        assert_eq!(pins.lookup(&a), Ok(None));
        // Replace is compare-and-swap, and writes through.
        let k1 = Pin::PublicKey { spki: Fingerprint::of(b"k1"), cert: Fingerprint::of(b"c1") };
        let k2 = Pin::PublicKey { spki: Fingerprint::of(b"k2"), cert: Fingerprint::of(b"c2") };
        pins.replace(&a, None, k1).unwrap();
        assert!(pins.replace(&a, None, k2).is_err());
        pins.replace(&a, Some(k1), k2).unwrap();
        assert_eq!(VaultPinStore::new(vault).lookup(&a), Ok(Some(k2)));
    }
}
