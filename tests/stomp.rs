//! The STOMP MTP through a real RabbitMQ (rabbitmq_stomp, started here on loopback ports):
//! the same Get / Set / Add / Delete / Operate / subscription suite against usp-sim-home and
//! against the reference agent, TLS to the broker, a refused login, an agent learnt from its
//! STOMPConnectRecord, heart-beats, and a broker restart in the middle. (uspctl over STOMP:
//! src-tauri/crates/uspctl/tests/stomp.rs.)
//!
//! One broker takes seconds to start, so one test runs every part in turn against it (and
//! the broker can only die with the thread that started it: see support/rabbitmq.rs).

use std::path::Path;
use std::time::{Duration, Instant};

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use sim_home::server::stomp::StompBroker;
use usp_client::error::ConnectError;
use usp_client::{Client, ClientConfig, ClientError, ConnectionState, Login, Mtp, NotifKind};
use usp_core::msg::Notification;
use usp_core::request::CommandOutcome;
use usp_core::EndpointId;
use usp_home_tests::obuspa::{self, Agent, Variant};
use usp_home_tests::rabbitmq::{Rabbit, PASSWORD, USER};
use usp_home_tests::{bounded, next_notification, test_config, test_eid};

fn login(password: &str) -> Option<Login> {
    Some(Login { username: USER.to_owned(), password: zeroize::Zeroizing::new(password.to_owned()) })
}

fn stomp_config(url: &str, me: &EndpointId) -> ClientConfig {
    let mut c = test_config(url, me);
    c.login = login(PASSWORD);
    c.connect_timeout = Duration::from_secs(10);
    c.request_timeout = Duration::from_secs(10);
    c
}

async fn connect(config: ClientConfig) -> Client {
    bounded(Client::connect(config)).await.expect("connects over STOMP")
}

/// A home whose agents serve through the broker too; `me` is provisioned with Full Access.
async fn stomp_home(rabbit: &Rabbit, me: &EndpointId) -> (Home, Vec<(EndpointId, String)>) {
    let mut config = HomeConfig::new(Scenario::builtin());
    config.extra_controllers = vec![(me.clone(), "Full Access".to_owned())];
    let mut home = bounded(Home::start(config)).await.expect("home starts");
    let mut broker = StompBroker::new(&rabbit.url(""), std::slice::from_ref(me));
    broker.login = login(PASSWORD);
    let served = home.serve_stomp(&broker);
    (home, served)
}

#[test]
fn stomp_through_rabbitmq() {
    let t0 = Instant::now();
    let mut rabbit = Rabbit::start();
    eprintln!("RabbitMQ with rabbitmq_stomp started in {:?}", rabbit.started_in);
    assert!(t0.elapsed() < Duration::from_secs(150));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        wrong_password_is_a_login_error(&rabbit).await;
        suite_against_sim_home(&rabbit).await;
        tls_to_the_broker(&rabbit).await;
        the_agent_is_learnt_from_its_connect_record(&rabbit).await;
    });
    reference_agent(&rt, &rabbit);
    broker_restart(&rt, &mut rabbit);
    drop(rt);
}

async fn wrong_password_is_a_login_error(rabbit: &Rabbit) {
    let me = test_eid("stomp-badpw");
    let mut config = stomp_config(&rabbit.url("/queue/nobody?agent-id=proto::nobody"), &me);
    config.login = login("not-the-password");
    let err = bounded(Client::connect(config)).await.expect_err("refused");
    match &err {
        ClientError::Connect(e @ ConnectError::BrokerLogin(why)) => {
            assert!(e.needs_user());
            assert!(!why.contains("not-the-password"), "{why}");
            assert!(err.to_string().contains("refused the login"), "{err}");
        }
        other => panic!("expected a refused login, got {other:?}"),
    }
}

