//! End to end in the real app window against the Broadband Forum's reference agent (OB-USPA),
//! which we did not write, added by its address as a new user would (`USP_HOME_AGENTS`):
//!
//! 1. the stock agent ignores the app: the card says "not authorised" with the app's Endpoint ID
//!    and its QR code within 6 s of the app's start; the agent's own command line then adds the
//!    app as a controller with a role (as a person would in the router's admin page) and the
//!    card turns paired within 20 s without a restart; the Device page shows the agent's
//!    ModelName and SoftwareVersion; the WiFi page says the device has no WiFi settings; a
//!    reboot (which ends the agent's process) shows the card offline, then back once it runs;
//! 2. `obuspa-untrusted` with a passcode challenge: added without a role, the app pairs with the
//!    passcode: a wrong one says how many tries are left, the lockout says to wait, then the
//!    right one pairs.
//!
//! Screenshots go to `target/e2e/reference-*.png`. Run by `scripts/e2e.sh`.

mod harness;

use std::time::{Duration, Instant};

use harness::{app_env_with_agent, obuspa_bins, Driver, Paths, Scratch, Step, Ui};
use ipc_types::dom_id;
use usp_home_tests::obuspa::{self, Agent, Variant};

const AGENT: &str = "proto::obuspa-e2e-agent";
/// The role the person gives usp-home on the agent.
const FULL_ACCESS: &str = "Device.LocalAgent.ControllerTrust.Role.1";

/// A fresh app window on `agent` (its own data folder), and when its process was asked for.
async fn open_window(paths: &Paths, scratch: &Scratch, agent: &Agent) -> (Driver, Ui, Instant) {
    let driver = Driver::start(paths, &app_env_with_agent(&scratch.0, AGENT, &agent.url()));
    let started = Instant::now();
    let client = driver.session(&paths.app).await.unwrap_or_else(|e| panic!("{e}"));
    (driver, Ui { client, out: paths.out.clone() }, started)
}

