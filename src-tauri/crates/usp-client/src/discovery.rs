//! mDNS / DNS-SD discovery of USP agents on the local network (TR-369 SPEC-DIS).
//!
//! Agents advertise `<EndpointID>._usp-agt-<mtp>._tcp.local.` with an SRV record (host,
//! port), A/AAAA records and TXT keys `path`, `name` and `encrypt` (boolean, no value).
//! [`Discovery`] browses the WebSocket, MQTT, STOMP and CoAP (`._udp`) agent services and turns what it
//! hears into [`DiscoveryEvent`]s; [`manual_agent`] is the "add by address" fallback.
//!
//! Which interfaces are used is explicit ([`Interfaces`]): the app uses
//! [`Interfaces::AllLan`], tests and demos [`Interfaces::Loopback`] or a namespace's veth.
//!
//! ```no_run
//! # async fn demo() -> Result<(), usp_client::discovery::DiscoveryError> {
//! use usp_client::discovery::{Discovery, DiscoveryEvent, Interfaces};
//! let mut discovery = Discovery::start(Interfaces::Loopback)?;
//! while let Some(event) = discovery.next_event().await {
//!     if let DiscoveryEvent::Appeared(agent) = event {
//!         println!("{} at {:?}", agent.endpoint_id, agent.url);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use mdns_sd::{IfKind, ResolvedService, ServiceDaemon, ServiceEvent};
use tokio::sync::mpsc;
use usp_core::eid::EndpointId;

/// DNS-SD service type of WebSocket agents.
pub const SERVICE_WS: &str = "_usp-agt-ws._tcp.local.";
/// DNS-SD service type of MQTT agents.
pub const SERVICE_MQTT: &str = "_usp-agt-mqtt._tcp.local.";
/// DNS-SD service type of STOMP agents.
pub const SERVICE_STOMP: &str = "_usp-agt-stomp._tcp.local.";
/// DNS-SD service type of agents reachable over CoAP.
pub const SERVICE_COAP: &str = "_usp-agt-coap._udp.local.";

/// Events waiting to be read at most (the reader is slower than a flood of adverts: the
/// browse then waits, it does not grow).
pub const EVENT_QUEUE: usize = 256;
/// Agent instances known at most; more are reported once as skipped (until some leave).
pub const MAX_KNOWN: usize = 512;
/// Skipped instance names remembered at most (to report each once).
const MAX_SKIPPED: usize = 512;
/// Longest TXT `path` accepted.
const MAX_PATH: usize = 256;

/// Which network interfaces an mDNS daemon may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interfaces {
    /// 127.0.0.1 and ::1 only (tests, demos).
    Loopback,
    /// Only these interfaces, by name (`eth0`, a test namespace's veth, …).
    Named(Vec<String>),
    /// Every interface mdns-sd picks by default (the app's setting; never in tests).
    AllLan,
}

impl Interfaces {
    /// Confines `daemon` to these interfaces: everything is disabled first, then only the
    /// chosen ones are enabled (nothing is changed for [`Interfaces::AllLan`]).
    ///
    /// # Errors
    /// When the daemon is gone.
    pub fn apply(&self, daemon: &ServiceDaemon) -> Result<(), mdns_sd::Error> {
        match self {
            Interfaces::AllLan => Ok(()),
            Interfaces::Loopback => {
                daemon.disable_interface(IfKind::All)?;
                daemon.enable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
            }
            Interfaces::Named(names) => {
                daemon.disable_interface(IfKind::All)?;
                if names.is_empty() {
                    return Ok(());
                }
                daemon.enable_interface(names.iter().map(|n| IfKind::Name(n.clone())).collect::<Vec<_>>())
            }
        }
    }

    /// A fresh daemon confined to these interfaces.
    ///
    /// # Errors
    /// When the daemon cannot start (no socket) or cannot be confined.
    pub fn daemon(&self) -> Result<ServiceDaemon, DiscoveryError> {
        let daemon = ServiceDaemon::new().map_err(DiscoveryError::Mdns)?;
        if let Err(e) = self.apply(&daemon) {
            let _ = daemon.shutdown();
            return Err(DiscoveryError::Mdns(e));
        }
        Ok(daemon)
    }
}

impl std::str::FromStr for Interfaces {
    type Err = DiscoveryError;

