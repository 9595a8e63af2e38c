//! `watch` and `operate --wait`: the subscriptions uspctl makes on the agent.
//!
//! Each run names its subscriptions `uspctl-<installation>-<run>-<n>`: `<installation>` is a
//! hash of our Endpoint ID, `<run>` names this process, which holds a lock file
//! `<data dir>/uspctl-runs/<run>.lock` while it runs. A run removes its subscriptions when it
//! ends (normally, on Ctrl-C, SIGTERM or SIGHUP, or when its reader goes away), and removes the
//! ones an earlier run could not (killed with SIGKILL, power cut): those whose run holds no
//! lock any more. The app's own subscriptions (`usphome-…`) and other installations' are never
//! touched. When the connection drops and comes back, `watch` makes its subscription again;
//! an agent that still has it answers "duplicate" (7025, or 7004 carrying 7025), which
//! counts as already there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use usp_client::{Client, ClientError, ConnectionState, NotifKind};
use usp_core::msg::{self, Notification, Request};
use usp_core::request::{self, CommandOutcome};
use usp_core::EndpointId;
use usp_core::UspError;

use crate::cli::Cli;
use crate::dm::{report_errors, send};
use crate::failure::Failure;
use crate::output::print_json;

/// The table every subscription lives in.
const SUBSCRIPTIONS: &str = "Device.LocalAgent.Subscription.";

/// The start of the IDs of every subscription uspctl makes for the installation `own_id`.
pub(crate) fn installation_prefix(own_id: &EndpointId) -> String {
    // FNV-1a: stable across builds and Rust versions (the ID must be recognised by later runs).
    let mut h: u32 = 0x811c_9dc5;
    for b in own_id.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("uspctl-{h:08x}-")
}

/// This process, as the owner of subscriptions: its lock file is held while it runs.
pub(crate) struct Run {
    id: String,
    dir: PathBuf,
    lock: Option<std::fs::File>,
    prefix: String,
    counter: u32,
}

impl Run {
    /// Takes the lock of a new run in `data_dir`.
    pub(crate) fn start(data_dir: &Path, own_id: &EndpointId) -> Result<Run, Failure> {
        let dir = data_dir.join("uspctl-runs");
        create_private_dir(&dir)
            .map_err(|e| crate::failure::local_failure("cannot create the folder for uspctl's runs", e))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos());
        let id = format!("{:x}{:08x}", std::process::id(), nanos.unwrap_or_default());
        let path = dir.join(format!("{id}.lock"));
        let file =
            open_private(&path).map_err(|e| crate::failure::local_failure("cannot create uspctl's lock file", e))?;
        file.try_lock().map_err(|e| crate::failure::local_failure("cannot lock uspctl's lock file", e))?;
        Ok(Run { id, dir, lock: Some(file), prefix: installation_prefix(own_id), counter: 0 })
    }

    /// A new subscription ID of this run.
    pub(crate) fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("{}{}-{}", self.prefix, self.id, self.counter)
    }

    /// True when `sub_id` is a subscription of this installation made by a run that has
    /// ended (its lock is free or gone). Unknown shapes and live runs are false.
    fn is_leftover(&self, sub_id: &str) -> bool {
        let Some(rest) = sub_id.strip_prefix(&self.prefix) else { return false };
        let Some((run, n)) = rest.split_once('-') else { return false };
        if run == self.id || run.is_empty() || !run.bytes().all(|b| b.is_ascii_hexdigit()) || n.parse::<u32>().is_err()
        {
            return false;
        }
        let path = self.dir.join(format!("{run}.lock"));
        match std::fs::File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(_) => false,
            Ok(f) => match f.try_lock() {
                Ok(()) => {
                    let _ = std::fs::remove_file(&path);
                    true
                }
                Err(_) => false,
            },
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(file) = self.lock.take() {
            let _ = std::fs::remove_file(self.dir.join(format!("{}.lock", self.id)));
            drop(file);
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Removes this installation's subscriptions left by earlier runs that did not end cleanly.
/// Returns how many were removed; problems only go to the debug log (this is housekeeping).
pub(crate) async fn remove_leftovers(client: &Client, run: &Run) -> usize {
    let resp = match client.get(&[format!("{SUBSCRIPTIONS}*.ID")], 0).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "cannot list the subscriptions");
            return 0;
        }
    };
    let stale: Vec<String> = resp
        .params()
        .into_iter()
        .filter(|p| p.path.ends_with(".ID") && run.is_leftover(&p.value))
        .map(|p| p.path.trim_end_matches("ID").to_owned())
        .collect();
    if stale.is_empty() {
        return 0;
    }
    let req = match request::delete(&stale, true) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "cannot build the Delete of leftover subscriptions");
            return 0;
        }
    };
    match client.call::<msg::DeleteResp>(req).await {
        Ok(resp) => resp.per_object().into_iter().filter_map(|(_, r)| r.ok()).map(|ok| ok.affected_paths.len()).sum(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot delete leftover subscriptions");
            0
        }
    }
}

