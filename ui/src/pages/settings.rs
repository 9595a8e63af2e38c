//! Settings: this app's identity, trusted certificates, where to look for devices, the theme, and
//! running in the background.

use ipc_types::{dom_id, AgentArgs, SetInterfaces, SetTheme, Settings, Theme, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{copy_text, load_status, ready, InlineSvg, PageFrame};
use crate::model::route::Page;
use crate::state::{use_app, use_view};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = use_view(Page::Settings.topic(), api::settings);
    // Commands answer with the new settings: show them at once.
    let apply = Callback::new(move |view: Settings| settings.set(Some(Ok(view))));
    view! {
        <PageFrame page=Page::Settings ready=ready(settings)>
            {load_status(settings, "settings")}
            {move || settings.get().and_then(Result::ok).map(|s| view! { <SettingsView settings=s apply=apply /> })}
        </PageFrame>
    }
}

#[component]
fn SettingsView(settings: Settings, apply: Callback<Settings>) -> impl IntoView {
    let app = use_app();
    let interfaces = RwSignal::new(settings.interfaces.clone());
    let saving = RwSignal::new(false);
    let save_interfaces = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = interfaces.get_untracked().trim().to_owned();
        app.act(saving, api::settings_interfaces(SetInterfaces { interfaces: value }), move |view| {
            apply.run(view);
            app.notify("Discovery restarted on the chosen network interfaces.");
            app.bump(Topic::Home);
        });
    };
    let set_theme = move |theme: Theme| {
        let before = app.theme.get_untracked();
        app.apply_theme(theme);
        spawn_local(async move {
            match api::settings_theme(SetTheme { theme }).await {
                Ok(view) => apply.run(view),
                Err(err) => {
                    app.fail(&err);
                    app.apply_theme(before);
                }
            }
        });
    };
    let theme_option = move |theme: Theme, id: &'static str, label: &'static str| {
        view! {
            <label class="choice" for=id>
                <input
                    type="radio"
                    name="theme"
                    id=id
                    prop:checked=move || app.theme.get() == theme
                    on:change=move |_| set_theme(theme)
                />
                <span>{label}</span>
            </label>
        }
    };
    view! {
        <div class="two-col">
            <article class="card">
                <h2>"This app's ID"</h2>
                <p class="muted">
                    "Some devices only talk to controllers they know. If a device asks for it, add this ID "
                    "in its settings (type it, or scan the code with the device's app)."
                </p>
                <p id="own-eid" class="mono eid">{settings.endpoint_id.clone()}</p>
                <InlineSvg id="own-eid-qr".into() svg=settings.endpoint_id_qr_svg.clone() label="QR code of this app's ID".into() />
            </article>
            <div class="stack">
                <article class="card">
                    <h2>"Appearance"</h2>
                    <fieldset class="choices">
                        <legend>"Theme"</legend>
                        {theme_option(Theme::System, "theme-system", "Like the system")}
                        {theme_option(Theme::Light, "theme-light", "Light")}
                        {theme_option(Theme::Dark, "theme-dark", "Dark")}
                    </fieldset>
                </article>
                <article class="card">
                    <h2>"Finding devices"</h2>
                    <form class="inline-form" on:submit=save_interfaces>
                        <label for="interfaces-input">"Network interfaces to search"</label>
                        <p class="muted small" id="interfaces-help">
                            "“all” searches every network this computer is on; or list names such as “eth0, wlan0”."
                        </p>
                        <div class="row">
                            <input id="interfaces-input" type="text" autocomplete="off" spellcheck="false" aria-describedby="interfaces-help"
                                prop:value=move || interfaces.get() on:input=move |ev| interfaces.set(event_target_value(&ev)) />
                            <button id="interfaces-save" type="submit" class="secondary" disabled=move || saving.get()>
                                {move || if saving.get() { "Saving…" } else { "Save" }}
                            </button>
                        </div>
                    </form>
                </article>
            </div>
        </div>
        {settings.identity_renewed.then(|| view! {
            <p id="identity-renewed" class="notice" role="alert">
                "This app's key was lost, so it has a new ID (shown above). Devices you paired before "
                "no longer know it: pair them again with their passcode."
            </p>
        })}
        <OwnCertificate pem=settings.certificate_pem.clone() fingerprint=settings.certificate_fingerprint.clone() />
        <crate::pages::alerts::Alerts />
        <crate::pages::listener::DeviceListener />
        <crate::pages::background::Background />
        <crate::pages::collection::UsageHistory ways=settings.usage_collection.clone() />
        <article class="card">
            <h2>"Where secrets are kept"</h2>
            <p id="vault-location">{settings.vault_location.clone()}</p>
            {settings.vault_warning.clone().map(|warning| view! {
                <p id="vault-warning" class="notice" role="alert">{warning}</p>
            })}
        </article>
        <article class="card">
            <h2>"Trusted certificates"</h2>
            <p class="muted">"Devices whose secure connection you confirmed. Forget one to be asked again on the next visit."</p>
            {if settings.trusted.is_empty() {
                view! { <p class="empty">"None yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="list">
                        {settings.trusted.into_iter().map(|cert| {
                            let c = dom_id(&cert.agent);
                            let name = cert.name.clone().unwrap_or_else(|| cert.agent.clone());
                            let agent = cert.agent.clone();
                            let label = format!("Forget the certificate of {name}");
                            view! {
                                <li id=format!("cert-{c}") class="row cert">
                                    <span class="stack tight">
                                        <strong>{name.clone()}</strong>
                                        <span class="mono small muted fingerprint">{cert.fingerprint}</span>
                                    </span>
                                    <button id=format!("cert-forget-{c}") type="button" class="ghost danger-text" aria-label=label on:click=move |_| {
                                        let (args, name) = (AgentArgs { agent: agent.clone() }, name.clone());
                                        spawn_local(async move {
                                            match api::trust_forget(args).await {
                                                Ok(view) => {
                                                    apply.run(view);
                                                    app.notify(format!("Certificate of {name} forgotten."));
                                                    app.bump(Topic::Home);
                                                }
                                                Err(err) => app.fail(&err),
                                            }
                                        });
                                    }>"Forget"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </article>
    }
}

/// This app's certificate, to add to a device's trusted controller certificates (for `wss://`
/// with mutual TLS): shown, copied, or saved to a file.
#[component]
fn OwnCertificate(pem: String, fingerprint: String) -> impl IntoView {
    let status = RwSignal::new(None::<String>);
    let copy = {
        let pem = pem.clone();
        move |_| {
            let pem = pem.clone();
            spawn_local(async move {
                let said = if copy_text(&pem).await {
                    "Copied. Paste it where the device asks for a trusted controller certificate."
                } else {
                    "This window may not copy: open “Show the certificate”, select it and copy it by hand."
                };
                status.try_set(Some(said.to_owned()));
            });
        }
    };
    let save = move |_| {
        spawn_local(async move {
            let said = match api::certificate_save().await {
                Ok(path) => format!("Saved as {path}."),
                Err(err) => crate::model::errors::advise(&err).message,
            };
            status.try_set(Some(said));
        });
    };
    view! {
        <article class="card" id="own-certificate">
            <h2>"This app's certificate"</h2>
            <p class="muted">
                "A device reached over an encrypted (wss://) address may only let in controllers whose certificate "
                "it trusts. Add this certificate in the device's settings, where it lists trusted controller "
                "certificates. It holds no secret: the key stays on this computer."
            </p>
            <p class="small">"SHA-256 "<span id="own-cert-fingerprint" class="mono fingerprint">{fingerprint}</span></p>
            <details>
                <summary id="own-cert-show">"Show the certificate"</summary>
                <pre id="own-cert-pem" class="mono small pem">{pem}</pre>
            </details>
            <div class="row">
                <button type="button" id="own-cert-copy" class="secondary" on:click=copy>"Copy"</button>
                <button type="button" id="own-cert-save" class="secondary" on:click=save>"Save to a file"</button>
            </div>
            <p id="own-cert-status" class="muted small" role="status">{move || status.get()}</p>
        </article>
    }
}
