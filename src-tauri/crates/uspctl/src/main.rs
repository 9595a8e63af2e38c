//! `uspctl`: a command-line USP controller for power users and scripts.
//!
//! Exit status: 0 success, 1 the agent answered with a USP error (code and message are
//! printed), 2 usage error, 3 connection problem or timeout.

/// Prints a line to standard output. When the reader has gone away (a closed pipe) it
/// returns [`Failure::quiet`] from the enclosing function, which ends uspctl with status 0
/// after its cleanup.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*))? };
}

/// Prints a line to standard error, ignoring a closed standard error.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::err_line(format_args!($($arg)*)) };
}

mod connect;
mod output;
mod subs;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use usp_client::{Client, ClientConfig, ClientError, NotifKind};
use usp_core::error::{error_code_text, UspError};
use usp_core::msg::{self, OperStatus, Request};
use usp_core::request::{self, SupportedDmOptions};
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

#[derive(Parser, Debug)]
#[command(name = "uspctl", version, about = "Talk to USP (TR-369) agents from the command line")]
struct Cli {
    /// The agent's WebSocket URL, e.g. ws://127.0.0.1:8080/usp
    #[arg(long, env = "USPCTL_AGENT", global = true)]
    agent: Option<String>,
    /// The agent's Endpoint ID, when it is known in advance (otherwise learnt on connect)
    #[arg(long, global = true)]
    agent_eid: Option<String>,
    /// Use this Endpoint ID instead of this installation's (for agents with a
    /// pre-provisioned controller entry)
    #[arg(long, env = "USPCTL_EID", global = true)]
    eid: Option<String>,
    /// Print results as JSON
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for the connection and for each answer
    #[arg(long, global = true, default_value_t = 10.0)]
    timeout: f64,
    /// Network interfaces used for mDNS discovery: `all` (every LAN interface), `lo`
    /// (loopback only), or a comma-separated list of interface names
    #[arg(long, env = "USPCTL_MDNS_INTERFACES", global = true, default_value = "all")]
    interfaces: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read parameters or whole objects (search paths allowed)
    Get {
        /// Paths such as Device.DeviceInfo. or Device.WiFi.SSID.*.SSID
        #[arg(required = true)]
        paths: Vec<String>,
        /// Depth of partial paths (0 = everything)
        #[arg(long, default_value_t = 0)]
        max_depth: u32,
    },
    /// Change parameters: PATH=VALUE ...
    Set {
        /// Assignments such as Device.WiFi.SSID.2.Enable=true
        #[arg(required = true)]
        assignments: Vec<String>,
        /// Apply what can be applied even if some objects fail
        #[arg(long)]
        allow_partial: bool,
    },
    /// Create an instance of a table: OBJ. [PARAM=VALUE ...]
    Add {
        /// Table path ending in '.', e.g. Device.Hosts.AccessControl.
        object: String,
        /// Parameters of the new instance
        params: Vec<String>,
    },
    /// Delete instances
    Delete {
        /// Instance paths such as Device.Hosts.AccessControl.2.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Delete what can be deleted even if some paths fail
        #[arg(long)]
        allow_partial: bool,
    },
    /// Run a command: 'CMD()' [ARG=VALUE ...]
    Operate {
        /// Command path such as 'Device.IP.Diagnostics.IPPing()'
        command: String,
        /// Input arguments
        args: Vec<String>,
        /// Command key, echoed in the completion notification
        #[arg(long, default_value = "uspctl")]
        key: String,
        /// For asynchronous commands: wait for the result
        #[arg(long)]
        wait: bool,
    },
    /// List the instances of objects
    Instances {
        /// Object paths
        #[arg(required = true)]
        paths: Vec<String>,
        /// Only the instances of the named table, not of its sub-tables
        #[arg(long)]
        first_level: bool,
    },
    /// Show the supported data model under a path
    Supported {
        /// Object path, e.g. Device. or Device.WiFi.
        path: String,
        /// Only the object and its direct children
        #[arg(long)]
        first_level: bool,
    },
    /// Show the USP versions the agent speaks
    Protocol,
    /// Subscribe and print notifications until interrupted
    Watch {
        /// What to watch (a parameter, object, table, command or event path)
        path: String,
        /// Kind of notification
        #[arg(long, default_value = "value-change")]
        kind: NotifKind,
        /// Stop after this many notifications
        #[arg(long)]
        count: Option<usize>,
    },
    /// Find the USP agents on the network (mDNS) and print one line per agent:
    /// Endpoint ID, name, URL, and whether it requires encryption
    Discover,
    /// Pair with an agent: trust its certificate (wss://), then enter the passcode printed
    /// on it (its Challenge) to get end-user rights
    Pair {
        /// The agent's ws:// or wss:// URL, or its Endpoint ID (its address is then found by
        /// mDNS discovery, or given with --agent)
        target: String,
        /// Read the passcode as one line from standard input instead of the terminal
        #[arg(long)]
        passcode_stdin: bool,
        /// Trust the agent's certificate on first use without asking
        #[arg(long)]
        trust_first_use: bool,
    },
    /// Show this installation's Endpoint ID, certificate fingerprint and where secrets are kept
    Whoami {
        /// Also show the Endpoint ID as a QR code (to add usp-home in a router's admin page)
        #[arg(long)]
        qr: bool,
        /// Print only this installation's certificate (PEM), to add to a router's trust store
        /// for wss:// with mutual TLS (public: the private key never leaves the vault)
        #[arg(long, conflicts_with = "qr")]
        pem: bool,
    },
    /// The agent certificates trusted for wss://
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
    /// Decode a USP Record (or with --msg, a bare Msg) from a file and print it as JSON
    Decode {
        /// The file holds a serialized usp.Msg, not a Record
        #[arg(long)]
        msg: bool,
        /// The file
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum TrustAction {
    /// List the trusted agents and their certificate fingerprints
    List,
    /// Forget the certificate trusted for an agent (after a reset or replacement)
    Forget {
        /// The agent's Endpoint ID
        eid: String,
    },
}

/// A failure with the exit status it maps to.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Nothing more to say and nothing went wrong: the reader of our output went away.
    fn quiet() -> Self {
        Self { code: 0, message: String::new() }
    }
    fn usage(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }
    fn usp(e: &UspError) -> Self {
        Self { code: 1, message: format!("error {}: {}", e.code, describe_usp(e)) }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Usp(u) => Failure::usp(&u),
            ClientError::Build(b) => Failure::usage(b.to_string()),
            ClientError::Protocol(p) => Failure { code: 1, message: format!("unexpected answer from the agent: {p}") },
            other => Failure { code: 3, message: other.to_string() },
        }
    }
}

