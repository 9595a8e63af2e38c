//! Logs go to stderr and to `usp-home.log` in the app's log folder (`~/.local/share/
//! org.usphome.app/logs` on Linux), rotated daily, the last 7 days kept. Filtered by `RUST_LOG`
//! (default: `info` for our crates, `warn` for the rest). Secrets never reach a log: they travel
//! as `app_core::secret::Secret` and the IPC types redact them in `Debug`.

use std::path::Path;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

const DEFAULT_FILTER: &str = "warn,usp_home_lib=info,app_core=info,usp_client=info";

/// Installs the logger. `log_dir` is `None` when the app's log folder is unknown (stderr only);
/// returns why the file could not be opened, if it could not (then logging is stderr only).
pub fn init(log_dir: Option<&Path>) -> Option<String> {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let stderr = fmt::layer().with_writer(std::io::stderr).with_filter(filter());
    let (file, problem) = match log_dir.map(open_file) {
        Some(Ok(appender)) => (Some(fmt::layer().with_ansi(false).with_writer(appender).with_filter(filter())), None),
        Some(Err(problem)) => (None, Some(problem)),
        None => (None, None),
    };
    // Fails only when a subscriber is already installed (e.g. by an embedding test): keep that one.
    let _ = tracing_subscriber::registry().with(stderr).with(file).try_init();
    problem
}

/// The daily log file in `dir`. Writes are plain blocking file appends: short, and nothing is
/// lost when the app exits.
fn open_file(dir: &Path) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the log folder {}: {e}", dir.display()))?;
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("usp-home")
        .filename_suffix("log")
        .max_log_files(7)
        .build(dir)
        .map_err(|e| format!("cannot write logs to {}: {e}", dir.display()))
}
