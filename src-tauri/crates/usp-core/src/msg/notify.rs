//! The messages an agent starts: Notify (and NotifyResp), Register and Deregister, with
//! their responses.

use super::*;

/// `Notify`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Notify {
    pub subscription_id: Text,
    pub send_resp: bool,
    pub notification: Notification,
}

/// `Notify.notification`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
#[serde(rename_all = "snake_case")]
pub enum Notification {
    Event(Event),
    ValueChange(ValueChangeNotif),
    ObjCreation(ObjectCreation),
    ObjDeletion(ObjectDeletion),
    OperComplete(OperationComplete),
    OnBoardReq(OnBoardRequest),
}

/// `Notify.Event`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Event {
    pub obj_path: Text,
    pub event_name: Text,
    pub params: Params,
}

/// `Notify.ValueChange`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct ValueChangeNotif {
    pub param_path: Text,
    pub param_value: Text,
}

/// `Notify.ObjectCreation`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct ObjectCreation {
    pub obj_path: Text,
    pub unique_keys: Params,
}

/// `Notify.ObjectDeletion`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct ObjectDeletion {
    pub obj_path: Text,
}

/// `Notify.OperationComplete`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct OperationComplete {
    pub obj_path: Text,
    pub command_name: Text,
    pub command_key: Text,
    pub operation_resp: OperationCompleteResp,
}

/// `Notify.OperationComplete.operation_resp`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationCompleteResp {
    /// `req_output_args`.
    ReqOutputArgs(Params),
    /// `cmd_failure`.
    CmdFailure(CommandFailure),
}

/// `Notify.OnBoardRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct OnBoardRequest {
    pub oui: Text,
    pub product_class: Text,
    pub serial_number: Text,
    pub agent_supported_protocol_versions: Text,
}

/// `NotifyResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct NotifyResp {
    pub subscription_id: Text,
}

/// `Register`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Register {
    pub allow_partial: bool,
    /// `reg_paths[].path`.
    pub reg_paths: Vec<Text>,
}

/// `RegisterResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct RegisterResp {
    pub registered_path_results: Vec<RegisteredPathResult>,
}

/// `RegisterResp.RegisteredPathResult`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct RegisteredPathResult {
    pub requested_path: Text,
    /// Success carries `registered_path`.
    pub oper_status: OperStatus<Text>,
}

/// `Deregister`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Deregister {
    pub paths: Vec<Text>,
}

/// `DeregisterResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct DeregisterResp {
    pub deregistered_path_results: Vec<DeregisteredPathResult>,
}

/// `DeregisterResp.DeregisteredPathResult`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct DeregisteredPathResult {
    pub requested_path: Text,
    /// Success carries `deregistered_path` (repeated).
    pub oper_status: OperStatus<Vec<Text>>,
}
