//! Property tests of the hand-written codec (`usp_core::wire`) against prost
//! (`usp-proto`), the independent reference:
//! - for every Request/Response/Error/Notify variant and every Record type:
//!   `decode(encode(m)) == m`; prost decodes our bytes to the converted message; with maps
//!   generated sorted and unique (prost's `BTreeMap` order), our bytes equal prost's and
//!   decoding prost's bytes gives `m` back;
//! - a bounded fuzz run in plain `cargo test`: 20,000 random byte strings and 20,000
//!   mutations of valid Records/Msgs: no panic, every `Ok` re-encodes and re-decodes to
//!   itself, and agrees with prost;
//! - regression inputs.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::TestRunner;
use prost::Message as _;

use usp_core::msg::*;
use usp_core::record::{Record, RecordType, SessionContext};
use usp_core::wire::{
    decode_msg, decode_record, encode_msg, encode_record, encoded_msg_len, encoded_record_len, peek_msg_id,
    DecodeError, Limits,
};
use usp_proto::usp as pb;
use usp_proto::usp_record as pr;

// ---------------------------------------------------------------------------------------
// Strategies. `sorted`: maps with sorted unique keys (comparable byte for byte with prost);
// otherwise any order, duplicates allowed.

fn text() -> BoxedStrategy<Text> {
    prop_oneof![
        3 => Just(String::new()),
        5 => "[A-Za-z0-9_.{}*:-]{1,16}",
        2 => "(?s).{0,6}",
        1 => "[äöü€😀\u{0}\u{7f}\u{10ffff}a]{1,4}",
    ]
    .prop_map(Text::from)
    .boxed()
}

fn texts() -> BoxedStrategy<Vec<Text>> {
    prop::collection::vec(text(), 0..3).boxed()
}

fn code() -> BoxedStrategy<u32> {
    prop_oneof![Just(0u32), Just(u32::MAX), 7000u32..7100, any::<u32>()].boxed()
}

fn raw_enum() -> BoxedStrategy<i32> {
    prop_oneof![3 => Just(0i32), 3 => 1i32..11, 1 => any::<i32>()].boxed()
}

fn params(sorted: bool) -> BoxedStrategy<Params> {
    if sorted {
        prop::collection::btree_map(text().prop_map(|t| t.to_string()), text(), 0..4)
            .prop_map(|m| Params(m.into_iter().map(|(k, v)| (Text::from(k), v)).collect()))
            .boxed()
    } else {
        prop::collection::vec((text(), text()), 0..4).prop_map(Params).boxed()
    }
}

fn vec_of<T: std::fmt::Debug + 'static>(s: BoxedStrategy<T>, max: usize) -> BoxedStrategy<Vec<T>> {
    prop::collection::vec(s, 0..=max).boxed()
}

fn param_setting() -> BoxedStrategy<ParamSetting> {
    (text(), text(), any::<bool>()).prop_map(|(param, value, required)| ParamSetting { param, value, required }).boxed()
}

fn parameter_error() -> BoxedStrategy<ParameterError> {
    (text(), code(), text()).prop_map(|(param, err_code, err_msg)| ParameterError { param, err_code, err_msg }).boxed()
}

/// `with_inst_failures`: only Set's OperationFailure carries `updated_inst_failures`.
fn oper_failure(with_inst_failures: bool) -> BoxedStrategy<OperFailure> {
    let fails = if with_inst_failures {
        vec_of(
            (text(), vec_of(parameter_error(), 2))
                .prop_map(|(affected_path, param_errs)| UpdatedInstanceFailure { affected_path, param_errs })
                .boxed(),
            2,
        )
    } else {
        Just(Vec::new()).boxed()
    };
    (code(), text(), fails)
        .prop_map(|(err_code, err_msg, updated_inst_failures)| OperFailure { err_code, err_msg, updated_inst_failures })
        .boxed()
}

fn oper_status<S: std::fmt::Debug + Clone + 'static>(
    ok: BoxedStrategy<S>,
    with_inst_failures: bool,
) -> BoxedStrategy<OperStatus<S>> {
    prop_oneof![oper_failure(with_inst_failures).prop_map(OperStatus::Failure), ok.prop_map(OperStatus::Success)]
        .boxed()
}