fn describe_usp(e: &UspError) -> String {
    let mut s = if e.message.is_empty() { error_code_text(e.code).to_owned() } else { e.message.clone() };
    for (path, code, m) in &e.param_errs {
        s.push_str(&format!("\n  {path}: error {code}: {}", if m.is_empty() { error_code_text(*code) } else { m }));
    }
    s
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("USPCTL_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            errln!("uspctl: cannot start: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.code == 0 => ExitCode::SUCCESS,
        Err(f) => {
            errln!("uspctl: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Decode { msg, file } = &cli.command {
        return decode(*msg, file);
    }
    if let Some(result) = pairing_command(&cli).await {
        return result;
    }
    // Build (and so check) the request before connecting: a typo is a usage error (2)
    // whether or not the agent is reachable.
    let request = build_request(&cli.command)?;
    let client = connect::connect(&cli).await?;
    let result = run_command(&cli, &client, request).await;
    client.close().await;
    result
}

/// The request a command sends, checked. `None` for commands that build theirs as they go.
fn build_request(command: &Command) -> Result<Option<Request>, Failure> {
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

fn print_json(v: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Failure { code: 1, message: e.to_string() })?;
    outln!("{text}");
    Ok(())
}

/// Prints per-path errors to stderr; returns the failure if there were any.
fn report_errors(errors: Vec<(String, UspError)>) -> Result<(), Failure> {
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

async fn send<T>(client: &Client, request: Option<Request>) -> Result<T, Failure>
where
    T: TryFrom<msg::Response, Error = request::WrongResponse>,
{
    let request = request.ok_or_else(|| Failure::usage("nothing to send"))?;
    Ok(client.call(request).await?)
}

async fn run_command(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    match &cli.command {
        Command::Get { .. } => {
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
        Command::Set { .. } => {
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
        Command::Add { .. } => {
            let resp: msg::AddResp = send(client, request).await?;
            if cli.json {
                print_json(&resp)?;
            }
            let mut errors = Vec::new();
            for (path, r) in resp.per_object() {
                match r {
                    Ok(ok) if !cli.json => {
                        outln!("{}", ok.instantiated_path);
                        for (k, v) in ok.unique_keys.iter() {
                            outln!("{}{} = {}", ok.instantiated_path, k, v);
                        }
                        for e in &ok.param_errs {
                            errln!("{}{}: not set: error {}: {}", ok.instantiated_path, e.param, e.err_code, e.err_msg);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => errors.push((path.to_owned(), e)),
                }
            }
            report_errors(errors)
        }
        Command::Delete { .. } => {
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
        Command::Operate { command, key, wait, .. } => subs::operate(cli, client, request, command, key, *wait).await,
        Command::Instances { .. } => {
            let resp: msg::GetInstancesResp = send(client, request).await?;
            if cli.json {
                print_json(&resp)?;
            }
            let mut errors = Vec::new();
            for (path, r) in resp.per_path() {
                match r {
                    Ok(insts) if !cli.json => {
                        for i in insts {
                            outln!("{}", i.instantiated_obj_path);
                            for (k, v) in i.unique_keys.iter() {
                                outln!("{}{} = {}", i.instantiated_obj_path, k, v);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => errors.push((path.to_owned(), e)),
                }
            }
            report_errors(errors)
        }
        Command::Supported { .. } => {
            let resp: msg::GetSupportedDmResp = send(client, request).await?;
            if cli.json {
                print_json(&resp)?;
            }
            let mut errors = Vec::new();
            for (path, r) in resp.per_path() {
                match r {
                    Ok(objs) if !cli.json => print_supported(objs)?,
                    Ok(_) => {}
                    Err(e) => errors.push((path.to_owned(), e)),
                }
            }
            report_errors(errors)
        }
        Command::Protocol => {
            let resp: msg::GetSupportedProtocolResp = send(client, request).await?;
            if cli.json {
                print_json(&resp)
            } else {
                outln!("{}", resp.agent_supported_protocol_versions);
                Ok(())
            }
        }
        Command::Watch { path, kind, count } => subs::watch(cli, client, path, *kind, *count).await,
        Command::Decode { .. }
        | Command::Pair { .. }
        | Command::Whoami { .. }
        | Command::Trust { .. }
        | Command::Discover => Ok(()),
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decode(bare_msg: bool, file: &PathBuf) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let bytes = bytes::Bytes::from(bytes);
    let limits = Limits::default();
    let bad = |what: &str, e: wire::DecodeError| Failure {
        code: 1,
        message: format!("{} is not a valid USP {what}: {e}", file.display()),
    };
    if bare_msg {
        let m = wire::decode_msg(bytes, &limits).map_err(|e| bad("Msg", e))?;
        return print_json(&m);
    }
    let rec = wire::decode_record(bytes, &limits).map_err(|e| bad("Record", e))?;
    use usp_core::record::RecordType;
    let record_type = match &rec.record_type {
        RecordType::NoSessionContext { payload } => {
            let msg = match wire::decode_msg(payload.clone(), &limits) {
                Ok(m) => serde_json::to_value(&m).unwrap_or(Value::Null),
                Err(e) => json!({ "undecodable": e.to_string(), "hex": hex(payload) }),
            };
            json!({ "no_session_context": { "payload": msg } })
        }
        RecordType::SessionContext(s) => json!({ "session_context": {
            "session_id": s.session_id, "sequence_id": s.sequence_id, "expected_id": s.expected_id,
            "retransmit_id": s.retransmit_id, "payload_sar_state": s.payload_sar_state,
            "payloadrec_sar_state": s.payloadrec_sar_state,
            "payload": s.payload.iter().map(|p| match wire::decode_msg(p.clone(), &limits) {
                Ok(m) => serde_json::to_value(&m).unwrap_or(Value::Null),
                Err(_) => json!({ "hex": hex(p) }),
            }).collect::<Vec<_>>(),
        }}),
        RecordType::WebSocketConnect => json!({ "websocket_connect": {} }),
        RecordType::MqttConnect { version, subscribed_topic } => {
            json!({ "mqtt_connect": { "version": version, "subscribed_topic": &**subscribed_topic } })
        }
        RecordType::StompConnect { version, subscribed_destination } => {
            json!({ "stomp_connect": { "version": version, "subscribed_destination": &**subscribed_destination } })
        }
        RecordType::Disconnect { reason, reason_code } => {
            json!({ "disconnect": { "reason": &**reason, "reason_code": reason_code } })
        }
        RecordType::UdsConnect => json!({ "uds_connect": {} }),
    };
    let mut out = json!({
        "version": &*rec.version,
        "to_id": &*rec.to_id,
        "from_id": &*rec.from_id,
        "payload_security": if rec.payload_security == 0 { json!("PLAINTEXT") } else if rec.payload_security == 1 { json!("TLS12") } else { json!(rec.payload_security) },
        "record_type": record_type,
    });
    if !rec.mac_signature.is_empty() {
        out["mac_signature"] = json!(hex(&rec.mac_signature));
    }
    if !rec.sender_cert.is_empty() {
        out["sender_cert"] = json!(hex(&rec.sender_cert));
    }
    print_json(&out)
}

// ---- discovery ----

fn mdns_interfaces(cli: &Cli) -> Result<usp_client::discovery::Interfaces, Failure> {
    cli.interfaces.parse().map_err(|e| Failure::usage(format!("--interfaces: {e}")))
}

fn discovery_timeout(cli: &Cli) -> Result<Duration, Failure> {
    if !(cli.timeout.is_finite() && cli.timeout > 0.0) {
        return Err(Failure::usage("--timeout must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(cli.timeout))
}

/// Browses for `--timeout` seconds and prints each agent as it appears.
async fn discover(cli: &Cli) -> Result<(), Failure> {
    use usp_client::discovery::{Discovery, DiscoveryEvent};
    let timeout = discovery_timeout(cli)?;
    let mut d = Discovery::start(mdns_interfaces(cli)?).map_err(|e| local_failure("cannot start mDNS discovery", e))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut found = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, d.next_event()).await {
        match ev {
            DiscoveryEvent::Appeared(a)
                if !found.iter().any(|f: &usp_client::discovery::DiscoveredAgent| {
                    f.endpoint_id == a.endpoint_id && f.mtp == a.mtp
                }) =>
            {
                if !cli.json {
                    outln!(
                        "{}\t{}\t{}\t{}",
                        a.endpoint_id,
                        a.name.as_deref().unwrap_or("-"),
                        a.url.as_deref().unwrap_or("-"),
                        if a.encrypt { "encrypt" } else { "-" }
                    );
                    output::flush()?;
                }
                found.push(a);
            }
            DiscoveryEvent::Skipped { instance, reason } => {
                tracing::debug!(%instance, %reason, "skipped an mDNS announcement");
            }
            _ => {}
        }
    }
    d.stop();
    if cli.json {
        let list: Vec<Value> = found
            .iter()
            .map(|a| {
                json!({
                    "endpoint_id": a.endpoint_id.as_str(), "name": a.name, "url": a.url, "encrypt": a.encrypt,
                    "mtp": format!("{:?}", a.mtp), "subtypes": a.subtypes,
                })
            })
            .collect();
        print_json(&list)?;
    }
    if found.is_empty() {
        errln!("uspctl: no USP agent answered within {timeout:?} (interfaces: {})", cli.interfaces);
    }
    Ok(())
}

/// The WebSocket URL of `eid`, found by mDNS within `timeout`.
async fn find_by_discovery(cli: &Cli, eid: &EndpointId, timeout: Duration) -> Result<String, Failure> {
    use usp_client::discovery::{Discovery, DiscoveryEvent};
    let mut d = Discovery::start(mdns_interfaces(cli)?).map_err(|e| local_failure("cannot start mDNS discovery", e))?;
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, d.next_event()).await {
        if let DiscoveryEvent::Appeared(a) | DiscoveryEvent::Updated(a) = ev {
            if a.endpoint_id == *eid {
                if let Some(url) = a.url {
                    d.stop();
                    return Ok(url);
                }
            }
        }
    }
    d.stop();
    Err(Failure {
        code: 3,
        message: format!(
            "{eid} did not announce itself within {timeout:?}; give its address with --agent ws://HOST:PORT/PATH"
        ),
    })
}

// ---- pairing: pair, whoami, trust ----

/// Runs `pair`, `whoami` and `trust`; `None` for the other commands.
async fn pairing_command(cli: &Cli) -> Option<Result<(), Failure>> {
    Some(match &cli.command {
        Command::Pair { target, passcode_stdin, trust_first_use } => {
            pair(cli, target, *passcode_stdin, *trust_first_use).await
        }
        Command::Whoami { qr, pem } => whoami(cli, *qr, *pem),
        Command::Trust { action } => trust(cli, action),
        Command::Discover => discover(cli).await,
        _ => return None,
    })
}

fn local_failure(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure { code: 3, message: format!("{what}: {e}") }
}

/// The vault of this installation: the platform keyring, else the encrypted file when
/// `USP_HOME_VAULT_PASSPHRASE` is set, else memory. `USP_HOME_VAULT_BACKEND=file` or
/// `memory` skips the keyrings.
fn open_vault() -> Result<std::sync::Arc<app_core::vault::Vault>, Failure> {
    use app_core::vault::VaultBackendKind;
    let mut config = app_core::vault::VaultConfig::new(usp_client::identity::default_data_dir());
    config.passphrase = std::env::var("USP_HOME_VAULT_PASSPHRASE").ok().map(app_core::secret::Secret::new);
    config.prefer = match std::env::var("USP_HOME_VAULT_BACKEND").ok().as_deref() {
        None | Some("" | "auto" | "keyring") => None,
        Some("file") => Some(VaultBackendKind::EncryptedFile),
        Some("memory") => Some(VaultBackendKind::Memory),
        Some(other) => {
            return Err(Failure::usage(format!("USP_HOME_VAULT_BACKEND={other:?}: use auto, file or memory")))
        }
    };
    app_core::vault::Vault::open(config).map(std::sync::Arc::new).map_err(|e| local_failure("cannot open the vault", e))
}

fn load_identity(vault: &app_core::vault::Vault) -> Result<app_core::identity::ControllerIdentity, Failure> {
    app_core::identity::load_or_create(vault, &usp_client::identity::default_data_dir())
        .map_err(|e| local_failure("cannot load this installation's identity", e))
}

fn whoami(cli: &Cli, qr: bool, pem: bool) -> Result<(), Failure> {
    let vault = open_vault()?;
    let me = load_identity(&vault)?;
    let backend = vault.backend();
    if pem && !cli.json {
        // The PEM alone, so that `uspctl whoami --pem > usp-home.pem` is the file a router takes.
        outln!("{}", me.tls().cert_pem().trim_end());
        return Ok(());
    }
    if cli.json {
        return print_json(&json!({
            "endpoint_id": me.eid().as_str(),
            "certificate_sha256": me.fingerprint().to_string(),
            "certificate_pem": me.tls().cert_pem(),
            "vault": backend.kind().to_string(),
            "vault_description": backend.describe(),
        }));
    }
    outln!("Endpoint ID: {}", me.eid());
    outln!("Certificate SHA-256: {}", me.fingerprint());
    outln!("Secrets: {}", backend.describe());
    if qr {
        outln!("{}", qr_text(me.eid().as_str()));
    }
    Ok(())
}

/// `text` as a QR code drawn with Unicode half blocks, for a terminal.
fn qr_text(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build(),
        Err(e) => format!("(no QR code: {e})"),
    }
}

fn trust(cli: &Cli, action: &TrustAction) -> Result<(), Failure> {
    use usp_client::tls::PinStore;
    let pins = app_core::identity::VaultPinStore::new(open_vault()?);
    match action {
        TrustAction::List => {
            let list = pins.list();
            if cli.json {
                let v: Vec<Value> =
                    list.iter().map(|(a, f)| json!({"agent": a.as_str(), "sha256": f.to_string()})).collect();
                return print_json(&v);
            }
            if list.is_empty() {
                outln!("No agent certificate is trusted yet.");
            }
            for (agent, fp) in list {
                outln!("{agent} {fp}");
            }
            Ok(())
        }
        TrustAction::Forget { eid } => {
            let agent: EndpointId = eid.parse().map_err(|e| Failure::usage(format!("{eid}: {e}")))?;
            if pins.pinned(&agent).is_none() {
                return Err(Failure { code: 1, message: format!("no certificate is trusted for {agent}") });
            }
            pins.forget(&agent).map_err(|e| local_failure("cannot forget the certificate", e))?;
            outln!("Forgot the certificate of {agent}; the next connection will ask again.");
            Ok(())
        }
    }
}

/// Asks a yes/no question on the terminal; `false` without a terminal.
fn confirm(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    if output::text(format_args!("{question} [y/N] ")).is_err() {
        return false;
    }
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn read_passcode(from_stdin: bool) -> Result<app_core::secret::Secret<String>, Failure> {
    use std::io::IsTerminal;
    let mut line = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| local_failure("cannot read the passcode", e))?;
        line
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Passcode: ").map_err(|e| local_failure("cannot read the passcode", e))?
    } else {
        return Err(Failure::usage("no terminal to read the passcode from: use --passcode-stdin"));
    };
    let passcode = app_core::secret::Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
    zeroize_string(&mut line);
    if passcode.expose().trim().is_empty() {
        return Err(Failure::usage("no passcode given"));
    }
    Ok(passcode)
}

fn zeroize_string(s: &mut String) {
    // Overwrite in place (same length, valid UTF-8) before the buffer is freed.
    let n = s.len();
    s.clear();
    s.extend(std::iter::repeat_n('\0', n));
}

fn pairing_failure(e: app_core::pairing::PairingError) -> Failure {
    use app_core::pairing::ErrorClass;
    let code = match e.class() {
        ErrorClass::Network => 3,
        _ => 1,
    };
    Failure { code, message: e.to_string() }
}

async fn pair(cli: &Cli, target: &str, passcode_stdin: bool, trust_first_use: bool) -> Result<(), Failure> {
    use app_core::pairing::AuthState;
    if !(cli.timeout.is_finite() && cli.timeout > 0.0) {
        return Err(Failure::usage("--timeout must be a positive number of seconds"));
    }
    let timeout = Duration::from_secs_f64(cli.timeout);
    let is_url = target.starts_with("ws://") || target.starts_with("wss://");
    let (url, mut agent_eid) = if is_url {
        let eid = match &cli.agent_eid {
            Some(e) => Some(e.parse::<EndpointId>().map_err(|e| Failure::usage(format!("--agent-eid: {e}")))?),
            None => None,
        };
        (target.to_owned(), eid)
    } else {
        let eid: EndpointId = target.parse().map_err(|e| {
            Failure::usage(format!("{target:?} is neither a ws:// or wss:// URL nor an Endpoint ID: {e}"))
        })?;
        let url = match cli.agent.clone() {
            Some(url) => url,
            None => find_by_discovery(cli, &eid, timeout).await?,
        };
        (url, Some(eid))
    };
    let secure = url.starts_with("wss://");
    // Over wss:// we are who our certificate says: this installation's identity.
    let tls = if secure {
        if cli.eid.is_some() {
            return Err(Failure::usage(
                "--eid can't be used with wss://: the certificate names this installation's Endpoint ID",
            ));
        }
        let vault = open_vault()?;
        let me = load_identity(&vault)?;
        let pins: std::sync::Arc<dyn usp_client::tls::PinStore> =
            std::sync::Arc::new(app_core::identity::VaultPinStore::new(vault));
        Some((me, pins))
    } else {
        None
    };
    let own_id: EndpointId = match (&tls, &cli.eid) {
        (Some((me, _)), _) => me.eid().clone(),
        (None, Some(e)) => e.parse().map_err(|e| Failure::usage(format!("--eid: {e}")))?,
        (None, None) => usp_client::identity::load_or_create_endpoint_id(&usp_client::identity::default_data_dir())
            .map_err(|e| local_failure("cannot load this installation's endpoint id", e))?,
    };
    let mut asked = false;
    let client = loop {
        let seen = usp_client::tls::ObservedCert::new();
        let mut config = ClientConfig::new(url.clone(), own_id.clone());
        // Over ws:// we learn who answers and compare below (see connect::connect).
        config.agent_id = agent_eid.clone().filter(|_| secure);
        config.connect_timeout = timeout;
        config.request_timeout = timeout;
        if let Some((me, pins)) = &tls {
            let trust = usp_client::tls::AgentTrust::new(pins.clone());
            config.tls = Some(
                usp_client::tls::client_config(me.tls(), trust, agent_eid.clone(), seen.clone())
                    .map_err(|e| local_failure("cannot set up TLS", e))?,
            );
        }
        let ours = tls
            .as_ref()
            .map(|(me, _)| connect::OurCertificate { eid: me.eid().clone(), sha256: me.fingerprint().to_string() });
        let connected = connect::start(config, ours.as_ref()).await.map_err(|e| match e {
            connect::Refusal::Refused(f) => Err(f),
            connect::Refusal::Other(e) => Ok(AuthState::from_client_error(&e, &own_id)),
        });
        match connected {
            Ok(c) => {
                if let Some(wanted) = agent_eid.as_ref().filter(|_| !secure) {
                    connect::check_reached(&c, wanted, &url).await?;
                }
                break c;
            }
            Err(Err(refused)) => return Err(refused),
            Err(Ok(AuthState::FirstUse { agent, fingerprint })) if !asked => {
                asked = true;
                outln!("First secure connection to {agent}.");
                outln!("Its certificate SHA-256 fingerprint is {fingerprint}.");
                outln!("Compare it with the fingerprint the device shows (label or admin page).");
                if !(trust_first_use || confirm("Trust this device?")) {
                    return Err(Failure {
                        code: 3,
                        message: format!(
                            "{agent} is not trusted; nothing was done (use --trust-first-use to trust it)"
                        ),
                    });
                }
                if let Some((_, pins)) = &tls {
                    usp_client::tls::trust_on_first_use(pins.as_ref(), &seen)
                        .map_err(|e| local_failure("cannot trust the certificate", e))?;
                }
                agent_eid = Some(agent);
            }
            Err(Ok(state)) => return Err(Failure { code: 3, message: state.to_string() }),
        }
    };
    let result = pair_connected(&client, passcode_stdin, timeout).await;
    client.close().await;
    result
}

/// Probes the connected agent and, when it is untrusted, runs its passcode challenge.
async fn pair_connected(client: &Client, passcode_stdin: bool, timeout: Duration) -> Result<(), Failure> {
    use app_core::pairing::{self, AuthState, Instruction, ProbeConfig};
    let probe = ProbeConfig { answer_timeout: timeout.min(ProbeConfig::default().answer_timeout) };
    match pairing::probe_with(client, &probe).await {
        AuthState::Connected { role } => {
            outln!("Already paired: role {role}.");
            return Ok(());
        }
        AuthState::Untrusted { can_pair: true } => {}
        AuthState::NotAuthorised { own_eid } => {
            // The agent ignores controllers it does not know: the user adds us in the
            // router's own admin page, by typing or scanning our Endpoint ID.
            errln!("{}", qr_text(own_eid.as_str()));
            let state = AuthState::NotAuthorised { own_eid };
            return Err(Failure { code: 1, message: state.to_string() });
        }
        state @ (AuthState::Untrusted { can_pair: false } | AuthState::LockedOut { .. }) => {
            return Err(Failure { code: 1, message: state.to_string() })
        }
        state => return Err(Failure { code: 3, message: state.to_string() }),
    }
    let offered = pairing::challenges(client).await.map_err(pairing_failure)?;
    let Some(info) = offered.first() else {
        return Err(pairing_failure(pairing::PairingError::NotOffered));
    };
    if let Some(d) = &info.description {
        outln!("{d}");
    }
    let challenge = pairing::request_challenge(client, info).await.map_err(pairing_failure)?;
    match &challenge.instruction {
        Instruction::Text(t) | Instruction::Html(t) => outln!("{t}"),
        Instruction::Image { mime, bytes } => {
            outln!(
                "The device shows its instruction as an image ({mime}, {} bytes), which uspctl can't display.",
                bytes.len()
            )
        }
    }
    let passcode = read_passcode(passcode_stdin)?;
    let role = pairing::respond(client, &challenge, &passcode).await.map_err(pairing_failure)?;
    outln!("Paired. Role: {role}.");
    Ok(())
}
