//! Parental controls: bedtimes (no internet for a device at set hours) and the other access
//! rules on the network, ours apart from others'.

use ipc_types::{dom_id, Bedtime, BedtimeDelete, BedtimeExtra, RuleOrigin, ScheduleModel, Topic, Weekday};
use leptos::prelude::*;

use crate::api;
use crate::components::{load_status, ready, NotOffered, PageFrame};
use crate::model::route::Page;
use crate::model::schedule::{day_id, days_summary, overnight, rule_line, span, BedtimeForm};
use crate::state::{use_app, use_view};

#[component]
pub fn ParentalPage() -> impl IntoView {
    let parental = use_view(Page::Parental.topic(), api::parental);
    let devices = use_view(Topic::Hosts, api::devices);
    let both_ready = Signal::derive(move || ready(parental).get() && ready(devices).get());
    // Hosts coming and going refresh this page; the editor is built again only if the router's
    // support for schedules changes, and what is typed lives here, so a refresh never wipes it.
    let unsupported =
        Memo::new(move |_| parental.get().and_then(Result::ok).is_some_and(|v| v.model == ScheduleModel::None));
    let form = RwSignal::new(BedtimeForm::default());
    let not_offered =
        Memo::new(move |_| parental.get().and_then(Result::ok).map(|v| v.not_offered).unwrap_or_default());
    let nothing_yet = Signal::derive(move || {
        parental.get().and_then(Result::ok).is_some_and(|v| v.bedtimes.is_empty() && v.other_rules.is_empty())
    });
    view! {
        <PageFrame page=Page::Parental ready=both_ready intro="Bedtimes switch the internet off for a device at set hours.">
            {load_status(parental, "parental controls")}
            {load_status(devices, "devices")}
            <NotOffered names=not_offered.into() empty=nothing_yet what="parental controls" />
            <div class="two-col">
                <article class="card">
                    <h2>"New bedtime"</h2>
                    {move || if unsupported.get() {
                        view! {
                            <p class="notice">"Your router does not support schedules. You can still pause a device now on the Devices page."</p>
                        }.into_any()
                    } else {
                        view! { <BedtimeEditor devices=devices form=form /> }.into_any()
                    }}
                </article>
                <article class="card">
                    <h2>"Bedtimes"</h2>
                    {move || parental.get().and_then(Result::ok).map(|view| {
                        if view.bedtimes.is_empty() {
                            view! { <p class="empty">"No bedtimes yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="list">
                                    {view.bedtimes.into_iter().map(|b| view! { <BedtimeRow bedtime=b /> }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    })}
                </article>
            </div>
            {move || parental.get().and_then(Result::ok).filter(|v| !v.other_rules.is_empty()).map(|view| view! {
                <article class="card">
                    <h2>"Other access rules"</h2>
                    <p class="muted">"Rules on your router that are not bedtimes. Those set elsewhere can only be changed where they were made."</p>
                    <ul class="list">
                        {view.other_rules.into_iter().map(|rule| view! {
                            <li class="row" id=format!("rule-{}", dom_id(&rule.path))>
                                <span>
                                    <strong>{rule.device_name}</strong>
                                    {rule_line(&rule.policy, rule.enabled, &rule.summary)}
                                </span>
                                <OriginChip origin=rule.origin />
                            </li>
                        }).collect_view()}
                    </ul>
                </article>
            })}
        </PageFrame>
    }
}

#[component]
fn OriginChip(origin: RuleOrigin) -> impl IntoView {
    match origin {
        RuleOrigin::Ours => view! { <span class="chip accent">"Set by this app"</span> },
        RuleOrigin::Other => view! { <span class="chip">"Set elsewhere"</span> },
    }
}

#[component]
fn BedtimeEditor(
    devices: LocalResource<Result<ipc_types::DevicesView, ipc_types::IpcError>>,
    form: RwSignal<BedtimeForm>,
) -> impl IntoView {
    let app = use_app();
    let problem = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = match form.with_untracked(BedtimeForm::validate) {
            Ok(request) => request,
            Err(why) => {
                problem.set(Some(why));
                return;
            }
        };
        problem.set(None);
        app.act(saving, api::bedtime_create(request), move |bedtime| {
            app.notify(format!(
                "Bedtime set for {}: {}, {}.",
                bedtime.device_name,
                days_summary(&bedtime.days),
                span(&bedtime.start, &bedtime.end)
            ));
            // Saved: the form is ready for the next one.
            form.try_set(BedtimeForm::default());
            app.bump(Topic::Parental);
        });
    };
    let options = move || devices.get().and_then(Result::ok).map(|v| v.devices).unwrap_or_default();
    view! {
        <form class="stack" on:submit=save>
            <label for="bedtime-device">"Device"</label>
            <select
                id="bedtime-device"
                prop:value=move || form.with(|f| f.mac.clone())
                on:change=move |ev| form.update(|f| f.mac = event_target_value(&ev))
            >
                <option value="">"Choose a device…"</option>
                {move || options().into_iter().map(|d| {
                    let label = match &d.ip { Some(ip) => format!("{} ({ip})", d.name), None => d.name.clone() };
                    let selected = form.with_untracked(|f| f.mac == d.mac);
                    view! { <option value=d.mac.clone() selected=selected>{label}</option> }
                }).collect_view()}
            </select>
            <fieldset class="days">
                <legend>"Days"</legend>
                {Weekday::ALL.into_iter().map(|day| {
                    let id = format!("bedtime-day-{}", day_id(day));
                    let for_id = id.clone();
                    view! {
                        <label class="day" for=for_id>
                            <input
                                type="checkbox"
                                id=id
                                prop:checked=move || form.with(|f| f.days.contains(&day))
                                on:change=move |ev| form.update(|f| f.toggle_day(day, event_target_checked(&ev)))
                            />
                            <span>{&day.as_str()[..3]}</span>
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <div class="row times">
                <div class="stack">
                    <label for="bedtime-start">"Internet off at"</label>
                    <input
                        id="bedtime-start"
                        type="time"
                        required
                        prop:value=move || form.with(|f| f.start.clone())
                        on:input=move |ev| form.update(|f| f.start = event_target_value(&ev))
                        on:change=move |ev| form.update(|f| f.start = event_target_value(&ev))
                    />
                </div>
                <div class="stack">
                    <label for="bedtime-end">"Back on at"</label>
                    <input
                        id="bedtime-end"
                        type="time"
                        required
                        prop:value=move || form.with(|f| f.end.clone())
                        on:input=move |ev| form.update(|f| f.end = event_target_value(&ev))
                        on:change=move |ev| form.update(|f| f.end = event_target_value(&ev))
                    />
                </div>
            </div>
            <p class="muted small" aria-live="polite">
                {move || form.with(|f| {
                    let days = days_summary(&f.days);
                    if overnight(&f.start, &f.end) {
                        format!("{days}: off at {}, back the next morning at {}.", f.start, f.end)
                    } else {
                        format!("{days}: off from {} to {}.", f.start, f.end)
                    }
                })}
            </p>
            {move || problem.get().map(|p| view! { <p class="error-text" role="alert">{p}</p> })}
            <div class="actions">
                <button id="bedtime-save" type="submit" class="primary" disabled=move || saving.get()>
                    {move || if saving.get() { "Saving…" } else { "Save bedtime" }}
                </button>
            </div>
        </form>
    }
}

#[component]
fn BedtimeRow(bedtime: Bedtime) -> impl IntoView {
    let app = use_app();
    let b = dom_id(&bedtime.id);
    let deleting = RwSignal::new(false);
    let delete = {
        let (id, name) = (bedtime.id.clone(), bedtime.device_name.clone());
        move |_| {
            let (args, name) = (BedtimeDelete { id: id.clone() }, name.clone());
            app.act(deleting, api::bedtime_delete(args), move |()| {
                app.notify(format!("Bedtime for {name} removed."));
                app.bump(Topic::Parental);
            });
        }
    };
    let extending = RwSignal::new(false);
    let extra = {
        let (id, name) = (bedtime.id.clone(), bedtime.device_name.clone());
        move |_| {
            let (args, name) = (BedtimeExtra { id: id.clone(), minutes: 30 }, name.clone());
            app.act(extending, api::bedtime_extra(args), move |()| {
                app.notify(format!("30 more minutes tonight for {name}."));
                app.bump(Topic::Parental);
            });
        }
    };
    let ours = bedtime.origin == RuleOrigin::Ours;
    let extra_until = bedtime.extra_until.clone();
    view! {
        <li id=format!("bedtime-{b}") class="row bedtime">
            <span>
                <strong>{bedtime.device_name.clone()}</strong>
                <span class="muted">
                    {format!(" · {} · {}", days_summary(&bedtime.days), span(&bedtime.start, &bedtime.end))}
                    {(!bedtime.enabled).then_some(" · off")}
                </span>
                {extra_until.clone().map(|t| view! { <span id=format!("bedtime-extra-until-{b}") class="chip accent">{format!("Tonight from {t}")}</span> })}
            </span>
            <OriginChip origin=bedtime.origin />
            <button
                type="button"
                id=format!("bedtime-extra-{b}")
                class="secondary"
                aria-label=format!("30 more minutes tonight for {}", bedtime.device_name)
                hidden=!ours || !bedtime.enabled || extra_until.is_some()
                disabled=move || extending.get()
                on:click=extra
            >
                {move || if extending.get() { "Saving…" } else { "+30 min tonight" }}
            </button>
            <button
                type="button"
                id=format!("bedtime-delete-{b}")
                class="ghost danger-text"
                aria-label=format!("Delete the bedtime of {}", bedtime.device_name)
                disabled=move || deleting.get() || !ours
                title=if ours { "" } else { "Made elsewhere: change it where it was made" }
                on:click=delete
            >
                {move || if deleting.get() { "Deleting…" } else { "Delete" }}
            </button>
        </li>
    }
}
