//! The controller's own Endpoint ID: `uuid::<v4>`, generated once per installation and
//! kept in a small file in the app's data folder (it is an identifier, not a secret).

use std::io::Write;
use std::path::{Path, PathBuf};

use usp_core::EndpointId;

/// Name of the file that holds the Endpoint ID.
pub const ENDPOINT_ID_FILE: &str = "endpoint-id";

/// The default data folder: `$USP_HOME_DATA_DIR`, else `$XDG_DATA_HOME/usp-home`,
/// else `$HOME/.local/share/usp-home` (Windows: `%APPDATA%\usp-home`).
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("USP_HOME_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("usp-home");
    }
    if let Some(d) = std::env::var_os("APPDATA") {
        return PathBuf::from(d).join("usp-home");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/usp-home"),
        None => PathBuf::from(".usp-home"),
    }
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
