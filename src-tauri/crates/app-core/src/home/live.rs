//! Live updates: the subscriptions made on each paired agent and how its notifications become
//! [`LiveEvent`]s. Nothing polls: a change on the agent is pushed to us, and the UI re-fetches
//! the views whose [`Topic`] changed. A device joining the network for the first time (a MAC
//! never seen before) raises [`LiveEvent::DeviceJoined`]; the hosts present at the first
//! connection are recorded silently.

use std::collections::BTreeSet;

use ipc_types::{LiveEvent, Topic};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use usp_client::{AgentNotification, Client, NotifKind};
use usp_core::msg::{GetSupportedDmResp, Notification};
use usp_core::request::{self, SupportedDmOptions};

use super::Home;

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
];

/// Which pages show `path`.
pub(crate) fn topics_of(path: &str) -> Vec<Topic> {
    if path.starts_with("Device.WiFi.DataElements.") {
        vec![Topic::Mesh]
    } else if path.starts_with("Device.WiFi.") {
        vec![Topic::Wifi, Topic::Guest]
    } else if path.starts_with("Device.Hosts.AccessControl.") || path.starts_with("Device.Schedules.") {
        vec![Topic::Parental, Topic::Devices]
    } else if path.starts_with("Device.Hosts.") {
        vec![Topic::Devices, Topic::Mesh, Topic::Parental]
    } else if path.starts_with("Device.IoTCapability.") {
        vec![Topic::SmartHome]
    } else if path.starts_with("Device.DeviceInfo.") {
        vec![Topic::Home, Topic::Device]
    } else {
        vec![Topic::Device]
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
    let req = request::get_supported_dm(&roots, opts).ok()?;
    let resp: GetSupportedDmResp = client.request(req).await.ok()?.try_into().ok()?;
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
                Err(e) => tracing::info!(eid, kind = kind.as_str(), reference, error = %e, "subscription refused"),
            }
        }
        // After subscribing: a host that joins from now on is announced, the ones here now are not.
        self.record_known_hosts(&client).await;
        tracing::info!(eid, made, "live updates on");
        let _ = ready.send(());
        loop {
            match rx.recv().await {
                Ok(n) => self.on_notification(&eid, &client, n).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(eid, missed, "live updates fell behind; refreshing everything");
                    self.changed(&Topic::ALL);
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Remembers the MACs present now without announcing them.
    async fn record_known_hosts(&self, client: &Client) {
        let resp = match client.get(&["Device.Hosts.Host.*.PhysAddress"], 0).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "hosts not readable");
                return;
            }
        };
        let macs: Vec<String> =
            resp.params().into_iter().map(|p| p.value.trim().to_ascii_lowercase()).filter(|m| !m.is_empty()).collect();
        if let Err(e) = self.store().update(|d| d.known_macs.extend(macs)) {
            tracing::warn!(error = %e, "cannot save the known devices");
        }
    }

    async fn on_notification(&self, eid: &str, client: &Client, n: AgentNotification) {
        match &n.notify.notification {
            Notification::ObjCreation(c) => {
                let path = c.obj_path.to_string();
                if is_host_row(&path) {
                    self.host_appeared(eid, client, &path, c.unique_keys.get("PhysAddress")).await;
                }
                self.changed(&topics_of(&path));
            }
            Notification::ObjDeletion(d) => self.changed(&topics_of(&d.obj_path)),
            Notification::ValueChange(v) => {
                let path = v.param_path.to_string();
                if path.starts_with("Device.IoTCapability.") {
                    self.emit(LiveEvent::Value {
                        agent: eid.to_owned(),
                        path: path.clone(),
                        value: v.param_value.to_string(),
                    });
                }
                self.changed(&topics_of(&path));
            }
            Notification::OperComplete(_) => self.changed(&[Topic::Device]),
            Notification::Event(e) => {
                tracing::info!(eid, event = %e.event_name, "agent event");
                self.changed(&[Topic::Home, Topic::Device]);
            }
            Notification::OnBoardReq(_) => {}
        }
    }

    /// A new Hosts row: announce its MAC if never seen before.
    async fn host_appeared(&self, eid: &str, client: &Client, row: &str, mac: Option<&str>) {
        let row = if row.ends_with('.') { row.to_owned() } else { format!("{row}.") };
        let paths = [format!("{row}PhysAddress"), format!("{row}HostName")];
        let resp = client.get(&paths, 0).await.ok();
        let read = |p: &str| {
            resp.as_ref().and_then(|r| r.value(p)).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
        };
        let Some(mac) = mac.map(str::to_owned).filter(|m| !m.is_empty()).or_else(|| read(&paths[0])) else {
            return;
        };
        let mac = mac.trim().to_ascii_lowercase();
        let first_time = match self.store().update(|d| d.known_macs.insert(mac.clone())) {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "cannot save the known devices");
                true
            }
        };
        if !first_time {
            return;
        }
        let label = self.store().read(|d| d.labels.get(&mac).cloned());
        let name = label.or_else(|| read(&paths[1])).unwrap_or_else(|| mac.clone());
        tracing::info!(agent = eid, %mac, "a new device joined");
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
        assert_eq!(topics_of("Device.Hosts.AccessControl.2."), vec![Topic::Parental, Topic::Devices]);
        assert_eq!(topics_of("Device.IoTCapability.1.BinaryControl.Value"), vec![Topic::SmartHome]);
        assert!(topics_of("Device.Hosts.Host.4.Active").contains(&Topic::Devices));
        assert_eq!(root_of("Device.Hosts.Host.*.Active"), "Device.Hosts.");
        assert_eq!(root_of("Device.IP.Diagnostics.IPPing()"), "Device.IP.");
        assert_eq!(root_of("Device.Boot!"), "Device.");
        assert!(is_host_row("Device.Hosts.Host.12."));
        assert!(is_host_row("Device.Hosts.Host.12"));
        assert!(!is_host_row("Device.Hosts.Host.12.WANStats."));
        assert!(!is_host_row("Device.Hosts.AccessControl.1."));
    }
}
