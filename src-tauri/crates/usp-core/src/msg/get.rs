//! Get, GetSupportedDM, GetInstances and GetSupportedProtocol and their responses.

use super::*;

/// `Get`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Get {
    /// `param_paths`.
    pub param_paths: Vec<Text>,
    /// `max_depth` (fixed32; 0 = the whole subtree).
    pub max_depth: u32,
}

/// `GetResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GetResp {
    /// `req_path_results`.
    pub req_path_results: Vec<GetRequestedPathResult>,
}

/// `GetResp.RequestedPathResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GetRequestedPathResult {
    /// `requested_path`.
    pub requested_path: Text,
    /// `err_code` (0 = success).
    pub err_code: u32,
    /// `err_msg`.
    pub err_msg: Text,
    /// `resolved_path_results`.
    pub resolved_path_results: Vec<ResolvedPathResult>,
}

/// `GetResp.ResolvedPathResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedPathResult {
    /// `resolved_path`.
    pub resolved_path: Text,
    /// `result_params`, keys relative to `resolved_path`.
    pub result_params: Params,
}

/// `GetSupportedDM`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct GetSupportedDm {
    pub obj_paths: Vec<Text>,
    pub first_level_only: bool,
    pub return_commands: bool,
    pub return_events: bool,
    pub return_params: bool,
    pub return_unique_key_sets: bool,
}

/// `GetSupportedDMResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GetSupportedDmResp {
    /// `req_obj_results`.
    pub req_obj_results: Vec<RequestedObjectResult>,
}

/// `GetSupportedDMResp.RequestedObjectResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct RequestedObjectResult {
    pub req_obj_path: Text,
    pub err_code: u32,
    pub err_msg: Text,
    pub data_model_inst_uri: Text,
    pub supported_objs: Vec<SupportedObjectResult>,
}

/// `GetSupportedDMResp.SupportedObjectResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SupportedObjectResult {
    pub supported_obj_path: Text,
    /// Raw wire number; see [`ObjAccess::from_number`].
    pub access: i32,
    pub is_multi_instance: bool,
    pub supported_commands: Vec<SupportedCommandResult>,
    pub supported_events: Vec<SupportedEventResult>,
    pub supported_params: Vec<SupportedParamResult>,
    pub divergent_paths: Vec<Text>,
    pub unique_key_sets: Vec<SupportedUniqueKeySet>,
}

/// `GetSupportedDMResp.SupportedParamResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SupportedParamResult {
    pub param_name: Text,
    /// Raw wire number; see [`ParamAccess::from_number`].
    pub access: i32,
    /// Raw wire number; see [`ValueType::from_number`].
    pub value_type: i32,
    /// Raw wire number; see [`ValueChange::from_number`].
    pub value_change: i32,
}

/// `GetSupportedDMResp.SupportedCommandResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SupportedCommandResult {
    pub command_name: Text,
    pub input_arg_names: Vec<Text>,
    pub output_arg_names: Vec<Text>,
    /// Raw wire number; see [`CmdType::from_number`].
    pub command_type: i32,
}

/// `GetSupportedDMResp.SupportedEventResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SupportedEventResult {
    pub event_name: Text,
    pub arg_names: Vec<Text>,
}

/// `GetSupportedDMResp.SupportedUniqueKeySet`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SupportedUniqueKeySet {
    pub key_names: Vec<Text>,
}

/// `GetInstances`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct GetInstances {
    pub obj_paths: Vec<Text>,
    pub first_level_only: bool,
}

/// `GetInstancesResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct GetInstancesResp {
    pub req_path_results: Vec<InstancesRequestedPathResult>,
}

/// `GetInstancesResp.RequestedPathResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct InstancesRequestedPathResult {
    pub requested_path: Text,
    pub err_code: u32,
    pub err_msg: Text,
    pub curr_insts: Vec<CurrInstance>,
}

/// `GetInstancesResp.CurrInstance`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct CurrInstance {
    pub instantiated_obj_path: Text,
    pub unique_keys: Params,
}

/// `GetSupportedProtocol`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct GetSupportedProtocol {
    pub controller_supported_protocol_versions: Text,
}

/// `GetSupportedProtocolResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct GetSupportedProtocolResp {
    pub agent_supported_protocol_versions: Text,
}
