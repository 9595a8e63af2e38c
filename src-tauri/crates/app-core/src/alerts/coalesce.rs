//! Rate limiting and coalescing of alerts, free of I/O: at most one alert of a kind per
//! `min_gap`; the first of a quiet period shows at once, the ones that follow within the gap
//! wait and then show together as one ("3 new devices joined…"). A flood (a flapping device,
//! an agent inventing thousands of hosts) gives a bounded number of alerts: one at once and one
//! per gap after, whatever the flood's size.

use std::time::Duration;

use ipc_types::AlertKind;
use tokio::time::Instant;

/// One thing to tell, before coalescing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// Who it is about, cleaned and cut (a device or router name), for coalesced texts.
    pub who: String,
    /// Its own text, when shown alone.
    pub text: String,
    /// The device concerned (MAC or Endpoint ID), kept with the alert in the history.
    pub device: Option<String>,
}

/// What is shown at once: how many items, the first few of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub count: usize,
    pub items: Vec<Item>,
}

/// The rate limit and the waiting items of one kind of alert.
#[derive(Debug)]
pub(crate) struct Coalescer {
    min_gap: Duration,
    last_shown: Option<Instant>,
    /// The first few waiting (for the text) and how many wait in all.
    waiting: Vec<Item>,
    waiting_count: usize,
}

impl Coalescer {
    /// One alert of a kind per this much time at most.
    pub(crate) const MIN_GAP: Duration = Duration::from_secs(30);
    /// Names listed in a coalesced alert.
    const NAMES: usize = 2;

    pub(crate) fn new(min_gap: Duration) -> Self {
        Coalescer { min_gap, last_shown: None, waiting: Vec::new(), waiting_count: 0 }
    }

    /// Changes the gap (tests and demos); what waits keeps waiting.
    pub(crate) fn set_gap(&mut self, min_gap: Duration) {
        self.min_gap = min_gap;
    }

    /// Something to tell at `now`: the batch to show now, or `None` when it waits for
    /// [`Self::due`].
    pub(crate) fn offer(&mut self, now: Instant, item: Item) -> Option<Batch> {
        if self.waiting_count == 0 && self.last_shown.is_none_or(|t| now.duration_since(t) >= self.min_gap) {
            self.last_shown = Some(now);
            return Some(Batch { count: 1, items: vec![item] });
        }
        if self.waiting.len() < Self::NAMES {
            self.waiting.push(item);
        }
        self.waiting_count = self.waiting_count.saturating_add(1);
        None
    }

    /// When the waiting ones may be shown.
    pub(crate) fn due(&self) -> Option<Instant> {
        (self.waiting_count > 0).then(|| self.last_shown.map_or_else(Instant::now, |t| t + self.min_gap))
    }

    /// The waiting ones as one batch, once due.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<Batch> {
        if self.due().is_none_or(|due| now < due) {
            return None;
        }
        self.last_shown = Some(now);
        let count = std::mem::take(&mut self.waiting_count);
        Some(Batch { count, items: std::mem::take(&mut self.waiting) })
    }
}

