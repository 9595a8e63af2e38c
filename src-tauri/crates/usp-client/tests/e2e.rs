//! The end-to-end session-context layer over the in-memory transport, on tokio's paused
//! clock: against the simulated agent (its own session layer, per-controller policy) and
//! against a hand-played agent that loses a Record, so the retransmission timer must fire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sim_home::scenario::{crowded_mesh, Scenario};
use sim_home::spec::{E2eSpec, SessionMode};
use sim_home::{AgentHandle, Home, HomeConfig};
use usp_client::mtp::e2e::{E2eIntegrity, E2eMode, E2eSettings};
use usp_client::mtp::memory;
use usp_client::tls::Identity;
use usp_client::{Client, ClientConfig, ClientError};
use usp_core::e2e::{E2eConfig, E2eSession, PeerTrust};
use usp_core::eid::EndpointId;
use usp_core::record::RecordType;

const ADMIN: &str = "self::usp-home-admin";
/// Stations in the crowded gateway: a GetResp of the mesh is over 1 MiB.
const STATIONS: usize = 3200;
const WAIT: Duration = Duration::from_secs(60);

fn admin() -> EndpointId {
    ADMIN.parse().unwrap()
}

/// `scenario` with the admin controller's session-context policy set on every agent.
fn with_policy(mut scenario: Scenario, e2e: E2eSpec) -> Scenario {
    for a in &mut scenario.agents {
        for c in &mut a.controllers {
            if c.endpoint_id == ADMIN {
                c.e2e = Some(e2e.clone());
            }
        }
    }
    scenario
}

fn spec(mode: SessionMode, max_record_size: u32) -> E2eSpec {
    E2eSpec { mode, max_record_size, integrity: false }
}

async fn start(scenario: Scenario) -> (Home, AgentHandle) {
    let home = Home::start(HomeConfig::new(scenario)).await.unwrap();
    let gw = home.agent("gateway").unwrap().clone();
    (home, gw)
}

fn client_config(gw: &AgentHandle, e2e: E2eSettings) -> (ClientConfig, tokio::task::JoinHandle<()>) {
    let (connector, listener) = memory::channel(Some(gw.endpoint_id.clone()));
    let serving = gw.serve_memory(listener);
    let mut c = ClientConfig::new("memory://gateway", admin());
    c.connector = Some(Arc::new(connector));
    c.agent_id = Some(gw.endpoint_id.clone());
    c.request_timeout = Duration::from_secs(30);
    c.e2e = e2e;
    (c, serving)
}

fn settings(mode: E2eMode, max_record_size: usize) -> E2eSettings {
    E2eSettings { max_record_size, ..E2eSettings::new(mode) }
}

