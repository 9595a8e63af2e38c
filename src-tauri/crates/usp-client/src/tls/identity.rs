//! The controller's (or a simulated agent's) own certificate and private key.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use rcgen::{
    date_time_ymd, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use usp_core::EndpointId;
use zeroize::Zeroize;

use super::verify::endpoint_ids_in;
use super::{Fingerprint, SecretBytes, TlsError};

/// An endpoint's X.509 identity: a certificate naming its Endpoint ID in a
/// subjectAltName URI, and the matching private key.
///
/// `Debug` shows the Endpoint ID and the certificate fingerprint, never the key.
#[derive(Clone)]
pub struct Identity {
    eid: EndpointId,
    cert: CertificateDer<'static>,
    key: SecretBytes,
    fingerprint: Fingerprint,
    certified: Arc<CertifiedKey>,
}

impl Identity {
    /// A fresh self-signed identity for `eid`: ECDSA P-256 / SHA-256, subjectAltName URI
    /// `urn:bbf:usp:id:<eid>`, CN = `eid`, extended key usage clientAuth and serverAuth,
    /// valid from 2020-01-01 for 30 years (agents without a reliable clock must still
    /// accept it, R-SEC.19/20).
    ///
    /// # Errors
    /// [`TlsError::Generate`] when key generation or signing fails.
    pub fn generate(eid: &EndpointId) -> Result<Identity, TlsError> {
        Self::generate_with_addresses(eid, &[])
    }

    /// [`Identity::generate`], also naming these IP addresses (subjectAltName iPAddress): a
    /// server certificate for agents that dial usp-home check the address they dialled
    /// against it (the reference agent refuses a certificate without it: "IP address
    /// mismatch").
    ///
    /// # Errors
    /// [`TlsError::Generate`] when key generation or signing fails.
    pub fn generate_with_addresses(eid: &EndpointId, addresses: &[std::net::IpAddr]) -> Result<Identity, TlsError> {
        let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
        let mut key_pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let signed = Self::params(eid, addresses, &[])?.self_signed(&key_pair);
        let key = SecretBytes::new(key_pair.serialized_der().to_vec());
        key_pair.zeroize();
        let cert = signed.map_err(gen_err)?;
        Self::from_parts(eid, cert.der().clone(), key)
    }

    /// A certificate for the same Endpoint ID and the same key, also naming `addresses`
    /// (subjectAltName iPAddress) and `names` (dNSName): the server certificate of a listener
    /// for agents that dial usp-home and check the address they dialled. The key stays, so a
    /// pin of this identity's public key holds for both; the certificate is another (an agent
    /// whose trust store holds certificates must be given this one).
    ///
    /// # Errors
    /// [`TlsError::Generate`] when a name cannot go in a certificate or signing fails.
    pub fn with_addresses(&self, addresses: &[std::net::IpAddr], names: &[String]) -> Result<Identity, TlsError> {
        let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
        let mut key_pair = KeyPair::try_from(self.key.expose_secret()).map_err(gen_err)?;
        let signed = Self::params(&self.eid, addresses, names).and_then(|p| p.self_signed(&key_pair).map_err(gen_err));
        key_pair.zeroize();
        Self::from_parts(&self.eid, signed?.der().clone(), self.key.clone())
    }

    /// Whether the certificate names every one of `addresses` (as a TLS client checks the
    /// address it dialled) and every DNS name of `names`.
    pub fn names_all(&self, addresses: &[std::net::IpAddr], names: &[String]) -> bool {
        let Ok(ee) = webpki::EndEntityCert::try_from(&self.cert) else { return false };
        let ips = addresses.iter().map(|ip| rustls::pki_types::ServerName::IpAddress((*ip).into()));
        let dns = names.iter().filter_map(|n| rustls::pki_types::ServerName::try_from(n.clone()).ok());
        let all: Vec<_> = ips.chain(dns).collect();
        all.len() == addresses.len() + names.len() && all.iter().all(|n| ee.verify_is_valid_for_subject_name(n).is_ok())
    }

