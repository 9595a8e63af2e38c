//! Settings, "Running in the background": what closing the window does (the tray), and start at
//! login.

use ipc_types::{BackgroundView, StartAtLogin};
use leptos::prelude::*;

use crate::api;
use crate::components::ErrorNote;
use crate::model::route::Page;
use crate::state::{use_app, use_view};

/// The card, loaded on its own (a failure here leaves the rest of Settings alone).
#[component]
pub fn Background() -> impl IntoView {
    let view = use_view(Page::Settings.topic(), api::background);
    view! {
        <article id="background" class="card">
            <h2>"Running in the background"</h2>
            {move || match view.get() {
                Some(Ok(v)) => view! { <BackgroundForm view=v apply=Callback::new(move |v| view.set(Some(Ok(v)))) /> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            }}
        </article>
    }
}

#[component]
fn BackgroundForm(view: BackgroundView, apply: Callback<BackgroundView>) -> impl IntoView {
    let app = use_app();
    let saving = RwSignal::new(false);
    let tray = if view.closes_to_tray {
        "Closing the window keeps usp-home running in the system tray: it keeps collecting history and \
         tells you when a new device joins. Choose Quit in the tray's menu to stop it."
    } else {
        "No system tray shows on this desktop, so closing the window quits usp-home (history is not \
         collected and no alerts come while it is closed)."
    };
    let toggle = move |ev: leptos::ev::Event| {
        let enabled = event_target_checked(&ev);
        app.act(saving, api::start_at_login_set(StartAtLogin { enabled }), move |v: BackgroundView| {
            apply.run(v);
            app.notify(if enabled {
                "usp-home will start in the tray when you log in."
            } else {
                "usp-home will no longer start when you log in."
            });
        });
    };
    view! {
        <p id="background-tray" class="muted" data-tray=view.closes_to_tray.to_string()>{tray}</p>
        {view.start_at_login.map(|on| view! {
            <label class="choice" for="start-at-login">
                <input id="start-at-login" type="checkbox" prop:checked=on disabled=move || saving.get() on:change=toggle />
                <span>"Start usp-home in the tray when I log in"</span>
            </label>
        })}
        {view.problem.map(|problem| view! { <p id="background-problem" class="notice" role="alert">{problem}</p> })}
    }
}
