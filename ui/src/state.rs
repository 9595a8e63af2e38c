//! App-wide state, provided once as context: the page shown, live-update counters per topic,
//! the latest notice, the theme, and which agent the pairing dialog and device pages are about.

use std::future::Future;

use ipc_types::{IpcError, LiveEvent, Theme, Topic};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc;
use crate::model::errors::advise;
use crate::model::route::Page;

fn topic_index(topic: Topic) -> usize {
    // `Topic::ALL` lists the variants in declaration order (one macro writes both), so a topic's
    // discriminant is its place in it.
    topic as usize
}

/// Kind of notice, for its colour and its `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Info,
    Error,
}

/// The latest notice shown in `#toast`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub kind: ToastKind,
    /// Increases with each notice, so the same text twice still shows as new.
    pub serial: u32,
}

/// Shared state (a bundle of signals: `Copy`).
#[derive(Clone, Copy)]
pub struct AppState {
    pub page: RwSignal<Page>,
    versions: [RwSignal<u32>; Topic::ALL.len()],
    pub toast: RwSignal<Option<Toast>>,
    pub theme: RwSignal<Theme>,
    /// The agent whose passcode dialog is open.
    pub pairing: RwSignal<Option<String>>,
    /// The agent shown on the Device and Explorer pages.
    pub agent: RwSignal<Option<String>>,
    /// The latest diagnostics progress message (from `LiveEvent::PingProgress`).
    pub ping_progress: RwSignal<Option<String>>,
    /// The live channel is open.
    pub live: RwSignal<bool>,
    /// The latest single value pushed by an agent: (agent, path, value).
    pub value: RwSignal<Option<(String, String, String)>>,
}

impl AppState {
    pub fn new(page: Page) -> Self {
        Self {
            page: RwSignal::new(page),
            versions: std::array::from_fn(|_| RwSignal::new(0)),
            toast: RwSignal::new(None),
            theme: RwSignal::new(Theme::System),
            pairing: RwSignal::new(None),
            agent: RwSignal::new(None),
            ping_progress: RwSignal::new(None),
            live: RwSignal::new(false),
            value: RwSignal::new(None),
        }
    }

    /// Provides a new state as context and returns it.
    pub fn provide(page: Page) -> Self {
        let state = Self::new(page);
        provide_context(state);
        state
    }

    /// Reads the version of `topic` (so a resource fetcher that calls this re-runs on a bump).
    pub fn track(&self, topic: Topic) -> u32 {
        self.versions[topic_index(topic)].get()
    }

    /// Makes every page that shows `topic` fetch again.
    pub fn bump(&self, topic: Topic) {
        self.versions[topic_index(topic)].update(|v| *v = v.wrapping_add(1));
    }

    /// A person's action: runs `call` (a command) with `busy` set while it runs; then hands its
    /// result to `done` (to say so, refresh pages...), or shows its error.
    pub fn act<T: 'static>(
        &self,
        busy: RwSignal<bool>,
        call: impl Future<Output = Result<T, IpcError>> + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        let app = *self;
        busy.set(true);
        spawn_local(async move {
            match call.await {
                Ok(value) => done(value),
                Err(err) => app.fail(&err),
            }
            busy.try_set(false);
        });
    }

    /// Shows a confirmation or information.
    pub fn notify(&self, text: impl Into<String>) {
        self.show(text.into(), ToastKind::Info);
    }

    /// Shows an error in words.
    pub fn fail(&self, err: &IpcError) {
        self.show(advise(err).message, ToastKind::Error);
    }

    fn show(&self, text: String, kind: ToastKind) {
        let serial = self.toast.with_untracked(|t| t.as_ref().map_or(1, |t| t.serial + 1));
        self.toast.set(Some(Toast { text, kind, serial }));
    }

    /// Goes to `page` (through the address, so Back works).
    pub fn go(&self, page: Page) {
        ipc::set_hash(&page.href());
        self.show_page(page);
    }

    /// Shows `page` unless it is already shown: setting the signal to the same page would build
    /// the page again and throw its data away (`go` changes the address, and the `hashchange`
    /// that follows names the same page).
    pub fn show_page(&self, page: Page) {
        if self.page.get_untracked() != page {
            self.page.set(page);
        }
    }

    /// Applies the theme to the document.
    pub fn apply_theme(&self, theme: Theme) {
        self.theme.set(theme);
        ipc::set_document_theme(match theme {
            Theme::System => None,
            Theme::Light => Some("light"),
            Theme::Dark => Some("dark"),
        });
    }

    /// The live channel is open: every view fetches again. A view fetched before the channel
    /// opened may have missed a change made in between (an agent discovered while the window
    /// was starting), and no event would ever tell it.
    pub fn live_opened(&self) {
        self.live.set(true);
        for topic in Topic::ALL {
            self.bump(topic);
        }
    }

    /// Handles one live event from the shell.
    pub fn on_live(&self, event: LiveEvent) {
        match event {
            LiveEvent::Changed { topics } => {
                for topic in topics {
                    self.bump(topic);
                }
            }
            LiveEvent::DeviceJoined { name, .. } => {
                self.notify(format!("New device joined: {name}"));
                self.bump(Topic::Hosts);
            }
            LiveEvent::PingProgress { message, .. } => self.ping_progress.set(Some(message)),
            // Shown in place where a card shows that value (smart home); pages also re-fetch on `Changed`.
            LiveEvent::Value { agent, path, value } => self.value.set(Some((agent, path, value))),
        }
    }
}

/// The state from context.
pub fn use_app() -> AppState {
    expect_context::<AppState>()
}

/// A page's view: `fetch`ed at once and again whenever `topic` changes (a live event, or
/// [`AppState::bump`] after an action). `fetch` may read signals (the agent shown...): a change
/// of them fetches again too.
pub fn use_view<T, F>(topic: Topic, fetch: impl Fn() -> F + 'static) -> LocalResource<Result<T, IpcError>>
where
    T: 'static,
    F: Future<Output = Result<T, IpcError>> + 'static,
{
    let app = use_app();
    LocalResource::new(move || {
        app.track(topic);
        fetch()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Views fetched before the live channel opened fetch again when it does.
    #[test]
    fn opening_the_live_channel_refreshes_every_view() {
        let app = AppState::new(Page::Home);
        let before: Vec<u32> = Topic::ALL.iter().map(|t| app.versions[topic_index(*t)].get_untracked()).collect();
        app.live_opened();
        assert!(app.live.get_untracked());
        for (topic, was) in Topic::ALL.iter().zip(before) {
            assert_ne!(app.versions[topic_index(*topic)].get_untracked(), was, "{topic:?}");
        }
    }
}
