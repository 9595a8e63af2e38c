//! The app's plain (non-secret) settings file, `home.json` in the data folder: user labels,
//! the guest-network mark, devices already seen, remembered agents, discovery interfaces, theme.
//! Secrets never go here (they live in the vault). Writes are atomic (temp file + rename).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
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
    /// Every MAC ever reported, to raise "new device joined" only once per device.
    pub known_macs: BTreeSet<String>,
    /// Remembered agents.
    pub agents: Vec<KnownAgent>,
    /// Discovery interfaces setting (`all`, `lo`, `eth0,wlan0`); `None` = `all`.
    pub interfaces: Option<String>,
    /// `system`, `light` or `dark`.
    pub theme: Option<String>,
}

/// The settings file with its in-memory copy.
pub struct Store {
    path: PathBuf,
    data: Mutex<StoreData>,
}

impl Store {
    /// Loads `home.json` from `dir` (an absent file is an empty store; a corrupt one is kept
    /// aside as `home.json.corrupt` and replaced, so a bad file never stops the app).
    ///
    /// # Errors
    /// [`AppError::Internal`] when the folder can't be created or read.
    pub fn open(dir: &Path) -> AppResult<Store> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", dir.display())))?;
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
        Ok(Store { path, data: Mutex::new(data) })
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
        if *guard != before {
            let bytes = serde_json::to_vec_pretty(&*guard).map_err(|e| AppError::Internal(e.to_string()))?;
            let tmp = self.path.with_extension("json.tmp");
            std::fs::write(&tmp, bytes)
                .and_then(|()| std::fs::rename(&tmp, &self.path))
                .map_err(|e| AppError::Internal(format!("cannot save {}: {e}", self.path.display())))?;
        }
        Ok(result)
    }
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
}
