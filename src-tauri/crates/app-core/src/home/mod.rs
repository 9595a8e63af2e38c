//! The home: every agent discovered on the LAN (or remembered), one connection per agent, and
//! the homeowner's use-cases over all of them as one home. Each method returns the `ipc_types`
//! DTO the UI shows, so the shell's commands are one line each.
//!
//! Files: this module (start, shared state, access to agents' clients), `agents.rs` (the task
//! that keeps one agent connected and knows what it lets us do, discovery, home view, trust,
//! forget), `pairing.rs`, `live.rs` (subscriptions →
//! [`LiveEvent`]s), `store.rs` (plain settings file: labels, guest mark, seen devices,
//! interfaces, theme), `device.rs` (details, reboot, ping), `explorer.rs`, `settings.rs`; the
//! feature files `wifi.rs`, `guest.rs`, `devices.rs`, `parental.rs`, `mesh.rs`, `smart.rs` each
//! add their `impl Home` block.

mod agents;
mod device;
mod devices;
mod error;
mod explorer;
mod guest;
mod live;
mod mesh;
mod pairing;
mod parental;
mod settings;
mod smart;
mod store;
mod wifi;

pub use error::{AppError, AppResult};
pub use store::{GuestMarkData, KnownAgent, Store, StoreData};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ipc_types::{AgentAuth, AgentKind, LiveEvent, Topic};
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
        }
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

    /// Gateway, extender, hub: from the mDNS subtype, else the ProductClass.
    pub fn kind(&self) -> AgentKind {
        for s in &self.subtypes {
            let s = s.trim_start_matches('_').to_ascii_lowercase();
            if s.contains("gateway") || s.contains("router") {
                return AgentKind::Gateway;
            }
            if s.contains("extender") || s.contains("repeater") || s.contains("mesh") {
                return AgentKind::Extender;
            }
            if s.contains("iot") || s.contains("hub") {
                return AgentKind::Hub;
            }
        }
        let class = self.facts.product_class.as_deref().unwrap_or("").to_ascii_lowercase();
        if class.contains("gateway") || class.contains("router") || class.contains("modem") {
            AgentKind::Gateway
        } else if class.contains("extender") || class.contains("repeater") || class.contains("mesh") {
            AgentKind::Extender
        } else if class.contains("hub") || class.contains("iot") || class.contains("bridge") {
            AgentKind::Hub
        } else {
            AgentKind::Other
        }
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
                stopped: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        // Remembered agents first, then the ones given by address, then discovery.
        let remembered = home.store().read(|d| d.agents.clone());
        for known in remembered {
            home.add_agent(&known.agent, &known.url, |e| {
                if !known.name.is_empty() {
                    e.stored_name = Some(known.name.clone());
                }
            });
        }
        for (url, eid) in &config.manual_agents {
            home.add_manual(url, eid.as_deref())?;
        }
        home.start_discovery(interfaces);
        Ok(home)
    }

    /// This install's identity.
    pub(crate) fn identity(&self) -> &ControllerIdentity {
        &self.inner.identity
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
        let mut list: Vec<(u8, String, AgentConn)> = self.with_agents(|m| {
            m.values()
                .filter(|e| e.is_paired())
                .filter_map(|e| {
                    let client = e.client.clone()?;
                    let name = e.name();
                    Some((kind_rank(e.kind()), name.to_lowercase(), AgentConn { eid: e.eid.clone(), name, client }))
                })
                .collect()
        });
        list.sort_by(|a, b| (a.0, &a.1, &a.2.eid).cmp(&(b.0, &b.1, &b.2.eid)));
        list.into_iter().map(|(_, _, c)| c).collect()
    }

    /// The connection to one agent (connected, any role).
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`], or [`AppError::Offline`] when it is not connected now.
    pub(crate) async fn conn(&self, agent: &str) -> AppResult<AgentConn> {
        self.with_agent(agent, |e| match (&e.client, e.connected) {
            (Some(client), true) => Ok(AgentConn { eid: e.eid.clone(), name: e.name(), client: client.clone() }),
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
    fn kinds_come_from_subtypes_then_product_class() {
        let mut e = AgentEntry::new("os::012345-X", "ws://127.0.0.1:1/usp");
        assert_eq!(e.kind(), AgentKind::Other);
        e.facts.product_class = Some("SmartHomeHub".into());
        assert_eq!(e.kind(), AgentKind::Hub);
        e.subtypes = vec!["_mesh-extender".into()];
        assert_eq!(e.kind(), AgentKind::Extender);
        assert_eq!(e.name(), "os::012345-X");
        e.mdns_name = Some("Upstairs".into());
        assert_eq!(e.name(), "Upstairs");
        assert_eq!(interfaces_text(&Interfaces::Named(vec!["eth0".into(), "wlan0".into()])), "eth0,wlan0");
    }
}
