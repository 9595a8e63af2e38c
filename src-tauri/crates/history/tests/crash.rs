//! The store survives being killed mid-write, and a damaged file is moved aside.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use usp_history::{Config, OpenNote, Sample, Span, Step, Store, FILE_NAME};

/// Devices per batch: enough that each transaction takes a while, so the kill lands inside one.
const DEVICES: u64 = 200;
const START: i64 = 1_700_000_000;

/// Starts the writer, waits until it has committed `commits` batches (bounded wait), kills it
/// with SIGKILL by its PID, and returns the last commit it reported.
fn write_and_kill(dir: &std::path::Path, start: i64, commits: u64) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usp-history-writer"))
        .arg(dir)
        .arg(DEVICES.to_string())
        .arg(start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut last = None;
    while last.is_none_or(|n| n < commits) {
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the writer stopped reporting: {e:?}");
            }
        };
        last = line.strip_prefix("committed ").and_then(|n| n.parse::<u64>().ok());
    }
    // SIGKILL by PID, while it is in the middle of its next batches.
    let status = Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill failed");
    let exit = child.wait().expect("reap the writer");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit.signal(), Some(9), "the writer died of SIGKILL: {exit:?}");
    // Whatever the pipe still held was committed too; take the last.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        if let Some(n) = line.strip_prefix("committed ").and_then(|n| n.parse::<u64>().ok()) {
            last = Some(n);
        }
    }
    last.expect("at least one commit")
}

fn total_down(store: &Store, key: &str) -> u64 {
    let span = Span { from: START - 86_400, to: START + 10 * 86_400, step: Step::Day };
    store.device_usage(key, span).expect("query").iter().map(|p| p.down).sum()
}

#[test]
fn killed_mid_write_keeps_every_commit_and_no_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut floor = 0;
    for round in 1..=3u64 {
        // Each round restarts the writer at commit 0 of its own run, a day later; the counters
        // go down, which the store takes as a restart, so usage only grows.
        let start = START + (round as i64 - 1) * 86_400;
        let last = write_and_kill(dir.path(), start, 20 * round);
        let (store, note) = Store::open(dir.path(), Config::default(), 0).expect("reopen");
        assert_eq!(note, OpenNote::Opened, "round {round}: the file opened as it was");
        let check: String = rusqlite::Connection::open(dir.path().join(FILE_NAME))
            .expect("open for check")
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok", "round {round}");
        // Every device saw the same batches: a batch is all or nothing.
        let totals: Vec<u64> = (0..DEVICES).map(|d| total_down(&store, &format!("dev-{d}"))).collect();
        assert!(totals.iter().all(|t| *t == totals[0]), "round {round}: a batch was half written: {totals:?}");
        // What the writer reported committed is there (this round adds >= last * 1000).
        assert!(totals[0] >= floor + last * 1000, "round {round}: {} < {} + {}", totals[0], floor, last * 1000);
        floor = totals[0];
    }
}

fn garbage_then_open(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, bytes).expect("write garbage");
    let (mut store, note) = Store::open(dir.path(), Config::default(), 1_234_567).expect("open");
    let OpenNote::Recovered { moved_to, reason } = &note else {
        panic!("expected a recovery, got {note:?}");
    };
    assert!(!reason.is_empty());
    assert_eq!(moved_to.file_name().and_then(|n| n.to_str()), Some("history.sqlite3.damaged-1234567"));
    let kept = std::fs::read(moved_to).expect("moved file");
    // Kept as it was (SQLite may have touched the 100-byte file header while checking it).
    let first_diff = kept.iter().zip(bytes).skip(100).position(|(a, b)| a != b);
    assert!(
        kept.len() == bytes.len() && first_diff.is_none(),
        "kept as it was: {} vs {} bytes, first difference past the header at {first_diff:?}",
        kept.len(),
        bytes.len()
    );
    let msg = note.message().expect("a message for the user");
    assert!(msg.contains("damaged") && msg.contains("moved aside"), "{msg}");
    // The fresh store works.
    let out = store.record(&[Sample::Presence { key: "a".into(), at: 10, online: true }]).expect("record");
    assert_eq!(out.stored, 1);
    assert_eq!(store.last_seen("a").expect("last_seen"), Some(10));
}

#[test]
fn a_garbage_file_is_moved_aside_and_a_fresh_store_starts() {
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    garbage_then_open(&garbage);
}

#[test]
fn a_file_with_a_valid_header_and_garbage_pages_is_moved_aside() {
    // A real store, then its pages after the first overwritten.
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (mut store, _) = Store::open(dir.path(), Config::default(), 0).expect("open");
        let batch: Vec<Sample> =
            (0..500).map(|d| Sample::Signal { key: format!("dev-{d}"), at: 100, dbm: -50 }).collect();
        store.record(&batch).expect("record");
        store.maintain(200).expect("checkpoint");
    }
    let path = dir.path().join(FILE_NAME);
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 8192);
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i % 251) as u8;
    }
    garbage_then_open(&bytes);
}

#[test]
fn a_file_from_a_newer_version_is_left_alone_with_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path(), Config::default(), 0).expect("create"));
    let conn = rusqlite::Connection::open(dir.path().join(FILE_NAME)).expect("open");
    conn.execute_batch("PRAGMA user_version = 99").expect("bump");
    drop(conn);
    let err = Store::open(dir.path(), Config::default(), 0).expect_err("refused");
    assert!(matches!(err, usp_history::Error::NewerSchema { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer version"));
    assert!(dir.path().join(FILE_NAME).exists(), "not moved");
}
