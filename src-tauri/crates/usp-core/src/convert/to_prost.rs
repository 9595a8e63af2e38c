//! Our requests, notifications and responses as prost messages (`usp-proto`'s types).

use super::*;

pub(super) fn req_to_pb(r: &Request) -> pb::request::ReqType {
    use pb::request::ReqType as P;
    match r {
        Request::Get(g) => P::Get(pb::Get { param_paths: ss(&g.param_paths), max_depth: g.max_depth }),
        Request::GetSupportedDm(g) => P::GetSupportedDm(pb::GetSupportedDm {
            obj_paths: ss(&g.obj_paths),
            first_level_only: g.first_level_only,
            return_commands: g.return_commands,
            return_events: g.return_events,
            return_params: g.return_params,
            return_unique_key_sets: g.return_unique_key_sets,
        }),
        Request::GetInstances(g) => {
            P::GetInstances(pb::GetInstances { obj_paths: ss(&g.obj_paths), first_level_only: g.first_level_only })
        }
        Request::Set(x) => P::Set(pb::Set {
            allow_partial: x.allow_partial,
            update_objs: x
                .update_objs
                .iter()
                .map(|u| pb::set::UpdateObject {
                    obj_path: s(&u.obj_path),
                    param_settings: u
                        .param_settings
                        .iter()
                        .map(|p| pb::set::UpdateParamSetting {
                            param: s(&p.param),
                            value: s(&p.value),
                            required: p.required,
                        })
                        .collect(),
                })
                .collect(),
        }),
        Request::Add(x) => P::Add(pb::Add {
            allow_partial: x.allow_partial,
            create_objs: x
                .create_objs
                .iter()
                .map(|c| pb::add::CreateObject {
                    obj_path: s(&c.obj_path),
                    param_settings: c
                        .param_settings
                        .iter()
                        .map(|p| pb::add::CreateParamSetting {
                            param: s(&p.param),
                            value: s(&p.value),
                            required: p.required,
                        })
                        .collect(),
                })
                .collect(),
        }),
        Request::Delete(d) => P::Delete(pb::Delete { allow_partial: d.allow_partial, obj_paths: ss(&d.obj_paths) }),
        Request::Operate(o) => P::Operate(pb::Operate {
            command: s(&o.command),
            command_key: s(&o.command_key),
            send_resp: o.send_resp,
            input_args: map(&o.input_args),
        }),
        Request::Notify(n) => P::Notify(notify_to_pb(n)),
        Request::GetSupportedProtocol(g) => P::GetSupportedProtocol(pb::GetSupportedProtocol {
            controller_supported_protocol_versions: s(&g.controller_supported_protocol_versions),
        }),
        Request::Register(r) => P::Register(pb::Register {
            allow_partial: r.allow_partial,
            reg_paths: r.reg_paths.iter().map(|p| pb::register::RegistrationPath { path: s(p) }).collect(),
        }),
        Request::Deregister(d) => P::Deregister(pb::Deregister { paths: ss(&d.paths) }),
    }
}

