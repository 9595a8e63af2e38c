//! The declared data model: one row per object any simulated agent may support
//! ([`OBJECTS`]), with its parameters, commands and events, written with the small
//! constant builders at the top. Essentially one table (TR-181 Device:2 subset).

use super::{Arg, CmdDef, EventDef, Feature, TableAccess, Ty};

mod history;
pub use history::HISTORY_OBJECTS;

/// A parameter row of a declarative table.
#[derive(Clone, Copy, Debug)]
pub struct PDecl {
    pub(super) name: &'static str,
    pub(super) ty: Ty,
    pub(super) writable: bool,
    pub(super) secured: bool,
    pub(super) default: &'static str,
    pub(super) volatile: bool,
    pub(super) write_once: bool,
    pub(super) schedule_status: bool,
    pub(super) uptime: bool,
    pub(super) local_time: bool,
    /// Only present when this feature is enabled too.
    pub(super) needs: Option<Feature>,
}

/// A read-only parameter (use `.w()` to make it writable).
const fn p(name: &'static str, ty: Ty) -> PDecl {
    PDecl {
        name,
        ty,
        writable: false,
        secured: false,
        default: "",
        volatile: false,
        write_once: false,
        schedule_status: false,
        uptime: false,
        local_time: false,
        needs: None,
    }
}

impl PDecl {
    /// Read-write.
    const fn w(self) -> Self {
        PDecl { writable: true, ..self }
    }
    /// Default value for new instances.
    const fn def(self, default: &'static str) -> Self {
        PDecl { default, ..self }
    }
    /// `secured`: reads as "" unless the controller has a role listed in SecuredRoles.
    const fn secured(self) -> Self {
        PDecl { secured: true, ..self }
    }
    /// Changes too often for ValueChange (reported as VALUE_CHANGE_WILL_IGNORE).
    const fn volatile(self) -> Self {
        PDecl { volatile: true, ..self }
    }
    /// Can be given at creation (Add) but not changed afterwards.
    const fn once(self) -> Self {
        PDecl { write_once: true, ..self }
    }
    const fn uptime(self) -> Self {
        PDecl { uptime: true, volatile: true, ..self }
    }
    const fn local_time(self) -> Self {
        PDecl { local_time: true, volatile: true, ..self }
    }
    const fn schedule_status(self) -> Self {
        PDecl { schedule_status: true, ..self }
    }
    /// Only in agents that also have `feature`.
    const fn needs(self, feature: Feature) -> Self {
        PDecl { needs: Some(feature), ..self }
    }
}

const fn req(name: &'static str) -> Arg {
    Arg { name, mandatory: true }
}
const fn opt(name: &'static str) -> Arg {
    Arg { name, mandatory: false }
}

const fn sync_cmd(name: &'static str, inputs: &'static [Arg], outputs: &'static [&'static str]) -> CmdDef {
    CmdDef { name, is_async: false, inputs, outputs }
}
const fn async_cmd(name: &'static str, inputs: &'static [Arg], outputs: &'static [&'static str]) -> CmdDef {
    CmdDef { name, is_async: true, inputs, outputs }
}

