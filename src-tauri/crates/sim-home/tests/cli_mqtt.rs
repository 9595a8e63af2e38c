//! `usp-sim-home --mqtt`: every agent serves through a real mosquitto broker on loopback, and
//! the MQTT lines give the addresses a controller uses.

#[allow(dead_code)]
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{lines_of, Guard, EXE};
use usp_client::{Client, ClientConfig};

#[path = "../../../../tests/support/mosquitto.rs"]
#[allow(dead_code)]
mod mosquitto;

const ME: &str = "self::sim-cli-mqtt";

#[test]
fn every_agent_answers_over_mqtt() {
    let broker = mosquitto::Broker::start(mosquitto::Options::default());
    let mut child = Guard(
        Command::new(EXE)
            .args(["--mqtt", &broker.url(), "--controller", &format!("{ME}=Full Access")])
            .args(["--exit-on-stdin-close", "--log", "warn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn usp-sim-home"),
    );
    let lines = lines_of(child.0.stdout.take().expect("stdout"), 3, |l| l.starts_with("MQTT "));
    assert_eq!(lines.len(), 3, "{lines:?}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for line in lines {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], "MQTT", "{line:?}");
        let (eid, url) = (parts[1], parts[2]);
        assert!(url.starts_with(&format!("{}/usp/agent/", broker.url())), "{url}");
        let mut config = ClientConfig::new(url, ME.parse().expect("eid"));
        config.agent_id = Some(eid.parse().expect("agent eid"));
        config.connect_timeout = Duration::from_secs(10);
        config.request_timeout = Duration::from_secs(10);
        rt.block_on(async {
            let c = Client::connect(config).await.expect("connects over MQTT");
            let r = c.get(&["Device.DeviceInfo.FriendlyName"], 0).await.expect("get");
            assert!(r.value("Device.DeviceInfo.FriendlyName").is_some(), "{line}");
            c.close().await;
        });
    }
}
