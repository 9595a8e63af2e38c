//! TLS identity and agent trust over real TLS (and real WebSockets) on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use usp_client::tls::{
    client_config, endpoint_id_of, peer_endpoint_id, server_config, spki_fingerprint_of, trust_on_first_use,
    AgentCertVerifier, AgentTrust, ClientCertPolicy, Fingerprint, Identity, MemoryPinStore, ObservedCert, Pin,
    PinStore, TlsError,
};
use usp_client::ws::{self, Handshake};
use usp_client::ConnectError;
use usp_core::EndpointId;

const WAIT: Duration = Duration::from_secs(10);

fn eid(s: &str) -> EndpointId {
    s.parse().expect("valid eid")
}

fn controller() -> Identity {
    Identity::generate(&eid("uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6")).expect("controller identity")
}

/// What the agent saw of one connection.
#[derive(Debug)]
enum Seen {
    /// TLS and WebSocket handshakes done: the controller EID from its certificate and the
    /// request's query.
    Connected { cert_eid: Option<EndpointId>, query: Option<String> },
    /// The TLS handshake failed on the agent's side.
    TlsFailed(String),
}

struct Agent {
    url: String,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Agent {
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(WAIT, self.seen.recv()).await.expect("agent reports in time").expect("agent alive")
    }
}

/// A tiny USP WebSocket server over tokio-rustls: accepts TLS with `config`, then the
/// WebSocket handshake echoing `v1.usp`, and reports each connection.
async fn spawn_agent(config: Arc<rustls::ServerConfig>) -> Agent {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
            let tx = tx.clone();
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        let _ = tx.send(Seen::TlsFailed(e.to_string()));
                        return;
                    }
                };
                let cert_eid = peer_endpoint_id(tls.get_ref().1);
                let query = Arc::new(Mutex::new(None));
                let q = query.clone();
                // The error type is tungstenite's handshake callback signature.
                #[allow(clippy::result_large_err)]
                let callback = move |req: &Request, mut resp: Response| {
                    *q.lock().expect("lock") = req.uri().query().map(str::to_owned);
                    resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                    Ok(resp)
                };
                let ws = tokio_tungstenite::accept_hdr_async(tls, callback).await;
                let query = query.lock().expect("lock").clone();
                let _ = tx.send(Seen::Connected { cert_eid, query });
                if let Ok(mut ws) = ws {
                    let _ = ws.close(None).await;
                }
            });
        }
    });
    Agent { url: format!("wss://127.0.0.1:{}/usp", addr.port()), seen }
}

async fn connect(url: &str, me: &Identity, config: Arc<rustls::ClientConfig>) -> Result<Handshake, ConnectError> {
    ws::connect(url, me.eid(), Some(config), WebSocketConfig::default(), WAIT).await.map(|(_socket, hs)| hs)
}

fn pins() -> Arc<MemoryPinStore> {
    Arc::new(MemoryPinStore::new())
}

/// A CA (certificate DER, issuer for signing).
fn make_ca(name: &str) -> (CertificateDer<'static>, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ca key");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).expect("ca cert");
    (cert.der().clone(), rcgen::Issuer::new(params, key))
}

/// An identity for `eid` whose certificate `ca` signed, valid between the given years.
fn ca_signed(
    ca: &rcgen::Issuer<'static, rcgen::KeyPair>,
    eid: &EndpointId,
    years: (i32, i32),
    eku: rcgen::ExtendedKeyUsagePurpose,
) -> Identity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("leaf key");
    let mut params = rcgen::CertificateParams::default();
    params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    params.subject_alt_names =
        vec![rcgen::SanType::URI(rcgen::string::Ia5String::try_from(eid.to_urn()).expect("ia5"))];
    params.extended_key_usages = vec![eku];
    let cert = params.signed_by(&key, ca).expect("leaf cert");
    Identity::from_der(eid, cert.der(), &key.serialize_der()).expect("leaf identity")
}

fn roots(ca: &CertificateDer<'static>) -> rustls::RootCertStore {
    let mut store = rustls::RootCertStore::empty();
    store.add(ca.clone()).expect("add root");
    store
}

