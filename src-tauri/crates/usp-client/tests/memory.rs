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

/// A Record from `agent` to us carrying `msg`.
fn record_of(msg: usp_core::msg::Msg, agent: &EndpointId) -> bytes::Bytes {
    let mut out = Vec::new();
    usp_core::wire::encode_no_session_record("1.3", me().as_str(), agent.as_str(), &msg, &mut out);
    bytes::Bytes::from(out)
}

/// A ValueChange Notify that asks for a NotifyResp.
fn notify(agent: &EndpointId, msg_id: &str, value: &str) -> bytes::Bytes {
    use usp_core::msg::{Body, Msg, Notification, Notify, Request, Text, ValueChangeNotif};
    let notify = Notify {
        subscription_id: Text::from("sub-1"),
        send_resp: true,
        notification: Notification::ValueChange(ValueChangeNotif {
            param_path: Text::from("Device.DeviceInfo.FriendlyName"),
            param_value: Text::from(value),
        }),
    };
    record_of(Msg::new(Text::from(msg_id), Body::Request(Request::Notify(notify))), agent)
}

/// The msg_id and body of a Record the client sent.
fn sent(record: bytes::Bytes) -> usp_core::msg::Msg {
    let limits = usp_core::wire::Limits::default();
    let record = usp_core::wire::decode_record(record, &limits).unwrap();
    let usp_core::record::RecordType::NoSessionContext { payload } = record.record_type else { panic!("no-session") };
    usp_core::wire::decode_msg(payload, &limits).unwrap()
}

async fn connected(agent: &EndpointId) -> (Client, memory::MemoryPeer, memory::MemoryListener) {
    let (connector, mut listener) = memory::channel(Some(agent.clone()));
    let client = Client::start(config(connector));
    let peer = listener.accept().await.unwrap();
    client.wait_connected(Duration::from_secs(1)).await.unwrap();
    (client, peer, listener)
}

fn spawn_get(client: &Client) -> tokio::task::JoinHandle<Result<usp_core::msg::GetResp, ClientError>> {
    let client = client.clone();
    tokio::spawn(async move { client.get(&["Device.DeviceInfo.SoftwareVersion"], 0).await })
}

/// A Get answered by `peer`.
async fn answered_get(client: &Client, peer: &mut memory::MemoryPeer, agent: &EndpointId) {
    let asked = spawn_get(client);
    let request = peer.next_record().await.unwrap();
    assert!(peer.send(answer_get(request, agent)));
    assert_eq!(asked.await.unwrap().unwrap().params().len(), 1);
}

/// `peer` sends a Notify with nothing in flight: it reaches the app, and the client
/// answers it.
async fn notify_gets_through(
    peer: &mut memory::MemoryPeer,
    notes: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    agent: &EndpointId,
    msg_id: &str,
) {
    assert!(peer.send(notify(agent, msg_id, "Attic")));
    let n = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.msg_id, msg_id);
    let resp = sent(tokio::time::timeout(Duration::from_secs(5), peer.next_record()).await.unwrap().unwrap());
    assert_eq!(resp.msg_id, msg_id, "the NotifyResp");
}

/// The read lane: on an idle connection a caller reads its own reply. Anything else it
/// reads (a Notify that wants an answer) goes to the driver, which answers and delivers it;
/// and once the caller has its reply, the driver hears the transport again.
#[tokio::test(start_paused = true)]
async fn a_caller_reads_its_own_reply_and_hands_the_rest_to_the_driver() {
    let agent: EndpointId = "proto::lane-agent".parse().unwrap();
    let (client, mut peer, _listener) = connected(&agent).await;
    let mut notes = client.notifications();

    answered_get(&client, &mut peer, &agent).await;
    assert_eq!(client.replies_read_by_callers(), 1, "the caller read its reply");
    // Right after: nothing in flight, and a Notify still reaches the app (the caller left
    // the transport armed to wake the driver).
    notify_gets_through(&mut peer, &mut notes, &agent, "n-0").await;

    // A Notify comes before the reply: the caller hands it over and waits for its reply.
    let asked = spawn_get(&client);
    let request = peer.next_record().await.unwrap();
    assert!(peer.send(notify(&agent, "n-1", "Attic")));
    assert!(peer.send(answer_get(request, &agent)));
    assert_eq!(asked.await.unwrap().unwrap().params().len(), 1);
    let n = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.msg_id, "n-1");
    // The driver answered the Notify.
    let resp = sent(tokio::time::timeout(Duration::from_secs(5), peer.next_record()).await.unwrap().unwrap());
    assert_eq!(resp.msg_id, "n-1");
    assert!(matches!(resp.body, usp_core::msg::Body::Response(usp_core::msg::Response::NotifyResp(_))), "{resp:?}");

    // Nothing in flight: a Notify still reaches the app (the transport wakes the driver).
    notify_gets_through(&mut peer, &mut notes, &agent, "n-2").await;

    // And the lane serves the next request again.
    let before = client.replies_read_by_callers();
    answered_get(&client, &mut peer, &agent).await;
    assert_eq!(client.replies_read_by_callers(), before + 1);
    client.close().await;
}

