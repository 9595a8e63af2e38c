//! Usage history through BulkData `Push!` with the Broadband Forum's reference agent (OB-USPA
//! 11.0.4), a real agent written by others. It has `Device.BulkData` with `USPEventNotif`, but
//! no Hosts, WiFi, IP or Ethernet objects: the only counter it can report is
//! `Device.DeviceInfo.UpTime`.
//!
//! - With the role the reference reset files give a controller (`Role.1`, Full Access: ws.txt's
//!   controller, untrusted.txt's passcode challenge), the app makes its profile (alias
//!   `uh-usage`, USPEventNotif, JSON), turns the agent's `Device.BulkData.Enable` on (off after a
//!   factory reset), and its `Push!` reports come and are decoded: the agent is no longer asked,
//!   and Settings says its reports carry no connected devices' counters.
//! - An end-user role (`Role.3`, the untrusted build) with a permission on `Device.BulkData.`
//!   gets the same; without it, the agent refuses the profile (7006): the app asks instead, and
//!   Settings says why.

mod common;
#[path = "../../../../tests/support/obuspa.rs"]
mod obuspa;

use std::path::Path;
use std::time::{Duration, SystemTime};

use app_core::home::Home;
use common::{app, auth_of, bounded, wait_home};
use ipc_types::{AgentArgs, AgentAuth, UsageCollection};

fn bins() -> std::path::PathBuf {
    // <target>/debug/deps/reference_bulkdata-HASH
    let exe = std::env::current_exe().expect("own path");
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    obuspa::bin_dir(&target, &repo.join("../shared"))
}

/// An end-user role (`Role.3`): it reads and sets everything and may subscribe, but adds no
/// object except its own subscriptions, so no BulkData profile.
const END_USER: &str = "\
Device.LocalAgent.ControllerTrust.Role.3.Alias \"end-user\"
Device.LocalAgent.ControllerTrust.Role.3.Name \"End user\"
Device.LocalAgent.ControllerTrust.Role.3.Enable \"true\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.Alias \"read-and-set\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.Enable \"true\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.Order \"1\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.Targets \"Device.\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.Param \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.Obj \"r--n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.InstantiatedObj \"r--n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.1.CommandEvent \"r-xn\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.Alias \"own-subscriptions\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.Enable \"true\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.Order \"2\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.Targets \"Device.LocalAgent.Subscription.\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.Param \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.Obj \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.InstantiatedObj \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.2.CommandEvent \"r-xn\"
";

/// The app paired with `agent` once the agent's own command line adds it with `role`.
async fn paired_app(dir: &Path, agent: &obuspa::Agent, role: &str) -> Home {
    let home = app(dir, None, vec![(agent.url(), Some(agent.eid.clone()))]).await;
    let eid = home.settings().await.expect("settings").endpoint_id;
    wait_home(&home, "the agent answers (not authorised)", |v| {
        matches!(auth_of(v, &agent.eid), Some(AgentAuth::NotAuthorised { .. }))
    })
    .await;
    agent.add_controller(&eid, role);
    home.agent_check_now(AgentArgs { agent: agent.eid.clone() }).await.expect("check now");
    wait_home(&home, "paired", |v| matches!(auth_of(v, &agent.eid), Some(AgentAuth::Paired { .. }))).await;
    home
}

/// `path`'s value on the agent, read through its own command line.
fn cli_value(agent: &obuspa::Agent, path: &str) -> String {
    let out = agent.cli(&["get", path]);
    out.lines()
        .find_map(|l| l.split_once("=>").filter(|(p, _)| p.trim() == path).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("{path} not read: {out}"))
}

async fn way_of(home: &Home, eid: &str) -> UsageCollection {
    let settings = home.settings().await.expect("settings");
    settings.usage_collection.into_iter().find(|w| w.agent == eid).expect("the agent is listed")
}

/// The end-user role allowed to make BulkData profiles (and to turn BulkData on).
const BULKDATA_GRANTED: &str = "\
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.Alias \"bulkdata\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.Enable \"true\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.Order \"3\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.Targets \"Device.BulkData.\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.Param \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.Obj \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.InstantiatedObj \"rw-n\"
Device.LocalAgent.ControllerTrust.Role.3.Permission.3.CommandEvent \"r-xn\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_agent_pushes_bulkdata_reports_that_the_app_decodes() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let agent = obuspa::Agent::start(&bins(), obuspa::Variant::Stock, tmp.path(), "bulk", "proto::obuspa-bulk", "");
    reports_come(&tmp.path().join("app"), &agent, "Device.LocalAgent.ControllerTrust.Role.1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_role_granted_bulkdata_gets_the_reports_too() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let extra = format!("{END_USER}{BULKDATA_GRANTED}");
    let agent = obuspa::Agent::start(
        &bins(),
        obuspa::Variant::Untrusted,
        tmp.path(),
        "granted",
        "proto::obuspa-granted",
        &extra,
    );
    reports_come(&tmp.path().join("app"), &agent, "Device.LocalAgent.ControllerTrust.Role.3").await;
}

