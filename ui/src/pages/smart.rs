//! Smart home: lights, plugs, dimmers, modes and sensors from the hubs' IoT capabilities.

use ipc_types::{dom_id, Thing, ThingGroup, ThingSet, ThingState};
use leptos::prelude::*;

use crate::api;
use crate::components::{load_status, part, ready, NothingToShow, PageFrame, Switch};
use crate::model::format;
use crate::model::route::Page;
use crate::model::things::apply_value;
use crate::state::{use_app, use_view};

#[component]
pub fn SmartPage() -> impl IntoView {
    let smart = use_view(Page::Smart.topic(), api::smart_home);
    let groups = part(smart, |v| v.groups.clone());
    let not_offered = part(smart, |v| v.not_offered.clone());
    view! {
        <PageFrame page=Page::Smart ready=ready(smart) intro="Lights, plugs and sensors connected to your hubs.">
            {load_status(smart, "your smart home")}
            <NothingToShow ready=ready(smart) empty=Signal::derive(move || groups.with(Vec::is_empty)) not_offered what="smart-home things">
                "No smart home devices found on the paired hubs."
            </NothingToShow>
            // Keyed by what stays (a group's title, a thing's agent, path and kind): readings
            // arriving live update the cards in place instead of building them again under a
            // person's finger.
            <For each=move || groups.get() key=|g| g.title.clone() let:group>
                {
                    let title = group.title.clone();
                    let things = move || {
                        groups.with(|gs| gs.iter().find(|g| g.title == title).map(|g| g.things.clone()).unwrap_or_default())
                    };
                    view! {
                        <section class="group" aria-label=group.title.clone()>
                            <h2>{group.title.clone()}</h2>
                            <div class="cards things">
                                <For each=things key=thing_key let:thing>
                                    <ThingCard thing=thing groups=groups />
                                </For>
                            </div>
                        </section>
                    }
                }
            </For>
        </PageFrame>
    }
}

/// What identifies a card across refreshes; a thing whose kind changes gets a new card.
fn thing_key(thing: &Thing) -> (String, String, std::mem::Discriminant<ThingState>) {
    (thing.agent.clone(), thing.path.clone(), std::mem::discriminant(&thing.state))
}

