//! WiFi: every network of every agent, with rename, on/off and a new password.

use ipc_types::{dom_id, Topic, WifiEnable, WifiNetwork, WifiPassphrase, WifiRename};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{load_status, ready, NotOffered, PageFrame, Switch};
use crate::model::route::Page;
use crate::model::wifi::{mode_label, passphrase_problem, ssid_problem};
use crate::state::use_app;

#[component]
pub fn WifiPage() -> impl IntoView {
    let app = use_app();
    let wifi = LocalResource::new(move || {
        app.track(Topic::Wifi);
        api::wifi()
    });
    let networks = Memo::new(move |_| wifi.get().and_then(Result::ok).map(|v| v.networks).unwrap_or_default());
    let not_offered = Memo::new(move |_| wifi.get().and_then(Result::ok).map(|v| v.not_offered).unwrap_or_default());
    view! {
        <PageFrame page=Page::Wifi ready=ready(wifi) intro="Your wireless networks, on every router and extender.">
            {load_status(wifi, "your WiFi networks")}
            <NotOffered names=not_offered.into() empty=Signal::derive(move || networks.with(Vec::is_empty)) what="WiFi settings" />
            <p class="empty" hidden=move || !ready(wifi).get() || !networks.with(Vec::is_empty) || !not_offered.with(Vec::is_empty)>
                "No WiFi networks found on the paired devices."
            </p>
            <div class="cards">
                <For each=move || networks.get() key=|n| format!("{n:?}") let:network>
                    <WifiCard network=network />
                </For>
            </div>
        </PageFrame>
    }
}

