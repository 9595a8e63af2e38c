//! The messages that change or run something: Add, Delete, Set and Operate and their
//! responses, with the `OperStatus` they share with Register and Deregister.

use super::*;

/// `Add`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Add {
    pub allow_partial: bool,
    pub create_objs: Vec<CreateObject>,
}

/// `Add.CreateObject`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct CreateObject {
    pub obj_path: Text,
    pub param_settings: Vec<ParamSetting>,
}

/// `Add.CreateParamSetting` and `Set.UpdateParamSetting` (same fields, same numbers).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct ParamSetting {
    pub param: Text,
    pub value: Text,
    pub required: bool,
}

/// `AddResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct AddResp {
    pub created_obj_results: Vec<CreatedObjectResult>,
}

/// `AddResp.CreatedObjectResult`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct CreatedObjectResult {
    pub requested_path: Text,
    pub oper_status: OperStatus<AddSuccess>,
}

/// The `oper_status` oneof shared by Add, Set, Delete, Register and Deregister responses.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperStatus<S> {
    /// `oper_failure`.
    Failure(OperFailure),
    /// `oper_success`.
    Success(S),
}

/// `OperationFailure` of Add, Delete, Register and Deregister (`err_code`, `err_msg`).
/// Set's failure additionally carries `updated_inst_failures`, always empty elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct OperFailure {
    pub err_code: u32,
    pub err_msg: Text,
    /// Only on the wire for Set (`SetResp...OperationFailure.updated_inst_failures`).
    pub updated_inst_failures: Vec<UpdatedInstanceFailure>,
}

/// `AddResp.CreatedObjectResult.OperationStatus.OperationSuccess`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct AddSuccess {
    pub instantiated_path: Text,
    pub param_errs: Vec<ParameterError>,
    pub unique_keys: Params,
}

/// `ParameterError` of Add and Set responses (`param`, `err_code`, `err_msg`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct ParameterError {
    pub param: Text,
    pub err_code: u32,
    pub err_msg: Text,
}

/// `Delete`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Delete {
    pub allow_partial: bool,
    pub obj_paths: Vec<Text>,
}

/// `DeleteResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct DeleteResp {
    pub deleted_obj_results: Vec<DeletedObjectResult>,
}

/// `DeleteResp.DeletedObjectResult`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct DeletedObjectResult {
    pub requested_path: Text,
    pub oper_status: OperStatus<DeleteSuccess>,
}

/// `DeleteResp...OperationSuccess`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct DeleteSuccess {
    pub affected_paths: Vec<Text>,
    pub unaffected_path_errs: Vec<UnaffectedPathError>,
}

/// `DeleteResp.UnaffectedPathError`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct UnaffectedPathError {
    pub unaffected_path: Text,
    pub err_code: u32,
    pub err_msg: Text,
}

/// `Set`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Set {
    pub allow_partial: bool,
    pub update_objs: Vec<UpdateObject>,
}

/// `Set.UpdateObject`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct UpdateObject {
    pub obj_path: Text,
    pub param_settings: Vec<ParamSetting>,
}

/// `SetResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SetResp {
    pub updated_obj_results: Vec<UpdatedObjectResult>,
}

/// `SetResp.UpdatedObjectResult`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct UpdatedObjectResult {
    pub requested_path: Text,
    pub oper_status: OperStatus<SetSuccess>,
}

/// `SetResp...OperationSuccess`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct SetSuccess {
    pub updated_inst_results: Vec<UpdatedInstanceResult>,
}

/// `SetResp.UpdatedInstanceFailure`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct UpdatedInstanceFailure {
    pub affected_path: Text,
    pub param_errs: Vec<ParameterError>,
}

/// `SetResp.UpdatedInstanceResult`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct UpdatedInstanceResult {
    pub affected_path: Text,
    pub param_errs: Vec<ParameterError>,
    pub updated_params: Params,
}

/// `Operate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct Operate {
    pub command: Text,
    pub command_key: Text,
    pub send_resp: bool,
    pub input_args: Params,
}

/// `OperateResp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct OperateResp {
    pub operation_results: Vec<OperationResult>,
}

/// `OperateResp.OperationResult`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct OperationResult {
    pub executed_command: Text,
    pub operation_resp: OperationResp,
}

/// `OperateResp.OperationResult.operation_resp`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationResp {
    /// `req_obj_path`: an asynchronous command is running as this `LocalAgent.Request.{i}`.
    ReqObjPath(Text),
    /// `req_output_args`: a synchronous command finished with these output arguments.
    ReqOutputArgs(Params),
    /// `cmd_failure`.
    CmdFailure(CommandFailure),
}

/// `CommandFailure` (of OperateResp and of Notify.OperationComplete).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct CommandFailure {
    pub err_code: u32,
    pub err_msg: Text,
}