#[test]
fn identity_has_the_usp_san_cn_eku_and_validity() {
    use x509_parser::extensions::GeneralName;
    use x509_parser::oid_registry::{OID_EC_P256, OID_SIG_ECDSA_WITH_SHA256};

    let me = eid("uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    let id = Identity::generate(&me).expect("generate");
    let (_, cert) = x509_parser::parse_x509_certificate(id.cert_der()).expect("parse back");
    let san = cert.subject_alternative_name().expect("san ok").expect("san present");
    let uris: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::URI(u) => Some(*u),
            _ => None,
        })
        .collect();
    assert_eq!(uris, vec!["urn:bbf:usp:id:uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6"]);
    let cn = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok());
    assert_eq!(cn, Some(me.as_str()));
    assert_eq!(cert.subject(), cert.issuer(), "self-signed");
    let eku = cert.extended_key_usage().expect("eku ok").expect("eku present");
    assert!(eku.value.client_auth && eku.value.server_auth);
    let bc = cert.basic_constraints().expect("bc ok");
    assert!(bc.is_none_or(|bc| !bc.value.ca), "not a CA");
    assert_eq!(cert.signature_algorithm.algorithm, OID_SIG_ECDSA_WITH_SHA256);
    let curve = cert.public_key().algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    assert_eq!(curve, Some(OID_EC_P256));
    // 2020-01-01T00:00:00Z .. 2050-01-01T00:00:00Z
    assert_eq!(cert.validity().not_before.timestamp(), 1_577_836_800);
    assert_eq!(cert.validity().not_after.timestamp(), 2_524_608_000);
    assert_eq!(id.fingerprint(), Fingerprint::of(id.cert_der()));
    assert_eq!(endpoint_id_of(id.cert_der()), Ok(me));
}

