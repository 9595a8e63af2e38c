//! The bridge to the Tauri shell: the only module that touches `JsValue`.
//!
//! Calls go through `window.__TAURI__.core.invoke` (present because `app.withGlobalTauri` is on).
//! Outside the shell, e.g. in a plain browser, there is no `__TAURI__` and every call fails with
//! [`code::NO_SHELL`] instead of throwing.

use ipc_types::{code, Command, IpcError};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Whether the page runs inside the app shell.
pub fn shell_present() -> bool {
    invoke_function().is_some()
}

/// Invokes command `C` with `args` and decodes its result.
///
/// # Errors
/// [`code::NO_SHELL`] outside the shell; the command's own [`IpcError`] when it fails;
/// [`code::SHELL`] when the shell rejects the call; [`code::PROTOCOL`] when a value does not
/// encode or decode.
pub async fn invoke<C: Command>(args: &C::Args) -> Result<C::Output, IpcError> {
    let invoke = invoke_function()
        .ok_or_else(|| IpcError::new(code::NO_SHELL, "not running inside the usp-home app (no window.__TAURI__)"))?;
    let args = serde_wasm_bindgen::to_value(args)
        .map_err(|err| IpcError::new(code::PROTOCOL, format!("cannot encode arguments of {}: {err}", C::NAME)))?;
    let returned = invoke.call2(&JsValue::NULL, &JsValue::from_str(C::NAME), &args).map_err(rejected)?;
    let promise: Promise = returned
        .dyn_into()
        .map_err(|_| IpcError::new(code::SHELL, format!("invoke({}) did not return a promise", C::NAME)))?;
    let value = JsFuture::from(promise).await.map_err(rejected)?;
    serde_wasm_bindgen::from_value(value)
        .map_err(|err| IpcError::new(code::PROTOCOL, format!("cannot decode the result of {}: {err}", C::NAME)))
}

/// `window.__TAURI__.core.invoke`, if it exists and is a function.
fn invoke_function() -> Option<Function> {
    let tauri = property(&js_sys::global(), "__TAURI__")?;
    let core = property(&tauri, "core")?;
    property(&core, "invoke")?.dyn_into::<Function>().ok()
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
