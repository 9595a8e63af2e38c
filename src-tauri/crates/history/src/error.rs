//! Errors and the notes the store hands back when it opens.

use std::path::PathBuf;

/// Something the history store could not do. Each has words a person can read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation (disk full, permissions, a bug).
    #[error("the history database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data folder or the database file could not be used.
    #[error("the history folder {path} could not be used: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file was written by a newer usp-home; it is left untouched.
    #[error(
        "the history file was written by a newer version of usp-home (schema {found}, this one \
         reads up to {supported}); it was left as it is"
    )]
    NewerSchema {
        /// The file's schema version.
        found: u32,
        /// The newest version this code reads.
        supported: u32,
    },
    /// A query asked for more buckets than a chart can use.
    #[error("a history query asked for {asked} points; at most {max} are returned")]
    RangeTooLarge {
        /// The number of buckets the range and step give.
        asked: u64,
        /// The limit.
        max: u64,
    },
    /// The store's thread is gone (the handle was used after a fatal error or shutdown).
    #[error("the history store is closed")]
    Closed,
}

/// A result of the history store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What happened when the store was opened: the app shows anything but [`OpenNote::Opened`] and
/// [`OpenNote::Created`] to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenNote {
    /// A new, empty history file was created.
    Created,
    /// The existing file was opened as it was.
    Opened,
    /// The existing file was upgraded to the current schema; its data is kept.
    Migrated {
        /// The file's schema version before.
        from: u32,
        /// The schema version now.
        to: u32,
    },
    /// The existing file was damaged: it was moved aside and a fresh, empty history started.
    Recovered {
        /// Where the damaged file is now (kept for inspection; safe to delete).
        moved_to: PathBuf,
        /// What was wrong with it, in SQLite's words.
        reason: String,
    },
}

impl OpenNote {
    /// A sentence for the user, or `None` when there is nothing worth saying.
    pub fn message(&self) -> Option<String> {
        match self {
            OpenNote::Created | OpenNote::Opened => None,
            OpenNote::Migrated { from, to } => {
                Some(format!("The usage history was upgraded (format {from} to {to}); nothing was lost."))
            }
            OpenNote::Recovered { moved_to, reason } => Some(format!(
                "The usage history file was damaged ({reason}). It was moved aside to {} and a \
                 new, empty history was started.",
                moved_to.display()
            )),
        }
    }
}
