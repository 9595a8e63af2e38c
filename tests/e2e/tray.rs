//! The tray keeps the app alive after its window closes (issue 14, item 8).
//!
//! The app runs on a D-Bus session bus of the test's own ([`SessionBus`]: a `dbus-daemon` of its
//! own, ended with the test), on which the test plays the desktop's parts: the StatusNotifier
//! watcher and host (where tray icons register; the panel of KDE, XFCE, ...) and the notification
//! server (where desktop notifications arrive). The window is closed the way a person closes it:
//! a window manager (openbox, started for this step on the virtual display) asked by `wmctrl -c`
//! to close it, which sends the window `WM_DELETE_WINDOW`. The tray's menu is used the way a
//! panel uses it: the items of the icon's exported menu (`com.canonical.dbusmenu`) are read, and
//! "Open usp-home" and "Quit" are clicked through its `Event` method.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbus::arg::{PropMap, RefArg, Variant};
use dbus::blocking::{Connection, LocalConnection};
use dbus::channel::{Channel, MatchingReceiver, Sender};
use dbus::message::MatchRule;
use dbus::Message;

use crate::harness::{patience, Paths, Step, Ui};

/// What the desktop's parts on the test's bus saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Tray icons registered: (the app's bus name, the item's object path).
    pub items: Vec<(String, String)>,
    /// Notifications: (when, summary, body).
    pub notifications: Vec<(Instant, String, String)>,
}

/// A D-Bus session bus of the test's own, with a StatusNotifier watcher and host and a
/// notification server on it.
pub struct SessionBus {
    pub address: String,
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    daemon: Child,
}

impl SessionBus {
    pub fn start() -> SessionBus {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts (Debian package dbus-daemon)");
        let stdout = daemon.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(line);
        });
        let address = rx.recv_timeout(patience()).expect("dbus-daemon printed its address").trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon address: {address:?}");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        {
            let (address, seen, stop) = (address.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || serve_desktop(&address, &seen, &stop, ready_tx));
        }
        ready_rx.recv_timeout(patience()).expect("the desktop's parts are on the bus");
        SessionBus { address, seen, stop, daemon }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The watcher, host and notification server: answers their methods until `stop`.
fn serve_desktop(address: &str, seen: &Arc<Mutex<Seen>>, stop: &AtomicBool, ready: std::sync::mpsc::Sender<()>) {
    let mut channel = Channel::open_private(address).expect("the test's bus accepts the test");
    channel.register().expect("registered on the bus");
    let conn = LocalConnection::from(channel);
    for name in ["org.kde.StatusNotifierWatcher", "org.freedesktop.Notifications"] {
        conn.request_name(name, false, true, true).expect("the name is free on the test's own bus");
    }
    let seen = seen.clone();
    conn.start_receive(
        MatchRule::new_method_call(),
        Box::new(move |msg: Message, conn: &LocalConnection| {
            let reply = answer(&msg, &seen);
            let _ = conn.send(reply);
            true
        }),
    );
    let _ = ready.send(());
    while !stop.load(Ordering::SeqCst) {
        if conn.process(Duration::from_millis(100)).is_err() {
            return;
        }
    }
}

