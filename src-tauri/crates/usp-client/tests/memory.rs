//! The client over the in-memory transport, on tokio's paused clock: requests against a real
//! simulated agent, then timeouts, keepalives and reconnect backoff that would take minutes
//! of real time and here take none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sim_home::scenario::Scenario;
use sim_home::{Home, HomeConfig};
use usp_client::mtp::memory;
use usp_client::{Backoff, Client, ClientConfig, ClientError, ConnectionState, Mtp};
use usp_core::eid::EndpointId;

fn me() -> EndpointId {
    "self::usp-home-memory-test".parse().unwrap()
}

fn config(connector: memory::MemoryConnector) -> ClientConfig {
    let mut c = ClientConfig::new("memory://agent", me());
    c.connector = Some(Arc::new(connector));
    c
}

#[tokio::test(start_paused = true)]
async fn a_real_agent_answers_over_memory() {
    let home = Home::start(HomeConfig::new(Scenario::builtin())).await.unwrap();
    let gw = home.agent("gateway").unwrap().clone();
    let (connector, listener) = memory::channel(Some(gw.endpoint_id.clone()));
    let _serving = gw.serve_memory(listener);
    let mut cfg = config(connector);
    // The controller the built-in home trusts with Full Access.
    cfg.own_id = "self::usp-home-admin".parse().unwrap();
    cfg.agent_id = Some(gw.endpoint_id.clone());
    let client = Client::connect(cfg).await.unwrap();
    assert_eq!(client.carrier().map(|c| c.mtp), Some(Mtp::Memory));
    let resp = client.get(&["Device.DeviceInfo.FriendlyName"], 0).await.unwrap();
    let name = resp.params().iter().find(|p| p.path.ends_with("FriendlyName")).map(|p| p.value.to_string());
    assert_eq!(name.as_deref(), Some(gw.friendly_name.as_str()));
    // A change behind the client's back comes back as a Notify over the same transport.
    let mut notes = client.notifications();
    let _sub = client.subscribe(usp_client::NotifKind::ValueChange, &["Device.DeviceInfo.FriendlyName"]).await.unwrap();
    gw.set("Device.DeviceInfo.FriendlyName", "Attic").await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.agent, gw.endpoint_id);
    client.close().await;
    home.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn timeouts_keepalives_and_backoff_run_on_the_virtual_clock() {
    let real = Instant::now();
    let agent: EndpointId = "proto::silent-agent".parse().unwrap();
    let (connector, mut listener) = memory::channel(Some(agent.clone()));
    let mut cfg = config(connector);
    cfg.request_timeout = Duration::from_secs(30);
    cfg.ping_interval = Duration::from_secs(30);
    cfg.backoff =
        Backoff { initial: Duration::from_secs(10), max: Duration::from_secs(60), multiplier: 2.0, jitter: 0.0 };
    let client = Client::start(cfg);
    let mut peer = listener.accept().await.unwrap();
    assert_eq!(peer.controller, me());
    client.wait_connected(Duration::from_secs(1)).await.unwrap();

    // The agent reads the request but never answers: 30 virtual seconds later it fails.
    let asked = tokio::spawn({
        let client = client.clone();
        async move { client.get(&["Device.DeviceInfo."], 0).await }
    });
    let request = peer.next_record().await.unwrap();
    assert!(!request.is_empty());
    let t0 = tokio::time::Instant::now();
    let err = asked.await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Timeout(d) if d == Duration::from_secs(30)), "{err:?}");
    assert!(t0.elapsed() >= Duration::from_secs(30));

    // Keepalives every 30 s, answered by the peer (which answers them in `next_record`).
    let probe = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(95), peer.next_record()).await;
        peer
    });
    let peer = probe.await.unwrap();
    assert!(peer.keepalives() >= 3, "keepalives: {}", peer.keepalives());
    assert!(matches!(*client.state().borrow(), ConnectionState::Connected { .. }));

    // The agent goes away: the client waits its backoff (10 s, then 20 s) and dials again.
    drop(peer);
    let lost = tokio::time::Instant::now();
    let again = listener.accept().await.unwrap();
    let waited = lost.elapsed();
    assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11), "{waited:?}");
    drop(again);
    let lost = tokio::time::Instant::now();
    let _third = listener.accept().await.unwrap();
    // The session before did not answer anything, so the backoff grew.
    assert!(lost.elapsed() >= Duration::from_secs(20), "{:?}", lost.elapsed());
    client.close().await;
    // Minutes of virtual time, well under a few real seconds.
    assert!(real.elapsed() < Duration::from_secs(10), "took {:?} of real time", real.elapsed());
}