/// The app paired with `agent` as `role` makes its profile there, and the reports come.
async fn reports_come(dir: &Path, agent: &obuspa::Agent, role: &str) {
    assert_eq!(cli_value(agent, "Device.BulkData.Enable"), "false", "off after a factory reset");
    let home = paired_app(dir, agent, role).await;
    home.set_history_interval(Duration::from_secs(2));
    let before = way_of(&home, &agent.eid).await;
    assert!(!before.by_reports && before.how.starts_with("Not collected yet"), "{before:?}");

    // The first collection makes the profile (and asks, this once: the agent has no hosts).
    let asked = bounded("collect", home.collect_history(SystemTime::now())).await.expect("collected");
    assert_eq!(asked, 0, "no hosts on the reference agent");
    let row = "Device.BulkData.Profile.1.";
    assert_eq!(cli_value(agent, &format!("{row}Alias")), "uh-usage");
    assert_eq!(cli_value(agent, &format!("{row}Protocol")), "USPEventNotif");
    assert_eq!(cli_value(agent, &format!("{row}EncodingType")), "JSON");
    assert_eq!(cli_value(agent, &format!("{row}ReportingInterval")), "2");
    assert_eq!(cli_value(agent, &format!("{row}Enable")), "true");
    assert_eq!(
        cli_value(agent, &format!("{row}ParameterNumberOfEntries")),
        app_core::usage::bulkdata::REFERENCES.len().to_string()
    );
    assert_eq!(cli_value(agent, "Device.BulkData.Enable"), "true", "the app turned BulkData on");
    // The profile is the app's: the agent sends its reports to the app's Controller row only.
    let controller = cli_value(agent, &format!("{row}Controller"));
    let app_eid = home.settings().await.expect("settings").endpoint_id;
    assert_eq!(cli_value(agent, &format!("{controller}.EndpointID")), app_eid);

    // Its Push! reports come and are decoded: one value (its uptime), no hosts' counters.
    let way = bounded("a report from the reference agent", async {
        loop {
            let way = way_of(&home, &agent.eid).await;
            if way.by_reports {
                break way;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    println!("{}: {}", way.name, way.how);
    assert!(way.how.contains("carry no connected devices' counters"), "{way:?}");
    assert!(way.how.contains("had 1 value"), "the uptime, decoded: {way:?}");
    let now_ms =
        i64::try_from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("now").as_millis()).expect("ms");
    assert!(way.last_report_ms.is_some_and(|t| (now_ms - t).abs() < 10_000), "{way:?}");
    // While its reports come it is not asked; a second collection makes no second profile.
    let asked = bounded("collect", home.collect_history(SystemTime::now())).await.expect("collected");
    assert_eq!(asked, 0);
    assert_eq!(cli_value(agent, "Device.BulkData.ProfileNumberOfEntries"), "1");
    // Reports keep coming (every 2 s).
    let first = way.last_report_ms.expect("a report");
    bounded("a later report", async {
        while way_of(&home, &agent.eid).await.last_report_ms <= Some(first) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_role_without_bulkdata_falls_back_to_asking_and_settings_say_why() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // The untrusted build: a plain-ws controller's rights are its assigned role's only.
    let agent = obuspa::Agent::start(
        &bins(),
        obuspa::Variant::Untrusted,
        tmp.path(),
        "enduser",
        "proto::obuspa-enduser",
        END_USER,
    );
    let home = paired_app(&tmp.path().join("app"), &agent, "Device.LocalAgent.ControllerTrust.Role.3").await;
    home.set_history_interval(Duration::from_secs(2));
    bounded("collect", home.collect_history(SystemTime::now())).await.expect("collected");
    assert_eq!(cli_value(&agent, "Device.BulkData.ProfileNumberOfEntries"), "0", "no profile made");
    assert_eq!(cli_value(&agent, "Device.BulkData.Enable"), "false", "nothing else changed");
    let way = way_of(&home, &agent.eid).await;
    println!("{}: {}", way.name, way.how);
    assert!(!way.by_reports && way.last_report_ms.is_none(), "{way:?}");
    assert!(
        way.how.starts_with("The app may not make a BulkData profile on it, so it asks every 2 seconds."),
        "{way:?}"
    );
    assert!(way.how.contains("role there does not allow adding one"), "{way:?}");
    // Later collections ask (no second try at a profile, no report).
    tokio::time::sleep(Duration::from_secs(3)).await;
    bounded("collect", home.collect_history(SystemTime::now())).await.expect("collected");
    assert_eq!(cli_value(&agent, "Device.BulkData.ProfileNumberOfEntries"), "0");
    assert!(!way_of(&home, &agent.eid).await.by_reports);
    home.shutdown().await;
}