fn command_failure() -> BoxedStrategy<CommandFailure> {
    (code(), text()).prop_map(|(err_code, err_msg)| CommandFailure { err_code, err_msg }).boxed()
}

// --- requests --------------------------------------------------------------------------

fn get() -> BoxedStrategy<Request> {
    (texts(), code()).prop_map(|(param_paths, max_depth)| Request::Get(Get { param_paths, max_depth })).boxed()
}

fn get_supported_dm() -> BoxedStrategy<Request> {
    (texts(), any::<[bool; 5]>())
        .prop_map(|(obj_paths, b)| {
            Request::GetSupportedDm(GetSupportedDm {
                obj_paths,
                first_level_only: b[0],
                return_commands: b[1],
                return_events: b[2],
                return_params: b[3],
                return_unique_key_sets: b[4],
            })
        })
        .boxed()
}

fn get_instances() -> BoxedStrategy<Request> {
    (texts(), any::<bool>())
        .prop_map(|(obj_paths, first_level_only)| Request::GetInstances(GetInstances { obj_paths, first_level_only }))
        .boxed()
}

fn set() -> BoxedStrategy<Request> {
    let obj = (text(), vec_of(param_setting(), 3))
        .prop_map(|(obj_path, param_settings)| UpdateObject { obj_path, param_settings })
        .boxed();
    (any::<bool>(), vec_of(obj, 3))
        .prop_map(|(allow_partial, update_objs)| Request::Set(Set { allow_partial, update_objs }))
        .boxed()
}

fn add() -> BoxedStrategy<Request> {
    let obj = (text(), vec_of(param_setting(), 3))
        .prop_map(|(obj_path, param_settings)| CreateObject { obj_path, param_settings })
        .boxed();
    (any::<bool>(), vec_of(obj, 3))
        .prop_map(|(allow_partial, create_objs)| Request::Add(Add { allow_partial, create_objs }))
        .boxed()
}

fn delete() -> BoxedStrategy<Request> {
    (any::<bool>(), texts())
        .prop_map(|(allow_partial, obj_paths)| Request::Delete(Delete { allow_partial, obj_paths }))
        .boxed()
}

fn operate(sorted: bool) -> BoxedStrategy<Request> {
    (text(), text(), any::<bool>(), params(sorted))
        .prop_map(|(command, command_key, send_resp, input_args)| {
            Request::Operate(Operate { command, command_key, send_resp, input_args })
        })
        .boxed()
}

fn notif_event(sorted: bool) -> BoxedStrategy<Notification> {
    (text(), text(), params(sorted))
        .prop_map(|(obj_path, event_name, params)| Notification::Event(Event { obj_path, event_name, params }))
        .boxed()
}

fn notif_value_change() -> BoxedStrategy<Notification> {
    (text(), text())
        .prop_map(|(param_path, param_value)| Notification::ValueChange(ValueChangeNotif { param_path, param_value }))
        .boxed()
}

fn notif_obj_creation(sorted: bool) -> BoxedStrategy<Notification> {
    (text(), params(sorted))
        .prop_map(|(obj_path, unique_keys)| Notification::ObjCreation(ObjectCreation { obj_path, unique_keys }))
        .boxed()
}

fn notif_obj_deletion() -> BoxedStrategy<Notification> {
    text().prop_map(|obj_path| Notification::ObjDeletion(ObjectDeletion { obj_path })).boxed()
}

fn notif_oper_complete(sorted: bool) -> BoxedStrategy<Notification> {
    let resp = prop_oneof![
        params(sorted).prop_map(OperationCompleteResp::ReqOutputArgs),
        command_failure().prop_map(OperationCompleteResp::CmdFailure),
    ];
    (text(), text(), text(), resp)
        .prop_map(|(obj_path, command_name, command_key, operation_resp)| {
            Notification::OperComplete(OperationComplete { obj_path, command_name, command_key, operation_resp })
        })
        .boxed()
}

fn notif_on_board() -> BoxedStrategy<Notification> {
    (text(), text(), text(), text())
        .prop_map(|(oui, product_class, serial_number, v)| {
            Notification::OnBoardReq(OnBoardRequest {
                oui,
                product_class,
                serial_number,
                agent_supported_protocol_versions: v,
            })
        })
        .boxed()
}

