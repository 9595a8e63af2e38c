//! `impl Home` for the WiFi page: networks by band on every paired agent, rename, on/off,
//! passphrase and mode. Also the small request helpers the other feature files share
//! ([`get_params`], [`supported`], [`set_params`], [`add_row`], [`delete_rows`]): they turn
//! agent refusals into words, and never put a value (which may be a passphrase) in a message.

use ipc_types::{Topic, WifiEnable, WifiNetwork, WifiPassphrase, WifiRename, WifiView};
use usp_client::ClientError;
use usp_core::request::SupportedDmOptions;

use super::{AgentConn, AppError, AppResult, Home, REQUEST_DEADLINE};
use crate::features::guest::{self as guest_logic, AgentNetwork, Mark};
use crate::features::params::{Params, Supported};
use crate::features::wifi::{self as logic, Network};
use crate::secret::Secret;
use crate::vault::SecretKind;

// ---------------------------------------------------------------------------------------------
// Request helpers shared by the feature files

/// Runs one request to `conn`'s device within [`REQUEST_DEADLINE`]: a device that stops
/// answering gives [`AppError::Timeout`] instead of a command that hangs.
pub(super) async fn bounded<T, E>(
    conn: &AgentConn,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> AppResult<Result<T, E>> {
    tokio::time::timeout(REQUEST_DEADLINE, fut).await.map_err(|_| AppError::Timeout { name: conn.name.clone() })
}

/// A parameter whose value is a secret, by its name: one rule for the whole app
/// ([`crate::features::params::is_secret_name`]), so what the explorer hides is what needs
/// a protected link.
pub(super) fn is_secured_name(path: &str) -> bool {
    crate::features::params::is_secret_name(path.trim_end_matches('.'))
}

/// Refuses to send secured parameters over an unencrypted link to a device on the network,
/// unless the person allowed it for that device.
///
/// # Errors
/// [`AppError::Unencrypted`].
pub(super) fn check_secret_link<'a>(conn: &AgentConn, names: impl IntoIterator<Item = &'a str>) -> AppResult<()> {
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
pub(super) async fn get_params(conn: &AgentConn, paths: &[&str], action: &str) -> AppResult<Params> {
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
pub(super) async fn supported(conn: &AgentConn, paths: &[&str]) -> Option<Supported> {
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
pub(super) async fn set_params(conn: &AgentConn, params: &[(String, String)], action: &str) -> AppResult<()> {
    if params.is_empty() {
        return Ok(());
    }
    check_secret_link(conn, params.iter().map(|(p, _)| p.as_str()))?;
    let pairs: Vec<(&str, &str)> = params.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
    let resp = bounded(conn, conn.client.set(&pairs)).await?.map_err(|e| refusal(conn, action, &e))?;
    for (_, res) in resp.per_object() {
        if let Err(e) = res {
            return Err(refusal(conn, action, &ClientError::Usp(e)));
        }
    }
    Ok(())
}

/// Adds a row to `table` and returns its instance path (with the trailing dot).
pub(super) async fn add_row(
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
pub(super) async fn delete_rows(conn: &AgentConn, paths: &[String], action: &str) -> AppResult<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let resp = bounded(conn, conn.client.delete(paths)).await?.map_err(|e| refusal(conn, action, &e))?;
    for (_, res) in resp.per_object() {
        if let Err(e) = res {
            return Err(refusal(conn, action, &ClientError::Usp(e)));
        }
    }
    Ok(())
}

/// Runs `f` on every agent at once and returns the results in the agents' order; agents that
/// fail are left out (and logged with `what`), so one slow or broken agent never hides the rest.
pub(super) async fn per_agent<T, F, Fut>(agents: Vec<AgentConn>, what: &str, f: F) -> Vec<(AgentConn, T)>
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
pub(super) fn check_instance(path: &str, table: &str) -> AppResult<()> {
    let ok = path
        .strip_prefix(table)
        .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!("\"{path}\" is not a {table}N path.")))
    }
}

// ---------------------------------------------------------------------------------------------
// Loading networks

