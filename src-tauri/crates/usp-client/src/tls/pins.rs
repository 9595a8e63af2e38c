//! What we trust for agents: CA roots and per-agent certificate pins (TOFU, R-SEC.8).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::RootCertStore;
use usp_core::EndpointId;

use super::{Fingerprint, TlsError};

/// What is pinned for an agent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pin {
    /// SHA-256 of the certificate's SubjectPublicKeyInfo: a renewed certificate with the
    /// same key still matches. Also the SHA-256 of the certificate last seen with that key,
    /// which is what people compare (the device shows its certificate's fingerprint).
    /// Stored as `spki:AB:CD:...;cert:AB:CD:...`.
    PublicKey {
        /// SHA-256 of the SubjectPublicKeyInfo: what is checked.
        spki: Fingerprint,
        /// SHA-256 of the certificate last seen with it: what is shown.
        cert: Fingerprint,
    },
    /// SHA-256 of the whole certificate, as shown to the user (pins made before public-key
    /// pinning, and fresh pins from a fingerprint the user checked). Stored as `AB:CD:...`;
    /// the verifier upgrades it to [`Pin::PublicKey`] on the next good handshake.
    Certificate(Fingerprint),
}

impl Pin {
    /// The certificate's SHA-256, as shown to people.
    pub fn fingerprint(&self) -> Fingerprint {
        match self {
            Pin::PublicKey { cert, .. } | Pin::Certificate(cert) => *cert,
        }
    }

    /// Whether a certificate with hash `cert` and public-key hash `spki` matches.
    pub fn matches(&self, cert: &Fingerprint, spki: &Fingerprint) -> bool {
        match self {
            Pin::PublicKey { spki: pinned, .. } => pinned == spki,
            Pin::Certificate(pinned) => pinned == cert,
        }
    }
}

const SPKI_PREFIX: &str = "spki:";
const CERT_SEP: &str = ";cert:";

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::PublicKey { spki, cert } => write!(f, "{SPKI_PREFIX}{spki}{CERT_SEP}{cert}"),
            Pin::Certificate(fp) => write!(f, "{fp}"),
        }
    }
}

impl std::str::FromStr for Pin {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s.trim().strip_prefix(SPKI_PREFIX) {
            Some(rest) => {
                let (spki, cert) =
                    rest.split_once(CERT_SEP).ok_or_else(|| TlsError::BadFingerprint(s.chars().take(120).collect()))?;
                Ok(Pin::PublicKey { spki: spki.parse()?, cert: cert.parse()? })
            }
            None => Ok(Pin::Certificate(s.parse()?)),
        }
    }
}

/// Remembers which certificate (public key) each agent presented when the user trusted it.
///
/// The app keeps its pins in its vault and implements this trait there;
/// [`MemoryPinStore`] is the in-memory version. Lookups run inside TLS handshakes, so an
/// implementation should answer from memory.
pub trait PinStore: Send + Sync {
    /// The pin of `agent`, if any.
    ///
    /// # Errors
    /// [`TlsError::PinsUnreadable`] when the store cannot be read. The verifier then
    /// refuses the connection: a read error never counts as "no pin" (which would offer a
    /// first-use trust prompt).
    fn lookup(&self, agent: &EndpointId) -> Result<Option<Pin>, TlsError>;
    /// Sets the pin of `agent`, replacing an earlier one.
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when the pin cannot be stored.
    fn store(&self, agent: &EndpointId, pin: Pin) -> Result<(), TlsError>;
    /// Replaces the pin of `agent` in one step, if it still is `old` (`None`: no pin):
    /// re-pinning never leaves a moment without a pin.
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when the store fails or the pin is no longer `old`.
    fn replace(&self, agent: &EndpointId, old: Option<Pin>, new: Pin) -> Result<(), TlsError>;
    /// Removes the pin of `agent` (the device was reset or removed).
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when the store cannot be changed.
    fn forget(&self, agent: &EndpointId) -> Result<(), TlsError>;
    /// Every pin.
    fn list(&self) -> Vec<(EndpointId, Fingerprint)>;

    /// Pins the certificate with SHA-256 `fp` for `agent` (what the user checked),
    /// replacing an earlier pin. Upgraded to a public-key pin on the next handshake.
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when the pin cannot be stored.
    fn pin(&self, agent: &EndpointId, fp: Fingerprint) -> Result<(), TlsError> {
        self.store(agent, Pin::Certificate(fp))
    }

    /// The pinned hash of `agent`, for display: a read error shows as no pin. Trust
    /// decisions use [`PinStore::lookup`].
    fn pinned(&self, agent: &EndpointId) -> Option<Fingerprint> {
        self.lookup(agent).ok().flatten().map(|p| p.fingerprint())
    }

