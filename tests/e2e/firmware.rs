//! "Firmware update from a file" in the app window: an image file written in a scratch folder,
//! chosen in the system's own file dialog (GTK's, a window of its own, driven by keyboard with
//! xdotool as a person would: `xwindow.rs`) from the gateway's Firmware card, sent (the app serves
//! it once, the device checks size and SHA-256), the restart confirmed; the card then shows the
//! new version, and `uspctl get Device.DeviceInfo.SoftwareVersion` on the agent agrees. Before
//! that: the dialog cancelled (Escape) changes nothing, and an empty file chosen is refused in
//! words.

use std::time::Duration;

use crate::harness::{Scratch, SimHome, Step, Ui, Uspctl};
use crate::{xwindow, GATEWAY};

/// The version the image carries (the gateway runs 6.2.1).
const NEW_VERSION: &str = "7.1.0";
/// An update and a restart take longer than one click's wait.
const LONG: Duration = Duration::from_secs(120);
/// The file dialog's title (`src-tauri/src/pick.rs`).
const DIALOG: &str = "Choose the firmware image";
/// The longest the dialog may take to open or close.
const DIALOG_WAIT: Duration = Duration::from_secs(20);

pub(crate) async fn firmware_update(ui: &Ui, home: &SimHome, uspctl: &Uspctl) -> Step<()> {
    let scratch = Scratch::new(&ui.out, "firmware");
    let file = scratch.0.join(format!("gw-{NEW_VERSION}.bin"));
    let mut image = format!("usp-sim-home-firmware {NEW_VERSION}\n").into_bytes();
    image.extend((0..2_000_000u32).map(|i| (i.wrapping_mul(13) % 251) as u8));
    std::fs::write(&file, image).map_err(|e| format!("the image file: {e}"))?;

    ui.open("device").await?;
    ui.set_value("device-agent", GATEWAY).await?;
    ui.wait_text("firmware-running", "the gateway's firmware", |t| t == "6.2.1").await?;
    let empty = scratch.0.join("empty.bin");
    std::fs::write(&empty, b"").map_err(|e| format!("the empty file: {e}"))?;
    let size = std::fs::metadata(&file).map_err(|e| format!("the image file: {e}"))?.len();

    // Cancelled: nothing changes.
    let dialog = open_dialog(ui).await?;
    xwindow::screenshot(&ui.out, "firmware-dialog-open")?;
    xwindow::focus(&dialog)?;
    xwindow::key("Escape")?;
    xwindow::wait_closed(DIALOG, DIALOG_WAIT).await?;
    ui.wait_text("firmware-choose", "the button after the dialog closed", |t| t == "Choose file…").await?;
    for id in ["firmware-chosen", "firmware-updated"] {
        if ui.exists(id).await {
            return Err(format!("#{id} shows after the dialog was cancelled: {:?}", ui.text(id).await));
        }
    }
    if ui.attr("firmware-send", "disabled").await?.is_none() {
        return Err("Send is enabled after the dialog was cancelled, with no file".into());
    }

    // An empty file: refused in words, at once.
    choose(ui, &empty, None).await?;
    let refused = ui.wait_text("firmware-updated", "the empty file refused", |t| !t.trim().is_empty()).await?;
    if !refused.contains("empty.bin") || !refused.contains("not a firmware image") {
        return Err(format!("an empty file chosen showed {refused:?}"));
    }
    if ui.exists("firmware-chosen").await {
        return Err("the empty file shows as chosen".into());
    }

    // The image, by its full path in the dialog's location field.
    choose(ui, &file, Some("firmware-dialog-path")).await?;
    let chosen = ui.wait_text("firmware-chosen", "the chosen image on the card", |t| !t.trim().is_empty()).await?;
    let name = format!("gw-{NEW_VERSION}.bin");
    if !chosen.contains(&name) || !chosen.contains("2.0 MB") || !chosen.contains(&file.display().to_string()) {
        return Err(format!("the card shows {chosen:?} for {name} of 2.0 MB"));
    }
    if ui.attr("firmware-chosen", "data-size").await?.as_deref() != Some(size.to_string().as_str()) {
        return Err(format!("the card gives another size than {size} bytes"));
    }
    if ui.exists("firmware-updated").await {
        return Err("the empty file's error still shows after a good choice".into());
    }
    ui.script("document.getElementById('firmware-chosen').scrollIntoView({ block: 'center' });", vec![]).await?;
    ui.shot("device-firmware-chosen").await?;
    ui.click("firmware-send").await?;
    let ready = ui
        .wait_text_within(LONG, "firmware-updated", "the image received and checked", |t| !t.trim().is_empty())
        .await?;
    if !ready.contains(&format!("received firmware {NEW_VERSION}")) {
        return Err(format!("the update showed {ready:?}"));
    }
    let before = uspctl.get(home.url(GATEWAY), &["Device.DeviceInfo.SoftwareVersion"])?;
    if before.get("Device.DeviceInfo.SoftwareVersion").map(String::as_str) != Some("6.2.1") {
        return Err(format!("the gateway changed firmware before the confirmation: {before:?}"));
    }
    ui.find("firmware-question").await.map_err(|e| format!("no confirmation before the restart: {e}"))?;
    ui.script("document.getElementById('firmware-question').scrollIntoView({ block: 'center' });", vec![]).await?;
    ui.shot("device-firmware-ready").await?;
    ui.click("firmware-activate").await?;
    let result = ui
        .wait_text_within(LONG, "firmware-result", "the gateway back on the new firmware", |t| !t.trim().is_empty())
        .await?;
    if !result.contains(NEW_VERSION) {
        return Err(format!("after the restart the card showed {result:?}"));
    }
    ui.wait_text_within(LONG, "firmware-running", "the new version on the card", |t| t == NEW_VERSION).await?;
    let after = uspctl.get(home.url(GATEWAY), &["Device.DeviceInfo.SoftwareVersion"])?;
    if after.get("Device.DeviceInfo.SoftwareVersion").map(String::as_str) != Some(NEW_VERSION) {
        return Err(format!("uspctl get says {after:?}, not {NEW_VERSION}"));
    }
    ui.script("document.getElementById('firmware-result').scrollIntoView({ block: 'center' });", vec![]).await?;
    ui.shot("device-firmware-updated").await?;
    Ok(())
}

