//! Running in the background (desktops): the system tray, what closing the window does, one app
//! per data folder, `--background` and `--quit`.
//!
//! - **Closing the window** destroys it (the WebView and its processes go, which frees most of
//!   the app's memory) but, while a tray icon shows, not the app: the home keeps collecting
//!   history and raising notifications. Where no tray shows, closing the window quits as before,
//!   so the app never runs with no way to reach it. On Linux the icon is a StatusNotifierItem
//!   (through libayatana-appindicator3, loaded at run time): it shows only when the session has
//!   a StatusNotifier host (KDE, XFCE, Cinnamon, MATE, GNOME with the AppIndicator extension),
//!   which [`tray_shows`] asks D-Bus at the moment the window closes.
//! - **The tray menu**: "Open usp-home" shows the window (making it again if it was closed);
//!   "Quit" stops the home and exits. A left click shows the window on Windows and macOS (Linux
//!   trays open the menu).
//! - **A second start** (the launcher clicked again) shows the running app's window and ends;
//!   `usp-home --quit` asks the running app to quit, as the tray's Quit does, and waits until it
//!   has stopped (see [`app_core::instance`]).
//! - **`--background`** (how start at login starts it) starts without a window, in the tray.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use app_core::instance::{self, Claim, Request};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, WebviewWindowBuilder};

/// The argument that asks the running app to quit.
pub const QUIT_ARG: &str = "--quit";
/// The label of the main window (`tauri.conf.json`).
const MAIN: &str = "main";
/// How long a `--background` start waits for a tray to show (a panel may start after the apps
/// started at login) before it shows its window instead.
const TRAY_GRACE: Duration = Duration::from_secs(30);
/// How long `--quit` waits for the running app to stop.
const QUIT_WAIT: Duration = Duration::from_secs(10);

/// What this start does, from its command line, once it is the one app on its data folder.
pub struct Start {
    /// Start without a window (`--background`).
    background: bool,
    /// Requests from later starts; `None` when the data folder could not be claimed (the app
    /// then runs without, as before).
    instance: Option<instance::Instance>,
}

/// The tray, kept for as long as the app runs.
pub struct Background {
    tray: Option<TrayIcon>,
}

/// Handles the command line before anything else starts: `--quit`, and a start while another
/// app runs on the same data folder (it shows that app's window). Returns what this start does,
/// or `None` when this process has nothing more to do.
pub fn before_start(args: &[String], data_dir: &Path) -> Option<Start> {
    let background = args.iter().any(|a| a == app_core::autostart::BACKGROUND_ARG);
    let quit = args.iter().any(|a| a == QUIT_ARG);
    let claim = instance::claim(data_dir);
    match (claim, quit) {
        (Ok(Claim::Running(running)), true) => {
            if let Err(err) = running.send(Request::Quit) {
                eprintln!("usp-home: {err}");
                std::process::exit(1);
            }
            if instance::wait_until_free(data_dir, QUIT_WAIT) {
                println!("usp-home stopped.");
                None
            } else {
                eprintln!("usp-home: asked to quit, but still running after {} s", QUIT_WAIT.as_secs());
                std::process::exit(1);
            }
        }
        (Ok(Claim::First(_)), true) => {
            println!("usp-home is not running.");
            None
        }
        // A start at login while the app runs already has nothing to do.
        (Ok(Claim::Running(_)), false) if background => None,
        (Ok(Claim::Running(running)), false) => match running.send(Request::Show) {
            Ok(()) => None,
            Err(err) => {
                eprintln!("usp-home: another usp-home uses {}, but: {err}", data_dir.display());
                std::process::exit(1);
            }
        },
        (Ok(Claim::First(instance)), false) => Some(Start { background, instance: Some(instance) }),
        (Err(err), true) => {
            eprintln!("usp-home: {err}");
            std::process::exit(1);
        }
        (Err(err), false) => {
            eprintln!("usp-home: {err}; a second start will not find this one");
            Some(Start { background, instance: None })
        }
    }
}

