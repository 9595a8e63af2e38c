//! Desktop notifications for what happens while the user looks elsewhere: a new device joined.
//! They are rate-limited and coalesced ([`Coalescer`]): a burst of new devices (or an agent
//! that makes them up) gives one "3 new devices joined" rather than a notification each, and
//! the device names an agent reports are cleaned and cut before they are shown.

use std::time::Duration;

use app_core::home::device_text;
use ipc_types::LiveEvent;
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::state::Shell;

/// Title of every new-device notification.
const TITLE: &str = "New device on your network";
/// Longest device name shown.
const MAX_NAME_CHARS: usize = 40;

/// Raises notifications for new devices, for as long as the app runs (whether or not a window
/// listens). Failing to notify is logged, never shown as an error.
pub async fn new_devices(app: AppHandle, shell: &Shell) {
    let Ok(home) = shell.home().await else { return };
    let mut events = home.events();
    let mut limit = Coalescer::new(Coalescer::MIN_GAP);
    let show = |body: String| {
        if let Err(err) = app.notification().builder().title(TITLE).body(body).show() {
            tracing::warn!(error = %err, "could not show a desktop notification");
        }
    };
    loop {
        let due = limit.due();
        let event = tokio::select! {
            e = events.recv() => Some(e),
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => None,
        };
        let body = match event {
            None => limit.flush(Instant::now()),
            Some(Ok(event)) => who_joined(&event).and_then(|who| limit.offer(Instant::now(), who)),
            // Missed events are not worth a notification each: the window shows them.
            Some(Err(RecvError::Lagged(_))) => None,
            Some(Err(RecvError::Closed)) => return,
        };
        if let Some(body) = body {
            show(body);
        }
    }
}

/// Who the notification for `event` is about, cleaned for display, if it deserves one.
fn who_joined(event: &LiveEvent) -> Option<String> {
    let LiveEvent::DeviceJoined { mac, name, .. } = event else { return None };
    let name = clean(name, MAX_NAME_CHARS);
    Some(if name.is_empty() { format!("A device ({})", clean(mac, 17)) } else { name })
}

/// Device text for a notification: [`device_text`]'s rule, `max_chars` characters and then "…".
fn clean(text: &str, max_chars: usize) -> String {
    device_text(text, max_chars + 1)
}

/// At most one notification per `min_gap`: the first of a quiet period shows at once, the
/// ones that follow within the gap wait and then show together as one.
#[derive(Debug)]
pub(crate) struct Coalescer {
    min_gap: Duration,
    last_shown: Option<Instant>,
    /// Names waiting (the first few, for the text) and how many wait in all.
    waiting: Vec<String>,
    waiting_count: usize,
}

impl Coalescer {
    /// One notification per this much time at most.
    pub(crate) const MIN_GAP: Duration = Duration::from_secs(30);
    /// Names listed in a coalesced notification.
    const NAMES: usize = 2;

    pub(crate) fn new(min_gap: Duration) -> Self {
        Coalescer { min_gap, last_shown: None, waiting: Vec::new(), waiting_count: 0 }
    }

    /// A device joined at `now`: the text to show now, or `None` when it waits for [`Self::due`].
    pub(crate) fn offer(&mut self, now: Instant, who: String) -> Option<String> {
        if self.waiting_count == 0 && self.last_shown.is_none_or(|t| now.duration_since(t) >= self.min_gap) {
            self.last_shown = Some(now);
            return Some(format!("{who} joined your home network."));
        }
        if self.waiting.len() < Self::NAMES {
            self.waiting.push(who);
        }
        self.waiting_count = self.waiting_count.saturating_add(1);
        None
    }

    /// When the waiting ones may be shown.
    pub(crate) fn due(&self) -> Option<Instant> {
        (self.waiting_count > 0).then(|| self.last_shown.map_or_else(Instant::now, |t| t + self.min_gap))
    }

    /// The coalesced text of the waiting ones, once due.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<String> {
        if self.due().is_none_or(|due| now < due) {
            return None;
        }
        self.last_shown = Some(now);
        let count = std::mem::take(&mut self.waiting_count);
        let names = std::mem::take(&mut self.waiting);
        Some(match (count, names.as_slice()) {
            (1, [who]) => format!("{who} joined your home network."),
            (2, [a, b]) => format!("{a} and {b} joined your home network."),
            (n, [a, b]) => format!("{n} new devices joined your home network, among them {a} and {b}."),
            (n, _) => format!("{n} new devices joined your home network."),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(name: &str) -> LiveEvent {
        LiveEvent::DeviceJoined {
            mac: "02:00:00:00:00:42".into(),
            name: name.into(),
            agent: "os::012345-GW0001".into(),
        }
    }

    #[test]
    fn only_new_devices_notify_and_nameless_ones_show_their_mac() {
        assert_eq!(who_joined(&joined("Anna's phone")).as_deref(), Some("Anna's phone"));
        assert_eq!(who_joined(&joined(" ")).as_deref(), Some("A device (02:00:00:00:00:42)"));
        assert_eq!(who_joined(&LiveEvent::Changed { topics: vec![] }), None);
    }

    #[test]
    fn agent_names_are_cleaned_and_cut() {
        let who = who_joined(&joined("Evil\nINFO forged\u{202e} line")).expect("notifies");
        assert_eq!(who, "Evil INFO forged line");
        let long = who_joined(&joined(&"n".repeat(1 << 20))).expect("notifies");
        assert_eq!(long.chars().count(), MAX_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn a_flood_of_new_devices_is_rate_limited_and_coalesced() {
        let gap = Duration::from_secs(30);
        let mut c = Coalescer::new(gap);
        let t0 = Instant::now();
        let mut shown = Vec::new();
        // 10k devices within 10 s, then quiet: the first shows, the rest becomes one.
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i);
            if let Some(text) = c.flush(now) {
                shown.push(text);
            }
            if let Some(text) = c.offer(now, format!("Device {i}")) {
                shown.push(text);
            }
        }
        assert_eq!(shown, ["Device 0 joined your home network."]);
        assert_eq!(c.due(), Some(t0 + gap));
        assert_eq!(c.flush(t0 + gap - Duration::from_millis(1)), None, "not before the gap");
        assert_eq!(
            c.flush(t0 + gap).as_deref(),
            Some("9999 new devices joined your home network, among them Device 1 and Device 2.")
        );
        assert_eq!(c.due(), None);
        // Within the gap after that one: waits again; two waiting read as two names.
        assert_eq!(c.offer(t0 + gap + Duration::from_secs(1), "A".into()), None);
        assert_eq!(c.offer(t0 + gap + Duration::from_secs(2), "B".into()), None);
        assert_eq!(c.flush(t0 + gap * 2).as_deref(), Some("A and B joined your home network."));
        // After a quiet gap the next one shows at once.
        assert_eq!(c.offer(t0 + gap * 4, "C".into()).as_deref(), Some("C joined your home network."));
    }
}