    /// Called by the verifier, inside a handshake, to turn a matching certificate pin
    /// into a public-key pin. Must not block on slow storage (the vault store updates its
    /// memory at once and writes in the background). Best effort.
    fn upgrade(&self, agent: &EndpointId, old: Pin, new: Pin) {
        let _ = self.replace(agent, Some(old), new);
    }
}

/// A [`PinStore`] in memory (tests, command-line sessions).
#[derive(Debug, Default)]
pub struct MemoryPinStore {
    pins: RwLock<BTreeMap<EndpointId, Pin>>,
}

impl MemoryPinStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PinStore for MemoryPinStore {
    fn lookup(&self, agent: &EndpointId) -> Result<Option<Pin>, TlsError> {
        Ok(self.pins.read().unwrap_or_else(PoisonError::into_inner).get(agent).copied())
    }

    fn store(&self, agent: &EndpointId, pin: Pin) -> Result<(), TlsError> {
        self.pins.write().unwrap_or_else(PoisonError::into_inner).insert(agent.clone(), pin);
        Ok(())
    }

    fn replace(&self, agent: &EndpointId, old: Option<Pin>, new: Pin) -> Result<(), TlsError> {
        let mut pins = self.pins.write().unwrap_or_else(PoisonError::into_inner);
        if pins.get(agent).copied() != old {
            return Err(TlsError::PinStore("the pin changed meanwhile".into()));
        }
        pins.insert(agent.clone(), new);
        Ok(())
    }

    fn forget(&self, agent: &EndpointId) -> Result<(), TlsError> {
        self.pins.write().unwrap_or_else(PoisonError::into_inner).remove(agent);
        Ok(())
    }

    fn list(&self) -> Vec<(EndpointId, Fingerprint)> {
        let pins = self.pins.read().unwrap_or_else(PoisonError::into_inner);
        pins.iter().map(|(a, p)| (a.clone(), p.fingerprint())).collect()
    }
}

/// What we trust for agents: certificates chaining to `roots` (when given), else the
/// certificate pinned for the agent's Endpoint ID in `pins`.
#[derive(Clone)]
pub struct AgentTrust {
    /// Certificate authorities that vouch for agents (an operator or vendor CA); `None`
    /// in the usual home setup, where every agent is pinned on first use.
    pub roots: Option<Arc<RootCertStore>>,
    /// Per-agent certificate pins.
    pub pins: Arc<dyn PinStore>,
}

impl AgentTrust {
    /// Trust by pins only.
    pub fn new(pins: Arc<dyn PinStore>) -> Self {
        Self { roots: None, pins }
    }

    /// Also trust agent certificates that chain to `roots`.
    pub fn with_roots(mut self, roots: RootCertStore) -> Self {
        self.roots = Some(Arc::new(roots));
        self
    }
}

impl fmt::Debug for AgentTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentTrust")
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("pins", &self.pins.list().len())
            .finish()
    }
}

/// A certificate an agent presented and that was refused because nothing vouches for it
/// yet (first use) or because it differs from the pinned one.
#[derive(Clone, PartialEq, Eq)]
pub struct Observed {
    /// The agent's Endpoint ID, from the certificate's subjectAltName.
    pub agent: EndpointId,
    /// SHA-256 of the certificate.
    pub fingerprint: Fingerprint,
    /// SHA-256 of its SubjectPublicKeyInfo (what is pinned).
    pub spki: Fingerprint,
    /// The certificate (DER), to show its details.
    pub cert_der: Vec<u8>,
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed")
            .field("agent", &self.agent.as_str())
            .field("fingerprint", &self.fingerprint)
            .field("cert_der_len", &self.cert_der.len())
            .finish()
    }
}

/// A shared slot where the verifier leaves the last refused agent certificate.
///
/// Each verification clears it first; it holds an [`Observed`] after a refusal with
/// [`TlsError::Untrusted`] or [`TlsError::CertificateChanged`]. Use one slot per agent
/// connection (a [`super::client_config`] per agent).
#[derive(Debug, Default)]
pub struct ObservedCert {
    slot: Mutex<Option<Observed>>,
}

