//! The traversal of a Msg for the [`Sink`]s: the header, the body, and every request,
//! notification and response.

use super::*;

pub(super) fn enc_msg<S: Sink>(s: &mut S, m: &Msg) {
    let msg_type = match m.msg_type {
        Ok(t) => t.number(),
        Err(n) => n,
    };
    s.msg(0x0a, |s| {
        s.str(0x0a, &m.msg_id);
        s.enum_i32(0x10, msg_type);
    });
    s.msg(0x12, |s| match &m.body {
        Body::Request(r) => s.msg(0x0a, |s| enc_request(s, r)),
        Body::Response(r) => s.msg(0x12, |s| enc_response(s, r)),
        Body::Error(e) => s.msg(0x1a, |s| {
            s.fx32(0x0d, e.err_code);
            s.str(0x12, &e.err_msg);
            for pe in &e.param_errs {
                s.msg(0x1a, |s| {
                    s.str(0x0a, &pe.param_path);
                    s.fx32(0x15, pe.err_code);
                    s.str(0x1a, &pe.err_msg);
                });
            }
        }),
    });
}

pub(super) fn enc_request<S: Sink>(s: &mut S, r: &Request) {
    match r {
        Request::Get(g) => s.msg(0x0a, |s| {
            s.strs(0x0a, &g.param_paths);
            s.fx32(0x15, g.max_depth);
        }),
        Request::GetSupportedDm(g) => s.msg(0x12, |s| {
            s.strs(0x0a, &g.obj_paths);
            s.bool(0x10, g.first_level_only);
            s.bool(0x18, g.return_commands);
            s.bool(0x20, g.return_events);
            s.bool(0x28, g.return_params);
            s.bool(0x30, g.return_unique_key_sets);
        }),
        Request::GetInstances(g) => s.msg(0x1a, |s| {
            s.strs(0x0a, &g.obj_paths);
            s.bool(0x10, g.first_level_only);
        }),
        Request::Set(set) => s.msg(0x22, |s| {
            s.bool(0x08, set.allow_partial);
            for uo in &set.update_objs {
                s.msg(0x12, |s| {
                    s.str(0x0a, &uo.obj_path);
                    for ps in &uo.param_settings {
                        s.msg(0x12, |s| enc_param_setting(s, ps));
                    }
                });
            }
        }),
        Request::Add(add) => s.msg(0x2a, |s| {
            s.bool(0x08, add.allow_partial);
            for co in &add.create_objs {
                s.msg(0x12, |s| {
                    s.str(0x0a, &co.obj_path);
                    for ps in &co.param_settings {
                        s.msg(0x12, |s| enc_param_setting(s, ps));
                    }
                });
            }
        }),
        Request::Delete(d) => s.msg(0x32, |s| {
            s.bool(0x08, d.allow_partial);
            s.strs(0x12, &d.obj_paths);
        }),
        Request::Operate(o) => s.msg(0x3a, |s| {
            s.str(0x0a, &o.command);
            s.str(0x12, &o.command_key);
            s.bool(0x18, o.send_resp);
            s.map(0x22, &o.input_args);
        }),
        Request::Notify(n) => s.msg(0x42, |s| enc_notify(s, n)),
        Request::GetSupportedProtocol(g) => s.msg(0x4a, |s| {
            s.str(0x0a, &g.controller_supported_protocol_versions);
        }),
        Request::Register(r) => s.msg(0x52, |s| {
            s.bool(0x08, r.allow_partial);
            for p in &r.reg_paths {
                s.msg(0x12, |s| s.str(0x0a, p));
            }
        }),
        Request::Deregister(d) => s.msg(0x5a, |s| s.strs(0x0a, &d.paths)),
    }
}

#[inline(always)]
pub(super) fn enc_param_setting<S: Sink>(s: &mut S, ps: &ParamSetting) {
    s.str(0x0a, &ps.param);
    s.str(0x12, &ps.value);
    s.bool(0x18, ps.required);
}

#[inline(always)]
pub(super) fn enc_parameter_error<S: Sink>(s: &mut S, pe: &ParameterError) {
    s.str(0x0a, &pe.param);
    s.fx32(0x15, pe.err_code);
    s.str(0x1a, &pe.err_msg);
}

