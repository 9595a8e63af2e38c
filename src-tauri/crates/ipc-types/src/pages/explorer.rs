//! The Explorer page: one level of an agent's data model at a time, and writing one parameter.

use serde::{Deserialize, Serialize};

/// Most entries one explorer answer holds ([`ExplorerView::entries`]); more come by offset.
pub const EXPLORER_PAGE: u32 = 500;

/// Explorer: one level of the data model under `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreArgs {
    pub agent: String,
    /// Object path ending in `.`; `Device.` for the root.
    pub path: String,
    /// The first entry to return (0 = from the start); the next page starts at
    /// [`ExplorerView::next_offset`].
    #[serde(default)]
    pub offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmKind {
    Object,
    Table,
    Instance,
    Parameter,
    Command,
    Event,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmEntry {
    /// Full path (objects end in `.`, commands in `()`, events in `!`).
    pub path: String,
    /// Last segment, for display.
    pub name: String,
    pub kind: DmKind,
    /// Current value of a parameter.
    pub value: Option<String>,
    /// TR-181 type, e.g. `boolean`, `unsignedInt`.
    pub value_type: Option<String>,
    /// Our role may write it (the model says writable and the role allows).
    pub writable: bool,
    /// A secret (passphrase, key, password): its value is never sent to the window, which
    /// shows it as hidden; it can still be replaced where `writable`.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplorerView {
    pub agent: String,
    pub path: String,
    /// One page of the entries of this level (at most a few hundred), from `offset`.
    pub entries: Vec<DmEntry>,
    /// Index of the first of `entries` among all entries of this level.
    #[serde(default)]
    pub offset: u32,
    /// Number of entries of this level in all.
    #[serde(default)]
    pub total: u32,
    /// Where the next page starts, when there is more.
    #[serde(default)]
    pub next_offset: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSet {
    pub agent: String,
    pub path: String,
    pub value: String,
}
