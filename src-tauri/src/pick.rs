//! The system's own open-file dialog, for the firmware image ("Choose file…" on the Firmware
//! card): GTK's file chooser on Linux, `NSOpenPanel` on macOS and the common item dialog on
//! Windows (both through `rfd`). Phones have none here: the card's typed path is the way there.
//!
//! Neither the async runtime nor the window's event loop waits on the person: the dialog is
//! created on the main thread (`run_on_main_thread`, which GTK and AppKit require) and shown
//! without a nested loop; its answer comes back through a channel that the command awaits.
//!
//! Linux uses GTK directly (the `gtk` crate that tauri links already) instead of rfd's GTK
//! backend: that one runs GTK on a thread of its own, which in this app would iterate the same
//! GLib main context as the window's thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The dialog's title (the window suite finds the dialog by it).
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
const TITLE: &str = "Choose the firmware image";

/// The folder of the last file chosen, where the next dialog opens (for this run of the app).
static LAST_FOLDER: Mutex<Option<PathBuf>> = Mutex::new(None);
/// A dialog is open: a second click does not open another.
static OPEN: AtomicBool = AtomicBool::new(false);

/// Shows the dialog and waits for the person: the chosen file, or `None` when they cancelled.
///
/// # Errors
/// The dialog could not be shown (or this platform has none), in words.
pub async fn firmware_image(app: &tauri::AppHandle) -> Result<Option<PathBuf>, String> {
    if OPEN.swap(true, Ordering::AcqRel) {
        return Err("The file dialog is open already: choose the file there, or cancel it.".into());
    }
    let start = LAST_FOLDER.lock().ok().and_then(|f| f.clone()).filter(|f| f.is_dir());
    let chosen = platform::choose(app, start).await;
    OPEN.store(false, Ordering::Release);
    if let Ok(Some(file)) = &chosen {
        if let (Some(folder), Ok(mut last)) = (file.parent(), LAST_FOLDER.lock()) {
            *last = Some(folder.to_path_buf());
        }
    }
    chosen
}

/// Words for a dialog that could not be shown.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
fn not_shown(e: impl std::fmt::Display) -> String {
    format!("The file dialog could not open ({e}). Type the image file's full path instead.")
}

#[cfg(target_os = "linux")]
mod platform {
    use std::cell::RefCell;
    use std::path::PathBuf;

    use gtk::prelude::*;
    use tauri::Manager as _;

    /// Name patterns of the "Firmware images" filter: common image kinds; vendors use others,
    /// so "All files" comes first and is the one shown.
    const IMAGE_PATTERNS: &[&str] =
        &["*.bin", "*.img", "*.itb", "*.trx", "*.chk", "*.fw", "*.ubi", "*.tar", "*.gz", "*.zip"];

    pub(super) async fn choose(app: &tauri::AppHandle, start: Option<PathBuf>) -> Result<Option<PathBuf>, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let handle = app.clone();
        app.run_on_main_thread(move || {
            let parent = handle.get_webview_window("main").and_then(|w| w.gtk_window().ok());
            // Portal-aware: in a Flatpak or with GTK_USE_PORTAL=1 the desktop's own chooser,
            // else GTK's file chooser dialog.
            let dialog = gtk::FileChooserNative::new(
                Some(super::TITLE),
                parent.as_ref(),
                gtk::FileChooserAction::Open,
                Some("_Open"),
                Some("_Cancel"),
            );
            dialog.set_modal(true);
            dialog.set_local_only(true);
            let all = gtk::FileFilter::new();
            all.set_name(Some("All files"));
            all.add_pattern("*");
            dialog.add_filter(all);
            let images = gtk::FileFilter::new();
            images.set_name(Some("Firmware images (.bin, .img, .itb, .trx…)"));
            for pattern in IMAGE_PATTERNS {
                images.add_pattern(pattern);
            }
            dialog.add_filter(images);
            if let Some(folder) = start {
                dialog.set_current_folder(folder);
            }
            // The dialog is no widget: nothing else holds it while it shows. The response
            // handler holds it until the answer, then lets it go.
            let keep = RefCell::new(Some(dialog.clone()));
            let tx = RefCell::new(Some(tx));
            dialog.connect_response(move |d, response| {
                let file = (response == gtk::ResponseType::Accept).then(|| d.filename()).flatten();
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(file);
                }
                keep.borrow_mut().take();
            });
            dialog.show();
        })
        .map_err(super::not_shown)?;
        // A dialog dropped without an answer counts as cancelled.
        Ok(rx.await.ok().flatten())
    }
}

#[cfg(any(target_os = "macos", windows))]
mod platform {
    use std::path::PathBuf;

    use tauri::Manager as _;

    pub(super) async fn choose(app: &tauri::AppHandle, start: Option<PathBuf>) -> Result<Option<PathBuf>, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let handle = app.clone();
        // Created on the main thread (AppKit requires it); the returned future only waits.
        app.run_on_main_thread(move || {
            // No filter: the dialog shows every file (firmware images have vendors' own names).
            let mut dialog = rfd::AsyncFileDialog::new().set_title(super::TITLE);
            if let Some(folder) = start {
                dialog = dialog.set_directory(folder);
            }
            if let Some(window) = handle.get_webview_window("main") {
                dialog = dialog.set_parent(&window);
            }
            let _ = tx.send(dialog.pick_file());
        })
        .map_err(super::not_shown)?;
        let picked = rx.await.map_err(super::not_shown)?;
        Ok(picked.await.map(|f| f.path().to_path_buf()))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod platform {
    use std::path::PathBuf;

    pub(super) async fn choose(_app: &tauri::AppHandle, _start: Option<PathBuf>) -> Result<Option<PathBuf>, String> {
        Err("This device has no file dialog usp-home can use: type the image file's full path.".into())
    }
}
