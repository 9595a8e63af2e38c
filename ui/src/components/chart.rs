//! The one view every chart uses: a [`Plot`]'s marks in an SVG stretched to the width, its labels
//! as text beside and under it (so they keep their size on a phone), and a legend. Positions are
//! set as style properties (`style:left`), which the app's content security policy allows, never
//! as inline `style` attributes, which it blocks.

use leptos::prelude::*;

use crate::model::chart::{Mark, Plot, H, W};

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
