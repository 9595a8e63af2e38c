//! Hosts, the devices on the LAN (`ConnectedDevice` in the UI): `Device.Hosts.Host.{i}` of every agent merged by MAC address, with WiFi
//! signal (`AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength`, or the EasyMesh station RCPI),
//! and the access-control rows (`Device.Hosts.AccessControl.{i}`) that pause a device.
//!
//! Rules this app creates carry an `Alias` starting with [`OUR_ALIAS`] (`uh-pause-…` for a
//! pause, `uh-bed-…` for a bedtime), so they are recognised across restarts and reinstalls
//! even on agents without `Origin` (2.17); where `Origin` exists it must also say `Controller`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ipc_types::{ConnectedDevice, Link};

use crate::params::{list, norm_mac, obj_ref, rcpi_to_dbm, Params};

/// Alias prefix of every row this app creates.
pub const OUR_ALIAS: &str = "uh-";

/// Paths to Get on each agent for [`devices`].
pub const GET_PATHS: [&str; 6] = [
    "Device.Hosts.",
    "Device.WiFi.Radio.",
    "Device.WiFi.AccessPoint.",
    "Device.WiFi.DataElements.Network.Device.",
    "Device.WiFi.SSID.",
    "Device.DeviceInfo.SerialNumber",
];

/// The data of one agent.
#[derive(Clone, Copy, Debug)]
pub struct AgentData<'a> {
    /// Endpoint ID.
    pub agent: &'a str,
    /// Display name.
    pub name: &'a str,
    pub params: &'a Params,
}

/// One `Hosts.Host` row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    pub mac: String,
    pub host_name: Option<String>,
    pub ip: Option<String>,
    pub link: Option<Link>,
    pub online: bool,
    pub last_seen: Option<String>,
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
}

/// The `Hosts.Host` rows of an agent (rows without a valid MAC are skipped).
pub fn hosts(p: &Params) -> Vec<Host> {
    p.instances("Device.Hosts.Host.")
        .into_iter()
        .filter_map(|h| {
            let mac = norm_mac(p.get(&h, "PhysAddress")?)?;
            let link = match p.get(&h, "InterfaceType").map(str::trim) {
                Some("Wi-Fi") => Some(Link::Wifi),
                Some("Ethernet" | "MoCA" | "HomePlug" | "UPA") => Some(Link::Wired),
                _ => {
                    let l1 = p.get(&h, "Layer1Interface").unwrap_or("");
                    if l1.contains(".WiFi.") || p.text(&h, "AssociatedDevice").is_some() {
                        Some(Link::Wifi)
                    } else if l1.contains(".Ethernet.") || l1.contains(".MoCA.") || l1.contains(".HomePlug.") {
                        Some(Link::Wired)
                    } else {
                        None
                    }
                }
            };
            Some(Host {
                mac,
                host_name: p.text(&h, "HostName"),
                ip: p.text(&h, "IPAddress"),
                link,
                online: p.bool(&h, "Active").unwrap_or(false),
                last_seen: p.text(&h, "ActiveLastChange").filter(|t| !t.starts_with("0001-")),
                bytes_sent: p.uint(&h, "WANStats.BytesSent"),
                bytes_received: p.uint(&h, "WANStats.BytesReceived"),
            })
        })
        .collect()
}

/// Where a WiFi station was seen: signal in dBm, and the node it is associated with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Station {
    pub signal_dbm: Option<i32>,
    /// Display name of the agent / mesh node.
    pub node: Option<String>,
    /// Band of the SSID it is associated with, when known.
    pub band: Option<String>,
}

