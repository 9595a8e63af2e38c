//! A device's usage chart on the Devices page: downloads and uploads today by hour, or the last
//! 7 or 30 days by day, from the history kept on this computer.

use ipc_types::{DeviceUsage, DeviceUsageArgs, UsageRange};
use leptos::prelude::*;

use crate::api;
use crate::components::ErrorNote;
use crate::model::format::bytes;
use crate::model::usage::{label, labelled, layout};

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;
/// How often an open chart reads the history again.
const REFRESH_SECS: u64 = 5;

/// The chart of the device `mac` (`m`: its id in the page).
#[component]
pub fn UsageChart(mac: String, m: String) -> impl IntoView {
    let range = RwSignal::new(UsageRange::Today);
    let data = LocalResource::new(move || {
        let args = DeviceUsageArgs { mac: mac.clone(), range: range.get() };
        api::device_usage(args)
    });
    // The history grows while the chart is open: read it again now and then.
    if let Ok(every) = set_interval_with_handle(move || data.refetch(), std::time::Duration::from_secs(REFRESH_SECS)) {
        on_cleanup(move || every.clear());
    }
    let tab = move |r: UsageRange, text: &'static str, id: String| {
        view! {
            <button
                type="button"
                id=id
                class=move || if range.get() == r { "chip accent" } else { "chip" }
                aria-pressed=move || if range.get() == r { "true" } else { "false" }
                on:click=move |_| range.set(r)
            >
                {text}
            </button>
        }
    };
    let id = format!("usage-{m}");
    view! {
        <div id=id class="usage">
            <div class="row" role="group" aria-label="Period">
                {tab(UsageRange::Today, "Today", format!("usage-today-{m}"))}
                {tab(UsageRange::Week, "7 days", format!("usage-week-{m}"))}
                {tab(UsageRange::Month, "30 days", format!("usage-month-{m}"))}
            </div>
            {move || match data.get() {
                None => view! { <p class="muted small">"Loading…"</p> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                Some(Ok(u)) => view! { <Chart usage=u m=m.clone() /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn Chart(usage: DeviceUsage, m: String) -> impl IntoView {
    if let Some(problem) = usage.problem.clone() {
        return view! { <p class="notice">{problem}</p> }.into_any();
    }
    let bars = layout(&usage.bars, usage.range, WIDTH, HEIGHT);
    let labels: Vec<(f64, String)> = labelled(usage.bars.len())
        .into_iter()
        .filter_map(|i| Some((bars.get(i)?.x + bars.get(i)?.width / 2.0, label(usage.bars[i].start_ms, usage.range))))
        .collect();
    let total = format!("↓ {} down · ↑ {} up", bytes(usage.total_down), bytes(usage.total_up));
    let empty = usage.total_down == 0 && usage.total_up == 0;
    let aria = format!("Usage chart, {} bars", bars.len());
    view! {
        <p id=format!("usage-total-{m}") class="small"><strong>{total}</strong></p>
        <svg
            id=format!("usage-chart-{m}")
            class="usage-chart"
            viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 16.0)
            role="img"
            aria-label=aria
        >
            <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="axis" />
            {bars
                .into_iter()
                .map(|b| {
                    view! {
                        <g class="bar">
                            <title>{b.title.clone()}</title>
                            <rect class="down" x=b.x y=b.down_y width=b.width height=b.down_h />
                            <rect class="up" x=b.x y=b.up_y width=b.width height=b.up_h />
                        </g>
                    }
                })
                .collect_view()}
            {labels
                .into_iter()
                .map(|(x, t)| view! { <text x=x y=HEIGHT + 12.0 text-anchor="middle" class="tick">{t}</text> })
                .collect_view()}
        </svg>
        <p class="muted small">
            {if empty { "Nothing recorded yet for this period. " } else { "" }}
            {usage.collecting.clone()}
        </p>
    }
    .into_any()
}
