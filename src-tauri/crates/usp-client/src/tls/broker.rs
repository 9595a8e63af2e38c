//! Trust for a message broker's certificate (`mqtts://`, `mqtt+wss://`, `stomps://`).
//!
//! A broker on a home gateway usually has a self-signed certificate that no authority vouches
//! for, so a broker is trusted one of two ways:
//! - its certificate is valid for the broker's host name under the given roots (the system's,
//!   [`system_roots`]), checked as a browser would, dates included; or
//! - it is exactly the certificate pinned for it (trust on first use, [`check_broker`]): once a
//!   pin exists only that certificate is accepted, whatever the roots say, and a changed one is
//!   refused with [`TlsError::BrokerCertificateChanged`]. Nothing here ever pins by itself.
//!
//! The broker's certificate says who the broker is, never which agent answers behind it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::verify::{provider, refuse};
use super::{spki_fingerprint_of, tls_error_in, Fingerprint, Pin, TlsError};
use crate::ConnectError;

/// What a broker's certificate is checked against.
#[derive(Clone, Default)]
pub struct BrokerTrust {
    /// Authorities that vouch for broker certificates by host name (usually [`system_roots`]);
    /// `None`: only a pin is accepted.
    pub roots: Option<Arc<RootCertStore>>,
    /// The certificate pinned for this broker: when set, only it is accepted.
    pub pinned: Option<Pin>,
}

impl std::fmt::Debug for BrokerTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerTrust")
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("pinned", &self.pinned.map(|p| p.fingerprint()))
            .finish()
    }
}

/// The system's certificate authorities (read once; empty when the system has none or they
/// cannot be read, which then leaves only pins).
pub fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            if let Some(e) = found.errors.first() {
                tracing::debug!(error = %e, "some of the system's certificate authorities could not be read");
            }
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            tracing::debug!(added, "system certificate authorities for brokers");
            Arc::new(roots)
        })
        .clone()
}

/// Checks a broker's certificate by [`BrokerTrust`].
struct BrokerCertVerifier {
    trust: BrokerTrust,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for BrokerCertVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerCertVerifier").field("trust", &self.trust).finish_non_exhaustive()
    }
}

impl BrokerCertVerifier {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), TlsError> {
        let presented = Fingerprint::of(end_entity);
        if let Some(pin) = self.trust.pinned {
            let spki = spki_fingerprint_of(end_entity)?;
            return if pin.matches(&presented, &spki) {
                Ok(())
            } else {
                Err(TlsError::BrokerCertificateChanged { pinned: pin.fingerprint(), presented })
            };
        }
        let Some(webpki) = &self.webpki else {
            return Err(TlsError::BrokerUntrusted { fingerprint: presented });
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, &[], now) {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::debug!(error = %e, "the broker's certificate is not valid under the authorities");
                Err(TlsError::BrokerUntrusted { fingerprint: presented })
            }
        }
    }
}

impl ServerCertVerifier for BrokerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates, server_name, now).map_err(refuse)?;
        Ok(ServerCertVerified::assertion())
    }

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
}

/// A rustls client configuration for a broker trusted by `trust` (no client certificate: a
/// broker knows us by its login, if any).
///
/// # Errors
/// [`TlsError::Config`] when rustls refuses the configuration.
pub fn broker_client_config(trust: BrokerTrust) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let webpki = match &trust.roots {
        Some(roots) if !roots.is_empty() => Some(
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?,
        ),
        _ => None,
    };
    let algs = provider.signature_verification_algorithms;
    let verifier = Arc::new(BrokerCertVerifier { trust, webpki, algs });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What [`check_broker`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerCheck {
    /// Trusted: valid under the roots (nothing pinned), or the pinned certificate.
    Trusted,
    /// No pin, and the roots do not vouch for it: this certificate (SHA-256) would have to be
    /// pinned to use the broker. Nothing was pinned.
    FirstUse(Fingerprint),
}

/// One TLS handshake with the broker at `host:port` (nothing else is sent: no login), to see
/// whether `trust` accepts its certificate, before the person adds a device behind it.
///
/// # Errors
/// [`ConnectError::BrokerCertificateChanged`] when a pin exists and the broker presented
/// another certificate; [`ConnectError::Tcp`], [`ConnectError::Tls`] or
/// [`ConnectError::Timeout`] when the handshake could not be made.
pub async fn check_broker(
    host: &str,
    port: u16,
    trust: BrokerTrust,
    timeout: Duration,
) -> Result<BrokerCheck, ConnectError> {
    let at = format!("{host}:{port}");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|e| ConnectError::BadUrl(format!("{host:?} is not a valid TLS server name: {e}")))?;
    let config = broker_client_config(trust).map_err(|e| ConnectError::Tls(e.to_string()))?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((bare, port))
            .await
            .map_err(|e| ConnectError::Tcp(format!("the broker at {at}: {e}")))?;
        match tokio_rustls::TlsConnector::from(config).connect(name.clone(), tcp).await {
            Ok(_) => Ok(BrokerCheck::Trusted),
            Err(e) => match tls_error_in(&e) {
                Some(TlsError::BrokerUntrusted { fingerprint }) => Ok(BrokerCheck::FirstUse(*fingerprint)),
                Some(t) => Err(broker_cert_error(t, &at).unwrap_or_else(|| ConnectError::Tls(t.to_string()))),
                None => Err(ConnectError::Tls(format!("the broker at {at}: {e}"))),
            },
        }
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| ConnectError::Timeout(timeout))?
}

