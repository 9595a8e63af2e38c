//! `usp-sim-home --tls --print-fingerprints`: wss:// READY lines, fingerprints on stderr.

mod common;

use std::process::{Command, Stdio};

use common::{lines_of, wait_exit, Guard, EXE};

#[test]
fn tls_prints_wss_ready_lines_and_fingerprints() {
    let child = Command::new(EXE)
        .args(["--tls", "--print-fingerprints", "--exit-on-stdin-close", "--log", "warn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn usp-sim-home");
    let mut guard = Guard(child);
    let stderr = guard.0.stderr.take().expect("stderr");
    let stdout = guard.0.stdout.take().expect("stdout");
    let fingerprints = lines_of(stderr, 3, |l| l.starts_with("FINGERPRINT "));
    let ready = lines_of(stdout, 3, |_| true);
    assert_eq!(ready.len(), 3, "{ready:?}");
    assert_eq!(fingerprints.len(), 3, "{fingerprints:?}");
    for (line, fp) in ready.iter().zip(&fingerprints) {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert_eq!(parts[0], "READY");
        assert!(parts[2].starts_with("wss://127.0.0.1:") && parts[2].ends_with("/usp"), "{line}");
        let f: Vec<&str> = fp.split(' ').collect();
        assert_eq!(f.len(), 4, "{fp}");
        assert_eq!(f[1], parts[1], "same agent order");
        assert_eq!(f[2], "SHA-256");
        assert_eq!(f[3].len(), 32 * 3 - 1, "{fp}");
        assert!(f[3].parse::<usp_client::tls::Fingerprint>().is_ok(), "{fp}");
    }
    drop(guard.0.stdin.take());
    let status = wait_exit(&mut guard.0);
    assert!(status.success(), "{status}");
}

#[test]
fn print_fingerprints_needs_tls() {
    let out = Command::new(EXE).arg("--print-fingerprints").stdin(Stdio::null()).output().expect("run usp-sim-home");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls"));
}
