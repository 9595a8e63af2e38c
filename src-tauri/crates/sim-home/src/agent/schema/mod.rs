//! The supported data model (TR-181 Device:2 subset) of the simulated agents.
//!
//! Everything is declared in small constant tables ([`OBJECTS`], in `tables.rs`): one row
//! per object (supported path with `{i}` for tables), its parameters, commands and events.
//! An agent only gets the objects of the [`Feature`]s its scenario lists (plus the core
//! objects); [`Schema::build`] (here) turns the tables into an indexed tree and adds the
//! `<Table>NumberOfEntries` parameters TR-181 defines for every table.

use std::collections::HashMap;

use crate::spec::Feature;
use tables::UINT;
pub use tables::{ODecl, PDecl, CONTROLLER_TABLE, HISTORY_OBJECTS, NOTIF_TYPES, OBJECTS, ROLE_TABLE, SECURITY_MODES};

mod tables;

/// Value type and constraints of a parameter. Values always travel as strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// string with a minimum and maximum length in characters.
    Str(u32, u32),
    /// comma-separated list of strings, maximum total length.
    List(u32),
    /// string that must be one of the values.
    Enum(&'static [&'static str]),
    /// comma-separated list whose items must each be one of the values.
    EnumList(&'static [&'static str]),
    /// boolean ("true"/"false", "1"/"0" accepted on input).
    Bool,
    /// int with range.
    Int(i64, i64),
    /// unsignedInt with range.
    UInt(u64, u64),
    /// unsignedLong.
    ULong,
    /// decimal number.
    Decimal,
    /// dateTime (ISO 8601, UTC).
    DateTime,
    /// base64 with a maximum decoded length.
    Base64(u32),
    /// MAC address `AA:BB:CC:DD:EE:FF` (or empty).
    Mac,
    /// strong reference to rows of the table at the given supported path; `true` = list.
    Ref(&'static str, bool),
    /// 4-character permission string `rwxn` with `-` for "not granted".
    Rwxn,
    /// local time of day `hh:mm`.
    HhMm,
}

/// How a computed parameter gets its value (it is never stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Computed {
    /// Seconds since the (simulated) boot.
    UpTime,
    /// Number of rows of the child table with this object id.
    Count(ObjId),
    /// `Device.Schedules.Schedule.{i}.Status` from Enable/Day/StartTime/Duration and now.
    ScheduleStatus,
    /// `Device.Time.CurrentLocalTime`: the (simulated) clock.
    LocalTime,
}

/// An input argument of a command.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    pub name: &'static str,
    pub mandatory: bool,
}

/// A command (`Name()`).
#[derive(Clone, Copy, Debug)]
pub struct CmdDef {
    pub name: &'static str,
    pub is_async: bool,
    pub inputs: &'static [Arg],
    pub outputs: &'static [&'static str],
}

/// An event (`Name!`).
#[derive(Clone, Copy, Debug)]
pub struct EventDef {
    pub name: &'static str,
    pub args: &'static [&'static str],
}

/// Whether controllers may add / delete rows of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableAccess {
    /// Rows are managed by the agent (Hosts.Host, Radio...).
    ReadOnly,
    /// Controllers may Add and Delete.
    AddDelete,
}

// ----------------------------------------------------------------------------------------
// The indexed schema

/// Index of an object in [`Schema::objs`].
pub type ObjId = usize;

/// A parameter of the built schema.
#[derive(Clone, Debug)]
pub struct ParamDef {
    pub name: String,
    pub ty: Ty,
    pub writable: bool,
    pub secured: bool,
    pub default: &'static str,
    /// ValueChange is not reported for it (VALUE_CHANGE_WILL_IGNORE).
    pub volatile: bool,
    /// Writable in Add only.
    pub write_once: bool,
    pub computed: Option<Computed>,
}

/// An object of the built schema.
#[derive(Clone, Debug)]
pub struct ObjDef {
    /// Supported path, `{i}` for tables (`Device.WiFi.SSID.{i}.`).
    pub path: String,
    /// Last name (`SSID`).
    pub name: String,
    pub parent: Option<ObjId>,
    /// Multi-instance object (table).
    pub multi: bool,
    pub access: TableAccess,
    pub keys: Vec<Vec<&'static str>>,
    pub params: Vec<ParamDef>,
    pub commands: Vec<CmdDef>,
    pub events: Vec<EventDef>,
    pub children: Vec<ObjId>,
    /// Single-instance child that exists only when created from data.
    pub optional: bool,
    /// Most rows a table may hold.
    pub max_rows: u32,
}