pub(super) fn notify_to_pb(n: &Notify) -> pb::Notify {
    use pb::notify as pn;
    use pn::Notification as P;
    let notification = match &n.notification {
        Notification::Event(e) => {
            P::Event(pn::Event { obj_path: s(&e.obj_path), event_name: s(&e.event_name), params: map(&e.params) })
        }
        Notification::ValueChange(v) => {
            P::ValueChange(pn::ValueChange { param_path: s(&v.param_path), param_value: s(&v.param_value) })
        }
        Notification::ObjCreation(o) => {
            P::ObjCreation(pn::ObjectCreation { obj_path: s(&o.obj_path), unique_keys: map(&o.unique_keys) })
        }
        Notification::ObjDeletion(o) => P::ObjDeletion(pn::ObjectDeletion { obj_path: s(&o.obj_path) }),
        Notification::OperComplete(oc) => {
            use pn::operation_complete as poc;
            let operation_resp = match &oc.operation_resp {
                OperationCompleteResp::ReqOutputArgs(a) => {
                    poc::OperationResp::ReqOutputArgs(poc::OutputArgs { output_args: map(a) })
                }
                OperationCompleteResp::CmdFailure(f) => {
                    poc::OperationResp::CmdFailure(poc::CommandFailure { err_code: f.err_code, err_msg: s(&f.err_msg) })
                }
            };
            P::OperComplete(pn::OperationComplete {
                obj_path: s(&oc.obj_path),
                command_name: s(&oc.command_name),
                command_key: s(&oc.command_key),
                operation_resp: Some(operation_resp),
            })
        }
        Notification::OnBoardReq(o) => P::OnBoardReq(pn::OnBoardRequest {
            oui: s(&o.oui),
            product_class: s(&o.product_class),
            serial_number: s(&o.serial_number),
            agent_supported_protocol_versions: s(&o.agent_supported_protocol_versions),
        }),
    };
    pb::Notify { subscription_id: s(&n.subscription_id), send_resp: n.send_resp, notification: Some(notification) }
}

