//! `impl Home` for the home over time: the history kept on this computer (`usp-history`, a
//! SQLite file `history.sqlite3` in the data folder), what collects it, and the usage charts.
//!
//! Collection by asking: every [`COLLECT_EVERY`] the app reads the devices of every paired
//! agent (the Devices page's data: `Hosts.Host.{i}.WANStats`, WiFi signal, online) and records
//! the cumulative counters, signal and presence; the store turns counters into usage (a router
//! that restarted, or a counter that wrapped, is handled there). Retention and the size cap are
//! applied every [`MAINTAIN_EVERY`]. Nothing leaves the machine.
//!
//! Collection without asking, where the agent allows it: a BulkData profile pushes the same
//! counters ([`bulkdata`]); an agent whose reports come is then not asked.

pub mod bulkdata;
mod charts;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipc_types::{DeviceUsage, DeviceUsageArgs, Topic, UsageBar, UsageRange};
use usp_history::{Config, Sample, Span, Step, StoreHandle};

use crate::home::{AppError, AppResult, Home};
use crate::hosts::mac_arg;

/// How often the devices are asked for their counters (`USP_HOME_HISTORY_EVERY_SECS` changes it,
/// for demos and tests).
pub const COLLECT_EVERY: Duration = Duration::from_secs(300);

/// [`COLLECT_EVERY`], or `USP_HOME_HISTORY_EVERY_SECS` (1 s at least) when set.
fn collect_every() -> Duration {
    std::env::var("USP_HOME_HISTORY_EVERY_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(COLLECT_EVERY, |s| Duration::from_secs(s.max(1)))
}
/// After the first sample (the counters' baseline), the second comes this soon at most, so a new
/// history shows usage within about a minute rather than after a whole [`COLLECT_EVERY`]
/// (usage is the growth between two samples).
pub const FIRST_NUMBERS_AFTER: Duration = Duration::from_secs(60);
/// How often retention and the size cap are applied.
pub const MAINTAIN_EVERY: Duration = Duration::from_secs(3600);
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// How each agent's counters come: its BulkData profile (made or not), its last report.
#[derive(Default)]
pub(crate) struct CollectState {
    /// Each agent's last `Push!` report.
    last_push: HashMap<String, Seen>,
    /// Whether the agent has our profile (absent: not tried yet).
    profile: HashMap<String, Profile>,
    /// The interval set for tests and demos ([`Home::set_history_interval`]).
    every: Option<Duration>,
    /// When the devices are asked next (Unix seconds), once collection runs.
    next_sample: Option<i64>,
}

/// Whether an agent has the app's BulkData profile.
#[derive(Debug, Clone)]
enum Profile {
    Made,
    /// The agent has no BulkData.
    NoBulkData,
    /// It refused (our role may not make one, a value it did not take...), in words.
    Refused(String),
}

/// An agent's last report.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// When it came, Unix seconds.
    received: i64,
    /// Its uptime then, when it carried one.
    uptime: Option<u64>,
    values: usize,
    hosts: usize,
}

/// Whether a device restarted between two reports: its uptime went back.
fn restarted(before: Option<u64>, now: Option<u64>) -> bool {
    matches!((before, now), (Some(b), Some(n)) if n < b)
}

