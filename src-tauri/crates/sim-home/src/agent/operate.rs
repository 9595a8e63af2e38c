//! Operate: the commands of the simulated data model, synchronous and asynchronous.

use std::collections::BTreeMap;
use std::time::SystemTime;

use usp_core::eid::EndpointId;
use usp_core::path::PathKind;
use usp_proto::usp::{self, header::MsgType, operate_resp, response::RespType, Msg};

use super::dm::Loc;
use super::resolve::{self, Target};
use super::value;
use super::{err, error_reply, reply, setup, Agent, Caller, PendingOp, UspErr};

/// How long the simulated IPPing() runs.
pub const ASYNC_DELAY_MS: u64 = 300;

/// The outcome of one command.
pub(super) enum CmdOut {
    /// Output arguments of a synchronous command.
    Sync(BTreeMap<String, String>),
    /// The `Device.LocalAgent.Request.N.` row of a started asynchronous command.
    Async(String),
}

impl Agent {
    pub(super) fn handle_operate(&mut self, caller: &Caller, op: &usp::Operate) -> Option<Msg> {
        match self.operate_inner(caller, op) {
            Err(e) => Some(error_reply(&caller.msg_id, e, Vec::new())),
            Ok(results) if op.send_resp => Some(reply(
                &caller.msg_id,
                MsgType::OperateResp,
                RespType::OperateResp(usp::OperateResp { operation_results: results }),
            )),
            // R-OPR.4: no OperateResp when the controller does not want one.
            Ok(_) => None,
        }
    }

    fn operate_inner(
        &mut self,
        caller: &Caller,
        op: &usp::Operate,
    ) -> Result<Vec<operate_resp::OperationResult>, UspErr> {
        let parsed = resolve::parse(&op.command)?;
        if parsed.kind() != PathKind::Command {
            return Err(err(7026, "Operate needs a command path ending in \"()\""));
        }
        let targets = {
            let (schema, dm, perms) = (&self.schema, &self.dm, &caller.perms);
            let can_read = |p: &str, _d: usize, n: &str| perms.read_param(schema, dm, p, n);
            let res = resolve::resolve(schema, dm, &parsed, &can_read)?;
            if res.targets.is_empty() && !res.search {
                return Err(err(7016, format!("{} does not exist", op.command)));
            }
            let mut targets = Vec::new();
            for t in res.targets {
                if let Target::Command(loc, name) = t {
                    if !perms.command(schema, dm, &loc.path, name).x {
                        return Err(err(7006, format!("no permission to run {}{name}()", loc.path)));
                    }
                    targets.push((loc, name));
                }
            }
            targets
        };
        let mut results = Vec::new();
        for (loc, name) in targets {
            use operate_resp::operation_result::{CommandFailure, OperationResp, OutputArgs};
            let resp = match self.run_command(caller, &loc, name, &op.command_key, &op.input_args) {
                Ok(CmdOut::Sync(args)) => OperationResp::ReqOutputArgs(OutputArgs { output_args: args }),
                Ok(CmdOut::Async(req)) => OperationResp::ReqObjPath(req),
                Err(e) => OperationResp::CmdFailure(CommandFailure { err_code: e.code, err_msg: e.msg }),
            };
            results.push(operate_resp::OperationResult {
                executed_command: format!("{}{name}()", loc.path),
                operation_resp: Some(resp),
            });
        }
        Ok(results)
    }