/// A network with where it lives and what we may do.
#[derive(Clone, Debug)]
pub(super) struct Loaded {
    pub agent: String,
    pub agent_name: String,
    pub net: Network,
    pub writable: bool,
}

impl Loaded {
    pub(super) fn dto(&self, guest: bool) -> WifiNetwork {
        WifiNetwork {
            agent: self.agent.clone(),
            agent_name: self.agent_name.clone(),
            ssid_path: self.net.ssid_path.clone(),
            ap_path: self.net.ap_path.clone(),
            ssid: self.net.ssid.clone(),
            bands: self.net.bands.clone(),
            enabled: self.net.is_on(),
            security: self.net.security.clone(),
            modes_supported: logic::offered_modes(&self.net.modes_supported),
            passphrase_readable: self.net.passphrase.is_some(),
            guest,
            writable: self.writable,
        }
    }
}

/// The networks of one agent.
pub(super) async fn agent_networks(conn: &AgentConn) -> AppResult<Vec<Loaded>> {
    let p = get_params(conn, &logic::GET_PATHS, "read its WiFi settings").await?;
    let nets = logic::networks(&p);
    if nets.is_empty() {
        return Ok(Vec::new());
    }
    let dm = supported(conn, &["Device.WiFi.SSID.", "Device.WiFi.AccessPoint."]).await;
    Ok(nets
        .into_iter()
        .map(|net| Loaded {
            agent: conn.eid.clone(),
            agent_name: conn.name.clone(),
            writable: logic::writable(&net, dm.as_ref()),
            net,
        })
        .collect())
}

impl Home {
    /// Every network of every paired agent (agents that fail are skipped and logged).
    pub(super) async fn all_networks(&self) -> Vec<Loaded> {
        let loaded = per_agent(self.paired().await, "WiFi", |conn| async move { agent_networks(&conn).await }).await;
        loaded.into_iter().flat_map(|(_, n)| n).collect()
    }

    /// The guest network among `nets`, with the user's mark from the store.
    pub(super) fn find_guest(&self, nets: &[Loaded]) -> (Vec<AgentNetwork>, Option<guest_logic::Found>) {
        let list: Vec<AgentNetwork> =
            nets.iter().map(|l| AgentNetwork { agent: l.agent.clone(), net: l.net.clone() }).collect();
        let mark = self.store().read(|d| d.guest.clone());
        let found = guest_logic::find(&list, mark.as_ref().map(|m| Mark { agent: &m.agent, ssid_path: &m.ssid_path }));
        (list, found)
    }

    /// Remembers a passphrase this app set, so the guest network can be shared later.
    pub(super) fn remember_passphrase(&self, agent: &str, ssid_path: &str, pass: &str) {
        let id = logic::vault_id(agent, ssid_path);
        if let Err(e) = self.vault().put(SecretKind::WifiPassphrase, &id, &Secret::new(pass.as_bytes().to_vec())) {
            tracing::warn!(error = %e, "could not keep the WiFi password in the vault");
        }
    }

    /// A passphrase this app set earlier, if the vault has it.
    pub(super) fn known_passphrase(&self, agent: &str, ssid_path: &str) -> Option<String> {
        let id = logic::vault_id(agent, ssid_path);
        let secret = self.vault().get(SecretKind::WifiPassphrase, &id).ok()??;
        String::from_utf8(secret.expose().clone()).ok().filter(|s| !s.is_empty())
    }

    /// The networks of one agent, and the one at `ssid_path` (or with AccessPoint `ap_path`).
    async fn network_of(&self, agent: &str, pick: impl Fn(&Network) -> bool) -> AppResult<(AgentConn, Loaded)> {
        let conn = self.conn(agent).await?;
        let nets = agent_networks(&conn).await?;
        let found = nets
            .into_iter()
            .find(|l| pick(&l.net))
            .ok_or_else(|| AppError::NotFound(format!("That WiFi network no longer exists on {}.", conn.name)))?;
        Ok((conn, found))
    }

