//! `impl Home` for "pause for a while" and "more time tonight" (see [`super::timed`] for how
//! the gateway enforces them): the requests, what the app remembers to put the rule back
//! (`home.json`, [`TimedOverride`]), the background check that does so when the time is over,
//! and how the Devices and Parental views show it meanwhile.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipc_types::{Bedtime, BedtimeExtra, DevicePauseFor, RuleOrigin, ScheduleModel, Topic, Weekday};
use serde::{Deserialize, Serialize};

use super::rules::{hhmm, Spec, DAY_MIN};
use super::timed::{self, Week};
use crate::agent_io::{add_row, delete_rows, get_params, set_params};
use crate::home::{AgentConn, AppError, AppResult, Home};
use crate::hosts::mac_arg;
use crate::hosts::rules::{access_row, our_alias, AccessRow};

/// How often the app looks for changes whose time is over.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);
/// At most this many changes are remembered (one per device).
const MAX_OVERRIDES: usize = 256;
const ACTION: &str = "pause devices for a while";

/// A change of a device's access for a while, remembered until the app puts it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedOverride {
    /// The agent whose rule it is.
    pub agent: String,
    /// The device (lower case MAC).
    pub mac: String,
    /// Its `Device.Hosts.AccessControl.{i}.` row.
    pub row: String,
    /// A pause (`false`) or extra time on a bedtime (`true`).
    pub extra: bool,
    /// Unix seconds when the time is over.
    pub until: u64,
    /// The device's own time then (`hh:mm`), as shown.
    pub until_local: String,
    /// The bedtime underneath, shown on the Parental page meanwhile: days, start, minutes.
    pub bedtime: Option<(Vec<Weekday>, u32, u32)>,
    /// How to put the rule back.
    pub restore: Restore,
}

/// How a [`TimedOverride`] is undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restore {
    /// The row was made for the pause: delete it and these 2.18 schedules.
    DeleteRow { schedules: Vec<String> },
    /// 2.18: `ScheduleRef` back to `original`; the `temporary` schedules deleted.
    ScheduleRef { original: String, temporary: Vec<String> },
    /// Legacy: the `temporary` Schedule rows deleted, the `original` ones enabled again.
    Legacy { original: Vec<String>, temporary: Vec<String> },
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The app's own local time as a minute of the week (for devices without `Device.Time`).
fn own_week_minute() -> Option<u32> {
    timed::week_minute(&chrono::Local::now().format("%Y-%m-%dT%H:%M:%S").to_string())
}

impl Home {
    /// The device's local time (minute of the week): `Device.Time.CurrentLocalTime` when it has
    /// a clock, else this computer's.
    async fn device_now(&self, conn: &AgentConn) -> AppResult<u32> {
        let theirs = get_params(conn, &["Device.Time.CurrentLocalTime"], "read its clock")
            .await
            .ok()
            .and_then(|p| p.get("Device.Time.", "CurrentLocalTime").and_then(timed::week_minute));
        theirs
            .or_else(own_week_minute)
            .ok_or_else(|| AppError::Internal("neither the device nor this computer knows the time".into()))
    }

