//! Typed request builders (here) and typed views of the replies (`reply.rs` and `budget.rs`,
//! re-exported here).
//!
//! Builders check what they are given (every path is parsed with [`Path`]) and report
//! the first problem from `build()`, so a malformed request never reaches an agent.
//! Replies convert from [`Response`] with `TryFrom`, and each response type offers the
//! view a caller wants (per-path results with their errors, flattened parameters, ...).

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

mod budget;
mod reply;

pub use budget::*;
pub use reply::*;

#[cfg(test)]
mod budget_tests;