/// The answer to one method call on the desktop's parts.
fn answer(msg: &Message, seen: &Mutex<Seen>) -> Message {
    let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let sender = msg.sender().map(|s| s.to_string()).unwrap_or_default();
    let member = msg.member().map(|m| m.to_string()).unwrap_or_default();
    let watcher_props = |items: &[(String, String)]| -> PropMap {
        let mut props = PropMap::new();
        props.insert("IsStatusNotifierHostRegistered".into(), Variant(Box::new(true)));
        props.insert("ProtocolVersion".into(), Variant(Box::new(0i32)));
        let items: Vec<String> = items.iter().map(|(bus, path)| format!("{bus}{path}")).collect();
        props.insert("RegisteredStatusNotifierItems".into(), Variant(Box::new(items)));
        props
    };
    match member.as_str() {
        "RegisterStatusNotifierItem" => {
            let service: String = msg.read1().unwrap_or_default();
            // An object path on the caller's connection, or a bus name (then the default path).
            let item =
                if service.starts_with('/') { (sender, service) } else { (service, "/StatusNotifierItem".to_owned()) };
            seen.items.push(item);
            msg.method_return()
        }
        "RegisterStatusNotifierHost" => msg.method_return(),
        "Get" => {
            let (_, name): (String, String) = msg.read2().unwrap_or_default();
            match watcher_props(&seen.items).remove(&name) {
                Some(value) => msg.method_return().append1(value),
                None => Message::error(msg, &"org.freedesktop.DBus.Error.UnknownProperty".into(), c"no such property"),
            }
        }
        "GetAll" => msg.method_return().append1(watcher_props(&seen.items)),
        "Notify" => {
            let (_, _, _, summary, body): (String, u32, String, String, String) = msg.read5().unwrap_or_default();
            seen.notifications.push((Instant::now(), summary, body));
            let id = u32::try_from(seen.notifications.len()).unwrap_or(u32::MAX);
            msg.method_return().append1(id)
        }
        "GetCapabilities" => msg.method_return().append1(vec!["body".to_owned()]),
        "GetServerInformation" => msg.method_return().append2("e2e", "usp-home tests").append2("1", "1.2"),
        "CloseNotification" => msg.method_return(),
        _ => Message::error(msg, &"org.freedesktop.DBus.Error.UnknownMethod".into(), c"not part of this desktop"),
    }
}

/// A process of this step, ended when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `probe` every 100 ms until it yields, for at most `limit`.
async fn until<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> Step<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `wmctrl -l`: the titles of the windows the window manager manages.
fn window_titles() -> Vec<String> {
    let out = Command::new("wmctrl").arg("-l").stderr(Stdio::null()).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    // "0x01000003  0 host usp-home": id, desktop, machine, title.
    text.lines().filter_map(|l| l.split_whitespace().nth(3).map(str::to_owned)).collect()
}

/// The processes running `app`.
fn app_pids(app: &Path) -> Vec<u32> {
    let Ok(app) = std::fs::canonicalize(app) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_deref() == Some(app.as_path()))
        .collect()
}

/// The app's environment variable `name` (from /proc: the app is WebKitWebDriver's child).
fn env_of(pid: u32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|b| *b == 0).find_map(|entry| {
        let entry = std::str::from_utf8(entry).ok()?;
        entry.strip_prefix(name)?.strip_prefix('=').map(str::to_owned)
    })
}

/// The tray's menu items by label (`_` mnemonics removed): label -> item id.
fn menu_items(bus: &str, service: &str, path: &str) -> Step<HashMap<String, i32>> {
    let mut channel = Channel::open_private(bus).map_err(|e| format!("the test's bus: {e}"))?;
    channel.register().map_err(|e| format!("the test's bus: {e}"))?;
    let conn = Connection::from(channel);
    let item = conn.with_proxy(service, path, Duration::from_secs(5));
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
    let menu: dbus::Path =
        item.get("org.kde.StatusNotifierItem", "Menu").map_err(|e| format!("the icon's menu: {e}"))?;
    let menu = conn.with_proxy(service, menu, Duration::from_secs(5));
    type Layout = (i32, PropMap, Vec<Variant<Box<dyn RefArg>>>);
    let (_revision, (_, _, children)): (u32, Layout) = menu
        .method_call("com.canonical.dbusmenu", "GetLayout", (0i32, -1i32, Vec::<String>::new()))
        .map_err(|e| format!("the menu's layout: {e}"))?;
    let mut items = HashMap::new();
    for child in &children {
        // Each child: a struct (id, properties, children).
        let Some(mut fields) = child.0.as_iter() else { continue };
        let Some(id) = fields.next().and_then(|f| f.as_i64()) else { continue };
        let Some(mut props) = fields.next().and_then(|p| p.as_iter()) else { continue };
        while let (Some(key), Some(value)) = (props.next(), props.next()) {
            if key.as_str() == Some("label") {
                if let (Some(label), Ok(id)) = (value.as_str(), i32::try_from(id)) {
                    items.insert(label.replace('_', ""), id);
                }
            }
        }
    }
    Ok(items)
}