fn notification(sorted: bool) -> BoxedStrategy<Notification> {
    prop_oneof![
        notif_event(sorted),
        notif_value_change(),
        notif_obj_creation(sorted),
        notif_obj_deletion(),
        notif_oper_complete(sorted),
        notif_on_board(),
    ]
    .boxed()
}

fn notify_with(n: BoxedStrategy<Notification>) -> BoxedStrategy<Request> {
    (text(), any::<bool>(), n)
        .prop_map(|(subscription_id, send_resp, notification)| {
            Request::Notify(Notify { subscription_id, send_resp, notification })
        })
        .boxed()
}

fn get_supported_protocol() -> BoxedStrategy<Request> {
    text()
        .prop_map(|v| Request::GetSupportedProtocol(GetSupportedProtocol { controller_supported_protocol_versions: v }))
        .boxed()
}

fn register() -> BoxedStrategy<Request> {
    (any::<bool>(), texts())
        .prop_map(|(allow_partial, reg_paths)| Request::Register(Register { allow_partial, reg_paths }))
        .boxed()
}

fn deregister() -> BoxedStrategy<Request> {
    texts().prop_map(|paths| Request::Deregister(Deregister { paths })).boxed()
}

fn any_request(sorted: bool) -> BoxedStrategy<Request> {
    prop_oneof![
        get(),
        get_supported_dm(),
        get_instances(),
        set(),
        add(),
        delete(),
        operate(sorted),
        notify_with(notification(sorted)),
        get_supported_protocol(),
        register(),
        deregister(),
    ]
    .boxed()
}

// --- responses -------------------------------------------------------------------------

fn get_resp(sorted: bool) -> BoxedStrategy<Response> {
    let resolved = (text(), params(sorted))
        .prop_map(|(resolved_path, result_params)| ResolvedPathResult { resolved_path, result_params })
        .boxed();
    let rpr = (text(), code(), text(), vec_of(resolved, 3))
        .prop_map(|(requested_path, err_code, err_msg, resolved_path_results)| GetRequestedPathResult {
            requested_path,
            err_code,
            err_msg,
            resolved_path_results,
        })
        .boxed();
    vec_of(rpr, 3).prop_map(|req_path_results| Response::GetResp(GetResp { req_path_results })).boxed()
}

fn get_supported_dm_resp() -> BoxedStrategy<Response> {
    let cmd = (text(), texts(), texts(), raw_enum())
        .prop_map(|(command_name, input_arg_names, output_arg_names, command_type)| SupportedCommandResult {
            command_name,
            input_arg_names,
            output_arg_names,
            command_type,
        })
        .boxed();
    let event =
        (text(), texts()).prop_map(|(event_name, arg_names)| SupportedEventResult { event_name, arg_names }).boxed();
    let param = (text(), raw_enum(), raw_enum(), raw_enum())
        .prop_map(|(param_name, access, value_type, value_change)| SupportedParamResult {
            param_name,
            access,
            value_type,
            value_change,
        })
        .boxed();
    let uks = texts().prop_map(|key_names| SupportedUniqueKeySet { key_names }).boxed();
    let obj = (
        (text(), raw_enum(), any::<bool>()),
        vec_of(cmd, 2),
        vec_of(event, 2),
        vec_of(param, 3),
        texts(),
        vec_of(uks, 2),
    )
        .prop_map(
            |(
                (supported_obj_path, access, is_multi_instance),
                supported_commands,
                supported_events,
                supported_params,
                divergent_paths,
                unique_key_sets,
            )| {
                SupportedObjectResult {
                    supported_obj_path,
                    access,
                    is_multi_instance,
                    supported_commands,
                    supported_events,
                    supported_params,
                    divergent_paths,
                    unique_key_sets,
                }
            },
        )
        .boxed();
    let ro = (text(), code(), text(), text(), vec_of(obj, 2))
        .prop_map(|(req_obj_path, err_code, err_msg, data_model_inst_uri, supported_objs)| RequestedObjectResult {
            req_obj_path,
            err_code,
            err_msg,
            data_model_inst_uri,
            supported_objs,
        })
        .boxed();
    vec_of(ro, 2)
        .prop_map(|req_obj_results| Response::GetSupportedDmResp(GetSupportedDmResp { req_obj_results }))
        .boxed()
}