    /// `lo` / `loopback` → [`Interfaces::Loopback`], `all` → [`Interfaces::AllLan`],
    /// otherwise a comma-separated list of interface names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "lo" | "loopback" => Ok(Interfaces::Loopback),
            "all" => Ok(Interfaces::AllLan),
            list => {
                let names: Vec<String> =
                    list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect();
                if names.is_empty() || names.iter().any(|n| n.chars().any(char::is_whitespace)) {
                    return Err(DiscoveryError::BadInterfaces(s.to_owned()));
                }
                Ok(Interfaces::Named(names))
            }
        }
    }
}

pub use crate::mtp::Mtp;

impl Mtp {
    fn from_service_type(ty: &str) -> Option<Mtp> {
        [Mtp::Ws, Mtp::Mqtt, Mtp::Stomp, Mtp::Coap]
            .into_iter()
            .find(|m| m.service_type().is_some_and(|t| t.eq_ignore_ascii_case(ty)))
    }
}

/// An agent heard on the network (or added by address with [`manual_agent`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredAgent {
    /// The Endpoint ID: the DNS-SD instance name (R-DIS.8), or given by hand.
    pub endpoint_id: EndpointId,
    /// False only for a [`manual_agent`] added without an Endpoint ID: `endpoint_id` is
    /// then a placeholder (`self::manual-<host>-<port>`) to replace with the `from_id` of
    /// the agent's WebSocketConnect Record.
    pub endpoint_id_known: bool,
    /// TXT `name` (the agent's FriendlyName), when present and not empty.
    pub name: Option<String>,
    /// Which MTP the record is for.
    pub mtp: Mtp,
    /// The address to reach it: `ws(s)://` or `coap://` + its address:port + `path`; for MQTT and
    /// STOMP `mqtt(s)://` or `stomp(s)://` + the broker's address:port + the agent's topic or
    /// destination (`path`). `None` when no usable address was heard.
    pub url: Option<String>,
    /// TXT `encrypt` present: TLS is required to connect.
    pub encrypt: bool,
    /// TXT `path` (WebSocket resource path, MQTT reply-to topic, STOMP destination).
    pub path: Option<String>,
    /// DNS-SD subtypes heard for the instance, as labels (`_gateway`, `_iot-device`).
    pub subtypes: Vec<String>,
    /// The SRV host's addresses (sorted: IPv4 first).
    pub addresses: Vec<IpAddr>,
    /// SRV port.
    pub port: u16,
}

/// What the network says changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A new agent (instance) was resolved.
    Appeared(DiscoveredAgent),
    /// A known agent was resolved again with a different port, address, TXT or subtype.
    Updated(DiscoveredAgent),
    /// A known agent sent a goodbye or its records expired.
    Disappeared {
        /// Its Endpoint ID.
        endpoint_id: EndpointId,
        /// The MTP record that went away.
        mtp: Mtp,
    },
    /// An instance was resolved but cannot be used (its name is no Endpoint ID, …).
    /// Reported once per instance name.
    Skipped {
        /// The DNS-SD full name.
        instance: String,
        /// Why it was skipped.
        reason: String,
    },
}

