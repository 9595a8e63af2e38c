//! "Pause for a while" and "more time tonight": a device's internet access changed for a
//! limited time, enforced by the gateway's own schedules, so it holds (and ends) with the app
//! closed. Pure logic; the requests are made in [`super::pause_for`].
//!
//! TR-181 schedules repeat every week (`Day`, `StartTime`, `Duration`) and have no date, so a
//! change "until 21:30 today" is written as the week of allowed windows it leaves: the
//! complement of the device's blocked minutes (its bedtime, if any, plus the pause, or minus the
//! extra time). On a 2.18 agent these are ordinary (not inverse) `Device.Schedules.Schedule`
//! rows in the device's `ScheduleRef`; on a 2.14-2.17 agent, `AccessControl.{i}.Schedule` rows.
//! Access is allowed inside any of them, so the gateway lets the device back on by itself at
//! the end. The app puts the rule back as it was (the bedtime alone, or no rule) once the time
//! is over; until then the gateway keeps the week's pattern, which would repeat a week later
//! only if the app never ran again in between.

use ipc_types::Weekday;

use super::rules::{hhmm, Spec, DAY_MIN, WEEK_MIN};

/// "Until tomorrow" ends at this minute of the day (07:00).
pub const MORNING: u32 = 7 * 60;
/// The longest pause, in minutes (a day).
pub const MAX_PAUSE_MIN: u32 = DAY_MIN;
/// The most extra time, in minutes.
pub const MAX_EXTRA_MIN: u32 = 240;

/// The minute of the week (Monday 00:00 = 0) of a TR-181 `dateTime` in the device's local
/// time (`Device.Time.CurrentLocalTime`: `2026-12-04T20:31:07Z`, `…+01:00` or no offset):
/// the wall-clock date and time as written, which is what the device's schedules use.
pub fn week_minute(local: &str) -> Option<u32> {
    let b = local.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = std::str::from_utf8(b.get(r)?).ok()?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm) = (num(11..13)?, num(14..16)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || b.get(13) != Some(&b':') {
        return None;
    }
    if y < 1971 {
        // The "unknown" time (0001-01-01T00:00:00Z): no clock.
        return None;
    }
    // Days since 1970-01-01 of the civil date (H. Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // 1970-01-01 was a Thursday: index 3 with Monday = 0.
    let weekday = (days + 3).rem_euclid(7) as u32;
    Some(weekday * DAY_MIN + (hh * 60 + mm) as u32)
}

/// The minutes of a week, `true` where the device has no internet.
#[derive(Clone, PartialEq, Eq)]
pub struct Week(Vec<bool>);

impl std::fmt::Debug for Week {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Week({} blocked minutes)", self.0.iter().filter(|b| **b).count())
    }
}

impl Week {
    /// Blocked by `bedtime`, if any.
    pub fn of(bedtime: Option<&Spec>) -> Week {
        let mut w = Week(vec![false; WEEK_MIN as usize]);
        for (from, to) in bedtime.map(Spec::blocked_spans).unwrap_or_default() {
            w.mark(from, to - from, true);
        }
        w
    }

    /// Sets `minutes` minutes from `from` (wrapping at the end of the week).
    pub fn mark(&mut self, from: u32, minutes: u32, blocked: bool) {
        for m in from..from + minutes.min(WEEK_MIN) {
            self.0[(m % WEEK_MIN) as usize] = blocked;
        }
    }

    /// Whether minute `m` of the week is blocked.
    pub fn blocked(&self, m: u32) -> bool {
        self.0[(m % WEEK_MIN) as usize]
    }

    /// The allowed windows, as `(Day, StartTime, Duration seconds)`: one per run of allowed
    /// minutes (a run may cross midnight and last days). Empty when nothing is allowed; one
    /// window of the whole week when nothing is blocked.
    pub fn allowed_windows(&self) -> Vec<(Weekday, String, u32)> {
        let Some(first_blocked) = self.0.iter().position(|b| *b) else {
            return vec![(Weekday::Monday, "00:00".to_owned(), WEEK_MIN * 60)];
        };
        let mut out = Vec::new();
        let mut run: Option<u32> = None;
        // Start at a blocked minute so no allowed run is cut at the end of the week.
        for k in 0..=WEEK_MIN {
            let m = first_blocked as u32 + k;
            match (self.blocked(m), run) {
                (false, None) => run = Some(m),
                (true, Some(start)) => {
                    let from = start % WEEK_MIN;
                    out.push((Weekday::ALL[(from / DAY_MIN) as usize], hhmm(from % DAY_MIN), (m - start) * 60));
                    run = None;
                }
                _ => {}
            }
        }
        out
    }
}

/// A pause of `minutes` from `now` (minute of the week) on top of `bedtime`: the week it
/// leaves.
pub fn pause_week(bedtime: Option<&Spec>, now: u32, minutes: u32) -> Week {
    let mut w = Week::of(bedtime);
    w.mark(now, minutes, true);
    w
}

/// Minutes from `now` to the next 07:00 (at least an hour away: at 06:30 it is the next day's).
pub fn minutes_until_morning(now: u32) -> u32 {
    let of_day = now % DAY_MIN;
    let mut until = (MORNING + DAY_MIN - of_day) % DAY_MIN;
    if until < 60 {
        until += DAY_MIN;
    }
    until
}