/// Stations associated with an agent's own access points (MAC → station), with the band from
/// the AccessPoint's SSID and its radio when those were read too.
pub fn associated(p: &Params, node_name: &str) -> HashMap<String, Station> {
    let mut out = HashMap::new();
    for ap in p.instances("Device.WiFi.AccessPoint.") {
        let band = p
            .get(&ap, "SSIDReference")
            .and_then(obj_ref)
            .and_then(|s| p.get(&s, "LowerLayers").map(list))
            .and_then(|l| l.first().and_then(|r| obj_ref(r)))
            .and_then(|radio| p.text(&radio, "OperatingFrequencyBand"));
        for sta in p.instances(&format!("{ap}AssociatedDevice.")) {
            let Some(mac) = p.get(&sta, "MACAddress").and_then(norm_mac) else { continue };
            if p.bool(&sta, "Active") == Some(false) {
                continue;
            }
            let signal = p.int(&sta, "SignalStrength").filter(|s| (-200..0).contains(s)).map(|s| s as i32);
            out.insert(mac, Station { signal_dbm: signal, node: Some(node_name.to_owned()), band: band.clone() });
        }
    }
    out
}

/// Name of an EasyMesh node: the paired agent it is (same serial number), else its model, else
/// its ID.
pub fn mesh_node_name(p: &Params, node: &str, agents: &[(String, String, Option<String>)]) -> String {
    let serial = p.text(node, "SerialNumber");
    if let Some(serial) = &serial {
        if let Some((_, name, _)) = agents.iter().find(|(_, _, s)| s.as_ref() == Some(serial)) {
            return name.clone();
        }
    }
    p.text(node, "ManufacturerModel").or_else(|| p.text(node, "ID")).unwrap_or_else(|| "Mesh node".to_owned())
}

/// Stations in the EasyMesh Data Elements (MAC → station, signal from RCPI).
/// `agents`: (Endpoint ID, name, serial number) of the paired agents, to name nodes.
pub fn mesh_stations(p: &Params, agents: &[(String, String, Option<String>)]) -> HashMap<String, Station> {
    let mut out = HashMap::new();
    for node in p.instances("Device.WiFi.DataElements.Network.Device.") {
        let name = mesh_node_name(p, &node, agents);
        for radio in p.instances(&format!("{node}Radio.")) {
            for bss in p.instances(&format!("{radio}BSS.")) {
                for sta in p.instances(&format!("{bss}STA.")) {
                    let Some(mac) = p.get(&sta, "MACAddress").and_then(norm_mac) else { continue };
                    let signal = p.uint(&sta, "SignalStrength").and_then(rcpi_to_dbm);
                    out.insert(mac, Station { signal_dbm: signal, node: Some(name.clone()), band: None });
                }
            }
        }
    }
    out
}

/// One `Hosts.AccessControl` row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRow {
    /// `Device.Hosts.AccessControl.{i}.` (with the dot).
    pub path: String,
    pub mac: Option<String>,
    pub host_name: Option<String>,
    pub alias: Option<String>,
    pub enabled: bool,
    /// `Allow` / `Deny` (anything else is kept as read).
    pub policy: String,
    /// `ScheduleRef` as object paths (with dots).
    pub schedule_refs: Vec<String>,
    /// `Origin` when the agent has it.
    pub origin: Option<String>,
    /// Legacy `AccessControl.{i}.Schedule.{i}.` rows (paths with dots).
    pub legacy_schedules: Vec<String>,
}

impl AccessRow {
    /// This app created the row.
    pub fn ours(&self) -> bool {
        self.alias.as_deref().is_some_and(|a| a.starts_with(OUR_ALIAS))
            && self.origin.as_deref().is_none_or(|o| o == "Controller")
    }
    /// The row denies internet now (a pause).
    pub fn denies(&self) -> bool {
        self.enabled && self.policy == "Deny"
    }
    /// The row has schedules (2.18 refs or legacy rows).
    pub fn has_schedules(&self) -> bool {
        !self.schedule_refs.is_empty() || !self.legacy_schedules.is_empty()
    }
}

