//! mDNS / DNS-SD discovery against real advertisers, on loopback and across two network
//! namespaces joined by a veth pair that the test creates. Nothing here ever advertises
//! or browses on the machine's real interfaces: every daemon is confined first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceInfo};
use sim_home::scenario::Scenario;
use sim_home::{Home, HomeConfig};
use usp_client::discovery::{manual_agent, Discovery, DiscoveryEvent, Interfaces, Mtp, SERVICE_COAP, SERVICE_WS};
use usp_core::eid::EndpointId;

/// The goal for an agent to appear after it is advertised.
const APPEAR_WITHIN: Duration = Duration::from_secs(2);
/// Bound for goodbyes to be seen.
const GONE_WITHIN: Duration = Duration::from_secs(4);

/// Waits for the next event matching `want` (others are skipped), at most until `deadline`.
async fn next_matching(
    discovery: &mut Discovery,
    deadline: Instant,
    mut want: impl FnMut(&DiscoveryEvent) -> bool,
) -> Option<DiscoveryEvent> {
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, discovery.next_event()).await {
            Ok(Some(e)) if want(&e) => return Some(e),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

/// The built-in home with Endpoint IDs of this process only: another run of these tests
/// on the same machine (same loopback) must not make names collide.
fn unique_home() -> Scenario {
    let mut s = Scenario::builtin();
    for a in &mut s.agents {
        a.endpoint_id = format!("proto::usph-test-{}-{}", a.key, std::process::id());
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_home_agents_appear_and_say_goodbye_on_loopback() {
    let mut discovery = Discovery::start(Interfaces::Loopback).unwrap();
    let mut config = HomeConfig::new(unique_home());
    config.advertise = Some(Interfaces::Loopback);
    let t0 = Instant::now();
    let home = Home::start(config).await.unwrap();
    let expected: BTreeMap<EndpointId, sim_home::AgentHandle> =
        home.agents().iter().map(|a| (a.endpoint_id.clone(), a.clone())).collect();

    let mut seen = BTreeMap::new();
    let deadline = t0 + APPEAR_WITHIN;
    while seen.len() < expected.len() {
        let Some(DiscoveryEvent::Appeared(agent)) = next_matching(
            &mut discovery,
            deadline,
            |e| matches!(e, DiscoveryEvent::Appeared(a) if expected.contains_key(&a.endpoint_id)),
        )
        .await
        else {
            panic!("only {:?} appeared within {APPEAR_WITHIN:?}", seen.keys().collect::<Vec<_>>());
        };
        eprintln!("appeared after {:?}: {agent:?}", t0.elapsed());
        seen.insert(agent.endpoint_id.clone(), agent);
    }
    for (eid, agent) in &seen {
        let handle = &expected[eid];
        assert_eq!(agent.mtp, Mtp::Ws);
        assert_eq!(agent.name.as_deref(), Some(handle.friendly_name.as_str()));
        assert_eq!(agent.url.as_deref(), Some(handle.url.as_str()));
        assert_eq!(agent.path.as_deref(), Some("/usp"));
        assert_eq!(agent.port, handle.addr.port());
        assert!(!agent.encrypt);
        assert!(agent.endpoint_id_known);
        assert!(agent.addresses.iter().all(|a| a.is_loopback()), "{:?}", agent.addresses);
        let sub = sim_home::advertise::subtype_for(&handle.key).unwrap();
        assert_eq!(agent.subtypes, [sub.to_owned()], "{}", handle.key);
        // The advertised address really is the agent's listener.
        tokio::net::TcpStream::connect((agent.addresses[0], agent.port)).await.unwrap();
    }
    let mut snapshot: Vec<EndpointId> = discovery
        .snapshot()
        .into_iter()
        .filter(|a| expected.contains_key(&a.endpoint_id))
        .map(|a| a.endpoint_id)
        .collect();
    snapshot.sort();
    assert_eq!(snapshot, expected.keys().cloned().collect::<Vec<_>>());

    let t1 = Instant::now();
    home.shutdown().await;
    let mut gone = Vec::new();
    let deadline = t1 + GONE_WITHIN;
    while gone.len() < expected.len() {
        let Some(DiscoveryEvent::Disappeared { endpoint_id, mtp }) = next_matching(
            &mut discovery,
            deadline,
            |e| matches!(e, DiscoveryEvent::Disappeared { endpoint_id, .. } if expected.contains_key(endpoint_id)),
        )
        .await
        else {
            panic!("only {gone:?} disappeared within {GONE_WITHIN:?}");
        };
        assert_eq!(mtp, Mtp::Ws);
        eprintln!("disappeared after {:?}: {endpoint_id}", t1.elapsed());
        gone.push(endpoint_id);
    }
    assert!(discovery.snapshot().iter().all(|a| !expected.contains_key(&a.endpoint_id)));
    discovery.stop();
}

/// A daemon of the test's own, confined to loopback.
fn loopback_daemon() -> ServiceDaemon {
    Interfaces::Loopback.daemon().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_are_skipped_and_changes_are_updates() {
    let mut discovery = Discovery::start(Interfaces::Loopback).unwrap();
    let daemon = loopback_daemon();
    let pid = std::process::id();
    let deadline = || Instant::now() + Duration::from_secs(5);

    // Not an Endpoint ID: reported, not fatal.
    let bad_instance = format!("not an eid {pid}");
    let bad =
        ServiceInfo::new(SERVICE_WS, &bad_instance, "usp-test-bad.local.", "127.0.0.1", 1234, &[("path", "/")][..])
            .unwrap();
    let bad_fullname = bad.get_fullname().to_owned();
    daemon.register(bad).unwrap();
    let skipped = next_matching(
        &mut discovery,
        deadline(),
        |e| matches!(e, DiscoveryEvent::Skipped { instance, .. } if instance == &bad_fullname),
    )
    .await
    .expect("the bad instance is reported");
    eprintln!("{skipped:?}");

    // A path that is not a plain URL path: refused (it would become a request line).
    let odd_eid = format!("self::usp-disc-odd-path-{pid}");
    let odd = ServiceInfo::new(
        SERVICE_WS,
        &odd_eid,
        "usp-test-odd.local.",
        "127.0.0.1",
        1235,
        &[("path", "/usp?x=1 HTTP/1.1\r\nHost: evil")][..],
    )
    .unwrap();
    let odd_fullname = odd.get_fullname().to_owned();
    daemon.register(odd).unwrap();
    let Some(DiscoveryEvent::Skipped { reason, .. }) = next_matching(
        &mut discovery,
        deadline(),
        |e| matches!(e, DiscoveryEvent::Skipped { instance, .. } if instance == &odd_fullname),
    )
    .await
    else {
        panic!("the odd path is skipped");
    };
    assert!(reason.contains("path"), "{reason}");
    assert!(discovery.snapshot().iter().all(|a| a.endpoint_id.as_str() != odd_eid));

    // A good one, then its TXT changes (name, encrypt), then it leaves.
    let eid: EndpointId = format!("self::usp-disc-test-{pid}").parse().unwrap();
    let record = |name: &str, encrypt: bool| {
        let mut txt: Vec<mdns_sd::TxtProperty> = vec![("path", "/usp").into(), ("name", name).into()];
        if encrypt {
            txt.push("encrypt".into());
        }
        ServiceInfo::new(SERVICE_WS, eid.as_str(), "usp-test-upd.local.", "127.0.0.1", 4321, txt).unwrap()
    };
    let info = record("one", false);
    let fullname = info.get_fullname().to_owned();
    daemon.register(info).unwrap();
    let Some(DiscoveryEvent::Appeared(a)) =
        next_matching(&mut discovery, deadline(), |e| matches!(e, DiscoveryEvent::Appeared(a) if a.endpoint_id == eid))
            .await
    else {
        panic!("the good instance appears");
    };
    assert_eq!((a.name.as_deref(), a.url.as_deref(), a.encrypt), (Some("one"), Some("ws://127.0.0.1:4321/usp"), false));
    assert!(a.subtypes.is_empty());

    daemon.register(record("two", true)).unwrap();
    let Some(DiscoveryEvent::Updated(a)) = next_matching(
        &mut discovery,
        deadline(),
        |e| matches!(e, DiscoveryEvent::Updated(a) if a.endpoint_id == eid && a.name.as_deref() == Some("two")),
    )
    .await
    else {
        panic!("the TXT change is an update");
    };
    assert_eq!((a.url.as_deref(), a.encrypt), (Some("wss://127.0.0.1:4321/usp"), true));

    let status = daemon.unregister(&fullname).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(3), status.recv_async()).await;
    next_matching(
        &mut discovery,
        deadline(),
        |e| matches!(e, DiscoveryEvent::Disappeared { endpoint_id, mtp: Mtp::Ws } if endpoint_id == &eid),
    )
    .await
    .expect("the goodbye is a disappearance");
    let status = daemon.unregister(&bad_fullname).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(3), status.recv_async()).await;
    let _ = daemon.shutdown();
}

/// A CoAP agent (`_usp-agt-coap._udp`; no broker: the advert is the agent itself) is found
/// with a `coap://` URL built from its address, port and TXT path, and that URL works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coap_agent_is_found_and_reached_over_coap() {
    let me: EndpointId = format!("self::usp-disc-coap-{}", std::process::id()).parse().unwrap();
    let mut config = HomeConfig::new(unique_home());
    config.extra_controllers = vec![(me.clone(), "Full Access".to_owned())];
    let home = Home::start(config).await.unwrap();
    let gw = home.agent("gateway").unwrap();
    let server = gw.serve_coap(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), "/usp").await.unwrap();
    let mut discovery = Discovery::start(Interfaces::Loopback).unwrap();
    let daemon = loopback_daemon();
    let info = ServiceInfo::new(
        SERVICE_COAP,
        gw.endpoint_id.as_str(),
        "usp-test-coap.local.",
        "127.0.0.1",
        server.addr.port(),
        &[("path", "/usp"), ("name", "old gateway")][..],
    )
    .unwrap();
    let fullname = info.get_fullname().to_owned();
    daemon.register(info).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let Some(DiscoveryEvent::Appeared(a)) = next_matching(
        &mut discovery,
        deadline,
        |e| matches!(e, DiscoveryEvent::Appeared(a) if a.endpoint_id == gw.endpoint_id && a.mtp == Mtp::Coap),
    )
    .await
    else {
        panic!("the CoAP agent appears");
    };
    assert_eq!(a.url.as_deref(), Some(server.url.as_str()));
    assert_eq!(a.name.as_deref(), Some("old gateway"));

    let mut config = usp_client::ClientConfig::new(a.url.clone().unwrap(), me);
    config.agent_id = Some(a.endpoint_id.clone());
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(10);
    let client = tokio::time::timeout(Duration::from_secs(20), usp_client::Client::connect(config))
        .await
        .expect("in time")
        .expect("connects over CoAP");
    let r = tokio::time::timeout(Duration::from_secs(20), client.get(&["Device.DeviceInfo.FriendlyName"], 0))
        .await
        .expect("in time")
        .expect("get");
    assert_eq!(r.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    client.close().await;
    let status = daemon.unregister(&fullname).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(3), status.recv_async()).await;
    let _ = daemon.shutdown();
}

