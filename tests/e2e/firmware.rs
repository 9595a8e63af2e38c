//! "Firmware update from a file" in the app window: an image file written in a scratch folder,
//! its path typed into the gateway's Firmware card, sent (the app serves it once, the device
//! checks size and SHA-256), the restart confirmed; the card then shows the new version, and
//! `uspctl get Device.DeviceInfo.SoftwareVersion` on the agent agrees.

use std::time::Duration;

use crate::harness::{Scratch, SimHome, Step, Ui, Uspctl};
use crate::GATEWAY;

/// The version the image carries (the gateway runs 6.2.1).
const NEW_VERSION: &str = "7.1.0";
/// An update and a restart take longer than one click's wait.
const LONG: Duration = Duration::from_secs(120);

pub(crate) async fn firmware_update(ui: &Ui, home: &SimHome, uspctl: &Uspctl) -> Step<()> {
    let scratch = Scratch::new(&ui.out, "firmware");
    let file = scratch.0.join(format!("gw-{NEW_VERSION}.bin"));
    let mut image = format!("usp-sim-home-firmware {NEW_VERSION}\n").into_bytes();
    image.extend((0..2_000_000u32).map(|i| (i.wrapping_mul(13) % 251) as u8));
    std::fs::write(&file, image).map_err(|e| format!("the image file: {e}"))?;

    ui.open("device").await?;
    ui.set_value("device-agent", GATEWAY).await?;
    ui.wait_text("firmware-running", "the gateway's firmware", |t| t == "6.2.1").await?;
    ui.type_into("firmware-file", &file.display().to_string()).await?;
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
