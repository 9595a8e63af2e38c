//! Logs go to stderr and to `usp-home.log` in the app's log folder (`~/.local/share/
//! org.usphome.app/logs` on Linux). The file is size-capped: at [`MAX_FILE_BYTES`] it is
//! rotated to `usp-home.1.log` (and older ones shifted up to `usp-home.4.log`, the oldest
//! dropped), so the logs never take more than [`MAX_FILES`] × [`MAX_FILE_BYTES`] whatever
//! devices send. The folder is private (0700 on Unix), the files 0600. Filtered by `RUST_LOG`
//! (default: `info` for our crates, `warn` for the rest). Secrets never reach a log: they travel
//! as `app_core::secret::Secret` and the IPC types redact them in `Debug`; text from devices
//! is cut and escaped where it is logged.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

const DEFAULT_FILTER: &str = "warn,usp_home_lib=info,app_core=info,usp_client=info";
/// Largest log file.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Log files kept (the current one and the rotated ones).
pub const MAX_FILES: usize = 5;
const NAME: &str = "usp-home";

/// Installs the logger. `log_dir` is `None` when the app's log folder is unknown (stderr only);
/// returns why the file could not be opened, if it could not (then logging is stderr only).
pub fn init(log_dir: Option<&Path>) -> Option<String> {
    // tungstenite at TRACE prints whole frames in hex (10 MB for a 5 MiB frame from a device):
    // never past DEBUG, whatever RUST_LOG says for everything else.
    let filter = || {
        let f = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
        ["tungstenite=debug", "tokio_tungstenite=debug"]
            .iter()
            .filter_map(|d| d.parse().ok())
            .fold(f, EnvFilter::add_directive)
    };
    let stderr = fmt::layer().with_writer(std::io::stderr).with_filter(filter());
    let (file, problem) = match log_dir.map(|dir| CappedLog::open(dir, MAX_FILE_BYTES, MAX_FILES)) {
        Some(Ok(log)) => (Some(fmt::layer().with_ansi(false).with_writer(log).with_filter(filter())), None),
        Some(Err(e)) => (
            None,
            Some(format!(
                "cannot write logs to {}: {e}",
                log_dir.map_or_else(String::new, |d| d.display().to_string())
            )),
        ),
        None => (None, None),
    };
    // Fails only when a subscriber is already installed (e.g. by an embedding test): keep that one.
    let _ = tracing_subscriber::registry().with(stderr).with(file).try_init();
    problem
}

/// A size-capped, rotating log file. Writes are plain blocking file appends: short, and nothing
/// is lost when the app exits.
#[derive(Clone)]
pub struct CappedLog {
    inner: Arc<Mutex<Current>>,
}

struct Current {
    dir: PathBuf,
    max_bytes: u64,
    max_files: usize,
    file: Option<File>,
    size: u64,
}

impl CappedLog {
    /// Opens (appends to) the log in `dir`, creating a private folder; files at most `max_bytes`
    /// each, `max_files` in all. Loose modes of older files are tightened.
    ///
    /// # Errors
    /// The folder or the file can't be created.
    pub fn open(dir: &Path, max_bytes: u64, max_files: usize) -> io::Result<CappedLog> {
        private_dir(dir)?;
        let mut current = Current { dir: dir.to_owned(), max_bytes, max_files: max_files.max(1), file: None, size: 0 };
        current.reopen()?;
        Ok(CappedLog { inner: Arc::new(Mutex::new(current)) })
    }
}

