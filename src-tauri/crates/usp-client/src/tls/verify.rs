//! Certificate checks for both ends of a USP TLS connection, and the rustls
//! configurations built on them.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::SingleCertAndKey;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore, SignatureScheme};
use tracing::debug;
use usp_core::eid::URN_PREFIX;
use usp_core::EndpointId;

use super::pins::{AgentTrust, Observed, ObservedCert, Pin};
use super::{Fingerprint, Identity, TlsError};

/// Most re-verifications at another moment when only validity dates fail (one per
/// certificate of a reasonable chain).
const MAX_DATE_RETRIES: usize = 8;

/// Every Endpoint ID the certificate names in a subjectAltName URI `urn:bbf:usp:id:...`.
///
/// # Errors
/// [`TlsError::BadCertificate`] when the certificate cannot be parsed;
/// [`TlsError::NoEndpointId`] or [`TlsError::InvalidEndpointId`] when it names none.
pub(super) fn endpoint_ids_in(cert: &CertificateDer<'_>) -> Result<Vec<EndpointId>, TlsError> {
    let ee = parse(cert)?;
    ids_of(&ee)
}

fn parse<'a>(cert: &'a CertificateDer<'a>) -> Result<webpki::EndEntityCert<'a>, TlsError> {
    webpki::EndEntityCert::try_from(cert).map_err(|e| TlsError::BadCertificate(e.to_string()))
}

fn ids_of(ee: &webpki::EndEntityCert<'_>) -> Result<Vec<EndpointId>, TlsError> {
    let mut ids = Vec::new();
    let mut invalid = None;
    for uri in ee.valid_uri_names() {
        let is_usp = uri.get(..URN_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(URN_PREFIX));
        if !is_usp {
            continue;
        }
        match EndpointId::from_urn(uri) {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(e) => invalid = Some(format!("{:?}: {e}", uri.chars().take(80).collect::<String>())),
        }
    }
    match (ids.is_empty(), invalid) {
        (false, _) => Ok(ids),
        (true, Some(why)) => Err(TlsError::InvalidEndpointId(why)),
        (true, None) => Err(TlsError::NoEndpointId),
    }
}

/// The one Endpoint ID a certificate proves; with `expected`, that one if the
/// certificate names it.
fn endpoint_id_for(ee: &webpki::EndEntityCert<'_>, expected: Option<&EndpointId>) -> Result<EndpointId, TlsError> {
    let mut ids = ids_of(ee)?;
    match expected {
        Some(want) if ids.contains(want) => Ok(want.clone()),
        Some(want) => Err(TlsError::EidMismatch { expected: want.clone(), in_certificate: ids.swap_remove(0) }),
        None if ids.len() == 1 => Ok(ids.swap_remove(0)),
        None => Err(TlsError::AmbiguousEndpointId(ids.iter().map(EndpointId::as_str).collect::<Vec<_>>().join(", "))),
    }
}

/// The Endpoint ID a DER certificate proves (its single `urn:bbf:usp:id:` subjectAltName
/// URI). Compare it with the `from_id` of the peer's Records (R-SEC.0a, R-SEC.10a).
///
/// # Errors
/// When the certificate is malformed, names no Endpoint ID, or names several.
pub fn endpoint_id_of(cert_der: &[u8]) -> Result<EndpointId, TlsError> {
    let cert = CertificateDer::from(cert_der);
    endpoint_id_for(&parse(&cert)?, None)
}

/// The Endpoint ID a DER certificate proves, as the verifier decides it: with `expected`,
/// that one when the certificate names it among others; without, its single one.
///
/// # Errors
/// When the certificate is malformed, names no Endpoint ID, does not name `expected`, or
/// (without `expected`) names several.
pub fn endpoint_id_matching(cert_der: &[u8], expected: Option<&EndpointId>) -> Result<EndpointId, TlsError> {
    let cert = CertificateDer::from(cert_der);
    endpoint_id_for(&parse(&cert)?, expected)
}

/// SHA-256 of a DER certificate's SubjectPublicKeyInfo: what [`Pin::PublicKey`] holds.
///
/// # Errors
/// When the certificate is malformed.
pub fn spki_fingerprint_of(cert_der: &[u8]) -> Result<Fingerprint, TlsError> {
    let cert = CertificateDer::from(cert_der);
    Ok(Fingerprint::of(parse(&cert)?.subject_public_key_info().as_ref()))
}

