//! A device's WiFi signal and when it was online, the last 24 hours or 7 days, beside its usage
//! chart on the Devices page; "last seen …" when it is offline.

use ipc_types::{DeviceHistory, DeviceHistoryArgs, HistorySpan, Topic};
use leptos::prelude::*;

use crate::api;
use crate::components::chart::{chart_frame, period_tabs, Chart};
use crate::ipc;
use crate::model::chart::{online_plot, signal_plot};
use crate::model::format::{ago_secs, signal};
use crate::state::use_view;

/// The signal and online charts of the device `mac` (`m`: its id in the page).
#[component]
pub fn DeviceHistoryCharts(mac: String, m: String) -> impl IntoView {
    let span = RwSignal::new(HistorySpan::Day);
    let data =
        use_view(Topic::History, move || api::device_history(DeviceHistoryArgs { mac: mac.clone(), span: span.get() }));
    let tabs = period_tabs(
        span,
        "history",
        &m,
        &[(HistorySpan::Day, "day", "24 hours"), (HistorySpan::Week, "week", "7 days")],
    );
    chart_frame(format!("history-{m}"), tabs, data, move |h| history_view(h, &m))
}

fn history_view(h: DeviceHistory, m: &str) -> AnyView {
    if let Some(problem) = h.problem.clone() {
        return view! { <p class="notice">{problem}</p> }.into_any();
    }
    let now_ms = ipc::now_ms() as i64;
    let period = match h.span {
        HistorySpan::Day => "the last 24 hours",
        HistorySpan::Week => "the last 7 days",
    };
    let presence = if h.online_now {
        "Online now".to_owned()
    } else {
        match h.last_seen_ms {
            Some(t) => format!("Offline · last seen {}", ago_secs(t / 1000, now_ms / 1000)),
            None => "Not seen yet".to_owned(),
        }
    };
    let online_ms: i64 = h
        .online
        .iter()
        .map(|p| p.end_ms.unwrap_or(now_ms).min(h.to_ms) - p.start_ms.max(h.from_ms))
        .filter(|d| *d > 0)
        .sum();
    let online = if h.online.is_empty() {
        view! { <p class="muted small">{format!("Not online in {period} (as far as usp-home saw: it records while it runs).")}</p> }
            .into_any()
    } else {
        let plot = online_plot(&h.online, h.from_ms, h.to_ms, now_ms);
        let label = format!("Online {} in {period}", duration(online_ms));
        view! {
            <Chart plot=plot id=format!("online-chart-{m}") label=label.clone() class="online" />
            <p class="muted small">{label}</p>
        }
        .into_any()
    };
    let signal_part = match h.signal.last() {
        None => view! {
            <p class="muted small">{format!("No WiFi signal recorded in {period}: a wired device, or usp-home has not seen it on WiFi yet.")}</p>
        }
        .into_any(),
        Some(last) => {
            let words = format!("Latest: {} ({:.0} dBm)", signal(last.avg_dbm.round() as i32), last.avg_dbm);
            let plot = signal_plot(&h.signal, h.from_ms, h.to_ms);
            let label = format!("WiFi signal over {period}; {words}");
            view! {
                <Chart plot=plot id=format!("signal-chart-{m}") label=label class="signal" />
                <p class="muted small">{words}</p>
            }
            .into_any()
        }
    };
    view! {
        <h4 class="chart-title">"Online"</h4>
        <p id=format!("last-seen-{m}") class="small"><strong>{presence}</strong></p>
        {online}
        <h4 class="chart-title">"WiFi signal"</h4>
        {signal_part}
    }
    .into_any()
}

/// `5 h 20 min`, `12 min`, `2 days 3 h`.
fn duration(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    match (mins / 1440, mins % 1440 / 60, mins % 60) {
        (0, 0, 0) => "less than a minute".to_owned(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}
