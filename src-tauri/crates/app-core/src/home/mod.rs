//! The home: every agent discovered on the LAN (or remembered), one connection per agent, and
//! the homeowner's use-cases over all of them as one home. Each method returns the `ipc_types`
//! DTO the UI shows, so the shell's commands are one line each.
//!
//! Files: this module (start, shared state, access to agents' clients) and `agents.rs` (home view,
//! trust, forget), `pairing.rs`, `live.rs` (subscriptions → [`LiveEvent`]s), `store.rs` (plain
//! settings file: labels, guest mark, seen devices, interfaces, theme), `device.rs` (details,
//! reboot, ping), `explorer.rs`, `settings.rs`; the feature files `wifi.rs`, `guest.rs`,
//! `devices.rs`, `parental.rs`, `mesh.rs`, `smart.rs` each add their `impl Home` block.

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

// SKELETON (to be filled by the app-core work): the signatures below are the contract the shell
// and the UI are written against.

use std::path::PathBuf;
use std::sync::Arc;

use ipc_types::{LiveEvent, Topic};
use tokio::sync::broadcast;
use usp_client::discovery::Interfaces;

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

impl Home {
    /// Opens the vault and identity, starts discovery and connects to remembered agents.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the vault or identity can't be opened.
    pub async fn start(config: HomeConfig, vault: Arc<Vault>) -> AppResult<Home> {
        let store = Store::open(&config.data_dir)?;
        let (events, _) = broadcast::channel(256);
        Ok(Home { inner: Arc::new(Inner { vault, store, events }) })
    }

    /// Every agent we are connected to with a role beyond Untrusted, in a stable order
    /// (gateway first, then by name). Feature use-cases read and write through these.
    pub(crate) async fn paired(&self) -> Vec<AgentConn> {
        Vec::new()
    }

    /// The connection to one agent (connected, any role).
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`], or [`AppError::Offline`] when it is not connected now.
    pub(crate) async fn conn(&self, agent: &str) -> AppResult<AgentConn> {
        let _ = agent;
        Err(AppError::UnknownAgent)
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
    pub async fn shutdown(&self) {}
}