/// The controller's Endpoint ID from the client certificate of a finished server-side
/// handshake, to compare with the `?eid=` query and the Records' `from_id`.
pub fn peer_endpoint_id(conn: &rustls::ServerConnection) -> Option<EndpointId> {
    let cert = conn.peer_certificates()?.first()?;
    endpoint_id_for(&parse(cert).ok()?, None).ok()
}

/// Verifies the chain from `ee` to one of `anchors`: signatures, basic constraints, name
/// constraints, extended key usage.
///
/// Validity dates are deliberately not enforced: agents often have no reliable clock
/// (R-MTP.2/3, R-SEC.19/20), and a controller must be able to reach a device whose clock
/// or certificate dates are off. When webpki reports only an expired / not-yet-valid
/// certificate, the chain is verified again at a moment inside the reported validity
/// window, so every other check still runs in full.
fn verify_chain(
    ee: &webpki::EndEntityCert<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &[TrustAnchor<'_>],
    now: UnixTime,
    usage: fn() -> webpki::KeyUsage,
    algs: &WebPkiSupportedAlgorithms,
) -> Result<(), webpki::Error> {
    let mut time = now;
    let mut last = None;
    for _ in 0..MAX_DATE_RETRIES {
        match ee.verify_for_usage(algs.all, anchors, intermediates, time, usage(), None, None) {
            Ok(_) => return Ok(()),
            Err(webpki::Error::CertExpired { not_after, .. }) if not_after != time => {
                time = not_after;
                last = Some(webpki::Error::CertExpired { time: now, not_after });
            }
            Err(webpki::Error::CertNotValidYet { not_before, .. }) if not_before != time => {
                time = not_before;
                last = Some(webpki::Error::CertNotValidYet { time: now, not_before });
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(webpki::Error::UnknownIssuer))
}

/// The three handshake-signature methods of a rustls certificate verifier, the same for
/// agents' and controllers' certificates: checked with the verifier's `algs` (ring's).
macro_rules! handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algs.supported_schemes()
        }
    };
}

pub(super) fn refuse(e: TlsError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Checks an agent's certificate for a controller: its Endpoint ID (subjectAltName URI)
/// must be the expected one, and it must chain to a configured CA or equal the pinned
/// certificate. The TLS handshake signature is always verified.
///
/// The host name of the URL is not checked: USP identifies agents by Endpoint ID, and
/// home agents are reached by IP address.
pub struct AgentCertVerifier {
    trust: AgentTrust,
    expected: Option<EndpointId>,
    observed: Arc<ObservedCert>,
    algs: WebPkiSupportedAlgorithms,
    /// serverAuth when we dial the agent, clientAuth when it dials us (CA chains only).
    usage: fn() -> webpki::KeyUsage,
}

impl std::fmt::Debug for AgentCertVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCertVerifier")
            .field("trust", &self.trust)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl AgentCertVerifier {
    /// A verifier trusting `trust`, for the agent `expected` (any agent when `None`),
    /// leaving refused certificates in `observed`.
    pub fn new(trust: AgentTrust, expected: Option<EndpointId>, observed: Arc<ObservedCert>) -> Self {
        Self {
            trust,
            expected,
            observed,
            algs: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            usage: webpki::KeyUsage::server_auth,
        }
    }

    /// The decision, as a [`TlsError`] when refused.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), TlsError> {
        let ee = parse(end_entity)?;
        let agent = endpoint_id_for(&ee, self.expected.as_ref())?;
        if let Some(roots) = self.trust.roots.as_deref().filter(|r| !r.is_empty()) {
            match verify_chain(&ee, intermediates, &roots.roots, now, self.usage, &self.algs) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    debug!(%agent, error = %e, "agent certificate not vouched for by a configured CA")
                }
            }
        }
        let presented = Fingerprint::of(end_entity);
        let spki = Fingerprint::of(ee.subject_public_key_info().as_ref());
        let observed =
            || Observed { agent: agent.clone(), fingerprint: presented, spki, cert_der: end_entity.to_vec() };
        // A store that cannot be read fails closed: never "no pin", which would make this
        // look like a first use.
        match self.trust.pins.lookup(&agent)? {
            Some(pin) if pin.matches(&presented, &spki) => {
                // A pin of the whole certificate (made before public-key pinning, or from
                // the fingerprint the user checked) becomes a pin of the key; a renewed
                // certificate with the pinned key is remembered as the one to show.
                let now = Pin::PublicKey { spki, cert: presented };
                if pin != now {
                    self.trust.pins.upgrade(&agent, pin, now);
                }
                Ok(())
            }
            Some(pin) => {
                self.observed.set(Some(observed()));
                Err(TlsError::CertificateChanged { agent, pinned: pin.fingerprint(), presented })
            }
            None => {
                self.observed.set(Some(observed()));
                Err(TlsError::Untrusted { agent, fingerprint: presented })
            }
        }
    }
}

