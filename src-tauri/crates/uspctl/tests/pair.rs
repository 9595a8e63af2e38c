//! `uspctl pair`, `whoami` and `trust` as a user runs them, against an in-process simulated
//! home whose agents give unknown controllers the Untrusted role.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use sim_home::TlsMode;

async fn home(tls: Option<TlsMode>) -> Home {
    let mut config = HomeConfig::new(Scenario::builtin());
    config.unknown_controllers = Some(UnknownControllerPolicy::Untrusted);
    config.tls = tls;
    let home =
        tokio::time::timeout(Duration::from_secs(20), Home::start(config)).await.expect("in time").expect("starts");
    // The built-in scenario lets the Untrusted role read the Challenge table, so the tries left
    // are known.
    home
}

/// Runs uspctl with `stdin` as its standard input, in a blocking thread so the simulated
/// home keeps serving meanwhile. Each test has its own data folder and an encrypted-file vault.
async fn uspctl(data: &Path, args: &[&str], stdin: &str) -> Output {
    let data = data.to_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_uspctl"))
            .args(&args)
            .env("USP_HOME_DATA_DIR", &data)
            .env("USP_HOME_VAULT_PASSPHRASE", "uspctl pair test vault")
            .env("USP_HOME_VAULT_BACKEND", "file")
            .env_remove("USPCTL_AGENT")
            .env_remove("USPCTL_EID")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("uspctl runs");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("uspctl ends")
    })
    .await
    .expect("join")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("uspctl-pair-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_with_the_right_passcode_prints_the_role() {
    let home = home(None).await;
    let gw = home.agent("gateway").expect("gateway");
    let data = tempdir("right");
    let o = uspctl(&data, &["--timeout", "5", "pair", &gw.url, "--passcode-stdin"], "482913\n").await;
    assert_eq!(o.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Enter the 6-digit passcode printed on the label under the gateway"), "{out}");
    assert!(out.contains("Paired. Role: Home User."), "{out}");
    assert!(!out.contains("482913") && !text(&o.stderr).contains("482913"));
    // Paired now: a second run says so.
    let o = uspctl(&data, &["--timeout", "5", "pair", &gw.url, "--passcode-stdin"], "").await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Already paired"), "{}", text(&o.stdout));
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_with_a_wrong_passcode_exits_1_with_tries_left() {
    let home = home(None).await;
    let gw = home.agent("gateway").expect("gateway");
    let data = tempdir("wrong");
    let o = uspctl(&data, &["--timeout", "5", "pair", &gw.url, "--passcode-stdin"], "000000\n").await;
    assert_eq!(o.status.code(), Some(1), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("Wrong passcode, 2 tries left."), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_over_wss_trusts_on_first_use_then_whoami_and_trust() {
    let home = home(Some(TlsMode::self_signed())).await;
    let gw = home.agent("gateway").expect("gateway");
    let fp = gw.fingerprint.expect("wss agent").to_string();
    let data = tempdir("wss");
    // Without a terminal and without --trust-first-use, nothing is trusted.
    let o = uspctl(&data, &["--timeout", "5", "pair", &gw.url, "--passcode-stdin"], "482913\n").await;
    assert_eq!(o.status.code(), Some(3), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains(&fp), "{}", text(&o.stdout));

    let o =
        uspctl(&data, &["--timeout", "5", "pair", &gw.url, "--passcode-stdin", "--trust-first-use"], "482913\n").await;
    assert_eq!(o.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("Paired. Role: Home User."), "{}", text(&o.stdout));

    let o = uspctl(&data, &["trust", "list"], "").await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), format!("{} {fp}", gw.endpoint_id));

    // After pairing, the data-model commands use wss:// with the same identity and pin: the
    // passcode's role (Home User) may read the device's name.
    let o = uspctl(&data, &["--agent", &gw.url, "--timeout", "5", "get", "Device.DeviceInfo.FriendlyName"], "").await;
    assert_eq!(o.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains(&gw.friendly_name), "{}", text(&o.stdout));

    let o = uspctl(&data, &["whoami"], "").await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Endpoint ID: uuid::"), "{out}");
    assert!(out.contains("Certificate SHA-256: "), "{out}");
    assert!(out.contains("Secrets: "), "{out}");

    let o = uspctl(&data, &["trust", "forget", gw.endpoint_id.as_str()], "").await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = uspctl(&data, &["trust", "list"], "").await;
    assert!(text(&o.stdout).contains("No agent certificate is trusted yet."), "{}", text(&o.stdout));
    // Forgotten, the agent's certificate is not trusted any more: get says to pair first.
    let o = uspctl(&data, &["--agent", &gw.url, "--timeout", "5", "get", "Device.DeviceInfo.FriendlyName"], "").await;
    assert_eq!(o.status.code(), Some(3), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stderr).contains("pair with it first"), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&data);
}

/// uspctl and the app share one data folder (the app's, `org.usphome.app` in the user's data
/// folder): what uspctl kept in its old folder (`usp-home` beside it) moves there on the next run,
/// so the identity agents know stays the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_data_folder_moves_into_the_one_shared_with_the_app() {
    let user_data = tempdir("xdg");
    let old = user_data.join("usp-home");
    // Who uspctl is (the vault's description names the folder, so it is left out).
    let who = |o: &Output| -> String {
        text(&o.stdout).lines().filter(|l| !l.contains("vault_description")).collect::<Vec<_>>().join("\n")
    };
    let run = |explicit: Option<std::path::PathBuf>| {
        let user_data = user_data.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = Command::new(env!("CARGO_BIN_EXE_uspctl"));
            c.args(["--json", "whoami"])
                .env("XDG_DATA_HOME", &user_data)
                .env("USP_HOME_VAULT_PASSPHRASE", "uspctl pair test vault")
                .env("USP_HOME_VAULT_BACKEND", "file")
                .env_remove("USP_HOME_DATA_DIR");
            if let Some(dir) = explicit {
                c.env("USP_HOME_DATA_DIR", dir);
            }
            c.output().expect("uspctl runs")
        })
    };
    // What an older uspctl left: its identity in `usp-home`.
    let before = run(Some(old.clone())).await.expect("join");
    assert_eq!(before.status.code(), Some(0), "{}", text(&before.stderr));
    assert!(old.join("endpoint-id").exists());

    let after = run(None).await.expect("join");
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stderr));
    assert!(text(&after.stderr).contains("moved its data from"), "{}", text(&after.stderr));
    assert!(who(&before).contains("uuid::"), "{}", who(&before));
    assert_eq!(who(&after), who(&before), "the same Endpoint ID and certificate");
    assert!(text(&after.stdout).contains("org.usphome.app"), "the vault moved too");
    assert!(user_data.join("org.usphome.app/endpoint-id").exists());
    assert!(!old.exists(), "the old folder is gone");

    // Once: the next run says nothing about it and is still the same.
    let again = run(None).await.expect("join");
    assert!(!text(&again.stderr).contains("moved"), "{}", text(&again.stderr));
    assert_eq!(who(&again), who(&before));
    let _ = std::fs::remove_dir_all(&user_data);
}
