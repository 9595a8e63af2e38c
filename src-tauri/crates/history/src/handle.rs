//! Using the store from async code: [`StoreHandle`].
//!
//! SQLite calls block. The handle runs the [`Store`] on a dedicated thread and hands it jobs
//! through a bounded channel (64 jobs): an async caller awaits the answer without blocking the
//! runtime, and a burst of callers waits for room instead of queueing without limit. Jobs run
//! one at a time, in order. Dropping every clone of the handle lets the thread finish the queued
//! jobs and close the file.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use crate::{Config, Error, OpenNote, Result, Store};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// How many jobs may wait for the store's thread.
pub const QUEUE: usize = 64;

/// A cloneable, async handle on a [`Store`] running on its own thread.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
}

impl StoreHandle {
    /// Opens the store (see [`Store::open`]) on a new thread.
    pub async fn open(dir: PathBuf, cfg: Config, now: i64) -> Result<(StoreHandle, OpenNote)> {
        let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE);
        let (opened_tx, opened) = oneshot::channel();
        std::thread::Builder::new()
            .name("usp-history".into())
            .spawn(move || match Store::open(&dir, cfg, now) {
                Ok((mut store, note)) => {
                    let _ = opened_tx.send(Ok(note));
                    while let Some(job) = rx.blocking_recv() {
                        job(&mut store);
                    }
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            })
            .map_err(|source| Error::Io { path: PathBuf::from("usp-history thread"), source })?;
        let note = opened.await.map_err(|_| Error::Closed)??;
        Ok((StoreHandle { jobs }, note))
    }

    /// Runs `f` on the store's thread and returns its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = tx.send(f(store));
        });
        self.jobs.send(job).await.map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}
