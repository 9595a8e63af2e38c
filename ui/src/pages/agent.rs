//! Device: what a box is (DeviceInfo), restart it, and test its internet with a ping.

use ipc_types::{AgentArgs, AgentAuth, AgentSummary, DeviceDetails, IpcError, PingArgs, PingResult, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{load_status, ready, Busy, ErrorNote, PageFrame};
use crate::model::format;
use crate::model::route::Page;
use crate::state::{use_app, use_view, AppState};

/// The agents to pick from, and the chosen one (the app-wide choice, else the first paired).
pub fn agent_picker(app: AppState) -> (LocalResource<Result<ipc_types::HomeView, IpcError>>, Memo<Option<String>>) {
    let home = use_view(Topic::Home, api::home);
    let chosen = Memo::new(move |_| {
        let agents: Vec<AgentSummary> = home.get().and_then(Result::ok).map(|h| h.agents).unwrap_or_default();
        let wanted = app.agent.get();
        wanted
            .filter(|w| agents.iter().any(|a| &a.agent == w))
            .or_else(|| agents.iter().find(|a| matches!(a.auth, AgentAuth::Paired { .. })).map(|a| a.agent.clone()))
            .or_else(|| agents.first().map(|a| a.agent.clone()))
    });
    (home, chosen)
}

/// The `<select>` of agents.
#[component]
pub fn AgentSelect(
    id: &'static str,
    home: LocalResource<Result<ipc_types::HomeView, IpcError>>,
    chosen: Memo<Option<String>>,
) -> impl IntoView {
    let app = use_app();
    view! {
        <div class="stack narrow">
            <label for=id>"Device"</label>
            <select id=id prop:value=move || chosen.get().unwrap_or_default() on:change=move |ev| app.agent.set(Some(event_target_value(&ev)))>
                {move || home.get().and_then(Result::ok).map(|h| h.agents).unwrap_or_default().into_iter().map(|a| {
                    let selected = chosen.get_untracked().as_deref() == Some(a.agent.as_str());
                    view! { <option value=a.agent.clone() selected=selected>{a.name}</option> }
                }).collect_view()}
            </select>
        </div>
    }
}

#[component]
pub fn AgentPage() -> impl IntoView {
    let app = use_app();
    let (home, chosen) = agent_picker(app);
    let details = use_view(Page::Agent.topic(), move || {
        let agent = chosen.get();
        async move {
            match agent {
                Some(agent) => api::device_details(AgentArgs { agent }).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let page_ready = Signal::derive(move || ready(home).get() && ready(details).get());
    let ping_target =
        Memo::new(move |_| details.get().and_then(Result::ok).flatten().map(|d| (d.agent.clone(), d.can_ping)));
    view! {
        <PageFrame page=Page::Agent ready=page_ready intro="Details of one device, restart it, and test its connection.">
            {load_status(home, "your devices")}
            <AgentSelect id="device-agent" home=home chosen=chosen />
            {load_status(details, "device details")}
            {move || details.get().and_then(Result::ok).filter(Option::is_none).map(|_| view! {
                <p class="empty">"No devices yet: they appear on the Home page once found."</p>
            })}
            // A finished test refreshes the details (the device reports it); the test's card is
            // built again only for another device, so its result stays on screen.
            <div class="two-col" hidden=move || ping_target.with(Option::is_none)>
                {move || details.get().and_then(Result::ok).flatten().map(|d| view! { <Details details=d /> })}
                {move || ping_target.get().map(|(agent, can_ping)| view! { <Ping agent=agent.clone() can_ping=can_ping /> <crate::pages::speedtest::SpeedTest agent=agent /> })}
                // Built again only for another device: a restart on new firmware (the device away
                // for a while) keeps the card, its progress and its result.
                {move || chosen.get().map(|agent| view! { <crate::pages::firmware::Firmware agent=agent /> })}
            </div>
        </PageFrame>
    }
}

#[component]
fn Details(details: DeviceDetails) -> impl IntoView {
    let app = use_app();
    let confirming = RwSignal::new(false);
    let rebooting = RwSignal::new(false);
    let reboot = {
        let (agent, name) = (details.agent.clone(), details.name.clone());
        move |_| {
            let (args, name) = (AgentArgs { agent: agent.clone() }, name.clone());
            confirming.set(false);
            app.act(rebooting, api::device_reboot(args), move |()| {
                app.notify(format!("{name} is restarting. It will be back in a minute or two."));
            });
        }
    };
    view! {
        <article class="card">
            <h2>{details.name.clone()}</h2>
            <dl id="device-fields" class="facts">
                {details.fields.iter().map(|(label, value)| view! { <dt>{label.clone()}</dt><dd>{value.clone()}</dd> }).collect_view()}
            </dl>
            {(!details.controllers.is_empty()).then(|| view! {
                <h3>"Controllers it knows"</h3>
                <ul id="device-controllers" class="list">
                    {details.controllers.iter().map(|c| view! {
                        <li class="row">
                            <span class="stack tight">
                                <span class="mono small">{c.endpoint_id.clone()}</span>
                                <span class="muted small">{controller_line(c)}</span>
                            </span>
                        </li>
                    }).collect_view()}
                </ul>
            })}
            {(!details.offers.is_empty() || !details.lacks.is_empty()).then(|| view! {
                <h3>"What it offers to usp-home"</h3>
                <p id="device-offers" class="small">
                    {if details.offers.is_empty() { "Only its own details.".to_owned() } else { details.offers.join(" · ") }}
                </p>
                {(!details.lacks.is_empty()).then(|| view! {
                    <p id="device-lacks" class="muted small">{format!("Not offered: {}.", details.lacks.join(" · "))}</p>
                })}
            })}
            <div class="actions" hidden=!details.can_reboot>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <button id="reboot" type="button" class="secondary" disabled=move || rebooting.get() on:click=move |_| {
                            confirming.set(true);
                            request_animation_frame(|| crate::ipc::focus("reboot-confirm"));
                        }>
                            "Restart…"
                        </button>
                    }
                >
                    <div class="confirm" role="alertdialog" aria-labelledby="reboot-question">
                        <p id="reboot-question">"Restart now? Everything on this device loses its connection for a minute or two."</p>
                        <button id="reboot-confirm" type="button" class="danger" on:click=reboot.clone()>"Restart now"</button>
                        <button type="button" class="ghost" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </div>
                </Show>
                {move || rebooting.get().then(|| view! { <Busy text="Asking the device to restart…" /> })}
            </div>
        </article>
    }
}

/// "This app · enabled", for one controller.
fn controller_line(c: &ipc_types::ControllerEntry) -> String {
    let mut parts = Vec::new();
    if c.this_app {
        parts.push("This app".to_owned());
    }
    if let Some(alias) = &c.alias {
        parts.push(alias.clone());
    }
    parts.push(if c.enabled { "enabled".to_owned() } else { "switched off".to_owned() });
    parts.join(" · ")
}

#[component]
fn Ping(agent: String, can_ping: bool) -> impl IntoView {
    let app = use_app();
    let host = RwSignal::new(String::new());
    let running = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<PingResult, IpcError>>);
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let target = host.get_untracked().trim().to_owned();
        if target.is_empty() {
            result
                .set(Some(Err(IpcError::new(ipc_types::code::INVALID_INPUT, "Enter a host name or address to ping."))));
            return;
        }
        let args = PingArgs { agent: agent.clone(), host: target, count: 4 };
        app.ping_progress.set(None);
        result.set(None);
        running.set(true);
        spawn_local(async move {
            let outcome = api::device_ping(args).await;
            result.try_set(Some(outcome));
            running.try_set(false);
        });
    };
    view! {
        <article class="card">
            <h2>"Connection test"</h2>
            <p class="muted">"The device pings an address 4 times and reports how long the answers took."</p>
            <form class="inline-form" on:submit=start>
                <label for="ping-host">"Address"</label>
                <div class="row">
                    <input id="ping-host" type="text" placeholder="example.com" autocomplete="off" disabled=!can_ping
                        prop:value=move || host.get() on:input=move |ev| host.set(event_target_value(&ev)) />
                    <button id="ping-start" type="submit" class="primary" disabled=move || !can_ping || running.get()>
                        {move || if running.get() { "Testing…" } else { "Test" }}
                    </button>
                </div>
            </form>
            <p class="notice" hidden=can_ping>"This device does not offer connection tests to this app."</p>
            {move || running.get().then(|| view! {
                <div id="ping-progress" class="progress" role="status">
                    <progress aria-label="Connection test running"></progress>
                    <p class="muted small">{move || app.ping_progress.get().unwrap_or_else(|| "Waiting for the device…".into())}</p>
                </div>
            })}
            {move || result.get().map(|r| match r {
                Ok(r) => view! { <PingSummary result=r /> }.into_any(),
                Err(err) => view! { <div id="ping-result"><ErrorNote error=err /></div> }.into_any(),
            })}
        </article>
    }
}

#[component]
fn PingSummary(result: PingResult) -> impl IntoView {
    let ok = result.status == "Complete" && result.success > 0;
    let times = match (result.min_ms, result.avg_ms, result.max_ms) {
        (Some(min), Some(avg), Some(max)) => {
            format!(
                "Round trip: {} ms average ({}–{} ms).",
                format::number(avg),
                format::number(min),
                format::number(max)
            )
        }
        (_, Some(avg), _) => format!("Round trip: {} ms average.", format::number(avg)),
        _ => String::new(),
    };
    let headline = if ok {
        format!("{} of {} answers received.", result.success, result.success + result.failure)
    } else if result.status == "Complete" {
        "No answers: the address did not reply.".to_owned()
    } else {
        format!("The test did not complete ({}).", result.status.replace('_', " "))
    };
    view! {
        <div id="ping-result" class="result" class:ok=ok class:bad=!ok role="status">
            <p><strong>{headline}</strong></p>
            <p class="muted">{times}</p>
        </div>
    }
}