/// Clicks "Choose file…" and waits for the system's dialog; its X window.
async fn open_dialog(ui: &Ui) -> Step<String> {
    if !xwindow::windows(DIALOG).is_empty() {
        return Err("a file dialog shows before the click".into());
    }
    ui.click("firmware-choose").await?;
    xwindow::wait_window(DIALOG, DIALOG_WAIT).await
}

/// Chooses `file` in the dialog as a person would with the keyboard: Ctrl+L for the location
/// field, the full path, Return.
/// `shot`: a screenshot of the screen with the path typed, under this name.
async fn choose(ui: &Ui, file: &std::path::Path, shot: Option<&str>) -> Step<()> {
    let dialog = open_dialog(ui).await?;
    xwindow::focus(&dialog)?;
    xwindow::key("ctrl+l")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    xwindow::type_text(&file.display().to_string())?;
    // The dialog looks the name up before it takes Return (a Return too early does nothing).
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Some(name) = shot {
        xwindow::screenshot(&ui.out, name)?;
    }
    for _ in 0..3 {
        if xwindow::windows(DIALOG).is_empty() {
            return Ok(());
        }
        xwindow::focus(&dialog)?;
        xwindow::key("Return")?;
        if xwindow::wait_closed(DIALOG, Duration::from_secs(5)).await.is_ok() {
            return Ok(());
        }
    }
    xwindow::screenshot(&ui.out, "firmware-dialog-stuck")?;
    Err(format!("the file dialog did not take {}", file.display()))
}
