//! The views. For now a single page that proves the shell round trip.

use ipc_types::{code, AppInfo, IpcError};
use leptos::prelude::*;

use crate::api;

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    let info = LocalResource::new(api::app_info);

    view! {
        <main id="app">
            <header>
                <h1 id="title">"usp-home"</h1>
            </header>
            <p id="app-info">
                <Suspense fallback=|| "Asking the app shell…">
                    {move || info.get().map(|result| describe(&result))}
                </Suspense>
            </p>
            <p id="home-placeholder">"The home view (your gateway, extenders and hubs) comes later."</p>
        </main>
    }
}

/// One line about the shell round trip.
fn describe(result: &Result<AppInfo, IpcError>) -> String {
    match result {
        Ok(info) => format!("{} {}", info.name, info.version),
        Err(err) if err.is(code::NO_SHELL) => "Running in a browser, outside the app shell.".to_owned(),
        Err(err) => format!("The app shell did not answer: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_each_outcome() {
        let ok = Ok(AppInfo { version: "0.1.0".into(), name: "usp-home".into() });
        assert_eq!(describe(&ok), "usp-home 0.1.0");
        assert_eq!(describe(&Err(IpcError::new(code::NO_SHELL, "x"))), "Running in a browser, outside the app shell.");
        assert_eq!(
            describe(&Err(IpcError::new(code::SHELL, "denied"))),
            "The app shell did not answer: denied (shell)"
        );
    }
}