/// An object row of the declarative table.
#[derive(Clone, Copy, Debug)]
pub struct ODecl {
    pub(super) path: &'static str,
    pub(super) feature: Feature,
    pub(super) access: TableAccess,
    pub(super) keys: &'static [&'static [&'static str]],
    pub(super) params: &'static [PDecl],
    pub(super) commands: &'static [CmdDef],
    pub(super) events: &'static [EventDef],
    pub(super) optional: bool,
    pub(super) max_rows: u32,
}

const fn obj(path: &'static str, feature: Feature, params: &'static [PDecl]) -> ODecl {
    ODecl {
        path,
        feature,
        access: TableAccess::ReadOnly,
        keys: &[],
        params,
        commands: &[],
        events: &[],
        optional: false,
        max_rows: 0,
    }
}

/// A table (its path ends in `{i}.`); `keys` are its unique key sets.
const fn table(
    path: &'static str,
    feature: Feature,
    access: TableAccess,
    keys: &'static [&'static [&'static str]],
    params: &'static [PDecl],
) -> ODecl {
    ODecl { path, feature, access, keys, params, commands: &[], events: &[], optional: false, max_rows: 64 }
}

impl ODecl {
    const fn cmds(self, commands: &'static [CmdDef]) -> Self {
        ODecl { commands, ..self }
    }
    const fn events(self, events: &'static [EventDef]) -> Self {
        ODecl { events, ..self }
    }
    /// A single-instance child that exists only when the instance data creates it
    /// (e.g. the one capability sub-object of an IoTCapability row).
    const fn optional(self) -> Self {
        ODecl { optional: true, ..self }
    }
    const fn max_rows(self, max_rows: u32) -> Self {
        ODecl { max_rows, ..self }
    }
}

// ----------------------------------------------------------------------------------------
// Value sets

const STR16: Ty = Ty::Str(0, 16);
const STR32: Ty = Ty::Str(0, 32);
const STR64: Ty = Ty::Str(0, 64);
const STR256: Ty = Ty::Str(0, 256);
const ALIAS: Ty = Ty::Str(0, 64);
pub(super) const UINT: Ty = Ty::UInt(0, u32::MAX as u64);
const BOOL: Ty = Ty::Bool;

const FREQ_BANDS: &[&str] = &["2.4GHz", "5GHz", "6GHz"];
const BANDWIDTHS: &[&str] = &["20MHz", "40MHz", "80MHz", "160MHz", "320MHz", "Auto"];
const STANDARDS: &[&str] = &["a", "b", "g", "n", "ac", "ax", "be"];
const IF_STATUS: &[&str] = &["Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error"];
const AP_STATUS: &[&str] = &["Disabled", "Enabled", "Error_Misconfigured", "Error"];
/// Wi-Fi security modes (TR-181 `Security.ModesSupported` values).
pub const SECURITY_MODES: &[&str] = &[
    "None",
    "WEP-64",
    "WEP-128",
    "WPA-Personal",
    "WPA2-Personal",
    "WPA3-Personal",
    "WPA-WPA2-Personal",
    "WPA3-Personal-Transition",
    "WPA-Enterprise",
    "WPA2-Enterprise",
    "WPA3-Enterprise",
    "WPA-WPA2-Enterprise",
    "OWE",
];
const INTERFACE_TYPES: &[&str] = &["Wi-Fi", "Ethernet", "MoCA", "HomePlug", "UPA", "Other"];
const ACCESS_POLICIES: &[&str] = &["Allow", "Deny"];
const ORIGINS: &[&str] = &["User", "System", "Controller"];
const DAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const SCHEDULE_STATUS: &[&str] = &["Disabled", "Inactive", "Active", "Error"];
const IOT_CLASSES: &[&str] = &[
    "BinaryControl",
    "LevelControl",
    "EnumControl",
    "BinarySensor",
    "LevelSensor",
    "MultiLevelSensor",
    "EnumSensor",
    "BlobSensor",
];
/// Subscription notification types.
pub const NOTIF_TYPES: &[&str] = &["ValueChange", "ObjectCreation", "ObjectDeletion", "OperationComplete", "Event"];
const REQUEST_STATUS: &[&str] = &["Requested", "Active", "Canceling", "Canceled", "Success", "Error"];
const MTP_PROTOCOLS: &[&str] = &["CoAP", "STOMP", "WebSocket", "MQTT", "UDS"];
const MEDIA_VALUE: &[&str] = &["text/plain", "image/jpeg"];
const MEDIA_INSTRUCTION: &[&str] = &["text/plain", "image/jpeg", "text/html"];

// ----------------------------------------------------------------------------------------
// Core: Device., DeviceInfo, LocalAgent

const DEVICE_CMDS: &[CmdDef] =
    &[sync_cmd("Reboot", &[opt("Cause"), opt("Reason")], &[]), sync_cmd("FactoryReset", &[], &[])];
const DEVICE_EVENTS: &[EventDef] =
    &[EventDef { name: "Boot", args: &["CommandKey", "Cause", "FirmwareUpdated", "ParameterMap", "Reason"] }];

const DEVICE_INFO: &[PDecl] = &[
    p("Manufacturer", STR64),
    p("ManufacturerOUI", Ty::Str(0, 6)),
    p("ModelName", STR64),
    p("Description", STR256),
    p("ProductClass", STR64),
    p("SerialNumber", STR64),
    p("HardwareVersion", STR64),
    p("SoftwareVersion", STR64),
    p("UpTime", UINT).uptime(),
    p("FriendlyName", STR32).w(),
    p("ActiveFirmwareImage", Ty::Ref(FIRMWARE_TABLE, false)).needs(Feature::Firmware),
    p("BootFirmwareImage", Ty::Ref(FIRMWARE_TABLE, false)).w().needs(Feature::Firmware),
];
const FIRMWARE_TABLE: &str = "Device.DeviceInfo.FirmwareImage.{i}.";

const LOCAL_AGENT: &[PDecl] =
    &[p("EndpointID", STR64), p("SoftwareVersion", STR64), p("SupportedProtocols", Ty::List(256))];

const LA_MTP: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Status", Ty::Enum(&["Up", "Down", "Error"])).def("Down"),
    p("Protocol", Ty::Enum(MTP_PROTOCOLS)).w().def("WebSocket"),
    p("EnableMDNS", BOOL).w().def("true"),
];
const LA_MTP_WS: &[PDecl] = &[
    p("Interfaces", Ty::List(1024)).w(),
    p("Port", Ty::UInt(0, 65535)).w().def("8443"),
    p("Path", STR256).w(),
    p("EnableEncryption", BOOL).w().def("true"),
    p("KeepAliveInterval", Ty::UInt(1, u32::MAX as u64)).w().def("60"),
];

const CONTROLLER: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("EndpointID", STR64).w(),
    p("Enable", BOOL).w().def("false"),
    p("AssignedRole", Ty::Ref(ROLE_TABLE, true)).w(),
    p("InheritedRole", Ty::Ref(ROLE_TABLE, true)),
    p("ProvisioningCode", STR64).w(),
    p("USPNotifRetryMinimumWaitInterval", Ty::UInt(1, 65535)).w().def("5"),
    p("USPNotifRetryIntervalMultiplier", Ty::UInt(1000, 65535)).w().def("2000"),
];
const CONTROLLER_CMDS: &[CmdDef] = &[sync_cmd("SendOnBoardRequest", &[], &[])];
/// `Controller.{i}.E2ESession.` (TR-181 2.15+; `Enable` is the deleted pre-2.15 switch,
/// kept for older controllers and ignored: `SessionMode` decides).
const E2E_SESSION: &[PDecl] = &[
    p("Enable", BOOL).w().def("false"),
    p("SessionMode", Ty::Enum(&["Require", "Allow", "Forbid"])).w().def("Allow"),
    p("Status", Ty::Enum(&["Up", "Negotiating", "Down"])).def("Down").volatile(),
    p("SessionExpiration", UINT).w().def("0"),
    p("SessionRetryMinimumWaitInterval", Ty::UInt(1, 65535)).w().def("5"),
    p("SessionRetryIntervalMultiplier", Ty::UInt(1000, 65535)).w().def("2000"),
    p("MaxUSPRecordSize", UINT).w().def("0"),
    p("MaxRetransmitTries", Ty::Int(-1, 10)).w().def("5"),
    p("PayloadSecurity", Ty::Enum(&["Plaintext", "TLS"])).w().def("Plaintext"),
];

