//! Unit tests of the agent, driven through `handle_msg` with a fixed clock.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use usp_core::eid::EndpointId;
use usp_proto::usp::{
    self, add, body::MsgBody, get_supported_dm_resp as gsdm, header::MsgType, notify::Notification,
    operate_resp::operation_result::OperationResp, request::ReqType, response::RespType, set, Msg,
};

use super::*;
use crate::scenario::Scenario;

/// 2024-06-01T12:00:00Z, a Saturday.
const T0: u64 = 1_717_243_200;
const ADMIN: &str = "self::usp-home-admin";
const USER: &str = "self::home-user";
const STRANGER: &str = "self::stranger";
const STRANGER2: &str = "self::stranger-2";
const GW_PASSCODE: &str = "482913";

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}
fn t_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0 * 1000 + ms)
}
fn eid(s: &str) -> EndpointId {
    s.parse().unwrap()
}

fn agent(key: &str) -> Agent {
    let mut spec = Scenario::builtin().agent(key).unwrap().clone();
    // These tests check the standard roles as the reference agent defines them, without the
    // scenario's extra permissions (which let Untrusted read the Challenge rows).
    spec.permissions.clear();
    let mut a = Agent::new(&spec, UnknownControllerPolicy::Untrusted, t(0)).unwrap();
    a.add_controller(eid(USER), "Home User").unwrap();
    a
}
fn gateway() -> Agent {
    agent("gateway")
}

// ---- message helpers -------------------------------------------------------------------

