//! The platform keyrings, through `keyring` 3: everything in the vault that differs between
//! operating systems is in this module.
//!
//! | target            | stores tried, in order                          |
//! |-------------------|-------------------------------------------------|
//! | Linux             | Secret Service (D-Bus), then kernel keyutils    |
//! | macOS, iOS        | Keychain                                        |
//! | Windows           | Credential Manager                              |
//! | Android and other | none (keyring 3 has only a mock there)          |
//!
//! `keyring` never says whether a store really works: built without a backend feature it
//! silently keeps entries in a per-process mock, and without a D-Bus session every Secret
//! Service call fails. So a store is used only after it stored, returned and deleted a random
//! test entry ([`open_keyring`]).
//!
//! Each entry is `<kind slug>/<id>` under the service [`SERVICE`](super::SERVICE) (or
//! [`VaultConfig::service`](super::VaultConfig::service)). Keyrings can't enumerate, so each kind
//! also has an index entry `index/<kind slug>` holding the JSON list of its ids (not secret),
//! deleted again when the list becomes empty. The index is the source of truth: an id that is not listed is absent,
//! which also hides a deleted kernel key that the kernel has not reaped yet. Each index is read
//! once per vault and then kept in memory (one process per vault), which spares a keyring round
//! trip per call: every Secret Service call opens its own D-Bus session.

use super::{Store, VaultBackend, VaultBackendKind};

/// The keyrings of this platform, best first.
pub(super) fn keyring_kinds() -> &'static [VaultBackendKind] {
    #[cfg(target_os = "linux")]
    {
        &[VaultBackendKind::SecretService, VaultBackendKind::KernelKeyutils]
    }
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    {
        &[VaultBackendKind::MacKeychain]
    }
    #[cfg(target_os = "windows")]
    {
        &[VaultBackendKind::WindowsCredentialManager]
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "ios", target_os = "windows")))]
    {
        &[]
    }
}

/// A store over the keyring `kind`, once it has round-tripped a test entry; or why not.
pub(super) fn open_keyring(kind: VaultBackendKind, service: &str) -> Result<(VaultBackend, Box<dyn Store>), String> {
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "ios", target_os = "windows"))]
    {
        let store = native::KeyringStore::new(kind, service).ok_or_else(not_here)?;
        #[cfg(target_os = "linux")]
        if kind == VaultBackendKind::KernelKeyutils {
            native::check_session_keyring()?;
        }
        store.probe()?;
        let backend = match kind {
            VaultBackendKind::SecretService => VaultBackend::SecretService,
            VaultBackendKind::KernelKeyutils => VaultBackend::KernelKeyutils,
            VaultBackendKind::MacKeychain => VaultBackend::MacKeychain,
            VaultBackendKind::WindowsCredentialManager => VaultBackend::WindowsCredentialManager,
            VaultBackendKind::EncryptedFile | VaultBackendKind::Memory => return Err(not_here()),
        };
        Ok((backend, Box::new(store)))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "ios", target_os = "windows")))]
    {
        let _ = (kind, service);
        Err(not_here())
    }
}

fn not_here() -> String {
    "this build of usp-home has no such store on this operating system".to_owned()
}

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "ios", target_os = "windows"))]
mod native {
    use std::collections::{BTreeSet, HashMap};

    use keyring::credential::{Credential, CredentialBuilder};

    use super::super::{SecretKind, Store, VaultBackendKind, VaultError};
    use crate::secret::Secret;

    pub(super) struct KeyringStore {
        kind: VaultBackendKind,
        builder: Box<CredentialBuilder>,
        service: String,
        /// The index of each kind read so far, as last written.
        indexes: HashMap<SecretKind, BTreeSet<String>>,
    }

