//! Usage charts: a device's (Devices page) or the whole home's (home page) downloads and uploads
//! today by hour, or the last 7 or 30 days by day, from the history kept on this computer. Read
//! again whenever the history grows (the `History` live topic), never by polling.

use ipc_types::{DeviceUsage, DeviceUsageArgs, HomeUsageArgs, Topic, UsageRange};
use leptos::prelude::*;

use crate::api;
use crate::components::chart::{chart_frame, period_tabs, Chart, DownUpKey};
use crate::model::chart::usage_plot;
use crate::model::format::bytes;
use crate::state::use_view;

/// The usage chart of the device `mac`, or of the whole home when `mac` is `None` (`m`: its id
/// in the page, `home` for the home).
#[component]
pub fn UsageChart(mac: Option<String>, m: String) -> impl IntoView {
    let range = RwSignal::new(UsageRange::Today);
    let data = use_view(Topic::History, move || {
        let (mac, range) = (mac.clone(), range.get());
        async move {
            match mac {
                Some(mac) => api::device_usage(DeviceUsageArgs { mac, range }).await,
                // The home's total in the device chart's shape (no MAC).
                None => api::home_usage(HomeUsageArgs { range }).await.map(|h| DeviceUsage {
                    mac: String::new(),
                    range: h.range,
                    bars: h.bars,
                    total_down: h.total_down,
                    total_up: h.total_up,
                    collecting: h.collecting,
                    problem: h.problem,
                }),
            }
        }
    });
    let tabs = period_tabs(
        range,
        "usage",
        &m,
        &[
            (UsageRange::Today, "today", "Today"),
            (UsageRange::Week, "week", "7 days"),
            (UsageRange::Month, "month", "30 days"),
        ],
    );
    chart_frame(format!("usage-{m}"), tabs, data, move |u| usage_view(u, &m))
}

fn usage_view(usage: DeviceUsage, m: &str) -> AnyView {
    if let Some(problem) = usage.problem.clone() {
        return view! { <p class="notice">{problem}</p> }.into_any();
    }
    let empty = usage.total_down == 0 && usage.total_up == 0;
    let total = format!("↓ {} down · ↑ {} up", bytes(usage.total_down), bytes(usage.total_up));
    let label = format!("Usage chart, {} bars; {total}", usage.bars.len());
    let chart = (!empty).then(|| {
        let plot = usage_plot(&usage.bars, usage.range);
        view! { <Chart plot=plot id=format!("usage-chart-{m}") label=label class="usage" /> }
    });
    view! {
        <p id=format!("usage-total-{m}") class="small chart-head"><strong>{total}</strong> <DownUpKey /></p>
        {chart}
        <p class="muted small">
            {empty.then_some("No usage recorded for this period yet: usp-home records while it runs. ")}
            {usage.collecting.clone()}
        </p>
    }
    .into_any()
}
