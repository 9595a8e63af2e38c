//! Building an agent's data model from its scenario entry: LocalAgent, the standard roles,
//! the passcode challenge, the scenario's instance data and its controllers.

use serde_json::Value as Json;

use super::dm::{Dm, Loc};
use super::schema::{Schema, Ty};
use super::value;
use crate::spec::{AgentSpec, ScenarioError};

/// A Permission row: of a standard role, or of the scenario's `permissions`.
struct PermDecl<'a> {
    order: u32,
    targets: &'a str,
    param: &'a str,
    obj: &'a str,
    inst: &'a str,
    cmd: &'a str,
}

/// `Permission.{i}`: Order, Targets, then the `rwxn` strings Param, Obj, InstantiatedObj,
/// CommandEvent.
const fn perm(
    order: u32,
    targets: &'static str,
    param: &'static str,
    obj: &'static str,
    inst: &'static str,
    cmd: &'static str,
) -> PermDecl<'static> {
    PermDecl { order, targets, param, obj, inst, cmd }
}

/// A standard role (instance numbers follow this order: 1, 2, 3).
struct RoleDecl {
    name: &'static str,
    perms: &'static [PermDecl<'static>],
}

/// Name of the role granted by the passcode challenge by default.
pub const HOME_USER: &str = "Home User";

const HOME_USER_AREAS: &str =
    "Device.DeviceInfo.,Device.Time.,Device.WiFi.,Device.Hosts.,Device.Schedules.,Device.IoTCapability.,Device.IP.,Device.BulkData.";
const CHALLENGE_COMMANDS: &str =
    "Device.LocalAgent.ControllerTrust.RequestChallenge(),Device.LocalAgent.ControllerTrust.ChallengeResponse()";

/// The three standard roles. Within a role the covering Permission with the highest
/// Order wins.
#[rustfmt::skip]
const ROLES: &[RoleDecl] = &[
    RoleDecl { name: "Full Access", perms: &[
        perm(1, "Device.", "rwxn", "rwxn", "rwxn", "rwxn"),
    ] },
    // Like the reference agent: read DeviceInfo, run the two challenge commands.
    RoleDecl { name: "Untrusted", perms: &[
        perm(1, "Device.DeviceInfo.", "r---", "r---", "r---", "r---"),
        perm(2, CHALLENGE_COMMANDS, "----", "----", "----", "r-x-"),
    ] },
    // What a homeowner's app needs. No ControllerTrust, no Controller table, no
    // FactoryReset, and no secured values (the role is not in SecuredRoles).
    RoleDecl { name: HOME_USER, perms: &[
        perm(1, HOME_USER_AREAS, "rw-n", "rw-n", "rw-n", "r-xn"),
        perm(2, "Device.LocalAgent.", "r---", "r---", "r---", "r---"),
        perm(3, "Device.LocalAgent.Subscription.", "rw-n", "rw-n", "rw-n", "r---"),
        perm(4, "Device.LocalAgent.Request.", "r--n", "r--n", "r--n", "r-xn"),
        perm(5, "Device.LocalAgent.ControllerTrust.,Device.LocalAgent.Controller.", "----", "----", "----", "----"),
        perm(6, "Device.Reboot(),Device.Boot!", "----", "----", "----", "r-xn"),
        perm(7, CHALLENGE_COMMANDS, "----", "----", "----", "r-x-"),
        // The end of a firmware download it asked for.
        perm(8, "Device.LocalAgent.TransferComplete!", "----", "----", "----", "r--n"),
    ] },
];

/// Adds an enabled Permission row `p` to `table` (a role's `Permission.` table).
fn add_permission(schema: &Schema, dm: &mut Dm, table: &str, p: &PermDecl<'_>) -> Result<String, String> {
    let order = p.order.to_string();
    add_row_with(
        schema,
        dm,
        table,
        &[
            ("Enable", "true"),
            ("Order", &order),
            ("Targets", p.targets),
            ("Param", p.param),
            ("Obj", p.obj),
            ("InstantiatedObj", p.inst),
            ("CommandEvent", p.cmd),
        ],
    )
}

