//! `impl Home` for the Devices page: the hosts (devices on the LAN) of every paired agent merged by MAC, user labels,
//! pause/resume through `Device.Hosts.AccessControl`, and "seen" marks for new devices.

pub mod rules;

use ipc_types::{ConnectedDevice, DevicePause, DeviceRename, DevicesView, Topic};

use crate::agent_io::{add_row, delete_rows, get_params, per_agent, set_params};
use crate::home::{AgentConn, AppError, AppResult, Home};
use crate::hosts::rules::{self as logic, AgentData, Known, Step};
use crate::params::{norm_mac, Params};

/// A MAC from the UI, normalised, or words.
pub(crate) fn mac_arg(mac: &str) -> AppResult<String> {
    norm_mac(mac).ok_or_else(|| AppError::InvalidInput(format!("\"{mac}\" is not a device address (MAC).")))
}

/// Runs pause/resume/bedtime steps on one agent.
pub(crate) async fn run_steps(conn: &AgentConn, steps: &[Step], action: &str) -> AppResult<()> {
    for step in steps {
        match step {
            Step::Add { table, params } => {
                add_row(conn, table, params, action).await?;
            }
            Step::Set(params) => set_params(conn, params, action).await?,
            Step::Delete(path) => delete_rows(conn, std::slice::from_ref(path), action).await?,
        }
    }
    Ok(())
}

impl Home {
    /// The host data of every paired agent, for the Devices page (agents that fail are skipped).
    pub(crate) async fn hosts_data(&self) -> Vec<(AgentConn, Params)> {
        per_agent(self.paired().await, "devices", |conn| async move {
            get_params(&conn, &logic::GET_PATHS, "list connected devices").await
        })
        .await
    }

    /// The hosts of every agent merged by MAC, from loaded data.
    pub(crate) fn hosts_from(&self, data: &[(AgentConn, Params)]) -> Vec<ConnectedDevice> {
        let agents: Vec<AgentData<'_>> =
            data.iter().map(|(c, p)| AgentData { agent: &c.eid, name: &c.name, params: p }).collect();
        let mut devices = self.store().read(|d| logic::devices(&agents, Known { labels: &d.labels, seen: &d.seen }));
        self.mark_paused_for(&mut devices);
        self.store().read(|d| {
            for dev in &mut devices {
                dev.watched = d.alert_watch.contains(&dev.mac);
            }
        });
        devices
    }

    /// `devices`: every device of the home, online first.
    ///
    /// # Errors
    /// None in practice (agents that fail are left out).
    pub async fn devices(&self) -> AppResult<DevicesView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.devices_inner()).await
    }

    async fn devices_inner(&self) -> AppResult<DevicesView> {
        let data = self.hosts_data().await;
        Ok(DevicesView { devices: self.hosts_from(&data), not_offered: self.not_offering("Hosts") })
    }

    /// `device_rename`: the user's own name for a device (empty clears it). Kept in the app's
    /// settings file, not on the agents.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad MAC or name.
    pub async fn device_rename(&self, args: DeviceRename) -> AppResult<()> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.device_rename_inner(args)).await
    }

    async fn device_rename_inner(&self, args: DeviceRename) -> AppResult<()> {
        let mac = mac_arg(&args.mac)?;
        let name = args.name.trim().to_owned();
        if name.chars().count() > 64 {
            return Err(AppError::InvalidInput("A device name can have at most 64 characters.".into()));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::InvalidInput("A device name can't contain control characters.".into()));
        }
        self.store().update(|d| {
            if name.is_empty() {
                d.labels.remove(&mac);
            } else {
                d.labels.insert(mac.clone(), name.clone());
            }
        })?;
        self.changed(&[Topic::Hosts, Topic::Mesh, Topic::Parental]);
        Ok(())
    }

    /// `device_pause`: no internet for a device now (`paused`), or back to normal. Done on the
    /// agent that reports the device, through a `Deny` access-control row (see
    /// [`crate::hosts::rules::pause_steps`]).
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown device; agent errors in words.
    pub async fn device_pause(&self, args: DevicePause) -> AppResult<()> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.device_pause_inner(args)).await
    }

    async fn device_pause_inner(&self, args: DevicePause) -> AppResult<()> {
        let mac = mac_arg(&args.mac)?;
        // A pause for a while ends (or makes way for a pause until resumed) first.
        self.end_override(&mac).await?;
        let data = self.hosts_data().await;
        let devices = self.hosts_from(&data);
        let dev = host(&devices, &mac)?;
        let (conn, params) = data.iter().find(|(c, _)| c.eid == dev.agent).ok_or_else(gone)?;
        let rows = logic::access_rows(params);
        let steps = logic::pause_steps(&rows, &mac, dev.host_name.as_deref(), args.paused);
        let action = if args.paused { "pause devices" } else { "resume devices" };
        run_steps(conn, &steps, action).await?;
        self.changed(&[Topic::Hosts, Topic::Parental]);
        Ok(())
    }

    /// `devices_seen`: every device listed now is no longer "new". Announces a change of the
    /// Devices view only when a mark was added (so a page that calls this on load doesn't loop).
    ///
    /// # Errors
    /// [`AppError::Internal`] when the settings file can't be written.
    pub async fn devices_seen(&self) -> AppResult<()> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.devices_seen_inner()).await
    }

    async fn devices_seen_inner(&self) -> AppResult<()> {
        let data = self.hosts_data().await;
        let macs: Vec<String> = self.hosts_from(&data).into_iter().map(|d| d.mac).collect();
        let added = self.store().update(|d| {
            let before = d.seen.len();
            d.seen.extend(macs.iter().cloned());
            d.known_macs.extend(macs.iter().cloned());
            d.seen.len() != before
        })?;
        if added {
            self.changed(&[Topic::Hosts]);
        }
        Ok(())
    }
}

/// The connected device with this MAC, or why there is none in words.
///
/// # Errors
/// [`AppError::NotFound`] when no paired agent reports it now.
pub(crate) fn host<'a>(devices: &'a [ConnectedDevice], mac: &str) -> AppResult<&'a ConnectedDevice> {
    devices.iter().find(|d| d.mac == mac).ok_or_else(gone)
}

/// A device that left the home since the page showed it.
fn gone() -> AppError {
    AppError::NotFound("That device is not connected to your home any more.".into())
}
