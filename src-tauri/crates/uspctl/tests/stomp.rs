//! `uspctl` over `stomp://` as a user runs it: the real binary, through a real RabbitMQ (its
//! STOMP plugin, started here on loopback), against a simulated home serving through it.

use std::process::{Command, Output};
use std::time::Duration;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use sim_home::server::stomp::StompBroker;

#[allow(dead_code)]
#[path = "../../../../tests/support/rabbitmq.rs"]
mod rabbitmq;

const ME: &str = "self::uspctl-stomp-test";

fn uspctl(args: &[&str], password: &str) -> Output {
    let data = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("uspctl-stomp");
    Command::new(env!("CARGO_BIN_EXE_uspctl"))
        .args(args)
        .env("USP_HOME_DATA_DIR", data)
        .env("USPCTL_BROKER_PASSWORD", password)
        .env_remove("USPCTL_AGENT")
        .env_remove("USPCTL_EID")
        .output()
        .expect("uspctl runs")
}

/// One broker for both cases: it starts in seconds, and dies with this thread.
#[test]
fn get_over_stomp_and_a_refused_login() {
    let rabbit = rabbitmq::Rabbit::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let me: usp_core::EndpointId = ME.parse().expect("eid");
    let (home, served) = rt.block_on(async {
        let mut config = HomeConfig::new(Scenario::builtin());
        config.extra_controllers = vec![(me.clone(), "Full Access".to_owned())];
        let mut home =
            tokio::time::timeout(Duration::from_secs(20), Home::start(config)).await.expect("in time").expect("home");
        let mut broker = StompBroker::new(&rabbit.url(""), std::slice::from_ref(&me));
        broker.login = Some(usp_client::Login {
            username: rabbitmq::USER.to_owned(),
            password: rabbitmq::PASSWORD.to_owned().into(),
        });
        let served = home.serve_stomp(&broker);
        (home, served)
    });
    let gw = home.agent("gateway").expect("gateway");
    let dest = &served.iter().find(|(e, _)| *e == gw.endpoint_id).expect("served").1;
    let url = format!("stomp://{}@127.0.0.1:{}{dest}?agent-id={}", rabbitmq::USER, rabbit.stomp_port, gw.endpoint_id);
    let get = ["--agent", &url, "--eid", ME, "--timeout", "10", "get", "Device.DeviceInfo.FriendlyName"];

    let o = uspctl(&get, rabbitmq::PASSWORD);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(out.trim(), format!("Device.DeviceInfo.FriendlyName = {}", gw.friendly_name));

    let o = uspctl(&get, "not-the-password");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("refused the login"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");

    // A password in the address is refused before anything is sent.
    let bad = format!("stomp://guest:secret@127.0.0.1:{}{dest}", rabbit.stomp_port);
    let o = uspctl(&["--agent", &bad, "--eid", ME, "get", "Device.DeviceInfo."], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("USPCTL_BROKER_PASSWORD") && !err.contains("secret"), "{err}");
    rt.block_on(home.shutdown());
}
