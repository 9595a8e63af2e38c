//! Talking to an agent: the request helpers every feature uses (Get, GetSupportedDM, Set, Add,
//! Delete, the same request on every paired agent at once). They bound each request in time, turn
//! agent refusals into words, and never put a value (which may be a passphrase) in a message.

use usp_client::ClientError;
use usp_core::request::SupportedDmOptions;

use crate::home::{AgentConn, AppError, AppResult, REQUEST_DEADLINE};
use crate::params::{Params, Supported};

/// Runs one request to `conn`'s device within [`REQUEST_DEADLINE`]: a device that stops
/// answering gives [`AppError::Timeout`] instead of a command that hangs.
pub(crate) async fn bounded<T, E>(
    conn: &AgentConn,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> AppResult<Result<T, E>> {
    tokio::time::timeout(REQUEST_DEADLINE, fut).await.map_err(|_| AppError::Timeout { name: conn.name.clone() })
}

/// A parameter whose value is a secret, by its name: one rule for the whole app
/// ([`crate::params::is_secret_name`]), so what the explorer hides is what needs
/// a protected link.
pub(crate) fn is_secured_name(path: &str) -> bool {
    crate::params::is_secret_name(path.trim_end_matches('.'))
}

/// Refuses to send secured parameters over an unencrypted link to a device on the network,
/// unless the person allowed it for that device.
///
/// # Errors
/// [`AppError::Unencrypted`].
pub(crate) fn check_secret_link<'a>(conn: &AgentConn, names: impl IntoIterator<Item = &'a str>) -> AppResult<()> {
    if conn.secrets_ok {
        return Ok(());
    }
    match names.into_iter().find(|n| is_secured_name(n)) {
        Some(n) => Err(AppError::Unencrypted { name: conn.name.clone(), what: param_words(n).to_owned() }),
        None => Ok(()),
    }
}

/// A Get of `paths` on `conn`, flattened. Paths the agent doesn't have (per-path errors) are
/// simply absent from the result; a failure of the whole request is an error.
pub(crate) async fn get_params(conn: &AgentConn, paths: &[&str], action: &str) -> AppResult<Params> {
    let resp =
        bounded(conn, conn.client.get(paths, 0)).await?.map_err(|e| AppError::from_client(&conn.name, action, &e))?;
    if let Some((_, e)) = resp.errors().into_iter().find(|(_, e)| e.code == usp_core::code::PERMISSION_DENIED) {
        tracing::debug!(agent = %conn.eid, code = e.code, "a Get path was refused");
        if resp.params().is_empty() {
            return Err(AppError::Permission { name: conn.name.clone(), action: action.to_owned() });
        }
    }
    Ok(Params::from_get(&resp))
}

/// What the agent's supported data model under `paths` says (objects, writable parameters);
/// `None` when the request failed (callers then assume "writable" and let the Set decide).
pub(crate) async fn supported(conn: &AgentConn, paths: &[&str]) -> Option<Supported> {
    let opts = SupportedDmOptions {
        first_level_only: false,
        commands: false,
        events: false,
        params: true,
        unique_key_sets: false,
    };
    let resp = tokio::time::timeout(REQUEST_DEADLINE, conn.client.get_supported_dm(paths, opts)).await.ok()?.ok()?;
    Some(Supported::from_resp(&resp))
}

/// What a parameter is, in words, for error messages.
fn param_words(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "SSID" => "network name",
        "KeyPassphrase" | "SAEPassphrase" | "PreSharedKey" | "Password" => "password",
        "ModeEnabled" => "security mode",
        "Enable" => "on/off setting",
        "Value" => "value",
        "AccessPolicy" => "access rule",
        "Day" | "StartTime" | "Duration" => "schedule",
        "ScheduleRef" => "schedule link",
        "PhysAddress" => "device address",
        other if is_secured_name(other) => "secret setting",
        _ => "setting",
    }
}

/// A refusal of a Set/Add in words: per-parameter errors name the setting (never its value).
fn refusal(conn: &AgentConn, action: &str, err: &ClientError) -> AppError {
    if let ClientError::Usp(u) = err {
        if let Some((path, code, _)) = u.param_errs.first() {
            if matches!(*code, usp_core::code::PERMISSION_DENIED | usp_core::code::PARAMETER_READ_ONLY) {
                return AppError::Permission { name: conn.name.clone(), action: action.to_owned() };
            }
            return AppError::Refused {
                name: conn.name.clone(),
                message: format!(
                    "it did not accept the new {} ({}).",
                    param_words(path),
                    usp_core::error::error_code_text(*code)
                ),
                usp_code: *code,
            };
        }
    }
    AppError::from_client(&conn.name, action, err)
}

/// Sets `(full path, value)` pairs atomically (allow_partial false).
pub(crate) async fn set_params(conn: &AgentConn, params: &[(String, String)], action: &str) -> AppResult<()> {
    if params.is_empty() {
        return Ok(());
    }
    check_secret_link(conn, params.iter().map(|(p, _)| p.as_str()))?;
    let pairs: Vec<(&str, &str)> = params.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
    let resp = bounded(conn, conn.client.set(&pairs)).await?.map_err(|e| refusal(conn, action, &e))?;
    every_object_done(conn, action, resp.per_object())
}

