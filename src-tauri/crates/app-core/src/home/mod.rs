//! The home, the app's state: every agent discovered on the LAN (or remembered), one connection
//! per agent, and the homeowner's use-cases over all of them as one home. Each method returns the
//! `ipc_types` DTO the UI shows, so the shell's commands are one line each.
//!
//! Files: this module (start, shared state, access to agents' clients), `agents.rs` (the task
//! that keeps one agent connected and knows what it lets us do, discovery, home view, trust,
//! forget), `pairing.rs`, `live.rs` (subscriptions → [`LiveEvent`]s), `store.rs` (plain settings
//! file: labels, guest mark, seen devices, interfaces, theme). Each page's use-cases add their own
//! `impl Home` block in their feature module (`crate::wifi`, `crate::guest`, `crate::hosts`...).

mod agents;
mod error;
mod live;
mod pairing;
mod store;

pub use crate::agent_details::NOT_GIVEN;
pub(crate) use agents::read_objects;
pub use error::{AppError, AppResult};
pub(crate) use live::topics_of;
pub use store::{GuestMarkData, KnownAgent, Store, StoreData};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ipc_types::{AgentAuth, AgentKind, Impersonation, LiveEvent, Topic};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use usp_client::discovery::{Discovery, Interfaces};
use usp_client::tls::Fingerprint;

use crate::identity::{ControllerIdentity, VaultPinStore};
use crate::pairing::{Challenge, RoleSummary};
use crate::vault::Vault;

/// How to start a [`Home`].
#[derive(Clone, Debug)]
pub struct HomeConfig {
    /// Where the identity, the settings file and the encrypted-file vault (if used) live.
    pub data_dir: PathBuf,
    /// Discovery interfaces; `None` = the saved setting (default `all`).
    pub interfaces: Option<Interfaces>,
    /// Agents to add without discovery (`ws://127.0.0.1:PORT/usp`, optional Endpoint ID).
    pub manual_agents: Vec<(String, Option<String>)>,
}

/// The home: cheap to clone, shared by every command.
#[derive(Clone)]
pub struct Home {
    inner: Arc<Inner>,
}

struct Inner {
    vault: Arc<Vault>,
    store: Store,
    events: broadcast::Sender<LiveEvent>,
    identity: ControllerIdentity,
    pins: Arc<VaultPinStore>,
    /// Every agent known now, by Endpoint ID.
    agents: Mutex<BTreeMap<String, AgentEntry>>,
    /// The running mDNS browse and the task reading it.
    discovery: Mutex<Option<DiscoveryRun>>,
    /// The discovery interfaces in effect, as the setting's text.
    interfaces: Mutex<String>,
    /// Outstanding passcode challenges, by agent.
    pending: Mutex<HashMap<String, Arc<Challenge>>>,
    /// Tasks resolving manual agents given without an Endpoint ID.
    side_tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Adverts and addresses that pretended to be a known encrypted device, by Endpoint ID.
    impostors: Mutex<BTreeMap<String, Impersonation>>,
    /// The background re-check after a changed certificate or a wrong device: first wait, longest.
    recheck: Mutex<(Duration, Duration)>,
    /// Discovered agents dropped because of [`MAX_DISCOVERED`] (logged once).
    dropped_adverts: std::sync::atomic::AtomicU64,
    stopped: std::sync::atomic::AtomicBool,
}

struct DiscoveryRun {
    discovery: Discovery,
    task: JoinHandle<()>,
}

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

/// At most this many agents come from discovery (remembered ones and those added by hand
/// do not count): a flood of fake adverts can't make thousands of connection tasks.
pub(crate) const MAX_DISCOVERED: usize = 64;
/// At most this many impersonation warnings are kept.
const MAX_IMPOSTORS: usize = 32;
/// Longest name a device can give itself (advert `name`, FriendlyName...), in characters.
pub(crate) const MAX_NAME_CHARS: usize = 64;
/// Every command ends within this time, whatever the devices do.
pub(crate) const COMMAND_DEADLINE: Duration = Duration::from_secs(25);
/// One request to one device, inside a command.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(20);
/// A ping waits for the device to finish its test (up to 100 echoes): longer.
pub(crate) const PING_DEADLINE: Duration = Duration::from_secs(260);
/// Background re-check after a changed certificate or a wrong device: 30 s growing to 10 min.
const RECHECK: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(600));