    fn params(
        eid: &EndpointId,
        addresses: &[std::net::IpAddr],
        names: &[String],
    ) -> Result<CertificateParams, TlsError> {
        let mut params = CertificateParams::default();
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2050, 1, 1);
        let urn = rcgen::string::Ia5String::try_from(eid.to_urn()).map_err(|e| TlsError::Generate(e.to_string()))?;
        params.subject_alt_names = vec![SanType::URI(urn)];
        params.subject_alt_names.extend(addresses.iter().map(|ip| SanType::IpAddress(*ip)));
        for name in names {
            let dns =
                rcgen::string::Ia5String::try_from(name.as_str()).map_err(|e| TlsError::Generate(e.to_string()))?;
            params.subject_alt_names.push(SanType::DnsName(dns));
        }
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, eid.as_str());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
        Ok(params)
    }

    /// An identity from a DER certificate and its PKCS#8 DER private key, for example as
    /// loaded from the app's vault.
    ///
    /// # Errors
    /// [`TlsError::InvalidIdentity`] when the key cannot be loaded, does not belong to the
    /// certificate, or the certificate does not name `eid` in a subjectAltName URI.
    pub fn from_der(eid: &EndpointId, cert_der: &[u8], key_der: &[u8]) -> Result<Identity, TlsError> {
        Self::from_parts(eid, CertificateDer::from(cert_der.to_vec()), SecretBytes::new(key_der.to_vec()))
    }

    fn from_parts(eid: &EndpointId, cert: CertificateDer<'static>, key: SecretBytes) -> Result<Identity, TlsError> {
        let ids = endpoint_ids_in(&cert).map_err(|e| TlsError::InvalidIdentity(e.to_string()))?;
        if !ids.contains(eid) {
            return Err(TlsError::InvalidIdentity(format!(
                "the certificate does not name {eid} (subjectAltName URI {})",
                eid.to_urn()
            )));
        }
        let provider = rustls::crypto::ring::default_provider();
        // rustls zeroes this copy of the key once it has loaded it.
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.expose_secret().to_vec()));
        let signing_key = provider
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| TlsError::InvalidIdentity(format!("the private key cannot be loaded: {e}")))?;
        let certified = CertifiedKey::new(vec![cert.clone()], signing_key);
        certified.keys_match().map_err(|e| {
            TlsError::InvalidIdentity(format!("the private key does not belong to the certificate: {e}"))
        })?;
        let fingerprint = Fingerprint::of(&cert);
        Ok(Identity { eid: eid.clone(), cert, key, fingerprint, certified: Arc::new(certified) })
    }

    /// The Endpoint ID this identity proves.
    pub fn eid(&self) -> &EndpointId {
        &self.eid
    }

    /// The certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        self.cert.as_ref()
    }

    /// The certificate as rustls takes it.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The certificate in PEM form, e.g. to add to an agent's trust store.
    pub fn cert_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.cert.as_ref());
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// SHA-256 of the certificate, as agents and users compare it.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// A copy of the PKCS#8 DER private key, for the app's vault only.
    pub fn private_key_der(&self) -> SecretBytes {
        self.key.clone()
    }

    pub(super) fn certified_key(&self) -> Arc<CertifiedKey> {
        self.certified.clone()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("eid", &self.eid.as_str())
            .field("fingerprint", &self.fingerprint)
            .field("private_key", &self.key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(s: &str) -> EndpointId {
        s.parse().expect("valid eid")
    }

    #[test]
    fn generated_identity_round_trips_through_der() {
        let me = eid("uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        let id = Identity::generate(&me).expect("generate");
        assert_eq!(id.eid(), &me);
        assert_eq!(id.fingerprint(), Fingerprint::of(id.cert_der()));
        let key = id.private_key_der();
        let again = Identity::from_der(&me, id.cert_der(), key.expose_secret()).expect("from_der");
        assert_eq!(again.fingerprint(), id.fingerprint());
        assert!(id.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    }

    #[test]
    fn the_same_key_names_the_listeners_addresses() {
        let me = eid("uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        let id = Identity::generate(&me).expect("generate");
        let lo: std::net::IpAddr = [127, 0, 0, 1].into();
        let lan: std::net::IpAddr = [192, 168, 1, 20].into();
        let localhost = vec!["localhost".to_owned()];
        assert!(!id.names_all(&[lo], &[]), "the identity names no address");
        let listener = id.with_addresses(&[lo, lan], &localhost).expect("re-signed");
        assert!(listener.names_all(&[lo, lan], &localhost));
        assert!(listener.names_all(&[lan], &[]));
        assert!(!listener.names_all(&[[10, 0, 0, 1].into()], &[]));
        assert!(!listener.names_all(&[], &["example.org".to_owned()]));
        assert_eq!(listener.eid(), &me);
        assert_ne!(listener.fingerprint(), id.fingerprint(), "another certificate");
        let spki = |i: &Identity| super::super::spki_fingerprint_of(i.cert_der()).expect("spki");
        assert_eq!(spki(&listener), spki(&id), "the same key");
    }

    #[test]
    fn from_der_refuses_a_foreign_key_or_eid() {
        let me = eid("self::me");
        let a = Identity::generate(&me).expect("a");
        let b = Identity::generate(&me).expect("b");
        let err = Identity::from_der(&me, a.cert_der(), b.private_key_der().expose_secret()).expect_err("mismatch");
        assert!(matches!(err, TlsError::InvalidIdentity(_)), "{err}");
        let err = Identity::from_der(&eid("self::other"), a.cert_der(), a.private_key_der().expose_secret())
            .expect_err("wrong eid");
        assert!(matches!(err, TlsError::InvalidIdentity(_)), "{err}");
        let err = Identity::from_der(&me, a.cert_der(), b"not a key").expect_err("garbage");
        assert!(matches!(err, TlsError::InvalidIdentity(_)), "{err}");
    }
}