/// Adds a row to `table` and returns its instance path (with the trailing dot).
pub(crate) async fn add_row(
    conn: &AgentConn,
    table: &str,
    params: &[(String, String)],
    action: &str,
) -> AppResult<String> {
    check_secret_link(conn, params.iter().map(|(p, _)| p.as_str()))?;
    let pairs: Vec<(&str, &str)> = params.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
    let resp = bounded(conn, conn.client.add(table, &pairs)).await?.map_err(|e| refusal(conn, action, &e))?;
    match resp.per_object().into_iter().next() {
        Some((_, Ok(ok))) => {
            let p = ok.instantiated_path.to_string();
            Ok(if p.ends_with('.') { p } else { format!("{p}.") })
        }
        Some((_, Err(e))) => Err(refusal(conn, action, &ClientError::Usp(e))),
        None => Err(AppError::Refused {
            name: conn.name.clone(),
            message: "it created nothing.".into(),
            usp_code: usp_core::code::REQUEST_DENIED,
        }),
    }
}

/// Deletes objects (paths with the trailing dot).
pub(crate) async fn delete_rows(conn: &AgentConn, paths: &[String], action: &str) -> AppResult<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let resp = bounded(conn, conn.client.delete(paths)).await?.map_err(|e| refusal(conn, action, &e))?;
    every_object_done(conn, action, resp.per_object())
}

/// The first per-object failure of a Set or Delete answer, in words (as [`refusal`]).
fn every_object_done<P, T>(
    conn: &AgentConn,
    action: &str,
    per_object: impl IntoIterator<Item = (P, Result<T, usp_core::UspError>)>,
) -> AppResult<()> {
    for (_, res) in per_object {
        if let Err(e) = res {
            return Err(refusal(conn, action, &ClientError::Usp(e)));
        }
    }
    Ok(())
}

/// Runs `f` on every agent at once and returns the results in the agents' order; agents that
/// fail are left out (and logged with `what`), so one slow or broken agent never hides the rest.
pub(crate) async fn per_agent<T, F, Fut>(agents: Vec<AgentConn>, what: &str, f: F) -> Vec<(AgentConn, T)>
where
    T: Send + 'static,
    F: Fn(AgentConn) -> Fut,
    Fut: std::future::Future<Output = AppResult<T>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (i, conn) in agents.iter().enumerate() {
        let fut = f(conn.clone());
        let name = conn.name.clone();
        // One device that stops answering never holds up the others.
        set.spawn(async move {
            match tokio::time::timeout(REQUEST_DEADLINE, fut).await {
                Ok(r) => (i, r),
                Err(_) => (i, Err(AppError::Timeout { name })),
            }
        });
    }
    let mut done: Vec<(usize, T)> = Vec::with_capacity(agents.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Ok(v))) => done.push((i, v)),
            Ok((i, Err(e))) => tracing::warn!(agent = %agents[i].eid, error = %e, "skipping an agent: {what}"),
            Err(e) => tracing::warn!(error = %e, "an agent request task failed: {what}"),
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(i, v)| (agents[i].clone(), v)).collect()
}

/// `Device.WiFi.SSID.3` / `Device.WiFi.AccessPoint.3` style paths only (no trailing dot, no
/// search expressions), so a command can't be turned into a write elsewhere.
pub(crate) fn check_instance(path: &str, table: &str) -> AppResult<()> {
    let ok = path
        .strip_prefix(table)
        .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!("\"{path}\" is not a {table}N path.")))
    }
}

/// Waits (at most `bound`) for the OperationComplete of the asynchronous command started with
/// `key` among `rx`'s notifications: its output arguments, or its failure in words.
pub(crate) async fn operation_complete(
    conn: &AgentConn,
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    key: &str,
    bound: std::time::Duration,
) -> AppResult<usp_core::msg::Params> {
    use tokio::sync::broadcast::error::RecvError;
    use usp_core::msg::{Notification, OperationCompleteResp};
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(n) => {
                    if let Notification::OperComplete(c) = &n.notify.notification {
                        if &*c.command_key == key {
                            return match &c.operation_resp {
                                OperationCompleteResp::ReqOutputArgs(args) => Ok(args.clone()),
                                OperationCompleteResp::CmdFailure(f) => Err(AppError::Refused {
                                    name: conn.name.clone(),
                                    message: if f.err_msg.is_empty() {
                                        usp_core::error::error_code_text(f.err_code).to_owned()
                                    } else {
                                        f.err_msg.to_string()
                                    },
                                    usp_code: f.err_code,
                                }),
                            };
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return Err(AppError::Offline { name: conn.name.clone() }),
            }
        }
    };
    tokio::time::timeout(bound, wait).await.map_err(|_| AppError::Timeout { name: conn.name.clone() })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secured_parameters_are_known_by_name() {
        for secret in [
            "Device.WiFi.AccessPoint.1.Security.KeyPassphrase",
            "Device.WiFi.AccessPoint.1.Security.SAEPassphrase",
            "Device.WiFi.AccessPoint.1.Security.PreSharedKey",
            "Device.WiFi.AccessPoint.1.Security.WEPKey",
            "Device.WiFi.AccessPoint.1.Security.RadiusSecret",
            "Device.Users.User.2.Password",
            "Device.LocalAgent.ControllerTrust.Challenge.1.Value.Passcode",
            "KeyPassphrase",
        ] {
            assert!(is_secured_name(secret), "{secret}");
        }
        for plain in ["Device.WiFi.SSID.1.SSID", "Device.WiFi.AccessPoint.1.Security.ModeEnabled", "Enable", "Device."]
        {
            assert!(!is_secured_name(plain), "{plain}");
        }
        assert_eq!(param_words("Device.X.RadiusSecret"), "secret setting");
    }
}
