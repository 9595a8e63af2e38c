//! The Broadband Forum's reference agent (OB-USPA 11.0.4) as a test peer: one process per test,
//! in its own folder, on a free loopback port (`-i lo`), with a factory-reset file the test
//! writes. Plain `std`, so any test crate can include this file (`#[path]`) without new
//! dependencies: the window suite (`tests/e2e`) and app-core's tests use it.
//!
//! The binaries come from `$USP_HOME_OBUSPA` (scripts/test.sh builds them with
//! scripts/setup-peers.sh and sets it to `…/bin/obuspa`; the variants lie beside it), else from
//! `<target dir>/peers/bin`, built with ../shared/peers/build.sh when missing. A missing agent
//! fails the test; it never skips it.

#![allow(dead_code)] // each including test uses a part

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The passcode of [`CHALLENGE`].
pub const PASSCODE: &str = "482913";

/// The passcode challenge of `obuspa-untrusted` (../shared/peers/reset/untrusted.txt's: passcode
/// 482913, 3 tries, 30 s lockout), as reset lines.
pub const CHALLENGE: &str = "\
Device.LocalAgent.ControllerTrust.Challenge.1.Alias \"label-passcode\"
Device.LocalAgent.ControllerTrust.Challenge.1.Description \"Passcode printed on the device label\"
Device.LocalAgent.ControllerTrust.Challenge.1.Role \"Device.LocalAgent.ControllerTrust.Role.1\"
Device.LocalAgent.ControllerTrust.Challenge.1.Enable \"true\"
Device.LocalAgent.ControllerTrust.Challenge.1.Type \"Passphrase\"
Device.LocalAgent.ControllerTrust.Challenge.1.Value \"NDgyOTEz\"
Device.LocalAgent.ControllerTrust.Challenge.1.ValueType \"text/plain\"
Device.LocalAgent.ControllerTrust.Challenge.1.Instruction \"RW50ZXIgdGhlIDYtZGlnaXQgcGFzc2NvZGUgcHJpbnRlZCBvbiB0aGUgbGFiZWw=\"
Device.LocalAgent.ControllerTrust.Challenge.1.InstructionType \"text/plain\"
Device.LocalAgent.ControllerTrust.Challenge.1.Retries \"3\"
Device.LocalAgent.ControllerTrust.Challenge.1.LockoutPeriod \"30\"
";

/// A permission for the Untrusted role to read the Challenge table, so an unpaired app can tell
/// the tries left (stock OB-USPA lets an untrusted controller read only DeviceInfo: the app then
/// says "Wrong passcode." without a count).
pub const SHOW_TRIES: &str = "\
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.Alias \"challenge-readable\"
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.Enable \"true\"
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.Order \"5\"
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.Targets \"Device.LocalAgent.ControllerTrust.Challenge.\"
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.Param \"r---\"
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.Obj \"r---\"
Device.LocalAgent.ControllerTrust.Role.2.Permission.5.InstantiatedObj \"r---\"
";

/// Which build of the agent (see ../shared/peers/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Ignores controllers it does not know; known plain-ws controllers get Full Access.
    Stock,
    /// Plain-ws and unknown-certificate controllers get the Untrusted role (for the challenge).
    Untrusted,
    /// [`Variant::Stock`] with its experimental end-to-end session context compiled in.
    E2e,
}

impl Variant {
    fn file(self) -> &'static str {
        match self {
            Variant::Stock => "obuspa",
            Variant::Untrusted => "obuspa-untrusted",
            Variant::E2e => "obuspa-e2e",
        }
    }
}

/// The folder holding the agent binaries; built on first use when they are not there.
pub fn bin_dir(target_dir: &Path, shared: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("USP_HOME_OBUSPA") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "USP_HOME_OBUSPA={} does not exist (scripts/setup-peers.sh builds it)", p.display());
        return p.parent().expect("the agent binary is in a folder").to_owned();
    }
    let peers = target_dir.join("peers");
    let bin = peers.join("bin");
    if !bin.join("obuspa-untrusted").is_file() {
        let build = shared.join("peers/build.sh");
        eprintln!("building the reference agent into {} (a few minutes, once)", peers.display());
        let status = Command::new("bash").arg(&build).arg(&peers).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "building the reference agent with {} failed ({status:?}); scripts/setup-peers.sh installs what it needs",
            build.display()
        );
    }
    bin
}