/// Clicks the tray menu's item `id`, as a panel does.
fn click(bus: &str, service: &str, menu_path: &str, id: i32) -> Step<()> {
    let mut channel = Channel::open_private(bus).map_err(|e| format!("the test's bus: {e}"))?;
    channel.register().map_err(|e| format!("the test's bus: {e}"))?;
    let conn = Connection::from(channel);
    let item = conn.with_proxy(service, menu_path, Duration::from_secs(5));
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
    let menu: dbus::Path =
        item.get("org.kde.StatusNotifierItem", "Menu").map_err(|e| format!("the icon's menu: {e}"))?;
    conn.with_proxy(service, menu, Duration::from_secs(5))
        .method_call::<(), _, _, _>("com.canonical.dbusmenu", "Event", (id, "clicked", Variant(0i32), 0u32))
        .map_err(|e| format!("clicking menu item {id}: {e}"))
}

/// Where the app keeps its log (`app_log_dir` under the test's `XDG_DATA_HOME`).
fn log_text(xdg_data: &Path) -> String {
    let dir: PathBuf = xdg_data.join("org.usphome.app/logs");
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    text
}

/// Settings says the window closes to the tray; start at login writes and removes the autostart
/// entry; closing the window leaves the app running and alerting; the tray's "Open usp-home"
/// brings a window back, and so does starting the app again; the tray's "Quit" stops the app
/// cleanly, and `usp-home --quit` then finds nothing running.
pub async fn tray_keeps_the_app_running(ui: &Ui, paths: &Paths, bus: &SessionBus) -> Step<()> {
    let pid = until(patience(), "the app's process", || {
        app_pids(&paths.app)
            .into_iter()
            .find(|&pid| env_of(pid, "DBUS_SESSION_BUS_ADDRESS").as_deref() == Some(bus.address.as_str()))
    })
    .await?;
    let config = PathBuf::from(env_of(pid, "XDG_CONFIG_HOME").ok_or("the app has no XDG_CONFIG_HOME")?);
    let xdg_data = PathBuf::from(env_of(pid, "XDG_DATA_HOME").ok_or("the app has no XDG_DATA_HOME")?);

    // The icon registered with the desktop's watcher.
    let (service, item_path) =
        until(patience(), "the tray icon to register", || bus.seen().items.first().cloned()).await?;

    // Settings: the window closes to the tray; start at login on, then off.
    ui.resize(1280, 800).await?;
    ui.open("settings").await?;
    ui.wait_attr("background-tray", "data-tray", "true").await?;
    ui.script("document.getElementById('background').scrollIntoView({ block: 'center' });", vec![]).await?;
    let entry = config.join("autostart/org.usphome.app.desktop");
    // Clicked in the page: a toast may lie over it.
    ui.js_click("start-at-login").await?;
    let text = until(patience(), "the autostart entry", || std::fs::read_to_string(&entry).ok()).await?;
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap_or_default().to_owned();
    if !exec.ends_with(" --background") || !exec.contains("usp-home") {
        return Err(format!("the autostart entry starts {exec:?}, not the app in the background"));
    }
    let checked = || async {
        let on = ui.script("const e = document.getElementById('start-at-login'); return !!e && e.checked;", vec![]);
        (on.await.ok()? == serde_json::Value::Bool(true)).then_some(())
    };
    ui.until("the start-at-login box to show as on", checked).await?;
    ui.shot("settings-background").await?;
    ui.js_click("start-at-login").await?;
    until(patience(), "the autostart entry to go", || (!entry.exists()).then_some(())).await?;

    // The menu a panel shows.
    let items = menu_items(&bus.address, &service, &item_path)?;
    let (Some(&open), Some(&quit)) = (items.get("Open usp-home"), items.get("Quit")) else {
        return Err(format!("the tray menu holds {items:?}"));
    };

    // Close the window as a person does: the window manager's close.
    let wm = Guard(
        Command::new("openbox")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("openbox (a window manager, for the close button) could not start: {e}"))?,
    );
    until(patience(), "the window manager to take the window", || {
        window_titles().iter().any(|t| t == "usp-home").then_some(())
    })
    .await?;
    let closed_at = Instant::now();
    let status = Command::new("wmctrl").args(["-F", "-c", "usp-home"]).status().map_err(|e| format!("wmctrl: {e}"))?;
    if !status.success() {
        return Err(format!("wmctrl -c usp-home: {status}"));
    }
    until(patience(), "the window to close", || (!window_titles().iter().any(|t| t == "usp-home")).then_some(()))
        .await?;
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    if !alive() {
        return Err("the app exited when its window closed, though its tray icon shows".into());
    }

    // Still working with no window: a device that joins the simulated home is announced. The
    // app raises at most one notification of a kind per 30 s (more are coalesced), so this waits
    // longer. Other alerts may come first (the device the alerts step follows arriving home).
    let (summary, body) =
        until(patience() + Duration::from_secs(35), "a new device notification after the window closed", || {
            let seen = bus.seen();
            let mut after = seen.notifications.iter().filter(|(at, ..)| *at > closed_at);
            after.find(|(_, s, _)| s.contains("New device")).map(|(_, s, b)| (s.clone(), b.clone()))
        })
        .await?;
    if !summary.contains("New device") || !body.contains("joined") {
        return Err(format!("the notification says {summary:?}: {body:?}"));
    }
    if !alive() {
        return Err("the app exited in the background".into());
    }

    // "Open usp-home" brings a window back.
    click(&bus.address, &service, &item_path, open)?;
    until(patience(), "the window to come back", || window_titles().iter().any(|t| t == "usp-home").then_some(()))
        .await?;

    // Closed again, then the app started again: the running one shows its window, and the new
    // start ends at once instead of running a second home on the same data.
    let status = Command::new("wmctrl").args(["-F", "-c", "usp-home"]).status().map_err(|e| format!("wmctrl: {e}"))?;
    if !status.success() {
        return Err(format!("wmctrl -c usp-home: {status}"));
    }
    until(patience(), "the window to close again", || (!window_titles().iter().any(|t| t == "usp-home")).then_some(()))
        .await?;
    let data = env_of(pid, "USP_HOME_DATA_DIR").ok_or("the app has no USP_HOME_DATA_DIR")?;
    let mut again = Command::new(&paths.app)
        .env("USP_HOME_DATA_DIR", &data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the app did not start again: {e}"))?;
    let ended = until(patience(), "the second start to end", || again.try_wait().ok().flatten()).await;
    if ended.is_err() {
        let _ = again.kill();
        let _ = again.wait();
    }
    if !ended?.success() {
        return Err("the second start failed".into());
    }
    until(patience(), "the window to show for the second start", || {
        window_titles().iter().any(|t| t == "usp-home").then_some(())
    })
    .await?;

    // "Quit" stops the home and exits.
    // The app may be gone before its reply to this click leaves (it exits on it): the bus then
    // answers "disconnected without replying", which is no failure; what follows checks the exit.
    if let Err(e) = click(&bus.address, &service, &item_path, quit) {
        if !e.contains("without replying") {
            return Err(e);
        }
    }
    until(patience(), "the app to exit", || (!alive()).then_some(())).await?;
    let log = log_text(&xdg_data);
    if !log.contains("usp-home stopped") || log.contains("did not stop within") {
        return Err("the app's log does not show the home stopped cleanly".into());
    }
    let out = Command::new(&paths.app)
        .arg("--quit")
        .env("USP_HOME_DATA_DIR", &data)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("usp-home --quit: {e}"))?;
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("not running") {
        return Err(format!("usp-home --quit after Quit: {} {:?}", out.status, String::from_utf8_lossy(&out.stdout)));
    }
    drop(wm);
    eprintln!("e2e tray: window closed, notified {:.1} s later: {body}", closed_at.elapsed().as_secs_f64());
    Ok(())
}
