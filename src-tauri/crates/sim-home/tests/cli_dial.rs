//! `usp-sim-home --dial URL`: every agent dials a controller's listener (here usp-client's, on
//! loopback) and is served through it; `wss://` URLs print each agent's certificate.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{lines_of, wait_exit, Guard, EXE};
use usp_client::listen::{Listener, ListenerConfig, ListenerEvent};
use usp_client::{Client, ClientConfig};
use usp_core::eid::EndpointId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agent_dials_the_listener() {
    let me: EndpointId = "self::cli-dial-test".parse().expect("eid");
    let listener = Listener::bind(ListenerConfig::new(([127, 0, 0, 1], 0).into(), me.clone())).await.expect("listen");
    let mut events = listener.events();
    let url = listener.url("127.0.0.1");
    let child = Command::new(EXE)
        .args(["--dial", &url, "--controller", &format!("{me}=Full Access"), "--exit-on-stdin-close", "--log", "warn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn usp-sim-home");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let ready = tokio::task::spawn_blocking(move || lines_of(stdout, 3, |l| l.starts_with("READY ")))
        .await
        .expect("READY lines");
    assert_eq!(ready.len(), 3, "{ready:?}");
    let mut dialled = Vec::new();
    while dialled.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Ok(ListenerEvent::Dialled { agent, trusted, .. })) => {
                assert!(trusted);
                dialled.push(agent);
            }
            Ok(Ok(other)) => panic!("{other:?}"),
            other => panic!("not every agent dialled: {dialled:?} ({other:?})"),
        }
    }
    let gw: EndpointId = ready[0].split(' ').nth(1).expect("eid").parse().expect("eid");
    assert!(dialled.contains(&gw), "{dialled:?}");
    let mut config = ClientConfig::new(&url, me);
    config.agent_id = Some(gw.clone());
    config.connector = Some(listener.connector_for(gw.clone()));
    let c = tokio::time::timeout(Duration::from_secs(20), Client::connect(config))
        .await
        .expect("in time")
        .expect("the dialling gateway is served");
    let r = tokio::time::timeout(Duration::from_secs(20), c.get(&["Device.DeviceInfo.FriendlyName"], 0))
        .await
        .expect("in time")
        .expect("get");
    assert!(r.value("Device.DeviceInfo.FriendlyName").is_some());
    c.close().await;
    drop(guard.0.stdin.take());
    let status = tokio::task::spawn_blocking(move || wait_exit(&mut guard.0)).await.expect("exit");
    assert!(status.success(), "{status}");
}

#[test]
fn wss_dial_prints_each_agents_certificate() {
    // Nothing listens there: the agents print their certificates and keep trying.
    let child = Command::new(EXE)
        .args(["--dial", "wss://127.0.0.1:9/usp", "--dial-controller", "self::nobody", "--exit-on-stdin-close"])
        .args(["--log", "warn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn usp-sim-home");
    let mut guard = Guard(child);
    let stderr = guard.0.stderr.take().expect("stderr");
    let lines = lines_of(stderr, 3, |l| l.starts_with("DIAL-FINGERPRINT "));
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 4, "{l}");
        assert!(f[3].parse::<usp_client::tls::Fingerprint>().is_ok(), "{l}");
    }
    drop(guard.0.stdin.take());
    let status = wait_exit(&mut guard.0);
    assert!(status.success(), "{status}");
}
