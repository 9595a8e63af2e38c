//! Who is home, free of I/O: the hosts each agent reports (online or not), merged by MAC (a
//! device online on any agent is online: moving from the gateway to an extender is no news),
//! and what changes of that are worth telling:
//!
//! - a followed device *left* once it has been offline for `away_after` (a short drop, a phone
//!   dozing, a flapping link is no news);
//! - a followed device *arrived* when it comes online after it left (or after being offline
//!   when it was first seen);
//! - any device *offline* for `offline_after`, once per offline period (only after it was seen
//!   online: the many offline rows an agent keeps are not news).
//!
//! An agent that goes away takes nothing with it: its devices keep their last state until it
//! reports again. At most [`MAX_DEVICES`] devices are tracked and [`MAX_HOSTS`] read per report,
//! so an agent inventing hosts can't make this grow without end.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

/// Most devices tracked.
pub(crate) const MAX_DEVICES: usize = 2048;
/// Most hosts taken from one agent's report.
pub(crate) const MAX_HOSTS: usize = 1024;

/// One host as an agent reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub mac: String,
    pub online: bool,
    /// The name to show (the person's label, else its HostName, else the MAC), cleaned.
    pub name: String,
}

/// A change worth telling (before the settings and the rate limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Arrived { mac: String, name: String },
    Left { mac: String, name: String },
    Offline { mac: String, name: String },
}

#[derive(Debug)]
struct Device {
    name: String,
    online: bool,
    /// Offline since then (seen going offline; `None` when offline from the start).
    since: Option<Instant>,
    /// Counted as gone (told "left", or offline when first seen).
    away: bool,
    /// "Offline for long" told for this offline period.
    told_offline: bool,
}

/// The thresholds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub away_after: Duration,
    pub offline_after: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Per agent: MAC → online, from its last report.
    agents: HashMap<String, HashMap<String, bool>>,
    devices: HashMap<String, Device>,
}

