//! The vault: one API over wherever this system can keep secrets.
//!
//! Entries are keyed by a [`SecretKind`] and an id (an agent's endpoint id, a network id, ...).
//! [`Vault::open`] tries the platform's keyrings in order of preference and keeps the first one
//! that really stores, returns and deletes a test entry: on Linux the desktop keyring (Secret
//! Service) and then the kernel keyring (keyutils), the Keychain on macOS and iOS, Credential
//! Manager on Windows. Where none works (a headless Linux box, Android) secrets go to an
//! encrypted file if the user gave a passphrase, and otherwise stay in memory only; nothing is
//! ever written in plain text. [`Vault::backend`] says which store is in use, in words the UI can
//! show ([`VaultBackend::describe`]).
//!
//! Everything that differs between platforms is in the private `platform` module; the file and
//! memory stores are the same everywhere.
//!
//! Calls block (a keyring may ask the user to unlock it, and deriving the file key takes a
//! moment): call them from a blocking task, not from an async executor thread. One process at a
//! time should use a given vault.

mod error;
mod file;
mod memory;
mod platform;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub use error::VaultError;

use crate::secret::Secret;

/// The service name under which entries are kept in the platform keyrings.
pub const SERVICE: &str = "org.usphome.app";

/// The name of the encrypted vault file inside [`VaultConfig::data_dir`].
pub const VAULT_FILE_NAME: &str = "vault.usphome";

/// The longest id, in bytes, that the vault accepts.
pub const MAX_ID_LEN: usize = 256;

/// What an entry is; each kind has its own id space and its own list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    /// The per-install private key of this controller (DER). Conventionally one, id `"default"`.
    ControllerKey,
    /// Agent endpoint id → pinned certificate (fingerprint or DER). Not secret, but a changed
    /// value would let someone impersonate the agent, so it lives beside the secrets.
    PinnedCert,
    /// Agent endpoint id → a passcode the user chose to remember.
    Passcode,
    /// Network id → WiFi passphrase.
    WifiPassphrase,
    /// Agent endpoint id → the user name and password at the message broker (MQTT, STOMP)
    /// through which the app reaches it.
    BrokerLogin,
}

impl SecretKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SecretKind; 5] = [
        SecretKind::ControllerKey,
        SecretKind::PinnedCert,
        SecretKind::Passcode,
        SecretKind::WifiPassphrase,
        SecretKind::BrokerLogin,
    ];

    /// The stable name used in keyring entry names (`<slug>/<id>`).
    pub fn slug(self) -> &'static str {
        match self {
            SecretKind::ControllerKey => "controller-key",
            SecretKind::PinnedCert => "pinned-cert",
            SecretKind::Passcode => "passcode",
            SecretKind::WifiPassphrase => "wifi-passphrase",
            SecretKind::BrokerLogin => "broker-login",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKind::ControllerKey => "controller key",
            SecretKind::PinnedCert => "pinned certificate",
            SecretKind::Passcode => "passcode",
            SecretKind::WifiPassphrase => "WiFi passphrase",
            SecretKind::BrokerLogin => "broker login",
        })
    }
}

/// A kind of store, without its details; what [`VaultConfig::prefer`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaultBackendKind {
    /// The desktop keyring over D-Bus (GNOME Keyring, KWallet, KeePassXC): Linux.
    SecretService,
    /// The kernel's key retention service: Linux, kept until reboot.
    KernelKeyutils,
    /// The Keychain: macOS and iOS.
    MacKeychain,
    /// Credential Manager: Windows.
    WindowsCredentialManager,
    /// A file encrypted under the user's vault passphrase.
    EncryptedFile,
    /// This process's memory only.
    Memory,
}

impl fmt::Display for VaultBackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VaultBackendKind::SecretService => "desktop keyring (Secret Service)",
            VaultBackendKind::KernelKeyutils => "kernel keyring (keyutils)",
            VaultBackendKind::MacKeychain => "Apple Keychain",
            VaultBackendKind::WindowsCredentialManager => "Windows Credential Manager",
            VaultBackendKind::EncryptedFile => "encrypted vault file",
            VaultBackendKind::Memory => "in-memory store",
        })
    }
}

/// The store a [`Vault`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultBackend {
    SecretService,
    KernelKeyutils,
    MacKeychain,
    WindowsCredentialManager,
    EncryptedFile { path: PathBuf },
    Memory,
}

/// How long what the vault keeps survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultPersistence {
    /// Until the user or the app deletes it.
    UntilDeleted,
    /// Until the machine restarts.
    UntilReboot,
    /// Until this app exits.
    UntilAppExits,
}

