//! TR-143 speed tests against a loopback HTTP server started here: the agent really
//! downloads and uploads the bytes, and reports them with TR-143 times; an unreachable
//! server gives an Error status in time, not a hang.

mod history;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use history::{client, get, home, next_completion, HttpServer, USER, WAIT};
use usp_client::{Client, NotifKind};
use usp_core::msg::OperationResp;

const DOWN: &str = "Device.IP.Diagnostics.DownloadDiagnostics()";
const UP: &str = "Device.IP.Diagnostics.UploadDiagnostics()";

/// Starts `command` and returns its output arguments from OperationComplete.
async fn run(
    c: &Client,
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    command: &str,
    args: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let resp = tokio::time::timeout(WAIT, c.operate(command, args, "speed")).await.expect("in time").expect("operate");
    match &resp.operation_results[0].operation_resp {
        OperationResp::ReqObjPath(p) => assert!(p.starts_with("Device.LocalAgent.Request."), "{p}"),
        other => panic!("an asynchronous command: {other:?}"),
    }
    let name = command.rsplit('.').next().expect("name");
    next_completion(rx, name).await.expect("output arguments")
}

/// ROMTime ≤ BOMTime ≤ EOMTime, all with microseconds.
fn check_times(out: &BTreeMap<String, String>) {
    let t: Vec<&str> = ["ROMTime", "BOMTime", "EOMTime"].iter().map(|k| out[*k].as_str()).collect();
    for v in &t {
        assert!(v.len() == "2026-12-04T19:49:06.123456Z".len() && v.ends_with('Z'), "{out:?}");
    }
    assert!(t[0] <= t[1] && t[1] <= t[2], "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_and_upload_move_real_bytes() {
    let server = HttpServer::start(Vec::new(), ("", "")).await;
    let home = home().await;
    let c = client(&home, "gateway", USER).await;
    let mut rx = c.notifications();
    tokio::time::timeout(WAIT, c.subscribe(NotifKind::OperationComplete, &["Device.IP.Diagnostics."]))
        .await
        .expect("in time")
        .expect("subscribe");
    let wan_before: u64 = get(&c, "Device.IP.Interface.1.Stats.BytesReceived").await.expect("wan").parse().expect("n");

    let out = run(&c, &mut rx, DOWN, &[("DownloadURL", &server.url("/bytes/3000000"))]).await;
    assert_eq!(out["Status"], "Complete", "{out:?}");
    assert_eq!(out["TestBytesReceived"], "3000000");
    assert!(out["TotalBytesReceived"].parse::<u64>().expect("n") > 3_000_000, "headers count too: {out:?}");
    assert!(out["TotalBytesSent"].parse::<u64>().expect("n") > 0);
    assert_eq!(out["IPAddressUsed"], "127.0.0.1");
    check_times(&out);
    let wan_after: u64 = get(&c, "Device.IP.Interface.1.Stats.BytesReceived").await.expect("wan").parse().expect("n");
    assert!(wan_after >= wan_before + 3_000_000, "the test's bytes count on the WAN interface");

    let out = run(&c, &mut rx, UP, &[("UploadURL", &server.url("/up")), ("TestFileLength", "2500000")]).await;
    assert_eq!(out["Status"], "Complete", "{out:?}");
    assert_eq!(out["TestBytesSent"], "2500000");
    assert_eq!(server.uploaded.load(Ordering::Relaxed), 2_500_000, "the server got every byte");
    check_times(&out);

    // Parallel connections, with per-connection results.
    let out = run(
        &c,
        &mut rx,
        DOWN,
        &[
            ("DownloadURL", &server.url("/bytes/100000")),
            ("NumberOfConnections", "3"),
            ("EnablePerConnectionResults", "true"),
        ],
    )
    .await;
    assert_eq!(out["TestBytesReceived"], "300000", "{out:?}");
    assert_eq!(out["PerConnectionResult.3.TestBytesReceived"], "100000", "{out:?}");
    assert!(!out.contains_key("PerConnectionResult.4.TestBytesReceived"));

    // Time-based: a slow server announcing 10 MB; the test stops after 1 s with what it got.
    let out =
        run(&c, &mut rx, DOWN, &[("DownloadURL", &server.url("/slow/10000000")), ("TimeBasedTestDuration", "1")]).await;
    assert_eq!(out["Status"], "Complete", "{out:?}");
    let got: u64 = out["TestBytesReceived"].parse().expect("n");
    assert!(got > 0 && got < 10_000_000, "{out:?}");
    check_times(&out);
    c.close().await;
    home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_statuses_not_hangs() {
    let server = HttpServer::start(vec![b'x'; 10_000], ("", "")).await;
    let home = home().await;
    let c = client(&home, "gateway", USER).await;
    let mut rx = c.notifications();
    tokio::time::timeout(WAIT, c.subscribe(NotifKind::OperationComplete, &["Device.IP.Diagnostics."]))
        .await
        .expect("in time")
        .expect("subscribe");
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let out = run(&c, &mut rx, DOWN, &[("DownloadURL", &format!("http://{closed}/x"))]).await;
    assert_eq!(out["Status"], "Error_InitConnectionFailed", "{out:?}");
    let out = run(&c, &mut rx, UP, &[("UploadURL", &format!("http://{closed}/x"))]).await;
    assert_eq!(out["Status"], "Error_InitConnectionFailed", "{out:?}");
    // A transfer cut in the middle, and an HTTP error.
    let out = run(&c, &mut rx, DOWN, &[("DownloadURL", &server.url("/broken/10000"))]).await;
    assert_eq!(out["Status"], "Error_TransferFailed", "{out:?}");
    let out = run(&c, &mut rx, DOWN, &[("DownloadURL", &server.url("/missing"))]).await;
    assert_eq!(out["Status"], "Error_TransferFailed", "{out:?}");
    let out = run(&c, &mut rx, DOWN, &[("DownloadURL", "http://nowhere.invalid/x")]).await;
    assert_eq!(out["Status"], "Error_CannotResolveHostName", "{out:?}");
    // Bad arguments fail at once.
    let resp = tokio::time::timeout(WAIT, c.operate(DOWN, &[("DownloadURL", "https://example.com/")], "k"))
        .await
        .expect("in time")
        .expect("operate");
    match &resp.operation_results[0].operation_resp {
        OperationResp::CmdFailure(f) => assert_eq!(f.err_code, 7027, "{f:?}"),
        other => panic!("{other:?}"),
    }
    c.close().await;
    home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_selection_picks_a_host_that_answers() {
    let server = HttpServer::start(Vec::new(), ("", "")).await;
    let home = home().await;
    let c = client(&home, "gateway", USER).await;
    let mut rx = c.notifications();
    tokio::time::timeout(WAIT, c.subscribe(NotifKind::OperationComplete, &["Device.IP.Diagnostics."]))
        .await
        .expect("in time")
        .expect("subscribe");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let live = server.addr.to_string();
    let hosts = format!("{closed},nowhere.invalid,{live}");
    let cmd = "Device.IP.Diagnostics.ServerSelectionDiagnostics()";
    let out = run(&c, &mut rx, cmd, &[("HostList", &hosts), ("NumberOfRepetitions", "2"), ("Timeout", "2000")]).await;
    assert_eq!(out["Status"], "Complete", "{out:?}");
    assert_eq!(out["FastestHost"], live, "{out:?}");
    let (min, max): (u64, u64) =
        (out["MinimumResponseTime"].parse().expect("n"), out["MaximumResponseTime"].parse().expect("n"));
    assert!(min <= max, "{out:?}");
    let out = run(&c, &mut rx, cmd, &[("HostList", &closed.to_string()), ("Timeout", "500")]).await;
    assert_eq!(out["Status"], "Error_Other", "nobody answers: {out:?}");
    let out = run(&c, &mut rx, cmd, &[("HostList", "nowhere.invalid")]).await;
    assert_eq!(out["Status"], "Error_CannotResolveHostName", "{out:?}");
    c.close().await;
    home.shutdown().await;
}
