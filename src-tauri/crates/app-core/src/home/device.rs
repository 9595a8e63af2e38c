//! `impl Home` for the device use-cases (SKELETON: bodies to be written).

use ipc_types::{AgentArgs, DeviceDetails, PingArgs, PingResult};

use super::{AppError, AppResult, Home};

impl Home {
    /// `device_details` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn device_details(&self, args: AgentArgs) -> AppResult<DeviceDetails> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `device_reboot` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn device_reboot(&self, args: AgentArgs) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `device_ping` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn device_ping(&self, args: PingArgs) -> AppResult<PingResult> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
