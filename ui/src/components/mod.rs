//! Small reusable views: switches, loading and error notes, QR codes, the notice area, navigation.

pub mod chart;

use ipc_types::IpcError;
use leptos::prelude::*;

use crate::model::errors::{advise, Remedy};
use crate::model::route::Page;
use crate::state::{use_app, ToastKind};

/// An on/off switch: a real button with `role="switch"` and `aria-checked`.
#[component]
pub fn Switch(
    id: String,
    /// Accessible name (it may follow live data, like a network's name).
    #[prop(into)]
    label: Signal<String>,
    checked: Signal<bool>,
    #[prop(optional)] busy: Option<Signal<bool>>,
    #[prop(optional)] disabled: Option<Signal<bool>>,
    #[prop(optional)] big: bool,
    /// Called with the wanted new state.
    on_toggle: Callback<bool>,
) -> impl IntoView {
    let busy = move || busy.is_some_and(|b| b.get());
    let disabled = move || disabled.is_some_and(|d| d.get());
    view! {
        <button
            type="button"
            role="switch"
            id=id
            class="switch"
            class:big=big
            aria-label=move || label.get()
            aria-checked=move || if checked.get() { "true" } else { "false" }
            aria-busy=move || busy().then_some("true")
            disabled=move || busy() || disabled()
            on:click=move |_| on_toggle.run(!checked.get_untracked())
        >
            <span class="knob" aria-hidden="true"></span>
        </button>
    }
}

/// A spinner with words, for work in progress.
#[component]
pub fn Busy(#[prop(into)] text: String) -> impl IntoView {
    view! {
        <p class="busy" role="status">
            <span class="spinner" aria-hidden="true"></span>
            {text}
        </p>
    }
}

/// An error in words with its one action. `agent` lets "Pair" open the right dialog.
#[component]
pub fn ErrorNote(
    error: IpcError,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    #[prop(optional)] agent: Option<String>,
) -> impl IntoView {
    let app = use_app();
    let advice = advise(&error);
    let action = match (advice.remedy, advice.remedy.label()) {
        (Remedy::Pair, Some(label)) => Some(match agent {
            Some(agent) => view! {
                <button type="button" class="secondary" on:click=move |_| app.pairing.set(Some(agent.clone()))>
                    {label}
                </button>
            }
            .into_any(),
            None => view! { <button type="button" class="secondary" on:click=move |_| app.go(Page::Home)>"Pair on Home"</button> }
                .into_any(),
        }),
        (Remedy::ReviewCertificate, Some(label)) => Some(
            view! { <button type="button" class="secondary" on:click=move |_| app.go(Page::Home)>{label}</button> }
                .into_any(),
        ),
        (Remedy::None, _) | (_, None) => None,
        (_, Some(label)) => on_retry.map(|retry| {
            view! { <button type="button" class="secondary" on:click=move |_| retry.run(())>{label}</button> }
                .into_any()
        }),
    };
    view! {
        <div class="error-note" role="alert">
            <p>{advice.message}</p>
            {action}
        </div>
    }
}

/// Loading / error / nothing, for a page's main resource. `retry` re-fetches.
pub fn load_status<T: Clone + Send + Sync + 'static>(
    res: LocalResource<Result<T, IpcError>>,
    what: &'static str,
) -> impl IntoView {
    move || match res.get() {
        None => Some(view! { <Busy text=format!("Loading {what}…") /> }.into_any()),
        Some(Ok(_)) => None,
        Some(Err(error)) => {
            Some(view! { <ErrorNote error=error on_retry=Callback::new(move |()| res.refetch()) /> }.into_any())
        }
    }
}

/// Whether a resource holds data (for `data-ready`).
pub fn ready<T: Clone + Send + Sync + 'static>(res: LocalResource<Result<T, IpcError>>) -> Signal<bool> {
    Signal::derive(move || res.with(|r| matches!(r, Some(Ok(_)))))
}

/// One part of a page's view (`|v| v.networks`), empty until the view has loaded or when it failed.
pub fn part<T, U>(res: LocalResource<Result<T, IpcError>>, pick: impl Fn(&T) -> U + Send + Sync + 'static) -> Memo<U>
where
    T: Clone + Send + Sync + 'static,
    U: Default + PartialEq + Send + Sync + 'static,
{
    Memo::new(move |_| res.with(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map(&pick)).unwrap_or_default())
}

/// What a page says when it has nothing to show: the [`NotOffered`] notes while `empty`, else
/// `children` (`<p class="empty">`) once the view has loaded with nothing in it.
#[component]
pub fn NothingToShow(
    #[prop(into)] ready: Signal<bool>,
    #[prop(into)] empty: Signal<bool>,
    not_offered: Memo<Vec<String>>,
    what: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <NotOffered names=not_offered.into() empty=empty what=what />
        <p class="empty" hidden=move || !ready.get() || !empty.get() || !not_offered.with(Vec::is_empty)>
            {children()}
        </p>
    }
}