pub(super) fn resp_to_pb(r: &Response) -> pb::response::RespType {
    use pb::response::RespType as P;
    match r {
        Response::GetResp(g) => P::GetResp(pb::GetResp {
            req_path_results: g
                .req_path_results
                .iter()
                .map(|r| pb::get_resp::RequestedPathResult {
                    requested_path: s(&r.requested_path),
                    err_code: r.err_code,
                    err_msg: s(&r.err_msg),
                    resolved_path_results: r
                        .resolved_path_results
                        .iter()
                        .map(|x| pb::get_resp::ResolvedPathResult {
                            resolved_path: s(&x.resolved_path),
                            result_params: map(&x.result_params),
                        })
                        .collect(),
                })
                .collect(),
        }),
        Response::GetSupportedDmResp(g) => {
            use pb::get_supported_dm_resp as q;
            P::GetSupportedDmResp(pb::GetSupportedDmResp {
                req_obj_results: g
                    .req_obj_results
                    .iter()
                    .map(|r| q::RequestedObjectResult {
                        req_obj_path: s(&r.req_obj_path),
                        err_code: r.err_code,
                        err_msg: s(&r.err_msg),
                        data_model_inst_uri: s(&r.data_model_inst_uri),
                        supported_objs: r
                            .supported_objs
                            .iter()
                            .map(|o| q::SupportedObjectResult {
                                supported_obj_path: s(&o.supported_obj_path),
                                access: o.access,
                                is_multi_instance: o.is_multi_instance,
                                supported_commands: o
                                    .supported_commands
                                    .iter()
                                    .map(|c| q::SupportedCommandResult {
                                        command_name: s(&c.command_name),
                                        input_arg_names: ss(&c.input_arg_names),
                                        output_arg_names: ss(&c.output_arg_names),
                                        command_type: c.command_type,
                                    })
                                    .collect(),
                                supported_events: o
                                    .supported_events
                                    .iter()
                                    .map(|e| q::SupportedEventResult {
                                        event_name: s(&e.event_name),
                                        arg_names: ss(&e.arg_names),
                                    })
                                    .collect(),
                                supported_params: o
                                    .supported_params
                                    .iter()
                                    .map(|p| q::SupportedParamResult {
                                        param_name: s(&p.param_name),
                                        access: p.access,
                                        value_type: p.value_type,
                                        value_change: p.value_change,
                                    })
                                    .collect(),
                                divergent_paths: ss(&o.divergent_paths),
                                unique_key_sets: o
                                    .unique_key_sets
                                    .iter()
                                    .map(|u| q::SupportedUniqueKeySet { key_names: ss(&u.key_names) })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
        }
        Response::GetInstancesResp(g) => P::GetInstancesResp(pb::GetInstancesResp {
            req_path_results: g
                .req_path_results
                .iter()
                .map(|r| pb::get_instances_resp::RequestedPathResult {
                    requested_path: s(&r.requested_path),
                    err_code: r.err_code,
                    err_msg: s(&r.err_msg),
                    curr_insts: r
                        .curr_insts
                        .iter()
                        .map(|c| pb::get_instances_resp::CurrInstance {
                            instantiated_obj_path: s(&c.instantiated_obj_path),
                            unique_keys: map(&c.unique_keys),
                        })
                        .collect(),
                })
                .collect(),
        }),
        Response::SetResp(r) => {
            use pb::set_resp as q;
            use q::updated_object_result::{operation_status as os, OperationStatus};
            let pe = |v: &[ParameterError]| -> Vec<q::ParameterError> {
                v.iter()
                    .map(|p| q::ParameterError { param: s(&p.param), err_code: p.err_code, err_msg: s(&p.err_msg) })
                    .collect()
            };
            P::SetResp(pb::SetResp {
                updated_obj_results: r
                    .updated_obj_results
                    .iter()
                    .map(|u| q::UpdatedObjectResult {
                        requested_path: s(&u.requested_path),
                        oper_status: Some(OperationStatus {
                            oper_status: Some(match &u.oper_status {
                                OperStatus::Failure(f) => os::OperStatus::OperFailure(os::OperationFailure {
                                    err_code: f.err_code,
                                    err_msg: s(&f.err_msg),
                                    updated_inst_failures: f
                                        .updated_inst_failures
                                        .iter()
                                        .map(|x| q::UpdatedInstanceFailure {
                                            affected_path: s(&x.affected_path),
                                            param_errs: pe(&x.param_errs),
                                        })
                                        .collect(),
                                }),
                                OperStatus::Success(ok) => os::OperStatus::OperSuccess(os::OperationSuccess {
                                    updated_inst_results: ok
                                        .updated_inst_results
                                        .iter()
                                        .map(|x| q::UpdatedInstanceResult {
                                            affected_path: s(&x.affected_path),
                                            param_errs: pe(&x.param_errs),
                                            updated_params: map(&x.updated_params),
                                        })
                                        .collect(),
                                }),
                            }),
                        }),
                    })
                    .collect(),
            })
        }
        Response::AddResp(r) => {
            use pb::add_resp as q;
            use q::created_object_result::{operation_status as os, OperationStatus};
            P::AddResp(pb::AddResp {
                created_obj_results: r
                    .created_obj_results
                    .iter()
                    .map(|c| q::CreatedObjectResult {
                        requested_path: s(&c.requested_path),
                        oper_status: Some(OperationStatus {
                            oper_status: Some(match &c.oper_status {
                                OperStatus::Failure(f) => os::OperStatus::OperFailure(os::OperationFailure {
                                    err_code: f.err_code,
                                    err_msg: s(&f.err_msg),
                                }),
                                OperStatus::Success(ok) => os::OperStatus::OperSuccess(os::OperationSuccess {
                                    instantiated_path: s(&ok.instantiated_path),
                                    param_errs: ok
                                        .param_errs
                                        .iter()
                                        .map(|p| q::ParameterError {
                                            param: s(&p.param),
                                            err_code: p.err_code,
                                            err_msg: s(&p.err_msg),
                                        })
                                        .collect(),
                                    unique_keys: map(&ok.unique_keys),
                                }),
                            }),
                        }),
                    })
                    .collect(),
            })
        }
        Response::DeleteResp(r) => {
            use pb::delete_resp as q;
            use q::deleted_object_result::{operation_status as os, OperationStatus};
            P::DeleteResp(pb::DeleteResp {
                deleted_obj_results: r
                    .deleted_obj_results
                    .iter()
                    .map(|d| q::DeletedObjectResult {
                        requested_path: s(&d.requested_path),
                        oper_status: Some(OperationStatus {
                            oper_status: Some(match &d.oper_status {
                                OperStatus::Failure(f) => os::OperStatus::OperFailure(os::OperationFailure {
                                    err_code: f.err_code,
                                    err_msg: s(&f.err_msg),
                                }),
                                OperStatus::Success(ok) => os::OperStatus::OperSuccess(os::OperationSuccess {
                                    affected_paths: ss(&ok.affected_paths),
                                    unaffected_path_errs: ok
                                        .unaffected_path_errs
                                        .iter()
                                        .map(|u| q::UnaffectedPathError {
                                            unaffected_path: s(&u.unaffected_path),
                                            err_code: u.err_code,
                                            err_msg: s(&u.err_msg),
                                        })
                                        .collect(),
                                }),
                            }),
                        }),
                    })
                    .collect(),
            })
        }
        Response::OperateResp(r) => {
            use pb::operate_resp::operation_result as q;
            P::OperateResp(pb::OperateResp {
                operation_results: r
                    .operation_results
                    .iter()
                    .map(|o| pb::operate_resp::OperationResult {
                        executed_command: s(&o.executed_command),
                        operation_resp: Some(match &o.operation_resp {
                            OperationResp::ReqObjPath(p) => q::OperationResp::ReqObjPath(s(p)),
                            OperationResp::ReqOutputArgs(a) => {
                                q::OperationResp::ReqOutputArgs(q::OutputArgs { output_args: map(a) })
                            }
                            OperationResp::CmdFailure(f) => q::OperationResp::CmdFailure(q::CommandFailure {
                                err_code: f.err_code,
                                err_msg: s(&f.err_msg),
                            }),
                        }),
                    })
                    .collect(),
            })
        }
        Response::NotifyResp(n) => P::NotifyResp(pb::NotifyResp { subscription_id: s(&n.subscription_id) }),
        Response::GetSupportedProtocolResp(g) => P::GetSupportedProtocolResp(pb::GetSupportedProtocolResp {
            agent_supported_protocol_versions: s(&g.agent_supported_protocol_versions),
        }),
        Response::RegisterResp(r) => {
            use pb::register_resp as q;
            use q::registered_path_result::{operation_status as os, OperationStatus};
            P::RegisterResp(pb::RegisterResp {
                registered_path_results: r
                    .registered_path_results
                    .iter()
                    .map(|x| q::RegisteredPathResult {
                        requested_path: s(&x.requested_path),
                        oper_status: Some(OperationStatus {
                            oper_status: Some(match &x.oper_status {
                                OperStatus::Failure(f) => os::OperStatus::OperFailure(os::OperationFailure {
                                    err_code: f.err_code,
                                    err_msg: s(&f.err_msg),
                                }),
                                OperStatus::Success(p) => {
                                    os::OperStatus::OperSuccess(os::OperationSuccess { registered_path: s(p) })
                                }
                            }),
                        }),
                    })
                    .collect(),
            })
        }
        Response::DeregisterResp(r) => {
            use pb::deregister_resp as q;
            use q::deregistered_path_result::{operation_status as os, OperationStatus};
            P::DeregisterResp(pb::DeregisterResp {
                deregistered_path_results: r
                    .deregistered_path_results
                    .iter()
                    .map(|x| q::DeregisteredPathResult {
                        requested_path: s(&x.requested_path),
                        oper_status: Some(OperationStatus {
                            oper_status: Some(match &x.oper_status {
                                OperStatus::Failure(f) => os::OperStatus::OperFailure(os::OperationFailure {
                                    err_code: f.err_code,
                                    err_msg: s(&f.err_msg),
                                }),
                                OperStatus::Success(p) => {
                                    os::OperStatus::OperSuccess(os::OperationSuccess { deregistered_path: ss(p) })
                                }
                            }),
                        }),
                    })
                    .collect(),
            })
        }
    }
}
