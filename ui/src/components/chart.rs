//! The one view every chart uses: a [`Plot`]'s marks in an SVG stretched to the width, its labels
//! as text beside and under it (so they keep their size on a phone), and a legend. Positions are
//! set as style properties (`style:left`), which the app's content security policy allows, never
//! as inline `style` attributes, which it blocks.

use ipc_types::IpcError;
use leptos::prelude::*;

use crate::components::ErrorNote;
use crate::model::chart::{Mark, Plot, H, W};

/// Period buttons ("Today", "7 days"...) that set `value`; ids `<prefix>-<key>-<m>`.
pub fn period_tabs<T: Copy + PartialEq + Send + Sync + 'static>(
    value: RwSignal<T>,
    prefix: &'static str,
    m: &str,
    choices: &[(T, &'static str, &'static str)],
) -> AnyView {
    let buttons = choices
        .iter()
        .map(|&(r, key, text)| {
            view! {
                <button
                    type="button"
                    id=format!("{prefix}-{key}-{m}")
                    class=move || if value.get() == r { "chip accent" } else { "chip" }
                    aria-pressed=move || if value.get() == r { "true" } else { "false" }
                    on:click=move |_| value.set(r)
                >
                    {text}
                </button>
            }
        })
        .collect_view();
    view! { <div class="row" role="group" aria-label="Period">{buttons}</div> }.into_any()
}

/// The frame of a device's charts (`<div id=<id> class="usage">`): its period buttons (`tabs`),
/// then "Loading…", the error, or `render`'s view of the data.
pub fn chart_frame<T: Clone + 'static>(
    id: String,
    tabs: AnyView,
    data: LocalResource<Result<T, IpcError>>,
    render: impl Fn(T) -> AnyView + Send + 'static,
) -> AnyView {
    // The view itself is built once for every kind of data (not once per `T`).
    frame(id, tabs, Box::new(move || data.get().map(|r| r.map(&render))))
}

fn frame(id: String, tabs: AnyView, body: Box<dyn Fn() -> Option<Result<AnyView, IpcError>> + Send>) -> AnyView {
    view! {
        <div id=id class="usage">
            {tabs}
            {move || match body() {
                None => view! { <p class="muted small">"Loading…"</p> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                Some(Ok(view)) => view,
            }}
        </div>
    }
    .into_any()
}

/// A chart; `class` adds its look (`usage`, `signal`, `online`, `speed`); `label` is what a
/// screen reader says of it.
#[component]
pub fn Chart(plot: Plot, id: String, label: String, class: &'static str) -> impl IntoView {
    let Plot { marks, ticks, guides } = plot;
    view! {
        <figure id=id class=format!("chart {class}")>
            <div class="plot">
                <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label=label>
                    {marks
                        .into_iter()
                        .map(|m| match m {
                            Mark::Rect { x, y, w, h, class, title } => view! {
                                <rect class=class x=x y=y width=w height=h><title>{title}</title></rect>
                            }
                            .into_any(),
                            Mark::Path { d, class } => view! {
                                <path class=class d=d vector-effect="non-scaling-stroke" />
                            }
                            .into_any(),
                        })
                        .collect_view()}
                </svg>
                {guides
                    .into_iter()
                    .map(|g| view! {
                        <div class=if g.line { "guide line" } else { "guide zone" } style:top=format!("{:.2}%", g.at) aria-hidden="true">
                            {(!g.text.is_empty()).then(|| view! { <span>{g.text}</span> })}
                        </div>
                    })
                    .collect_view()}
            </div>
            <div class="ticks" aria-hidden="true">
                {ticks.into_iter().map(|t| view! { <span style:left=format!("{:.2}%", t.at)>{t.text}</span> }).collect_view()}
            </div>
        </figure>
    }
}

/// "■ Down ■ Up" for the charts that have both.
#[component]
pub fn DownUpKey() -> impl IntoView {
    view! {
        <span class="chart-key" aria-hidden="true">
            <span class="key down"></span>"Down "
            <span class="key up"></span>"Up"
        </span>
    }
}
