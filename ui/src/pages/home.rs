//! Home: every agent of the home with its state, and the way to pair, trust or forget it.

use ipc_types::{
    dom_id, AgentAddress, AgentArgs, AgentAuth, AgentConsent, AgentSummary, BrokerLogin, Impersonation, Topic,
    TrustArgs,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{copy_text, load_status, ready, Busy, ErrorNote, InlineSvg, PageFrame};
use crate::model::format;
use crate::model::home::{
    auth_text, auth_tone, can_pair, changed_certificate, fingerprint_to_trust, is_broker_address, kind_label,
    link_badge, offers_consent, transport_text, CONSENT_EXPLANATION,
};
use crate::model::route::Page;
use crate::state::{use_app, use_view};

#[component]
pub fn HomePage() -> impl IntoView {
    let home = use_view(Page::Home.topic(), api::home);
    // The home's usage chart shows once a device is paired (before, there is nothing to count).
    let any_paired =
        crate::components::part(home, |v| v.agents.iter().any(|a| matches!(a.auth, AgentAuth::Paired { .. })));
    view! {
        <PageFrame page=Page::Home ready=ready(home) intro="Your router, extenders and smart home hubs.">
            {load_status(home, "your home")}
            {move || {
                home.get()
                    .and_then(Result::ok)
                    .map(|view| {
                        let empty = view.agents.is_empty();
                        let qr = view.our_endpoint_id_qr_svg.clone();
                        view! {
                            <p class="muted" hidden=!view.discovering>
                                <span class="spinner small" aria-hidden="true"></span>
                                "Looking for devices on your network…"
                            </p>
                            <p class="empty" hidden=!empty>
                                "No devices found yet. Make sure this computer is on your home network; "
                                "devices appear here as soon as they answer."
                            </p>
                            {view.gateway_conflict.clone().map(|msg| view! {
                                <p id="gateway-conflict" class="notice danger" role="alert">{msg}</p>
                            })}
                            {view
                                .impersonations
                                .clone()
                                .into_iter()
                                .map(|w| view! { <ImpersonationWarning warning=w /> })
                                .collect_view()}
                            <div class="cards">
                                {view
                                    .agents
                                    .into_iter()
                                    .map(|agent| view! {
                                        <AgentCard agent=agent qr_svg=qr.clone() refetch=Callback::new(move |()| home.refetch()) />
                                    })
                                    .collect_view()}
                            </div>
                        }
                    })
            }}
            // Built once, like the form below: a live update does not redraw the chart.
            <section id="home-usage" class="card" hidden=move || !any_paired.get()>
                <h2>"Internet use at home"</h2>
                <p class="muted small">"Every device's downloads and uploads added up."</p>
                <crate::pages::usage::UsageChart mac=None m="home".to_owned() />
            </section>
            // Built once, outside the part that live updates rebuild: an address being typed
            // (and the open form) stays when a device appears, goes or changes meanwhile.
            <AddByAddress />
        </PageFrame>
    }
}

/// An advert or address that pretended to be a known encrypted device: shown apart from the
/// device's own card, which stays as it was.
#[component]
fn ImpersonationWarning(warning: Impersonation) -> impl IntoView {
    let id = dom_id(&warning.agent);
    view! {
        <article id=format!("impersonation-{id}") class="card notice danger impersonation" role="alert">
            <h2 id=format!("impersonation-{id}-title")>
                {format!("Someone on your network is pretending to be {}", warning.name)}
            </h2>
            <p id=format!("impersonation-{id}-message")>{warning.message.clone()}</p>
            <dl class="facts">
                <dt>"It said it was at"</dt>
                <dd class="mono small" id=format!("impersonation-{id}-address")>{warning.address.clone()}</dd>
                <dt>"Endpoint ID it claimed"</dt>
                <dd class="mono small">{warning.agent.clone()}</dd>
            </dl>
        </article>
    }
}

#[component]
fn AgentCard(agent: AgentSummary, qr_svg: String, refetch: Callback<()>) -> impl IntoView {
    let app = use_app();
    let id = dom_id(&agent.agent);
    let trusting = RwSignal::new(false);
    let confirm_forget = RwSignal::new(false);
    let error = RwSignal::new(None);

    let trust = {
        let (agent_id, fingerprint) = (agent.agent.clone(), fingerprint_to_trust(&agent.auth).map(str::to_owned));
        move |_| {
            let Some(fingerprint) = fingerprint.clone() else { return };
            let args = TrustArgs { agent: agent_id.clone(), fingerprint };
            trusting.set(true);
            spawn_local(async move {
                match api::trust_agent(args).await {
                    Ok(summary) => {
                        app.notify(format!("{} is trusted.", summary.name));
                        app.bump(Topic::Home);
                    }
                    Err(err) => error.set(Some(err)),
                }
                trusting.set(false);
            });
        }
    };
    let forget = {
        let (agent_id, name) = (agent.agent.clone(), agent.name.clone());
        move |_| {
            let (args, name) = (AgentArgs { agent: agent_id.clone() }, name.clone());
            spawn_local(async move {
                match api::forget_agent(args).await {
                    Ok(()) => {
                        app.notify(format!("{name} was forgotten."));
                        app.bump(Topic::Home);
                    }
                    Err(err) => app.fail(&err),
                }
            });
        }
    };
    let details = {
        let agent_id = agent.agent.clone();
        move |_| {
            app.agent.set(Some(agent_id.clone()));
            app.go(Page::Agent);
        }
    };
    let pair = {
        let agent_id = agent.agent.clone();
        move |_| app.pairing.set(Some(agent_id.clone()))
    };

    let consent = {
        let agent_id = agent.agent.clone();
        move |ev: leptos::ev::Event| {
            let args = AgentConsent { agent: agent_id.clone(), allow: event_target_checked(&ev) };
            spawn_local(async move {
                match api::agent_allow_unencrypted(args).await {
                    Ok(_) => app.bump(Topic::Home),
                    Err(err) => error.set(Some(err)),
                }
            });
        }
    };

    let model = [agent.manufacturer.clone(), agent.model.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let fingerprint = fingerprint_to_trust(&agent.auth).map(str::to_owned);
    let changed_cert = changed_certificate(&agent.auth).map(|(old, new)| (old.map(str::to_owned), new.to_owned()));
    let (link_text, link_tone) = link_badge(&agent);
    let show_consent = offers_consent(&agent);
    let allowed = agent.allow_unencrypted;
    let not_authorised = match &agent.auth {
        ipc_types::AgentAuth::NotAuthorised { our_endpoint_id, next_check_secs } => {
            Some((our_endpoint_id.clone(), *next_check_secs))
        }
        _ => None,
    };
    let offline = matches!(agent.auth, ipc_types::AgentAuth::Offline { .. });
    let paired = matches!(agent.auth, ipc_types::AgentAuth::Paired { .. });
    let name = agent.name.clone();

    view! {
        <article id=format!("agent-{id}") class="card agent" aria-labelledby=format!("agent-{id}-name")>
            <header>
                <span class=format!("kind kind-{:?}", agent.kind).to_lowercase() aria-hidden="true"></span>
                <div>
                    <h2 id=format!("agent-{id}-name")>{agent.name.clone()}</h2>
                    <p class="muted">{kind_label(agent.kind)} {(!model.is_empty()).then(|| format!(" · {model}"))}</p>
                </div>
            </header>
            <p id=format!("agent-{id}-state") class=format!("state tone-{}", auth_tone(&agent.auth))>
                {auth_text(&agent.auth)}
            </p>
            <p id=format!("agent-{id}-link") class=format!("badge tone-{link_tone}")>{link_text}</p>
            <dl class="facts">
                {agent.firmware.clone().map(|fw| view! { <dt>"Firmware"</dt><dd>{fw}</dd> })}
                {agent.uptime_secs.map(|up| view! { <dt>"Running for"</dt><dd>{format::uptime(up)}</dd> })}
                <dt>"Address"</dt>
                <dd class="mono small">{agent.url.clone()}</dd>
                {(!agent.transport.is_empty()).then(|| view! {
                    <dt>"Connected over"</dt>
                    <dd id=format!("agent-{id}-transport")>{transport_text(&agent)}</dd>
                })}
            </dl>
            {fingerprint.map(|fp| view! {
                <div class="notice">
                    <p>"First visit: compare this fingerprint with the one in the device's own settings page."</p>
                    <p class="mono small fingerprint">{fp}</p>
                </div>
            })}
            {changed_cert.map(|(old, new)| view! {
                <div id=format!("agent-{id}-cert-changed") class="notice danger">
                    <p>
                        "This device now shows a different certificate than the one you trusted when you paired it. "
                        "Someone may be pretending to be it: the app does not connect, and checks again in the "
                        "background, so the genuine device comes back by itself. If you replaced or reset the "
                        "device, forget it and pair it again with its passcode."
                    </p>
                    <dl class="facts">
                        <dt>"Trusted when paired"</dt>
                        <dd id=format!("agent-{id}-cert-old") class="mono small fingerprint">
                            {old.unwrap_or_else(|| "unknown".to_owned())}
                        </dd>
                        <dt>"Shown now"</dt>
                        <dd id=format!("agent-{id}-cert-new") class="mono small fingerprint">{new}</dd>
                    </dl>
                </div>
            })}
            {show_consent.then(|| view! {
                <div class="consent">
                    <label for=format!("allow-unencrypted-{id}")>
                        <input
                            id=format!("allow-unencrypted-{id}")
                            type="checkbox"
                            prop:checked=allowed
                            on:change=consent.clone()
                        />
                        " Send passcodes and passwords to this device unencrypted"
                    </label>
                    <p class="muted small" id=format!("allow-unencrypted-{id}-why")>{CONSENT_EXPLANATION}</p>
                </div>
            })}
            {not_authorised.map(|(eid, next)| view! {
                <NotYetAuthorised agent=agent.agent.clone() our_eid=eid qr_svg=qr_svg.clone() next_check_secs=next />
            })}
            {move || error.get().map(|err| view! { <ErrorNote error=err on_retry=refetch /> })}
            <div class="actions">
                {can_pair(&agent.auth).then(|| view! {
                    <button type="button" id=format!("pair-{id}") class="primary" on:click=pair.clone()>
                        "Pair with passcode"
                    </button>
                })}
                {fingerprint_to_trust(&agent.auth).map(|_| view! {
                    <button type="button" id=format!("trust-{id}") class="primary" disabled=move || trusting.get() on:click=trust.clone()>
                        "Trust this device"
                    </button>
                })}
                {changed_certificate(&agent.auth).map(|_| view! {
                    <button type="button" id=format!("forget-repair-{id}") class="secondary" on:click=forget.clone()>
                        "Forget and pair again"
                    </button>
                })}
                {move || trusting.get().then(|| view! { <Busy text="Connecting…" /> })}
                {offline.then(|| view! {
                    <button type="button" class="secondary" on:click=move |_| refetch.run(())>"Try again"</button>
                })}
                {paired.then(|| view! {
                    <button type="button" class="secondary" on:click=details.clone()>"Details"</button>
                })}
                {agent.remembered.then(|| view! {
                    <Show
                        when=move || confirm_forget.get()
                        fallback=move || view! {
                            <button type="button" class="ghost" on:click=move |_| confirm_forget.set(true)>"Forget…"</button>
                        }
                    >
                        <span class="confirm">
                            {format!("Forget {name}? You will need to pair again.")}
                            <button type="button" class="danger" on:click=forget.clone()>"Forget"</button>
                            <button type="button" class="ghost" on:click=move |_| confirm_forget.set(false)>"Cancel"</button>
                        </span>
                    </Show>
                })}
            </div>
        </article>
    }
}

/// A device that ignores this app until the person adds it there: this app's ID to copy or
/// scan, where routers keep it, what the role means, and when the app asks again by itself.
#[component]
fn NotYetAuthorised(agent: String, our_eid: String, qr_svg: String, next_check_secs: Option<u64>) -> impl IntoView {
    let app = use_app();
    let id = dom_id(&agent);
    // Counts down between live updates (each update brings the app's own figure again).
    let left = RwSignal::new(next_check_secs);
    if next_check_secs.is_some() {
        let tick = move || left.update(|l| *l = l.map(|s| s.saturating_sub(1)));
        if let Ok(handle) =
            leptos::leptos_dom::helpers::set_interval_with_handle(tick, std::time::Duration::from_secs(1))
        {
            on_cleanup(move || handle.clear());
        }
    }
    let copied = RwSignal::new(None::<bool>);
    let copy = {
        let eid = our_eid.clone();
        move |_| {
            let eid = eid.clone();
            spawn_local(async move {
                let ok = copy_text(&eid).await;
                copied.try_set(Some(ok));
            });
        }
    };
    let asking = RwSignal::new(false);
    let check = move |_| {
        let args = AgentArgs { agent: agent.clone() };
        asking.set(true);
        left.set(None);
        spawn_local(async move {
            if let Err(err) = api::agent_check_now(args).await {
                app.fail(&err);
            }
            asking.try_set(false);
        });
    };
    view! {
        <div id=format!("agent-{id}-not-authorised") class="notice not-authorised">
            <p>
                "This device only talks to controllers it knows. To let usp-home in, add this app's ID as a "
                "controller in the device's settings page: routers usually keep them under “TR-369”, “USP” or "
                "“Remote management”, in a list called “Controllers”."
            </p>
            <div class="row copy-row">
                <p id=format!("agent-{id}-our-eid") class="mono small eid">{our_eid}</p>
                <button type="button" id=format!("copy-eid-{id}") class="secondary" on:click=copy>"Copy"</button>
            </div>
            <p class="muted small" role="status">
                {move || copied.get().map(|ok| if ok { "Copied." } else { "Select the ID above and copy it by hand." })}
            </p>
            <InlineSvg id=format!("agent-{id}-our-eid-qr") svg=qr_svg label="QR code of this app's ID".into() />
            <p class="muted small">
                "The role you give usp-home there decides what it may do: a full-access or home-user role lets "
                "it manage your WiFi and devices; a read-only role only lets it show them."
            </p>
            <div class="row">
                <p id=format!("agent-{id}-next-check") class="small" role="status">
                    {move || match left.get() {
                        Some(s) if s > 0 => format!("Checking again in {s} s; this card changes by itself once the device knows usp-home."),
                        _ => "Checking now…".to_owned(),
                    }}
                </p>
                <button type="button" id=format!("check-now-{id}") class="secondary" disabled=move || asking.get() on:click=check>
                    "Check now"
                </button>
            </div>
        </div>
    }
}

/// For devices discovery does not find: the address (and, for encrypted ones, the Endpoint ID)
/// as printed on the device or shown in its settings.
#[component]
fn AddByAddress() -> impl IntoView {
    let app = use_app();
    let address = RwSignal::new(String::new());
    let endpoint_id = RwSignal::new(String::new());
    let broker_user = RwSignal::new(String::new());
    let broker_password = RwSignal::new(String::new());
    let via_broker = move || is_broker_address(&address.get());
    let adding = RwSignal::new(false);
    let error = RwSignal::new(None);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if adding.get_untracked() {
            return;
        }
        let eid = endpoint_id.get_untracked();
        let user = broker_user.get_untracked();
        let broker_login = (is_broker_address(&address.get_untracked()) && !user.trim().is_empty())
            .then(|| BrokerLogin { username: user, password: broker_password.get_untracked() });
        let args = AgentAddress {
            address: address.get_untracked(),
            endpoint_id: (!eid.trim().is_empty()).then_some(eid),
            broker_login,
        };
        adding.set(true);
        error.set(None);
        spawn_local(async move {
            match api::agent_add(args).await {
                Ok(summary) => {
                    app.notify(format!("Found {}. Pair it with the passcode on its label.", summary.name));
                    address.set(String::new());
                    endpoint_id.set(String::new());
                    broker_user.set(String::new());
                    broker_password.set(String::new());
                    app.bump(Topic::Home);
                }
                Err(err) => error.set(Some(err)),
            }
            adding.set(false);
        });
    };
    view! {
        <details id="add-by-address" class="card add-by-address">
            <summary id="add-by-address-open">"Add a device by its address"</summary>
            <p class="muted">
                "For a device the app does not find by itself, for example on another part of your network. "
                "Its address is in its manual or its settings page."
            </p>
            <form class="inline-form" on:submit=add>
                <PlainField
                    id="add-address"
                    label="Address"
                    placeholder="192.168.1.1:8080/usp or mqtt://broker/topic"
                    value=address
                    required=true
                    inputmode="url"
                />
                <PlainField
                    id="add-eid"
                    label="Endpoint ID (needed for wss://, broker and CoAP addresses)"
                    placeholder="os::012345-ABCDEF (optional)"
                    value=endpoint_id
                />
                <Show when=via_broker>
                    <p class="muted small">
                        "This device is reached through a message broker. If the broker asks for a login, "
                        "type it here: it is kept in this computer's keyring."
                    </p>
                    <PlainField id="add-broker-user" label="Broker user name" placeholder="(optional)" value=broker_user />
                    <label for="add-broker-password">"Broker password"</label>
                    <input
                        id="add-broker-password"
                        type="password"
                        autocomplete="off"
                        prop:value=move || broker_password.get()
                        on:input=move |ev| broker_password.set(event_target_value(&ev))
                    />
                </Show>
                <div class="row">
                    <button id="add-submit" type="submit" class="primary" disabled=move || adding.get()>
                        {move || if adding.get() { "Looking…" } else { "Add device" }}
                    </button>
                </div>
                <div id="add-error">{move || error.get().map(|err| view! { <ErrorNote error=err /> })}</div>
            </form>
        </details>
    }
}

/// A labelled one-line text input for addresses and identifiers: typed exactly, so no
/// autocompletion or spell checking.
#[component]
fn PlainField(
    id: &'static str,
    label: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] inputmode: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input
            id=id
            type="text"
            inputmode=inputmode
            autocomplete="off"
            spellcheck="false"
            placeholder=placeholder
            required=required
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    }
}