pub(super) fn enc_notify<S: Sink>(s: &mut S, n: &Notify) {
    s.str(0x0a, &n.subscription_id);
    s.bool(0x10, n.send_resp);
    match &n.notification {
        Notification::Event(e) => s.msg(0x1a, |s| {
            s.str(0x0a, &e.obj_path);
            s.str(0x12, &e.event_name);
            s.map(0x1a, &e.params);
        }),
        Notification::ValueChange(v) => s.msg(0x22, |s| {
            s.str(0x0a, &v.param_path);
            s.str(0x12, &v.param_value);
        }),
        Notification::ObjCreation(o) => s.msg(0x2a, |s| {
            s.str(0x0a, &o.obj_path);
            s.map(0x12, &o.unique_keys);
        }),
        Notification::ObjDeletion(o) => s.msg(0x32, |s| s.str(0x0a, &o.obj_path)),
        Notification::OperComplete(oc) => s.msg(0x3a, |s| {
            s.str(0x0a, &oc.obj_path);
            s.str(0x12, &oc.command_name);
            s.str(0x1a, &oc.command_key);
            match &oc.operation_resp {
                OperationCompleteResp::ReqOutputArgs(a) => s.msg(0x22, |s| s.map(0x0a, a)),
                OperationCompleteResp::CmdFailure(f) => s.msg(0x2a, |s| {
                    s.fx32(0x0d, f.err_code);
                    s.str(0x12, &f.err_msg);
                }),
            }
        }),
        Notification::OnBoardReq(o) => s.msg(0x42, |s| {
            s.str(0x0a, &o.oui);
            s.str(0x12, &o.product_class);
            s.str(0x1a, &o.serial_number);
            s.str(0x22, &o.agent_supported_protocol_versions);
        }),
    }
}

/// `OperationStatus` (field 2 of every `*ObjectResult`/`*PathResult` with a status).
/// `inst_failures`: SetResp's failure carries `updated_inst_failures` (field 3).
#[inline(always)]
pub(super) fn enc_oper_status<S: Sink, T>(
    s: &mut S,
    st: &OperStatus<T>,
    inst_failures: bool,
    success: impl FnOnce(&mut S, &T),
) {
    s.msg(0x12, |s| match st {
        OperStatus::Failure(f) => s.msg(0x0a, |s| {
            s.fx32(0x0d, f.err_code);
            s.str(0x12, &f.err_msg);
            if inst_failures {
                for uf in &f.updated_inst_failures {
                    s.msg(0x1a, |s| {
                        s.str(0x0a, &uf.affected_path);
                        for pe in &uf.param_errs {
                            s.msg(0x12, |s| enc_parameter_error(s, pe));
                        }
                    });
                }
            }
        }),
        OperStatus::Success(v) => s.msg(0x12, |s| success(s, v)),
    });
}