#[component]
fn ThingCard(thing: Thing, groups: Memo<Vec<ThingGroup>>) -> impl IntoView {
    let app = use_app();
    let s = dom_id(&format!("{} {}", thing.agent, thing.path));
    let current = RwSignal::new(thing.clone());
    // A refresh of the page brings this thing's latest data into the card.
    let key = thing_key(&thing);
    let fetched =
        Memo::new(move |_| groups.with(|gs| gs.iter().flat_map(|g| &g.things).find(|t| thing_key(t) == key).cloned()));
    Effect::new(move |first_run: Option<()>| {
        let latest = fetched.get();
        if first_run.is_some() {
            if let Some(latest) = latest {
                current.set(latest);
            }
        }
    });
    let busy = RwSignal::new(false);
    let (agent, path, name) = (thing.agent.clone(), thing.path.clone(), thing.name.clone());
    let set = Callback::new(move |value: String| {
        let args = ThingSet { agent: agent.clone(), path: path.clone(), value };
        app.act(busy, api::thing_set(args), move |updated| {
            current.try_set(updated);
        });
    });
    // Values pushed live for this thing update the card at once.
    Effect::new({
        let (agent, path) = (thing.agent.clone(), thing.path.clone());
        move |first_run: Option<()>| {
            app.value.track();
            // A value pushed before this card was made is older than the data it shows.
            if first_run.is_none() {
                return;
            }
            app.value.with_untracked(|pushed| {
                if let Some((_, param, value)) = pushed.as_ref().filter(|(from, ..)| *from == agent) {
                    current.update(|t| {
                        apply_value(&mut t.state, &path, param, value);
                    });
                }
            })
        }
    });
    let writable = thing.writable;
    let icon = thing.kind_hint.clone().unwrap_or_else(|| thing.class.clone()).to_lowercase();
    let control = match &thing.state {
        ThingState::Switch { .. } => {
            let on = Signal::derive(move || current.with(|t| matches!(t.state, ThingState::Switch { on: true })));
            view! {
                <div class="control row">
                    <span class="state-word">{move || if on.get() { "On" } else { "Off" }}</span>
                    <Switch
                        id=format!("switch-{s}")
                        label=format!("{name} on or off")
                        checked=on
                        busy=busy.into()
                        disabled=Signal::derive(move || !writable)
                        on_toggle=Callback::new(move |want: bool| set.run(want.to_string()))
                    />
                </div>
            }
            .into_any()
        }
        ThingState::Level { unit, min, max, step, .. } => {
            let unit = unit.clone().unwrap_or_default();
            let value = move || {
                current.with(|t| match t.state {
                    ThingState::Level { value, .. } => value,
                    _ => 0.0,
                })
            };
            let shown = RwSignal::new(value());
            Effect::new(move |_| shown.set(value()));
            let unit_text = unit.clone();
            view! {
                <div class="control stack">
                    <label for=format!("level-{s}") class="row spread">
                        <span>"Level"</span>
                        <output>{move || format!("{} {unit_text}", format::number(shown.get())).trim().to_owned()}</output>
                    </label>
                    <input
                        id=format!("level-{s}")
                        type="range"
                        min=format::number(min.unwrap_or(0.0))
                        max=format::number(max.unwrap_or(100.0))
                        step=step.map_or_else(|| "any".to_owned(), format::number)
                        disabled=move || !writable || busy.get()
                        aria-valuetext=move || format!("{} {unit}", format::number(shown.get())).trim().to_owned()
                        prop:value=move || format::number(value())
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse() {
                                shown.set(v);
                            }
                        }
                        on:change=move |ev| set.run(event_target_value(&ev))
                    />
                </div>
            }
            .into_any()
        }
        ThingState::Choice { options, .. } => {
            let options = options.clone();
            let value = move || {
                current.with(|t| match &t.state {
                    ThingState::Choice { value, .. } => value.clone(),
                    _ => String::new(),
                })
            };
            view! {
                <div class="control stack">
                    <label for=format!("choice-{s}")>"Mode"</label>
                    <select
                        id=format!("choice-{s}")
                        disabled=move || !writable || busy.get()
                        prop:value=value
                        on:change=move |ev| set.run(event_target_value(&ev))
                    >
                        {options.into_iter().map(|o| {
                            let selected = value() == o;
                            view! { <option value=o.clone() selected=selected>{o.clone()}</option> }
                        }).collect_view()}
                    </select>
                </div>
            }
            .into_any()
        }
        ThingState::Sensor { .. } => {
            let reading = move || {
                current.with(|t| match &t.state {
                    ThingState::Sensor { value, unit, .. } => {
                        let value = value.parse::<f64>().map(format::number).unwrap_or_else(|_| value.clone());
                        format!("{value} {}", unit.clone().unwrap_or_default()).trim().to_owned()
                    }
                    _ => String::new(),
                })
            };
            let changed = move || {
                current.with(|t| match &t.state {
                    ThingState::Sensor { last_change: Some(when), .. } => {
                        let now = (crate::ipc::now_ms() / 1000.0) as i64;
                        format::ago(when, now).map(|ago| format!("Updated {ago}"))
                    }
                    _ => None,
                })
            };
            view! {
                <div class="control">
                    <p class="reading" id=format!("reading-{s}")>{reading}</p>
                    <p class="muted small">{changed}</p>
                </div>
            }
            .into_any()
        }
    };
    view! {
        <article id=format!("thing-{s}") class="card thing" aria-label=thing.name.clone()>
            <header class="row">
                <span class=format!("thing-icon hint-{icon}") aria-hidden="true"></span>
                <div>
                    <h3>{move || current.with(|t| t.name.clone())}</h3>
                    <p class="muted small">{thing.kind_hint.clone().unwrap_or(thing.class.clone())}</p>
                </div>
            </header>
            {control}
            <p class="muted small" hidden=writable>"Read only"</p>
        </article>
    }
}
