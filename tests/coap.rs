//! The CoAP MTP (legacy USP 1.0-1.2 agents) on loopback: the message suite against
//! usp-sim-home and against the reference agent, a lost datagram retransmitted, and a
//! hostile peer that does no harm.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sim_home::coap::CoapServer;
use usp_client::mtp::coap::CoapConnector;
use usp_client::{Client, ClientConfig, NotifKind};
use usp_core::msg::Notification;
use usp_core::EndpointId;
use usp_home_tests::{bounded, next_notification, start_home, test_config, test_eid};

const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

async fn coap_client(url: &str, me: &EndpointId, agent: &EndpointId, connector: Option<CoapConnector>) -> Client {
    let mut config: ClientConfig = test_config(url, me);
    // Retransmissions take seconds (RFC 7252: 2-3 s, then twice that...).
    config.request_timeout = Duration::from_secs(15);
    config.agent_id = Some(agent.clone());
    config.connector = connector.map(|c| Arc::new(c) as _);
    bounded(Client::connect(config)).await.expect("connects over CoAP")
}

async fn serve(agent: &sim_home::AgentHandle) -> CoapServer {
    agent.serve_coap(LOOPBACK, "/usp").await.expect("CoAP socket")
}

#[tokio::test]
async fn the_suite_against_sim_home_over_coap() {
    let me = test_eid("coap");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let server = serve(gw).await;
    assert!(server.url.starts_with("coap://127.0.0.1:") && server.url.ends_with("/usp"), "{}", server.url);
    let c = coap_client(&server.url, &me, &gw.endpoint_id, None).await;
    assert_eq!(c.carrier().map(|k| k.to_string()).as_deref(), Some("CoAP"));

    // Get; a large answer (the whole model: many blocks to our endpoint).
    let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    let all = bounded(c.get(&["Device."], 0)).await.expect("get everything");
    assert!(all.params().len() > 100, "{} parameters", all.params().len());
    // A large request (blocks to the agent): many paths in one Get.
    let many = vec!["Device.WiFi.SSID.*.SSID"; 80];
    let r = bounded(c.get(&many, 0)).await.expect("a large request");
    assert!(!r.params().is_empty());

    // Set, Add, Delete.
    bounded(c.set(&[("Device.DeviceInfo.FriendlyName", "CoAP gateway")])).await.expect("set");
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("CoAP gateway"));
    let added =
        bounded(c.add("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:00:77")])).await.expect("add");
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let path = ok.expect("created").instantiated_path.to_string();
    bounded(c.delete(&[path.as_str()])).await.expect("delete");
    assert_eq!(gw.get(&format!("{path}PhysAddress")).await, None);

    // A subscription and its Notify; Operate with its OperationComplete.
    let mut rx = c.notifications();
    let vc = bounded(c.subscribe(NotifKind::ValueChange, &["Device.WiFi.SSID.3.Enable"])).await.expect("subscribe");
    gw.set("Device.WiFi.SSID.3.Enable", "false").await.expect("set");
    let n = next_notification(&mut rx, &vc.id).await;
    assert!(matches!(&n.notify.notification, Notification::ValueChange(v) if v.param_value == "false"), "{n:?}");
    let oc =
        bounded(c.subscribe(NotifKind::OperationComplete, &["Device.IP.Diagnostics.IPPing()"])).await.expect("sub");
    bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[("Host", "192.0.2.7")], "coap-1")).await.expect("operate");
    let n = next_notification(&mut rx, &oc.id).await;
    assert!(matches!(n.notify.notification, Notification::OperComplete(_)), "{n:?}");
    c.close().await;
}

