//! The home, the app's state: every agent discovered on the LAN (or remembered), one connection
//! per agent, and the homeowner's use-cases over all of them as one home. Each method returns the
//! `ipc_types` DTO the UI shows, so the shell's commands are one line each.
//!
//! Files: this module (start, shared state, access to agents' clients), `agents/` (each agent's
//! entry, the task that keeps it connected, discovery, agents added by address, the Home page:
//! list, trust, forget), `pairing.rs`, `live.rs` (subscriptions → [`LiveEvent`]s), `store.rs`
//! (plain settings file: labels, guest mark, seen devices, interfaces, theme), `text.rs` (device
//! text made safe to show, URL checks). Each page's use-cases add their own
//! `impl Home` block in their feature module (`crate::wifi`, `crate::guest`, `crate::hosts`...).

mod agents;
mod error;
mod listener;
mod live;
mod pairing;
mod store;
mod text;

pub use crate::agent_details::NOT_GIVEN;
pub(crate) use agents::{read_objects, AgentConn, AgentEntry};
pub use error::{AppError, AppResult};
pub use listener::{listener_certificate, LISTENER_CERT_ID};
pub(crate) use live::topics_of;
pub use store::{GuestMarkData, KnownAgent, ListenerSetting, Store, StoreData};
pub use text::device_text;
pub(crate) use text::{is_loopback_url, is_wss};

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ipc_types::{Impersonation, LiveEvent, Topic};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use usp_client::discovery::{Discovery, Interfaces};

use crate::identity::{ControllerIdentity, VaultPinStore};
use crate::pairing::Challenge;
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
    /// Connections to some addresses are opened by these connectors instead of the network
    /// (the in-memory transport, so that tests run on a virtual clock): address, connector.
    pub connectors: Vec<(String, Arc<dyn usp_client::mtp::Connector>)>,
}

/// The home: cheap to clone, shared by every command.
#[derive(Clone)]
pub struct Home {
    inner: Arc<Inner>,
}

struct Inner {
    /// [`HomeConfig::connectors`].
    connectors: Vec<(String, Arc<dyn usp_client::mtp::Connector>)>,
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
    /// The listener for devices that connect to usp-home, when on.
    listener: Mutex<listener::ListenerState>,
    /// The usage history kept on this computer, opened on first use (not on the way to the
    /// first window: checking a large file takes a while), in this folder.
    history: tokio::sync::OnceCell<Arc<crate::usage::History>>,
    history_dir: PathBuf,
    /// How each agent's counters reach the history.
    collect: Mutex<crate::usage::CollectState>,
    /// The alerts' queue, marks and broadcast.
    alerts: crate::alerts::Hub,
}

struct DiscoveryRun {
    discovery: Discovery,
    task: JoinHandle<()>,
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
                connectors: config.connectors.clone(),
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
                listener: Mutex::new(listener::ListenerState::default()),
                history: tokio::sync::OnceCell::new(),
                history_dir: config.data_dir.clone(),
                collect: Mutex::new(crate::usage::CollectState::default()),
                alerts: crate::alerts::Hub::default(),
            }),
        };
        // The listener before the agents that connect to it.
        if let Some(setting) = home.store().read(|d| d.listener).filter(|s| s.enabled) {
            home.start_listener(setting).await;
        }
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
                e.dialled = known.dialled;
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
        let check = home.spawn_override_check();
        let collect = home.spawn_history();
        let alerts = home.spawn_alerts();
        lock(&home.inner.side_tasks).extend([check, collect, alerts]);
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

    /// How each agent's counters reach the history.
    pub(crate) fn inner_collect(&self) -> &Mutex<crate::usage::CollectState> {
        &self.inner.collect
    }

    /// The usage history kept on this computer (opened now if it is not yet; callers meanwhile
    /// wait for the one opening).
    pub(crate) async fn history(&self) -> Arc<crate::usage::History> {
        self.inner.history.get_or_init(|| crate::usage::open(&self.inner.history_dir)).await.clone()
    }

    /// The alerts' shared state.
    pub(crate) fn alert_hub(&self) -> &crate::alerts::Hub {
        &self.inner.alerts
    }

    /// The settings file.
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The vault (e.g. WiFi passphrases this app set, under `SecretKind::WifiPassphrase`).
    /// The connector [`HomeConfig::connectors`] gives for `url`, if any.
    pub(crate) fn connector_for(&self, url: &str) -> Option<Arc<dyn usp_client::mtp::Connector>> {
        self.inner.connectors.iter().find(|(u, _)| u == url).map(|(_, c)| c.clone())
    }

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
        self.stop_listener();
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
}
