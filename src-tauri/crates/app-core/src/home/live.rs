//! Live updates: the subscriptions made on each paired agent and how its notifications become
//! [`LiveEvent`]s. Nothing polls: a change on the agent is pushed to us, and the UI re-fetches
//! the views whose [`Topic`] changed. A device joining the network for the first time (a MAC
//! never seen before) raises [`LiveEvent::DeviceJoined`]; the hosts present at the first
//! connection are recorded silently.

use std::collections::BTreeSet;
use std::time::Duration;

use ipc_types::{LiveEvent, Topic};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use usp_client::{AgentNotification, Client, NotifKind};
use usp_core::msg::Notification;
use usp_core::request::SupportedDmOptions;
use usp_core::text::for_log;

use super::{device_text, Home};
use crate::params::norm_mac;

/// Changes to the known devices are saved at most this often (a flood of new hosts is one
/// file write a second, not one per host).
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// Longest device name put in a "new device" event (agents' HostName can be megabytes).
pub(crate) const MAX_NAME_CHARS: usize = 64;
/// Longest path and value of a smart-home value event.
const MAX_VALUE_LEN: usize = 4096;

/// A debug line at most every few seconds, with how many were left out meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Quiet {
    last: Option<tokio::time::Instant>,
    suppressed: u64,
}

impl Quiet {
    const EVERY: Duration = Duration::from_secs(10);

