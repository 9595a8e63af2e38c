//! A device that connects to usp-home (agent-initiated WebSocket) goes through the same trust
//! and pairing flow as a discovered one: the app listens (the setting), shows the address and
//! Endpoint ID to enter in the device, the device dials in over `wss://` with its own
//! certificate, its card asks to compare the fingerprint (first use), then the passcode pairs
//! the app. Real sockets on loopback, a simulated gateway that dials.

mod common;

use common::{app, auth_of, bounded, is_paired, pair, wait_home, GW_PASSCODE};
use ipc_types::{AgentAuth, ListenerSettings, TrustArgs};
use sim_home::dial::DialConfig;
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use sim_home::{Home as SimHome, HomeConfig as SimConfig};
use usp_client::tls::Identity;

#[tokio::test]
async fn a_device_that_dials_in_is_trusted_then_paired_like_a_discovered_one() {
    let dir = tempfile::tempdir().expect("data folder");
    let home = app(dir.path(), None, Vec::new()).await;
    let off = bounded("listener view", home.listener()).await.expect("view");
    assert!(!off.enabled && off.urls.is_empty() && off.port_in_use == 0);

    let view =
        bounded("listener on", home.listener_set(ListenerSettings { enabled: true, port: 0, all_interfaces: false }))
            .await
            .expect("listening");
    assert!(view.enabled && view.port_in_use != 0, "{view:?}");
    assert_eq!(view.error, None);
    let url = view.urls.first().expect("a URL").clone();
    assert_eq!(url, format!("wss://127.0.0.1:{}/usp", view.port_in_use));
    assert!(view.urls.contains(&format!("ws://127.0.0.1:{}/usp", view.port_in_use)), "{:?}", view.urls);
    assert!(view.url_qr_svg.starts_with("<svg") || view.url_qr_svg.contains("<svg"), "a QR code");
    let me: usp_core::EndpointId = view.endpoint_id.parse().expect("the app's EID");

    // A gateway that knows nothing of this app yet (Untrusted role for unknown controllers),
    // configured with the URL shown.
    let mut config = SimConfig::new(Scenario::builtin());
    config.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    let sim = bounded("sim home", SimHome::start(config)).await.expect("sim home");
    let gw = sim.agent("gateway").expect("gateway");
    let cert = Identity::generate(&gw.endpoint_id).expect("gateway certificate");
    let mut dial = DialConfig::new(url, me);
    dial.identity = Some(cert.clone());
    let _dialler = gw.dial(dial);
    let eid = gw.endpoint_id.to_string();

    // Its card asks to compare the certificate's fingerprint.
    let v =
        wait_home(&home, "the first-use question", |v| matches!(auth_of(v, &eid), Some(AgentAuth::FirstUse { .. })))
            .await;
    let Some(AgentAuth::FirstUse { fingerprint }) = auth_of(&v, &eid) else { unreachable!() };
    assert_eq!(fingerprint, &cert.fingerprint().to_string());
    bounded("trust", home.trust_agent(TrustArgs { agent: eid.clone(), fingerprint: fingerprint.clone() }))
        .await
        .expect("trusted");

    // Then it is connected with the Untrusted role, and its passcode pairs the app.
    wait_home(&home, "connected, not paired yet", |v| matches!(auth_of(v, &eid), Some(AgentAuth::Untrusted { .. })))
        .await;
    bounded("pairing", pair(&home, &eid, GW_PASSCODE)).await.expect("paired");
    wait_home(&home, "paired", |v| is_paired(v, &eid)).await;
    // A page reads it through the dialled connection.
    let wifi = bounded("wifi page", home.wifi()).await.expect("wifi");
    assert!(!wifi.networks.is_empty(), "{wifi:?}");

    // Switching the listener off says why the device is offline.
    bounded("off", home.listener_set(ListenerSettings { enabled: false, port: 0, all_interfaces: false }))
        .await
        .expect("off");
    wait_home(&home, "offline without a listener", |v| matches!(auth_of(v, &eid), Some(AgentAuth::Offline { .. })))
        .await;
    home.shutdown().await;
}

/// Made-up devices that dial once and go away can't fill the home: past the cap, one that is
/// neither connected, paired nor remembered makes room for the next.
#[tokio::test]
async fn devices_that_dialled_once_make_room_for_new_ones() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().expect("data folder");
    let home = app(dir.path(), None, Vec::new()).await;
    let view =
        bounded("listener on", home.listener_set(ListenerSettings { enabled: true, port: 0, all_interfaces: false }))
            .await
            .expect("listening");
    let plain = view.urls.iter().find(|u| u.starts_with("ws://")).expect("a ws:// URL").clone();
    let dial_once = |eid: String| {
        let plain = plain.clone();
        async move {
            let mut r = format!("{plain}?eid={eid}").into_client_request().expect("request");
            r.headers_mut().insert("Sec-WebSocket-Protocol", "v1.usp".parse().expect("header"));
            let port = r.uri().port_u16().expect("port");
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("tcp");
            let (mut ws, _) = bounded("dial", tokio_tungstenite::client_async(r, tcp)).await.expect("accepted");
            let _ = ws.close(None).await;
        }
    };
    for i in 0..70 {
        dial_once(format!("proto::made-up-{i}")).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let count = |v: &ipc_types::HomeView| v.agents.iter().filter(|a| a.agent.starts_with("proto::made-up-")).count();
    let v = home.home().await.expect("view");
    assert!(count(&v) <= 64, "{} made-up devices kept", count(&v));
    // A new one still gets in.
    let mut joined = false;
    for _ in 0..20 {
        dial_once("proto::latecomer".to_owned()).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if auth_of(&home.home().await.expect("view"), "proto::latecomer").is_some() {
            joined = true;
            break;
        }
    }
    assert!(joined, "a new device could not join");
    home.shutdown().await;
}
