//! Role-based access control (TR-181 `ControllerTrust.Role.{i}.Permission.{i}`).
//!
//! A controller's roles are its `AssignedRole` ∪ `InheritedRole`. For each role the
//! enabled Permission with the highest `Order` among those whose `Targets` cover the item
//! wins; the winners of all roles are OR-ed (spec-notes §8.2). Roles and permissions are
//! read from the data model; the agent keeps a controller's [`PermCtx`] only while the
//! data model's stamp is unchanged (any stored change drops it), so changing them takes
//! effect at once.
//!
//! One rule is not expressible with Targets: Subscription and Request rows belong to a
//! controller (`Recipient` / `Originator`); controllers that cannot list the Controller
//! table (everyone but administrators) only see their own rows.

use usp_core::path::{Path, Segment};

use super::dm::{Dm, Loc};
use super::resolve::{covers, Item, Leaf};
use super::schema::Schema;
use super::value::split_list;

/// Granted operations for one permission class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    pub r: bool,
    pub w: bool,
    pub x: bool,
    pub n: bool,
}

impl Bits {
    fn parse(s: &str) -> Bits {
        let b = s.as_bytes();
        Bits {
            r: b.first() == Some(&b'r'),
            w: b.get(1) == Some(&b'w'),
            x: b.get(2) == Some(&b'x'),
            n: b.get(3) == Some(&b'n'),
        }
    }
    fn or(self, o: Bits) -> Bits {
        Bits { r: self.r || o.r, w: self.w || o.w, x: self.x || o.x, n: self.n || o.n }
    }
}

/// The four permission classes of a Permission row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `Param`: read / write parameter values, ValueChange.
    Param,
    /// `Obj`: resolve objects, Add, ObjectCreation.
    Obj,
    /// `InstantiatedObj`: GetInstances, Delete, ObjectDeletion.
    InstObj,
    /// `CommandEvent`: Operate, OperationComplete / Event.
    CmdEvent,
}

#[derive(Clone, Debug)]
struct Perm {
    order: u64,
    targets: Vec<Path>,
    bits: [Bits; 4],
}

/// The effective permissions of one controller (or of the agent itself).
#[derive(Clone, Debug)]
pub struct PermCtx {
    roles: Vec<Vec<Perm>>,
    /// The controller holds a role listed in `SecuredRoles`.
    pub secured: bool,
    /// `Device.LocalAgent.Controller.N` (no trailing dot) of the controller.
    own_row: String,
    own_eid: String,
    /// May see other controllers' Subscription / Request rows.
    see_all: bool,
}

const CONTROLLER_TABLE: &str = "Device.LocalAgent.Controller.";
const SUBSCRIPTIONS: &str = "Device.LocalAgent.Subscription.";
const REQUESTS: &str = "Device.LocalAgent.Request.";

impl PermCtx {
    /// The permissions of the controller whose row is `row` (`…Controller.N.`).
    pub fn for_controller(schema: &Schema, dm: &Dm, row: &str) -> PermCtx {
        let get = |name: &str| dm.value_by_name(schema, row, name).unwrap_or_default();
        let mut role_paths: Vec<String> = Vec::new();
        for v in [get("AssignedRole"), get("InheritedRole")] {
            for item in split_list(&v) {
                let p = format!("{}.", item.trim_end_matches('.'));
                if !role_paths.contains(&p) {
                    role_paths.push(p);
                }
            }
        }
        let secured_roles: Vec<String> = split_list(
            &dm.value_by_name(schema, "Device.LocalAgent.ControllerTrust.", "SecuredRoles").unwrap_or_default(),
        )
        .iter()
        .map(|r| format!("{}.", r.trim_end_matches('.')))
        .collect();
        let mut roles = Vec::new();
        let mut secured = false;
        for role in &role_paths {
            if dm.raw_by_name(schema, role, "Enable") != Some("true") {
                continue;
            }
            if secured_roles.contains(role) {
                secured = true;
            }
            let mut perms = Vec::new();
            for prow in dm.rows(&format!("{role}Permission.")) {
                let g = |n: &str| dm.raw_by_name(schema, &prow, n).unwrap_or("");
                if g("Enable") != "true" {
                    continue;
                }
                perms.push(Perm {
                    order: g("Order").parse().unwrap_or(0),
                    targets: split_list(g("Targets")).iter().filter_map(|t| t.parse::<Path>().ok()).collect(),
                    bits: [
                        Bits::parse(g("Param")),
                        Bits::parse(g("Obj")),
                        Bits::parse(g("InstantiatedObj")),
                        Bits::parse(g("CommandEvent")),
                    ],
                });
            }
            roles.push(perms);
        }
        let mut ctx = PermCtx {
            roles,
            secured,
            own_row: row.trim_end_matches('.').to_owned(),
            own_eid: get("EndpointID"),
            see_all: false,
        };
        ctx.see_all = ctx.bits(schema, dm, Item { obj: CONTROLLER_TABLE, leaf: Leaf::None }, Class::InstObj).r;
        ctx
    }

