//! `impl Home` for the wifi use-cases (SKELETON: bodies to be written).

use ipc_types::{WifiEnable, WifiPassphrase, WifiRename, WifiView};

use super::{AppError, AppResult, Home};

impl Home {
    /// `wifi` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn wifi(&self) -> AppResult<WifiView> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `wifi_rename` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn wifi_rename(&self, args: WifiRename) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `wifi_enable` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn wifi_enable(&self, args: WifiEnable) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `wifi_passphrase` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn wifi_passphrase(&self, args: WifiPassphrase) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
