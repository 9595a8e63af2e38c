//! The controller's own Endpoint ID: `uuid::<v4>`, generated once per installation and
//! kept in a small file in the app's data folder (it is an identifier, not a secret).

use std::io::Write;
use std::path::{Path, PathBuf};

use usp_core::EndpointId;

/// Name of the file that holds the Endpoint ID.
pub const ENDPOINT_ID_FILE: &str = "endpoint-id";

/// The app's identifier (`identifier` in tauri.conf.json): the name of the data folder that the
/// app and uspctl share.
pub const APP_IDENTIFIER: &str = "org.usphome.app";

/// The folder uspctl used on its own before it shared the app's, beside it in the same parent.
pub const OLD_USPCTL_FOLDER: &str = "usp-home";

/// The data folder of the app and of uspctl: `$USP_HOME_DATA_DIR` if set, else
/// [`APP_IDENTIFIER`] in the user's data folder, where the desktop app (Tauri's `app_data_dir`)
/// keeps it: `$XDG_DATA_HOME` or `~/.local/share` on Linux, `~/Library/Application Support` on
/// macOS, `%APPDATA%` on Windows. So a `uspctl pair` and the app share one identity and its pins.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("USP_HOME_DATA_DIR") {
        return PathBuf::from(d);
    }
    user_data_dir().join(APP_IDENTIFIER)
}

/// The user's data folder (the parent of [`default_data_dir`]); the working folder if the system
/// names none.
fn user_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from("."))
}

/// What [`migrate_old_data_dir`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// There was no old folder (or `$USP_HOME_DATA_DIR` names the folder: nothing is moved then).
    NothingToDo,
    /// The old folder's files now live in the shared one, and the old folder is gone (or, if some
    /// names were in both, kept under `leftover` with what was not moved).
    Moved {
        /// The old folder.
        from: PathBuf,
        /// The shared folder.
        to: PathBuf,
        /// Where what could not be moved was kept, if anything was left.
        leftover: Option<PathBuf>,
    },
    /// The shared folder already had an identity of its own (the app's), so the old folder was
    /// renamed to `kept_as`, untouched: agents paired with it only through uspctl need pairing
    /// again.
    KeptApart {
        /// The old folder.
        from: PathBuf,
        /// Its new name.
        kept_as: PathBuf,
    },
}

/// Moves uspctl's old data folder (`usp-home` beside the shared one) into the shared folder, once:
/// when the shared folder has no Endpoint ID yet, every file of the old one moves in (a name the
/// shared folder already has stays in the old folder, which is then renamed `usp-home.not-migrated`);
/// when it has one, the old folder is renamed `usp-home.not-migrated` and nothing is mixed, since
/// one installation has one identity. Does nothing when `$USP_HOME_DATA_DIR` is set.
///
/// # Errors
/// File system problems (the old folder is then left as it was, or partly moved: a later run
/// finishes the move).
pub fn migrate_old_data_dir() -> Result<Migration, IdentityError> {
    if std::env::var_os("USP_HOME_DATA_DIR").is_some() {
        return Ok(Migration::NothingToDo);
    }
    migrate_data_dir(&user_data_dir())
}

/// [`migrate_old_data_dir`] within the user data folder `parent` (tests give their own).
///
/// # Errors
/// As [`migrate_old_data_dir`].
pub fn migrate_data_dir(parent: &Path) -> Result<Migration, IdentityError> {
    let from = parent.join(OLD_USPCTL_FOLDER);
    let to = parent.join(APP_IDENTIFIER);
    if !from.is_dir() {
        return Ok(Migration::NothingToDo);
    }
    let kept = parent.join(format!("{OLD_USPCTL_FOLDER}.not-migrated"));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IdentityError::Io { path, source }
    };
    if to.join(ENDPOINT_ID_FILE).exists() {
        if kept.exists() {
            // An earlier run kept one already; this folder appeared since (an old uspctl ran).
            return Ok(Migration::NothingToDo);
        }
        std::fs::rename(&from, &kept).map_err(io(&from))?;
        return Ok(Migration::KeptApart { from, kept_as: kept });
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&to).map_err(io(&to))?;
    private(&to, 0o700).map_err(io(&to))?;
    let mut left = false;
    for entry in std::fs::read_dir(&from).map_err(io(&from))? {
        let entry = entry.map_err(io(&from))?;
        let target = to.join(entry.file_name());
        if target.exists() {
            left = true;
            continue;
        }
        std::fs::rename(entry.path(), &target).map_err(io(&entry.path()))?;
    }
    let leftover = if left && !kept.exists() {
        std::fs::rename(&from, &kept).map_err(io(&from))?;
        Some(kept)
    } else if left {
        Some(from.clone())
    } else {
        std::fs::remove_dir(&from).map_err(io(&from))?;
        None
    };
    Ok(Migration::Moved { from, to, leftover })
}

/// Why the installation identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing the file failed.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds something that is not an Endpoint ID.
    #[error("{path} does not hold a valid endpoint id: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Loads the installation's Endpoint ID from `dir`, creating it (and `dir`) on first use. The
/// folder is kept private (0700 on Unix) and the file 0600; looser modes are tightened.
///
/// # Errors
/// File system problems, or a file that does not hold an Endpoint ID (never silently
/// replaced: agents know us by it).
pub fn load_or_create_endpoint_id(dir: &Path) -> Result<EndpointId, IdentityError> {
    let path = dir.join(ENDPOINT_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let eid = text.trim().parse().map_err(|e: usp_core::EidError| IdentityError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let io = |source| IdentityError::Io { path: path.clone(), source };
            private(dir, 0o700).map_err(io)?;
            private(&path, 0o600).map_err(io)?;
            Ok(eid)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let io = |source| IdentityError::Io { path: path.clone(), source };
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(io)?;
            private(dir, 0o700).map_err(io)?;
            let eid = EndpointId::generate_installation();
            // Write to a temporary file and rename, so a crash never leaves half an id.
            let tmp = dir.join(format!("{ENDPOINT_ID_FILE}.tmp"));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&tmp).map_err(io)?;
            private(&tmp, 0o600).map_err(io)?;
            writeln!(f, "{eid}").map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            #[cfg(unix)]
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            Ok(eid)
        }
        Err(source) => Err(IdentityError::Io { path, source }),
    }
}

