//! Measurement helper of `usp-history` (not part of the app): fills the history of a data folder
//! with two years of synthetic traffic ([`usp_history::fill`]) for `<devices>` devices up to now,
//! so the app can be started and measured on it (scripts/measure.sh does). The MAC addresses
//! given come first (e.g. the simulated home's devices, so their charts have data); the rest are
//! made up (`02:00:00:00:xx:xx`). Prints what it wrote.
//!
//! Usage: `usp-history-fill <data dir> <devices> [MAC...]`

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use usp_history::fill::{two_years, Scale};
use usp_history::{Config, Store};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(devices)) = (args.next(), args.next()) else {
        eprintln!("usage: usp-history-fill <data dir> <devices> [MAC...]");
        return std::process::ExitCode::from(2);
    };
    let Ok(devices) = devices.parse::<u16>() else {
        eprintln!("usp-history-fill: <devices> is a number up to 65535");
        return std::process::ExitCode::from(2);
    };
    let mut keys: Vec<String> = args.map(|m| m.to_ascii_lowercase()).take(usize::from(devices)).collect();
    let mut n: u16 = 0;
    while keys.len() < usize::from(devices) {
        keys.push(format!("02:00:00:00:{:02x}:{:02x}", n >> 8, n & 0xff));
        n += 1;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let now = now - now % 60;
    let started = Instant::now();
    let (mut store, _) = match Store::open(&PathBuf::from(&dir), Config::default(), now) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("usp-history-fill: open: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if let Err(e) = two_years(&mut store, &keys, &Scale::TWO_YEARS, now) {
        eprintln!("usp-history-fill: {e}");
        return std::process::ExitCode::from(1);
    }
    println!(
        "filled {} with two years of {} devices in {:.1} s: file {:.1} MiB",
        store.path().display(),
        keys.len(),
        started.elapsed().as_secs_f64(),
        store.file_bytes() as f64 / 1_048_576.0
    );
    std::process::ExitCode::SUCCESS
}