async fn friendly_name(client: &Client) -> Result<String, ClientError> {
    let resp = client.get(&["Device.DeviceInfo.FriendlyName"], 0).await?;
    Ok(resp.params().iter().find(|p| p.path.ends_with("FriendlyName")).map(|p| p.value.to_string()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn messages_travel_in_a_session_context_segmented_both_ways() {
    let scenario = with_policy(crowded_mesh(STATIONS), spec(SessionMode::Require, 1024));
    let (home, gw) = start(scenario).await;
    let (cfg, _serving) = client_config(&gw, settings(E2eMode::Require, 1024));
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(friendly_name(&client).await.unwrap(), "Crowded gateway");
    let carrier = client.carrier().unwrap();
    assert!(carrier.session_context && !carrier.end_to_end, "{carrier:?}");
    assert_eq!(gw.get("Device.LocalAgent.Controller.1.E2ESession.Status").await.as_deref(), Some("Up"));
    assert_eq!(gw.get("Device.LocalAgent.Controller.1.E2ESession.SessionMode").await.as_deref(), Some("Require"));
    // The controller reads its own policy from the data model.
    let mine = client.get(&["Device.LocalAgent.Controller.1.E2ESession."], 0).await.unwrap();
    let size = mine.params().iter().find(|p| p.path.ends_with("MaxUSPRecordSize")).map(|p| p.value.to_string());
    assert_eq!(size.as_deref(), Some("1024"));

    // Over 1 MiB of GetResp, in Records of at most 1024 bytes, reassembled.
    let big = client.get(&["Device.WiFi.DataElements.Network."], 0).await.unwrap();
    let stations = big.params().iter().filter(|p| p.path.ends_with(".Hostname")).count();
    assert_eq!(stations, STATIONS);
    let body = usp_core::msg::Body::Response(usp_core::msg::Response::GetResp(big));
    let size = usp_core::wire::encoded_msg_len(&usp_core::msg::Msg::new("x", body));
    assert!(size > 1024 * 1024, "the GetResp is {size} bytes");

    // The other way: a Set of about 1 MiB (one parameter set many times; the last wins).
    let row = client.add("Device.LocalAgent.ControllerTrust.Role.3.Permission.", &[("Order", "77")]).await.unwrap();
    let created = match &row.created_obj_results[0].oper_status {
        usp_core::msg::OperStatus::Success(ok) => ok.instantiated_path.to_string(),
        other => panic!("{other:?}"),
    };
    let path = format!("{created}Targets");
    let values: Vec<String> = (0..260).map(|i| format!("Device.X{i:03}.{}", "A".repeat(3990))).collect();
    let params: Vec<(&str, &str)> = values.iter().map(|v| (path.as_str(), v.as_str())).collect();
    client.set(&params).await.unwrap();
    assert_eq!(gw.get(&path).await.as_deref(), Some(values[259].as_str()));

    client.close().await;
    home.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn require_allow_forbid() {
    // Forbid + Prefer: the agent answers 7106, the client goes on without a context.
    let (home, gw) = start(with_policy(Scenario::builtin(), spec(SessionMode::Forbid, 0))).await;
    let (cfg, _s) = client_config(&gw, settings(E2eMode::Prefer, 0));
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(friendly_name(&client).await.unwrap(), gw.friendly_name);
    assert!(!client.carrier().unwrap().session_context);
    assert_eq!(friendly_name(&client).await.unwrap(), gw.friendly_name);
    client.close().await;

    // Forbid + Require: a clear error.
    let (cfg, _s) = client_config(&gw, settings(E2eMode::Require, 0));
    let client = Client::connect(cfg).await.unwrap();
    let err = friendly_name(&client).await.unwrap_err().to_string();
    assert!(err.contains("does not allow an end-to-end session context"), "{err}");
    client.close().await;
    home.shutdown().await;

    // Require + a client without a session context: Error 7101.
    let (home, gw) = start(with_policy(Scenario::builtin(), spec(SessionMode::Require, 0))).await;
    let (cfg, _s) = client_config(&gw, settings(E2eMode::Off, 0));
    let client = Client::connect(cfg).await.unwrap();
    match friendly_name(&client).await {
        Err(ClientError::Usp(e)) => assert_eq!(e.code, 7101, "{e:?}"),
        other => panic!("expected 7101, got {other:?}"),
    }
    client.close().await;
    // ...and with one (Prefer) it works.
    let (cfg, _s) = client_config(&gw, settings(E2eMode::Prefer, 0));
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(friendly_name(&client).await.unwrap(), gw.friendly_name);
    assert!(client.carrier().unwrap().session_context);
    client.close().await;
    home.shutdown().await;

    // Allow: both ways work.
    let (home, gw) = start(with_policy(Scenario::builtin(), spec(SessionMode::Allow, 0))).await;
    for mode in [E2eMode::Off, E2eMode::Prefer] {
        let (cfg, _s) = client_config(&gw, settings(mode, 0));
        let client = Client::connect(cfg).await.unwrap();
        assert_eq!(friendly_name(&client).await.unwrap(), gw.friendly_name);
        assert_eq!(client.carrier().unwrap().session_context, mode == E2eMode::Prefer);
        client.close().await;
    }
    home.shutdown().await;
}

fn integrity(peer: PeerTrust) -> E2eIntegrity {
    let me = Identity::generate(&admin()).unwrap();
    E2eIntegrity::new(me.private_key_der().expose_secret(), me.cert_der(), peer).unwrap()
}

#[tokio::test(start_paused = true)]
async fn signed_both_ways_and_an_untrusted_signer_is_not_heard() {
    let e2e = E2eSpec { mode: SessionMode::Require, max_record_size: 2048, integrity: true };
    let (home, gw) = start(with_policy(Scenario::builtin(), e2e)).await;
    let pinned = PeerTrust::Pinned(vec![Bytes::copy_from_slice(gw.e2e_certificate_der())]);
    let mut s = settings(E2eMode::Require, 2048);
    s.integrity = Some(integrity(pinned));
    let (cfg, _s) = client_config(&gw, s);
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(friendly_name(&client).await.unwrap(), gw.friendly_name);
    let carrier = client.carrier().unwrap();
    assert!(carrier.session_context && carrier.end_to_end, "{carrier:?}");
    assert!(carrier.to_string().contains("protected end to end"), "{carrier}");
    client.close().await;

    // A client that trusts another certificate drops every Record of the agent's.
    let stranger = Identity::generate(&gw.endpoint_id).unwrap();
    let mut s = settings(E2eMode::Require, 2048);
    s.integrity = Some(integrity(PeerTrust::Pinned(vec![Bytes::copy_from_slice(stranger.cert_der())])));
    let (mut cfg, _s) = client_config(&gw, s);
    cfg.request_timeout = Duration::from_secs(20);
    let client = Client::connect(cfg).await.unwrap();
    let err = friendly_name(&client).await.unwrap_err().to_string();
    assert!(err.contains("fail the integrity check"), "{err}");
    assert!(!client.carrier().is_some_and(|c| c.end_to_end));
    client.close().await;

    // Unsigned Records from the client are not heard by an agent that wants them signed.
    let (cfg, _s) = client_config(&gw, settings(E2eMode::Require, 2048));
    let mut cfg = cfg;
    cfg.request_timeout = Duration::from_secs(20);
    let client = Client::connect(cfg).await.unwrap();
    // (The agent's own Records are fine: the client hears it restart, but never an answer.)
    let err = friendly_name(&client).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_) | ClientError::Disconnected(_)), "{err:?}");
    client.close().await;
    home.shutdown().await;
}

/// A hand-played agent: its own session layer over the memory transport. It drops the
/// client's first data Record; the client's retransmission timer (virtual time) resends it.
#[tokio::test(start_paused = true)]
async fn a_lost_record_is_sent_again_on_the_virtual_clock() {
    let agent: EndpointId = "proto::e2e-agent".parse().unwrap();
    let (connector, mut listener) = memory::channel(Some(agent.clone()));
    let mut cfg = ClientConfig::new("memory://agent", admin());
    cfg.connector = Some(Arc::new(connector));
    cfg.agent_id = Some(agent.clone());
    cfg.e2e = settings(E2eMode::Require, 0);
    let client = Client::start(cfg);
    let mut peer = listener.accept().await.unwrap();
    client.wait_connected(Duration::from_secs(1)).await.unwrap();
    let asked = tokio::spawn({
        let client = client.clone();
        async move { client.get(&["Device.DeviceInfo."], 0).await }
    });
    let t0 = tokio::time::Instant::now();
    let first = tokio::time::timeout(WAIT, peer.next_record()).await.unwrap().unwrap();
    let rec = usp_core::wire::decode_record(first, &usp_core::wire::Limits::default()).unwrap();
    assert!(matches!(rec.record_type, RecordType::SessionContext(_)), "{rec:?}");
    // Lost. The same Record comes again after the retransmit interval (2 s).
    let again = tokio::time::timeout(WAIT, peer.next_record()).await.unwrap().unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
    let mut session = E2eSession::new(E2eConfig::new(agent.as_str(), ADMIN));
    let now = tokio::time::Instant::now().into_std();
    assert!(session.handle_bytes(again, now).is_none());
    let msg = session.poll_delivered().expect("the request, whole");
    let request = usp_core::wire::decode_msg(msg, &usp_core::wire::Limits::default()).unwrap();
    // Answer with an error (any answer will do) in the same context.
    let body = usp_core::msg::Error { err_code: 7000, err_msg: "no".into(), param_errs: Vec::new() };
    let reply = usp_core::msg::Msg::new(request.msg_id.clone(), usp_core::msg::Body::Error(body));
    let mut buf = Vec::new();
    usp_core::wire::encode_msg(&reply, &mut buf);
    session.send(Bytes::from(buf), now).unwrap();
    while let Some(b) = session.poll_transmit() {
        assert!(peer.send(b));
    }
    let got = tokio::time::timeout(WAIT, asked).await.unwrap().unwrap();
    assert!(matches!(got, Err(ClientError::Usp(ref e)) if e.code == 7000), "{got:?}");
    assert!(client.carrier().unwrap().session_context);
    client.close().await;
}

/// Prefer, and an agent that drops session-context Records without a word: after
/// `answer_within` (virtual time) the request goes again as a plain Record.
#[tokio::test(start_paused = true)]
async fn prefer_goes_on_without_a_context_when_the_agent_says_nothing() {
    let agent: EndpointId = "proto::silent-about-e2e".parse().unwrap();
    let (connector, mut listener) = memory::channel(Some(agent.clone()));
    let mut cfg = ClientConfig::new("memory://agent", admin());
    cfg.connector = Some(Arc::new(connector));
    cfg.agent_id = Some(agent.clone());
    cfg.e2e = settings(E2eMode::Prefer, 0);
    let client = Client::start(cfg);
    let mut peer = listener.accept().await.unwrap();
    client.wait_connected(Duration::from_secs(1)).await.unwrap();
    let asked = tokio::spawn({
        let client = client.clone();
        async move { client.get(&["Device.DeviceInfo."], 0).await }
    });
    let t0 = tokio::time::Instant::now();
    let limits = usp_core::wire::Limits::default();
    let request = loop {
        let b = tokio::time::timeout(WAIT, peer.next_record()).await.unwrap().unwrap();
        match usp_core::wire::decode_record(b, &limits).unwrap().record_type {
            RecordType::SessionContext(_) => continue, // ignored, as the shipped reference agent does
            RecordType::NoSessionContext { payload } => break usp_core::wire::decode_msg(payload, &limits).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert!(t0.elapsed() >= Duration::from_secs(5), "{:?}", t0.elapsed());
    let body = usp_core::msg::Error { err_code: 7000, err_msg: "no".into(), param_errs: Vec::new() };
    let reply = usp_core::msg::Msg::new(request.msg_id.clone(), usp_core::msg::Body::Error(body));
    let mut payload = Vec::new();
    usp_core::wire::encode_msg(&reply, &mut payload);
    let rec = usp_core::record::Record::new(
        "1.4",
        ADMIN,
        agent.as_str(),
        RecordType::NoSessionContext { payload: Bytes::from(payload) },
    );
    let mut buf = Vec::new();
    usp_core::wire::encode_record(&rec, &mut buf);
    assert!(peer.send(Bytes::from(buf)));
    let got = tokio::time::timeout(WAIT, asked).await.unwrap().unwrap();
    assert!(matches!(got, Err(ClientError::Usp(ref e)) if e.code == 7000), "{got:?}");
    assert!(!client.carrier().unwrap().session_context);
    client.close().await;
}
