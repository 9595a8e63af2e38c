//! The last resort: secrets in this process only, gone when the app exits.

use std::collections::BTreeMap;

use super::{SecretKind, Store, VaultError};
use crate::secret::Secret;

#[derive(Default)]
pub(super) struct MemoryStore {
    entries: BTreeMap<(SecretKind, String), Secret<Vec<u8>>>,
}

impl Store for MemoryStore {
    fn put(&mut self, kind: SecretKind, id: &str, value: &[u8]) -> Result<(), VaultError> {
        self.entries.insert((kind, id.to_owned()), Secret::from_slice(value));
        Ok(())
    }

    fn get(&mut self, kind: SecretKind, id: &str) -> Result<Option<Secret<Vec<u8>>>, VaultError> {
        Ok(self.entries.get(&(kind, id.to_owned())).cloned())
    }

    fn delete(&mut self, kind: SecretKind, id: &str) -> Result<(), VaultError> {
        self.entries.remove(&(kind, id.to_owned()));
        Ok(())
    }

    fn list(&mut self, kind: SecretKind) -> Result<Vec<String>, VaultError> {
        Ok(self.entries.keys().filter(|(k, _)| *k == kind).map(|(_, id)| id.clone()).collect())
    }
}
