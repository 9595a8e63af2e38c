//! One typed function per shell command; pages call these, never `ipc` directly.

use ipc_types::{AppInfo, GetAppInfo, IpcError, NoArgs};

use crate::ipc;

/// Name and version of the running app.
///
/// # Errors
/// See [`ipc::invoke`]; `code::NO_SHELL` in a plain browser.
pub async fn app_info() -> Result<AppInfo, IpcError> {
    ipc::invoke::<GetAppInfo>(&NoArgs {}).await
}