/// A UDP relay between the client and the agent that loses a POST and then an
/// acknowledgement (the agent POSTs its answers straight to the client's reply-to).
struct Relay {
    url: String,
    posts_to_agent: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Relays to `agent` (its resource `path`), dropping the first POST from the client
    /// after `pass` POSTs, and then the first 2.04 acknowledgement from the agent.
    async fn lossy(agent: SocketAddr, path: &str, pass: usize) -> Relay {
        let front = tokio::net::UdpSocket::bind(LOOPBACK).await.expect("bind");
        let back = tokio::net::UdpSocket::bind(LOOPBACK).await.expect("bind");
        let url = format!("coap://{}{path}", front.local_addr().expect("addr"));
        let posts = Arc::new(AtomicUsize::new(0));
        let count = posts.clone();
        let task = tokio::spawn(async move {
            let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
            let mut client: Option<SocketAddr> = None;
            let (mut dropped_post, mut dropped_ack) = (false, false);
            loop {
                tokio::select! {
                    Ok((n, from)) = front.recv_from(&mut a) => {
                        client = Some(from);
                        if n >= 4 && a[1] == 0x02 {
                            let seen = count.fetch_add(1, Ordering::SeqCst);
                            if !dropped_post && seen >= pass {
                                dropped_post = true;
                                continue;
                            }
                        }
                        let _ = back.send_to(&a[..n], agent).await;
                    }
                    Ok((n, _)) = back.recv_from(&mut b) => {
                        if n >= 4 && b[1] == 0x44 && dropped_post && !dropped_ack {
                            dropped_ack = true;
                            continue;
                        }
                        if let Some(c) = client {
                            let _ = front.send_to(&b[..n], c).await;
                        }
                    }
                }
            }
        });
        Relay { url, posts_to_agent: posts, task }
    }
}

#[tokio::test]
async fn a_lost_datagram_is_retransmitted_and_done_once() {
    let me = test_eid("coap-loss");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let server = serve(gw).await;
    let relay = Relay::lossy(server.addr, "/usp", 0).await;
    let c = coap_client(&relay.url, &me, &gw.endpoint_id, None).await;
    // The Add's POST is lost once, then its acknowledgement: two retransmissions, one Add.
    let started = std::time::Instant::now();
    let added =
        bounded(c.add("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:00:55")])).await.expect("add");
    let took = started.elapsed();
    assert!(added.per_object().into_iter().next().expect("one").1.is_ok());
    // The Get waits behind the Add's POST (one confirmable message at a time).
    let rules = bounded(c.get(&["Device.Hosts.AccessControl.*.PhysAddress"], 0)).await.expect("get");
    assert_eq!(relay.posts_to_agent.load(Ordering::SeqCst), 4, "the Add's POST three times, then the Get's");
    let ours = rules.params().into_iter().filter(|p| p.value.eq_ignore_ascii_case("02:00:00:00:00:55")).count();
    assert_eq!(ours, 1, "the duplicate was not a second Add");
    eprintln!("Add with its POST and then its ACK lost: {took:?}");
    c.close().await;
}

#[tokio::test]
async fn a_hostile_peer_does_no_harm() {
    let me = test_eid("coap-hostile");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let server = serve(gw).await;
    let ours = {
        let s = std::net::UdpSocket::bind(LOOPBACK).expect("bind");
        s.local_addr().expect("addr")
    };
    let c = coap_client(&server.url, &me, &gw.endpoint_id, Some(CoapConnector::new().bind(ours).path("/usp/me"))).await;
    let hostile = tokio::net::UdpSocket::bind(LOOPBACK).await.expect("bind");
    let block1 = |num: u32| {
        let v = (num << 4) | 0x8 | 6;
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    };
    for target in [ours, server.addr] {
        for i in 0..5000u32 {
            let mid = (i as u16).to_be_bytes();
            let d: Vec<u8> = match i % 5 {
                0 => vec![0xff; (i % 300) as usize],
                1 => vec![0x40, 0x02, mid[0], mid[1]],
                // Block1 with an absurd block number, to our path.
                2 => [
                    &[0x41, 0x02, mid[0], mid[1], 0x7a][..],
                    &[0xb3],
                    b"usp",
                    &[0x02],
                    b"me",
                    &[0xd3, 0x03],
                    &block1(1 << 19)[..],
                    &[0xff],
                    &[0u8; 1024][..],
                ]
                .concat(),
                3 => [
                    &[0x41, 0x02, mid[0], mid[1], 0x7b][..],
                    &[0xb3],
                    b"usp",
                    &[0x02],
                    b"me",
                    &[0xd3, 0x03],
                    &block1(0)[..],
                    &[0xff],
                    &[0u8; 1024][..],
                ]
                .concat(),
                _ => vec![0x40, 0x00, mid[0], mid[1]],
            };
            let _ = hostile.send_to(&d, target).await;
        }
    }
    // Both ends still work.
    let info = bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get after the flood");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    let mut answers = 0;
    let mut buf = [0u8; 2048];
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), hostile.recv_from(&mut buf)).await {
        answers += 1;
    }
    assert!(answers <= 20_000, "at most one answer per datagram: {answers}");
    c.close().await;
}