/// "5 minutes", "30 seconds".
fn every_words(every: Duration) -> String {
    let s = every.as_secs();
    match s {
        60 => "minute".to_owned(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        1 => "second".to_owned(),
        s => format!("{s} seconds"),
    }
}

/// The history store, or why there is none.
pub(crate) enum History {
    Open(StoreHandle),
    Failed(String),
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// This computer's offset from UTC now, seconds (day buckets follow the local day).
fn local_offset() -> i32 {
    chrono::Local::now().offset().local_minus_utc()
}

/// Opens (or creates, upgrades, or recovers) the history in `dir` (`Home::history` does, on
/// first use); a damaged file is moved aside with a message in the log, never a failure of
/// the app.
pub(crate) async fn open(dir: &Path) -> Arc<History> {
    let cfg = Config { utc_offset_secs: local_offset(), ..Config::default() };
    match StoreHandle::open(dir.to_owned(), cfg, unix(SystemTime::now())).await {
        Ok((store, note)) => {
            if let Some(msg) = note.message() {
                tracing::warn!("{msg}");
            }
            Arc::new(History::Open(store))
        }
        Err(e) => {
            tracing::warn!(error = %e, "the history on this computer can't be opened; usage charts are off");
            Arc::new(History::Failed(format!("The usage history can't be kept on this computer: {e}")))
        }
    }
}

impl Home {
    pub(crate) async fn history_store(&self) -> AppResult<StoreHandle> {
        match &*self.history().await {
            History::Open(s) => Ok(s.clone()),
            History::Failed(why) => Err(AppError::Unsupported(why.clone())),
        }
    }

    /// Reads every paired agent's devices and records them at `now`. Public for tests (the app
    /// calls it every [`COLLECT_EVERY`]). Returns how many counter and presence samples came
    /// from asking (none for agents whose BulkData reports come). The WiFi signal, which the
    /// reports don't carry, is recorded from every agent's data read here either way.
    ///
    /// # Errors
    /// When the history can't be written.
    pub async fn collect_history(&self, now: SystemTime) -> AppResult<usize> {
        let store = self.history_store().await?;
        let at = unix(now);
        let every = self.history_interval();
        let mut data = self.hosts_data().await;
        for (conn, _) in &data {
            let tried = self.with_collect(|c| c.profile.contains_key(&conn.eid));
            if !tried {
                let made = match bulkdata::ensure_profile(conn, every.as_secs()).await {
                    Ok(true) => Profile::Made,
                    Ok(false) => Profile::NoBulkData,
                    Err(e) => {
                        tracing::info!(agent = %conn.eid, error = %e, "no BulkData profile: the app asks for the counters instead");
                        Profile::Refused(match e {
                            AppError::Permission { .. } => {
                                "This app's role there does not allow adding one (the device's administrator can allow it: adding to Device.BulkData.Profile.).".to_owned()
                            }
                            e => format!("The device said: {e}"),
                        })
                    }
                };
                self.with_collect(|c| c.profile.insert(conn.eid.clone(), made));
                self.changed(&[ipc_types::Topic::Settings]);
            }
        }
        // The WiFi signal of every client (merged across agents: a client's signal may come
        // from an extender while its counters come from the gateway's report).
        let mut signals: Vec<Sample> = self
            .hosts_from(&data)
            .into_iter()
            .filter_map(|d| {
                let dbm = d.signal_dbm.filter(|s| (-200..=0).contains(s))?;
                Some(Sample::Signal { key: d.mac, at, dbm })
            })
            .collect();
        // Agents whose reports come are not asked (a report missed twice: asked again).
        data.retain(|(conn, _)| self.reports_fresh(&conn.eid, at).is_none());
        let devices = self.hosts_from(&data);
        let mut samples = Vec::new();
        for d in devices {
            if let (Some(down), Some(up)) = (d.bytes_received, d.bytes_sent) {
                samples.push(Sample::Traffic { key: d.mac.clone(), at, down_total: down, up_total: up });
            }
            samples.push(Sample::Presence { key: d.mac, at, online: d.online });
        }
        let n = samples.len();
        samples.append(&mut signals);
        let outcome = store
            .call(move |s| s.record(&samples))
            .await
            .map_err(|e| AppError::Internal(format!("the usage history could not be written: {e}")))?;
        tracing::debug!(samples = n, ?outcome, "history collected");
        self.changed(&[Topic::History]);
        Ok(n)
    }

    pub(crate) fn with_collect<T>(&self, f: impl FnOnce(&mut CollectState) -> T) -> T {
        f(&mut self.inner_collect().lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// How often the counters are collected (and BulkData profiles report).
    fn history_interval(&self) -> Duration {
        self.with_collect(|c| c.every).unwrap_or_else(collect_every)
    }

    /// Sets how often the history is collected, for tests and demos that can't wait (profiles
    /// made from then on report this often).
    pub fn set_history_interval(&self, every: Duration) {
        self.with_collect(|c| c.every = Some(every.max(Duration::from_secs(1))));
    }

    /// Whether reports from `eid` came recently enough that the app does not ask it.
    fn reports_fresh(&self, eid: &str, now: i64) -> Option<Seen> {
        let every = self.history_interval();
        let fresh = i64::try_from(every.as_secs().saturating_mul(2)).unwrap_or(i64::MAX).saturating_add(30);
        self.with_collect(|c| c.last_push.get(eid).copied()).filter(|s| now.saturating_sub(s.received) <= fresh)
    }

    /// A BulkData `Push!` from agent `eid`: its report recorded; a device whose uptime went
    /// back restarted (an event in the history).
    pub(crate) async fn on_push(&self, eid: &str, data: &str) {
        let now = unix(SystemTime::now());
        let report = bulkdata::decode(data, now);
        let seen = Seen { received: now, uptime: report.uptime, values: report.values, hosts: report.hosts };
        let before = self.with_collect(|c| c.last_push.insert(eid.to_owned(), seen));
        let first = before.is_none();
        if first {
            self.changed(&[ipc_types::Topic::Settings]);
        }
        let restart = restarted(before.and_then(|b| b.uptime), report.uptime).then(|| {
            let name = self.with_agent(eid, |e| e.name()).unwrap_or_else(|| eid.to_owned());
            usp_history::Event {
                at: report.at,
                kind: "restart".to_owned(),
                device: Some(eid.to_owned()),
                message: format!("{name} restarted."),
            }
        });
        if report.samples.is_empty() && restart.is_none() {
            return;
        }
        let Ok(store) = self.history_store().await else { return };
        let samples = report.samples;
        let done = store
            .call(move |s| {
                if let Some(e) = &restart {
                    s.record_event(e)?;
                }
                s.record(&samples)
            })
            .await;
        match done {
            Ok(outcome) => {
                tracing::debug!(agent = eid, ?outcome, "BulkData report recorded");
                self.changed(&[Topic::History]);
            }
            Err(e) => tracing::warn!(agent = eid, error = %e, "a BulkData report could not be recorded"),
        }
    }

    /// How the history comes from each paired device (the Settings page).
    pub(crate) async fn usage_collection(&self) -> Vec<ipc_types::UsageCollection> {
        let every = every_words(self.history_interval());
        let now = unix(SystemTime::now());
        let mut out = Vec::new();
        for conn in self.paired().await {
            let profile = self.with_collect(|c| c.profile.get(&conn.eid).cloned());
            let fresh = self.reports_fresh(&conn.eid, now);
            let how = match (&profile, fresh) {
                (_, Some(s)) if s.hosts > 0 => format!(
                    "Its BulkData reports, every {every}: the last one had the counters of {} connected device{}.",
                    s.hosts,
                    if s.hosts == 1 { "" } else { "s" }
                ),
                (_, Some(s)) => format!(
                    "Its BulkData reports, every {every}; they carry no connected devices' counters (the last one had {} value{}: this device does not report Device.Hosts).",
                    s.values,
                    if s.values == 1 { "" } else { "s" }
                ),
                (Some(Profile::Made), None) => {
                    format!("Its BulkData profile is made; until its reports come, the app asks every {every}.")
                }
                (Some(Profile::NoBulkData), None) => format!("It has no BulkData: the app asks every {every}."),
                (Some(Profile::Refused(why)), None) => format!(
                    "The app may not make a BulkData profile on it, so it asks every {every}. {why}"
                ),
                (None, None) => format!("Not collected yet; the app will ask every {every} or use its BulkData."),
            };
            let last = self.with_collect(|c| c.last_push.get(&conn.eid).map(|s| s.received.saturating_mul(1000)));
            out.push(ipc_types::UsageCollection {
                agent: conn.eid.clone(),
                name: conn.name.clone(),
                by_reports: fresh.is_some(),
                last_report_ms: last,
                how,
            });
        }
        out
    }

    /// The background collection and housekeeping.
    pub(crate) fn spawn_history(&self) -> tokio::task::JoinHandle<()> {
        let home = self.clone();
        tokio::spawn(async move {
            // Opened here, beside the window's start rather than before it.
            home.history().await;
            let every = home.history_interval();
            let mut gaps = gaps_after_start(every);
            let mut maintain = tokio::time::interval(MAINTAIN_EVERY);
            maintain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // When the devices are asked next, also told to charts with no usage yet.
            let mut schedule = || {
                let gap = gaps.next().unwrap_or(every);
                home.with_collect(|c| c.next_sample = Some(unix(SystemTime::now() + gap)));
                tokio::time::Instant::now() + gap
            };
            let mut next = schedule();
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(next) => {
                        if let Err(e) = home.collect_history(SystemTime::now()).await {
                            tracing::debug!(error = %e, "history not collected this time");
                        }
                        next = schedule();
                    }
                    _ = maintain.tick() => {
                        let Ok(store) = home.history_store().await else { continue };
                        let now = unix(SystemTime::now());
                        match store.call(move |s| s.maintain(now)).await {
                            Ok(report) => tracing::debug!(?report, "history maintained"),
                            Err(e) => tracing::warn!(error = %e, "history housekeeping failed"),
                        }
                    }
                }
            }
        })
    }

    /// `device_usage`: a device's usage today (by hour), in the last 7 or 30 days (by day).
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad MAC; [`AppError::Unsupported`] when the history
    /// can't be kept on this computer.
    pub async fn device_usage(&self, args: DeviceUsageArgs) -> AppResult<DeviceUsage> {
        self.device_usage_at(args, SystemTime::now()).await
    }

    /// [`Home::device_usage`] as at `now` (tests).
    ///
    /// # Errors
    /// As [`Home::device_usage`].
    pub async fn device_usage_at(&self, args: DeviceUsageArgs, now: SystemTime) -> AppResult<DeviceUsage> {
        let mac = mac_arg(&args.mac)?;
        let collecting = self.collecting_words().await;
        let store = match self.history_store().await {
            Ok(s) => s,
            Err(e) => {
                return Ok(DeviceUsage {
                    mac,
                    range: args.range,
                    bars: Vec::new(),
                    total_down: 0,
                    total_up: 0,
                    collecting,
                    problem: Some(e.to_string()),
                })
            }
        };
        let span = span_of(args.range, unix(now), local_offset());
        let key = mac.clone();
        let points = store
            .call(move |s| s.device_usage(&key, span))
            .await
            .map_err(|e| AppError::Internal(format!("the usage history could not be read: {e}")))?;
        let bars: Vec<UsageBar> = points
            .iter()
            .map(|p| UsageBar { start_ms: p.start.saturating_mul(1000), down: p.down, up: p.up })
            .collect();
        let (total_down, total_up) = (bars.iter().map(|b| b.down).sum(), bars.iter().map(|b| b.up).sum());
        let collecting = self.with_next_sample(collecting, total_down == 0 && total_up == 0);
        Ok(DeviceUsage { mac, range: args.range, total_down, total_up, bars, collecting, problem: None })
    }
}

/// The waits between samples from the start: the first (the baseline, once the agents had time
/// to connect), the second soon after it ([`FIRST_NUMBERS_AFTER`]: the first numbers), then
/// every `every`.
fn gaps_after_start(every: Duration) -> impl Iterator<Item = Duration> {
    [every.min(Duration::from_secs(20)), every.min(FIRST_NUMBERS_AFTER)].into_iter().chain(std::iter::repeat(every))
}

/// The span of a chart at `now` for a local day that starts `offset` seconds after UTC's.
fn span_of(range: UsageRange, now: i64, offset: i32) -> Span {
    let local = now + i64::from(offset);
    let midnight = local - local.rem_euclid(DAY) - i64::from(offset);
    let end_of_hour = now - now.rem_euclid(HOUR) + HOUR;
    match range {
        UsageRange::Today => Span { from: midnight, to: end_of_hour, step: Step::Hour },
        UsageRange::Week => Span { from: midnight - 6 * DAY, to: midnight + DAY, step: Step::Day },
        UsageRange::Month => Span { from: midnight - 29 * DAY, to: midnight + DAY, step: Step::Day },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_is_an_uptime_that_went_back() {
        assert!(restarted(Some(61_828), Some(12)));
        assert!(!restarted(Some(61_828), Some(61_830)));
        assert!(!restarted(None, Some(5)) && !restarted(Some(5), None));
        assert_eq!(every_words(Duration::from_secs(300)), "5 minutes");
        assert_eq!(every_words(Duration::from_secs(60)), "minute");
        assert_eq!(every_words(Duration::from_secs(2)), "2 seconds");
    }

    #[test]
    fn the_first_numbers_come_a_minute_after_the_baseline() {
        let s = |n: u64| Duration::from_secs(n);
        let gaps: Vec<Duration> = gaps_after_start(COLLECT_EVERY).take(4).collect();
        assert_eq!(gaps, [s(20), s(60), s(300), s(300)], "usage after 80 s, not 320 s");
        let gaps: Vec<Duration> = gaps_after_start(s(2)).take(3).collect();
        assert_eq!(gaps, [s(2), s(2), s(2)], "short intervals (demos, tests) stay as they are");
    }

    #[test]
    fn spans_follow_the_local_day() {
        // 2026-12-04 20:31:07 UTC.
        let now = 1_796_416_267;
        let utc_midnight = now - now % DAY;
        let today = span_of(UsageRange::Today, now, 0);
        assert_eq!((today.from, today.step), (utc_midnight, Step::Hour));
        assert_eq!(today.to, utc_midnight + 21 * HOUR, "through the current hour");
        let week = span_of(UsageRange::Week, now, 0);
        assert_eq!((week.to - week.from) / DAY, 7);
        assert_eq!(span_of(UsageRange::Month, now, 0).from, utc_midnight - 29 * DAY);
        // UTC+2: it is already 22:31 locally; the local day started at 22:00 UTC the day before.
        let plus2 = span_of(UsageRange::Today, now, 7200);
        assert_eq!(plus2.from, utc_midnight - 2 * HOUR);
        // UTC-10: 10:31 locally, same UTC date.
        assert_eq!(span_of(UsageRange::Today, now, -36_000).from, utc_midnight + 10 * HOUR);
    }
}
