//! The reference agent (OB-USPA) configured to dial usp-home: its Controller.1 has a
//! WebSocket MTP pointing at usp-home's listener on loopback
//! (`Device.LocalAgent.Controller.1.MTP.1.WebSocket.Host/Port/Path`), and no server of its own.
//! The same Get / Set / Add / Delete / Operate / subscription suite as over the other MTPs,
//! and a restart of the agent: the client gets it back with its subscription.

use std::path::{Path, PathBuf};
use std::time::Duration;

use usp_client::listen::{Listener, ListenerConfig, ListenerEvent};
use usp_client::{Client, ConnectionState, NotifKind};
use usp_core::msg::{Notification, OperationResp};
use usp_home_tests::obuspa::{self, Agent, Variant};
use usp_home_tests::{bounded, next_notification, test_config, test_eid, BOUND};

fn bins() -> PathBuf {
    // <target>/debug/deps/agent_dialled_reference-HASH
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    obuspa::bin_dir(&target, &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// Reset lines: `me` as Controller.1 with full access, reached by WebSocket at `port`.
fn dial_lines(me: &str, port: u16) -> String {
    dial_lines_with(me, port, false)
}

fn dial_lines_with(me: &str, port: u16, tls: bool) -> String {
    let m = "Device.LocalAgent.Controller.1.MTP.1";
    obuspa::controller_lines(1, me, "Device.LocalAgent.ControllerTrust.Role.1")
        + &format!(
            "{m}.Alias \"usp-home\"\n{m}.Enable \"true\"\n{m}.Protocol \"WebSocket\"\n\
             {m}.WebSocket.Host \"127.0.0.1\"\n{m}.WebSocket.Port \"{port}\"\n{m}.WebSocket.Path \"/usp\"\n\
             {m}.WebSocket.EnableEncryption \"{tls}\"\n{m}.WebSocket.KeepAliveInterval \"30\"\n\
             {m}.WebSocket.SessionRetryMinimumWaitInterval \"1\"\n\
             {m}.WebSocket.SessionRetryIntervalMultiplier \"1000\"\n"
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agent_dials_usp_home() {
    let me = test_eid("obuspa-dial");
    let agent_eid = "proto::obuspa-dialler";
    let listener = Listener::bind(ListenerConfig::new(([127, 0, 0, 1], 0).into(), me.clone())).await.expect("listen");
    let mut events = listener.events();
    let lines = dial_lines(me.as_str(), listener.local_addr().port());
    let dir = std::env::temp_dir();
    let mut agent = tokio::task::spawn_blocking(move || {
        Agent::start_reset(&bins(), Variant::Stock, &dir, "dialler", agent_eid, &lines)
    })
    .await
    .expect("the agent starts");

    // It dials with `GET /usp?eid=proto%3A%3Aobuspa-dialler`, subprotocol v1.usp.
    match bounded(events.recv()).await.expect("event") {
        ListenerEvent::Dialled { agent, trusted, .. } => {
            assert_eq!(agent.as_str(), agent_eid);
            assert!(trusted);
        }
        other => panic!("{other:?}"),
    }
    let eid: usp_core::EndpointId = agent_eid.parse().expect("eid");
    let mut config = test_config(&listener.url("127.0.0.1"), &me);
    config.agent_id = Some(eid.clone());
    config.connector = Some(listener.connector_for(eid.clone()));
    config.connect_timeout = Duration::from_secs(10);
    let c = bounded(Client::connect(config)).await.expect("served");
    assert!(c.carrier().is_some_and(|k| k.agent_dialled));

    let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.ProductClass"), Some("USP Agent"));
    bounded(c.set(&[("Device.LocalAgent.Controller.1.ProvisioningCode", "dialled")])).await.expect("set");
    let code = bounded(c.get(&["Device.LocalAgent.Controller.1.ProvisioningCode"], 0)).await.expect("get");
    assert_eq!(code.value("Device.LocalAgent.Controller.1.ProvisioningCode"), Some("dialled"));

    let mut rx = c.notifications();
    let oc = bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.LocalAgent.ControllerTrust.Role."]))
        .await
        .expect("sub");
    let role = add_role(&c, "dialled-1").await;
    let n = next_notification(&mut rx, &oc.id).await;
    let Notification::ObjCreation(created) = n.notify.notification else { panic!("{n:?}") };
    assert_eq!(&*created.obj_path, role.as_str());
    bounded(c.delete(&[role.as_str()])).await.expect("delete");
    let gone = bounded(c.get(&[format!("{role}Name")], 0)).await;
    assert!(gone.map(|r| r.value(&format!("{role}Name")).is_none()).unwrap_or(true), "deleted");

    let op = bounded(c.operate("Device.ScheduleTimer()", &[("DelaySeconds", "3600")], "dialled")).await.expect("op");
    assert_eq!(op.operation_results.len(), 1);
    assert!(!matches!(op.operation_results[0].operation_resp, OperationResp::CmdFailure(_)), "{op:?}");

    // The agent restarts (a reboot): it dials again, the client follows and makes the
    // subscription again (it was not persistent).
    let mut state = c.state();
    agent.stop();
    bounded(state.wait_for(|s| !matches!(s, ConnectionState::Connected { .. }))).await.expect("noticed");
    // OB-USPA names its Notifies `<kind>-<unix seconds>-<counter>` and restarts the counter
    // with the process: restarted within the same second it repeats the msg_id of its last
    // Notify, which the client drops as a repeat. A reboot takes longer than a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut agent = tokio::task::spawn_blocking(move || {
        assert!(agent.run(), "the agent starts again");
        agent
    })
    .await
    .expect("restart");
    bounded(c.wait_connected(BOUND)).await.expect("connected again");
    let again = bounded(async {
        loop {
            // The subscription is made again right after the reconnect; an Add before it
            // would not notify.
            let subs = c.get(&["Device.LocalAgent.Subscription.*.ID"], 0).await;
            if subs.is_ok_and(|r| r.params().iter().any(|p| &*p.value == oc.id.as_str())) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        add_role(&c, "dialled-2").await
    })
    .await;
    let n = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match rx.recv().await {
                Ok(n) if *n.notify.subscription_id == *oc.id => return n,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no ObjectCreation after the restart; the agent's log: {}", agent.log()));
    let Notification::ObjCreation(created) = n.notify.notification else { panic!("{n:?}") };
    assert_eq!(&*created.obj_path, again.as_str());
    c.close().await;
    agent.stop();
}

async fn add_role(c: &Client, name: &str) -> String {
    let added = bounded(c.add("Device.LocalAgent.ControllerTrust.Role.", &[("Name", name), ("Enable", "true")]))
        .await
        .expect("add");
    let (_, created) = added.per_object().into_iter().next().expect("one");
    created.expect("created").instantiated_path.to_string()
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Over `wss://`: the agent presents its certificate (`-a`) and checks ours against its trust
/// store (`-t`); the listener offers it on first use, and once trusted serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agent_dials_usp_home_over_wss() {
    use usp_client::listen::ListenerTls;
    use usp_client::tls::{AgentTrust, Identity, MemoryPinStore};
    let me = test_eid("obuspa-dial-wss");
    let agent_eid = "proto::obuspa-wss-dialler";
    let eid: usp_core::EndpointId = agent_eid.parse().expect("eid");
    // The agent checks the address it dials against our certificate (OpenSSL "IP address
    // mismatch" otherwise): it must name 127.0.0.1. As the app's listener does, the controller's
    // key is re-signed in a certificate that names it (`Identity::with_addresses`); the agent's
    // trust store must hold that very certificate (the identity's own, with the same key, is
    // refused: "self-signed certificate", OpenSSL error 18). The app's own listener against the
    // reference agent: app-core/tests/dialled_reference.rs.
    let identity = Identity::generate(&me).expect("our identity");
    let ours = identity.with_addresses(&[[127, 0, 0, 1].into()], &["localhost".to_owned()]).expect("listener cert");
    let theirs = Identity::generate(&eid).expect("agent identity");
    let mut config = ListenerConfig::new(([127, 0, 0, 1], 0).into(), me.clone());
    config.tls = Some(ListenerTls {
        identity: ours.clone(),
        trust: AgentTrust::new(std::sync::Arc::new(MemoryPinStore::new())),
    });
    let listener = Listener::bind(config).await.expect("listen");
    let mut events = listener.events();
    let lines = dial_lines_with(me.as_str(), listener.local_addr().port(), true);
    let tls = obuspa::Tls {
        identity_pem: format!("{}{}", theirs.cert_pem(), pem("PRIVATE KEY", theirs.private_key_der().expose_secret())),
        trust_pem: ours.cert_pem(),
    };
    let dir = std::env::temp_dir();
    let agent = tokio::task::spawn_blocking(move || {
        Agent::start_reset_tls(&bins(), Variant::Stock, &dir, "wss-dialler", agent_eid, &lines, &tls)
    })
    .await
    .expect("the agent starts");
    let event = tokio::time::timeout(BOUND, async {
        loop {
            match events.recv().await {
                Ok(e @ ListenerEvent::Dialled { .. }) => return e,
                Ok(_) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the agent never completed a wss handshake; its log: {}", agent.log()));
    let ListenerEvent::Dialled { agent: who, trusted, fingerprint, .. } = event else { unreachable!() };
    assert_eq!(who, eid);
    assert!(!trusted, "first use");
    assert_eq!(fingerprint, Some(theirs.fingerprint()));
    assert_eq!(listener.trust(&eid), Ok(theirs.fingerprint()));
    let mut cc = test_config(&listener.url("127.0.0.1"), &me);
    cc.agent_id = Some(eid.clone());
    cc.connector = Some(listener.connector_for(eid.clone()));
    cc.connect_timeout = Duration::from_secs(10);
    let c = bounded(Client::connect(cc)).await.expect("served over wss");
    assert!(c.carrier().is_some_and(|k| k.tls && k.agent_dialled));
    let info = bounded(c.get(&["Device.DeviceInfo.ProductClass"], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.ProductClass"), Some("USP Agent"));
    c.close().await;
    drop(agent);
}
