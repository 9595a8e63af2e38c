//! The app's plain (non-secret) settings file, `home.json` in the data folder: user labels,
//! the guest-network mark, devices already seen, remembered agents, discovery interfaces, theme.
//! Secrets never go here (they live in the vault). Writes are atomic and durable (temp file,
//! fsync, rename, fsync of the folder). The data folder is private to the user (0700 on Unix)
//! and every file in it 0600; looser modes left by older versions are tightened on open.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{AppError, AppResult};

/// The guest network the user marked by hand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestMarkData {
    /// Agent Endpoint ID.
    pub agent: String,
    /// `Device.WiFi.SSID.{i}`
    pub ssid_path: String,
}

/// An agent the app keeps between runs (trusted or paired).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownAgent {
    /// Endpoint ID.
    pub agent: String,
    /// Last URL that worked.
    pub url: String,
    /// Last display name.
    pub name: String,
    /// Reached over `wss://` with its pinned certificate: from now on only `wss://` with that
    /// pin is used for it, whatever an advert or a typed address says.
    #[serde(default)]
    pub secure: bool,
    /// The person agreed to send passcodes and passwords to it over an unencrypted link.
    #[serde(default)]
    pub allow_unencrypted: bool,
    /// It connects to usp-home (it dialled the listener): it is waited for, never dialled.
    #[serde(default)]
    pub dialled: bool,
}

/// The listener for devices that connect to usp-home.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerSetting {
    /// Listening.
    pub enabled: bool,
    /// The port; 0: any free port.
    pub port: u16,
    /// On every network interface (else this computer only).
    pub all_interfaces: bool,
}

/// Everything in `home.json`. Unknown fields are ignored and missing ones default, so old and
/// new versions of the app read each other's files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreData {
    /// MAC (lower case) → user label.
    pub labels: BTreeMap<String, String>,
    /// The guest network marked by the user.
    pub guest: Option<GuestMarkData>,
    /// MACs the user has seen on the Devices page (others are "new").
    pub seen: BTreeSet<String>,
    /// MACs reported so far, to raise "new device joined" only once per device (the latest
    /// [`KnownMacs::CAP`], so agents can't make the file grow without end).
    pub known_macs: KnownMacs,
    /// Remembered agents.
    pub agents: Vec<KnownAgent>,
    /// Discovery interfaces setting (`all`, `lo`, `eth0,wlan0`); `None` = `all`.
    pub interfaces: Option<String>,
    /// `system`, `light` or `dark`.
    pub theme: Option<String>,
    /// Devices that connect to usp-home; `None` = off.
    pub listener: Option<ListenerSetting>,
    /// Access rules changed for a while (a pause, extra time), to put back when it is over.
    pub overrides: Vec<crate::parental::pause_for::TimedOverride>,
    /// Where speed tests download from and upload to.
    pub speed_test: Option<ipc_types::SpeedTestServer>,
    /// Which alerts are on, and their thresholds.
    pub alerts: ipc_types::AlertSettings,
    /// MACs of the devices whose arrivals and departures the person wants to hear about (at
    /// most [`crate::alerts::MAX_WATCHED`]).
    pub alert_watch: BTreeSet<String>,
}

/// The MACs already announced, oldest first, at most [`KnownMacs::CAP`]: adding one more drops
/// the oldest. Saved as a plain JSON list (files that kept a sorted set read the same).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct KnownMacs {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl KnownMacs {
    /// Most MACs kept: a home has far fewer devices; a flood of made-up ones only pushes out
    /// the oldest.
    pub const CAP: usize = 4096;

    /// Adds `mac`; true when it was not known.
    pub fn insert(&mut self, mac: String) -> bool {
        if self.set.contains(&mac) {
            return false;
        }
        self.set.insert(mac.clone());
        self.order.push_back(mac);
        while self.order.len() > Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Whether `mac` is known.
    pub fn contains(&self, mac: &str) -> bool {
        self.set.contains(mac)
    }

    /// Number of MACs kept.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// None kept.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl Extend<String> for KnownMacs {
    fn extend<I: IntoIterator<Item = String>>(&mut self, iter: I) {
        for mac in iter {
            self.insert(mac);
        }
    }
}

impl From<Vec<String>> for KnownMacs {
    fn from(list: Vec<String>) -> Self {
        let mut macs = KnownMacs::default();
        macs.extend(list);
        macs
    }
}