impl Current {
    fn path(&self, n: usize) -> PathBuf {
        if n == 0 {
            self.dir.join(format!("{NAME}.log"))
        } else {
            self.dir.join(format!("{NAME}.{n}.log"))
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        let path = self.path(0);
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// `usp-home.log` → `.1.log` → ... ; the oldest is dropped.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let last = self.max_files - 1;
        if last == 0 {
            let _ = std::fs::remove_file(self.path(0));
        } else {
            let _ = std::fs::remove_file(self.path(last));
            for n in (0..last).rev() {
                let from = self.path(n);
                if from.exists() {
                    std::fs::rename(&from, self.path(n + 1))?;
                }
            }
        }
        self.reopen()
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // One record never exceeds a file: the rest of an oversized one is dropped.
        let buf = &buf[..buf.len().min(usize::try_from(self.max_bytes).unwrap_or(usize::MAX))];
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => {
                self.reopen()?;
                self.file.as_mut().ok_or_else(|| io::Error::other("the log file is closed"))?
            }
        };
        file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }
}

/// The writer of one log record.
pub struct CappedWriter {
    inner: Arc<Mutex<Current>>,
}

impl Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut current = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let len = buf.len();
        current.write(buf)?;
        // What did not fit in one file is dropped on purpose, not retried.
        Ok(len)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut current = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        current.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl<'a> MakeWriter<'a> for CappedLog {
    type Writer = CappedWriter;

    fn make_writer(&'a self) -> CappedWriter {
        CappedWriter { inner: self.inner.clone() }
    }
}

/// Creates `dir` private (0700 on Unix) and makes every file in it 0600.
fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let tighten = |path: &Path, mode: u32| -> io::Result<()> {
            let now = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if now & !mode != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(now & mode))?;
            }
            Ok(())
        };
        tighten(dir, 0o700)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                tighten(&entry.path(), 0o600)?;
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system temp folder, removed when dropped.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Temp {
            let dir = std::env::temp_dir().join(format!("usp-home-logging-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            Temp(dir)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sizes(dir: &Path) -> Vec<(String, u64)> {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| {
                let e = e.expect("entry");
                (e.file_name().to_string_lossy().into_owned(), e.metadata().expect("metadata").len())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn logs_rotate_and_never_exceed_their_cap() {
        let parent = Temp::new("cap");
        let dir = parent.0.join("logs");
        let log = CappedLog::open(&dir, 10_000, 5).expect("open");
        // 6 MB of records, some oversized (a device's 5 MiB "reason"), through the writer.
        let line = format!("{}\n", "x".repeat(99));
        for i in 0..60_000 {
            let mut w = log.make_writer();
            if i % 10_000 == 7 {
                w.write_all(&vec![b'y'; 5 << 20]).expect("oversized write");
            }
            w.write_all(line.as_bytes()).expect("write");
        }
        let mut w = log.make_writer();
        w.write_all(b"the last line\n").expect("write");
        let files = sizes(&dir);
        assert_eq!(files.len(), 5, "{files:?}");
        assert!(files.iter().all(|(_, size)| *size <= 10_000), "{files:?}");
        assert!(files.iter().map(|(_, s)| s).sum::<u64>() <= 50_000);
        let current = std::fs::read_to_string(dir.join("usp-home.log")).expect("current");
        assert!(current.ends_with("the last line\n"));
        // A restart appends to the current file and keeps the cap.
        drop(log);
        let again = CappedLog::open(&dir, 10_000, 5).expect("reopen");
        for _ in 0..1000 {
            again.make_writer().write_all(line.as_bytes()).expect("write");
        }
        assert!(sizes(&dir).iter().all(|(_, size)| *size <= 10_000));
        assert_eq!(sizes(&dir).len(), 5);
    }

    #[cfg(unix)]
    #[test]
    fn the_log_folder_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let parent = Temp::new("modes");
        let dir = parent.0.join("logs");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let old = dir.join("usp-home.2026-12-01.log");
        std::fs::write(&old, "old daily log").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let log = CappedLog::open(&dir, 1000, 2).expect("open");
        for _ in 0..30 {
            log.make_writer().write_all(&[b'z'; 100]).expect("write");
        }
        assert_eq!(mode(&dir), 0o700);
        for (name, _) in sizes(&dir) {
            assert_eq!(mode(&dir.join(&name)), 0o600, "{name}");
        }
    }
}
