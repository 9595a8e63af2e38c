//! One simulated agent as data: what a scenario file says about it ([`AgentSpec`]), the
//! words it is written in ([`Feature`], [`UnknownControllerPolicy`]), and [`ScenarioError`].
//! Both the whole home ([`crate::scenario`]) and an agent's brain ([`crate::agent`]) read it.

use serde::{Deserialize, Serialize};

/// One simulated USP agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Short name: "gateway", "extender", "hub".
    pub key: String,
    /// The agent's USP Endpoint ID.
    pub endpoint_id: String,
    /// TCP port of its WebSocket server (0 = any free port).
    #[serde(default)]
    pub port: u16,
    /// WebSocket resource path.
    #[serde(default = "default_ws_path")]
    pub path: String,
    /// WebSocket ping interval (`MTP.1.WebSocket.KeepAliveInterval`).
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
    /// What to do with controllers that are not in the Controller table.
    #[serde(default)]
    pub unknown_controllers: UnknownControllerPolicy,
    /// Controllers provisioned at start.
    #[serde(default)]
    pub controllers: Vec<ControllerSpec>,
    /// Which parts of the data model the agent supports (core objects always).
    #[serde(default)]
    pub features: Vec<Feature>,
    /// The passcode Challenge (`ControllerTrust.Challenge.1`), granting "Home User".
    #[serde(default)]
    pub challenge: Option<ChallengeSpec>,
    /// Extra `Permission` rows added to the standard roles (e.g. letting Untrusted read the
    /// Challenge rows, as the spec's pairing flow expects, which the reference agent does not).
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    /// Instance data, keyed by absolute object path.
    #[serde(default)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// A controller provisioned in `Device.LocalAgent.Controller.{i}.`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSpec {
    pub endpoint_id: String,
    /// Role name: "Full Access", "Home User" or "Untrusted".
    pub role: String,
    /// The end-to-end session context with this controller
    /// (`Controller.{i}.E2ESession.`); absent: allowed, no segmentation, unsigned.
    #[serde(default)]
    pub e2e: Option<E2eSpec>,
}

/// `Device.LocalAgent.Controller.{i}.E2ESession.` of one controller, as the scenario sets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2eSpec {
    /// `SessionMode`.
    #[serde(default)]
    pub mode: SessionMode,
    /// `MaxUSPRecordSize` in bytes: the agent segments what it sends into Records of at most
    /// this size, and the controller should too (0 = no limit; else at least 512).
    #[serde(default)]
    pub max_record_size: u32,
    /// Sign the session-context Records the agent sends, and require the controller's to
    /// be signed (by the first certificate it signs with, then only that one).
    #[serde(default)]
    pub integrity: bool,
}

/// `E2ESession.SessionMode`: whether a controller may, or must, use a session context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// Every Message must travel in a session context: a request in a
    /// `no_session_context` Record gets an Error 7101 "Secure session required".
    Require,
    /// Either way; the controller chooses.
    #[default]
    Allow,
    /// No session context: a `session_context` Record gets DisconnectRecord 7106.
    Forbid,
}

impl SessionMode {
    /// The TR-181 value.
    pub fn as_tr181(self) -> &'static str {
        match self {
            SessionMode::Require => "Require",
            SessionMode::Allow => "Allow",
            SessionMode::Forbid => "Forbid",
        }
    }

    /// From the TR-181 value (anything unknown: Allow).
    pub fn from_tr181(v: &str) -> SessionMode {
        match v {
            "Require" => SessionMode::Require,
            "Forbid" => SessionMode::Forbid,
            _ => SessionMode::Allow,
        }
    }
}

/// One extra `ControllerTrust.Role.{i}.Permission.{i}` row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    /// Role name: "Full Access", "Untrusted" or "Home User".
    pub role: String,
    /// Precedence within the role (higher wins).
    pub order: u32,
    /// Comma-separated paths.
    pub targets: String,
    /// `rwxn` strings.
    pub param: String,
    pub obj: String,
    pub instantiated_obj: String,
    pub command_event: String,
}

/// The passcode challenge of an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSpec {
    /// What the homeowner types (stored base64-encoded in `Challenge.1.Value`).
    pub passcode: String,
    /// Consecutive failures (across controllers) before lock-out.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Lock-out length in seconds.
    #[serde(default = "default_lockout")]
    pub lockout_secs: u32,
    #[serde(default = "default_challenge_description")]
    pub description: String,
    /// Shown to the user (stored base64-encoded in `Challenge.1.Instruction`).
    #[serde(default = "default_instruction")]
    pub instruction: String,
    /// Role granted on success (by Name).
    #[serde(default = "default_challenge_role")]
    pub role: String,
}

fn default_ws_path() -> String {
    "/usp".to_owned()
}
fn default_keep_alive() -> u64 {
    30
}
fn default_retries() -> u32 {
    3
}
fn default_lockout() -> u32 {
    30
}
fn default_challenge_description() -> String {
    "Passcode printed on the device label".to_owned()
}
fn default_instruction() -> String {
    "Enter the passcode printed on the device label".to_owned()
}
fn default_challenge_role() -> String {
    "Home User".to_owned()
}

/// Why a scenario could not be loaded or applied.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario is not valid JSON for this format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("agent {agent:?}: {reason}")]
    Agent { agent: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl ScenarioError {
    pub(crate) fn agent(agent: &str, reason: impl Into<String>) -> ScenarioError {
        ScenarioError::Agent { agent: agent.to_owned(), reason: reason.into() }
    }
}

/// What to do with a message from a controller that is not in the Controller table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownControllerPolicy {
    /// Ignore it: no reply at all (what the reference agent does).
    #[default]
    Ignore,
    /// Add a Controller row with the `UntrustedRole` and answer per that role.
    Untrusted,
}

/// A group of objects an agent may support, chosen per agent in the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// DeviceInfo, LocalAgent, Reboot/FactoryReset, Boot! (always present).
    Core,
    /// WiFi.Radio / SSID / AccessPoint (+ Security, AssociatedDevice).
    Wifi,
    /// WiFi.DataElements (EasyMesh controller view: nodes, backhaul, stations).
    Mesh,
    /// Hosts.Host and Hosts.AccessControl.
    Hosts,
    /// Schedules.Schedule (referenced by Hosts.AccessControl.ScheduleRef, TR-181 2.18).
    Schedules,
    /// Hosts.AccessControl.{i}.Schedule.{i} (TR-181 2.14-2.17, deprecated in 2.18): an agent
    /// with this and without `schedules` models an older access-control profile (no
    /// `ScheduleRef`).
    LegacySchedules,
    /// IoTCapability (switches, dimmers, sensors).
    Iot,
    /// IP.Diagnostics: IPPing(), and the TR-143 speed tests DownloadDiagnostics() and
    /// UploadDiagnostics() (real HTTP transfers).
    Diagnostics,
    /// IP.Interface with its Stats counters (growing with the life loop).
    IpInterfaces,
    /// BulkData profiles reported as `Device.BulkData.Profile.{i}.Push!` events.
    #[serde(rename = "bulkdata")]
    BulkData,
    /// DeviceInfo.FirmwareImage with Download() (over HTTP) and Activate() (a restart).
    Firmware,
}