#[test]
fn manual_agents_are_validated() {
    let a = manual_agent("ws://192.168.1.20:8080/usp", None).unwrap();
    assert_eq!(a.url.as_deref(), Some("ws://192.168.1.20:8080/usp"));
    assert_eq!((a.port, a.encrypt, a.mtp), (8080, false, Mtp::Ws));
    assert_eq!(a.path.as_deref(), Some("/usp"));
    assert!(!a.endpoint_id_known);
    assert_eq!(a.addresses, ["192.168.1.20".parse::<std::net::IpAddr>().unwrap()]);

    let eid: EndpointId = "os::00256D-0123456789".parse().unwrap();
    let a = manual_agent("wss://[fd00::5]/", Some(eid.clone())).unwrap();
    assert_eq!(a.url.as_deref(), Some("wss://[fd00::5]:443/"));
    assert!(a.encrypt && a.endpoint_id_known);
    assert_eq!(a.endpoint_id, eid);

    let a = manual_agent("coap://192.168.1.30/usp", Some(eid.clone())).unwrap();
    assert_eq!(a.url.as_deref(), Some("coap://192.168.1.30:5683/usp"));
    assert_eq!((a.port, a.encrypt, a.mtp, a.path.as_deref()), (5683, false, Mtp::Coap, Some("/usp")));
    assert!(manual_agent("coap://192.168.1.30/usp", None).is_err(), "a CoAP agent's EID is required");
    assert!(manual_agent("coaps://192.168.1.30/usp", Some(eid.clone())).is_err(), "no DTLS");

    let a = manual_agent("WS://gateway.local", None).unwrap();
    assert_eq!(a.url.as_deref(), Some("ws://gateway.local:80/"));
    assert!(a.addresses.is_empty());

    // Broker and CoAP addresses: the MTP and its usual port.
    for (url, mtp, tls, normal) in [
        ("mqtt://192.168.1.1/usp/agent/gw", Mtp::Mqtt, false, "mqtt://192.168.1.1:1883/usp/agent/gw"),
        ("mqtts://broker.lan/usp/agent/gw", Mtp::Mqtt, true, "mqtts://broker.lan:8883/usp/agent/gw"),
        ("mqtt+wss://broker.lan/mqtt", Mtp::Mqtt, true, "mqtt+wss://broker.lan:443/mqtt"),
        ("stomp://10.0.0.2/queue/usp.agent", Mtp::Stomp, false, "stomp://10.0.0.2:61613/queue/usp.agent"),
        ("stomps://10.0.0.2:61999/queue/a", Mtp::Stomp, true, "stomps://10.0.0.2:61999/queue/a"),
        ("coap://10.0.0.3/usp", Mtp::Coap, false, "coap://10.0.0.3:5683/usp"),
    ] {
        let a = manual_agent(url, Some(eid.clone())).unwrap();
        assert_eq!((a.mtp, a.encrypt, a.url.as_deref()), (mtp, tls, Some(normal)), "{url}");
    }
    // Credentials never go in the address.
    assert!(manual_agent("mqtt://user:secret@broker.lan/usp", None).is_err());

    for bad in [
        "http://1.2.3.4/usp",
        "1.2.3.4:80",
        "ws://",
        "ws://:80/usp",
        "ws://host:0/",
        "ws://host:99999/",
        "ws://host:x/",
        "ws://user@host/",
        "ws://[fd00::5/",
        "ws://[nope]/",
        "ws://ho st/",
        "ws://host/#frag",
        "",
    ] {
        assert!(manual_agent(bad, None).is_err(), "{bad:?} accepted");
    }
}

