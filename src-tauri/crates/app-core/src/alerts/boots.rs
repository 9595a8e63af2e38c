//! Whether a router restarted, from its UpTime, free of I/O. Its boot time is worked out as the
//! time of the read minus the UpTime; what was last known (from this run, or kept in the
//! history from an earlier one) is compared with it, so a router that restarted while the app
//! was closed is told at the next start, and a restart seen both ways (the stored boot and a
//! live `Boot!`) is told once.

/// A boot this much later than the one known is a restart (UpTime is in whole seconds, and the
/// read takes a moment).
pub(crate) const BOOT_SLACK_SECS: f64 = 3.0;

/// What is known of an agent's boot: when (Unix seconds) and when it was last seen running
/// since then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Known {
    pub boot: f64,
    pub seen: f64,
}

/// The boot time an UpTime read at `at` gives, `None` for an UpTime that can't be true (a boot
/// before 1970: a device that lies or counts wrong).
pub(crate) fn boot_of(uptime: u64, at: f64) -> Option<f64> {
    let booted = at - uptime as f64;
    (booted.is_finite() && booted >= 0.0 && at.is_finite()).then_some(booted)
}

/// Whether the boot at `booted` is a restart after `known`: later than the boot known, and not
/// before the device was last seen running that one (that would be a clock that changed, not
/// a restart).
pub(crate) fn restarted(known: Option<Known>, booted: f64) -> bool {
    known.is_some_and(|k| booted > k.boot + BOOT_SLACK_SECS && booted >= k.seen - BOOT_SLACK_SECS)
}

/// "at 03:12" (today) or "on 3 Dec at 03:12", local time; `None` for a time the clock can't show.
pub(crate) fn when_words(at: f64, now: f64) -> Option<String> {
    use chrono::{Local, TimeZone};
    let local = |t: f64| Local.timestamp_opt(t as i64, 0).single();
    let a = local(at)?;
    Some(match local(now) {
        Some(n) if a.date_naive() == n.date_naive() => format!("at {}", a.format("%H:%M")),
        _ => format!("on {} at {}", a.format("%-d %b"), a.format("%H:%M")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = 1_760_000_000.0;

    #[test]
    fn a_later_boot_is_a_restart_jitter_is_not() {
        let known = Some(Known { boot: T, seen: T + 3600.0 });
        assert!(!restarted(None, T), "nothing known: nothing to compare");
        assert!(!restarted(known, T + 2.5), "whole seconds and a slow read");
        assert!(!restarted(known, T - 100.0), "an earlier boot: a clock that moved");
        assert!(restarted(known, T + 7200.0), "booted after it was last seen");
        assert!(!restarted(known, T + 600.0), "booted while it was seen running the older boot");
        assert!(restarted(Some(Known { boot: T, seen: T + 2.0 }), T + 6.0));
    }

    #[test]
    fn impossible_uptimes_give_no_boot() {
        assert_eq!(boot_of(10, T), Some(T - 10.0));
        assert_eq!(boot_of(u64::MAX, T), None);
        assert_eq!(boot_of(u64::from(u32::MAX), T), None, "-1 as a 32-bit number: 136 years");
        assert_eq!(boot_of(0, f64::NAN), None);
    }

    #[test]
    fn times_read_in_words() {
        let now = chrono::Local::now().timestamp() as f64;
        let today = when_words(now, now).expect("words");
        assert!(today.starts_with("at "), "{today}");
        assert_eq!(today.len(), "at 03:12".len());
        assert!(when_words(now - 3.0 * 86_400.0, now).expect("words").starts_with("on "));
    }
}
