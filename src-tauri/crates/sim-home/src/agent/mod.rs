//! The brain of a simulated USP Agent: a TR-181 data model with spec semantics.
//!
//! [`Agent`] is sans-IO: the transport hands it each received [`Msg`] with the sender's
//! Endpoint ID and the current time, sends back the returned reply, drains
//! [`Agent::drain_outbox`] for notifications, and calls [`Agent::handle_timeout`] at
//! [`Agent::next_deadline`].
//!
//! - [`schema`]: the supported data model, as declarative tables;
//! - `dm`: instance data; `resolve`: paths, searches and pattern matching;
//! - `perm`: roles and permissions; `challenge`: the passcode challenge;
//! - the message handlers (`get`, `edit`, `operate`), notifications (`notify`),
//!   scenario loading (`setup`) and the life simulation (`life`).
//!
//! Behaviour worth knowing (spec-notes references in brackets):
//! - Unknown controllers: [`UnknownControllerPolicy::Ignore`] answers nothing (like the
//!   reference agent); `Untrusted` adds a Controller row with `UntrustedRole` (Role.2).
//!   Messages from a Controller row with `Enable=false` are ignored as well.
//! - Roles: 1 "Full Access" (in `SecuredRoles`), 2 "Untrusted", 3 "Home User". Subscription
//!   and Request rows are private to their controller unless it can list the Controller
//!   table. Unreadable items look absent (7026 / missing), secured values read as "".
//! - Set/Add/Delete: each requested object is all-or-nothing; with `allow_partial=false`
//!   the first failing object turns the message into an Error (7021 with `param_errs` for
//!   required-parameter failures, else the object's own code). At most 1,000 objects per
//!   message (7005). Deleting a missing instance succeeds with no affected paths.
//! - Get: at most 100,000 resolved objects per message (7005 for the paths beyond).
//! - Operate: `send_resp=false` suppresses the OperateResp but not an Error. IPPing() is
//!   an asynchronous command (300 ms, results computed from `Host`); the TR-143 speed tests
//!   (`diagnostics`) and firmware `Download()` (`firmware`) do real HTTP transfers as I/O
//!   jobs (`job`) polled from `handle_timeout`; firmware `Activate()` restarts the agent
//!   ([`Agent::take_restart`] tells the transport to close its connections). BulkData
//!   profiles push their reports on the agent's clock (`bulkdata`). Reboot() drops
//!   volatile state (running requests, challenges, non-persistent subscriptions), sets the
//!   traffic counters back to 0, restarts UpTime and sends `Device.Boot!` to the remaining Event subscriptions; FactoryReset()
//!   rebuilds the scenario's data model.
//! - [`Agent::power_cycle`] restarts the agent as a power cut would (connections close);
//!   [`Agent::lie_about_uptime`] makes it report any UpTime (hostile-data tests).
//! - Notifications are queued at the moment of the change. A ValueChange of a secured
//!   parameter carries "" for controllers without a secured role. For a controller the
//!   transport reported as disconnected, notifications with `send_resp` are held until it
//!   reconnects; the others are dropped. There are no retries (NotifyResp is ignored).
//! - Instance numbers are never reused while the agent runs (FactoryReset() starts over).

mod bulkdata;
mod challenge;
mod diagnostics;
mod dm;
mod edit;
mod firmware;
mod get;
mod job;
mod life;
mod notify;
mod operate;
mod perm;
mod resolve;
pub mod schema;
mod setup;
mod value;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use usp_core::eid::EndpointId;
use usp_core::path::PathKind;
use usp_proto::usp::{self, body::MsgBody, header::MsgType, request::ReqType, response::RespType, Msg};

use crate::spec::{AgentSpec, ScenarioError, SessionMode, UnknownControllerPolicy};
use dm::{Dm, Loc};
use perm::PermCtx;
use resolve::Target;
use schema::Schema;

/// Bound on [`ControllerCache`] entries (unknown EIDs are cached too).
const MAX_CACHED_CONTROLLERS: usize = 1024;

/// Bound on remembered parsed paths.
const MAX_CACHED_PATHS: usize = 1024;

/// USP protocol versions the simulated agents support.
pub const SUPPORTED_PROTOCOLS: &str = "1.0,1.1,1.2,1.3,1.4";