    impl KeyringStore {
        /// `None` when `kind` is not a keyring of this platform.
        pub(super) fn new(kind: VaultBackendKind, service: &str) -> Option<Self> {
            let builder = match kind {
                #[cfg(target_os = "linux")]
                VaultBackendKind::SecretService => keyring::secret_service::default_credential_builder(),
                #[cfg(target_os = "linux")]
                VaultBackendKind::KernelKeyutils => keyring::keyutils::default_credential_builder(),
                #[cfg(target_os = "macos")]
                VaultBackendKind::MacKeychain => keyring::macos::default_credential_builder(),
                #[cfg(target_os = "ios")]
                VaultBackendKind::MacKeychain => keyring::ios::default_credential_builder(),
                #[cfg(target_os = "windows")]
                VaultBackendKind::WindowsCredentialManager => keyring::windows::default_credential_builder(),
                _ => return None,
            };
            Some(Self { kind, builder, service: service.to_owned(), indexes: HashMap::new() })
        }

        fn credential(&self, user: &str) -> keyring::Result<Box<Credential>> {
            self.builder.build(None, &self.service, user)
        }

        /// Stores, reads back and deletes a random entry; `Err` says, for a person, which step
        /// failed and what the platform said.
        pub(super) fn probe(&self) -> Result<(), String> {
            let user = format!("probe/{}", uuid::Uuid::new_v4());
            let canary = Secret::new(uuid::Uuid::new_v4().as_bytes().to_vec());
            let credential =
                self.credential(&user).map_err(|e| format!("it can't address an entry ({})", reason(&e)))?;
            if let Err(e) = credential.set_secret(canary.expose()) {
                // Part of it may have landed; leave nothing behind where that can be helped.
                let _ = credential.delete_credential();
                return Err(format!("it did not store a test entry ({})", reason(&e)));
            }
            let read = credential.get_secret().map(Secret::new);
            let deleted = credential.delete_credential();
            match read {
                Ok(back) if back.expose() == canary.expose() => {}
                Ok(_) => return Err("it returned a different value for a test entry".to_owned()),
                Err(e) => return Err(format!("it did not return a test entry it had accepted ({})", reason(&e))),
            }
            deleted.map_err(|e| format!("it did not delete a test entry ({})", reason(&e)))
        }

        fn keyring_error(
            &self,
            action: &'static str,
            kind: SecretKind,
            id: Option<&str>,
            error: &keyring::Error,
        ) -> VaultError {
            VaultError::Keyring { backend: self.kind, action, kind, id: id.map(str::to_owned), reason: reason(error) }
        }

        /// The ids of `kind`, from memory after the first read.
        fn index(&mut self, kind: SecretKind) -> Result<&BTreeSet<String>, VaultError> {
            if !self.indexes.contains_key(&kind) {
                let ids = self.read_index(kind)?;
                self.indexes.insert(kind, ids);
            }
            Ok(self.indexes.entry(kind).or_default())
        }

        fn read_index(&self, kind: SecretKind) -> Result<BTreeSet<String>, VaultError> {
            let user = index_user(kind);
            let found = self.credential(&user).and_then(|credential| credential.get_secret());
            match found {
                Ok(bytes) => {
                    serde_json::from_slice(&bytes).map_err(|_| VaultError::CorruptIndex { backend: self.kind, kind })
                }
                Err(keyring::Error::NoEntry) => Ok(BTreeSet::new()),
                Err(e) => Err(self.keyring_error("read", kind, None, &e)),
            }
        }

        /// Stores `ids` as the index of `kind`; an empty list deletes the index entry.
        fn write_index(&self, kind: SecretKind, ids: &BTreeSet<String>) -> Result<(), VaultError> {
            let credential =
                self.credential(&index_user(kind)).map_err(|e| self.keyring_error("update", kind, None, &e))?;
            let written = if ids.is_empty() {
                match credential.delete_credential() {
                    Err(keyring::Error::NoEntry) => Ok(()),
                    other => other,
                }
            } else {
                let bytes =
                    serde_json::to_vec(ids).map_err(|_| VaultError::CorruptIndex { backend: self.kind, kind })?;
                credential.set_secret(&bytes)
            };
            written.map_err(|e| self.keyring_error("update", kind, None, &e))
        }
    }