/// Why discovery (or [`manual_agent`]) failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon failed (sockets, a stopped daemon).
    #[error("mDNS: {0}")]
    Mdns(#[source] mdns_sd::Error),
    /// [`Discovery::start`] was called outside a tokio runtime.
    #[error("discovery needs a tokio runtime")]
    NoRuntime,
    /// An interface setting that cannot be parsed.
    #[error("bad interface list {0:?}")]
    BadInterfaces(String),
    /// A manual address that is no usable `ws://` / `wss://` URL.
    #[error("bad agent URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

type Known = Arc<Mutex<BTreeMap<String, DiscoveredAgent>>>;

/// A running browse of the four USP agent service types.
///
/// Events arrive on [`Discovery::next_event`] (or the receiver from
/// [`Discovery::take_events`]); [`Discovery::snapshot`] is the current set. Dropping it
/// stops the daemon.
pub struct Discovery {
    daemon: ServiceDaemon,
    events: Option<mpsc::Receiver<DiscoveryEvent>>,
    known: Known,
    task: tokio::task::JoinHandle<()>,
    stopped: bool,
}

impl Discovery {
    /// Starts an mDNS daemon confined to `interfaces` and browses `_usp-agt-ws._tcp`,
    /// `_usp-agt-mqtt._tcp`, `_usp-agt-stomp._tcp` and `_usp-agt-coap._udp`. Must run inside
    /// a tokio runtime.
    ///
    /// # Errors
    /// [`DiscoveryError::NoRuntime`] outside tokio; [`DiscoveryError::Mdns`] when the
    /// daemon cannot start.
    pub fn start(interfaces: Interfaces) -> Result<Discovery, DiscoveryError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DiscoveryError::NoRuntime)?;
        let daemon = interfaces.daemon()?;
        let browse = |ty: &str| daemon.browse(ty).map_err(DiscoveryError::Mdns);
        let receivers = match (browse(SERVICE_WS), browse(SERVICE_MQTT), browse(SERVICE_STOMP), browse(SERVICE_COAP)) {
            (Ok(ws), Ok(mqtt), Ok(stomp), Ok(coap)) => [ws, mqtt, stomp, coap],
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
                let _ = daemon.shutdown();
                return Err(e);
            }
        };
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let known: Known = Arc::default();
        let scope = Scope::of(&interfaces);
        let task = runtime.spawn(run(receivers, tx, known.clone(), scope));
        Ok(Discovery { daemon, events: Some(rx), known, task, stopped: false })
    }

    /// The next event; `None` once stopped (or after [`Discovery::take_events`]).
    pub async fn next_event(&mut self) -> Option<DiscoveryEvent> {
        match &mut self.events {
            Some(rx) => rx.recv().await,
            None => None,
        }
    }

    /// Takes the event receiver (to move it into another task). Later calls return `None`.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<DiscoveryEvent>> {
        self.events.take()
    }

    /// Every agent currently known, ordered by Endpoint ID then MTP.
    pub fn snapshot(&self) -> Vec<DiscoveredAgent> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<DiscoveredAgent> = known.values().cloned().collect();
        all.sort_by(|a, b| (&a.endpoint_id, a.mtp).cmp(&(&b.endpoint_id, b.mtp)));
        all
    }

    /// Stops browsing and the daemon; the event stream then ends.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = self.daemon.shutdown();
            self.task.abort();
        }
    }
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").field("known", &self.snapshot().len()).field("stopped", &self.stopped).finish()
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Which addresses an advert may point at, given the interfaces browsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Browsing loopback: only loopback addresses.
    Loopback,
    /// Browsing a LAN: never loopback, unspecified, multicast or broadcast addresses (an
    /// advert must not make the app dial services of this computer).
    Lan,
}

impl Scope {
    fn of(interfaces: &Interfaces) -> Scope {
        match interfaces {
            Interfaces::Loopback => Scope::Loopback,
            Interfaces::Named(names) if names.iter().all(|n| n == "lo") && !names.is_empty() => Scope::Loopback,
            Interfaces::Named(_) | Interfaces::AllLan => Scope::Lan,
        }
    }

    fn allows(self, ip: &IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*ip, IpAddr::V4),
            IpAddr::V4(_) => *ip,
        };
        match self {
            Scope::Loopback => ip.is_loopback(),
            Scope::Lan => {
                !ip.is_loopback()
                    && !ip.is_unspecified()
                    && !ip.is_multicast()
                    && !matches!(ip, IpAddr::V4(v4) if v4.is_broadcast() || v4.octets()[0] == 0)
            }
        }
    }
}

/// A TXT `path` that is a plain URL path: at most [`MAX_PATH`] bytes of unreserved,
/// sub-delimiter, `:`, `@`, `/` and `%` characters (no query, fragment, space, backslash or
/// control character).
fn plain_path(path: &str) -> bool {
    path.len() <= MAX_PATH && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b))
}

async fn run(
    receivers: [mdns_sd::Receiver<ServiceEvent>; 4],
    tx: mpsc::Sender<DiscoveryEvent>,
    known: Known,
    scope: Scope,
) {
    let [ws, mqtt, stomp, coap] = receivers;
    let mut skipped = BTreeSet::new();
    loop {
        let event = tokio::select! {
            e = ws.recv_async() => e,
            e = mqtt.recv_async() => e,
            e = stomp.recv_async() => e,
            e = coap.recv_async() => e,
        };
        let Ok(event) = event else { break };
        for out in handle(event, &known, &mut skipped, scope) {
            if tx.send(out).await.is_err() {
                return;
            }
        }
    }
}