/// The [`ConnectError`] of a broker certificate refused by [`broker_client_config`]'s check,
/// for the broker at `at` (`host:port`); `None` for other TLS errors.
pub fn broker_cert_error(e: &TlsError, at: &str) -> Option<ConnectError> {
    match e {
        TlsError::BrokerCertificateChanged { pinned, presented } => Some(ConnectError::BrokerCertificateChanged {
            broker: at.to_owned(),
            pinned_sha256: *pinned,
            presented_sha256: *presented,
        }),
        TlsError::BrokerUntrusted { fingerprint } => {
            Some(ConnectError::BrokerCertificateUntrusted { broker: at.to_owned(), sha256: *fingerprint })
        }
        _ => None,
    }
}

/// Our [`TlsError`] anywhere in an error's chain (a TLS handshake failure wrapped by an MQTT
/// or WebSocket library).
pub fn tls_error_in_chain(e: &(dyn std::error::Error + 'static)) -> Option<TlsError> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(t) = tls_error_in(io) {
                return Some(t.clone());
            }
            if let Some(inner) = io.get_ref() {
                if let Some(t) = tls_error_in_chain(inner) {
                    return Some(t);
                }
            }
        }
        if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))) =
            err.downcast_ref::<rustls::Error>()
        {
            if let Some(t) = o.0.downcast_ref::<TlsError>() {
                return Some(t.clone());
            }
        }
        depth += 1;
        if depth > 16 {
            return None;
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A TLS server on loopback presenting `chain` with `key`, for `accepts` handshakes.
    async fn serve(chain: Vec<CertificateDer<'static>>, key: &KeyPair, accepts: usize) -> u16 {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            for _ in 0..accepts {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let _ = acceptor.accept(tcp).await;
            }
        });
        port
    }

    const WAIT: Duration = Duration::from_secs(10);

    /// A certificate from an authority in the roots, for the host dialled: trusted without a pin.
    /// For another host name, or without the roots, it is a first use; with a pin of another
    /// certificate, a changed certificate, whatever the roots say.
    #[tokio::test]
    async fn roots_vouch_by_host_name_and_a_pin_wins() {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
        let leaf_key = KeyPair::generate().expect("key");
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&leaf_key, &ca)
            .expect("leaf");
        let leaf_fp = Fingerprint::of(leaf.der());
        let port = serve(vec![leaf.der().clone(), ca.der().clone()], &leaf_key, 5).await;
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).expect("root");
        let roots = Some(Arc::new(roots));

        let by_roots = BrokerTrust { roots: roots.clone(), pinned: None };
        assert_eq!(check_broker("localhost", port, by_roots.clone(), WAIT).await, Ok(BrokerCheck::Trusted));
        // Dialled as 127.0.0.1, which the certificate does not name.
        assert_eq!(check_broker("127.0.0.1", port, by_roots, WAIT).await, Ok(BrokerCheck::FirstUse(leaf_fp)));
        let no_roots = BrokerTrust::default();
        assert_eq!(check_broker("localhost", port, no_roots, WAIT).await, Ok(BrokerCheck::FirstUse(leaf_fp)));
        let other = Fingerprint::of(b"another certificate");
        let pinned_other = BrokerTrust { roots, pinned: Some(Pin::Certificate(other)) };
        match check_broker("localhost", port, pinned_other, WAIT).await {
            Err(ConnectError::BrokerCertificateChanged { broker, pinned_sha256, presented_sha256 }) => {
                assert_eq!(
                    (broker.as_str(), pinned_sha256, presented_sha256),
                    (&*format!("localhost:{port}"), other, leaf_fp)
                );
            }
            other => panic!("{other:?}"),
        }
        let pinned = BrokerTrust { roots: None, pinned: Some(Pin::Certificate(leaf_fp)) };
        assert_eq!(check_broker("127.0.0.1", port, pinned, WAIT).await, Ok(BrokerCheck::Trusted), "the pin, any name");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_tcp_error() {
        let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = free.local_addr().expect("addr").port();
        drop(free);
        let r = check_broker("127.0.0.1", port, BrokerTrust::default(), WAIT).await;
        assert!(matches!(r, Err(ConnectError::Tcp(_))), "{r:?}");
    }
}
