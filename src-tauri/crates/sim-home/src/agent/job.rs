//! Asynchronous commands that do real I/O (HTTP transfers): the agent stays sans-IO by
//! spawning the I/O on the current tokio runtime and polling for its outcome from
//! [`Agent::handle_timeout`](super::Agent::handle_timeout) every [`POLL_MS`] while it
//! runs. The outcome is a closure run on the agent (it sets data-model values, emits
//! events) that returns the command's output arguments. Dropping the job (Cancel(),
//! a reboot) aborts the I/O.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::{err, Agent, UspErr};

/// How often a running job is polled.
pub const POLL_MS: u64 = 50;

/// What a finished job does to the agent; returns the command's result.
pub(crate) type Finish = Box<dyn FnOnce(&mut Agent) -> Result<BTreeMap<String, String>, UspErr> + Send>;

/// Aborts the task when the last [`Job`] clone goes.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running I/O task and the slot it leaves its outcome in.
#[derive(Clone)]
pub(crate) struct Job {
    slot: Arc<Mutex<Option<Finish>>>,
    _task: Arc<AbortOnDrop>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("done", &self.is_done()).finish()
    }
}

impl Job {
    /// Spawns `io` on the current runtime (7022 outside one).
    pub fn spawn(io: impl Future<Output = Finish> + Send + 'static) -> Result<Job, UspErr> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| err(7022, "this command needs the agent to run in its server"))?;
        let slot: Arc<Mutex<Option<Finish>>> = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        let task = rt.spawn(async move {
            let finish = io.await;
            if let Ok(mut s) = out.lock() {
                *s = Some(finish);
            }
        });
        Ok(Job { slot, _task: Arc::new(AbortOnDrop(task.abort_handle())) })
    }

    fn is_done(&self) -> bool {
        self.slot.lock().map(|s| s.is_some()).unwrap_or(true)
    }

    /// The outcome, once (None while running).
    pub fn take(&self) -> Option<Finish> {
        self.slot.lock().ok().and_then(|mut s| s.take())
    }
}

impl Agent {
    /// Runs `job` as the asynchronous command `command` of `loc`: a
    /// `Device.LocalAgent.Request.{i}` row (returned) while it runs, OperationComplete after.
    pub(super) fn start_job(
        &mut self,
        caller: &super::Caller,
        loc: &super::dm::Loc,
        command: &str,
        key: &str,
        job: Job,
    ) -> Result<String, UspErr> {
        let row = super::setup::add_row_with(
            &self.schema,
            &mut self.dm,
            "Device.LocalAgent.Request.",
            &[
                ("Originator", &caller.eid),
                ("Command", &format!("{}{command}()", loc.path)),
                ("CommandKey", key),
                ("Status", "Active"),
            ],
        )
        .map_err(|e| err(7005, e))?;
        self.ops.push(super::PendingOp {
            due: self.now(),
            request: row.clone(),
            obj: loc.path.clone(),
            command: command.to_owned(),
            command_key: key.to_owned(),
            eid: caller.eid.clone(),
            msg_id: caller.msg_id.clone(),
            result: Ok(BTreeMap::new()),
            job: Some(job),
            activate: None,
        });
        Ok(row)
    }
}
