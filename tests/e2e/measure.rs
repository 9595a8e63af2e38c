//! Measures the app in its real window (run by scripts/measure.sh, which adds the sizes):
//!
//! - start to first interactive screen: from asking tauri-driver for a session (which starts
//!   the app process) until the home page shows its data (`#page-home[data-ready="true"]`), and
//!   until the first discovered agent is on it; and from the app process's own start (its start
//!   time in /proc) to the moment the home page's data was seen, which leaves WebDriver's set-up out;
//!   and, more exactly, to the moment the page itself says it showed its data: the later of its
//!   `data-ready-at` (`performance.now()` when the data was put in) and its first contentful
//!   paint, which leaves the poll's delay out too;
//! - resident memory once the home is shown: the app process (VmRSS), and the app together with
//!   the WebKit processes it started (web content, network).
//!
//! - resident memory with two years of usage history for 200 devices and a usage chart open
//!   ([`measure_history`]), when `USP_E2E_HISTORY` names a filled history.
//!
//! Prints `name value unit` lines; asserts nothing about the numbers (no timed tests).

mod harness;
mod measure_history;

use std::time::Instant;

use harness::{
    app_env, app_env_with_agent, app_pid, mapped_kib, obuspa_bins, proc_kib, process_tree, rss_kib, stat_fields,
    status_kib, Driver, Paths, Scratch, SimHome, Ui,
};

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    runtime.block_on(measure());
}

async fn measure() {
    let paths = Paths::from_env();
    let home = SimHome::start(&paths, None);
    let scratch = Scratch::new(&paths.out, "measure");
    let driver = Driver::start(&paths, &app_env(&scratch.0));

    let started = Instant::now();
    let client = driver.session(&paths.app).await.unwrap_or_else(|e| panic!("{e}"));
    let session_ms = started.elapsed().as_millis();
    let ui = Ui { client, out: paths.out.clone() };
    let result = async {
        ui.ready("home").await?;
        let ready_ms = started.elapsed().as_millis();
        let uptime_at_ready = seconds_since_boot();
        let in_page = ui.script("return Math.round(performance.now());", vec![]).await?;
        let uptime_after = seconds_since_boot();
        // When a person first saw the home with its data: the later of when the page put its data
        // in (PageFrame's data-ready-at) and the first contentful paint. The polls above only see
        // the attribute: up to a poll and two WebDriver round trips after it is set, and sometimes
        // before the page has painted it.
        let shown_in_page = ui
            .script(
                "const ready = Number(document.getElementById('page-home').dataset.readyAt); \
                 const paint = performance.getEntriesByName('first-contentful-paint')[0]; \
                 return paint ? Math.max(ready, paint.startTime) : ready;",
                vec![],
            )
            .await?
            .as_f64()
            .filter(|ms| ms.is_finite() && *ms > 0.0);
        let gateway = format!("agent-{}", ipc_types::dom_id("os::012345-GW0001"));
        ui.find(&gateway).await?;
        let agent_ms = started.elapsed().as_millis();
        let pid = app_pid(&paths.app, driver.pid()).ok_or("the app process was not found under tauri-driver")?;
        let started_at = process_start_since_boot(pid);
        let process_ms =
            uptime_at_ready.zip(started_at).map(|(ready, start)| ((ready - start) * 1000.0).round() as i64);
        // The same clock as `process_ms`, moved back by how long before `in_page` the page had
        // shown its data.
        let shown_ms = match (uptime_after, started_at, shown_in_page, in_page.as_f64()) {
            (Some(now), Some(start), Some(shown), Some(page_now)) => {
                Some(((now - start) * 1000.0 - (page_now - shown)).round() as i64)
            }
            _ => None,
        };
        let app_kib = rss_kib(pid).ok_or("no VmRSS for the app")?;
        let anon_kib = status_kib(pid, "RssAnon").unwrap_or(0);
        let file_kib = status_kib(pid, "RssFile").unwrap_or(0);
        let soft_gl_kib = mapped_kib(pid, &["libLLVM", "swrast_dri", "llvmpipe"]);
        let pss_kib = proc_kib(pid, "smaps_rollup", "Pss").unwrap_or(0);
        let tree: Vec<u32> = process_tree(pid);
        let tree_kib: u64 = tree.iter().filter_map(|&p| rss_kib(p)).sum();
        ui.shot("measure-home").await?;
        Ok::<_, String>(Sample {
            ready_ms,
            process_ms,
            in_page,
            shown_in_page,
            shown_ms,
            agent_ms,
            app_kib,
            anon_kib,
            file_kib,
            soft_gl_kib,
            pss_kib,
            processes: tree.len(),
            tree_kib,
        })
    }
    .await;
    let _ = ui.client.close().await;
    drop(driver);
    drop(home);
    match result {
        Ok(sample) => sample.print(session_ms),
        Err(step) => {
            eprintln!("measure: {step}");
            std::process::exit(1);
        }
    }
    match real_agent(&paths).await {
        Ok(Some(ms)) => println!(
            "process_start_to_real_agent_state_ms {ms} ms (the app process start to the reference agent's \
             'not authorised' state on its card)"
        ),
        Ok(None) => eprintln!("measure: the app process's start time was not readable"),
        Err(step) => {
            eprintln!("measure: the reference agent: {step}");
            std::process::exit(1);
        }
    }
    match std::env::var_os("USP_E2E_HISTORY") {
        Some(filled) => {
            if let Err(step) = measure_history::history_memory(&paths, std::path::Path::new(&filled)).await {
                eprintln!("measure: with two years of history: {step}");
                std::process::exit(1);
            }
        }
        None => eprintln!("measure: USP_E2E_HISTORY not set: memory with a full history not measured"),
    }
}