    /// `device_pause_for`: no internet for a device for `minutes` (or until 07:00 tomorrow),
    /// by the gateway's own schedule, on top of its bedtime if it has one.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] (length, a paused device, someone else's rule),
    /// [`AppError::NotFound`], [`AppError::Unsupported`], agent errors in words.
    pub async fn device_pause_for(&self, args: DevicePauseFor) -> AppResult<()> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.device_pause_for_inner(args)).await
    }

    async fn device_pause_for_inner(&self, args: DevicePauseFor) -> AppResult<()> {
        let mac = mac_arg(&args.mac)?;
        if let Some(m) = args.minutes.filter(|m| *m == 0 || *m > timed::MAX_PAUSE_MIN) {
            return Err(AppError::InvalidInput(format!("A pause lasts from 1 minute to 24 hours, not {m} minutes.")));
        }
        let data = self.hosts_data().await;
        let devices = self.hosts_from(&data);
        let dev = crate::hosts::host(&devices, &mac)?;
        self.end_override(&mac).await?;
        let (conn, model, row) = self.rule_of(&dev.agent, &mac).await?;
        let bedtime = match &row {
            None => None,
            Some(r) if r.denies() => {
                return Err(AppError::InvalidInput(format!("{} is paused already. Resume it first.", dev.name)))
            }
            Some(r) => Some(self.our_bedtime(&conn, r, &dev.name).await?),
        };
        let now = self.device_now(&conn).await?;
        let minutes = args.minutes.unwrap_or_else(|| timed::minutes_until_morning(now));
        let week = timed::pause_week(bedtime.as_ref(), now, minutes);
        let restore = write_week(&conn, model, row.as_ref(), &mac, dev.host_name.as_deref(), &week).await?;
        let row_path = match (&restore, &row) {
            (_, Some(r)) => r.path.clone(),
            (Restore::DeleteRow { .. }, None) => self.row_path_of(&conn, &mac).await?,
            _ => return Err(AppError::Internal("a new rule without its row".into())),
        };
        self.remember_override(TimedOverride {
            agent: conn.eid.clone(),
            mac,
            row: row_path,
            extra: false,
            until: unix(SystemTime::now()) + u64::from(minutes) * 60,
            until_local: hhmm((now + minutes) % DAY_MIN),
            bedtime: bedtime.map(|b| (b.days, b.start, b.minutes)),
            restore,
        })?;
        self.changed(&[Topic::Hosts, Topic::Parental]);
        Ok(())
    }

    /// `bedtime_extra`: `minutes` more before tonight's bedtime starts (or from now, during it),
    /// by the gateway's own schedule; the bedtime is as before afterwards.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] (a bad id or length, no bedtime tonight),
    /// [`AppError::NotFound`], agent errors in words.
    pub async fn bedtime_extra(&self, args: BedtimeExtra) -> AppResult<()> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.bedtime_extra_inner(args)).await
    }

    async fn bedtime_extra_inner(&self, args: BedtimeExtra) -> AppResult<()> {
        if args.minutes == 0 || args.minutes > timed::MAX_EXTRA_MIN {
            return Err(AppError::InvalidInput(format!(
                "Extra time is from 1 minute to {} hours.",
                timed::MAX_EXTRA_MIN / 60
            )));
        }
        let bad = || AppError::InvalidInput("That is not a bedtime of this app.".into());
        let (agent, path) = args.id.split_once(' ').ok_or_else(bad)?;
        crate::agent_io::check_instance(path, "Device.Hosts.AccessControl.").map_err(|_| bad())?;
        let row_path = format!("{path}.");
        let mac = self
            .store()
            .read(|d| d.overrides.iter().find(|o| o.agent == agent && o.row == row_path).map(|o| o.mac.clone()));
        if let Some(mac) = mac {
            self.end_override(&mac).await?;
        }
        let conn = self.conn(agent).await?;
        let params = get_params(&conn, &["Device.Hosts.", "Device.Schedules."], "read access rules").await?;
        let rows = crate::hosts::rules::access_rows(&params);
        let row = rows
            .into_iter()
            .find(|r| r.path == row_path)
            .ok_or_else(|| AppError::NotFound("That bedtime no longer exists.".into()))?;
        let mac = row.mac.clone().ok_or_else(bad)?;
        let (_, model, _) = self.rule_of(agent, &mac).await?;
        let name = self.device_name_of(&mac).await;
        let bedtime = self.our_bedtime(&conn, &row, &name).await?;
        let now = self.device_now(&conn).await?;
        let (week, ends_in) = timed::extra_week(&bedtime, now, args.minutes)
            .ok_or_else(|| AppError::InvalidInput(format!("{name} has no bedtime tonight.")))?;
        let restore = write_week(&conn, model, Some(&row), &mac, row.host_name.as_deref(), &week).await?;
        self.remember_override(TimedOverride {
            agent: conn.eid.clone(),
            mac,
            row: row.path.clone(),
            extra: true,
            until: unix(SystemTime::now()) + u64::from(ends_in) * 60,
            until_local: hhmm((now + ends_in) % DAY_MIN),
            bedtime: Some((bedtime.days, bedtime.start, bedtime.minutes)),
            restore,
        })?;
        self.changed(&[Topic::Hosts, Topic::Parental]);
        Ok(())
    }

    /// The agent's schedule model and the access row of `mac`, if any.
    async fn rule_of(&self, agent: &str, mac: &str) -> AppResult<(AgentConn, ScheduleModel, Option<AccessRow>)> {
        let rules = self.rules_data().await;
        let a = rules.into_iter().find(|r| r.conn.eid == agent).ok_or_else(|| {
            AppError::Unsupported("The device's router can't schedule internet access for usp-home.".into())
        })?;
        let row = a.rows.into_iter().find(|r| r.mac.as_deref() == Some(mac));
        Ok((a.conn, a.model, row))
    }

    /// The bedtime this app made in `row`, or why the row can't take a change for a while.
    async fn our_bedtime(&self, conn: &AgentConn, row: &AccessRow, name: &str) -> AppResult<Spec> {
        let params = get_params(conn, &["Device.Hosts.", "Device.Schedules."], "read access rules").await?;
        let (beds, _) = super::rules::rules(&conn.eid, &params, std::slice::from_ref(row), &|_| String::new());
        let bed = beds.into_iter().next().filter(|b| b.origin == RuleOrigin::Ours && b.enabled).ok_or_else(|| {
            AppError::InvalidInput(format!(
                "{name} has an access rule made elsewhere (e.g. on the router's own page). Remove it there first."
            ))
        })?;
        Spec::new(&bed.days, &bed.start, &bed.end).map_err(AppError::Internal)
    }

    async fn row_path_of(&self, conn: &AgentConn, mac: &str) -> AppResult<String> {
        let params = get_params(conn, &["Device.Hosts.AccessControl."], "read access rules").await?;
        crate::hosts::rules::access_rows(&params)
            .into_iter()
            .find(|r| r.mac.as_deref() == Some(mac))
            .map(|r| r.path)
            .ok_or_else(|| AppError::Internal("the new rule is gone".into()))
    }

    async fn device_name_of(&self, mac: &str) -> String {
        let data = self.hosts_data().await;
        self.hosts_from(&data).into_iter().find(|d| d.mac == mac).map_or_else(|| mac.to_owned(), |d| d.name)
    }

    fn remember_override(&self, o: TimedOverride) -> AppResult<()> {
        self.store().update(|d| {
            d.overrides.retain(|x| x.mac != o.mac);
            if d.overrides.len() >= MAX_OVERRIDES {
                d.overrides.remove(0);
            }
            d.overrides.push(o);
        })?;
        Ok(())
    }

    /// Puts back the rule of `mac` if it is changed for a while (a new pause, extra time or a
    /// resume replaces it).
    pub(crate) async fn end_override(&self, mac: &str) -> AppResult<()> {
        let o = self.store().read(|d| d.overrides.iter().find(|o| o.mac == mac).cloned());
        match o {
            Some(o) => self.restore(&o).await,
            None => Ok(()),
        }
    }

    async fn restore(&self, o: &TimedOverride) -> AppResult<()> {
        let conn = self.conn(&o.agent).await?;
        let action = "put an access rule back";
        let params = get_params(&conn, &["Device.Hosts.AccessControl."], "read access rules").await?;
        let rows = crate::hosts::rules::access_rows(&params);
        match rows.iter().find(|r| r.path == o.row && r.mac.as_deref() == Some(o.mac.as_str())) {
            // Deleted meanwhile (the bedtime removed, the router reset): nothing to put back.
            None => {}
            Some(_) => match &o.restore {
                Restore::DeleteRow { schedules } => {
                    delete_rows(&conn, std::slice::from_ref(&o.row), action).await?;
                    delete_rows(&conn, schedules, action).await?;
                }
                Restore::ScheduleRef { original, temporary } => {
                    set_params(&conn, &[(format!("{}ScheduleRef", o.row), original.clone())], action).await?;
                    delete_rows(&conn, temporary, action).await?;
                }
                Restore::Legacy { original, temporary } => {
                    delete_rows(&conn, temporary, action).await?;
                    let on: Vec<(String, String)> =
                        original.iter().map(|s| (format!("{s}Enable"), "true".to_owned())).collect();
                    set_params(&conn, &on, action).await?;
                }
            },
        }
        self.store().update(|d| d.overrides.retain(|x| x.mac != o.mac))?;
        tracing::info!(agent = %o.agent, row = %o.row, "a change for a while is over; the rule is as before");
        self.changed(&[Topic::Hosts, Topic::Parental]);
        Ok(())
    }

    /// Puts back every rule whose time is over at `now` (agents offline now are tried again
    /// at the next check). The app calls it every [`CHECK_EVERY`]; public for tests.
    pub async fn check_timed_overrides(&self, now: SystemTime) {
        let due: Vec<TimedOverride> =
            self.store().read(|d| d.overrides.iter().filter(|o| o.until <= unix(now)).cloned().collect());
        for o in due {
            if let Err(e) = self.restore(&o).await {
                tracing::debug!(agent = %o.agent, error = %e, "a rule changed for a while is not put back yet");
            }
        }
    }

    /// The background check of [`Home::check_timed_overrides`].
    pub(crate) fn spawn_override_check(&self) -> tokio::task::JoinHandle<()> {
        let home = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECK_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                home.check_timed_overrides(SystemTime::now()).await;
            }
        })
    }

    /// The devices view meanwhile: paused until when.
    pub(crate) fn mark_paused_for(&self, devices: &mut [ipc_types::ConnectedDevice]) {
        let now = unix(SystemTime::now());
        self.store().read(|d| {
            for o in d.overrides.iter().filter(|o| !o.extra && o.until > now) {
                if let Some(dev) = devices.iter_mut().find(|x| x.mac == o.mac) {
                    dev.paused = true;
                    dev.paused_until = Some(o.until_local.clone());
                }
            }
        });
    }

    /// The Parental view meanwhile: a bedtime under a change for a while is shown as the
    /// bedtime (with its extra time), not as the temporary windows.
    pub(crate) fn parental_overrides(
        &self,
        agent: &str,
        bedtimes: &mut Vec<Bedtime>,
        others: &mut Vec<ipc_types::AccessRule>,
        name_of: &dyn Fn(&str) -> String,
    ) {
        let overrides: Vec<TimedOverride> =
            self.store().read(|d| d.overrides.iter().filter(|o| o.agent == agent).cloned().collect());
        for o in overrides {
            let path = o.row.trim_end_matches('.');
            bedtimes.retain(|b| b.id != format!("{agent} {path}"));
            others.retain(|r| r.path != path);
            if let Some((days, start, minutes)) = &o.bedtime {
                let spec = Spec { days: days.clone(), start: *start, minutes: *minutes };
                bedtimes.push(Bedtime {
                    id: format!("{agent} {path}"),
                    agent: agent.to_owned(),
                    mac: o.mac.clone(),
                    device_name: name_of(&o.mac),
                    days: spec.days.clone(),
                    start: hhmm(spec.start),
                    end: spec.end(),
                    enabled: true,
                    origin: RuleOrigin::Ours,
                    extra_until: o.extra.then(|| o.until_local.clone()),
                });
            }
        }
    }
}