/// Every `Hosts.AccessControl` row of an agent.
pub fn access_rows(p: &Params) -> Vec<AccessRow> {
    p.instances("Device.Hosts.AccessControl.")
        .into_iter()
        .map(|r| AccessRow {
            mac: p.get(&r, "PhysAddress").and_then(norm_mac),
            host_name: p.text(&r, "HostName"),
            alias: p.text(&r, "Alias"),
            enabled: p.bool(&r, "Enable").unwrap_or(false),
            policy: p.text(&r, "AccessPolicy").unwrap_or_else(|| "Allow".to_owned()),
            schedule_refs: list(p.get(&r, "ScheduleRef").unwrap_or("")).iter().filter_map(|s| obj_ref(s)).collect(),
            origin: p.text(&r, "Origin"),
            legacy_schedules: p.instances(&format!("{r}Schedule.")),
            path: r,
        })
        .collect()
}

/// The store data the devices view needs.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    /// MAC → user label.
    pub labels: &'a BTreeMap<String, String>,
    /// MACs already seen by the user.
    pub seen: &'a BTreeSet<String>,
}

/// The devices of the home: hosts of every agent merged by MAC (the first agent that reports a
/// host, in the given order, is where its pause rules go), sorted online first, then by name.
pub fn devices(agents: &[AgentData<'_>], known: Known<'_>) -> Vec<ConnectedDevice> {
    let serials: Vec<(String, String, Option<String>)> = agents
        .iter()
        .map(|a| (a.agent.to_owned(), a.name.to_owned(), a.params.text("Device.DeviceInfo.", "SerialNumber")))
        .collect();
    // Stations: own access points win over the mesh view (dBm measured by the AP itself).
    let mut stations: HashMap<String, Station> = HashMap::new();
    for a in agents {
        for (mac, st) in mesh_stations(a.params, &serials) {
            stations.entry(mac).or_insert(st);
        }
    }
    for a in agents {
        for (mac, st) in associated(a.params, a.name) {
            stations.insert(mac, st);
        }
    }
    let mut out: Vec<ConnectedDevice> = Vec::new();
    let mut paused: BTreeSet<String> = BTreeSet::new();
    for a in agents {
        for row in access_rows(a.params) {
            if let (true, Some(mac)) = (row.denies(), row.mac) {
                paused.insert(mac);
            }
        }
        for h in hosts(a.params) {
            if let Some(d) = out.iter_mut().find(|d| d.mac == h.mac) {
                d.online |= h.online;
                d.host_name = d.host_name.take().or(h.host_name);
                d.ip = d.ip.take().or(h.ip);
                d.last_seen = d.last_seen.take().or(h.last_seen);
                d.bytes_sent = d.bytes_sent.or(h.bytes_sent);
                d.bytes_received = d.bytes_received.or(h.bytes_received);
                continue;
            }
            let st = stations.get(&h.mac);
            let link = h.link.unwrap_or(if st.is_some() { Link::Wifi } else { Link::Unknown });
            out.push(ConnectedDevice {
                name: String::new(),
                labelled: false,
                host_name: h.host_name,
                ip: h.ip,
                link,
                node: match link {
                    Link::Wifi => st.and_then(|s| s.node.clone()),
                    Link::Wired => Some(a.name.to_owned()),
                    Link::Unknown => None,
                },
                signal_dbm: if link == Link::Wired { None } else { st.and_then(|s| s.signal_dbm) },
                online: h.online,
                last_seen: h.last_seen,
                bytes_sent: h.bytes_sent,
                bytes_received: h.bytes_received,
                new: false,
                paused: false,
                paused_until: None,
                agent: a.agent.to_owned(),
                mac: h.mac,
                watched: false,
            });
        }
    }
    for d in &mut out {
        let label = known.labels.get(&d.mac).filter(|l| !l.trim().is_empty());
        d.labelled = label.is_some();
        d.name = label.cloned().or_else(|| d.host_name.clone()).unwrap_or_else(|| d.mac.clone());
        d.new = !known.seen.contains(&d.mac);
        d.paused = paused.contains(&d.mac);
    }
    out.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
    out
}

/// The MAC in the form agents store (`AA:BB:CC:DD:EE:FF`).
pub fn agent_mac(mac: &str) -> String {
    mac.to_ascii_uppercase()
}

/// A row alias for `kind` (`pause`, `bed`) and a MAC: `uh-pause-a483e7102001`.
pub fn our_alias(kind: &str, mac: &str) -> String {
    format!("{OUR_ALIAS}{kind}-{}", mac.replace(':', ""))
}

/// The parameters of a new `Device.Hosts.AccessControl.` row this app makes for `mac`: our
/// alias for `kind` (`pause`, `bed`), the MAC as agents store it, `policy` (`Deny`, `Allow`),
/// enabled, and the host name when it is a sensible one. The one builder for pauses and bedtimes.
pub fn access_row(kind: &str, mac: &str, host_name: Option<&str>, policy: &str) -> Vec<(String, String)> {
    let mut params = vec![
        ("Alias".to_owned(), our_alias(kind, mac)),
        ("PhysAddress".to_owned(), agent_mac(mac)),
        ("AccessPolicy".to_owned(), policy.to_owned()),
        ("Enable".to_owned(), "true".to_owned()),
    ];
    if let Some(h) = host_name.filter(|h| !h.is_empty() && h.len() <= 64) {
        params.push(("HostName".to_owned(), h.to_owned()));
    }
    params
}

/// One step of pausing or resuming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Add a row to `table` with these parameters.
    Add { table: String, params: Vec<(String, String)> },
    /// Set these full parameter paths.
    Set(Vec<(String, String)>),
    /// Delete this object.
    Delete(String),
}

