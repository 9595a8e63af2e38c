//! Set, Add and Delete, with `allow_partial` / `required` semantics (spec-notes §1b):
//!
//! | allow_partial | a required param (or the object) fails | reply |
//! |---|---|---|
//! | false | yes | Error (err_code of the failure, `param_errs` with full paths); nothing applied |
//! | true  | yes | Response, `oper_failure` for that object; the other objects are applied |
//! | any   | no  | Response, `oper_success`; non-required failures in its `param_errs` |
//!
//! Each object (each `obj_path`) is applied all-or-nothing on a copy of the data model.

use std::collections::BTreeMap;

use usp_core::path::PathKind;
use usp_proto::usp::{
    self, add_resp, delete_resp, error::ParamError, header::MsgType, response::RespType, set_resp, Msg,
};

use super::dm::{is_row_path, Dm, Loc};
use super::perm::Class;
use super::resolve::{self, Target};
use super::schema::{Schema, TableAccess};
use super::setup;
use super::value;
use super::{err, error_reply, reply, Agent, Caller, UspErr};

/// Most objects one Add / Set / Delete may name.
pub const MAX_OBJS_PER_MSG: usize = 1_000;

/// A parameter that could not be set.
struct ParamFail {
    /// Relative parameter name.
    param: String,
    err: UspErr,
    required: bool,
}

/// Why one requested object failed.
enum ObjFail {
    /// The object as a whole (path, permission, existence...).
    Obj(UspErr),
    /// Required parameters failed: (instance path, every parameter failure).
    Params(Vec<(String, Vec<ParamFail>)>),
}

impl From<UspErr> for ObjFail {
    fn from(e: UspErr) -> Self {
        ObjFail::Obj(e)
    }
}

impl ObjFail {
    fn code_and_msg(&self) -> UspErr {
        match self {
            ObjFail::Obj(e) => e.clone(),
            ObjFail::Params(insts) => {
                let first =
                    insts.iter().flat_map(|(p, errs)| errs.iter().filter(|e| e.required).map(move |e| (p, e))).next();
                match first {
                    Some((path, f)) => err(7021, format!("required parameter {path}{} failed: {}", f.param, f.err.msg)),
                    None => err(7021, "a required parameter failed"),
                }
            }
        }
    }

    /// Error-message param_errs (full paths).
    fn param_errs(&self, requested: &str) -> Vec<ParamError> {
        match self {
            ObjFail::Obj(e) => {
                vec![ParamError { param_path: requested.to_owned(), err_code: e.code, err_msg: e.msg.clone() }]
            }
            ObjFail::Params(insts) => insts
                .iter()
                .flat_map(|(path, errs)| {
                    errs.iter().filter(|f| f.required).map(move |f| ParamError {
                        param_path: format!("{path}{}", f.param),
                        err_code: f.err.code,
                        err_msg: f.err.msg.clone(),
                    })
                })
                .collect(),
        }
    }
}

fn too_many_objects() -> UspErr {
    err(7005, format!("more than {MAX_OBJS_PER_MSG} objects in one message"))
}

/// One requested object of a Set, Add or Delete, all-or-nothing: without allow_partial it
/// works on `whole`, the message's own copy (kept by the caller only if every object
/// succeeds); with it, on a fresh copy of `dm` that replaces `dm` when the object succeeds.
/// `edit` is told which: `true` for an object on its own (allow_partial).
fn edit_object<T, E>(
    dm: &mut Dm,
    whole: Option<&mut Dm>,
    edit: impl FnOnce(&mut Dm, bool) -> Result<T, E>,
) -> Result<T, E> {
    match whole {
        Some(work) => edit(work, false),
        None => {
            let mut work = dm.clone();
            let r = edit(&mut work, true);
            if r.is_ok() {
                *dm = work;
            }
            r
        }
    }
}