/// Sets up the tray, answers later starts, and shows the window unless started in the
/// background (or started so with no tray to come back from).
///
/// # Errors
/// The window could not be made.
pub fn setup(app: &tauri::App, start: Start) -> tauri::Result<()> {
    let handle = app.handle().clone();
    let tray = build_tray(&handle);
    app.manage(Background { tray });
    if let Some(instance) = start.instance {
        let handle = handle.clone();
        tauri::async_runtime::spawn(instance.serve(move |request| match request {
            Request::Show => show_window_later(&handle),
            Request::Quit => quit(&handle),
        }));
    }
    if !start.background {
        return show_window(&handle);
    }
    tracing::info!("started in the background");
    tauri::async_runtime::spawn(async move {
        let deadline = tokio::time::Instant::now() + TRAY_GRACE;
        loop {
            let app = handle.clone();
            let shows = tauri::async_runtime::spawn_blocking(move || tray_shows(&app)).await.unwrap_or(false);
            if shows {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::info!("no tray showed within {} s; showing the window", TRAY_GRACE.as_secs());
                return show_window_later(&handle);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    Ok(())
}

/// Whether closing the last window keeps the app running: only while its tray icon shows.
pub fn keeps_running(app: &AppHandle) -> bool {
    let keep = tray_shows(app);
    if keep {
        tracing::info!("window closed; usp-home keeps running in the tray");
    } else {
        tracing::info!("window closed and no tray shows; usp-home quits");
    }
    keep
}

/// Whether the tray icon shows now.
pub fn tray_shows(app: &AppHandle) -> bool {
    let built = app.try_state::<Background>().is_some_and(|b| b.tray.is_some());
    built && host_present()
}

/// Stops the home and exits (`RunEvent::Exit` stops the home first).
pub fn quit(app: &AppHandle) {
    tracing::info!("quit asked (tray or `usp-home --quit`)");
    app.exit(0);
}

/// [`show_window`] off the caller's thread: making a window from an event handler deadlocks on
/// Windows (WebView2).
pub fn show_window_later(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(err) = show_window(&app) {
            tracing::warn!(error = %err, "the window could not be shown");
        }
    });
}

/// Shows the main window, making it from the configuration when there is none.
///
/// # Errors
/// The window could not be made.
pub fn show_window(app: &AppHandle) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(MAIN) {
        window.unminimize()?;
        window.show()?;
        return window.set_focus();
    }
    let config = app.config().app.windows.iter().find(|w| w.label == MAIN).cloned();
    let config = config.ok_or(tauri::Error::WindowNotFound)?;
    WebviewWindowBuilder::from_config(app, &config)?.build()?;
    Ok(())
}

/// The program start at login starts: the AppImage the app runs from, else the executable.
pub fn program() -> Option<PathBuf> {
    if cfg!(target_os = "linux") {
        if let Some(appimage) = std::env::var_os("APPIMAGE").filter(|p| !p.is_empty()) {
            return Some(appimage.into());
        }
    }
    std::env::current_exe().ok()
}

/// The tray icon with its menu; `None` where none can be made (on Linux, when
/// libayatana-appindicator3 is missing: its loader panics, which is caught here).
fn build_tray(app: &AppHandle) -> Option<TrayIcon> {
    let built = std::panic::catch_unwind(AssertUnwindSafe(|| -> tauri::Result<TrayIcon> {
        let open = MenuItem::with_id(app, "open", "Open usp-home", true, None::<&str>)?;
        let separator = PredefinedMenuItem::separator(app)?;
        let quit_item = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &separator, &quit_item])?;
        let mut builder = TrayIconBuilder::with_id("usp-home")
            .tooltip("usp-home")
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(|app, event| match event.id().as_ref() {
                "open" => show_window_later(app),
                "quit" => quit(app),
                _ => {}
            })
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } =
                    event
                {
                    show_window_later(tray.app_handle());
                }
            });
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        builder.build(app)
    }));
    match built {
        Ok(Ok(tray)) => Some(tray),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "no tray icon; closing the window will quit");
            None
        }
        Err(_) => {
            tracing::warn!("no tray icon (libayatana-appindicator3 is not installed); closing the window will quit");
            None
        }
    }
}

/// Whether the desktop shows tray icons: on Linux, a StatusNotifier host is registered on the
/// session bus (asked with a 2 s limit); elsewhere always.
#[cfg(target_os = "linux")]
fn host_present() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(linux::status_notifier_host());
    });
    rx.recv_timeout(Duration::from_secs(2)).unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn host_present() -> bool {
    true
}

#[cfg(target_os = "linux")]
mod linux {
    /// `IsStatusNotifierHostRegistered` of the session's StatusNotifierWatcher (false when there
    /// is no session bus or no watcher).
    pub fn status_notifier_host() -> bool {
        let Ok(bus) = zbus::blocking::Connection::session() else { return false };
        let reply = bus.call_method(
            Some("org.kde.StatusNotifierWatcher"),
            "/StatusNotifierWatcher",
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.kde.StatusNotifierWatcher", "IsStatusNotifierHostRegistered"),
        );
        let Ok(reply) = reply else { return false };
        let Ok(value) = reply.body().deserialize::<zbus::zvariant::OwnedValue>() else { return false };
        bool::try_from(value).unwrap_or(false)
    }
}
