//! The USP 1.4 Message as plain Rust types.
//!
//! One Rust type per protobuf message of `usp-msg-1-4.proto`, with the same field
//! names, so the mapping to the wire is obvious. Differences from the generated prost
//! types, all on purpose:
//! - strings are [`Text`]: shared slices of the received buffer, so decoding a
//!   10,000-parameter GetResp allocates no string at all;
//! - maps are [`Params`]: the entries in wire order (agents send them in data-model
//!   order, which is also the order a person wants to read them in);
//! - every `oneof` is a Rust enum, and a message whose `oneof` carries no member is a
//!   decode error rather than a silent default (R-ENC.3/R-ENC.5).
//!
//! The codec for these types is in [`crate::wire`].

use bytestring::ByteString;

/// An immutable UTF-8 string that can share the buffer it was decoded from.
pub type Text = ByteString;

/// A protobuf `map<string, string>`, in wire order.
///
/// Lookups are linear; USP maps are small per object (a few dozen entries), and keeping
/// the wire order costs nothing. Use [`Params::to_btree`] for many lookups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(Text, Text)>);

impl Params {
    /// An empty map.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// The value of `key`, if present (the last one wins, as in protobuf).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }
    /// Adds an entry, replacing an existing entry with the same key.
    pub fn insert(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        let key = key.into();
        let value = value.into();
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }
    /// Iterates over `(key, value)` in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entries as a sorted map (duplicates: the last one wins).
    pub fn to_btree(&self) -> std::collections::BTreeMap<String, String> {
        self.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }
}

impl<K: Into<Text>, V: Into<Text>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut p = Params::new();
        for (k, v) in iter {
            p.insert(k, v);
        }
        p
    }
}

/// Declares an enum that maps to a protobuf enum's numbers.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $num:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[allow(missing_docs)]
        pub enum $name {
            #[default]
            $($(#[$vm])* $var = $num),+
        }
        impl $name {
            /// The enum for a wire number, if this version of USP defines it.
            pub fn from_number(n: i32) -> Option<Self> {
                match n {
                    $($num => Some(Self::$var),)+
                    _ => None,
                }
            }
            /// The wire number.
            pub fn number(self) -> i32 {
                self as i32
            }
        }
    };
}

wire_enum!(
    /// `Header.MsgType`. Informative only: the body decides what a message is (R-MSG.10).
    MsgType {
        Error = 0, Get = 1, GetResp = 2, Notify = 3, Set = 4, SetResp = 5, Operate = 6,
        OperateResp = 7, Add = 8, AddResp = 9, Delete = 10, DeleteResp = 11,
        GetSupportedDm = 12, GetSupportedDmResp = 13, GetInstances = 14,
        GetInstancesResp = 15, NotifyResp = 16, GetSupportedProto = 17,
        GetSupportedProtoResp = 18, Register = 19, RegisterResp = 20, Deregister = 21,
        DeregisterResp = 22,
    }
);
wire_enum!(
    /// `GetSupportedDMResp.ParamAccessType`.
    ParamAccess { ReadOnly = 0, ReadWrite = 1, WriteOnly = 2 }
);
wire_enum!(
    /// `GetSupportedDMResp.ObjAccessType`.
    ObjAccess { ReadOnly = 0, AddDelete = 1, AddOnly = 2, DeleteOnly = 3 }
);
wire_enum!(
    /// `GetSupportedDMResp.ParamValueType`.
    ValueType {
        Unknown = 0, Base64 = 1, Boolean = 2, DateTime = 3, Decimal = 4, HexBinary = 5,
        Int = 6, Long = 7, String = 8, UnsignedInt = 9, UnsignedLong = 10,
    }
);
wire_enum!(
    /// `GetSupportedDMResp.ValueChangeType`.
    ValueChange { Unknown = 0, Allowed = 1, WillIgnore = 2 }
);
wire_enum!(
    /// `GetSupportedDMResp.CmdType`.
    CmdType { Unknown = 0, Sync = 1, Async = 2 }
);

/// A USP Message: header and body.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Msg {
    /// `Header.msg_id`: correlates a reply with its request.
    pub msg_id: Text,
    /// `Header.msg_type` as sent; may disagree with the body, in which case the body wins.
    /// A number this version of USP does not know is kept as `Err(n)`.
    #[serde(serialize_with = "ser_msg_type")]
    pub msg_type: Result<MsgType, i32>,
    /// `Msg.body`.
    pub body: Body,
}

fn ser_msg_type<S: serde::Serializer>(t: &Result<MsgType, i32>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Ok(t) => serde::Serialize::serialize(t, s),
        Err(n) => s.serialize_i32(*n),
    }
}

