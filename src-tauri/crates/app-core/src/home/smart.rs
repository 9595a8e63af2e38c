//! `impl Home` for the smart use-cases (SKELETON: bodies to be written).

use ipc_types::{SmartHomeView, Thing, ThingSet};

use super::{AppError, AppResult, Home};

impl Home {
    /// `smart_home` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn smart_home(&self) -> AppResult<SmartHomeView> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `thing_set` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn thing_set(&self, args: ThingSet) -> AppResult<Thing> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
