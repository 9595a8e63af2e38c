//! Get, GetInstances and GetSupportedDM.

use std::collections::BTreeMap;

use usp_core::path::{PathKind, Segment};
use usp_proto::usp::{
    self, get_instances_resp, get_resp,
    get_supported_dm_resp::{self as gsdm, CmdType, ObjAccessType, ParamAccessType, ParamValueType, ValueChangeType},
    header::MsgType,
    response::RespType,
    Msg,
};

use super::dm::{is_row_path, Loc};
use super::perm::Class;
use super::resolve::{self, Target, MAX_RESOLVED};
use super::schema::{ObjId, TableAccess, Ty, ROOT};
use super::{err, reply, Agent, Caller, UspErr};

/// `data_model_inst_uri` of GetSupportedDM.
pub const DATA_MODEL_URI: &str = "urn:broadband-forum-org:tr-181-2-19-1-usp";

impl Agent {
    pub(super) fn handle_get(&self, caller: &Caller, get: &usp::Get) -> Msg {
        let mut budget = MAX_RESOLVED;
        let results = get
            .param_paths
            .iter()
            .map(|p| {
                let mut r = get_resp::RequestedPathResult { requested_path: p.clone(), ..Default::default() };
                match self.get_one(caller, p, get.max_depth, budget) {
                    Ok(found) => {
                        budget = budget.saturating_sub(found.len());
                        r.resolved_path_results = found;
                    }
                    Err(e) => {
                        r.err_code = e.code;
                        r.err_msg = e.msg;
                    }
                }
                r
            })
            .collect();
        reply(&caller.msg_id, MsgType::GetResp, RespType::GetResp(usp::GetResp { req_path_results: results }))
    }

    fn get_one(
        &self,
        caller: &Caller,
        path: &str,
        max_depth: u32,
        budget: usize,
    ) -> Result<Vec<get_resp::ResolvedPathResult>, UspErr> {
        let (schema, dm, perms) = (&self.schema, &self.dm, &caller.perms);
        let parsed = self.parse_path(path)?;
        let can_read = |p: &str, _d: ObjId, n: &str| perms.read_param(schema, dm, p, n);
        let res = resolve::resolve(schema, dm, &parsed, &can_read)?;
        let absent = || err(7026, format!("{path} does not exist"));
        let too_many = || err(7005, format!("the Get matches more than {MAX_RESOLVED} objects"));
        let mut out = Vec::new();
        match parsed.kind() {
            PathKind::Object => {
                let mut bases = Vec::new();
                for t in &res.targets {
                    match t {
                        Target::Obj(l) => bases.push(l.clone()),
                        Target::Table(t) => bases.extend(dm.rows(&t.path).into_iter().map(|r| Loc::new(r, t.def))),
                        _ => {}
                    }
                }
                if res.targets.is_empty() && !res.search {
                    return Err(absent());
                }
                let mut objs = Vec::new();
                for b in &bases {
                    dm.walk(schema, b, max_depth, &mut objs, budget);
                    if objs.len() > budget {
                        return Err(too_many());
                    }
                }
                for (loc, _) in objs {
                    if !perms.obj(schema, dm, &loc.path, Class::Obj).r {
                        continue;
                    }
                    let params: BTreeMap<String, String> = (0..schema.obj(loc.def).params.len())
                        .filter_map(|i| {
                            perms
                                .visible_value(schema, dm, &loc, i)
                                .map(|v| (schema.obj(loc.def).params[i].name.clone(), v))
                        })
                        .collect();
                    if !params.is_empty() {
                        out.push(get_resp::ResolvedPathResult { resolved_path: loc.path, result_params: params });
                    }
                }
                // Unreadable objects look absent (R-GET.1).
                let requested_visible = res.targets.iter().any(|t| perms.obj(schema, dm, &t.loc().path, Class::Obj).r);
                if out.is_empty() && !res.search && !requested_visible {
                    return Err(absent());
                }
            }
            PathKind::Parameter => {
                for t in &res.targets {
                    if let Target::Param(loc, idx) = t {
                        if let Some(v) = perms.visible_value(schema, dm, loc, *idx) {
                            let name = schema.obj(loc.def).params[*idx].name.clone();
                            out.push(get_resp::ResolvedPathResult {
                                resolved_path: loc.path.clone(),
                                result_params: BTreeMap::from([(name, v)]),
                            });
                        }
                    }
                }
                if out.is_empty() && !res.search {
                    return Err(absent());
                }
            }
            PathKind::Command | PathKind::Event => {
                return Err(err(7026, "Get takes object and parameter paths, not commands or events"));
            }
        }
        if out.len() > budget {
            return Err(too_many());
        }
        Ok(out)
    }