/// How an Add of a subscription ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// The agent created it.
    Created,
    /// The agent has it already (made before a reconnect).
    AlreadyThere,
}

/// Creates the subscription `id` on the agent.
pub(crate) async fn add(client: &Client, id: &str, kind: NotifKind, path: &str) -> Result<Added, ClientError> {
    let req = request::add()
        .object(
            SUBSCRIPTIONS,
            [
                ("Enable", "true", true),
                ("ID", id, true),
                ("NotifType", kind.as_str(), true),
                ("ReferenceList", path, true),
                ("NotifRetry", "false", false),
                ("Persistent", "false", false),
            ],
        )
        .build()?;
    let resp: msg::AddResp = match client.call(req).await {
        Ok(r) => r,
        Err(ClientError::Usp(e)) if e.is_duplicate() => return Ok(Added::AlreadyThere),
        Err(e) => return Err(e),
    };
    match resp.per_object().into_iter().next() {
        Some((_, Ok(_))) => Ok(Added::Created),
        Some((_, Err(e))) if e.is_duplicate() => Ok(Added::AlreadyThere),
        Some((_, Err(e))) => Err(ClientError::Usp(e)),
        None => Err(ClientError::Protocol("the agent created no subscription".into())),
    }
}

/// Deletes the subscription `id`, within `timeout`.
pub(crate) async fn remove(client: &Client, id: &str, timeout: Duration) {
    let path = format!("{SUBSCRIPTIONS}[ID==\"{id}\"].");
    match tokio::time::timeout(timeout, client.delete(&[path])).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => errln!("uspctl: could not remove the subscription {id} from the agent: {e}"),
        Err(_) => errln!("uspctl: the agent did not confirm the removal of the subscription {id}"),
    }
}

/// Ctrl-C, SIGTERM or SIGHUP: listened to from creation, so a signal that comes while we
/// subscribe is not lost (and does not kill the process before it cleans up).
pub(crate) struct Stop {
    #[cfg(unix)]
    signals: [tokio::signal::unix::Signal; 3],
}

