//! What can go wrong with the vault, worded for the person who has to act on it.
//!
//! No variant holds secret bytes or a passphrase: the fields are ids, paths, backend names and
//! reasons that this crate wrote or that the platform gave about a *store* (never about a value),
//! so `Debug` and `Display` of every error are safe to log.

use std::path::PathBuf;

use super::{SecretKind, VaultBackendKind};

/// An error from [`Vault`](super::Vault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The passphrase does not open the existing vault file; the file was left as it was.
    #[error(
        "The vault passphrase is wrong. Enter the passphrase that was chosen when the vault \
         file {path} was created; the file was not changed."
    )]
    WrongPassphrase { path: PathBuf },

    /// An empty passphrase was given for the encrypted file.
    #[error(
        "The vault passphrase is empty. Choose a passphrase to keep secrets in an encrypted \
         file, or leave it unset to keep them in memory only."
    )]
    EmptyPassphrase,

    /// The encrypted file was asked for (by `prefer`) but no passphrase was given.
    #[error(
        "The encrypted vault file needs a passphrase (USP_HOME_VAULT_PASSPHRASE). Set one, or \
         let the app keep secrets in memory only."
    )]
    PassphraseRequired,

    /// The vault file opened with the right passphrase but its content is damaged, or it is not
    /// a usp-home vault at all.
    #[error(
        "The vault file {path} is damaged or was changed outside usp-home ({problem}). Restore it \
         from a backup, or move it aside to start an empty vault (agents will need pairing again)."
    )]
    CorruptFile { path: PathBuf, problem: &'static str },

    /// The vault file was written by a newer usp-home.
    #[error(
        "The vault file {path} was written by a newer version of usp-home (format {version}). \
         Update the app to open it."
    )]
    UnsupportedFileVersion { path: PathBuf, version: u8 },

    /// Reading or writing the vault file or its folder failed.
    #[error(
        "Could not {action} {path}: {source}. Check that the folder exists, that this user may \
         write to it and that the disk is not full."
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A store that was asked for (by `prefer`) is missing or did not keep a test entry.
    #[error("The {backend} can't be used here: {reason}.")]
    BackendUnavailable { backend: VaultBackendKind, reason: String },

    /// The platform keyring refused an operation on an entry (`id: Some`) or on the list of
    /// ids of a kind (`id: None`).
    #[error(
        "The {backend} could not {action} {}: {reason}. If the keyring is locked, unlock it and \
         try again.",
        entry_words(*.kind, .id.as_deref())
    )]
    Keyring { backend: VaultBackendKind, action: &'static str, kind: SecretKind, id: Option<String>, reason: String },

    /// The small list of ids that the vault keeps beside the secrets in a keyring is unreadable.
    #[error(
        "The list of saved {kind} entries in the {backend} is damaged. Forget and save the \
         {kind} entries again to rebuild it."
    )]
    CorruptIndex { backend: VaultBackendKind, kind: SecretKind },

    /// The id is not one the vault can store under.
    #[error("The {kind} id {id:?} can't be used: {problem}.")]
    InvalidId { kind: SecretKind, id: String, problem: &'static str },

    /// An empty value was given to `put`.
    #[error("An empty {kind} can't be saved; there is nothing to keep.")]
    EmptySecret { kind: SecretKind },
}

impl VaultError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }
}

fn entry_words(kind: SecretKind, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("the {kind} for {id:?}"),
        None => format!("the list of saved {kind} entries"),
    }
}