fn get_instances_resp(sorted: bool) -> BoxedStrategy<Response> {
    let ci = (text(), params(sorted))
        .prop_map(|(instantiated_obj_path, unique_keys)| CurrInstance { instantiated_obj_path, unique_keys })
        .boxed();
    let rpr = (text(), code(), text(), vec_of(ci, 3))
        .prop_map(|(requested_path, err_code, err_msg, curr_insts)| InstancesRequestedPathResult {
            requested_path,
            err_code,
            err_msg,
            curr_insts,
        })
        .boxed();
    vec_of(rpr, 3)
        .prop_map(|req_path_results| Response::GetInstancesResp(GetInstancesResp { req_path_results }))
        .boxed()
}

fn set_resp(sorted: bool) -> BoxedStrategy<Response> {
    let uir = (text(), vec_of(parameter_error(), 2), params(sorted))
        .prop_map(|(affected_path, param_errs, updated_params)| UpdatedInstanceResult {
            affected_path,
            param_errs,
            updated_params,
        })
        .boxed();
    let ok = vec_of(uir, 2).prop_map(|updated_inst_results| SetSuccess { updated_inst_results }).boxed();
    let item = (text(), oper_status(ok, true))
        .prop_map(|(requested_path, oper_status)| UpdatedObjectResult { requested_path, oper_status })
        .boxed();
    vec_of(item, 3).prop_map(|updated_obj_results| Response::SetResp(SetResp { updated_obj_results })).boxed()
}

fn add_resp(sorted: bool) -> BoxedStrategy<Response> {
    let ok = (text(), vec_of(parameter_error(), 2), params(sorted))
        .prop_map(|(instantiated_path, param_errs, unique_keys)| AddSuccess {
            instantiated_path,
            param_errs,
            unique_keys,
        })
        .boxed();
    let item = (text(), oper_status(ok, false))
        .prop_map(|(requested_path, oper_status)| CreatedObjectResult { requested_path, oper_status })
        .boxed();
    vec_of(item, 3).prop_map(|created_obj_results| Response::AddResp(AddResp { created_obj_results })).boxed()
}

fn delete_resp() -> BoxedStrategy<Response> {
    let upe = (text(), code(), text())
        .prop_map(|(unaffected_path, err_code, err_msg)| UnaffectedPathError { unaffected_path, err_code, err_msg })
        .boxed();
    let ok = (texts(), vec_of(upe, 2))
        .prop_map(|(affected_paths, unaffected_path_errs)| DeleteSuccess { affected_paths, unaffected_path_errs })
        .boxed();
    let item = (text(), oper_status(ok, false))
        .prop_map(|(requested_path, oper_status)| DeletedObjectResult { requested_path, oper_status })
        .boxed();
    vec_of(item, 3).prop_map(|deleted_obj_results| Response::DeleteResp(DeleteResp { deleted_obj_results })).boxed()
}

fn operate_resp(sorted: bool) -> BoxedStrategy<Response> {
    let resp = prop_oneof![
        text().prop_map(OperationResp::ReqObjPath),
        params(sorted).prop_map(OperationResp::ReqOutputArgs),
        command_failure().prop_map(OperationResp::CmdFailure),
    ];
    let item = (text(), resp)
        .prop_map(|(executed_command, operation_resp)| OperationResult { executed_command, operation_resp })
        .boxed();
    vec_of(item, 3).prop_map(|operation_results| Response::OperateResp(OperateResp { operation_results })).boxed()
}

fn notify_resp() -> BoxedStrategy<Response> {
    text().prop_map(|subscription_id| Response::NotifyResp(NotifyResp { subscription_id })).boxed()
}

fn get_supported_protocol_resp() -> BoxedStrategy<Response> {
    text()
        .prop_map(|v| {
            Response::GetSupportedProtocolResp(GetSupportedProtocolResp { agent_supported_protocol_versions: v })
        })
        .boxed()
}

fn register_resp() -> BoxedStrategy<Response> {
    let item = (text(), oper_status(text(), false))
        .prop_map(|(requested_path, oper_status)| RegisteredPathResult { requested_path, oper_status })
        .boxed();
    vec_of(item, 3)
        .prop_map(|registered_path_results| Response::RegisterResp(RegisterResp { registered_path_results }))
        .boxed()
}