/// The app's start to a real agent's state shown: the reference agent (OB-USPA, stock, which
/// ignores controllers it does not know) given by address; the moment its card says "not
/// authorised", as WebDriver's poll first sees it.
async fn real_agent(paths: &Paths) -> Result<Option<i64>, String> {
    use usp_home_tests::obuspa::{Agent, Variant};
    let eid = "proto::obuspa-measure-agent";
    let agent = Agent::start(&obuspa_bins(paths), Variant::Stock, &paths.out, "measure", eid, "");
    let scratch = Scratch::new(&paths.out, "measure-reference");
    let driver = Driver::start(paths, &app_env_with_agent(&scratch.0, eid, &agent.url()));
    let client = driver.session(&paths.app).await?;
    let ui = Ui { client, out: paths.out.clone() };
    let state = format!("agent-{}-state", ipc_types::dom_id(eid));
    let seen = ui.wait_text(&state, "not authorised", |t| t.contains("Not authorised")).await;
    let at = seconds_since_boot();
    let pid = app_pid(&paths.app, driver.pid());
    let _ = ui.client.close().await;
    drop(driver);
    seen?;
    let start = pid.and_then(process_start_since_boot);
    Ok(at.zip(start).map(|(at, start)| ((at - start) * 1000.0).round() as i64))
}

/// What one run saw.
struct Sample {
    ready_ms: u128,
    process_ms: Option<i64>,
    in_page: serde_json::Value,
    shown_in_page: Option<f64>,
    shown_ms: Option<i64>,
    agent_ms: u128,
    app_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    soft_gl_kib: u64,
    pss_kib: u64,
    processes: usize,
    tree_kib: u64,
}

impl Sample {
    /// One `name value unit (meaning)` line per number, for scripts/measure.sh.
    fn print(&self, session_ms: u128) {
        let mb = |kib: u64| kib as f64 / 1024.0;
        println!("webdriver_session_ms {session_ms} ms (app process start to window, as WebDriver sees it)");
        println!("start_to_home_ready_ms {} ms (session request to #page-home[data-ready])", self.ready_ms);
        println!("page_load_to_home_ready_ms {} ms (performance.now() in the page at that moment)", self.in_page);
        if let Some(ms) = self.process_ms {
            println!("process_start_to_home_ready_ms {ms} ms (the app process start time to the same moment)");
        }
        if let Some(ms) = self.shown_in_page {
            println!("page_load_to_home_shown_ms {ms:.0} ms (in the page: the later of data-ready-at and the first contentful paint)");
        }
        if let Some(ms) = self.shown_ms {
            println!("process_start_to_home_shown_ms {ms} ms (the app process start time to that moment)");
        }
        println!(
            "start_to_first_agent_ms {} ms (session request to the discovered gateway on the home page)",
            self.agent_ms
        );
        println!("rss_app_mb {:.1} MB (VmRSS of the app process)", mb(self.app_kib));
        println!("rss_app_anon_mb {:.1} MB (its own memory, RssAnon)", mb(self.anon_kib));
        println!("rss_app_file_mb {:.1} MB (mapped libraries, RssFile: shared)", mb(self.file_kib));
        println!(
            "rss_app_soft_gl_mb {:.1} MB (Mesa's software OpenGL, libLLVM + swrast: Xvfb has no GPU)",
            mb(self.soft_gl_kib)
        );
        println!("pss_app_mb {:.1} MB (PSS: shared pages divided among the processes mapping them)", mb(self.pss_kib));
        println!(
            "rss_app_and_webkit_mb {:.1} MB ({} processes: the app and its WebKit helpers)",
            mb(self.tree_kib),
            self.processes
        );
    }
}

/// Seconds since boot now (/proc/uptime, 10 ms resolution).
fn seconds_since_boot() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()
}

/// When process `pid` started, in seconds since boot: its start time in clock ticks
/// (/proc/<pid>/stat, field 22) over the tick rate.
fn process_start_since_boot(pid: u32) -> Option<f64> {
    let ticks: f64 = stat_fields(pid)?.get(19)?.parse().ok()?;
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    Some(ticks / hz)
}