impl ObjDef {
    /// Index of a parameter by name.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }
    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }
    /// A command by name (without `()`).
    pub fn command(&self, name: &str) -> Option<&CmdDef> {
        self.commands.iter().find(|c| c.name == name)
    }
    /// An event by name (without `!`).
    pub fn event(&self, name: &str) -> Option<&EventDef> {
        self.events.iter().find(|e| e.name == name)
    }
    /// Every parameter that is part of a unique key, in declaration order.
    pub fn key_params(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for set in &self.keys {
            for k in set {
                if !out.contains(k) {
                    out.push(k);
                }
            }
        }
        out
    }
}

/// The supported data model of one agent.
#[derive(Clone, Debug)]
pub struct Schema {
    pub objs: Vec<ObjDef>,
    by_path: HashMap<String, ObjId>,
}

/// Id of `Device.` in every schema.
pub const ROOT: ObjId = 0;

impl Schema {
    /// Builds the schema for the given features (core objects are always included).
    pub fn build(features: &[Feature]) -> Schema {
        let mut schema = Schema { objs: Vec::new(), by_path: HashMap::new() };
        // An object is included when its feature is enabled, or when it is an ancestor of
        // an included object (e.g. `Device.WiFi.` for the mesh Data Elements alone).
        let mut wanted: Vec<&str> = Vec::new();
        for decl in all_objects() {
            if decl.feature == Feature::Core || features.contains(&decl.feature) {
                let mut cur = Some(decl.path);
                while let Some(path) = cur {
                    if !wanted.contains(&path) {
                        wanted.push(path);
                    }
                    cur = split_supported(path).0;
                }
            }
        }
        for decl in all_objects() {
            if !wanted.contains(&decl.path) {
                continue;
            }
            let (parent_path, name, multi) = split_supported(decl.path);
            let parent = parent_path.and_then(|pp| schema.by_path.get(pp).copied());
            if parent_path.is_some() && parent.is_none() {
                // A parent from another feature is missing: skip (never happens with the
                // declared table, where parents share the feature or are core).
                continue;
            }
            let params = decl
                .params
                .iter()
                .filter(|d| d.needs.is_none_or(|f| features.contains(&f)))
                .map(|d| ParamDef {
                    name: d.name.to_owned(),
                    ty: d.ty,
                    writable: d.writable,
                    secured: d.secured,
                    default: d.default,
                    volatile: d.volatile,
                    write_once: d.write_once,
                    computed: if d.uptime {
                        Some(Computed::UpTime)
                    } else if d.schedule_status {
                        Some(Computed::ScheduleStatus)
                    } else if d.local_time {
                        Some(Computed::LocalTime)
                    } else {
                        None
                    },
                })
                .collect();
            let id = schema.objs.len();
            schema.objs.push(ObjDef {
                path: decl.path.to_owned(),
                name: name.to_owned(),
                parent,
                multi,
                access: if multi { decl.access } else { TableAccess::ReadOnly },
                keys: decl.keys.iter().map(|s| s.to_vec()).collect(),
                params,
                commands: decl.commands.to_vec(),
                events: decl.events.to_vec(),
                children: Vec::new(),
                optional: decl.optional,
                max_rows: decl.max_rows,
            });
            schema.by_path.insert(decl.path.to_owned(), id);
            if let Some(parent) = parent {
                schema.objs[parent].children.push(id);
                if multi {
                    // TR-181: every table has a <Name>NumberOfEntries in its parent.
                    schema.objs[parent].params.push(ParamDef {
                        name: format!("{name}NumberOfEntries"),
                        ty: UINT,
                        writable: false,
                        secured: false,
                        default: "0",
                        volatile: false,
                        write_once: false,
                        computed: Some(Computed::Count(id)),
                    });
                }
            }
        }
        schema
    }

    /// The object with this id.
    pub fn obj(&self, id: ObjId) -> &ObjDef {
        &self.objs[id]
    }

    /// Object id of a supported path (`Device.WiFi.SSID.{i}.`).
    pub fn by_path(&self, supported_path: &str) -> Option<ObjId> {
        self.by_path.get(supported_path).copied()
    }

    /// A child object by name.
    pub fn child(&self, id: ObjId, name: &str) -> Option<ObjId> {
        self.objs[id].children.iter().copied().find(|&c| self.objs[c].name == name)
    }