impl Agent {
    pub(super) fn handle_set(&mut self, caller: &Caller, set: &usp::Set) -> Msg {
        if set.update_objs.len() > MAX_OBJS_PER_MSG {
            return error_reply(&caller.msg_id, too_many_objects(), Vec::new());
        }
        let mut results = Vec::new();
        let mut whole = (!set.allow_partial).then(|| self.dm.clone());
        for uo in &set.update_objs {
            let outcome = edit_object(&mut self.dm, whole.as_mut(), |work, _| set_one(&self.schema, work, caller, uo));
            use set_resp::updated_object_result::{operation_status, OperationStatus};
            let status = match outcome {
                Ok(insts) => operation_status::OperStatus::OperSuccess(operation_status::OperationSuccess {
                    updated_inst_results: insts,
                }),
                Err(fail) => {
                    if whole.is_some() {
                        return error_reply(&caller.msg_id, fail.code_and_msg(), fail.param_errs(&uo.obj_path));
                    }
                    let e = fail.code_and_msg();
                    let updated_inst_failures = match &fail {
                        ObjFail::Obj(_) => Vec::new(),
                        ObjFail::Params(insts) => insts
                            .iter()
                            .map(|(path, errs)| set_resp::UpdatedInstanceFailure {
                                affected_path: path.clone(),
                                param_errs: errs.iter().map(set_param_error).collect(),
                            })
                            .collect(),
                    };
                    operation_status::OperStatus::OperFailure(operation_status::OperationFailure {
                        err_code: e.code,
                        err_msg: e.msg,
                        updated_inst_failures,
                    })
                }
            };
            results.push(set_resp::UpdatedObjectResult {
                requested_path: uo.obj_path.clone(),
                oper_status: Some(OperationStatus { oper_status: Some(status) }),
            });
        }
        if let Some(work) = whole {
            self.dm = work;
        }
        reply(&caller.msg_id, MsgType::SetResp, RespType::SetResp(usp::SetResp { updated_obj_results: results }))
    }

    pub(super) fn handle_add(&mut self, caller: &Caller, add: &usp::Add) -> Msg {
        if add.create_objs.len() > MAX_OBJS_PER_MSG {
            return error_reply(&caller.msg_id, too_many_objects(), Vec::new());
        }
        let mut results = Vec::new();
        let mut whole = (!add.allow_partial).then(|| self.dm.clone());
        for co in &add.create_objs {
            let outcome = edit_object(&mut self.dm, whole.as_mut(), |work, _| add_one(&self.schema, work, caller, co));
            use add_resp::created_object_result::{operation_status, OperationStatus};
            let status = match outcome {
                Ok(success) => operation_status::OperStatus::OperSuccess(success),
                Err(fail) => {
                    let requested = format!("{}.", co.obj_path.trim_end_matches('.'));
                    if whole.is_some() {
                        let errs = match &fail {
                            ObjFail::Obj(_) => fail.param_errs(&co.obj_path),
                            ObjFail::Params(insts) => insts
                                .iter()
                                .flat_map(|(_, errs)| errs.iter().filter(|f| f.required))
                                .map(|f| ParamError {
                                    param_path: format!("{requested}{}", f.param),
                                    err_code: f.err.code,
                                    err_msg: f.err.msg.clone(),
                                })
                                .collect(),
                        };
                        return error_reply(&caller.msg_id, fail.code_and_msg(), errs);
                    }
                    let e = fail.code_and_msg();
                    operation_status::OperStatus::OperFailure(operation_status::OperationFailure {
                        err_code: e.code,
                        err_msg: e.msg,
                    })
                }
            };
            results.push(add_resp::CreatedObjectResult {
                requested_path: co.obj_path.clone(),
                oper_status: Some(OperationStatus { oper_status: Some(status) }),
            });
        }
        if let Some(work) = whole {
            self.dm = work;
        }
        reply(&caller.msg_id, MsgType::AddResp, RespType::AddResp(usp::AddResp { created_obj_results: results }))
    }

    pub(super) fn handle_delete(&mut self, caller: &Caller, del: &usp::Delete) -> Msg {
        if del.obj_paths.len() > MAX_OBJS_PER_MSG {
            return error_reply(&caller.msg_id, too_many_objects(), Vec::new());
        }
        let mut results = Vec::new();
        let mut whole = (!del.allow_partial).then(|| self.dm.clone());
        for path in &del.obj_paths {
            let outcome = edit_object(&mut self.dm, whole.as_mut(), |work, partial| {
                delete_one(&self.schema, work, caller, path, partial)
            });
            use delete_resp::deleted_object_result::{operation_status, OperationStatus};
            let status = match outcome {
                Ok((affected_paths, unaffected_path_errs)) => {
                    operation_status::OperStatus::OperSuccess(operation_status::OperationSuccess {
                        affected_paths,
                        unaffected_path_errs,
                    })
                }
                Err(e) => {
                    if whole.is_some() {
                        let pe =
                            vec![ParamError { param_path: path.clone(), err_code: e.code, err_msg: e.msg.clone() }];
                        return error_reply(&caller.msg_id, e, pe);
                    }
                    operation_status::OperStatus::OperFailure(operation_status::OperationFailure {
                        err_code: e.code,
                        err_msg: e.msg,
                    })
                }
            };
            results.push(delete_resp::DeletedObjectResult {
                requested_path: path.clone(),
                oper_status: Some(OperationStatus { oper_status: Some(status) }),
            });
        }
        if let Some(work) = whole {
            self.dm = work;
        }
        reply(
            &caller.msg_id,
            MsgType::DeleteResp,
            RespType::DeleteResp(usp::DeleteResp { deleted_obj_results: results }),
        )
    }
}

