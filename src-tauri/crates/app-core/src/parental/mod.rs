//! `impl Home` for the Parental page: bedtimes (no internet for a device from a start to an end
//! time on chosen days) and the other access rules, on every paired agent that has
//! `Device.Hosts.AccessControl`. The encoding on TR-181 2.18 agents (`Device.Schedules` +
//! `ScheduleRef`) and on 2.14-2.17 agents (`AccessControl.{i}.Schedule.{i}`) is described in
//! [`rules`]; which one an agent uses is read from its GetSupportedDM.

pub mod pause_for;
pub mod rules;
pub mod timed;

use std::collections::HashMap;

use ipc_types::{Bedtime, BedtimeCreate, BedtimeDelete, ParentalView, ScheduleModel, Topic};

use crate::agent_io::{add_row, delete_rows, get_params, per_agent, supported};
use crate::home::{AgentConn, AppError, AppResult, Home};
use crate::hosts::mac_arg;
use crate::hosts::rules::{self as dev_logic, AccessRow};
use crate::params::Params;
use crate::parental::rules::{self as logic, Spec};

/// One agent's access-control data.
struct AgentRules {
    conn: AgentConn,
    model: ScheduleModel,
    params: Params,
    rows: Vec<AccessRow>,
}

const GET: [&str; 2] = ["Device.Hosts.", "Device.Schedules."];

/// The model an agent uses, from its supported data model.
async fn agent_model(conn: &AgentConn) -> ScheduleModel {
    let hosts = supported(conn, &["Device.Hosts."]).await;
    let scheds = supported(conn, &["Device.Schedules."]).await;
    let has = |s: &Option<crate::params::Supported>, p: &str| s.as_ref().is_some_and(|s| s.has_object(p));
    logic::model(
        has(&scheds, "Device.Schedules.Schedule.{i}."),
        has(&hosts, "Device.Hosts.AccessControl.{i}.Schedule.{i}."),
        has(&hosts, "Device.Hosts.AccessControl.{i}."),
    )
}

impl Home {
    /// Access-control data of every paired agent that has access control.
    async fn rules_data(&self) -> Vec<AgentRules> {
        let loaded = per_agent(self.paired().await, "access rules", |conn| async move {
            let model = agent_model(&conn).await;
            if model == ScheduleModel::None {
                return Ok(None);
            }
            let params = get_params(&conn, &GET, "read access rules").await?;
            Ok(Some((model, params)))
        })
        .await;
        loaded
            .into_iter()
            .filter_map(|(conn, v)| {
                let (model, params) = v?;
                let rows = dev_logic::access_rows(&params);
                Some(AgentRules { conn, model, params, rows })
            })
            .collect()
    }

    /// MAC → display name (label, host name).
    async fn device_names(&self) -> HashMap<String, String> {
        let data = self.hosts_data().await;
        self.hosts_from(&data).into_iter().map(|d| (d.mac, d.name)).collect()
    }

