//! TLS identity and agent trust for `wss://` (secure pairing).
//!
//! USP identifies endpoints by Endpoint ID, and a certificate proves an ID through a
//! subjectAltName URI `urn:bbf:usp:id:<EID>` (R-SEC.0a). This module holds:
//!
//! - [`Identity`]: the controller's own certificate and key, generated once per
//!   installation (self-signed P-256, clientAuth; agents give such controllers the
//!   Untrusted role on first use and remember the certificate, R-SEC.5-8).
//! - [`AgentTrust`]: what we trust for agents: optional CA roots plus per-agent
//!   certificate pins ([`PinStore`]).
//! - [`client_config`]: a rustls client configuration that always presents our
//!   certificate and checks the agent's certificate by EID, CA chain or pin. Nothing is
//!   accepted without a CA or a pin: the first connection to an unknown agent is refused
//!   with [`TlsError::Untrusted`] and what the agent presented is kept in an
//!   [`ObservedCert`], so the app can show it and, once the user agrees, pin it with
//!   [`trust_on_first_use`] and reconnect.
//! - [`server_config`]: the agent side (used by the simulated home): mutual TLS that
//!   requires a client certificate and reports the controller's EID ([`peer_endpoint_id`]).
//!
//! Refusals travel through rustls as
//! `rustls::Error::InvalidCertificate(CertificateError::Other(..))` holding a
//! [`TlsError`]; `crate::error::connect_error` turns them back into distinct
//! `ConnectError` values (this module does not depend on the error module).

mod broker;
mod identity;
mod pins;
mod verify;

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use usp_core::EndpointId;
use zeroize::Zeroize;

pub use broker::{
    broker_cert_error, broker_client_config, check_broker, system_roots, tls_error_in_chain, BrokerCheck, BrokerTrust,
};
pub use identity::Identity;
pub use pins::{trust_on_first_use, AgentTrust, MemoryPinStore, Observed, ObservedCert, Pin, PinStore};
pub use verify::{
    check_dialling_agent, client_config, endpoint_id_matching, endpoint_id_of, listener_config, peer_endpoint_id,
    server_config, spki_fingerprint_of, AgentCertVerifier, ClientCertPolicy, ControllerCertVerifier,
    DiallingAgentVerifier,
};

/// Why a TLS identity or trust operation failed, or why a peer certificate was refused.
///
/// No variant ever carries private key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// Creating the certificate failed.
    #[error("cannot create the security certificate: {0}")]
    Generate(String),
    /// The given certificate or private key cannot be used (unparsable, or they do not
    /// belong together).
    #[error("the security certificate or its key cannot be used: {0}")]
    InvalidIdentity(String),
    /// A certificate could not be parsed.
    #[error("the security certificate is malformed: {0}")]
    BadCertificate(String),
    /// The certificate has no subjectAltName URI `urn:bbf:usp:id:<EID>`.
    #[error("the security certificate does not say which USP device it belongs to (no subjectAltName URI urn:bbf:usp:id:...)")]
    NoEndpointId,
    /// The certificate has a `urn:bbf:usp:id:` URI, but its Endpoint ID is invalid.
    #[error("the security certificate names an invalid USP Endpoint ID: {0}")]
    InvalidEndpointId(String),
    /// The certificate names several Endpoint IDs and none was expected.
    #[error("the security certificate names several USP devices ({0}); cannot tell which one answered")]
    AmbiguousEndpointId(String),
    /// The certificate names another endpoint than the one expected.
    #[error("expected the device {expected}, but its security certificate belongs to {in_certificate}")]
    EidMismatch {
        /// The Endpoint ID we wanted to reach.
        expected: EndpointId,
        /// The Endpoint ID in the certificate.
        in_certificate: EndpointId,
    },
    /// The agent presented another certificate than the one pinned for it.
    #[error("the security certificate of {agent} changed since it was paired (paired SHA-256 {pinned}, presented {presented})")]
    CertificateChanged {
        /// The agent.
        agent: EndpointId,
        /// The pinned certificate's fingerprint.
        pinned: Fingerprint,
        /// The presented certificate's fingerprint.
        presented: Fingerprint,
    },
    /// First use: no CA vouches for the certificate and nothing is pinned for the agent.
    #[error("the security certificate of {agent} is not trusted yet (SHA-256 {fingerprint})")]
    Untrusted {
        /// The agent.
        agent: EndpointId,
        /// The presented certificate's fingerprint.
        fingerprint: Fingerprint,
    },
    /// A message broker presented another certificate than the one pinned for it.
    #[error("the broker's certificate changed since it was trusted (trusted SHA-256 {pinned}, presented {presented})")]
    BrokerCertificateChanged {
        /// The pinned certificate's fingerprint.
        pinned: Fingerprint,
        /// The presented certificate's fingerprint.
        presented: Fingerprint,
    },
    /// A message broker's certificate is not valid under the authorities, and none is pinned.
    #[error("the broker's certificate is not trusted (SHA-256 {fingerprint})")]
    BrokerUntrusted {
        /// The presented certificate's fingerprint.
        fingerprint: Fingerprint,
    },
    /// The certificate does not chain to an accepted authority (server side).
    #[error("the security certificate is not accepted: {0}")]
    NotTrusted(String),
    /// [`trust_on_first_use`] without anything observed.
    #[error("no certificate was presented to trust: connect to the device first")]
    NothingObserved,
    /// The pin store failed.
    #[error("cannot save the trusted certificate: {0}")]
    PinStore(String),
    /// The pins could not be read: nothing is trusted until they can be (fail closed).
    #[error("cannot read the trusted certificates, so the device's certificate cannot be checked: {0}")]
    PinsUnreadable(String),
    /// A fingerprint text could not be read.
    #[error("invalid certificate fingerprint {0:?} (expected 32 bytes as hex, like AB:CD:...)")]
    BadFingerprint(String),
    /// rustls refused the configuration.
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

