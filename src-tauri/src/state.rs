//! The shell's managed state: the [`Home`] (started in the background so the window never waits
//! for it) and the live subscription of the window.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use app_core::home::{Home, HomeConfig};
use app_core::vault::{Vault, VaultBackendKind, VaultConfig};
use ipc_types::{code, IpcError};
use tauri::async_runtime::JoinHandle;
use tokio::sync::watch;

/// What commands reach through `tauri::State<'_, Shell>`.
pub struct Shell {
    /// `None` while the home starts; then the home, or why it could not start.
    home: watch::Receiver<Option<Result<Home, IpcError>>>,
    /// The task forwarding live events to the window's channel (one subscription at a time).
    pub(crate) live: Mutex<Option<JoinHandle<()>>>,
}

impl Shell {
    /// A shell whose home is being started; `ready` receives it once started.
    pub fn starting() -> (Shell, watch::Sender<Option<Result<Home, IpcError>>>) {
        let (ready, home) = watch::channel(None);
        (Shell { home, live: Mutex::new(None) }, ready)
    }

    /// The home, once it has started (commands sent meanwhile wait for it).
    ///
    /// # Errors
    /// Why the home could not start (vault, data folder), as the UI shows it.
    pub async fn home(&self) -> Result<Home, IpcError> {
        let mut home = self.home.clone();
        let started = match home.wait_for(Option::is_some).await {
            Ok(started) => started.clone().unwrap_or_else(|| Err(stopped())),
            Err(_) => Err(stopped()),
        };
        started
    }
}

fn stopped() -> IpcError {
    IpcError::new(code::INTERNAL, "The app is shutting down.")
}

/// How the shell is configured, from the environment (all optional):
///
/// - `USP_HOME_DATA_DIR`: data folder (identity, settings, encrypted vault file); default: the
///   app's data folder (`~/.local/share/org.usphome.app` on Linux).
/// - `USP_HOME_INTERFACES`: discovery interfaces (`lo`, `all`, `eth0,wlan0`); default: the saved
///   setting.
/// - `USP_HOME_AGENTS`: agents to add without discovery, comma-separated `URL` or `EID=URL`.
/// - `USP_HOME_VAULT_PASSPHRASE`, `USP_HOME_VAULT_BACKEND` (`auto`, `file`, `memory`): the vault,
///   as for `uspctl`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub data_dir: Option<PathBuf>,
    pub interfaces: Option<String>,
    pub agents: Option<String>,
    pub vault_backend: Option<String>,
}

impl Env {
    /// Reads the variables (the passphrase is read only when the vault is opened).
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Env {
            data_dir: var("USP_HOME_DATA_DIR").map(PathBuf::from),
            interfaces: var("USP_HOME_INTERFACES"),
            agents: var("USP_HOME_AGENTS"),
            vault_backend: var("USP_HOME_VAULT_BACKEND"),
        }
    }

    /// The [`HomeConfig`] for data folder `data_dir`.
    ///
    /// # Errors
    /// A message naming the variable that is wrong.
    pub fn home_config(&self, data_dir: PathBuf) -> Result<HomeConfig, String> {
        let interfaces = match &self.interfaces {
            Some(text) => Some(text.parse().map_err(|_| {
                format!("USP_HOME_INTERFACES={text:?}: use lo, all, or interface names separated by commas")
            })?),
            None => None,
        };
        let manual_agents = match &self.agents {
            Some(text) => parse_agents(text)?,
            None => Vec::new(),
        };
        Ok(HomeConfig { data_dir, interfaces, manual_agents, connectors: Vec::new() })
    }

    /// The vault configuration for `data_dir`.
    ///
    /// # Errors
    /// A message naming `USP_HOME_VAULT_BACKEND` when its value is unknown.
    pub fn vault_config(&self, data_dir: PathBuf) -> Result<VaultConfig, String> {
        let mut config = VaultConfig::new(data_dir);
        config.passphrase = std::env::var("USP_HOME_VAULT_PASSPHRASE").ok().map(app_core::secret::Secret::new);
        config.prefer = match self.vault_backend.as_deref() {
            None | Some("auto" | "keyring") => None,
            Some("file") => Some(VaultBackendKind::EncryptedFile),
            Some("memory") => Some(VaultBackendKind::Memory),
            Some(other) => return Err(format!("USP_HOME_VAULT_BACKEND={other:?}: use auto, file or memory")),
        };
        Ok(config)
    }
}