/// The GetResp `agent` sends for the Get Record `request` (one parameter).
fn answer_get(request: bytes::Bytes, agent: &EndpointId) -> bytes::Bytes {
    use usp_core::msg::{self, Body, Msg, Response};
    use usp_core::record::{Record, RecordType};
    use usp_core::wire::{self, Limits};
    let limits = Limits::default();
    let record = wire::decode_record(request, &limits).unwrap();
    let RecordType::NoSessionContext { payload } = record.record_type else { panic!("a no-session Record") };
    let req = wire::decode_msg(payload, &limits).unwrap();
    let resp = msg::GetResp {
        req_path_results: vec![msg::GetRequestedPathResult {
            requested_path: "Device.DeviceInfo.SoftwareVersion".into(),
            err_code: 0,
            err_msg: "".into(),
            resolved_path_results: vec![msg::ResolvedPathResult {
                resolved_path: "Device.DeviceInfo.".into(),
                result_params: [("SoftwareVersion", "1.0")].into_iter().collect(),
            }],
        }],
    };
    let mut p = Vec::new();
    wire::encode_msg(&Msg::new(req.msg_id, Body::Response(Response::GetResp(resp))), &mut p);
    let mut out = Vec::new();
    let rt = RecordType::NoSessionContext { payload: bytes::Bytes::from(p) };
    wire::encode_record(&Record::new("1.3", me().as_str(), agent.as_str(), rt), &mut out);
    bytes::Bytes::from(out)
}

/// A request on an idle connection leaves from its caller's task, not through the driver:
/// its timeout must still fire on time when it is shorter than the driver's armed timer
/// (which the answered request before it left 30 s away).
#[tokio::test(start_paused = true)]
async fn a_shorter_timeout_on_an_idle_connection_fires_on_time() {
    let agent: EndpointId = "proto::slow-agent".parse().unwrap();
    let (connector, mut listener) = memory::channel(Some(agent.clone()));
    let mut cfg = config(connector);
    cfg.request_timeout = Duration::from_secs(30);
    let client = Client::start(cfg);
    let mut peer = listener.accept().await.unwrap();
    client.wait_connected(Duration::from_secs(1)).await.unwrap();

    let asked = tokio::spawn({
        let client = client.clone();
        async move { client.get(&["Device.DeviceInfo.SoftwareVersion"], 0).await }
    });
    let request = peer.next_record().await.unwrap();
    assert!(peer.send(answer_get(request, &agent)));
    let resp = asked.await.unwrap().unwrap();
    assert_eq!(resp.params().len(), 1);

    // Unanswered, with its own 5 s timeout.
    let t0 = tokio::time::Instant::now();
    let get = usp_core::request::get(["Device.DeviceInfo.SoftwareVersion"]).build().unwrap();
    let asked = tokio::spawn({
        let client = client.clone();
        async move { client.request_with_timeout(get, Some(Duration::from_secs(5))).await }
    });
    let request = peer.next_record().await.unwrap();
    assert!(!request.is_empty());
    let err = tokio::time::timeout(Duration::from_secs(60), asked).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Timeout(d) if d == Duration::from_secs(5)), "{err:?}");
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(6), "{waited:?}");
    client.close().await;
}
