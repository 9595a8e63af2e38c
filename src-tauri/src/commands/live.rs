//! The live channel (kind `live` in the command table of `ipc-types`): the home's events, pushed
//! to the window as they happen (no polling).

use ipc_types::{LiveEvent, Topic};
use tauri::ipc::Channel;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use super::{Reply, Shell};

/// `live_subscribe`: forward every [`LiveEvent`] to `on_event` until the window subscribes
/// again (the new channel replaces this one) or the app stops.
#[tauri::command]
pub async fn live_subscribe(shell: Shell<'_>, on_event: Channel<LiveEvent>) -> Reply<()> {
    let events = shell.home().await?.events();
    let task = tauri::async_runtime::spawn(forward(events, move |event| on_event.send(event).is_ok()));
    let previous = shell.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(task);
    if let Some(previous) = previous {
        previous.abort();
    }
    Ok(())
}

/// Hands each event to `send` until it returns `false` or the home closes the stream. Events
/// missed because the window fell behind become one "re-fetch everything".
pub(crate) async fn forward(mut events: Receiver<LiveEvent>, mut send: impl FnMut(LiveEvent) -> bool) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the window fell behind on live events; it re-reads every page");
                LiveEvent::Changed { topics: Topic::ALL.to_vec() }
            }
            Err(RecvError::Closed) => return,
        };
        if !send(event) {
            tracing::info!("live channel closed by the window");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast;

    #[tokio::test]
    async fn events_are_forwarded_in_order_and_lag_becomes_a_full_refresh() {
        let (tx, rx) = broadcast::channel(2);
        // Three events into a channel of two: the first is lost before the forwarder runs.
        for i in 0..3 {
            tx.send(LiveEvent::Value { agent: "a".into(), path: "Device.X".into(), value: i.to_string() })
                .expect("a receiver exists");
        }
        drop(tx);
        let mut seen = Vec::new();
        forward(rx, |event| {
            seen.push(event);
            true
        })
        .await;
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0], LiveEvent::Changed { topics: Topic::ALL.to_vec() });
        assert_eq!(seen[1], LiveEvent::Value { agent: "a".into(), path: "Device.X".into(), value: "1".into() });
        assert_eq!(seen[2], LiveEvent::Value { agent: "a".into(), path: "Device.X".into(), value: "2".into() });
    }

    #[tokio::test]
    async fn a_closed_window_stops_the_forwarder() {
        let (tx, rx) = broadcast::channel(8);
        for _ in 0..3 {
            tx.send(LiveEvent::Changed { topics: vec![Topic::Home] }).expect("a receiver exists");
        }
        let mut calls = 0;
        // The sender stays alive: only the window's refusal can end this.
        forward(rx, |_| {
            calls += 1;
            false
        })
        .await;
        assert_eq!(calls, 1);
        drop(tx);
    }
}