/// SHA-256 of a certificate's DER encoding.
///
/// Shown as colon-separated upper-case hex (`AB:01:...`), the form certificate viewers
/// use; [`FromStr`] also accepts lower case and hex without separators.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }

    /// From the 32 bytes of a SHA-256 digest.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = TlsError;

    /// Reads 64 hex digits, optionally separated by `:`, spaces or `-`.
    fn from_str(s: &str) -> Result<Self, TlsError> {
        let bad = || TlsError::BadFingerprint(s.chars().take(120).collect());
        let digits: Vec<u8> = s
            .trim()
            .bytes()
            .filter(|b| !matches!(b, b':' | b' ' | b'-'))
            .map(|b| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                b'A'..=b'F' => Some(b - b'A' + 10),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            *o = (pair[0] << 4) | pair[1];
        }
        Ok(Self(out))
    }
}

/// Secret bytes (a private key): never printed, not serializable, zeroed when dropped.
///
/// `Debug` prints `SecretBytes(<redacted>)`; read the bytes with
/// [`SecretBytes::expose_secret`] only to hand them to a key store.
#[derive(Clone)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps `bytes`; they are zeroed when this value is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The [`TlsError`] our verifier put inside a failed TLS handshake's I/O error, if any.
pub fn tls_error_in(e: &std::io::Error) -> Option<&TlsError> {
    let inner = e.get_ref()?;
    match inner.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => other.0.downcast_ref::<TlsError>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_text_round_trips() {
        let fp = Fingerprint::of(b"hello");
        let text = fp.to_string();
        assert_eq!(text.len(), 32 * 3 - 1);
        assert!(text.starts_with("2C:F2:4D:BA:5F:B0:A3:0E"), "{text}");
        assert_eq!(text.parse::<Fingerprint>(), Ok(fp));
        assert_eq!(text.to_lowercase().replace(':', "").parse::<Fingerprint>(), Ok(fp));
        assert_eq!(format!("{fp:?}"), format!("Fingerprint({text})"));
    }

    #[test]
    fn bad_fingerprints_are_refused() {
        for bad in ["", "AB:CD", "zz", &"A".repeat(66), &"G".repeat(64)] {
            assert!(matches!(bad.parse::<Fingerprint>(), Err(TlsError::BadFingerprint(_))), "{bad}");
        }
    }

    #[test]
    fn secret_bytes_never_print() {
        let s = SecretBytes::new(vec![0x42; 8]);
        assert_eq!(format!("{s:?}"), "SecretBytes(<redacted>)");
        assert_eq!(s.expose_secret(), &[0x42; 8]);
        assert_eq!(s.len(), 8);
    }
}
