//! Desktop notifications for what happens while the user looks elsewhere: a new device joined.

use ipc_types::LiveEvent;
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

use crate::state::Shell;

/// Raises a notification for each new device, for as long as the app runs (whether or not a
/// window listens). Failing to notify is logged, never shown as an error.
pub async fn new_devices(app: AppHandle, shell: &Shell) {
    let Ok(home) = shell.home().await else { return };
    crate::commands::live::forward(home.events(), |event| {
        if let Some((title, body)) = notification_for(&event) {
            if let Err(err) = app.notification().builder().title(title).body(body).show() {
                tracing::warn!(error = %err, "could not show a desktop notification");
            }
        }
        true
    })
    .await;
}

/// Title and text of the notification for `event`, if it deserves one.
fn notification_for(event: &LiveEvent) -> Option<(String, String)> {
    let LiveEvent::DeviceJoined { mac, name, .. } = event else { return None };
    let who = if name.trim().is_empty() { format!("A device ({mac})") } else { name.trim().to_owned() };
    Some(("New device on your network".to_owned(), format!("{who} joined your home network.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_devices_notify_and_nameless_ones_show_their_mac() {
        let joined = |name: &str| LiveEvent::DeviceJoined {
            mac: "02:00:00:00:00:42".into(),
            name: name.into(),
            agent: "os::012345-GW0001".into(),
        };
        let (title, body) = notification_for(&joined("Anna's phone")).expect("a new device notifies");
        assert_eq!(title, "New device on your network");
        assert_eq!(body, "Anna's phone joined your home network.");
        let (_, body) = notification_for(&joined(" ")).expect("a new device notifies");
        assert_eq!(body, "A device (02:00:00:00:00:42) joined your home network.");
        assert_eq!(notification_for(&LiveEvent::Changed { topics: vec![] }), None);
    }
}
