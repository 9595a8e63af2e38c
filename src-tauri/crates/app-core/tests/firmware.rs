//! Firmware through `Home`, against the simulated gateway over real WebSockets on loopback:
//! an update from an image file (served once by the app, Download() with size and SHA-256),
//! the restart on it after the separate confirmation, switching back, a corrupted transfer
//! refused by the device's checksum, a transfer cut in the middle reported, and a sign-in
//! without the right getting plain words.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use app_core::firmware::{tamper_next_transfer_for_tests, TestTamper};
use app_core::home::Home;
use common::{bounded, is_untrusted, pair, wait_home, GW_PASSCODE};
use ipc_types::{code, AgentArgs, FirmwareActivate, FirmwareUpdate, LiveEvent};
use sim_home::scenario::Scenario;

const IMG1: &str = "Device.DeviceInfo.FirmwareImage.1";
const IMG2: &str = "Device.DeviceInfo.FirmwareImage.2";
/// An update and a restart may take longer than one request.
const LONG: Duration = Duration::from_secs(90);

/// The simulated gateway alone (own Endpoint ID) and the app connected to it.
async fn gateway_home(tag: &str, dir: &Path) -> (sim_home::Home, Home, String) {
    let mut scenario = Scenario::builtin();
    scenario.agents.retain(|a| a.key == "gateway");
    for a in &mut scenario.agents {
        a.endpoint_id = format!("{}-{tag}", a.endpoint_id);
    }
    let sim = sim_home::Home::start(sim_home::HomeConfig::new(scenario)).await.expect("the simulated home");
    let gw = sim.agent("gateway").expect("gateway");
    let eid = gw.endpoint_id.as_str().to_owned();
    let home = common::app(dir, None, vec![(gw.url.clone(), Some(eid.clone()))]).await;
    wait_home(&home, "the gateway connected", |v| is_untrusted(v, &eid)).await;
    (sim, home, eid)
}

/// An image of the simulated firmware, `version`, about 300 KB.
fn image_file(dir: &Path, name: &str, version: &str) -> PathBuf {
    let mut bytes = format!("usp-sim-home-firmware {version}\n").into_bytes();
    bytes.extend((0..300_000u32).map(|i| (i.wrapping_mul(7) % 251) as u8));
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("image file");
    path
}

async fn running(sim: &sim_home::Home) -> (Option<String>, Option<String>) {
    let gw = sim.agent("gateway").expect("gateway");
    (gw.get("Device.DeviceInfo.SoftwareVersion").await, gw.get("Device.DeviceInfo.ActiveFirmwareImage").await)
}

