//! The Home page: every agent of the home as a card (what the app may do on it, its kind), and the
//! commands about one agent (trust, forget, add by address, check again).

use serde::{Deserialize, Serialize};

/// What the app may do on an agent (mirrors `app_core::pairing::AuthState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", try_from = "crate::tagged::AgentAuthWire")]
pub enum AgentAuth {
    /// Connecting or probing.
    Connecting,
    /// Not reachable now; `message` says why in words.
    Offline { message: String },
    /// First `wss://` contact: the user is asked to trust this certificate fingerprint.
    FirstUse { fingerprint: String },
    /// The pinned certificate changed since the last visit: the app does not connect and keeps
    /// checking in the background (the genuine device comes back by itself). The way out for a
    /// device that really was replaced or reset is "Forget and pair again", never one click.
    CertificateChanged {
        /// Fingerprint of the certificate presented now.
        fingerprint: String,
        /// Fingerprint of the certificate trusted at pairing (the pinned one), when known.
        #[serde(default)]
        pinned: Option<String>,
    },
    /// The certificate belongs to another device than the one advertised.
    WrongDevice,
    /// The agent ignores this controller: its Endpoint ID must be added on the device first.
    /// The app asks again by itself ([`AgentAuth::NotAuthorised::next_check_secs`]) and turns the
    /// card into the paired state once the device answers.
    NotAuthorised {
        our_endpoint_id: String,
        /// Seconds until the app asks the device again; `None` while it is asking now.
        #[serde(default)]
        next_check_secs: Option<u64>,
    },
    /// Connected with a limited role (e.g. Untrusted): pairing with the passcode raises it.
    Untrusted { role: Option<String> },
    /// Paired: connected with a role that lets the user manage things.
    Paired { role: Option<String> },
}

/// What kind of box an agent is (from mDNS subtypes, ProductClass and its data model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Gateway,
    Extender,
    Hub,
    Other,
}

/// One agent of the home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    /// Endpoint ID: the key every other command uses.
    pub agent: String,
    /// FriendlyName (or the mDNS `name`, or the Endpoint ID).
    pub name: String,
    pub kind: AgentKind,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// Seconds since the agent booted, as last read.
    pub uptime_secs: Option<u64>,
    /// `ws://` or `wss://` URL in use.
    pub url: String,
    pub auth: AgentAuth,
    /// Whether the app keeps this agent (paired or trusted) rather than only having discovered it.
    pub remembered: bool,
    /// The link is encrypted (`wss://`).
    #[serde(default)]
    pub encrypted: bool,
    /// The device proved who it is: connected over `wss://` with the certificate the person
    /// trusted. Over `ws://` a device is never verified.
    #[serde(default)]
    pub verified: bool,
    /// The device is on this computer (loopback address): nothing crosses the network.
    #[serde(default)]
    pub local: bool,
    /// The person agreed to send passcodes and passwords to it unencrypted
    /// ([`AgentConsent`]); only meaningful when neither `encrypted` nor `local`.
    #[serde(default)]
    pub allow_unencrypted: bool,
    /// What carries the connection, in words ("WebSocket", "MQTT through 192.168.1.1:1883");
    /// empty while not connected.
    #[serde(default)]
    pub transport: String,
    /// Messages are protected end to end (a USP session context), whatever sits between.
    #[serde(default)]
    pub end_to_end: bool,
}

/// An advert or address that claimed to be a device the app knows as encrypted, but offered a
/// plain `ws://` link (or another certificate at a new address). Nothing was sent to it; it is
/// shown apart from the device's own card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impersonation {
    /// The Endpoint ID it claimed.
    pub agent: String,
    /// The name of the genuine device (as the app knows it).
    pub name: String,
    /// Where the impostor said it was (`ws://10.0.0.9:8080/usp`).
    pub address: String,
    /// What happened, in words ("Someone on your network is pretending to be …").
    pub message: String,
}

/// The Home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeView {
    pub agents: Vec<AgentSummary>,
    /// Discovery is running (on the interfaces of [`Settings::interfaces`](crate::pages::settings::Settings::interfaces)).
    pub discovering: bool,
    /// Adverts or addresses that pretended to be a known encrypted device (refused).
    #[serde(default)]
    pub impersonations: Vec<Impersonation>,
    /// Set when more than one device says it is the gateway: which one to trust is for the
    /// person to check (the message names them).
    #[serde(default)]
    pub gateway_conflict: Option<String>,
    /// This app's Endpoint ID, for cards of devices that don't know it yet.
    #[serde(default)]
    pub our_endpoint_id: String,
    /// The same as an SVG QR code.
    #[serde(default)]
    pub our_endpoint_id_qr_svg: String,
}

/// Allow (or stop allowing) passcodes and passwords to go to one device over an unencrypted
/// link. Only the app's own window can call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConsent {
    pub agent: String,
    pub allow: bool,
}

/// Arguments naming one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentArgs {
    pub agent: String,
}

/// Add a device by its address, for when discovery does not find it (multicast blocked, another
/// subnet, a phone without multicast access).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentAddress {
    /// As typed: `192.168.1.1:8080/usp`, `ws://…` or `wss://…` (no scheme means `ws://`), or a
    /// message broker's address with the device's topic or destination (`mqtt://…`,
    /// `mqtts://…`, `mqtt+ws://…`, `mqtt+wss://…`, `stomp://…`, `stomps://…`), or `coap://…`.
    pub address: String,
    /// The device's USP Endpoint ID, when the user has it (needed for `wss://` devices the
    /// app has not met: their certificate is checked against it, and for devices behind a
    /// broker).
    pub endpoint_id: Option<String>,
    /// The user name and password at the broker, for broker addresses that need them. Kept in
    /// the vault, never shown again.
    #[serde(default)]
    pub broker_login: Option<BrokerLogin>,
}

/// A user name and password at a message broker. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BrokerLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerLogin").field("username", &self.username).field("password", &"<hidden>").finish()
    }
}

/// Accept (or re-accept after a change) the certificate the agent shows now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustArgs {
    pub agent: String,
    /// The fingerprint the user saw; refused if the agent now shows another one.
    pub fingerprint: String,
}