/// Get / Set / Add / Delete / Operate and a subscription with its Notify, as over WebSocket.
async fn suite_against_sim_home(rabbit: &Rabbit) {
    let me = test_eid("stomp-sim");
    let (home, served) = stomp_home(rabbit, &me).await;
    let gw = home.agent("gateway").expect("gateway");
    let dest = &served.iter().find(|(e, _)| *e == gw.endpoint_id).expect("served").1;
    let url = rabbit.url(&format!("{dest}?agent-id={}", gw.endpoint_id));
    let c = connect(stomp_config(&url, &me)).await;
    assert_eq!(c.agent_id().as_ref(), Some(&gw.endpoint_id));
    let carrier = c.carrier().expect("carrier");
    assert_eq!((carrier.mtp, carrier.tls), (Mtp::Stomp, false));

    let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));

    bounded(c.set(&[("Device.DeviceInfo.FriendlyName", "Attic gateway")])).await.expect("set");
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Attic gateway"));

    let mut rx = c.notifications();
    let sub = bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.Hosts.AccessControl."])).await.expect("sub");
    let added = bounded(c.add(
        "Device.Hosts.AccessControl.",
        &[("PhysAddress", "02:00:00:00:00:42"), ("AccessPolicy", "Deny"), ("Enable", "true")],
    ))
    .await
    .expect("add");
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let row = ok.expect("created").instantiated_path.to_string();
    let n = next_notification(&mut rx, &sub.id).await;
    assert!(matches!(n.notify.notification, Notification::ObjCreation(ref o) if *o.obj_path == *row), "{n:?}");

    let del = bounded(c.delete(&[row.as_str()])).await.expect("delete");
    assert!(del.per_object().into_iter().all(|(_, r)| r.is_ok()));
    assert_eq!(gw.get(&format!("{row}AccessPolicy")).await, None);

    let op = bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[("Host", "192.0.2.1")], "stomp")).await.expect("op");
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    assert!(matches!(outcome, CommandOutcome::Started(_)), "{outcome:?}");

    // Heart-beats both ways keep an idle session up: the driver gives up after three ping
    // intervals without a sign of life, and the broker's heart-beats are that sign.
    let mut quick = stomp_config(&url, &me);
    quick.ping_interval = Duration::from_secs(1);
    let q = connect(quick).await;
    let mut state = q.state();
    assert!(matches!(*state.borrow_and_update(), ConnectionState::Connected { .. }));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!state.has_changed().expect("client alive"), "{:?}", *state.borrow());
    assert!(matches!(*state.borrow(), ConnectionState::Connected { .. }));
    q.close().await;

    // A second agent of the home over the same broker: each answers as itself.
    let hub = home.agent("hub").expect("hub");
    let hub_dest = &served.iter().find(|(e, _)| *e == hub.endpoint_id).expect("served").1;
    let c2 = connect(stomp_config(&rabbit.url(&format!("{hub_dest}?agent-id={}", hub.endpoint_id)), &me)).await;
    let hub_info = bounded(c2.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get");
    assert_eq!(hub_info.value("Device.DeviceInfo.FriendlyName"), Some(hub.friendly_name.as_str()));
    c2.close().await;
    c.close().await;
    home.shutdown().await;
}

async fn tls_to_the_broker(rabbit: &Rabbit) {
    let me = test_eid("stomp-tls");
    let (home, served) = stomp_home(rabbit, &me).await;
    let gw = home.agent("gateway").expect("gateway");
    let dest = &served.iter().find(|(e, _)| *e == gw.endpoint_id).expect("served").1;
    let url = rabbit.tls_url(&format!("{dest}?agent-id={}", gw.endpoint_id));
    // stomps:// without TLS settings needs the user.
    let err = bounded(Client::connect(stomp_config(&url, &me))).await.expect_err("no TLS settings");
    assert!(matches!(err, ClientError::Connect(ConnectError::TlsNotConfigured)), "{err}");
    let mut config = stomp_config(&url, &me);
    config.tls = Some(rabbit.client_tls());
    let c = connect(config).await;
    let carrier = c.carrier().expect("carrier");
    assert_eq!((carrier.mtp, carrier.tls), (Mtp::Stomp, true));
    let info = bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get over TLS");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    c.close().await;
    home.shutdown().await;
}

/// No agent destination and no agent in the address: the agent's STOMPConnectRecord (waiting
/// in our queue) names both.
async fn the_agent_is_learnt_from_its_connect_record(rabbit: &Rabbit) {
    let me = test_eid("stomp-learn");
    let (home, _served) = stomp_home(rabbit, &me).await;
    // Every agent of the home sent one to our destination; the first one is ours.
    let c = connect(stomp_config(&rabbit.url(""), &me)).await;
    let agent = c.agent_id().expect("learnt the agent");
    let a = home.agent_by_eid(agent.as_str()).expect("one of the home's agents");
    let info = bounded(c.get(&["Device.DeviceInfo.FriendlyName"], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(a.friendly_name.as_str()));
    c.close().await;
    home.shutdown().await;
}

fn shared_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn target_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("..").to_path_buf()
}