fn update(eid: &str, file: &Path) -> FirmwareUpdate {
    FirmwareUpdate { agent: eid.to_owned(), file: file.display().to_string() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmware_update_from_a_file_restart_and_switch_back() {
    let dir = tempfile::tempdir().expect("dir");
    let (sim, home, eid) = gateway_home("fw-a", dir.path()).await;
    bounded("pairing", pair(&home, &eid, GW_PASSCODE)).await.expect("paired");
    let agent = AgentArgs { agent: eid.clone() };

    let view = bounded("firmware", home.firmware(agent.clone())).await.expect("view");
    assert_eq!(view.running, "6.2.1");
    assert!(view.can_update, "{view:#?}");
    assert_eq!(view.images.len(), 2);
    assert!(view.images[0].active && view.images[0].state == "In use", "{view:#?}");
    assert_eq!((view.images[1].version.as_str(), view.images[1].state.as_str()), ("6.1.4", "Ready"));

    // Not an image file at all.
    let e = home.firmware_update(FirmwareUpdate { agent: eid.clone(), file: "relative.bin".into() }).await;
    assert_eq!(e.expect_err("relative").code(), code::INVALID_INPUT);
    let missing = dir.path().join("missing.bin");
    assert_eq!(home.firmware_update(update(&eid, &missing)).await.expect_err("missing").code(), code::INVALID_INPUT);

    let file = image_file(dir.path(), "gw-7.0.0.bin", "7.0.0");

    // A corrupted transfer: the device's checksum refuses it; nothing changes on the device.
    tamper_next_transfer_for_tests(&file, TestTamper::Corrupt);
    let e = tokio::time::timeout(LONG, home.firmware_update(update(&eid, &file))).await.expect("in time");
    let e = e.expect_err("a bad checksum is refused");
    assert_eq!(e.code(), code::REFUSED);
    let words = e.to_string();
    assert!(words.contains("checked the image and refused it") && words.contains("checksum"), "{words}");
    assert!(words.contains("still runs 6.2.1"), "{words}");
    assert_eq!(running(&sim).await, (Some("6.2.1".into()), Some(IMG1.into())));

    // A transfer cut in the middle: reported as such.
    tamper_next_transfer_for_tests(&file, TestTamper::CutAfter(100_000));
    let e = tokio::time::timeout(LONG, home.firmware_update(update(&eid, &file))).await.expect("in time");
    let words = e.expect_err("a cut transfer fails").to_string();
    assert!(words.contains("broke off after 0.1 MB of 0.3 MB"), "{words}");
    assert!(words.contains("still runs 6.2.1"), "{words}");
    assert_eq!(running(&sim).await, (Some("6.2.1".into()), Some(IMG1.into())));
    let view = bounded("firmware", home.firmware(agent.clone())).await.expect("view");
    assert_eq!(view.images[1].state, "Empty: the last transfer failed", "{view:#?}");

    // The whole file: the image waits on slot 2; the device still runs 6.2.1.
    let mut events = home.events();
    let done = tokio::time::timeout(LONG, home.firmware_update(update(&eid, &file))).await.expect("in time");
    let done = done.expect("updated");
    assert_eq!((done.image.as_str(), done.version.as_str()), (IMG2, "7.0.0"));
    assert!(done.message.contains("received firmware 7.0.0") && done.message.contains("still runs 6.2.1"), "{done:?}");
    assert_eq!(done.view.images[1].state, "Ready");
    assert_eq!(done.view.images[1].name, "gw-7.0.0.bin");
    let mut progress = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let LiveEvent::PingProgress { message, .. } = e {
            progress.push(message);
        }
    }
    assert!(progress.iter().any(|m| m.starts_with("Sending the image")), "{progress:?}");
    assert_eq!(running(&sim).await, (Some("6.2.1".into()), Some(IMG1.into())), "not before the confirmation");

    // The confirmed restart: the device comes back on 7.0.0.
    let to = |image: &str| FirmwareActivate { agent: eid.clone(), image: image.to_owned() };
    let view = tokio::time::timeout(LONG, home.firmware_activate(to(IMG2))).await.expect("in time").expect("restarted");
    assert_eq!(view.running, "7.0.0");
    assert!(view.images[1].active && !view.images[0].active, "{view:#?}");
    assert_eq!(running(&sim).await, (Some("7.0.0".into()), Some(IMG2.into())));
    assert_eq!(home.firmware_activate(to(IMG2)).await.expect_err("in use").code(), code::INVALID_INPUT);

    // Switch back to the previous image.
    let view = tokio::time::timeout(LONG, home.firmware_activate(to(IMG1))).await.expect("in time").expect("back");
    assert_eq!(view.running, "6.2.1");
    assert_eq!(running(&sim).await, (Some("6.2.1".into()), Some(IMG1.into())));
    let e = home.firmware_activate(to("Device.DeviceInfo.FirmwareImage.*")).await.expect_err("a search path");
    assert_eq!(e.code(), code::INVALID_INPUT);
    home.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_that_may_not_update_firmware_is_told_so() {
    let dir = tempfile::tempdir().expect("dir");
    // Not paired: the gateway gives this app its Untrusted role (DeviceInfo read-only).
    let (sim, home, eid) = gateway_home("fw-b", dir.path()).await;
    let view = bounded("firmware", home.firmware(AgentArgs { agent: eid.clone() })).await.expect("view");
    assert_eq!(view.images.len(), 2, "the images are readable: {view:#?}");
    // Its role lists Download() (readable) but may not run it: only the attempt tells.
    let wording = "may not update its firmware; use the device's own app or admin page.";
    let file = image_file(dir.path(), "gw-7.0.0.bin", "7.0.0");
    let e = bounded("update", home.firmware_update(update(&eid, &file))).await.expect_err("not allowed");
    assert_eq!(e.code(), code::PERMISSION);
    assert!(e.to_string().starts_with("Your sign-in on ") && e.to_string().ends_with(wording), "{e}");
    let e = bounded("activate", home.firmware_activate(FirmwareActivate { agent: eid.clone(), image: IMG2.into() }))
        .await
        .expect_err("not allowed");
    assert_eq!(e.code(), code::PERMISSION, "{e}");
    assert_eq!(running(&sim).await, (Some("6.2.1".into()), Some(IMG1.into())));
    home.shutdown().await;
    sim.shutdown().await;
}

/// What the Firmware card shows for a file chosen in the system's file dialog, and the plain
/// words for files it can't send (the same checks as the update's).
#[tokio::test]
async fn a_chosen_image_file_is_described_or_refused_in_words() {
    use app_core::firmware::{image_file as chosen, MAX_FILE};
    let dir = tempfile::tempdir().expect("dir");
    let file = image_file(dir.path(), "gw-7.0.0.bin", "7.0.0");
    let f = chosen(&file).await.expect("an image");
    assert_eq!((f.name.as_str(), f.size_text.as_str()), ("gw-7.0.0.bin", "0.3 MB"));
    assert_eq!(f.path, file.display().to_string());
    assert_eq!(f.size, std::fs::metadata(&file).expect("meta").len());

    let words = |e: app_core::home::AppError| {
        assert_eq!(e.code(), code::INVALID_INPUT, "{e}");
        e.to_string()
    };
    let w = words(chosen(Path::new("gw.bin")).await.expect_err("relative"));
    assert!(w.contains("full path"), "{w}");
    let w = words(chosen(&dir.path().join("missing.bin")).await.expect_err("missing"));
    assert!(w.contains("There is no file") && w.contains("missing.bin"), "{w}");
    let w = words(chosen(dir.path()).await.expect_err("a folder"));
    assert!(w.contains("is a folder"), "{w}");
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").expect("empty file");
    let w = words(chosen(&empty).await.expect_err("empty"));
    assert!(w.contains("not a firmware image") && w.contains("1 byte"), "{w}");
    // Larger than an image can be: a sparse file, no disk used.
    let huge = dir.path().join("huge.bin");
    std::fs::File::create(&huge).expect("huge").set_len(MAX_FILE + 1).expect("sparse");
    let w = words(chosen(&huge).await.expect_err("too large"));
    assert!(w.contains("not a firmware image") && w.contains("537 MB"), "{w}");
    // A file this app may not read (root reads everything: then only the other checks count).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        if std::fs::File::open(&file).is_err() {
            let w = words(chosen(&file).await.expect_err("unreadable"));
            assert!(w.contains("not allowed to read"), "{w}");
        }
    }
}
