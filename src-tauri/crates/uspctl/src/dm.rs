//! The data-model commands (`get`, `set`, `add`, `delete`, `instances`, `supported`,
//! `protocol`, and the request of `operate`): their requests, checked, and their answers, printed.

use usp_client::Client;
use usp_core::error::UspError;
use usp_core::msg::{self, OperStatus, Request};
use usp_core::request::{self, SupportedDmOptions};

use crate::cli::{Cli, Command};
use crate::failure::{describe_usp, Failure};
use crate::output::print_json;

/// The request a command sends, checked. `None` for commands that build theirs as they go.
pub(crate) fn build_request(command: &Command) -> Result<Option<Request>, Failure> {
    let usage = |e: request::BuildError| Failure::usage(e.to_string());
    Ok(Some(match command {
        Command::Get { paths, max_depth } => request::get(paths).max_depth(*max_depth).build().map_err(usage)?,
        Command::Set { assignments, allow_partial } => {
            let mut b = request::set().allow_partial(*allow_partial);
            for a in assignments {
                let (p, v) = split_assignment(a)?;
                b = b.param(p, v, true);
            }
            b.build().map_err(usage)?
        }
        Command::Add { object, params } => {
            let mut pairs = Vec::new();
            for p in params {
                pairs.push(split_assignment(p)?);
            }
            request::add().object(object, pairs.iter().map(|(k, v)| (*k, *v, true))).build().map_err(usage)?
        }
        Command::Delete { paths, allow_partial } => request::delete(paths, *allow_partial).map_err(usage)?,
        Command::Operate { command, args, key, .. } => {
            let mut b = request::operate(command).command_key(key);
            for a in args {
                let (k, v) = split_assignment(a)?;
                b = b.arg(k, v);
            }
            b.build().map_err(usage)?
        }
        Command::Instances { paths, first_level } => request::get_instances(paths, *first_level).map_err(usage)?,
        Command::Supported { path, first_level } => {
            let opts = SupportedDmOptions { first_level_only: *first_level, ..SupportedDmOptions::default() };
            request::get_supported_dm([path], opts).map_err(usage)?
        }
        Command::Protocol => request::get_supported_protocol(),
        Command::Watch { path, .. } => {
            path.parse::<usp_core::Path>().map_err(|e| Failure::usage(e.to_string()))?;
            return Ok(None);
        }
        Command::Decode { .. }
        | Command::Pair { .. }
        | Command::Whoami { .. }
        | Command::Trust { .. }
        | Command::Discover => return Ok(None),
    }))
}

fn split_assignment(s: &str) -> Result<(&str, &str), Failure> {
    s.split_once('=').ok_or_else(|| Failure::usage(format!("{s:?} is not NAME=VALUE")))
}

/// Prints per-path errors to stderr; returns the failure if there were any.
pub(crate) fn report_errors(errors: Vec<(String, UspError)>) -> Result<(), Failure> {
    if errors.is_empty() {
        return Ok(());
    }
    for (path, e) in &errors {
        errln!("{path}: error {}: {}", e.code, describe_usp(e));
    }
    let (_, first) = &errors[0];
    Err(Failure {
        code: 1,
        message: format!("the agent refused {} of the paths (first: error {})", errors.len(), first.code),
    })
}

pub(crate) async fn send<T>(client: &Client, request: Option<Request>) -> Result<T, Failure>
where
    T: TryFrom<msg::Response, Error = request::WrongResponse>,
{
    let request = request.ok_or_else(|| Failure::usage("nothing to send"))?;
    Ok(client.call(request).await?)
}

/// The answer to a request with one result per requested path: the whole answer as JSON
/// with `--json`, else each success through `text`; then the paths the agent refused.
fn print_each<T>(
    cli: &Cli,
    resp: &impl serde::Serialize,
    results: Vec<(&str, Result<T, UspError>)>,
    mut text: impl FnMut(T) -> Result<(), Failure>,
) -> Result<(), Failure> {
    if cli.json {
        print_json(resp)?;
    }
    let mut errors = Vec::new();
    for (path, r) in results {
        match r {
            Ok(ok) if !cli.json => text(ok)?,
            Ok(_) => {}
            Err(e) => errors.push((path.to_owned(), e)),
        }
    }
    report_errors(errors)
}

/// Prints the parameters read (`get`).
pub(crate) async fn get(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::GetResp = send(client, request).await?;
    if cli.json {
        print_json(&resp)?;
    } else {
        for p in resp.params() {
            outln!("{} = {}", p.path, p.value);
        }
    }
    report_errors(resp.errors().into_iter().map(|(p, e)| (p.to_owned(), e)).collect())
}

