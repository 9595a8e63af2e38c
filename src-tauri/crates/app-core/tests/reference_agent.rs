//! The app's first minutes with the Broadband Forum's reference agent (OB-USPA), a real agent
//! written by others, added by its address as a person would: it ignores the app until the
//! app's Endpoint ID is added on it; the home view says so at once, asks again by itself, and
//! turns paired without a restart once the agent's own command line (the router's admin page)
//! adds the app; pages of objects the agent lacks say so; a reboot ends the agent's process and
//! the card comes back when it runs again.

mod common;
#[path = "../../../../tests/support/obuspa.rs"]
mod obuspa;

use std::path::Path;
use std::time::{Duration, Instant};

use app_core::home::Home;
use common::{app, auth_of, wait_home};
use ipc_types::{AgentArgs, AgentAuth, HomeView, PairingSubmit};

const AGENT: &str = "proto::obuspa-app-core-agent";

fn bins() -> std::path::PathBuf {
    // <target>/debug/deps/reference_agent-HASH
    let exe = std::env::current_exe().expect("own path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    obuspa::bin_dir(&target, &repo.join("../shared"))
}

fn not_authorised(view: &HomeView) -> Option<(String, Option<u64>)> {
    match auth_of(view, AGENT)? {
        AgentAuth::NotAuthorised { our_endpoint_id, next_check_secs } => {
            Some((our_endpoint_id.clone(), *next_check_secs))
        }
        _ => None,
    }
}

async fn start_app(dir: &Path, agent: &obuspa::Agent) -> Home {
    app(dir, None, vec![(agent.url(), Some(AGENT.to_owned()))]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_agent_that_does_not_know_the_app_pairs_by_itself_once_it_is_added_there() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut agent = obuspa::Agent::start(&bins(), obuspa::Variant::Stock, tmp.path(), "auth", AGENT, "");
    let started = Instant::now();
    let home = start_app(&tmp.path().join("app"), &agent).await;

    // "Not authorised" with this app's ID, as soon as the probe knows it (its 3 s wait for an
    // answer), not after the DeviceInfo read would have timed out too.
    let view = wait_home(&home, "not authorised", |v| not_authorised(v).is_some()).await;
    let shown = started.elapsed();
    let (eid, _) = not_authorised(&view).expect("the card asks to be added on the device");
    let settings = home.settings().await.expect("settings");
    assert_eq!(eid, settings.endpoint_id, "the card names this app's ID");
    assert_eq!(view.our_endpoint_id, settings.endpoint_id);
    assert!(view.our_endpoint_id_qr_svg.contains("<svg"), "a QR code of the ID comes with the view");
    assert!(shown < Duration::from_secs(6), "not authorised shown after {shown:?}");
    println!("start to 'not authorised' shown: {shown:?}");
    // The next check is planned and counted down.
    let view = wait_home(&home, "a planned check", |v| matches!(not_authorised(v), Some((_, Some(_))))).await;
    let (_, next) = not_authorised(&view).expect("still not authorised");
    assert!(next.expect("a next check is planned") <= 10, "the first checks come every 10 s: {next:?}");

    // The person adds the app on the router (the agent's own command line), with a role.
    let said = agent.add_controller(&eid, "Device.LocalAgent.ControllerTrust.Role.1");
    let added = Instant::now();
    let view = wait_home(&home, "paired after being added on the agent", |v| {
        matches!(auth_of(v, AGENT), Some(AgentAuth::Paired { .. }))
    })
    .await;
    let took = added.elapsed();
    assert!(took < Duration::from_secs(20), "paired {took:?} after being added ({said})");
    println!("added on the agent to paired: {took:?}");
    let card = view.agents.iter().find(|a| a.agent == AGENT).expect("the reference agent's card");
    assert!(matches!(&card.auth, AgentAuth::Paired { role: Some(r) } if r == "Full Access"), "{:?}", card.auth);

    // What it lacks, in words; what it has, on the Device page.
    let wifi = home.wifi().await.expect("wifi");
    assert!(wifi.networks.is_empty());
    assert_eq!(wifi.not_offered, vec![card.name.clone()], "the WiFi page names the device without WiFi");
    assert_eq!(home.devices().await.expect("devices").not_offered, vec![card.name.clone()]);
    assert_eq!(home.smart_home().await.expect("smart home").not_offered, vec![card.name.clone()]);
    let details = home.device_details(AgentArgs { agent: AGENT.into() }).await.expect("details");
    let field = |label: &str| details.fields.iter().find(|(l, _)| l == label).map(|(_, v)| v.clone());
    assert!(field("Model").is_some_and(|m| !m.is_empty()), "{:?}", details.fields);
    // OB-USPA leaves SoftwareVersion empty (its vendor layer would fill it): the page says so.
    let version = agent.cli(&["get", "Device.DeviceInfo.SoftwareVersion"]);
    let version = version.split("=>").nth(1).map(str::trim).unwrap_or("");
    let want = if version.is_empty() { app_core::home::NOT_GIVEN } else { version };
    assert_eq!(field("Firmware version").as_deref(), Some(want), "{:?}", details.fields);
    assert!(details.lacks.iter().any(|l| l == "WiFi settings"), "{:?}", details.lacks);
    assert!(details.controllers.iter().any(|c| c.this_app && c.endpoint_id == eid), "{:?}", details.controllers);
    assert!(details.can_reboot, "the reference agent offers Device.Reboot()");

    // A reboot ends the agent's process: the card goes offline, and is paired again once the
    // agent runs again (its database remembers the app).
    home.device_reboot(AgentArgs { agent: AGENT.into() }).await.expect("reboot");
    assert!(agent.wait_exit(Duration::from_secs(20)), "Device.Reboot() ends the reference agent's process");
    wait_home(&home, "offline after the reboot", |v| matches!(auth_of(v, AGENT), Some(AgentAuth::Offline { .. })))
        .await;
    assert!(agent.run(), "the agent runs again");
    wait_home(&home, "paired again after the reboot", |v| matches!(auth_of(v, AGENT), Some(AgentAuth::Paired { .. })))
        .await;
    home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_now_asks_again_at_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let agent = obuspa::Agent::start(&bins(), obuspa::Variant::Stock, tmp.path(), "now", AGENT, "");
    let home = start_app(&tmp.path().join("app"), &agent).await;
    let view = wait_home(&home, "a planned check", |v| matches!(not_authorised(v), Some((_, Some(_))))).await;
    let (eid, _) = not_authorised(&view).expect("the card asks to be added on the device");
    agent.add_controller(&eid, "Device.LocalAgent.ControllerTrust.Role.1");
    // Right after a check was planned (10 s away), "Check now" pairs well before it.
    let asked = Instant::now();
    home.agent_check_now(AgentArgs { agent: AGENT.into() }).await.expect("check now");
    wait_home(&home, "paired after Check now", |v| matches!(auth_of(v, AGENT), Some(AgentAuth::Paired { .. }))).await;
    assert!(asked.elapsed() < Duration::from_secs(5), "Check now took {:?}", asked.elapsed());
    home.shutdown().await;
}

/// Added on the router without a role, the app is untrusted and pairs with the passcode: a wrong
/// one says how many tries are left, the lockout says to wait, then the right one pairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agents_passcode_challenge_with_tries_and_lockout() {
    use app_core::home::AppError;
    use app_core::pairing::PairingError;
    let tmp = tempfile::tempdir().expect("temp dir");
    let extra = format!("{}{}", obuspa::CHALLENGE, obuspa::SHOW_TRIES);
    let agent = obuspa::Agent::start(&bins(), obuspa::Variant::Untrusted, tmp.path(), "challenge", AGENT, &extra);
    let home = start_app(&tmp.path().join("app"), &agent).await;
    let view = wait_home(&home, "not authorised", |v| not_authorised(v).is_some()).await;
    let (eid, _) = not_authorised(&view).expect("the card asks to be added on the device");
    agent.add_controller(&eid, "");
    home.agent_check_now(AgentArgs { agent: AGENT.into() }).await.expect("check now");
    wait_home(&home, "untrusted once known", |v| matches!(auth_of(v, AGENT), Some(AgentAuth::Untrusted { .. }))).await;

    // One challenge, as the pairing dialog keeps it: each wrong passcode counts down.
    let submit = |passcode: &str| home.pairing_submit(PairingSubmit { agent: AGENT.into(), passcode: passcode.into() });
    home.pairing_start(AgentArgs { agent: AGENT.into() }).await.expect("the challenge is offered");
    for (n, left) in [(1, 2), (2, 1)] {
        match submit("000000").await {
            Err(AppError::Pairing(PairingError::WrongPasscode { tries_left })) => {
                assert_eq!(tries_left, Some(left), "tries left after {n} wrong passcodes");
            }
            other => panic!("a wrong passcode gave {other:?}"),
        }
    }
    let third = submit("000000").await;
    assert!(matches!(third, Err(AppError::Pairing(_))), "{third:?}");
    // Locked out now: even the right passcode is refused, with a wait.
    let home = &home;
    match common::pair(home, AGENT, "482913").await {
        Err(AppError::Pairing(PairingError::LockedOut { retry_in })) => {
            assert!(retry_in.is_some_and(|r| r <= Duration::from_secs(30)), "the wait is known: {retry_in:?}");
        }
        other => panic!("the right passcode during the lockout gave {other:?}"),
    }
    tokio::time::sleep(Duration::from_secs(31)).await;
    let done = common::pair(home, AGENT, "482913").await.expect("the right passcode after the lockout pairs");
    println!("paired: {done:?}");
    wait_home(home, "paired", |v| matches!(auth_of(v, AGENT), Some(AgentAuth::Paired { .. }))).await;
    home.shutdown().await;
}