/// A USP error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UspErr {
    pub code: u32,
    pub msg: String,
}

pub(crate) fn err(code: u32, msg: impl Into<String>) -> UspErr {
    UspErr { code, msg: msg.into() }
}

impl std::fmt::Display for UspErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.msg, self.code)
    }
}

/// A message the agent wants to send on its own (a Notify), to a controller.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub to: EndpointId,
    pub msg: Msg,
}

/// The controller a request comes from.
pub(crate) struct Caller {
    /// Its `Device.LocalAgent.Controller.N.` row.
    pub row: String,
    pub eid: String,
    pub msg_id: String,
    pub perms: Arc<PermCtx>,
}

/// What the agent knows about a controller for one [`Dm::stamp`]: its row, whether it is
/// enabled and (once computed) its permissions.
#[derive(Clone)]
struct KnownController {
    row: String,
    enabled: bool,
    perms: Option<Arc<PermCtx>>,
}

/// Controller rows and permissions, valid while the data model keeps the stamp they were
/// computed for (any change to stored values, rows or objects drops them all).
#[derive(Default)]
struct ControllerCache {
    stamp: u64,
    by_eid: HashMap<String, Option<KnownController>>,
}

/// An asynchronous command in progress.
#[derive(Clone, Debug)]
pub(crate) struct PendingOp {
    pub due: SystemTime,
    /// Its `Device.LocalAgent.Request.N.` row.
    pub request: String,
    /// Object holding the command (`Device.IP.Diagnostics.`).
    pub obj: String,
    /// Command name without `()`.
    pub command: String,
    pub command_key: String,
    /// Who asked, and with which msg_id (duplicates are ignored while it runs).
    pub eid: String,
    pub msg_id: String,
    pub result: Result<BTreeMap<String, String>, UspErr>,
    /// Real I/O still running (the result comes from it, `due` does not count).
    pub job: Option<job::Job>,
    /// Activate() of this FirmwareImage row: the agent restarts once it completes.
    pub activate: Option<String>,
}

/// How an agent treats end-to-end session contexts with one controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E2ePolicy {
    /// `SessionMode`.
    pub mode: SessionMode,
    /// `MaxUSPRecordSize` (0 = no limit).
    pub max_record_size: u32,
    /// `MaxRetransmitTries`.
    pub max_retransmit_tries: u32,
    /// Records are signed both ways (the scenario's `integrity`).
    pub signed: bool,
}

/// A simulated USP Agent.
pub struct Agent {
    spec: AgentSpec,
    eid: EndpointId,
    policy: UnknownControllerPolicy,
    schema: Schema,
    dm: Dm,
    outbox: Vec<Outgoing>,
    /// Notifications with send_resp for controllers known to be disconnected.
    held: BTreeMap<String, Vec<Msg>>,
    disconnected: BTreeSet<String>,
    notify_seq: u64,
    ops: Vec<PendingOp>,
    challenges: challenge::Challenges,
    /// Controllers provisioned with `add_controller` (restored by FactoryReset()).
    extra_controllers: Vec<(String, String)>,
    /// Per-controller rows and permissions for the current data model contents.
    controllers: ControllerCache,
    /// Requested paths already parsed (controllers tend to ask for the same paths).
    parsed_paths: RefCell<HashMap<String, Arc<usp_core::path::Path>>>,
    /// When each active BulkData profile reports next.
    bulk: bulkdata::Schedule,
    /// While set, notifications for disconnected controllers are all held (Boot! after a
    /// restart waits for their reconnection).
    hold_all: bool,
    /// The agent restarted (new firmware): its connections must close.
    restart: bool,
}