    /// `wifi`: every network of every paired agent, gateway first, by SSID instance.
    ///
    /// # Errors
    /// None in practice: agents that fail are left out (and logged).
    pub async fn wifi(&self) -> AppResult<WifiView> {
        self.within(super::COMMAND_DEADLINE, None, self.wifi_inner()).await
    }

    async fn wifi_inner(&self) -> AppResult<WifiView> {
        let nets = self.all_networks().await;
        let (_, found) = self.find_guest(&nets);
        let guests: Vec<usize> = found.map(|f| f.siblings).unwrap_or_default();
        Ok(WifiView {
            networks: nets.iter().enumerate().map(|(i, l)| l.dto(guests.contains(&i))).collect(),
            not_offered: self.not_offering("WiFi"),
        })
    }

    /// `wifi_rename`: a new name (1-32 bytes) for one SSID.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad name; agent errors in words.
    pub async fn wifi_rename(&self, args: WifiRename) -> AppResult<()> {
        let who = args.agent.clone();
        self.within(super::COMMAND_DEADLINE, Some(&who), self.wifi_rename_inner(args)).await
    }

    async fn wifi_rename_inner(&self, args: WifiRename) -> AppResult<()> {
        logic::check_ssid(&args.ssid).map_err(AppError::InvalidInput)?;
        check_instance(&args.ssid_path, "Device.WiFi.SSID.")?;
        let conn = self.conn(&args.agent).await?;
        set_params(&conn, &[(format!("{}.SSID", args.ssid_path), args.ssid.clone())], "rename WiFi networks").await?;
        self.changed(&[Topic::Wifi, Topic::Guest, Topic::Mesh]);
        Ok(())
    }

    /// `wifi_enable`: switches an SSID (and its AccessPoint, when it has one) on or off.
    ///
    /// # Errors
    /// Agent errors in words.
    pub async fn wifi_enable(&self, args: WifiEnable) -> AppResult<()> {
        let who = args.agent.clone();
        self.within(super::COMMAND_DEADLINE, Some(&who), self.wifi_enable_inner(args)).await
    }

    async fn wifi_enable_inner(&self, args: WifiEnable) -> AppResult<()> {
        check_instance(&args.ssid_path, "Device.WiFi.SSID.")?;
        let (conn, l) = self.network_of(&args.agent, |n| n.ssid_path == args.ssid_path).await?;
        let v = if args.enabled { "true" } else { "false" };
        let mut params = vec![(format!("{}.Enable", l.net.ssid_path), v.to_owned())];
        if let Some(ap) = &l.net.ap_path {
            params.push((format!("{ap}.Enable"), v.to_owned()));
        }
        set_params(&conn, &params, "switch WiFi networks on or off").await?;
        self.changed(&[Topic::Wifi, Topic::Guest, Topic::Mesh]);
        Ok(())
    }

    /// `wifi_passphrase`: a new passphrase (8-63 printable ASCII or 64 hex digits) and
    /// optionally a mode the AccessPoint supports. The passphrase is kept in the vault.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad passphrase or mode; agent errors in words.
    pub async fn wifi_passphrase(&self, args: WifiPassphrase) -> AppResult<()> {
        let who = args.agent.clone();
        self.within(super::COMMAND_DEADLINE, Some(&who), self.wifi_passphrase_inner(args)).await
    }

    async fn wifi_passphrase_inner(&self, args: WifiPassphrase) -> AppResult<()> {
        logic::check_passphrase(&args.passphrase).map_err(AppError::InvalidInput)?;
        check_instance(&args.ap_path, "Device.WiFi.AccessPoint.")?;
        let (conn, l) = self.network_of(&args.agent, |n| n.ap_path.as_deref() == Some(args.ap_path.as_str())).await?;
        let params =
            logic::passphrase_params(&l.net, &args.passphrase, args.mode.as_deref()).map_err(AppError::InvalidInput)?;
        set_params(&conn, &params, "change WiFi passwords").await?;
        self.remember_passphrase(&conn.eid, &l.net.ssid_path, &args.passphrase);
        self.changed(&[Topic::Wifi, Topic::Guest]);
        Ok(())
    }
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