/// Path of the Role row with this name (without trailing dot).
pub fn role_ref(schema: &Schema, dm: &Dm, name: &str) -> Option<String> {
    dm.rows("Device.LocalAgent.ControllerTrust.Role.")
        .into_iter()
        .find(|r| dm.raw_by_name(schema, r, "Name") == Some(name))
        .map(|r| r.trim_end_matches('.').to_owned())
}

/// The initial data model of an agent.
pub fn build_dm(schema: &Schema, spec: &AgentSpec, now: std::time::SystemTime) -> Result<Dm, ScenarioError> {
    let fail = |reason: String| ScenarioError::agent(&spec.key, reason);
    let mut dm = Dm::new(schema, now);

    let la = "Device.LocalAgent.";
    dm.set_by_name(schema, la, "EndpointID", &spec.endpoint_id);
    dm.set_by_name(schema, la, "SoftwareVersion", concat!("sim-home ", env!("CARGO_PKG_VERSION")));
    dm.set_by_name(schema, la, "SupportedProtocols", "WebSocket");
    let port = spec.port.to_string();
    let keep_alive = spec.keep_alive_secs.to_string();
    add_row_with(
        schema,
        &mut dm,
        "Device.LocalAgent.MTP.",
        &[
            ("Alias", "websocket-server"),
            ("Enable", "true"),
            ("Status", "Up"),
            ("Protocol", "WebSocket"),
            ("EnableMDNS", "true"),
            ("WebSocket.Port", &port),
            ("WebSocket.Path", &spec.path),
            ("WebSocket.EnableEncryption", "false"),
            ("WebSocket.KeepAliveInterval", &keep_alive),
        ],
    )
    .map_err(fail)?;

    for role in ROLES {
        let row = add_row_with(
            schema,
            &mut dm,
            "Device.LocalAgent.ControllerTrust.Role.",
            &[("Enable", "true"), ("Name", role.name)],
        )
        .map_err(fail)?;
        for p in role.perms {
            add_permission(schema, &mut dm, &format!("{row}Permission."), p).map_err(fail)?;
        }
    }
    for p in &spec.permissions {
        let role =
            role_ref(schema, &dm, &p.role).ok_or_else(|| fail(format!("permission for unknown role {:?}", p.role)))?;
        let row = PermDecl {
            order: p.order,
            targets: &p.targets,
            param: &p.param,
            obj: &p.obj,
            inst: &p.instantiated_obj,
            cmd: &p.command_event,
        };
        add_permission(schema, &mut dm, &format!("{role}.Permission."), &row).map_err(fail)?;
    }
    let ct = "Device.LocalAgent.ControllerTrust.";
    let untrusted = role_ref(schema, &dm, "Untrusted").unwrap_or_default();
    let full = role_ref(schema, &dm, "Full Access").unwrap_or_default();
    dm.set_by_name(schema, ct, "UntrustedRole", &untrusted);
    dm.set_by_name(schema, ct, "SecuredRoles", &full);
    dm.set_by_name(schema, ct, "TOFUAllowed", "true");

    if let Some(ch) = &spec.challenge {
        let role = role_ref(schema, &dm, &ch.role)
            .ok_or_else(|| fail(format!("challenge role {:?} does not exist", ch.role)))?;
        if ch.passcode.is_empty() {
            return Err(fail("the challenge passcode is empty".to_owned()));
        }
        let v = value::encode_base64(ch.passcode.as_bytes());
        let instruction = value::encode_base64(ch.instruction.as_bytes());
        let retries = ch.retries.to_string();
        let lockout = ch.lockout_secs.to_string();
        add_row_with(
            schema,
            &mut dm,
            "Device.LocalAgent.ControllerTrust.Challenge.",
            &[
                ("Alias", "passcode"),
                ("Description", &ch.description),
                ("Role", &role),
                ("Enable", "true"),
                ("Type", "Passphrase"),
                ("Value", &v),
                ("ValueType", "text/plain"),
                ("Instruction", &instruction),
                ("InstructionType", "text/plain"),
                ("Retries", &retries),
                ("LockoutPeriod", &lockout),
            ],
        )
        .map_err(fail)?;
    }

    for (path, v) in &spec.data {
        load_top(schema, &mut dm, path, v).map_err(fail)?;
    }

    for c in &spec.controllers {
        if c.endpoint_id.parse::<usp_core::eid::EndpointId>().is_err() {
            return Err(fail(format!("invalid controller endpoint_id {:?}", c.endpoint_id)));
        }
        provision_controller(schema, &mut dm, &c.endpoint_id, &c.role).map_err(fail)?;
        if let Some(e2e) = &c.e2e {
            if e2e.max_record_size != 0 && e2e.max_record_size < 512 {
                return Err(fail(format!(
                    "controller {:?}: max_record_size must be 0 (no limit) or at least 512, not {}",
                    c.endpoint_id, e2e.max_record_size
                )));
            }
            let row = dm
                .rows("Device.LocalAgent.Controller.")
                .into_iter()
                .find(|r| dm.raw_by_name(schema, r, "EndpointID") == Some(c.endpoint_id.as_str()))
                .ok_or_else(|| fail(format!("controller {:?} has no row", c.endpoint_id)))?;
            let obj = format!("{row}E2ESession.");
            dm.set_by_name(schema, &obj, "SessionMode", e2e.mode.as_tr181());
            dm.set_by_name(schema, &obj, "MaxUSPRecordSize", &e2e.max_record_size.to_string());
        }
    }

    check_all_refs(schema, &dm).map_err(fail)?;
    dm.take_changes();
    Ok(dm)
}