fn set_param_error(f: &ParamFail) -> set_resp::ParameterError {
    set_resp::ParameterError { param: f.param.clone(), err_code: f.err.code, err_msg: f.err.msg.clone() }
}

/// Resolves an object path for editing (7008 / 7026 / 7005 errors).
fn resolve_objects(
    schema: &Schema,
    dm: &Dm,
    caller: &Caller,
    obj_path: &str,
    what: &str,
) -> Result<resolve::Resolution, UspErr> {
    let path = resolve::parse(obj_path)?;
    if path.kind() != PathKind::Object {
        return Err(err(7026, format!("{what} needs an object path ending in '.'")));
    }
    let can_read = |p: &str, _d: usize, n: &str| caller.perms.read_param(schema, dm, p, n);
    resolve::resolve(schema, dm, &path, &can_read)
}

fn set_one(
    schema: &Schema,
    dm: &mut Dm,
    caller: &Caller,
    uo: &usp::set::UpdateObject,
) -> Result<Vec<set_resp::UpdatedInstanceResult>, ObjFail> {
    let res = resolve_objects(schema, dm, caller, &uo.obj_path, "Set")?;
    let mut locs = Vec::new();
    for t in res.targets {
        match t {
            Target::Obj(l) => locs.push(l),
            _ => return Err(err(7026, "Set needs object instances, not a table").into()),
        }
    }
    if locs.is_empty() && !res.search {
        return Err(err(7016, format!("{} does not exist", uo.obj_path)).into());
    }
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for loc in locs {
        let mut fails = Vec::new();
        let mut updated = BTreeMap::new();
        for ps in &uo.param_settings {
            match set_param(schema, dm, Some(caller), &loc, &ps.param, &ps.value, false) {
                Ok(Some(v)) => {
                    updated.insert(ps.param.clone(), v);
                }
                Ok(None) => {}
                Err(e) => fails.push(ParamFail { param: ps.param.clone(), err: e, required: ps.required }),
            }
        }
        if fails.iter().any(|f| f.required) {
            failures.push((loc.path, fails));
        } else {
            results.push(set_resp::UpdatedInstanceResult {
                affected_path: loc.path,
                param_errs: fails.iter().map(set_param_error).collect(),
                updated_params: updated,
            });
        }
    }
    if !failures.is_empty() {
        return Err(ObjFail::Params(failures));
    }
    Ok(results)
}

/// Sets one parameter (relative name) of an object for a controller (or internally when
/// `caller` is None). Returns the value to report (None if the caller may not read it).
fn set_param(
    schema: &Schema,
    dm: &mut Dm,
    caller: Option<&Caller>,
    loc: &Loc,
    rel: &str,
    value: &str,
    in_add: bool,
) -> Result<Option<String>, UspErr> {
    let (ploc, idx) = dm
        .locate_param(schema, loc, rel)
        .ok_or_else(|| err(7010, format!("{}{rel} is not a supported parameter", loc.path)))?;
    let p = schema.obj(ploc.def).params[idx].clone();
    if let Some(c) = caller {
        if !c.perms.param(schema, dm, &ploc.path, &p.name).w {
            return Err(err(7006, format!("no permission to write {}{}", ploc.path, p.name)));
        }
    }
    if !p.writable || p.computed.is_some() {
        return Err(err(7013, format!("{}{} is read-only", ploc.path, p.name)));
    }
    if p.write_once && !in_add && !dm.raw(&ploc.path, idx).unwrap_or("").is_empty() {
        return Err(err(7013, format!("{}{} can only be set when the object is created", ploc.path, p.name)));
    }
    let v = value::check(p.ty, value)?;
    dm.check_refs(schema, p.ty, &v)?;
    cross_check(schema, dm, &ploc, &p.name, &v)?;
    let old = dm.raw(&ploc.path, idx).unwrap_or("").to_owned();
    dm.set_raw(schema, &ploc.path, idx, v.clone());
    let def = schema.obj(ploc.def);
    if !in_add && def.multi && def.keys.iter().any(|k| k.contains(&p.name.as_str())) {
        if let Some(keys) = dm.key_conflict(schema, &ploc) {
            dm.set_raw(schema, &ploc.path, idx, old);
            return Err(err(7025, format!("another row already has this {}", keys.join("+"))));
        }
    }
    derive(schema, dm, &ploc, &p.name);
    let visible = match caller {
        None => Some(v),
        Some(c) => {
            if !c.perms.read_param(schema, dm, &ploc.path, &p.name) {
                None
            } else if p.secured && !c.perms.secured {
                Some(String::new())
            } else {
                Some(v)
            }
        }
    };
    Ok(visible)
}