fn deregister_resp() -> BoxedStrategy<Response> {
    let item = (text(), oper_status(texts(), false))
        .prop_map(|(requested_path, oper_status)| DeregisteredPathResult { requested_path, oper_status })
        .boxed();
    vec_of(item, 3)
        .prop_map(|deregistered_path_results| Response::DeregisterResp(DeregisterResp { deregistered_path_results }))
        .boxed()
}

fn any_response(sorted: bool) -> BoxedStrategy<Response> {
    prop_oneof![
        get_resp(sorted),
        get_supported_dm_resp(),
        get_instances_resp(sorted),
        set_resp(sorted),
        add_resp(sorted),
        delete_resp(),
        operate_resp(sorted),
        notify_resp(),
        get_supported_protocol_resp(),
        register_resp(),
        deregister_resp(),
    ]
    .boxed()
}

fn error() -> BoxedStrategy<Body> {
    let pe = (text(), code(), text())
        .prop_map(|(param_path, err_code, err_msg)| ParamError { param_path, err_code, err_msg })
        .boxed();
    (code(), text(), vec_of(pe, 3))
        .prop_map(|(err_code, err_msg, param_errs)| Body::Error(Error { err_code, err_msg, param_errs }))
        .boxed()
}

/// A header type: usually the body's, sometimes another known one or an unknown number.
fn msg_with(body: BoxedStrategy<Body>) -> BoxedStrategy<Msg> {
    let kind = prop_oneof![
        4 => Just(None),
        1 => (0i32..=22).prop_map(|n| Some(Ok(MsgType::from_number(n).unwrap()))),
        1 => prop_oneof![23i32..1000, i32::MIN..0, Just(i32::MAX)].prop_map(|n| Some(Err(n))),
    ];
    (text(), kind, body)
        .prop_map(|(msg_id, kind, body)| {
            let mut m = Msg::new(msg_id, body);
            if let Some(t) = kind {
                m.msg_type = t;
            }
            m
        })
        .boxed()
}

fn any_body(sorted: bool) -> BoxedStrategy<Body> {
    prop_oneof![any_request(sorted).prop_map(Body::Request), any_response(sorted).prop_map(Body::Response), error(),]
        .boxed()
}

fn record_header(rt: BoxedStrategy<RecordType>) -> BoxedStrategy<Record> {
    let bytes = prop_oneof![Just(Vec::new()), prop::collection::vec(any::<u8>(), 1..8)];
    (text(), text(), text(), raw_enum(), bytes.clone(), bytes, rt)
        .prop_map(|(version, to_id, from_id, payload_security, mac, cert, record_type)| Record {
            version,
            to_id,
            from_id,
            payload_security,
            mac_signature: mac.into(),
            sender_cert: cert.into(),
            record_type,
        })
        .boxed()
}

