//! The encrypted-file store, for systems without a working keyring.
//!
//! One file, [`VAULT_FILE_NAME`](super::VAULT_FILE_NAME) in the data folder, rewritten whole on
//! every change (write to a temporary file, flush, rename over the old one; mode 0600 on Unix):
//!
//! ```text
//! offset  size  field
//!      0     8  magic "USPHVLT\0"
//!      8     1  format version (1)
//!      9    12  Argon2id memory (KiB), iterations, lanes: u32 little-endian each
//!     21    16  salt
//!     37    32  passphrase check: second half of the 64-byte Argon2id output
//!     69    24  XChaCha20-Poly1305 nonce, new for every write
//!     93     -  ciphertext + 16-byte tag; associated data = bytes 0..69
//! ```
//!
//! The first half of the Argon2id output is the encryption key. The check value tells a wrong
//! passphrase (check differs: nothing is changed) from a damaged file (check matches but the tag
//! does not). The plaintext is `u32 count` then, per entry, `u8 kind, u16 id length, id,
//! u32 value length, value` (little-endian); ids are encrypted too.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::{SecretKind, Store, VaultError, VAULT_FILE_NAME};
use crate::secret::Secret;

const MAGIC: &[u8; 8] = b"USPHVLT\0";
const FORMAT_VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 32;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN + CHECK_LEN;

/// Argon2id cost for new files (OWASP's first recommendation: 19 MiB, 2 passes, 1 lane).
const NEW_FILE_COST: KdfCost = KdfCost { memory_kib: 19 * 1024, iterations: 2, lanes: 1 };
/// The most a file header may ask for, so a crafted file can't exhaust memory or time.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_LANES: u32 = 16;

type Entries = BTreeMap<(SecretKind, String), Secret<Vec<u8>>>;

#[derive(Clone, Copy)]
struct KdfCost {
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
}

pub(super) struct FileStore {
    path: PathBuf,
    header: [u8; HEADER_LEN],
    key: Zeroizing<[u8; KEY_LEN]>,
    entries: Entries,
}