    fn run_command(
        &mut self,
        caller: &Caller,
        loc: &Loc,
        name: &str,
        key: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<CmdOut, UspErr> {
        let def = self.schema.obj(loc.def);
        if let Some(c) = def.command(name) {
            if let Some(missing) = c.inputs.iter().find(|a| a.mandatory && !args.contains_key(a.name)) {
                return Err(err(7027, format!("missing mandatory input argument {}", missing.name)));
            }
        }
        let empty = || Ok(CmdOut::Sync(BTreeMap::new()));
        match (def.path.as_str(), name) {
            ("Device.", "Reboot") => {
                let reason = args.get("Reason").cloned().unwrap_or_default();
                self.reboot("RemoteReboot", key, &reason);
                empty()
            }
            ("Device.", "FactoryReset") => {
                self.factory_reset(key)?;
                empty()
            }
            ("Device.IP.Diagnostics.", "IPPing") => self.start_ipping(caller, loc, key, args),
            ("Device.IP.Diagnostics.", "DownloadDiagnostics" | "UploadDiagnostics") => {
                self.start_speed_test(caller, loc, name, key, args).map(CmdOut::Async)
            }
            ("Device.IP.Diagnostics.", "ServerSelectionDiagnostics") => {
                self.start_server_selection(caller, loc, key, args).map(CmdOut::Async)
            }
            ("Device.DeviceInfo.FirmwareImage.{i}.", "Download") => {
                self.start_firmware_download(caller, loc, key, args).map(CmdOut::Async)
            }
            ("Device.DeviceInfo.FirmwareImage.{i}.", "Activate") => {
                self.start_activate(caller, loc, key).map(CmdOut::Async)
            }
            ("Device.LocalAgent.Request.{i}.", "Cancel") => self.cancel(&loc.path),
            ("Device.LocalAgent.Controller.{i}.", "SendOnBoardRequest") => {
                let eid = self.dm.raw_by_name(&self.schema, &loc.path, "EndpointID").unwrap_or("");
                let eid: EndpointId = eid.parse().map_err(|_| err(7022, "the controller has no valid EndpointID"))?;
                self.send_onboard(eid);
                empty()
            }
            ("Device.LocalAgent.ControllerTrust.", "RequestChallenge") => {
                self.request_challenge(caller, args).map(CmdOut::Sync)
            }
            ("Device.LocalAgent.ControllerTrust.", "ChallengeResponse") => {
                self.challenge_response(caller, args).map(CmdOut::Sync)
            }
            ("Device.IoTCapability.{i}.BinaryControl.", "Toggle") => {
                let cur = self.dm.raw_by_name(&self.schema, &loc.path, "Value") == Some("true");
                let next = if cur { "false" } else { "true" };
                self.dm.set_by_name(&self.schema, &loc.path, "Value", next);
                empty()
            }
            ("Device.IoTCapability.{i}.LevelControl.", "StepUp" | "StepDown") => {
                let num = |n: &str| value::parse_number(self.dm.raw_by_name(&self.schema, &loc.path, n).unwrap_or(""));
                let (v, step) = (num("Value").unwrap_or(0.0), num("StepValue").unwrap_or(1.0));
                let (min, max) = (num("MinValue").unwrap_or(f64::MIN), num("MaxValue").unwrap_or(f64::MAX));
                let next = if name == "StepUp" { v + step } else { v - step };
                // Not f64::clamp: it panics when the data has MinValue > MaxValue.
                let next = format_decimal(next.max(min).min(max));
                self.dm.set_by_name(&self.schema, &loc.path, "Value", &next);
                empty()
            }
            _ => Err(err(7022, format!("{}{name}() is not implemented by the simulator", loc.path))),
        }
    }

    /// Simulated reboot: volatile state is lost (running operations, outstanding
    /// challenges, non-persistent subscriptions), UpTime restarts, `Device.Boot!` goes to
    /// the remaining (persistent) Event subscriptions.
    pub(super) fn reboot(&mut self, cause: &str, key: &str, reason: &str) {
        self.reboot_with(cause, key, reason, false);
    }

    /// [`Agent::reboot`], saying whether the firmware changed.
    pub(super) fn reboot_with(&mut self, cause: &str, key: &str, reason: &str, firmware_updated: bool) {
        self.flush_changes();
        self.ops.clear();
        for row in self.dm.rows("Device.LocalAgent.Request.") {
            self.dm.delete_row(&self.schema, &row);
        }
        for row in self.dm.rows("Device.LocalAgent.Subscription.") {
            if self.dm.raw_by_name(&self.schema, &row, "Persistent") != Some("true") {
                self.dm.delete_row(&self.schema, &row);
            }
        }
        self.challenges = Default::default();
        self.abandon_downloads();
        super::life::reset_counters(&self.schema, &mut self.dm);
        self.bulk = Default::default();
        // A reboot announces itself with Boot!, not with deletions.
        self.dm.take_changes();
        self.dm.boot = self.now();
        self.emit_boot(cause, key, reason, firmware_updated);
    }

    /// A reboot that closes the connections: every controller is away until it reconnects, and
    /// Boot! waits for it. The caller sets `restart` once the agent is up again.
    pub(super) fn reboot_away(&mut self, cause: &str, key: &str, reason: &str, firmware_updated: bool) {
        let eids: Vec<String> = self
            .dm
            .rows("Device.LocalAgent.Controller.")
            .iter()
            .filter_map(|r| self.dm.raw_by_name(&self.schema, r, "EndpointID").map(str::to_owned))
            .collect();
        self.flush_changes();
        self.disconnected.extend(eids);
        self.hold_all = true;
        self.reboot_with(cause, key, reason, firmware_updated);
        self.hold_all = false;
    }

    pub(super) fn emit_boot(&mut self, cause: &str, key: &str, reason: &str, firmware_updated: bool) {
        let params = BTreeMap::from([
            ("CommandKey".to_owned(), key.to_owned()),
            ("Cause".to_owned(), cause.to_owned()),
            ("FirmwareUpdated".to_owned(), firmware_updated.to_string()),
            ("ParameterMap".to_owned(), "{}".to_owned()),
            ("Reason".to_owned(), reason.to_owned()),
        ]);
        self.emit_event("Device.", "Boot", params);
    }

    /// Back to the scenario's data model (controllers provisioned since start included).
    fn factory_reset(&mut self, key: &str) -> Result<(), UspErr> {
        let now = self.now();
        let mut dm = setup::build_dm(&self.schema, &self.spec, now)
            .map_err(|e| err(7022, format!("factory reset failed: {e}")))?;
        for (eid, role) in &self.extra_controllers {
            // Best effort: a role deleted since cannot be restored anyway.
            let _ = setup::provision_controller(&self.schema, &mut dm, eid, role);
        }
        dm.take_changes();
        self.dm = dm;
        self.ops.clear();
        self.challenges = Default::default();
        self.held.clear();
        self.emit_boot("RemoteFactoryReset", key, "", false);
        Ok(())
    }

    fn start_ipping(
        &mut self,
        caller: &Caller,
        loc: &Loc,
        key: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<CmdOut, UspErr> {
        let result = ping_result(&self.schema, &self.dm, args)?;
        let row = setup::add_row_with(
            &self.schema,
            &mut self.dm,
            "Device.LocalAgent.Request.",
            &[
                ("Originator", &caller.eid),
                ("Command", &format!("{}IPPing()", loc.path)),
                ("CommandKey", key),
                ("Status", "Active"),
            ],
        )
        .map_err(|e| err(7005, e))?;
        self.ops.push(PendingOp {
            due: value::add_ms(self.now(), ASYNC_DELAY_MS),
            request: row.clone(),
            obj: loc.path.clone(),
            command: "IPPing".to_owned(),
            command_key: key.to_owned(),
            eid: caller.eid.clone(),
            msg_id: caller.msg_id.clone(),
            result: Ok(result),
            job: None,
            activate: None,
        });
        Ok(CmdOut::Async(row))
    }

    fn cancel(&mut self, request: &str) -> Result<CmdOut, UspErr> {
        let Some(pos) = self.ops.iter().position(|o| o.request == request) else {
            return Err(err(7022, "the operation has already finished"));
        };
        let op = self.ops.remove(pos);
        let canceled = Err(err(7023, "canceled by Device.LocalAgent.Request.{i}.Cancel()"));
        self.emit_oper_complete(&op.obj, &op.command, &op.command_key, &canceled);
        self.dm.delete_row(&self.schema, &op.request);
        self.abandon_downloads();
        Ok(CmdOut::Sync(BTreeMap::new()))
    }

    /// Completes the asynchronous operations that are due.
    pub(super) fn complete_due_ops(&mut self, now: SystemTime) {
        // Finished I/O: its outcome is applied to the agent and the command completes now.
        let mut ops = std::mem::take(&mut self.ops);
        for op in &mut ops {
            if let Some(finish) = op.job.as_ref().and_then(|j| j.take()) {
                op.result = finish(self);
                op.job = None;
                op.due = now;
            }
        }
        ops.append(&mut self.ops);
        let (due, rest): (Vec<PendingOp>, Vec<PendingOp>) =
            ops.into_iter().partition(|o| o.job.is_none() && o.due <= now);
        self.ops = rest;
        for op in due {
            if !op.request.is_empty() {
                // (An activation after a download has no Request row: nobody waits for it.)
                self.emit_oper_complete(&op.obj, &op.command, &op.command_key, &op.result);
                self.dm.delete_row(&self.schema, &op.request);
            }
            if let Some(image) = &op.activate {
                self.restart_on_image(image, &op.command_key);
            }
        }
    }
}

/// `21.0` → "21", `21.25` → "21.25".
pub(super) fn format_decimal(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// FNV-1a, for deterministic simulated measurements.
pub(super) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

pub(super) fn arg_u64(
    args: &BTreeMap<String, String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, UspErr> {
    match args.get(name) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| err(7027, format!("{name} must be a number in {min}..{max}"))),
    }
}

/// The outcome of a simulated ping, computed from the Host (deterministic): LAN hosts
/// answer in about a millisecond, others in tens of milliseconds; hosts of the Hosts
/// table that are offline never answer; `*.invalid` names do not resolve.
fn ping_result(
    schema: &super::schema::Schema,
    dm: &super::dm::Dm,
    args: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, UspErr> {
    let host = args.get("Host").map(|h| h.trim()).unwrap_or("");
    let reps = arg_u64(args, "NumberOfRepetitions", 3, 1, 1000)?;
    arg_u64(args, "Timeout", 1000, 1, 3_600_000)?;
    arg_u64(args, "DataBlockSize", 64, 1, 65535)?;
    arg_u64(args, "DSCP", 0, 0, 63)?;
    let unresolvable = host.is_empty()
        || host.len() > 256
        || host.ends_with(".invalid")
        || host.chars().any(|c| c.is_whitespace() || c.is_control());
    let known = dm.rows("Device.Hosts.Host.").into_iter().find(|r| {
        dm.raw_by_name(schema, r, "IPAddress") == Some(host) || dm.raw_by_name(schema, r, "HostName") == Some(host)
    });
    let offline = known.as_ref().is_some_and(|r| dm.raw_by_name(schema, r, "Active") != Some("true"));
    let lan = known.is_some() || host.starts_with("192.168.") || host.starts_with("10.") || host.ends_with(".lan");
    let h = fnv1a(host);
    let base_us = if lan { 600 + h % 3_000 } else { 8_000 + h % 40_000 };
    let spread = 100 + (h >> 16) % 4_000;
    let failures = if unresolvable || offline {
        reps
    } else if (h >> 8).is_multiple_of(10) {
        1
    } else {
        0
    };
    let successes = reps - failures;
    let (min, avg, max) = if successes == 0 { (0, 0, 0) } else { (base_us, base_us + spread / 3, base_us + spread) };
    let (status, used) = if unresolvable { ("Error_CannotResolveHostName", "") } else { ("Complete", "192.168.1.1") };
    let out: BTreeMap<String, String> = [
        ("Status", status.to_owned()),
        ("IPAddressUsed", used.to_owned()),
        ("SuccessCount", successes.to_string()),
        ("FailureCount", failures.to_string()),
        ("AverageResponseTime", (avg / 1000).to_string()),
        ("MinimumResponseTime", (min / 1000).to_string()),
        ("MaximumResponseTime", (max / 1000).to_string()),
        ("AverageResponseTimeDetailed", avg.to_string()),
        ("MinimumResponseTimeDetailed", min.to_string()),
        ("MaximumResponseTimeDetailed", max.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Ok(out)
}
