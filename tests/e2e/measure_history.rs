//! Memory of the app with a full usage history (part of the `measure` target): the app started
//! on a data folder whose history holds two years of 200 devices (made by `usp-history-fill`,
//! which scripts/measure.sh runs once; `USP_E2E_HISTORY` names its folder), with the simulated
//! home running and its gateway paired, and one device's usage chart opened on today, 7 days and 30 days (so the chart
//! queries run on that history; an open chart reads it again every 5 s). Prints `name value unit`
//! lines; asserts nothing about the numbers.

use std::path::Path;
use std::time::Duration;

use crate::harness::{app_env, app_pid, rss_kib, status_kib, Driver, Paths, Scratch, SimHome, Step, Ui};

/// A device of the simulated home that the filled history holds too (scripts/measure.sh gives
/// it to `usp-history-fill` first).
pub const CHART_MAC: &str = "3C:22:FB:50:60:03";

/// The simulated gateway and the passcode on its label (paired, so its devices are listed).
const GATEWAY: (&str, &str) = ("os::012345-GW0001", "482913");

/// Starts the app on a copy of the history in `filled` and prints its memory.
pub async fn history_memory(paths: &Paths, filled: &Path) -> Step<()> {
    // usp_history::FILE_NAME (this crate does not depend on the store).
    let file = "history.sqlite3";
    let source = filled.join(file);
    let bytes = std::fs::metadata(&source).map_err(|e| format!("the filled history {}: {e}", source.display()))?.len();
    let home = SimHome::start(paths, None);
    let scratch = Scratch::new(&paths.out, "measure-history");
    let data = scratch.0.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("data folder: {e}"))?;
    std::fs::copy(&source, data.join(file)).map_err(|e| format!("copying the history: {e}"))?;
    let driver = Driver::start(paths, &app_env(&scratch.0));
    let client = driver.session(&paths.app).await?;
    let ui = Ui { client, out: paths.out.clone() };
    let result = async {
        ui.ready("home").await?;
        let pid = app_pid(&paths.app, driver.pid()).ok_or("the app process was not found under tauri-driver")?;
        let home_kib = rss_kib(pid).unwrap_or(0);
        let gw = ipc_types::dom_id(GATEWAY.0);
        ui.click(&format!("pair-{gw}")).await?;
        ui.wait_text("pairing-instruction", "the gateway's passcode request", |t| t.contains("passcode")).await?;
        ui.type_into("passcode-input", GATEWAY.1).await?;
        ui.click("passcode-submit").await?;
        ui.find("pairing-done").await.map_err(|e| format!("pairing the gateway did not succeed: {e}"))?;
        ui.click("pairing-close").await?;
        ui.open("devices").await?;
        let id = ipc_types::dom_id(CHART_MAC);
        // In the middle of the window: a click WebDriver scrolls to lands at the bottom edge,
        // under the "Paired" toast of this small window.
        ui.find(&format!("usage-toggle-{id}")).await?;
        ui.script(
            "const b = document.getElementById(arguments[0]); if (b) b.scrollIntoView({block: 'center'}); return true;",
            vec![serde_json::json!(format!("usage-toggle-{id}"))],
        )
        .await?;
        ui.click(&format!("usage-toggle-{id}")).await?;
        let mut total = ui
            .wait_text(&format!("usage-total-{id}"), "today's usage from the filled history", |t| {
                t.starts_with('↓') && !t.starts_with("↓ 0 B down")
            })
            .await?;
        for range in ["week", "month"] {
            let before = total.clone();
            ui.click(&format!("usage-{range}-{id}")).await?;
            ui.wait_attr(&format!("usage-{range}-{id}"), "aria-pressed", "true").await?;
            total = ui
                .wait_text(&format!("usage-total-{id}"), "the longer range's usage", |t| {
                    t != before && t.starts_with('↓')
                })
                .await?;
        }
        // Some seconds with the chart open (it reads the history again as it grows).
        tokio::time::sleep(Duration::from_secs(6)).await;
        ui.script(
            "const c = document.getElementById(arguments[0]); if (c) c.scrollIntoView({block: 'center'}); return true;",
            vec![serde_json::json!(format!("usage-chart-{id}"))],
        )
        .await?;
        ui.shot("measure-history-usage").await?;
        let now_kib = rss_kib(pid).ok_or("no VmRSS for the app")?;
        let anon_kib = status_kib(pid, "RssAnon").unwrap_or(0);
        let peak_kib = status_kib(pid, "VmHWM").unwrap_or(0);
        Ok::<_, String>((home_kib, now_kib, anon_kib, peak_kib, total))
    }
    .await;
    if result.is_err() {
        // What the window showed when it went wrong.
        let _ = ui.shot("measure-history-failure").await;
    }
    let _ = ui.client.close().await;
    drop(driver);
    drop(home);
    let (home_kib, now_kib, anon_kib, peak_kib, total) = result?;
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!(
        "history_file_mb {:.1} MB (two years of 200 devices, as usp-history-fill made it)",
        bytes as f64 / 1048576.0
    );
    println!("rss_history_home_mb {:.1} MB (VmRSS of the app on that history, home shown)", mb(home_kib));
    println!(
        "rss_history_app_mb {:.1} MB (VmRSS, a device's usage chart opened on today, 7 and 30 days: {total})",
        mb(now_kib)
    );
    println!("rss_history_app_anon_mb {:.1} MB (its own memory, RssAnon)", mb(anon_kib));
    println!("rss_history_app_peak_mb {:.1} MB (VmHWM: the most it held)", mb(peak_kib));
    Ok(())
}
