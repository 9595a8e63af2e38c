//! `impl Home` for the parental use-cases (SKELETON: bodies to be written).

use ipc_types::{Bedtime, BedtimeCreate, BedtimeDelete, ParentalView};

use super::{AppError, AppResult, Home};

impl Home {
    /// `parental` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn parental(&self) -> AppResult<ParentalView> {
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `bedtime_create` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn bedtime_create(&self, args: BedtimeCreate) -> AppResult<Bedtime> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }

    /// `bedtime_delete` (SKELETON).
    ///
    /// # Errors
    /// See [`AppError`].
    pub async fn bedtime_delete(&self, args: BedtimeDelete) -> AppResult<()> {
        let _ = args;
        Err(AppError::Unsupported("not built yet".into()))
    }
}
