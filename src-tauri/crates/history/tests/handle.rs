//! The async handle: the store on its own thread, used from tokio.

use usp_history::{Config, OpenNote, Sample, StoreHandle};

const T0: i64 = 1_704_067_200;

#[tokio::test(flavor = "current_thread")]
async fn many_tasks_use_one_store_without_blocking_the_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (h, note) = StoreHandle::open(dir.path().to_path_buf(), Config::default(), T0).await.expect("open");
    assert_eq!(note, OpenNote::Created);
    // 200 tasks on a single-threaded runtime, more than the queue holds: all complete.
    let mut tasks = Vec::new();
    for d in 0..200u64 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("dev-{d}");
            let batch = vec![
                Sample::Traffic { key: key.clone(), at: T0, down_total: 0, up_total: 0 },
                Sample::Traffic { key, at: T0 + 60, down_total: d, up_total: 1 },
            ];
            h.call(move |s| s.record(&batch)).await
        }));
    }
    for t in tasks {
        let out = tokio::time::timeout(std::time::Duration::from_secs(30), t)
            .await
            .expect("in time")
            .expect("task")
            .expect("record");
        assert_eq!(out.stored, 2);
    }
    let home = h
        .call(|s| {
            let span = s.today(T0);
            s.home_usage(span)
        })
        .await
        .expect("home");
    assert_eq!(home[0].down, (0..200).sum::<u64>());
    assert_eq!(home[0].up, 200);
    // An error inside a job comes back as that error.
    let err = h
        .call(|s| s.device_usage("dev-1", usp_history::Span { from: 0, to: T0, step: usp_history::Step::Hour }))
        .await
        .expect_err("too many points");
    assert!(matches!(err, usp_history::Error::RangeTooLarge { .. }));
}

#[tokio::test(flavor = "current_thread")]
async fn opening_a_newer_file_reports_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (h, _) = StoreHandle::open(dir.path().to_path_buf(), Config::default(), T0).await.expect("open");
        h.call(|s| Ok(rusqlite::Connection::open(s.path()).and_then(|c| c.execute_batch("PRAGMA user_version = 7"))))
            .await
            .expect("call")
            .expect("bump");
    }
    let err = StoreHandle::open(dir.path().to_path_buf(), Config::default(), T0).await.expect_err("refused");
    assert!(matches!(err, usp_history::Error::NewerSchema { found: 7, .. }), "{err}");
}
