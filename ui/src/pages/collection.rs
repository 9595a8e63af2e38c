//! Settings' "Usage history" card: for each paired device, how its history is collected (its
//! BulkData reports, or asked every few minutes, and why not by reports).

use ipc_types::{dom_id, UsageCollection};
use leptos::prelude::*;

#[component]
pub fn UsageHistory(ways: Vec<UsageCollection>) -> impl IntoView {
    view! {
        <article class="card" id="usage-collection">
            <h2>"Usage history"</h2>
            <p class="muted">
                "usp-home keeps each device's usage on this computer only. Where a device can report its "
                "counters by itself it does; otherwise usp-home asks it now and then while it runs."
            </p>
            {if ways.is_empty() {
                view! { <p class="empty">"No paired devices yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="list">
                        {ways.into_iter().map(|w| {
                            let id = format!("collection-{}", dom_id(&w.agent));
                            let chip = if w.by_reports { "Reports" } else { "Asked" };
                            view! {
                                <li id=id>
                                    <strong>{w.name}</strong>
                                    " "
                                    <span class="chip">{chip}</span>
                                    <p class="muted small">{w.how}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </article>
    }
}
