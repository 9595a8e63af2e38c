//! `impl Home` for the explorer use-cases (SKELETON: bodies to be written).

use ipc_types::{ExploreArgs, ExplorerView, ParamSet};

use super::{AppError, AppResult, Home};

impl Home {
    /// `explore` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn explore(&self, args: ExploreArgs) -> AppResult<ExplorerView> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `param_set` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn param_set(&self, args: ParamSet) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