/// Text a device wrote about itself (a name, an instruction), made safe to show: control and
/// invisible formatting characters removed (bidi overrides included), runs of white space made
/// one space, at most `max_chars` characters (an ellipsis marks a cut, and counts). The app's one
/// rule for device text shown to people: cards, the pairing dialog, live events, notifications.
pub fn device_text(raw: &str, max_chars: usize) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    let mut out = String::new();
    let mut count = 0usize;
    for word in raw.split(|c: char| c.is_whitespace() || hidden(c)).filter(|w| !w.is_empty()) {
        let sep = usize::from(count > 0);
        if count + sep >= max_chars {
            out.push('…');
            return out;
        }
        if sep == 1 {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count + 1 >= max_chars {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// The host of a `ws[s]://host:port/path` URL is this computer (127.0.0.0/8, ::1, localhost).
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The URL is `wss://` (TLS).
pub(crate) fn is_wss(url: &str) -> bool {
    url.trim_start().get(..6).is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
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

/// The text of an interface setting (`all`, `lo`, `eth0,wlan0`).
pub(crate) fn interfaces_text(i: &Interfaces) -> String {
    match i {
        Interfaces::Loopback => "lo".to_owned(),
        Interfaces::AllLan => "all".to_owned(),
        Interfaces::Named(names) => names.join(","),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Home {
    /// Opens the vault and identity, starts discovery and connects to remembered agents.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the vault or identity can't be opened.
    pub async fn start(config: HomeConfig, vault: Arc<Vault>) -> AppResult<Home> {
        let store = Store::open(&config.data_dir)?;
        let identity = {
            let vault = vault.clone();
            let dir = config.data_dir.clone();
            tokio::task::spawn_blocking(move || crate::identity::load_or_create(&vault, &dir))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(|e| AppError::Internal(e.to_string()))?
        };
        tracing::info!(eid = %identity.eid(), "controller identity ready");
        let pins = Arc::new(VaultPinStore::new(vault.clone()));
        let (events, _) = broadcast::channel(1024);
        let interfaces = match &config.interfaces {
            Some(i) => i.clone(),
            None => {
                let saved = store.read(|d| d.interfaces.clone());
                match saved.as_deref().map(str::parse::<Interfaces>) {
                    Some(Ok(i)) => i,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "ignoring the saved discovery interfaces");
                        Interfaces::AllLan
                    }
                    None => Interfaces::AllLan,
                }
            }
        };
        let home = Home {
            inner: Arc::new(Inner {
                vault,
                store,
                events,
                identity,
                pins,
                agents: Mutex::new(BTreeMap::new()),
                discovery: Mutex::new(None),
                interfaces: Mutex::new(interfaces_text(&interfaces)),
                pending: Mutex::new(HashMap::new()),
                side_tasks: Mutex::new(Vec::new()),
                impostors: Mutex::new(BTreeMap::new()),
                recheck: Mutex::new(RECHECK),
                dropped_adverts: std::sync::atomic::AtomicU64::new(0),
                stopped: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        // Remembered agents first, then the ones given by address, then discovery.
        let remembered = home.store().read(|d| d.agents.clone());
        for known in remembered {
            // A pin in the vault makes an agent secure even when an older home.json did not say so.
            let pinned = home.has_pin(&known.agent).await;
            home.add_agent(&known.agent, &known.url, |e| {
                if !known.name.is_empty() {
                    e.stored_name = Some(device_text(&known.name, MAX_NAME_CHARS));
                }
                e.secure = known.secure || pinned;
                e.allow_unencrypted = known.allow_unencrypted;
            });
        }
        for (url, eid) in &config.manual_agents {
            if let Err(e) = home.add_manual(url, eid.as_deref()).await {
                match e {
                    AppError::Certificate(_) => tracing::warn!(%url, "a configured address was refused: {e}"),
                    other => return Err(other),
                }
            }
        }
        home.start_discovery(interfaces);
        Ok(home)
    }

    /// Sets the background re-check after a changed certificate or a wrong device (first wait,
    /// longest wait; default 30 s growing to 10 min). For tests and demos that can't wait.
    pub fn set_recheck_backoff(&self, first: Duration, longest: Duration) {
        *lock(&self.inner.recheck) = (first, longest.max(first));
    }

    /// The wait before background re-check number `attempt`.
    pub(crate) fn recheck_delay(&self, attempt: u32) -> Duration {
        let (first, longest) = *lock(&self.inner.recheck);
        usp_client::Backoff::doubling(first, longest).nominal(attempt)
    }

    /// Runs a command within `limit`: a device that stops answering can't make it hang.
    /// `who` names the device in the message when there is one.
    pub(crate) async fn within<T>(
        &self,
        limit: Duration,
        who: Option<&str>,
        fut: impl Future<Output = AppResult<T>>,
    ) -> AppResult<T> {
        match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => {
                let name = who
                    .and_then(|eid| self.with_agent(eid, |e| e.name()))
                    .unwrap_or_else(|| "A device of your home".to_owned());
                tracing::warn!(%name, ?limit, "a command ran out of time");
                Err(AppError::Timeout { name })
            }
        }
    }

    /// Whether the vault holds a certificate pin for `eid` (a failing lookup counts as pinned:
    /// it must never downgrade an agent to an unencrypted link).
    pub(crate) async fn has_pin(&self, eid: &str) -> bool {
        let Ok(id) = eid.parse::<usp_core::EndpointId>() else { return false };
        let pins = self.pins().clone();
        // Fails closed: a pin store that can't be read counts as "pinned" (so never plain ws://).
        tokio::task::spawn_blocking(move || !matches!(usp_client::tls::PinStore::lookup(pins.as_ref(), &id), Ok(None)))
            .await
            .unwrap_or(true)
    }

    /// Records (and shows) an advert or address that pretended to be `eid` over an unencrypted
    /// link or with another certificate. Nothing is sent to it.
    pub(crate) fn record_impostor(&self, eid: &str, address: &str, how: &str) {
        let name = self.with_agent(eid, |e| e.name()).unwrap_or_else(|| eid.to_owned());
        let message = format!(
            "Someone on your network is pretending to be {name} ({how}). The app did not connect to it and sent \
             it nothing; {name} itself is unchanged. If this keeps happening, a device on your network may be \
             compromised."
        );
        let address = device_text(address, 200);
        tracing::warn!(agent = eid, address = %address, "impersonation refused: {how}");
        {
            let mut map = lock(&self.inner.impostors);
            if !map.contains_key(eid) && map.len() >= MAX_IMPOSTORS {
                return;
            }
            map.insert(eid.to_owned(), Impersonation { agent: eid.to_owned(), name, address, message });
        }
        self.changed(&[Topic::Home]);
    }

    /// The impersonation warnings to show.
    pub(crate) fn impostors(&self) -> Vec<Impersonation> {
        lock(&self.inner.impostors).values().cloned().collect()
    }

    /// This install's identity.
    pub(crate) fn identity(&self) -> &ControllerIdentity {
        &self.inner.identity
    }

    /// The discovery interfaces in effect, as the setting's text.
    pub(crate) fn interfaces_setting(&self) -> String {
        lock(&self.inner.interfaces).clone()
    }

    /// The certificate pins.
    pub(crate) fn pins(&self) -> &Arc<VaultPinStore> {
        &self.inner.pins
    }

    /// Runs `f` on the agents map (never held across an await).
    pub(crate) fn with_agents<R>(&self, f: impl FnOnce(&mut BTreeMap<String, AgentEntry>) -> R) -> R {
        f(&mut lock(&self.inner.agents))
    }

    /// Runs `f` on one agent, if known.
    pub(crate) fn with_agent<R>(&self, eid: &str, f: impl FnOnce(&mut AgentEntry) -> R) -> Option<R> {
        self.with_agents(|m| m.get_mut(eid).map(f))
    }

    fn is_stopped(&self) -> bool {
        self.inner.stopped.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every agent we are connected to with a role beyond Untrusted, in a stable order
    /// (gateway first, then by name). Feature use-cases read and write through these.
    pub(crate) async fn paired(&self) -> Vec<AgentConn> {
        let mut list: Vec<(_, AgentConn)> = self.with_agents(|m| {
            m.values()
                .filter(|e| e.is_paired())
                .filter_map(|e| {
                    let client = e.client.clone()?;
                    let conn =
                        AgentConn { eid: e.eid.clone(), name: e.name(), client, secrets_ok: e.secrets_allowed() };
                    Some((e.sort_key(), conn))
                })
                .collect()
        });
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.into_iter().map(|(_, c)| c).collect()
    }

    /// Names of the paired devices that don't offer `object` (right under `Device.`, e.g.
    /// `WiFi`), gateway first: the pages say so in words instead of showing an empty list.
    pub(crate) fn not_offering(&self, object: &str) -> Vec<String> {
        let mut list: Vec<_> = self.with_agents(|m| {
            m.values()
                .filter(|e| e.is_paired() && e.objects.as_ref().is_some_and(|o| !o.contains(object)))
                .map(|e| (e.sort_key(), e.name()))
                .collect()
        });
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.into_iter().map(|(_, n)| n).collect()
    }

    /// The connection to one agent (connected, any role).
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`], or [`AppError::Offline`] when it is not connected now.
    pub(crate) async fn conn(&self, agent: &str) -> AppResult<AgentConn> {
        self.with_agent(agent, |e| match (&e.client, e.connected) {
            (Some(client), true) => Ok(AgentConn {
                eid: e.eid.clone(),
                name: e.name(),
                client: client.clone(),
                secrets_ok: e.secrets_allowed(),
            }),
            _ => Err(AppError::Offline { name: e.name() }),
        })
        .unwrap_or(Err(AppError::UnknownAgent))
    }

    /// The settings file.
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The vault (e.g. WiFi passphrases this app set, under `SecretKind::WifiPassphrase`).
    pub(crate) fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// Tells the UI to re-fetch the views of `topics`.
    pub(crate) fn changed(&self, topics: &[Topic]) {
        let _ = self.inner.events.send(LiveEvent::Changed { topics: topics.to_vec() });
    }

    /// Sends a live event to the UI.
    pub(crate) fn emit(&self, event: LiveEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Live updates for the UI.
    pub fn events(&self) -> broadcast::Receiver<LiveEvent> {
        self.inner.events.subscribe()
    }

    /// Stops discovery and closes every connection.
    pub async fn shutdown(&self) {
        self.inner.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_discovery();
        for t in lock(&self.inner.side_tasks).drain(..) {
            t.abort();
        }
        let clients: Vec<usp_client::Client> =
            self.with_agents(|m| m.values_mut().filter_map(AgentEntry::disconnect).collect());
        for c in clients {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), c.close()).await;
        }
        lock(&self.inner.pending).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_is_shared_across_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Home>();
    }

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
        assert_eq!(interfaces_text(&Interfaces::Named(vec!["eth0".into(), "wlan0".into()])), "eth0,wlan0");
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

    #[test]
    fn device_text_is_plain_and_capped() {
        assert_eq!(device_text("  Living\nroom\t gateway ", 64), "Living room gateway");
        assert_eq!(device_text("evil\u{202e}gnp.exe\u{7}", 64), "evil gnp.exe");
        let long = "x".repeat(500);
        let cut = device_text(&long, 64);
        assert_eq!(cut.chars().count(), 64);
        assert!(cut.ends_with('…'));
        assert_eq!(device_text("ab cd", 3), "ab…");
        assert_eq!(device_text("", 5), "");
    }

    #[test]
    fn loopback_and_tls_urls() {
        assert!(is_loopback_url("ws://127.0.0.1:8080/usp"));
        assert!(is_loopback_url("ws://127.9.9.9/usp"));
        assert!(is_loopback_url("ws://[::1]:80/"));
        assert!(is_loopback_url("ws://localhost:80/"));
        assert!(!is_loopback_url("ws://10.0.0.1:80/usp"));
        assert!(!is_loopback_url("ws://127.0.0.1.evil.example:80/usp"));
        assert!(!is_loopback_url("ws://[fd00::1]:80/"));
        assert!(is_wss("wss://10.0.0.1/"));
        assert!(is_wss("WSS://10.0.0.1/"));
        assert!(!is_wss("ws://10.0.0.1/"));
    }
}
