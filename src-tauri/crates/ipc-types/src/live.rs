//! Live updates pushed by the shell over one typed `tauri::ipc::Channel<LiveEvent>` that the UI
//! opens with [`Subscribe`](crate::Subscribe). Nothing polls: agents' notifications become these events.

use serde::{Deserialize, Serialize};

/// Which page's data changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Home,
    Wifi,
    Guest,
    Devices,
    Parental,
    Mesh,
    SmartHome,
    Device,
    Settings,
}

impl Topic {
    /// Every topic, for "everything may have changed" (e.g. after pairing).
    pub const ALL: [Topic; 9] = [
        Topic::Home,
        Topic::Wifi,
        Topic::Guest,
        Topic::Devices,
        Topic::Parental,
        Topic::Mesh,
        Topic::SmartHome,
        Topic::Device,
        Topic::Settings,
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LiveEvent {
    /// Re-fetch the views of these topics.
    Changed { topics: Vec<Topic> },
    /// One parameter changed (for in-place updates, e.g. a sensor reading).
    Value { agent: String, path: String, value: String },
    /// A device joined the network for the first time (also raised as a desktop notification).
    DeviceJoined { mac: String, name: String, agent: String },
    /// Progress of a running diagnostic started with `device_ping`.
    PingProgress { agent: String, message: String },
}