#[component]
fn WifiCard(network: WifiNetwork) -> impl IntoView {
    let app = use_app();
    let s = dom_id(&format!("{} {}", network.agent, network.ssid_path));
    let name = RwSignal::new(network.ssid.clone());
    let pass = RwSignal::new(String::new());
    let mode = RwSignal::new(network.security.clone().unwrap_or_default());
    let enabled = RwSignal::new(network.enabled);
    let (renaming, toggling, saving) = (RwSignal::new(false), RwSignal::new(false), RwSignal::new(false));
    let name_problem = RwSignal::new(None::<&'static str>);
    let pass_problem = RwSignal::new(None::<&'static str>);
    let writable = network.writable;
    let locked = Signal::derive(move || !writable);

    let rename = {
        let (agent, ssid_path) = (network.agent.clone(), network.ssid_path.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let ssid = name.get_untracked();
            name_problem.set(ssid_problem(&ssid));
            if name_problem.get_untracked().is_some() {
                return;
            }
            renaming.set(true);
            let args = WifiRename { agent: agent.clone(), ssid_path: ssid_path.clone(), ssid: ssid.clone() };
            spawn_local(async move {
                match api::wifi_rename(args).await {
                    Ok(()) => {
                        app.notify(format!("The network is now called “{ssid}”. Devices reconnect with the new name."));
                        app.bump(Topic::Wifi);
                        app.bump(Topic::Guest);
                    }
                    Err(err) => app.fail(&err),
                }
                renaming.try_set(false);
            });
        }
    };
    let toggle = {
        let (agent, ssid_path, ssid) = (network.agent.clone(), network.ssid_path.clone(), network.ssid.clone());
        Callback::new(move |on: bool| {
            toggling.set(true);
            let args = WifiEnable { agent: agent.clone(), ssid_path: ssid_path.clone(), enabled: on };
            let ssid = ssid.clone();
            spawn_local(async move {
                match api::wifi_enable(args).await {
                    Ok(()) => {
                        enabled.try_set(on);
                        app.notify(format!("“{ssid}” is {}.", if on { "on" } else { "off" }));
                        app.bump(Topic::Wifi);
                        app.bump(Topic::Guest);
                    }
                    Err(err) => app.fail(&err),
                }
                toggling.try_set(false);
            });
        })
    };
    let save_pass = {
        let (agent, ap_path, ssid) = (network.agent.clone(), network.ap_path.clone(), network.ssid.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Some(ap_path) = ap_path.clone() else { return };
            let passphrase = pass.get_untracked();
            pass_problem.set(passphrase_problem(&passphrase));
            if pass_problem.get_untracked().is_some() {
                return;
            }
            pass.set(String::new());
            saving.set(true);
            let wanted = mode.get_untracked();
            let args = WifiPassphrase {
                agent: agent.clone(),
                ap_path,
                passphrase,
                mode: (!wanted.is_empty()).then_some(wanted),
            };
            let ssid = ssid.clone();
            spawn_local(async move {
                match api::wifi_passphrase(args).await {
                    Ok(()) => {
                        app.notify(format!("New password saved for “{ssid}”. Reconnect your devices with it."));
                        app.bump(Topic::Wifi);
                        app.bump(Topic::Guest);
                    }
                    Err(err) => app.fail(&err),
                }
                saving.try_set(false);
            });
        }
    };

    let modes = network.modes_supported.clone();
    let has_ap = network.ap_path.is_some();
    view! {
        <article id=format!("wifi-{s}") class="card wifi" aria-label=format!("WiFi network {}", network.ssid)>
            <header class="row">
                <div>
                    <h2>{network.ssid.clone()}</h2>
                    <p class="muted">
                        {network.agent_name.clone()}
                        {(!network.bands.is_empty()).then(|| format!(" · {}", network.bands.join(" + ")))}
                        {network.security.clone().map(|m| format!(" · {}", mode_label(&m)))}
                    </p>
                </div>
                <span class="chip" hidden=!network.guest>"Guest"</span>
                <Switch
                    id=format!("wifi-enable-{s}")
                    label=format!("{} on or off", network.ssid)
                    checked=enabled.into()
                    busy=toggling.into()
                    disabled=locked
                    on_toggle=toggle
                />
            </header>
            <p class="notice" hidden=writable>"Read only: pair with this device to change its WiFi."</p>
            <form class="inline-form" on:submit=rename>
                <label for=format!("wifi-name-{s}")>"Network name"</label>
                <div class="row">
                    <input
                        id=format!("wifi-name-{s}")
                        type="text"
                        maxlength="32"
                        autocomplete="off"
                        disabled=!writable
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <button id=format!("wifi-rename-{s}") type="submit" class="secondary" disabled=move || !writable || renaming.get()>
                        {move || if renaming.get() { "Renaming…" } else { "Rename" }}
                    </button>
                </div>
                {move || name_problem.get().map(|p| view! { <p class="error-text" role="alert">{p}</p> })}
            </form>
            <form class="inline-form" on:submit=save_pass hidden=!has_ap>
                <label for=format!("wifi-pass-{s}")>"New password"</label>
                <div class="row">
                    <input
                        id=format!("wifi-pass-{s}")
                        type="password"
                        autocomplete="new-password"
                        minlength="8"
                        maxlength="63"
                        placeholder=if network.passphrase_readable { "" } else { "The current password is hidden by the device" }
                        disabled=!writable
                        prop:value=move || pass.get()
                        on:input=move |ev| pass.set(event_target_value(&ev))
                    />
                    <button id=format!("wifi-pass-save-{s}") type="submit" class="secondary" disabled=move || !writable || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save password" }}
                    </button>
                </div>
                {(modes.len() > 1).then(|| view! {
                    <label for=format!("wifi-mode-{s}")>"Security"</label>
                    <select
                        id=format!("wifi-mode-{s}")
                        disabled=!writable
                        on:change=move |ev| mode.set(event_target_value(&ev))
                    >
                        {modes.iter().map(|m| {
                            let selected = network.security.as_deref() == Some(m.as_str());
                            view! { <option value=m.clone() selected=selected>{mode_label(m)}</option> }
                        }).collect_view()}
                    </select>
                })}
                {move || pass_problem.get().map(|p| view! { <p class="error-text" role="alert">{p}</p> })}
            </form>
        </article>
    }
}
