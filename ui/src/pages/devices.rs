//! Connected devices: who is on the network, pause their internet, give them names.

use ipc_types::{dom_id, ConnectedDevice, DevicePause, DeviceRename, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{load_status, ready, PageFrame};
use crate::model::devices::{connection, presence, sort, usage};
use crate::model::route::Page;
use crate::state::use_app;
use crate::{api, ipc};

#[component]
pub fn DevicesPage() -> impl IntoView {
    let app = use_app();
    let devices = LocalResource::new(move || {
        app.track(Topic::Devices);
        api::devices()
    });
    let list = Memo::new(move |_| {
        let mut list = devices.get().and_then(Result::ok).map(|v| v.devices).unwrap_or_default();
        sort(&mut list);
        list
    });
    // Leaving the page: what was shown is no longer new.
    on_cleanup(|| {
        spawn_local(async {
            let _ = api::devices_seen().await;
        })
    });
    let online = move || list.with(|l| l.iter().filter(|d| d.online).count());
    view! {
        <PageFrame page=Page::Devices ready=ready(devices) intro="Everything connected to your network.">
            {load_status(devices, "connected devices")}
            <p class="muted" hidden=move || !ready(devices).get()>
                {move || format!("{} online, {} known", online(), list.with(Vec::len))}
            </p>
            <p class="empty" hidden=move || !ready(devices).get() || !list.with(Vec::is_empty)>
                "No devices reported yet."
            </p>
            <ul class="device-list">
                <For each=move || list.get() key=|d| format!("{d:?}") let:device>
                    <DeviceRow device=device />
                </For>
            </ul>
        </PageFrame>
    }
}

#[component]
fn DeviceRow(device: ConnectedDevice) -> impl IntoView {
    let app = use_app();
    let m = dom_id(&device.mac);
    let paused = RwSignal::new(device.paused);
    let pausing = RwSignal::new(false);
    let editing = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let label = RwSignal::new(if device.labelled { device.name.clone() } else { String::new() });

    let toggle_pause = {
        let (mac, name) = (device.mac.clone(), device.name.clone());
        move |_| {
            let want = !paused.get_untracked();
            let args = DevicePause { mac: mac.clone(), paused: want };
            let name = name.clone();
            pausing.set(true);
            spawn_local(async move {
                match api::device_pause(args).await {
                    Ok(()) => {
                        paused.try_set(want);
                        app.notify(if want {
                            format!("Internet paused for {name}.")
                        } else {
                            format!("Internet is back for {name}.")
                        });
                        app.bump(Topic::Devices);
                        app.bump(Topic::Parental);
                    }
                    Err(err) => app.fail(&err),
                }
                pausing.try_set(false);
            });
        }
    };
    let save = {
        let mac = device.mac.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let name = label.get_untracked().trim().to_owned();
            let args = DeviceRename { mac: mac.clone(), name: name.clone() };
            saving.set(true);
            spawn_local(async move {
                match api::device_rename(args).await {
                    Ok(()) => {
                        editing.try_set(false);
                        app.notify(if name.is_empty() {
                            "Name cleared.".to_owned()
                        } else {
                            format!("Renamed to {name}.")
                        });
                        app.bump(Topic::Devices);
                    }
                    Err(err) => app.fail(&err),
                }
                saving.try_set(false);
            });
        }
    };
    let open_rename = {
        let m = m.clone();
        move |_| {
            editing.set(true);
            let id = format!("rename-input-{m}");
            request_animation_frame(move || ipc::focus(&id));
        }
    };

    let now = (ipc::now_ms() / 1000.0) as i64;
    let details = [Some(connection(&device)), device.ip.clone(), Some(device.mac.clone()), usage(&device)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let presence_text = presence(&device, now);
    let rename_id = format!("rename-input-{m}");
    view! {
        <li id=format!("device-{m}") class="card device" class:offline=!device.online class:is-paused=move || paused.get()>
            <div class="device-main">
                <span class="status-dot" class:on=device.online aria-hidden="true"></span>
                <div class="device-text">
                    <p class="device-title">
                        <strong id=format!("device-name-{m}")>{device.name.clone()}</strong>
                        {device.new.then(|| view! { <span id=format!("new-{m}") class="chip accent">"New"</span> })}
                        <span class="chip warn" hidden=move || !paused.get()>"Paused"</span>
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
                        aria-label=format!("Pause internet for {}", device.name)
                        disabled=move || pausing.get()
                        on:click=toggle_pause
                    >
                        {move || if paused.get() { "Resume" } else { "Pause" }}
                    </button>
                    <button
                        type="button"
                        id=format!("rename-{m}")
                        class="ghost"
                        aria-expanded=move || if editing.get() { "true" } else { "false" }
                        aria-label=format!("Rename {}", device.name)
                        on:click=open_rename
                    >
                        "Rename"
                    </button>
                </div>
            </div>
            <form class="inline-form rename" on:submit=save hidden=move || !editing.get()>
                <label for=rename_id.clone()>"Name (leave empty to use the device's own name)"</label>
                <div class="row">
                    <input
                        id=rename_id
                        type="text"
                        maxlength="64"
                        autocomplete="off"
                        placeholder=device.host_name.clone().unwrap_or_default()
                        prop:value=move || label.get()
                        on:input=move |ev| label.set(event_target_value(&ev))
                        on:keydown=move |ev| if ev.key() == "Escape" { editing.set(false) }
                    />
                    <button id=format!("rename-save-{m}") type="submit" class="primary" disabled=move || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save" }}
                    </button>
                    <button type="button" class="ghost" on:click=move |_| editing.set(false)>"Cancel"</button>
                </div>
            </form>
        </li>
    }
}