impl serde::Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&**k, &**v)?;
        }
        m.end()
    }
}

impl Msg {
    /// A message whose header type matches its body.
    pub fn new(msg_id: impl Into<Text>, body: Body) -> Self {
        let msg_type = Ok(body.msg_type());
        Self { msg_id: msg_id.into(), msg_type, body }
    }
}

/// `Body.msg_body`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A request (controller to agent, or Notify/Register from an agent).
    Request(Request),
    /// A successful response.
    Response(Response),
    /// A whole-message error.
    Error(Error),
}

impl Body {
    /// The header type that belongs to this body.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Body::Request(r) => r.msg_type(),
            Body::Response(r) => r.msg_type(),
            Body::Error(_) => MsgType::Error,
        }
    }
}

/// `Request.req_type`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Get(Get),
    GetSupportedDm(GetSupportedDm),
    GetInstances(GetInstances),
    Set(Set),
    Add(Add),
    Delete(Delete),
    Operate(Operate),
    Notify(Notify),
    GetSupportedProtocol(GetSupportedProtocol),
    Register(Register),
    Deregister(Deregister),
}

impl Request {
    /// The matching header type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Request::Get(_) => MsgType::Get,
            Request::GetSupportedDm(_) => MsgType::GetSupportedDm,
            Request::GetInstances(_) => MsgType::GetInstances,
            Request::Set(_) => MsgType::Set,
            Request::Add(_) => MsgType::Add,
            Request::Delete(_) => MsgType::Delete,
            Request::Operate(_) => MsgType::Operate,
            Request::Notify(_) => MsgType::Notify,
            Request::GetSupportedProtocol(_) => MsgType::GetSupportedProto,
            Request::Register(_) => MsgType::Register,
            Request::Deregister(_) => MsgType::Deregister,
        }
    }
    /// The response type a well-behaved agent answers this request with.
    pub fn expected_response(&self) -> MsgType {
        match self {
            Request::Get(_) => MsgType::GetResp,
            Request::GetSupportedDm(_) => MsgType::GetSupportedDmResp,
            Request::GetInstances(_) => MsgType::GetInstancesResp,
            Request::Set(_) => MsgType::SetResp,
            Request::Add(_) => MsgType::AddResp,
            Request::Delete(_) => MsgType::DeleteResp,
            Request::Operate(_) => MsgType::OperateResp,
            Request::Notify(_) => MsgType::NotifyResp,
            Request::GetSupportedProtocol(_) => MsgType::GetSupportedProtoResp,
            Request::Register(_) => MsgType::RegisterResp,
            Request::Deregister(_) => MsgType::DeregisterResp,
        }
    }
}

/// `Response.resp_type`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    GetResp(GetResp),
    GetSupportedDmResp(GetSupportedDmResp),
    GetInstancesResp(GetInstancesResp),
    SetResp(SetResp),
    AddResp(AddResp),
    DeleteResp(DeleteResp),
    OperateResp(OperateResp),
    NotifyResp(NotifyResp),
    GetSupportedProtocolResp(GetSupportedProtocolResp),
    RegisterResp(RegisterResp),
    DeregisterResp(DeregisterResp),
}

impl Response {
    /// The matching header type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Response::GetResp(_) => MsgType::GetResp,
            Response::GetSupportedDmResp(_) => MsgType::GetSupportedDmResp,
            Response::GetInstancesResp(_) => MsgType::GetInstancesResp,
            Response::SetResp(_) => MsgType::SetResp,
            Response::AddResp(_) => MsgType::AddResp,
            Response::DeleteResp(_) => MsgType::DeleteResp,
            Response::OperateResp(_) => MsgType::OperateResp,
            Response::NotifyResp(_) => MsgType::NotifyResp,
            Response::GetSupportedProtocolResp(_) => MsgType::GetSupportedProtoResp,
            Response::RegisterResp(_) => MsgType::RegisterResp,
            Response::DeregisterResp(_) => MsgType::DeregisterResp,
        }
    }
}

/// `Error`: a whole-message error.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Error {
    /// `err_code` (fixed32).
    pub err_code: u32,
    /// `err_msg`.
    pub err_msg: Text,
    /// `param_errs`.
    pub param_errs: Vec<ParamError>,
}

/// `Error.ParamError`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ParamError {
    /// `param_path`.
    pub param_path: Text,
    /// `err_code` (fixed32).
    pub err_code: u32,
    /// `err_msg`.
    pub err_msg: Text,
}

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
