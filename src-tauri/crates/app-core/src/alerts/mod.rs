//! `impl Home` for alerts: what the app learns anyway (live events of the agents, connections
//! made and lost, speed test results) turned into words for the person: a new device joined, a
//! device they follow arrived or left ("Anna's phone is home"), a device offline for longer than
//! a setting, a router that restarted, a speed test below a setting.
//!
//! The pieces: [`presence`] decides who arrived, left or stayed offline (no I/O), [`boots`]
//! whether a router restarted (no I/O; its boot is kept in the history, so a restart while the
//! app was closed is told at the next start), [`coalesce`]
//! rate-limits and groups them per kind (no I/O), and `engine` is the one task that feeds them
//! and sends what comes out to [`Home::alert_events`] (the shell shows desktop notifications)
//! and to the history's event log ("Recent alerts"). Inputs reach the task through a bounded
//! queue (a flood is dropped, not queued), hosts changes as one mark per agent.

mod boots;
mod coalesce;
mod engine;
mod presence;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipc_types::{Alert, AlertKind, AlertSettings, AlertsView, DeviceWatch, Topic};
use tokio::sync::{broadcast, mpsc, Notify};

use crate::home::{AppError, AppResult, Home};
use crate::hosts::mac_arg;

/// Most devices followed.
pub const MAX_WATCHED: usize = 256;
/// Recent alerts listed.
const RECENT: usize = 50;
/// Inputs waiting for the alerts task at most (more are dropped).
const QUEUE: usize = 1024;
/// Longest name in an alert, in characters (then "…").
pub(crate) const MAX_NAME_CHARS: usize = 40;

/// What the alerts task learns.
#[derive(Debug)]
pub(crate) enum Input {
    /// A device never seen before joined (name as the live event has it).
    Joined { mac: String, name: String },
    /// Live updates are on for a paired agent (after a connection).
    Connected { agent: String },
    /// The connection to an agent was lost.
    Gone { agent: String },
    /// The agent sent `Device.Boot!`.
    Boot { agent: String },
    /// A speed test finished on `agent`.
    Speed { agent: String, down_mbps: f64 },
    /// Read by the task itself: the hosts of an agent (`None`: could not be read).
    Hosts { agent: String, hosts: Option<Vec<presence::Seen>> },
    /// Read by the task itself: an agent's UpTime (seconds) at `at` (Unix seconds, the middle of
    /// the read); `boot`: the read follows a `Boot!`.
    Uptime { agent: String, uptime: Option<u64>, at: f64, boot: bool },
}

/// The alerts' shared state: the queue to the task, the marks of agents whose hosts changed,
/// the broadcast of alerts shown.
pub(crate) struct Hub {
    tx: mpsc::Sender<Input>,
    rx: Mutex<Option<mpsc::Receiver<Input>>>,
    out: broadcast::Sender<Alert>,
    hosts_changed: Mutex<BTreeSet<String>>,
    wake: Notify,
    gap: Mutex<Duration>,
    dropped: AtomicU64,
    /// The names agents last gave their hosts, by MAC (for the Settings page's list of followed
    /// devices), at most [`presence::MAX_DEVICES`].
    names: Mutex<HashMap<String, String>>,
}

