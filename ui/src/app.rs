//! The root view: navigation, the current page, the pairing dialog and notices; opens the live
//! channel once. Outside the app shell it explains where to open it instead.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Nav, Notices};
use crate::model::route::Page;
use crate::pages;
use crate::state::AppState;
use crate::{api, ipc};

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    if !ipc::shell_present() {
        return view! { <NoShell /> }.into_any();
    }
    let app = AppState::provide(Page::from_hash(&ipc::hash()));
    let _ = window_event_listener(leptos::ev::hashchange, move |_| app.show_page(Page::from_hash(&ipc::hash())));

    // Live updates: once, for the life of the window.
    spawn_local(async move {
        match ipc::subscribe(move |event| app.on_live(event)).await {
            Ok(()) => app.live_opened(),
            Err(err) => app.fail(&err),
        }
    });
    // The saved theme.
    spawn_local(async move {
        if let Ok(settings) = api::settings().await {
            app.apply_theme(settings.theme);
        }
    });
    // Move focus to the new page's title for keyboard and screen-reader users.
    Effect::new(move |previous: Option<Page>| {
        let page = app.page.get();
        if previous.is_some_and(|p| p != page) {
            ipc::focus(&format!("title-{}", page.name()));
        }
        page
    });

    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        // While the passcode dialog is open, the rest of the window is out of reach (modal).
        <div class="shell" inert=move || app.pairing.with(Option::is_some)>
            <Nav />
            <main id="main" tabindex="-1">
                {move || pages::view(app.page.get())}
            </main>
        </div>
        <pages::pair::PairDialog />
        <Notices />
    }
    .into_any()
}

/// Shown in a plain browser: this UI needs the app around it.
#[component]
fn NoShell() -> impl IntoView {
    view! {
        <main id="no-shell" class="no-shell">
            <div class="card">
                <span class="logo big" aria-hidden="true"></span>
                <h1>"Open this in the usp-home app"</h1>
                <p>
                    "This is the screen of the usp-home app. It talks to your router and other home devices "
                    "through the app, so it can't do anything in a plain web browser."
                </p>
                <p>"Start usp-home on this computer (or phone) to see your home."</p>
            </div>
        </main>
    }
}
