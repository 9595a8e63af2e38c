//! The agents of the home: discovery (and agents given by address or remembered), one
//! connection task per agent that keeps it connected and knows what it lets us do, and the
//! Home page's use-cases (the list, trusting a certificate, forgetting a device).
//!
//! Whom the app trusts: an agent once reached over `wss://` with its pinned certificate (or
//! that has a pin) is *secure* (`KnownAgent::secure` in home.json): from then on it is reached
//! only over `wss://` with that pin. A plain `ws://` advert or address for it is refused, nothing
//! is sent there, and it is shown apart as an impersonation; a new `wss://` address is tried
//! with the pin and saved only once that works. A changed certificate or a wrong device is
//! never re-trusted with one click ("Forget and pair again"); the connection is checked again
//! in the background (30 s growing to 10 min), so the genuine device comes back by itself.
//! Adverts never make a device "the gateway": only its own ProductClass does.

mod broker;
mod by_address;
mod connection;
mod discovery;
mod e2e;
mod page;
mod state;

pub(crate) use state::read_objects;
pub(crate) use state::{auth_of, read_facts, role_label};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ipc_types::{AgentAuth, AgentKind, Topic};
use tokio::task::JoinHandle;
use usp_client::discovery::Mtp;
use usp_client::tls::Fingerprint;

use crate::home::{is_loopback_url, is_wss, AppResult, Home, KnownAgent};
use crate::pairing::RoleSummary;

/// What the device says about itself (`Device.DeviceInfo.`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeviceFacts {
    pub friendly_name: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub uptime_secs: Option<u64>,
    pub product_class: Option<String>,
}

/// One agent of the home, as the connection task keeps it.
pub(crate) struct AgentEntry {
    pub eid: String,
    pub url: String,
    /// TXT `name` from mDNS.
    pub mdns_name: Option<String>,
    /// Name remembered in the store (last FriendlyName).
    pub stored_name: Option<String>,
    /// DNS-SD subtypes (`_gateway`...).
    pub subtypes: Vec<String>,
    pub facts: DeviceFacts,
    pub auth: AgentAuth,
    /// Our role when paired.
    pub role: Option<RoleSummary>,
    /// The connection (set while the connection task runs).
    pub client: Option<usp_client::Client>,
    /// True while the client is connected.
    pub connected: bool,
    /// The certificate the agent presented and that waits for the user's decision.
    pub presented: Option<Fingerprint>,
    /// Announced over mDNS right now.
    pub announced: bool,
    /// The connection task.
    pub task: Option<JoinHandle<()>>,
    /// The live-notification task of the current client.
    pub live: Option<JoinHandle<()>>,
    /// Known to use `wss://` with a pinned certificate: never reached over anything else.
    pub secure: bool,
    /// The person agreed to send secrets to it over an unencrypted link.
    pub allow_unencrypted: bool,
    /// Came from an mDNS advert (counts against [`MAX_DISCOVERED`]).
    pub discovered: bool,
    /// When the app asks a device that does not let it in yet again (`None`: not planned, or
    /// asking now).
    pub next_check: Option<tokio::time::Instant>,
    /// How many times it was asked again since it last changed its answer.
    pub checks: u32,
    /// Wakes the connection task to ask again now ("Check now").
    pub check_now: Arc<tokio::sync::Notify>,
    /// The objects right under `Device.` that the device offers (`WiFi`, `Hosts`...), read once
    /// paired; `None` when unknown (every page then simply tries).
    pub objects: Option<BTreeSet<String>>,
    /// Other addresses it announces over other MTPs (MQTT or STOMP through a broker, CoAP),
    /// tried after `url` when that fails; never used for a secure agent.
    pub alternates: BTreeMap<Mtp, String>,
    /// It connects to usp-home (it dialled the listener): waited for, never dialled.
    pub dialled: bool,
    /// SHA-256 of the broker certificate pinned for it when it was added (TLS to a broker
    /// whose certificate no authority vouches for), shown on its card.
    pub broker_cert: Option<Fingerprint>,
    /// Across a broker it did not take USP's end-to-end session context (refused or ignored
    /// it): not asked again while the app runs (the reference agent as shipped drops its broker
    /// connection after refusing one).
    pub e2e_refused: bool,
    /// Its `MaxUSPRecordSize` for us, once read (shared with the session-context layer of its
    /// connections).
    pub e2e_record_size: usp_client::mtp::e2e::AgentRecordSize,
    /// The certificate it signs its session-context Records with, learnt from its first signed
    /// Record while the app runs: required from then on (a broker cannot strip signatures).
    pub e2e_peer_cert: Option<bytes::Bytes>,
    /// The Record integrity settings of its current connection (they learn that certificate).
    pub e2e_integrity: Option<usp_client::mtp::e2e::E2eIntegrity>,
}

