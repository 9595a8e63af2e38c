//! Conversions between the [`msg`](crate::msg)/[`record`](crate::record) types and the
//! prost types of `usp-proto`.
//!
//! The prost types are the independent reference the hand-written [`wire`](crate::wire)
//! codec is tested against, and what a simulated agent may build messages with.
//! Differences in representation, all lossless except the first two:
//! - prost maps are `BTreeMap`s: converting [`Params`] sorts the entries, and of duplicate
//!   keys the last one wins (as when protobuf decodes a map);
//! - [`OperFailure::updated_inst_failures`] only exists on the wire for Set, so it is
//!   dropped when converting the failure of an Add, Delete, Register or Deregister result;
//! - a prost message whose required `oneof` is `None` (or whose `body`/`oper_status` is
//!   `None`) does not convert: see [`ConvertError`].

use std::collections::BTreeMap;

use usp_proto::usp as pb;
use usp_proto::usp_record as pr;

use crate::msg::*;
use crate::record::{Record, RecordType, SessionContext};

/// A prost message that has no counterpart among the [`msg`](crate::msg) types.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is empty")]
pub struct ConvertError(pub &'static str);

type R<T> = Result<T, ConvertError>;

fn s(t: &Text) -> String {
    t.to_string()
}

fn ss(v: &[Text]) -> Vec<String> {
    v.iter().map(s).collect()
}

fn t(v: String) -> Text {
    Text::from(v)
}

fn tt(v: Vec<String>) -> Vec<Text> {
    v.into_iter().map(Text::from).collect()
}

fn map(p: &Params) -> BTreeMap<String, String> {
    p.to_btree()
}

fn params(m: BTreeMap<String, String>) -> Params {
    Params(m.into_iter().map(|(k, v)| (Text::from(k), Text::from(v))).collect())
}

// ---------------------------------------------------------------------------------------
// Record

impl From<&Record> for pr::Record {
    fn from(r: &Record) -> Self {
        use pr::record::RecordType as P;
        let record_type = match &r.record_type {
            RecordType::NoSessionContext { payload } => {
                P::NoSessionContext(pr::NoSessionContextRecord { payload: payload.to_vec() })
            }
            RecordType::SessionContext(sc) => P::SessionContext(pr::SessionContextRecord {
                session_id: sc.session_id,
                sequence_id: sc.sequence_id,
                expected_id: sc.expected_id,
                retransmit_id: sc.retransmit_id,
                payload_sar_state: sc.payload_sar_state,
                payloadrec_sar_state: sc.payloadrec_sar_state,
                payload: sc.payload.iter().map(|p| p.to_vec()).collect(),
            }),
            RecordType::WebSocketConnect => P::WebsocketConnect(pr::WebSocketConnectRecord {}),
            RecordType::MqttConnect { version, subscribed_topic } => {
                P::MqttConnect(pr::MqttConnectRecord { version: *version, subscribed_topic: s(subscribed_topic) })
            }
            RecordType::StompConnect { version, subscribed_destination } => P::StompConnect(pr::StompConnectRecord {
                version: *version,
                subscribed_destination: s(subscribed_destination),
            }),
            RecordType::Disconnect { reason, reason_code } => {
                P::Disconnect(pr::DisconnectRecord { reason: s(reason), reason_code: *reason_code })
            }
            RecordType::UdsConnect => P::UdsConnect(pr::UdsConnectRecord {}),
        };
        pr::Record {
            version: s(&r.version),
            to_id: s(&r.to_id),
            from_id: s(&r.from_id),
            payload_security: r.payload_security,
            mac_signature: r.mac_signature.to_vec(),
            sender_cert: r.sender_cert.to_vec(),
            record_type: Some(record_type),
        }
    }
}

impl TryFrom<pr::Record> for Record {
    type Error = ConvertError;

    fn try_from(r: pr::Record) -> R<Self> {
        use pr::record::RecordType as P;
        let record_type = match r.record_type.ok_or(ConvertError("Record.record_type"))? {
            P::NoSessionContext(n) => RecordType::NoSessionContext { payload: n.payload.into() },
            P::SessionContext(sc) => RecordType::SessionContext(SessionContext {
                session_id: sc.session_id,
                sequence_id: sc.sequence_id,
                expected_id: sc.expected_id,
                retransmit_id: sc.retransmit_id,
                payload_sar_state: sc.payload_sar_state,
                payloadrec_sar_state: sc.payloadrec_sar_state,
                payload: sc.payload.into_iter().map(Into::into).collect(),
            }),
            P::WebsocketConnect(_) => RecordType::WebSocketConnect,
            P::MqttConnect(m) => {
                RecordType::MqttConnect { version: m.version, subscribed_topic: t(m.subscribed_topic) }
            }
            P::StompConnect(m) => {
                RecordType::StompConnect { version: m.version, subscribed_destination: t(m.subscribed_destination) }
            }
            P::Disconnect(d) => RecordType::Disconnect { reason: t(d.reason), reason_code: d.reason_code },
            P::UdsConnect(_) => RecordType::UdsConnect,
        };
        Ok(Record {
            version: t(r.version),
            to_id: t(r.to_id),
            from_id: t(r.from_id),
            payload_security: r.payload_security,
            mac_signature: r.mac_signature.into(),
            sender_cert: r.sender_cert.into(),
            record_type,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Msg: ours -> prost

impl From<&Msg> for pb::Msg {
    fn from(m: &Msg) -> Self {
        use pb::body::MsgBody;
        let msg_type = match m.msg_type {
            Ok(t) => t.number(),
            Err(n) => n,
        };
        let msg_body = match &m.body {
            Body::Request(r) => MsgBody::Request(pb::Request { req_type: Some(req_to_pb(r)) }),
            Body::Response(r) => MsgBody::Response(pb::Response { resp_type: Some(resp_to_pb(r)) }),
            Body::Error(e) => MsgBody::Error(pb::Error {
                err_code: e.err_code,
                err_msg: s(&e.err_msg),
                param_errs: e
                    .param_errs
                    .iter()
                    .map(|p| pb::error::ParamError {
                        param_path: s(&p.param_path),
                        err_code: p.err_code,
                        err_msg: s(&p.err_msg),
                    })
                    .collect(),
            }),
        };
        pb::Msg {
            header: Some(pb::Header { msg_id: s(&m.msg_id), msg_type }),
            body: Some(pb::Body { msg_body: Some(msg_body) }),
        }
    }
}

fn req_to_pb(r: &Request) -> pb::request::ReqType {
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

fn notify_to_pb(n: &Notify) -> pb::Notify {
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

fn resp_to_pb(r: &Response) -> pb::response::RespType {
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

// ---------------------------------------------------------------------------------------
// Msg: prost -> ours

impl TryFrom<pb::Msg> for Msg {
    type Error = ConvertError;

    fn try_from(m: pb::Msg) -> R<Self> {
        use pb::body::MsgBody;
        let header = m.header.unwrap_or_default();
        let body = m.body.ok_or(ConvertError("Msg.body"))?;
        let body = match body.msg_body.ok_or(ConvertError("Body.msg_body"))? {
            MsgBody::Request(r) => Body::Request(req_from_pb(r.req_type.ok_or(ConvertError("Request.req_type"))?)?),
            MsgBody::Response(r) => {
                Body::Response(resp_from_pb(r.resp_type.ok_or(ConvertError("Response.resp_type"))?)?)
            }
            MsgBody::Error(e) => Body::Error(Error {
                err_code: e.err_code,
                err_msg: t(e.err_msg),
                param_errs: e
                    .param_errs
                    .into_iter()
                    .map(|p| ParamError { param_path: t(p.param_path), err_code: p.err_code, err_msg: t(p.err_msg) })
                    .collect(),
            }),
        };
        Ok(Msg {
            msg_id: t(header.msg_id),
            msg_type: MsgType::from_number(header.msg_type).ok_or(header.msg_type),
            body,
        })
    }
}

fn settings_from<I: IntoIterator<Item = (String, String, bool)>>(v: I) -> Vec<ParamSetting> {
    v.into_iter().map(|(param, value, required)| ParamSetting { param: t(param), value: t(value), required }).collect()
}

fn req_from_pb(r: pb::request::ReqType) -> R<Request> {
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

fn notify_from_pb(n: pb::Notify) -> R<Notify> {
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

fn failure(err_code: u32, err_msg: String) -> OperFailure {
    OperFailure { err_code, err_msg: t(err_msg), updated_inst_failures: Vec::new() }
}

fn resp_from_pb(r: pb::response::RespType) -> R<Response> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn empty_oneofs_do_not_convert() {
        let no_body = pb::Msg { header: None, body: None };
        assert_eq!(Msg::try_from(no_body).unwrap_err(), ConvertError("Msg.body"));
        let empty_req = pb::Msg {
            header: None,
            body: Some(pb::Body { msg_body: Some(pb::body::MsgBody::Request(pb::Request { req_type: None })) }),
        };
        assert_eq!(Msg::try_from(empty_req).unwrap_err().to_string(), "Request.req_type is empty");
        let no_status = pb::Msg {
            header: None,
            body: Some(pb::Body {
                msg_body: Some(pb::body::MsgBody::Response(pb::Response {
                    resp_type: Some(pb::response::RespType::AddResp(pb::AddResp {
                        created_obj_results: vec![pb::add_resp::CreatedObjectResult {
                            requested_path: "Device.X.".into(),
                            oper_status: None,
                        }],
                    })),
                })),
            }),
        };
        assert!(Msg::try_from(no_status).is_err());
        let rec = pr::Record { record_type: None, ..Default::default() };
        assert_eq!(Record::try_from(rec).unwrap_err(), ConvertError("Record.record_type"));
    }

    #[test]
    fn missing_header_reads_as_defaults_and_maps_sort() {
        let m = pb::Msg {
            header: None,
            body: Some(pb::Body {
                msg_body: Some(pb::body::MsgBody::Request(pb::Request {
                    req_type: Some(pb::request::ReqType::Operate(pb::Operate {
                        command: "Device.Reboot()".into(),
                        input_args: [("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into(),
                        ..Default::default()
                    })),
                })),
            }),
        };
        let ours = Msg::try_from(m).unwrap();
        assert_eq!(&*ours.msg_id, "");
        assert_eq!(ours.msg_type, Ok(MsgType::Error));
        let Body::Request(Request::Operate(op)) = &ours.body else { panic!() };
        assert_eq!(op.input_args.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "2")]);
        // Duplicate keys: the last one wins, as when protobuf decodes a map.
        let dup = Params(vec![("k".into(), "1".into()), ("k".into(), "2".into())]);
        assert_eq!(map(&dup).get("k").map(String::as_str), Some("2"));
    }

    #[test]
    fn unknown_msg_type_survives() {
        let m = Msg { msg_id: "x".into(), msg_type: Err(77), body: Body::Error(Error::default()) };
        let p = pb::Msg::from(&m);
        assert_eq!(p.header.as_ref().unwrap().msg_type, 77);
        assert_eq!(Msg::try_from(p).unwrap(), m);
    }
}
