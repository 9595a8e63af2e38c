//! Typed request builders and typed views of the replies.
//!
//! Builders check what they are given (every path is parsed with [`Path`]) and report
//! the first problem from `build()`, so a malformed request never reaches an agent.
//! Replies convert from [`Response`] with `TryFrom`, and each response type offers the
//! view a caller wants (per-path results with their errors, flattened parameters, ...).

use std::fmt;

use crate::engine::UspError;
use crate::msg::{self, OperStatus, Params, Request, Response, Text};
use crate::path::{Path, PathKind};

/// A request that could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A path that does not parse.
    #[error(transparent)]
    Path(#[from] crate::path::PathError),
    /// A path of the wrong kind for this message (e.g. a parameter path in Add).
    #[error("{path:?} is {found}, but {message} needs {wanted}")]
    WrongKind {
        /// The path.
        path: String,
        /// What it is.
        found: &'static str,
        /// What the message needs.
        wanted: &'static str,
        /// Which message.
        message: &'static str,
    },
    /// Nothing to do (e.g. a Get without paths).
    #[error("{0} needs at least one path")]
    Empty(&'static str),
}

fn kind_name(kind: PathKind) -> &'static str {
    match kind {
        PathKind::Object => "an object path",
        PathKind::Parameter => "a parameter path",
        PathKind::Command => "a command path",
        PathKind::Event => "an event path",
    }
}

fn parse_kind(raw: &str, message: &'static str, ok: &[PathKind], wanted: &'static str) -> Result<Path, BuildError> {
    let path: Path = raw.parse()?;
    if !ok.contains(&path.kind()) {
        return Err(BuildError::WrongKind { path: raw.to_owned(), found: kind_name(path.kind()), wanted, message });
    }
    Ok(path)
}

/// Splits a parameter path into its object path and parameter name:
/// `Device.WiFi.SSID.1.SSID` → (`Device.WiFi.SSID.1.`, `SSID`).
fn split_param(path: &Path) -> (String, String) {
    let raw = path.as_str();
    match raw.rfind('.') {
        Some(i) => (raw[..=i].to_owned(), raw[i + 1..].to_owned()),
        None => (String::new(), raw.to_owned()),
    }
}

/// Builds a Get.
#[derive(Debug, Default)]
pub struct GetBuilder {
    inner: msg::Get,
    err: Option<BuildError>,
}

/// Starts a Get of these paths (object, parameter or search paths).
pub fn get<I, S>(paths: I) -> GetBuilder
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut b = GetBuilder::default();
    for p in paths {
        b = b.path(p.as_ref());
    }
    b
}

impl GetBuilder {
    /// Adds a path.
    pub fn path(mut self, path: &str) -> Self {
        match parse_kind(path, "Get", &[PathKind::Object, PathKind::Parameter], "object or parameter paths") {
            Ok(_) => self.inner.param_paths.push(path.into()),
            Err(e) => {
                self.err.get_or_insert(e);
            }
        }
        self
    }
    /// Limits the depth of partial paths (0 = everything; 1 = only the object's own
    /// parameters; 2 = plus first-level sub-objects...).
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.inner.max_depth = depth;
        self
    }
    /// The request.
    ///
    /// # Errors
    /// The first bad path, or [`BuildError::Empty`].
    pub fn build(self) -> Result<Request, BuildError> {
        if let Some(e) = self.err {
            return Err(e);
        }
        if self.inner.param_paths.is_empty() {
            return Err(BuildError::Empty("Get"));
        }
        Ok(Request::Get(self.inner))
    }
}

/// Builds a Set.
#[derive(Debug, Default)]
pub struct SetBuilder {
    inner: msg::Set,
    err: Option<BuildError>,
}

/// Starts a Set.
pub fn set() -> SetBuilder {
    SetBuilder::default()
}

impl SetBuilder {
    /// `allow_partial`: let objects that can be updated be updated when others fail.
    pub fn allow_partial(mut self, yes: bool) -> Self {
        self.inner.allow_partial = yes;
        self
    }
    /// Sets `param_path` (a full parameter path, possibly a search path) to `value`.
    /// Parameters of the same object are grouped into one UpdateObject.
    /// `required`: the object's update fails when this parameter fails.
    pub fn param(mut self, param_path: &str, value: &str, required: bool) -> Self {
        match parse_kind(param_path, "Set", &[PathKind::Parameter], "parameter paths") {
            Ok(path) => {
                let (obj, name) = split_param(&path);
                let setting = msg::ParamSetting { param: name.into(), value: value.into(), required };
                match self.inner.update_objs.iter_mut().find(|o| *o.obj_path == *obj) {
                    Some(o) => o.param_settings.push(setting),
                    None => self
                        .inner
                        .update_objs
                        .push(msg::UpdateObject { obj_path: obj.into(), param_settings: vec![setting] }),
                }
            }
            Err(e) => {
                self.err.get_or_insert(e);
            }
        }
        self
    }
    /// The request.
    ///
    /// # Errors
    /// The first bad path, or [`BuildError::Empty`].
    pub fn build(self) -> Result<Request, BuildError> {
        if let Some(e) = self.err {
            return Err(e);
        }
        if self.inner.update_objs.is_empty() {
            return Err(BuildError::Empty("Set"));
        }
        Ok(Request::Set(self.inner))
    }
}

