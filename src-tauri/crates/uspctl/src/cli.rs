//! The command line: global options and subcommands (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use usp_client::NotifKind;

#[derive(Parser, Debug)]
#[command(name = "uspctl", version, about = "Talk to USP (TR-369) agents from the command line")]
pub(crate) struct Cli {
    /// The agent's address: its WebSocket URL (ws://127.0.0.1:8080/usp, wss://…); its broker and
    /// topic, mqtt://127.0.0.1:1883/usp/agent/gw?agent-id=os::012345-GW0001 (mqtts://, mqtt+ws://,
    /// mqtt+wss:// alike; mqtts:// trusts the certificates in the PEM file USPCTL_BROKER_CA); its
    /// broker and destination, stomp://[USER@]BROKER[:PORT]/DESTINATION?agent-id=EID; or a legacy
    /// CoAP agent, coap://192.168.1.1:5683/usp (with --agent-eid). A broker password comes from
    /// USPCTL_BROKER_PASSWORD (or a prompt), never from a flag
    #[arg(long, env = "USPCTL_AGENT", global = true)]
    pub(crate) agent: Option<String>,
    /// The agent's Endpoint ID, when it is known in advance (otherwise learnt on connect;
    /// required over coap://)
    #[arg(long, global = true)]
    pub(crate) agent_eid: Option<String>,
    /// Use this Endpoint ID instead of this installation's (for agents with a
    /// pre-provisioned controller entry)
    #[arg(long, env = "USPCTL_EID", global = true)]
    pub(crate) eid: Option<String>,
    /// Print results as JSON
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Seconds to wait for the connection and for each answer
    #[arg(long, global = true, default_value_t = 10.0)]
    pub(crate) timeout: f64,
    /// Network interfaces used for mDNS discovery: `all` (every LAN interface), `lo`
    /// (loopback only), or a comma-separated list of interface names
    #[arg(long, env = "USPCTL_MDNS_INTERFACES", global = true, default_value = "all")]
    pub(crate) interfaces: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
pub(crate) enum TrustAction {
    /// List the trusted agents and their certificate fingerprints
    List,
    /// Forget the certificate trusted for an agent (after a reset or replacement)
    Forget {
        /// The agent's Endpoint ID
        eid: String,
    },
}