fn record_type() -> BoxedStrategy<RecordType> {
    let payload = prop_oneof![Just(Vec::new()), prop::collection::vec(any::<u8>(), 1..32)];
    let u = || prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()];
    prop_oneof![
        payload.clone().prop_map(|p| RecordType::NoSessionContext { payload: p.into() }),
        ((u(), u(), u(), u()), raw_enum(), raw_enum(), prop::collection::vec(payload, 0..3)).prop_map(
            |((session_id, sequence_id, expected_id, retransmit_id), a, b, p)| {
                RecordType::SessionContext(SessionContext {
                    session_id,
                    sequence_id,
                    expected_id,
                    retransmit_id,
                    payload_sar_state: a,
                    payloadrec_sar_state: b,
                    payload: p.into_iter().map(Bytes::from).collect(),
                })
            }
        ),
        Just(RecordType::WebSocketConnect),
        (raw_enum(), text())
            .prop_map(|(version, subscribed_topic)| RecordType::MqttConnect { version, subscribed_topic }),
        (raw_enum(), text())
            .prop_map(|(version, subscribed_destination)| RecordType::StompConnect { version, subscribed_destination }),
        (text(), code()).prop_map(|(reason, reason_code)| RecordType::Disconnect { reason, reason_code }),
        Just(RecordType::UdsConnect),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Checks

fn enc(m: &Msg) -> Vec<u8> {
    let mut v = Vec::new();
    encode_msg(m, &mut v);
    v
}

fn enc_rec(r: &Record) -> Vec<u8> {
    let mut v = Vec::new();
    encode_record(r, &mut v);
    v
}

fn limits() -> Limits {
    Limits::default()
}

/// The round trips of one message; `sorted`: its maps are sorted and unique.
fn check_msg(m: &Msg, sorted: bool) -> Result<(), TestCaseError> {
    let ours = enc(m);
    prop_assert_eq!(ours.len(), encoded_msg_len(m));
    let back = decode_msg(Bytes::from(ours.clone()), &limits()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, m);

    let reference = pb::Msg::from(m);
    let prost_reads_ours = pb::Msg::decode(&ours[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&prost_reads_ours, &reference);
    if sorted {
        let theirs = reference.encode_to_vec();
        prop_assert_eq!(&ours, &theirs);
        let back = decode_msg(Bytes::from(theirs), &limits()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, m);
        prop_assert_eq!(&Msg::try_from(prost_reads_ours).unwrap(), m);
    }

    // Carried in a Record, as on the wire.
    let rec =
        Record::new("1.4", "proto::agent", "self::ctrl", RecordType::NoSessionContext { payload: ours.clone().into() });
    let rbytes = enc_rec(&rec);
    prop_assert_eq!(rbytes.len(), encoded_record_len(&rec));
    prop_assert_eq!(&rbytes, &pr::Record::from(&rec).encode_to_vec());
    let rback = decode_record(Bytes::from(rbytes), &limits()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&rback, &rec);
    if let RecordType::NoSessionContext { payload } = rback.record_type {
        prop_assert_eq!(&decode_msg(payload, &limits()).unwrap(), m);
    }
    if !m.msg_id.is_empty() {
        let peeked = peek_msg_id(&ours);
        prop_assert_eq!(peeked.as_deref(), Some(&*m.msg_id));
    }
    Ok(())
}

fn check_record(r: &Record) -> Result<(), TestCaseError> {
    let ours = enc_rec(r);
    prop_assert_eq!(ours.len(), encoded_record_len(r));
    let back = decode_record(Bytes::from(ours.clone()), &limits()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, r);
    let reference = pr::Record::from(r);
    prop_assert_eq!(&ours, &reference.encode_to_vec());
    let prost_reads_ours = pr::Record::decode(&ours[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&prost_reads_ours, &reference);
    prop_assert_eq!(&Record::try_from(prost_reads_ours).unwrap(), r);
    Ok(())
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// One proptest per variant, each run with sorted and with free-order maps.
macro_rules! variant_tests {
    ($($name:ident => $strategy:expr;)*) => {$(
        proptest! {
            #![proptest_config(cfg(128))]
            #[test]
            fn $name((sorted, m) in any::<bool>().prop_flat_map(|s| msg_with($strategy(s)).prop_map(move |m| (s, m)))) {
                check_msg(&m, sorted)?;
            }
        }
    )*};
}

fn req(s: BoxedStrategy<Request>) -> BoxedStrategy<Body> {
    s.prop_map(Body::Request).boxed()
}

fn resp(s: BoxedStrategy<Response>) -> BoxedStrategy<Body> {
    s.prop_map(Body::Response).boxed()
}

fn notif(s: BoxedStrategy<Notification>) -> BoxedStrategy<Body> {
    req(notify_with(s))
}

variant_tests! {
    round_trip_get => |_| req(get());
    round_trip_get_supported_dm => |_| req(get_supported_dm());
    round_trip_get_instances => |_| req(get_instances());
    round_trip_set => |_| req(set());
    round_trip_add => |_| req(add());
    round_trip_delete => |_| req(delete());
    round_trip_operate => |s| req(operate(s));
    round_trip_get_supported_protocol => |_| req(get_supported_protocol());
    round_trip_register => |_| req(register());
    round_trip_deregister => |_| req(deregister());
    round_trip_notify_event => |s| notif(notif_event(s));
    round_trip_notify_value_change => |_| notif(notif_value_change());
    round_trip_notify_obj_creation => |s| notif(notif_obj_creation(s));
    round_trip_notify_obj_deletion => |_| notif(notif_obj_deletion());
    round_trip_notify_oper_complete => |s| notif(notif_oper_complete(s));
    round_trip_notify_on_board => |_| notif(notif_on_board());
    round_trip_get_resp => |s| resp(get_resp(s));
    round_trip_get_supported_dm_resp => |_| resp(get_supported_dm_resp());
    round_trip_get_instances_resp => |s| resp(get_instances_resp(s));
    round_trip_set_resp => |s| resp(set_resp(s));
    round_trip_add_resp => |s| resp(add_resp(s));
    round_trip_delete_resp => |_| resp(delete_resp());
    round_trip_operate_resp => |s| resp(operate_resp(s));
    round_trip_notify_resp => |_| resp(notify_resp());
    round_trip_get_supported_protocol_resp => |_| resp(get_supported_protocol_resp());
    round_trip_register_resp => |_| resp(register_resp());
    round_trip_deregister_resp => |_| resp(deregister_resp());
    round_trip_error => |_| error();
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn round_trip_any_msg((sorted, m) in any::<bool>().prop_flat_map(|s| msg_with(any_body(s)).prop_map(move |m| (s, m)))) {
        check_msg(&m, sorted)?;
    }

    #[test]
    fn round_trip_records(r in record_header(record_type())) {
        check_record(&r)?;
    }
}

// ---------------------------------------------------------------------------------------
// Bounded fuzzing in `cargo test`

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// What a fuzz input led to (for the summary).
#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    err: usize,
}

/// Decodes `bytes` as a Msg; an `Ok` must re-encode and re-decode to itself and agree
/// with prost; an `Err` where prost succeeds must be one of our stricter rules.
fn fuzz_msg(bytes: &[u8], t: &mut Tally) {
    let ours = decode_msg(Bytes::copy_from_slice(bytes), &limits());
    let theirs = pb::Msg::decode(bytes);
    match (ours, theirs) {
        (Ok(m), Ok(mut p)) => {
            t.ok += 1;
            let again = enc(&m);
            assert_eq!(again.len(), encoded_msg_len(&m));
            let m2 = decode_msg(Bytes::from(again.clone()), &limits()).expect("re-decode");
            assert_eq!(m2, m, "input {bytes:02x?}");
            assert_eq!(enc(&m2), again);
            p.header.get_or_insert_with(Default::default);
            assert_eq!(pb::Msg::from(&m), p, "input {bytes:02x?}");
        }
        (Ok(m), Err(e)) => panic!("we accept what prost rejects ({e}): {m:?} from {bytes:02x?}"),
        (Err(e), Ok(_)) => {
            t.err += 1;
            assert!(
                matches!(
                    e,
                    DecodeError::EmptyOneof { .. }
                        | DecodeError::NoBody
                        | DecodeError::TwoOneofMembers { .. }
                        | DecodeError::Group { .. }
                ),
                "prost accepts what we reject ({e}): {bytes:02x?}"
            );
        }
        (Err(_), Err(_)) => t.err += 1,
    }
}

fn fuzz_record(bytes: &[u8], t: &mut Tally) {
    let ours = decode_record(Bytes::copy_from_slice(bytes), &limits());
    let theirs = pr::Record::decode(bytes);
    match (ours, theirs) {
        (Ok(r), Ok(p)) => {
            t.ok += 1;
            let again = enc_rec(&r);
            assert_eq!(again.len(), encoded_record_len(&r));
            let r2 = decode_record(Bytes::from(again.clone()), &limits()).expect("re-decode");
            assert_eq!(r2, r, "input {bytes:02x?}");
            assert_eq!(pr::Record::from(&r), p, "input {bytes:02x?}");
            if let RecordType::NoSessionContext { payload } = &r.record_type {
                fuzz_msg(payload, t);
            }
        }
        (Ok(r), Err(e)) => panic!("we accept what prost rejects ({e}): {r:?} from {bytes:02x?}"),
        (Err(e), Ok(_)) => {
            t.err += 1;
            assert!(
                matches!(
                    e,
                    DecodeError::EmptyOneof { .. } | DecodeError::TwoOneofMembers { .. } | DecodeError::Group { .. }
                ),
                "prost accepts what we reject ({e}): {bytes:02x?}"
            );
        }
        (Err(_), Err(_)) => t.err += 1,
    }
}

/// Valid encoded Msgs and Records: generated ones of every kind, and hand-picked.
fn corpus() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut runner = TestRunner::deterministic();
    let mut msgs = Vec::new();
    let mut records = Vec::new();
    let strategy = msg_with(any_body(false));
    for _ in 0..200 {
        let m = strategy.new_tree(&mut runner).unwrap().current();
        let b = enc(&m);
        let rec = Record::new("1.3", "self::c", "proto::a", RecordType::NoSessionContext { payload: b.clone().into() });
        records.push(enc_rec(&rec));
        msgs.push(b);
    }
    let rs = record_header(record_type());
    for _ in 0..50 {
        records.push(enc_rec(&rs.new_tree(&mut runner).unwrap().current()));
    }
    (msgs, records)
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.truncate(rng.below(b.len() + 1)),
            2 => {
                let i = rng.below(b.len() + 1);
                let n = 1 + rng.below(4);
                for _ in 0..n {
                    b.insert(i, rng.byte());
                }
            }
            3 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x4a][rng.below(8)];
            }
            4 if !b.is_empty() => {
                let i = rng.below(b.len());
                let n = rng.below(b.len() - i).min(8);
                b.drain(i..i + n);
            }
            5 if !b.is_empty() => {
                // Duplicate a slice (repeats fields, the merge paths).
                let i = rng.below(b.len());
                let n = (1 + rng.below(b.len() - i)).min(32);
                let piece: Vec<u8> = b[i..i + n].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, piece);
            }
            _ if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.byte();
            }
            _ => b.push(rng.byte()),
        }
    }
    b
}