fn handle(event: ServiceEvent, known: &Known, skipped: &mut BTreeSet<String>, scope: Scope) -> Vec<DiscoveryEvent> {
    match event {
        ServiceEvent::ServiceResolved(service) => {
            let fullname = service.fullname.clone();
            let agent = agent_from_service(&service, scope).and_then(|agent| {
                let known = known.lock().unwrap_or_else(PoisonError::into_inner);
                if known.len() >= MAX_KNOWN && !known.contains_key(&fullname) {
                    Err(format!("more than {MAX_KNOWN} agents announced"))
                } else {
                    Ok(agent)
                }
            });
            match agent {
                Ok(agent) => {
                    skipped.remove(&fullname);
                    let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
                    match known.insert(fullname, agent.clone()) {
                        None => vec![DiscoveryEvent::Appeared(agent)],
                        Some(old) if old != agent => vec![DiscoveryEvent::Updated(agent)],
                        Some(_) => Vec::new(),
                    }
                }
                Err(reason) => {
                    if skipped.len() < MAX_SKIPPED && skipped.insert(fullname.clone()) {
                        tracing::debug!(instance = %fullname, %reason, "mDNS instance skipped");
                        vec![DiscoveryEvent::Skipped { instance: fullname, reason }]
                    } else {
                        Vec::new()
                    }
                }
            }
        }
        ServiceEvent::ServiceRemoved(_, fullname) => {
            skipped.remove(&fullname);
            let gone = known.lock().unwrap_or_else(PoisonError::into_inner).remove(&fullname);
            gone.map(|a| DiscoveryEvent::Disappeared { endpoint_id: a.endpoint_id, mtp: a.mtp }).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// The instance label of `fullname` (`<instance>.<ty_domain>`), DNS escapes removed.
fn instance_name(fullname: &str, ty_domain: &str) -> Option<String> {
    let cut = fullname.len().checked_sub(ty_domain.len())?;
    let (instance, ty) = (fullname.get(..cut)?, fullname.get(cut..)?);
    if !ty.eq_ignore_ascii_case(ty_domain) {
        return None;
    }
    let instance = instance.strip_suffix('.')?;
    let mut out = String::with_capacity(instance.len());
    let mut chars = instance.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn agent_from_service(service: &ResolvedService, scope: Scope) -> Result<DiscoveredAgent, String> {
    let mtp = Mtp::from_service_type(&service.ty_domain)
        .ok_or_else(|| format!("not a USP agent service type: {}", service.ty_domain))?;
    let instance = instance_name(&service.fullname, &service.ty_domain).ok_or_else(|| "no instance name".to_owned())?;
    let endpoint_id: EndpointId =
        instance.parse().map_err(|e| format!("instance name {instance:?} is no Endpoint ID: {e}"))?;
    let props = &service.txt_properties;
    let name = props.get_property_val_str("name").map(str::to_owned).filter(|n| !n.is_empty());
    let path = props.get_property_val_str("path").map(str::to_owned).filter(|p| !p.is_empty());
    if let Some(p) = &path {
        if !plain_path(p) {
            return Err("TXT path is not a plain URL path".to_owned());
        }
    }
    let encrypt = match props.get_property_val("encrypt") {
        None => false,
        Some(None) => true,
        Some(Some(v)) => !matches!(v, b"0" | b"false" | b"no"),
    };
    let mut addresses: Vec<IpAddr> =
        service.addresses.iter().map(mdns_sd::ScopedIp::to_ip_addr).filter(|ip| scope.allows(ip)).take(16).collect();
    addresses.sort_by_key(|a| (address_rank(a), *a));
    addresses.dedup();
    if addresses.is_empty() && !service.addresses.is_empty() {
        return Err("its addresses are outside the network browsed (loopback on a LAN, multicast...)".to_owned());
    }
    let subtypes = service
        .sub_ty_domain
        .as_deref()
        .and_then(|s| s.split("._sub.").next())
        .filter(|s| !s.is_empty())
        .map(|s| vec![s.to_owned()])
        .unwrap_or_default();
    let url = match mtp {
        Mtp::Memory => None,
        _ => best_address(&addresses).map(|ip| agent_url(mtp, encrypt, ip, service.port, path.as_deref())),
    };
    if service.port == 0 {
        return Err("SRV port 0".to_owned());
    }
    Ok(DiscoveredAgent {
        endpoint_id,
        endpoint_id_known: true,
        name,
        mtp,
        url,
        encrypt,
        path,
        subtypes,
        addresses,
        port: service.port,
    })
}

/// Lower is better for a URL: IPv4 (LAN or loopback), then global/ULA IPv6, then
/// link-local IPv6 (unusable without a scope id).
fn address_rank(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => 1,
        IpAddr::V4(_) => 0,
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => 3,
        IpAddr::V6(_) => 2,
    }
}

fn best_address(addresses: &[IpAddr]) -> Option<IpAddr> {
    addresses.iter().copied().filter(|a| address_rank(a) < 3).min_by_key(address_rank)
}

/// The address of an advertised agent: for WebSocket and CoAP the agent's own (path = its
/// resource), for MQTT and STOMP the broker's (path = the agent's topic or destination).
fn agent_url(mtp: Mtp, encrypt: bool, ip: IpAddr, port: u16, path: Option<&str>) -> String {
    let scheme = match (mtp, encrypt) {
        (Mtp::Mqtt, false) => "mqtt",
        (Mtp::Mqtt, true) => "mqtts",
        (Mtp::Stomp, false) => "stomp",
        (Mtp::Stomp, true) => "stomps",
        (Mtp::Coap, _) => "coap",
        (_, true) => "wss",
        (_, false) => "ws",
    };
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let path = path.unwrap_or("/");
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("{scheme}://{host}:{port}{slash}{path}")
}

/// The "add by address" fallback: validates an agent address of any MTP (`ws://`, `wss://`,
/// `mqtt://`, `mqtts://`, `mqtt+ws://`, `mqtt+wss://`, `stomp://`, `stomps://`, `coap://`;
/// for a broker the host and port are the broker's and the path names the agent's topic or
/// destination) and describes the agent behind it, with the port made explicit. Without
/// `endpoint_id` the agent gets a placeholder id (`endpoint_id_known == false`) until its
/// connect Record tells the real one.
///
/// # Errors
/// [`DiscoveryError::BadUrl`] for anything but `scheme://host[:port][/path]` with a known
/// scheme, a non-empty host and a port 1..=65535 (no user info, no fragment).
pub fn manual_agent(url: &str, endpoint_id: Option<EndpointId>) -> Result<DiscoveredAgent, DiscoveryError> {
    let bad = |reason: &str| DiscoveryError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
    let trimmed = url.trim();
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| bad("expected ws:// or wss://"))?;
    let scheme = scheme.to_ascii_lowercase();
    let carrier = crate::mtp::carrier_of(trimmed)
        .map_err(|_| bad("the scheme must be ws, wss, mqtt, mqtts, mqtt+ws, mqtt+wss, stomp, stomps or coap"))?;
    let (mtp, encrypt) = (carrier.mtp, carrier.tls);
    if mtp == Mtp::Coap && endpoint_id.is_none() {
        // A CoAP agent never sends a Record first: nothing else would tell who it is.
        return Err(bad("a CoAP agent's Endpoint ID is needed (it never speaks first)"));
    }
    if rest.contains('#') {
        return Err(bad("a fragment is not allowed"));
    }
    let (authority, path_and_query) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(bad("user info is not allowed"));
    }
    if authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("white space in the host"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '[' in the host"))?;
        inside.parse::<std::net::Ipv6Addr>().map_err(|_| bad("bad IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after the IPv6 address"))?),
        };
        (format!("[{inside}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if !host.starts_with('[') && !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        return Err(bad("bad host name"));
    }
    let port: u16 = match port {
        None => default_port(&scheme),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad("bad port")),
        },
    };
    let path = if path_and_query.is_empty() { "/".to_owned() } else { path_and_query.to_owned() };
    let path = if path.starts_with('?') { format!("/{path}") } else { path };
    let ip: Option<IpAddr> = host.trim_start_matches('[').trim_end_matches(']').parse().ok();
    let (endpoint_id, endpoint_id_known) = match endpoint_id {
        Some(eid) => (eid, true),
        None => {
            let label: String = format!("manual-{}-{port}", host.trim_start_matches('[').trim_end_matches(']'))
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') { c } else { '-' })
                .collect();
            let eid = format!("self::{label}").parse().map_err(|_| bad("cannot make a placeholder Endpoint ID"))?;
            (eid, false)
        }
    };
    Ok(DiscoveredAgent {
        endpoint_id,
        endpoint_id_known,
        name: None,
        mtp,
        url: Some(format!("{scheme}://{host}:{port}{path}")),
        encrypt,
        path: Some(path),
        subtypes: Vec::new(),
        addresses: ip.into_iter().collect(),
        port,
    })
}

