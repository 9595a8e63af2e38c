//! Firmware: FirmwareImage.{i}.Download() fetches the image from a loopback HTTP server
//! started here, checks size and SHA-256 (a bad checksum is ValidationFailed, a cut
//! transfer DownloadFailed), reports TransferComplete!; Activate() restarts the agent on
//! it (connections closed, Boot! with FirmwareUpdated after the reconnection, the new
//! SoftwareVersion), and activating the other image switches back.

mod history;

use std::collections::BTreeMap;
use std::time::Duration;

use history::{client, get, home, next_completion, next_notification, HttpServer, USER, WAIT};
use usp_client::{Client, ConnectionState, NotifKind};
use usp_core::msg::{Notification, OperationResp};

const IMG2: &str = "Device.DeviceInfo.FirmwareImage.2.";

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Operate; `Ok(())` when it started asynchronously, else the failure code.
async fn start(c: &Client, command: &str, args: &[(&str, &str)]) -> Result<(), u32> {
    let resp = tokio::time::timeout(WAIT, c.operate(command, args, "fw")).await.expect("in time").expect("operate");
    match &resp.operation_results[0].operation_resp {
        OperationResp::ReqObjPath(_) => Ok(()),
        OperationResp::CmdFailure(f) => Err(f.err_code),
        other => panic!("{other:?}"),
    }
}

async fn transfer_complete(
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
) -> BTreeMap<String, String> {
    next_notification(rx, WAIT, |n| match n {
        Notification::Event(e) if &*e.event_name == "TransferComplete!" => Some(e.params.to_btree()),
        _ => None,
    })
    .await
}

