//! Connected devices: who is on the network, pause their internet, give them names.

use ipc_types::{dom_id, ConnectedDevice, DevicePause, DevicePauseFor, DeviceRename, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{load_status, part, ready, NothingToShow, PageFrame};
use crate::model::hosts::{connection, presence, sort, usage};
use crate::model::route::Page;
use crate::state::{use_app, use_view};
use crate::{api, ipc};

#[component]
pub fn HostsPage() -> impl IntoView {
    let devices = use_view(Page::Hosts.topic(), api::devices);
    let list = part(devices, |v| {
        let mut list = v.devices.clone();
        sort(&mut list);
        list
    });
    let not_offered = part(devices, |v| v.not_offered.clone());
    // Leaving the page: what was shown is no longer new.
    on_cleanup(|| {
        spawn_local(async {
            let _ = api::devices_seen().await;
        })
    });
    let online = move || list.with(|l| l.iter().filter(|d| d.online).count());
    view! {
        <PageFrame page=Page::Hosts ready=ready(devices) intro="Everything connected to your network.">
            {load_status(devices, "connected devices")}
            <p class="muted" hidden=move || !ready(devices).get()>
                {move || format!("{} online, {} known", online(), list.with(Vec::len))}
            </p>
            <NothingToShow ready=ready(devices) empty=Signal::derive(move || list.with(Vec::is_empty)) not_offered what="its list of connected devices">
                "No devices reported yet."
            </NothingToShow>
            <ul class="device-list">
                // Keyed by MAC: a row stays while its device's data changes live, so a rename being
                // typed is not lost when the list refreshes.
                <For each=move || list.get() key=|d| d.mac.clone() let:device>
                    <DeviceRow device=device list=list />
                </For>
            </ul>
        </PageFrame>
    }
}

#[component]
fn DeviceRow(device: ConnectedDevice, list: Memo<Vec<ConnectedDevice>>) -> impl IntoView {
    let app = use_app();
    let m = dom_id(&device.mac);
    let paused = RwSignal::new(device.paused);
    // This device as the list has it now (the row outlives a refresh; the last data stays
    // while the row is on its way out).
    let device = {
        let last = device;
        Memo::new(move |prev: Option<&ConnectedDevice>| {
            let fallback = prev.unwrap_or(&last);
            list.with(|l| l.iter().find(|d| d.mac == fallback.mac).cloned()).unwrap_or_else(|| fallback.clone())
        })
    };
    // What the router says wins over what this row last did.
    Effect::new(move |_| paused.set(device.with(|d| d.paused)));
    let pausing = RwSignal::new(false);
    let editing = RwSignal::new(false);
    let charting = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let label = RwSignal::new(String::new());
    let mac = device.with_untracked(|d| d.mac.clone());
    let name = move || device.with(|d| d.name.clone());
    let watched = RwSignal::new(device.with_untracked(|d| d.watched));
    Effect::new(move |_| watched.set(device.with(|d| d.watched)));
    let watching = RwSignal::new(false);
    let toggle_watch = {
        let mac = mac.clone();
        move |_| {
            let want = !watched.get_untracked();
            let args = ipc_types::DeviceWatch { mac: mac.clone(), watch: want };
            app.act(watching, api::device_watch(args), move |()| {
                watched.try_set(want);
                app.notify(if want {
                    format!("You'll be told when {} arrives or leaves.", name())
                } else {
                    format!("No more alerts when {} arrives or leaves.", name())
                });
            });
        }
    };

    let toggle_pause = {
        let mac = mac.clone();
        move |_| {
            let want = !paused.get_untracked();
            let args = DevicePause { mac: mac.clone(), paused: want };
            let name = device.with_untracked(|d| d.name.clone());
            app.act(pausing, api::device_pause(args), move |()| {
                paused.try_set(want);
                app.notify(if want {
                    format!("Internet paused for {name}.")
                } else {
                    format!("Internet is back for {name}.")
                });
                app.bump(Topic::Hosts);
                app.bump(Topic::Parental);
            });
        }
    };
    let pause_for = {
        let mac = mac.clone();
        move |ev: leptos::ev::Event| {
            let choice = event_target_value(&ev);
            let minutes = match choice.as_str() {
                "30" => Some(30),
                "60" => Some(60),
                "morning" => None,
                _ => return,
            };
            ipc::reset_select(&ev);
            let args = DevicePauseFor { mac: mac.clone(), minutes };
            let name = device.with_untracked(|d| d.name.clone());
            app.act(pausing, api::device_pause_for(args), move |()| {
                paused.try_set(true);
                app.notify(format!("Internet paused for {name} for a while. The router lets it back on by itself."));
                app.bump(Topic::Hosts);
                app.bump(Topic::Parental);
            });
        }
    };
    let save = {
        let mac = mac.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let name = label.get_untracked().trim().to_owned();
            let args = DeviceRename { mac: mac.clone(), name: name.clone() };
            app.act(saving, api::device_rename(args), move |()| {
                editing.try_set(false);
                app.notify(if name.is_empty() { "Name cleared.".to_owned() } else { format!("Renamed to {name}.") });
                app.bump(Topic::Hosts);
            });
        }
    };
    let open_rename = {
        let m = m.clone();
        move |_| {
            // Starts from the name given in this app, if any (not the device's own).
            label.set(device.with_untracked(|d| if d.labelled { d.name.clone() } else { String::new() }));
            editing.set(true);
            let id = format!("rename-input-{m}");
            request_animation_frame(move || ipc::focus(&id));
        }
    };

    let details = move || {
        device.with(|d| {
            [Some(connection(d)), d.ip.clone(), Some(d.mac.clone()), usage(d)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ")
        })
    };
    let presence_text = move || device.with(|d| presence(d, (ipc::now_ms() / 1000.0) as i64));
    let online = move || device.with(|d| d.online);
    let rename_id = format!("rename-input-{m}");
    view! {
        <li id=format!("device-{m}") class="card device" class:offline=move || !online() class:is-paused=move || paused.get()>
            <div class="device-main">
                <span class="status-dot" class:on=online aria-hidden="true"></span>
                <div class="device-text">
                    <p class="device-title">
                        <strong id=format!("device-name-{m}")>{name}</strong>
                        {let new_id = format!("new-{m}"); move || device.with(|d| d.new).then(|| view! { <span id=new_id.clone() class="chip accent">"New"</span> })}
                        <span id=format!("paused-{m}") class="chip warn" hidden=move || !paused.get()>
                            {move || match device.with(|d| d.paused_until.clone()) {
                                Some(t) => format!("Paused until {t}"),
                                None => "Paused".to_owned(),
                            }}
                        </span>
                    </p>
                    <p class="muted small">{presence_text}</p>
                    <p class="muted small">{details}</p>
                </div>
                <div class="actions">
                    <button
                        type="button"
                        id=format!("pause-{m}")
                        class=move || if paused.get() { "primary" } else { "secondary" }
                        aria-pressed=move || if paused.get() { "true" } else { "false" }
                        aria-label=move || format!("Pause internet for {}", name())
                        disabled=move || pausing.get()
                        on:click=toggle_pause
                    >
                        {move || if paused.get() { "Resume" } else { "Pause" }}
                    </button>
                    <select
                        id=format!("pause-for-{m}")
                        class="compact"
                        aria-label=move || format!("Pause internet for {} for a while", name())
                        hidden=move || paused.get()
                        disabled=move || pausing.get()
                        on:change=pause_for
                    >
                        <option value="" selected>"For a while…"</option>
                        <option value="30">"30 minutes"</option>
                        <option value="60">"1 hour"</option>
                        <option value="morning">"Until tomorrow"</option>
                    </select>
                    <button
                        type="button"
                        id=format!("watch-{m}")
                        class="ghost"
                        aria-pressed=move || if watched.get() { "true" } else { "false" }
                        aria-label=move || format!("Tell me when {} arrives or leaves", name())
                        title="Tell me when it arrives or leaves"
                        disabled=move || watching.get()
                        on:click=toggle_watch
                    >
                        {move || if watched.get() { "Following" } else { "Follow" }}
                    </button>
                    <button
                        type="button"
                        id=format!("usage-toggle-{m}")
                        class="ghost"
                        aria-expanded=move || if charting.get() { "true" } else { "false" }
                        aria-label=move || format!("Usage and history of {}", name())
                        on:click=move |_| charting.update(|c| *c = !*c)
                    >
                        "History"
                    </button>
                    <button
                        type="button"
                        id=format!("rename-{m}")
                        class="ghost"
                        aria-expanded=move || if editing.get() { "true" } else { "false" }
                        aria-label=move || format!("Rename {}", name())
                        on:click=open_rename
                    >
                        "Rename"
                    </button>
                </div>
            </div>
            {let (mac, m) = (mac.clone(), m.clone()); move || charting.get().then(|| view! {
                <div class="charts">
                    <section aria-label="Usage">
                        <h3 class="chart-title">"Usage"</h3>
                        <crate::pages::usage::UsageChart mac=Some(mac.clone()) m=m.clone() />
                    </section>
                    <section aria-label="Online and WiFi signal">
                        <h3 class="chart-title">"Online and signal"</h3>
                        <crate::pages::history::DeviceHistoryCharts mac=mac.clone() m=m.clone() />
                    </section>
                </div>
            })}
            <form class="inline-form rename" on:submit=save hidden=move || !editing.get()>
                <label for=rename_id.clone()>"Name (leave empty to use the device's own name)"</label>
                <div class="row">
                    <input
                        id=rename_id
                        type="text"
                        maxlength="64"
                        autocomplete="off"
                        placeholder=move || device.with(|d| d.host_name.clone().unwrap_or_default())
                        prop:value=move || label.get()
                        on:input=move |ev| label.set(event_target_value(&ev))
                        on:keydown=move |ev| if ev.key() == "Escape" { editing.set(false) }
                    />
                    <button id=format!("rename-save-{m}") type="submit" class="primary" disabled=move || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save" }}
                    </button>
                    <button id=format!("rename-cancel-{m}") type="button" class="ghost" on:click=move |_| editing.set(false)>"Cancel"</button>
                </div>
            </form>
        </li>
    }
}