impl Stop {
    pub(crate) fn listen() -> Result<Stop, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind| signal(kind).map_err(|e| crate::failure::local_failure("cannot listen for signals", e));
            Ok(Stop {
                signals: [
                    listen(SignalKind::interrupt())?,
                    listen(SignalKind::terminate())?,
                    listen(SignalKind::hangup())?,
                ],
            })
        }
        #[cfg(not(unix))]
        Ok(Stop {})
    }

    /// Resolves when one of the signals arrives.
    pub(crate) async fn wait(&mut self) {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.signals;
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Starts a run and removes the leftovers of earlier ones, telling the user when there were.
async fn start_run(client: &Client) -> Result<Run, Failure> {
    let run = Run::start(&usp_client::identity::default_data_dir(), client.own_id())?;
    let removed = remove_leftovers(client, &run).await;
    if removed > 0 {
        errln!("uspctl: removed {removed} subscription(s) left on the agent by an earlier uspctl that was stopped abruptly");
    }
    Ok(run)
}

fn cleanup_timeout(cli: &Cli) -> Duration {
    Duration::from_secs_f64(cli.timeout.clamp(0.5, 5.0))
}

pub(crate) async fn operate(
    cli: &Cli,
    client: &Client,
    request: Option<Request>,
    command: &str,
    key: &str,
    wait: bool,
) -> Result<(), Failure> {
    if !wait {
        return operate_body(cli, client, request, None, None, key).await;
    }
    let mut stop = Stop::listen()?;
    let mut run = start_run(client).await?;
    // Subscribe before starting, so a fast completion is not missed.
    let mut notifications = client.notifications();
    let sub_id = run.next_id();
    add(client, &sub_id, NotifKind::OperationComplete, command).await?;
    let result = tokio::select! {
        r = operate_body(cli, client, request, Some(&mut notifications), Some(&sub_id), key) => r,
        () = stop.wait() => Err(Failure {
            code: 3,
            message: format!("stopped waiting for {command}; the device may still be running it"),
        }),
    };
    remove(client, &sub_id, cleanup_timeout(cli)).await;
    drop(run);
    result
}

async fn operate_body(
    cli: &Cli,
    client: &Client,
    request: Option<Request>,
    mut notifications: Option<&mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>>,
    sub_id: Option<&str>,
    key: &str,
) -> Result<(), Failure> {
    let wait = sub_id.is_some();
    let resp: msg::OperateResp = send(client, request).await?;
    if cli.json && !wait {
        print_json(&resp)?;
    }
    let mut errors = Vec::new();
    for (cmd, outcome) in resp.outcomes() {
        match outcome {
            CommandOutcome::Done(out) => {
                if cli.json {
                    continue;
                }
                for (k, v) in out.iter() {
                    outln!("{k} = {v}");
                }
            }
            CommandOutcome::Started(req_path) => {
                let (Some(rx), Some(sub_id)) = (notifications.as_deref_mut(), sub_id) else {
                    if !cli.json {
                        outln!("started {req_path}");
                    }
                    continue;
                };
                let done =
                    wait_completion(rx, sub_id, key, Duration::from_secs_f64(cli.timeout.max(1.0) * 6.0)).await?;
                if cli.json {
                    print_json(&done)?;
                }
                match &done.operation_resp {
                    msg::OperationCompleteResp::ReqOutputArgs(out) => {
                        if !cli.json {
                            for (k, v) in out.iter() {
                                outln!("{k} = {v}");
                            }
                        }
                    }
                    msg::OperationCompleteResp::CmdFailure(f) => errors.push((
                        cmd.to_owned(),
                        UspError { code: f.err_code, message: f.err_msg.to_string(), param_errs: vec![] },
                    )),
                }
            }
            CommandOutcome::Failed(e) => errors.push((cmd.to_owned(), e)),
        }
    }
    report_errors(errors)
}

async fn wait_completion(
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    sub_id: &str,
    key: &str,
    timeout: Duration,
) -> Result<msg::OperationComplete, Failure> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => {
                return Err(Failure { code: 3, message: format!("the command did not complete within {timeout:?}") })
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) => return Err(Failure { code: 3, message: "the connection closed".into() }),
            Ok(Ok(n)) => n,
        };
        if &*n.notify.subscription_id != sub_id {
            continue;
        }
        if let Notification::OperComplete(done) = n.notify.notification {
            if &*done.command_key == key {
                return Ok(done);
            }
        }
    }
}

pub(crate) async fn watch(
    cli: &Cli,
    client: &Client,
    path: &str,
    kind: NotifKind,
    count: Option<usize>,
) -> Result<(), Failure> {
    let mut stop = Stop::listen()?;
    let mut run = start_run(client).await?;
    let mut rx = client.notifications();
    let mut state = client.state();
    state.borrow_and_update();
    let sub_id = run.next_id();
    add(client, &sub_id, kind, path).await?;
    if !cli.json {
        errln!("watching {path} ({}), press Ctrl-C to stop", kind.as_str());
    }
    let result = watch_loop(cli, client, &mut stop, &mut rx, &mut state, (&sub_id, kind, path), count).await;
    remove(client, &sub_id, cleanup_timeout(cli)).await;
    drop(run);
    result
}