fn download_args<'a>(url: &'a str, size: &'a str, sum: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("URL", url),
        ("AutoActivate", "false"),
        ("FileSize", size),
        ("CheckSumAlgorithm", "SHA-256"),
        ("CheckSum", sum),
        ("Username", "owner"),
        ("Password", "s3cret-pass"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_validate_activate_and_switch_back() {
    let mut image = b"usp-sim-home-firmware 7.0.0\n".to_vec();
    image.extend((0..200_000u32).map(|i| (i % 251) as u8));
    let (size, sum) = (image.len().to_string(), sha256_hex(&image));
    let server = HttpServer::start(image.clone(), ("owner", "s3cret-pass")).await;
    let home = home().await;
    let c = client(&home, "gateway", USER).await;
    let mut rx = c.notifications();
    for (kind, refs) in [
        (NotifKind::Event, "Device.LocalAgent.TransferComplete!"),
        (NotifKind::OperationComplete, "Device.DeviceInfo.FirmwareImage.*.Download()"),
    ] {
        tokio::time::timeout(WAIT, c.subscribe(kind, &[refs])).await.expect("in time").expect("subscribe");
    }
    // Boot! comes after a restart: only a persistent subscription survives it.
    tokio::time::timeout(
        WAIT,
        c.add(
            "Device.LocalAgent.Subscription.",
            &[
                ("ID", "boot"),
                ("Enable", "true"),
                ("NotifType", "Event"),
                ("ReferenceList", "Device.Boot!"),
                ("Persistent", "true"),
            ],
        ),
    )
    .await
    .expect("in time")
    .expect("boot subscription");
    assert_eq!(get(&c, "Device.DeviceInfo.SoftwareVersion").await.as_deref(), Some("6.2.1"));
    let secret = server.url("/secret");

    // A controller the gateway does not trust may not run it at all.
    let stranger = client(&home, "gateway", "self::history-stranger").await;
    let e = tokio::time::timeout(
        WAIT,
        stranger.operate(&format!("{IMG2}Download()"), &download_args(&secret, &size, &sum), "x"),
    )
    .await
    .expect("in time")
    .expect_err("refused");
    assert!(matches!(&e, usp_client::ClientError::Usp(u) if u.code == 7006), "{e}");
    stranger.close().await;

    // Not over the active image.
    let active = download_args(&secret, &size, &sum);
    assert_eq!(start(&c, "Device.DeviceInfo.FirmwareImage.1.Download()", &active).await, Err(7022));
    // CheckSum and CheckSumAlgorithm are optional, but not one without the other.
    let mut half = download_args(&secret, &size, &sum);
    half.retain(|(k, _)| *k != "CheckSumAlgorithm");
    assert_eq!(start(&c, &format!("{IMG2}Download()"), &half).await, Err(7027));

    // A wrong checksum: ValidationFailed.
    let wrong = sha256_hex(b"something else");
    start(&c, &format!("{IMG2}Download()"), &download_args(&secret, &size, &wrong)).await.expect("starts");
    let tc = transfer_complete(&mut rx).await;
    assert_eq!(tc["FaultCode"], "7022", "{tc:?}");
    assert!(tc["FaultString"].contains("checksum"), "{tc:?}");
    assert_eq!(tc["Affected"], "Device.DeviceInfo.FirmwareImage.2");
    assert_eq!(tc["TransferType"], "Download");
    assert_eq!(tc["Requestor"], "Device.LocalAgent.Controller.3");
    assert!(next_completion(&mut rx, "Download()").await.is_err());
    assert_eq!(get(&c, &format!("{IMG2}Status")).await.as_deref(), Some("ValidationFailed"));
    assert_eq!(get(&c, &format!("{IMG2}Available")).await.as_deref(), Some("false"));

    // A transfer cut in the middle: DownloadFailed.
    let cut = server.url(&format!("/broken/{size}"));
    start(&c, &format!("{IMG2}Download()"), &download_args(&cut, &size, &sum)).await.expect("starts");
    let tc = transfer_complete(&mut rx).await;
    assert!(tc["FaultString"].starts_with("DownloadFailed"), "{tc:?}");
    assert!(next_completion(&mut rx, "Download()").await.is_err());
    assert_eq!(get(&c, &format!("{IMG2}Status")).await.as_deref(), Some("DownloadFailed"));

    // Wrong credentials: DownloadFailed, and the password is nowhere in what the agent says.
    let mut bad = download_args(&secret, &size, &sum);
    bad[6].1 = "not-it-password";
    start(&c, &format!("{IMG2}Download()"), &bad).await.expect("starts");
    let tc = transfer_complete(&mut rx).await;
    assert!(tc["FaultString"].contains("401"), "{tc:?}");
    assert!(!format!("{tc:?}").contains("not-it-password"));
    assert!(next_completion(&mut rx, "Download()").await.is_err());

    // A download canceled half-way (a slow server): DownloadFailed, no TransferComplete wait.
    let slow = server.url("/slow/1000000");
    let resp = tokio::time::timeout(
        WAIT,
        c.operate(&format!("{IMG2}Download()"), &download_args(&slow, "1000000", &sum), "fw-slow"),
    )
    .await
    .expect("in time")
    .expect("operate");
    let OperationResp::ReqObjPath(request) = &resp.operation_results[0].operation_resp else { panic!("{resp:?}") };
    assert_eq!(get(&c, &format!("{IMG2}Status")).await.as_deref(), Some("Downloading"));
    tokio::time::timeout(WAIT, c.operate(&format!("{request}Cancel()"), &[], "cancel"))
        .await
        .expect("in time")
        .expect("cancel");
    assert_eq!(next_completion(&mut rx, "Download()").await.map_err(|e| e.0), Err(7023));
    assert_eq!(get(&c, &format!("{IMG2}Status")).await.as_deref(), Some("DownloadFailed"));

    // The right file.
    start(&c, &format!("{IMG2}Download()"), &download_args(&secret, &size, &sum)).await.expect("starts");
    let tc = transfer_complete(&mut rx).await;
    assert_eq!(tc["FaultCode"], "0", "{tc:?}");
    assert_eq!(next_completion(&mut rx, "Download()").await, Ok(BTreeMap::new()));
    assert_eq!(get(&c, &format!("{IMG2}Version")).await.as_deref(), Some("7.0.0"));
    assert_eq!(get(&c, &format!("{IMG2}Status")).await.as_deref(), Some("Available"));
    assert_eq!(get(&c, &format!("{IMG2}Available")).await.as_deref(), Some("true"));
    assert_eq!(get(&c, "Device.DeviceInfo.SoftwareVersion").await.as_deref(), Some("6.2.1"), "not active yet");
    let heads = server.heads.lock().expect("lock").join("");
    assert!(heads.contains("authorization: Basic"), "credentials went to the server");

    // Activate: the agent restarts on 7.0.0.
    restart_on(&c, &mut rx, "Device.DeviceInfo.FirmwareImage.2", "7.0.0").await;
    // Switch back.
    restart_on(&c, &mut rx, "Device.DeviceInfo.FirmwareImage.1", "6.2.1").await;
    c.close().await;
    home.shutdown().await;
}

/// Activate() of `image`: the connection drops, the client reconnects, Boot! says the
/// firmware changed, the agent runs `version`.
async fn restart_on(
    c: &Client,
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    image: &str,
    version: &str,
) {
    let mut state = c.state();
    start(c, &format!("{image}.Activate()"), &[]).await.expect("activation starts");
    tokio::time::timeout(WAIT, state.wait_for(|s| !matches!(s, ConnectionState::Connected { .. })))
        .await
        .expect("the connection drops in time")
        .expect("state");
    let boot = next_notification(rx, WAIT, |n| match n {
        Notification::Event(e) if &*e.event_name == "Boot!" => Some(e.params.to_btree()),
        _ => None,
    })
    .await;
    assert_eq!(boot["FirmwareUpdated"], "true", "{boot:?}");
    assert_eq!(boot["Cause"], "RemoteReboot", "{boot:?}");
    tokio::time::timeout(WAIT, state.wait_for(|s| matches!(s, ConnectionState::Connected { .. })))
        .await
        .expect("reconnected")
        .expect("state");
    assert_eq!(get(c, "Device.DeviceInfo.SoftwareVersion").await.as_deref(), Some(version));
    assert_eq!(get(c, "Device.DeviceInfo.ActiveFirmwareImage").await.as_deref(), Some(image));
    let up: u64 = get(c, "Device.DeviceInfo.UpTime").await.expect("uptime").parse().expect("n");
    assert!(up < 10, "a fresh boot: {up}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