impl From<KnownMacs> for Vec<String> {
    fn from(macs: KnownMacs) -> Self {
        macs.order.into()
    }
}

/// The settings file with its in-memory copy.
pub struct Store {
    path: PathBuf,
    data: Mutex<StoreData>,
    /// Changed in memory since the last save ([`Store::update_later`]).
    dirty: AtomicBool,
}

impl Store {
    /// Loads `home.json` from `dir` (an absent file is an empty store; a corrupt one is kept
    /// aside as `home.json.corrupt` and replaced, so a bad file never stops the app).
    ///
    /// # Errors
    /// [`AppError::Internal`] when the folder can't be created or read.
    pub fn open(dir: &Path) -> AppResult<Store> {
        private_dir(dir).map_err(|e| AppError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("home.json");
        let data = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(data) => data,
                Err(err) => {
                    tracing::warn!(error = %err, "settings file unreadable; starting afresh");
                    let _ = std::fs::rename(&path, dir.join("home.json.corrupt"));
                    StoreData::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StoreData::default(),
            Err(e) => return Err(AppError::Internal(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(Store { path, data: Mutex::new(data), dirty: AtomicBool::new(false) })
    }

    /// Reads with `f`.
    pub fn read<R>(&self, f: impl FnOnce(&StoreData) -> R) -> R {
        let guard = self.data.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Changes with `f` and saves when something changed.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the file can't be written (the change stays in memory).
    pub fn update<R>(&self, f: impl FnOnce(&mut StoreData) -> R) -> AppResult<R> {
        let mut guard = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let before = guard.clone();
        let result = f(&mut guard);
        if *guard != before || self.dirty.load(Ordering::SeqCst) {
            self.dirty.store(false, Ordering::SeqCst);
            self.save(&guard)?;
        }
        Ok(result)
    }

    /// Changes with `f` in memory only; the change is saved by the next [`Store::update`] or
    /// [`Store::flush`]. For frequent small changes from agents (devices seen on the network),
    /// which are saved together rather than one file write each.
    pub fn update_later<R>(&self, f: impl FnOnce(&mut StoreData) -> R) -> R {
        let mut guard = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let before = guard.clone();
        let result = f(&mut guard);
        if *guard != before {
            self.dirty.store(true, Ordering::SeqCst);
        }
        result
    }

    /// True when changes wait to be saved.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    /// Saves the changes made with [`Store::update_later`], if any. Blocks on file I/O.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the file can't be written (the changes stay in memory).
    pub fn flush(&self) -> AppResult<()> {
        // Written under the lock, as `update` does, so two saves never race on the temp file or
        // put an older copy over a newer one; at most once a second, on a blocking thread.
        let guard = self.data.lock().unwrap_or_else(|p| p.into_inner());
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        self.save(&guard)
    }

    /// Writes `data`; on failure the changes stay marked for the next save.
    fn save(&self, data: &StoreData) -> AppResult<()> {
        let written =
            serde_json::to_vec_pretty(data).map_err(|e| AppError::Internal(e.to_string())).and_then(|bytes| {
                write_durably(&self.path, &bytes)
                    .map_err(|e| AppError::Internal(format!("cannot save {}: {e}", self.path.display())))
            });
        if written.is_err() {
            self.dirty.store(true, Ordering::SeqCst);
        }
        written
    }
}

/// Creates `dir` (and its parents) if needed and makes it private: 0700, and every file
/// directly in it 0600 (Unix; elsewhere the user's profile folder is private already).
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        tighten(dir, 0o700)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            // A file can go between the listing and its turn (SQLite's journal, the temp
            // file of a durable write, a previous run's writer finishing): nothing to tighten.
            let tightened = match entry.file_type() {
                Ok(kind) if kind.is_file() => tighten(&entry.path(), 0o600),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            match tightened {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
            let now = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if now & !mode != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(now & mode))?;
            }
            Ok(())
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Replaces `path` with `bytes` so that a crash or power cut leaves the old or the new file,
/// never an empty one: a 0600 temp file beside it, fsync, rename, fsync of the folder.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_reloads_and_survives_a_corrupt_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.update(|d| d.labels.insert("aa:bb:cc:dd:ee:ff".into(), "Anna's phone".into())).expect("update");
        let again = Store::open(dir.path()).expect("reopen");
        assert_eq!(again.read(|d| d.labels.get("aa:bb:cc:dd:ee:ff").cloned()).as_deref(), Some("Anna's phone"));
        std::fs::write(dir.path().join("home.json"), b"{not json").expect("write");
        let fresh = Store::open(dir.path()).expect("open corrupt");
        assert!(fresh.read(|d| d.labels.is_empty()));
        assert!(dir.path().join("home.json.corrupt").exists());
    }

    #[test]
    fn known_macs_keep_the_latest_few_thousand_and_read_old_files() {
        let mut macs = KnownMacs::default();
        for i in 0..(KnownMacs::CAP + 100) {
            assert!(macs.insert(format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256)));
        }
        assert_eq!(macs.len(), KnownMacs::CAP);
        assert!(!macs.contains("02:00:00:00:00:00"), "the oldest went first");
        assert!(macs.contains(&format!(
            "02:00:00:00:{:02x}:{:02x}",
            (KnownMacs::CAP + 99) / 256,
            (KnownMacs::CAP + 99) % 256
        )));
        assert!(!macs.insert("02:00:00:00:10:63".into()), "known already");
        let old: StoreData = serde_json::from_str(r#"{"known_macs":["aa:bb:cc:dd:ee:01","aa:bb:cc:dd:ee:02"]}"#)
            .expect("an older file reads");
        assert!(old.known_macs.contains("aa:bb:cc:dd:ee:02"));
        let json = serde_json::to_string(&old).expect("json");
        assert!(json.contains(r#""known_macs":["aa:bb:cc:dd:ee:01","aa:bb:cc:dd:ee:02"]"#), "{json}");
    }

    #[cfg(unix)]
    #[test]
    fn the_folder_is_private_and_loose_modes_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("data");
        let store = Store::open(&dir).expect("open");
        assert_eq!(mode(&dir), 0o700);
        store.update(|d| d.theme = Some("dark".into())).expect("update");
        let file = dir.join("home.json");
        assert_eq!(mode(&file), 0o600);
        assert!(!dir.join("home.json.tmp").exists(), "the temp file was renamed");
        // An older version left 0755 and 0644 behind (and a corrupt copy, a stray temp file).
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for (name, text) in [("home.json", "{}"), ("home.json.corrupt", "x"), ("home.json.tmp", "y")] {
            std::fs::write(dir.join(name), text).expect("write");
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let _again = Store::open(&dir).expect("reopen");
        assert_eq!(mode(&dir), 0o700);
        for name in ["home.json", "home.json.corrupt", "home.json.tmp"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }

    /// Files that come and go in the folder while the app starts (SQLite's journal, a previous
    /// run's writer finishing) do not stop it: seen in a test that restarts the app at once.
    #[cfg(unix)]
    #[test]
    fn files_vanishing_while_the_folder_is_tightened_are_no_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (dir, stop) = (dir.path().to_owned(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let file = dir.join(format!("history.sqlite-journal{}", i % 8));
                    let _ = std::fs::write(&file, b"j");
                    let _ = std::fs::remove_file(&file);
                    i = i.wrapping_add(1);
                }
            })
        };
        let mut failed = None;
        let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while std::time::Instant::now() < until {
            if let Err(e) = private_dir(dir.path()) {
                failed = Some(e);
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().expect("the churning thread");
        assert!(failed.is_none(), "{failed:?}");
    }

    #[test]
    fn saves_are_durable_renames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("home.json");
        std::fs::write(&path, b"old").expect("write");
        write_durably(&path, b"{\"theme\":\"dark\"}").expect("write durably");
        assert_eq!(std::fs::read(&path).expect("read"), b"{\"theme\":\"dark\"}");
        assert!(!dir.path().join("home.json.tmp").exists());
        // A folder that can't take the temp file fails with an error, and the old file stays.
        let missing = dir.path().join("gone").join("home.json");
        assert!(write_durably(&missing, b"x").is_err());
    }

    #[test]
    fn later_changes_are_saved_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        for i in 0..100 {
            store.update_later(|d| d.known_macs.insert(format!("02:00:00:00:00:{i:02x}")));
        }
        assert!(store.is_dirty());
        assert!(!dir.path().join("home.json").exists(), "nothing written yet");
        store.flush().expect("flush");
        assert!(!store.is_dirty());
        let again = Store::open(dir.path()).expect("reopen");
        assert_eq!(again.read(|d| d.known_macs.len()), 100);
    }
}