impl Agent {
    /// Builds the agent of a scenario entry (its data model, roles, controllers).
    pub fn new(spec: &AgentSpec, policy: UnknownControllerPolicy, now: SystemTime) -> Result<Agent, ScenarioError> {
        let eid: EndpointId = spec
            .endpoint_id
            .parse()
            .map_err(|e| ScenarioError::agent(&spec.key, format!("invalid endpoint_id {:?}: {e}", spec.endpoint_id)))?;
        let schema = Schema::build(&spec.features);
        let dm = setup::build_dm(&schema, spec, now)?;
        let mut agent = Agent {
            spec: spec.clone(),
            eid,
            policy,
            schema,
            dm,
            outbox: Vec::new(),
            held: BTreeMap::new(),
            disconnected: BTreeSet::new(),
            notify_seq: 0,
            ops: Vec::new(),
            challenges: challenge::Challenges::default(),
            extra_controllers: Vec::new(),
            controllers: ControllerCache::default(),
            parsed_paths: RefCell::new(HashMap::new()),
            bulk: bulkdata::Schedule::default(),
            hold_all: false,
            restart: false,
        };
        agent.sync_bulkdata();
        Ok(agent)
    }

    /// The agent's Endpoint ID.
    pub fn endpoint_id(&self) -> &EndpointId {
        &self.eid
    }

    /// The scenario key ("gateway", ...).
    pub fn key(&self) -> &str {
        &self.spec.key
    }

    /// `Device.DeviceInfo.FriendlyName`.
    pub fn friendly_name(&self) -> String {
        self.dm.value_by_name(&self.schema, "Device.DeviceInfo.", "FriendlyName").unwrap_or_default()
    }

    /// Provisions (or updates) a `Device.LocalAgent.Controller.{i}` row with
    /// `AssignedRole` = the role with this Name.
    pub fn add_controller(&mut self, eid: EndpointId, role_name: &str) -> Result<(), ScenarioError> {
        setup::provision_controller(&self.schema, &mut self.dm, eid.as_str(), role_name)
            .map_err(|e| ScenarioError::agent(&self.spec.key, e))?;
        self.extra_controllers.retain(|(e, _)| e != eid.as_str());
        self.extra_controllers.push((eid.as_str().to_owned(), role_name.to_owned()));
        self.flush_changes();
        Ok(())
    }

    /// Handles one Msg from a controller: the reply (Response or Error), or `None` when the
    /// message must be ignored.
    pub fn handle_msg(&mut self, from: &EndpointId, msg: Msg, now: SystemTime) -> Option<Msg> {
        self.set_now(now);
        let known = match self.known_controller(from.as_str()) {
            Some(known) => known,
            None => match self.policy {
                UnknownControllerPolicy::Ignore => return None,
                UnknownControllerPolicy::Untrusted => {
                    self.add_untrusted(from.as_str())?;
                    self.known_controller(from.as_str())?
                }
            },
        };
        if !known.enabled {
            return None;
        }
        let msg_id = msg.header.as_ref().map(|h| h.msg_id.clone()).unwrap_or_default();
        if self.ops.iter().any(|op| op.eid == from.as_str() && op.msg_id == msg_id) {
            // R-MSG.4: a duplicate of a request still being processed.
            return None;
        }
        let perms = match known.perms {
            Some(perms) => perms,
            None => self.controller_perms(from.as_str(), &known.row),
        };
        let caller = Caller { perms, row: known.row, eid: from.as_str().to_owned(), msg_id: msg_id.clone() };
        let body = msg.body.and_then(|b| b.msg_body);
        let reply = match body {
            None => Some(error_reply(&msg_id, err(7004, "message has no body"), Vec::new())),
            Some(MsgBody::Response(_)) | Some(MsgBody::Error(_)) => None,
            Some(MsgBody::Request(req)) => match req.req_type {
                None => Some(error_reply(&msg_id, err(7004, "request has no type"), Vec::new())),
                Some(ReqType::Notify(_)) => None,
                Some(ReqType::Get(g)) => Some(self.handle_get(&caller, &g)),
                Some(ReqType::GetSupportedDm(g)) => Some(self.handle_get_supported_dm(&caller, &g)),
                Some(ReqType::GetInstances(g)) => Some(self.handle_get_instances(&caller, &g)),
                Some(ReqType::GetSupportedProtocol(_)) => Some(reply(
                    &msg_id,
                    MsgType::GetSupportedProtoResp,
                    RespType::GetSupportedProtocolResp(usp::GetSupportedProtocolResp {
                        agent_supported_protocol_versions: SUPPORTED_PROTOCOLS.to_owned(),
                    }),
                )),
                Some(ReqType::Set(s)) => Some(self.handle_set(&caller, &s)),
                Some(ReqType::Add(a)) => Some(self.handle_add(&caller, &a)),
                Some(ReqType::Delete(d)) => Some(self.handle_delete(&caller, &d)),
                Some(ReqType::Operate(o)) => self.handle_operate(&caller, &o),
                Some(ReqType::Register(_)) | Some(ReqType::Deregister(_)) => {
                    Some(error_reply(&msg_id, err(7001, "Register/Deregister are only for USP Services"), Vec::new()))
                }
            },
        };
        self.flush_changes();
        reply
    }