/// Builds an Add.
#[derive(Debug, Default)]
pub struct AddBuilder {
    inner: msg::Add,
    err: Option<BuildError>,
}

/// Starts an Add.
pub fn add() -> AddBuilder {
    AddBuilder::default()
}

impl AddBuilder {
    /// `allow_partial`.
    pub fn allow_partial(mut self, yes: bool) -> Self {
        self.inner.allow_partial = yes;
        self
    }
    /// Creates one instance of the table `table_path` (e.g. `Device.Hosts.AccessControl.`)
    /// with these parameters: `(name, value, required)`.
    pub fn object<'a, I>(mut self, table_path: &str, params: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str, bool)>,
    {
        match parse_kind(table_path, "Add", &[PathKind::Object], "a table path ending in '.'") {
            Ok(_) => self.inner.create_objs.push(msg::CreateObject {
                obj_path: table_path.into(),
                param_settings: params
                    .into_iter()
                    .map(|(p, v, required)| msg::ParamSetting { param: p.into(), value: v.into(), required })
                    .collect(),
            }),
            Err(e) => {
                self.err.get_or_insert(e);
            }
        }
        self
    }
    /// The request.
    ///
    /// # Errors
    /// The first bad path, or [`BuildError::Empty`].
    pub fn build(self) -> Result<Request, BuildError> {
        if let Some(e) = self.err {
            return Err(e);
        }
        if self.inner.create_objs.is_empty() {
            return Err(BuildError::Empty("Add"));
        }
        Ok(Request::Add(self.inner))
    }
}

/// A Delete of these object instance paths (search paths allowed).
///
/// # Errors
/// A path that does not parse or is not an object path, or no path at all.
pub fn delete<I, S>(paths: I, allow_partial: bool) -> Result<Request, BuildError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let obj_paths = object_paths(paths, "Delete")?;
    Ok(Request::Delete(msg::Delete { allow_partial, obj_paths }))
}

fn object_paths<I, S>(paths: I, message: &'static str) -> Result<Vec<Text>, BuildError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = Vec::new();
    for p in paths {
        parse_kind(p.as_ref(), message, &[PathKind::Object], "object paths ending in '.'")?;
        out.push(p.as_ref().into());
    }
    if out.is_empty() {
        return Err(BuildError::Empty(message));
    }
    Ok(out)
}

/// Builds an Operate.
#[derive(Debug)]
pub struct OperateBuilder {
    inner: msg::Operate,
    err: Option<BuildError>,
}

/// Starts an Operate of `command` (e.g. `Device.IP.Diagnostics.IPPing()`), expecting a
/// response (`send_resp = true`).
pub fn operate(command: &str) -> OperateBuilder {
    let err = parse_kind(command, "Operate", &[PathKind::Command], "a command path ending in '()'").err();
    OperateBuilder {
        inner: msg::Operate {
            command: command.into(),
            command_key: Text::new(),
            send_resp: true,
            input_args: Params::new(),
        },
        err,
    }
}

impl OperateBuilder {
    /// Adds an input argument.
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.inner.input_args.insert(name, value);
        self
    }
    /// Sets the command key (echoed in OperationComplete).
    pub fn command_key(mut self, key: &str) -> Self {
        self.inner.command_key = key.into();
        self
    }
    /// Whether the agent should answer with an OperateResp.
    pub fn send_resp(mut self, yes: bool) -> Self {
        self.inner.send_resp = yes;
        self
    }
    /// The request.
    ///
    /// # Errors
    /// A command path that does not parse or is not a command.
    pub fn build(self) -> Result<Request, BuildError> {
        match self.err {
            Some(e) => Err(e),
            None => Ok(Request::Operate(self.inner)),
        }
    }
}

/// What GetSupportedDM should return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedDmOptions {
    /// Only the object itself and its direct children.
    pub first_level_only: bool,
    /// Include commands.
    pub commands: bool,
    /// Include events.
    pub events: bool,
    /// Include parameters.
    pub params: bool,
    /// Include unique key sets (USP 1.4).
    pub unique_key_sets: bool,
}

impl Default for SupportedDmOptions {
    fn default() -> Self {
        Self { first_level_only: false, commands: true, events: true, params: true, unique_key_sets: true }
    }
}