/// Adds or updates the Controller row of `eid` with AssignedRole = the named role.
pub fn provision_controller(schema: &Schema, dm: &mut Dm, eid: &str, role_name: &str) -> Result<(), String> {
    let role = role_ref(schema, dm, role_name).ok_or_else(|| {
        let known: Vec<String> = dm
            .rows("Device.LocalAgent.ControllerTrust.Role.")
            .iter()
            .filter_map(|r| dm.raw_by_name(schema, r, "Name").map(|n| format!("{n:?}")))
            .collect();
        format!("unknown role {role_name:?} (known: {})", known.join(", "))
    })?;
    let existing = dm
        .rows("Device.LocalAgent.Controller.")
        .into_iter()
        .find(|r| dm.raw_by_name(schema, r, "EndpointID") == Some(eid));
    match existing {
        Some(row) => {
            dm.set_by_name(schema, &row, "AssignedRole", &role);
            dm.set_by_name(schema, &row, "Enable", "true");
        }
        None => {
            add_row_with(
                schema,
                dm,
                "Device.LocalAgent.Controller.",
                &[("EndpointID", eid), ("Enable", "true"), ("AssignedRole", &role)],
            )?;
        }
    }
    Ok(())
}

/// Adds a row to the table at `table_path` (instance numbers in the path, no search) with
/// parameter values (relative names; optional sub-objects are created as needed),
/// bypassing writability. Fills agent-assigned values (Alias...) and checks types,
/// references and unique keys. The new row's own values raise no ValueChange.
pub fn add_row_with(schema: &Schema, dm: &mut Dm, table_path: &str, params: &[(&str, &str)]) -> Result<String, String> {
    let table_path = format!("{}.", table_path.trim_end_matches('.'));
    if dm.table(&table_path).is_none() {
        return Err(format!("{table_path} is not a table of this agent"));
    }
    let row = dm.add_row(schema, &table_path, None).map_err(|e| e.msg)?;
    let def = dm.obj(&row).map(|o| o.def).ok_or("row vanished")?;
    let loc = Loc::new(row.clone(), def);
    for (name, v) in params {
        set_loaded(schema, dm, &loc, name, v)?;
        if let Some((ploc, idx)) = dm.locate_param(schema, &loc, name) {
            let p = &schema.obj(ploc.def).params[idx];
            let stored = dm.raw(&ploc.path, idx).unwrap_or("").to_owned();
            dm.check_refs(schema, p.ty, &stored).map_err(|e| format!("{}{}: {}", ploc.path, p.name, e.msg))?;
        }
    }
    fill_agent_values(schema, dm, &loc, None);
    check_row(schema, dm, &loc)?;
    dm.forget_value_changes_under(&row);
    Ok(row)
}