/// The app's way: one CoAP endpoint at a fixed address for every agent, the address each
/// device is configured to send its Notifies to. Answers and Notifies of two agents reach
/// their own sessions; a stranger's Records reach none; closed sessions leave the endpoint.
#[tokio::test]
async fn one_endpoint_serves_every_agent_and_their_notifies() {
    use prost::Message as _;
    use usp_client::mtp::coap::engine::{Engine, Post, Settings};
    use usp_client::mtp::coap::CoapEndpoint;
    use usp_proto::usp_record::{record::RecordType, NoSessionContextRecord, Record};

    let me = test_eid("coap-shared");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let (gw, hub) = (home.agent("gateway").expect("gateway"), home.agent("hub").expect("hub"));
    let (gw_server, hub_server) = (serve(gw).await, serve(hub).await);
    let endpoint =
        CoapEndpoint::bind(LOOPBACK, "/usp/controller", usp_core::wire::Limits::controller()).await.expect("endpoint");
    let ours = endpoint.local_addr();
    assert_eq!(endpoint.uri_for(ours.ip()), format!("coap://127.0.0.1:{}/usp/controller", ours.port()));
    let connector = || Some(CoapConnector::shared(endpoint.clone()));
    let a = coap_client(&gw_server.url, &me, &gw.endpoint_id, connector()).await;
    let b = coap_client(&hub_server.url, &me, &hub.endpoint_id, connector()).await;
    assert_eq!(endpoint.sessions(), 2);

    // Answers go to the session that asked, also when both ask at once.
    let name = "Device.DeviceInfo.FriendlyName";
    let paths = [name];
    let (ra, rb) = tokio::join!(bounded(a.get(&paths, 0)), bounded(b.get(&paths, 0)));
    assert_eq!(ra.expect("gateway answers").value(name), Some(gw.friendly_name.as_str()));
    assert_eq!(rb.expect("hub answers").value(name), Some(hub.friendly_name.as_str()));

    // Each agent's Notify reaches its own session (the agents send them to the endpoint).
    let (mut rx_a, mut rx_b) = (a.notifications(), b.notifications());
    let sa = bounded(a.subscribe(NotifKind::ValueChange, &[name])).await.expect("subscribe");
    let sb = bounded(b.subscribe(NotifKind::ValueChange, &[name])).await.expect("subscribe");
    gw.set(name, "Gateway renamed").await.expect("set");
    hub.set(name, "Hub renamed").await.expect("set");
    let na = next_notification(&mut rx_a, &sa.id).await;
    let nb = next_notification(&mut rx_b, &sb.id).await;
    assert!(
        matches!(&na.notify.notification, Notification::ValueChange(v) if v.param_value == "Gateway renamed"),
        "{na:?}"
    );
    assert!(
        matches!(&nb.notify.notification, Notification::ValueChange(v) if v.param_value == "Hub renamed"),
        "{nb:?}"
    );

    // A stranger POSTs Records to the endpoint: acknowledged by CoAP, given to nobody.
    let stranger = Record {
        version: "1.3".into(),
        to_id: me.to_string(),
        from_id: "proto::stranger".into(),
        record_type: Some(RecordType::NoSessionContext(NoSessionContextRecord { payload: b"not a msg".to_vec() })),
        ..Default::default()
    }
    .encode_to_vec();
    let hostile = tokio::net::UdpSocket::bind(LOOPBACK).await.expect("bind");
    let mut engine = Engine::new(Settings::new(vec!["stranger".into()], 65536));
    let now = tokio::time::Instant::now();
    for _ in 0..3 {
        let post =
            Post { path: vec!["usp".into(), "controller".into()], reply_to: None, record: stranger.clone().into() };
        engine.send(ours, post, now).expect("queued");
    }
    let mut buf = [0u8; 2048];
    bounded(async {
        while endpoint.unrouted() < 3 {
            while let Some((to, d)) = engine.poll_transmit() {
                hostile.send_to(&d, to).await.expect("send");
            }
            if let Ok(Ok((n, from))) =
                tokio::time::timeout(Duration::from_millis(100), hostile.recv_from(&mut buf)).await
            {
                engine.handle_datagram(from, &buf[..n], tokio::time::Instant::now());
            }
        }
    })
    .await;
    while let Some(event) = engine.poll_event() {
        assert!(!matches!(event, usp_client::mtp::coap::engine::Event::Failed { .. }), "{event:?}");
    }
    let info = bounded(a.get(&[name], 0)).await.expect("the gateway still answers");
    assert_eq!(info.value(name), Some("Gateway renamed"));

    // Closed sessions leave the endpoint; the one left still works.
    b.close().await;
    drop(b);
    bounded(async {
        while endpoint.sessions() != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    bounded(a.get(&[name], 0)).await.expect("the gateway still answers");
    a.close().await;
}

#[tokio::test]
async fn nobody_there_is_a_clear_connect_error() {
    use usp_client::mtp::Connector as _;
    let me = test_eid("coap-none");
    let port = std::net::UdpSocket::bind(LOOPBACK).expect("bind").local_addr().expect("addr").port();
    let mut config = test_config(&format!("coap://127.0.0.1:{port}/usp"), &me);
    config.agent_id = Some("proto::nobody".parse().expect("eid"));
    config.connect_timeout = Duration::from_secs(1);
    let err = bounded(CoapConnector::new().connect(&config)).await.expect_err("nobody answers");
    assert!(err.to_string().contains("longer than 1s"), "{err}");
    // Without the agent's Endpoint ID: refused at once, saying why.
    config.agent_id = None;
    let err = bounded(CoapConnector::new().connect(&config)).await.expect_err("no agent id");
    assert!(err.needs_user() && err.to_string().contains("Endpoint ID"), "{err}");
    config.url = "coaps://127.0.0.1/usp".into();
    config.agent_id = Some("proto::nobody".parse().expect("eid"));
    let err = bounded(CoapConnector::new().connect(&config)).await.expect_err("no DTLS");
    assert!(err.to_string().contains("DTLS"), "{err}");
}

mod reference {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use usp_home_tests::obuspa::{self, Agent};

    const AGENT: &str = "proto::obuspa-coap-agent";

    fn bins() -> &'static Path {
        static BIN: OnceLock<PathBuf> = OnceLock::new();
        BIN.get_or_init(|| {
            let exe = std::env::current_exe().expect("exe");
            let target = exe.ancestors().nth(3).expect("target dir").to_owned();
            obuspa::bin_dir(&target, &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
        })
    }

    fn free_udp_port() -> u16 {
        std::net::UdpSocket::bind(LOOPBACK).expect("bind").local_addr().expect("addr").port()
    }

    /// The stock agent with a CoAP server at `coap://127.0.0.1:PORT/usp` and `me` as its
    /// controller, reached at `coap://127.0.0.1:OUR_PORT/usp/controller`.
    fn start(me: &EndpointId, our_port: u16) -> (Agent, String) {
        let port = free_udp_port();
        let lines = format!(
            "Device.LocalAgent.MTP.1.Alias \"coap-server\"\n\
             Device.LocalAgent.MTP.1.Enable \"true\"\n\
             Device.LocalAgent.MTP.1.Protocol \"CoAP\"\n\
             Device.LocalAgent.MTP.1.CoAP.Port \"{port}\"\n\
             Device.LocalAgent.MTP.1.CoAP.Path \"usp\"\n\
             Device.LocalAgent.MTP.1.CoAP.EnableEncryption \"false\"\n\
             {}\
             Device.LocalAgent.Controller.1.MTP.1.Alias \"coap\"\n\
             Device.LocalAgent.Controller.1.MTP.1.Enable \"true\"\n\
             Device.LocalAgent.Controller.1.MTP.1.Protocol \"CoAP\"\n\
             Device.LocalAgent.Controller.1.MTP.1.CoAP.Host \"127.0.0.1\"\n\
             Device.LocalAgent.Controller.1.MTP.1.CoAP.Port \"{our_port}\"\n\
             Device.LocalAgent.Controller.1.MTP.1.CoAP.Path \"usp/controller\"\n\
             Device.LocalAgent.Controller.1.MTP.1.CoAP.EnableEncryption \"false\"\n",
            obuspa::controller_lines(1, me.as_str(), "Device.LocalAgent.ControllerTrust.Role.1"),
        );
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("coap-ref");
        std::fs::create_dir_all(&parent).expect("folder");
        let agent = Agent::start_reset(bins(), obuspa::Variant::Stock, &parent, "coap", AGENT, &lines);
        (agent, format!("coap://127.0.0.1:{port}/usp"))
    }

    #[tokio::test]
    async fn the_suite_against_the_reference_agent_over_coap() {
        let me: EndpointId = "self::usp-home-coap".parse().expect("eid");
        let our_port = free_udp_port();
        let (agent, url) = start(&me, our_port);
        // The app's shared endpoint, at the address configured for the agent's controller.
        let endpoint = usp_client::mtp::coap::CoapEndpoint::bind(
            SocketAddr::new(LOOPBACK.ip(), our_port),
            "/usp/controller",
            usp_core::wire::Limits::controller(),
        )
        .await
        .expect("endpoint");
        let connector = CoapConnector::shared(endpoint.clone());
        let c = coap_client(&url, &me, &AGENT.parse().expect("eid"), Some(connector)).await;

        let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
        assert!(info.value("Device.DeviceInfo.ModelName").is_some(), "{info:?}");
        // The whole model: its answer comes in many blocks.
        let all = bounded(c.get(&["Device."], 0)).await.expect("get everything");
        assert!(all.params().len() > 100, "{} parameters", all.params().len());
        // A large request: blocks to the agent.
        let many: Vec<&str> = std::iter::repeat_n("Device.DeviceInfo.ModelName", 60).collect();
        bounded(c.get(&many, 0)).await.expect("a large request");

        // Subscribe to creations, Add (and its Notify), Set, Delete.
        let mut rx = c.notifications();
        let sub = bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.BulkData.Profile."])).await.expect("sub");
        let added = bounded(c.add("Device.BulkData.Profile.", &[])).await.expect("add");
        let (_, ok) = added.per_object().into_iter().next().expect("one result");
        let path = ok.expect("created").instantiated_path.to_string();
        let n = next_notification(&mut rx, &sub.id).await;
        assert!(matches!(&n.notify.notification, Notification::ObjCreation(o) if *o.obj_path == *path), "{n:?}");
        bounded(c.set(&[(format!("{path}Alias").as_str(), "coap-profile")])).await.expect("set");
        let alias = bounded(c.get(&[format!("{path}Alias")], 0)).await.expect("get");
        assert_eq!(alias.value(&format!("{path}Alias")), Some("coap-profile"));
        bounded(c.delete(&[path.as_str()])).await.expect("delete");

        // Operate, with its OperationComplete.
        let oc = bounded(c.subscribe(NotifKind::OperationComplete, &["Device.ScheduleTimer()"])).await.expect("sub");
        bounded(c.operate("Device.ScheduleTimer()", &[("DelaySeconds", "1")], "coap-timer")).await.expect("operate");
        let n = next_notification(&mut rx, &oc.id).await;
        assert!(matches!(n.notify.notification, Notification::OperComplete(_)), "{n:?}");

        // Through a relay that loses the Add's POST and then its 2.04: retransmitted, done once.
        // The first client stays open: the agent sends the Add's ObjectCreation Notify to the
        // address configured for its controller, and its one queue per controller would hold
        // every answer behind a Notify retried to a closed port.
        let target: SocketAddr = url.trim_start_matches("coap://").trim_end_matches("/usp").parse().expect("addr");
        let relay = Relay::lossy(target, "/usp", 1).await;
        let lossy = coap_client(&relay.url, &me, &AGENT.parse().expect("eid"), None).await;
        let before = bounded(lossy.get(&["Device.BulkData.Profile.*.Alias"], 0)).await.expect("get").params().len();
        bounded(lossy.add("Device.BulkData.Profile.", &[])).await.expect("add through loss");
        let after = bounded(lossy.get(&["Device.BulkData.Profile.*.Alias"], 0)).await.expect("get").params().len();
        assert_eq!(after, before + 1, "one Add, however many copies");
        assert_eq!(
            relay.posts_to_agent.load(Ordering::SeqCst),
            5,
            "the Get's POST once, the Add's three times, the Get's once"
        );
        lossy.close().await;
        c.close().await;
        assert_eq!(endpoint.unrouted(), 0, "every Record of the agent reached the session");
        drop(agent);
    }
}

#[tokio::test]
async fn pipelined_requests_all_come_back() {
    let me = test_eid("coap-pipe");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let server = serve(gw).await;
    let c = Arc::new(coap_client(&server.url, &me, &gw.endpoint_id, None).await);
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..600 {
        let (c, done) = (c.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let r = c.get(&["Device.DeviceInfo.SoftwareVersion"], 0).await;
            done.fetch_add(1, Ordering::SeqCst);
            r
        }));
    }
    let started = std::time::Instant::now();
    for t in tasks {
        let r = bounded(t).await.expect("join");
        if let Err(e) = r {
            panic!("after {:?}, {} done: {e}", started.elapsed(), done.load(Ordering::SeqCst));
        }
    }
    eprintln!("600 concurrent Gets over CoAP: {:?}", started.elapsed());
}
