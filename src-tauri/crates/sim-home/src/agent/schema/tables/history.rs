//! The declared data model of the home over time (issue 14): traffic counters of the IP
//! interfaces, BulkData profiles pushed as USP events, the TR-143 speed tests next to
//! IPPing(), and firmware images with Download() / Activate().

use super::super::{CmdDef, EventDef, Feature, TableAccess, Ty};
use super::{async_cmd, obj, opt, p, req, table, ODecl, PDecl, ALIAS, ALIAS_KEY, BOOL, IF_STATUS, STR256, STR64, UINT};

// ----------------------------------------------------------------------------------------
// IP interfaces and their counters

const IP_INTERFACE: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("true"),
    p("Status", Ty::Enum(IF_STATUS)).def("Up"),
    p("Name", STR64),
    p("LowerLayers", Ty::List(1024)),
    p("Type", Ty::Enum(&["Normal", "Loopback", "Tunnel", "Tunneled"])).def("Normal"),
];
const IP_INTERFACE_STATS: &[PDecl] = &[
    p("BytesSent", Ty::ULong).volatile().def("0"),
    p("BytesReceived", Ty::ULong).volatile().def("0"),
    p("PacketsSent", Ty::ULong).volatile().def("0"),
    p("PacketsReceived", Ty::ULong).volatile().def("0"),
];

// ----------------------------------------------------------------------------------------
// Diagnostics (TR-143 next to IPPing)

const DOWNLOAD_OUT: &[&str] = &[
    "Status",
    "IPAddressUsed",
    "ROMTime",
    "BOMTime",
    "EOMTime",
    "TCPOpenRequestTime",
    "TCPOpenResponseTime",
    "TestBytesReceived",
    "TotalBytesReceived",
    "TotalBytesSent",
    "TestBytesReceivedUnderFullLoading",
    "TotalBytesReceivedUnderFullLoading",
    "TotalBytesSentUnderFullLoading",
    "PeriodOfFullLoading",
    "PerConnectionResult.",
];
const UPLOAD_OUT: &[&str] = &[
    "Status",
    "IPAddressUsed",
    "ROMTime",
    "BOMTime",
    "EOMTime",
    "TCPOpenRequestTime",
    "TCPOpenResponseTime",
    "TestBytesSent",
    "TotalBytesReceived",
    "TotalBytesSent",
    "TestBytesSentUnderFullLoading",
    "TotalBytesReceivedUnderFullLoading",
    "TotalBytesSentUnderFullLoading",
    "PeriodOfFullLoading",
    "PerConnectionResult.",
];

/// `Device.IP.Diagnostics.` commands.
pub(in super::super) const IP_DIAGNOSTICS_CMDS: &[CmdDef] = &[
    async_cmd(
        "IPPing",
        &[
            opt("Interface"),
            opt("ProtocolVersion"),
            req("Host"),
            opt("NumberOfRepetitions"),
            opt("Timeout"),
            opt("DataBlockSize"),
            opt("DSCP"),
        ],
        &[
            "Status",
            "IPAddressUsed",
            "SuccessCount",
            "FailureCount",
            "AverageResponseTime",
            "MinimumResponseTime",
            "MaximumResponseTime",
            "AverageResponseTimeDetailed",
            "MinimumResponseTimeDetailed",
            "MaximumResponseTimeDetailed",
        ],
    ),
    async_cmd(
        "DownloadDiagnostics",
        &[
            opt("Interface"),
            req("DownloadURL"),
            opt("DSCP"),
            opt("EthernetPriority"),
            opt("TimeBasedTestDuration"),
            opt("ProtocolVersion"),
            opt("NumberOfConnections"),
            opt("EnablePerConnectionResults"),
        ],
        DOWNLOAD_OUT,
    ),
    async_cmd(
        "UploadDiagnostics",
        &[
            opt("Interface"),
            req("UploadURL"),
            opt("DSCP"),
            opt("EthernetPriority"),
            opt("TestFileLength"),
            opt("TimeBasedTestDuration"),
            opt("ProtocolVersion"),
            opt("NumberOfConnections"),
            opt("EnablePerConnectionResults"),
        ],
        UPLOAD_OUT,
    ),
    async_cmd(
        "ServerSelectionDiagnostics",
        &[
            opt("Interface"),
            opt("ProtocolVersion"),
            opt("Protocol"),
            req("HostList"),
            opt("NumberOfRepetitions"),
            opt("Timeout"),
        ],
        &[
            "Status",
            "FastestHost",
            "MinimumResponseTime",
            "AverageResponseTime",
            "MaximumResponseTime",
            "IPAddressUsed",
        ],
    ),
];

// ----------------------------------------------------------------------------------------
// Firmware images