    /// True when these permissions depend on stored data only, so they stay valid while
    /// the data model keeps its [`Dm::stamp`]: no target has a search expression (those
    /// may compare computed values such as `UpTime`, which change with time).
    pub fn cacheable(&self) -> bool {
        self.roles
            .iter()
            .flatten()
            .all(|p| p.targets.iter().all(|t| !t.segments().iter().any(|s| matches!(s, Segment::Search(_)))))
    }

    /// Effective bits for an item and class.
    pub fn bits(&self, schema: &Schema, dm: &Dm, item: Item<'_>, class: Class) -> Bits {
        if !self.see_all && !self.owns(schema, dm, item.obj) {
            return Bits::default();
        }
        let ci = class as usize;
        let mut total = Bits::default();
        for perms in &self.roles {
            let mut best: Option<&Perm> = None;
            for p in perms {
                if best.is_some_and(|b| b.order >= p.order) {
                    continue;
                }
                if p.targets.iter().any(|t| covers(schema, dm, t, item)) {
                    best = Some(p);
                }
            }
            if let Some(b) = best {
                total = total.or(b.bits[ci]);
            }
        }
        total
    }

    /// Subscription / Request rows are private to their owner.
    fn owns(&self, schema: &Schema, dm: &Dm, obj: &str) -> bool {
        for (table, param, own) in
            [(SUBSCRIPTIONS, "Recipient", &self.own_row), (REQUESTS, "Originator", &self.own_eid)]
        {
            if let Some(rest) = obj.strip_prefix(table) {
                let inst = rest.split('.').next().unwrap_or("");
                if inst.is_empty() || inst == "{i}" {
                    return true;
                }
                let row = format!("{table}{inst}.");
                return dm.raw_by_name(schema, &row, param).is_none_or(|v| v == own.as_str());
            }
        }
        true
    }

    /// May read this parameter.
    pub fn read_param(&self, schema: &Schema, dm: &Dm, obj: &str, name: &str) -> bool {
        self.bits(schema, dm, Item { obj, leaf: Leaf::Param(name) }, Class::Param).r
    }

    /// Bits of an object for a class.
    pub fn obj(&self, schema: &Schema, dm: &Dm, obj: &str, class: Class) -> Bits {
        self.bits(schema, dm, Item { obj, leaf: Leaf::None }, class)
    }

    /// Bits of a parameter.
    pub fn param(&self, schema: &Schema, dm: &Dm, obj: &str, name: &str) -> Bits {
        self.bits(schema, dm, Item { obj, leaf: Leaf::Param(name) }, Class::Param)
    }

    /// Bits of a command.
    pub fn command(&self, schema: &Schema, dm: &Dm, obj: &str, name: &str) -> Bits {
        self.bits(schema, dm, Item { obj, leaf: Leaf::Command(name) }, Class::CmdEvent)
    }

    /// Bits of an event.
    pub fn event(&self, schema: &Schema, dm: &Dm, obj: &str, name: &str) -> Bits {
        self.bits(schema, dm, Item { obj, leaf: Leaf::Event(name) }, Class::CmdEvent)
    }

    /// The value of a parameter as this controller sees it: `None` if unreadable, "" for
    /// secured parameters without a secured role.
    pub fn visible_value(&self, schema: &Schema, dm: &Dm, loc: &Loc, idx: usize) -> Option<String> {
        let p = schema.obj(loc.def).params.get(idx)?;
        if !self.read_param(schema, dm, &loc.path, &p.name) {
            return None;
        }
        if p.secured && !self.secured {
            return Some(String::new());
        }
        dm.value(schema, &loc.path, idx)
    }
}
