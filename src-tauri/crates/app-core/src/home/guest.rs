//! `impl Home` for the guest use-cases (SKELETON: bodies to be written).

use ipc_types::{GuestEnable, GuestMark, GuestPassphrase, GuestView};

use super::{AppError, AppResult, Home};

impl Home {
    /// `guest` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn guest(&self) -> AppResult<GuestView> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `guest_enable` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn guest_enable(&self, args: GuestEnable) -> AppResult<GuestView> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `guest_passphrase` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn guest_passphrase(&self, args: GuestPassphrase) -> AppResult<GuestView> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `guest_mark` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn guest_mark(&self, args: GuestMark) -> AppResult<GuestView> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
