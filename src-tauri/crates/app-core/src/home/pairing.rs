//! `impl Home` for the pairing use-cases (SKELETON: bodies to be written).

use ipc_types::{AgentArgs, PairingDone, PairingPrompt, PairingSubmit};

use super::{AppError, AppResult, Home};

impl Home {
    /// `pairing_start` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn pairing_start(&self, args: AgentArgs) -> AppResult<PairingPrompt> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `pairing_submit` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn pairing_submit(&self, args: PairingSubmit) -> AppResult<PairingDone> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
