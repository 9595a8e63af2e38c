//! `impl Home` for the Mesh page: the EasyMesh view of the mesh controller (usually the
//! gateway), or, when no agent has Data Elements, the paired WiFi agents with their own clients.

pub mod rules;

use std::collections::HashMap;

use ipc_types::{MeshClient, MeshNode, MeshView};

use crate::agent_io::{get_params, per_agent};
use crate::home::{AppResult, Home};
use crate::hosts::rules::{self as dev_logic, AgentData, Known};
use crate::mesh::rules::{self as logic, Names};

const GET: [&str; 6] = [
    "Device.DeviceInfo.SerialNumber",
    "Device.WiFi.DataElements.Network.",
    "Device.Hosts.Host.",
    "Device.WiFi.AccessPoint.",
    "Device.WiFi.SSID.",
    "Device.WiFi.Radio.",
];

impl Home {
    /// `mesh`: nodes in tree order (parents first) with backhaul and clients.
    ///
    /// # Errors
    /// None in practice (agents that fail are left out).
    pub async fn mesh(&self) -> AppResult<MeshView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.mesh_inner()).await
    }

    async fn mesh_inner(&self) -> AppResult<MeshView> {
        let data =
            per_agent(
                self.paired().await,
                "mesh",
                |conn| async move { get_params(&conn, &GET, "show the mesh").await },
            )
            .await;
        let agents: Vec<(String, String, Option<String>)> = data
            .iter()
            .map(|(c, p)| (c.eid.clone(), c.name.clone(), p.text("Device.DeviceInfo.", "SerialNumber")))
            .collect();
        let views: Vec<AgentData<'_>> =
            data.iter().map(|(c, p)| AgentData { agent: &c.eid, name: &c.name, params: p }).collect();
        let devices: HashMap<String, String> = self
            .store()
            .read(|d| dev_logic::devices(&views, Known { labels: &d.labels, seen: &d.seen }))
            .into_iter()
            .map(|d| (d.mac, d.name))
            .collect();
        let mut bands: HashMap<String, String> = HashMap::new();
        for (c, p) in &data {
            for (mac, st) in dev_logic::associated(p, &c.name) {
                if let Some(b) = st.band {
                    bands.insert(mac, b);
                }
            }
        }
        let names = Names { agents: &agents, devices: &devices, bands: &bands };
        // The mesh controller: the first agent with Data Elements nodes.
        if let Some((_, p)) =
            data.iter().find(|(_, p)| !p.instances("Device.WiFi.DataElements.Network.Device.").is_empty())
        {
            let nodes = logic::nodes(p, names);
            if !nodes.is_empty() {
                return Ok(MeshView { nodes, not_offered: Vec::new() });
            }
        }
        // No EasyMesh: every agent with access points is a node, the first one the root.
        let mut nodes: Vec<MeshNode> = Vec::new();
        for (c, p) in &data {
            if p.instances("Device.WiFi.AccessPoint.").is_empty() {
                continue;
            }
            let mut clients: Vec<MeshClient> = dev_logic::associated(p, &c.name)
                .into_iter()
                .map(|(mac, st)| MeshClient {
                    name: devices.get(&mac).cloned().unwrap_or_else(|| mac.clone()),
                    signal_dbm: st.signal_dbm,
                    band: st.band,
                    mac,
                })
                .collect();
            clients.sort_by(|a, b| a.name.cmp(&b.name));
            nodes.push(MeshNode {
                id: c.eid.clone(),
                name: c.name.clone(),
                parent: nodes.first().map(|n| n.id.clone()),
                backhaul: None,
                phy_rate_mbps: None,
                backhaul_signal_dbm: None,
                clients,
                agent: Some(c.eid.clone()),
            });
        }
        logic::tree_order(&mut nodes);
        Ok(MeshView { nodes, not_offered: self.not_offering("WiFi") })
    }
}