/// Closes the window; on failure keeps its state and fails the test naming the step.
async fn close_window(paths: &Paths, name: &str, driver: Driver, ui: Ui, outcome: Step<()>) {
    if outcome.is_err() {
        ui.keep_failure().await;
    }
    let _ = ui.client.close().await;
    drop(driver);
    if let Err(step) = outcome {
        panic!("{name}: {step}\n(the window at that moment: {})", paths.out.join("failure.png").display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_with_the_reference_agent_in_the_app_window() {
    let paths = Paths::from_env();
    let bins = obuspa_bins(&paths);

    let mut stock = Agent::start(&bins, Variant::Stock, &paths.out, "stock", AGENT, "");
    let scratch = Scratch::new(&paths.out, "reference-stock");
    let (driver, ui, started) = open_window(&paths, &scratch, &stock).await;
    let outcome = not_authorised_then_paired(&ui, &mut stock, started).await;
    close_window(&paths, "the stock reference agent", driver, ui, outcome).await;
    drop(stock);

    let extra = format!("{}{}", obuspa::CHALLENGE, obuspa::SHOW_TRIES);
    let mut untrusted = Agent::start(&bins, Variant::Untrusted, &paths.out, "untrusted", AGENT, &extra);
    let scratch = Scratch::new(&paths.out, "reference-challenge");
    let (driver, ui, _) = open_window(&paths, &scratch, &untrusted).await;
    let outcome = challenge(&ui, &mut untrusted).await;
    close_window(&paths, "the reference agent's passcode challenge", driver, ui, outcome).await;
}

async fn not_authorised_then_paired(ui: &Ui, agent: &mut Agent, started: Instant) -> Step<()> {
    let id = dom_id(AGENT);
    ui.resize(1280, 800).await?;
    // The app's start (the session starts its process) to "not authorised" on the card.
    let state = format!("agent-{id}-state");
    let shown = ui
        .wait_text_within(Duration::from_secs(30), &state, "not authorised", |t| t.contains("Not authorised"))
        .await
        .map(|_| started.elapsed())?;
    eprintln!("e2e reference: start to 'not authorised' shown in {:.1} s", shown.as_secs_f64());
    if shown > Duration::from_secs(6) {
        return Err(format!("'not authorised' showed {shown:?} after the app's start (at most 6 s)"));
    }
    let eid = ui.text(&format!("agent-{id}-our-eid")).await?.trim().to_owned();
    if !eid.contains("::") {
        return Err(format!("the card shows {eid:?} as this app's ID"));
    }
    let qr = ui.script(
        "const e = document.getElementById(arguments[0]); return !!e && !!e.querySelector('svg');",
        vec![format!("agent-{id}-our-eid-qr").into()],
    );
    if qr.await? != serde_json::Value::Bool(true) {
        return Err("the card shows no QR code of the app's ID".into());
    }
    ui.wait_text(&format!("agent-{id}-next-check"), "the next check", |t| t.contains("Checking")).await?;
    ui.click(&format!("copy-eid-{id}")).await?;
    ui.shot("reference-not-authorised").await?;

    // The person adds usp-home on the router, with a role: the card turns paired by itself.
    let said = agent.add_controller(&eid, FULL_ACCESS);
    let added = Instant::now();
    let paired = ui
        .wait_text_within(Duration::from_secs(20), &state, "paired", |t| t.starts_with("Paired"))
        .await
        .map_err(|e| format!("{e} (the agent's CLI said: {said})"))?;
    eprintln!("e2e reference: added on the agent to '{paired}' in {:.1} s", added.elapsed().as_secs_f64());
    ui.shot("reference-paired").await?;

    // The Device page: the agent's own ModelName and SoftwareVersion (or that it gives none).
    let model = cli_value(agent, "Device.DeviceInfo.ModelName");
    let version = cli_value(agent, "Device.DeviceInfo.SoftwareVersion");
    ui.open("device").await?;
    let fields =
        ui.wait_text("device-fields", "the agent's model", |t| !model.is_empty() && t.contains(&model)).await?;
    let want_version = if version.is_empty() { "Not given by the device".to_owned() } else { version };
    if !fields.contains(&want_version) {
        return Err(format!("the Device page shows {fields:?}, without the firmware version {want_version:?}"));
    }
    ui.wait_text("device-lacks", "what the device doesn't offer", |t| t.contains("WiFi settings")).await?;
    ui.shot("reference-device").await?;

    // The WiFi page says in words that this device has no WiFi settings.
    ui.open("wifi").await?;
    ui.wait_text("not-offered", "the device without WiFi", |t| t.contains("doesn't offer WiFi settings")).await?;
    ui.shot("reference-wifi").await?;

    // A reboot ends the agent's process: offline, then back once it runs again.
    ui.open("device").await?;
    ui.click("reboot").await?;
    ui.click("reboot-confirm").await?;
    if !agent.wait_exit(Duration::from_secs(20)) {
        return Err("Device.Reboot() did not end the reference agent's process".into());
    }
    ui.open("home").await?;
    ui.wait_text(&state, "offline after the reboot", |t| t.starts_with("Offline")).await?;
    ui.shot("reference-rebooting").await?;
    if !agent.run() {
        return Err("the reference agent did not start again".into());
    }
    ui.wait_text(&state, "paired again after the reboot", |t| t.starts_with("Paired")).await?;
    Ok(())
}

/// The value of `path` as the agent's own command line reads it ("" when empty).
fn cli_value(agent: &Agent, path: &str) -> String {
    agent.cli(&["get", path]).split("=>").nth(1).map(|v| v.trim().to_owned()).unwrap_or_default()
}

async fn challenge(ui: &Ui, agent: &mut Agent) -> Step<()> {
    let id = dom_id(AGENT);
    let state = format!("agent-{id}-state");
    ui.resize(1280, 800).await?;
    ui.wait_text(&state, "not authorised", |t| t.contains("Not authorised")).await?;
    let eid = ui.text(&format!("agent-{id}-our-eid")).await?.trim().to_owned();
    // Added on the router without a role: the app is untrusted there and may pair.
    agent.add_controller(&eid, "");
    ui.click(&format!("check-now-{id}")).await?;
    ui.wait_text(&state, "not paired yet", |t| t.starts_with("Not paired")).await?;

    ui.click(&format!("pair-{id}")).await?;
    ui.wait_text("pairing-instruction", "the device's instruction", |t| t.contains("passcode")).await?;
    for want in ["Wrong passcode, 2 tries left", "Wrong passcode, 1 try left"] {
        ui.type_into("passcode-input", "000000").await?;
        ui.click("passcode-submit").await?;
        ui.wait_text("pairing-error", want, |t| t.contains(want)).await?;
        if want.contains('2') {
            ui.shot("reference-wrong-passcode").await?;
        }
    }
    // The last try: locked out, with a wait.
    ui.type_into("passcode-input", "000000").await?;
    ui.click("passcode-submit").await?;
    ui.wait_text("pairing-error", "the lockout", |t| t.contains("Try again in")).await?;
    ui.click("pairing-close").await?;
    // The right passcode during the lockout: the device refuses it (7002) and the dialog says
    // to wait.
    ui.click(&format!("pair-{id}")).await?;
    ui.wait_text("pairing-instruction", "the device's instruction", |t| t.contains("passcode")).await?;
    ui.type_into("passcode-input", obuspa::PASSCODE).await?;
    ui.click("passcode-submit").await?;
    let locked = ui.wait_text("pairing-error", "the lockout", |t| t.contains("Try again in")).await?;
    eprintln!("e2e reference: right passcode during the lockout: {locked:?}");
    ui.shot("reference-locked-out").await?;
    ui.click("pairing-close").await?;
    // After the lockout (30 s on this agent) the right passcode pairs.
    tokio::time::sleep(Duration::from_secs(31)).await;
    ui.click(&format!("pair-{id}")).await?;
    ui.wait_text("pairing-instruction", "the device's instruction", |t| t.contains("passcode")).await?;
    ui.type_into("passcode-input", obuspa::PASSCODE).await?;
    ui.click("passcode-submit").await?;
    ui.find("pairing-done").await.map_err(|e| format!("the right passcode after the lockout did not pair: {e}"))?;
    ui.shot("reference-challenge-paired").await?;
    ui.click("pairing-close").await?;
    ui.wait_text(&state, "paired", |t| t.starts_with("Paired")).await?;
    Ok(())
}
