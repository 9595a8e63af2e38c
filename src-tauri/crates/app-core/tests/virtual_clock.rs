//! The app on tokio's paused clock, its agent reached over the in-memory transport: schedules
//! that take minutes of real time (asking a device that ignores the app again every 10 s for
//! five minutes, then every minute) are checked to the second, in well under a second of real
//! time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use app_core::home::{Home, HomeConfig};
use common::{auth_of, vault};
use ipc_types::{AgentAuth, HomeView};
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use usp_client::discovery::Interfaces;
use usp_client::mtp::memory;

/// When the next check of `eid` comes, while it does not let the app in.
fn next_check(view: &HomeView, eid: &str) -> Option<u64> {
    match auth_of(view, eid)? {
        AgentAuth::NotAuthorised { next_check_secs, .. } => *next_check_secs,
        _ => None,
    }
}

/// Waits in virtual time (bounded by `within`) until the view satisfies `ok`.
async fn wait_view(home: &Home, within: Duration, ok: impl Fn(&HomeView) -> bool) -> HomeView {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let view = home.home().await.expect("home view");
        if ok(&view) {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {within:?}: {view:#?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_device_that_ignores_the_app_is_asked_again_on_schedule() {
    let real = std::time::Instant::now();
    let mut sim = sim_home::HomeConfig::new(Scenario::builtin());
    // As the reference agent: a controller it does not know gets no answer at all.
    sim.unknown_controllers = Some(UnknownControllerPolicy::Ignore);
    let sim = sim_home::Home::start(sim).await.expect("the simulated home starts");
    let gw = sim.agent("gateway").expect("gateway").clone();
    let eid = gw.endpoint_id.to_string();
    let (connector, listener) = memory::channel(Some(gw.endpoint_id.clone()));
    let _serving = gw.serve_memory(listener);

    let dir = tempfile::tempdir().expect("tempdir");
    let url = "ws://gateway.in-memory:1/usp".to_owned();
    let config = HomeConfig {
        data_dir: dir.path().to_owned(),
        interfaces: Some(Interfaces::Named(Vec::new())),
        manual_agents: vec![(url.clone(), Some(eid.clone()))],
        connectors: vec![(url, Arc::new(connector))],
    };
    let home = Home::start(config, vault(dir.path())).await.expect("the app starts");
    let t0 = tokio::time::Instant::now();
    let view = wait_view(&home, Duration::from_secs(10), |v| next_check(v, &eid).is_some()).await;
    assert!(next_check(&view, &eid).is_some_and(|s| s <= 10), "first checks every 10 s: {view:#?}");
    let card = view.agents.iter().find(|a| a.agent == eid).expect("card");
    assert_eq!(card.transport, "in memory", "the card names what carries the connection");

    // For five minutes the device is asked every 10 s...
    tokio::time::sleep_until(t0 + Duration::from_secs(280)).await;
    let soon = next_check(&home.home().await.expect("view"), &eid).expect("still asking");
    assert!(soon <= 10, "still every 10 s after 280 s: next in {soon} s");
    // ...then every minute.
    tokio::time::sleep_until(t0 + Duration::from_secs(340)).await;
    let later = wait_view(&home, Duration::from_secs(60), |v| next_check(v, &eid).is_some_and(|s| s > 10)).await;
    let next = next_check(&later, &eid).expect("still asking");
    assert!((11..=60).contains(&next), "every minute after 30 checks: next in {next} s");

    // The person adds the app on the device: the next check (within a minute) pairs it.
    let me = home.settings().await.expect("settings").endpoint_id.parse().expect("our eid");
    gw.with_agent(move |a, _| a.add_controller(me, "Full Access")).await.expect("agent").expect("added");
    let added = tokio::time::Instant::now();
    wait_view(&home, Duration::from_secs(61), |v| matches!(auth_of(v, &eid), Some(AgentAuth::Paired { .. }))).await;
    let took = added.elapsed();
    assert!(took <= Duration::from_secs(61), "paired {took:?} after being added");
    home.shutdown().await;
    sim.shutdown().await;
    // Six minutes of the app's life, in a moment of real time.
    assert!(real.elapsed() < Duration::from_secs(20), "took {:?} of real time", real.elapsed());
}
