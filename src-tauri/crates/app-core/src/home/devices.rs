//! `impl Home` for the devices use-cases (SKELETON: bodies to be written).

use ipc_types::{DevicePause, DeviceRename, DevicesView};

use super::{AppError, AppResult, Home};

impl Home {
    /// `devices` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn devices(&self) -> AppResult<DevicesView> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `device_rename` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn device_rename(&self, args: DeviceRename) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `device_pause` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn device_pause(&self, args: DevicePause) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `devices_seen` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn devices_seen(&self) -> AppResult<()> {
        Err(AppError::Unsupported("not built yet".into()))
    }
}