/// Constraints that involve other parameters or other syntax than the value type.
fn cross_check(schema: &Schema, dm: &Dm, loc: &Loc, name: &str, v: &str) -> Result<(), UspErr> {
    let def = &schema.obj(loc.def).path;
    let sibling = |n: &str| dm.raw_by_name(schema, &loc.path, n).unwrap_or("").to_owned();
    let bad = |msg: String| Err(err(7012, msg));
    match (def.as_str(), name) {
        ("Device.WiFi.AccessPoint.{i}.Security.", "ModeEnabled")
            if !value::split_list(&sibling("ModesSupported")).contains(&v) =>
        {
            bad(format!("{v:?} is not in ModesSupported"))
        }
        ("Device.IoTCapability.{i}.LevelControl.", "Value") => {
            let n = value::parse_number(v).unwrap_or(f64::NAN);
            let min = value::parse_number(&sibling("MinValue")).unwrap_or(f64::MIN);
            let max = value::parse_number(&sibling("MaxValue")).unwrap_or(f64::MAX);
            if n >= min && n <= max {
                Ok(())
            } else {
                bad(format!("{v} is outside MinValue..MaxValue ({min}..{max})"))
            }
        }
        ("Device.LocalAgent.Subscription.{i}.", "ReferenceList")
        | ("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.", "Targets") => {
            match value::split_list(v).into_iter().find(|i| i.parse::<usp_core::path::Path>().is_err()) {
                Some(item) => bad(format!("{item:?} is not a valid path")),
                None => Ok(()),
            }
        }
        ("Device.BulkData.Profile.{i}.", "ReportingInterval") => {
            let min = dm.raw_by_name(schema, "Device.BulkData.", "MinReportingInterval").unwrap_or("1");
            let (n, min) = (v.parse::<u64>().unwrap_or(0), min.parse::<u64>().unwrap_or(1));
            if n < min {
                return bad(format!("{v} is below MinReportingInterval ({min} s)"));
            }
            Ok(())
        }
        ("Device.BulkData.Profile.{i}.Parameter.{i}.", "Reference") => {
            let mut depth = 0i32;
            let follows = v.chars().any(|c| {
                depth += i32::from(c == '[') - i32::from(c == ']');
                c == '+' && depth == 0
            });
            if follows {
                bad("bulk data references may not follow references ('+')".to_owned())
            } else if !v.is_empty() && v.parse::<usp_core::path::Path>().is_err() {
                bad(format!("{v:?} is not a valid path"))
            } else {
                Ok(())
            }
        }
        ("Device.LocalAgent.Controller.{i}.", "EndpointID") if v.parse::<usp_core::eid::EndpointId>().is_err() => {
            bad(format!("{v:?} is not a valid Endpoint ID"))
        }
        _ => Ok(()),
    }
}

/// Parameters that follow others, as on a real device (Status follows Enable, ...).
pub(super) fn derive(schema: &Schema, dm: &mut Dm, loc: &Loc, name: &str) {
    let def = schema.obj(loc.def).path.clone();
    let get = |dm: &Dm, n: &str| dm.raw_by_name(schema, &loc.path, n).unwrap_or("").to_owned();
    let now = value::format_datetime(dm.now);
    match (def.as_str(), name) {
        ("Device.WiFi.SSID.{i}." | "Device.WiFi.Radio.{i}.", "Enable") => {
            let s = if get(dm, "Enable") == "true" { "Up" } else { "Down" };
            dm.set_by_name(schema, &loc.path, "Status", s);
        }
        ("Device.WiFi.AccessPoint.{i}.", "Enable") => {
            let s = if get(dm, "Enable") == "true" { "Enabled" } else { "Disabled" };
            dm.set_by_name(schema, &loc.path, "Status", s);
        }
        ("Device.BulkData.", "Enable") => {
            let s = if get(dm, "Enable") == "true" { "Enabled" } else { "Disabled" };
            dm.set_by_name(schema, &loc.path, "Status", s);
        }
        ("Device.Hosts.Host.{i}.", "Active") => {
            dm.set_by_name(schema, &loc.path, "ActiveLastChange", &now);
        }
        ("Device.IoTCapability.{i}.BinarySensor." | "Device.IoTCapability.{i}.LevelSensor.", "Value") => {
            dm.set_by_name(schema, &loc.path, "LastChange", &now);
        }
        _ => {}
    }
}