/// Values the agent assigns to a new row: `Alias` (`cpe-N`), read-only name keys,
/// Subscription `ID` / `CreationDate` / `Recipient` (the creating controller), and
/// AccessControl `Origin`.
pub fn fill_agent_values(schema: &Schema, dm: &mut Dm, row: &Loc, caller_row: Option<&str>) {
    let def = schema.obj(row.def);
    let inst = super::dm::split_last(&row.path).1.to_owned();
    if def.param("Alias").is_some() && dm.raw_by_name(schema, &row.path, "Alias") == Some("") {
        let mut alias = format!("cpe-{inst}");
        let mut k = 1;
        while alias_taken(schema, dm, row, &alias) {
            k += 1;
            alias = format!("cpe-{inst}-{k}");
        }
        dm.set_by_name(schema, &row.path, "Alias", &alias);
    }
    for key in def.key_params() {
        let Some(p) = def.param(key) else { continue };
        if key != "Alias"
            && !p.writable
            && matches!(p.ty, Ty::Str(..))
            && dm.raw_by_name(schema, &row.path, key) == Some("")
        {
            let v = format!("{}{inst}", def.name.to_lowercase());
            dm.set_by_name(schema, &row.path, key, &v);
        }
    }
    if def.path == "Device.LocalAgent.Subscription.{i}." {
        if let Some(c) = caller_row {
            dm.set_by_name(schema, &row.path, "Recipient", c.trim_end_matches('.'));
        }
        if dm.raw_by_name(schema, &row.path, "ID") == Some("") {
            dm.set_by_name(schema, &row.path, "ID", &format!("sub-{inst}"));
        }
        let now = value::format_datetime(dm.now);
        dm.set_by_name(schema, &row.path, "CreationDate", &now);
    }
    if def.path == "Device.BulkData.Profile.{i}." {
        // Like the reference agent: the profile reports what its creator may read, to it.
        if let Some(c) = caller_row {
            dm.set_by_name(schema, &row.path, "Controller", c.trim_end_matches('.'));
        }
    }
    if def.path == "Device.Hosts.AccessControl.{i}." && caller_row.is_some() {
        dm.set_by_name(schema, &row.path, "Origin", "Controller");
    }
    if def.path == "Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}."
        && dm.key_conflict(schema, row).is_some()
    {
        // An Order was not given (or clashes): use the next free one.
        let (table, _) = super::dm::split_last(&row.path);
        let max = dm
            .rows(table)
            .iter()
            .filter(|r| **r != row.path)
            .filter_map(|r| dm.raw_by_name(schema, r, "Order").and_then(|o| o.parse::<u64>().ok()))
            .max()
            .unwrap_or(0);
        if dm.raw_by_name(schema, &row.path, "Order") == Some("0") {
            dm.set_by_name(schema, &row.path, "Order", &(max + 1).to_string());
        }
    }
}

fn alias_taken(schema: &Schema, dm: &Dm, row: &Loc, alias: &str) -> bool {
    let (table, _) = super::dm::split_last(&row.path);
    dm.rows(table).iter().any(|r| *r != row.path && dm.raw_by_name(schema, r, "Alias") == Some(alias))
}

/// Unique keys and references of a new row.
pub fn check_row(schema: &Schema, dm: &Dm, row: &Loc) -> Result<(), String> {
    if let Some(keys) = dm.key_conflict(schema, row) {
        return Err(format!("{}: another row has the same {}", row.path, keys.join("+")));
    }
    Ok(())
}