/// `URL` or `EID=URL`, comma-separated (an EID never holds `=`; a URL's query may).
fn parse_agents(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut agents = Vec::new();
    for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (eid, url) = match item.split_once('=') {
            Some((eid, url)) if !eid.contains("://") => (Some(eid.trim().to_owned()), url.trim()),
            _ => (None, item),
        };
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(format!("USP_HOME_AGENTS: {item:?} is not a ws:// or wss:// URL (optionally EID=URL)"));
        }
        agents.push((url.to_owned(), eid));
    }
    Ok(agents)
}

/// Opens the vault and starts the home (on the async runtime, off the UI thread).
///
/// # Errors
/// What went wrong, in words for the window (and the log).
pub async fn start_home(env: Env, data_dir: PathBuf) -> Result<Home, IpcError> {
    let internal = |message: String| IpcError::new(code::INTERNAL, message);
    let config = env.home_config(data_dir.clone()).map_err(internal)?;
    let vault_config = env.vault_config(data_dir).map_err(internal)?;
    // Probing keyrings may wait on D-Bus: keep it off the async workers.
    let vault = tauri::async_runtime::spawn_blocking(move || Vault::open(vault_config))
        .await
        .map_err(|e| internal(format!("the vault could not be opened: {e}")))?
        .map_err(|e| internal(format!("the vault could not be opened: {e}")))?;
    tracing::info!(vault = %vault.backend().kind(), "vault opened");
    Home::start(config, Arc::new(vault)).await.map_err(IpcError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_agents_with_and_without_endpoint_ids() {
        let agents = parse_agents("ws://127.0.0.1:1/usp, os::012345-GW0001=ws://127.0.0.1:2/usp?x=1").expect("valid");
        assert_eq!(
            agents,
            vec![
                ("ws://127.0.0.1:1/usp".to_owned(), None),
                ("ws://127.0.0.1:2/usp?x=1".to_owned(), Some("os::012345-GW0001".to_owned())),
            ]
        );
        assert!(parse_agents("http://example.invalid/").is_err());
        assert_eq!(parse_agents(" , ").expect("empty is fine"), Vec::new());
    }

    #[test]
    fn interfaces_come_from_the_environment_or_the_setting() {
        let env = Env { interfaces: Some("lo".into()), ..Env::default() };
        let config = env.home_config("/tmp/x".into()).expect("lo is valid");
        assert_eq!(config.interfaces, Some(usp_client::discovery::Interfaces::Loopback));
        let config = Env::default().home_config("/tmp/x".into()).expect("unset is valid");
        assert_eq!(config.interfaces, None, "unset: the saved setting decides");
        let bad = Env { interfaces: Some("eth0, wlan 0".into()), ..Env::default() };
        assert!(bad.home_config("/tmp/x".into()).expect_err("rejected").contains("USP_HOME_INTERFACES"));
    }

    #[test]
    fn unknown_vault_backend_is_named() {
        let env = Env { vault_backend: Some("cloud".into()), ..Env::default() };
        assert!(env.vault_config("/tmp/x".into()).expect_err("rejected").contains("USP_HOME_VAULT_BACKEND"));
        let env = Env { vault_backend: Some("memory".into()), ..Env::default() };
        assert_eq!(env.vault_config("/tmp/x".into()).expect("memory").prefer, Some(VaultBackendKind::Memory));
    }
}