impl Default for Hub {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Hub {
            tx,
            rx: Mutex::new(Some(rx)),
            out: broadcast::channel(64).0,
            hosts_changed: Mutex::new(BTreeSet::new()),
            wake: Notify::new(),
            gap: Mutex::new(coalesce::Coalescer::MIN_GAP),
            dropped: AtomicU64::new(0),
            names: Mutex::new(HashMap::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unix_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A duration in words ("45 minutes", "2 hours", "30 seconds").
pub(crate) fn duration_words(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if s >= 7200 && s.is_multiple_of(3600) {
        plural(s / 3600, "hour")
    } else if s >= 60 {
        plural(s / 60, "minute")
    } else {
        plural(s, "second")
    }
}

fn check(s: &AlertSettings) -> AppResult<()> {
    const DAY: u64 = 86_400;
    if !(1..=DAY).contains(&s.away_after_secs) || !(1..=7 * DAY).contains(&s.offline_after_secs) {
        return Err(AppError::InvalidInput(
            "Choose between 1 minute and a day for \"left\", and up to a week for \"offline\".".into(),
        ));
    }
    if !(1..=100_000).contains(&s.slow_below_mbps) {
        return Err(AppError::InvalidInput("The speed alert level is between 1 and 100000 Mbit/s.".into()));
    }
    Ok(())
}

impl Home {
    /// Hands `input` to the alerts task; dropped (and counted) when it is behind.
    pub(crate) fn alert_input(&self, input: Input) {
        let hub = self.alert_hub();
        if hub.tx.try_send(input).is_err() {
            let n = hub.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(dropped = n + 1, "alerts are behind; some changes were not looked at");
            }
        }
    }

    /// The hosts of `agent` changed (a host came, went, or went online or offline): they are
    /// read again shortly, once for many changes.
    pub(crate) fn alert_hosts_changed(&self, agent: &str) {
        let hub = self.alert_hub();
        let new = {
            let mut set = lock(&hub.hosts_changed);
            set.len() < 256 && set.insert(agent.to_owned())
        };
        if new {
            hub.wake.notify_one();
        }
    }

    /// Remembers the names of `hosts`.
    pub(crate) fn alert_names(&self, hosts: &[presence::Seen]) {
        let mut names = lock(&self.alert_hub().names);
        for h in hosts {
            if names.len() < presence::MAX_DEVICES || names.contains_key(&h.mac) {
                names.insert(h.mac.clone(), h.name.clone());
            }
        }
    }

    /// Alerts as they are shown (the shell raises desktop notifications from these).
    pub fn alert_events(&self) -> broadcast::Receiver<Alert> {
        self.alert_hub().out.subscribe()
    }

    /// Sets the shortest time between two alerts of one kind (default 30 s), for tests and
    /// demos that can't wait.
    pub fn set_alert_gap(&self, gap: Duration) {
        *lock(&self.alert_hub().gap) = gap;
        self.alert_hub().wake.notify_one();
    }

    /// `alerts`: which alerts are on, the devices followed, the recent alerts (newest first).
    ///
    /// # Errors
    /// None in practice (an unreadable history lists no alerts).
    pub async fn alerts(&self) -> AppResult<AlertsView> {
        let (settings, watch) = self.store().read(|d| (d.alerts.clone(), d.alert_watch.clone()));
        let labels = self.store().read(|d| d.labels.clone());
        let names = lock(&self.alert_hub().names).clone();
        let watched = watch
            .iter()
            .map(|m| labels.get(m).or_else(|| names.get(m)).cloned().unwrap_or_else(|| m.clone()))
            .collect();
        let recent = match self.history_store().await {
            Ok(store) => {
                let now = unix_secs();
                store
                    .call(move |s| s.events(0, now.saturating_add(1), 2000))
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| {
                        let kind = AlertKind::parse(e.kind.strip_prefix("alert.")?)?;
                        Some(Alert {
                            at_ms: e.at.saturating_mul(1000),
                            kind,
                            title: kind.title().into(),
                            text: e.message,
                        })
                    })
                    .take(RECENT)
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        Ok(AlertsView { settings, watched, recent })
    }

    /// `alerts_set`: turns alerts on or off and sets their thresholds.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for thresholds out of range; [`AppError::Internal`] when the
    /// setting can't be saved.
    pub async fn alerts_set(&self, args: AlertSettings) -> AppResult<AlertsView> {
        check(&args)?;
        self.store().update(|d| d.alerts = args)?;
        self.alert_hub().wake.notify_one();
        self.changed(&[Topic::Settings]);
        self.alerts().await
    }

    /// `device_watch`: tell (or stop telling) when the device `mac` arrives or leaves.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad MAC or too many devices followed;
    /// [`AppError::Internal`] when the setting can't be saved.
    pub async fn device_watch(&self, args: DeviceWatch) -> AppResult<()> {
        let mac = mac_arg(&args.mac)?;
        let ok = self.store().update(|d| {
            if !args.watch {
                d.alert_watch.remove(&mac);
                true
            } else {
                d.alert_watch.len() < MAX_WATCHED && d.alert_watch.insert(mac.clone()) || d.alert_watch.contains(&mac)
            }
        })?;
        if !ok {
            return Err(AppError::InvalidInput(format!("At most {MAX_WATCHED} devices can be followed.")));
        }
        self.alert_hub().wake.notify_one();
        self.changed(&[Topic::Hosts, Topic::Settings]);
        Ok(())
    }
}