    pub(super) fn handle_get_instances(&self, caller: &Caller, gi: &usp::GetInstances) -> Msg {
        let results = gi
            .obj_paths
            .iter()
            .map(|p| {
                let mut r = get_instances_resp::RequestedPathResult { requested_path: p.clone(), ..Default::default() };
                match self.get_instances_one(caller, p, gi.first_level_only) {
                    Ok(insts) => r.curr_insts = insts,
                    Err(e) => {
                        r.err_code = e.code;
                        r.err_msg = e.msg;
                    }
                }
                r
            })
            .collect();
        reply(
            &caller.msg_id,
            MsgType::GetInstancesResp,
            RespType::GetInstancesResp(usp::GetInstancesResp { req_path_results: results }),
        )
    }

    fn get_instances_one(
        &self,
        caller: &Caller,
        path: &str,
        first_level_only: bool,
    ) -> Result<Vec<get_instances_resp::CurrInstance>, UspErr> {
        let (schema, dm, perms) = (&self.schema, &self.dm, &caller.perms);
        let parsed = resolve::parse(path)?;
        if parsed.kind() != PathKind::Object {
            return Err(err(7026, "GetInstances takes object paths"));
        }
        let can_read = |p: &str, _d: ObjId, n: &str| perms.read_param(schema, dm, p, n);
        let res = resolve::resolve(schema, dm, &parsed, &can_read)?;
        if res.targets.is_empty() && !res.search {
            return Err(err(7026, format!("{path} does not exist")));
        }
        let mut rows = Vec::new();
        for t in &res.targets {
            match t {
                Target::Table(t) => {
                    for r in dm.rows(&t.path) {
                        let row = Loc::new(r, t.def);
                        rows.push(row.clone());
                        if !first_level_only {
                            dm.rows_below(schema, &row, false, &mut rows);
                        }
                    }
                }
                Target::Obj(l) => {
                    if is_row_path(&l.path) && schema.obj(l.def).multi {
                        rows.push(l.clone());
                    }
                    dm.rows_below(schema, l, first_level_only, &mut rows);
                }
                _ => {}
            }
            if rows.len() > MAX_RESOLVED {
                return Err(err(7005, "too many instances"));
            }
        }
        Ok(rows
            .into_iter()
            .filter(|r| perms.obj(schema, dm, &r.path, Class::InstObj).r)
            .map(|r| {
                let mut unique_keys = BTreeMap::new();
                for k in schema.obj(r.def).key_params() {
                    if let Some(idx) = schema.obj(r.def).param_index(k) {
                        if let Some(v) = perms.visible_value(schema, dm, &r, idx) {
                            unique_keys.insert(k.to_owned(), v);
                        }
                    }
                }
                get_instances_resp::CurrInstance { instantiated_obj_path: r.path, unique_keys }
            })
            .collect())
    }

    pub(super) fn handle_get_supported_dm(&self, caller: &Caller, g: &usp::GetSupportedDm) -> Msg {
        let results = g
            .obj_paths
            .iter()
            .map(|p| {
                let mut r = gsdm::RequestedObjectResult {
                    req_obj_path: p.clone(),
                    data_model_inst_uri: DATA_MODEL_URI.to_owned(),
                    ..Default::default()
                };
                match self.supported_one(caller, p, g) {
                    Ok(objs) => r.supported_objs = objs,
                    Err(e) => {
                        r.err_code = e.code;
                        r.err_msg = e.msg;
                        r.data_model_inst_uri.clear();
                    }
                }
                r
            })
            .collect();
        reply(
            &caller.msg_id,
            MsgType::GetSupportedDmResp,
            RespType::GetSupportedDmResp(usp::GetSupportedDmResp { req_obj_results: results }),
        )
    }

    fn supported_one(
        &self,
        caller: &Caller,
        path: &str,
        g: &usp::GetSupportedDm,
    ) -> Result<Vec<gsdm::SupportedObjectResult>, UspErr> {
        let schema = &self.schema;
        let parsed = resolve::parse(path)?;
        let invalid = || err(7026, format!("{path} is not in the supported data model"));
        // Walk the schema; instance numbers, `*` and `{i}` all mean "a row of this table".
        let segs = parsed.segments();
        let kind = parsed.kind();
        let mut cur = ROOT;
        let mut leaf: Option<&str> = None;
        for (i, seg) in segs.iter().enumerate().skip(1) {
            let last = i + 1 == segs.len();
            match seg {
                Segment::Name(n) if last && kind != PathKind::Object => leaf = Some(n.as_str()),
                Segment::Name(n) => cur = schema.child(cur, n).ok_or_else(invalid)?,
                Segment::Instance(_) | Segment::Wildcard | Segment::Placeholder | Segment::Search(_) => {
                    if !schema.obj(cur).multi {
                        return Err(invalid());
                    }
                }
                Segment::Reference { .. } => return Err(invalid()),
            }
        }
        let objs: Vec<ObjId> = match kind {
            PathKind::Object if g.first_level_only => {
                std::iter::once(cur).chain(schema.obj(cur).children.iter().copied()).collect()
            }
            PathKind::Object => schema.subtree(cur),
            _ => vec![cur],
        };
        if let Some(name) = leaf {
            let d = schema.obj(cur);
            let exists = match kind {
                PathKind::Parameter => d.param(name).is_some(),
                PathKind::Command => d.command(name).is_some(),
                PathKind::Event => d.event(name).is_some(),
                PathKind::Object => true,
            };
            if !exists {
                return Err(invalid());
            }
        }
        let out: Vec<_> = objs.into_iter().filter_map(|id| self.supported_obj(caller, id, g, kind, leaf)).collect();
        if out.is_empty() {
            // Nothing readable looks like nothing at all.
            return Err(invalid());
        }
        Ok(out)
    }