async fn watch_loop(
    cli: &Cli,
    client: &Client,
    stop: &mut Stop,
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    state: &mut tokio::sync::watch::Receiver<ConnectionState>,
    (sub_id, kind, path): (&str, NotifKind, &str),
    count: Option<usize>,
) -> Result<(), Failure> {
    let mut seen = 0usize;
    let mut was_down = false;
    loop {
        if count.is_some_and(|c| seen >= c) {
            return Ok(());
        }
        tokio::select! {
            () = stop.wait() => return Ok(()),
            changed = state.changed() => {
                if changed.is_err() {
                    return Err(Failure { code: 3, message: "the connection closed".into() });
                }
                let now = state.borrow_and_update().clone();
                match now {
                    ConnectionState::Connected { .. } if was_down => {
                        was_down = false;
                        match add(client, sub_id, kind, path).await {
                            Ok(Added::AlreadyThere) => errln!("uspctl: reconnected; the subscription was still in place"),
                            Ok(Added::Created) => errln!("uspctl: reconnected; made the subscription again (notifications in between were missed)"),
                            Err(e) => errln!("uspctl: reconnected, but could not make the subscription again: {e}"),
                        }
                    }
                    ConnectionState::Connected { .. } => {}
                    ConnectionState::NeedsUser { error } => return Err(Failure::from(ClientError::Connect(error))),
                    ConnectionState::Closed => return Err(Failure { code: 3, message: "the connection closed".into() }),
                    ConnectionState::Connecting { .. } | ConnectionState::Disconnected { .. } => {
                        if !was_down {
                            errln!("uspctl: the connection to the agent dropped; reconnecting");
                        }
                        was_down = true;
                    }
                }
            }
            n = rx.recv() => match n {
                Ok(n) if *n.notify.subscription_id == *sub_id => {
                    seen += 1;
                    if cli.json {
                        print_json(&n.notify)?;
                    } else {
                        outln!("{}", describe_notification(&n.notify.notification));
                    }
                    crate::output::flush()?;
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => errln!("uspctl: missed {k} notifications (too many too fast)"),
                Err(_) => return Err(Failure { code: 3, message: "the connection closed".into() }),
            }
        }
    }
}

fn describe_notification(n: &Notification) -> String {
    let args = |p: &msg::Params| p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    match n {
        Notification::ValueChange(v) => format!("{} = {}", v.param_path, v.param_value),
        Notification::ObjCreation(o) => {
            format!("created {} {}", o.obj_path, args(&o.unique_keys)).trim_end().to_owned()
        }
        Notification::ObjDeletion(o) => format!("deleted {}", o.obj_path),
        Notification::Event(e) => {
            format!("event {}{} {}", e.obj_path, e.event_name, args(&e.params)).trim_end().to_owned()
        }
        Notification::OperComplete(o) => match &o.operation_resp {
            msg::OperationCompleteResp::ReqOutputArgs(out) => {
                format!("complete {}{} key={} {}", o.obj_path, o.command_name, o.command_key, args(out))
                    .trim_end()
                    .to_owned()
            }
            msg::OperationCompleteResp::CmdFailure(f) => {
                format!(
                    "failed {}{} key={} error {}: {}",
                    o.obj_path, o.command_name, o.command_key, f.err_code, f.err_msg
                )
            }
        },
        Notification::OnBoardReq(o) => format!(
            "onboard oui={} product_class={} serial={} versions={}",
            o.oui, o.product_class, o.serial_number, o.agent_supported_protocol_versions
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eid(s: &str) -> EndpointId {
        s.parse().expect("eid")
    }

    #[test]
    fn the_prefix_is_per_installation_and_stable() {
        let a = installation_prefix(&eid("self::a"));
        assert_eq!(a, installation_prefix(&eid("self::a")));
        assert_ne!(a, installation_prefix(&eid("self::b")));
        assert!(a.starts_with("uspctl-") && a.ends_with('-') && a.len() == 16, "{a}");
    }

    #[test]
    fn leftovers_are_runs_without_a_lock_and_never_live_runs_or_other_ids() {
        let dir = std::env::temp_dir().join(format!("uspctl-runs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let me = eid("self::me");
        let mut live = Run::start(&dir, &me).expect("run");
        let mut other = Run::start(&dir, &me).expect("second run");
        let live_id = live.next_id();
        let other_id = other.next_id();
        // A live run's subscription is not a leftover, neither for itself nor for another run.
        assert!(!other.is_leftover(&live_id));
        assert!(!live.is_leftover(&live_id));
        drop(other);
        // Its run ended: its lock file is gone.
        assert!(live.is_leftover(&other_id));
        // A run killed without cleanup leaves its file, but not its lock.
        let stale = dir.join("uspctl-runs").join("abc123.lock");
        std::fs::write(&stale, b"").expect("write");
        assert!(live.is_leftover(&format!("{}abc123-4", installation_prefix(&me))));
        assert!(!stale.exists());
        // Other installations, the app's own subscriptions and odd shapes are left alone.
        assert!(!live.is_leftover(&format!("{}abc123-4", installation_prefix(&eid("self::other")))));
        assert!(!live.is_leftover("usphome-0123abcd-1"));
        assert!(!live.is_leftover(&format!("{}zz-1", installation_prefix(&me))));
        assert!(!live.is_leftover(&format!("{}abc123", installation_prefix(&me))));
        drop(live);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