impl ServerCertVerifier for AgentCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.observed.set(None);
        self.check(end_entity, intermediates, now).map_err(refuse)?;
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!();
}

/// Whether an agent that dialled our listener over `wss://` and presented the client
/// certificate `chain` (DER, end entity first) is trusted as `agent`: the same rules as when
/// we dial it ([`AgentCertVerifier`]: the certificate names `agent`, and chains to a
/// configured CA (for clientAuth) or matches its pin). Refused certificates of unknown or
/// changed agents are left in `observed` for the first-use flow.
///
/// # Errors
/// [`TlsError::Untrusted`] (first use), [`TlsError::CertificateChanged`],
/// [`TlsError::EidMismatch`], or why the certificate cannot be read.
pub fn check_dialling_agent(
    trust: &AgentTrust,
    agent: &EndpointId,
    chain: &[Vec<u8>],
    observed: &Arc<ObservedCert>,
) -> Result<(), TlsError> {
    let Some((ee, rest)) = chain.split_first() else {
        return Err(TlsError::BadCertificate("the device presented no certificate".into()));
    };
    let mut v = AgentCertVerifier::new(trust.clone(), Some(agent.clone()), observed.clone());
    v.usage = webpki::KeyUsage::client_auth;
    let intermediates: Vec<CertificateDer<'_>> = rest.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    observed.set(None);
    v.check(&CertificateDer::from(ee.as_slice()), &intermediates, UnixTime::now())
}

/// Accepts, at the TLS level, the client certificate of any agent dialling our listener
/// that names at least one Endpoint ID and proves it holds the key (the handshake
/// signature). Whether the agent is trusted is decided after the WebSocket handshake, once
/// it said which Endpoint ID it is ([`check_dialling_agent`]): an unknown agent can then
/// be offered to the user (first use) instead of being cut off with a TLS alert.
pub struct DiallingAgentVerifier {
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for DiallingAgentVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiallingAgentVerifier").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for DiallingAgentVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ee = parse(end_entity).map_err(refuse)?;
        ids_of(&ee).map_err(refuse)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures!();
}

/// The rustls server configuration of the listener for agents that dial usp-home over
/// `wss://`: presents `identity` and requires a client certificate naming an Endpoint ID
/// (mutual TLS; see [`DiallingAgentVerifier`]).
///
/// # Errors
/// [`TlsError::Config`] when rustls refuses the settings.
pub fn listener_config(identity: &Identity) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let verifier = Arc::new(DiallingAgentVerifier {
        algs: rustls::crypto::ring::default_provider().signature_verification_algorithms,
    });
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key())));
    Ok(Arc::new(config))
}

/// The rustls client configuration for `wss://` to agents: presents `identity`'s
/// certificate and checks the agent with an [`AgentCertVerifier`]. TLS 1.3 and 1.2.
///
/// # Errors
/// [`TlsError::Config`] when rustls refuses the settings.
pub fn client_config(
    identity: &Identity,
    trust: AgentTrust,
    expected_agent: Option<EndpointId>,
    observed: Arc<ObservedCert>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let verifier = Arc::new(AgentCertVerifier::new(trust, expected_agent, observed));
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key())));
    Ok(Arc::new(config))
}

/// Which controller certificates an agent accepts.
#[derive(Clone, Debug)]
pub enum ClientCertPolicy {
    /// Any correctly self-signed certificate that names an Endpoint ID: the controller
    /// is then authenticated by its key, and the agent gives an unknown one the
    /// Untrusted role on first use (R-SEC.5/6) and remembers its certificate (R-SEC.8).
    AnySelfSigned,
    /// Only certificates that chain to these roots.
    CaOnly(RootCertStore),
}

/// Checks a controller's client certificate on the agent side: mutual TLS is mandatory,
/// the certificate must name exactly one Endpoint ID, be correctly self-signed or chain
/// to the configured roots (see [`ClientCertPolicy`]), and the handshake signature must
/// verify.
pub struct ControllerCertVerifier {
    policy: ClientCertPolicy,
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for ControllerCertVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policy = match &self.policy {
            ClientCertPolicy::AnySelfSigned => "AnySelfSigned".to_owned(),
            ClientCertPolicy::CaOnly(r) => format!("CaOnly({} roots)", r.len()),
        };
        f.debug_struct("ControllerCertVerifier").field("policy", &policy).finish_non_exhaustive()
    }
}