/// The text of a batch of `kind`: an item alone says its own words; several are named together.
pub(crate) fn words(kind: AlertKind, batch: &Batch) -> String {
    let n = batch.count;
    match batch.items.as_slice() {
        [one] if n == 1 => one.text.clone(),
        [a, b] if n == 2 => {
            let (a, b) = (&a.who, &b.who);
            match kind {
                AlertKind::NewDevice => format!("{a} and {b} joined your home network."),
                AlertKind::Arrived => format!("{a} and {b} are home."),
                AlertKind::Left => format!("{a} and {b} left home."),
                AlertKind::Offline => format!("{a} and {b} have been offline for a while."),
                AlertKind::Restarted => format!("{a} and {b} restarted."),
                AlertKind::SlowSpeed => format!("Speed tests on {a} and {b} were slower than your alert level."),
            }
        }
        items => {
            let among = match items {
                [a, b, ..] => format!(", among them {} and {}", a.who, b.who),
                _ => String::new(),
            };
            match kind {
                AlertKind::NewDevice => format!("{n} new devices joined your home network{among}."),
                AlertKind::Arrived => format!("{n} devices you follow arrived home{among}."),
                AlertKind::Left => format!("{n} devices you follow left home{among}."),
                AlertKind::Offline => format!("{n} devices have been offline for a while{among}."),
                AlertKind::Restarted => format!("{n} restarts of your devices{among}."),
                AlertKind::SlowSpeed => format!("{n} speed tests were slower than your alert level."),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(who: &str) -> Item {
        Item { who: who.into(), text: format!("{who} joined your home network."), device: None }
    }

    fn text(b: Option<Batch>) -> Option<String> {
        b.map(|b| words(AlertKind::NewDevice, &b))
    }

    #[test]
    fn a_flood_is_rate_limited_and_coalesced() {
        let gap = Duration::from_secs(30);
        let mut c = Coalescer::new(gap);
        let t0 = Instant::now();
        let mut shown = Vec::new();
        // 10k devices within 10 s, then quiet: the first shows, the rest becomes one.
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i);
            if let Some(t) = text(c.flush(now)) {
                shown.push(t);
            }
            if let Some(t) = text(c.offer(now, item(&format!("Device {i}")))) {
                shown.push(t);
            }
        }
        assert_eq!(shown, ["Device 0 joined your home network."]);
        assert_eq!(c.due(), Some(t0 + gap));
        assert_eq!(c.flush(t0 + gap - Duration::from_millis(1)), None, "not before the gap");
        assert_eq!(
            text(c.flush(t0 + gap)).as_deref(),
            Some("9999 new devices joined your home network, among them Device 1 and Device 2.")
        );
        assert_eq!(c.due(), None);
        // Within the gap after that one: waits again; two waiting read as two names.
        assert_eq!(c.offer(t0 + gap + Duration::from_secs(1), item("A")), None);
        assert_eq!(c.offer(t0 + gap + Duration::from_secs(2), item("B")), None);
        assert_eq!(text(c.flush(t0 + gap * 2)).as_deref(), Some("A and B joined your home network."));
        // One waiting alone says its own words.
        assert_eq!(c.offer(t0 + gap * 2 + Duration::from_secs(1), item("C")), None);
        assert_eq!(text(c.flush(t0 + gap * 3)).as_deref(), Some("C joined your home network."));
        // After a quiet gap the next one shows at once.
        assert_eq!(text(c.offer(t0 + gap * 5, item("D"))).as_deref(), Some("D joined your home network."));
    }

    #[test]
    fn a_steady_flood_gives_one_alert_per_gap() {
        let gap = Duration::from_secs(30);
        let mut c = Coalescer::new(gap);
        let t0 = Instant::now();
        let mut shown = 0;
        // One item every 100 ms for an hour.
        for i in 0..36_000u64 {
            let now = t0 + Duration::from_millis(100 * i);
            shown += usize::from(c.flush(now).is_some());
            shown += usize::from(c.offer(now, item("x")).is_some());
        }
        assert!((120..=121).contains(&shown), "{shown}");
    }

    #[test]
    fn each_kind_has_its_words() {
        let b = |n: usize, whos: &[&str]| Batch {
            count: n,
            items: whos.iter().map(|w| Item { who: (*w).into(), text: format!("only {w}"), device: None }).collect(),
        };
        assert_eq!(words(AlertKind::Arrived, &b(1, &["Anna's phone"])), "only Anna's phone");
        assert_eq!(words(AlertKind::Arrived, &b(2, &["A", "B"])), "A and B are home.");
        assert_eq!(words(AlertKind::Left, &b(5, &["A", "B"])), "5 devices you follow left home, among them A and B.");
        assert_eq!(words(AlertKind::Restarted, &b(2, &["Gateway", "Hub"])), "Gateway and Hub restarted.");
        assert_eq!(words(AlertKind::SlowSpeed, &b(3, &["G", "G"])), "3 speed tests were slower than your alert level.");
    }
}