    /// Notifications queued by state changes, for the transport to send.
    pub fn drain_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// Earliest time at which [`Agent::handle_timeout`] has work.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        let poll = value::add_ms(self.now(), job::POLL_MS);
        let ops = self.ops.iter().map(|o| if o.job.is_some() { poll } else { o.due });
        let challenges = self.challenges.next_deadline();
        let subs = self.subscription_expiries().into_iter().map(|(t, _)| t);
        ops.chain(challenges).chain(subs).chain(self.bulk.next_due()).min()
    }

    /// Completes due asynchronous operations, expires challenges and subscriptions.
    pub fn handle_timeout(&mut self, now: SystemTime) {
        self.set_now(now);
        self.complete_due_ops(now);
        self.push_due_reports(now);
        self.challenges.expire(now);
        for (t, row) in self.subscription_expiries() {
            if t <= now {
                self.dm.delete_row(&self.schema, &row);
            }
        }
        self.flush_changes();
    }

    /// Life for demos and tests: hosts join and leave, sensors drift, signals change.
    pub fn tick(&mut self, rng: &mut impl rand::Rng, now: SystemTime) {
        self.set_now(now);
        life::tick(&self.schema, &mut self.dm, rng);
        self.flush_changes();
    }

    /// Sets a parameter (full path) as the device itself would, bypassing writability and
    /// permissions; notifications follow as for any change.
    pub fn set_internal(&mut self, path: &str, value: &str, now: SystemTime) -> Result<(), String> {
        self.set_now(now);
        let (loc, idx) = self.internal_param(path)?;
        let pdef = self.schema.obj(loc.def).params[idx].clone();
        if pdef.computed.is_some() {
            return Err(format!("{path} is computed by the agent"));
        }
        let v = value::check(pdef.ty, value).map_err(|e| format!("{path}: {}", e.msg))?;
        self.dm.check_refs(&self.schema, pdef.ty, &v).map_err(|e| format!("{path}: {}", e.msg))?;
        self.dm.set_raw(&self.schema, &loc.path, idx, v);
        edit::derive(&self.schema, &mut self.dm, &loc, &pdef.name);
        self.flush_changes();
        Ok(())
    }

    /// Adds a row (table path `Device.Hosts.Host.`) with parameter values (relative names,
    /// through single-instance sub-objects); returns its instance path.
    pub fn add_internal(
        &mut self,
        table_path: &str,
        params: &[(&str, &str)],
        now: SystemTime,
    ) -> Result<String, String> {
        self.set_now(now);
        let mut work = self.dm.clone();
        let row = setup::add_row_with(&self.schema, &mut work, table_path, params)?;
        self.dm = work;
        self.flush_changes();
        Ok(row)
    }

    /// Deletes a row (instance path).
    pub fn delete_internal(&mut self, instance_path: &str, now: SystemTime) -> Result<(), String> {
        self.set_now(now);
        let path = format!("{}.", instance_path.trim_end_matches('.'));
        if !dm::is_row_path(&path) || !self.dm.exists(&path) {
            return Err(format!("{instance_path} is not an existing table row"));
        }
        self.dm.delete_row(&self.schema, &path);
        self.flush_changes();
        Ok(())
    }

    /// The current value of a parameter (full path), as the agent sees it.
    pub fn get_internal(&self, param_path: &str) -> Option<String> {
        let (loc, idx) = self.internal_param(param_path).ok()?;
        self.dm.value(&self.schema, &loc.path, idx)
    }

    /// The power went off and on (tests and demos: a restart nobody asked for): the agent
    /// reboots as `Reboot()` does (Cause `LocalReboot`), every controller connection closes, and
    /// `Device.Boot!` waits for each controller's reconnection.
    pub fn power_cycle(&mut self, now: SystemTime) {
        self.set_now(now);
        self.reboot_away("LocalReboot", "", "power cycle", false);
        self.restart = true;
        tracing::info!(agent = %self.spec.key, "power cycle");
    }

    /// Sends `Device.Boot!` (Cause `LocalReboot`) again without restarting, as an agent does that
    /// repeats it until a controller acknowledges it.
    pub fn resend_boot(&mut self, now: SystemTime) {
        self.set_now(now);
        self.emit_boot("LocalReboot", "", "power cycle", false);
    }

    /// A device that lies (tests of hostile data): `Device.DeviceInfo.UpTime` reads as `text`
    /// from now on, whatever its clock says; `None` tells the truth again.
    pub fn lie_about_uptime(&mut self, text: Option<String>) {
        self.dm.uptime_lie = text;
    }

    /// True once after the agent restarted (Activate() of a firmware image): the transport
    /// must close every controller connection (1001), as a rebooting device does.
    pub fn take_restart(&mut self) -> bool {
        std::mem::take(&mut self.restart)
    }

    /// The transport connected this controller: held notifications are released.
    pub fn controller_connected(&mut self, eid: &EndpointId) {
        self.disconnected.remove(eid.as_str());
        if let Some(msgs) = self.held.remove(eid.as_str()) {
            for msg in msgs {
                self.outbox.push(Outgoing { to: eid.clone(), msg });
            }
        }
    }

    /// The controller's connection closed: notifications that ask for a response are held
    /// until it reconnects, the others are dropped.
    pub fn controller_disconnected(&mut self, eid: &EndpointId) {
        self.disconnected.insert(eid.as_str().to_owned());
    }

    // ------------------------------------------------------------------------------------

    fn set_now(&mut self, now: SystemTime) {
        self.dm.now = now;
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.dm.now
    }

    /// [`resolve::parse`], remembering valid paths (errors are not remembered).
    pub(crate) fn parse_path(&self, path: &str) -> Result<Arc<usp_core::path::Path>, UspErr> {
        if let Some(p) = self.parsed_paths.borrow().get(path) {
            return Ok(Arc::clone(p));
        }
        let parsed = Arc::new(resolve::parse(path)?);
        let mut cache = self.parsed_paths.borrow_mut();
        if cache.len() >= MAX_CACHED_PATHS {
            cache.clear();
        }
        cache.insert(path.to_owned(), Arc::clone(&parsed));
        Ok(parsed)
    }

    /// The cached row / Enable / permissions of a controller (by EndpointID), looked up
    /// again when the data model changed since.
    fn known_controller(&mut self, eid: &str) -> Option<KnownController> {
        let stamp = self.dm.stamp();
        if self.controllers.stamp != stamp {
            self.controllers.by_eid.clear();
            self.controllers.stamp = stamp;
        }
        if let Some(known) = self.controllers.by_eid.get(eid) {
            return known.clone();
        }
        let known = self.controller_row(eid).map(|row| KnownController {
            enabled: self.dm.raw_by_name(&self.schema, &row, "Enable") == Some("true"),
            row,
            perms: None,
        });
        if self.controllers.by_eid.len() >= MAX_CACHED_CONTROLLERS {
            self.controllers.by_eid.clear();
        }
        self.controllers.by_eid.insert(eid.to_owned(), known.clone());
        known
    }

    /// The permissions of the controller at `row`, cached with its row when they depend
    /// on stored data only (targets with search expressions may read computed values).
    fn controller_perms(&mut self, eid: &str, row: &str) -> Arc<PermCtx> {
        let perms = Arc::new(PermCtx::for_controller(&self.schema, &self.dm, row));
        if perms.cacheable() && self.controllers.stamp == self.dm.stamp() {
            if let Some(Some(known)) = self.controllers.by_eid.get_mut(eid) {
                if known.row == row {
                    known.perms = Some(Arc::clone(&perms));
                }
            }
        }
        perms
    }

    /// The end-to-end session-context policy for controller `eid` (its
    /// `Controller.{i}.E2ESession.` row; a controller without a row: the defaults).
    pub fn e2e_policy(&self, eid: &str) -> E2ePolicy {
        let signed =
            self.spec.controllers.iter().any(|c| c.endpoint_id == eid && c.e2e.as_ref().is_some_and(|e| e.integrity));
        let Some(row) = self.controller_row(eid) else {
            return E2ePolicy { mode: SessionMode::Allow, max_record_size: 0, max_retransmit_tries: 5, signed };
        };
        let obj = format!("{row}E2ESession.");
        let raw = |name: &str| self.dm.raw_by_name(&self.schema, &obj, name).unwrap_or("").to_owned();
        E2ePolicy {
            mode: SessionMode::from_tr181(&raw("SessionMode")),
            max_record_size: raw("MaxUSPRecordSize").parse().unwrap_or(0),
            // -1 = no limit in TR-181; the session layer bounds it anyway.
            max_retransmit_tries: raw("MaxRetransmitTries").parse::<i64>().map_or(5, |n| {
                if n < 0 {
                    1000
                } else {
                    n as u32
                }
            }),
            signed,
        }
    }

    /// Sets `Controller.{i}.E2ESession.Status` of controller `eid` ("Up", "Down"...).
    pub fn set_e2e_status(&mut self, eid: &str, status: &str) {
        if let Some(row) = self.controller_row(eid) {
            let obj = format!("{row}E2ESession.");
            self.dm.set_by_name(&self.schema, &obj, "Status", status);
        }
    }

    /// The Controller row (`…Controller.N.`) with this EndpointID.
    pub(crate) fn controller_row(&self, eid: &str) -> Option<String> {
        self.dm
            .rows("Device.LocalAgent.Controller.")
            .into_iter()
            .find(|r| self.dm.raw_by_name(&self.schema, r, "EndpointID") == Some(eid))
    }

    /// Under the Untrusted policy: a Controller row for an unknown controller.
    fn add_untrusted(&mut self, eid: &str) -> Option<String> {
        let untrusted = self
            .dm
            .raw_by_name(&self.schema, "Device.LocalAgent.ControllerTrust.", "UntrustedRole")
            .unwrap_or("")
            .to_owned();
        let mut work = self.dm.clone();
        let row = setup::add_row_with(
            &self.schema,
            &mut work,
            "Device.LocalAgent.Controller.",
            &[("EndpointID", eid), ("Enable", "true"), ("AssignedRole", &untrusted)],
        );
        match row {
            Ok(row) => {
                self.dm = work;
                self.flush_changes();
                Some(row)
            }
            Err(e) => {
                tracing::warn!("cannot add controller {eid}: {e}");
                None
            }
        }
    }

    /// A concrete parameter path → its object and index.
    fn internal_param(&self, path: &str) -> Result<(Loc, usize), String> {
        let parsed = resolve::parse(path).map_err(|e| e.msg)?;
        if parsed.kind() != PathKind::Parameter {
            return Err(format!("{path} is not a parameter path"));
        }
        let res = resolve::resolve(&self.schema, &self.dm, &parsed, &|_, _, _| true).map_err(|e| e.msg)?;
        match res.targets.as_slice() {
            [Target::Param(loc, idx)] => Ok((loc.clone(), *idx)),
            [] => Err(format!("{path} does not exist")),
            _ => Err(format!("{path} matches several parameters")),
        }
    }
}

// ----------------------------------------------------------------------------------------
// Message builders

pub(crate) fn header(msg_id: &str, t: MsgType) -> Option<usp::Header> {
    Some(usp::Header { msg_id: msg_id.to_owned(), msg_type: t as i32 })
}

/// A Response message.
pub(crate) fn reply(msg_id: &str, t: MsgType, resp: RespType) -> Msg {
    Msg {
        header: header(msg_id, t),
        body: Some(usp::Body { msg_body: Some(MsgBody::Response(usp::Response { resp_type: Some(resp) })) }),
    }
}

/// An Error message.
pub(crate) fn error_reply(msg_id: &str, e: UspErr, param_errs: Vec<usp::error::ParamError>) -> Msg {
    Msg {
        header: header(msg_id, MsgType::Error),
        body: Some(usp::Body {
            msg_body: Some(MsgBody::Error(usp::Error { err_code: e.code, err_msg: e.msg, param_errs })),
        }),
    }
}
