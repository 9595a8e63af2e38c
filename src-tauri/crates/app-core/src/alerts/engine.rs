//! The alerts task: one per home, for as long as it runs. It reads what [`Input`]s say (the
//! hosts of an agent whose hosts changed, at most once per [`READ_GAP`] per agent, one read in
//! flight at a time; an agent's UpTime after a connection or a `Boot!`), asks [`Tracker`],
//! [`boots`] and the rate limits what to tell, and tells it. Each agent's boot is kept in the
//! history, so a restart while the app was closed is told at the next connection.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipc_types::{Alert, AlertKind, AlertSettings, Topic};
use tokio::sync::mpsc;
use tokio::time::Instant;
use usp_core::text::for_log;

use super::boots::{self, Known};
use super::coalesce::{words, Batch, Coalescer, Item};
use super::presence::{Change, Rules, Seen, Tracker, MAX_HOSTS};
use super::{duration_words, lock, Input, MAX_NAME_CHARS};
use crate::home::{device_text, Home};
use crate::params::{norm_mac, Params};

/// Hosts are read this long after a change (many changes at once: one read).
const SETTLE: Duration = Duration::from_millis(300);
/// One read of an agent's hosts per this much time at most.
const READ_GAP: Duration = Duration::from_secs(1);
/// A read that takes longer is given up.
const READ_DEADLINE: Duration = Duration::from_secs(15);

const HOST_PATHS: [&str; 3] =
    ["Device.Hosts.Host.*.PhysAddress", "Device.Hosts.Host.*.Active", "Device.Hosts.Host.*.HostName"];

/// Text from a device, for an alert.
fn clean(text: &str) -> String {
    device_text(text, MAX_NAME_CHARS + 1)
}

fn enabled(kind: AlertKind, s: &AlertSettings) -> bool {
    match kind {
        AlertKind::NewDevice => s.new_device,
        AlertKind::Arrived | AlertKind::Left => s.arrive_leave,
        AlertKind::Offline => s.offline,
        AlertKind::Restarted => s.restarted,
        AlertKind::SlowSpeed => s.slow_speed,
    }
}

fn rules_of(s: &AlertSettings) -> Rules {
    Rules {
        away_after: Duration::from_secs(s.away_after_secs.max(1)),
        offline_after: Duration::from_secs(s.offline_after_secs.max(1)),
    }
}

fn unix_f64() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

struct Engine {
    home: Home,
    tx: mpsc::Sender<Input>,
    tracker: Tracker,
    kinds: BTreeMap<AlertKind, Coalescer>,
    /// Each agent's boot as last worked out from its UpTime in this run (else the history has
    /// the one from before).
    boots: HashMap<String, Known>,
    /// When this run began, Unix seconds.
    started: f64,
    /// Agents whose `Boot!` was told without a readable UpTime: the boot found at the next
    /// read is that one, told already.
    told_unread: HashSet<String>,
    /// Boots that could not be kept in the history (warned of at 1, 2, 4, 8… only).
    boot_write_failures: u64,
    /// Hosts reads planned, in flight, and when each agent was last read.
    read_at: HashMap<String, Instant>,
    reading: HashSet<String>,
    last_read: HashMap<String, Instant>,
    /// UpTime reads in flight.
    uptime_reading: HashSet<String>,
    settings: AlertSettings,
    watched: BTreeSet<String>,
}

impl Home {
    /// Starts the alerts task.
    pub(crate) fn spawn_alerts(&self) -> tokio::task::JoinHandle<()> {
        let home = self.clone();
        tokio::spawn(async move {
            let Some(mut rx) = lock(&home.alert_hub().rx).take() else { return };
            let mut e = Engine {
                tx: home.alert_hub().tx.clone(),
                home,
                tracker: Tracker::default(),
                kinds: AlertKind::ALL.into_iter().map(|k| (k, Coalescer::new(Coalescer::MIN_GAP))).collect(),
                boots: HashMap::new(),
                started: unix_f64(),
                told_unread: HashSet::new(),
                boot_write_failures: 0,
                read_at: HashMap::new(),
                reading: HashSet::new(),
                last_read: HashMap::new(),
                uptime_reading: HashSet::new(),
                settings: AlertSettings::default(),
                watched: BTreeSet::new(),
            };
            loop {
                e.refresh_settings();
                let due = e.next_due();
                let hub = e.home.alert_hub();
                tokio::select! {
                    input = rx.recv() => match input {
                        Some(i) => e.on_input(i).await,
                        None => return,
                    },
                    () = hub.wake.notified() => {}
                    () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {}
                }
                e.refresh_settings();
                e.on_time().await;
            }
        })
    }
}