const SUBSCRIPTION: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("ID", Ty::Str(0, 64)).w(),
    p("Recipient", Ty::Ref(CONTROLLER_TABLE, false)),
    p("NotifType", Ty::Enum(NOTIF_TYPES)).w().def("ValueChange"),
    p("ReferenceList", Ty::List(4096)).w().once(),
    p("Persistent", BOOL).w().def("false"),
    p("TimeToLive", UINT).w().def("0"),
    p("NotifRetry", BOOL).w().def("false"),
    p("NotifExpiration", UINT).w().def("0"),
    p("CreationDate", Ty::DateTime).def("0001-01-01T00:00:00Z"),
];

const REQUEST: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Originator", STR64),
    p("Command", STR256),
    p("CommandKey", STR256),
    p("Status", Ty::Enum(REQUEST_STATUS)).def("Requested"),
];
const REQUEST_CMDS: &[CmdDef] = &[sync_cmd("Cancel", &[], &[])];

/// Supported path of the Role table (target of role references).
pub const ROLE_TABLE: &str = "Device.LocalAgent.ControllerTrust.Role.{i}.";
/// Supported path of the Controller table.
pub const CONTROLLER_TABLE: &str = "Device.LocalAgent.Controller.{i}.";

const CONTROLLER_TRUST: &[PDecl] = &[
    p("UntrustedRole", Ty::Ref(ROLE_TABLE, true)).w(),
    p("SecuredRoles", Ty::Ref(ROLE_TABLE, true)).w(),
    p("TOFUAllowed", BOOL).w().def("false"),
];
const CONTROLLER_TRUST_CMDS: &[CmdDef] = &[
    sync_cmd(
        "RequestChallenge",
        &[req("ChallengeRef"), opt("RequestExpiration")],
        &["Instruction", "InstructionType", "ValueType", "ChallengeID"],
    ),
    sync_cmd("ChallengeResponse", &[req("ChallengeID"), req("Value")], &[]),
];
const ROLE: &[PDecl] = &[p("Alias", ALIAS).w(), p("Enable", BOOL).w().def("false"), p("Name", STR64).w()];
const PERMISSION: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Order", UINT).w().def("0"),
    p("Targets", Ty::List(4096)).w(),
    p("Param", Ty::Rwxn).w().def("----"),
    p("Obj", Ty::Rwxn).w().def("----"),
    p("InstantiatedObj", Ty::Rwxn).w().def("----"),
    p("CommandEvent", Ty::Rwxn).w().def("----"),
];
const CHALLENGE: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Description", STR256).w(),
    p("Role", Ty::Ref(ROLE_TABLE, true)).w(),
    p("Enable", BOOL).w().def("false"),
    p("Type", Ty::Enum(&["Passphrase"])).w().def("Passphrase"),
    p("Value", Ty::Base64(256)).w().secured(),
    p("ValueType", Ty::Enum(MEDIA_VALUE)).w().def("text/plain"),
    p("Instruction", Ty::Base64(4096)).w(),
    p("InstructionType", Ty::Enum(MEDIA_INSTRUCTION)).w().def("text/plain"),
    p("Retries", UINT).w().def("3"),
    p("LockoutPeriod", Ty::Int(0, i32::MAX as i64)).w().def("30"),
];

