//! `uspctl` as a user runs it: the real binary against an in-process simulated home on
//! loopback. Checks the output format and every exit status.

use std::process::{Command, Output};
use std::time::Duration;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;

const ME: &str = "self::uspctl-cli-test";

async fn home() -> Home {
    let mut config = HomeConfig::new(Scenario::builtin());
    config.extra_controllers = vec![(ME.parse().expect("eid"), "Full Access".to_owned())];
    tokio::time::timeout(Duration::from_secs(20), Home::start(config)).await.expect("in time").expect("starts")
}

/// Runs uspctl in a blocking thread so the simulated home keeps serving meanwhile.
async fn uspctl(args: Vec<String>) -> Output {
    // In the build's scratch folder, so runs leave nothing in the system's temporary folder.
    let data = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("uspctl-cli");
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_uspctl"))
            .args(&args)
            .env("USP_HOME_DATA_DIR", data)
            .env_remove("USPCTL_AGENT")
            .env_remove("USPCTL_EID")
            .output()
            .expect("uspctl runs")
    })
    .await
    .expect("join")
}

fn args(url: &str, rest: &[&str]) -> Vec<String> {
    let mut v = vec![
        "--agent".to_owned(),
        url.to_owned(),
        "--eid".to_owned(),
        ME.to_owned(),
        "--timeout".to_owned(),
        "5".to_owned(),
    ];
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_path_equals_value_and_exits_0() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    let o = uspctl(args(&gw.url, &["get", "Device.DeviceInfo.FriendlyName", "Device.DeviceInfo.ModelName"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.lines().any(|l| l == format!("Device.DeviceInfo.FriendlyName = {}", gw.friendly_name)), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_over_coap_like_over_ws() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = gw.serve_coap(loopback, "/usp").await.expect("CoAP socket");
    let mut a = args(&server.url, &["--agent-eid", gw.endpoint_id.as_str()]);
    a.extend(["get", "Device.DeviceInfo.FriendlyName"].map(str::to_owned));
    let o = uspctl(a).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), format!("Device.DeviceInfo.FriendlyName = {}", gw.friendly_name));
    // Without the agent's Endpoint ID: a usage error that says what is missing.
    let o = uspctl(args(&server.url, &["get", "Device.DeviceInfo.FriendlyName"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--agent-eid"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_add_delete_operate_instances_supported_protocol() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    let o = uspctl(args(&gw.url, &["set", "Device.WiFi.SSID.3.SSID=Guests"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("Device.WiFi.SSID.3.SSID = Guests"), "{}", stdout(&o));
    assert_eq!(gw.get("Device.WiFi.SSID.3.SSID").await.as_deref(), Some("Guests"));

    let o = uspctl(args(
        &gw.url,
        &["add", "Device.Hosts.AccessControl.", "PhysAddress=02:00:00:00:00:77", "AccessPolicy=Deny"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let created = stdout(&o).lines().next().unwrap_or_default().to_owned();
    assert!(created.starts_with("Device.Hosts.AccessControl.") && created.ends_with('.'), "{created}");
    assert!(stdout(&o).contains(&format!("{created}PhysAddress = 02:00:00:00:00:77")));

    let o = uspctl(args(&gw.url, &["delete", &created])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), created);

    let o = uspctl(args(&gw.url, &["operate", "Device.IP.Diagnostics.IPPing()", "Host=192.0.2.1", "--wait"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).lines().any(|l| l.starts_with("SuccessCount = ")), "{}", stdout(&o));

    let o = uspctl(args(&gw.url, &["instances", "Device.WiFi.SSID.", "--first-level"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).lines().any(|l| l == "Device.WiFi.SSID.1."), "{}", stdout(&o));

    let o = uspctl(args(&gw.url, &["supported", "Device.WiFi.", "--first-level"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("Device.WiFi.SSID.{i}. (table, "), "{}", stdout(&o));

    let o = uspctl(args(&gw.url, &["--json", "protocol"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v["agent_supported_protocol_versions"].as_str().unwrap_or_default().contains("1.4"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usp_errors_exit_1_with_code_and_message() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    let o = uspctl(args(&gw.url, &["set", "Device.DeviceInfo.SerialNumber=X"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("7013") || stderr(&o).contains("7004"), "{}", stderr(&o));
    let o = uspctl(args(&gw.url, &["get", "Device.NoSuchObject."])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error 7026"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    for bad in [
        vec!["get"],
        vec!["frobnicate"],
        vec!["--agent", "ws://127.0.0.1:1/usp", "get", "Not.A.Path"],
        vec!["--agent", "ws://127.0.0.1:1/usp", "set", "Device.X"],
    ] {
        let o = uspctl(bad.iter().map(|s| s.to_string()).collect()).await;
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_problems_exit_3() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    let url = format!("ws://127.0.0.1:{port}/usp");
    let o = uspctl(vec!["--agent".into(), url, "--timeout".into(), "1".into(), "get".into(), "Device.".into()]).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_prints_a_vector_as_json() {
    let vec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/vectors/agent/02-get-resp-deviceinfo.bin");
    let o = uspctl(vec!["decode".into(), vec_path.display().to_string()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["from_id"], "proto::obuspa-test-agent");
    let get_resp = &v["record_type"]["no_session_context"]["payload"]["body"]["response"]["get_resp"];
    assert_eq!(
        get_resp["req_path_results"][0]["resolved_path_results"][0]["result_params"]["ModelName"], "USP Agent",
        "{v}"
    );
    let garbage = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("uspctl-garbage");
    std::fs::write(&garbage, b"\xff\xff\xff").expect("write");
    let o = uspctl(vec!["decode".into(), garbage.display().to_string()]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a valid USP Record"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_finds_the_three_agents_on_loopback_within_a_second() {
    // EIDs unique to this run, so concurrent tests advertising on loopback don't collide.
    let mut scenario = Scenario::builtin();
    for (i, a) in scenario.agents.iter_mut().enumerate() {
        a.endpoint_id = format!("os::012345-CLI{}X{i}", std::process::id());
    }
    let mut config = HomeConfig::new(scenario);
    config.advertise = Some(sim_home::advertise::Interfaces::Loopback);
    let home =
        tokio::time::timeout(Duration::from_secs(20), Home::start(config)).await.expect("in time").expect("starts");
    let t = std::time::Instant::now();
    let o = uspctl(vec!["discover".into(), "--interfaces".into(), "lo".into(), "--timeout".into(), "1".into()]).await;
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for a in home.agents() {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{}\t", a.endpoint_id)))
            .unwrap_or_else(|| panic!("{} not discovered within 1 s: {out}", a.endpoint_id));
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[1], a.friendly_name, "{line}");
        assert_eq!(cols[2], a.url, "{line}");
    }
    assert!(took < Duration::from_secs(5), "discover took {took:?}");
}
