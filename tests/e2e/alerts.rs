//! Alerts in the window: the Settings card turns the slow speed test alert on at a level no
//! loopback test reaches, a speed test run from the Device page then shows in "Recent alerts"
//! (with the new device of the live-join step before it), and a device is followed from its row
//! on the Devices page (*Follow*: "tell me when it arrives or leaves"), which the card then lists.

use ipc_types::dom_id;

use crate::harness::{Step, Ui};

/// The alerts step; after `speed_test` (the test server is set) and `live_join` (a visitor joined).
pub async fn alerts(ui: &Ui) -> Step<()> {
    ui.open("settings").await?;
    ui.type_into("alert-slow-mbps", "100000").await?;
    ui.click("alerts-save").await?;
    ui.wait_text("alerts-save", "the alert settings saved", |t| t == "Save").await?;
    ui.open("device").await?;
    ui.click("speedtest-run").await?;
    ui.wait_text("speedtest-result", "the speed test's result", |t| t.contains("Mbit/s down")).await?;

    ui.open("devices").await?;
    let anna = format!("watch-{}", dom_id(crate::BEDTIME_MAC));
    ui.click(&anna).await?;
    ui.wait_attr(&anna, "aria-pressed", "true").await?;

    ui.open("settings").await?;
    let recent = ui
        .wait_text("alerts-recent", "the slow speed test in the recent alerts", |t| t.contains("Slow internet"))
        .await?;
    if !recent.contains("joined your home network") {
        return Err(format!("the visitor that joined is not among the recent alerts: {recent:?}"));
    }
    ui.wait_text("alert-watched", "the followed device listed", |t| t.starts_with("You follow:")).await?;
    ui.script("document.getElementById('alerts').scrollIntoView({ block: 'start' });", vec![]).await?;
    ui.shot("settings-alerts").await?;
    Ok(())
}
