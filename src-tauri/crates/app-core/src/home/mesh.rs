//! `impl Home` for the mesh use-cases (SKELETON: bodies to be written).

use ipc_types::MeshView;

use super::{AppError, AppResult, Home};

impl Home {
    /// `mesh` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn mesh(&self) -> AppResult<MeshView> {
        Err(AppError::Unsupported("not built yet".into()))
    }
}
