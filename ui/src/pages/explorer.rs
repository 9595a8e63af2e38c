//! Explorer: walk a device's data model one level at a time, with current values; edit a value
//! only where our role may write it.

use ipc_types::{dom_id, DmEntry, DmKind, ExploreArgs, ParamSet, EXPLORER_PAGE};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{load_status, ready, PageFrame};
use crate::model::route::{crumbs, Page};
use crate::pages::agent::{agent_picker, AgentSelect};
use crate::state::{use_app, use_view};

#[cfg(test)]
mod tests {
    use super::page_text;

    #[test]
    fn long_levels_say_which_page_is_shown() {
        assert_eq!(page_text(0, 12, 12), None);
        assert_eq!(page_text(0, 500, 1200).as_deref(), Some("Entries 1–500 of 1200"));
        assert_eq!(page_text(1000, 200, 1200).as_deref(), Some("Entries 1001–1200 of 1200"));
    }
}

#[component]
pub fn ExplorerPage() -> impl IntoView {
    let app = use_app();
    let (home, chosen) = agent_picker(app);
    let path = RwSignal::new("Device.".to_owned());
    // Which page of a long level is shown (the app sends at most EXPLORER_PAGE entries at once).
    let offset = RwSignal::new(0u32);
    // A new agent starts at the root.
    Effect::new(move |previous: Option<Option<String>>| {
        let agent = chosen.get();
        if previous.is_some_and(|p| p != agent) {
            path.set("Device.".into());
            offset.set(0);
        }
        agent
    });
    let level = use_view(Page::Explorer.topic(), move || {
        let (agent, path, offset) = (chosen.get(), path.get(), offset.get());
        async move {
            match agent {
                Some(agent) => api::explore(ExploreArgs { agent, path, offset }).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let page_ready = Signal::derive(move || ready(home).get() && ready(level).get());
    let go = Callback::new(move |to: String| {
        offset.set(0);
        path.set(to);
    });
    view! {
        <PageFrame page=Page::Explorer ready=page_ready intro="Everything a device reports, as its data model. For the curious.">
            {load_status(home, "your devices")}
            <AgentSelect id="explorer-agent" home=home chosen=chosen />
            <nav class="crumbs" aria-label="Path">
                {move || {
                    let parts = crumbs(&path.get());
                    let last = parts.len().saturating_sub(1);
                    parts.into_iter().enumerate().map(|(i, (name, to))| {
                        if i == last {
                            view! { <span aria-current="location">{name}</span> }.into_any()
                        } else {
                            view! { <button type="button" class="link" on:click=move |_| go.run(to.clone())>{name}</button><span aria-hidden="true">"."</span> }.into_any()
                        }
                    }).collect_view()
                }}
            </nav>
            <p class="mono small muted">"Path: " <span id="explorer-path">{move || path.get()}</span></p>
            {load_status(level, "this level")}
            {move || level.get().and_then(Result::ok).flatten().map(|view| {
                let agent = view.agent.clone();
                if view.entries.is_empty() {
                    view! { <p class="empty">"Nothing here."</p> }.into_any()
                } else {
                    let pager = page_text(view.offset, view.entries.len(), view.total);
                    let (previous, next) = (view.offset.checked_sub(EXPLORER_PAGE).or((view.offset > 0).then_some(0)), view.next_offset);
                    view! {
                        {pager.clone().map(|text| view! { <p id="explorer-page" class="muted small">{text}</p> })}
                        <ul class="dm-list card">
                            {view.entries.into_iter().map(|entry| view! {
                                <Entry entry=entry agent=agent.clone() go=go refetch=Callback::new(move |()| level.refetch()) />
                            }).collect_view()}
                        </ul>
                        {pager.map(|_| view! {
                            <div class="row">
                                <button id="explorer-previous" type="button" class="secondary small" disabled=previous.is_none()
                                    on:click=move |_| if let Some(p) = previous { offset.set(p) }>"Previous"</button>
                                <button id="explorer-next" type="button" class="secondary small" disabled=next.is_none()
                                    on:click=move |_| if let Some(n) = next { offset.set(n) }>"Next"</button>
                            </div>
                        })}
                    }.into_any()
                }
            })}
        </PageFrame>
    }
}

/// "Entries 501–1000 of 410,002" when a level has more than one page; `None` otherwise.
fn page_text(offset: u32, shown: usize, total: u32) -> Option<String> {
    let shown = u32::try_from(shown).unwrap_or(u32::MAX);
    if offset == 0 && shown >= total {
        return None;
    }
    let last = offset.saturating_add(shown);
    Some(format!("Entries {}–{last} of {total}", offset.saturating_add(1)))
}

#[component]
fn Entry(entry: DmEntry, agent: String, go: Callback<String>, refetch: Callback<()>) -> impl IntoView {
    let app = use_app();
    let id = format!("dm-{}", dom_id(&entry.path));
    let kind = match entry.kind {
        DmKind::Object => "object",
        DmKind::Table => "table",
        DmKind::Instance => "instance",
        DmKind::Parameter => "parameter",
        DmKind::Command => "command",
        DmKind::Event => "event",
    };
    match entry.kind {
        DmKind::Object | DmKind::Table | DmKind::Instance => {
            let to = entry.path.clone();
            view! {
                <li id=id class=format!("dm {kind}")>
                    <button type="button" class="dm-open" on:click=move |_| go.run(to.clone())>
                        <span class="dm-name">{entry.name.clone()}</span>
                        <span class="chip">{kind}</span>
                        <span aria-hidden="true" class="chev">"›"</span>
                    </button>
                </li>
            }
            .into_any()
        }
        DmKind::Parameter => {
            let editing = RwSignal::new(false);
            // A secret's value never comes to the window: editing one starts empty.
            let draft = RwSignal::new(entry.value.clone().unwrap_or_default());
            let secret = entry.secret;
            let saving = RwSignal::new(false);
            let path = entry.path.clone();
            let save = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let args = ParamSet { agent: agent.clone(), path: path.clone(), value: draft.get_untracked() };
                saving.set(true);
                spawn_local(async move {
                    match api::param_set(args).await {
                        Ok(()) => {
                            app.notify("Saved.");
                            editing.try_set(false);
                            refetch.run(());
                        }
                        Err(err) => app.fail(&err),
                    }
                    saving.try_set(false);
                });
            };
            let input_id = format!("{id}-input");
            let label_for = input_id.clone();
            let value = entry.value.clone().unwrap_or_default();
            let name = entry.name.clone();
            view! {
                <li id=id class="dm parameter">
                    <div class="row spread">
                        <span class="dm-name">{entry.name.clone()}</span>
                        <span class="muted small">{entry.value_type.clone()}</span>
                    </div>
                    <Show
                        when=move || editing.get()
                        fallback=move || {
                            let value = value.clone();
                            view! {
                                <div class="row spread">
                                    <span class="dm-value mono">{if secret {
                                        "••••• hidden".to_owned()
                                    } else if value.is_empty() {
                                        "(empty)".to_owned()
                                    } else {
                                        value
                                    }}</span>
                                    {entry.writable.then(|| view! {
                                        <button type="button" class="ghost small" on:click=move |_| editing.set(true)>"Edit"</button>
                                    })}
                                </div>
                            }
                        }
                    >
                        <form class="row" on:submit=save.clone()>
                            <label class="visually-hidden" for=label_for.clone()>{format!("New value of {name}")}</label>
                            <input id=input_id.clone() type=if secret { "password" } else { "text" } class="mono" autocomplete="off" prop:value=move || draft.get()
                                on:input=move |ev| draft.set(event_target_value(&ev)) />
                            <button type="submit" class="primary small" disabled=move || saving.get()>"Save"</button>
                            <button type="button" class="ghost small" on:click=move |_| editing.set(false)>"Cancel"</button>
                        </form>
                    </Show>
                </li>
            }
            .into_any()
        }
        DmKind::Command | DmKind::Event => view! {
            <li id=id class=format!("dm {kind}")>
                <div class="row spread">
                    <span class="dm-name mono">{entry.name.clone()}</span>
                    <span class="chip">{kind}</span>
                </div>
            </li>
        }
        .into_any(),
    }
}