fn request(id: &str, r: ReqType) -> Msg {
    Msg {
        header: header(id, MsgType::Get),
        body: Some(usp::Body { msg_body: Some(MsgBody::Request(usp::Request { req_type: Some(r) })) }),
    }
}
fn send_at(a: &mut Agent, from: &str, r: ReqType, now: SystemTime) -> Option<Msg> {
    a.handle_msg(&eid(from), request("m-1", r), now)
}
fn send(a: &mut Agent, from: &str, r: ReqType) -> Msg {
    send_at(a, from, r, t(0)).expect("a reply")
}
fn resp(m: Msg) -> RespType {
    match m.body.and_then(|b| b.msg_body) {
        Some(MsgBody::Response(r)) => r.resp_type.unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}
fn error(m: Msg) -> usp::Error {
    assert_eq!(m.header.as_ref().unwrap().msg_type, MsgType::Error as i32);
    match m.body.and_then(|b| b.msg_body) {
        Some(MsgBody::Error(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn get_req(paths: &[&str], max_depth: u32) -> ReqType {
    ReqType::Get(usp::Get { param_paths: paths.iter().map(|s| s.to_string()).collect(), max_depth })
}
fn get(a: &mut Agent, from: &str, paths: &[&str], depth: u32) -> Vec<usp::get_resp::RequestedPathResult> {
    match resp(send(a, from, get_req(paths, depth))) {
        RespType::GetResp(g) => g.req_path_results,
        other => panic!("{other:?}"),
    }
}
/// (resolved_path, params) of a single-path Get; panics on a path error.
fn get_ok(a: &mut Agent, from: &str, path: &str, depth: u32) -> Vec<(String, BTreeMap<String, String>)> {
    let r = get(a, from, &[path], depth).remove(0);
    assert_eq!(r.err_code, 0, "{path}: {}", r.err_msg);
    r.resolved_path_results.into_iter().map(|x| (x.resolved_path, x.result_params)).collect()
}
fn get_err(a: &mut Agent, from: &str, path: &str) -> u32 {
    get(a, from, &[path], 0).remove(0).err_code
}
/// The single value of a parameter path.
fn value(a: &mut Agent, from: &str, path: &str) -> String {
    let r = get_ok(a, from, path, 0);
    assert_eq!(r.len(), 1, "{path}: {r:?}");
    r[0].1.values().next().unwrap().clone()
}
/// All values of a (search) parameter path, keyed by resolved path.
fn values(a: &mut Agent, from: &str, path: &str) -> Vec<(String, String)> {
    get_ok(a, from, path, 0).into_iter().map(|(p, m)| (p, m.into_values().next().unwrap())).collect()
}

/// (object path, [(param, value, required)]) of a Set or Add.
type Objs<'a> = [(&'a str, &'a [(&'a str, &'a str, bool)])];

fn set_req(allow_partial: bool, objs: &Objs<'_>) -> ReqType {
    ReqType::Set(usp::Set {
        allow_partial,
        update_objs: objs
            .iter()
            .map(|(path, params)| set::UpdateObject {
                obj_path: path.to_string(),
                param_settings: params
                    .iter()
                    .map(|(p, v, r)| set::UpdateParamSetting {
                        param: p.to_string(),
                        value: v.to_string(),
                        required: *r,
                    })
                    .collect(),
            })
            .collect(),
    })
}
fn set_resp(m: Msg) -> usp::SetResp {
    match resp(m) {
        RespType::SetResp(s) => s,
        other => panic!("{other:?}"),
    }
}
use usp::set_resp::updated_object_result::operation_status::OperStatus as SetStatus;

fn add_req(allow_partial: bool, objs: &Objs<'_>) -> ReqType {
    ReqType::Add(usp::Add {
        allow_partial,
        create_objs: objs
            .iter()
            .map(|(path, params)| add::CreateObject {
                obj_path: path.to_string(),
                param_settings: params
                    .iter()
                    .map(|(p, v, r)| add::CreateParamSetting {
                        param: p.to_string(),
                        value: v.to_string(),
                        required: *r,
                    })
                    .collect(),
            })
            .collect(),
    })
}
use usp::add_resp::created_object_result::operation_status::OperStatus as AddStatus;
fn add_results(m: Msg) -> Vec<AddStatus> {
    match resp(m) {
        RespType::AddResp(a) => {
            a.created_obj_results.into_iter().map(|r| r.oper_status.unwrap().oper_status.unwrap()).collect()
        }
        other => panic!("{other:?}"),
    }
}
fn added_path(m: Msg) -> String {
    match add_results(m).remove(0) {
        AddStatus::OperSuccess(s) => s.instantiated_path,
        AddStatus::OperFailure(f) => panic!("add failed: {f:?}"),
    }
}

fn delete_req(allow_partial: bool, paths: &[&str]) -> ReqType {
    ReqType::Delete(usp::Delete { allow_partial, obj_paths: paths.iter().map(|s| s.to_string()).collect() })
}
use usp::delete_resp::deleted_object_result::operation_status::OperStatus as DelStatus;
fn delete_results(m: Msg) -> Vec<DelStatus> {
    match resp(m) {
        RespType::DeleteResp(d) => {
            d.deleted_obj_results.into_iter().map(|r| r.oper_status.unwrap().oper_status.unwrap()).collect()
        }
        other => panic!("{other:?}"),
    }
}

fn operate_req(cmd: &str, args: &[(&str, &str)], send_resp: bool) -> ReqType {
    ReqType::Operate(usp::Operate {
        command: cmd.to_string(),
        command_key: "key-1".to_string(),
        send_resp,
        input_args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    })
}
fn operate(a: &mut Agent, from: &str, cmd: &str, args: &[(&str, &str)]) -> Vec<(String, OperationResp)> {
    operate_at(a, from, cmd, args, t(0))
}
fn operate_at(
    a: &mut Agent,
    from: &str,
    cmd: &str,
    args: &[(&str, &str)],
    now: SystemTime,
) -> Vec<(String, OperationResp)> {
    let m = send_at(a, from, operate_req(cmd, args, true), now).expect("reply");
    match resp(m) {
        RespType::OperateResp(o) => {
            o.operation_results.into_iter().map(|r| (r.executed_command, r.operation_resp.unwrap())).collect()
        }
        other => panic!("{other:?}"),
    }
}
fn output(r: &OperationResp) -> BTreeMap<String, String> {
    match r {
        OperationResp::ReqOutputArgs(o) => o.output_args.clone(),
        other => panic!("expected output args, got {other:?}"),
    }
}
fn failure_code(r: &OperationResp) -> u32 {
    match r {
        OperationResp::CmdFailure(f) => f.err_code,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Adds an enabled subscription for `from`.
fn subscribe(a: &mut Agent, from: &str, kind: &str, refs: &str, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str, bool)> =
        vec![("Enable", "true", true), ("NotifType", kind, true), ("ReferenceList", refs, true)];
    params.extend(extra.iter().map(|(k, v)| (*k, *v, true)));
    added_path(send(a, from, add_req(false, &[("Device.LocalAgent.Subscription.", &params)])))
}

fn notifications(a: &mut Agent) -> Vec<(String, String, usp::Notify)> {
    a.drain_outbox()
        .into_iter()
        .map(|o| {
            let id = o.msg.header.as_ref().unwrap().msg_id.clone();
            match o.msg.body.and_then(|b| b.msg_body) {
                Some(MsgBody::Request(usp::Request { req_type: Some(ReqType::Notify(n)) })) => {
                    (o.to.as_str().to_owned(), id, n)
                }
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

fn b64(s: &str) -> String {
    value::encode_base64(s.as_bytes())
}

/// Runs the challenge for `from` with `passcode`; returns the ChallengeResponse outcome.
fn challenge(a: &mut Agent, from: &str, passcode: &str, now: SystemTime) -> OperationResp {
    let r = operate_at(
        a,
        from,
        "Device.LocalAgent.ControllerTrust.RequestChallenge()",
        &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.1")],
        now,
    );
    let id = match &r[0].1 {
        OperationResp::ReqOutputArgs(o) => o.output_args["ChallengeID"].clone(),
        other => return other.clone(),
    };
    let r = operate_at(
        a,
        from,
        "Device.LocalAgent.ControllerTrust.ChallengeResponse()",
        &[("ChallengeID", &id), ("Value", &b64(passcode))],
        now,
    );
    r[0].1.clone()
}

// ---- scenario and basics -----------------------------------------------------------------

#[test]
fn builtin_agents_build_with_their_identity() {
    for (key, name, eid_text) in [
        ("gateway", "Living room gateway", "os::012345-GW0001"),
        ("extender", "Upstairs extender", "os::012345-EX0001"),
        ("hub", "Kitchen hub", "os::012345-HUB001"),
    ] {
        let a = agent(key);
        assert_eq!(a.friendly_name(), name);
        assert_eq!(a.endpoint_id().as_str(), eid_text);
        assert_eq!(a.key(), key);
        assert_eq!(a.get_internal("Device.LocalAgent.EndpointID").as_deref(), Some(eid_text));
        assert_eq!(a.get_internal("Device.LocalAgent.MTP.1.WebSocket.Path").as_deref(), Some("/usp"));
    }
    let mut hub = agent("hub");
    assert_eq!(get_err(&mut hub, ADMIN, "Device.WiFi."), 7026, "the hub has no Wi-Fi");
    let mut ext = agent("extender");
    assert_eq!(get_err(&mut ext, ADMIN, "Device.Hosts."), 7026);
}

#[test]
fn get_supported_protocol_and_bad_messages() {
    let mut a = gateway();
    match resp(send(
        &mut a,
        ADMIN,
        ReqType::GetSupportedProtocol(usp::GetSupportedProtocol {
            controller_supported_protocol_versions: "1.3".into(),
        }),
    )) {
        RespType::GetSupportedProtocolResp(r) => {
            assert_eq!(r.agent_supported_protocol_versions, "1.0,1.1,1.2,1.3,1.4")
        }
        other => panic!("{other:?}"),
    }
    // No body → 7004, echoing the msg_id.
    let m = a.handle_msg(&eid(ADMIN), Msg { header: header("x-9", MsgType::Get), body: None }, t(0)).unwrap();
    assert_eq!(m.header.as_ref().unwrap().msg_id, "x-9");
    assert_eq!(error(m).err_code, 7004);
    // Request without type → 7004; no header at all still gets an answer.
    let m = Msg {
        header: None,
        body: Some(usp::Body { msg_body: Some(MsgBody::Request(usp::Request { req_type: None })) }),
    };
    assert_eq!(error(a.handle_msg(&eid(ADMIN), m, t(0)).unwrap()).err_code, 7004);
    // Responses, errors, Notify and NotifyResp from a controller are ignored.
    let notify_resp = Msg {
        header: header("n-1", MsgType::NotifyResp),
        body: Some(usp::Body {
            msg_body: Some(MsgBody::Response(usp::Response {
                resp_type: Some(RespType::NotifyResp(usp::NotifyResp { subscription_id: "s".into() })),
            })),
        }),
    };
    assert!(a.handle_msg(&eid(ADMIN), notify_resp, t(0)).is_none());
    let err_msg = error_reply("e-1", err(7000, "x"), Vec::new());
    assert!(a.handle_msg(&eid(ADMIN), err_msg, t(0)).is_none());
    let notify = request("n-2", ReqType::Notify(usp::Notify::default()));
    assert!(a.handle_msg(&eid(ADMIN), notify, t(0)).is_none());
    let reg = send(&mut a, ADMIN, ReqType::Register(usp::Register::default()));
    assert_eq!(error(reg).err_code, 7001);
}

#[test]
fn unknown_controllers_are_ignored_or_untrusted() {
    let mut spec = Scenario::builtin().agent("gateway").unwrap().clone();
    spec.permissions.clear();
    let mut quiet = Agent::new(&spec, UnknownControllerPolicy::Ignore, t(0)).unwrap();
    assert!(send_at(&mut quiet, STRANGER, get_req(&["Device.DeviceInfo."], 0), t(0)).is_none());
    // Known controllers still get answers.
    assert!(send_at(&mut quiet, ADMIN, get_req(&["Device.DeviceInfo."], 0), t(0)).is_some());

    let mut a = gateway();
    subscribe(&mut a, ADMIN, "ObjectCreation", "Device.LocalAgent.Controller.", &[]);
    a.drain_outbox();
    assert_eq!(value(&mut a, STRANGER, "Device.DeviceInfo.SerialNumber"), "GW0001");
    let row = a.controller_row(STRANGER).unwrap();
    assert_eq!(
        a.get_internal(&format!("{row}AssignedRole")).as_deref(),
        Some("Device.LocalAgent.ControllerTrust.Role.2")
    );
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, ADMIN);
    match &n[0].2.notification {
        Some(Notification::ObjCreation(c)) => {
            assert_eq!(c.obj_path, row);
            assert_eq!(c.unique_keys["EndpointID"], STRANGER);
        }
        other => panic!("{other:?}"),
    }
    // A disabled controller row is ignored.
    a.set_internal(&format!("{row}Enable"), "false", t(0)).unwrap();
    assert!(send_at(&mut a, STRANGER, get_req(&["Device.DeviceInfo."], 0), t(0)).is_none());
}

// ---- Get ----------------------------------------------------------------------------------

#[test]
fn get_object_and_parameter_paths() {
    let mut a = gateway();
    let r = get_ok(&mut a, ADMIN, "Device.DeviceInfo.", 0);
    assert_eq!(r.len(), 3, "DeviceInfo and its two firmware images");
    assert_eq!(r[0].0, "Device.DeviceInfo.");
    assert_eq!(r[2].0, "Device.DeviceInfo.FirmwareImage.2.");
    assert_eq!(r[0].1["FriendlyName"], "Living room gateway");
    assert_eq!(r[0].1["UpTime"], "0");
    // UpTime follows the clock.
    let m = send_at(&mut a, ADMIN, get_req(&["Device.DeviceInfo.UpTime"], 0), t(125)).unwrap();
    match resp(m) {
        RespType::GetResp(g) => {
            let p = &g.req_path_results[0].resolved_path_results[0];
            assert_eq!(p.resolved_path, "Device.DeviceInfo.");
            assert_eq!(p.result_params["UpTime"], "125");
        }
        other => panic!("{other:?}"),
    }
    // One resolved result per object instance, params relative to it.
    let r = get_ok(&mut a, ADMIN, "Device.WiFi.AccessPoint.1.", 0);
    let paths: Vec<_> = r.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Device.WiFi.AccessPoint.1.",
            "Device.WiFi.AccessPoint.1.Security.",
            "Device.WiFi.AccessPoint.1.AssociatedDevice.1."
        ]
    );
    assert_eq!(r[0].1["AssociatedDeviceNumberOfEntries"], "1");
    assert_eq!(r[1].1["KeyPassphrase"], "correct-horse-battery");
    // Several paths, one of them bad: per-path errors.
    let rs =
        get(&mut a, ADMIN, &["Device.DeviceInfo.ModelName", "Device.Nope.", "Device.WiFi.SSID.9.", "Device..x"], 0);
    assert_eq!(rs.iter().map(|r| r.err_code).collect::<Vec<_>>(), [0, 7026, 7026, 7008]);
    assert_eq!(rs[0].resolved_path_results[0].result_params["ModelName"], "EX-GW6");
    // A table path expands to its rows; an empty table is an empty success.
    assert_eq!(get_ok(&mut a, ADMIN, "Device.WiFi.SSID.", 1).len(), 3);
    assert!(get_ok(&mut a, ADMIN, "Device.LocalAgent.Subscription.", 0).is_empty());
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.SSID"), 7026);
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.1.Nope"), 7026);
    assert_eq!(get_err(&mut a, ADMIN, "Device.Reboot()"), 7026);
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.{i}."), 7026);
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.1.2."), 7008);
    assert_eq!(get_err(&mut a, ADMIN, "Device.DeviceInfo.1."), 7026);
}

#[test]
fn get_max_depth() {
    let mut a = gateway();
    let names = |r: Vec<(String, BTreeMap<String, String>)>| r.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
    assert_eq!(names(get_ok(&mut a, ADMIN, "Device.WiFi.", 1)), ["Device.WiFi."]);
    let two = names(get_ok(&mut a, ADMIN, "Device.WiFi.", 2));
    assert_eq!(two.len(), 1 + 2 + 3 + 3, "{two:?}");
    assert!(two.contains(&"Device.WiFi.AccessPoint.3.".to_owned()));
    assert!(!two.iter().any(|p| p.contains("Security")));
    let three = names(get_ok(&mut a, ADMIN, "Device.WiFi.", 3));
    assert!(three.contains(&"Device.WiFi.AccessPoint.1.Security.".to_owned()));
    assert!(three.contains(&"Device.WiFi.DataElements.Network.".to_owned()));
    assert!(!three.iter().any(|p| p.contains("STA")));
    let all = names(get_ok(&mut a, ADMIN, "Device.WiFi.", 0));
    assert!(all.contains(&"Device.WiFi.DataElements.Network.Device.2.Radio.1.BSS.1.STA.1.".to_owned()));
    // Rows of a table path are at depth 1.
    assert_eq!(names(get_ok(&mut a, ADMIN, "Device.WiFi.AccessPoint.", 1)).len(), 3);
}

#[test]
fn get_search_expressions() {
    let mut a = gateway();
    let v = |a: &mut Agent, p: &str| values(a, ADMIN, p).into_iter().map(|(_, v)| v).collect::<Vec<_>>();
    assert_eq!(v(&mut a, "Device.WiFi.SSID.*.SSID"), ["Home", "Home", "Home-Guest"]);
    assert_eq!(v(&mut a, "Device.WiFi.SSID.[SSID==\"Home\"].Name"), ["wl0", "wl1"]);
    assert_eq!(v(&mut a, "Device.WiFi.SSID.[SSID!=\"Home\"].Name"), ["wl0.1"]);
    assert_eq!(
        v(&mut a, "Device.Hosts.Host.[Active==true&&InterfaceType==\"Wi-Fi\"].HostName"),
        ["Annas-Phone", "Toms-Laptop", "Kids-Tablet", "Upstairs-Extender"]
    );
    assert_eq!(v(&mut a, "Device.Hosts.Host.[Active==false].HostName"), ["Office-Printer"]);
    // Numeric comparisons (spaces around operators tolerated).
    assert_eq!(v(&mut a, "Device.WiFi.Radio.[Channel>20].Alias"), ["radio-5g"]);
    assert_eq!(v(&mut a, "Device.WiFi.Radio.[Channel <= 6].Alias"), ["radio-2g"]);
    assert_eq!(v(&mut a, "Device.WiFi.Radio.[Channel>=6&&Channel<36].Alias"), ["radio-2g"]);
    assert_eq!(v(&mut a, "Device.WiFi.Radio.[Channel==36].Alias"), ["radio-5g"]);
    assert_eq!(
        v(&mut a, "Device.WiFi.AccessPoint.1.AssociatedDevice.[SignalStrength<-50].MACAddress"),
        ["A4:83:E7:10:20:01"]
    );
    // List contains.
    assert_eq!(v(&mut a, "Device.WiFi.Radio.[OperatingStandards~=\"ac\"].Alias"), ["radio-5g"]);
    assert_eq!(v(&mut a, "Device.WiFi.Radio.[OperatingStandards~=\"ax\"].Alias").len(), 2);
    assert_eq!(
        v(&mut a, "Device.Hosts.AccessControl.[ScheduleRef~=\"Device.Schedules.Schedule.2\"].HostName"),
        ["Kids-Tablet"]
    );
    // Through a single-instance sub-object, and through a reference.
    assert_eq!(v(&mut a, "Device.WiFi.AccessPoint.[Security.ModeEnabled==\"WPA2-Personal\"].Alias"), ["guest"]);
    assert_eq!(v(&mut a, "Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"Home-Guest\"].IsolationEnable"), ["true"]);
    // Reference following in the path: resolved path is the referenced object.
    let r = values(&mut a, ADMIN, "Device.WiFi.AccessPoint.3.SSIDReference+.SSID");
    assert_eq!(r, [("Device.WiFi.SSID.3.".to_owned(), "Home-Guest".to_owned())]);
    assert_eq!(v(&mut a, "Device.Hosts.AccessControl.1.ScheduleRef#*+.Alias"), ["school-nights", "weekend"]);
    assert_eq!(v(&mut a, "Device.Hosts.AccessControl.1.ScheduleRef#2+.Alias"), ["weekend"]);
    assert_eq!(v(&mut a, "Device.Hosts.AccessControl.1.ScheduleRef+.Alias"), ["school-nights"]);
    assert!(v(&mut a, "Device.Hosts.AccessControl.1.ScheduleRef#3+.Alias").is_empty());
    // Unique-key addressing (MACs compare case-insensitively); a missing key is 7026.
    assert_eq!(v(&mut a, "Device.Hosts.Host.[PhysAddress==\"f0:d4:15:30:40:04\"].HostName"), ["Kids-Tablet"]);
    assert_eq!(get_err(&mut a, ADMIN, "Device.Hosts.Host.[PhysAddress==\"00:00:00:00:00:01\"].HostName"), 7026);
    // A valid search matching nothing is an empty success; wildcard over an empty table too.
    assert!(v(&mut a, "Device.Hosts.Host.[HostName==\"nobody\"&&Active==true].HostName").is_empty());
    assert!(get_ok(&mut a, ADMIN, "Device.LocalAgent.Subscription.*.", 0).is_empty());
    // Search on unknown parameters / into tables is invalid.
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.[Bogus==1].SSID"), 7026);
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.DeviceInfo.[X==1]."), 7026);
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.[SSID==Home].SSID"), 7008);
    assert_eq!(get_err(&mut a, ADMIN, "Device.WiFi.SSID.[SSID<\"Home\"].SSID"), 7008);
    // Whole objects through a search.
    let r = get_ok(&mut a, ADMIN, "Device.Hosts.Host.[HostName==\"Annas-Phone\"].", 0);
    assert_eq!(
        r.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["Device.Hosts.Host.1.", "Device.Hosts.Host.1.WANStats."]
    );
}

#[test]
fn get_is_capped() {
    let mut a = gateway();
    // Many paths of the whole tree are fine.
    let paths = vec!["Device."; 50];
    let rs = get(&mut a, ADMIN, &paths, 0);
    assert!(rs.iter().all(|r| r.err_code == 0));
    // A long search expression is fine too.
    let expr = (0..64).map(|_| "Enable==true").collect::<Vec<_>>().join("&&");
    let path = format!("Device.WiFi.SSID.[{expr}].SSID");
    assert_eq!(values(&mut a, ADMIN, &path).len(), 3);
    let too_long = format!("Device.{}", "A.".repeat(3000));
    assert_eq!(get_err(&mut a, ADMIN, &too_long), 7008);
}

// ---- Permissions ---------------------------------------------------------------------------

#[test]
fn untrusted_controllers_see_only_device_info() {
    let mut a = gateway();
    assert_eq!(value(&mut a, STRANGER, "Device.DeviceInfo.FriendlyName"), "Living room gateway");
    assert_eq!(get_err(&mut a, STRANGER, "Device.WiFi."), 7026);
    assert_eq!(get_err(&mut a, STRANGER, "Device.LocalAgent.ControllerTrust.UntrustedRole"), 7026);
    let r = get_ok(&mut a, STRANGER, "Device.", 0);
    assert_eq!(
        r.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["Device.DeviceInfo.", "Device.DeviceInfo.FirmwareImage.1.", "Device.DeviceInfo.FirmwareImage.2."]
    );
    assert!(values(&mut a, STRANGER, "Device.WiFi.SSID.*.SSID").is_empty());
    // Set: permission denied per parameter; required → whole-message Error.
    let e = error(send(&mut a, STRANGER, set_req(false, &[("Device.DeviceInfo.", &[("FriendlyName", "x", true)])])));
    assert_eq!(e.err_code, 7021);
    assert_eq!(e.param_errs[0].param_path, "Device.DeviceInfo.FriendlyName");
    assert_eq!(e.param_errs[0].err_code, 7006);
    // Add: object-level permission error.
    let e = error(send(&mut a, STRANGER, add_req(false, &[("Device.LocalAgent.Subscription.", &[])])));
    assert_eq!(e.err_code, 7006);
    // Operate: only the challenge commands.
    assert_eq!(error(send(&mut a, STRANGER, operate_req("Device.Reboot()", &[], true))).err_code, 7006);
    assert_eq!(a.get_internal("Device.DeviceInfo.UpTime").as_deref(), Some("0"));
    // GetInstances and GetSupportedDM are filtered too.
    let gi = get_instances(&mut a, STRANGER, "Device.LocalAgent.", false);
    assert_eq!(gi.err_code, 0);
    assert!(gi.curr_insts.is_empty());
    let sdm = supported(&mut a, STRANGER, "Device.", false, true);
    let objs: Vec<_> = sdm.supported_objs.iter().map(|o| o.supported_obj_path.as_str()).collect();
    assert_eq!(
        objs,
        ["Device.DeviceInfo.", "Device.DeviceInfo.FirmwareImage.{i}.", "Device.LocalAgent.ControllerTrust."]
    );
    let cmds: Vec<_> = sdm.supported_objs[2].supported_commands.iter().map(|c| c.command_name.as_str()).collect();
    assert_eq!(cmds, ["RequestChallenge()", "ChallengeResponse()"]);
    assert!(sdm.supported_objs[2].supported_params.is_empty());
}

#[test]
fn home_user_permissions() {
    let mut a = gateway();
    // Secured values read as "" without a role in SecuredRoles.
    assert_eq!(value(&mut a, USER, "Device.WiFi.AccessPoint.3.Security.KeyPassphrase"), "");
    assert_eq!(value(&mut a, ADMIN, "Device.WiFi.AccessPoint.3.Security.KeyPassphrase"), "welcome-guests-2024");
    assert_eq!(value(&mut a, USER, "Device.WiFi.SSID.3.SSID"), "Home-Guest");
    assert!(!get_ok(&mut a, USER, "Device.Hosts.", 0).is_empty());
    assert_eq!(value(&mut a, USER, "Device.LocalAgent.EndpointID"), "os::012345-GW0001");
    // No ControllerTrust, no Controller table.
    assert_eq!(get_err(&mut a, USER, "Device.LocalAgent.ControllerTrust."), 7026);
    assert_eq!(get_err(&mut a, USER, "Device.LocalAgent.Controller."), 7026);
    assert_eq!(get_err(&mut a, USER, "Device.LocalAgent.ControllerTrust.Challenge.1.Value"), 7026);
    let r = get_ok(&mut a, USER, "Device.LocalAgent.", 0);
    assert!(r.iter().all(|(p, _)| !p.contains("Controller")), "{r:?}");
    // Writing the guest network works, including the (secured) passphrase.
    let s = set_resp(send(
        &mut a,
        USER,
        set_req(
            false,
            &[(
                "Device.WiFi.AccessPoint.3.",
                &[("Enable", "false", true), ("Security.KeyPassphrase", "new-guest-pass", true)],
            )],
        ),
    ));
    let SetStatus::OperSuccess(ok) = s.updated_obj_results[0].oper_status.clone().unwrap().oper_status.unwrap() else {
        panic!()
    };
    assert_eq!(ok.updated_inst_results[0].updated_params["Security.KeyPassphrase"], "");
    assert_eq!(ok.updated_inst_results[0].updated_params["Enable"], "false");
    assert_eq!(a.get_internal("Device.WiFi.AccessPoint.3.Security.KeyPassphrase").as_deref(), Some("new-guest-pass"));
    assert_eq!(a.get_internal("Device.WiFi.AccessPoint.3.Status").as_deref(), Some("Disabled"));
    // Not allowed: FactoryReset, roles, controllers.
    assert_eq!(error(send(&mut a, USER, operate_req("Device.FactoryReset()", &[], true))).err_code, 7006);
    let e = error(send(
        &mut a,
        USER,
        set_req(false, &[("Device.LocalAgent.ControllerTrust.Role.3.", &[("Name", "x", true)])]),
    ));
    assert_eq!(e.param_errs[0].err_code, 7006);
    assert_eq!(error(send(&mut a, USER, add_req(false, &[("Device.LocalAgent.Controller.", &[])]))).err_code, 7006);
    // Allowed: Reboot.
    let r = operate(&mut a, USER, "Device.Reboot()", &[]);
    assert!(output(&r[0].1).is_empty());
}

#[test]
fn subscriptions_are_private_to_their_controller() {
    let mut a = gateway();
    let admin_sub = subscribe(&mut a, ADMIN, "ValueChange", "Device.DeviceInfo.FriendlyName", &[]);
    let user_sub = subscribe(&mut a, USER, "ValueChange", "Device.WiFi.SSID.1.SSID", &[]);
    let seen: Vec<_> = get_ok(&mut a, USER, "Device.LocalAgent.Subscription.", 0).into_iter().map(|(p, _)| p).collect();
    assert_eq!(seen, std::slice::from_ref(&user_sub));
    assert_eq!(get_ok(&mut a, ADMIN, "Device.LocalAgent.Subscription.", 0).len(), 2);
    assert_eq!(
        value(&mut a, USER, &format!("{user_sub}Recipient")),
        a.controller_row(USER).unwrap().trim_end_matches('.')
    );
    // The user cannot delete the admin's row; its wildcard skips it.
    let e = error(send(&mut a, USER, delete_req(false, &[&admin_sub])));
    assert_eq!(e.err_code, 7006);
    let r = delete_results(send(&mut a, USER, delete_req(false, &["Device.LocalAgent.Subscription.*."])));
    let DelStatus::OperSuccess(ok) = &r[0] else { panic!() };
    assert_eq!(ok.affected_paths, [user_sub]);
    assert!(a.get_internal(&format!("{admin_sub}Enable")).is_some());
}

#[test]
fn permission_order_and_role_union() {
    let mut a = gateway();
    // Give Home User a higher-Order permission that forbids reading Hosts.
    let p = added_path(send(
        &mut a,
        ADMIN,
        add_req(
            false,
            &[(
                "Device.LocalAgent.ControllerTrust.Role.3.Permission.",
                &[("Enable", "true", true), ("Order", "50", true), ("Targets", "Device.Hosts.", true)],
            )],
        ),
    ));
    assert_eq!(a.get_internal(&format!("{p}Param")).as_deref(), Some("----"));
    assert_eq!(get_err(&mut a, USER, "Device.Hosts.Host.1.HostName"), 7026);
    // A second role (Untrusted grants DeviceInfo only) does not bring Hosts back...
    let row = a.controller_row(USER).unwrap();
    a.set_internal(
        &format!("{row}AssignedRole"),
        "Device.LocalAgent.ControllerTrust.Role.3,Device.LocalAgent.ControllerTrust.Role.2",
        t(0),
    )
    .unwrap();
    assert_eq!(get_err(&mut a, USER, "Device.Hosts.Host.1.HostName"), 7026);
    // ...but Full Access in InheritedRole does, and with it the secured values.
    a.set_internal(&format!("{row}InheritedRole"), "Device.LocalAgent.ControllerTrust.Role.1", t(0)).unwrap();
    assert_eq!(value(&mut a, USER, "Device.Hosts.Host.1.HostName"), "Annas-Phone");
    assert_eq!(value(&mut a, USER, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"), "correct-horse-battery");
    // Disabling the permission restores the lower-Order grant.
    a.set_internal(&format!("{row}InheritedRole"), "", t(0)).unwrap();
    a.set_internal(&format!("{p}Enable"), "false", t(0)).unwrap();
    assert_eq!(value(&mut a, USER, "Device.Hosts.Host.1.HostName"), "Annas-Phone");
}

// ---- Challenge -----------------------------------------------------------------------------

#[test]
fn challenge_success_grants_home_user() {
    let mut a = gateway();
    let r = operate(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.RequestChallenge()",
        &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.1")],
    );
    let out = output(&r[0].1);
    assert_eq!(out["InstructionType"], "text/plain");
    assert_eq!(out["ValueType"], "text/plain");
    let instruction = String::from_utf8(value::decode_base64(&out["Instruction"]).unwrap()).unwrap();
    assert!(instruction.contains("passcode"), "{instruction}");
    let id = out["ChallengeID"].clone();
    assert!(id.starts_with("Challenge-"), "{id}");
    let r = operate(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.ChallengeResponse()",
        &[("ChallengeID", &id), ("Value", &b64(GW_PASSCODE))],
    );
    assert!(output(&r[0].1).is_empty());
    let row = a.controller_row(STRANGER).unwrap();
    assert_eq!(
        a.get_internal(&format!("{row}AssignedRole")).as_deref(),
        Some("Device.LocalAgent.ControllerTrust.Role.3")
    );
    assert_eq!(value(&mut a, STRANGER, "Device.WiFi.SSID.1.SSID"), "Home");
    assert_eq!(value(&mut a, STRANGER, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"), "");
    // The ChallengeID is single-use.
    let r = operate(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.ChallengeResponse()",
        &[("ChallengeID", &id), ("Value", &b64(GW_PASSCODE))],
    );
    assert_eq!(failure_code(&r[0].1), 7012);
}

#[test]
fn challenge_errors() {
    let mut a = gateway();
    let rc = "Device.LocalAgent.ControllerTrust.RequestChallenge()";
    let cr = "Device.LocalAgent.ControllerTrust.ChallengeResponse()";
    assert_eq!(failure_code(&operate(&mut a, STRANGER, rc, &[])[0].1), 7027);
    let bad_ref = [("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.7")];
    assert_eq!(failure_code(&operate(&mut a, STRANGER, rc, &bad_ref)[0].1), 7012);
    let r = operate(&mut a, STRANGER, cr, &[("ChallengeID", "Challenge-0-99"), ("Value", &b64("x"))]);
    assert_eq!(failure_code(&r[0].1), 7012);
    assert_eq!(failure_code(&operate(&mut a, STRANGER, cr, &[("ChallengeID", "x")])[0].1), 7027);
    // Another controller's ChallengeID is unknown to me.
    let r = operate(&mut a, STRANGER, rc, &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.1")]);
    let id = output(&r[0].1)["ChallengeID"].clone();
    let r = operate(&mut a, STRANGER2, cr, &[("ChallengeID", &id), ("Value", &b64(GW_PASSCODE))]);
    assert_eq!(failure_code(&r[0].1), 7012);
    // Value must be base64.
    let r = operate(&mut a, STRANGER, cr, &[("ChallengeID", &id), ("Value", "not base64!")]);
    assert_eq!(failure_code(&r[0].1), 7027);
}

#[test]
fn challenge_lockout_across_controllers_and_its_end() {
    let mut a = gateway();
    assert_eq!(failure_code(&challenge(&mut a, STRANGER, "000000", t(0))), 7022);
    assert_eq!(failure_code(&challenge(&mut a, STRANGER2, "111111", t(1))), 7022);
    assert_eq!(failure_code(&challenge(&mut a, STRANGER, "222222", t(2))), 7022);
    // Locked for 30 s (from t=2), for everyone, even with the right passcode.
    assert_eq!(failure_code(&challenge(&mut a, STRANGER2, GW_PASSCODE, t(3))), 7002);
    assert_eq!(failure_code(&challenge(&mut a, STRANGER, GW_PASSCODE, t(31))), 7002);
    // After the lock-out, the right passcode works.
    assert!(output(&challenge(&mut a, STRANGER, GW_PASSCODE, t(32))).is_empty());
    // A success resets the failure count.
    assert_eq!(failure_code(&challenge(&mut a, STRANGER2, "333333", t(33))), 7022);
    assert_eq!(failure_code(&challenge(&mut a, STRANGER2, "444444", t(34))), 7022);
    assert!(output(&challenge(&mut a, STRANGER2, GW_PASSCODE, t(35))).is_empty());
}

#[test]
fn challenge_expiry() {
    let mut a = gateway();
    let r = operate(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.RequestChallenge()",
        &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.1."), ("RequestExpiration", "10")],
    );
    let id = output(&r[0].1)["ChallengeID"].clone();
    assert_eq!(a.next_deadline(), Some(t(10)));
    // A second request for a different challenge is refused while one is outstanding.
    a.add_internal(
        "Device.LocalAgent.ControllerTrust.Challenge.",
        &[("Enable", "true"), ("Value", &b64("other")), ("Role", "Device.LocalAgent.ControllerTrust.Role.3")],
        t(1),
    )
    .unwrap();
    let r = operate_at(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.RequestChallenge()",
        &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.2")],
        t(1),
    );
    assert_eq!(failure_code(&r[0].1), 7002);
    a.handle_timeout(t(10));
    assert_eq!(a.next_deadline(), None);
    let r = operate_at(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.ChallengeResponse()",
        &[("ChallengeID", &id), ("Value", &b64(GW_PASSCODE))],
        t(11),
    );
    assert_eq!(failure_code(&r[0].1), 7012);
    // Default expiration is 900 s.
    operate_at(
        &mut a,
        STRANGER,
        "Device.LocalAgent.ControllerTrust.RequestChallenge()",
        &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.1")],
        t(20),
    );
    assert_eq!(a.next_deadline(), Some(t(920)));
}

// ---- Set ----------------------------------------------------------------------------------

fn set_status(s: &usp::SetResp, i: usize) -> SetStatus {
    s.updated_obj_results[i].oper_status.clone().unwrap().oper_status.unwrap()
}

#[test]
fn set_allow_partial_false() {
    let mut a = gateway();
    // All good.
    let s =
        set_resp(send(&mut a, ADMIN, set_req(false, &[("Device.DeviceInfo.", &[("FriendlyName", "Gateway", true)])])));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    assert_eq!(ok.updated_inst_results[0].affected_path, "Device.DeviceInfo.");
    assert_eq!(ok.updated_inst_results[0].updated_params["FriendlyName"], "Gateway");
    assert_eq!(a.friendly_name(), "Gateway");
    // A required parameter fails: Error, nothing applied (not even the other object).
    let m = send(
        &mut a,
        ADMIN,
        set_req(
            false,
            &[
                ("Device.DeviceInfo.", &[("FriendlyName", "Changed", true)]),
                ("Device.WiFi.SSID.1.", &[("SSID", "New", false), ("Enable", "maybe", true)]),
            ],
        ),
    );
    let e = error(m);
    assert_eq!(e.err_code, 7021);
    assert_eq!(e.param_errs.len(), 1);
    assert_eq!(e.param_errs[0].param_path, "Device.WiFi.SSID.1.Enable");
    assert_eq!(e.param_errs[0].err_code, 7011);
    assert_eq!(a.friendly_name(), "Gateway");
    assert_eq!(a.get_internal("Device.WiFi.SSID.1.SSID").as_deref(), Some("Home"));
    // A non-required parameter fails: success, with param_errs, the rest applied.
    let s = set_resp(send(
        &mut a,
        ADMIN,
        set_req(false, &[("Device.WiFi.SSID.1.", &[("SSID", "New", true), ("Enable", "maybe", false)])]),
    ));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    assert_eq!(ok.updated_inst_results[0].param_errs.len(), 1);
    assert_eq!(ok.updated_inst_results[0].param_errs[0].param, "Enable");
    assert_eq!(ok.updated_inst_results[0].param_errs[0].err_code, 7011);
    assert_eq!(a.get_internal("Device.WiFi.SSID.1.SSID").as_deref(), Some("New"));
    // Object-level failure.
    let e = error(send(&mut a, ADMIN, set_req(false, &[("Device.WiFi.SSID.9.", &[("SSID", "x", false)])])));
    assert_eq!(e.err_code, 7016);
    assert_eq!(e.param_errs[0].param_path, "Device.WiFi.SSID.9.");
    assert_eq!(error(send(&mut a, ADMIN, set_req(false, &[("Device.WiFi.SSID.1.SSID", &[])]))).err_code, 7026);
    assert_eq!(error(send(&mut a, ADMIN, set_req(false, &[("Device.Bogus.", &[])]))).err_code, 7026);
    assert_eq!(error(send(&mut a, ADMIN, set_req(false, &[("Device.WiFi.SSID.", &[])]))).err_code, 7026);
}

#[test]
fn set_allow_partial_true() {
    let mut a = gateway();
    let s = set_resp(send(
        &mut a,
        ADMIN,
        set_req(
            true,
            &[
                ("Device.WiFi.SSID.1.", &[("SSID", "Changed", false), ("Enable", "maybe", true)]),
                ("Device.WiFi.SSID.2.", &[("SSID", "Five", true), ("Enable", "maybe", false)]),
                ("Device.WiFi.SSID.7.", &[("SSID", "x", true)]),
            ],
        ),
    ));
    // Object 1 failed (required), nothing of it applied.
    let SetStatus::OperFailure(f) = set_status(&s, 0) else { panic!() };
    assert_eq!(f.err_code, 7021);
    assert_eq!(f.updated_inst_failures[0].affected_path, "Device.WiFi.SSID.1.");
    assert_eq!(f.updated_inst_failures[0].param_errs.len(), 1);
    assert_eq!(f.updated_inst_failures[0].param_errs[0].param, "Enable");
    assert_eq!(a.get_internal("Device.WiFi.SSID.1.SSID").as_deref(), Some("Home"));
    // Object 2 succeeded with a non-required failure.
    let SetStatus::OperSuccess(ok) = set_status(&s, 1) else { panic!() };
    assert_eq!(ok.updated_inst_results[0].param_errs[0].param, "Enable");
    assert_eq!(a.get_internal("Device.WiFi.SSID.2.SSID").as_deref(), Some("Five"));
    // Object 3 does not exist.
    let SetStatus::OperFailure(f) = set_status(&s, 2) else { panic!() };
    assert_eq!(f.err_code, 7016);
}

#[test]
fn set_value_checks() {
    let mut a = gateway();
    let code = |a: &mut Agent, obj: &str, p: &str, v: &str| -> u32 {
        let s = set_resp(send(a, ADMIN, set_req(true, &[(obj, &[(p, v, false)])])));
        match set_status(&s, 0) {
            SetStatus::OperSuccess(ok) => {
                ok.updated_inst_results[0].param_errs.first().map(|e| e.err_code).unwrap_or(0)
            }
            SetStatus::OperFailure(f) => panic!("{f:?}"),
        }
    };
    let ap = "Device.WiFi.AccessPoint.1.";
    assert_eq!(code(&mut a, ap, "Enable", "1"), 0);
    assert_eq!(a.get_internal("Device.WiFi.AccessPoint.1.Enable").as_deref(), Some("true"));
    assert_eq!(code(&mut a, ap, "Enable", "yes"), 7011);
    assert_eq!(code(&mut a, ap, "Status", "Enabled"), 7013);
    assert_eq!(code(&mut a, ap, "Bogus", "1"), 7010);
    assert_eq!(code(&mut a, ap, "AssociatedDevice.1.Active", "1"), 7010);
    assert_eq!(code(&mut a, ap, "MaxAssociatedDevices", "-1"), 7011);
    assert_eq!(code(&mut a, ap, "SSIDReference", "Device.WiFi.SSID.9"), 7012);
    assert_eq!(code(&mut a, ap, "SSIDReference", "Device.WiFi.SSID.2"), 7025, "unique key");
    assert_eq!(code(&mut a, ap, "Security.KeyPassphrase", "short"), 7012);
    assert_eq!(code(&mut a, ap, "Security.KeyPassphrase", &"x".repeat(64)), 7012);
    assert_eq!(code(&mut a, ap, "Security.KeyPassphrase", "long enough"), 0);
    assert_eq!(code(&mut a, ap, "Security.ModeEnabled", "WEP-64"), 7012, "not in ModesSupported");
    assert_eq!(code(&mut a, ap, "Security.ModeEnabled", "Nope"), 7012);
    assert_eq!(code(&mut a, "Device.WiFi.Radio.1.", "TransmitPower", "200"), 7012);
    assert_eq!(code(&mut a, "Device.WiFi.Radio.1.", "Channel", "abc"), 7011);
    assert_eq!(code(&mut a, "Device.WiFi.Radio.1.", "Channel", "0"), 7012);
    assert_eq!(code(&mut a, "Device.Hosts.AccessControl.1.", "AccessPolicy", "Maybe"), 7012);
    assert_eq!(code(&mut a, "Device.Hosts.AccessControl.1.", "AccessPolicy", "Deny"), 0);
    assert_eq!(code(&mut a, "Device.Hosts.AccessControl.1.", "PhysAddress", "nope"), 7012);
    assert_eq!(code(&mut a, "Device.Schedules.Schedule.1.", "Day", "Monday,Funday"), 7012);
    assert_eq!(code(&mut a, "Device.Schedules.Schedule.1.", "StartTime", "25:00"), 7012);
    assert_eq!(code(&mut a, "Device.WiFi.SSID.2.", "Alias", "home-2g"), 7025);
    assert_eq!(code(&mut a, "Device.DeviceInfo.", "FriendlyName", &"x".repeat(33)), 7012);
}

#[test]
fn set_search_path_and_derived_status() {
    let mut a = gateway();
    let s = set_resp(send(
        &mut a,
        ADMIN,
        set_req(false, &[("Device.WiFi.SSID.[SSID==\"Home\"].", &[("Enable", "false", true)])]),
    ));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    let paths: Vec<_> = ok.updated_inst_results.iter().map(|r| r.affected_path.as_str()).collect();
    assert_eq!(paths, ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2."]);
    assert_eq!(
        values(&mut a, ADMIN, "Device.WiFi.SSID.*.Status").into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        ["Down", "Down", "Up"]
    );
    // A search matching nothing is a success with no instances.
    let s = set_resp(send(
        &mut a,
        ADMIN,
        set_req(false, &[("Device.WiFi.SSID.[SSID==\"none\"].", &[("Enable", "true", true)])]),
    ));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    assert!(ok.updated_inst_results.is_empty());
}

// ---- Add / Delete -----------------------------------------------------------------------------

#[test]
fn add_allow_partial_combinations() {
    let mut a = gateway();
    let acl = "Device.Hosts.AccessControl.";
    // Success: agent-assigned Alias, Origin, unique keys returned.
    let r = add_results(send(
        &mut a,
        ADMIN,
        add_req(false, &[(acl, &[("PhysAddress", "a4:83:e7:10:20:01", true), ("AccessPolicy", "Deny", true)])]),
    ));
    let AddStatus::OperSuccess(ok) = &r[0] else { panic!("{r:?}") };
    assert_eq!(ok.instantiated_path, "Device.Hosts.AccessControl.2.");
    assert_eq!(ok.unique_keys["Alias"], "cpe-2");
    assert_eq!(ok.unique_keys["PhysAddress"], "A4:83:E7:10:20:01");
    assert!(ok.param_errs.is_empty());
    assert_eq!(a.get_internal("Device.Hosts.AccessControl.2.Origin").as_deref(), Some("Controller"));
    assert_eq!(a.get_internal("Device.Hosts.AccessControl.2.Enable").as_deref(), Some("false"), "default");
    // allow_partial=false, required fails → Error, nothing created.
    let e = error(send(
        &mut a,
        ADMIN,
        add_req(
            false,
            &[
                (acl, &[("PhysAddress", "00:00:00:00:00:03", true)]),
                (acl, &[("PhysAddress", "00:00:00:00:00:04", true), ("AccessPolicy", "Maybe", true)]),
            ],
        ),
    ));
    assert_eq!(e.err_code, 7021);
    assert_eq!(e.param_errs[0].param_path, "Device.Hosts.AccessControl.AccessPolicy");
    assert_eq!(e.param_errs[0].err_code, 7012);
    assert_eq!(a.get_internal("Device.Hosts.AccessControlNumberOfEntries").as_deref(), Some("2"));
    // allow_partial=false, non-required fails → success with param_errs.
    let r = add_results(send(
        &mut a,
        ADMIN,
        add_req(false, &[(acl, &[("PhysAddress", "00:00:00:00:00:05", true), ("AccessPolicy", "Maybe", false)])]),
    ));
    let AddStatus::OperSuccess(ok) = &r[0] else { panic!("{r:?}") };
    assert_eq!(ok.param_errs[0].param, "AccessPolicy");
    assert_eq!(ok.param_errs[0].err_code, 7012);
    // allow_partial=true: one failure, one success.
    let r = add_results(send(
        &mut a,
        ADMIN,
        add_req(
            true,
            &[
                (acl, &[("PhysAddress", "00:00:00:00:00:06", true), ("Bogus", "1", true)]),
                (acl, &[("PhysAddress", "00:00:00:00:00:07", true), ("Bogus", "1", false)]),
            ],
        ),
    ));
    let AddStatus::OperFailure(f) = &r[0] else { panic!("{r:?}") };
    assert_eq!(f.err_code, 7021);
    assert!(f.err_msg.contains("Bogus"), "{}", f.err_msg);
    let AddStatus::OperSuccess(ok) = &r[1] else { panic!("{r:?}") };
    assert_eq!(ok.param_errs[0].err_code, 7010);
    // Duplicate unique key.
    let r = add_results(send(&mut a, ADMIN, add_req(true, &[(acl, &[("PhysAddress", "A4:83:E7:10:20:01", false)])])));
    let AddStatus::OperFailure(f) = &r[0] else { panic!("{r:?}") };
    assert_eq!(f.err_code, 7025);
    let e = error(send(&mut a, ADMIN, add_req(false, &[(acl, &[("PhysAddress", "A4:83:E7:10:20:01", false)])])));
    assert_eq!(e.err_code, 7025);
}

#[test]
fn add_errors_and_instance_numbers() {
    let mut a = gateway();
    let fail = |a: &mut Agent, path: &str| -> u32 {
        match add_results(send(a, ADMIN, add_req(true, &[(path, &[])]))).remove(0) {
            AddStatus::OperFailure(f) => f.err_code,
            AddStatus::OperSuccess(s) => panic!("{s:?}"),
        }
    };
    assert_eq!(fail(&mut a, "Device.Hosts.Host."), 7019);
    assert_eq!(fail(&mut a, "Device.WiFi."), 7018);
    assert_eq!(fail(&mut a, "Device.WiFi.SSID.1."), 7018);
    assert_eq!(fail(&mut a, "Device.WiFi.SSID.*."), 7026);
    assert_eq!(fail(&mut a, "Device.Nope."), 7026);
    assert_eq!(fail(&mut a, "Device.LocalAgent.ControllerTrust.Role.9.Permission."), 7016);
    assert_eq!(fail(&mut a, "Device.WiFi.SSID.[Name==\"wl0\"].Bogus."), 7026);
    // Unique-key addressing of the parent is fine.
    let p = added_path(send(
        &mut a,
        ADMIN,
        add_req(false, &[("Device.LocalAgent.ControllerTrust.Role.[Name==\"Home User\"].Permission.", &[])]),
    ));
    assert_eq!(p, "Device.LocalAgent.ControllerTrust.Role.3.Permission.9.");
    assert_eq!(a.get_internal(&format!("{p}Order")).as_deref(), Some("0"));
    // A second row with the default Order gets the next free one (Order is a unique key).
    let p2 = added_path(send(
        &mut a,
        ADMIN,
        add_req(false, &[("Device.LocalAgent.ControllerTrust.Role.3.Permission.", &[])]),
    ));
    assert_eq!(a.get_internal(&format!("{p2}Order")).as_deref(), Some("9"));
    // Instance numbers are never reused.
    let s1 = added_path(send(&mut a, ADMIN, add_req(false, &[("Device.WiFi.SSID.", &[("SSID", "Temp", true)])])));
    assert_eq!(s1, "Device.WiFi.SSID.4.");
    assert_eq!(a.get_internal("Device.WiFi.SSID.4.Name").as_deref(), Some("ssid4"));
    assert_eq!(a.get_internal("Device.WiFi.SSID.4.Alias").as_deref(), Some("cpe-4"));
    delete_results(send(&mut a, ADMIN, delete_req(false, &[&s1])));
    let s2 = added_path(send(&mut a, ADMIN, add_req(false, &[("Device.WiFi.SSID.", &[])])));
    assert_eq!(s2, "Device.WiFi.SSID.5.");
    // Tables are bounded.
    for _ in 0..100 {
        send(&mut a, ADMIN, add_req(true, &[("Device.Schedules.Schedule.", &[])]));
    }
    assert_eq!(a.get_internal("Device.Schedules.ScheduleNumberOfEntries").as_deref(), Some("64"));
    // Too many objects in one message.
    let none: &[(&str, &str, bool)] = &[];
    let many = vec![("Device.Schedules.Schedule.", none); 1001];
    assert_eq!(error(send(&mut a, ADMIN, add_req(true, &many))).err_code, 7005);
}

#[test]
fn add_subscription_fills_recipient_and_dates() {
    let mut a = gateway();
    let now = t(60);
    let m = send_at(
        &mut a,
        USER,
        add_req(
            false,
            &[(
                "Device.LocalAgent.Subscription.",
                &[
                    ("Enable", "true", true),
                    ("NotifType", "ValueChange", true),
                    ("ReferenceList", "Device.WiFi.SSID.1.SSID", true),
                ],
            )],
        ),
        now,
    )
    .unwrap();
    let r = add_results(m);
    let AddStatus::OperSuccess(ok) = &r[0] else { panic!() };
    let row = a.controller_row(USER).unwrap();
    assert_eq!(ok.unique_keys["Recipient"], row.trim_end_matches('.'));
    assert_eq!(ok.unique_keys["ID"], "sub-1");
    assert_eq!(ok.unique_keys["Alias"], "cpe-1");
    assert_eq!(
        a.get_internal("Device.LocalAgent.Subscription.1.CreationDate").as_deref(),
        Some("2024-06-01T12:01:00Z")
    );
    // ReferenceList is set once; bad paths are refused.
    let s = set_resp(send(
        &mut a,
        USER,
        set_req(true, &[("Device.LocalAgent.Subscription.1.", &[("ReferenceList", "Device.", false)])]),
    ));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    assert_eq!(ok.updated_inst_results[0].param_errs[0].err_code, 7013);
    let r = add_results(send(
        &mut a,
        USER,
        add_req(true, &[("Device.LocalAgent.Subscription.", &[("ReferenceList", "Device.[", true)])]),
    ));
    assert!(matches!(&r[0], AddStatus::OperFailure(f) if f.err_code == 7021));
    // Same ID for the same recipient is a duplicate key.
    let r = add_results(send(
        &mut a,
        USER,
        add_req(true, &[("Device.LocalAgent.Subscription.", &[("ID", "sub-1", true)])]),
    ));
    assert!(matches!(&r[0], AddStatus::OperFailure(f) if f.err_code == 7025), "{r:?}");
}

#[test]
fn delete_paths() {
    let mut a = gateway();
    let r = delete_results(send(
        &mut a,
        ADMIN,
        delete_req(false, &["Device.Hosts.AccessControl.1.", "Device.Hosts.AccessControl.9."]),
    ));
    let DelStatus::OperSuccess(ok) = &r[0] else { panic!() };
    assert_eq!(ok.affected_paths, ["Device.Hosts.AccessControl.1."]);
    let DelStatus::OperSuccess(ok) = &r[1] else { panic!() };
    assert!(ok.affected_paths.is_empty(), "deleting a missing instance succeeds");
    // Nested rows are reported too.
    let r = delete_results(send(&mut a, ADMIN, delete_req(false, &["Device.WiFi.AccessPoint.[Alias==\"home-2g\"]."])));
    let DelStatus::OperSuccess(ok) = &r[0] else { panic!() };
    assert_eq!(ok.affected_paths, ["Device.WiFi.AccessPoint.1.", "Device.WiFi.AccessPoint.1.AssociatedDevice.1."]);
    // Read-only tables and non-rows.
    assert_eq!(error(send(&mut a, ADMIN, delete_req(false, &["Device.Hosts.Host.1."]))).err_code, 7024);
    let r = delete_results(send(
        &mut a,
        ADMIN,
        delete_req(true, &["Device.Hosts.Host.1.", "Device.Schedules.Schedule.2."]),
    ));
    assert!(matches!(&r[0], DelStatus::OperFailure(f) if f.err_code == 7024));
    assert!(matches!(&r[1], DelStatus::OperSuccess(ok) if ok.affected_paths == ["Device.Schedules.Schedule.2."]));
    assert_eq!(error(send(&mut a, ADMIN, delete_req(false, &["Device.WiFi."]))).err_code, 7024);
    assert_eq!(error(send(&mut a, ADMIN, delete_req(false, &["Device.WiFi.SSID."]))).err_code, 7026);
    assert_eq!(error(send(&mut a, ADMIN, delete_req(false, &["Device.WiFi.SSID.1.SSID"]))).err_code, 7026);
    // Search with allow_partial: rows that cannot go are reported as unaffected.
    let r = delete_results(send(&mut a, ADMIN, delete_req(true, &["Device.Hosts.*.[Alias!=\"x\"]."])));
    assert!(matches!(&r[0], DelStatus::OperFailure(_)) || matches!(&r[0], DelStatus::OperSuccess(_)));
    let r = delete_results(send(&mut a, ADMIN, delete_req(true, &["Device.WiFi.AccessPoint.*.AssociatedDevice.*."])));
    let DelStatus::OperSuccess(ok) = &r[0] else { panic!("{r:?}") };
    assert!(ok.affected_paths.is_empty());
    assert_eq!(ok.unaffected_path_errs.len(), 1);
    assert_eq!(ok.unaffected_path_errs[0].err_code, 7024);
    // Home User may delete its own access rules.
    let r = delete_results(send(&mut a, USER, delete_req(false, &["Device.Schedules.Schedule.*."])));
    let DelStatus::OperSuccess(ok) = &r[0] else { panic!() };
    assert_eq!(ok.affected_paths, ["Device.Schedules.Schedule.1."]);
}

// ---- Operate ------------------------------------------------------------------------------

#[test]
fn operate_errors_and_send_resp() {
    let mut a = agent("hub");
    assert_eq!(error(send(&mut a, ADMIN, operate_req("Device.Nope()", &[], true))).err_code, 7026);
    assert_eq!(error(send(&mut a, ADMIN, operate_req("Device.DeviceInfo.", &[], true))).err_code, 7026);
    assert_eq!(error(send(&mut a, ADMIN, operate_req("Device.Reboot(", &[], true))).err_code, 7008);
    assert_eq!(
        error(send(&mut a, ADMIN, operate_req("Device.IoTCapability.9.BinaryControl.Toggle()", &[], true))).err_code,
        7016
    );
    // Capability 2 is a dimmer: it has no BinaryControl.
    assert_eq!(
        error(send(&mut a, ADMIN, operate_req("Device.IoTCapability.2.BinaryControl.Toggle()", &[], true))).err_code,
        7016
    );
    // send_resp=false: no reply, but the command runs.
    assert!(send_at(&mut a, ADMIN, operate_req("Device.IoTCapability.1.BinaryControl.Toggle()", &[], false), t(0))
        .is_none());
    assert_eq!(a.get_internal("Device.IoTCapability.1.BinaryControl.Value").as_deref(), Some("true"));
    // Search paths run on every match.
    let r = operate(&mut a, USER, "Device.IoTCapability.*.BinaryControl.Toggle()", &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, "Device.IoTCapability.1.BinaryControl.Toggle()");
    assert_eq!(a.get_internal("Device.IoTCapability.1.BinaryControl.Value").as_deref(), Some("false"));
    assert!(
        operate(&mut a, USER, "Device.IoTCapability.[Class==\"EnumControl\"].BinaryControl.Toggle()", &[]).is_empty()
    );
    // Level control steps, clamped.
    for _ in 0..6 {
        operate(&mut a, USER, "Device.IoTCapability.2.LevelControl.StepUp()", &[]);
    }
    assert_eq!(a.get_internal("Device.IoTCapability.2.LevelControl.Value").as_deref(), Some("100"));
    operate(&mut a, USER, "Device.IoTCapability.2.LevelControl.StepDown()", &[]);
    assert_eq!(a.get_internal("Device.IoTCapability.2.LevelControl.Value").as_deref(), Some("90"));
    // LevelControl.Value is range-checked against Min/Max.
    let s = set_resp(send(
        &mut a,
        USER,
        set_req(true, &[("Device.IoTCapability.2.LevelControl.", &[("Value", "101", false)])]),
    ));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    assert_eq!(ok.updated_inst_results[0].param_errs[0].err_code, 7012);
}

#[test]
fn async_ipping_completes_with_notification() {
    let mut a = gateway();
    subscribe(&mut a, USER, "OperationComplete", "Device.IP.Diagnostics.IPPing()", &[("NotifRetry", "true")]);
    subscribe(&mut a, ADMIN, "OperationComplete", "Device.WiFi.", &[]);
    subscribe(&mut a, ADMIN, "ObjectCreation", "Device.LocalAgent.Request.", &[]);
    a.drain_outbox();
    let r = operate(
        &mut a,
        USER,
        "Device.IP.Diagnostics.IPPing()",
        &[("Host", "192.168.1.20"), ("NumberOfRepetitions", "4")],
    );
    assert_eq!(r[0].0, "Device.IP.Diagnostics.IPPing()");
    let OperationResp::ReqObjPath(req) = &r[0].1 else { panic!("{r:?}") };
    assert_eq!(req, "Device.LocalAgent.Request.1.");
    assert_eq!(a.get_internal("Device.LocalAgent.Request.1.Status").as_deref(), Some("Active"));
    assert_eq!(
        a.get_internal("Device.LocalAgent.Request.1.Command").as_deref(),
        Some("Device.IP.Diagnostics.IPPing()")
    );
    assert_eq!(a.get_internal("Device.LocalAgent.Request.1.Originator").as_deref(), Some(USER));
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1, "ObjectCreation of the Request row");
    assert_eq!(a.next_deadline(), Some(t_ms(300)));
    a.handle_timeout(t_ms(299));
    assert!(a.drain_outbox().is_empty());
    a.handle_timeout(t_ms(300));
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1, "only the subscriber of that command: {n:?}");
    let (to, id, notif) = &n[0];
    assert_eq!(to, USER);
    assert!(id.starts_with("OperationComplete-"), "{id}");
    assert!(notif.send_resp);
    let Some(Notification::OperComplete(oc)) = &notif.notification else { panic!() };
    assert_eq!(oc.obj_path, "Device.IP.Diagnostics.");
    assert_eq!(oc.command_name, "IPPing()");
    assert_eq!(oc.command_key, "key-1");
    use usp::notify::operation_complete::OperationResp as OcResp;
    let Some(OcResp::ReqOutputArgs(out)) = &oc.operation_resp else { panic!() };
    let out = &out.output_args;
    assert_eq!(out["Status"], "Complete");
    assert_eq!(out["SuccessCount"].parse::<u32>().unwrap() + out["FailureCount"].parse::<u32>().unwrap(), 4);
    let min: u64 = out["MinimumResponseTimeDetailed"].parse().unwrap();
    let max: u64 = out["MaximumResponseTimeDetailed"].parse().unwrap();
    assert!(min <= max && min > 0);
    assert!(a.get_internal("Device.LocalAgent.Request.1.Status").is_none(), "row removed");
    assert_eq!(a.next_deadline(), None);
    // Deterministic: the same host gives the same numbers.
    let oc_of = |n: Vec<(String, String, usp::Notify)>| {
        n.into_iter()
            .find_map(|(_, _, x)| match x.notification {
                Some(Notification::OperComplete(oc)) => Some(oc),
                _ => None,
            })
            .unwrap()
    };
    operate(&mut a, USER, "Device.IP.Diagnostics.IPPing()", &[("Host", "192.168.1.20"), ("NumberOfRepetitions", "4")]);
    a.handle_timeout(t(1));
    let oc2 = oc_of(notifications(&mut a));
    assert_eq!(oc2.operation_resp, oc.operation_resp);
    // Offline hosts never answer; unresolvable names fail.
    let r = operate(&mut a, USER, "Device.IP.Diagnostics.IPPing()", &[("Host", "Office-Printer")]);
    assert!(matches!(r[0].1, OperationResp::ReqObjPath(_)));
    a.handle_timeout(t(2));
    let oc = oc_of(notifications(&mut a));
    let Some(OcResp::ReqOutputArgs(out)) = &oc.operation_resp else { panic!() };
    assert_eq!(out.output_args["SuccessCount"], "0");
    assert_eq!(out.output_args["FailureCount"], "3");
    operate(&mut a, USER, "Device.IP.Diagnostics.IPPing()", &[("Host", "nowhere.invalid")]);
    a.handle_timeout(t(3));
    let oc = oc_of(notifications(&mut a));
    let Some(OcResp::ReqOutputArgs(out)) = &oc.operation_resp else { panic!() };
    assert_eq!(out.output_args["Status"], "Error_CannotResolveHostName");
    // Bad arguments fail at once.
    let r = operate(&mut a, USER, "Device.IP.Diagnostics.IPPing()", &[]);
    assert_eq!(failure_code(&r[0].1), 7027);
    let r = operate(&mut a, USER, "Device.IP.Diagnostics.IPPing()", &[("Host", "x"), ("NumberOfRepetitions", "0")]);
    assert_eq!(failure_code(&r[0].1), 7027);
}

#[test]
fn async_cancel_and_duplicate_msg_ids() {
    let mut a = gateway();
    subscribe(&mut a, USER, "OperationComplete", "Device.IP.Diagnostics.", &[]);
    a.drain_outbox();
    let m = a
        .handle_msg(
            &eid(USER),
            request("ping-1", operate_req("Device.IP.Diagnostics.IPPing()", &[("Host", "example.com")], true)),
            t(0),
        )
        .unwrap();
    assert_eq!(m.header.as_ref().unwrap().msg_id, "ping-1");
    // The same msg_id while it runs is ignored; other ids are answered.
    let dup = request("ping-1", get_req(&["Device.DeviceInfo."], 0));
    assert!(a.handle_msg(&eid(USER), dup.clone(), t_ms(100)).is_none());
    assert!(a.handle_msg(&eid(ADMIN), dup, t_ms(100)).is_some(), "per controller");
    let r = operate_at(&mut a, USER, "Device.LocalAgent.Request.1.Cancel()", &[], t_ms(100));
    assert!(output(&r[0].1).is_empty());
    let n = notifications(&mut a);
    let Some(Notification::OperComplete(oc)) = &n[0].2.notification else { panic!("{n:?}") };
    use usp::notify::operation_complete::OperationResp as OcResp;
    assert!(matches!(&oc.operation_resp, Some(OcResp::CmdFailure(f)) if f.err_code == 7023));
    assert_eq!(a.next_deadline(), None);
    a.handle_timeout(t(1));
    assert!(a.drain_outbox().is_empty());
    assert!(a.handle_msg(&eid(USER), request("ping-1", get_req(&["Device.DeviceInfo."], 0)), t(1)).is_some());
}

#[test]
fn reboot_resets_uptime_and_sends_boot() {
    let mut a = gateway();
    let persistent = subscribe(&mut a, ADMIN, "Event", "Device.Boot!", &[("Persistent", "true")]);
    let volatile = subscribe(&mut a, USER, "Event", "Device.", &[]);
    a.drain_outbox();
    let r = operate_at(&mut a, USER, "Device.Reboot()", &[("Reason", "user request")], t(500));
    assert!(output(&r[0].1).is_empty());
    assert_eq!(a.get_internal("Device.DeviceInfo.UpTime").as_deref(), Some("0"));
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1, "non-persistent subscriptions do not survive a reboot");
    assert_eq!(n[0].0, ADMIN);
    let Some(Notification::Event(ev)) = &n[0].2.notification else { panic!() };
    assert_eq!(ev.obj_path, "Device.");
    assert_eq!(ev.event_name, "Boot!");
    assert_eq!(ev.params["Cause"], "RemoteReboot");
    assert_eq!(ev.params["CommandKey"], "key-1");
    assert_eq!(ev.params["Reason"], "user request");
    assert!(a.get_internal(&format!("{persistent}Enable")).is_some());
    assert!(a.get_internal(&format!("{volatile}Enable")).is_none());
    let m = send_at(&mut a, ADMIN, get_req(&["Device.DeviceInfo.UpTime"], 0), t(530)).unwrap();
    let RespType::GetResp(g) = resp(m) else { panic!() };
    assert_eq!(g.req_path_results[0].resolved_path_results[0].result_params["UpTime"], "30");
}

#[test]
fn a_power_cycle_restarts_closes_and_boot_waits_for_the_controller() {
    let mut a = gateway();
    subscribe(&mut a, ADMIN, "Event", "Device.Boot!", &[("Persistent", "true")]);
    a.drain_outbox();
    a.controller_connected(&eid(ADMIN));
    a.power_cycle(t(500));
    assert!(a.take_restart(), "the transport closes the connections");
    assert!(!a.take_restart(), "once");
    assert_eq!(a.get_internal("Device.DeviceInfo.UpTime").as_deref(), Some("0"));
    assert!(notifications(&mut a).is_empty(), "held while the controller is away");
    a.controller_connected(&eid(ADMIN));
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1);
    let Some(Notification::Event(ev)) = &n[0].2.notification else { panic!() };
    assert_eq!((ev.event_name.as_str(), ev.params["Cause"].as_str()), ("Boot!", "LocalReboot"));
    // Repeated without a restart: UpTime goes on.
    a.resend_boot(t(520));
    assert_eq!(notifications(&mut a).len(), 1);
    assert_eq!(a.get_internal("Device.DeviceInfo.UpTime").as_deref(), Some("20"));
}

#[test]
fn a_lying_uptime_reads_as_told() {
    let mut a = gateway();
    a.lie_about_uptime(Some("18446744073709551615".into()));
    let m = send_at(&mut a, ADMIN, get_req(&["Device.DeviceInfo.UpTime"], 0), t(30)).unwrap();
    let RespType::GetResp(g) = resp(m) else { panic!() };
    assert_eq!(g.req_path_results[0].resolved_path_results[0].result_params["UpTime"], "18446744073709551615");
    a.lie_about_uptime(None);
    assert_eq!(a.get_internal("Device.DeviceInfo.UpTime").as_deref(), Some("30"));
}

#[test]
fn factory_reset_restores_the_scenario() {
    let mut a = gateway();
    a.add_controller(eid("self::extra"), "Home User").unwrap();
    send(&mut a, ADMIN, set_req(false, &[("Device.DeviceInfo.", &[("FriendlyName", "Renamed", true)])]));
    send(&mut a, ADMIN, add_req(false, &[("Device.Schedules.Schedule.", &[])]));
    let r = operate(&mut a, ADMIN, "Device.FactoryReset()", &[]);
    assert!(output(&r[0].1).is_empty());
    assert_eq!(a.friendly_name(), "Living room gateway");
    assert_eq!(a.get_internal("Device.Schedules.ScheduleNumberOfEntries").as_deref(), Some("2"));
    assert!(a.controller_row("self::extra").is_some());
    assert!(a.controller_row(USER).is_some());
}

// ---- GetSupportedDM / GetInstances ------------------------------------------------------------------

fn supported(a: &mut Agent, from: &str, path: &str, first_level_only: bool, all: bool) -> gsdm::RequestedObjectResult {
    let m = send(
        a,
        from,
        ReqType::GetSupportedDm(usp::GetSupportedDm {
            obj_paths: vec![path.to_string()],
            first_level_only,
            return_commands: all,
            return_events: all,
            return_params: all,
            return_unique_key_sets: all,
        }),
    );
    match resp(m) {
        RespType::GetSupportedDmResp(r) => r.req_obj_results.into_iter().next().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_supported_dm() {
    let mut a = gateway();
    let r = supported(&mut a, ADMIN, "Device.", true, true);
    assert_eq!(r.err_code, 0);
    assert_eq!(r.data_model_inst_uri, get::DATA_MODEL_URI);
    let objs: Vec<_> = r.supported_objs.iter().map(|o| o.supported_obj_path.as_str()).collect();
    assert_eq!(
        objs,
        [
            "Device.",
            "Device.DeviceInfo.",
            "Device.Time.",
            "Device.LocalAgent.",
            "Device.WiFi.",
            "Device.Hosts.",
            "Device.Schedules.",
            "Device.IP.",
            "Device.BulkData."
        ]
    );
    let dev = &r.supported_objs[0];
    let cmds: Vec<_> = dev.supported_commands.iter().map(|c| c.command_name.as_str()).collect();
    assert_eq!(cmds, ["Reboot()", "FactoryReset()"]);
    assert_eq!(dev.supported_commands[0].command_type, gsdm::CmdType::CmdSync as i32);
    assert_eq!(dev.supported_events[0].event_name, "Boot!");
    assert!(dev.supported_events[0].arg_names.contains(&"Cause".to_owned()));
    assert!(dev.divergent_paths.is_empty());
    // Tables: {i} paths, access, unique keys, value types.
    let r = supported(&mut a, ADMIN, "Device.LocalAgent.Subscription.{i}.", false, true);
    let sub = &r.supported_objs[0];
    assert_eq!(sub.supported_obj_path, "Device.LocalAgent.Subscription.{i}.");
    assert!(sub.is_multi_instance);
    assert_eq!(sub.access, gsdm::ObjAccessType::ObjAddDelete as i32);
    let keys: Vec<Vec<String>> = sub.unique_key_sets.iter().map(|k| k.key_names.clone()).collect();
    assert_eq!(keys, [vec!["Alias".to_owned()], vec!["Recipient".to_owned(), "ID".to_owned()]]);
    let p = |o: &gsdm::SupportedObjectResult, n: &str| {
        o.supported_params.iter().find(|p| p.param_name == n).cloned().unwrap()
    };
    assert_eq!(p(sub, "Enable").value_type, gsdm::ParamValueType::ParamBoolean as i32);
    assert_eq!(p(sub, "Enable").access, gsdm::ParamAccessType::ParamReadWrite as i32);
    assert_eq!(p(sub, "CreationDate").value_type, gsdm::ParamValueType::ParamDateTime as i32);
    assert_eq!(p(sub, "CreationDate").access, gsdm::ParamAccessType::ParamReadOnly as i32);
    assert_eq!(p(sub, "TimeToLive").value_type, gsdm::ParamValueType::ParamUnsignedInt as i32);
    assert_eq!(p(sub, "ReferenceList").access, gsdm::ParamAccessType::ParamReadWrite as i32);
    // The table path without {i} works too; so do instance numbers.
    assert_eq!(supported(&mut a, ADMIN, "Device.WiFi.SSID.", false, false).supported_objs.len(), 1);
    assert_eq!(supported(&mut a, ADMIN, "Device.WiFi.AccessPoint.1.", false, false).supported_objs.len(), 3);
    // Async command, value change flags.
    let r = supported(&mut a, ADMIN, "Device.IP.Diagnostics.", false, true);
    let ping = &r.supported_objs[0].supported_commands[0];
    assert_eq!(ping.command_name, "IPPing()");
    assert_eq!(ping.command_type, gsdm::CmdType::CmdAsync as i32);
    assert!(ping.input_arg_names.contains(&"Host".to_owned()));
    assert!(ping.output_arg_names.contains(&"AverageResponseTime".to_owned()));
    let r = supported(&mut a, ADMIN, "Device.DeviceInfo.", false, true);
    let di = &r.supported_objs[0];
    assert_eq!(p(di, "UpTime").value_change, gsdm::ValueChangeType::ValueChangeWillIgnore as i32);
    assert_eq!(p(di, "FriendlyName").value_change, gsdm::ValueChangeType::ValueChangeAllowed as i32);
    assert_eq!(p(di, "UpTime").value_type, gsdm::ParamValueType::ParamUnsignedInt as i32);
    // Flags off: no params/commands/events.
    let r = supported(&mut a, ADMIN, "Device.", false, false);
    assert!(r.supported_objs.iter().all(|o| o.supported_params.is_empty() && o.supported_commands.is_empty()));
    assert!(r
        .supported_objs
        .iter()
        .any(|o| o.supported_obj_path == "Device.WiFi.DataElements.Network.Device.{i}.Radio.{i}.BSS.{i}.STA.{i}."));
    // Leaf paths.
    let r = supported(&mut a, ADMIN, "Device.Reboot()", false, true);
    assert_eq!(r.supported_objs[0].supported_commands.len(), 1);
    assert!(r.supported_objs[0].supported_params.is_empty());
    // Errors.
    assert_eq!(supported(&mut a, ADMIN, "Device.Nope.", false, true).err_code, 7026);
    assert_eq!(supported(&mut a, ADMIN, "Device.WiFi.Nope", false, true).err_code, 7026);
    assert_eq!(supported(&mut a, ADMIN, "Device.[", false, true).err_code, 7008);
    // Home User: read-only where it may not write.
    let r = supported(&mut a, USER, "Device.LocalAgent.", true, true);
    let la = &r.supported_objs[0];
    assert_eq!(p(la, "EndpointID").access, gsdm::ParamAccessType::ParamReadOnly as i32);
    let mtp = r.supported_objs.iter().find(|o| o.supported_obj_path == "Device.LocalAgent.MTP.{i}.").unwrap();
    assert_eq!(mtp.access, gsdm::ObjAccessType::ObjReadOnly as i32);
    // Of ControllerTrust only the two challenge commands are visible.
    let ct = r.supported_objs.iter().find(|o| o.supported_obj_path == "Device.LocalAgent.ControllerTrust.").unwrap();
    assert!(ct.supported_params.is_empty());
    assert_eq!(ct.supported_commands.len(), 2);
    assert!(!r.supported_objs.iter().any(|o| o.supported_obj_path.starts_with("Device.LocalAgent.Controller.")));
}

fn get_instances(
    a: &mut Agent,
    from: &str,
    path: &str,
    first_level_only: bool,
) -> usp::get_instances_resp::RequestedPathResult {
    let m =
        send(a, from, ReqType::GetInstances(usp::GetInstances { obj_paths: vec![path.to_string()], first_level_only }));
    match resp(m) {
        RespType::GetInstancesResp(r) => r.req_path_results.into_iter().next().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_instances_listing() {
    let mut a = gateway();
    let paths = |r: &usp::get_instances_resp::RequestedPathResult| {
        r.curr_insts.iter().map(|i| i.instantiated_obj_path.clone()).collect::<Vec<_>>()
    };
    let r = get_instances(&mut a, ADMIN, "Device.WiFi.AccessPoint.", true);
    assert_eq!(paths(&r), ["Device.WiFi.AccessPoint.1.", "Device.WiFi.AccessPoint.2.", "Device.WiFi.AccessPoint.3."]);
    assert_eq!(r.curr_insts[0].unique_keys["Alias"], "home-2g");
    assert_eq!(r.curr_insts[0].unique_keys["SSIDReference"], "Device.WiFi.SSID.1");
    let r = get_instances(&mut a, ADMIN, "Device.WiFi.AccessPoint.", false);
    assert_eq!(
        paths(&r),
        [
            "Device.WiFi.AccessPoint.1.",
            "Device.WiFi.AccessPoint.1.AssociatedDevice.1.",
            "Device.WiFi.AccessPoint.2.",
            "Device.WiFi.AccessPoint.2.AssociatedDevice.1.",
            "Device.WiFi.AccessPoint.3."
        ]
    );
    let r = get_instances(&mut a, ADMIN, "Device.LocalAgent.", true);
    assert!(paths(&r).contains(&"Device.LocalAgent.Controller.1.".to_owned()));
    assert!(!paths(&r).iter().any(|p| p.contains("Permission")));
    let r = get_instances(&mut a, ADMIN, "Device.LocalAgent.", false);
    assert!(paths(&r).contains(&"Device.LocalAgent.ControllerTrust.Role.2.Permission.2.".to_owned()));
    let r = get_instances(&mut a, ADMIN, "Device.Hosts.Host.[Active==false].", true);
    assert_eq!(paths(&r), ["Device.Hosts.Host.5."]);
    assert_eq!(r.curr_insts[0].unique_keys["PhysAddress"], "00:1B:A9:70:80:05");
    assert_eq!(get_instances(&mut a, ADMIN, "Device.Nope.", true).err_code, 7026);
    assert_eq!(get_instances(&mut a, ADMIN, "Device.WiFi.SSID.8.", true).err_code, 7026);
    assert_eq!(get_instances(&mut a, ADMIN, "Device.WiFi.SSID.1.SSID", true).err_code, 7026);
    // Home User sees no controllers.
    let r = get_instances(&mut a, USER, "Device.LocalAgent.", false);
    assert!(r.curr_insts.iter().all(|i| !i.instantiated_obj_path.contains("Controller")));
}

// ---- Notifications ------------------------------------------------------------------------------

#[test]
fn value_change_notifications() {
    let mut a = gateway();
    let sub = subscribe(&mut a, ADMIN, "ValueChange", "Device.WiFi.SSID.[Name==\"wl0\"].", &[("ID", "ssid-watch")]);
    subscribe(&mut a, USER, "ValueChange", "Device.WiFi.AccessPoint.*.Security.KeyPassphrase", &[]);
    subscribe(&mut a, USER, "ValueChange", "Device.LocalAgent.ControllerTrust.", &[]);
    subscribe(&mut a, USER, "ValueChange", "Device.DeviceInfo.UpTime", &[]);
    a.drain_outbox();
    send(&mut a, USER, set_req(false, &[("Device.WiFi.SSID.1.", &[("SSID", "Casa", true)])]));
    send(&mut a, USER, set_req(false, &[("Device.WiFi.SSID.2.", &[("SSID", "Casa", true)])]));
    // Setting the same value again is no change.
    send(&mut a, USER, set_req(false, &[("Device.WiFi.SSID.1.", &[("SSID", "Casa", true)])]));
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1, "{n:?}");
    let (to, id, notif) = &n[0];
    assert_eq!(to, ADMIN);
    assert!(id.starts_with("ValueChange-"));
    assert_eq!(notif.subscription_id, "ssid-watch");
    assert!(!notif.send_resp);
    assert_eq!(
        notif.notification,
        Some(Notification::ValueChange(usp::notify::ValueChange {
            param_path: "Device.WiFi.SSID.1.SSID".into(),
            param_value: "Casa".into()
        }))
    );
    // Secured values are sent empty to controllers without a secured role.
    a.set_internal("Device.WiFi.AccessPoint.3.Security.KeyPassphrase", "another-secret", t(0)).unwrap();
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1);
    let Some(Notification::ValueChange(vc)) = &n[0].2.notification else { panic!() };
    assert_eq!(vc.param_path, "Device.WiFi.AccessPoint.3.Security.KeyPassphrase");
    assert_eq!(vc.param_value, "");
    // Controller roles are not readable by Home User: no notification.
    a.set_internal("Device.LocalAgent.ControllerTrust.TOFUAllowed", "false", t(0)).unwrap();
    assert!(a.drain_outbox().is_empty());
    // Msg ids are unique.
    a.set_internal("Device.WiFi.SSID.1.SSID", "Home", t(0)).unwrap();
    let n2 = notifications(&mut a);
    assert_ne!(n2[0].1, id.clone());
    // A disabled subscription is silent; a deleted one too.
    a.set_internal(&format!("{sub}Enable"), "false", t(0)).unwrap();
    a.set_internal("Device.WiFi.SSID.1.SSID", "Casa", t(0)).unwrap();
    assert!(a.drain_outbox().is_empty());
}

#[test]
fn object_creation_and_deletion_notifications() {
    let mut a = gateway();
    subscribe(&mut a, USER, "ObjectCreation", "Device.Hosts.Host.", &[]);
    subscribe(&mut a, USER, "ObjectDeletion", "Device.Hosts.", &[]);
    subscribe(&mut a, USER, "ValueChange", "Device.Hosts.", &[]);
    a.drain_outbox();
    let row = a
        .add_internal(
            "Device.Hosts.Host.",
            &[("PhysAddress", "02:00:00:00:00:09"), ("HostName", "New-Phone"), ("Active", "true")],
            t(0),
        )
        .unwrap();
    assert_eq!(row, "Device.Hosts.Host.8.");
    let n = notifications(&mut a);
    let kinds: Vec<_> = n.iter().map(|(_, id, _)| id.split('-').next().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["ObjectCreation", "ValueChange"], "{n:?}");
    let Some(Notification::ObjCreation(c)) = &n[0].2.notification else { panic!() };
    assert_eq!(c.obj_path, "Device.Hosts.Host.8.");
    assert_eq!(c.unique_keys["PhysAddress"], "02:00:00:00:00:09");
    assert_eq!(c.unique_keys["Alias"], "cpe-8");
    let Some(Notification::ValueChange(vc)) = &n[1].2.notification else { panic!() };
    assert_eq!(vc.param_path, "Device.Hosts.HostNumberOfEntries");
    assert_eq!(vc.param_value, "8");
    a.delete_internal("Device.Hosts.Host.8", t(0)).unwrap();
    let n = notifications(&mut a);
    let Some(Notification::ObjDeletion(d)) = &n[0].2.notification else { panic!("{n:?}") };
    assert_eq!(d.obj_path, "Device.Hosts.Host.8.");
    // Controller-made rows notify as well.
    send(
        &mut a,
        ADMIN,
        add_req(false, &[("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:00:10", true)])]),
    );
    let n = notifications(&mut a);
    assert!(n.iter().all(|(_, id, _)| !id.starts_with("ObjectCreation")), "not subscribed to AccessControl creation");
    send(&mut a, ADMIN, delete_req(false, &["Device.Hosts.AccessControl.2."]));
    let n = notifications(&mut a);
    assert!(n.iter().any(|(_, _, x)| matches!(&x.notification, Some(Notification::ObjDeletion(d)) if d.obj_path == "Device.Hosts.AccessControl.2.")));
}

#[test]
fn onboard_request() {
    let mut a = gateway();
    let row = a.controller_row(USER).unwrap();
    let r = operate(&mut a, ADMIN, &format!("{row}SendOnBoardRequest()"), &[]);
    assert!(output(&r[0].1).is_empty());
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1);
    let (to, id, notif) = &n[0];
    assert_eq!(to, USER);
    assert!(id.starts_with("OnBoardRequest-"));
    assert_eq!(notif.subscription_id, "");
    assert!(notif.send_resp);
    assert_eq!(
        notif.notification,
        Some(Notification::OnBoardReq(usp::notify::OnBoardRequest {
            oui: "012345".into(),
            product_class: "Gateway".into(),
            serial_number: "GW0001".into(),
            agent_supported_protocol_versions: SUPPORTED_PROTOCOLS.into(),
        }))
    );
    // Home User may not.
    assert_eq!(error(send(&mut a, USER, operate_req(&format!("{row}SendOnBoardRequest()"), &[], true))).err_code, 7006);
}

#[test]
fn notifications_while_disconnected() {
    let mut a = gateway();
    subscribe(&mut a, USER, "ValueChange", "Device.DeviceInfo.FriendlyName", &[("NotifRetry", "true")]);
    subscribe(&mut a, USER, "ValueChange", "Device.WiFi.SSID.1.SSID", &[]);
    a.drain_outbox();
    a.controller_disconnected(&eid(USER));
    a.set_internal("Device.DeviceInfo.FriendlyName", "Away", t(0)).unwrap();
    a.set_internal("Device.WiFi.SSID.1.SSID", "Away", t(0)).unwrap();
    assert!(a.drain_outbox().is_empty());
    a.controller_connected(&eid(USER));
    let n = notifications(&mut a);
    assert_eq!(n.len(), 1, "only the one that asks for a response is held");
    assert!(n[0].2.send_resp);
}

#[test]
fn subscription_time_to_live() {
    let mut a = gateway();
    let sub = subscribe(&mut a, USER, "ValueChange", "Device.DeviceInfo.", &[("TimeToLive", "60")]);
    subscribe(&mut a, USER, "ObjectDeletion", "Device.LocalAgent.Subscription.", &[]);
    a.drain_outbox();
    assert_eq!(a.next_deadline(), Some(t(60)));
    a.handle_timeout(t(59));
    assert!(a.get_internal(&format!("{sub}Enable")).is_some());
    a.handle_timeout(t(60));
    assert!(a.get_internal(&format!("{sub}Enable")).is_none());
    let n = notifications(&mut a);
    assert!(matches!(&n[0].2.notification, Some(Notification::ObjDeletion(d)) if d.obj_path == sub));
    assert_eq!(a.next_deadline(), None);
}

#[test]
fn challenge_success_notifies_assigned_role_change() {
    let mut a = gateway();
    subscribe(&mut a, ADMIN, "ValueChange", "Device.LocalAgent.Controller.*.AssignedRole", &[]);
    a.drain_outbox();
    challenge(&mut a, STRANGER, GW_PASSCODE, t(0));
    let n = notifications(&mut a);
    let vc: Vec<_> = n
        .iter()
        .filter_map(|(_, _, x)| match &x.notification {
            Some(Notification::ValueChange(v)) => Some(v.param_value.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(vc, ["Device.LocalAgent.ControllerTrust.Role.3"]);
}

// ---- Internal changes and life ------------------------------------------------------------------

#[test]
fn internal_change_errors() {
    let mut a = gateway();
    assert!(a.set_internal("Device.WiFi.SSID.9.SSID", "x", t(0)).is_err());
    assert!(a.set_internal("Device.WiFi.SSID.*.SSID", "x", t(0)).is_err());
    assert!(a.set_internal("Device.DeviceInfo.UpTime", "5", t(0)).is_err());
    assert!(a.set_internal("Device.WiFi.Radio.1.Channel", "abc", t(0)).is_err());
    assert!(a.set_internal("Device.WiFi.", "x", t(0)).is_err());
    // Read-only parameters can be changed internally.
    a.set_internal("Device.WiFi.Radio.1.Status", "Down", t(0)).unwrap();
    assert_eq!(a.get_internal("Device.WiFi.Radio.1.Status").as_deref(), Some("Down"));
    assert!(a.add_internal("Device.WiFi.", &[], t(0)).is_err());
    assert!(a.add_internal("Device.Hosts.Host.", &[("Nope", "1")], t(0)).is_err());
    assert!(
        a.add_internal("Device.Hosts.Host.", &[("PhysAddress", "A4:83:E7:10:20:01")], t(0)).is_err(),
        "duplicate key"
    );
    assert_eq!(a.get_internal("Device.Hosts.HostNumberOfEntries").as_deref(), Some("7"), "failed adds leave nothing");
    assert!(a.delete_internal("Device.Hosts.Host.99.", t(0)).is_err());
    assert!(a.delete_internal("Device.Hosts.", t(0)).is_err());
    assert!(a.get_internal("Device.Nope").is_none());
    // Active drives ActiveLastChange.
    a.set_internal("Device.Hosts.Host.5.Active", "true", t(42)).unwrap();
    assert_eq!(a.get_internal("Device.Hosts.Host.5.ActiveLastChange").as_deref(), Some("2024-06-01T12:00:42Z"));
    // Optional sub-objects are created by internal adds.
    let mut hub = agent("hub");
    let cap = hub
        .add_internal(
            "Device.IoTCapability.",
            &[("Name", "Window"), ("Class", "BinarySensor"), ("BinarySensor.Value", "true")],
            t(0),
        )
        .unwrap();
    assert_eq!(hub.get_internal(&format!("{cap}BinarySensor.Value")).as_deref(), Some("true"));
    assert!(hub.get_internal(&format!("{cap}LevelSensor.Value")).is_none());
}

#[test]
fn schedule_status_follows_the_clock() {
    let mut a = gateway();
    // Saturday 12:00: the weekend schedule (Fri/Sat 08:00 + 14 h) is active.
    assert_eq!(value(&mut a, ADMIN, "Device.Schedules.Schedule.2.Status"), "Active");
    assert_eq!(value(&mut a, ADMIN, "Device.Schedules.Schedule.1.Status"), "Inactive");
    a.set_internal("Device.Schedules.Schedule.2.Enable", "false", t(0)).unwrap();
    assert_eq!(value(&mut a, ADMIN, "Device.Schedules.Schedule.2.Status"), "Disabled");
    // Saturday 23:00 is after 22:00.
    a.set_internal("Device.Schedules.Schedule.2.Enable", "true", t(0)).unwrap();
    let m = send_at(&mut a, ADMIN, get_req(&["Device.Schedules.Schedule.2.Status"], 0), t(11 * 3600)).unwrap();
    let RespType::GetResp(g) = resp(m) else { panic!() };
    assert_eq!(g.req_path_results[0].resolved_path_results[0].result_params["Status"], "Inactive");
}

#[test]
fn tick_is_deterministic_and_notifies() {
    use rand::SeedableRng;
    let run = |seed: u64| {
        let mut a = gateway();
        subscribe(&mut a, ADMIN, "ValueChange", "Device.WiFi.AccessPoint.", &[]);
        subscribe(&mut a, ADMIN, "ObjectCreation", "Device.Hosts.Host.", &[]);
        subscribe(&mut a, ADMIN, "ValueChange", "Device.Hosts.Host.*.Active", &[]);
        a.drain_outbox();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut out = Vec::new();
        for i in 0..200 {
            a.tick(&mut rng, t(i));
            out.extend(a.drain_outbox());
        }
        let snapshot = get_ok(&mut a, ADMIN, "Device.", 0);
        (out, snapshot)
    };
    let (n1, s1) = run(7);
    let (n2, s2) = run(7);
    assert_eq!(n1, n2);
    assert_eq!(s1, s2);
    assert!(n1.len() > 50, "signals drift: {}", n1.len());
    let (n3, _) = run(8);
    assert_ne!(n1, n3);
    // The hub's sensors move too.
    let mut hub = agent("hub");
    subscribe(&mut hub, USER, "ValueChange", "Device.IoTCapability.", &[]);
    hub.drain_outbox();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for i in 0..100 {
        hub.tick(&mut rng, t(i));
    }
    let n = notifications(&mut hub);
    assert!(n.iter().any(|(_, _, x)| matches!(&x.notification, Some(Notification::ValueChange(v)) if v.param_path.ends_with("LevelSensor.Value"))));
    let temp: f64 = hub.get_internal("Device.IoTCapability.4.LevelSensor.Value").unwrap().parse().unwrap();
    assert!((15.0..=30.0).contains(&temp));
}

#[test]
fn nasty_inputs_do_not_panic() {
    let mut a = gateway();
    for p in [
        "",
        "Device",
        "Device.",
        ".",
        "Device..",
        "Device.WiFi.SSID.0.",
        "Device.WiFi.SSID.4294967296.",
        "Device.WiFi.SSID.[].",
        "Device.WiFi.SSID.[SSID==\"%22\"].SSID",
        "Device.WiFi.SSID.*.SSID+.X",
        "Device.Hosts.Host.1.AssociatedDevice+.SignalStrength",
        "Device.Hosts.Host.2.AssociatedDevice+.X",
        "Device.WiFi.AccessPoint.[SSIDReference#*+.SSID==\"Home\"].Alias",
        "Device.{i}.",
        "Device.WiFi.Radio.{i}.Channel",
        "Device.IoTCapability.",
        "Device.WiFi.SSID.1.LowerLayers+.Channel",
        "Device.LocalAgent.Subscription.*.Recipient+.EndpointID",
        "Device.WiFi.SSID.[Name==\"wl0\"&&Name==\"wl1\"].",
        "Device.WiFi.SSID.[Enable==true].Status!",
        "Device.Boot!",
    ] {
        let _ = get(&mut a, ADMIN, &[p], 0);
        let _ = get(&mut a, STRANGER, &[p], 1);
        let _ = send(&mut a, ADMIN, set_req(true, &[(p, &[("x", "y", true)])]));
        let _ = send(&mut a, ADMIN, add_req(true, &[(p, &[("x", "y", false)])]));
        let _ = send(&mut a, USER, delete_req(true, &[p]));
        let _ = send_at(&mut a, ADMIN, operate_req(p, &[], true), t(0));
        let _ = supported(&mut a, ADMIN, p, false, true);
        let _ = get_instances(&mut a, ADMIN, p, false);
    }
    // A reference through a free-form path parameter follows the data.
    assert_eq!(value(&mut a, ADMIN, "Device.Hosts.Host.1.AssociatedDevice+.SignalStrength"), "-52");
    assert_eq!(
        values(&mut a, ADMIN, "Device.WiFi.SSID.1.LowerLayers+.Channel"),
        [("Device.WiFi.Radio.1.".to_owned(), "6".to_owned())]
    );
    // Circular references stay finite (each object once).
    send(
        &mut a,
        ADMIN,
        set_req(
            false,
            &[(
                "Device.WiFi.SSID.1.",
                &[("LowerLayers", "Device.WiFi.SSID.1,Device.WiFi.SSID.1.,Device.WiFi.SSID.2", true)],
            )],
        ),
    );
    let deep = format!("Device.WiFi.SSID.1.{}SSID", "LowerLayers#*+.".repeat(40));
    assert_eq!(values(&mut a, ADMIN, &deep).len(), 2);
    let search = format!("Device.WiFi.SSID.[{}SSID==\"Home\"].Name", "LowerLayers#*+.".repeat(40));
    assert_eq!(values(&mut a, ADMIN, &search).len(), 1);
    // Big values are refused, not stored.
    let huge = "x".repeat(100_000);
    let s = set_resp(send(&mut a, ADMIN, set_req(true, &[("Device.WiFi.SSID.1.", &[("SSID", &huge, false)])])));
    let SetStatus::OperSuccess(ok) = set_status(&s, 0) else { panic!() };
    assert_eq!(ok.updated_inst_results[0].param_errs[0].err_code, 7012);
}

#[test]
fn random_requests_never_panic() {
    use rand::{Rng, SeedableRng};
    const TOKENS: &[&str] = &[
        "Device.",
        "WiFi.",
        "SSID.",
        "AccessPoint.",
        "Security.",
        "AssociatedDevice.",
        "Hosts.",
        "Host.",
        "LocalAgent.",
        "Subscription.",
        "Controller.",
        "ControllerTrust.",
        "Role.",
        "Permission.",
        "1.",
        "2.",
        "*.",
        "{i}.",
        "[Enable==true].",
        "[SSID==\"Home\"].",
        "[Channel>3&&Channel<=40].",
        "[OperatingStandards~=\"ax\"].",
        "SSIDReference+.",
        "ScheduleRef#*+.",
        "LowerLayers#2+.",
        "AssignedRole+.",
        "Enable",
        "SSID",
        "Name",
        "Reboot()",
        "Toggle()",
        "Boot!",
        "KeyPassphrase",
        "IoTCapability.",
        "LevelControl.",
        "StepUp()",
        "IP.",
        "Diagnostics.",
        "IPPing()",
        "..",
        "[",
        "]",
        "%",
        "\"",
        "#",
        "+",
        "!",
        "()",
        "é",
        "Device.DeviceInfo.",
        "Request.",
        "Cancel()",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let mut a = gateway();
    subscribe(&mut a, USER, "ValueChange", "Device.", &[]);
    subscribe(&mut a, ADMIN, "ObjectDeletion", "Device.", &[]);
    for i in 0..1500u64 {
        let n = rng.random_range(1..8);
        let mut path = String::from("Device.");
        for _ in 0..n {
            path.push_str(TOKENS[rng.random_range(0..TOKENS.len())]);
        }
        let from = [ADMIN, USER, STRANGER][rng.random_range(0..3)];
        let value = ["true", "0", "-1", "abc", "", "Home", "Device.WiFi.SSID.1", "99999999999999999999"]
            [rng.random_range(0..8)];
        let now = t(i);
        let reqs = [
            get_req(&[&path], rng.random_range(0..4)),
            set_req(
                rng.random_bool(0.5),
                &[(&path, &[("Enable", value, rng.random_bool(0.5)), ("SSID", value, false)])],
            ),
            add_req(rng.random_bool(0.5), &[(&path, &[("Alias", value, rng.random_bool(0.5))])]),
            delete_req(rng.random_bool(0.5), &[&path]),
            operate_req(&path, &[("Host", value), ("ChallengeRef", value)], rng.random_bool(0.5)),
            ReqType::GetInstances(usp::GetInstances {
                obj_paths: vec![path.clone()],
                first_level_only: rng.random_bool(0.5),
            }),
            ReqType::GetSupportedDm(usp::GetSupportedDm {
                obj_paths: vec![path.clone()],
                return_params: true,
                ..Default::default()
            }),
        ];
        for r in reqs {
            let _ = send_at(&mut a, from, r, now);
        }
        a.handle_timeout(now);
        a.drain_outbox();
    }
    // The agent still works.
    assert_eq!(value(&mut a, ADMIN, "Device.DeviceInfo.Manufacturer"), "Example Networks");
}

#[test]
fn cached_controller_state_follows_data_model_changes() {
    let mut a = gateway();
    // A first Get caches the controller's row, Enable and permissions.
    assert_eq!(value(&mut a, USER, "Device.Hosts.Host.1.HostName"), "Annas-Phone");
    let row = a.controller_row(USER).unwrap();
    a.set_internal(&format!("{row}Enable"), "false", t(0)).unwrap();
    assert!(send_at(
        &mut a,
        USER,
        ReqType::Get(usp::Get { param_paths: vec!["Device.Hosts.Host.1.HostName".into()], max_depth: 0 }),
        t(0)
    )
    .is_none());
    a.set_internal(&format!("{row}Enable"), "true", t(0)).unwrap();
    a.set_internal(&format!("{row}AssignedRole"), "Device.LocalAgent.ControllerTrust.Role.2", t(0)).unwrap();
    assert_eq!(get_err(&mut a, USER, "Device.Hosts.Host.1.HostName"), 7026);
}