impl ObservedCert {
    /// An empty slot, ready to share with [`super::client_config`].
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// What was observed last, if anything.
    pub fn get(&self) -> Option<Observed> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes what was observed, leaving the slot empty.
    pub fn take(&self) -> Option<Observed> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    pub(crate) fn set(&self, value: Option<Observed>) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

/// Pins what the last refused connection presented, after the user checked the
/// fingerprint and chose to trust the agent; reconnect afterwards.
///
/// Returns the pinned fingerprint. Trusting an agent already pinned to the same
/// certificate is a no-op. It never replaces a different pin: when a paired agent's
/// certificate changed, the user must first remove the old pairing
/// ([`PinStore::forget`]), a deliberate step.
///
/// # Errors
/// [`TlsError::NothingObserved`] when no certificate was refused since the last trust;
/// [`TlsError::CertificateChanged`] when another certificate is pinned for that agent;
/// [`TlsError::PinStore`] when the store fails.
pub fn trust_on_first_use<S: PinStore + ?Sized>(store: &S, observed: &ObservedCert) -> Result<Fingerprint, TlsError> {
    let seen = observed.get().ok_or(TlsError::NothingObserved)?;
    match store.lookup(&seen.agent)? {
        Some(pin) if pin.matches(&seen.fingerprint, &seen.spki) => {}
        Some(pin) => {
            return Err(TlsError::CertificateChanged {
                agent: seen.agent,
                pinned: pin.fingerprint(),
                presented: seen.fingerprint,
            })
        }
        None => store.replace(&seen.agent, None, Pin::PublicKey { spki: seen.spki, cert: seen.fingerprint })?,
    }
    observed.set(None);
    Ok(seen.fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(s: &str) -> EndpointId {
        s.parse().expect("valid eid")
    }

    #[test]
    fn memory_store_pins_lists_and_forgets() {
        let store = MemoryPinStore::new();
        let a = eid("proto::a");
        assert_eq!(store.pinned(&a), None);
        store.pin(&a, Fingerprint::of(b"1")).expect("pin");
        assert_eq!(store.pinned(&a), Some(Fingerprint::of(b"1")));
        assert_eq!(store.list(), vec![(a.clone(), Fingerprint::of(b"1"))]);
        store.forget(&a).expect("forget");
        assert!(store.list().is_empty());
    }

    /// What the verifier saw of `agent`: a certificate `cert` with the public key `key`.
    fn observed(agent: &EndpointId, cert: &[u8], key: &[u8]) -> Observed {
        Observed {
            agent: agent.clone(),
            fingerprint: Fingerprint::of(cert),
            spki: Fingerprint::of(key),
            cert_der: cert.to_vec(),
        }
    }

    #[test]
    fn tofu_pins_once_and_never_replaces_silently() {
        let store = MemoryPinStore::new();
        let slot = ObservedCert::new();
        assert_eq!(trust_on_first_use(&store, &slot), Err(TlsError::NothingObserved));
        let a = eid("proto::a");
        let first = observed(&a, b"1", b"k1");
        slot.set(Some(first));
        assert_eq!(trust_on_first_use(&store, &slot), Ok(Fingerprint::of(b"1")));
        assert_eq!(slot.get(), None);
        let k1 = Pin::PublicKey { spki: Fingerprint::of(b"k1"), cert: Fingerprint::of(b"1") };
        assert_eq!(store.lookup(&a), Ok(Some(k1)));
        let second = observed(&a, b"2", b"k2");
        slot.set(Some(second));
        let err = trust_on_first_use(&store, &slot).expect_err("changed");
        assert!(matches!(err, TlsError::CertificateChanged { .. }), "{err}");
        assert_eq!(store.pinned(&a), Some(Fingerprint::of(b"1")));
        store.forget(&a).expect("forget");
        assert_eq!(trust_on_first_use(&store, &slot), Ok(Fingerprint::of(b"2")));
    }

    #[test]
    fn pins_read_and_write_their_text_form() {
        let fp = Fingerprint::of(b"x");
        let c = Fingerprint::of(b"c");
        let key = Pin::PublicKey { spki: fp, cert: c };
        assert_eq!(key.to_string(), format!("spki:{fp};cert:{c}"));
        assert_eq!(key.to_string().parse::<Pin>(), Ok(key));
        assert_eq!(key.fingerprint(), c, "people see the certificate's fingerprint");
        assert!(key.matches(&Fingerprint::of(b"renewed"), &fp), "the key decides");
        assert_eq!(fp.to_string().parse::<Pin>(), Ok(Pin::Certificate(fp)), "a legacy pin");
        assert!("spki:zz".parse::<Pin>().is_err());
    }

    #[test]
    fn replace_is_compare_and_swap() {
        let store = MemoryPinStore::new();
        let a = eid("proto::a");
        let (p1, p2) = (Pin::Certificate(Fingerprint::of(b"1")), Pin::Certificate(Fingerprint::of(b"2")));
        store.replace(&a, None, p1).expect("first");
        assert!(store.replace(&a, None, p2).is_err(), "not what the caller saw");
        store.replace(&a, Some(p1), p2).expect("swap");
        assert_eq!(store.lookup(&a), Ok(Some(p2)));
    }
}
