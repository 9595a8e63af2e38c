//! Settings, "Devices that connect to usp-home": the listener for devices configured to dial
//! their controller, and what to enter in such a device (its controller's address, as text and
//! QR code, and this app's Endpoint ID), and usp-home's CoAP address for older devices.

use ipc_types::{ListenerSettings, ListenerView, Topic};
use leptos::prelude::*;

use crate::api;
use crate::components::{ErrorNote, InlineSvg};
use crate::model::route::Page;
use crate::state::{use_app, use_view};

/// The card, loaded on its own (a failure here leaves the rest of Settings alone).
#[component]
pub fn DeviceListener() -> impl IntoView {
    let view = use_view(Page::Settings.topic(), api::listener);
    let apply = Callback::new(move |v: ListenerView| view.set(Some(Ok(v))));
    view! {
        <article id="listener" class="card">
            <h2>"Devices that connect to usp-home"</h2>
            <p class="muted">
                "Some routers and hubs connect to their controller themselves instead of waiting to be found. "
                "Turn this on, then enter the address and ID below in the device's controller settings."
            </p>
            {move || match view.get() {
                Some(Ok(v)) => view! { <ListenerForm view=v apply=apply /> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            }}
        </article>
    }
}

#[component]
fn ListenerForm(view: ListenerView, apply: Callback<ListenerView>) -> impl IntoView {
    let app = use_app();
    let enabled = RwSignal::new(view.enabled);
    let all = RwSignal::new(view.all_interfaces);
    let port = RwSignal::new(if view.port == 0 { String::new() } else { view.port.to_string() });
    let saving = RwSignal::new(false);
    let bad_port = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = port.get_untracked();
        let Some(port) = parse_port(&typed) else {
            bad_port.set(true);
            return;
        };
        bad_port.set(false);
        let settings = ListenerSettings { enabled: enabled.get_untracked(), port, all_interfaces: all.get_untracked() };
        app.act(saving, api::listener_set(settings), move |v: ListenerView| {
            let said =
                if v.enabled { "usp-home now listens for devices." } else { "usp-home no longer listens for devices." };
            apply.run(v);
            app.notify(said);
            app.bump(Topic::Home);
        });
    };
    view! {
        <form class="inline-form" on:submit=save>
            <label class="choice" for="listener-enabled">
                <input id="listener-enabled" type="checkbox" prop:checked=move || enabled.get()
                    on:change=move |ev| enabled.set(event_target_checked(&ev)) />
                <span>"Listen for devices"</span>
            </label>
            <label class="choice" for="listener-all">
                <input id="listener-all" type="checkbox" prop:checked=move || all.get()
                    on:change=move |ev| all.set(event_target_checked(&ev)) />
                <span>"On every network this computer is on (otherwise on this computer only)"</span>
            </label>
            <label for="listener-port">"Port (empty: any free port)"</label>
            <div class="row">
                <input id="listener-port" type="text" inputmode="numeric" autocomplete="off"
                    prop:value=move || port.get() on:input=move |ev| port.set(event_target_value(&ev)) />
                <button id="listener-save" type="submit" class="secondary" disabled=move || saving.get()>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
            </div>
            <Show when=move || bad_port.get()>
                <p id="listener-port-error" class="notice" role="alert">"The port is a number from 1 to 65535, or empty."</p>
            </Show>
        </form>
        {view.error.clone().map(|e| view! { <p id="listener-error" class="notice" role="alert">{e}</p> })}
        {(view.enabled && !view.urls.is_empty()).then(|| view! {
            <p class="muted">"Enter in the device, as its controller:"</p>
            <dl class="facts">
                <dt>"Address"</dt>
                <dd>
                    <ul id="listener-urls" class="list mono small">
                        {view.urls.iter().map(|u| view! { <li>{u.clone()}</li> }).collect_view()}
                    </ul>
                </dd>
                <dt>"Endpoint ID"</dt>
                <dd id="listener-eid" class="mono small">{view.endpoint_id.clone()}</dd>
            </dl>
            <InlineSvg id="listener-qr".into() svg=view.url_qr_svg.clone() label="QR code of the address to enter in the device".into() />
        })}
        {view.coap_error.clone().map(|e| view! { <p id="listener-coap-error" class="notice" role="alert">{e}</p> })}
        {(view.enabled && !view.coap_urls.is_empty()).then(|| view! {
            <p class="muted">
                "Older devices that speak CoAP send their notifications to their controller's CoAP address: enter this one there."
            </p>
            <ul id="listener-coap-urls" class="list mono small">
                {view.coap_urls.iter().map(|u| view! { <li>{u.clone()}</li> }).collect_view()}
            </ul>
            {(view.coap_sessions > 0).then(|| {
                let n = view.coap_sessions;
                view! { <p id="listener-coap-sessions" class="muted small">{format!("{n} CoAP {} use{} it now.", if n == 1 { "device" } else { "devices" }, if n == 1 { "s" } else { "" })}</p> }
            })}
        })}
    }
}

/// The port as typed: empty is 0 (any free port); otherwise 1-65535.
fn parse_port(typed: &str) -> Option<u16> {
    match typed.trim() {
        "" => Some(0),
        t => t.parse::<u16>().ok().filter(|p| *p > 0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_as_typed() {
        assert_eq!(super::parse_port(""), Some(0));
        assert_eq!(super::parse_port(" 8443 "), Some(8443));
        assert_eq!(super::parse_port("0"), None);
        assert_eq!(super::parse_port("70000"), None);
        assert_eq!(super::parse_port("eighty"), None);
    }
}