    /// One SupportedObjectResult, or None when the controller can read nothing of it.
    fn supported_obj(
        &self,
        caller: &Caller,
        id: ObjId,
        g: &usp::GetSupportedDm,
        kind: PathKind,
        leaf: Option<&str>,
    ) -> Option<gsdm::SupportedObjectResult> {
        let (schema, dm, perms) = (&self.schema, &self.dm, &caller.perms);
        let d = schema.obj(id);
        let sp = d.path.as_str();
        let only_leaf = |k: PathKind, name: &str| leaf.is_none() || (kind == k && leaf == Some(name));
        let params: Vec<gsdm::SupportedParamResult> = d
            .params
            .iter()
            .filter(|p| only_leaf(PathKind::Parameter, &p.name))
            .filter_map(|p| {
                let bits = perms.param(schema, dm, sp, &p.name);
                bits.r.then(|| gsdm::SupportedParamResult {
                    param_name: p.name.clone(),
                    access: if p.writable && bits.w {
                        ParamAccessType::ParamReadWrite
                    } else {
                        ParamAccessType::ParamReadOnly
                    } as i32,
                    value_type: value_type(p.ty) as i32,
                    value_change: if p.volatile {
                        ValueChangeType::ValueChangeWillIgnore
                    } else {
                        ValueChangeType::ValueChangeAllowed
                    } as i32,
                })
            })
            .collect();
        let commands: Vec<gsdm::SupportedCommandResult> = d
            .commands
            .iter()
            .filter(|c| only_leaf(PathKind::Command, c.name))
            .filter(|c| perms.command(schema, dm, sp, c.name).r)
            .map(|c| gsdm::SupportedCommandResult {
                command_name: format!("{}()", c.name),
                input_arg_names: c.inputs.iter().map(|a| a.name.to_owned()).collect(),
                output_arg_names: c.outputs.iter().map(|o| (*o).to_owned()).collect(),
                command_type: if c.is_async { CmdType::CmdAsync } else { CmdType::CmdSync } as i32,
            })
            .collect();
        let events: Vec<gsdm::SupportedEventResult> = d
            .events
            .iter()
            .filter(|e| only_leaf(PathKind::Event, e.name))
            .filter(|e| perms.event(schema, dm, sp, e.name).r)
            .map(|e| gsdm::SupportedEventResult {
                event_name: format!("{}!", e.name),
                arg_names: e.args.iter().map(|a| (*a).to_owned()).collect(),
            })
            .collect();
        let obj_bits = perms.obj(schema, dm, sp, Class::Obj);
        if !obj_bits.r && params.is_empty() && commands.is_empty() && events.is_empty() {
            return None;
        }
        let inst_bits = perms.obj(schema, dm, sp, Class::InstObj);
        let access = match (d.multi && d.access == TableAccess::AddDelete, obj_bits.w, inst_bits.w) {
            (true, true, true) => ObjAccessType::ObjAddDelete,
            (true, true, false) => ObjAccessType::ObjAddOnly,
            (true, false, true) => ObjAccessType::ObjDeleteOnly,
            _ => ObjAccessType::ObjReadOnly,
        };
        Some(gsdm::SupportedObjectResult {
            supported_obj_path: d.path.clone(),
            access: access as i32,
            is_multi_instance: d.multi,
            supported_commands: if g.return_commands { commands } else { Vec::new() },
            supported_events: if g.return_events { events } else { Vec::new() },
            supported_params: if g.return_params { params } else { Vec::new() },
            divergent_paths: Vec::new(),
            unique_key_sets: if g.return_unique_key_sets && d.multi {
                d.keys
                    .iter()
                    .map(|k| gsdm::SupportedUniqueKeySet { key_names: k.iter().map(|s| (*s).to_owned()).collect() })
                    .collect()
            } else {
                Vec::new()
            },
        })
    }
}

fn value_type(ty: Ty) -> ParamValueType {
    match ty {
        Ty::Bool => ParamValueType::ParamBoolean,
        Ty::Int(..) => ParamValueType::ParamInt,
        Ty::UInt(..) => ParamValueType::ParamUnsignedInt,
        Ty::ULong => ParamValueType::ParamUnsignedLong,
        Ty::Decimal => ParamValueType::ParamDecimal,
        Ty::DateTime => ParamValueType::ParamDateTime,
        Ty::Base64(_) => ParamValueType::ParamBase64,
        Ty::Str(..) | Ty::List(_) | Ty::Enum(_) | Ty::EnumList(_) | Ty::Mac | Ty::Ref(..) | Ty::Rwxn | Ty::HhMm => {
            ParamValueType::ParamString
        }
    }
}