/// A caller that stops waiting (its task aborted) while it holds the lane gives it back:
/// the driver reads on, and the next caller is served.
#[tokio::test(start_paused = true)]
async fn a_caller_that_stops_waiting_leaves_the_transport_to_the_driver() {
    let agent: EndpointId = "proto::lane-agent".parse().unwrap();
    let (client, mut peer, _listener) = connected(&agent).await;
    let mut notes = client.notifications();
    let asked = spawn_get(&client);
    let abandoned = peer.next_record().await.unwrap();
    asked.abort();
    assert!(asked.await.unwrap_err().is_cancelled());

    notify_gets_through(&mut peer, &mut notes, &agent, "n-1").await;
    // The late reply to the abandoned request harms nothing.
    assert!(peer.send(answer_get(abandoned, &agent)));
    answered_get(&client, &mut peer, &agent).await;
    assert!(matches!(*client.state().borrow(), ConnectionState::Connected { .. }));
    client.close().await;
}

/// The connection drops while a caller reads: the caller hears it at once (not at its
/// timeout) and the client connects again.
#[tokio::test(start_paused = true)]
async fn a_connection_lost_under_a_reading_caller_fails_it_at_once() {
    let agent: EndpointId = "proto::lane-agent".parse().unwrap();
    let (client, mut peer, mut listener) = connected(&agent).await;
    let asked = spawn_get(&client);
    let _request = peer.next_record().await.unwrap();
    let t0 = tokio::time::Instant::now();
    drop(peer);
    let err = asked.await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Disconnected(_)), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let _again = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await.unwrap().unwrap();
    client.close().await;
}

/// Many callers at once, answered in reverse order: each gets its own answer, whoever
/// reads.
#[tokio::test(start_paused = true)]
async fn many_callers_at_once_each_get_their_own_answer() {
    use futures_util::StreamExt;
    let agent: EndpointId = "proto::lane-agent".parse().unwrap();
    let (client, mut peer, _listener) = connected(&agent).await;
    let paths: Vec<String> = (1..=64).map(|i| format!("Device.Hosts.Host.{i}.HostName")).collect();
    let mut asked: futures_util::stream::FuturesUnordered<_> = paths
        .iter()
        .map(|p| {
            let client = client.clone();
            let p = p.clone();
            async move { (p.clone(), client.get(&[p.as_str()], 0).await) }
        })
        .collect();
    let answering = async {
        let mut requests = Vec::new();
        for _ in 0..paths.len() {
            requests.push(peer.next_record().await.unwrap());
        }
        for request in requests.into_iter().rev() {
            let path = match sent(request.clone()).body {
                usp_core::msg::Body::Request(usp_core::msg::Request::Get(g)) => g.param_paths[0].to_string(),
                other => panic!("{other:?}"),
            };
            assert!(peer.send(answer_path(request, &agent, &path)));
        }
    };
    let collecting = async {
        let mut got = 0;
        while let Some((path, resp)) = asked.next().await {
            let resp = resp.unwrap();
            assert_eq!(&*resp.req_path_results[0].requested_path, path.as_str(), "each its own answer");
            got += 1;
        }
        got
    };
    let ((), got) = tokio::join!(answering, collecting);
    assert_eq!(got, 64);
    client.close().await;
}

/// A GetResp for the Get Record `request` that names `path` as its requested path.
fn answer_path(request: bytes::Bytes, agent: &EndpointId, path: &str) -> bytes::Bytes {
    use usp_core::msg::{self, Body, Msg, Response, Text};
    let req = sent(request);
    let resp = msg::GetResp {
        req_path_results: vec![msg::GetRequestedPathResult {
            requested_path: Text::from(path),
            err_code: 0,
            err_msg: Text::from(""),
            resolved_path_results: vec![],
        }],
    };
    record_of(Msg::new(req.msg_id, Body::Response(Response::GetResp(resp))), agent)
}