impl AgentEntry {
    /// Ends the connection and live tasks and hands back the client, for the caller to close.
    pub(crate) fn disconnect(&mut self) -> Option<usp_client::Client> {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(t) = self.live.take() {
            t.abort();
        }
        self.connected = false;
        self.client.take()
    }

    fn new(eid: &str, url: &str) -> AgentEntry {
        AgentEntry {
            eid: eid.to_owned(),
            url: url.to_owned(),
            mdns_name: None,
            stored_name: None,
            subtypes: Vec::new(),
            facts: DeviceFacts::default(),
            auth: AgentAuth::Connecting,
            role: None,
            client: None,
            connected: false,
            presented: None,
            announced: false,
            task: None,
            live: None,
            secure: false,
            allow_unencrypted: false,
            discovered: false,
            next_check: None,
            checks: 0,
            check_now: Arc::new(tokio::sync::Notify::new()),
            objects: None,
            alternates: BTreeMap::new(),
            dialled: false,
            broker_cert: None,
            e2e_refused: false,
            e2e_record_size: usp_client::mtp::e2e::AgentRecordSize::new(),
            e2e_peer_cert: None,
            e2e_integrity: None,
        }
    }

    /// Secrets may go to it: the link is encrypted, stays on this computer, or the person
    /// agreed.
    pub fn secrets_allowed(&self) -> bool {
        is_wss(&self.url) || is_loopback_url(&self.url) || self.allow_unencrypted
    }

    /// Connected over `wss://` with the certificate the person trusted.
    pub fn verified(&self) -> bool {
        self.connected
            && is_wss(&self.url)
            && !matches!(self.auth, AgentAuth::FirstUse { .. } | AgentAuth::CertificateChanged { .. })
    }

    /// The advert says "gateway" or "router" (a hint only: anyone can advertise anything).
    pub fn advert_says_gateway(&self) -> bool {
        self.subtypes.iter().any(|s| {
            let s = s.to_ascii_lowercase();
            s.contains("gateway") || s.contains("router")
        })
    }

    /// Says it is the gateway, in its own data or in its advert.
    pub fn claims_gateway(&self) -> bool {
        self.kind() == AgentKind::Gateway || self.advert_says_gateway()
    }

    /// Order in lists: the gateway (by its own data) first, paired devices before others, an
    /// advert's gateway hint after every device whose data says Gateway, then by name.
    pub fn sort_key(&self) -> (u8, u8, u8, String, String) {
        let hint = u8::from(!(self.kind() == AgentKind::Other && self.advert_says_gateway()));
        (kind_rank(self.kind()), u8::from(!self.is_paired()), hint, self.name().to_lowercase(), self.eid.clone())
    }

    /// FriendlyName, else the mDNS name, else the remembered name, else the Endpoint ID.
    pub fn name(&self) -> String {
        self.facts
            .friendly_name
            .clone()
            .or_else(|| self.mdns_name.clone())
            .or_else(|| self.stored_name.clone())
            .unwrap_or_else(|| self.eid.clone())
    }

    /// Gateway, extender, hub: from the ProductClass the device itself reports. Before that is
    /// read, the mDNS subtype may say extender or hub, but never gateway: an advert alone does
    /// not make a device "the router" (anyone on the network can advertise anything).
    pub fn kind(&self) -> AgentKind {
        if let Some(class) = self.facts.product_class.as_deref() {
            let class = class.to_ascii_lowercase();
            if class.contains("gateway") || class.contains("router") || class.contains("modem") {
                return AgentKind::Gateway;
            } else if class.contains("extender") || class.contains("repeater") || class.contains("mesh") {
                return AgentKind::Extender;
            } else if class.contains("hub") || class.contains("iot") || class.contains("bridge") {
                return AgentKind::Hub;
            }
        }
        for s in &self.subtypes {
            let s = s.trim_start_matches('_').to_ascii_lowercase();
            if s.contains("extender") || s.contains("repeater") || s.contains("mesh") {
                return AgentKind::Extender;
            }
            if s.contains("iot") || s.contains("hub") {
                return AgentKind::Hub;
            }
        }
        AgentKind::Other
    }

    /// Connected with a role beyond Untrusted.
    pub fn is_paired(&self) -> bool {
        self.connected && matches!(self.auth, AgentAuth::Paired { .. })
    }
}