impl VaultBackend {
    /// The kind of this store.
    pub fn kind(&self) -> VaultBackendKind {
        match self {
            VaultBackend::SecretService => VaultBackendKind::SecretService,
            VaultBackend::KernelKeyutils => VaultBackendKind::KernelKeyutils,
            VaultBackend::MacKeychain => VaultBackendKind::MacKeychain,
            VaultBackend::WindowsCredentialManager => VaultBackendKind::WindowsCredentialManager,
            VaultBackend::EncryptedFile { .. } => VaultBackendKind::EncryptedFile,
            VaultBackend::Memory => VaultBackendKind::Memory,
        }
    }

    /// How long entries last in this store.
    pub fn persistence(&self) -> VaultPersistence {
        match self {
            VaultBackend::KernelKeyutils => VaultPersistence::UntilReboot,
            VaultBackend::Memory => VaultPersistence::UntilAppExits,
            _ => VaultPersistence::UntilDeleted,
        }
    }

    /// What is lost at the next restart and what to do about it; `None` when secrets last.
    pub fn warning(&self) -> Option<String> {
        match self.persistence() {
            VaultPersistence::UntilDeleted => None,
            VaultPersistence::UntilReboot => Some(
                "Your trusted devices and this app's key will be forgotten when the computer restarts, \
                 and you will have to pair your devices again. To keep them, start the app with a vault \
                 passphrase (USP_HOME_VAULT_PASSPHRASE): they are then kept in an encrypted file."
                    .to_owned(),
            ),
            VaultPersistence::UntilAppExits => Some(
                "Your trusted devices and this app's key will be forgotten when the app closes, and you \
                 will have to pair your devices again. To keep them, start the app with a vault \
                 passphrase (USP_HOME_VAULT_PASSPHRASE): they are then kept in an encrypted file."
                    .to_owned(),
            ),
        }
    }

    /// One sentence for the settings page and the README.
    pub fn describe(&self) -> String {
        match self {
            VaultBackend::SecretService => "Secrets are kept in the desktop keyring (Secret Service).".to_owned(),
            VaultBackend::KernelKeyutils => "Secrets are kept in the Linux kernel keyring \
                 (keyutils): they are lost when the computer restarts, and you will need to \
                 pair again then."
                .to_owned(),
            VaultBackend::MacKeychain => "Secrets are kept in the Apple Keychain.".to_owned(),
            VaultBackend::WindowsCredentialManager => "Secrets are kept in Windows Credential Manager.".to_owned(),
            VaultBackend::EncryptedFile { path } => {
                format!("Secrets are kept in the encrypted file {}, opened with your vault passphrase.", path.display())
            }
            VaultBackend::Memory => "No keyring on this system: secrets are kept only in memory \
                 and you will need to pair again after a restart."
                .to_owned(),
        }
    }
}

/// A store that [`Vault::open`] tried and passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedBackend {
    pub kind: VaultBackendKind,
    pub reason: String,
}

/// Where and how to open the vault.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// The app's data folder; the encrypted file (if one is used) is created here.
    pub data_dir: PathBuf,
    /// The passphrase for the encrypted file, used when no lasting keyring works (the kernel
    /// keyring, which forgets at reboot, is then passed over). Without it the fallback is
    /// memory only. (The app reads `USP_HOME_VAULT_PASSPHRASE`; this crate does not.)
    pub passphrase: Option<Secret<String>>,
    /// Use exactly this store, or fail; `None` probes the platform's keyrings in order.
    pub prefer: Option<VaultBackendKind>,
    /// The keyring service name; `None` is [`SERVICE`]. Only tests set it, to a name of their own,
    /// so that they never see or change the app's entries (changing it in the app would orphan
    /// every saved secret).
    pub service: Option<String>,
}

impl VaultConfig {
    /// Probe the keyrings; fall back to memory only.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), passphrase: None, prefer: None, service: None }
    }
}

/// What every store does; the vault adds id checks, locking and the backend report.
trait Store: Send {
    fn put(&mut self, kind: SecretKind, id: &str, value: &[u8]) -> Result<(), VaultError>;
    fn get(&mut self, kind: SecretKind, id: &str) -> Result<Option<Secret<Vec<u8>>>, VaultError>;
    /// Deleting an absent entry is not an error.
    fn delete(&mut self, kind: SecretKind, id: &str) -> Result<(), VaultError>;
    /// Ids of `kind`, sorted.
    fn list(&mut self, kind: SecretKind) -> Result<Vec<String>, VaultError>;
}

