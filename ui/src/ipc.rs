//! The bridge to the Tauri shell: the only module that touches `JsValue`.
//!
//! Calls go through `window.__TAURI__.core.invoke` (present because `app.withGlobalTauri` is on).
//! Outside the shell, e.g. in a plain browser, there is no `__TAURI__` and every call fails with
//! [`code::NO_SHELL`] instead of throwing.

use ipc_types::{code, Command, IpcError, LiveEvent, Subscribe};
use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The wire convention: every command's arguments travel as `{"args": <Args>}`.
#[derive(Serialize)]
struct Wire<'a, A: Serialize> {
    args: &'a A,
}

/// Whether the page runs inside the app shell.
pub fn shell_present() -> bool {
    core_function("invoke").is_some()
}

/// Invokes command `C` with `args` and decodes its result.
///
/// # Errors
/// [`code::NO_SHELL`] outside the shell; the command's own [`IpcError`] when it fails;
/// [`code::SHELL`] when the shell rejects the call; [`code::PROTOCOL`] when a value does not
/// encode or decode.
pub async fn invoke<C: Command>(args: &C::Args) -> Result<C::Output, IpcError> {
    let args = serde_wasm_bindgen::to_value(&Wire { args })
        .map_err(|err| IpcError::new(code::PROTOCOL, format!("cannot encode arguments of {}: {err}", C::NAME)))?;
    let value = call(C::NAME, &args).await?;
    serde_wasm_bindgen::from_value(value)
        .map_err(|err| IpcError::new(code::PROTOCOL, format!("cannot decode the result of {}: {err}", C::NAME)))
}

/// Opens the live channel: creates a `window.__TAURI__.core.Channel`, routes its messages to
/// `on_event`, and invokes `live_subscribe` with `{"onEvent": channel}`. Messages that do not
/// decode are dropped (a newer shell may send events this UI does not know).
///
/// # Errors
/// [`code::NO_SHELL`] outside the shell, or the shell's refusal.
pub async fn subscribe(on_event: impl Fn(LiveEvent) + 'static) -> Result<(), IpcError> {
    let constructor = core_function("Channel").ok_or_else(no_shell)?;
    let channel = Reflect::construct(&constructor, &Array::new()).map_err(rejected)?;
    let handler = Closure::<dyn Fn(JsValue)>::new(move |message: JsValue| {
        if let Ok(event) = serde_wasm_bindgen::from_value::<LiveEvent>(message) {
            on_event(event);
        }
    });
    // The channel lives as long as the page: hand the closure to JS for good.
    Reflect::set(&channel, &JsValue::from_str("onmessage"), &handler.into_js_value()).map_err(rejected)?;
    let args = Object::new();
    Reflect::set(&args, &JsValue::from_str("onEvent"), &channel).map_err(rejected)?;
    call(Subscribe::NAME, &args).await.map(|_| ())
}

/// Milliseconds since the Unix epoch, from the browser clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds since this page started loading (`performance.now()`); 0 where there is none.
pub fn page_ms() -> f64 {
    let performance = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok();
    performance
        .and_then(|perf| {
            let now = Reflect::get(&perf, &JsValue::from_str("now")).ok()?.dyn_into::<Function>().ok()?;
            now.call0(&perf).ok()?.as_f64()
        })
        .unwrap_or(0.0)
}

/// Sets `data-theme` on `<html>` (`light`, `dark`, or removed for `system`).
pub fn set_document_theme(theme: Option<&str>) {
    let Some(root) = leptos::prelude::document().document_element() else { return };
    let _ = match theme {
        Some(theme) => root.set_attribute("data-theme", theme),
        None => root.remove_attribute("data-theme"),
    };
}

/// Puts a `<select>` that raised `ev` back on its first option (a menu of actions, not a
/// setting).
pub fn reset_select(ev: &leptos::ev::Event) {
    if let Some(target) = ev.target() {
        let _ = js_sys::Reflect::set(target.as_ref(), &JsValue::from_str("value"), &JsValue::from_str(""));
    }
}

/// Moves the keyboard focus to the element with this id, if any.
pub fn focus(id: &str) {
    if let Some(element) = leptos::prelude::document().get_element_by_id(id) {
        if let Ok(element) = element.dyn_into::<leptos::web_sys::HtmlElement>() {
            let _ = element.focus();
        }
    }
}

async fn call(name: &str, args: &JsValue) -> Result<JsValue, IpcError> {
    let invoke = core_function("invoke").ok_or_else(no_shell)?;
    let returned = invoke.call2(&JsValue::NULL, &JsValue::from_str(name), args).map_err(rejected)?;
    let promise: Promise = returned
        .dyn_into()
        .map_err(|_| IpcError::new(code::SHELL, format!("invoke({name}) did not return a promise")))?;
    JsFuture::from(promise).await.map_err(rejected)
}

fn no_shell() -> IpcError {
    IpcError::new(code::NO_SHELL, "not running inside the usp-home app (no window.__TAURI__)")
}

/// `window.__TAURI__.core[name]`, if it exists and is a function.
fn core_function(name: &str) -> Option<Function> {
    let tauri = property(&js_sys::global(), "__TAURI__")?;
    let core = property(&tauri, "core")?;
    property(&core, name)?.dyn_into::<Function>().ok()
}

/// `target[name]`, or `None` when it is missing, `undefined` or `null`.
fn property(target: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(name)).ok().filter(|value| !value.is_undefined() && !value.is_null())
}

/// A rejected invoke: the command's own serialised [`IpcError`], or a shell error (usually a
/// string such as "Command foo not found" or a permission denial).
fn rejected(err: JsValue) -> IpcError {
    if let Ok(ipc_error) = serde_wasm_bindgen::from_value::<IpcError>(err.clone()) {
        return ipc_error;
    }
    let message = err.as_string().unwrap_or_else(|| format!("{err:?}"));
    IpcError::new(code::SHELL, message)
}

/// The location hash (`#/wifi`), or empty.
pub fn hash() -> String {
    leptos::prelude::window().location().hash().unwrap_or_default()
}

/// Sets the location hash (adds a history entry).
pub fn set_hash(hash: &str) {
    let _ = leptos::prelude::window().location().set_hash(hash);
}