/// The reference agent's STOMP MTP (as ../shared/peers/reset/stomp.txt configures it), on
/// our broker, with `me` as its controller.
fn reference_lines(rabbit: &Rabbit, me: &EndpointId, agent_dest: &str, controller_dest: &str) -> String {
    format!(
        "Device.STOMP.Connection.1.Alias \"loopback-rabbitmq\"\n\
         Device.STOMP.Connection.1.Enable \"true\"\n\
         Device.STOMP.Connection.1.Host \"127.0.0.1\"\n\
         Device.STOMP.Connection.1.Port \"{port}\"\n\
         Device.STOMP.Connection.1.Username \"{USER}\"\n\
         Device.STOMP.Connection.1.Password \"{PASSWORD}\"\n\
         Device.STOMP.Connection.1.EnableEncryption \"false\"\n\
         Device.STOMP.Connection.1.VirtualHost \"/\"\n\
         Device.STOMP.Connection.1.EnableHeartbeats \"true\"\n\
         Device.STOMP.Connection.1.OutgoingHeartbeat \"30000\"\n\
         Device.STOMP.Connection.1.IncomingHeartbeat \"300000\"\n\
         Device.STOMP.Connection.1.ServerRetryInitialInterval \"1\"\n\
         Device.STOMP.Connection.1.ServerRetryIntervalMultiplier \"2000\"\n\
         Device.STOMP.Connection.1.ServerRetryMaxInterval \"30720\"\n\
         Device.LocalAgent.MTP.1.Alias \"stomp\"\n\
         Device.LocalAgent.MTP.1.Enable \"true\"\n\
         Device.LocalAgent.MTP.1.Protocol \"STOMP\"\n\
         Device.LocalAgent.MTP.1.STOMP.Reference \"Device.STOMP.Connection.1\"\n\
         Device.LocalAgent.MTP.1.STOMP.Destination \"{agent_dest}\"\n\
         {controller}\
         Device.LocalAgent.Controller.1.MTP.1.Alias \"stomp\"\n\
         Device.LocalAgent.Controller.1.MTP.1.Enable \"true\"\n\
         Device.LocalAgent.Controller.1.MTP.1.Protocol \"STOMP\"\n\
         Device.LocalAgent.Controller.1.MTP.1.STOMP.Reference \"Device.STOMP.Connection.1\"\n\
         Device.LocalAgent.Controller.1.MTP.1.STOMP.Destination \"{controller_dest}\"\n",
        port = rabbit.stomp_port,
        controller = obuspa::controller_lines(1, me.as_str(), "Device.LocalAgent.ControllerTrust.Role.1"),
    )
}

