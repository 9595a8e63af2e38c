//! `impl Home` for the settings use-cases (SKELETON: bodies to be written).

use ipc_types::{AgentArgs, SetInterfaces, SetTheme, Settings};

use super::{AppError, AppResult, Home};

impl Home {
    /// `settings` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn settings(&self) -> AppResult<Settings> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `settings_interfaces` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn settings_interfaces(&self, args: SetInterfaces) -> AppResult<Settings> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `settings_theme` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn settings_theme(&self, args: SetTheme) -> AppResult<Settings> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `trust_forget` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn trust_forget(&self, args: AgentArgs) -> AppResult<Settings> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