// ----------------------------------------------------------------------------------------
// Wi-Fi

const WIFI_RADIO: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("true"),
    p("Status", Ty::Enum(IF_STATUS)).def("Up"),
    p("Name", STR64),
    p("OperatingFrequencyBand", Ty::Enum(FREQ_BANDS)).w().def("2.4GHz"),
    p("SupportedFrequencyBands", Ty::EnumList(FREQ_BANDS)),
    p("OperatingStandards", Ty::EnumList(STANDARDS)).w(),
    p("PossibleChannels", Ty::List(1024)),
    p("Channel", Ty::UInt(1, 233)).w().def("1"),
    p("AutoChannelEnable", BOOL).w().def("true"),
    p("OperatingChannelBandwidth", Ty::Enum(BANDWIDTHS)).w().def("Auto"),
    p("TransmitPower", Ty::Int(-1, 100)).w().def("-1"),
];
const WIFI_SSID: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Status", Ty::Enum(IF_STATUS)).def("Down"),
    p("Name", STR64),
    p("LowerLayers", Ty::List(1024)).w(),
    p("BSSID", Ty::Mac),
    p("MACAddress", Ty::Mac),
    p("SSID", STR32).w(),
];
const WIFI_AP: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Status", Ty::Enum(AP_STATUS)).def("Disabled"),
    p("SSIDReference", Ty::Ref("Device.WiFi.SSID.{i}.", false)).w(),
    p("SSIDAdvertisementEnabled", BOOL).w().def("true"),
    p("IsolationEnable", BOOL).w().def("false"),
    p("MaxAssociatedDevices", UINT).w().def("0"),
];
const WIFI_AP_SECURITY: &[PDecl] = &[
    p("ModesSupported", Ty::EnumList(SECURITY_MODES)).def("None,WPA2-Personal,WPA3-Personal,WPA3-Personal-Transition"),
    p("ModeEnabled", Ty::Enum(SECURITY_MODES)).w().def("None"),
    p("KeyPassphrase", Ty::Str(8, 63)).w().secured(),
    p("SAEPassphrase", Ty::Str(0, 128)).w().secured(),
];
const WIFI_ASSOC: &[PDecl] = &[
    p("MACAddress", Ty::Mac),
    p("OperatingStandard", Ty::Enum(STANDARDS)).def("ax"),
    p("AuthenticationState", BOOL).def("true"),
    p("LastDataDownlinkRate", UINT).volatile().def("0"),
    p("LastDataUplinkRate", UINT).volatile().def("0"),
    p("SignalStrength", Ty::Int(-200, 0)).def("0"),
    p("Noise", Ty::Int(-200, 0)).def("-95"),
    p("Active", BOOL).def("true"),
    p("AssociationTime", Ty::DateTime).def("0001-01-01T00:00:00Z"),
];