pub(super) fn enc_response<S: Sink>(s: &mut S, r: &Response) {
    match r {
        Response::GetResp(g) => s.msg(0x0a, |s| {
            for rpr in &g.req_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &rpr.requested_path);
                    s.fx32(0x15, rpr.err_code);
                    s.str(0x1a, &rpr.err_msg);
                    for res in &rpr.resolved_path_results {
                        s.msg(0x22, |s| {
                            s.str(0x0a, &res.resolved_path);
                            s.map(0x12, &res.result_params);
                        });
                    }
                });
            }
        }),
        Response::GetSupportedDmResp(g) => s.msg(0x12, |s| {
            for ro in &g.req_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &ro.req_obj_path);
                    s.fx32(0x15, ro.err_code);
                    s.str(0x1a, &ro.err_msg);
                    s.str(0x22, &ro.data_model_inst_uri);
                    for so in &ro.supported_objs {
                        s.msg(0x2a, |s| enc_supported_obj(s, so));
                    }
                });
            }
        }),
        Response::GetInstancesResp(g) => s.msg(0x1a, |s| {
            for rpr in &g.req_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &rpr.requested_path);
                    s.fx32(0x15, rpr.err_code);
                    s.str(0x1a, &rpr.err_msg);
                    for ci in &rpr.curr_insts {
                        s.msg(0x22, |s| {
                            s.str(0x0a, &ci.instantiated_obj_path);
                            s.map(0x12, &ci.unique_keys);
                        });
                    }
                });
            }
        }),
        Response::SetResp(r) => s.msg(0x22, |s| {
            for uo in &r.updated_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &uo.requested_path);
                    enc_oper_status(s, &uo.oper_status, true, |s, ok: &SetSuccess| {
                        for ur in &ok.updated_inst_results {
                            s.msg(0x0a, |s| {
                                s.str(0x0a, &ur.affected_path);
                                for pe in &ur.param_errs {
                                    s.msg(0x12, |s| enc_parameter_error(s, pe));
                                }
                                s.map(0x1a, &ur.updated_params);
                            });
                        }
                    });
                });
            }
        }),
        Response::AddResp(r) => s.msg(0x2a, |s| {
            for co in &r.created_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &co.requested_path);
                    enc_oper_status(s, &co.oper_status, false, |s, ok: &AddSuccess| {
                        s.str(0x0a, &ok.instantiated_path);
                        for pe in &ok.param_errs {
                            s.msg(0x12, |s| enc_parameter_error(s, pe));
                        }
                        s.map(0x1a, &ok.unique_keys);
                    });
                });
            }
        }),
        Response::DeleteResp(r) => s.msg(0x32, |s| {
            for d in &r.deleted_obj_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &d.requested_path);
                    enc_oper_status(s, &d.oper_status, false, |s, ok: &DeleteSuccess| {
                        s.strs(0x0a, &ok.affected_paths);
                        for u in &ok.unaffected_path_errs {
                            s.msg(0x12, |s| {
                                s.str(0x0a, &u.unaffected_path);
                                s.fx32(0x15, u.err_code);
                                s.str(0x1a, &u.err_msg);
                            });
                        }
                    });
                });
            }
        }),
        Response::OperateResp(r) => s.msg(0x3a, |s| {
            for or in &r.operation_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &or.executed_command);
                    match &or.operation_resp {
                        OperationResp::ReqObjPath(p) => s.ld(0x12, p.as_bytes()),
                        OperationResp::ReqOutputArgs(a) => s.msg(0x1a, |s| s.map(0x0a, a)),
                        OperationResp::CmdFailure(f) => s.msg(0x22, |s| {
                            s.fx32(0x0d, f.err_code);
                            s.str(0x12, &f.err_msg);
                        }),
                    }
                });
            }
        }),
        Response::NotifyResp(n) => s.msg(0x42, |s| s.str(0x0a, &n.subscription_id)),
        Response::GetSupportedProtocolResp(g) => s.msg(0x4a, |s| {
            s.str(0x0a, &g.agent_supported_protocol_versions);
        }),
        Response::RegisterResp(r) => s.msg(0x52, |s| {
            for rp in &r.registered_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &rp.requested_path);
                    enc_oper_status(s, &rp.oper_status, false, |s, path: &Text| s.str(0x0a, path));
                });
            }
        }),
        Response::DeregisterResp(r) => s.msg(0x5a, |s| {
            for dp in &r.deregistered_path_results {
                s.msg(0x0a, |s| {
                    s.str(0x0a, &dp.requested_path);
                    enc_oper_status(s, &dp.oper_status, false, |s, paths: &Vec<Text>| s.strs(0x0a, paths));
                });
            }
        }),
    }
}

pub(super) fn enc_supported_obj<S: Sink>(s: &mut S, so: &SupportedObjectResult) {
    s.str(0x0a, &so.supported_obj_path);
    s.enum_i32(0x10, so.access);
    s.bool(0x18, so.is_multi_instance);
    for c in &so.supported_commands {
        s.msg(0x22, |s| {
            s.str(0x0a, &c.command_name);
            s.strs(0x12, &c.input_arg_names);
            s.strs(0x1a, &c.output_arg_names);
            s.enum_i32(0x20, c.command_type);
        });
    }
    for e in &so.supported_events {
        s.msg(0x2a, |s| {
            s.str(0x0a, &e.event_name);
            s.strs(0x12, &e.arg_names);
        });
    }
    for p in &so.supported_params {
        s.msg(0x32, |s| {
            s.str(0x0a, &p.param_name);
            s.enum_i32(0x10, p.access);
            s.enum_i32(0x18, p.value_type);
            s.enum_i32(0x20, p.value_change);
        });
    }
    s.strs(0x3a, &so.divergent_paths);
    for u in &so.unique_key_sets {
        s.msg(0x42, |s| s.strs(0x0a, &u.key_names));
    }
}
