//! The Smart home page: the things (switches, dimmers, modes, sensors) of the hubs, grouped.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "crate::tagged::ThingStateWire")]
pub enum ThingState {
    Switch { on: bool },
    Level { value: f64, unit: Option<String>, min: Option<f64>, max: Option<f64>, step: Option<f64> },
    Choice { value: String, options: Vec<String> },
    Sensor { value: String, unit: Option<String>, last_change: Option<String> },
}

/// One `IoTCapability` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    pub agent: String,
    /// `...IoTCapability.{i}`
    pub path: String,
    pub name: String,
    /// TR-181 `Class`, e.g. `BinaryControl`.
    pub class: String,
    /// e.g. `Light`, `Temperature`.
    pub kind_hint: Option<String>,
    pub state: ThingState,
    pub writable: bool,
}

/// Things of one agent / Node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingGroup {
    pub title: String,
    pub things: Vec<Thing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartHomeView {
    pub groups: Vec<ThingGroup>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

/// Set a control: `value` is `true`/`false`, a number, or one of the options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingSet {
    pub agent: String,
    pub path: String,
    pub value: String,
}