/// An SVG made by our own Rust code (QR codes), inlined in a container.
#[component]
pub fn InlineSvg(id: String, svg: String, label: String) -> impl IntoView {
    view! { <div id=id class="qr" role="img" aria-label=label inner_html=svg></div> }
}

/// Paired devices that don't offer what a page shows, each in a sentence (`#not-offered`):
/// "Reference agent doesn't offer WiFi settings to usp-home." Shown only while the page has
/// nothing else to show (`empty`): beside the other devices' settings it would only be noise.
#[component]
pub fn NotOffered(names: Signal<Vec<String>>, empty: Signal<bool>, what: &'static str) -> impl IntoView {
    view! {
        <div id="not-offered" class="not-offered" hidden=move || !empty.get() || names.with(Vec::is_empty)>
            <For each=move || names.get() key=|n| n.clone() let:name>
                <p class="notice">{not_offered_text(&name, what)}</p>
            </For>
        </div>
    }
}

/// The sentence of [`NotOffered`].
fn not_offered_text(name: &str, what: &str) -> String {
    format!(
        "{name} doesn't offer {what} to usp-home: its data model has none, or the role it gave this app \
         doesn't let it see them."
    )
}

/// Copies `text` to the clipboard (the page's `navigator.clipboard`); false when the webview
/// doesn't allow it, so the caller can ask the person to copy it by hand.
pub async fn copy_text(text: &str) -> bool {
    use wasm_bindgen::{JsCast, JsValue};
    let get = |obj: &JsValue, key: &str| {
        js_sys::Reflect::get(obj, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
    };
    let Some(clipboard) = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "clipboard")) else {
        return false;
    };
    let Some(write) = get(&clipboard, "writeText").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) else {
        return false;
    };
    let Ok(promise) = write.call1(&clipboard, &JsValue::from_str(text)) else { return false };
    let Ok(promise) = promise.dyn_into::<js_sys::Promise>() else { return false };
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// The notice area: `#notifications` (a live region) holding `#toast`.
#[component]
pub fn Notices() -> impl IntoView {
    let app = use_app();
    let text = move || app.toast.with(|t| t.as_ref().map(|t| t.text.clone()).unwrap_or_default());
    let is_error = move || app.toast.with(|t| t.as_ref().is_some_and(|t| t.kind == ToastKind::Error));
    view! {
        <div id="notifications" aria-live="polite" class:empty=move || app.toast.with(Option::is_none)>
            <div class="toast" class:error=is_error>
                <p id="toast" role=move || if is_error() { "alert" } else { "status" }>{text}</p>
                <button
                    type="button"
                    class="ghost"
                    aria-label="Dismiss notice"
                    hidden=move || app.toast.with(Option::is_none)
                    on:click=move |_| app.toast.set(None)
                >
                    "×"
                </button>
            </div>
        </div>
    }
}

/// The page links: a sidebar on wide screens, a scrolling bottom bar on phones.
#[component]
pub fn Nav() -> impl IntoView {
    let app = use_app();
    view! {
        <nav id="nav" aria-label="Pages">
            <p class="brand" aria-hidden="true">
                <span class="logo"></span>
                "usp-home"
            </p>
            <ul>
                {Page::ALL
                    .into_iter()
                    .map(|page| {
                        view! {
                            <li>
                                <a
                                    id=format!("nav-{}", page.name())
                                    href=page.href()
                                    aria-current=move || (app.page.get() == page).then_some("page")
                                >
                                    <span class=format!("icon icon-{}", page.name()) aria-hidden="true"></span>
                                    <span class="label">{page.label()}</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <p class="live" hidden=move || !app.live.get() title="Changes on your devices show up here as they happen">
                <span class="dot" aria-hidden="true"></span>
                "Live"
            </p>
        </nav>
    }
}

/// A page's outer frame: `<section id="page-…" data-ready>` with its title. `data-ready-at`
/// keeps when the page first showed its data (ms of `performance.now()`), for the start-time
/// measurement (scripts/measure.sh), which would otherwise only see it at its next poll.
#[component]
pub fn PageFrame(
    page: Page,
    #[prop(into)] ready: Signal<bool>,
    #[prop(optional, into)] intro: Option<String>,
    children: Children,
) -> impl IntoView {
    let ready_at = RwSignal::new(None::<u64>);
    Effect::new(move |_| {
        if ready.get() && ready_at.get_untracked().is_none() {
            ready_at.set(Some(crate::ipc::page_ms().round() as u64));
        }
    });
    view! {
        <section
            id=format!("page-{}", page.name())
            class="page"
            aria-labelledby=format!("title-{}", page.name())
            data-ready=move || ready.get().then_some("true")
            data-ready-at=move || ready_at.get().map(|ms| ms.to_string())
            aria-busy=move || (!ready.get()).then_some("true")
        >
            <header class="page-head">
                <h1 id=format!("title-{}", page.name()) tabindex="-1">{page.label()}</h1>
                {intro.map(|text| view! { <p class="intro">{text}</p> })}
            </header>
            {children()}
        </section>
    }
}