// Wi-Fi EasyMesh Data Elements (gateway = mesh controller)
const DE_NETWORK: &[PDecl] =
    &[p("ID", STR64), p("TimeStamp", Ty::DateTime).volatile().def("0001-01-01T00:00:00Z"), p("ControllerID", STR64)];
/// `Network.SSID.{i}.`: the SSIDs the mesh controller configures on every node; `Type`
/// (TR-181 2.19) is free text such as `Fronthaul`, `Backhaul`, `Guest`.
const DE_SSID: &[PDecl] = &[p("SSID", STR32), p("Band", Ty::List(64)), p("Enable", BOOL).def("true"), p("Type", STR64)];
const DE_DEVICE: &[PDecl] = &[
    p("ID", Ty::Mac),
    p("Manufacturer", STR64),
    p("SerialNumber", STR64),
    p("ManufacturerModel", STR64),
    p("SoftwareVersion", STR64),
    p("BackhaulALID", Ty::Mac),
    p("BackhaulMACAddress", Ty::Mac),
    p("BackhaulMediaType", STR64),
    p("BackhaulPHYRate", UINT).def("0"),
];
const DE_RADIO: &[PDecl] = &[
    p("ID", Ty::Mac),
    p("Enabled", BOOL).def("true"),
    p("Noise", Ty::UInt(0, 220)).def("0"),
    p("Utilization", Ty::UInt(0, 255)).volatile().def("0"),
];
const DE_BSS: &[PDecl] = &[
    p("BSSID", Ty::Mac),
    p("SSID", STR32),
    p("Enabled", BOOL).def("true"),
    p("BackhaulUse", BOOL).def("false"),
    p("FronthaulUse", BOOL).def("true"),
];
const DE_STA: &[PDecl] = &[
    p("MACAddress", Ty::Mac),
    p("Hostname", STR64),
    p("IPV4Address", STR64),
    p("SignalStrength", Ty::UInt(0, 220)).def("0"),
    p("LastDataDownlinkRate", UINT).volatile().def("0"),
    p("LastDataUplinkRate", UINT).volatile().def("0"),
    p("EstMACDataRateDownlink", UINT).volatile().def("0"),
    p("BytesSent", Ty::ULong).volatile().def("0"),
    p("BytesReceived", Ty::ULong).volatile().def("0"),
];

