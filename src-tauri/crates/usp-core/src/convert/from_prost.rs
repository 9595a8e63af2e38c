//! prost messages (`usp-proto`'s types) as our requests, notifications and responses; an
//! empty required `oneof` is a [`ConvertError`].

use super::*;

pub(super) fn settings_from<I: IntoIterator<Item = (String, String, bool)>>(v: I) -> Vec<ParamSetting> {
    v.into_iter().map(|(param, value, required)| ParamSetting { param: t(param), value: t(value), required }).collect()
}

pub(super) fn req_from_pb(r: pb::request::ReqType) -> R<Request> {
    use pb::request::ReqType as P;
    Ok(match r {
        P::Get(g) => Request::Get(Get { param_paths: tt(g.param_paths), max_depth: g.max_depth }),
        P::GetSupportedDm(g) => Request::GetSupportedDm(GetSupportedDm {
            obj_paths: tt(g.obj_paths),
            first_level_only: g.first_level_only,
            return_commands: g.return_commands,
            return_events: g.return_events,
            return_params: g.return_params,
            return_unique_key_sets: g.return_unique_key_sets,
        }),
        P::GetInstances(g) => {
            Request::GetInstances(GetInstances { obj_paths: tt(g.obj_paths), first_level_only: g.first_level_only })
        }
        P::Set(x) => Request::Set(Set {
            allow_partial: x.allow_partial,
            update_objs: x
                .update_objs
                .into_iter()
                .map(|u| UpdateObject {
                    obj_path: t(u.obj_path),
                    param_settings: settings_from(u.param_settings.into_iter().map(|p| (p.param, p.value, p.required))),
                })
                .collect(),
        }),
        P::Add(x) => Request::Add(Add {
            allow_partial: x.allow_partial,
            create_objs: x
                .create_objs
                .into_iter()
                .map(|c| CreateObject {
                    obj_path: t(c.obj_path),
                    param_settings: settings_from(c.param_settings.into_iter().map(|p| (p.param, p.value, p.required))),
                })
                .collect(),
        }),
        P::Delete(d) => Request::Delete(Delete { allow_partial: d.allow_partial, obj_paths: tt(d.obj_paths) }),
        P::Operate(o) => Request::Operate(Operate {
            command: t(o.command),
            command_key: t(o.command_key),
            send_resp: o.send_resp,
            input_args: params(o.input_args),
        }),
        P::Notify(n) => Request::Notify(notify_from_pb(n)?),
        P::GetSupportedProtocol(g) => Request::GetSupportedProtocol(GetSupportedProtocol {
            controller_supported_protocol_versions: t(g.controller_supported_protocol_versions),
        }),
        P::Register(r) => Request::Register(Register {
            allow_partial: r.allow_partial,
            reg_paths: r.reg_paths.into_iter().map(|p| t(p.path)).collect(),
        }),
        P::Deregister(d) => Request::Deregister(Deregister { paths: tt(d.paths) }),
    })
}

pub(super) fn notify_from_pb(n: pb::Notify) -> R<Notify> {
    use pb::notify::Notification as P;
    let notification = match n.notification.ok_or(ConvertError("Notify.notification"))? {
        P::Event(e) => Notification::Event(Event {
            obj_path: t(e.obj_path),
            event_name: t(e.event_name),
            params: params(e.params),
        }),
        P::ValueChange(v) => {
            Notification::ValueChange(ValueChangeNotif { param_path: t(v.param_path), param_value: t(v.param_value) })
        }
        P::ObjCreation(o) => {
            Notification::ObjCreation(ObjectCreation { obj_path: t(o.obj_path), unique_keys: params(o.unique_keys) })
        }
        P::ObjDeletion(o) => Notification::ObjDeletion(ObjectDeletion { obj_path: t(o.obj_path) }),
        P::OperComplete(oc) => {
            use pb::notify::operation_complete::OperationResp as Q;
            let operation_resp =
                match oc.operation_resp.ok_or(ConvertError("Notify.OperationComplete.operation_resp"))? {
                    Q::ReqOutputArgs(a) => OperationCompleteResp::ReqOutputArgs(params(a.output_args)),
                    Q::CmdFailure(f) => OperationCompleteResp::CmdFailure(CommandFailure {
                        err_code: f.err_code,
                        err_msg: t(f.err_msg),
                    }),
                };
            Notification::OperComplete(OperationComplete {
                obj_path: t(oc.obj_path),
                command_name: t(oc.command_name),
                command_key: t(oc.command_key),
                operation_resp,
            })
        }
        P::OnBoardReq(o) => Notification::OnBoardReq(OnBoardRequest {
            oui: t(o.oui),
            product_class: t(o.product_class),
            serial_number: t(o.serial_number),
            agent_supported_protocol_versions: t(o.agent_supported_protocol_versions),
        }),
    };
    Ok(Notify { subscription_id: t(n.subscription_id), send_resp: n.send_resp, notification })
}

pub(super) fn failure(err_code: u32, err_msg: String) -> OperFailure {
    OperFailure { err_code, err_msg: t(err_msg), updated_inst_failures: Vec::new() }
}