/// Extra time on `bedtime`: during a bedtime span, `minutes` from `now`; else on the span
/// that starts within the next 24 hours (tonight's), its first `minutes`. The week it leaves
/// and the minutes from `now` until the extra time ends; `None` when no span starts within a
/// day (no bedtime tonight).
pub fn extra_week(bedtime: &Spec, now: u32, minutes: u32) -> Option<(Week, u32)> {
    let spans = bedtime.blocked_spans();
    let since = |from: u32| (now + WEEK_MIN - from % WEEK_MIN) % WEEK_MIN;
    let until = |from: u32| (from % WEEK_MIN + WEEK_MIN - now) % WEEK_MIN;
    let (from, len) = if let Some(&(f, t)) = spans.iter().find(|(f, t)| since(*f) < t - f) {
        let left = (t - f) - since(f);
        (now, minutes.min(left))
    } else {
        let &(f, t) = spans.iter().filter(|(f, _)| until(*f) < DAY_MIN).min_by_key(|(f, _)| until(*f))?;
        (f % WEEK_MIN, minutes.min(t - f))
    };
    let mut w = Week::of(Some(bedtime));
    w.mark(from, len, false);
    let ends_in = (from + len + WEEK_MIN - now) % WEEK_MIN;
    Some((w, ends_in))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: u32 = 0;
    const WED: u32 = 2 * DAY_MIN;
    const FRI: u32 = 4 * DAY_MIN;
    const SUN: u32 = 6 * DAY_MIN;

    #[test]
    fn the_devices_local_time_as_a_minute_of_the_week() {
        // 2026-12-04 is a Friday.
        assert_eq!(week_minute("2026-12-04T20:31:07Z"), Some(FRI + 20 * 60 + 31));
        assert_eq!(week_minute("2026-12-04T20:31:07+01:00"), Some(FRI + 20 * 60 + 31), "wall clock as written");
        assert_eq!(week_minute("2026-12-07T00:00:00"), Some(MON));
        assert_eq!(week_minute("2024-02-29T23:59:00Z"), Some(3 * DAY_MIN + 23 * 60 + 59), "a leap day, Thursday");
        assert_eq!(week_minute("2000-01-02T12:00:00Z"), Some(SUN + 12 * 60));
        for bad in
            ["0001-01-01T00:00:00Z", "", "2026-13-01T00:00:00Z", "2026-12-04T25:00:00Z", "yesterday", "2026-12-04"]
        {
            assert_eq!(week_minute(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_pause_without_a_bedtime_leaves_one_window_around_it() {
        let now = WED + 20 * 60;
        let w = pause_week(None, now, 30);
        assert!(w.blocked(now) && w.blocked(now + 29) && !w.blocked(now + 30) && !w.blocked(now - 1));
        // One window: from the end of the pause, round the week, to its start.
        assert_eq!(w.allowed_windows(), [(Weekday::Wednesday, "20:30".to_owned(), (WEEK_MIN - 30) * 60)]);
    }

    #[test]
    fn a_pause_over_a_bedtime_blocks_both() {
        let bed = Spec::new(&[Weekday::Wednesday, Weekday::Thursday], "21:00", "07:00").expect("spec");
        // Paused at 20:00 for two hours: into the bedtime.
        let w = pause_week(Some(&bed), WED + 20 * 60, 120);
        let windows = w.allowed_windows();
        assert_eq!(
            windows,
            [
                (Weekday::Thursday, "07:00".to_owned(), 14 * 3600),
                (Weekday::Friday, "07:00".to_owned(), (5 * DAY_MIN + 13 * 60) * 60),
            ],
            "{windows:?}"
        );
    }

    #[test]
    fn until_tomorrow_means_the_next_seven_oclock() {
        assert_eq!(minutes_until_morning(FRI + 20 * 60 + 30), 10 * 60 + 30);
        assert_eq!(minutes_until_morning(FRI + 2 * 60), 5 * 60, "after midnight: this morning");
        assert_eq!(minutes_until_morning(FRI + 6 * 60 + 30), DAY_MIN + 30, "06:30: tomorrow's");
        assert_eq!(minutes_until_morning(SUN + 23 * 60), 8 * 60, "wraps into Monday");
    }

    #[test]
    fn extra_time_moves_tonights_bedtime_only() {
        let bed = Spec::new(&[Weekday::Monday, Weekday::Wednesday, Weekday::Friday], "20:00", "07:00").expect("spec");
        // Wednesday 18:00: tonight's bedtime starts at 20:30 instead; Monday's and Friday's stay.
        let (w, ends_in) = extra_week(&bed, WED + 18 * 60, 30).expect("tonight");
        assert_eq!(ends_in, 150, "until 20:30");
        assert!(!w.blocked(WED + 20 * 60) && !w.blocked(WED + 20 * 60 + 29) && w.blocked(WED + 20 * 60 + 30));
        assert!(w.blocked(FRI + 20 * 60) && w.blocked(MON + 20 * 60));
        // During the bedtime (Wednesday 22:00): from now.
        let (w, ends_in) = extra_week(&bed, WED + 22 * 60, 30).expect("now");
        assert_eq!(ends_in, 30);
        assert!(w.blocked(WED + 21 * 60) && !w.blocked(WED + 22 * 60) && w.blocked(WED + 22 * 60 + 30));
        // Thursday noon: no bedtime within a day.
        assert_eq!(extra_week(&bed, 3 * DAY_MIN + 12 * 60, 30), None);
        // More than the bedtime lasts: the whole night, no more.
        let (w, ends_in) = extra_week(&bed, WED + 6 * 60 + 30 + DAY_MIN, 240).expect("Thursday 06:30");
        assert_eq!(ends_in, 30);
        assert!(!w.blocked(3 * DAY_MIN + 6 * 60 + 30));
    }

    #[test]
    fn windows_of_an_unblocked_week_and_a_blocked_one() {
        assert_eq!(Week::of(None).allowed_windows(), [(Weekday::Monday, "00:00".to_owned(), WEEK_MIN * 60)]);
        let mut all = Week::of(None);
        all.mark(0, WEEK_MIN, true);
        assert!(all.allowed_windows().is_empty());
    }
}