impl FileStore {
    /// Opens the vault file in `data_dir`, or creates an empty one (and the folder).
    pub(super) fn open(data_dir: &Path, passphrase: &Secret<String>) -> Result<Self, VaultError> {
        if passphrase.expose().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        create_private_dir(data_dir)?;
        let path = data_dir.join(VAULT_FILE_NAME);
        match fs::read(&path) {
            Ok(bytes) => Self::unlock(path, &bytes, passphrase),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(path, passphrase),
            Err(e) => Err(VaultError::io("read the vault file", path, e)),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn create(path: PathBuf, passphrase: &Secret<String>) -> Result<Self, VaultError> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let cost = NEW_FILE_COST;
        let derived = derive(passphrase, &salt, cost).ok_or_else(|| VaultError::CorruptFile {
            path: path.clone(),
            problem: "the key-derivation settings are impossible",
        })?;
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8] = FORMAT_VERSION;
        header[9..13].copy_from_slice(&cost.memory_kib.to_le_bytes());
        header[13..17].copy_from_slice(&cost.iterations.to_le_bytes());
        header[17..21].copy_from_slice(&cost.lanes.to_le_bytes());
        header[21..21 + SALT_LEN].copy_from_slice(&salt);
        header[21 + SALT_LEN..].copy_from_slice(&derived[KEY_LEN..]);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&derived[..KEY_LEN]);
        let store = Self { path, header, key, entries: Entries::new() };
        store.write(&store.entries)?;
        Ok(store)
    }

    fn unlock(path: PathBuf, bytes: &[u8], passphrase: &Secret<String>) -> Result<Self, VaultError> {
        let corrupt = |problem| VaultError::CorruptFile { path: path.clone(), problem };
        if bytes.len() < MAGIC.len() + 1 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt("it is not a usp-home vault file"));
        }
        let version = bytes[MAGIC.len()];
        if version > FORMAT_VERSION {
            return Err(VaultError::UnsupportedFileVersion { path, version });
        }
        if version != FORMAT_VERSION {
            return Err(corrupt("its format number is invalid"));
        }
        if bytes.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
            return Err(corrupt("it is cut short"));
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&bytes[..HEADER_LEN]);
        let cost = KdfCost {
            memory_kib: le_u32(&header[9..13]),
            iterations: le_u32(&header[13..17]),
            lanes: le_u32(&header[17..21]),
        };
        if cost.memory_kib > MAX_MEMORY_KIB || cost.iterations > MAX_ITERATIONS || cost.lanes > MAX_LANES {
            return Err(corrupt("the key-derivation settings are out of range"));
        }
        let salt = &header[21..21 + SALT_LEN];
        let derived =
            derive(passphrase, salt, cost).ok_or_else(|| corrupt("the key-derivation settings are impossible"))?;
        if !same_bytes(&derived[KEY_LEN..], &header[21 + SALT_LEN..]) {
            return Err(VaultError::WrongPassphrase { path });
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&derived[..KEY_LEN]);

        let nonce = XNonce::from_slice(&bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let plain = cipher
            .decrypt(nonce, Payload { msg: &bytes[HEADER_LEN + NONCE_LEN..], aad: &header })
            .map(Zeroizing::new)
            .map_err(|_| corrupt("its contents don't match their authentication tag"))?;
        let entries = decode(&plain).ok_or_else(|| corrupt("its list of entries is malformed"))?;
        restrict_permissions(&path)?;
        Ok(Self { path, header, key, entries })
    }

    /// Encrypts `entries` under a fresh nonce and replaces the file atomically.
    fn write(&self, entries: &Entries) -> Result<(), VaultError> {
        let plain = encode(entries);
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(self.key.as_ref().into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: &self.header })
            // Only fails for plaintexts beyond 256 GiB.
            .map_err(|_| VaultError::io("encrypt", &self.path, io::Error::other("too large")))?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&self.header);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        replace_file(&self.path, &bytes)
    }

    /// Writes `change(entries)` to disk, then keeps it; on a failed write nothing changes.
    fn commit(&mut self, change: impl FnOnce(&mut Entries)) -> Result<(), VaultError> {
        let mut next = self.entries.clone();
        change(&mut next);
        self.write(&next)?;
        self.entries = next;
        Ok(())
    }
}

impl Store for FileStore {
    fn put(&mut self, kind: SecretKind, id: &str, value: &[u8]) -> Result<(), VaultError> {
        self.commit(|entries| {
            entries.insert((kind, id.to_owned()), Secret::from_slice(value));
        })
    }

    fn get(&mut self, kind: SecretKind, id: &str) -> Result<Option<Secret<Vec<u8>>>, VaultError> {
        Ok(self.entries.get(&(kind, id.to_owned())).cloned())
    }

    fn delete(&mut self, kind: SecretKind, id: &str) -> Result<(), VaultError> {
        if !self.entries.contains_key(&(kind, id.to_owned())) {
            return Ok(());
        }
        self.commit(|entries| {
            entries.remove(&(kind, id.to_owned()));
        })
    }

    fn list(&mut self, kind: SecretKind) -> Result<Vec<String>, VaultError> {
        Ok(self.entries.keys().filter(|(k, _)| *k == kind).map(|(_, id)| id.clone()).collect())
    }
}

/// 64 bytes of Argon2id output: key, then check value. `None` if `cost` is not valid Argon2.
fn derive(passphrase: &Secret<String>, salt: &[u8], cost: KdfCost) -> Option<Zeroizing<[u8; 64]>> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.lanes, Some(64)).ok()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 64]);
    argon2.hash_password_into(passphrase.expose().as_bytes(), salt, out.as_mut()).ok()?;
    Some(out)
}

/// Equal, in time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut four = [0u8; 4];
    four.copy_from_slice(bytes);
    u32::from_le_bytes(four)
}