fn add_one(
    schema: &Schema,
    dm: &mut Dm,
    caller: &Caller,
    co: &usp::add::CreateObject,
) -> Result<add_resp::created_object_result::operation_status::OperationSuccess, ObjFail> {
    let res = resolve_objects(schema, dm, caller, &co.obj_path, "Add")?;
    if res.search {
        return Err(err(7026, "Add does not accept search paths").into());
    }
    let table = match res.targets.as_slice() {
        [Target::Table(t)] => t.clone(),
        [] => return Err(err(7016, format!("{} does not exist", co.obj_path)).into()),
        _ => return Err(err(7018, format!("{} is not a table", co.obj_path)).into()),
    };
    if schema.obj(table.def).access != TableAccess::AddDelete {
        return Err(err(7019, format!("{} cannot be created by a controller", table.path)).into());
    }
    if !caller.perms.obj(schema, dm, &table.path, Class::Obj).w {
        return Err(err(7006, format!("no permission to add to {}", table.path)).into());
    }
    let row = dm.add_row(schema, &table.path, None)?;
    let loc = Loc::new(row.clone(), table.def);
    if schema.obj(table.def).path == "Device.LocalAgent.Subscription.{i}." {
        // The row belongs to its creator from the start (it may only write its own rows).
        dm.set_by_name(schema, &row, "Recipient", caller.row.trim_end_matches('.'));
    }
    let mut fails = Vec::new();
    for ps in &co.param_settings {
        if let Err(e) = set_param(schema, dm, Some(caller), &loc, &ps.param, &ps.value, true) {
            fails.push(ParamFail { param: ps.param.clone(), err: e, required: ps.required });
        }
    }
    if fails.iter().any(|f| f.required) {
        return Err(ObjFail::Params(vec![(row, fails)]));
    }
    setup::fill_agent_values(schema, dm, &loc, Some(&caller.row));
    if let Some(keys) = dm.key_conflict(schema, &loc) {
        return Err(err(7025, format!("a row with the same {} already exists", keys.join("+"))).into());
    }
    dm.forget_value_changes_under(&row);
    let mut unique_keys = BTreeMap::new();
    for (k, _) in dm.unique_keys(schema, &loc) {
        if let Some(idx) = schema.obj(loc.def).param_index(k) {
            if let Some(v) = caller.perms.visible_value(schema, dm, &loc, idx) {
                unique_keys.insert(k.to_owned(), v);
            }
        }
    }
    Ok(add_resp::created_object_result::operation_status::OperationSuccess {
        instantiated_path: row,
        param_errs: fails
            .iter()
            .map(|f| add_resp::ParameterError {
                param: f.param.clone(),
                err_code: f.err.code,
                err_msg: f.err.msg.clone(),
            })
            .collect(),
        unique_keys,
    })
}

fn delete_one(
    schema: &Schema,
    dm: &mut Dm,
    caller: &Caller,
    obj_path: &str,
    allow_partial: bool,
) -> Result<(Vec<String>, Vec<delete_resp::UnaffectedPathError>), UspErr> {
    let res = resolve_objects(schema, dm, caller, obj_path, "Delete")?;
    let mut rows = Vec::new();
    for t in res.targets {
        match t {
            Target::Obj(l) if schema.obj(l.def).multi && is_row_path(&l.path) => rows.push(l),
            Target::Obj(l) => return Err(err(7024, format!("{} is not a table row", l.path))),
            _ => return Err(err(7026, "Delete needs object instance paths, not a table")),
        }
    }
    let mut unaffected = Vec::new();
    let mut deletable = Vec::new();
    for row in rows {
        let bits = caller.perms.obj(schema, dm, &row.path, Class::InstObj);
        if res.search && !bits.r && !bits.w {
            // Rows the controller cannot see are not part of its search result.
            continue;
        }
        let problem = if schema.obj(row.def).access != TableAccess::AddDelete {
            Some(err(7024, format!("{} cannot be deleted by a controller", row.path)))
        } else if !bits.w {
            Some(err(7006, format!("no permission to delete {}", row.path)))
        } else {
            None
        };
        match problem {
            None => deletable.push(row),
            Some(e) if res.search && allow_partial => unaffected.push(delete_resp::UnaffectedPathError {
                unaffected_path: row.path,
                err_code: e.code,
                err_msg: e.msg,
            }),
            Some(e) => return Err(e),
        }
    }
    let mut affected = Vec::new();
    for row in deletable {
        affected.extend(dm.delete_row(schema, &row.path));
    }
    Ok((affected, unaffected))
}