#[test]
fn fuzz_random_bytes_and_mutations() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut t = Tally::default();
    // 20,000 random byte strings: half fully random, half built from plausible keys.
    for i in 0..20_000 {
        let len = rng.below(48);
        let b: Vec<u8> = if i % 2 == 0 {
            (0..len).map(|_| rng.byte()).collect()
        } else {
            (0..len)
                .map(|_| match rng.below(4) {
                    0 => ((1 + rng.below(13)) << 3 | [0usize, 2, 5][rng.below(3)]) as u8,
                    1 => rng.below(6) as u8,
                    _ => rng.byte(),
                })
                .collect()
        };
        fuzz_msg(&b, &mut t);
        fuzz_record(&b, &mut t);
    }
    // 20,000 mutations of valid encodings.
    let (msgs, records) = corpus();
    for i in 0..20_000 {
        if i % 2 == 0 {
            let k = rng.below(msgs.len());
            let b = mutate(&mut rng, &msgs[k]);
            fuzz_msg(&b, &mut t);
        } else {
            let k = rng.below(records.len());
            let b = mutate(&mut rng, &records[k]);
            fuzz_record(&b, &mut t);
        }
    }
    eprintln!("fuzz: {t:?}");
    assert!(t.ok > 1000, "too few inputs decoded: {t:?}");
}