/// Sets a parameter from scenario / internal data: relative name (through single-instance
/// sub-objects, creating optional ones), type-checked, computed parameters refused.
fn set_loaded(schema: &Schema, dm: &mut Dm, obj: &Loc, rel: &str, v: &str) -> Result<(), String> {
    let mut parts: Vec<&str> = rel.split('.').collect();
    let last = parts.pop().unwrap_or("");
    let mut cur = obj.clone();
    for part in parts {
        let child = schema
            .child(cur.def, part)
            .filter(|c| !schema.obj(*c).multi)
            .ok_or_else(|| format!("{}{rel}: no such sub-object {part:?}", obj.path))?;
        let path = format!("{}{part}.", cur.path);
        dm.ensure_optional(schema, &path, child);
        cur = Loc::new(path, child);
    }
    let full = format!("{}{last}", cur.path);
    let def = schema.obj(cur.def);
    let idx = def.param_index(last).ok_or_else(|| format!("{full}: no such parameter"))?;
    let p = &def.params[idx];
    if p.computed.is_some() {
        return Err(format!("{full}: computed by the agent, cannot be set"));
    }
    let canonical = value::check(p.ty, v).map_err(|e| format!("{full}: {}", e.msg))?;
    dm.set_raw(schema, &cur.path, idx, canonical);
    Ok(())
}

/// One top-level entry of the scenario `data` map.
fn load_top(schema: &Schema, dm: &mut Dm, path: &str, v: &Json) -> Result<(), String> {
    if !path.ends_with('.') {
        return Err(format!("{path}: data keys are object paths ending in '.'"));
    }
    if dm.table(path).is_some() {
        return load_rows(schema, dm, path, v);
    }
    let def = schema
        .def_of_path(path)
        .ok_or_else(|| format!("{path} is not an object of this agent's data model (check its features)"))?;
    if !dm.exists(path) {
        let (parent, _) = super::dm::split_last(path);
        if schema.obj(def).multi || !schema.obj(def).optional || !dm.exists(parent) {
            return Err(format!("{path} does not exist"));
        }
        dm.ensure_optional(schema, path, def);
    }
    load_obj(schema, dm, &Loc::new(path, def), v)
}

fn load_rows(schema: &Schema, dm: &mut Dm, table_path: &str, v: &Json) -> Result<(), String> {
    let rows = v.as_array().ok_or_else(|| format!("{table_path}: a table takes a JSON array of rows"))?;
    for r in rows {
        let row = dm.add_row(schema, table_path, None).map_err(|e| format!("{table_path}: {}", e.msg))?;
        let def = dm.obj(&row).map(|o| o.def).ok_or("row vanished")?;
        let loc = Loc::new(row, def);
        load_obj(schema, dm, &loc, r)?;
        fill_agent_values(schema, dm, &loc, None);
        check_row(schema, dm, &loc)?;
    }
    Ok(())
}

fn load_obj(schema: &Schema, dm: &mut Dm, loc: &Loc, v: &Json) -> Result<(), String> {
    let map = v.as_object().ok_or_else(|| format!("{}: an object takes a JSON object", loc.path))?;
    for (k, v) in map {
        if let Some(name) = k.strip_suffix('.') {
            let child = schema.child(loc.def, name).ok_or_else(|| format!("{}{k}: no such object", loc.path))?;
            let child_path = format!("{}{k}", loc.path);
            if schema.obj(child).multi {
                load_rows(schema, dm, &child_path, v)?;
            } else {
                dm.ensure_optional(schema, &child_path, child);
                load_obj(schema, dm, &Loc::new(child_path, child), v)?;
            }
        } else {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                Json::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Json::String(s) => Ok(s.clone()),
                        Json::Number(n) => Ok(n.to_string()),
                        _ => Err(format!("{}{k}: list items must be strings or numbers", loc.path)),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                _ => return Err(format!("{}{k}: values are strings, numbers, booleans or lists", loc.path)),
            };
            set_loaded(schema, dm, loc, k, &text)?;
        }
    }
    Ok(())
}

/// Every reference parameter points at an existing row.
fn check_all_refs(schema: &Schema, dm: &Dm) -> Result<(), String> {
    let mut paths: Vec<&String> = dm.objects().map(|(p, _)| p).collect();
    paths.sort();
    for path in paths {
        let Some(o) = dm.obj(path) else { continue };
        for (i, p) in schema.obj(o.def).params.iter().enumerate() {
            if let Ty::Ref(..) = p.ty {
                let v = dm.raw(path, i).unwrap_or("");
                dm.check_refs(schema, p.ty, v).map_err(|e| format!("{path}{}: {}", p.name, e.msg))?;
            }
        }
    }
    Ok(())
}
