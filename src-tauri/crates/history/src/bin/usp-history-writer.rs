//! Test helper of `usp-history` (not part of the app): writes batches into a history store in a
//! loop, printing `committed N` after each commit, until it is killed. The crash test kills it
//! with SIGKILL mid-write and checks the file.
//!
//! Usage: `usp-history-writer <dir> <devices> <first timestamp>`

use std::io::Write;
use std::path::PathBuf;

use usp_history::{Config, Sample, Store};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(devices), Some(start)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: usp-history-writer <dir> <devices> <first timestamp>");
        return std::process::ExitCode::from(2);
    };
    let devices: u64 = devices.parse().unwrap_or(50);
    let (mut store, _) = match Store::open(&PathBuf::from(dir), Config::default(), 0) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let start: i64 = start.parse().unwrap_or(1_700_000_000);
    let mut stdout = std::io::stdout().lock();
    for i in 0u64.. {
        let at = start + i as i64;
        let batch: Vec<Sample> = (0..devices)
            .map(|d| Sample::Traffic { key: format!("dev-{d}"), at, down_total: i * 1000, up_total: i * 10 })
            .collect();
        if let Err(e) = store.record(&batch) {
            eprintln!("record: {e}");
            return std::process::ExitCode::from(1);
        }
        if writeln!(stdout, "committed {i}").and_then(|_| stdout.flush()).is_err() {
            break;
        }
    }
    std::process::ExitCode::SUCCESS
}