// ---------------------------------------------------------------------------------------
// Two network namespaces joined by a veth pair: the advertiser (a sim home) in one, the
// browser (Discovery) in the other. The children are this test binary run again inside
// `ip netns exec`, with USPH_NETNS_ROLE telling them which role to play.

const ROLE_ENV: &str = "USPH_NETNS_ROLE";
const IF_ENV: &str = "USPH_NETNS_IF";

/// Deletes the namespaces (and kills the children) even when the test fails.
struct NetnsGuard {
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Runs `role` of this binary inside `ns`; stdout lines come on the returned channel.
fn spawn_role(ns: &str, role: &str, ifname: &str) -> (Child, std_mpsc::Receiver<String>) {
    let exe = std::env::current_exe().unwrap();
    let test = format!("netns_role_{role}");
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(exe)
        .args(["--exact", &test, "--ignored", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(IF_ENV, ifname)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std_mpsc::channel();
    let role = role.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            eprintln!("[{role}] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The `USPH ` lines until one starts with `until`.
fn read_until(rx: &std_mpsc::Receiver<String>, until: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                // libtest may print "test name ... " before the first line of a child.
                if let Some(l) = line.find("USPH ").and_then(|i| line.get(i + 5..)) {
                    lines.push(l.to_owned());
                    if l.starts_with(until) {
                        return lines;
                    }
                }
            }
            Err(e) => panic!("no {until:?} within {within:?} ({e}); got {lines:?}"),
        }
    }
}

/// Polls (every 10 ms, at most `within`) until `dev` in `ns` has its carrier.
fn wait_link_up(ns: &str, dev: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let out = Command::new("ip").args(["-n", ns, "link", "show", "dev", dev]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("LOWER_UP") && text.contains("state UP") {
            return;
        }
        assert!(Instant::now() < deadline, "{dev} in {ns} not up within {within:?}: {text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn discovery_across_network_namespaces() {
    let pid = std::process::id();
    let (ns_a, ns_b) = (format!("usph-a-{pid}"), format!("usph-b-{pid}"));
    if let Err(e) = ip(&["netns", "add", &ns_a]) {
        let msg = format!(
            "!!!!! discovery_across_network_namespaces NOT RUN: cannot create a network namespace ({e}); \
             it needs root (CAP_SYS_ADMIN) and iproute2 !!!!!"
        );
        // Straight to stderr: libtest would swallow an eprintln! of a passing test.
        let _ = writeln!(std::io::stderr(), "{msg}");
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        return;
    }
    let mut guard = NetnsGuard { namespaces: vec![ns_a.clone()], children: Vec::new() };
    ip(&["netns", "add", &ns_b]).unwrap();
    guard.namespaces.push(ns_b.clone());
    // The veth pair is created inside the namespaces: the host's interfaces are untouched.
    ip(&["-n", &ns_a, "link", "add", "usph0", "type", "veth", "peer", "name", "usph1", "netns", &ns_b]).unwrap();
    ip(&["-n", &ns_a, "addr", "add", "10.213.0.1/24", "dev", "usph0"]).unwrap();
    ip(&["-n", &ns_b, "addr", "add", "10.213.0.2/24", "dev", "usph1"]).unwrap();
    for (ns, dev) in [(&ns_a, "usph0"), (&ns_b, "usph1")] {
        // IPv4 only on the veth: no IPv6 duplicate address detection to wait for.
        let sysctl = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
        ip(&["netns", "exec", ns, "sysctl", "-qw", &sysctl]).unwrap();
        ip(&["-n", ns, "link", "set", "lo", "up"]).unwrap();
        ip(&["-n", ns, "link", "set", dev, "up"]).unwrap();
    }

    // The daemons join the multicast group when they start: the pair must be up by then
    // (otherwise they only retry at their 5 s interface check).
    for (ns, dev) in [(&ns_a, "usph0"), (&ns_b, "usph1")] {
        wait_link_up(ns, dev, Duration::from_secs(5));
    }

    let (browser, browser_rx) = spawn_role(&ns_b, "browser", "usph1");
    guard.children.push(browser);
    read_until(&browser_rx, "BROWSING", Duration::from_secs(10));
    let (advertiser, advertiser_rx) = spawn_role(&ns_a, "advertiser", "usph0");
    guard.children.push(advertiser);
    let advertised = read_until(&advertiser_rx, "ADVERTISING", Duration::from_secs(10));
    let t0 = Instant::now();
    let appeared = read_until(&browser_rx, "ALL-APPEARED", Duration::from_secs(8));
    eprintln!("all appeared across the veth pair {:?} after the advertiser was ready", t0.elapsed());
    // Every advertised agent (EID, name) is seen with the advertiser's veth address.
    let mut agents: Vec<&String> = advertised.iter().filter(|l| l.starts_with("AGENT ")).collect();
    agents.sort();
    assert_eq!(agents.len(), 3, "{advertised:?}");
    for agent in agents {
        let eid = agent.split(' ').nth(1).unwrap();
        let seen = appeared
            .iter()
            .find(|l| l.starts_with("APPEARED ") && l.split(' ').nth(1) == Some(eid))
            .unwrap_or_else(|| panic!("{eid} not seen: {appeared:?}"));
        assert!(seen.contains(" ws://10.213.0.1:"), "{seen}");
    }

    // Closing the advertiser's stdin makes it shut its home down: goodbyes.
    drop(guard.children[1].stdin.take());
    read_until(&advertiser_rx, "DONE", Duration::from_secs(10));
    read_until(&browser_rx, "ALL-GONE", Duration::from_secs(8));
    for child in &mut guard.children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
    }
    guard.children.clear();
}

/// Child role: a sim home advertised on the namespace's veth only, until stdin closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child role: discovery_across_network_namespaces runs it inside its namespaces"]
async fn netns_role_advertiser() {
    if std::env::var(ROLE_ENV).as_deref() != Ok("advertiser") {
        return; // Only meaningful inside discovery_across_network_namespaces.
    }
    let ifname = std::env::var(IF_ENV).unwrap();
    let mut config = HomeConfig::new(Scenario::builtin());
    config.advertise = Some(Interfaces::Named(vec![ifname]));
    let home = Home::start(config).await.unwrap();
    {
        let mut out = std::io::stdout().lock();
        for a in home.agents() {
            writeln!(out, "USPH AGENT {} {}", a.endpoint_id, a.friendly_name.replace(' ', "_")).unwrap();
        }
        writeln!(out, "USPH ADVERTISING").unwrap();
        out.flush().unwrap();
    }
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while std::io::Read::read(&mut stdin, &mut buf).is_ok_and(|n| n > 0) {}
    });
    let _ = tokio::time::timeout(Duration::from_secs(30), stdin_closed).await;
    home.shutdown().await;
    println!("USPH DONE");
}

/// Child role: a Discovery on the namespace's veth only, until 3 agents came and went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child role: discovery_across_network_namespaces runs it inside its namespaces"]
async fn netns_role_browser() {
    if std::env::var(ROLE_ENV).as_deref() != Ok("browser") {
        return; // Only meaningful inside discovery_across_network_namespaces.
    }
    let ifname = std::env::var(IF_ENV).unwrap();
    let mut discovery = Discovery::start(Interfaces::Named(vec![ifname])).unwrap();
    println!("USPH BROWSING");
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut present = 0usize;
    let mut appeared = 0usize;
    while let Some(e) = next_matching(&mut discovery, deadline, |_| true).await {
        match e {
            DiscoveryEvent::Appeared(a) => {
                println!("USPH APPEARED {} {}", a.endpoint_id, a.url.unwrap_or_default());
                present += 1;
                appeared += 1;
                if appeared == 3 {
                    println!("USPH ALL-APPEARED");
                }
            }
            DiscoveryEvent::Disappeared { endpoint_id, .. } => {
                println!("USPH GONE {endpoint_id}");
                present = present.saturating_sub(1);
                if appeared >= 3 && present == 0 {
                    println!("USPH ALL-GONE");
                    return;
                }
            }
            other => println!("USPH OTHER {other:?}"),
        }
    }
    panic!("browser timed out");
}
