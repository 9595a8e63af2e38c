//! The parts of an end-to-end run: the simulated home (`usp-sim-home`, real agents announced over
//! mDNS on loopback), `uspctl` to check what the agents hold, `tauri-driver` (which starts
//! Debian's `WebKitWebDriver`, which starts the app), and a WebDriver session on the app's window.
//!
//! Every wait is bounded: elements are polled until a deadline, and a timeout names what was
//! awaited. Child processes are ended by their PID when the run ends, whatever happened.
//!
//! Environment (scripts/e2e.sh sets it):
//! - `USP_E2E_APP`: the app binary, built with `--features custom-protocol` after `trunk build`
//!   (required: a build without it would load the dev server instead of the embedded UI).
//! - `USP_E2E_BIN_DIR`: where `usp-sim-home` and `uspctl` are (default: the test's profile folder).
//! - `USP_E2E_OUT`: screenshots and logs (default `target/e2e`).
//! - `USP_E2E_TIMEOUT_SECS`: the longest any one wait may take (default 30).
//! - `USP_E2E_DRIVER`: the tauri-driver binary (default: `tauri-driver` on PATH).

#![allow(dead_code)] // shared by the `e2e` and `measure` test targets, which each use a part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// A failed step: what was being done, in words.
pub type Step<T> = Result<T, String>;

/// Where everything is.
#[derive(Debug, Clone)]
pub struct Paths {
    pub app: PathBuf,
    pub sim: PathBuf,
    pub uspctl: PathBuf,
    pub driver: PathBuf,
    pub out: PathBuf,
}

impl Paths {
    /// From the environment (see the module docs).
    pub fn from_env() -> Paths {
        let app = std::env::var_os("USP_E2E_APP")
            .map(PathBuf::from)
            .expect("USP_E2E_APP must name the app built with --features custom-protocol (run scripts/e2e.sh)");
        assert!(app.is_file(), "USP_E2E_APP={} is not a file", app.display());
        let bin_dir = std::env::var_os("USP_E2E_BIN_DIR").map(PathBuf::from).unwrap_or_else(|| {
            // target/<profile>/deps/e2e-<hash> -> target/<profile>
            let exe = std::env::current_exe().expect("the test knows its own path");
            exe.parent().and_then(Path::parent).expect("the test runs from target/<profile>/deps").to_owned()
        });
        let out = std::env::var_os("USP_E2E_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e"));
        std::fs::create_dir_all(&out).expect("the screenshot folder can be created");
        let driver = std::env::var_os("USP_E2E_DRIVER").map(PathBuf::from).unwrap_or_else(|| "tauri-driver".into());
        let paths = Paths { app, sim: bin_dir.join("usp-sim-home"), uspctl: bin_dir.join("uspctl"), driver, out };
        for tool in [&paths.sim, &paths.uspctl] {
            assert!(tool.is_file(), "{} is missing: build sim-home and uspctl first", tool.display());
        }
        paths
    }
}

/// The longest one wait may take.
pub fn patience() -> Duration {
    let secs = std::env::var("USP_E2E_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    Duration::from_secs(secs)
}

/// A free TCP port on 127.0.0.1 (the OS picks it; tiny race until the driver binds it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("bound socket has an address").port()
}