/// Prints the parameters changed (`set`).
pub(crate) async fn set(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::SetResp = send(client, request).await?;
    if cli.json {
        print_json(&resp)?;
    } else {
        for r in &resp.updated_obj_results {
            if let OperStatus::Success(s) = &r.oper_status {
                for inst in &s.updated_inst_results {
                    for (k, v) in inst.updated_params.iter() {
                        outln!("{}{} = {}", inst.affected_path, k, v);
                    }
                }
            }
        }
    }
    let mut errors: Vec<(String, UspError)> =
        resp.per_object().into_iter().filter_map(|(p, r)| r.err().map(|e| (p.to_owned(), e))).collect();
    for (path, code, m) in resp.param_errors() {
        errors.push((path, UspError { code, message: m, param_errs: vec![] }));
    }
    report_errors(errors)
}

/// Prints the instance created and its keys (`add`).
pub(crate) async fn add(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::AddResp = send(client, request).await?;
    print_each(cli, &resp, resp.per_object(), |ok| {
        outln!("{}", ok.instantiated_path);
        for (k, v) in ok.unique_keys.iter() {
            outln!("{}{} = {}", ok.instantiated_path, k, v);
        }
        for e in &ok.param_errs {
            errln!("{}{}: not set: error {}: {}", ok.instantiated_path, e.param, e.err_code, e.err_msg);
        }
        Ok(())
    })
}

/// Prints the paths deleted (`delete`).
pub(crate) async fn delete(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::DeleteResp = send(client, request).await?;
    if cli.json {
        print_json(&resp)?;
    }
    let mut errors = Vec::new();
    for (path, r) in resp.per_object() {
        match r {
            Ok(ok) => {
                if !cli.json {
                    for p in &ok.affected_paths {
                        outln!("{p}");
                    }
                }
                for e in &ok.unaffected_path_errs {
                    errors.push((
                        e.unaffected_path.to_string(),
                        UspError { code: e.err_code, message: e.err_msg.to_string(), param_errs: vec![] },
                    ));
                }
            }
            Err(e) => errors.push((path.to_owned(), e)),
        }
    }
    report_errors(errors)
}

/// Prints the instances and their keys (`instances`).
pub(crate) async fn instances(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::GetInstancesResp = send(client, request).await?;
    print_each(cli, &resp, resp.per_path(), |insts| {
        for i in insts {
            outln!("{}", i.instantiated_obj_path);
            for (k, v) in i.unique_keys.iter() {
                outln!("{}{} = {}", i.instantiated_obj_path, k, v);
            }
        }
        Ok(())
    })
}

/// Prints the supported data model (`supported`).
pub(crate) async fn supported(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::GetSupportedDmResp = send(client, request).await?;
    print_each(cli, &resp, resp.per_path(), print_supported)
}

/// Prints the USP versions the agent speaks (`protocol`).
pub(crate) async fn protocol(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    let resp: msg::GetSupportedProtocolResp = send(client, request).await?;
    if cli.json {
        print_json(&resp)
    } else {
        outln!("{}", resp.agent_supported_protocol_versions);
        Ok(())
    }
}

fn print_supported(objs: &[msg::SupportedObjectResult]) -> Result<(), Failure> {
    for o in objs {
        let access = match msg::ObjAccess::from_number(o.access) {
            Some(msg::ObjAccess::ReadOnly) => "read-only",
            Some(msg::ObjAccess::AddDelete) => "add/delete",
            Some(msg::ObjAccess::AddOnly) => "add only",
            Some(msg::ObjAccess::DeleteOnly) => "delete only",
            None => "unknown access",
        };
        let multi = if o.is_multi_instance { "table, " } else { "" };
        outln!("{} ({multi}{access})", o.supported_obj_path);
        for p in &o.supported_params {
            let access = match msg::ParamAccess::from_number(p.access) {
                Some(msg::ParamAccess::ReadOnly) => "read-only",
                Some(msg::ParamAccess::ReadWrite) => "read-write",
                Some(msg::ParamAccess::WriteOnly) => "write-only",
                None => "unknown access",
            };
            let ty = msg::ValueType::from_number(p.value_type)
                .map(|t| format!("{t:?}").to_lowercase())
                .unwrap_or_else(|| "unknown".into());
            outln!("  {}{} ({access}, {ty})", o.supported_obj_path, p.param_name);
        }
        for c in &o.supported_commands {
            let kind = match msg::CmdType::from_number(c.command_type) {
                Some(msg::CmdType::Sync) => "sync",
                Some(msg::CmdType::Async) => "async",
                _ => "unknown",
            };
            outln!(
                "  {}{} ({kind}) in: [{}] out: [{}]",
                o.supported_obj_path,
                c.command_name,
                c.input_arg_names.iter().map(|s| &**s).collect::<Vec<_>>().join(", "),
                c.output_arg_names.iter().map(|s| &**s).collect::<Vec<_>>().join(", ")
            );
        }
        for e in &o.supported_events {
            outln!(
                "  {}{} args: [{}]",
                o.supported_obj_path,
                e.event_name,
                e.arg_names.iter().map(|s| &**s).collect::<Vec<_>>().join(", ")
            );
        }
        for k in &o.unique_key_sets {
            outln!("  unique key: {}", k.key_names.iter().map(|s| &**s).collect::<Vec<_>>().join(" + "));
        }
    }
    Ok(())
}