/// Writes `week` for `mac` on the agent (see [`super::timed`]); what puts it back.
async fn write_week(
    conn: &AgentConn,
    model: ScheduleModel,
    row: Option<&AccessRow>,
    mac: &str,
    host_name: Option<&str>,
    week: &Week,
) -> AppResult<Restore> {
    let windows = week.allowed_windows();
    let window_params = |n: usize, (day, start, secs): &(Weekday, String, u32)| {
        vec![
            ("Alias".to_owned(), format!("{}-{n}", our_alias("timeout", mac))),
            ("Enable".to_owned(), "true".to_owned()),
            ("Day".to_owned(), day.as_str().to_owned()),
            ("StartTime".to_owned(), start.clone()),
            ("Duration".to_owned(), secs.to_string()),
        ]
    };
    match model {
        ScheduleModel::Schedules => {
            let mut made: Vec<String> = Vec::new();
            for (n, w) in windows.iter().enumerate() {
                let mut p = window_params(n + 1, w);
                p.push(("InverseMode".into(), "false".into()));
                p.push(("Description".into(), "Internet for a while (usp-home)".into()));
                match add_row(conn, "Device.Schedules.Schedule.", &p, ACTION).await {
                    Ok(path) => made.push(path),
                    Err(e) => {
                        let _ = delete_rows(conn, &made, ACTION).await;
                        return Err(e);
                    }
                }
            }
            let refs = made.iter().map(|p| p.trim_end_matches('.')).collect::<Vec<_>>().join(",");
            let done = match row {
                None => {
                    let mut access = access_row("timeout", mac, host_name, "Allow");
                    access.push(("ScheduleRef".into(), refs));
                    add_row(conn, "Device.Hosts.AccessControl.", &access, ACTION)
                        .await
                        .map(|_| Restore::DeleteRow { schedules: made.clone() })
                }
                Some(r) => {
                    let original =
                        r.schedule_refs.iter().map(|p| p.trim_end_matches('.')).collect::<Vec<_>>().join(",");
                    set_params(conn, &[(format!("{}ScheduleRef", r.path), refs)], ACTION)
                        .await
                        .map(|()| Restore::ScheduleRef { original, temporary: made.clone() })
                }
            };
            if done.is_err() {
                let _ = delete_rows(conn, &made, ACTION).await;
            }
            done
        }
        ScheduleModel::Legacy => {
            let (row_path, created) = match row {
                Some(r) => (r.path.clone(), false),
                None => {
                    let access = access_row("timeout", mac, host_name, "Allow");
                    (add_row(conn, "Device.Hosts.AccessControl.", &access, ACTION).await?, true)
                }
            };
            let mut made: Vec<String> = Vec::new();
            for (n, w) in windows.iter().enumerate() {
                match add_row(conn, &format!("{row_path}Schedule."), &window_params(n + 1, w), ACTION).await {
                    Ok(path) => made.push(path),
                    Err(e) => {
                        let undo = if created { vec![row_path.clone()] } else { made };
                        let _ = delete_rows(conn, &undo, ACTION).await;
                        return Err(e);
                    }
                }
            }
            match row {
                None => Ok(Restore::DeleteRow { schedules: Vec::new() }),
                Some(r) => {
                    let off: Vec<(String, String)> =
                        r.legacy_schedules.iter().map(|s| (format!("{s}Enable"), "false".to_owned())).collect();
                    match set_params(conn, &off, ACTION).await {
                        Ok(()) => Ok(Restore::Legacy { original: r.legacy_schedules.clone(), temporary: made }),
                        Err(e) => {
                            let _ = delete_rows(conn, &made, ACTION).await;
                            Err(e)
                        }
                    }
                }
            }
        }
        ScheduleModel::None => Err(AppError::Unsupported(format!("{} can't schedule internet access.", conn.name))),
    }
}