/// Stable order of agents: gateway first, then extenders, hubs, others; by name within.
pub(crate) fn kind_rank(kind: AgentKind) -> u8 {
    match kind {
        AgentKind::Gateway => 0,
        AgentKind::Extender => 1,
        AgentKind::Hub => 2,
        AgentKind::Other => 3,
    }
}

/// A connected agent as the feature use-cases see it.
#[derive(Clone)]
pub(crate) struct AgentConn {
    /// Endpoint ID.
    pub eid: String,
    /// Display name (FriendlyName, mDNS name, or the Endpoint ID).
    pub name: String,
    /// The connection.
    pub client: usp_client::Client,
    /// Secrets (passcodes, passwords, secured parameters) may be sent over it.
    pub secrets_ok: bool,
}

impl Home {
    /// Adds an agent (or updates a known one with `f`) and starts its connection task.
    pub(crate) fn add_agent(&self, eid: &str, url: &str, f: impl FnOnce(&mut AgentEntry)) {
        let start = self.with_agents(|m| {
            let e = m.entry(eid.to_owned()).or_insert_with(|| AgentEntry::new(eid, url));
            f(e);
            e.task.is_none()
        });
        if start {
            self.spawn_connection(eid);
        }
        self.changed(&[Topic::Home]);
    }

    /// The address saved for `eid` (the last one that worked), if it is remembered.
    pub(crate) fn saved_url(&self, eid: &str) -> Option<String> {
        self.store().read(|d| d.agents.iter().find(|k| k.agent == eid).map(|k| k.url.clone()))
    }

    /// Keeps `eid` in the settings file (paired or trusted agents).
    pub(crate) fn remember(&self, eid: &str) -> AppResult<()> {
        let Some((url, name, secure, allow, dialled)) =
            self.with_agent(eid, |e| (e.url.clone(), e.name(), e.secure, e.allow_unencrypted, e.dialled))
        else {
            return Ok(());
        };
        self.store().update(|d| match d.agents.iter_mut().find(|k| k.agent == eid) {
            Some(k) => {
                if !k.secure || is_wss(&url) {
                    k.url = url;
                }
                k.name = name;
                k.secure |= secure;
                k.allow_unencrypted = allow;
                k.dialled = dialled;
            }
            None => d.agents.push(KnownAgent {
                agent: eid.to_owned(),
                url,
                name,
                secure,
                allow_unencrypted: allow,
                dialled,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usp_client::discovery::Interfaces;

    #[test]
    fn kinds_come_from_the_devices_own_data_and_adverts_never_make_a_gateway() {
        let mut e = AgentEntry::new("os::012345-X", "ws://127.0.0.1:1/usp");
        assert_eq!(e.kind(), AgentKind::Other);
        e.subtypes = vec!["_gateway".into()];
        assert_eq!(e.kind(), AgentKind::Other, "an advert alone never makes the gateway");
        assert!(e.advert_says_gateway() && e.claims_gateway());
        e.subtypes = vec!["_mesh-extender".into()];
        assert_eq!(e.kind(), AgentKind::Extender, "a hint before the device's data is read");
        e.facts.product_class = Some("SmartHomeHub".into());
        assert_eq!(e.kind(), AgentKind::Hub, "the device's data wins over its advert");
        e.facts.product_class = Some("InternetGatewayDevice".into());
        assert_eq!(e.kind(), AgentKind::Gateway);
        assert_eq!(e.name(), "os::012345-X");
        e.mdns_name = Some("Upstairs".into());
        assert_eq!(e.name(), "Upstairs");
        assert_eq!(crate::home::interfaces_text(&Interfaces::Named(vec!["eth0".into(), "wlan0".into()])), "eth0,wlan0");
    }

    #[test]
    fn a_rogue_gateway_advert_sorts_after_the_gateway_by_data() {
        let mut real = AgentEntry::new("os::000001-GW", "wss://10.0.0.1:443/usp");
        real.facts.product_class = Some("Gateway".into());
        real.facts.friendly_name = Some("Zz router".into());
        let mut rogue = AgentEntry::new("os::000002-RG", "ws://10.0.0.66:80/usp");
        rogue.subtypes = vec!["_gateway".into()];
        rogue.mdns_name = Some("AAA Living room gateway".into());
        let mut plug = AgentEntry::new("os::000003-PL", "ws://10.0.0.5:80/usp");
        plug.mdns_name = Some("Aaa plug".into());
        let mut all = [&plug, &rogue, &real];
        all.sort_by_key(|e| e.sort_key());
        assert_eq!(all.map(|e| e.eid.as_str()), ["os::000001-GW", "os::000002-RG", "os::000003-PL"]);
    }
}
