//! Record integrity with the signature method (SPEC-E2E "Validating the Integrity of the
//! USP Record", R-E2E.28-32): ECDSA P-256 with SHA-256, the DER-encoded signature in
//! `mac_signature`, the signer's certificate in `sender_cert`.
//!
//! Decisions, where the spec leaves room:
//! - **What is signed** ([`signed_input`]): the non-payload fields in ascending field number,
//!   the Record's first (except `mac_signature` itself), then the SessionContextRecord's
//!   (R-E2E.32): `version`, `to_id`, `from_id` (UTF-8 bytes), `payload_security` (4-byte
//!   big-endian), `sender_cert` (raw bytes), then `session_id`, `sequence_id`,
//!   `expected_id`, `retransmit_id` (8-byte big-endian each), `payload_sar_state`,
//!   `payloadrec_sar_state` (4-byte big-endian). Every field is written, also when it holds
//!   its default value (the receiver cannot tell an absent field from a default one, so
//!   both sides must include it the same way). `payload` is not signed: the spec says "The
//!   payload field is not part of the generation or verification process".
//! - **`sender_cert`** is written PEM-encoded (the field's definition says "The PEM encoded
//!   certificate"); on receipt PEM or DER is accepted, and with PEM the first certificate of
//!   the chain is the signer's.
//! - **Trust** in the signer's certificate is the caller's ([`PeerTrust`]): pinned
//!   certificates, or the first valid one (then required for the life of the session
//!   object). A Record without `sender_cert` is verified with the certificate already
//!   trusted, if there is exactly one.
//! - **DisconnectRecords** are not verified: an agent that forbids session contexts answers
//!   with an unsigned 7106, and an attacker able to forge one can as well drop every Record.
//!
//! Keys are passed in (PKCS#8 DER); signing takes its nonces from the operating system's
//! random source through `ring` (no I/O beyond that).

use std::fmt;

use bytes::Bytes;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls_pki_types::CertificateDer;

use crate::record::{Record, RecordType};

/// Why a Record's signature could not be made or checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// No `mac_signature`.
    #[error("the record is not signed")]
    Unsigned,
    /// No `sender_cert` and no certificate known to verify with.
    #[error("the record carries no certificate to verify it with")]
    NoCertificate,
    /// `sender_cert` is not a certificate we trust for this peer.
    #[error("the record is signed with a certificate not trusted for this peer")]
    Untrusted,
    /// `sender_cert` cannot be read as an X.509 certificate.
    #[error("the record's certificate cannot be read: {0}")]
    BadCertificate(String),
    /// The signature does not match the Record.
    #[error("the record's signature does not verify")]
    BadSignature,
    /// Our own key cannot be used (not a PKCS#8 ECDSA P-256 key, or not our certificate's).
    #[error("the signing key cannot be used: {0}")]
    BadKey(String),
}

/// Signs the Records we send with our certificate's key.
pub struct RecordSigner {
    key: EcdsaKeyPair,
    sender_cert: Bytes,
    rng: SystemRandom,
}

impl fmt::Debug for RecordSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordSigner").field("sender_cert_len", &self.sender_cert.len()).finish_non_exhaustive()
    }
}

impl RecordSigner {
    /// A signer from our private key (PKCS#8 DER, ECDSA P-256) and our certificate (DER),
    /// which must hold that key's public half.
    pub fn new(pkcs8_der: &[u8], cert_der: &[u8]) -> Result<Self, IntegrityError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8_der, &rng)
            .map_err(|e| IntegrityError::BadKey(e.to_string()))?;
        let der = CertificateDer::from(cert_der);
        let cert =
            webpki::EndEntityCert::try_from(&der).map_err(|e| IntegrityError::BadCertificate(format!("{e:?}")))?;
        // The certificate must verify what the key signs.
        let probe = b"usp-home e2e key check";
        let sig = key.sign(&rng, probe).map_err(|e| IntegrityError::BadKey(e.to_string()))?;
        cert.verify_signature(webpki::ring::ECDSA_P256_SHA256, probe, sig.as_ref())
            .map_err(|_| IntegrityError::BadKey("the key does not belong to the certificate".into()))?;
        Ok(Self { key, sender_cert: Bytes::from(der_to_pem(cert_der)), rng })
    }

    /// What goes into `sender_cert` (our certificate, PEM).
    pub fn sender_cert(&self) -> &Bytes {
        &self.sender_cert
    }

    /// Sets `sender_cert` and `mac_signature` of `rec`.
    pub(super) fn sign(&self, rec: &mut Record, scratch: &mut Vec<u8>) -> Result<(), IntegrityError> {
        rec.sender_cert = self.sender_cert.clone();
        scratch.clear();
        signed_input(rec, scratch);
        let sig = self.key.sign(&self.rng, scratch).map_err(|e| IntegrityError::BadKey(e.to_string()))?;
        rec.mac_signature = Bytes::copy_from_slice(sig.as_ref());
        Ok(())
    }
}