#[tokio::test]
async fn first_use_is_refused_and_observed_then_trusted_on_first_use() {
    let agent_eid = eid("proto::first-use-agent");
    let agent_id = Identity::generate(&agent_eid).expect("agent identity");
    let mut agent = spawn_agent(server_config(&agent_id, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let me = controller();
    let store = pins();
    let observed = ObservedCert::new();
    let config = client_config(&me, AgentTrust::new(store.clone()), Some(agent_eid.clone()), observed.clone())
        .expect("client config");

    let err = connect(&agent.url, &me, config.clone()).await.expect_err("first use must be refused");
    assert_eq!(err, ConnectError::UntrustedCertificate { agent: agent_eid.clone(), sha256: agent_id.fingerprint() });
    let text = err.to_string();
    assert!(text.contains(&agent_id.fingerprint().to_string()) && text.contains(agent_eid.as_str()), "{text}");
    let seen = observed.get().expect("the refused certificate is observed");
    assert_eq!(seen.agent, agent_eid);
    assert_eq!(seen.fingerprint, agent_id.fingerprint());
    assert_eq!(seen.cert_der, agent_id.cert_der());
    assert!(store.list().is_empty(), "nothing is pinned without the user");
    assert!(matches!(agent.next().await, Seen::TlsFailed(_)));

    assert_eq!(trust_on_first_use(store.as_ref(), &observed), Ok(agent_id.fingerprint()));
    let spki = spki_fingerprint_of(agent_id.cert_der()).expect("spki");
    let pinned = Pin::PublicKey { spki, cert: agent_id.fingerprint() };
    assert_eq!(store.lookup(&agent_eid), Ok(Some(pinned)), "the public key is pinned");
    assert!(observed.get().is_none());

    let hs = connect(&agent.url, &me, config).await.expect("pinned agent is accepted");
    assert_eq!(hs.peer_certificates.first().map(Vec::as_slice), Some(agent_id.cert_der()));
    assert_eq!(hs.peer_certificates.first().map(|c| endpoint_id_of(c)), Some(Ok(agent_eid)));
    match agent.next().await {
        Seen::Connected { cert_eid, query } => {
            assert_eq!(cert_eid.as_ref(), Some(me.eid()), "the agent sees our EID in the client certificate");
            assert_eq!(query, Some(format!("eid={}", me.eid())));
        }
        other => panic!("agent did not accept: {other:?}"),
    }
}

#[tokio::test]
async fn an_agent_with_a_new_key_is_refused_as_changed() {
    let agent_eid = eid("proto::rekeyed-agent");
    let old = Identity::generate(&agent_eid).expect("old");
    let new = Identity::generate(&agent_eid).expect("new");
    let mut agent = spawn_agent(server_config(&new, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let me = controller();
    let store = pins();
    store.pin(&agent_eid, old.fingerprint()).expect("pin");
    let observed = ObservedCert::new();
    let config = client_config(&me, AgentTrust::new(store.clone()), None, observed.clone()).expect("client config");

    let err = connect(&agent.url, &me, config).await.expect_err("changed certificate must be refused");
    assert_eq!(
        err,
        ConnectError::CertificateChanged {
            agent: agent_eid.clone(),
            pinned_sha256: old.fingerprint(),
            presented_sha256: new.fingerprint(),
        }
    );
    let text = err.to_string();
    for needle in [old.fingerprint().to_string(), new.fingerprint().to_string(), "impersonat".to_owned()] {
        assert!(text.contains(&needle), "{needle} missing from {text}");
    }
    assert!(matches!(agent.next().await, Seen::TlsFailed(_)));
    // The pin stays; trusting the new certificate needs the old pairing removed first.
    assert_eq!(store.pinned(&agent_eid), Some(old.fingerprint()));
    assert!(matches!(trust_on_first_use(store.as_ref(), &observed), Err(TlsError::CertificateChanged { .. })));
    assert_eq!(store.pinned(&agent_eid), Some(old.fingerprint()));
}

#[tokio::test]
async fn an_agent_with_another_eid_is_refused_as_mismatch() {
    let expected = eid("proto::the-gateway");
    let other = eid("proto::someone-else");
    let imposter = Identity::generate(&other).expect("imposter");
    let mut agent = spawn_agent(server_config(&imposter, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let me = controller();
    let store = pins();
    // Even a pin for the imposter's certificate does not make it the expected agent.
    store.pin(&other, imposter.fingerprint()).expect("pin");
    let observed = ObservedCert::new();
    let config =
        client_config(&me, AgentTrust::new(store), Some(expected.clone()), observed.clone()).expect("client config");

    let err = connect(&agent.url, &me, config).await.expect_err("mismatch must be refused");
    assert_eq!(err, ConnectError::CertificateEidMismatch { expected: expected.clone(), in_certificate: other.clone() });
    let text = err.to_string();
    assert!(text.contains(expected.as_str()) && text.contains(other.as_str()), "{text}");
    assert!(observed.get().is_none(), "a mismatching certificate is not offered for trust");
    assert!(matches!(agent.next().await, Seen::TlsFailed(_)));
}

#[tokio::test]
async fn a_ca_signed_agent_is_accepted_without_a_pin_even_with_dates_off() {
    let (ca_der, ca) = make_ca("usp-home test CA");
    let me = controller();
    let serve_auth = rcgen::ExtendedKeyUsagePurpose::ServerAuth;
    for (name, years) in [("proto::ca-agent", (2020, 2050)), ("proto::expired-ca-agent", (2001, 2002))] {
        let agent_eid = eid(name);
        let leaf = ca_signed(&ca, &agent_eid, years, serve_auth.clone());
        let mut agent = spawn_agent(server_config(&leaf, ClientCertPolicy::AnySelfSigned).expect("server")).await;
        let store = pins();
        let trust = AgentTrust::new(store.clone()).with_roots(roots(&ca_der));
        let config = client_config(&me, trust, Some(agent_eid.clone()), ObservedCert::new()).expect("client config");
        connect(&agent.url, &me, config).await.unwrap_or_else(|e| panic!("{name}: CA-signed agent refused: {e}"));
        assert!(matches!(agent.next().await, Seen::Connected { .. }));
        assert!(store.list().is_empty());
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_for_client_use_only_is_not_ca_trusted() {
    use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let (ca_der, ca) = make_ca("the CA we trust");
    let (_, other_ca) = make_ca("some other CA");
    let me = controller();
    let foreign = "proto::foreign-ca-agent";
    let client_only = "proto::client-only-agent";
    let cases = [
        (foreign, ca_signed(&other_ca, &eid(foreign), (2020, 2050), ServerAuth)),
        (client_only, ca_signed(&ca, &eid(client_only), (2020, 2050), ClientAuth)),
    ];
    for (name, leaf) in cases {
        let mut agent = spawn_agent(server_config(&leaf, ClientCertPolicy::AnySelfSigned).expect("server")).await;
        let trust = AgentTrust::new(pins()).with_roots(roots(&ca_der));
        let config = client_config(&me, trust, None, ObservedCert::new()).expect("client config");
        let err = connect(&agent.url, &me, config).await.expect_err(name);
        assert_eq!(err, ConnectError::UntrustedCertificate { agent: eid(name), sha256: leaf.fingerprint() }, "{name}");
        assert!(matches!(agent.next().await, Seen::TlsFailed(_)));
    }
}

/// Client settings with a pin for `agent` but no client certificate.
fn config_without_client_cert(agent: &Identity) -> Arc<rustls::ClientConfig> {
    let store = pins();
    store.pin(agent.eid(), agent.fingerprint()).expect("pin");
    let verifier = AgentCertVerifier::new(AgentTrust::new(store), None, ObservedCert::new());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn the_agent_refuses_a_controller_without_a_certificate() {
    let agent_id = Identity::generate(&eid("proto::mtls-agent")).expect("agent");
    let mut agent = spawn_agent(server_config(&agent_id, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let me = controller();
    let result = connect(&agent.url, &me, config_without_client_cert(&agent_id)).await;
    assert!(result.is_err(), "connected without a client certificate");
    match agent.next().await {
        Seen::TlsFailed(why) => assert!(why.to_lowercase().contains("certificate"), "{why}"),
        other => panic!("agent accepted a controller without certificate: {other:?}"),
    }
}

#[tokio::test]
async fn a_ca_only_agent_accepts_ca_signed_controllers_only() {
    let (ca_der, ca) = make_ca("controller CA");
    let agent_id = Identity::generate(&eid("proto::strict-agent")).expect("agent");
    let mut agent =
        spawn_agent(server_config(&agent_id, ClientCertPolicy::CaOnly(roots(&ca_der))).expect("server")).await;
    let store = pins();
    store.pin(agent_id.eid(), agent_id.fingerprint()).expect("pin");

    let self_signed = controller();
    let config = client_config(&self_signed, AgentTrust::new(store.clone()), None, ObservedCert::new()).expect("cfg");
    assert!(connect(&agent.url, &self_signed, config).await.is_err());
    assert!(matches!(agent.next().await, Seen::TlsFailed(_)));

    let signed = ca_signed(&ca, &eid("self::ca-controller"), (2020, 2050), rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let config = client_config(&signed, AgentTrust::new(store), None, ObservedCert::new()).expect("cfg");
    connect(&agent.url, &signed, config).await.expect("CA-signed controller accepted");
    match agent.next().await {
        Seen::Connected { cert_eid, .. } => assert_eq!(cert_eid, Some(eid("self::ca-controller"))),
        other => panic!("{other:?}"),
    }
}

/// A server that presents `shown`'s certificate but signs the handshake with
/// `signer`'s key, with the given protocol version.
fn lying_server(
    shown: &Identity,
    signer: &Identity,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signer.private_key_der().expose_secret().to_vec()));
    let signing_key = provider.key_provider.load_private_key(key).expect("key");
    let certified = rustls::sign::CertifiedKey::new(vec![shown.certificate().clone()], signing_key);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_client_cert_verifier(Arc::new(usp_client::tls::ControllerCertVerifier::new(
            ClientCertPolicy::AnySelfSigned,
        )))
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Arc::new(config)
}

#[tokio::test]
async fn a_pinned_certificate_without_its_key_is_refused_on_tls12_and_tls13() {
    let agent_eid = eid("proto::pinned-agent");
    let real = Identity::generate(&agent_eid).expect("real");
    let thief = Identity::generate(&agent_eid).expect("thief");
    let me = controller();
    let store = pins();
    store.pin(&agent_eid, real.fingerprint()).expect("pin");
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        // The honest agent works on this protocol version...
        let mut honest = spawn_agent(lying_server(&real, &real, version)).await;
        let config = client_config(&me, AgentTrust::new(store.clone()), None, ObservedCert::new()).expect("cfg");
        connect(&honest.url, &me, config.clone()).await.unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert!(matches!(honest.next().await, Seen::Connected { .. }));
        // ...and one that replays the pinned certificate without owning its key does not.
        let mut liar = spawn_agent(lying_server(&real, &thief, version)).await;
        let err = connect(&liar.url, &me, config).await.expect_err("signature must be checked");
        assert!(matches!(err, ConnectError::Tls(_)), "{version:?}: {err:?}");
        assert!(matches!(liar.next().await, Seen::TlsFailed(_)));
    }
}

#[tokio::test]
async fn private_keys_never_show_in_debug_or_errors() {
    let me = controller();
    let key = me.private_key_der();
    let key_bytes = key.expose_secret().to_vec();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut forbidden = vec![
        base64::engine::general_purpose::STANDARD.encode(&key_bytes),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&key_bytes),
        format!("{key_bytes:?}"),
        hex(&key_bytes),
        hex(&key_bytes).to_uppercase(),
    ];
    // Every 12-byte window of the key that is not public (the PKCS#8 also holds the
    // algorithm OIDs and the public key, which the certificate shows), as hex and as
    // Rust's byte list: this covers the private scalar.
    let cert = me.cert_der();
    let mut secret_windows = 0;
    for w in key_bytes.windows(12) {
        if cert.windows(12).any(|c| c == w) {
            continue;
        }
        secret_windows += 1;
        forbidden.push(hex(w).to_uppercase());
        forbidden.push(hex(w));
        forbidden.push(format!("{w:?}").trim_matches(['[', ']']).to_owned());
    }
    assert!(secret_windows >= 21, "the 32-byte private scalar is covered ({secret_windows} windows)");

    let mut texts = vec![format!("{me:?}"), format!("{key:?}"), format!("{:?}", me.clone())];
    let other = Identity::generate(me.eid()).expect("other");
    let errors: Vec<TlsError> = vec![
        Identity::from_der(me.eid(), other.cert_der(), &key_bytes).expect_err("key mismatch"),
        Identity::from_der(&eid("self::x"), me.cert_der(), &key_bytes).expect_err("eid mismatch"),
        Identity::from_der(me.eid(), &key_bytes, &key_bytes).expect_err("key as cert"),
        Identity::from_der(me.eid(), me.cert_der(), &key_bytes[..key_bytes.len() - 1]).expect_err("cut key"),
        "nope".parse::<Fingerprint>().expect_err("fingerprint"),
    ];
    for e in &errors {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
        let c = ConnectError::from(e.clone());
        texts.push(c.to_string());
        texts.push(format!("{c:?}"));
    }
    // Errors from real refused handshakes, with our key in the client configuration.
    let agent_id = Identity::generate(&eid("proto::secret-check")).expect("agent");
    let mut agent = spawn_agent(server_config(&agent_id, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let config = client_config(&me, AgentTrust::new(pins()), None, ObservedCert::new()).expect("cfg");
    texts.push(format!("{config:?}"));
    let e = connect(&agent.url, &me, config).await.expect_err("untrusted");
    texts.push(e.to_string());
    texts.push(format!("{e:?}"));
    let _ = agent.next().await;

    for text in &texts {
        for bad in &forbidden {
            assert!(!text.contains(bad.as_str()), "private key material in {text:?}");
        }
    }
    assert!(format!("{me:?}").contains("SecretBytes(<redacted>)"));
}

/// A self-signed certificate for `eids` (the first one is the identity's) made with `key`,
/// valid from `year` on: two of these with one key are a renewal.
fn self_signed_with(key: &rcgen::KeyPair, eids: &[&EndpointId], year: i32) -> Identity {
    let mut params = rcgen::CertificateParams::default();
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 30, 1, 1);
    params.subject_alt_names = eids
        .iter()
        .map(|e| rcgen::SanType::URI(rcgen::string::Ia5String::try_from(e.to_urn()).expect("ia5")))
        .collect();
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(key).expect("cert");
    Identity::from_der(eids[0], cert.der(), &key.serialize_der()).expect("identity")
}

#[tokio::test]
async fn a_renewed_certificate_with_the_same_key_is_not_an_alarm() {
    let agent_eid = eid("proto::renewing-agent");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let first = self_signed_with(&key, &[&agent_eid], 2020);
    let renewed = self_signed_with(&key, &[&agent_eid], 2025);
    assert_ne!(first.fingerprint(), renewed.fingerprint(), "two different certificates");
    let me = controller();
    let store = pins();
    let observed = ObservedCert::new();
    let config = client_config(&me, AgentTrust::new(store.clone()), Some(agent_eid.clone()), observed.clone())
        .expect("client config");
    let agent = spawn_agent(server_config(&first, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    connect(&agent.url, &me, config.clone()).await.expect_err("first use");
    trust_on_first_use(store.as_ref(), &observed).expect("trusted");
    connect(&agent.url, &me, config.clone()).await.expect("the paired certificate");
    let renewed_agent = spawn_agent(server_config(&renewed, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    connect(&renewed_agent.url, &me, config.clone()).await.expect("a renewal with the same key is accepted");
    assert!(observed.get().is_none(), "nothing to alarm about");
    // A new key is still refused.
    let rekeyed = Identity::generate(&agent_eid).expect("new key");
    let rekeyed_agent = spawn_agent(server_config(&rekeyed, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let err = connect(&rekeyed_agent.url, &me, config).await.expect_err("a new key");
    assert!(matches!(err, ConnectError::CertificateChanged { .. }), "{err}");
}

#[tokio::test]
async fn a_legacy_whole_certificate_pin_still_works_and_is_upgraded_to_the_key() {
    let agent_eid = eid("proto::legacy-pinned-agent");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let first = self_signed_with(&key, &[&agent_eid], 2020);
    let renewed = self_signed_with(&key, &[&agent_eid], 2025);
    let me = controller();
    let store = pins();
    // As pinned by earlier versions: the SHA-256 of the whole certificate.
    store.pin(&agent_eid, first.fingerprint()).expect("legacy pin");
    assert_eq!(store.lookup(&agent_eid), Ok(Some(Pin::Certificate(first.fingerprint()))));
    let observed = ObservedCert::new();
    let config = client_config(&me, AgentTrust::new(store.clone()), Some(agent_eid.clone()), observed.clone())
        .expect("client config");
    let agent = spawn_agent(server_config(&first, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    connect(&agent.url, &me, config.clone()).await.expect("the legacy pin matches");
    let spki = spki_fingerprint_of(first.cert_der()).expect("spki");
    let pinned = Pin::PublicKey { spki, cert: first.fingerprint() };
    assert_eq!(store.lookup(&agent_eid), Ok(Some(pinned)), "upgraded to the public key");
    let renewed_agent = spawn_agent(server_config(&renewed, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    connect(&renewed_agent.url, &me, config).await.expect("and a renewal now passes");
    let renewed_pin = Pin::PublicKey { spki, cert: renewed.fingerprint() };
    assert_eq!(store.lookup(&agent_eid), Ok(Some(renewed_pin)), "the renewed certificate is the one shown now");
}

/// A pin store whose backing store cannot be read (a locked or broken keyring).
struct UnreadablePins;

impl PinStore for UnreadablePins {
    fn lookup(&self, _agent: &EndpointId) -> Result<Option<Pin>, TlsError> {
        Err(TlsError::PinsUnreadable("the keyring is locked".into()))
    }
    fn store(&self, _agent: &EndpointId, _pin: Pin) -> Result<(), TlsError> {
        Err(TlsError::PinStore("the keyring is locked".into()))
    }
    fn replace(&self, _agent: &EndpointId, _old: Option<Pin>, _new: Pin) -> Result<(), TlsError> {
        Err(TlsError::PinStore("the keyring is locked".into()))
    }
    fn forget(&self, _agent: &EndpointId) -> Result<(), TlsError> {
        Err(TlsError::PinStore("the keyring is locked".into()))
    }
    fn list(&self) -> Vec<(EndpointId, Fingerprint)> {
        Vec::new()
    }
}

#[tokio::test]
async fn a_pin_store_that_cannot_be_read_fails_closed_without_a_first_use_prompt() {
    let agent_eid = eid("proto::agent-behind-locked-pins");
    let agent_id = Identity::generate(&agent_eid).expect("agent identity");
    let agent = spawn_agent(server_config(&agent_id, ClientCertPolicy::AnySelfSigned).expect("server")).await;
    let me = controller();
    let observed = ObservedCert::new();
    let config =
        client_config(&me, AgentTrust::new(Arc::new(UnreadablePins)), Some(agent_eid.clone()), observed.clone())
            .expect("client config");
    let err = connect(&agent.url, &me, config).await.expect_err("refused");
    assert!(!matches!(err, ConnectError::UntrustedCertificate { .. }), "not a first use: {err}");
    let text = err.to_string();
    assert!(text.contains("cannot read the trusted certificates") && text.contains("keyring is locked"), "{text}");
    assert!(!err.needs_user(), "the client keeps trying: the store may come back");
    assert!(observed.get().is_none(), "no certificate is offered for trust");
    assert!(trust_on_first_use(&UnreadablePins, &observed).is_err());
}

#[tokio::test]
async fn a_certificate_naming_several_devices_including_the_expected_one_connects() {
    use futures_util::SinkExt;
    use usp_core::record::{Record, RecordType};

    let agent_eid = eid("proto::multi-eid-agent");
    let other = eid("proto::its-other-name");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let agent_id = self_signed_with(&key, &[&agent_eid, &other], 2020);
    assert!(matches!(endpoint_id_of(agent_id.cert_der()), Err(TlsError::AmbiguousEndpointId(_))));
    let me = controller();
    let store = pins();
    store.pin(&agent_eid, agent_id.fingerprint()).expect("pin");
    // A USP agent over wss that says hello with a WebSocketConnect record and stays.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("wss://127.0.0.1:{}/usp", listener.local_addr().expect("addr").port());
    let server = server_config(&agent_id, ClientCertPolicy::AnySelfSigned).expect("server");
    let (me_eid, a_eid) = (me.eid().clone(), agent_eid.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(tls) = tokio_rustls::TlsAcceptor::from(server.clone()).accept(tcp).await else { continue };
            #[allow(clippy::result_large_err)]
            let cb = |_req: &Request, mut resp: Response| {
                resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                Ok(resp)
            };
            let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tls, cb).await else { continue };
            let rec = Record::new("1.4", me_eid.as_str(), a_eid.as_str(), RecordType::WebSocketConnect);
            let mut out = Vec::new();
            usp_core::wire::encode_record(&rec, &mut out);
            let _ = ws.send(tokio_tungstenite::tungstenite::Message::Binary(out.into())).await;
            tokio::time::sleep(WAIT).await;
        }
    });
    let observed = ObservedCert::new();
    let mut config = usp_client::ClientConfig::new(&url, me.eid().clone());
    config.agent_id = Some(agent_eid.clone());
    config.tls = Some(
        client_config(&me, AgentTrust::new(store.clone()), Some(agent_eid.clone()), observed).expect("client config"),
    );
    let client = usp_client::Client::start(config);
    let connected = client.wait_connected(WAIT).await;
    assert_eq!(connected.as_ref().ok(), Some(&agent_eid), "{connected:?} / {:?}", *client.state().borrow());
    client.close().await;
}