/// Replaces the installation's Endpoint ID in `dir` with a new one (when the key that went with
/// the old one is lost: agents that knew the old certificate would refuse a new one under the
/// same ID). Same file rules as [`load_or_create_endpoint_id`].
///
/// # Errors
/// File system problems.
pub fn renew_endpoint_id(dir: &Path) -> Result<EndpointId, IdentityError> {
    let path = dir.join(ENDPOINT_ID_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(IdentityError::Io { path, source }),
    }
    load_or_create_endpoint_id(dir)
}

/// Takes away from `path` any permission beyond `mode` (Unix; a no-op elsewhere).
fn private(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let now = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if now & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(now & mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_kept() {
        let dir = std::env::temp_dir().join(format!("usp-home-id-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = load_or_create_endpoint_id(&dir).expect("create");
        assert!(a.as_str().starts_with("uuid::"));
        let b = load_or_create_endpoint_id(&dir).expect("load");
        assert_eq!(a, b);
        std::fs::write(dir.join(ENDPOINT_ID_FILE), "garbage").expect("write");
        assert!(matches!(load_or_create_endpoint_id(&dir), Err(IdentityError::Corrupt { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A fresh user data folder for one test.
    fn parent(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("usp-home-migrate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create");
        dir
    }

    #[test]
    fn the_old_uspctl_folder_moves_into_the_shared_one() {
        let p = parent("move");
        let old = p.join(OLD_USPCTL_FOLDER);
        let eid = load_or_create_endpoint_id(&old).expect("old identity");
        std::fs::write(old.join("pins.json"), "{}").expect("write");
        // The app may have made its folder (its logs) without an identity yet.
        std::fs::create_dir_all(p.join(APP_IDENTIFIER).join("logs")).expect("logs");

        let done = migrate_data_dir(&p).expect("migrate");
        let shared = p.join(APP_IDENTIFIER);
        assert_eq!(done, Migration::Moved { from: old.clone(), to: shared.clone(), leftover: None });
        assert!(!old.exists(), "the old folder is gone");
        assert_eq!(load_or_create_endpoint_id(&shared).expect("shared"), eid, "same identity");
        assert!(shared.join("pins.json").exists() && shared.join("logs").is_dir());
        // Once is enough: a second run finds nothing to do.
        assert_eq!(migrate_data_dir(&p).expect("again"), Migration::NothingToDo);
        let _ = std::fs::remove_dir_all(&p);
    }

    #[test]
    fn an_old_folder_is_kept_apart_when_the_app_has_its_own_identity() {
        let p = parent("apart");
        let old = p.join(OLD_USPCTL_FOLDER);
        let shared = p.join(APP_IDENTIFIER);
        let theirs = load_or_create_endpoint_id(&old).expect("old");
        let ours = load_or_create_endpoint_id(&shared).expect("app");
        assert_ne!(theirs, ours);

        let done = migrate_data_dir(&p).expect("migrate");
        let kept = p.join(format!("{OLD_USPCTL_FOLDER}.not-migrated"));
        assert_eq!(done, Migration::KeptApart { from: old.clone(), kept_as: kept.clone() });
        assert_eq!(load_or_create_endpoint_id(&shared).expect("app"), ours, "the app's stays");
        assert_eq!(load_or_create_endpoint_id(&kept).expect("kept"), theirs, "nothing lost");
        assert!(!old.exists());
        assert_eq!(migrate_data_dir(&p).expect("again"), Migration::NothingToDo);
        let _ = std::fs::remove_dir_all(&p);
    }

    #[test]
    fn names_in_both_folders_are_not_overwritten() {
        let p = parent("both");
        let old = p.join(OLD_USPCTL_FOLDER);
        let shared = p.join(APP_IDENTIFIER);
        let eid = load_or_create_endpoint_id(&old).expect("old");
        std::fs::create_dir_all(&shared).expect("shared");
        std::fs::write(old.join("settings.json"), "old").expect("write");
        std::fs::write(shared.join("settings.json"), "app").expect("write");

        let kept = p.join(format!("{OLD_USPCTL_FOLDER}.not-migrated"));
        let done = migrate_data_dir(&p).expect("migrate");
        assert_eq!(done, Migration::Moved { from: old, to: shared.clone(), leftover: Some(kept.clone()) });
        assert_eq!(std::fs::read_to_string(shared.join("settings.json")).expect("read"), "app");
        assert_eq!(std::fs::read_to_string(kept.join("settings.json")).expect("read"), "old");
        assert_eq!(load_or_create_endpoint_id(&shared).expect("shared"), eid);
        let _ = std::fs::remove_dir_all(&p);
    }

    #[cfg(unix)]
    #[test]
    fn the_folder_and_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let dir = std::env::temp_dir().join(format!("usp-home-id-modes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = load_or_create_endpoint_id(&dir).expect("create");
        let file = dir.join(ENDPOINT_ID_FILE);
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        assert!(!dir.join(format!("{ENDPOINT_ID_FILE}.tmp")).exists());
        // Modes an older version left are tightened on the next load.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(load_or_create_endpoint_id(&dir).expect("load"), a);
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
