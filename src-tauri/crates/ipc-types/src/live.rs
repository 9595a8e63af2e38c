//! Live updates pushed by the shell over one typed `tauri::ipc::Channel<LiveEvent>` that the UI
//! opens with [`Subscribe`](crate::Subscribe). Nothing polls: agents' notifications become these events.

use serde::{Deserialize, Serialize};

/// Declares [`Topic`] and [`Topic::ALL`] from one list.
macro_rules! topics {
    ($( $(#[$attr:meta])* $topic:ident, )*) => {
        /// Which page's data changed. The UI's pages name the topic they show
        /// (`ui/src/model/route.rs`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Topic {
            $( $(#[$attr])* $topic, )*
        }

        impl Topic {
            /// Every topic, for "everything may have changed" (e.g. after pairing).
            pub const ALL: [Topic; [$(Topic::$topic),*].len()] = [$(Topic::$topic),*];
        }
    };
}

topics! {
    Home,
    Wifi,
    Guest,
    /// The hosts: devices on the home's network (the Devices page).
    #[serde(rename = "devices")]
    Hosts,
    Parental,
    Mesh,
    SmartHome,
    /// One agent (gateway, extender, hub): the Device and Explorer pages.
    #[serde(rename = "device")]
    Agent,
    Settings,
    /// The history kept on this computer grew (new usage, signal or presence recorded): the
    /// charts read it again.
    History,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", try_from = "crate::tagged::LiveEventWire")]
pub enum LiveEvent {
    /// Re-fetch the views of these topics.
    Changed { topics: Vec<Topic> },
    /// One parameter changed (for in-place updates, e.g. a sensor reading).
    Value { agent: String, path: String, value: String },
    /// A device joined the network for the first time (also raised as a desktop notification).
    DeviceJoined { mac: String, name: String, agent: String },
    /// Progress of a running diagnostic (`device_ping`, `speed_test`) or firmware update
    /// (`firmware_update`, `firmware_activate`).
    PingProgress { agent: String, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names on the wire stay those of before the rename to agent and host.
    #[test]
    fn topics_keep_their_wire_names() {
        let names: Vec<String> = Topic::ALL.iter().map(|t| serde_json::to_string(t).expect("serialise")).collect();
        assert_eq!(
            names,
            ["home", "wifi", "guest", "devices", "parental", "mesh", "smart_home", "device", "settings", "history"]
                .map(|n| format!("\"{n}\""))
        );
    }
}