/// A child process ended (TERM, then KILL after a grace period) when dropped.
pub struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited already (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // TERM first, so tauri-driver can end WebKitWebDriver (and it the app) on its way out.
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("e2e: {} did not stop on TERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a child prints on `stdout`, as they come: a thread reads them until the output
/// ends or the receiver is dropped.
fn stdout_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Starts `usp-sim-home` with `args`, stopped when its stdin closes (`--exit-on-stdin-close`),
/// its log in `<out>/<log>`: its stdin (keep it open), the lines it prints, and the process.
pub fn spawn_sim(paths: &Paths, args: &[&str], log: &str) -> (ChildStdin, mpsc::Receiver<String>, Proc) {
    let log = std::fs::File::create(paths.out.join(log)).expect("sim log file");
    let mut child = Command::new(&paths.sim)
        .args(args)
        .args(["--exit-on-stdin-close", "--log", "info"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("usp-sim-home starts");
    let stdin = child.stdin.take().expect("piped stdin");
    let lines = stdout_lines(child.stdout.take().expect("piped stdout"));
    (stdin, lines, Proc { name: "usp-sim-home", child })
}

/// The simulated home: three agents on 127.0.0.1, announced over mDNS on `lo` only.
pub struct SimHome {
    /// Endpoint ID -> `ws://` URL, from the READY lines.
    pub agents: BTreeMap<String, String>,
    /// Keeps its stdin open: closing it stops the home (`--exit-on-stdin-close`).
    _stdin: ChildStdin,
    _proc: Proc,
}

impl SimHome {
    /// Starts `usp-sim-home` and waits until its three agents listen. `tick_ms`: the life loop
    /// (devices join and leave), deterministic for the scenario's seed.
    pub fn start(paths: &Paths, tick_ms: Option<u64>) -> SimHome {
        let tick = tick_ms.map(|ms| ms.to_string());
        let mut args = vec!["--mdns-interfaces", "lo"];
        if let Some(ms) = &tick {
            args.extend(["--tick", ms.as_str()]);
        }
        let (stdin, rx, proc) = spawn_sim(paths, &args, "usp-sim-home.log");
        let deadline = Instant::now() + patience();
        let mut agents = BTreeMap::new();
        while agents.len() < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("usp-sim-home did not announce 3 agents within {:?} (got {agents:?})", patience())
            });
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["READY", eid, url] = words[..] {
                agents.insert(eid.to_owned(), url.to_owned());
            }
        }
        SimHome { agents, _stdin: stdin, _proc: proc }
    }

    /// The `ws://` URL of the agent `eid`.
    pub fn url(&self, eid: &str) -> &str {
        self.agents.get(eid).map(String::as_str).unwrap_or_else(|| panic!("no agent {eid} in the simulated home"))
    }
}

/// A rogue device's mDNS advert on `lo` (`usp-sim-home --advertise-only`): it claims an Endpoint
/// ID at an address of its choosing. Dropping it sends the goodbyes and ends the process.
pub struct RogueAdvert {
    _stdin: ChildStdin,
    _proc: Proc,
}

impl RogueAdvert {
    /// Announces `advert` (`EID=URL[,SUBTYPE][,name=NAME]`) and waits until it is out.
    pub fn start(paths: &Paths, advert: &str) -> Step<RogueAdvert> {
        let log = std::fs::File::create(paths.out.join("rogue-advert.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(&paths.sim)
            .args(["--mdns-interfaces", "lo", "--exit-on-stdin-close", "--log", "info", "--advertise-only", advert])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("usp-sim-home --advertise-only did not start: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let proc = Proc { name: "usp-sim-home --advertise-only", child };
        let rx = stdout_lines(stdout);
        let deadline = Instant::now() + patience();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| format!("the rogue advert {advert} never went out"))?;
            if line.starts_with("ADVERTISED ") {
                return Ok(RogueAdvert { _stdin: stdin, _proc: proc });
            }
        }
    }
}

/// `uspctl` as the demo's full-access controller: what the agents really hold, independent of
/// the app.
pub struct Uspctl {
    bin: PathBuf,
    data: PathBuf,
}

impl Uspctl {
    pub fn new(paths: &Paths, data: PathBuf) -> Uspctl {
        std::fs::create_dir_all(&data).expect("uspctl data folder");
        Uspctl { bin: paths.uspctl.clone(), data }
    }

    /// `uspctl --agent URL get PATHS...` as `path -> value`.
    pub fn get(&self, url: &str, paths: &[&str]) -> Step<BTreeMap<String, String>> {
        let mut args = vec!["get"];
        args.extend_from_slice(paths);
        Ok(self
            .run(url, &args)?
            .lines()
            .filter_map(|line| line.split_once(" = "))
            .map(|(path, value)| (path.trim().to_owned(), value.trim().to_owned()))
            .collect())
    }

    /// `uspctl --agent URL add OBJECT PARAM=VALUE...`: the new instance's path.
    pub fn add(&self, url: &str, object: &str, params: &[&str]) -> Step<String> {
        let mut args = vec!["add", object];
        args.extend_from_slice(params);
        let out = self.run(url, &args)?;
        out.lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| l.ends_with('.'))
            .ok_or_else(|| format!("uspctl add {object} printed no instance path: {out:?}"))
    }

    /// `uspctl --agent URL set PATH=VALUE...`
    pub fn set(&self, url: &str, assignments: &[&str]) -> Step<()> {
        let mut args = vec!["set"];
        args.extend_from_slice(assignments);
        self.run(url, &args).map(|_| ())
    }

    /// `uspctl --agent URL delete PATHS...`
    pub fn delete(&self, url: &str, paths: &[&str]) -> Step<()> {
        let mut args = vec!["delete"];
        args.extend_from_slice(paths);
        self.run(url, &args).map(|_| ())
    }

    /// Runs uspctl as the admin controller against `url`; its standard output.
    fn run(&self, url: &str, args: &[&str]) -> Step<String> {
        let out = Command::new(&self.bin)
            .args(["--agent", url, "--eid", "self::usp-home-admin", "--timeout", "10"])
            .args(args)
            .env("USP_HOME_DATA_DIR", &self.data)
            .env("USP_HOME_VAULT_BACKEND", "memory")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("uspctl could not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "uspctl {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Polls `get` until `check` accepts the values (bounded by [`patience`]).
    pub async fn wait_until(
        &self,
        url: &str,
        paths: &[&str],
        what: &str,
        check: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Step<BTreeMap<String, String>> {
        let deadline = Instant::now() + patience();
        loop {
            let values = self.get(url, paths)?;
            if check(&values) {
                return Ok(values);
            }
            if Instant::now() > deadline {
                return Err(format!("the agent never showed {what}; last values: {values:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Rows of a table from `get` output: instance number -> parameter name -> value.
pub fn rows(values: &BTreeMap<String, String>, table: &str) -> BTreeMap<u32, BTreeMap<String, String>> {
    let mut rows: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for (path, value) in values {
        let Some(rest) = path.strip_prefix(table) else { continue };
        let Some((index, name)) = rest.split_once('.') else { continue };
        let Ok(index) = index.parse() else { continue };
        rows.entry(index).or_default().insert(name.to_owned(), value.clone());
    }
    rows
}

/// `tauri-driver` on two free ports, with the app's environment (WebKitWebDriver passes it on
/// to the app it starts).
pub struct Driver {
    pub port: u16,
    proc: Proc,
}

impl Driver {
    pub fn start(paths: &Paths, app_env: &[(&str, String)]) -> Driver {
        let port = free_port();
        let native = free_port();
        let log = std::fs::File::create(paths.out.join("tauri-driver.log")).expect("driver log file");
        let log2 = log.try_clone().expect("driver log handle");
        let mut cmd = Command::new(&paths.driver);
        cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        for (key, value) in app_env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("{} could not start ({e}): run scripts/setup-deps.sh --e2e", paths.driver.display())
        });
        let mut proc = Proc { name: "tauri-driver", child };
        // tauri-driver listens at once but starts WebKitWebDriver beside it and forwards each
        // request to it: a session asked for before WebKitWebDriver listens gets its connection
        // dropped, not an answer (seen on a cold CI machine). So wait for both ports.
        let deadline = Instant::now() + patience();
        for (who, listen) in [("tauri-driver", port), ("WebKitWebDriver (started by tauri-driver)", native)] {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, listen));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Some(status) = proc.exited() {
                    panic!("tauri-driver exited ({status}); see {}", paths.out.join("tauri-driver.log").display());
                }
                assert!(Instant::now() < deadline, "{who} did not listen on {listen} within {:?}", patience());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Driver { port, proc }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Opens a WebDriver session: this starts the app and its window.
    pub async fn session(&self, app: &Path) -> Step<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert("tauri:options".into(), serde_json::json!({ "application": app }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .map_err(|e| format!("no WebDriver session (the app did not start?): {e}"))
    }
}

/// The app's window, through WebDriver, with bounded waits.
pub struct Ui {
    pub client: Client,
    pub out: PathBuf,
}

impl Ui {
    /// Polls `probe` until it yields a value, or fails after [`patience`] naming `what`.
    pub async fn until<T, F, Fut>(&self, what: &str, probe: F) -> Step<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        self.until_within(patience(), what, probe).await
    }

    /// [`Ui::until`] with its own limit (for waits a test bounds more tightly).
    pub async fn until_within<T, F, Fut>(&self, limit: Duration, what: &str, mut probe: F) -> Step<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(value) = probe().await {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out after {limit:?} waiting for {what}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element with this id, once it exists.
    pub async fn find(&self, id: &str) -> Step<Element> {
        let client = &self.client;
        self.until(&format!("#{id}"), || async move { client.find(Locator::Id(id)).await.ok() }).await
    }

    /// Whether an element with this id exists now.
    pub async fn exists(&self, id: &str) -> bool {
        self.client.find(Locator::Id(id)).await.is_ok()
    }

    /// Clicks the element with this id once it exists (found afresh: the UI re-renders on live
    /// events, which would leave an old reference stale).
    pub async fn click(&self, id: &str) -> Step<()> {
        let client = &self.client;
        self.until(&format!("a click on #{id}"), || async move {
            let element = client.find(Locator::Id(id)).await.ok()?;
            element.click().await.ok()
        })
        .await
    }

    /// Clicks through JavaScript (for links a narrow layout tucks away in a menu).
    pub async fn js_click(&self, id: &str) -> Step<()> {
        let clicked = self
            .client
            .execute(
                "const e = document.getElementById(arguments[0]); if (!e) return false; e.click(); return true;",
                vec![id.into()],
            )
            .await
            .map_err(|e| format!("script click on #{id}: {e}"))?;
        if clicked == serde_json::Value::Bool(true) {
            Ok(())
        } else {
            Err(format!("no #{id} to click"))
        }
    }

    /// The attribute `name` of #`id` (`None` when absent). Found afresh until it answers (a
    /// re-render between finding and reading leaves a stale reference).
    pub async fn attr(&self, id: &str, name: &str) -> Step<Option<String>> {
        let client = &self.client;
        self.until(&format!("attribute {name} of #{id}"), || async move {
            let element = client.find(Locator::Id(id)).await.ok()?;
            element.attr(name).await.ok()
        })
        .await
    }

    /// Waits until attribute `name` of #`id` equals `want`.
    pub async fn wait_attr(&self, id: &str, name: &str, want: &str) -> Step<()> {
        let client = &self.client;
        self.until(&format!("#{id}[{name}=\"{want}\"]"), || async move {
            let element = client.find(Locator::Id(id)).await.ok()?;
            (element.attr(name).await.ok()?.as_deref() == Some(want)).then_some(())
        })
        .await
    }

    /// The visible text of #`id` (found afresh until it answers, as for [`Ui::attr`]).
    pub async fn text(&self, id: &str) -> Step<String> {
        let client = &self.client;
        self.until(&format!("the text of #{id}"), || async move {
            let element = client.find(Locator::Id(id)).await.ok()?;
            element.text().await.ok()
        })
        .await
    }

    /// Waits until the text of #`id` satisfies `check`; returns it.
    pub async fn wait_text(&self, id: &str, what: &str, check: impl Fn(&str) -> bool) -> Step<String> {
        self.wait_text_within(patience(), id, what, check).await
    }

    /// [`Ui::wait_text`] with its own limit.
    pub async fn wait_text_within(
        &self,
        limit: Duration,
        id: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> Step<String> {
        let client = &self.client;
        let check = &check;
        self.until_within(limit, &format!("#{id} to show {what}"), || async move {
            let element = client.find(Locator::Id(id)).await.ok()?;
            let text = element.text().await.ok()?;
            check(&text).then_some(text)
        })
        .await
    }

    /// Ids of the elements matching a CSS selector.
    pub async fn ids(&self, css: &str) -> Step<Vec<String>> {
        let found = self
            .client
            .execute("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.id);", vec![css.into()])
            .await
            .map_err(|e| format!("querySelectorAll({css}): {e}"))?;
        Ok(found
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default())
    }

    /// Runs a script and returns its result.
    pub async fn script(&self, js: &str, args: Vec<serde_json::Value>) -> Step<serde_json::Value> {
        self.client.execute(js, args).await.map_err(|e| format!("script failed: {e}"))
    }

    /// Waits until page `name` (`page-<name>`) shows its data (`data-ready="true"`).
    pub async fn ready(&self, name: &str) -> Step<()> {
        self.wait_attr(&format!("page-{name}"), "data-ready", "true").await
    }

    /// Opens page `name` with its navigation link and waits until it shows its data. The link is
    /// scrolled into view first (a phone-sized bar scrolls sideways); when a pointer click does
    /// not reach it (covered by a toast, say), the link is clicked through the DOM instead.
    pub async fn open(&self, name: &str) -> Step<()> {
        let link = format!("nav-{name}");
        self.find(&link).await?;
        self.script(
            "document.getElementById(arguments[0]).scrollIntoView({ block: 'nearest', inline: 'center' });",
            vec![link.clone().into()],
        )
        .await?;
        let clicked = match self.client.find(Locator::Id(&link)).await {
            Ok(element) => element.click().await.is_ok(),
            Err(_) => false,
        };
        if clicked && self.ready_within(name, Duration::from_secs(5)).await {
            return Ok(());
        }
        self.js_click(&link).await?;
        self.ready(name).await
    }

    /// Whether page `name` shows its data within `limit`.
    async fn ready_within(&self, name: &str, limit: Duration) -> bool {
        let id = format!("page-{name}");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Id(&id)).await {
                if element.attr("data-ready").await.ok().flatten().as_deref() == Some("true") {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Sets an input's value the way typing does (`input` and `change` events), for inputs
    /// WebDriver can't type into portably (type=time, type=range).
    pub async fn set_value(&self, id: &str, value: &str) -> Step<()> {
        self.find(id).await?;
        self.script(
            "const e = document.getElementById(arguments[0]);
             const proto = Object.getPrototypeOf(e);
             const setter = Object.getOwnPropertyDescriptor(proto, 'value').set;
             setter.call(e, arguments[1]);
             e.dispatchEvent(new Event('input', { bubbles: true }));
             e.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![id.into(), value.into()],
        )
        .await
        .map(|_| ())
    }

    /// Types `text` into the input #`id` after clearing it.
    pub async fn type_into(&self, id: &str, text: &str) -> Step<()> {
        let element = self.find(id).await?;
        element.clear().await.map_err(|e| format!("clear #{id}: {e}"))?;
        element.send_keys(text).await.map_err(|e| format!("type into #{id}: {e}"))
    }

    /// Saves a screenshot of the window as `<out>/<name>.png`.
    pub async fn shot(&self, name: &str) -> Step<PathBuf> {
        // Two animation frames: what the DOM holds now has been painted. WebKitGTK's screenshot
        // then waits for the next presentation of the page, which under Xvfb comes only when
        // something on it changes (a still page took 10 to 30 s): while it is taken, a 1-pixel
        // mark in a corner changes every frame (almost transparent, so the picture is the same).
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 let mark = document.getElementById('e2e-paint-mark');
                 if (!mark) {
                     mark = document.createElement('div');
                     mark.id = 'e2e-paint-mark';
                     mark.setAttribute('aria-hidden', 'true');
                     mark.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
                     document.body.appendChild(mark);
                 }
                 let odd = false;
                 const tick = () => {
                     odd = !odd;
                     mark.style.background = odd ? 'rgba(0,0,0,0.01)' : 'rgba(0,0,0,0.02)';
                     window.__e2ePaint = requestAnimationFrame(tick);
                 };
                 cancelAnimationFrame(window.__e2ePaint);
                 requestAnimationFrame(() => requestAnimationFrame(() => { tick(); done(true); }));",
                vec![],
            )
            .await
            .map_err(|e| format!("waiting for a paint before screenshot {name}: {e}"))?;
        let png = self.client.screenshot().await.map_err(|e| format!("screenshot {name}: {e}"));
        let _ = self.client.execute("cancelAnimationFrame(window.__e2ePaint);", vec![]).await;
        let png = png?;
        let path = self.out.join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Resizes the window (the viewport follows: Xvfb has no window decorations).
    pub async fn resize(&self, width: u32, height: u32) -> Step<()> {
        self.client.set_window_size(width, height).await.map_err(|e| format!("resize to {width}x{height}: {e}"))?;
        let client = &self.client;
        self.until(&format!("a {width}px wide viewport"), || async move {
            let inner = client.execute("return window.innerWidth;", vec![]).await.ok()?;
            (inner.as_u64()? <= u64::from(width)).then_some(())
        })
        .await
    }

    /// Keeps what the window showed when a step failed: a screenshot and the page's HTML.
    pub async fn keep_failure(&self) {
        let _ = self.shot("failure").await;
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(self.out.join("failure.html"), html);
        }
    }
}

/// The app process started for this driver: the process running `app` whose parent chain
/// leads to `driver_pid` (WebKitWebDriver starts it).
pub fn app_pid(app: &Path, driver_pid: u32) -> Option<u32> {
    let app = std::fs::canonicalize(app).ok()?;
    let entries = std::fs::read_dir("/proc").ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_deref() == Some(app.as_path()))
        .find(|&pid| ancestors(pid).contains(&driver_pid))
}

/// Parent, grandparent, … of `pid`.
fn ancestors(mut pid: u32) -> Vec<u32> {
    let mut chain = Vec::new();
    while let Some(parent) = parent_of(pid) {
        if parent == 0 || chain.contains(&parent) {
            break;
        }
        chain.push(parent);
        pid = parent;
    }
    chain
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The fields of /proc/<pid>/stat after the command name: "pid (comm) state ppid ...", where
/// comm may hold spaces, so the split is after the last ')'. Index 0 is `state` (field 3 in
/// proc(5)), index 1 `ppid`, index 19 `starttime`.
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Resident memory of `pid` in KiB (`VmRSS` in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// A `kB` field of /proc/<pid>/status, e.g. `RssAnon` (the process's own memory) or `RssFile`
/// (mapped files: shared libraries, counted in every process that maps them).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    proc_kib(pid, "status", field)
}

/// A `Name:  N kB` field of the file /proc/<pid>/<file> (`status`, `smaps_rollup`).
pub fn proc_kib(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident KiB of the file mappings of `pid` whose path contains any of `names` (from
/// /proc/<pid>/smaps), e.g. the software OpenGL renderer that Xvfb makes Mesa load.
pub fn mapped_kib(pid: u32, names: &[&str]) -> u64 {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else { return 0 };
    let mut counting = false;
    let mut total = 0;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping header: address range, perms, offset, device, inode, path.
            let path = words.nth(4).unwrap_or("");
            counting = names.iter().any(|n| path.contains(n));
        } else if counting && first == "Rss:" {
            total += words.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

/// `pid` and every process below it (WebKitGTK runs the page in WebKitWebProcess and the
/// network in WebKitNetworkProcess, children of the app).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).collect())
        .unwrap_or_default();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        let children: Vec<u32> =
            all.iter().copied().filter(|&p| parent_of(p) == Some(parent) && !tree.contains(&p)).collect();
        tree.extend(children);
        i += 1;
    }
    tree
}

/// A scratch folder under `out`, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(out: &Path, name: &str) -> Scratch {
        let dir = out.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The app's environment for a run: discovery on loopback only, its own data, log and cache
/// folders under `scratch`, and the encrypted-file vault (no keyring in a test session).
pub fn app_env(scratch: &Path) -> Vec<(&'static str, String)> {
    let dir = |name: &str| scratch.join(name).display().to_string();
    vec![
        ("USP_HOME_INTERFACES", "lo".to_owned()),
        ("USP_HOME_DATA_DIR", dir("data")),
        ("USP_HOME_VAULT_BACKEND", "file".to_owned()),
        ("USP_HOME_VAULT_PASSPHRASE", "e2e-only-passphrase".to_owned()),
        // The usage history asked for every 2 s, so a chart has data within the run.
        ("USP_HOME_HISTORY_EVERY_SECS", "2".to_owned()),
        ("XDG_DATA_HOME", dir("xdg-data")),
        ("XDG_CACHE_HOME", dir("xdg-cache")),
        ("XDG_CONFIG_HOME", dir("xdg-config")),
        ("RUST_LOG", "info".to_owned()),
    ]
}

/// The reference agent's binaries for these paths (`$USP_HOME_OBUSPA`'s folder, else built into
/// the target folder; `USP_E2E_BIN_DIR` is `<target>/debug`).
pub fn obuspa_bins(paths: &Paths) -> PathBuf {
    let target = paths.sim.parent().and_then(Path::parent).expect("the target folder");
    usp_home_tests::obuspa::bin_dir(target, &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// [`app_env`] with one agent given by address (`USP_HOME_AGENTS=EID=URL`), as a person adds one.
pub fn app_env_with_agent(scratch: &Path, eid: &str, url: &str) -> Vec<(&'static str, String)> {
    let mut env = app_env(scratch);
    env.push(("USP_HOME_AGENTS", format!("{eid}={url}")));
    env
}
