//! Typed request builders and typed views of the replies.
//!
//! Builders check what they are given (every path is parsed with [`Path`]) and report
//! the first problem from `build()`, so a malformed request never reaches an agent.
//! Replies convert from [`Response`] with `TryFrom`, and each response type offers the
//! view a caller wants (per-path results with their errors, flattened parameters, ...).

use std::fmt;

use crate::error::UspError;
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

/// The end of every builder's `build()`: the first error it met, else [`BuildError::Empty`]
/// when nothing was added, else the request.
fn finish(
    err: Option<BuildError>,
    empty: bool,
    message: &'static str,
    request: Request,
) -> Result<Request, BuildError> {
    match err {
        Some(e) => Err(e),
        None if empty => Err(BuildError::Empty(message)),
        None => Ok(request),
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
        let empty = self.inner.param_paths.is_empty();
        finish(self.err, empty, "Get", Request::Get(self.inner))
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
        let empty = self.inner.update_objs.is_empty();
        finish(self.err, empty, "Set", Request::Set(self.inner))
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
        let empty = self.inner.create_objs.is_empty();
        finish(self.err, empty, "Add", Request::Add(self.inner))
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
    UspError { code, message: capped(msg, crate::error::MAX_AGENT_TEXT), param_errs: vec![] }
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
    /// the agent sent them, within the default [`Budget`]: a reply whose flattened form
    /// would be larger comes back [truncated](Bounded::truncated).
    pub fn params(&self) -> Bounded<ParamValue> {
        self.params_within(Budget::default())
    }

    /// [`params`](Self::params) within `budget`. Every full path is a new string (the
    /// resolved path plus the parameter name), so a reply can ask for far more memory
    /// than it takes on the wire (one long resolved path shared by many empty entries);
    /// the budget counts the bytes made before making them and stops there.
    pub fn params_within(&self, budget: Budget) -> Bounded<ParamValue> {
        let mut meter = Meter::new(budget);
        let mut out = Vec::new();
        for r in self.req_path_results.iter().filter(|r| r.err_code == 0) {
            for res in &r.resolved_path_results {
                for (k, v) in &res.result_params.0 {
                    let len = res.resolved_path.len() + k.len();
                    if !meter.take(len + std::mem::size_of::<ParamValue>()) {
                        return Bounded { items: out, truncated: true };
                    }
                    let mut path = String::with_capacity(len);
                    path.push_str(&res.resolved_path);
                    path.push_str(k);
                    out.push(ParamValue { path, value: v.clone() });
                }
            }
        }
        Bounded { items: out, truncated: false }
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

/// The most parameter errors kept for one failed object.
pub const MAX_PARAM_ERRS: usize = 256;
/// The longest agent message kept in a flattened parameter error, in bytes.
const MAX_ERR_MSG: usize = 1024;

use crate::text::capped;

/// One flattened parameter error `(affected_path + param, code, message)`, if `meter`
/// has room for it.
fn param_err(meter: &mut Meter, affected: &str, e: &msg::ParameterError) -> Option<(String, u32, String)> {
    let msg_len = e.err_msg.len().min(MAX_ERR_MSG + 3);
    let len = affected.len() + e.param.len() + msg_len;
    if !meter.take(len + std::mem::size_of::<(String, u32, String)>()) {
        return None;
    }
    let mut path = String::with_capacity(affected.len() + e.param.len());
    path.push_str(affected);
    path.push_str(&e.param);
    Some((path, e.err_code, capped(&e.err_msg, MAX_ERR_MSG)))
}

fn failure(f: &msg::OperFailure, meter: &mut Meter) -> UspError {
    let mut e = UspError { code: f.err_code, message: capped(&f.err_msg, MAX_ERR_MSG), param_errs: vec![] };
    let total: usize = f.updated_inst_failures.iter().map(|i| i.param_errs.len()).sum();
    'outer: for inst in &f.updated_inst_failures {
        for p in &inst.param_errs {
            if e.param_errs.len() >= MAX_PARAM_ERRS {
                break 'outer;
            }
            match param_err(meter, &inst.affected_path, p) {
                Some(pe) => e.param_errs.push(pe),
                None => break 'outer,
            }
        }
    }
    if e.param_errs.len() < total {
        let left = total - e.param_errs.len();
        e.message.push_str(&format!(" ({left} more parameter errors not shown)"));
        e.message = e.message.trim_start().to_owned();
    }
    e
}

impl msg::SetResp {
    /// Per requested object: the updated instances, or why the object failed.
    /// The failures' parameter errors share the default [`Budget`]; past it, or past
    /// [`MAX_PARAM_ERRS`] for one object, the rest are left out and the error's message
    /// says how many.
    pub fn per_object(&self) -> Vec<(&str, Result<&[msg::UpdatedInstanceResult], UspError>)> {
        let mut meter = Meter::new(Budget::default());
        self.updated_obj_results
            .iter()
            .map(|r| {
                let res = match &r.oper_status {
                    OperStatus::Success(s) => Ok(s.updated_inst_results.as_slice()),
                    OperStatus::Failure(f) => Err(failure(f, &mut meter)),
                };
                (&*r.requested_path, res)
            })
            .collect()
    }

    /// Parameters that were not set although their object succeeded (non-required ones):
    /// (full path, code, message), within the default [`Budget`].
    pub fn param_errors(&self) -> Bounded<(String, u32, String)> {
        let mut meter = Meter::new(Budget::default());
        let mut out = Vec::new();
        for r in &self.updated_obj_results {
            if let OperStatus::Success(s) = &r.oper_status {
                for inst in &s.updated_inst_results {
                    for p in &inst.param_errs {
                        match param_err(&mut meter, &inst.affected_path, p) {
                            Some(pe) => out.push(pe),
                            None => return Bounded { items: out, truncated: true },
                        }
                    }
                }
            }
        }
        Bounded { items: out, truncated: false }
    }
}

impl msg::AddResp {
    /// Per requested table: the created instance, or why it was not created.
    pub fn per_object(&self) -> Vec<(&str, Result<&msg::AddSuccess, UspError>)> {
        let mut meter = Meter::new(Budget::default());
        self.created_obj_results
            .iter()
            .map(|r| {
                let res = match &r.oper_status {
                    OperStatus::Success(s) => Ok(s),
                    OperStatus::Failure(f) => Err(failure(f, &mut meter)),
                };
                (&*r.requested_path, res)
            })
            .collect()
    }
}

impl msg::DeleteResp {
    /// Per requested path: the deleted paths, or why nothing was deleted.
    pub fn per_object(&self) -> Vec<(&str, Result<&msg::DeleteSuccess, UspError>)> {
        let mut meter = Meter::new(Budget::default());
        self.deleted_obj_results
            .iter()
            .map(|r| {
                let res = match &r.oper_status {
                    OperStatus::Success(s) => Ok(s),
                    OperStatus::Failure(f) => Err(failure(f, &mut meter)),
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

// ---------------------------------------------------------------------------------------
// Budgets for flattened replies
// ---------------------------------------------------------------------------------------

/// How much a flattened view of a reply may make: text bytes (full paths, messages, plus
/// a fixed cost per item) and items. A reply's flattened form can be much larger than the
/// reply (a path shared by reference becomes one copy per parameter), so every flattener
/// counts what it is about to make against a budget and stops at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of text made, plus the size of each item. Default 8 MiB.
    pub max_bytes: usize,
    /// Items made. Default 65,536 (a home device's whole data model has a few thousand
    /// parameters).
    pub max_items: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self { max_bytes: 8 * 1024 * 1024, max_items: 65_536 }
    }
}

/// What is left of a [`Budget`] while flattening.
#[derive(Debug)]
pub struct Meter {
    bytes: usize,
    items: usize,
}

impl Meter {
    /// A full budget.
    pub fn new(budget: Budget) -> Self {
        Self { bytes: budget.max_bytes, items: budget.max_items }
    }

    /// Takes one item of `bytes` bytes; `false` (and nothing taken) when it does not fit.
    pub fn take(&mut self, bytes: usize) -> bool {
        if self.items == 0 || bytes > self.bytes {
            return false;
        }
        self.items -= 1;
        self.bytes -= bytes;
        true
    }
}

/// A flattened list made within a [`Budget`]: the items that fitted, in order, and
/// whether some were left out. Reads like a slice and iterates like a `Vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounded<T> {
    items: Vec<T>,
    truncated: bool,
}

/// A flattened reply that did not fit its [`Budget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the agent's reply is too large to handle (over {kept} entries or the memory budget)")]
pub struct TooLarge {
    /// How many items fitted.
    pub kept: usize,
}

impl<T> Bounded<T> {
    /// A complete list.
    pub fn complete(items: Vec<T>) -> Self {
        Self { items, truncated: false }
    }
    /// A list with items left out.
    pub fn truncated_at(items: Vec<T>) -> Self {
        Self { items, truncated: true }
    }
    /// Whether items were left out because the budget ran out.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// The items that fitted.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
    /// All the items, or [`TooLarge`] when some were left out.
    ///
    /// # Errors
    /// [`TooLarge`] when the budget ran out.
    pub fn all(self) -> Result<Vec<T>, TooLarge> {
        if self.truncated {
            Err(TooLarge { kept: self.items.len() })
        } else {
            Ok(self.items)
        }
    }
}

impl<T> std::ops::Deref for Bounded<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> IntoIterator for Bounded<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Bounded<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;
    use crate::msg::{GetRequestedPathResult, GetResp, ParameterError, ResolvedPathResult};

    /// One resolved path of `path_len` bytes shared by `n` empty parameters: the shape
    /// that makes flattening explode (each full path copies the resolved path).
    fn shared_path(path_len: usize, n: usize) -> GetResp {
        let mut params = Params::new();
        for i in 0..n {
            params.0.push((i.to_string().into(), Text::new()));
        }
        GetResp {
            req_path_results: vec![GetRequestedPathResult {
                requested_path: "Device.".into(),
                err_code: 0,
                err_msg: Text::new(),
                resolved_path_results: vec![ResolvedPathResult {
                    resolved_path: "a".repeat(path_len).into(),
                    result_params: params,
                }],
            }],
        }
    }

    #[test]
    fn params_stop_at_the_byte_budget() {
        // 4 KiB × 60,000 = 240 MiB if flattened whole.
        let resp = shared_path(4096, 60_000);
        let flat = resp.params();
        assert!(flat.truncated());
        let made: usize = flat.iter().map(|p| p.path.len()).sum();
        assert!(made <= Budget::default().max_bytes, "{made}");
        assert!(flat.len() > 1000, "{}", flat.len());
        assert_eq!(flat.clone().all(), Err(TooLarge { kept: flat.len() }));
        // A small reply is whole.
        let small = shared_path(10, 100).params();
        assert!(!small.truncated());
        assert_eq!(small.len(), 100);
        assert_eq!(small[0].path, format!("{}0", "a".repeat(10)));
        assert_eq!(small.all().map(|v| v.len()), Ok(100));
    }

    #[test]
    fn params_stop_at_the_item_budget() {
        let resp = shared_path(1, 100);
        let flat = resp.params_within(Budget { max_bytes: usize::MAX, max_items: 10 });
        assert!(flat.truncated());
        assert_eq!(flat.len(), 10);
    }

    fn failure_with(n: usize, path_len: usize) -> msg::OperFailure {
        msg::OperFailure {
            err_code: 7004,
            err_msg: "nope".into(),
            updated_inst_failures: vec![msg::UpdatedInstanceFailure {
                affected_path: "a".repeat(path_len).into(),
                param_errs: (0..n)
                    .map(|i| ParameterError { param: i.to_string().into(), err_code: 7012, err_msg: "x".into() })
                    .collect(),
            }],
        }
    }

    #[test]
    fn set_failures_are_capped() {
        let resp = msg::SetResp {
            updated_obj_results: (0..100)
                .map(|i| msg::UpdatedObjectResult {
                    requested_path: format!("Device.X.{i}.").into(),
                    oper_status: OperStatus::Failure(failure_with(50_000, 4096)),
                })
                .collect(),
        };
        let per = resp.per_object();
        assert_eq!(per.len(), 100);
        let mut made = 0;
        for (_, r) in &per {
            let e = r.as_ref().expect_err("failed");
            assert!(e.param_errs.len() <= MAX_PARAM_ERRS);
            assert!(e.message.contains("more parameter errors not shown"), "{}", e.message);
            made += e.param_errs.iter().map(|p| p.0.len() + p.2.len()).sum::<usize>();
        }
        assert!(made <= Budget::default().max_bytes, "{made}");
        // A short failure is whole and its message untouched.
        let one = msg::SetResp {
            updated_obj_results: vec![msg::UpdatedObjectResult {
                requested_path: "Device.X.".into(),
                oper_status: OperStatus::Failure(failure_with(2, 5)),
            }],
        };
        let (_, r) = one.per_object().into_iter().next().expect("one");
        let e = r.expect_err("failed");
        assert_eq!(e.message, "nope");
        assert_eq!(
            e.param_errs,
            vec![("aaaaa0".to_owned(), 7012, "x".to_owned()), ("aaaaa1".to_owned(), 7012, "x".to_owned())]
        );
    }

    #[test]
    fn set_param_errors_stop_at_the_budget() {
        let resp = msg::SetResp {
            updated_obj_results: vec![msg::UpdatedObjectResult {
                requested_path: "Device.X.".into(),
                oper_status: OperStatus::Success(msg::SetSuccess {
                    updated_inst_results: vec![msg::UpdatedInstanceResult {
                        affected_path: "a".repeat(4096).into(),
                        param_errs: (0..60_000)
                            .map(|i| ParameterError { param: i.to_string().into(), err_code: 1, err_msg: Text::new() })
                            .collect(),
                        updated_params: Params::new(),
                    }],
                }),
            }],
        };
        let errs = resp.param_errors();
        assert!(errs.truncated());
        assert!(errs.iter().map(|e| e.0.len()).sum::<usize>() <= Budget::default().max_bytes);
    }
}