fn kind_tag(kind: SecretKind) -> u8 {
    match kind {
        SecretKind::ControllerKey => 1,
        SecretKind::PinnedCert => 2,
        SecretKind::Passcode => 3,
        SecretKind::WifiPassphrase => 4,
        SecretKind::BrokerLogin => 5,
    }
}

fn kind_from_tag(tag: u8) -> Option<SecretKind> {
    SecretKind::ALL.into_iter().find(|k| kind_tag(*k) == tag)
}

fn encode(entries: &Entries) -> Zeroizing<Vec<u8>> {
    let size: usize = entries.iter().map(|((_, id), value)| 7 + id.len() + value.expose().len()).sum();
    let mut out = Zeroizing::new(Vec::with_capacity(4 + size));
    // Ids are at most MAX_ID_LEN bytes and values are far below 4 GiB: the casts can't truncate.
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for ((kind, id), value) in entries {
        out.push(kind_tag(*kind));
        out.extend_from_slice(&(id.len() as u16).to_le_bytes());
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&(value.expose().len() as u32).to_le_bytes());
        out.extend_from_slice(value.expose());
    }
    out
}

fn decode(mut bytes: &[u8]) -> Option<Entries> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Some(head)
    }
    let count = le_u32(take(&mut bytes, 4)?);
    let mut entries = Entries::new();
    for _ in 0..count {
        let kind = kind_from_tag(take(&mut bytes, 1)?[0])?;
        let id_len = take(&mut bytes, 2)?;
        let id_len = u16::from_le_bytes([id_len[0], id_len[1]]);
        let id = std::str::from_utf8(take(&mut bytes, usize::from(id_len))?).ok()?;
        let value_len = usize::try_from(le_u32(take(&mut bytes, 4)?)).ok()?;
        let value = Secret::from_slice(take(&mut bytes, value_len)?);
        entries.insert((kind, id.to_owned()), value);
    }
    bytes.is_empty().then_some(entries)
}

fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| VaultError::io("create the folder", dir, e))
}

/// Makes an existing vault file readable by its owner only (Unix); elsewhere a no-op.
fn restrict_permissions(path: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| VaultError::io("read the permissions of", path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(|e| VaultError::io("restrict the permissions of", path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let mut temp_name = path.file_name().unwrap_or_default().to_owned();
    temp_name.push(".tmp");
    let temp = path.with_file_name(temp_name);
    // A temporary file left by a crash may have any mode; start from a new one.
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(VaultError::io("remove the stale temporary file", temp, e)),
    }
    let written = write_new_private(&temp, bytes)
        .map_err(|e| VaultError::io("write", &temp, e))
        .and_then(|()| fs::rename(&temp, path).map_err(|e| VaultError::io("replace the vault file", path, e)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
        return written;
    }
    sync_parent(path);
    Ok(())
}

fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename durable where the platform allows syncing a directory; best effort.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        if let Ok(dir) = fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_encode_and_decode() {
        let mut entries = Entries::new();
        entries.insert((SecretKind::Passcode, "os::agent-1".to_owned()), Secret::from_slice(b"1234"));
        entries.insert((SecretKind::ControllerKey, "default".to_owned()), Secret::from_slice(&[0u8, 1, 2, 255]));
        let plain = encode(&entries);
        let back = decode(&plain).expect("decodes");
        assert_eq!(back.len(), 2);
        let key = &back[&(SecretKind::ControllerKey, "default".to_owned())];
        assert_eq!(key.expose(), &vec![0u8, 1, 2, 255]);
        assert!(decode(&plain[..plain.len() - 1]).is_none(), "truncated");
        let mut longer = plain.to_vec();
        longer.push(0);
        assert!(decode(&longer).is_none(), "trailing bytes");
    }

    #[test]
    fn kind_tags_round_trip() {
        for kind in SecretKind::ALL {
            assert_eq!(kind_from_tag(kind_tag(kind)), Some(kind));
        }
        assert_eq!(kind_from_tag(0), None);
    }
}
