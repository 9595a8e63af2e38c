//! WiFi: every network of every agent, with rename, on/off and a new password.

use ipc_types::{dom_id, Topic, WifiEnable, WifiNetwork, WifiPassphrase, WifiRename};
use leptos::prelude::*;

use crate::api;
use crate::components::{load_status, part, ready, NothingToShow, PageFrame, Switch};
use crate::model::route::Page;
use crate::model::wifi::{mode_label, passphrase_problem, ssid_problem};
use crate::state::{use_app, use_view};

#[component]
pub fn WifiPage() -> impl IntoView {
    let wifi = use_view(Page::Wifi.topic(), api::wifi);
    let networks = part(wifi, |v| v.networks.clone());
    let not_offered = part(wifi, |v| v.not_offered.clone());
    view! {
        <PageFrame page=Page::Wifi ready=ready(wifi) intro="Your wireless networks, on every router and extender.">
            {load_status(wifi, "your WiFi networks")}
            <NothingToShow ready=ready(wifi) empty=Signal::derive(move || networks.with(Vec::is_empty)) not_offered what="WiFi settings">
                "No WiFi networks found on the paired devices."
            </NothingToShow>
            <div class="cards">
                // Keyed by device and SSID: a live change to a network updates its card in place,
                // so a name or password being typed there stays.
                <For each=move || networks.get() key=card_key let:network>
                    <WifiCard network=network networks=networks />
                </For>
            </div>
        </PageFrame>
    }
}

/// What identifies a network's card: its device and SSID object.
fn card_key(n: &WifiNetwork) -> (String, String) {
    (n.agent.clone(), n.ssid_path.clone())
}

#[component]
fn WifiCard(network: WifiNetwork, networks: Memo<Vec<WifiNetwork>>) -> impl IntoView {
    let app = use_app();
    let s = dom_id(&format!("{} {}", network.agent, network.ssid_path));
    // The network as it is now (live updates come through `networks`); the card's own key
    // never changes.
    let key = card_key(&network);
    let first = network.clone();
    let now = Memo::new(move |_| {
        networks.with(|ns| ns.iter().find(|n| card_key(n) == key).cloned()).unwrap_or_else(|| first.clone())
    });
    // What the person typed, if anything: until then the fields show the device's values.
    let typed_name = RwSignal::new(None::<String>);
    let pass = RwSignal::new(String::new());
    let typed_mode = RwSignal::new(None::<String>);
    let enabled = Signal::derive(move || now.with(|n| n.enabled));
    let (renaming, toggling, saving) = (RwSignal::new(false), RwSignal::new(false), RwSignal::new(false));
    let name_problem = RwSignal::new(None::<&'static str>);
    let pass_problem = RwSignal::new(None::<&'static str>);
    let writable = move || now.with(|n| n.writable);
    let locked = Signal::derive(move || !writable());
    let ssid = move || now.with(|n| n.ssid.clone());

    let rename = {
        let (agent, ssid_path) = (network.agent.clone(), network.ssid_path.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let wanted = typed_name.get_untracked().unwrap_or_else(ssid);
            name_problem.set(ssid_problem(&wanted));
            if name_problem.get_untracked().is_some() {
                return;
            }
            let args = WifiRename { agent: agent.clone(), ssid_path: ssid_path.clone(), ssid: wanted.clone() };
            app.act(renaming, api::wifi_rename(args), move |()| {
                typed_name.try_set(None);
                app.notify(format!("The network is now called “{wanted}”. Devices reconnect with the new name."));
                app.bump(Topic::Wifi);
                app.bump(Topic::Guest);
            });
        }
    };
    let toggle = {
        let (agent, ssid_path) = (network.agent.clone(), network.ssid_path.clone());
        Callback::new(move |on: bool| {
            let args = WifiEnable { agent: agent.clone(), ssid_path: ssid_path.clone(), enabled: on };
            let name = ssid();
            app.act(toggling, api::wifi_enable(args), move |()| {
                app.notify(format!("“{name}” is {}.", if on { "on" } else { "off" }));
                app.bump(Topic::Wifi);
                app.bump(Topic::Guest);
            });
        })
    };
    let save_pass = {
        let (agent, ap_path) = (network.agent.clone(), network.ap_path.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Some(ap_path) = ap_path.clone() else { return };
            let passphrase = pass.get_untracked();
            pass_problem.set(passphrase_problem(&passphrase));
            if pass_problem.get_untracked().is_some() {
                return;
            }
            pass.set(String::new());
            let wanted =
                typed_mode.get_untracked().or_else(|| now.with_untracked(|n| n.security.clone())).unwrap_or_default();
            let args = WifiPassphrase {
                agent: agent.clone(),
                ap_path,
                passphrase,
                mode: (!wanted.is_empty()).then_some(wanted),
            };
            let name = ssid();
            app.act(saving, api::wifi_passphrase(args), move |()| {
                typed_mode.try_set(None);
                app.notify(format!("New password saved for “{name}”. Reconnect your devices with it."));
                app.bump(Topic::Wifi);
                app.bump(Topic::Guest);
            });
        }
    };

    let has_ap = network.ap_path.is_some();
    let mode_id = format!("wifi-mode-{s}");
    let line = move || {
        now.with(|n| {
            let mut line = n.agent_name.clone();
            if !n.bands.is_empty() {
                line.push_str(&format!(" · {}", n.bands.join(" + ")));
            }
            if let Some(m) = &n.security {
                line.push_str(&format!(" · {}", mode_label(m)));
            }
            line
        })
    };
    view! {
        <article id=format!("wifi-{s}") class="card wifi" aria-label=move || format!("WiFi network {}", ssid())>
            <header class="row">
                <div>
                    <h2>{ssid}</h2>
                    <p class="muted">{line}</p>
                </div>
                <span class="chip" hidden=move || !now.with(|n| n.guest)>"Guest"</span>
                <Switch
                    id=format!("wifi-enable-{s}")
                    label=Signal::derive(move || format!("{} on or off", ssid()))
                    checked=enabled
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
                        disabled=move || !writable()
                        prop:value=move || typed_name.get().unwrap_or_else(ssid)
                        on:input=move |ev| typed_name.set(Some(event_target_value(&ev)))
                    />
                    <button id=format!("wifi-rename-{s}") type="submit" class="secondary" disabled=move || !writable() || renaming.get()>
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
                        placeholder=move || if now.with(|n| n.passphrase_readable) { "" } else { "The current password is hidden by the device" }
                        disabled=move || !writable()
                        prop:value=move || pass.get()
                        on:input=move |ev| pass.set(event_target_value(&ev))
                    />
                    <button id=format!("wifi-pass-save-{s}") type="submit" class="secondary" disabled=move || !writable() || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save password" }}
                    </button>
                </div>
                {move || now.with(|n| n.modes_supported.len() > 1).then(|| view! {
                    <label for=mode_id.clone()>"Security"</label>
                    <select
                        id=mode_id.clone()
                        disabled=move || !writable()
                        on:change=move |ev| typed_mode.set(Some(event_target_value(&ev)))
                    >
                        {now.with_untracked(|n| n.modes_supported.clone()).into_iter().map(|m| {
                            let label = mode_label(&m);
                            let value = m.clone();
                            let selected = move || {
                                typed_mode.get().or_else(|| now.with(|n| n.security.clone())).as_deref() == Some(m.as_str())
                            };
                            view! { <option value=value selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                })}
                {move || pass_problem.get().map(|p| view! { <p class="error-text" role="alert">{p}</p> })}
            </form>
        </article>
    }
}
