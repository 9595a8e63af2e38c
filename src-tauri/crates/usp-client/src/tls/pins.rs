//! What we trust for agents: CA roots and per-agent certificate pins (TOFU, R-SEC.8).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::RootCertStore;
use usp_core::EndpointId;

use super::{Fingerprint, TlsError};

/// Remembers which certificate each agent presented when the user trusted it.
///
/// The app keeps its pins in its vault and implements this trait there;
/// [`MemoryPinStore`] is the in-memory version.
pub trait PinStore: Send + Sync {
    /// The pinned certificate fingerprint of `agent`, if any.
    fn pinned(&self, agent: &EndpointId) -> Option<Fingerprint>;
    /// Pins `fp` for `agent`, replacing an earlier pin.
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when the pin cannot be stored.
    fn pin(&self, agent: &EndpointId, fp: Fingerprint) -> Result<(), TlsError>;
    /// Removes the pin of `agent` (the device was reset or removed).
    ///
    /// # Errors
    /// [`TlsError::PinStore`] when the store cannot be changed.
    fn forget(&self, agent: &EndpointId) -> Result<(), TlsError>;
    /// Every pin.
    fn list(&self) -> Vec<(EndpointId, Fingerprint)>;
}

/// A [`PinStore`] in memory (tests, command-line sessions).
#[derive(Debug, Default)]
pub struct MemoryPinStore {
    pins: RwLock<BTreeMap<EndpointId, Fingerprint>>,
}

impl MemoryPinStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PinStore for MemoryPinStore {
    fn pinned(&self, agent: &EndpointId) -> Option<Fingerprint> {
        self.pins.read().unwrap_or_else(PoisonError::into_inner).get(agent).copied()
    }

    fn pin(&self, agent: &EndpointId, fp: Fingerprint) -> Result<(), TlsError> {
        self.pins.write().unwrap_or_else(PoisonError::into_inner).insert(agent.clone(), fp);
        Ok(())
    }

    fn forget(&self, agent: &EndpointId) -> Result<(), TlsError> {
        self.pins.write().unwrap_or_else(PoisonError::into_inner).remove(agent);
        Ok(())
    }

    fn list(&self) -> Vec<(EndpointId, Fingerprint)> {
        let pins = self.pins.read().unwrap_or_else(PoisonError::into_inner);
        pins.iter().map(|(a, f)| (a.clone(), *f)).collect()
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

    pub(super) fn set(&self, value: Option<Observed>) {
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
    match store.pinned(&seen.agent) {
        Some(pinned) if pinned == seen.fingerprint => {}
        Some(pinned) => {
            return Err(TlsError::CertificateChanged { agent: seen.agent, pinned, presented: seen.fingerprint })
        }
        None => store.pin(&seen.agent, seen.fingerprint)?,
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

    #[test]
    fn tofu_pins_once_and_never_replaces_silently() {
        let store = MemoryPinStore::new();
        let slot = ObservedCert::new();
        assert_eq!(trust_on_first_use(&store, &slot), Err(TlsError::NothingObserved));
        let a = eid("proto::a");
        let first = Observed { agent: a.clone(), fingerprint: Fingerprint::of(b"1"), cert_der: b"1".to_vec() };
        slot.set(Some(first));
        assert_eq!(trust_on_first_use(&store, &slot), Ok(Fingerprint::of(b"1")));
        assert_eq!(slot.get(), None);
        assert_eq!(store.pinned(&a), Some(Fingerprint::of(b"1")));
        let second = Observed { agent: a.clone(), fingerprint: Fingerprint::of(b"2"), cert_der: b"2".to_vec() };
        slot.set(Some(second));
        let err = trust_on_first_use(&store, &slot).expect_err("changed");
        assert!(matches!(err, TlsError::CertificateChanged { .. }), "{err}");
        assert_eq!(store.pinned(&a), Some(Fingerprint::of(b"1")));
        store.forget(&a).expect("forget");
        assert_eq!(trust_on_first_use(&store, &slot), Ok(Fingerprint::of(b"2")));
    }
}