impl Tracker {
    /// Agent `agent` reports `hosts` at `now`: the arrivals (told at once) among `watched`.
    pub(crate) fn report(
        &mut self,
        agent: &str,
        hosts: Vec<Seen>,
        now: Instant,
        watched: &BTreeSet<String>,
    ) -> Vec<Change> {
        let mut names = HashMap::new();
        let mut report = HashMap::new();
        for h in hosts.into_iter().take(MAX_HOSTS) {
            let online = report.get(&h.mac).copied().unwrap_or(false) || h.online;
            report.insert(h.mac.clone(), online);
            names.insert(h.mac, h.name);
        }
        let old = self.agents.insert(agent.to_owned(), report).unwrap_or_default();
        let mut touched: Vec<String> = old.into_keys().collect();
        touched.extend(names.keys().cloned());
        touched.sort_unstable();
        touched.dedup();
        let mut out = Vec::new();
        for mac in touched {
            let online = self.agents.values().any(|r| r.get(&mac).copied().unwrap_or(false));
            let name = names.remove(&mac);
            let full = self.devices.len() >= MAX_DEVICES;
            let Some(d) = self.devices.get_mut(&mac) else {
                // First seen: its state now is no news.
                if !full {
                    let name = name.unwrap_or_else(|| mac.clone());
                    self.devices.insert(mac, Device { name, online, since: None, away: !online, told_offline: false });
                }
                continue;
            };
            if let Some(n) = name {
                d.name = n;
            }
            match (d.online, online) {
                (true, false) => {
                    d.online = false;
                    d.since = Some(now);
                    d.told_offline = false;
                }
                (false, true) => {
                    d.online = true;
                    d.since = None;
                    if std::mem::replace(&mut d.away, false) && watched.contains(&mac) {
                        out.push(Change::Arrived { mac, name: d.name.clone() });
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether `mac` waits for a newer report from one of the `busy` agents (whose hosts
    /// changed since their last report): its timers wait for it, so a flapping device is judged
    /// on what it does now, not on a report of a moment ago.
    fn waits(&self, mac: &str, busy: &HashSet<String>) -> bool {
        if busy.is_empty() {
            return false;
        }
        let mut listed = false;
        for (agent, report) in &self.agents {
            if report.contains_key(mac) {
                listed = true;
                if busy.contains(agent) {
                    return true;
                }
            }
        }
        !listed
    }

    /// What became due by `now`: departures of `watched` devices, long absences of any (not for
    /// devices reported by a `busy` agent: they wait for its next report).
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        rules: Rules,
        watched: &BTreeSet<String>,
        busy: &HashSet<String>,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        let due: Vec<String> = self
            .devices
            .iter()
            .filter(|(_, d)| !d.online && d.since.is_some_and(|s| now >= s + rules.away_after.min(rules.offline_after)))
            .map(|(mac, _)| mac.clone())
            .filter(|mac| !self.waits(mac, busy))
            .collect();
        for mac in due {
            let Some(d) = self.devices.get_mut(&mac) else { continue };
            let Some(since) = d.since else { continue };
            if !d.away && watched.contains(&mac) && now >= since + rules.away_after {
                d.away = true;
                out.push(Change::Left { mac: mac.clone(), name: d.name.clone() });
            }
            if !d.told_offline && now >= since + rules.offline_after {
                d.told_offline = true;
                out.push(Change::Offline { mac: mac.clone(), name: d.name.clone() });
            }
        }
        out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out
    }

    /// The person starts following `mac`: if it is offline now, it is already gone (no "left"
    /// for an absence that began before).
    pub(crate) fn followed(&mut self, mac: &str) {
        if let Some(d) = self.devices.get_mut(mac).filter(|d| !d.online) {
            d.away = true;
        }
    }

    /// When [`Tracker::tick`] has something next.
    pub(crate) fn next_due(&self, rules: Rules, watched: &BTreeSet<String>, busy: &HashSet<String>) -> Option<Instant> {
        self.devices
            .iter()
            .filter(|(mac, d)| !d.online && !self.waits(mac, busy))
            .filter_map(|(mac, d)| {
                let since = d.since?;
                let left = (!d.away && watched.contains(mac)).then(|| since + rules.away_after);
                let offline = (!d.told_offline).then(|| since + rules.offline_after);
                left.into_iter().chain(offline).min()
            })
            .min()
    }

    /// Devices tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.devices.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules { away_after: Duration::from_secs(120), offline_after: Duration::from_secs(1800) };

    fn seen(mac: &str, online: bool) -> Seen {
        Seen { mac: mac.into(), online, name: format!("dev {mac}") }
    }

    fn none() -> HashSet<String> {
        HashSet::new()
    }

    fn watch(macs: &[&str]) -> BTreeSet<String> {
        macs.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn a_followed_device_leaves_after_a_while_and_arrives_at_once() {
        let mut t = Tracker::default();
        let w = watch(&["a"]);
        let t0 = Instant::now();
        assert!(t.report("gw", vec![seen("a", true), seen("b", true)], t0, &w).is_empty(), "first report: no news");
        assert!(t.report("gw", vec![seen("a", false), seen("b", false)], t0, &w).is_empty());
        assert_eq!(t.next_due(RULES, &w, &none()), Some(t0 + RULES.away_after));
        assert!(t.tick(t0 + Duration::from_secs(119), RULES, &w, &none()).is_empty());
        let left = t.tick(t0 + RULES.away_after, RULES, &w, &none());
        assert_eq!(left, vec![Change::Left { mac: "a".into(), name: "dev a".into() }], "only the followed one");
        assert!(t.tick(t0 + Duration::from_secs(600), RULES, &w, &none()).is_empty(), "told once");
        let back = t.report("gw", vec![seen("a", true), seen("b", true)], t0 + Duration::from_secs(700), &w);
        assert_eq!(back, vec![Change::Arrived { mac: "a".into(), name: "dev a".into() }]);
        assert_eq!(t.next_due(RULES, &w, &none()), None);
    }

    #[test]
    fn a_short_drop_or_flapping_is_no_news() {
        let mut t = Tracker::default();
        let w = watch(&["a"]);
        let t0 = Instant::now();
        t.report("gw", vec![seen("a", true)], t0, &w);
        let mut told = Vec::new();
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(10 * i);
            told.extend(t.report("gw", vec![seen("a", i % 2 == 1)], now, &w));
            told.extend(t.tick(now, RULES, &w, &none()));
        }
        assert!(told.is_empty(), "{told:?}");
    }

    #[test]
    fn online_on_any_agent_is_online_and_a_row_gone_is_offline() {
        let mut t = Tracker::default();
        let w = watch(&["a"]);
        let t0 = Instant::now();
        t.report("gw", vec![seen("a", true)], t0, &w);
        // It moves to the extender: the gateway drops the row, the extender has it.
        t.report("ext", vec![seen("a", true)], t0, &w);
        t.report("gw", vec![], t0, &w);
        assert_eq!(t.next_due(RULES, &w, &none()), None, "still online");
        t.report("ext", vec![], t0, &w);
        assert_eq!(t.next_due(RULES, &w, &none()), Some(t0 + RULES.away_after), "gone from both");
    }

    #[test]
    fn offline_for_long_is_told_once_per_period_for_devices_seen_online() {
        let mut t = Tracker::default();
        let w = watch(&[]);
        let t0 = Instant::now();
        t.report("gw", vec![seen("a", true), seen("z", false)], t0, &w);
        t.report("gw", vec![seen("a", false), seen("z", false)], t0, &w);
        let due = t0 + RULES.offline_after;
        assert_eq!(t.next_due(RULES, &w, &none()), Some(due));
        assert_eq!(t.tick(due, RULES, &w, &none()), vec![Change::Offline { mac: "a".into(), name: "dev a".into() }]);
        assert!(t.tick(due + RULES.offline_after, RULES, &w, &none()).is_empty());
        // Back and gone again: a new period.
        t.report("gw", vec![seen("a", true)], due, &w);
        t.report("gw", vec![seen("a", false)], due, &w);
        assert_eq!(t.tick(due + RULES.offline_after, RULES, &w, &none()).len(), 1);
    }

    #[test]
    fn timers_wait_for_the_report_of_an_agent_whose_hosts_changed() {
        let mut t = Tracker::default();
        let w = watch(&["a"]);
        let t0 = Instant::now();
        t.report("gw", vec![seen("a", true)], t0, &w);
        t.report("gw", vec![seen("a", false)], t0, &w);
        let busy: HashSet<String> = ["gw".to_owned()].into();
        let later = t0 + RULES.offline_after;
        assert!(t.tick(later, RULES, &w, &busy).is_empty());
        assert_eq!(t.next_due(RULES, &w, &busy), None);
        // Another agent's changes don't hold it.
        let other: HashSet<String> = ["ext".to_owned()].into();
        assert_eq!(t.tick(later, RULES, &w, &other).len(), 2);
    }

    #[test]
    fn following_a_device_that_is_away_says_nothing_until_it_arrives() {
        let mut t = Tracker::default();
        let t0 = Instant::now();
        t.report("gw", vec![seen("a", true)], t0, &watch(&[]));
        t.report("gw", vec![seen("a", false)], t0, &watch(&[]));
        let w = watch(&["a"]);
        t.followed("a");
        assert!(t.tick(t0 + RULES.away_after, RULES, &w, &none()).is_empty());
        assert_eq!(t.report("gw", vec![seen("a", true)], t0, &w).len(), 1, "arrives");
    }

    #[test]
    fn a_device_offline_when_first_seen_arrives() {
        let mut t = Tracker::default();
        let w = watch(&["a"]);
        let t0 = Instant::now();
        t.report("gw", vec![seen("a", false)], t0, &w);
        assert_eq!(t.report("gw", vec![seen("a", true)], t0, &w).len(), 1);
    }

    #[test]
    fn invented_hosts_are_bounded() {
        let mut t = Tracker::default();
        let w = watch(&[]);
        let t0 = Instant::now();
        for round in 0..10 {
            let hosts = (0..5000).map(|i| seen(&format!("{round}-{i}"), true)).collect();
            t.report(&format!("agent{round}"), hosts, t0, &w);
        }
        assert_eq!(t.len(), MAX_DEVICES);
    }
}