    impl Store for KeyringStore {
        fn put(&mut self, kind: SecretKind, id: &str, value: &[u8]) -> Result<(), VaultError> {
            self.credential(&entry_user(kind, id))
                .and_then(|credential| credential.set_secret(value))
                .map_err(|e| self.keyring_error("save", kind, Some(id), &e))?;
            if !self.index(kind)?.contains(id) {
                let mut ids = self.index(kind)?.clone();
                ids.insert(id.to_owned());
                self.write_index(kind, &ids)?;
                self.indexes.insert(kind, ids);
            }
            Ok(())
        }

        fn get(&mut self, kind: SecretKind, id: &str) -> Result<Option<Secret<Vec<u8>>>, VaultError> {
            if !self.index(kind)?.contains(id) {
                return Ok(None);
            }
            let found = self.credential(&entry_user(kind, id)).and_then(|credential| credential.get_secret());
            match found {
                Ok(bytes) => Ok(Some(Secret::new(bytes))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(self.keyring_error("read", kind, Some(id), &e)),
            }
        }

        fn delete(&mut self, kind: SecretKind, id: &str) -> Result<(), VaultError> {
            let deleted = self.credential(&entry_user(kind, id)).and_then(|credential| credential.delete_credential());
            match deleted {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(self.keyring_error("delete", kind, Some(id), &e)),
            }
            if self.index(kind)?.contains(id) {
                let mut ids = self.index(kind)?.clone();
                ids.remove(id);
                self.write_index(kind, &ids)?;
                self.indexes.insert(kind, ids);
            }
            Ok(())
        }

        fn list(&mut self, kind: SecretKind) -> Result<Vec<String>, VaultError> {
            Ok(self.index(kind)?.iter().cloned().collect())
        }
    }

    /// Keyutils only works for a process with a session keyring of its own (a login session via
    /// pam_keyinit, or `keyctl session`). Without one the kernel falls back to the user's default
    /// session keyring `_uid_ses.<uid>`: keys added there can't be read back, and the first
    /// keyring call of each thread quietly gives that thread a private session keyring, so a
    /// probe can pass in one thread while the entries stay out of reach of every other thread
    /// and of the next run. Such a process is refused before probing.
    #[cfg(target_os = "linux")]
    pub(super) fn check_session_keyring() -> Result<(), String> {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .and_then(|keyring| keyring.metadata())
            .map_err(|e| format!("this process's session keyring can't be read ({e})"))?;
        if session.get_description().starts_with("_uid_ses.") {
            return Err("this process has no session keyring of its own (it was not started \
                        from a login session)"
                .to_owned());
        }
        Ok(())
    }

    fn entry_user(kind: SecretKind, id: &str) -> String {
        format!("{}/{id}", kind.slug())
    }

    fn index_user(kind: SecretKind) -> String {
        format!("index/{}", kind.slug())
    }

    /// What went wrong, in words, without anything a keyring error may carry about a value
    /// (`BadEncoding` holds the stored bytes).
    fn reason(error: &keyring::Error) -> String {
        match error {
            keyring::Error::PlatformFailure(e) => format!("the system said: {e}"),
            keyring::Error::NoStorageAccess(e) => {
                format!("the store is locked or access was refused: {e}")
            }
            keyring::Error::NoEntry => "there is no such entry".to_owned(),
            keyring::Error::BadEncoding(_) => "a stored value has an unexpected encoding".to_owned(),
            keyring::Error::TooLong(what, limit) => {
                format!("the {what} is longer than this store allows ({limit})")
            }
            keyring::Error::Invalid(what, why) => format!("the {what} was refused: {why}"),
            keyring::Error::Ambiguous(matches) => {
                format!("{} entries match where one was expected", matches.len())
            }
            _ => "the store failed in a way this app does not know".to_owned(),
        }
    }
}