    /// `parental`: bedtimes and other rules of every agent.
    ///
    /// # Errors
    /// None in practice (agents that fail are left out).
    pub async fn parental(&self) -> AppResult<ParentalView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.parental_inner()).await
    }

    async fn parental_inner(&self) -> AppResult<ParentalView> {
        let names = self.device_names().await;
        let name_of = |mac: &str| names.get(mac).cloned().unwrap_or_else(|| mac.to_owned());
        let mut view = ParentalView {
            model: ScheduleModel::None,
            bedtimes: Vec::new(),
            other_rules: Vec::new(),
            not_offered: self.not_offering("Hosts"),
        };
        for a in self.rules_data().await {
            if view.model == ScheduleModel::None {
                view.model = a.model;
            }
            let (mut beds, mut others) = logic::rules(&a.conn.eid, &a.params, &a.rows, &name_of);
            self.parental_overrides(&a.conn.eid, &mut beds, &mut others, &name_of);
            view.bedtimes.extend(beds);
            view.other_rules.extend(others);
        }
        Ok(view)
    }

    /// `bedtime_create`: no internet for a device on the chosen days from `start` to `end`
    /// (the next morning when `end` is earlier). One bedtime per device: a device that already
    /// has an access rule is refused with what to do instead.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] (no day, bad time), [`AppError::NotFound`] (unknown device),
    /// [`AppError::Unsupported`] (no agent with schedules), agent errors in words.
    pub async fn bedtime_create(&self, args: BedtimeCreate) -> AppResult<Bedtime> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.bedtime_create_inner(args)).await
    }

    async fn bedtime_create_inner(&self, args: BedtimeCreate) -> AppResult<Bedtime> {
        let mac = mac_arg(&args.mac)?;
        let spec = Spec::new(&args.days, &args.start, &args.end).map_err(AppError::InvalidInput)?;
        let data = self.hosts_data().await;
        let devices = self.hosts_from(&data);
        let dev = crate::hosts::host(&devices, &mac)?;
        let rules = self.rules_data().await;
        let a = rules
            .iter()
            .find(|r| r.conn.eid == dev.agent)
            .or_else(|| rules.first())
            .ok_or_else(|| AppError::Unsupported("None of your devices can schedule internet access.".into()))?;
        if let Some(row) = a.rows.iter().find(|r| r.mac.as_deref() == Some(mac.as_str())) {
            let msg = if row.denies() {
                format!("{} is paused. Resume it first, then set its bedtime.", dev.name)
            } else if row.ours() {
                format!("{} already has a bedtime. Delete it first to set a new one.", dev.name)
            } else {
                format!(
                    "{} already has an access rule made elsewhere (e.g. on the router's own page). Remove it there first.",
                    dev.name
                )
            };
            return Err(AppError::InvalidInput(msg));
        }
        let conn = &a.conn;
        let action = "set bedtimes";
        let mut access = logic::access_params(&mac, dev.host_name.as_deref());
        let row = match a.model {
            ScheduleModel::Schedules => {
                let sched =
                    add_row(conn, "Device.Schedules.Schedule.", &spec.schedule_params(&mac, &dev.name), action).await?;
                access.push(("ScheduleRef".into(), sched.trim_end_matches('.').to_owned()));
                match add_row(conn, "Device.Hosts.AccessControl.", &access, action).await {
                    Ok(row) => row,
                    Err(e) => {
                        let _ = delete_rows(conn, &[sched], action).await;
                        return Err(e);
                    }
                }
            }
            ScheduleModel::Legacy => {
                let row = add_row(conn, "Device.Hosts.AccessControl.", &access, action).await?;
                for params in spec.legacy_schedule_rows() {
                    if let Err(e) = add_row(conn, &format!("{row}Schedule."), &params, action).await {
                        let _ = delete_rows(conn, &[row], action).await;
                        return Err(e);
                    }
                }
                row
            }
            ScheduleModel::None => {
                return Err(AppError::Unsupported(format!("{} can't schedule internet access.", conn.name)))
            }
        };
        self.changed(&[Topic::Parental, Topic::Hosts]);
        // Read it back: what the agent stored is what we show.
        let id = format!("{} {}", conn.eid, row.trim_end_matches('.'));
        let fresh = get_params(conn, &GET, "read access rules").await?;
        let rows = dev_logic::access_rows(&fresh);
        let name = dev.name.clone();
        let (beds, _) = logic::rules(&conn.eid, &fresh, &rows, &|_| name.clone());
        beds.into_iter().find(|b| b.id == id).ok_or_else(|| AppError::Refused {
            name: conn.name.clone(),
            message: "it stored the bedtime differently than asked; check it on the device.".into(),
            usp_code: usp_core::code::REQUEST_DENIED,
        })
    }

    /// `bedtime_delete`: removes a bedtime (its access row, and on 2.18 agents the schedules
    /// this app created for it that nothing else uses).
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a malformed id, [`AppError::NotFound`], agent errors.
    pub async fn bedtime_delete(&self, args: BedtimeDelete) -> AppResult<()> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.bedtime_delete_inner(args)).await
    }

    async fn bedtime_delete_inner(&self, args: BedtimeDelete) -> AppResult<()> {
        let bad = || AppError::InvalidInput("That is not a bedtime of this app.".into());
        let (agent, path) = args.id.split_once(' ').ok_or_else(bad)?;
        crate::agent_io::check_instance(path, "Device.Hosts.AccessControl.").map_err(|_| bad())?;
        let conn = self.conn(agent).await?;
        let params = get_params(&conn, &GET, "read access rules").await?;
        let rows = dev_logic::access_rows(&params);
        let row_path = format!("{path}.");
        let row = rows
            .iter()
            .find(|r| r.path == row_path)
            .ok_or_else(|| AppError::NotFound("That bedtime no longer exists.".into()))?;
        let action = "delete bedtimes";
        delete_rows(&conn, std::slice::from_ref(&row.path), action).await?;
        let orphans: Vec<String> = row
            .schedule_refs
            .iter()
            .filter(|s| {
                params.text(s, "Alias").is_some_and(|a| a.starts_with(dev_logic::OUR_ALIAS))
                    && !rows.iter().any(|o| o.path != row.path && o.schedule_refs.contains(s))
            })
            .cloned()
            .collect();
        if let Err(e) = delete_rows(&conn, &orphans, action).await {
            tracing::warn!(error = %e, "a bedtime schedule could not be removed");
        }
        self.changed(&[Topic::Parental, Topic::Hosts]);
        Ok(())
    }
}