// ----------------------------------------------------------------------------------------
// Hosts, access control, schedules

const HOST: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("PhysAddress", Ty::Mac),
    p("IPAddress", STR64),
    p("HostName", STR64),
    p("Active", BOOL).def("false"),
    p("ActiveLastChange", Ty::DateTime).def("0001-01-01T00:00:00Z"),
    p("InterfaceType", Ty::Enum(INTERFACE_TYPES)).def("Other"),
    p("Layer1Interface", STR256),
    p("Layer3Interface", STR256),
    p("AssociatedDevice", STR256),
];
const HOST_WANSTATS: &[PDecl] = &[
    p("BytesSent", Ty::ULong).volatile().def("0"),
    p("BytesReceived", Ty::ULong).volatile().def("0"),
    p("PacketsSent", Ty::ULong).volatile().def("0"),
    p("PacketsReceived", Ty::ULong).volatile().def("0"),
];
const ACCESS_CONTROL: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("PhysAddress", Ty::Mac).w(),
    p("HostName", STR64).w(),
    p("Enable", BOOL).w().def("false"),
    p("AccessPolicy", Ty::Enum(ACCESS_POLICIES)).w().def("Allow"),
    p("ScheduleRef", Ty::Ref("Device.Schedules.Schedule.{i}.", true)).w().needs(Feature::Schedules),
    p("Origin", Ty::Enum(ORIGINS)).def("User"),
];
/// `Device.Hosts.AccessControl.{i}.Schedule.{i}.` (2.14): a window in which an `Allow` row
/// grants access.
const ACCESS_CONTROL_SCHEDULE: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Day", Ty::EnumList(DAYS)).w(),
    p("StartTime", Ty::HhMm).w().def("00:00"),
    p("Duration", UINT).w().def("0"),
];
/// The device's clock: its local time is UTC (the schedules use the same clock).
const TIME: &[PDecl] = &[
    p("Enable", BOOL).w().def("true"),
    p("Status", STR64).def("Synchronized"),
    p("CurrentLocalTime", Ty::DateTime).local_time(),
    p("LocalTimeZone", STR256).w().def("UTC0"),
];
const SCHEDULES: &[PDecl] = &[p("Enable", BOOL).w().def("true")];
const SCHEDULE: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Status", Ty::Enum(SCHEDULE_STATUS)).schedule_status(),
    p("Description", STR256).w(),
    p("Day", Ty::EnumList(DAYS)).w(),
    p("StartTime", Ty::HhMm).w().def("00:00"),
    p("Duration", UINT).w().def("0"),
    p("InverseMode", BOOL).w().def("false"),
];

// ----------------------------------------------------------------------------------------
// Smart home

