//! Helpers shared by the integration tests that drive a whole `Home`: the app started on a data
//! folder, bounded waits on its home view, and pairing. Each test binary uses a subset.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app_core::home::{AppError, Home, HomeConfig};
use app_core::vault::{Vault, VaultBackendKind, VaultConfig};
use ipc_types::{AgentArgs, AgentAuth, HomeView, PairingDone, PairingSubmit};
use usp_client::discovery::Interfaces;

/// The passcode of the simulated gateway (sim-home's built-in scenario).
pub const GW_PASSCODE: &str = "482913";
/// How long any one wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// The vault of the data folder `dir`: one memory vault per folder for the whole test run, so a
/// restarted app finds its key again, as with a keyring (a vault that forgets the key means a
/// new identity, and devices would have to be paired again).
pub fn vault(dir: &std::path::Path) -> Arc<Vault> {
    static VAULTS: std::sync::Mutex<Vec<(std::path::PathBuf, Arc<Vault>)>> = std::sync::Mutex::new(Vec::new());
    let mut vaults = VAULTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, v)) = vaults.iter().find(|(d, _)| d == dir) {
        return v.clone();
    }
    let mut c = VaultConfig::new(dir);
    c.prefer = Some(VaultBackendKind::Memory);
    let v = Arc::new(Vault::open(c).expect("memory vault"));
    vaults.push((dir.to_owned(), v.clone()));
    v
}

/// sim-home's built-in home with Endpoint IDs of its own (`…-{tag}`, so test binaries running
/// at once never answer for each other), unknown controllers let in as untrusted: the app must
/// pair.
pub async fn own_builtin_home(tag: &str) -> sim_home::Home {
    let mut scenario = sim_home::scenario::Scenario::builtin();
    for a in &mut scenario.agents {
        a.endpoint_id = format!("{}-{tag}", a.endpoint_id);
    }
    let mut c = sim_home::HomeConfig::new(scenario);
    c.unknown_controllers = Some(sim_home::spec::UnknownControllerPolicy::Untrusted);
    sim_home::Home::start(c).await.expect("the simulated home starts")
}

/// The app on the data folder `dir` over `manual` agents, discovering on `interfaces` (nothing
/// when `None`).
pub async fn app(dir: &std::path::Path, interfaces: Option<Interfaces>, manual: Vec<(String, Option<String>)>) -> Home {
    let config = HomeConfig {
        data_dir: dir.to_owned(),
        interfaces: Some(interfaces.unwrap_or(Interfaces::Named(Vec::new()))),
        manual_agents: manual,
        connectors: Vec::new(),
    };
    Home::start(config, vault(dir)).await.expect("the app's home starts")
}

/// Waits (bounded) until the home view satisfies `ok`, re-reading it on every live event.
pub async fn wait_home(home: &Home, what: &str, ok: impl Fn(&HomeView) -> bool) -> HomeView {
    let mut rx = home.events();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = home.home().await.expect("home view");
        if ok(&view) {
            return view;
        }
        if tokio::time::timeout_at(deadline, rx.recv()).await.is_err() {
            panic!("timed out waiting for {what}; last view: {view:#?}");
        }
    }
}

/// `f`, failing the test when it takes longer than `WAIT`.
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub fn auth_of<'a>(view: &'a HomeView, eid: &str) -> Option<&'a AgentAuth> {
    view.agents.iter().find(|a| a.agent == eid).map(|a| &a.auth)
}

pub fn is_untrusted(view: &HomeView, eid: &str) -> bool {
    matches!(auth_of(view, eid), Some(AgentAuth::Untrusted { .. }))
}

pub fn is_paired(view: &HomeView, eid: &str) -> bool {
    matches!(auth_of(view, eid), Some(AgentAuth::Paired { .. }))
}

/// The field `key` of /proc/self/status in KiB (`VmRSS`: resident memory now, `VmHWM`: its peak),
/// 0 when it cannot be read.
pub fn proc_status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// Starts pairing with `eid` and submits `passcode`.
pub async fn pair(home: &Home, eid: &str, passcode: &str) -> Result<PairingDone, AppError> {
    home.pairing_start(AgentArgs { agent: eid.to_owned() }).await?;
    home.pairing_submit(PairingSubmit { agent: eid.to_owned(), passcode: passcode.to_owned() }).await
}
