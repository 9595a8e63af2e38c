//! Settings, "Alerts": which alerts are on (a new device, devices you follow arriving or
//! leaving, a device offline for long, a restart, a slow speed test), their thresholds, and the
//! recent alerts. The per-device "tell me when it arrives or leaves" is on the Devices page.

use ipc_types::{AlertSettings, AlertsView};
use leptos::prelude::*;

use crate::api;
use crate::components::ErrorNote;
use crate::model::format;
use crate::model::route::Page;
use crate::state::{use_app, use_view};

/// The card, loaded on its own (a failure here leaves the rest of Settings alone).
#[component]
pub fn Alerts() -> impl IntoView {
    let view = use_view(Page::Settings.topic(), api::alerts);
    let apply = Callback::new(move |v: AlertsView| view.set(Some(Ok(v))));
    view! {
        <article id="alerts" class="card">
            <h2>"Alerts"</h2>
            {move || match view.get() {
                Some(Ok(v)) => view! { <AlertsForm view=v apply=apply /> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            }}
        </article>
    }
}

/// Whole minutes of `secs` as typed text (at least 1).
fn minutes(secs: u64) -> String {
    (secs / 60).max(1).to_string()
}

/// Typed minutes (1 to `max`) as seconds.
fn parse_minutes(typed: &str, max: u64) -> Option<u64> {
    typed.trim().parse::<u64>().ok().filter(|m| (1..=max).contains(m)).map(|m| m * 60)
}

#[component]
fn AlertsForm(view: AlertsView, apply: Callback<AlertsView>) -> impl IntoView {
    let app = use_app();
    let s = view.settings.clone();
    let new_device = RwSignal::new(s.new_device);
    let arrive_leave = RwSignal::new(s.arrive_leave);
    let offline = RwSignal::new(s.offline);
    let restarted = RwSignal::new(s.restarted);
    let slow = RwSignal::new(s.slow_speed);
    let away = RwSignal::new(minutes(s.away_after_secs));
    let offline_after = RwSignal::new(minutes(s.offline_after_secs));
    let mbps = RwSignal::new(s.slow_below_mbps.to_string());
    let saving = RwSignal::new(false);
    let bad = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = (
            parse_minutes(&away.get_untracked(), 1440),
            parse_minutes(&offline_after.get_untracked(), 10_080),
            mbps.get_untracked().trim().parse::<u32>().ok().filter(|m| (1..=100_000).contains(m)),
        );
        let (Some(away_after_secs), Some(offline_after_secs), Some(slow_below_mbps)) = parsed else {
            bad.set(true);
            return;
        };
        bad.set(false);
        let settings = AlertSettings {
            new_device: new_device.get_untracked(),
            arrive_leave: arrive_leave.get_untracked(),
            away_after_secs,
            offline: offline.get_untracked(),
            offline_after_secs,
            restarted: restarted.get_untracked(),
            slow_speed: slow.get_untracked(),
            slow_below_mbps,
        };
        app.act(saving, api::alerts_set(settings), move |v: AlertsView| {
            apply.run(v);
            app.notify("Alert settings saved.");
        });
    };
    let check = |id: &'static str, label: &'static str, on: RwSignal<bool>| {
        view! {
            <label class="choice" for=id>
                <input id=id type="checkbox" prop:checked=move || on.get() on:change=move |ev| on.set(event_target_checked(&ev)) />
                <span>{label}</span>
            </label>
        }
    };
    let number = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label class="row small" for=id>
                <span>{label}</span>
                <input id=id class="num" type="text" inputmode="numeric" autocomplete="off"
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            </label>
        }
    };
    let watched = if view.watched.is_empty() {
        "You follow no device yet: press “Follow” on a device of the Devices page.".to_owned()
    } else {
        format!("You follow: {}.", view.watched.join(", "))
    };
    let now = (crate::ipc::now_ms() / 1000.0) as i64;
    view! {
        <p class="muted">"A notification on this computer when something happens at home, also while the window is closed."</p>
        <form class="inline-form" on:submit=save>
            {check("alert-new-device", "A new device joins the network", new_device)}
            {check("alert-arrive-leave", "A device I follow arrives or leaves", arrive_leave)}
            {number("alert-away-minutes", "It counts as gone after (minutes)", away)}
            <p id="alert-watched" class="muted small">{watched}</p>
            {check("alert-offline", "Any device is offline for long", offline)}
            {number("alert-offline-minutes", "Offline for (minutes)", offline_after)}
            {check("alert-restarted", "A router, extender or hub restarts", restarted)}
            {check("alert-slow", "A speed test is slow", slow)}
            {number("alert-slow-mbps", "Slower than (Mbit/s down)", mbps)}
            <Show when=move || bad.get()>
                <p id="alert-error" class="notice" role="alert">
                    "Minutes: 1 to 1440 for “gone”, up to 10080 (a week) for “offline”; speed: 1 to 100000 Mbit/s."
                </p>
            </Show>
            <div class="actions">
                <button id="alerts-save" type="submit" class="secondary" disabled=move || saving.get()>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
            </div>
        </form>
        <h3>"Recent alerts"</h3>
        {if view.recent.is_empty() {
            view! { <p id="alerts-recent-none" class="muted small">"None yet."</p> }.into_any()
        } else {
            view! {
                <ul id="alerts-recent" class="list small">
                    {view.recent.iter().take(20).map(|a| {
                        let when = format::ago_secs(a.at_ms / 1000, now);
                        view! { <li><strong>{a.title.clone()}</strong>{format!(" · {when}: {}", a.text)}</li> }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn minutes_as_typed() {
        assert_eq!(super::parse_minutes(" 30 ", 1440), Some(1800));
        assert_eq!(super::parse_minutes("0", 1440), None);
        assert_eq!(super::parse_minutes("2000", 1440), None);
        assert_eq!(super::minutes(30), "1");
        assert_eq!(super::minutes(7200), "120");
    }
}