const IOT_CAP: &[PDecl] = &[p("Name", STR64).w(), p("Class", Ty::Enum(IOT_CLASSES)).def("BinaryControl")];
const IOT_BINARY_CONTROL: &[PDecl] = &[p("Type", STR64), p("Description", STR256), p("Value", BOOL).w().def("false")];
const IOT_BINARY_CONTROL_CMDS: &[CmdDef] = &[sync_cmd("Toggle", &[], &[])];
const IOT_LEVEL_CONTROL: &[PDecl] = &[
    p("Type", STR64),
    p("Description", STR256),
    p("Value", Ty::Decimal).w().def("0"),
    p("Unit", STR16),
    p("MinValue", Ty::Decimal).def("0"),
    p("MaxValue", Ty::Decimal).def("100"),
    p("StepValue", Ty::Decimal).def("10"),
];
const IOT_LEVEL_CONTROL_CMDS: &[CmdDef] = &[sync_cmd("StepUp", &[], &[]), sync_cmd("StepDown", &[], &[])];
const IOT_BINARY_SENSOR: &[PDecl] =
    &[p("Type", STR64), p("Value", BOOL).def("false"), p("LastChange", Ty::DateTime).def("0001-01-01T00:00:00Z")];
const IOT_LEVEL_SENSOR: &[PDecl] = &[
    p("Type", STR64),
    p("Value", Ty::Decimal).def("0"),
    p("Unit", STR16),
    p("LastChange", Ty::DateTime).def("0001-01-01T00:00:00Z"),
];

// ----------------------------------------------------------------------------------------
// Diagnostics

// The commands of `Device.IP.Diagnostics.` are in `history.rs` with the speed tests.
use history::IP_DIAGNOSTICS_CMDS;

// ----------------------------------------------------------------------------------------
// The object table

use Feature::{Core, Diagnostics, Hosts, Iot, LegacySchedules, Mesh, Schedules, Wifi};
use TableAccess::{AddDelete, ReadOnly};

const ALIAS_KEY: &[&str] = &["Alias"];

