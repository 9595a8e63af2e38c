//! The mesh map: EasyMesh nodes (`Device.WiFi.DataElements.Network.Device.{i}`) with their
//! backhaul link, in tree order (parents before children), and the WiFi clients of each node
//! (`Radio.{i}.BSS.{i}.STA.{i}`).
//!
//! Parents come from `MultiAPDevice.Backhaul.BackhaulDeviceID` or `BackhaulALID` (the parent's
//! AL ID), else from `BackhaulMACAddress` / `MultiAPDevice.Backhaul.BackhaulMACAddress` matched
//! against another node's radio and BSS MACs. Agents can lie: a parent that does not exist makes
//! the node a root, a cycle is cut at its first node, duplicates are dropped, and the walk is
//! bounded, so building the tree always ends.

use std::collections::{HashMap, HashSet};

use ipc_types::{MeshClient, MeshNode};

use crate::params::{norm_mac, rcpi_to_dbm, Params, MAX_ROWS};

/// Paths to Get on the agent that is the mesh controller.
pub const GET_PATHS: [&str; 1] = ["Device.WiFi.DataElements.Network."];

/// How to name things: (Endpoint ID, name, serial number) of paired agents, MAC → display name
/// of known devices (labels, host names), MAC → band.
#[derive(Clone, Copy, Debug)]
pub struct Names<'a> {
    pub agents: &'a [(String, String, Option<String>)],
    pub devices: &'a HashMap<String, String>,
    pub bands: &'a HashMap<String, String>,
}

/// A short name for a backhaul medium: `IEEE 802.11ax 5GHz` → `Wi-Fi 5GHz`, `IEEE 802.3ab` →
/// `Ethernet`; anything else as reported.
pub fn medium(raw: &str) -> String {
    let r = raw.trim();
    let u = r.to_ascii_uppercase();
    if u.contains("802.11") || u.contains("WI-FI") || u.contains("WIFI") {
        let band = ["2.4GHZ", "5GHZ", "6GHZ"].iter().find(|b| u.replace(' ', "").contains(*b)).map(|b| match *b {
            "2.4GHZ" => "2.4GHz",
            "5GHZ" => "5GHz",
            _ => "6GHz",
        });
        match band {
            Some(b) => format!("Wi-Fi {b}"),
            None => "Wi-Fi".to_owned(),
        }
    } else if u.contains("802.3") || u.contains("ETHERNET") {
        "Ethernet".to_owned()
    } else if u.contains("1901") || u.contains("HOMEPLUG") {
        "Powerline".to_owned()
    } else if u.contains("MOCA") {
        "MoCA".to_owned()
    } else {
        r.to_owned()
    }
}

fn first_text(p: &Params, obj: &str, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| p.text(obj, n))
}