/// The secret store of this install. `Send + Sync`: share it behind an `Arc`.
pub struct Vault {
    backend: VaultBackend,
    skipped: Vec<SkippedBackend>,
    store: Mutex<Box<dyn Store>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("backend", &self.backend).field("skipped", &self.skipped).finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault: the store named by `config.prefer`, or else the first keyring of this
    /// platform that round-trips a test entry, or else the encrypted file (with a passphrase) or
    /// memory (without one).
    ///
    /// A wrong passphrase for an existing file is an error ([`VaultError::WrongPassphrase`]),
    /// not a reason to fall back to memory.
    pub fn open(config: VaultConfig) -> Result<Vault, VaultError> {
        let VaultConfig { data_dir, passphrase, prefer, service } = config;
        let service = service.as_deref().unwrap_or(SERVICE);
        if let Some(kind) = prefer {
            let (backend, store) = open_kind(kind, &data_dir, passphrase.as_ref(), service)?;
            return Ok(Vault::with(backend, store, Vec::new()));
        }
        let mut skipped = Vec::new();
        for &kind in platform::keyring_kinds() {
            if kind == VaultBackendKind::KernelKeyutils && passphrase.is_some() {
                // It forgets everything at reboot; the user gave a passphrase to keep secrets.
                let reason =
                    "a vault passphrase was given: the encrypted file keeps secrets across restarts".to_owned();
                tracing::info!(backend = %kind, %reason, "secret store not used");
                skipped.push(SkippedBackend { kind, reason });
                continue;
            }
            match platform::open_keyring(kind, service) {
                Ok((backend, store)) => {
                    tracing::info!(backend = %kind, "vault uses this secret store");
                    return Ok(Vault::with(backend, store, skipped));
                }
                Err(reason) => {
                    tracing::info!(backend = %kind, %reason, "secret store not usable");
                    skipped.push(SkippedBackend { kind, reason });
                }
            }
        }
        let fallback = if passphrase.is_some() {
            VaultBackendKind::EncryptedFile
        } else {
            let file = data_dir.join(VAULT_FILE_NAME);
            if file.exists() {
                // Secrets saved earlier are out of reach; the app may want to ask for it.
                skipped.push(SkippedBackend {
                    kind: VaultBackendKind::EncryptedFile,
                    reason: format!("{} exists but no passphrase was given", file.display()),
                });
            }
            VaultBackendKind::Memory
        };
        let (backend, store) = open_kind(fallback, &data_dir, passphrase.as_ref(), service)?;
        tracing::warn!(backend = %fallback, "no keyring works here; vault uses the fallback store");
        Ok(Vault::with(backend, store, skipped))
    }

    fn with(backend: VaultBackend, store: Box<dyn Store>, skipped: Vec<SkippedBackend>) -> Self {
        Self { backend, skipped, store: Mutex::new(store) }
    }

    /// The store in use.
    pub fn backend(&self) -> VaultBackend {
        self.backend.clone()
    }

    /// The stores that [`Vault::open`] passed over, and why: each keyring it tried, and the
    /// encrypted file when one exists but no passphrase was given.
    pub fn skipped(&self) -> &[SkippedBackend] {
        &self.skipped
    }

    /// Saves `value` under (`kind`, `id`), replacing what was there.
    pub fn put(&self, kind: SecretKind, id: &str, value: &Secret<Vec<u8>>) -> Result<(), VaultError> {
        check_id(kind, id)?;
        if value.expose().is_empty() {
            return Err(VaultError::EmptySecret { kind });
        }
        self.store().put(kind, id, value.expose())
    }

    /// The value under (`kind`, `id`), if there is one.
    pub fn get(&self, kind: SecretKind, id: &str) -> Result<Option<Secret<Vec<u8>>>, VaultError> {
        check_id(kind, id)?;
        self.store().get(kind, id)
    }

    /// Forgets (`kind`, `id`); forgetting an absent entry is not an error.
    pub fn delete(&self, kind: SecretKind, id: &str) -> Result<(), VaultError> {
        check_id(kind, id)?;
        self.store().delete(kind, id)
    }

    /// The ids saved under `kind`, sorted.
    pub fn list(&self, kind: SecretKind) -> Result<Vec<String>, VaultError> {
        self.store().list(kind)
    }

    fn store(&self) -> MutexGuard<'_, Box<dyn Store>> {
        // A panic while holding the lock can't leave a store half-changed in memory: every store
        // commits its in-memory state only after the durable write succeeded.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn open_kind(
    kind: VaultBackendKind,
    data_dir: &Path,
    passphrase: Option<&Secret<String>>,
    service: &str,
) -> Result<(VaultBackend, Box<dyn Store>), VaultError> {
    match kind {
        VaultBackendKind::EncryptedFile => {
            let passphrase = passphrase.ok_or(VaultError::PassphraseRequired)?;
            let store = file::FileStore::open(data_dir, passphrase)?;
            let backend = VaultBackend::EncryptedFile { path: store.path().to_owned() };
            Ok((backend, Box::new(store)))
        }
        VaultBackendKind::Memory => Ok((VaultBackend::Memory, Box::<memory::MemoryStore>::default())),
        keyring => platform::open_keyring(keyring, service)
            .map_err(|reason| VaultError::BackendUnavailable { backend: keyring, reason }),
    }
}

fn check_id(kind: SecretKind, id: &str) -> Result<(), VaultError> {
    let problem = if id.is_empty() {
        "it is empty"
    } else if id.len() > MAX_ID_LEN {
        "it is longer than 256 bytes"
    } else if id.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(VaultError::InvalidId { kind, id: id.to_owned(), problem })
}