/// A hostile agent floods the connection while a caller reads (pongs, replies to nothing,
/// garbage): the caller still gets its reply, nothing hangs, every bad record is counted,
/// and the connection stays usable.
#[tokio::test(start_paused = true)]
async fn a_flood_under_a_reading_caller_neither_hangs_nor_loses_its_reply() {
    use std::sync::atomic::Ordering;
    let agent: EndpointId = "proto::lane-agent".parse().unwrap();
    let (client, mut peer, _listener) = connected(&agent).await;
    let mut notes = client.notifications();
    let asked = spawn_get(&client);
    let request = peer.next_record().await.unwrap();
    let (_, to_client, mut from_client) = peer.into_parts();
    for i in 0..5_000u32 {
        to_client.send(bytes::Bytes::new()).unwrap(); // a pong
        if i % 2 == 0 {
            // A reply to a request nobody made.
            let msg_id = format!("nobody-{i}");
            let resp = usp_core::msg::Msg::new(
                usp_core::msg::Text::from(msg_id.as_str()),
                usp_core::msg::Body::Response(usp_core::msg::Response::GetResp(Default::default())),
            );
            to_client.send(record_of(resp, &agent)).unwrap();
        }
        if i % 100 == 0 {
            to_client.send(bytes::Bytes::from_static(b"\xff\xff not a record")).unwrap();
        }
    }
    to_client.send(answer_get(request, &agent)).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(30), asked).await.unwrap().unwrap().unwrap();
    assert_eq!(resp.params().len(), 1);
    // Still connected and listening: a Notify gets through, and by then (records are handled
    // in the order they came) every bad record before it has been counted.
    to_client.send(notify(&agent, "n-9", "Attic")).unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.msg_id, "n-9");
    assert!(client.stats().dropped.load(Ordering::Relaxed) >= 2_500 + 50, "{:?}", client.stats());
    while let Ok(b) = from_client.try_recv() {
        drop(b); // keepalives and the NotifyResp
    }
    assert!(matches!(*client.state().borrow(), ConnectionState::Connected { .. }));
    client.close().await;
}

/// A request future polled once (its caller took the read lane) and then kept but no
/// longer awaited must not keep the transport from everyone else: after a ping interval
/// or two the driver reads again, and the kept future still ends when awaited.
#[tokio::test(start_paused = true)]
async fn a_request_future_kept_but_not_awaited_holds_nothing_up() {
    let agent: EndpointId = "proto::lane-agent".parse().unwrap();
    let (client, mut peer, _listener) = connected(&agent).await;
    let mut notes = client.notifications();
    // Arm the transport (the lane's fast way in), then take the lane and stop polling.
    answered_get(&client, &mut peer, &agent).await;
    let mut kept = Box::pin(client.get(&["Device.DeviceInfo.SoftwareVersion"], 0));
    assert!(futures_util::poll!(kept.as_mut()).is_pending());
    let request = peer.next_record().await.unwrap();

    // The agent sends a Notify: the transport wakes the holder, which is not polled; the
    // driver reads it at its next ping (30 s here).
    assert!(peer.send(notify(&agent, "n-1", "Attic")));
    let t0 = tokio::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(40), notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.msg_id, "n-1");
    assert!(t0.elapsed() <= Duration::from_secs(31), "{:?}", t0.elapsed());
    // At the ping after, the driver takes the lane back: from then on what comes is read
    // at once again, not at the next ping.
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(peer.send(notify(&agent, "n-2", "Hall")));
    let n = tokio::time::timeout(Duration::from_secs(1), notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.msg_id, "n-2");
    // The NotifyResps (`next_record` answers the keepalives sent meanwhile).
    while sent(peer.next_record().await.unwrap()).msg_id != "n-2" {}
    // Other callers are served again; the kept future, awaited at last, says its request
    // timed out (30 s, long gone), and the late answer to it harms nothing.
    answered_get(&client, &mut peer, &agent).await;
    let err = tokio::time::timeout(Duration::from_secs(1), kept).await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Timeout(_)), "{err:?}");
    assert!(peer.send(answer_get(request, &agent)));
    answered_get(&client, &mut peer, &agent).await;
    client.close().await;
}
