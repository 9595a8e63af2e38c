//! Desktop notifications for the alerts of the home (`app_core::alerts`): a new device joined,
//! a followed device arrived or left, a device offline for long, a restart, a slow speed test.
//! app-core decides what to tell, rate-limits and coalesces it (a burst of new devices, or an
//! agent that makes them up, gives one "3 new devices joined…"), and cleans and cuts the names
//! agents report; this shows what it tells.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;

use crate::state::Shell;

/// Shows the home's alerts as notifications, for as long as the app runs (whether or not a
/// window listens). Failing to notify is logged, never shown as an error.
pub async fn alerts(app: AppHandle, shell: &Shell) {
    let Ok(home) = shell.home().await else { return };
    let mut alerts = home.alert_events();
    loop {
        match alerts.recv().await {
            Ok(alert) => {
                if let Err(err) = app.notification().builder().title(&alert.title).body(&alert.text).show() {
                    tracing::warn!(error = %err, "could not show a desktop notification");
                }
            }
            // Missed alerts are in "Recent alerts"; they are not worth a notification each.
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
