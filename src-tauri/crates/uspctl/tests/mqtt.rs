//! `uspctl` over MQTT: the real binary through a real mosquitto broker on loopback, against a
//! simulated home whose gateway serves over MQTT.

use std::process::{Command, Output};
use std::time::Duration;

use sim_home::home::{Home, HomeConfig};
use sim_home::mqtt::{controller_topic, MqttServe};
use sim_home::scenario::Scenario;

#[path = "../../../../tests/support/mosquitto.rs"]
#[allow(dead_code)]
mod mosquitto;

const ME: &str = "self::uspctl-mqtt-test";

async fn uspctl(args: Vec<String>, password: Option<&str>) -> Output {
    let data = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("uspctl-mqtt");
    let password = password.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_uspctl"));
        cmd.args(&args)
            .env("USP_HOME_DATA_DIR", data)
            .env_remove("USPCTL_AGENT")
            .env_remove("USPCTL_EID")
            .env_remove("USPCTL_BROKER_PASSWORD")
            .stdin(std::process::Stdio::null());
        if let Some(p) = password {
            cmd.env("USPCTL_BROKER_PASSWORD", p);
        }
        cmd.output().expect("uspctl runs")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_over_mqtt_through_mosquitto() {
    let broker = mosquitto::Broker::start(mosquitto::Options {
        login: Some(("home".into(), "open sesame".into())),
        ..Default::default()
    });
    let me: usp_core::EndpointId = ME.parse().expect("eid");
    let mut config = HomeConfig::new(Scenario::builtin());
    config.extra_controllers = vec![(me.clone(), "Full Access".to_owned())];
    let home =
        tokio::time::timeout(Duration::from_secs(20), Home::start(config)).await.expect("in time").expect("starts");
    let gw = home.agent("gateway").expect("gateway");
    let login = usp_client::Login { username: "home".into(), password: "open sesame".to_owned().into() };
    let serve = MqttServe {
        broker: format!("mqtt://home@127.0.0.1:{}", broker.port),
        topic: "usp/agent/gateway".into(),
        controllers: vec![(me.clone(), controller_topic(&me))],
        login: Some(login),
        tls: None,
    };
    let address = serve.agent_address();
    let mut serving = gw.serve_mqtt(serve);
    assert!(serving.wait_up(Duration::from_secs(20)).await, "{}", broker.log());
    let agent = format!("{address}?agent-id={}", gw.endpoint_id);
    let args = |rest: &[&str]| {
        let mut v: Vec<String> =
            ["--agent", agent.as_str(), "--eid", ME, "--timeout", "5"].iter().map(|s| s.to_string()).collect();
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };

    let o = uspctl(args(&["get", "Device.DeviceInfo.FriendlyName"]), Some("open sesame")).await;
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(out.trim(), format!("Device.DeviceInfo.FriendlyName = {}", gw.friendly_name));

    // A wrong password: a connection failure (3) that says the broker refused the login.
    let o = uspctl(args(&["get", "Device.DeviceInfo.FriendlyName"]), Some("wrong")).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("refused the login"), "{err}");

    // Without the agent's Endpoint ID: a usage error that says what to give.
    let o = uspctl(
        vec!["--agent".into(), address.clone(), "--eid".into(), ME.into(), "get".into(), "Device.".into()],
        Some("open sesame"),
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--agent-eid"));
}
