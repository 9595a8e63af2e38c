//! The passcode dialog: asks the device for its prompt, sends the passcode, and shows every
//! outcome in words (wrong passcode with tries left, locked out, expired, offline, done).

use ipc_types::{AgentArgs, PairingSubmit, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::model::errors::Remedy;
use crate::model::pairing::{device_says, link_words, tries_hint, PairPhase};
use crate::state::use_app;
use crate::{api, ipc};

/// The dialog, shown while `AppState::pairing` names an agent.
#[component]
pub fn PairDialog() -> impl IntoView {
    let app = use_app();
    move || app.pairing.get().map(|agent| view! { <Dialog agent=agent /> })
}

#[component]
fn Dialog(agent: String) -> impl IntoView {
    let app = use_app();
    let phase = RwSignal::new(PairPhase::Starting);
    let passcode = RwSignal::new(String::new());

    let start = {
        let agent = agent.clone();
        Callback::new(move |()| {
            phase.set(PairPhase::Starting);
            let args = AgentArgs { agent: agent.clone() };
            spawn_local(async move {
                let result = api::pairing_start(args).await;
                phase.try_set(PairPhase::started(result));
            });
        })
    };
    start.run(());

    let submit = {
        let agent = agent.clone();
        Callback::new(move |()| {
            let Some(prompt) = phase.with_untracked(|p| p.can_submit().then(|| p.prompt().cloned()).flatten()) else {
                return;
            };
            // Take the secret out of the signal at once: it lives only in the request.
            let code = passcode.get_untracked();
            passcode.set(String::new());
            if code.is_empty() {
                return;
            }
            phase.set(PairPhase::submitting(prompt.clone()));
            let args = PairingSubmit { agent: agent.clone(), passcode: code };
            spawn_local(async move {
                let next = PairPhase::submitted(prompt, api::pairing_submit(args).await);
                if let PairPhase::Done { .. } = next {
                    app.bump(Topic::Home);
                    app.notify("Paired. You can now manage this device.");
                }
                phase.try_set(next);
            });
        })
    };
    let close = move || {
        passcode.set(String::new());
        app.pairing.set(None);
    };

    // Keyboard focus: the passcode field whenever it waits for input, else the close button.
    Effect::new(move |_| {
        phase.with(|p| match p {
            PairPhase::Ready { .. } => ipc::focus("passcode-input"),
            PairPhase::Done { .. } | PairPhase::Failed { .. } | PairPhase::LockedOut { .. } => {
                ipc::focus("pairing-close")
            }
            _ => {}
        })
    });

    let busy = move || phase.with(PairPhase::busy);
    let error = move || phase.with(|p| p.error().map(str::to_owned));
    let done = move || phase.with(|p| matches!(p, PairPhase::Done { .. }));
    let instruction = move || {
        phase.with(|p| match p {
            PairPhase::Starting => "Asking the device how to pair…".to_owned(),
            PairPhase::Done { .. } => "Pairing is complete.".to_owned(),
            other => other.prompt().map_or_else(|| "Pairing is not possible right now.".to_owned(), device_says),
        })
    };
    let description = move || phase.with(|p| p.prompt().and_then(|p| p.description.clone()));
    // Which device this is, as the app knows it (not as the device describes itself).
    let device = move || phase.with(|p| p.prompt().cloned());
    // The prompt's count is from before the first try; after a wrong passcode the error says it.
    let tries = move || {
        phase.with(|p| if p.error().is_some() { None } else { p.prompt().and_then(|p| tries_hint(p.tries_left)) })
    };
    let submit_disabled = move || !phase.with(PairPhase::can_submit) || passcode.with(String::is_empty);

    view! {
        <div class="backdrop">
            <div
                class="dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="pairing-title"
                aria-describedby="pairing-instruction"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        close();
                    }
                }
            >
                <h2 id="pairing-title">"Pair with your device"</h2>
                {move || device().map(|p| {
                    let tone = if p.encrypted || p.local { "ok" } else { "warn" };
                    view! {
                        <dl class="facts pairing-device">
                            <dt>"Device"</dt>
                            <dd id="pairing-device-name">{p.name.clone()}</dd>
                            <dt>"Endpoint ID"</dt>
                            <dd id="pairing-device-eid" class="mono small">{p.agent.clone()}</dd>
                            <dt>"Connection"</dt>
                            <dd id="pairing-link" class=format!("tone-{tone}") data-encrypted=p.encrypted.to_string()>
                                {link_words(&p)}
                            </dd>
                            {p.fingerprint.clone().map(|fp| view! {
                                <dt>"Certificate"</dt>
                                <dd id="pairing-fingerprint" class="mono small fingerprint">{fp}</dd>
                            })}
                        </dl>
                    }
                })}
                <p id="pairing-instruction" class="instruction">{instruction}</p>
                {move || description().map(|d| view! { <p class="muted">{d}</p> })}
                {move || busy().then(|| view! {
                    <p class="busy" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        {move || if phase.with(|p| matches!(p, PairPhase::Starting)) { "Contacting the device…" } else { "Checking the passcode…" }}
                    </p>
                })}
                {move || error().map(|e| view! { <p id="pairing-error" class="error-text" role="alert">{e}</p> })}
                {move || done().then(|| {
                    let role = phase.with_untracked(|p| match p {
                        PairPhase::Done { role: Some(role) } => format!(" Your access: {role}."),
                        _ => String::new(),
                    });
                    view! {
                        <p id="pairing-done" class="success" role="status">
                            {format!("Paired! You can now manage this device.{role}")}
                        </p>
                    }
                })}
                <Show when=move || phase.with(PairPhase::wants_passcode)>
                    <form
                        class="stack"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            submit.run(());
                        }
                    >
                        <label for="passcode-input">"Passcode"</label>
                        <input
                            id="passcode-input"
                            type="password"
                            autocomplete="one-time-code"
                            autocapitalize="off"
                            spellcheck="false"
                            aria-invalid=move || error().is_some().then_some("true")
                            aria-describedby="pairing-instruction"
                            disabled=move || busy() || !phase.with(PairPhase::can_submit)
                            prop:value=move || passcode.get()
                            on:input=move |ev| passcode.set(event_target_value(&ev))
                        />
                        {move || tries().map(|t| view! { <p class="muted small">{t}</p> })}
                        <div class="actions">
                            <button id="passcode-submit" type="submit" class="primary" disabled=submit_disabled>
                                "Pair"
                            </button>
                        </div>
                    </form>
                </Show>
                <div class="actions end">
                    {move || (phase.with(PairPhase::remedy) == Remedy::StartAgain).then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| start.run(())>"Start again"</button>
                    })}
                    <button id="pairing-close" type="button" class=move || if done() { "primary" } else { "ghost" } on:click=move |_| close()>
                        {move || if done() { "Done" } else { "Cancel" }}
                    </button>
                </div>
            </div>
        </div>
    }
}
