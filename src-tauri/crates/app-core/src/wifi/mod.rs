//! `impl Home` for the WiFi page: networks by band on every paired agent, rename, on/off,
//! passphrase and mode.

pub mod rules;

use ipc_types::{Topic, WifiEnable, WifiNetwork, WifiPassphrase, WifiRename, WifiView};

use crate::agent_io::{check_instance, get_params, per_agent, set_params, supported};
use crate::guest::rules::{self as guest_logic, AgentNetwork, Mark};
use crate::home::{AgentConn, AppError, AppResult, Home};
use crate::secret::Secret;
use crate::vault::SecretKind;
use crate::wifi::rules::{self as logic, Network};
// ---------------------------------------------------------------------------------------------
// Loading networks

/// A network with where it lives and what we may do.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    pub agent: String,
    pub agent_name: String,
    pub net: Network,
    pub writable: bool,
}

impl Loaded {
    pub(crate) fn dto(&self, guest: bool) -> WifiNetwork {
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
pub(crate) async fn agent_networks(conn: &AgentConn) -> AppResult<Vec<Loaded>> {
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
    pub(crate) async fn all_networks(&self) -> Vec<Loaded> {
        let loaded = per_agent(self.paired().await, "WiFi", |conn| async move { agent_networks(&conn).await }).await;
        loaded.into_iter().flat_map(|(_, n)| n).collect()
    }

    /// The guest network among `nets`, with the user's mark from the store.
    pub(crate) fn find_guest(&self, nets: &[Loaded]) -> (Vec<AgentNetwork>, Option<guest_logic::Found>) {
        let list: Vec<AgentNetwork> =
            nets.iter().map(|l| AgentNetwork { agent: l.agent.clone(), net: l.net.clone() }).collect();
        let mark = self.store().read(|d| d.guest.clone());
        let found = guest_logic::find(&list, mark.as_ref().map(|m| Mark { agent: &m.agent, ssid_path: &m.ssid_path }));
        (list, found)
    }

    /// Remembers a passphrase this app set, so the guest network can be shared later.
    pub(crate) fn remember_passphrase(&self, agent: &str, ssid_path: &str, pass: &str) {
        let id = logic::vault_id(agent, ssid_path);
        if let Err(e) = self.vault().put(SecretKind::WifiPassphrase, &id, &Secret::new(pass.as_bytes().to_vec())) {
            tracing::warn!(error = %e, "could not keep the WiFi password in the vault");
        }
    }

    /// A passphrase this app set earlier, if the vault has it.
    pub(crate) fn known_passphrase(&self, agent: &str, ssid_path: &str) -> Option<String> {
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
        self.within(crate::home::COMMAND_DEADLINE, None, self.wifi_inner()).await
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
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.wifi_rename_inner(args)).await
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
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.wifi_enable_inner(args)).await
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
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.wifi_passphrase_inner(args)).await
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
