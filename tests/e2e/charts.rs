//! The charts in the app window, with what the app collected from the live simulated home: a
//! device's usage, online periods and WiFi signal (Devices page), the home's total (home page)
//! and the speed test history (Device page); each at 1280x800 and 360x800, in the light and the
//! dark theme (the app's own setting), with no sideways scrolling on the phone.

use std::time::Instant;

use crate::harness::{Step, Ui};

/// How long a device's first usage may take to show. Usage is the growth of the device's
/// counters between two samples (asked every 2 s in this run), and the counters grow only while
/// the device is online: usp-sim-home's life loop (seeded, a step every 200 ms) takes hosts
/// offline and back at random, a given host about every 30 s on average. With the scenario's
/// seed, Toms-Laptop goes offline about 1.5 s after the simulated home starts and comes back
/// about 44 s after it (measured against usp-sim-home, app-core's own loop: its counter stood
/// still at 5,101,071,097 bytes with `Active` false from 2 s to 42 s, then grew). So the first
/// usage shows some 45 s after the home started, whenever the app was paired: the wait is the
/// simulated laptop being away, not the app (which records an offline device's nothing as
/// nothing). Bounded with room for a loaded machine, where the life loop's steps come late.
const FIRST_USAGE_WITHIN: std::time::Duration = std::time::Duration::from_secs(75);

/// Opens a device's history on the Devices page (`id`: its MAC as a DOM id) and waits until its
/// usage shows what was collected from the live home, and it shows online now with a signal.
/// The charts read the history again whenever it grows (a live event), so these waits end
/// as soon as the data is there (see [`FIRST_USAGE_WITHIN`] for why the first may take long).
pub async fn open_device_history(ui: &Ui, id: &str) -> Step<()> {
    let toggle = format!("usage-toggle-{id}");
    let t = Instant::now();
    let lap = |what: &str| eprintln!("e2e   device history: {what} at {:4.1} s", t.elapsed().as_secs_f64());
    ui.open("devices").await?;
    if ui.attr(&toggle, "aria-expanded").await?.as_deref() != Some("true") {
        ui.click(&toggle).await?;
    }
    let limit = crate::harness::patience().max(FIRST_USAGE_WITHIN);
    ui.wait_text_within(limit, &format!("usage-total-{id}"), "usage collected from the live home", |t| {
        t.starts_with('↓') && !t.starts_with("↓ 0 B down")
    })
    .await?;
    ui.find(&format!("usage-chart-{id}")).await?;
    lap("usage");
    ui.wait_text(&format!("last-seen-{id}"), "the device online now", |t| t == "Online now").await?;
    ui.find(&format!("online-chart-{id}")).await?;
    lap("online");
    ui.find(&format!("signal-chart-{id}")).await?;
    lap("signal");
    Ok(())
}

/// Scrolls so the element `id` starts at the top of the window, and dismisses any notice that
/// would cover the picture.
pub async fn show(ui: &Ui, id: &str) -> Step<()> {
    let done = ui
        .script(
            "const e = document.getElementById(arguments[0]);
             if (!e) return false;
             e.scrollIntoView({ block: 'start' });
             window.scrollBy(0, -12);
             const x = document.querySelector('#notifications button:not([hidden])');
             if (x) x.click();
             return true;",
            vec![id.into()],
        )
        .await?;
    if done != serde_json::Value::Bool(true) {
        return Err(format!("#{id} is not on the page"));
    }
    Ok(())
}

/// The app's theme setting (Settings page): `light`, `dark` or `system`; waits until the page
/// shows it.
async fn theme(ui: &Ui, theme: &str) -> Step<()> {
    ui.open("settings").await?;
    // A click by script: at phone size the radio may sit under the navigation bar.
    ui.find(&format!("theme-{theme}")).await?;
    ui.js_click(&format!("theme-{theme}")).await?;
    let want = if theme == "system" { serde_json::Value::Null } else { theme.into() };
    let want = &want;
    ui.until(&format!("the {theme} theme"), || async move {
        let now = ui.script("return document.documentElement.getAttribute('data-theme');", vec![]).await.ok()?;
        (now == *want).then_some(())
    })
    .await
}

async fn no_sideways_scroll(ui: &Ui, what: &str) -> Step<()> {
    let overflow = ui
        .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
        .await?;
    if overflow.as_i64().unwrap_or(0) > 1 {
        return Err(format!("{what} scrolls sideways at 360px: {overflow}px too wide"));
    }
    Ok(())
}

/// Screenshots of every chart at both sizes and in both themes: `charts-<what>-<size>-<theme>`.
/// Expects a speed test in the history (the speed test step) and `id`'s device online.
pub async fn every_chart(ui: &Ui, id: &str) -> Step<()> {
    for (width, size) in [(1280, "desktop"), (360, "phone")] {
        ui.resize(width, 800).await?;
        for mode in ["light", "dark"] {
            let t = Instant::now();
            theme(ui, mode).await?;
            open_device_history(ui, id).await?;
            show(ui, &format!("device-{id}")).await?;
            ui.shot(&format!("charts-device-{size}-{mode}")).await?;
            if size == "phone" {
                no_sideways_scroll(ui, "the device's charts").await?;
                // Usage, then online and signal below it: a second picture.
                show(ui, &format!("history-{id}")).await?;
                ui.shot(&format!("charts-device-history-{size}-{mode}")).await?;
            }
            ui.open("home").await?;
            ui.wait_text("usage-total-home", "the home's total usage", |t| {
                t.starts_with('↓') && !t.starts_with("↓ 0 B down")
            })
            .await?;
            ui.find("usage-chart-home").await?;
            show(ui, "home-usage").await?;
            ui.shot(&format!("charts-home-{size}-{mode}")).await?;
            if size == "phone" {
                no_sideways_scroll(ui, "the home's usage chart").await?;
            }
            ui.open("device").await?;
            ui.find("speedtest-chart").await?;
            show(ui, "speedtest").await?;
            ui.shot(&format!("charts-speed-test-{size}-{mode}")).await?;
            if size == "phone" {
                no_sideways_scroll(ui, "the speed test chart").await?;
            }
            eprintln!("e2e charts at {size} in {mode}: {:4.1} s", t.elapsed().as_secs_f64());
        }
    }
    theme(ui, "system").await?;
    ui.resize(1280, 800).await
}