    /// `Some(left out since the last line)` when a line may be written now.
    pub(crate) fn allow(&mut self) -> Option<u64> {
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|l| now.duration_since(l) < Self::EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The subscriptions of a paired agent: (kind, reference). One subscription per reference, so
/// one the agent refuses does not take the others with it.
const SUBSCRIPTIONS: &[(NotifKind, &str)] = &[
    (NotifKind::ObjectCreation, "Device.Hosts.Host."),
    (NotifKind::ObjectDeletion, "Device.Hosts.Host."),
    (NotifKind::ObjectCreation, "Device.IoTCapability."),
    (NotifKind::ObjectDeletion, "Device.IoTCapability."),
    (NotifKind::ObjectCreation, "Device.Hosts.AccessControl."),
    (NotifKind::ObjectDeletion, "Device.Hosts.AccessControl."),
    (NotifKind::ObjectCreation, "Device.Schedules.Schedule."),
    (NotifKind::ObjectDeletion, "Device.Schedules.Schedule."),
    (NotifKind::ValueChange, "Device.WiFi.SSID.*.SSID"),
    (NotifKind::ValueChange, "Device.WiFi.SSID.*.Enable"),
    (NotifKind::ValueChange, "Device.WiFi.AccessPoint.*.Enable"),
    (NotifKind::ValueChange, "Device.WiFi.AccessPoint.*.Security.ModeEnabled"),
    (NotifKind::ValueChange, "Device.Hosts.Host.*.Active"),
    (NotifKind::ValueChange, "Device.Hosts.Host.*.HostName"),
    (NotifKind::ValueChange, "Device.Hosts.AccessControl.*.Enable"),
    (NotifKind::ValueChange, "Device.Hosts.AccessControl.*.AccessPolicy"),
    (NotifKind::ValueChange, "Device.IoTCapability."),
    (NotifKind::OperationComplete, "Device.IP.Diagnostics.IPPing()"),
    (NotifKind::Event, "Device.Boot!"),
    // The usage history's BulkData reports (crate::usage::bulkdata).
    (NotifKind::Event, "Device.BulkData.Profile.*.Push!"),
];

/// Which pages show `path`.
pub(crate) fn topics_of(path: &str) -> Vec<Topic> {
    if path.starts_with("Device.WiFi.DataElements.") {
        vec![Topic::Mesh]
    } else if path.starts_with("Device.WiFi.") {
        vec![Topic::Wifi, Topic::Guest]
    } else if path.starts_with("Device.Hosts.AccessControl.") || path.starts_with("Device.Schedules.") {
        vec![Topic::Parental, Topic::Hosts]
    } else if path.starts_with("Device.Hosts.") {
        vec![Topic::Hosts, Topic::Mesh, Topic::Parental]
    } else if path.starts_with("Device.IoTCapability.") {
        vec![Topic::SmartHome]
    } else if path.starts_with("Device.DeviceInfo.") {
        vec![Topic::Home, Topic::Agent]
    } else {
        vec![Topic::Agent]
    }
}

/// `Device.Hosts.Host.*.Active` → `Device.Hosts.`; `Device.Boot!` → `Device.`.
fn root_of(reference: &str) -> &str {
    let mut dots = reference.match_indices('.').map(|(i, _)| i);
    let _ = dots.next();
    match dots.next() {
        Some(i) => &reference[..=i],
        None => "Device.",
    }
}

/// The top-level objects of [`SUBSCRIPTIONS`] the agent supports and lets us see (one
/// GetSupportedDM); `None` when it can't tell, and then every subscription is tried.
async fn supported_roots(client: &Client) -> Option<BTreeSet<String>> {
    let mut roots: Vec<&str> = SUBSCRIPTIONS.iter().map(|(_, r)| root_of(r)).filter(|r| *r != "Device.").collect();
    roots.sort_unstable();
    roots.dedup();
    let opts = SupportedDmOptions {
        first_level_only: true,
        commands: false,
        events: false,
        params: false,
        unique_key_sets: false,
    };
    let resp = client.get_supported_dm(&roots, opts).await.ok()?;
    Some(resp.per_path().into_iter().filter(|(_, r)| r.is_ok()).map(|(p, _)| p.to_owned()).collect())
}

/// `Device.Hosts.Host.7.` → true.
fn is_host_row(path: &str) -> bool {
    path.strip_prefix("Device.Hosts.Host.")
        .map(|rest| {
            let rest = rest.trim_end_matches('.');
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
        })
        .unwrap_or(false)
}

impl Home {
    /// Subscribes on `eid` and turns its notifications into live events, until aborted. The
    /// receiver completes once the subscriptions are made.
    pub(crate) fn start_live(&self, eid: &str, client: Client) -> (JoinHandle<()>, oneshot::Receiver<()>) {
        let home = self.clone();
        let eid = eid.to_owned();
        let (ready, ready_rx) = oneshot::channel();
        (tokio::spawn(async move { home.run_live(eid, client, ready).await }), ready_rx)
    }

    async fn run_live(self, eid: String, client: Client, ready: oneshot::Sender<()>) {
        // Listen first, so nothing between the subscription and the loop is lost.
        let mut rx = client.notifications();
        let mut made = 0usize;
        let supported = supported_roots(&client).await;
        for (kind, reference) in SUBSCRIPTIONS {
            let root = root_of(reference);
            if let Some(roots) = &supported {
                if root != "Device." && !roots.contains(root) {
                    tracing::debug!(eid, reference, "not offered to us; no subscription");
                    continue;
                }
            }
            match client.subscribe(*kind, &[*reference]).await {
                Ok(_) => made += 1,
                Err(e) => {
                    tracing::info!(eid, kind = kind.as_str(), reference, error = %for_log(&e.to_string()), "subscription refused");
                }
            }
        }
        // After subscribing: a host that joins from now on is announced, the ones here now are not.
        self.record_known_hosts(&client).await;
        self.alert_input(crate::alerts::Input::Connected { agent: eid.clone() });
        tracing::info!(eid, made, "live updates on");
        let _ = ready.send(());
        let mut quiet = Quiet::default();
        let mut save_at: Option<tokio::time::Instant> = None;
        loop {
            let next = tokio::select! {
                n = rx.recv() => Some(n),
                () = tokio::time::sleep_until(save_at.unwrap_or_else(tokio::time::Instant::now)), if save_at.is_some() => None,
            };
            match next {
                None => {
                    save_at = None;
                    self.save_store().await;
                }
                Some(Ok(n)) => {
                    if n.missed > 0 {
                        // The client left some out (over its byte budget): what is shown may be stale.
                        tracing::warn!(eid, missed = n.missed, "live updates were left out; refreshing everything");
                        self.changed(&Topic::ALL);
                    }
                    self.on_notification(&eid, &client, n, &mut quiet).await;
                }
                Some(Err(RecvError::Lagged(missed))) => {
                    tracing::warn!(eid, missed, "live updates fell behind; refreshing everything");
                    self.changed(&Topic::ALL);
                }
                Some(Err(RecvError::Closed)) => {
                    self.save_store().await;
                    return;
                }
            }
            if save_at.is_none() && self.store().is_dirty() {
                save_at = Some(tokio::time::Instant::now() + SAVE_EVERY);
            }
        }
    }

    /// Saves what [`Store::update_later`](super::Store::update_later) changed, off the async workers.
    async fn save_store(&self) {
        let home = self.clone();
        match tokio::task::spawn_blocking(move || home.store().flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot save the known devices"),
            Err(e) => tracing::warn!(error = %e, "cannot save the known devices"),
        }
    }

    /// Remembers the MACs present now without announcing them (valid MACs only, at most
    /// [`KnownMacs::CAP`](super::store::KnownMacs::CAP)).
    async fn record_known_hosts(&self, client: &Client) {
        let resp = match client.get(&["Device.Hosts.Host.*.PhysAddress"], 0).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %for_log(&e.to_string()), "hosts not readable");
                return;
            }
        };
        // Straight from the answer: no full path is built per entry.
        let macs: Vec<String> = resp
            .req_path_results
            .iter()
            .filter(|r| r.err_code == 0)
            .flat_map(|r| r.resolved_path_results.iter())
            .flat_map(|res| res.result_params.iter())
            .filter(|(k, _)| *k == "PhysAddress")
            .filter_map(|(_, v)| norm_mac(v))
            .take(super::store::KnownMacs::CAP)
            .collect();
        self.store().update_later(|d| d.known_macs.extend(macs));
        self.save_store().await;
    }

    async fn on_notification(&self, eid: &str, client: &Client, n: AgentNotification, quiet: &mut Quiet) {
        match &n.notify.notification {
            Notification::ObjCreation(c) => {
                let path: &str = &c.obj_path;
                if is_host_row(path) {
                    self.alert_hosts_changed(eid);
                    self.host_appeared(eid, client, path, c.unique_keys.get("PhysAddress"), quiet).await;
                }
                self.changed(&topics_of(path));
            }
            Notification::ObjDeletion(d) => {
                if is_host_row(&d.obj_path) {
                    self.alert_hosts_changed(eid);
                }
                self.changed(&topics_of(&d.obj_path));
            }
            Notification::ValueChange(v) => {
                let path: &str = &v.param_path;
                if path.starts_with("Device.Hosts.Host.") && path.ends_with(".Active") {
                    self.alert_hosts_changed(eid);
                }
                if path.starts_with("Device.IoTCapability.")
                    && path.len() <= MAX_VALUE_LEN
                    && v.param_value.len() <= MAX_VALUE_LEN
                {
                    self.emit(LiveEvent::Value {
                        agent: eid.to_owned(),
                        path: path.to_owned(),
                        value: v.param_value.to_string(),
                    });
                }
                self.changed(&topics_of(path));
            }
            Notification::OperComplete(_) => self.changed(&[Topic::Agent]),
            Notification::Event(e)
                if &*e.event_name == "Push!" && e.obj_path.starts_with("Device.BulkData.Profile.") =>
            {
                if let Some(data) = e.params.get("Data") {
                    self.on_push(eid, data).await;
                }
            }
            Notification::Event(e) => {
                tracing::info!(eid, event = %for_log(&e.event_name), "agent event");
                if &*e.event_name == "Boot!" {
                    self.alert_input(crate::alerts::Input::Boot { agent: eid.to_owned() });
                }
                self.changed(&[Topic::Home, Topic::Agent]);
            }
            Notification::OnBoardReq(_) => {}
        }
    }

    /// A new Hosts row: announce its MAC if never seen before. A MAC that is no MAC (made up,
    /// oversized) is ignored, with a debug line now and then.
    async fn host_appeared(&self, eid: &str, client: &Client, row: &str, mac: Option<&str>, quiet: &mut Quiet) {
        let row = if row.ends_with('.') { row.to_owned() } else { format!("{row}.") };
        let paths = [format!("{row}PhysAddress"), format!("{row}HostName")];
        let given = mac.filter(|m| !m.trim().is_empty());
        let mut ignore = |len: usize| {
            if let Some(left_out) = quiet.allow() {
                tracing::debug!(agent = eid, len, left_out, "ignoring a new host without a valid MAC address");
            }
        };
        let given_mac = match given.map(|m| (m.len(), norm_mac(m))) {
            Some((len, None)) => return ignore(len),
            // Known already: no Get, nothing to announce.
            Some((_, Some(m))) if self.store().read(|d| d.known_macs.contains(&m)) => return,
            Some((_, m)) => m,
            None => None,
        };
        let resp = client.get(&paths, 0).await.ok();
        let read = |p: &str| {
            resp.as_ref().and_then(|r| r.value(p)).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
        };
        let mac = match given_mac {
            Some(m) => m,
            None => match read(&paths[0]) {
                Some(raw) => match norm_mac(&raw) {
                    Some(m) => m,
                    None => return ignore(raw.len()),
                },
                None => return,
            },
        };
        if !self.store().update_later(|d| d.known_macs.insert(mac.clone())) {
            return;
        }
        let label = self.store().read(|d| d.labels.get(&mac).cloned());
        let name = label
            .or_else(|| read(&paths[1]).map(|n| device_text(&n, MAX_NAME_CHARS + 1)).filter(|n| !n.is_empty()))
            .unwrap_or_else(|| mac.clone());
        tracing::info!(agent = eid, %mac, "a new device joined");
        self.alert_input(crate::alerts::Input::Joined { mac: mac.clone(), name: name.clone() });
        self.emit(LiveEvent::DeviceJoined { mac, name, agent: eid.to_owned() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_pages() {
        assert_eq!(topics_of("Device.WiFi.SSID.3.Enable"), vec![Topic::Wifi, Topic::Guest]);
        assert_eq!(topics_of("Device.WiFi.DataElements.Network."), vec![Topic::Mesh]);
        assert_eq!(topics_of("Device.Hosts.AccessControl.2."), vec![Topic::Parental, Topic::Hosts]);
        assert_eq!(topics_of("Device.IoTCapability.1.BinaryControl.Value"), vec![Topic::SmartHome]);
        assert!(topics_of("Device.Hosts.Host.4.Active").contains(&Topic::Hosts));
        assert_eq!(root_of("Device.Hosts.Host.*.Active"), "Device.Hosts.");
        assert_eq!(root_of("Device.IP.Diagnostics.IPPing()"), "Device.IP.");
        assert_eq!(root_of("Device.Boot!"), "Device.");
        assert!(is_host_row("Device.Hosts.Host.12."));
        assert!(is_host_row("Device.Hosts.Host.12"));
        assert!(!is_host_row("Device.Hosts.Host.12.WANStats."));
        assert!(!is_host_row("Device.Hosts.AccessControl.1."));
    }

    #[test]
    fn agent_text_in_logs_is_cut_and_escaped() {
        assert_eq!(for_log("Boot!").to_string(), "Boot!");
        assert_eq!(for_log("a\nINFO forged\r\u{202e}").to_string(), "a\\nINFO forged\\r\\u{202e}");
        let huge = format!("{}\n", "x".repeat(5 << 20));
        let logged = for_log(&huge).to_string();
        assert!(logged.len() < 300 && !logged.contains('\n'), "{}", logged.len());
        assert!(logged.ends_with(&format!("…(+{} bytes)", huge.len() - usp_core::text::MAX_LOG_CHARS)));
    }

    #[test]
    fn agent_text_is_cleaned_and_cut() {
        // Names in live events: MAX_NAME_CHARS characters, then "…".
        let clean_text = |t: &str, max: usize| device_text(t, max + 1);
        assert_eq!(clean_text("Anna's phone", 64), "Anna's phone");
        assert_eq!(clean_text("  a\n\nb\r\tc\u{202e}d  ", 64), "a b c d");
        assert_eq!(clean_text(&"x".repeat(100), 10), format!("{}…", "x".repeat(10)));
        assert_eq!(clean_text("\n\n", 10), "");
        assert!(clean_text(&"é".repeat(1 << 20), 64).chars().count() <= 65);
    }
}
