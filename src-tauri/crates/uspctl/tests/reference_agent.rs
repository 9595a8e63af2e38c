//! `uspctl` against the Broadband Forum's reference agent (OB-USPA 11.0.4), a real agent
//! written by others, on loopback: one agent process per test in its own folder, on a free
//! port, started with `-i lo`.
//!
//! The agent binary is `$USP_HOME_OBUSPA` (scripts/test.sh builds it with
//! scripts/setup-peers.sh and sets it), else `<target dir>/peers/bin/obuspa`, built here with
//! ../shared/peers/build.sh when missing. A missing agent fails these tests; it never skips them.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// The reference agent's own Endpoint ID (in every reset file below).
const AGENT: &str = "proto::obuspa-test-agent";
/// The controller the reset files give Full Access (plain ws://).
const ME: &str = "self::usp-home-test";
/// Bound for anything a test waits for.
const WAIT: Duration = Duration::from_secs(20);

// ---- the agent ----

#[path = "../../../../tests/support/obuspa.rs"]
mod obuspa;

use obuspa::{Agent, Tls as AgentTls};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The folder of the agent binaries; built on first use when they are not there.
fn bins() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // <target>/debug/deps/reference_agent-HASH
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().to_owned();
        obuspa::bin_dir(&target, &repo_root().join("../shared"))
    })
}