/// Every object any simulated agent may support, parents before children.
/// Tables: `table(path, feature, access, unique key sets, params)`; `.max_rows(n)` bounds them.
#[rustfmt::skip]
pub const OBJECTS: &[ODecl] = &[
    obj("Device.", Core, &[]).cmds(DEVICE_CMDS).events(DEVICE_EVENTS),
    obj("Device.DeviceInfo.", Core, DEVICE_INFO),
    obj("Device.Time.", Core, TIME),
    // Local agent
    obj("Device.LocalAgent.", Core, LOCAL_AGENT).events(history::LOCAL_AGENT_EVENTS),
    table("Device.LocalAgent.MTP.{i}.", Core, AddDelete, &[ALIAS_KEY], LA_MTP).max_rows(8),
    obj("Device.LocalAgent.MTP.{i}.WebSocket.", Core, LA_MTP_WS),
    table("Device.LocalAgent.Controller.{i}.", Core, AddDelete, &[ALIAS_KEY, &["EndpointID"]], CONTROLLER)
        .cmds(CONTROLLER_CMDS).max_rows(32),
    obj("Device.LocalAgent.Controller.{i}.E2ESession.", Core, E2E_SESSION),
    table("Device.LocalAgent.Subscription.{i}.", Core, AddDelete, &[ALIAS_KEY, &["Recipient", "ID"]], SUBSCRIPTION)
        .max_rows(256),
    table("Device.LocalAgent.Request.{i}.", Core, ReadOnly, &[ALIAS_KEY], REQUEST).cmds(REQUEST_CMDS).max_rows(64),
    obj("Device.LocalAgent.ControllerTrust.", Core, CONTROLLER_TRUST).cmds(CONTROLLER_TRUST_CMDS),
    table("Device.LocalAgent.ControllerTrust.Role.{i}.", Core, AddDelete, &[ALIAS_KEY, &["Name"]], ROLE).max_rows(16),
    table("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.", Core, AddDelete, &[ALIAS_KEY, &["Order"]], PERMISSION)
        .max_rows(32),
    table("Device.LocalAgent.ControllerTrust.Challenge.{i}.", Core, AddDelete, &[ALIAS_KEY], CHALLENGE).max_rows(8),
    // Wi-Fi
    obj("Device.WiFi.", Wifi, &[]),
    table("Device.WiFi.Radio.{i}.", Wifi, ReadOnly, &[ALIAS_KEY, &["Name"]], WIFI_RADIO).max_rows(4),
    table("Device.WiFi.SSID.{i}.", Wifi, AddDelete, &[ALIAS_KEY, &["Name"]], WIFI_SSID).max_rows(16),
    table("Device.WiFi.AccessPoint.{i}.", Wifi, AddDelete, &[ALIAS_KEY, &["SSIDReference"]], WIFI_AP).max_rows(16),
    obj("Device.WiFi.AccessPoint.{i}.Security.", Wifi, WIFI_AP_SECURITY),
    table("Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.", Wifi, ReadOnly, &[&["MACAddress"]], WIFI_ASSOC)
        .max_rows(128),
    // EasyMesh Data Elements (on the gateway, the mesh controller)
    obj("Device.WiFi.DataElements.", Mesh, &[]),
    obj("Device.WiFi.DataElements.Network.", Mesh, DE_NETWORK),
    table("Device.WiFi.DataElements.Network.SSID.{i}.", Mesh, ReadOnly, &[&["SSID"]], DE_SSID).max_rows(16),
    table("Device.WiFi.DataElements.Network.Device.{i}.", Mesh, ReadOnly, &[&["ID"]], DE_DEVICE).max_rows(16),
    table("Device.WiFi.DataElements.Network.Device.{i}.Radio.{i}.", Mesh, ReadOnly, &[&["ID"]], DE_RADIO).max_rows(4),
    table("Device.WiFi.DataElements.Network.Device.{i}.Radio.{i}.BSS.{i}.", Mesh, ReadOnly, &[&["BSSID"]], DE_BSS)
        .max_rows(8),
    table("Device.WiFi.DataElements.Network.Device.{i}.Radio.{i}.BSS.{i}.STA.{i}.", Mesh, ReadOnly, &[&["MACAddress"]], DE_STA)
        .max_rows(128),
    // Hosts
    obj("Device.Hosts.", Hosts, &[]),
    table("Device.Hosts.Host.{i}.", Hosts, ReadOnly, &[ALIAS_KEY, &["PhysAddress"]], HOST).max_rows(256),
    obj("Device.Hosts.Host.{i}.WANStats.", Hosts, HOST_WANSTATS),
    table("Device.Hosts.AccessControl.{i}.", Hosts, AddDelete, &[ALIAS_KEY, &["PhysAddress"]], ACCESS_CONTROL)
        .max_rows(128),
    table("Device.Hosts.AccessControl.{i}.Schedule.{i}.", LegacySchedules, AddDelete, &[ALIAS_KEY], ACCESS_CONTROL_SCHEDULE)
        .max_rows(16),
    // Schedules (TR-181 2.18)
    obj("Device.Schedules.", Schedules, SCHEDULES),
    table("Device.Schedules.Schedule.{i}.", Schedules, AddDelete, &[ALIAS_KEY], SCHEDULE).max_rows(64),
    // Smart home: each capability row has exactly one of the optional sub-objects.
    table("Device.IoTCapability.{i}.", Iot, ReadOnly, &[&["Name"]], IOT_CAP).max_rows(64),
    obj("Device.IoTCapability.{i}.BinaryControl.", Iot, IOT_BINARY_CONTROL).cmds(IOT_BINARY_CONTROL_CMDS).optional(),
    obj("Device.IoTCapability.{i}.LevelControl.", Iot, IOT_LEVEL_CONTROL).cmds(IOT_LEVEL_CONTROL_CMDS).optional(),
    obj("Device.IoTCapability.{i}.BinarySensor.", Iot, IOT_BINARY_SENSOR).optional(),
    obj("Device.IoTCapability.{i}.LevelSensor.", Iot, IOT_LEVEL_SENSOR).optional(),
    // Diagnostics
    obj("Device.IP.", Diagnostics, &[]),
    obj("Device.IP.Diagnostics.", Diagnostics, &[]).cmds(IP_DIAGNOSTICS_CMDS),
];