// ---------------------------------------------------------------------------------------
// Regressions (inputs found by cargo-fuzz, kept here so plain `cargo test` replays them)

#[test]
fn regressions() {
    // cargo-fuzz found no crash in its runs so far; these hand-picked inputs sit on the
    // edges it explores (merges, empty members, extreme varints, truncation).
    let cases: &[&[u8]] = &[
        &[0x12, 0x00],                                                             // Msg with an empty Body
        &[0x0a, 0x00, 0x12, 0x02, 0x0a, 0x00],                                     // empty Request
        &[0x12, 0x04, 0x0a, 0x02, 0x0a, 0x00, 0x12, 0x04, 0x0a, 0x02, 0x0a, 0x00], // Body twice (merge)
        &[0x12, 0x04, 0x0a, 0x02, 0x0a, 0x00, 0x12, 0x02, 0x1a, 0x00],             // request then error
        &[0x4a, 0x00, 0x4a, 0x00],                                                 // websocket_connect twice
        &[0x3a, 0x00, 0x62, 0x00],                                                 // two record types
        &[0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x4a, 0x00],
        &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],             // length near 2^32
        &[0x0b, 0x0c],                                     // group
        &[0x12, 0x06, 0x12, 0x04, 0x3a, 0x02, 0x0a, 0x00], // OperateResp result, empty oneof
    ];
    let mut t = Tally::default();
    for c in cases {
        fuzz_msg(c, &mut t);
        fuzz_record(c, &mut t);
    }
}