/// A GetSupportedDM of these object paths (`Device.`, `Device.WiFi.SSID.{i}.` ...).
///
/// # Errors
/// A path that does not parse or is not an object path, or no path at all.
pub fn get_supported_dm<I, S>(paths: I, opts: SupportedDmOptions) -> Result<Request, BuildError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    Ok(Request::GetSupportedDm(msg::GetSupportedDm {
        obj_paths: object_paths(paths, "GetSupportedDM")?,
        first_level_only: opts.first_level_only,
        return_commands: opts.commands,
        return_events: opts.events,
        return_params: opts.params,
        return_unique_key_sets: opts.unique_key_sets,
    }))
}

/// A GetInstances of these object paths.
///
/// # Errors
/// A path that does not parse or is not an object path, or no path at all.
pub fn get_instances<I, S>(paths: I, first_level_only: bool) -> Result<Request, BuildError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    Ok(Request::GetInstances(msg::GetInstances { obj_paths: object_paths(paths, "GetInstances")?, first_level_only }))
}

/// A GetSupportedProtocol announcing the versions we speak.
pub fn get_supported_protocol() -> Request {
    Request::GetSupportedProtocol(msg::GetSupportedProtocol {
        controller_supported_protocol_versions: crate::engine::SUPPORTED_PROTOCOL_VERSIONS.into(),
    })
}

// ---------------------------------------------------------------------------------------
// Typed replies
// ---------------------------------------------------------------------------------------

/// A response of another type than the one asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {got:?}")]
pub struct WrongResponse {
    /// What was asked for.
    pub expected: &'static str,
    /// What came.
    pub got: msg::MsgType,
}

macro_rules! response_conversions {
    ($($variant:ident => $ty:ty),+ $(,)?) => {
        $(
            impl TryFrom<Response> for $ty {
                type Error = WrongResponse;
                fn try_from(r: Response) -> Result<Self, WrongResponse> {
                    match r {
                        Response::$variant(v) => Ok(v),
                        other => Err(WrongResponse { expected: stringify!($variant), got: other.msg_type() }),
                    }
                }
            }
        )+
    };
}

response_conversions!(
    GetResp => msg::GetResp,
    GetSupportedDmResp => msg::GetSupportedDmResp,
    GetInstancesResp => msg::GetInstancesResp,
    SetResp => msg::SetResp,
    AddResp => msg::AddResp,
    DeleteResp => msg::DeleteResp,
    OperateResp => msg::OperateResp,
    NotifyResp => msg::NotifyResp,
    GetSupportedProtocolResp => msg::GetSupportedProtocolResp,
);

fn path_error(code: u32, msg: &Text) -> UspError {
    UspError { code, message: msg.to_string(), param_errs: vec![] }
}

/// One parameter of a Get result, with its full path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamValue {
    /// Full path: resolved object path + parameter name.
    pub path: String,
    /// The value as the agent sent it (TR-106 string form).
    pub value: Text,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.path, self.value)
    }
}

impl msg::GetResp {
    /// Per requested path: its resolved objects, or the agent's error for that path.
    pub fn per_path(&self) -> Vec<(&str, Result<&[msg::ResolvedPathResult], UspError>)> {
        self.req_path_results
            .iter()
            .map(|r| {
                let res = if r.err_code == 0 {
                    Ok(r.resolved_path_results.as_slice())
                } else {
                    Err(path_error(r.err_code, &r.err_msg))
                };
                (&*r.requested_path, res)
            })
            .collect()
    }

    /// Every parameter of every successful requested path, with full paths, in the order
    /// the agent sent them.
    pub fn params(&self) -> Vec<ParamValue> {
        let mut out = Vec::new();
        for r in self.req_path_results.iter().filter(|r| r.err_code == 0) {
            for res in &r.resolved_path_results {
                for (k, v) in &res.result_params.0 {
                    let mut path = String::with_capacity(res.resolved_path.len() + k.len());
                    path.push_str(&res.resolved_path);
                    path.push_str(k);
                    out.push(ParamValue { path, value: v.clone() });
                }
            }
        }
        out
    }

    /// The value of one full parameter path, if the response has it.
    pub fn value(&self, full_path: &str) -> Option<&str> {
        self.req_path_results
            .iter()
            .filter(|r| r.err_code == 0)
            .flat_map(|r| r.resolved_path_results.iter())
            .find_map(|res| full_path.strip_prefix(&*res.resolved_path).and_then(|rel| res.result_params.get(rel)))
    }

    /// The per-path errors: (requested path, error).
    pub fn errors(&self) -> Vec<(&str, UspError)> {
        self.req_path_results
            .iter()
            .filter(|r| r.err_code != 0)
            .map(|r| (&*r.requested_path, path_error(r.err_code, &r.err_msg)))
            .collect()
    }
}