/// Reset lines for a controller the agent knows, with `role` (a `Role.{i}` path, or "").
pub fn controller_lines(instance: u32, eid: &str, role: &str) -> String {
    let c = format!("Device.LocalAgent.Controller.{instance}");
    format!(
        "{c}.Alias \"controller-{instance}\"\n{c}.EndpointID \"{eid}\"\n{c}.Enable \"true\"\n{c}.AssignedRole \"{role}\"\n"
    )
}

/// The TLS files of a `wss://` agent: its identity (certificate and key, PEM) and the controller
/// certificates it trusts (`-t`).
pub struct Tls {
    pub identity_pem: String,
    pub trust_pem: String,
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("bound").port()
}

/// The agent's command line for its folder `dir`: loopback only, its reset file, database and
/// command-line socket there.
fn base_args(dir: &Path) -> Vec<String> {
    let at = |name: &str| dir.join(name).display().to_string();
    ["-v", "1", "-i", "lo", "-r", &at("reset.txt"), "-f", &at("usp.db"), "-s", &at("cli")].map(str::to_owned).to_vec()
}

/// A fresh folder for the agent `name` under `parent`, and the binary of `variant` (which
/// must exist).
fn prepare(bins: &Path, variant: Variant, parent: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = parent.join(format!("obuspa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("agent folder");
    let bin = bins.join(variant.file());
    assert!(bin.is_file(), "{} is missing", bin.display());
    (dir, bin)
}

/// `tls` written into `dir` as the agent's identity (`-a`) and trust store (`-t`): the arguments.
fn tls_args(dir: &Path, tls: &Tls) -> Vec<String> {
    let file = |f: &str| dir.join(f).display().to_string();
    std::fs::write(dir.join("agent.pem"), &tls.identity_pem).expect("agent.pem");
    std::fs::write(dir.join("trust.pem"), &tls.trust_pem).expect("trust.pem");
    vec!["-a".into(), file("agent.pem"), "-t".into(), file("trust.pem")]
}

/// One running reference agent. Ended with TERM (then KILL) when dropped.
pub struct Agent {
    pub dir: PathBuf,
    pub port: u16,
    pub eid: String,
    bin: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Agent {
    /// Starts `variant` from `bins` in a fresh folder under `parent`, as `eid`, with a plain
    /// WebSocket server at `ws://127.0.0.1:PORT/usp` and `extra` reset lines (controllers,
    /// challenges: TR-181 `Path "value"` lines).
    pub fn start(bins: &Path, variant: Variant, parent: &Path, name: &str, eid: &str, extra: &str) -> Agent {
        Agent::start_with(bins, variant, parent, name, eid, extra, None)
    }

    /// [`Agent::start`], serving `wss://` instead when `tls` is given.
    pub fn start_with(
        bins: &Path,
        variant: Variant,
        parent: &Path,
        name: &str,
        eid: &str,
        extra: &str,
        tls: Option<&Tls>,
    ) -> Agent {
        let (dir, bin) = prepare(bins, variant, parent, name);
        let tls_extra = tls.map(|tls| tls_args(&dir, tls)).unwrap_or_default();
        // A port taken between our check and the agent's bind leaves it without a listener: try
        // another one.
        for _ in 0..3 {
            let port = free_port();
            let reset = format!(
                "Device.LocalAgent.EndpointID \"{eid}\"\n\
                 Device.LocalAgent.MTP.1.Alias \"ws-server\"\n\
                 Device.LocalAgent.MTP.1.Enable \"true\"\n\
                 Device.LocalAgent.MTP.1.Protocol \"WebSocket\"\n\
                 Device.LocalAgent.MTP.1.WebSocket.Port \"{port}\"\n\
                 Device.LocalAgent.MTP.1.WebSocket.Path \"/usp\"\n\
                 Device.LocalAgent.MTP.1.WebSocket.EnableEncryption \"{}\"\n\
                 Device.LocalAgent.MTP.1.WebSocket.KeepAliveInterval \"30\"\n\
                 {extra}\
                 Internal.Reboot.Cause \"LocalFactoryReset\"\n",
                tls.is_some()
            );
            let _ = std::fs::remove_file(dir.join("usp.db"));
            std::fs::write(dir.join("reset.txt"), reset).expect("reset file");
            let mut args = base_args(&dir);
            args.extend(tls_extra.iter().cloned());
            let mut agent = Agent { dir: dir.clone(), port, eid: eid.to_owned(), bin: bin.clone(), args, child: None };
            if agent.run() {
                return agent;
            }
            agent.stop();
        }
        panic!(
            "the reference agent never listened; its log: {}",
            std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
        );
    }

    /// Starts `variant` as `eid` with exactly the MTPs that `lines` (reset lines) configure and no
    /// WebSocket server of its own: an agent that reaches its controller through a broker
    /// (MQTT, STOMP) or dials it (agent-initiated WebSocket). Ready when its command line is.
    /// [`Agent::port`] is 0.
    pub fn start_reset(bins: &Path, variant: Variant, parent: &Path, name: &str, eid: &str, lines: &str) -> Agent {
        Agent::start_reset_with(bins, variant, parent, name, eid, lines, None)
    }

    /// Starts the process (again: its database in the folder keeps what it was told) and waits
    /// until it listens (or, without a port of its own, until its command line is up); false
    /// when it exits or never does within 20 s.
    pub fn run(&mut self) -> bool {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("agent.log")).expect("log");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("the reference agent starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if !self.running() {
                return false;
            }
            let listens = self.port == 0
                || TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_millis(200)).is_ok();
            if listens && self.dir.join("cli").exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Whether the process is still there (`Device.Reboot()` ends it).
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits (bounded) until the process has ended by itself.
    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if !self.running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `ws://127.0.0.1:PORT/usp`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/usp", self.port)
    }

    /// `wss://127.0.0.1:PORT/usp`.
    pub fn wss_url(&self) -> String {
        format!("wss://127.0.0.1:{}/usp", self.port)
    }

    /// Runs the agent's own command line (`obuspa -c …`), as a person would use the router's
    /// admin page: its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let o = Command::new(&self.bin)
            .arg("-s")
            .arg(self.dir.join("cli"))
            .arg("-f")
            .arg(self.dir.join("cli.db"))
            .arg("-c")
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("the agent's command line runs");
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    }

    /// Adds `controller` to the agent's Controller table with `role` (a `Role.{i}` path), enabled,
    /// through its command line.
    pub fn add_controller(&self, controller: &str, role: &str) -> String {
        let out = self.cli(&["add", "Device.LocalAgent.Controller."]);
        let instance = out
            .lines()
            .find_map(|l| {
                let l = l.trim();
                let at = l.find("Device.LocalAgent.Controller.")?;
                let rest = &l[at + "Device.LocalAgent.Controller.".len()..];
                let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
                (!n.is_empty()).then_some(n)
            })
            .unwrap_or_else(|| panic!("the agent's CLI added no controller: {out:?}"));
        let row = format!("Device.LocalAgent.Controller.{instance}.");
        let mut said = out;
        for (param, value) in [("EndpointID", controller), ("AssignedRole", role), ("Enable", "true")] {
            said.push_str(&self.cli(&["set", &format!("{row}{param}"), value]));
        }
        said
    }

    /// Ends the process (at once: no test needs the agent's own clean exit).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Agent {
    /// [`Agent::start_reset`] with a TLS identity (`-a`, the certificate it presents as a client
    /// too) and a trust store (`-t`): a dialling agent that uses `wss://`.
    pub fn start_reset_tls(
        bins: &Path,
        variant: Variant,
        parent: &Path,
        name: &str,
        eid: &str,
        lines: &str,
        tls: &Tls,
    ) -> Agent {
        Agent::start_reset_with(bins, variant, parent, name, eid, lines, Some(tls))
    }

    /// [`Agent::start_reset`], with `tls` as the agent's identity and trust store when given.
    fn start_reset_with(
        bins: &Path,
        variant: Variant,
        parent: &Path,
        name: &str,
        eid: &str,
        lines: &str,
        tls: Option<&Tls>,
    ) -> Agent {
        let (dir, bin) = prepare(bins, variant, parent, name);
        let reset =
            format!("Device.LocalAgent.EndpointID \"{eid}\"\n{lines}Internal.Reboot.Cause \"LocalFactoryReset\"\n");
        std::fs::write(dir.join("reset.txt"), reset).expect("reset file");
        let mut args = base_args(&dir);
        args.extend(tls.map(|tls| tls_args(&dir, tls)).unwrap_or_default());
        let mut agent = Agent { dir: dir.clone(), port: 0, eid: eid.to_owned(), bin, args, child: None };
        assert!(
            agent.run(),
            "the reference agent did not start; its log: {}",
            std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
        );
        agent
    }

    /// What the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }
}
