//! What every benchmark binary of `tests/benches/` measures with: a single-threaded runtime,
//! percentiles of sorted samples, microseconds.

use std::time::Duration;

/// A current-thread runtime with every driver on (each bench end runs on its own thread).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// The `p` quantile (0.0-1.0) of `sorted` (nearest rank). `sorted` must not be empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `d` in microseconds.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
