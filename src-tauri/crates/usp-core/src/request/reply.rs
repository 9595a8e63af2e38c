//! Typed views of the replies: `TryFrom<Response>` for each response type, and the views
//! a caller wants of them (per-path results with their errors, flattened parameters, ...).

use std::fmt;

use super::*;
use crate::text::capped;

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

/// One requested path's result in a Get, GetInstances or GetSupportedDM response: its items
/// when `err_code` is 0, else the agent's error for that path.
fn path_result<'a, T>(err_code: u32, err_msg: &Text, items: &'a [T]) -> Result<&'a [T], UspError> {
    if err_code == 0 {
        Ok(items)
    } else {
        Err(path_error(err_code, err_msg))
    }
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
            .map(|r| (&*r.requested_path, path_result(r.err_code, &r.err_msg, &r.resolved_path_results)))
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
        per_requested(self.created_obj_results.iter().map(|r| (&*r.requested_path, &r.oper_status)))
    }
}

impl msg::DeleteResp {
    /// Per requested path: the deleted paths, or why nothing was deleted.
    pub fn per_object(&self) -> Vec<(&str, Result<&msg::DeleteSuccess, UspError>)> {
        per_requested(self.deleted_obj_results.iter().map(|r| (&*r.requested_path, &r.oper_status)))
    }
}

/// Each requested path of an Add or Delete answer with its outcome, failures worded once each
/// within one [`Budget`].
fn per_requested<'a, S>(
    results: impl Iterator<Item = (&'a str, &'a OperStatus<S>)>,
) -> Vec<(&'a str, Result<&'a S, UspError>)> {
    let mut meter = Meter::new(Budget::default());
    results
        .map(|(path, status)| {
            let res = match status {
                OperStatus::Success(s) => Ok(s),
                OperStatus::Failure(f) => Err(failure(f, &mut meter)),
            };
            (path, res)
        })
        .collect()
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
            .map(|r| (&*r.requested_path, path_result(r.err_code, &r.err_msg, &r.curr_insts)))
            .collect()
    }
}

impl msg::GetSupportedDmResp {
    /// Per requested path: its supported objects, or the agent's error for that path.
    pub fn per_path(&self) -> Vec<(&str, Result<&[msg::SupportedObjectResult], UspError>)> {
        self.req_obj_results
            .iter()
            .map(|r| (&*r.req_obj_path, path_result(r.err_code, &r.err_msg, &r.supported_objs)))
            .collect()
    }
}