/// A fresh folder for one test's agent.
fn parent() -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // In the build's scratch folder, by number: a later run reuses (and empties) it, so runs
    // leave nothing behind in the system's temporary folder.
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("uspctl-ref-{n}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The stock agent whose Controller table knows `controller` with Full Access (`wss://` with `tls`).
fn start_for(name: &str, tls: Option<&AgentTls>, controller: &str) -> Agent {
    let lines = obuspa::controller_lines(1, controller, "Device.LocalAgent.ControllerTrust.Role.1");
    Agent::start_with(bins(), obuspa::Variant::Stock, &parent(), name, AGENT, &lines, tls)
}

/// The IDs in the agent's Subscription table, read with the agent's own command line.
fn subscription_ids(agent: &Agent) -> Vec<String> {
    agent
        .cli(&["get", "Device.LocalAgent.Subscription.*.ID"])
        .lines()
        .filter_map(|l| l.split_once(".ID => ").map(|(_, v)| v.trim().to_owned()))
        .collect()
}

/// The stock agent that knows uspctl's test controller ([`ME`]).
fn start(name: &str) -> Agent {
    start_for(name, None, ME)
}

// ---- uspctl ----

fn uspctl(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_uspctl"));
    c.env("USP_HOME_DATA_DIR", data)
        .env("USP_HOME_VAULT_PASSPHRASE", "uspctl reference agent test vault")
        .env("USP_HOME_VAULT_BACKEND", "file")
        .env_remove("USPCTL_AGENT")
        .env_remove("USPCTL_EID")
        .env_remove("USPCTL_LOG")
        .stdin(Stdio::null());
    c
}

/// uspctl talking to `agent` as the controller its reset file knows.
fn uspctl_to(agent: &Agent, data: &Path, rest: &[&str]) -> Command {
    let mut c = uspctl(data);
    c.args(["--agent", &agent.url(), "--eid", ME, "--timeout", "5"]).args(rest);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(mut c: Command) -> Output {
    c.output().unwrap()
}

/// A uspctl running in the background, its output read line by line.
struct Running {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    seen_err: Vec<String>,
}

impl Running {
    fn spawn(mut c: Command) -> Running {
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines() {
                    let Ok(l) = l else { break };
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Running { child, stdout, stderr, seen_err: Vec::new() }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Waits for a line on standard error containing `what`.
    fn wait_err(&mut self, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    self.seen_err.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no {what:?} on uspctl's stderr; it said: {:?}", self.seen_err),
            }
        }
    }

    /// Waits for a line on standard output.
    fn next_out(&mut self) -> String {
        self.stdout.recv_timeout(WAIT).unwrap_or_else(|_| panic!("uspctl printed nothing; stderr: {:?}", self.seen_err))
    }

    /// Sends `sig` (e.g. "-TERM") with the shell's own `kill` (no procps needed).
    fn signal(&self, sig: &str) {
        let s = Command::new("sh").args(["-c", "kill \"$1\" \"$2\"", "sh", sig, &self.pid()]).status().unwrap();
        assert!(s.success());
    }

    /// Waits (bounded) for the process to end; returns its exit code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(200)) {
                    self.seen_err.push(l);
                }
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("uspctl did not exit within {WAIT:?}; stderr: {:?}", self.seen_err);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the tests ----

#[test]
fn get_set_add_and_operate_talk_to_the_reference_agent() {
    let agent = start("basic");
    let data = agent.dir.join("uspctl-data");
    let o = run(uspctl_to(&agent, &data, &["get", "Device.DeviceInfo.ModelName", "Device.LocalAgent.EndpointID"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Device.DeviceInfo.ModelName = USP Agent"), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains(&format!("Device.LocalAgent.EndpointID = {AGENT}")), "{}", text(&o.stdout));

    let o = run(uspctl_to(&agent, &data, &["add", "Device.BulkData.Profile."]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let profile = text(&o.stdout).lines().next().unwrap_or_default().to_owned();
    assert!(profile.starts_with("Device.BulkData.Profile.") && profile.ends_with('.'), "{profile}");

    let name = format!("{profile}Name");
    let o = run(uspctl_to(&agent, &data, &["set", &format!("{name}=from-uspctl")]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(agent.cli(&["get", &name]).contains("=> from-uspctl"), "{}", agent.cli(&["get", &name]));

    // An asynchronous command, waited for through an OperationComplete subscription that is
    // removed afterwards.
    let t = Instant::now();
    let o = run(uspctl_to(&agent, &data, &["operate", "Device.ScheduleTimer()", "DelaySeconds=1", "--wait"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(t.elapsed() >= Duration::from_millis(900), "returned before the timer fired: {:?}", t.elapsed());
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());

    // A USP error from the real agent: exit 1 with its code.
    let o = run(uspctl_to(&agent, &data, &["get", "Device.WiFi."]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("7026"), "{}", text(&o.stderr));
}

#[test]
fn a_closed_pipe_ends_uspctl_quietly_with_status_0() {
    let agent = start("pipe");
    let data = agent.dir.join("uspctl-data");
    for args in [&["supported", "Device."][..], &["get", "Device."][..], &["--json", "get", "Device.LocalAgent."][..]] {
        let mut c = uspctl_to(&agent, &data, args);
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // The reader goes away before uspctl prints anything (`uspctl ... | head -0`).
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{args:?}");
    }

    // watch: its first notification finds the reader gone; it ends with 0 and unsubscribes.
    let mut c = uspctl_to(&agent, &data, &["watch", "Device.BulkData.Profile.", "--kind", "object-creation"]);
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("watching"), "{line}");
    assert_eq!(subscription_ids(&agent).len(), 1);
    agent.cli(&["add", "Device.BulkData.Profile."]);
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        rest
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch kept running after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest = rest.join().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert_eq!(rest, "");
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());
}

#[test]
fn a_wrong_agent_eid_names_the_device_that_answered() {
    let agent = start("wrong-eid");
    let data = agent.dir.join("uspctl-data");
    let o = run(uspctl_to(&agent, &data, &["--agent-eid", "proto::someone-else", "get", "Device.DeviceInfo."]));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("wrong device"), "{err}");
    assert!(err.contains(&format!("is {AGENT}, not proto::someone-else")), "{err}");
    assert!(!err.contains("Add this app") && !err.contains("did not answer"), "{err}");

    let o = run(uspctl_to(
        &agent,
        &data,
        &["--agent-eid", "proto::someone-else", "pair", &agent.url(), "--passcode-stdin"],
    ));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("is {AGENT}, not proto::someone-else")), "{err}");
    assert!(!err.contains("Add this app"), "{err}");

    // The right one still works.
    let o = run(uspctl_to(&agent, &data, &["--agent-eid", AGENT, "get", "Device.DeviceInfo.ModelName"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn sigterm_during_watch_and_operate_wait_removes_the_subscription() {
    let agent = start("sigterm");
    let data = agent.dir.join("uspctl-data");
    let mut watch =
        Running::spawn(uspctl_to(&agent, &data, &["watch", "Device.BulkData.Profile.", "--kind", "object-creation"]));
    watch.wait_err("watching Device.BulkData.Profile.");
    assert_eq!(subscription_ids(&agent).len(), 1);
    agent.cli(&["add", "Device.BulkData.Profile."]);
    assert_eq!(watch.next_out(), "created Device.BulkData.Profile.1. Alias=cpe-1");
    watch.signal("-TERM");
    assert_eq!(watch.wait_exit(), Some(0), "{:?}", watch.seen_err);
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());

    // operate --wait for a timer that fires in a minute, stopped by SIGTERM.
    let mut op = Running::spawn(uspctl_to(
        &agent,
        &data,
        &["operate", "Device.ScheduleTimer()", "DelaySeconds=60", "--wait", "--key", "long"],
    ));
    let deadline = Instant::now() + WAIT;
    while subscription_ids(&agent).is_empty() {
        assert!(Instant::now() < deadline, "operate --wait never subscribed");
        std::thread::sleep(Duration::from_millis(50));
    }
    op.signal("-TERM");
    assert_eq!(op.wait_exit(), Some(3));
    assert!(op.seen_err.iter().any(|l| l.contains("stopped waiting")), "{:?}", op.seen_err);
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());
}

#[test]
fn leftover_subscriptions_of_a_killed_run_are_removed_by_the_next_run() {
    let agent = start("leftover");
    let data = agent.dir.join("uspctl-data");
    let watch_args = ["watch", "Device.BulkData.Profile.", "--kind", "object-creation"];
    let mut killed = Running::spawn(uspctl_to(&agent, &data, &watch_args));
    killed.wait_err("watching");
    killed.signal("-KILL");
    let _ = killed.wait_exit();
    let left = subscription_ids(&agent);
    assert_eq!(left.len(), 1, "a killed uspctl leaves its subscription: {left:?}");

    let mut live = Running::spawn(uspctl_to(&agent, &data, &watch_args));
    live.wait_err("watching");
    assert!(live.seen_err.iter().any(|l| l.contains("removed 1 subscription")), "{:?}", live.seen_err);
    let now = subscription_ids(&agent);
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(!now.contains(&left[0]), "the leftover {} is still there: {now:?}", left[0]);

    // (Two runs of one installation can't be connected at once to this agent, which keeps one
    // connection per controller: that a live run's subscriptions are kept is a unit test.)
    live.signal("-INT");
    assert_eq!(live.wait_exit(), Some(0));
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());
}

/// A loopback TCP relay whose connections can be cut, to drop uspctl's connection while the
/// agent keeps running (and keeps its subscriptions).
struct Relay {
    port: u16,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn to(port: u16) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay_port = l.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let keep = conns.clone();
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { break };
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else { continue };
                keep.lock().unwrap().extend([client.try_clone().unwrap(), upstream.try_clone().unwrap()]);
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), upstream.try_clone().unwrap()), (upstream, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port: relay_port, conns }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/usp", self.port)
    }

    fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

#[test]
fn after_a_reconnect_the_agents_duplicate_answer_counts_as_already_there() {
    let agent = start("dup");
    let data = agent.dir.join("uspctl-data");
    let relay = Relay::to(agent.port);
    let mut c = uspctl(&data);
    c.args(["--agent", &relay.url(), "--eid", ME, "--timeout", "5"]);
    c.args(["watch", "Device.BulkData.Profile.", "--kind", "object-creation"]);
    let mut watch = Running::spawn(c);
    watch.wait_err("watching");
    let before = subscription_ids(&agent);
    assert_eq!(before.len(), 1);

    relay.cut();
    watch.wait_err("dropped; reconnecting");
    // The agent kept the subscription, so making it again is answered 7004 with a 7025 param
    // error: that is "still in place", not a failure.
    watch.wait_err("reconnected; the subscription was still in place");
    assert!(!watch.seen_err.iter().any(|l| l.contains("could not")), "{:?}", watch.seen_err);
    assert_eq!(subscription_ids(&agent), before);

    // Notifications still reach uspctl over the new connection.
    agent.cli(&["add", "Device.BulkData.Profile."]);
    assert_eq!(watch.next_out(), "created Device.BulkData.Profile.1. Alias=cpe-1");
    watch.signal("-TERM");
    assert_eq!(watch.wait_exit(), Some(0), "{:?}", watch.seen_err);
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());
}

/// The same at the usp-client level, which restores `Client::subscribe` subscriptions after a
/// reconnect by itself (the app's path): the duplicate answer is logged as "still in place",
/// never as a failure to restore.
#[test]
fn the_client_restoring_subscriptions_counts_the_duplicate_answer_as_in_place() {
    use usp_client::{Client, ClientConfig, NotifKind};

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Log {
        fn text(&self) -> String {
            text(&self.0.lock().unwrap())
        }
    }

    let agent = start("client-dup");
    let relay = Relay::to(agent.port);
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("usp_client=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // One thread: the client's driver runs here, under this thread's log subscriber.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = ClientConfig::new(relay.url(), ME.parse().unwrap());
        config.connect_timeout = Duration::from_secs(5);
        config.request_timeout = Duration::from_secs(5);
        let client = Client::connect(config).await.unwrap();
        let sub = client.subscribe(NotifKind::ObjectCreation, &["Device.BulkData.Profile."]).await.unwrap();
        assert_eq!(subscription_ids(&agent), vec![sub.id.clone()]);
        let mut state = client.state();
        relay.cut();
        // Down, then up again.
        tokio::time::timeout(WAIT, state.wait_for(|s| !matches!(s, usp_client::ConnectionState::Connected { .. })))
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(WAIT, state.wait_for(|s| matches!(s, usp_client::ConnectionState::Connected { .. })))
            .await
            .unwrap()
            .unwrap();
        // The restore's answer comes back before the answer to a request sent after it.
        client.get(&["Device.DeviceInfo.ModelName"], 0).await.unwrap();
        client.unsubscribe(&sub).await.unwrap();
        client.close().await;
    });
    let text = log.text();
    assert!(text.contains("subscription still in place"), "{text}");
    assert!(!text.contains("could not restore subscription"), "{text}");
    assert_eq!(subscription_ids(&agent), Vec::<String>::new());
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[test]
fn an_agent_that_refuses_our_certificate_is_reported_with_our_fingerprint() {
    use usp_client::tls::Identity;
    // The agent's identity, and a trust store holding someone else's certificate, not ours.
    let agent_id = Identity::generate(&AGENT.parse().unwrap()).unwrap();
    let stranger = Identity::generate(&"self::someone-else".parse().unwrap()).unwrap();
    let tls = AgentTls {
        identity_pem: format!(
            "{}{}",
            agent_id.cert_pem(),
            pem("PRIVATE KEY", agent_id.private_key_der().expose_secret())
        ),
        trust_pem: stranger.cert_pem(),
    };
    let agent = start_for("refuse", Some(&tls), ME);
    let data = agent.dir.join("uspctl-data");

    let o = uspctl(&data).args(["--json", "whoami"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let me: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fingerprint = me["certificate_sha256"].as_str().unwrap().to_owned();
    let eid = me["endpoint_id"].as_str().unwrap().to_owned();

    let o = run({
        let mut c = uspctl(&data);
        c.args(["--timeout", "5", "pair", &agent.wss_url(), "--passcode-stdin", "--trust-first-use"]);
        c
    });
    assert_eq!(o.status.code(), Some(3), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("the agent refused this installation's certificate"), "{err}");
    assert!(err.contains(&fingerprint) && err.contains(&eid), "{err}");
    println!("pair over wss, certificate refused: {err}");

    // The data-model commands over wss:// say the same, at the first refusal rather than
    // after retrying until the timeout (5 s).
    let t = Instant::now();
    let o = run({
        let mut c = uspctl(&data);
        c.args(["--agent", &agent.wss_url(), "--timeout", "5", "get", "Device.DeviceInfo."]);
        c
    });
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("the agent refused this installation's certificate"), "{err}");
    assert!(err.contains(&fingerprint), "{err}");
    assert!(t.elapsed() < Duration::from_secs(4), "took {:?}", t.elapsed());
}

/// `uspctl whoami --pem` prints the certificate a router can trust: put into the reference
/// agent's trust store (`-t`), it lets uspctl in over wss:// with mutual TLS, and the agent
/// answers as the controller its table knows (without it, the agent refuses the certificate:
/// the test above).
#[test]
fn the_exported_certificate_is_trusted_by_the_agent_over_mutual_tls() {
    use usp_client::tls::Identity;
    let data = parent().join("pem-data");
    let o = uspctl(&data).args(["--json", "whoami"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let me: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let eid = me["endpoint_id"].as_str().unwrap().to_owned();

    let o = uspctl(&data).args(["whoami", "--pem"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let exported = text(&o.stdout);
    assert!(exported.starts_with("-----BEGIN CERTIFICATE-----\n"), "{exported}");
    assert!(exported.trim_end().ends_with("-----END CERTIFICATE-----"), "{exported}");
    assert!(!exported.contains("PRIVATE KEY"), "the export must hold no key: {exported}");
    assert_eq!(exported.trim_end(), me["certificate_pem"].as_str().unwrap().trim_end(), "--pem and --json agree");

    let agent_id = Identity::generate(&AGENT.parse().unwrap()).unwrap();
    let tls = AgentTls {
        identity_pem: format!(
            "{}{}",
            agent_id.cert_pem(),
            pem("PRIVATE KEY", agent_id.private_key_der().expose_secret())
        ),
        trust_pem: exported,
    };
    let agent = start_for("pem", Some(&tls), &eid);
    let o = run({
        let mut c = uspctl(&data);
        c.args(["--timeout", "5", "pair", &agent.wss_url(), "--passcode-stdin", "--trust-first-use"]);
        c
    });
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.contains("Already paired: role"), "stdout: {out}\nstderr: {err}");
    let _ = std::fs::remove_dir_all(&data);
}
