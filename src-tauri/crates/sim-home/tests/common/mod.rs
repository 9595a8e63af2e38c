//! Helpers for the tests that run the usp-sim-home executable.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The real executable, built by cargo for these integration tests.
pub const EXE: &str = env!("CARGO_BIN_EXE_usp-sim-home");

/// How long a line or an exit may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// Kills the child (by its handle) if a test fails half-way.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of `stream` for which `keep` holds, each within 20 s, until `n` are read or the
/// stream ends.
pub fn lines_of(stream: impl Read + Send + 'static, n: usize, keep: fn(&str) -> bool) -> Vec<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < n {
        match rx.recv_timeout(WAIT) {
            Ok(line) => {
                let line = line.expect("utf-8 line");
                if keep(&line) {
                    lines.push(line);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no line within {WAIT:?}"),
        }
    }
    lines
}

/// Waits (at most 20 s) for the child to exit.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "usp-sim-home did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}