    /// Id of the object at an instantiated object path (`Device.WiFi.SSID.3.` →
    /// `Device.WiFi.SSID.{i}.`); also accepts table paths and supported paths.
    pub fn def_of_path(&self, path: &str) -> Option<ObjId> {
        let mut cur = ROOT;
        let mut tokens = path.trim_end_matches('.').split('.');
        if tokens.next() != Some("Device") {
            return None;
        }
        for tok in tokens {
            if tok == "{i}" || tok.bytes().all(|b| b.is_ascii_digit()) {
                if !self.objs[cur].multi {
                    return None;
                }
                continue;
            }
            cur = self.child(cur, tok)?;
        }
        Some(cur)
    }

    /// All object ids in the subtree of `id` (itself first), depth first in schema order.
    pub fn subtree(&self, id: ObjId) -> Vec<ObjId> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            out.push(cur);
            for &c in self.objs[cur].children.iter().rev() {
                stack.push(c);
            }
        }
        out
    }
}

/// Every declared object: [`OBJECTS`], then [`HISTORY_OBJECTS`] (parents first in both).
fn all_objects() -> impl Iterator<Item = &'static ODecl> {
    OBJECTS.iter().chain(HISTORY_OBJECTS)
}

/// `Device.WiFi.SSID.{i}.` → (Some("Device.WiFi."), "SSID", true).
fn split_supported(path: &str) -> (Option<&str>, &str, bool) {
    let trimmed = path.strip_suffix('.').unwrap_or(path);
    let (trimmed, multi) = match trimmed.strip_suffix(".{i}") {
        Some(t) => (t, true),
        None => (trimmed, false),
    };
    match trimmed.rfind('.') {
        Some(i) => (Some(&path[..i + 1]), &trimmed[i + 1..], multi),
        None => (None, trimmed, multi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Feature::{
        BulkData, Core, Diagnostics, Firmware, Hosts, Iot, IpInterfaces, LegacySchedules, Mesh, Schedules, Wifi,
    };

    #[test]
    fn every_declared_object_has_its_parent_declared_first() {
        let all =
            [Core, Wifi, Mesh, Hosts, Schedules, LegacySchedules, Iot, Diagnostics, IpInterfaces, BulkData, Firmware];
        let schema = Schema::build(&all);
        assert_eq!(schema.objs.len(), OBJECTS.len() + HISTORY_OBJECTS.len());
        assert_eq!(schema.obj(ROOT).path, "Device.");
    }

    #[test]
    fn number_of_entries_and_lookup() {
        let schema = Schema::build(&[Wifi]);
        let wifi = schema.by_path("Device.WiFi.").expect("wifi");
        let names: Vec<_> = schema.obj(wifi).params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["RadioNumberOfEntries", "SSIDNumberOfEntries", "AccessPointNumberOfEntries"]);
        let ssid = schema.def_of_path("Device.WiFi.SSID.3.").expect("ssid");
        assert_eq!(schema.obj(ssid).path, "Device.WiFi.SSID.{i}.");
        assert!(schema.obj(ssid).multi);
        assert_eq!(schema.def_of_path("Device.WiFi.SSID."), Some(ssid));
        assert_eq!(schema.def_of_path("Device.Hosts."), None, "feature not enabled");
        assert_eq!(schema.def_of_path("Device.WiFi.3."), None);
    }

    #[test]
    fn legacy_schedules_replace_schedule_refs() {
        let legacy = Schema::build(&[Hosts, LegacySchedules]);
        let ac = legacy.by_path("Device.Hosts.AccessControl.{i}.").expect("access control");
        assert!(legacy.obj(ac).param("ScheduleRef").is_none(), "2.14 has no ScheduleRef");
        assert!(legacy.by_path("Device.Hosts.AccessControl.{i}.Schedule.{i}.").is_some());
        assert!(legacy.by_path("Device.Schedules.").is_none());
        let modern = Schema::build(&[Hosts, Schedules]);
        let ac = modern.by_path("Device.Hosts.AccessControl.{i}.").expect("access control");
        assert!(modern.obj(ac).param("ScheduleRef").is_some());
        assert!(modern.by_path("Device.Hosts.AccessControl.{i}.Schedule.{i}.").is_none());
    }

    #[test]
    fn features_select_objects() {
        let hub = Schema::build(&[Iot]);
        assert!(hub.by_path("Device.IoTCapability.{i}.").is_some());
        assert!(hub.by_path("Device.WiFi.").is_none());
        assert!(hub.by_path("Device.LocalAgent.ControllerTrust.").is_some());
        let mesh_only = Schema::build(&[Mesh]);
        assert!(mesh_only.by_path("Device.WiFi.DataElements.Network.").is_some());
        assert!(mesh_only.by_path("Device.WiFi.Radio.{i}.").is_none());
    }
}
