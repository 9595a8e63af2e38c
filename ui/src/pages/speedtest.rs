//! Device page, "Speed test": the device itself downloads from and uploads to a test server
//! (TR-143), and the results are kept in the history on this computer.

use ipc_types::{IpcError, SpeedTestArgs, SpeedTestResult, SpeedTestServer, SpeedTestsView, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::chart::{Chart, DownUpKey};
use crate::components::ErrorNote;
use crate::model::chart::{mbit, speed_plot, SPEED_TESTS_SHOWN};
use crate::model::format;
use crate::state::{use_app, use_view};

/// The speed test card for `agent`.
#[component]
pub fn SpeedTest(agent: String) -> impl IntoView {
    let app = use_app();
    let view = use_view(Topic::Agent, api::speed_tests);
    let editing = RwSignal::new(false);
    let running = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<SpeedTestResult, IpcError>>);
    let run = move |_| {
        let args = SpeedTestArgs { agent: agent.clone() };
        app.ping_progress.set(None);
        result.set(None);
        running.set(true);
        spawn_local(async move {
            let outcome = api::speed_test(args).await;
            if outcome.is_ok() {
                app.bump(Topic::Agent);
            }
            result.try_set(Some(outcome));
            running.try_set(false);
        });
    };
    view! {
        <article id="speedtest" class="card">
            <h2>"Speed test"</h2>
            <p class="muted">
                "The device itself downloads from a test server, then uploads 10 MB to it: this measures your line, not this computer's WiFi."
            </p>
            {move || match view.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(err)) => view! { <ErrorNote error=err /> }.into_any(),
                Some(Ok(v)) => {
                    let server = v.server.clone();
                    view! {
                        {match (&server, editing.get()) {
                            (Some(s), false) => view! {
                                <p class="small">
                                    "Test server: " <span id="speedtest-server" class="mono">{host(&s.download_url)}</span> " "
                                    <button type="button" id="speedtest-server-change" class="ghost" on:click=move |_| editing.set(true)>"Change"</button>
                                </p>
                                <button type="button" id="speedtest-run" class="primary" disabled=move || running.get() on:click=run.clone()>
                                    {move || if running.get() { "Testing…" } else { "Run speed test" }}
                                </button>
                            }.into_any(),
                            _ => view! { <ServerForm current=server.clone() editing=editing /> }.into_any(),
                        }}
                        <History view=v />
                    }.into_any()
                }
            }}
            {move || running.get().then(|| view! {
                <div id="speedtest-progress" class="progress" role="status">
                    <progress aria-label="Speed test running"></progress>
                    <p class="muted small">{move || app.ping_progress.get().unwrap_or_else(|| "Waiting for the device…".into())}</p>
                </div>
            })}
            {move || result.get().map(|r| match r {
                Ok(r) => view! {
                    <div id="speedtest-result" class="result ok" role="status">
                        <p><strong>{format!("↓ {} Mbit/s down · ↑ {} Mbit/s up", mbit(r.down_mbps), mbit(r.up_mbps))}</strong></p>
                    </div>
                }.into_any(),
                Err(err) => view! { <div id="speedtest-result"><ErrorNote error=err /></div> }.into_any(),
            })}
        </article>
    }
}

#[component]
fn ServerForm(current: Option<SpeedTestServer>, editing: RwSignal<bool>) -> impl IntoView {
    let app = use_app();
    let down = RwSignal::new(current.as_ref().map(|s| s.download_url.clone()).unwrap_or_default());
    let up = RwSignal::new(current.as_ref().map(|s| s.upload_url.clone()).unwrap_or_default());
    let saving = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let args = SpeedTestServer { download_url: down.get_untracked(), upload_url: up.get_untracked() };
        app.act(saving, api::speed_test_server_set(args), move |_: SpeedTestsView| {
            editing.try_set(false);
            app.notify("Test server saved.".to_owned());
            app.bump(Topic::Agent);
        });
    };
    view! {
        <form class="inline-form" on:submit=save>
            <label for="speedtest-download">"Download from (a large file)"</label>
            <input id="speedtest-download" type="url" placeholder="http://speed.example.net/100MB.bin" autocomplete="off"
                prop:value=move || down.get() on:input=move |ev| down.set(event_target_value(&ev)) />
            <label for="speedtest-upload">"Upload to (accepts HTTP PUT)"</label>
            <input id="speedtest-upload" type="url" placeholder="http://speed.example.net/upload" autocomplete="off"
                prop:value=move || up.get() on:input=move |ev| up.set(event_target_value(&ev)) />
            <div class="actions">
                <button id="speedtest-server-save" type="submit" class="primary" disabled=move || saving.get()>
                    {move || if saving.get() { "Saving…" } else { "Save test server" }}
                </button>
            </div>
        </form>
    }
}

/// The results over time (a chart of the last 20, oldest left) and the last few in words.
#[component]
fn History(view: SpeedTestsView) -> impl IntoView {
    if view.results.is_empty() {
        return view! {
            <p id="speedtest-empty" class="muted small">"No speed tests yet: each one you run is kept on this computer and charted here."</p>
        }
        .into_any();
    }
    let now_ms = crate::ipc::now_ms() as i64;
    let plot = speed_plot(&view.results, now_ms);
    let count = view.results.len().min(SPEED_TESTS_SHOWN);
    let label = format!("Speed test history, the last {count}");
    let shown: Vec<SpeedTestResult> = view.results.into_iter().take(5).collect();
    view! {
        <h3 class="chart-title chart-head">
            {if count == 1 { "The last speed test, Mbit/s".to_owned() } else { format!("The last {count} speed tests, Mbit/s") }}
            " " <DownUpKey />
        </h3>
        <Chart plot=plot id="speedtest-chart".to_owned() label=label class="speed" />
        <ul id="speedtest-history" class="list small">
            {shown
                .into_iter()
                .map(|r| {
                    let when = format::ago_secs(r.at_ms / 1000, now_ms / 1000);
                    view! { <li>{format!("{when}: ↓ {} · ↑ {} Mbit/s", mbit(r.down_mbps), mbit(r.up_mbps))}</li> }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest).to_owned()
}
