//! Device page, "Firmware": the device's images, an update from an image file on this computer
//! (usp-home serves it once to the device, which checks its size and SHA-256), the restart on
//! the new image after a confirmation, and switching back to the other image.

use ipc_types::{
    code, AgentArgs, FirmwareActivate, FirmwareFile, FirmwareImage, FirmwareUpdate, FirmwareUpdated, IpcError, Topic,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{Busy, ErrorNote};
use crate::state::{use_app, use_view};

/// The firmware card for `agent`.
#[component]
pub fn Firmware(agent: String) -> impl IntoView {
    let app = use_app();
    let view = use_view(Topic::Agent, {
        let agent = agent.clone();
        move || api::firmware(AgentArgs { agent: agent.clone() })
    });
    let file = RwSignal::new(String::new());
    // The file chosen in the system's dialog (shown while `file` is its path), and the dialog
    // open. Why a file can't be chosen shows where the update's outcome does (`updated`).
    let picked = RwSignal::new(None::<FirmwareFile>);
    let choosing = RwSignal::new(false);
    // The typed path, shown at once where there is no dialog.
    let typed_open = RwSignal::new(false);
    let sending = RwSignal::new(false);
    let restarting = RwSignal::new(false);
    let updated = RwSignal::new(None::<Result<FirmwareUpdated, IpcError>>);
    // The image to restart on, once the person asked (the confirmation step).
    let confirm = RwSignal::new(None::<(String, String)>);
    let restarted = RwSignal::new(None::<Result<String, IpcError>>);
    let send = {
        let agent = agent.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let args = FirmwareUpdate { agent: agent.clone(), file: file.get_untracked() };
            app.ping_progress.set(None);
            updated.set(None);
            restarted.set(None);
            sending.set(true);
            spawn_local(async move {
                let outcome = api::firmware_update(args).await;
                app.bump(Topic::Agent);
                if let Ok(u) = &outcome {
                    confirm.try_set(Some((u.image.clone(), u.version.clone())));
                }
                updated.try_set(Some(outcome));
                sending.try_set(false);
            });
        }
    };
    let activate = move |image: String| {
        let args = FirmwareActivate { agent: agent.clone(), image };
        confirm.set(None);
        // What the download said ("it still runs …") is out of date once it restarts.
        updated.set(None);
        restarted.set(None);
        app.ping_progress.set(None);
        restarting.set(true);
        spawn_local(async move {
            let outcome = api::firmware_activate(args).await.map(|v| v.running);
            app.bump(Topic::Agent);
            app.bump(Topic::Home);
            restarted.try_set(Some(outcome));
            restarting.try_set(false);
        });
    };
    let busy = move || sending.get() || restarting.get();
    // Cancelled: nothing changes.
    let choose = move |_| {
        choosing.set(true);
        spawn_local(async move {
            match api::firmware_pick().await {
                Ok(Some(f)) => {
                    file.try_set(f.path.clone());
                    picked.try_set(Some(f));
                    updated.try_set(None);
                }
                Ok(None) => {}
                Err(err) => {
                    if err.code == code::UNSUPPORTED {
                        typed_open.try_set(true);
                    }
                    updated.try_set(Some(Err(err)));
                }
            }
            choosing.try_set(false);
        });
    };
    let chosen = move || picked.get().filter(|f| file.with(|p| *p == f.path));
    view! {
        <article id="firmware" class="card">
            <h2>"Firmware"</h2>
            {move || match view.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                Some(Ok(v)) => view! {
                    <p class="small">"Running now: " <strong id="firmware-running">{if v.running.is_empty() { "not given".to_owned() } else { v.running.clone() }}</strong></p>
                    <ul id="firmware-images" class="list">
                        {v.images.into_iter().map(|image| view! { <Image image=image confirm=confirm busy=Signal::derive(busy) /> }).collect_view()}
                    </ul>
                    {match v.note {
                        Some(note) => view! { <p id="firmware-note" class="muted small">{note}</p> }.into_any(),
                        None => view! {
                            <form class="inline-form" on:submit=send.clone()>
                                <p><strong>"Update from a file"</strong>": the image file from the device's maker, on this computer."</p>
                                <div class="actions">
                                    <button id="firmware-choose" type="button" class="secondary" disabled=move || busy() || choosing.get() on:click=choose>
                                        {move || if choosing.get() { "Choosing…" } else { "Choose file…" }}
                                    </button>
                                </div>
                                {move || chosen().map(|f| view! {
                                    <p id="firmware-chosen" class="chosen-file" data-size=f.size.to_string()>
                                        <strong>{f.name}</strong>" · "{f.size_text}<br/>
                                        <span class="muted small">{f.path}</span>
                                    </p>
                                })}
                                <details id="firmware-typed" prop:open=move || typed_open.get()>
                                    <summary class="small">"Or type the file's full path"</summary>
                                    <input id="firmware-file" type="text" aria-label="The image file's full path on this computer" placeholder="/home/you/Downloads/router-7.0.bin" autocomplete="off" spellcheck="false"
                                        prop:value=move || file.get() on:input=move |ev| file.set(event_target_value(&ev)) />
                                </details>
                                <p class="muted small">"The device downloads it from this computer, checks its size and checksum, and keeps running its firmware until you restart it."</p>
                                <div class="actions">
                                    <button id="firmware-send" type="submit" class="primary" disabled=move || busy() || file.with(|f| f.trim().is_empty())>
                                        {move || if sending.get() { "Sending…" } else { "Send to the device" }}
                                    </button>
                                </div>
                            </form>
                        }.into_any(),
                    }}
                }.into_any(),
            }}
            {move || sending.get().then(|| view! {
                <div id="firmware-progress" class="progress" role="status">
                    <progress aria-label="Firmware transfer"></progress>
                    <p class="muted small">{move || app.ping_progress.get().unwrap_or_else(|| "Preparing the image…".into())}</p>
                </div>
            })}
            {move || updated.get().map(|r| match r {
                Ok(u) => view! { <p id="firmware-updated" class="result ok small" role="status">{u.message}</p> }.into_any(),
                Err(err) => view! { <div id="firmware-updated"><ErrorNote error=err /></div> }.into_any(),
            })}
            {move || confirm.get().map(|(image, version)| {
                let go = activate.clone();
                view! {
                    <div class="confirm" role="alertdialog" aria-labelledby="firmware-question">
                        <p id="firmware-question">{format!("Restart on firmware {version} now? Everything on this device loses its connection for a minute or two.")}</p>
                        <button id="firmware-activate" type="button" class="danger" on:click=move |_| go(image.clone())>{format!("Restart on {version}")}</button>
                        <button type="button" class="ghost" on:click=move |_| confirm.set(None)>"Not now"</button>
                    </div>
                }
            })}
            {move || restarting.get().then(|| view! {
                <Busy text=app.ping_progress.get().unwrap_or_else(|| "Restarting the device…".into()) />
            })}
            {move || restarted.get().map(|r| match r {
                Ok(running) => view! { <p id="firmware-result" class="result ok" role="status"><strong>{format!("Back and running firmware {running}.")}</strong></p> }.into_any(),
                Err(err) => view! { <div id="firmware-result"><ErrorNote error=err /></div> }.into_any(),
            })}
        </article>
    }
}

/// One image slot; a ready one that is not in use offers to switch to it.
#[component]
fn Image(image: FirmwareImage, confirm: RwSignal<Option<(String, String)>>, busy: Signal<bool>) -> impl IntoView {
    let title = match (image.version.is_empty(), image.name.is_empty()) {
        (false, _) => image.version.clone(),
        (true, false) => image.name.clone(),
        (true, true) => "No image".to_owned(),
    };
    let mut parts = vec![image.state.clone()];
    if image.boot && !image.active {
        parts.push("starts at the next restart".to_owned());
    }
    if !image.name.is_empty() && !image.version.is_empty() {
        parts.push(image.name.clone());
    }
    let switch = (!image.active && image.available).then(|| {
        let (path, version) = (image.path.clone(), title.clone());
        view! {
            <button type="button" class="secondary small" disabled=move || busy.get()
                on:click=move |_| confirm.set(Some((path.clone(), version.clone())))>
                {format!("Switch to {title}…")}
            </button>
        }
    });
    view! {
        <li class="row">
            <span class="stack tight">
                <strong>{title.clone()}</strong>
                <span class="muted small">{parts.join(" · ")}</span>
            </span>
            {switch}
        </li>
    }
}