fn param_errs(errs: &[msg::ParameterError]) -> Vec<(String, u32, String)> {
    errs.iter().map(|e| (e.param.to_string(), e.err_code, e.err_msg.to_string())).collect()
}

fn failure(f: &msg::OperFailure) -> UspError {
    let mut e = path_error(f.err_code, &f.err_msg);
    for inst in &f.updated_inst_failures {
        for p in &inst.param_errs {
            e.param_errs.push((format!("{}{}", inst.affected_path, p.param), p.err_code, p.err_msg.to_string()));
        }
    }
    e
}

impl msg::SetResp {
    /// Per requested object: the updated instances, or why the object failed.
    pub fn per_object(&self) -> Vec<(&str, Result<&[msg::UpdatedInstanceResult], UspError>)> {
        self.updated_obj_results
            .iter()
            .map(|r| {
                let res = match &r.oper_status {
                    OperStatus::Success(s) => Ok(s.updated_inst_results.as_slice()),
                    OperStatus::Failure(f) => Err(failure(f)),
                };
                (&*r.requested_path, res)
            })
            .collect()
    }

    /// Parameters that were not set although their object succeeded (non-required ones):
    /// (full path, code, message).
    pub fn param_errors(&self) -> Vec<(String, u32, String)> {
        let mut out = Vec::new();
        for r in &self.updated_obj_results {
            if let OperStatus::Success(s) = &r.oper_status {
                for inst in &s.updated_inst_results {
                    for (p, c, m) in param_errs(&inst.param_errs) {
                        out.push((format!("{}{}", inst.affected_path, p), c, m));
                    }
                }
            }
        }
        out
    }
}

impl msg::AddResp {
    /// Per requested table: the created instance, or why it was not created.
    pub fn per_object(&self) -> Vec<(&str, Result<&msg::AddSuccess, UspError>)> {
        self.created_obj_results
            .iter()
            .map(|r| {
                let res = match &r.oper_status {
                    OperStatus::Success(s) => Ok(s),
                    OperStatus::Failure(f) => Err(failure(f)),
                };
                (&*r.requested_path, res)
            })
            .collect()
    }
}

impl msg::DeleteResp {
    /// Per requested path: the deleted paths, or why nothing was deleted.
    pub fn per_object(&self) -> Vec<(&str, Result<&msg::DeleteSuccess, UspError>)> {
        self.deleted_obj_results
            .iter()
            .map(|r| {
                let res = match &r.oper_status {
                    OperStatus::Success(s) => Ok(s),
                    OperStatus::Failure(f) => Err(failure(f)),
                };
                (&*r.requested_path, res)
            })
            .collect()
    }
}

/// How one command of an Operate went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandOutcome<'a> {
    /// A synchronous command finished with these output arguments.
    Done(&'a Params),
    /// An asynchronous command is running as this `Device.LocalAgent.Request.{i}`;
    /// its result comes as an OperationComplete notification.
    Started(&'a str),
    /// The command failed.
    Failed(UspError),
}

impl msg::OperateResp {
    /// Per executed command (a search path may run several): its outcome.
    pub fn outcomes(&self) -> Vec<(&str, CommandOutcome<'_>)> {
        self.operation_results
            .iter()
            .map(|r| {
                let o = match &r.operation_resp {
                    msg::OperationResp::ReqOutputArgs(a) => CommandOutcome::Done(a),
                    msg::OperationResp::ReqObjPath(p) => CommandOutcome::Started(p),
                    msg::OperationResp::CmdFailure(f) => CommandOutcome::Failed(path_error(f.err_code, &f.err_msg)),
                };
                (&*r.executed_command, o)
            })
            .collect()
    }
}

impl msg::GetInstancesResp {
    /// Per requested path: its instances, or the agent's error for that path.
    pub fn per_path(&self) -> Vec<(&str, Result<&[msg::CurrInstance], UspError>)> {
        self.req_path_results
            .iter()
            .map(|r| {
                let res =
                    if r.err_code == 0 { Ok(r.curr_insts.as_slice()) } else { Err(path_error(r.err_code, &r.err_msg)) };
                (&*r.requested_path, res)
            })
            .collect()
    }
}

impl msg::GetSupportedDmResp {
    /// Per requested path: its supported objects, or the agent's error for that path.
    pub fn per_path(&self) -> Vec<(&str, Result<&[msg::SupportedObjectResult], UspError>)> {
        self.req_obj_results
            .iter()
            .map(|r| {
                let res = if r.err_code == 0 {
                    Ok(r.supported_objs.as_slice())
                } else {
                    Err(path_error(r.err_code, &r.err_msg))
                };
                (&*r.req_obj_path, res)
            })
            .collect()
    }
}