pub(super) fn resp_from_pb(r: pb::response::RespType) -> R<Response> {
    use pb::response::RespType as P;
    Ok(match r {
        P::GetResp(g) => Response::GetResp(GetResp {
            req_path_results: g
                .req_path_results
                .into_iter()
                .map(|r| GetRequestedPathResult {
                    requested_path: t(r.requested_path),
                    err_code: r.err_code,
                    err_msg: t(r.err_msg),
                    resolved_path_results: r
                        .resolved_path_results
                        .into_iter()
                        .map(|x| ResolvedPathResult {
                            resolved_path: t(x.resolved_path),
                            result_params: params(x.result_params),
                        })
                        .collect(),
                })
                .collect(),
        }),
        P::GetSupportedDmResp(g) => Response::GetSupportedDmResp(GetSupportedDmResp {
            req_obj_results: g
                .req_obj_results
                .into_iter()
                .map(|r| RequestedObjectResult {
                    req_obj_path: t(r.req_obj_path),
                    err_code: r.err_code,
                    err_msg: t(r.err_msg),
                    data_model_inst_uri: t(r.data_model_inst_uri),
                    supported_objs: r
                        .supported_objs
                        .into_iter()
                        .map(|o| SupportedObjectResult {
                            supported_obj_path: t(o.supported_obj_path),
                            access: o.access,
                            is_multi_instance: o.is_multi_instance,
                            supported_commands: o
                                .supported_commands
                                .into_iter()
                                .map(|c| SupportedCommandResult {
                                    command_name: t(c.command_name),
                                    input_arg_names: tt(c.input_arg_names),
                                    output_arg_names: tt(c.output_arg_names),
                                    command_type: c.command_type,
                                })
                                .collect(),
                            supported_events: o
                                .supported_events
                                .into_iter()
                                .map(|e| SupportedEventResult {
                                    event_name: t(e.event_name),
                                    arg_names: tt(e.arg_names),
                                })
                                .collect(),
                            supported_params: o
                                .supported_params
                                .into_iter()
                                .map(|p| SupportedParamResult {
                                    param_name: t(p.param_name),
                                    access: p.access,
                                    value_type: p.value_type,
                                    value_change: p.value_change,
                                })
                                .collect(),
                            divergent_paths: tt(o.divergent_paths),
                            unique_key_sets: o
                                .unique_key_sets
                                .into_iter()
                                .map(|u| SupportedUniqueKeySet { key_names: tt(u.key_names) })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }),
        P::GetInstancesResp(g) => Response::GetInstancesResp(GetInstancesResp {
            req_path_results: g
                .req_path_results
                .into_iter()
                .map(|r| InstancesRequestedPathResult {
                    requested_path: t(r.requested_path),
                    err_code: r.err_code,
                    err_msg: t(r.err_msg),
                    curr_insts: r
                        .curr_insts
                        .into_iter()
                        .map(|c| CurrInstance {
                            instantiated_obj_path: t(c.instantiated_obj_path),
                            unique_keys: params(c.unique_keys),
                        })
                        .collect(),
                })
                .collect(),
        }),
        P::SetResp(r) => {
            use pb::set_resp::updated_object_result::operation_status::OperStatus as Q;
            let pe = |v: Vec<pb::set_resp::ParameterError>| -> Vec<ParameterError> {
                v.into_iter()
                    .map(|p| ParameterError { param: t(p.param), err_code: p.err_code, err_msg: t(p.err_msg) })
                    .collect()
            };
            let mut out = Vec::with_capacity(r.updated_obj_results.len());
            for u in r.updated_obj_results {
                let st = u
                    .oper_status
                    .and_then(|s| s.oper_status)
                    .ok_or(ConvertError("SetResp.UpdatedObjectResult.oper_status"))?;
                let oper_status = match st {
                    Q::OperFailure(f) => OperStatus::Failure(OperFailure {
                        err_code: f.err_code,
                        err_msg: t(f.err_msg),
                        updated_inst_failures: f
                            .updated_inst_failures
                            .into_iter()
                            .map(|x| UpdatedInstanceFailure {
                                affected_path: t(x.affected_path),
                                param_errs: pe(x.param_errs),
                            })
                            .collect(),
                    }),
                    Q::OperSuccess(ok) => OperStatus::Success(SetSuccess {
                        updated_inst_results: ok
                            .updated_inst_results
                            .into_iter()
                            .map(|x| UpdatedInstanceResult {
                                affected_path: t(x.affected_path),
                                param_errs: pe(x.param_errs),
                                updated_params: params(x.updated_params),
                            })
                            .collect(),
                    }),
                };
                out.push(UpdatedObjectResult { requested_path: t(u.requested_path), oper_status });
            }
            Response::SetResp(SetResp { updated_obj_results: out })
        }
        P::AddResp(r) => {
            use pb::add_resp::created_object_result::operation_status::OperStatus as Q;
            let mut out = Vec::with_capacity(r.created_obj_results.len());
            for c in r.created_obj_results {
                let st = c
                    .oper_status
                    .and_then(|s| s.oper_status)
                    .ok_or(ConvertError("AddResp.CreatedObjectResult.oper_status"))?;
                let oper_status = match st {
                    Q::OperFailure(f) => OperStatus::Failure(failure(f.err_code, f.err_msg)),
                    Q::OperSuccess(ok) => OperStatus::Success(AddSuccess {
                        instantiated_path: t(ok.instantiated_path),
                        param_errs: ok
                            .param_errs
                            .into_iter()
                            .map(|p| ParameterError { param: t(p.param), err_code: p.err_code, err_msg: t(p.err_msg) })
                            .collect(),
                        unique_keys: params(ok.unique_keys),
                    }),
                };
                out.push(CreatedObjectResult { requested_path: t(c.requested_path), oper_status });
            }
            Response::AddResp(AddResp { created_obj_results: out })
        }
        P::DeleteResp(r) => {
            use pb::delete_resp::deleted_object_result::operation_status::OperStatus as Q;
            let mut out = Vec::with_capacity(r.deleted_obj_results.len());
            for d in r.deleted_obj_results {
                let st = d
                    .oper_status
                    .and_then(|s| s.oper_status)
                    .ok_or(ConvertError("DeleteResp.DeletedObjectResult.oper_status"))?;
                let oper_status = match st {
                    Q::OperFailure(f) => OperStatus::Failure(failure(f.err_code, f.err_msg)),
                    Q::OperSuccess(ok) => OperStatus::Success(DeleteSuccess {
                        affected_paths: tt(ok.affected_paths),
                        unaffected_path_errs: ok
                            .unaffected_path_errs
                            .into_iter()
                            .map(|u| UnaffectedPathError {
                                unaffected_path: t(u.unaffected_path),
                                err_code: u.err_code,
                                err_msg: t(u.err_msg),
                            })
                            .collect(),
                    }),
                };
                out.push(DeletedObjectResult { requested_path: t(d.requested_path), oper_status });
            }
            Response::DeleteResp(DeleteResp { deleted_obj_results: out })
        }
        P::OperateResp(r) => {
            use pb::operate_resp::operation_result::OperationResp as Q;
            let mut out = Vec::with_capacity(r.operation_results.len());
            for o in r.operation_results {
                let operation_resp =
                    match o.operation_resp.ok_or(ConvertError("OperateResp.OperationResult.operation_resp"))? {
                        Q::ReqObjPath(p) => OperationResp::ReqObjPath(t(p)),
                        Q::ReqOutputArgs(a) => OperationResp::ReqOutputArgs(params(a.output_args)),
                        Q::CmdFailure(f) => {
                            OperationResp::CmdFailure(CommandFailure { err_code: f.err_code, err_msg: t(f.err_msg) })
                        }
                    };
                out.push(OperationResult { executed_command: t(o.executed_command), operation_resp });
            }
            Response::OperateResp(OperateResp { operation_results: out })
        }
        P::NotifyResp(n) => Response::NotifyResp(NotifyResp { subscription_id: t(n.subscription_id) }),
        P::GetSupportedProtocolResp(g) => Response::GetSupportedProtocolResp(GetSupportedProtocolResp {
            agent_supported_protocol_versions: t(g.agent_supported_protocol_versions),
        }),
        P::RegisterResp(r) => {
            use pb::register_resp::registered_path_result::operation_status::OperStatus as Q;
            let mut out = Vec::with_capacity(r.registered_path_results.len());
            for x in r.registered_path_results {
                let st = x
                    .oper_status
                    .and_then(|s| s.oper_status)
                    .ok_or(ConvertError("RegisterResp.RegisteredPathResult.oper_status"))?;
                let oper_status = match st {
                    Q::OperFailure(f) => OperStatus::Failure(failure(f.err_code, f.err_msg)),
                    Q::OperSuccess(ok) => OperStatus::Success(t(ok.registered_path)),
                };
                out.push(RegisteredPathResult { requested_path: t(x.requested_path), oper_status });
            }
            Response::RegisterResp(RegisterResp { registered_path_results: out })
        }
        P::DeregisterResp(r) => {
            use pb::deregister_resp::deregistered_path_result::operation_status::OperStatus as Q;
            let mut out = Vec::with_capacity(r.deregistered_path_results.len());
            for x in r.deregistered_path_results {
                let st = x
                    .oper_status
                    .and_then(|s| s.oper_status)
                    .ok_or(ConvertError("DeregisterResp.DeregisteredPathResult.oper_status"))?;
                let oper_status = match st {
                    Q::OperFailure(f) => OperStatus::Failure(failure(f.err_code, f.err_msg)),
                    Q::OperSuccess(ok) => OperStatus::Success(tt(ok.deregistered_path)),
                };
                out.push(DeregisteredPathResult { requested_path: t(x.requested_path), oper_status });
            }
            Response::DeregisterResp(DeregisterResp { deregistered_path_results: out })
        }
    })
}