/// The nodes of the mesh in tree order.
pub fn nodes(p: &Params, names: Names<'_>) -> Vec<MeshNode> {
    struct Raw {
        node: MeshNode,
        parent_ref: Option<String>,
        parent_mac: Option<String>,
        /// This node's own backhaul station MAC.
        sta_mac: Option<String>,
        macs: Vec<String>,
    }
    let mut raws: Vec<Raw> = Vec::new();
    let controller = p.get("Device.WiFi.DataElements.Network.", "ControllerID").and_then(norm_mac);
    for dev in p.instances("Device.WiFi.DataElements.Network.Device.") {
        let Some(raw_id) = p.text(&dev, "ID") else { continue };
        let id = norm_mac(&raw_id).unwrap_or(raw_id);
        if raws.iter().any(|r| r.node.id == id) {
            continue;
        }
        let bh = format!("{dev}MultiAPDevice.Backhaul.");
        let serial = p.text(&dev, "SerialNumber");
        let agent = serial.as_ref().and_then(|s| names.agents.iter().find(|(_, _, a)| a.as_ref() == Some(s)));
        let name = match agent {
            Some((_, n, _)) => n.clone(),
            None => p.text(&dev, "ManufacturerModel").unwrap_or_else(|| id.clone()),
        };
        let parent_ref = first_text(p, &bh, &["BackhaulDeviceID"])
            .or_else(|| p.text(&dev, "BackhaulALID"))
            .map(|r| norm_mac(&r).unwrap_or(r));
        let parent_mac = first_text(p, &bh, &["BackhaulMACAddress"])
            .or_else(|| p.text(&dev, "BackhaulMACAddress"))
            .and_then(|m| norm_mac(&m));
        let medium_raw = first_text(p, &bh, &["LinkType"]).or_else(|| p.text(&dev, "BackhaulMediaType"));
        let rate_kbps = p.uint(&dev, "BackhaulPHYRate").filter(|r| *r > 0);
        let signal = p.uint(&format!("{bh}Stats."), "SignalStrength").and_then(rcpi_to_dbm);
        let mut macs = Vec::new();
        let mut clients = Vec::new();
        for radio in p.instances(&format!("{dev}Radio.")) {
            if let Some(m) = p.get(&radio, "ID").and_then(norm_mac) {
                macs.push(m);
            }
            for bss in p.instances(&format!("{radio}BSS.")) {
                if let Some(m) = p.get(&bss, "BSSID").and_then(norm_mac) {
                    macs.push(m);
                }
                for sta in p.instances(&format!("{bss}STA.")) {
                    let Some(mac) = p.get(&sta, "MACAddress").and_then(norm_mac) else { continue };
                    if clients.len() >= MAX_ROWS || clients.iter().any(|c: &MeshClient| c.mac == mac) {
                        continue;
                    }
                    let name = names
                        .devices
                        .get(&mac)
                        .cloned()
                        .or_else(|| p.text(&sta, "Hostname"))
                        .unwrap_or_else(|| mac.clone());
                    clients.push(MeshClient {
                        name,
                        signal_dbm: p.uint(&sta, "SignalStrength").and_then(rcpi_to_dbm),
                        band: names.bands.get(&mac).cloned(),
                        mac,
                    });
                }
            }
        }
        raws.push(Raw {
            node: MeshNode {
                name,
                parent: None,
                backhaul: medium_raw.map(|m| medium(&m)),
                phy_rate_mbps: rate_kbps.map(|r| r / 1000),
                backhaul_signal_dbm: signal,
                clients,
                agent: agent.map(|(eid, _, _)| eid.clone()),
                id,
            },
            sta_mac: p.get(&bh, "MACAddress").and_then(norm_mac),
            parent_ref,
            parent_mac,
            macs,
        });
    }
    // A backhaul station is a node, not a client.
    let backhaul_macs: HashSet<String> = raws.iter().filter_map(|r| r.sta_mac.clone()).collect();
    let node_ids: HashSet<String> = raws.iter().map(|r| r.node.id.clone()).collect();
    // Resolve parents.
    let parents: Vec<Option<String>> = raws
        .iter()
        .map(|r| {
            if Some(&r.node.id) == controller.as_ref() {
                return None;
            }
            let by_ref = r.parent_ref.as_ref().filter(|p| node_ids.contains(*p) && **p != r.node.id).cloned();
            by_ref.or_else(|| {
                let mac = r.parent_mac.as_ref()?;
                raws.iter().find(|o| o.node.id != r.node.id && o.macs.contains(mac)).map(|o| o.node.id.clone())
            })
        })
        .collect();
    let mut nodes: Vec<MeshNode> = raws
        .into_iter()
        .zip(parents)
        .map(|(mut r, parent)| {
            r.node.parent = parent;
            r.node.clients.retain(|c| !backhaul_macs.contains(&c.mac) && !node_ids.contains(&c.mac));
            r.node
        })
        .collect();
    tree_order(&mut nodes);
    nodes
}

