//! The Mesh page: the WiFi nodes, their backhaul links and the clients on each.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshClient {
    pub mac: String,
    pub name: String,
    pub signal_dbm: Option<i32>,
    pub band: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshNode {
    /// EasyMesh device ID (AL MAC).
    pub id: String,
    pub name: String,
    /// Parent node id; `None` for the controller/root node.
    pub parent: Option<String>,
    /// Backhaul medium, e.g. `Ethernet`, `Wi-Fi 5GHz`.
    pub backhaul: Option<String>,
    /// Backhaul PHY rate in Mbit/s.
    pub phy_rate_mbps: Option<u64>,
    /// Backhaul signal in dBm, when wireless.
    pub backhaul_signal_dbm: Option<i32>,
    pub clients: Vec<MeshClient>,
    /// The agent (if any) that this node is.
    pub agent: Option<String>,
}

/// The Mesh page: nodes in tree order (parents before children).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshView {
    pub nodes: Vec<MeshNode>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}