const FIRMWARE_STATUS: &[&str] = &[
    "NoImage",
    "Downloading",
    "Validating",
    "Available",
    "DownloadFailed",
    "ValidationFailed",
    "InstallationFailed",
    "ActivationFailed",
];
const FIRMWARE_IMAGE: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Name", STR64),
    p("Version", STR64),
    p("Available", BOOL).w().def("false"),
    p("Status", Ty::Enum(FIRMWARE_STATUS)).def("NoImage"),
    p("BootFailureLog", Ty::Str(0, 4096)),
];
const FIRMWARE_IMAGE_CMDS: &[CmdDef] = &[
    async_cmd(
        "Download",
        &[
            req("URL"),
            req("AutoActivate"),
            opt("Username"),
            opt("Password"),
            opt("FileSize"),
            opt("CheckSumAlgorithm"),
            opt("CheckSum"),
        ],
        &[],
    ),
    async_cmd("Activate", &[opt("TimeWindow")], &[]),
];

/// `Device.LocalAgent.` events.
pub(in super::super) const LOCAL_AGENT_EVENTS: &[EventDef] = &[EventDef {
    name: "TransferComplete",
    args: &[
        "Command",
        "CommandKey",
        "Requestor",
        "TransferType",
        "Affected",
        "TransferURL",
        "StartTime",
        "CompleteTime",
        "FaultCode",
        "FaultString",
    ],
}];

// ----------------------------------------------------------------------------------------
// BulkData (TR-181 `Device.BulkData.`, USP event protocol only)

const BULKDATA: &[PDecl] = &[
    p("Enable", BOOL).w().def("false"),
    p("Status", Ty::Enum(&["Enabled", "Disabled", "Error"])).def("Disabled"),
    p("MinReportingInterval", UINT).def("60"),
    p("Protocols", Ty::List(256)).def("USPEventNotif"),
    p("EncodingTypes", Ty::List(256)).def("JSON"),
    p("ParameterWildCardSupported", BOOL).def("true"),
    p("MaxNumberOfProfiles", Ty::Int(-1, 1024)).def("8"),
    p("MaxNumberOfParameterReferences", Ty::Int(-1, 1024)).def("64"),
];
const BULKDATA_PROFILE: &[PDecl] = &[
    p("Alias", ALIAS).w(),
    p("Enable", BOOL).w().def("false"),
    p("Name", STR256).w(),
    p("Protocol", Ty::Enum(&["USPEventNotif"])).w().def("USPEventNotif"),
    p("EncodingType", Ty::Enum(&["JSON"])).w().def("JSON"),
    p("ReportingInterval", Ty::UInt(1, u32::MAX as u64)).w().def("86400"),
    p("TimeReference", Ty::DateTime).w().def("0001-01-01T00:00:00Z"),
    p("Controller", STR256),
];
const BULKDATA_PROFILE_EVENTS: &[EventDef] = &[EventDef { name: "Push", args: &["Data"] }];
const BULKDATA_PARAMETER: &[PDecl] = &[p("Name", STR64).w(), p("Reference", Ty::Str(0, 256)).w()];
const BULKDATA_JSON: &[PDecl] = &[
    p("ReportFormat", Ty::Enum(&["NameValuePair", "ObjectHierarchy"])).w().def("NameValuePair"),
    p("ReportTimestamp", Ty::Enum(&["Unix-Epoch", "ISO-8601", "None"])).w().def("Unix-Epoch"),
];

use Feature::{BulkData, Firmware, IpInterfaces};
use TableAccess::{AddDelete, ReadOnly};

/// The objects of this file, parents before children (after [`super::OBJECTS`]).
#[rustfmt::skip]
pub const HISTORY_OBJECTS: &[ODecl] = &[
    table("Device.IP.Interface.{i}.", IpInterfaces, ReadOnly, &[ALIAS_KEY, &["Name"]], IP_INTERFACE).max_rows(8),
    obj("Device.IP.Interface.{i}.Stats.", IpInterfaces, IP_INTERFACE_STATS),
    table("Device.DeviceInfo.FirmwareImage.{i}.", Firmware, ReadOnly, &[ALIAS_KEY], FIRMWARE_IMAGE)
        .cmds(FIRMWARE_IMAGE_CMDS).max_rows(2),
    obj("Device.BulkData.", BulkData, BULKDATA),
    table("Device.BulkData.Profile.{i}.", BulkData, AddDelete, &[ALIAS_KEY], BULKDATA_PROFILE)
        .events(BULKDATA_PROFILE_EVENTS).max_rows(8),
    table("Device.BulkData.Profile.{i}.Parameter.{i}.", BulkData, AddDelete, &[], BULKDATA_PARAMETER).max_rows(64),
    obj("Device.BulkData.Profile.{i}.JSONEncoding.", BulkData, BULKDATA_JSON),
];