impl Engine {
    fn refresh_settings(&mut self) {
        let before = std::mem::take(&mut self.watched);
        (self.settings, self.watched) = self.home.store().read(|d| (d.alerts.clone(), d.alert_watch.clone()));
        for mac in self.watched.difference(&before) {
            self.tracker.followed(mac);
        }
        let gap = *lock(&self.home.alert_hub().gap);
        for c in self.kinds.values_mut() {
            c.set_gap(gap);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        let reads = self.read_at.iter().filter(|(a, _)| !self.reading.contains(*a)).map(|(_, t)| *t);
        let kinds = self.kinds.values().filter_map(Coalescer::due);
        let tracker = self.tracker.next_due(rules_of(&self.settings), &self.watched, &self.busy());
        reads.chain(kinds).chain(tracker).min()
    }

    /// The agents whose hosts changed since their last report (a read planned or under way).
    fn busy(&self) -> HashSet<String> {
        self.read_at.keys().chain(self.reading.iter()).cloned().collect()
    }

    /// Plans a read of `agent`'s hosts.
    fn plan_read(&mut self, agent: &str, now: Instant) {
        let earliest = self.last_read.get(agent).map_or(now, |t| *t + READ_GAP);
        let at = (now + SETTLE).max(earliest);
        self.read_at.entry(agent.to_owned()).or_insert(at);
    }

    async fn on_time(&mut self) {
        let now = Instant::now();
        let marked = std::mem::take(&mut *lock(&self.home.alert_hub().hosts_changed));
        for agent in marked {
            self.plan_read(&agent, now);
        }
        let due: Vec<String> = self
            .read_at
            .iter()
            .filter(|(a, t)| **t <= now && !self.reading.contains(*a))
            .map(|(a, _)| a.clone())
            .collect();
        for agent in due {
            self.read_at.remove(&agent);
            self.reading.insert(agent.clone());
            self.last_read.insert(agent.clone(), now);
            let (home, tx) = (self.home.clone(), self.tx.clone());
            tokio::spawn(async move {
                let hosts = read_hosts(&home, &agent).await;
                let _ = tx.send(Input::Hosts { agent, hosts }).await;
            });
        }
        let busy = self.busy();
        let changes = self.tracker.tick(now, rules_of(&self.settings), &self.watched, &busy);
        self.tell_changes(changes).await;
        for kind in AlertKind::ALL {
            let batch = self.kinds.get_mut(&kind).and_then(|c| c.flush(now));
            if let Some(b) = batch.filter(|_| enabled(kind, &self.settings)) {
                self.show(kind, b).await;
            }
        }
    }

    async fn on_input(&mut self, input: Input) {
        match input {
            Input::Joined { mac, name, .. } => {
                let who = clean(&name);
                let who = if who.is_empty() { format!("A device ({})", clean(&mac)) } else { who };
                let text = format!("{who} joined your home network.");
                self.offer(AlertKind::NewDevice, Item { who, text, device: Some(mac) }).await;
            }
            Input::Connected { agent } => {
                let now = Instant::now();
                self.read_at.insert(agent.clone(), now);
                self.read_uptime(agent, false);
            }
            Input::Gone { agent } => {
                self.read_at.remove(&agent);
            }
            Input::Boot { agent } => self.read_uptime(agent, true),
            Input::Speed { agent, down_mbps } => {
                let limit = self.settings.slow_below_mbps;
                if down_mbps.is_finite() && down_mbps < f64::from(limit) {
                    let who = self.agent_name(&agent);
                    let text = format!(
                        "The speed test on {who} measured {down_mbps:.1} Mbit/s down, below your alert level of \
                         {limit} Mbit/s."
                    );
                    self.offer(AlertKind::SlowSpeed, Item { who, text, device: Some(agent) }).await;
                }
            }
            Input::Hosts { agent, hosts } => {
                self.reading.remove(&agent);
                if let Some(hosts) = hosts {
                    self.home.alert_names(&hosts);
                    let changes = self.tracker.report(&agent, hosts, Instant::now(), &self.watched);
                    self.tell_changes(changes).await;
                }
            }
            Input::Uptime { agent, uptime, at, boot } => {
                self.uptime_reading.remove(&agent);
                match uptime.and_then(|up| boots::boot_of(up, at)) {
                    Some(booted) => self.on_boot(agent, booted, at).await,
                    // A Boot! from a device whose UpTime can't be read (or can't be true) is
                    // taken at its word.
                    None if boot => {
                        self.told_unread.insert(agent.clone());
                        let who = self.agent_name(&agent);
                        self.tell_restart(agent, format!("{who} restarted."), who).await;
                    }
                    None => {}
                }
            }
        }
    }

    /// `agent` was read running since `booted` at `at`: compared with what this run knows, or
    /// on first contact with what the history kept from before; kept for next time.
    async fn on_boot(&mut self, agent: String, booted: f64, at: f64) {
        let (known, from_before) = match self.boots.get(&agent) {
            Some(k) => (Some(*k), false),
            None => (self.stored_boot(&agent).await, true),
        };
        self.boots.insert(agent.clone(), Known { boot: booted, seen: at });
        self.keep_boot(&agent, booted, at).await;
        let told = self.told_unread.remove(&agent);
        if told || !boots::restarted(known, booted) {
            return;
        }
        let who = self.agent_name(&agent);
        let text = if !(from_before && booted < self.started) {
            format!("{who} restarted.")
        } else if let Some(when) = boots::when_words(booted, unix_f64()) {
            format!("{who} restarted {when} while usp-home was closed.")
        } else {
            format!("{who} restarted while usp-home was closed.")
        };
        self.tell_restart(agent, text, who).await;
    }

    async fn tell_restart(&mut self, agent: String, text: String, who: String) {
        tracing::info!(agent = %for_log(&agent), "an agent restarted");
        self.offer(AlertKind::Restarted, Item { who, text, device: Some(agent) }).await;
    }

    /// The boot the history kept for `agent` from an earlier run.
    async fn stored_boot(&self, agent: &str) -> Option<Known> {
        let store = self.home.history_store().await.ok()?;
        let key = agent.to_owned();
        match store.call(move |s| s.agent_boot(&key)).await {
            Ok(b) => b.map(|b| Known { boot: b.boot as f64, seen: b.seen as f64 }),
            Err(e) => {
                tracing::warn!(error = %e, "the router's last boot could not be read from the history");
                None
            }
        }
    }

    async fn keep_boot(&mut self, agent: &str, booted: f64, at: f64) {
        let Ok(store) = self.home.history_store().await else { return };
        let key = agent.to_owned();
        let b = usp_history::AgentBoot { boot: booted.round() as i64, seen: at.round() as i64 };
        if let Err(e) = store.call(move |s| s.record_agent_boot(&key, b)).await {
            self.boot_write_failures = self.boot_write_failures.saturating_add(1);
            if self.boot_write_failures.is_power_of_two() {
                tracing::warn!(error = %e, failures = self.boot_write_failures, "a router's boot could not be kept in the history");
            }
        }
    }

    fn agent_name(&self, agent: &str) -> String {
        clean(&self.home.with_agent(agent, |e| e.name()).unwrap_or_else(|| agent.to_owned()))
    }

    fn read_uptime(&mut self, agent: String, boot: bool) {
        if !self.uptime_reading.insert(agent.clone()) {
            return;
        }
        let (home, tx) = (self.home.clone(), self.tx.clone());
        tokio::spawn(async move {
            const PATH: &str = "Device.DeviceInfo.UpTime";
            let sent = unix_f64();
            let read = async {
                let conn = home.conn(&agent).await.ok()?;
                let resp = conn.client.get(&[PATH], 0).await.ok()?;
                resp.value(PATH)?.trim().parse::<u64>().ok()
            };
            let uptime = tokio::time::timeout(READ_DEADLINE, read).await.ok().flatten();
            // The device read its UpTime somewhere between the send and the reply.
            let at = (sent + unix_f64()) / 2.0;
            let _ = tx.send(Input::Uptime { agent, uptime, at, boot }).await;
        });
    }

    async fn tell_changes(&mut self, changes: Vec<Change>) {
        let offline_after = duration_words(rules_of(&self.settings).offline_after);
        for change in changes {
            let (kind, mac, who, text) = match change {
                Change::Arrived { mac, name } => {
                    let text = format!("{name} is home.");
                    (AlertKind::Arrived, mac, name, text)
                }
                Change::Left { mac, name } => {
                    let text = format!("{name} left home.");
                    (AlertKind::Left, mac, name, text)
                }
                // A followed device says "left" already.
                Change::Offline { mac, .. } if self.settings.arrive_leave && self.watched.contains(&mac) => continue,
                Change::Offline { mac, name } => {
                    let text = format!("{name} has been offline for {offline_after}.");
                    (AlertKind::Offline, mac, name, text)
                }
            };
            self.offer(kind, Item { who, text, device: Some(mac) }).await;
        }
    }

    async fn offer(&mut self, kind: AlertKind, item: Item) {
        if !enabled(kind, &self.settings) {
            return;
        }
        let batch = self.kinds.get_mut(&kind).and_then(|c| c.offer(Instant::now(), item));
        if let Some(b) = batch {
            self.show(kind, b).await;
        }
    }

    /// Tells one (coalesced) alert: to the shell, to the history, to the Settings page.
    async fn show(&self, kind: AlertKind, batch: Batch) {
        let text = words(kind, &batch);
        let now = unix_f64();
        let alert = Alert { at_ms: (now * 1000.0) as i64, kind, title: kind.title().into(), text: text.clone() };
        tracing::info!(kind = kind.as_str(), count = batch.count, "alert");
        let _ = self.home.alert_hub().out.send(alert);
        if let Ok(store) = self.home.history_store().await {
            let event = usp_history::Event {
                at: now as i64,
                kind: format!("alert.{}", kind.as_str()),
                device: batch.items.first().filter(|_| batch.count == 1).and_then(|i| i.device.clone()),
                message: text,
            };
            if let Err(e) = store.call(move |s| s.record_event(&event)).await {
                tracing::warn!(error = %e, "an alert could not be kept in the history");
            }
        }
        self.home.changed(&[Topic::Settings]);
    }
}

/// The hosts `agent` reports now (MAC, online, the name to show), `None` when they can't be read.
async fn read_hosts(home: &Home, agent: &str) -> Option<Vec<Seen>> {
    let read = async {
        let conn = home.conn(agent).await.ok()?;
        conn.client.get(&HOST_PATHS, 0).await.ok()
    };
    let resp = tokio::time::timeout(READ_DEADLINE, read).await.ok().flatten()?;
    let params = Params::from_get(&resp);
    let labels = home.store().read(|d| d.labels.clone());
    let hosts = params
        .instances("Device.Hosts.Host.")
        .into_iter()
        .filter_map(|row| {
            let mac = norm_mac(params.get(&row, "PhysAddress")?)?;
            let online = params.bool(&row, "Active").unwrap_or(false);
            let name = labels
                .get(&mac)
                .map(|l| clean(l))
                .or_else(|| params.text(&row, "HostName").map(|n| clean(&n)).filter(|n| !n.is_empty()))
                .unwrap_or_else(|| mac.clone());
            Some(Seen { mac, online, name })
        })
        .take(MAX_HOSTS)
        .collect();
    Some(hosts)
}
