//! Guest WiFi: one big switch, the QR code to share it, and a new password when the device
//! hides the current one.

use ipc_types::{GuestEnable, GuestMark, GuestPassphrase, GuestSource, GuestView, Topic};
use leptos::prelude::*;

use crate::api;
use crate::components::{load_status, ready, Busy, InlineSvg, NotOffered, PageFrame, Switch};
use crate::model::route::Page;
use crate::model::wifi::passphrase_problem;
use crate::state::{use_app, use_view};

#[component]
pub fn GuestPage() -> impl IntoView {
    let app = use_app();
    let guest = use_view(Page::Guest.topic(), api::guest);
    // Commands answer with the new view: show it at once.
    let apply = move |view: GuestView| {
        guest.set(Some(Ok(view)));
        app.bump(Topic::Wifi);
    };
    let view_of = move || guest.get().and_then(Result::ok);
    let not_offered = Memo::new(move |_| view_of().map(|v| v.not_offered).unwrap_or_default());
    // No guest network and nothing to choose from: the not-offered notice is all there is.
    let nothing = |v: &GuestView| v.network.is_none() && v.candidates.is_empty();
    view! {
        <PageFrame page=Page::Guest ready=ready(guest) intro="A separate network for visitors: no access to your own devices.">
            {load_status(guest, "the guest network")}
            <NotOffered names=not_offered.into() empty=Signal::derive(move || view_of().is_some_and(|v| nothing(&v))) what="WiFi settings" />
            {move || view_of().map(|view| match view.network.clone() {
                Some(_) => view! { <GuestNetwork view=view apply=Callback::new(apply) /> }.into_any(),
                // The only devices there are offer no WiFi: the notice above says it all.
                None if nothing(&view) && !view.not_offered.is_empty() => ().into_any(),
                None => view! { <NoGuest view=view apply=Callback::new(apply) /> }.into_any(),
            })}
        </PageFrame>
    }
}

#[component]
fn GuestNetwork(view: GuestView, apply: Callback<GuestView>) -> impl IntoView {
    let app = use_app();
    let Some(network) = view.network.clone() else { return ().into_any() };
    let enabled = RwSignal::new(network.enabled);
    let toggling = RwSignal::new(false);
    let writable = network.writable;
    let toggle = Callback::new(move |on: bool| {
        app.act(toggling, api::guest_enable(GuestEnable { enabled: on }), move |view| {
            apply.run(view);
            app.notify(if on { "Guest WiFi is on." } else { "Guest WiFi is off." });
        });
    });
    let source = match view.source {
        Some(GuestSource::Type) => "Recognised from the device's mesh settings.",
        Some(GuestSource::Isolation) => "Recognised because it keeps guests away from your devices.",
        Some(GuestSource::Marked) => "You chose this network as the guest network.",
        None => "",
    };
    let hidden = view.passphrase_hidden;
    view! {
        <div class="guest-layout">
            <article class="card guest-main">
                <div class="guest-switch">
                    <Switch
                        id="guest-toggle".into()
                        label="Guest WiFi".to_owned()
                        checked=enabled.into()
                        busy=toggling.into()
                        disabled=Signal::derive(move || !writable)
                        big=true
                        on_toggle=toggle
                    />
                    <div>
                        <p class="switch-caption">
                            "Guest WiFi is "
                            <strong>{move || if enabled.get() { "on" } else { "off" }}</strong>
                        </p>
                        <p class="muted">"Network name: " <strong id="guest-ssid">{network.ssid.clone()}</strong></p>
                        <p class="muted small">{format!("On {}. {source}", network.agent_name)}</p>
                    </div>
                </div>
                {move || toggling.get().then(|| view! { <Busy text="Switching…" /> })}
                <p class="notice" hidden=writable>"Read only: pair with this device to switch its guest network."</p>
            </article>
            {match (view.qr_svg.clone(), view.share_text.clone()) {
                (Some(svg), Some(text)) => view! {
                    <article class="card share">
                        <h2>"Share with guests"</h2>
                        <p class="muted">"Guests scan this code with their phone camera to join."</p>
                        <InlineSvg id="guest-qr".into() svg=svg label=format!("QR code to join {}", network.ssid) />
                        <p class="muted small">"The same, as text for apps that read it:"</p>
                        <p id="guest-share-text" class="mono small share-text">{text}</p>
                    </article>
                }.into_any(),
                _ => ().into_any(),
            }}
            {if hidden {
                view! {
                    <article class="card">
                        <h2>"Set a guest password"</h2>
                        <p>
                            "The device keeps the current guest password secret, so it can't be shown or shared. "
                            "Set a new one here and the app can share it as a QR code."
                        </p>
                        <PassphraseForm apply=apply />
                    </article>
                }.into_any()
            } else {
                view! {
                    <article class="card">
                        <details>
                            <summary>"Change the guest password"</summary>
                            <PassphraseForm apply=apply />
                        </details>
                    </article>
                }.into_any()
            }}
        </div>
    }
    .into_any()
}

#[component]
fn PassphraseForm(apply: Callback<GuestView>) -> impl IntoView {
    let app = use_app();
    let pass = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let saving = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let passphrase = pass.get_untracked();
        problem.set(passphrase_problem(&passphrase));
        if problem.get_untracked().is_some() {
            return;
        }
        pass.set(String::new());
        app.act(saving, api::guest_passphrase(GuestPassphrase { passphrase }), move |view| {
            apply.run(view);
            app.notify("New guest password saved. Share the QR code with your guests.");
        });
    };
    view! {
        <form class="inline-form" on:submit=save>
            <label for="guest-new-passphrase">"New guest password (8 to 63 characters)"</label>
            <div class="row">
                <input
                    id="guest-new-passphrase"
                    type="password"
                    autocomplete="new-password"
                    minlength="8"
                    maxlength="63"
                    prop:value=move || pass.get()
                    on:input=move |ev| pass.set(event_target_value(&ev))
                />
                <button id="guest-set-passphrase" type="submit" class="primary" disabled=move || saving.get()>
                    {move || if saving.get() { "Saving…" } else { "Set password" }}
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="error-text" role="alert">{p}</p> })}
        </form>
    }
}

#[component]
fn NoGuest(view: GuestView, apply: Callback<GuestView>) -> impl IntoView {
    let app = use_app();
    let busy = RwSignal::new(false);
    view! {
        <article class="card">
            <h2>"No guest network found"</h2>
            <p>
                "None of your devices says which network is for guests. If one of these is your guest "
                "network, choose it; the app will remember."
            </p>
            <ul class="list">
                {view.candidates.into_iter().map(|network| {
                    let args = GuestMark { agent: network.agent.clone(), ssid_path: network.ssid_path.clone() };
                    view! {
                        <li class="row">
                            <span>
                                <strong>{network.ssid.clone()}</strong>
                                <span class="muted">{format!(" · {} · {}", network.agent_name, network.bands.join(" + "))}</span>
                            </span>
                            <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| {
                                app.act(busy, api::guest_mark(args.clone()), move |view| {
                                    apply.run(view);
                                    app.notify("Guest network chosen.");
                                });
                            }>"Use for guests"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </article>
    }
}