/// Orders nodes parents first (roots in their original order, then breadth first). Nodes on a
/// cycle or under a missing parent become roots (their `parent` is cleared), so the result is
/// always a forest the UI can draw.
pub fn tree_order(nodes: &mut Vec<MeshNode>) {
    let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
    for n in nodes.iter_mut() {
        if n.parent.as_ref().is_some_and(|p| !ids.contains(p) || *p == n.id) {
            n.parent = None;
        }
    }
    let mut placed: Vec<bool> = vec![false; nodes.len()];
    let mut order: Vec<usize> = Vec::with_capacity(nodes.len());
    loop {
        // Roots not yet placed; when none is left but nodes remain, they hang on a cycle: cut
        // it at the first remaining node.
        let next_root = (0..nodes.len()).find(|&i| !placed[i] && nodes[i].parent.is_none()).or_else(|| {
            let i = (0..nodes.len()).find(|&i| !placed[i])?;
            nodes[i].parent = None;
            Some(i)
        });
        let Some(root) = next_root else { break };
        placed[root] = true;
        let mut queue = std::collections::VecDeque::from([root]);
        while let Some(cur) = queue.pop_front() {
            order.push(cur);
            for j in 0..nodes.len() {
                if !placed[j] && nodes[j].parent.as_deref() == Some(nodes[cur].id.as_str()) {
                    placed[j] = true;
                    queue.push_back(j);
                }
            }
        }
    }
    let mut taken: Vec<Option<MeshNode>> = std::mem::take(nodes).into_iter().map(Some).collect();
    *nodes = order.into_iter().filter_map(|i| taken[i].take()).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<&str>) -> MeshNode {
        MeshNode {
            id: id.into(),
            name: id.into(),
            parent: parent.map(Into::into),
            backhaul: None,
            phy_rate_mbps: None,
            backhaul_signal_dbm: None,
            clients: vec![],
            agent: None,
        }
    }

    fn ids(nodes: &[MeshNode]) -> Vec<(&str, Option<&str>)> {
        nodes.iter().map(|n| (n.id.as_str(), n.parent.as_deref())).collect()
    }

    #[test]
    fn tree_order_parents_first() {
        let mut n = vec![node("c", Some("b")), node("b", Some("a")), node("a", None), node("d", Some("a"))];
        tree_order(&mut n);
        assert_eq!(ids(&n), [("a", None), ("b", Some("a")), ("d", Some("a")), ("c", Some("b"))]);
    }

    #[test]
    fn cycles_orphans_and_self_parents_terminate() {
        let mut n = vec![
            node("x", Some("y")),
            node("y", Some("x")),
            node("o", Some("ghost")),
            node("s", Some("s")),
            node("k", Some("o")),
        ];
        tree_order(&mut n);
        assert_eq!(n.len(), 5, "nobody lost");
        assert_eq!(ids(&n), [("o", None), ("k", Some("o")), ("s", None), ("x", None), ("y", Some("x"))]);
        // Every parent is placed before its child.
        for (i, m) in n.iter().enumerate() {
            if let Some(p) = &m.parent {
                assert!(n[..i].iter().any(|q| &q.id == p));
            }
        }
        let mut big: Vec<MeshNode> =
            (0..300).map(|i| node(&format!("n{i}"), Some(&format!("n{}", (i + 1) % 300)))).collect();
        tree_order(&mut big);
        assert_eq!(big.len(), 300);
        assert_eq!(big[0].parent, None);
    }

    #[test]
    fn decodes_the_data_elements() {
        let p = Params::new([
            ("Device.WiFi.DataElements.Network.ControllerID", "00:12:34:56:00:00"),
            ("Device.WiFi.DataElements.Network.Device.1.ID", "00:12:34:56:00:00"),
            ("Device.WiFi.DataElements.Network.Device.1.SerialNumber", "GW0001"),
            ("Device.WiFi.DataElements.Network.Device.1.Radio.1.ID", "00:12:34:56:00:20"),
            ("Device.WiFi.DataElements.Network.Device.1.Radio.1.BSS.1.BSSID", "00:12:34:56:00:21"),
            ("Device.WiFi.DataElements.Network.Device.1.Radio.1.BSS.1.STA.1.MACAddress", "F0:D4:15:30:40:04"),
            ("Device.WiFi.DataElements.Network.Device.1.Radio.1.BSS.1.STA.1.SignalStrength", "98"),
            ("Device.WiFi.DataElements.Network.Device.1.Radio.1.BSS.1.STA.1.Hostname", "Kids-Tablet"),
            ("Device.WiFi.DataElements.Network.Device.1.Radio.1.BSS.1.STA.2.MACAddress", "00:12:34:56:10:99"),
            ("Device.WiFi.DataElements.Network.Device.2.ID", "00:12:34:56:10:00"),
            ("Device.WiFi.DataElements.Network.Device.2.ManufacturerModel", "EX-MX6"),
            ("Device.WiFi.DataElements.Network.Device.2.BackhaulMACAddress", "00:12:34:56:00:21"),
            ("Device.WiFi.DataElements.Network.Device.2.BackhaulMediaType", "IEEE 802.11ax 5GHz"),
            ("Device.WiFi.DataElements.Network.Device.2.BackhaulPHYRate", "1200000"),
            ("Device.WiFi.DataElements.Network.Device.2.MultiAPDevice.Backhaul.Stats.SignalStrength", "120"),
            ("Device.WiFi.DataElements.Network.Device.2.MultiAPDevice.Backhaul.MACAddress", "00:12:34:56:10:99"),
            ("Device.WiFi.DataElements.Network.Device.3.ID", "00:12:34:56:00:00"),
            ("Device.WiFi.DataElements.Network.Device.4.SerialNumber", "no id"),
        ]);
        let agents = vec![("os::GW".to_owned(), "Gateway".to_owned(), Some("GW0001".to_owned()))];
        let devices = HashMap::from([("f0:d4:15:30:40:04".to_owned(), "Tablet".to_owned())]);
        let bands = HashMap::from([("f0:d4:15:30:40:04".to_owned(), "5GHz".to_owned())]);
        let n = nodes(&p, Names { agents: &agents, devices: &devices, bands: &bands });
        assert_eq!(n.len(), 2, "duplicate and id-less nodes dropped");
        assert_eq!(
            (n[0].name.as_str(), n[0].agent.as_deref(), n[0].parent.as_deref()),
            ("Gateway", Some("os::GW"), None)
        );
        assert_eq!(n[0].clients.len(), 1, "the extender's backhaul station is no client");
        assert_eq!(n[0].clients[0].name, "Tablet");
        assert_eq!(n[0].clients[0].signal_dbm, Some(-61));
        assert_eq!(n[0].clients[0].band.as_deref(), Some("5GHz"));
        assert_eq!(n[1].name, "EX-MX6");
        assert_eq!(n[1].parent.as_deref(), Some("00:12:34:56:00:00"), "parent by backhaul MAC = a BSSID");
        assert_eq!(n[1].backhaul.as_deref(), Some("Wi-Fi 5GHz"));
        assert_eq!(n[1].phy_rate_mbps, Some(1200));
        assert_eq!(n[1].backhaul_signal_dbm, Some(-50));
        assert_eq!(medium("IEEE 802.3ab"), "Ethernet");
        assert_eq!(medium("Carrier pigeon"), "Carrier pigeon");
    }
}
