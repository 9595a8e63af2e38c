//! `uspctl pair`, `whoami` and `trust` as a user runs them, against an in-process simulated
//! home whose agents give unknown controllers the Untrusted role.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sim_home::agent::UnknownControllerPolicy;
use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
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
    let d = std::env::temp_dir().join(format!("uspctl-pair-{name}-{}", std::process::id()));
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
    let _ = std::fs::remove_dir_all(&data);
}