/// What to do to pause (`paused`) or resume `mac` given the agent's AccessControl rows.
///
/// Pause: nothing if an enabled Deny row exists; else, since `PhysAddress` is the table's
/// unique key, an existing row for the MAC (a bedtime, someone's schedule, a disabled rule) is
/// switched to `Deny` and enabled (a Deny ignores its schedules: a hard pause); otherwise a new
/// row `Deny` with our alias is added. Resume: our pause rows are deleted; a Deny row that has
/// schedules was a schedule row we (or someone) switched to Deny, so it goes back to `Allow`;
/// anyone else's plain Deny row is disabled, not deleted.
pub fn pause_steps(rows: &[AccessRow], mac: &str, host_name: Option<&str>, paused: bool) -> Vec<Step> {
    let mine: Vec<&AccessRow> = rows.iter().filter(|r| r.mac.as_deref() == Some(mac)).collect();
    if paused {
        if mine.iter().any(|r| r.denies()) {
            return Vec::new();
        }
        if let Some(r) = mine.first() {
            return vec![Step::Set(vec![
                (format!("{}AccessPolicy", r.path), "Deny".to_owned()),
                (format!("{}Enable", r.path), "true".to_owned()),
            ])];
        }
        let params = access_row("pause", mac, host_name, "Deny");
        return vec![Step::Add { table: "Device.Hosts.AccessControl.".to_owned(), params }];
    }
    mine.into_iter()
        .filter(|r| r.denies())
        .map(|r| {
            if r.ours() && !r.has_schedules() {
                Step::Delete(r.path.clone())
            } else if r.has_schedules() {
                Step::Set(vec![(format!("{}AccessPolicy", r.path), "Allow".to_owned())])
            } else {
                Step::Set(vec![(format!("{}Enable", r.path), "false".to_owned())])
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Params {
        Params::new([
            ("Device.DeviceInfo.SerialNumber", "GW0001"),
            ("Device.Hosts.Host.1.PhysAddress", "A4:83:E7:10:20:01"),
            ("Device.Hosts.Host.1.HostName", "Annas-Phone"),
            ("Device.Hosts.Host.1.IPAddress", "192.168.1.20"),
            ("Device.Hosts.Host.1.Active", "true"),
            ("Device.Hosts.Host.1.ActiveLastChange", "2024-06-01T07:12:00Z"),
            ("Device.Hosts.Host.1.InterfaceType", "Wi-Fi"),
            ("Device.Hosts.Host.1.WANStats.BytesSent", "120"),
            ("Device.Hosts.Host.1.WANStats.BytesReceived", "2300"),
            ("Device.Hosts.Host.2.PhysAddress", "B8:27:EB:11:22:02"),
            ("Device.Hosts.Host.2.HostName", "TV"),
            ("Device.Hosts.Host.2.Active", "false"),
            ("Device.Hosts.Host.2.ActiveLastChange", "0001-01-01T00:00:00Z"),
            ("Device.Hosts.Host.2.Layer1Interface", "Device.Ethernet.Interface.2"),
            ("Device.Hosts.Host.3.PhysAddress", "3C:22:FB:50:60:03"),
            ("Device.Hosts.Host.3.Active", "true"),
            ("Device.Hosts.Host.3.InterfaceType", "Wi-Fi"),
            ("Device.Hosts.Host.4.PhysAddress", "not a mac"),
            ("Device.Hosts.Host.5.PhysAddress", "F0:D4:15:30:40:04"),
            ("Device.Hosts.Host.5.Active", "yes?"),
            ("Device.Hosts.Host.5.WANStats.BytesSent", "-5"),
            ("Device.WiFi.AccessPoint.1.AssociatedDevice.1.MACAddress", "A4:83:E7:10:20:01"),
            ("Device.WiFi.AccessPoint.1.AssociatedDevice.1.SignalStrength", "-52"),
            ("Device.WiFi.DataElements.Network.Device.2.ID", "00:12:34:56:10:00"),
            ("Device.WiFi.DataElements.Network.Device.2.SerialNumber", "EX0001"),
            ("Device.WiFi.DataElements.Network.Device.2.Radio.1.BSS.1.STA.1.MACAddress", "3C:22:FB:50:60:03"),
            ("Device.WiFi.DataElements.Network.Device.2.Radio.1.BSS.1.STA.1.SignalStrength", "124"),
            ("Device.Hosts.AccessControl.1.PhysAddress", "F0:D4:15:30:40:04"),
            ("Device.Hosts.AccessControl.1.Enable", "true"),
            ("Device.Hosts.AccessControl.1.AccessPolicy", "Deny"),
            ("Device.Hosts.AccessControl.1.Alias", "uh-pause-f0d415304004"),
            ("Device.Hosts.AccessControl.1.Origin", "Controller"),
        ])
    }

    #[test]
    fn merges_hosts_with_signal_node_labels_and_pause() {
        let gw = gateway();
        let ex = Params::new([
            ("Device.DeviceInfo.SerialNumber", "EX0001"),
            ("Device.Hosts.Host.1.PhysAddress", "a4:83:e7:10:20:01"),
            ("Device.Hosts.Host.1.Active", "false"),
            ("Device.Hosts.Host.1.IPAddress", "10.0.0.9"),
        ]);
        let labels = BTreeMap::from([("b8:27:eb:11:22:02".to_owned(), "Living room TV".to_owned())]);
        let seen = BTreeSet::from(["a4:83:e7:10:20:01".to_owned()]);
        let agents = [
            AgentData { agent: "gw", name: "Gateway", params: &gw },
            AgentData { agent: "ex", name: "Extender", params: &ex },
        ];
        let list = devices(&agents, Known { labels: &labels, seen: &seen });
        assert_eq!(list.len(), 4, "one row per MAC, bad MACs skipped");
        let anna = list.iter().find(|d| d.mac == "a4:83:e7:10:20:01").expect("anna");
        assert_eq!(anna.name, "Annas-Phone");
        assert_eq!(anna.ip.as_deref(), Some("192.168.1.20"), "first agent wins");
        assert!(anna.online);
        assert_eq!(anna.signal_dbm, Some(-52));
        assert_eq!(anna.node.as_deref(), Some("Gateway"));
        assert_eq!(anna.bytes_received, Some(2300));
        assert!(!anna.new);
        assert_eq!(anna.agent, "gw");
        let tom = list.iter().find(|d| d.mac == "3c:22:fb:50:60:03").expect("tom");
        assert_eq!(tom.name, "3c:22:fb:50:60:03", "no host name: the MAC");
        assert_eq!(tom.signal_dbm, Some(-48), "RCPI 124");
        assert_eq!(tom.node.as_deref(), Some("Extender"), "mesh node matched by serial number");
        assert!(tom.new);
        let tv = list.iter().find(|d| d.mac == "b8:27:eb:11:22:02").expect("tv");
        assert_eq!((tv.name.as_str(), tv.labelled, tv.link), ("Living room TV", true, Link::Wired));
        assert_eq!(tv.last_seen, None, "the zero date is unknown");
        assert!(!tv.online);
        let kid = list.iter().find(|d| d.mac == "f0:d4:15:30:40:04").expect("kid");
        assert!(kid.paused);
        assert!(!kid.online, "garbage Active is offline");
        assert_eq!(kid.bytes_sent, None);
        assert_eq!(list.last().map(|d| d.mac.as_str()), Some("b8:27:eb:11:22:02"), "offline last");
    }

    #[test]
    fn pause_and_resume_steps() {
        let rows = access_rows(&gateway());
        assert_eq!(rows.len(), 1);
        assert!(rows[0].ours());
        let kid = "f0:d4:15:30:40:04";
        assert_eq!(pause_steps(&rows, kid, None, true), [], "already paused");
        assert_eq!(pause_steps(&rows, kid, None, false), [Step::Delete("Device.Hosts.AccessControl.1.".into())]);
        let anna = "a4:83:e7:10:20:01";
        match &pause_steps(&rows, anna, Some("Annas-Phone"), true)[..] {
            [Step::Add { table, params }] => {
                assert_eq!(table, "Device.Hosts.AccessControl.");
                assert!(params.contains(&("PhysAddress".into(), "A4:83:E7:10:20:01".into())));
                assert!(params.contains(&("AccessPolicy".into(), "Deny".into())));
                assert!(params.contains(&("Alias".into(), "uh-pause-a483e7102001".into())));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pause_steps(&rows, anna, None, false), [], "not paused: nothing to do");
        // Someone else's schedule row: switched to Deny, and back to Allow.
        let sched = AccessRow {
            path: "Device.Hosts.AccessControl.2.".into(),
            mac: Some(anna.into()),
            enabled: true,
            policy: "Allow".into(),
            schedule_refs: vec!["Device.Schedules.Schedule.1.".into()],
            origin: Some("User".into()),
            ..AccessRow::default()
        };
        let steps = pause_steps(std::slice::from_ref(&sched), anna, None, true);
        assert_eq!(
            steps,
            [Step::Set(vec![
                ("Device.Hosts.AccessControl.2.AccessPolicy".into(), "Deny".into()),
                ("Device.Hosts.AccessControl.2.Enable".into(), "true".into())
            ])]
        );
        let denied = AccessRow { policy: "Deny".into(), ..sched.clone() };
        assert_eq!(
            pause_steps(&[denied], anna, None, false),
            [Step::Set(vec![("Device.Hosts.AccessControl.2.AccessPolicy".into(), "Allow".into())])]
        );
        // Someone else's plain Deny: disabled, never deleted.
        let theirs = AccessRow { policy: "Deny".into(), schedule_refs: vec![], alias: Some("cpe-2".into()), ..sched };
        assert_eq!(
            pause_steps(&[theirs], anna, None, false),
            [Step::Set(vec![("Device.Hosts.AccessControl.2.Enable".into(), "false".into())])]
        );
    }
}
