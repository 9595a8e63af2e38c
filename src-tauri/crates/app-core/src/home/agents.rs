//! `impl Home` for the agents use-cases (SKELETON: bodies to be written).

use ipc_types::{AgentArgs, AgentSummary, HomeView, TrustArgs};

use super::{AppError, AppResult, Home};

impl Home {
    /// `home` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn home(&self) -> AppResult<HomeView> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `trust_agent` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn trust_agent(&self, args: TrustArgs) -> AppResult<AgentSummary> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `forget_agent` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn forget_agent(&self, args: AgentArgs) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