impl ControllerCertVerifier {
    /// A verifier for `policy`.
    pub fn new(policy: ClientCertPolicy) -> Self {
        let hints = match &policy {
            ClientCertPolicy::AnySelfSigned => Vec::new(),
            ClientCertPolicy::CaOnly(roots) => roots.subjects(),
        };
        Self { policy, hints, algs: rustls::crypto::ring::default_provider().signature_verification_algorithms }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), TlsError> {
        let ee = parse(end_entity)?;
        let controller = endpoint_id_for(&ee, None)?;
        let usage = webpki::KeyUsage::client_auth;
        let result = match &self.policy {
            ClientCertPolicy::AnySelfSigned => {
                let anchor = webpki::anchor_from_trusted_cert(end_entity)
                    .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
                verify_chain(&ee, &[], &[anchor], now, usage, &self.algs).map_err(|e| {
                    TlsError::NotTrusted(format!("{controller}: not a valid self-signed certificate: {e}"))
                })
            }
            ClientCertPolicy::CaOnly(roots) => verify_chain(&ee, intermediates, &roots.roots, now, usage, &self.algs)
                .map_err(|e| TlsError::NotTrusted(format!("{controller}: not signed by a trusted authority: {e}"))),
        };
        if let Err(e) = &result {
            debug!(error = %e, "controller certificate refused");
        }
        result
    }
}

impl ClientCertVerifier for ControllerCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, now).map_err(refuse)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures!();
}

/// The rustls server configuration for an agent's `wss://` server: presents `identity`
/// and requires a client certificate accepted by `client_policy` (mutual TLS).
///
/// # Errors
/// [`TlsError::Config`] when rustls refuses the settings.
pub fn server_config(
    identity: &Identity,
    client_policy: ClientCertPolicy,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let verifier = Arc::new(ControllerCertVerifier::new(client_policy));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key())));
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(s: &str) -> EndpointId {
        s.parse().expect("valid eid")
    }

    /// A certificate with the given SAN URIs (DER), self-signed.
    fn cert_with_uris(uris: &[&str]) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names =
            uris.iter().map(|u| rcgen::SanType::URI(rcgen::string::Ia5String::try_from(*u).expect("ia5"))).collect();
        params.self_signed(&key).expect("sign").der().clone()
    }

    #[test]
    fn endpoint_id_comes_from_the_san_uri() {
        let c = cert_with_uris(&["https://example.com/", "URN:BBF:USP:ID:proto::agent"]);
        assert_eq!(endpoint_id_of(&c), Ok(eid("proto::agent")));
        let none = cert_with_uris(&["https://example.com/"]);
        assert_eq!(endpoint_id_of(&none), Err(TlsError::NoEndpointId));
        let invalid = cert_with_uris(&["urn:bbf:usp:id:nope"]);
        assert!(matches!(endpoint_id_of(&invalid), Err(TlsError::InvalidEndpointId(_))));
        assert!(matches!(endpoint_id_of(b"junk"), Err(TlsError::BadCertificate(_))));
    }

    #[test]
    fn several_endpoint_ids_need_an_expected_one() {
        let c = cert_with_uris(&["urn:bbf:usp:id:proto::a", "urn:bbf:usp:id:proto::b"]);
        assert!(matches!(endpoint_id_of(&c), Err(TlsError::AmbiguousEndpointId(_))));
        let ee = parse(&c).expect("parse");
        assert_eq!(endpoint_id_for(&ee, Some(&eid("proto::b"))), Ok(eid("proto::b")));
        assert_eq!(
            endpoint_id_for(&ee, Some(&eid("proto::c"))),
            Err(TlsError::EidMismatch { expected: eid("proto::c"), in_certificate: eid("proto::a") })
        );
    }

    #[test]
    fn expired_self_signed_certificates_still_verify_but_forged_ones_do_not() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        params.subject_alt_names =
            vec![rcgen::SanType::URI(rcgen::string::Ia5String::try_from("urn:bbf:usp:id:proto::old").expect("ia5"))];
        let der = params.self_signed(&key).expect("sign").der().clone();
        let v = ControllerCertVerifier::new(ClientCertPolicy::AnySelfSigned);
        assert_eq!(v.check(&der, &[], UnixTime::now()), Ok(()));
        // Flip a bit in the signature (the last byte): the self-signature no longer verifies.
        let mut forged = der.to_vec();
        if let Some(last) = forged.last_mut() {
            *last ^= 1;
        }
        let forged = CertificateDer::from(forged);
        assert!(matches!(v.check(&forged, &[], UnixTime::now()), Err(TlsError::NotTrusted(_))));
    }
}