fn reference_agent(rt: &tokio::runtime::Runtime, rabbit: &Rabbit) {
    let bins = obuspa::bin_dir(&target_dir(), &shared_dir());
    let me = test_eid("stomp-ref");
    let tag = format!("{:x}", std::process::id());
    let agent_dest = format!("/queue/usp.agent.obuspa-{tag}");
    let controller_dest = format!("/queue/usp.controller.ref-{tag}");
    let eid = format!("proto::obuspa-stomp-{tag}");
    let lines = reference_lines(rabbit, &me, &agent_dest, &controller_dest);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let _agent = Agent::start_reset(&bins, Variant::Stock, &tmp, "stomp", &eid, &lines);
    rt.block_on(async {
        // Nothing but the broker and our destination in the address: the agent's
        // STOMPConnectRecord names it and its destination.
        let url = rabbit.url(&format!("?reply-to={controller_dest}"));
        let c = connect(stomp_config(&url, &me)).await;
        assert_eq!(c.agent_id().map(|e| e.to_string()), Some(eid.clone()));

        let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
        assert_eq!(info.value("Device.DeviceInfo.ProductClass"), Some("USP Agent"));

        let code = "Device.LocalAgent.Controller.1.ProvisioningCode";
        bounded(c.set(&[(code, "stomp-123")])).await.expect("set");
        let back = bounded(c.get(&[code], 0)).await.expect("get");
        assert_eq!(back.value(code), Some("stomp-123"));

        // ObjectCreation is immediate on this agent (ValueChange is polled every 15 s).
        let mut rx = c.notifications();
        let sub =
            bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.LocalAgent.Controller."])).await.expect("sub");
        let other = format!("self::stomp-other-{tag}");
        let added =
            bounded(c.add("Device.LocalAgent.Controller.", &[("EndpointID", other.as_str())])).await.expect("add");
        let (_, ok) = added.per_object().into_iter().next().expect("one");
        let row = ok.expect("created").instantiated_path.to_string();
        let n = next_notification(&mut rx, &sub.id).await;
        assert!(matches!(n.notify.notification, Notification::ObjCreation(ref o) if *o.obj_path == *row), "{n:?}");

        let del = bounded(c.delete(&[row.as_str()])).await.expect("delete");
        assert!(del.per_object().into_iter().all(|(_, r)| r.is_ok()), "{del:?}");

        let op = bounded(c.operate("Device.ScheduleTimer()", &[("DelaySeconds", "3600")], "stomp")).await.expect("op");
        let (_, outcome) = op.outcomes().into_iter().next().expect("one");
        assert!(!matches!(outcome, CommandOutcome::Failed(_)), "{outcome:?}");
        c.close().await;

        // The address names the agent and its destination: connected at once.
        let url = rabbit.url(&format!("{agent_dest}?reply-to={controller_dest}&agent-id={eid}"));
        let c = connect(stomp_config(&url, &me)).await;
        let info = bounded(c.get(&["Device.DeviceInfo.ProductClass"], 0)).await.expect("get");
        assert_eq!(info.value("Device.DeviceInfo.ProductClass"), Some("USP Agent"));
        c.close().await;
    });
}

/// The broker goes away in the middle: requests fail clearly while it is down; the client
/// reconnects when it is back, and its subscription works again.
fn broker_restart(rt: &tokio::runtime::Runtime, rabbit: &mut Rabbit) {
    let me = test_eid("stomp-restart");
    let (home, c, sub, mut rx, gw_eid) = rt.block_on(async {
        let (home, served) = stomp_home(rabbit, &me).await;
        let gw = home.agent("gateway").expect("gateway").clone();
        let dest = served.iter().find(|(e, _)| *e == gw.endpoint_id).expect("served").1.clone();
        let mut config = stomp_config(&rabbit.url(&format!("{dest}?agent-id={}", gw.endpoint_id)), &me);
        config.ping_interval = Duration::from_secs(2);
        let c = connect(config).await;
        let rx = c.notifications();
        let sub = bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.Hosts.AccessControl."])).await.expect("sub");
        (home, c, sub, rx, gw.endpoint_id.clone())
    });
    rabbit.stop_node();
    rt.block_on(async {
        let mut state = c.state();
        bounded(async {
            while matches!(*state.borrow_and_update(), ConnectionState::Connected { .. }) {
                state.changed().await.expect("state");
            }
        })
        .await;
        let err = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect_err("the broker is down");
        assert!(err.is_connection(), "{err}");
        assert!(matches!(err, ClientError::NotConnected(_)), "{err}");
    });
    let t = Instant::now();
    rabbit.start_node();
    eprintln!("RabbitMQ restarted in {:?}", t.elapsed());
    rt.block_on(async {
        assert_eq!(bounded(c.wait_connected(Duration::from_secs(60))).await.expect("reconnects"), gw_eid);
        let gw = home.agent_by_eid(gw_eid.as_str()).expect("gateway");
        // The agent reconnects too; then the subscription delivers again.
        let mut added = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        while added.is_none() && Instant::now() < deadline {
            match c.add("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:00:77")]).await {
                Ok(r) => added = Some(r),
                Err(e) => {
                    assert!(e.is_connection() || e.is_timeout(), "{e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        let added = added.expect("the agent answers after the restart");
        let (_, ok) = added.per_object().into_iter().next().expect("one");
        let row = ok.expect("created").instantiated_path.to_string();
        let n = next_notification(&mut rx, &sub.id).await;
        assert!(matches!(n.notify.notification, Notification::ObjCreation(ref o) if *o.obj_path == *row), "{n:?}");
        assert!(gw.get(&format!("{row}PhysAddress")).await.is_some());
        c.close().await;
        home.shutdown().await;
    });
}
