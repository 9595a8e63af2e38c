//! The reference agent (OB-USPA) dials the app's own listener over `wss://` with mutual TLS:
//! it presents its certificate, and checks ours against its trust store and against the
//! address it dialled (127.0.0.1), which the listener's certificate names. Its trust store
//! holds the certificate the app's listener setting shows (`certificate_pem`). The card asks to
//! compare the agent's fingerprint (first use); once trusted, the app reads the agent's
//! DeviceInfo (Gets) over that connection.

mod common;
#[path = "../../../../tests/support/obuspa.rs"]
mod obuspa;

use std::path::Path;

use base64::Engine as _;
use common::{app, auth_of, bounded, wait_home};
use ipc_types::{AgentAuth, ListenerSettings, TrustArgs};
use usp_client::tls::{spki_fingerprint_of, Identity};

const AGENT: &str = "proto::obuspa-app-wss-dialler";

fn bins() -> std::path::PathBuf {
    // <target>/debug/deps/dialled_reference-HASH
    let exe = std::env::current_exe().expect("own path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    obuspa::bin_dir(&target, &repo.join("../shared"))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER of the one certificate in `pem`.
fn der_of(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).expect("PEM")
}

/// Reset lines: `me` as Controller.1 (full access), dialled over `wss://` at 127.0.0.1:`port`.
fn dial_lines(me: &str, port: u16) -> String {
    let m = "Device.LocalAgent.Controller.1.MTP.1";
    obuspa::controller_lines(1, me, "Device.LocalAgent.ControllerTrust.Role.1")
        + &format!(
            "{m}.Alias \"usp-home\"\n{m}.Enable \"true\"\n{m}.Protocol \"WebSocket\"\n\
             {m}.WebSocket.Host \"127.0.0.1\"\n{m}.WebSocket.Port \"{port}\"\n{m}.WebSocket.Path \"/usp\"\n\
             {m}.WebSocket.EnableEncryption \"true\"\n{m}.WebSocket.KeepAliveInterval \"30\"\n\
             {m}.WebSocket.SessionRetryMinimumWaitInterval \"1\"\n\
             {m}.WebSocket.SessionRetryIntervalMultiplier \"1000\"\n"
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agent_dials_the_apps_listener_over_wss() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let home = app(&tmp.path().join("app"), None, Vec::new()).await;
    let view =
        bounded("listener on", home.listener_set(ListenerSettings { enabled: true, port: 0, all_interfaces: false }))
            .await
            .expect("listening");
    assert_eq!(view.error, None);
    let settings = home.settings().await.expect("settings");
    // The listener's certificate: this app's key, another certificate than its own identity's.
    let listener_der = der_of(&view.certificate_pem);
    assert_eq!(view.certificate_sha256, usp_client::tls::Fingerprint::of(&listener_der).to_string());
    assert_ne!(view.certificate_sha256, settings.certificate_fingerprint);
    let again = bounded("listener view", home.listener()).await.expect("view");
    assert_eq!(again.certificate_pem, view.certificate_pem, "kept while the addresses are the same");

    let agent_eid: usp_core::EndpointId = AGENT.parse().expect("eid");
    let theirs = Identity::generate(&agent_eid).expect("agent identity");
    let tls = obuspa::Tls {
        identity_pem: format!("{}{}", theirs.cert_pem(), pem("PRIVATE KEY", theirs.private_key_der().expose_secret())),
        trust_pem: view.certificate_pem.clone(),
    };
    let lines = dial_lines(&view.endpoint_id, view.port_in_use);
    let parent = tmp.path().to_owned();
    let agent = tokio::task::spawn_blocking(move || {
        obuspa::Agent::start_reset_tls(&bins(), obuspa::Variant::Stock, &parent, "wss-app", AGENT, &lines, &tls)
    })
    .await
    .expect("the agent starts");

    // It completed the TLS handshake (it accepted our certificate for 127.0.0.1) and the
    // WebSocket one: its card asks to compare its certificate's fingerprint.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let v = loop {
        let v = home.home().await.expect("home view");
        if matches!(auth_of(&v, AGENT), Some(AgentAuth::FirstUse { .. })) {
            break v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never dialled in over wss; its log: {}",
            agent.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let Some(AgentAuth::FirstUse { fingerprint }) = auth_of(&v, AGENT) else { unreachable!() };
    assert_eq!(fingerprint, &theirs.fingerprint().to_string());
    bounded("trust", home.trust_agent(TrustArgs { agent: AGENT.into(), fingerprint: fingerprint.clone() }))
        .await
        .expect("trusted");

    // Connected with its full access; the card's facts come from Gets over the dialled wss.
    let v = wait_home(&home, "paired over the dialled wss", |v| {
        matches!(auth_of(v, AGENT), Some(AgentAuth::Paired { .. }))
            && v.agents.iter().any(|a| a.agent == AGENT && a.model.is_some())
    })
    .await;
    let card = v.agents.iter().find(|a| a.agent == AGENT).expect("card");
    assert_eq!(card.transport, "WebSocket, encrypted, the device connects to usp-home");
    assert!(card.verified, "{card:?}");
    let model = agent.cli(&["get", "Device.DeviceInfo.ModelName"]);
    let model = model.split("=>").nth(1).map(str::trim).unwrap_or("");
    assert_eq!(card.model.as_deref(), Some(model), "read from the agent");
    home.shutdown().await;
    drop(agent);
}

/// The listener's certificate keeps this app's key (pins of the app's public key hold) and is
/// made again only when it does not name an address the listener is on.
#[test]
fn the_listener_certificate_is_the_apps_key_naming_the_listen_addresses() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let vault = common::vault(tmp.path());
    let identity = app_core::identity::load_or_create(&vault, tmp.path()).expect("identity");
    let cert = app_core::home::listener_certificate(&vault, &identity, false);
    let lo: std::net::IpAddr = [127, 0, 0, 1].into();
    assert!(cert.names_all(&[lo], &["localhost".to_owned()]));
    let spki = |der: &[u8]| spki_fingerprint_of(der).expect("spki");
    assert_eq!(spki(cert.cert_der()), spki(identity.tls().cert_der()), "the same key");
    assert_ne!(cert.fingerprint(), identity.fingerprint());
    assert_eq!(
        app_core::home::listener_certificate(&vault, &identity, false).fingerprint(),
        cert.fingerprint(),
        "kept"
    );
    // Every interface (nothing is bound here: only the certificate is made): ::1 and this
    // computer's addresses too, so a new certificate, with the same key.
    let every = app_core::home::listener_certificate(&vault, &identity, true);
    let v6: std::net::IpAddr = std::net::Ipv6Addr::LOCALHOST.into();
    assert!(every.names_all(&[lo, v6], &["localhost".to_owned()]));
    assert_ne!(every.fingerprint(), cert.fingerprint(), "made again for the new addresses");
    assert_eq!(spki(every.cert_der()), spki(identity.tls().cert_der()), "the same key");
    // Back to this computer only: the kept certificate still names 127.0.0.1, so it stays (the
    // copy in a device's trust store stays valid).
    assert_eq!(app_core::home::listener_certificate(&vault, &identity, false).fingerprint(), every.fingerprint());
}