/// The port a scheme means when the address names none (IANA: MQTT 1883/8883, STOMP
/// 61613/61614 as brokers use them, CoAP 5683).
fn default_port(scheme: &str) -> u16 {
    match scheme {
        "wss" | "mqtt+wss" => 443,
        "mqtt" => 1883,
        "mqtts" => 8883,
        "stomp" => 61613,
        "stomps" => 61614,
        "coap" => 5683,
        _ => 80,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn instance_names_are_unescaped() {
        assert_eq!(
            instance_name("os::00256D-01._usp-agt-ws._tcp.local.", SERVICE_WS).as_deref(),
            Some("os::00256D-01")
        );
        assert_eq!(instance_name("proto::a\\.b._usp-agt-ws._tcp.local.", SERVICE_WS).as_deref(), Some("proto::a.b"));
        assert_eq!(instance_name("._usp-agt-ws._tcp.local.", SERVICE_WS), None);
        assert_eq!(instance_name("x._other._tcp.local.", SERVICE_WS), None);
    }

    #[test]
    fn urls_prefer_ipv4_and_bracket_ipv6() {
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let v4: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(best_address(&[ll, v6, v4]), Some(v4));
        assert_eq!(best_address(&[ll, v6]), Some(v6));
        assert_eq!(best_address(&[ll]), None);
        assert_eq!(agent_url(Mtp::Ws, false, v6, 80, Some("usp")), "ws://[fd00::1]:80/usp");
        assert_eq!(agent_url(Mtp::Ws, true, v4, 443, None), "wss://10.0.0.2:443/");
        // Brokers: the broker's address, the agent's topic or destination as the path.
        assert_eq!(agent_url(Mtp::Mqtt, false, v4, 1883, Some("usp/agent/gw")), "mqtt://10.0.0.2:1883/usp/agent/gw");
        assert_eq!(agent_url(Mtp::Stomp, true, v4, 61614, Some("/queue/a")), "stomps://10.0.0.2:61614/queue/a");
        assert_eq!(agent_url(Mtp::Coap, false, v4, 5683, Some("usp")), "coap://10.0.0.2:5683/usp");
    }

    #[test]
    fn adverts_may_not_point_outside_the_network_browsed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for bad in
            ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::", "224.0.0.251", "255.255.255.255"]
        {
            assert!(!Scope::Lan.allows(&ip(bad)), "{bad}");
        }
        for good in ["10.0.0.2", "192.168.1.1", "fd00::1", "169.254.3.4"] {
            assert!(Scope::Lan.allows(&ip(good)), "{good}");
            assert!(!Scope::Loopback.allows(&ip(good)), "{good}");
        }
        assert!(Scope::Loopback.allows(&ip("127.0.0.1")) && Scope::Loopback.allows(&ip("::1")));
        assert_eq!(Scope::of(&Interfaces::AllLan), Scope::Lan);
        assert_eq!(Scope::of(&Interfaces::Named(vec!["veth0".into()])), Scope::Lan);
        assert_eq!(Scope::of(&Interfaces::Loopback), Scope::Loopback);
    }

    #[test]
    fn txt_paths_must_be_plain() {
        for good in ["/usp", "usp", "/a/b-c_d.e~f", "/%41"] {
            assert!(plain_path(good), "{good}");
        }
        for bad in ["/usp?x=1", "/a b", "/a#b", "/a\\b", "/a\nb", "/\u{e9}"] {
            assert!(!plain_path(bad), "{bad:?}");
        }
        assert!(!plain_path(&"/a".repeat(200)));
    }

    #[test]
    fn interface_settings_parse() {
        assert_eq!("lo".parse::<Interfaces>().unwrap(), Interfaces::Loopback);
        assert_eq!(
            "veth0, eth1".parse::<Interfaces>().unwrap(),
            Interfaces::Named(vec!["veth0".into(), "eth1".into()])
        );
        assert!(",".parse::<Interfaces>().is_err());
    }
}