/// Which certificates may sign the peer's Records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerTrust {
    /// Only these certificates (DER).
    Pinned(Vec<Bytes>),
    /// The first certificate that signs a valid Record, then only it
    /// ([`E2eEvent::PeerCertificate`](super::E2eEvent::PeerCertificate) tells which).
    TrustOnFirstUse,
    /// For a peer that may not sign at all (integrity is required only when the MTP does not
    /// protect the Record, and agents in the field do not sign): unsigned Records are taken as
    /// they come until one arrives signed; its certificate is then learnt as with
    /// [`PeerTrust::TrustOnFirstUse`] and every Record after must be signed by it. Until then
    /// nothing is verified ([`E2eSession::peer_verified`](super::E2eSession::peer_verified)
    /// says which), and whoever sits between could strip signatures: pin the learnt
    /// certificate for the next connections.
    WhenSigned,
}

/// Checks the peer's Records against a [`PeerTrust`].
#[derive(Debug)]
pub(super) struct Verifier {
    trust: PeerTrust,
    learnt: Option<Bytes>,
    /// A certificate is learnt only when it names this Endpoint ID (subjectAltName URI
    /// `urn:bbf:usp:id:...`).
    must_name: Option<crate::EndpointId>,
}

impl Verifier {
    pub(super) fn new(trust: PeerTrust, must_name: Option<crate::EndpointId>) -> Self {
        Self { trust, learnt: None, must_name }
    }

    /// Every Record of the peer's from now on must carry a valid signature by a certificate
    /// known for it (pinned or learnt).
    pub(super) fn anchored(&self) -> bool {
        self.learnt.is_some() || matches!(self.trust, PeerTrust::Pinned(_))
    }

    /// Verifies `rec`. Returns the certificate learnt by this Record, if any.
    pub(super) fn verify(&mut self, rec: &Record, scratch: &mut Vec<u8>) -> Result<Option<Bytes>, IntegrityError> {
        if rec.mac_signature.is_empty() {
            if self.trust == PeerTrust::WhenSigned && self.learnt.is_none() {
                return Ok(None);
            }
            return Err(IntegrityError::Unsigned);
        }
        let cert = if rec.sender_cert.is_empty() {
            match (&self.trust, &self.learnt) {
                (_, Some(c)) => c.clone(),
                (PeerTrust::Pinned(list), None) if list.len() == 1 => list[0].clone(),
                _ => return Err(IntegrityError::NoCertificate),
            }
        } else {
            leaf_der(&rec.sender_cert)?
        };
        let trusted = match (&self.trust, &self.learnt) {
            (_, Some(c)) => *c == cert,
            (PeerTrust::Pinned(list), None) => list.contains(&cert),
            (PeerTrust::TrustOnFirstUse | PeerTrust::WhenSigned, None) => true,
        };
        if !trusted {
            return Err(IntegrityError::Untrusted);
        }
        let der = CertificateDer::from(&cert[..]);
        let ee = webpki::EndEntityCert::try_from(&der).map_err(|e| IntegrityError::BadCertificate(format!("{e:?}")))?;
        scratch.clear();
        signed_input(rec, scratch);
        ee.verify_signature(webpki::ring::ECDSA_P256_SHA256, scratch, &rec.mac_signature)
            .map_err(|_| IntegrityError::BadSignature)?;
        if matches!(self.trust, PeerTrust::TrustOnFirstUse | PeerTrust::WhenSigned) && self.learnt.is_none() {
            if let Some(eid) = &self.must_name {
                let named = ee.valid_uri_names().any(|uri| crate::EndpointId::from_urn(uri).is_ok_and(|id| id == *eid));
                if !named {
                    return Err(IntegrityError::Untrusted);
                }
            }
            self.learnt = Some(cert.clone());
            return Ok(Some(cert));
        }
        Ok(None)
    }
}

/// Appends the bytes that `mac_signature` signs (see the module documentation).
pub fn signed_input(rec: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(rec.version.as_bytes());
    out.extend_from_slice(rec.to_id.as_bytes());
    out.extend_from_slice(rec.from_id.as_bytes());
    out.extend_from_slice(&(rec.payload_security as u32).to_be_bytes());
    out.extend_from_slice(&rec.sender_cert);
    if let RecordType::SessionContext(sc) = &rec.record_type {
        for v in [sc.session_id, sc.sequence_id, sc.expected_id, sc.retransmit_id] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&(sc.payload_sar_state as u32).to_be_bytes());
        out.extend_from_slice(&(sc.payloadrec_sar_state as u32).to_be_bytes());
    }
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// A DER certificate as PEM (64-character lines).
pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str(PEM_BEGIN);
    out.push('\n');
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

/// The signer's certificate (DER) from a `sender_cert`: the first PEM certificate, or the
/// bytes themselves when they are not PEM.
pub fn leaf_der(sender_cert: &Bytes) -> Result<Bytes, IntegrityError> {
    use base64::Engine as _;
    let Ok(text) = std::str::from_utf8(sender_cert) else {
        return Ok(sender_cert.clone());
    };
    let Some(start) = text.find(PEM_BEGIN) else {
        return Ok(sender_cert.clone());
    };
    let body = &text[start + PEM_BEGIN.len()..];
    let end = body.find(PEM_END).ok_or_else(|| IntegrityError::BadCertificate("unterminated PEM".into()))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(Bytes::from)
        .map_err(|e| IntegrityError::BadCertificate(format!("bad PEM: {e}")))
}
