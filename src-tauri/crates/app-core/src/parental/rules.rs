//! Bedtimes: "no internet for this device from `start` to `end` on these days", encoded in the
//! two ways TR-181 offers, and decoded back exactly.
//!
//! # TR-181 2.18 (`Device.Schedules.` exists)
//! `AccessControl.{i}.AccessPolicy` `Deny` ignores schedules (a hard pause), and `Allow` with a
//! `ScheduleRef` grants access only while one of the referenced schedules is active. So a
//! bedtime is **one AccessControl row** `{PhysAddress, AccessPolicy=Allow, Enable=true,
//! ScheduleRef=<S>}` plus **one schedule** `S = Device.Schedules.Schedule.{i}` with
//! `{Day=<days>, StartTime=<start>, Duration=<(end-start) mod 24h, in seconds>, InverseMode=true,
//! Enable=true}`. `InverseMode=true` makes the schedule active *outside* the listed spans, so the
//! device is online except from `start` on each listed day until `end` (the next morning when
//! `end` < `start`). A bedtime with `Day=Monday, StartTime=21:00, Duration=36000` blocks Monday
//! 21:00 to Tuesday 07:00.
//!
//! # TR-181 2.14-2.17 (`AccessControl.{i}.Schedule.{i}.`, no `Device.Schedules.`)
//! The legacy rows have no inverse mode: each row `{Day, StartTime, Duration, Enable}` is a
//! window in which an `Allow` row grants access. A bedtime is therefore one AccessControl row
//! `Allow` whose Schedule rows are the **complement** of the bedtime within the week: for every
//! gap between two consecutive blocked spans (on the circular week, Monday 00:00 = minute 0) one
//! row starting at the end of a blocked span (its `Day` is the day that instant falls on) and
//! lasting until the next blocked span begins (which may be more than a day later). Decoding
//! takes the union of enabled windows, complements it, and accepts the result as a bedtime when
//! every blocked span has the same start time and length.
//!
//! Either way, the device's single AccessControl row (`PhysAddress` is its unique key) carries
//! the whole rule, so one device has at most one bedtime; rows and schedules this app creates
//! carry an alias `uh-bed-<mac>` (see [`crate::hosts::rules::OUR_ALIAS`]).

use ipc_types::{AccessRule, Bedtime, RuleOrigin, ScheduleModel, Weekday};

use crate::hosts::rules::{access_row, our_alias, AccessRow};
use crate::params::{list, Params};

pub const DAY_MIN: u32 = 24 * 60;
pub const WEEK_MIN: u32 = 7 * DAY_MIN;

/// Parses `hh:mm` (00:00-23:59) into minutes after midnight.
///
/// # Errors
/// Words for the user.
pub fn parse_hhmm(s: &str) -> Result<u32, String> {
    let bad = || format!("\"{s}\" is not a time of day; use hh:mm, e.g. 21:30.");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight as `hh:mm`.
pub fn hhmm(minutes: u32) -> String {
    let m = minutes % DAY_MIN;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A TR-181 day name.
pub fn weekday(s: &str) -> Option<Weekday> {
    Weekday::ALL.into_iter().find(|d| d.as_str() == s.trim())
}

fn day_index(d: Weekday) -> u32 {
    Weekday::ALL.iter().position(|x| *x == d).map_or(0, |i| i as u32)
}

/// A validated bedtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Sorted Monday first, no duplicates, never empty.
    pub days: Vec<Weekday>,
    /// Minutes after midnight.
    pub start: u32,
    /// Length in minutes (1 .. 24 h - 1 min).
    pub minutes: u32,
}

impl Spec {
    /// Validates what the user entered.
    ///
    /// # Errors
    /// Words for the user: no day, bad times, start = end.
    pub fn new(days: &[Weekday], start: &str, end: &str) -> Result<Spec, String> {
        let mut days = days.to_vec();
        days.sort();
        days.dedup();
        if days.is_empty() {
            return Err("Choose at least one day for the bedtime.".into());
        }
        let s = parse_hhmm(start)?;
        let e = parse_hhmm(end)?;
        if s == e {
            return Err("The bedtime must end at another time than it starts.".into());
        }
        Ok(Spec { days, start: s, minutes: (e + DAY_MIN - s) % DAY_MIN })
    }

    /// `hh:mm` end (the next day when before the start).
    pub fn end(&self) -> String {
        hhmm(self.start + self.minutes)
    }

    /// TR-181 `Day` list.
    pub fn day_list(&self) -> String {
        self.days.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Blocked spans as week minutes `[from, to)` (`to` may pass the end of the week).
    pub fn blocked_spans(&self) -> Vec<(u32, u32)> {
        self.days.iter().map(|d| day_index(*d) * DAY_MIN + self.start).map(|f| (f, f + self.minutes)).collect()
    }

    /// 2.18: parameters of the `Device.Schedules.Schedule.` row.
    pub fn schedule_params(&self, mac: &str, device_name: &str) -> Vec<(String, String)> {
        let mut description = format!("Bedtime for {device_name} (usp-home)");
        description.truncate(200);
        vec![
            ("Alias".into(), our_alias("bed", mac)),
            ("Enable".into(), "true".into()),
            ("Description".into(), description),
            ("Day".into(), self.day_list()),
            ("StartTime".into(), hhmm(self.start)),
            ("Duration".into(), (self.minutes * 60).to_string()),
            ("InverseMode".into(), "true".into()),
        ]
    }

    /// Legacy: the parameters of each `AccessControl.{i}.Schedule.` row of this bedtime, one
    /// per allowed window of [`Spec::legacy_windows`].
    pub fn legacy_schedule_rows(&self) -> Vec<Vec<(String, String)>> {
        self.legacy_windows()
            .into_iter()
            .map(|(day, start, secs)| {
                vec![
                    ("Enable".to_owned(), "true".to_owned()),
                    ("Day".to_owned(), day.as_str().to_owned()),
                    ("StartTime".to_owned(), start),
                    ("Duration".to_owned(), secs.to_string()),
                ]
            })
            .collect()
    }

    /// Legacy: the `AccessControl.{i}.Schedule.` rows, i.e. the allowed windows (see the module
    /// doc): `(Day, StartTime, Duration seconds)`.
    pub fn legacy_windows(&self) -> Vec<(Weekday, String, u32)> {
        let mut blocked = self.blocked_spans();
        blocked.sort_unstable();
        let n = blocked.len();
        let mut out = Vec::new();
        for i in 0..n {
            let end = blocked[i].1;
            let next = if i + 1 < n { blocked[i + 1].0 } else { blocked[0].0 + WEEK_MIN };
            if next > end {
                let from = end % WEEK_MIN;
                let day = Weekday::ALL[(from / DAY_MIN) as usize % 7];
                out.push((day, hhmm(from), (next - end) * 60));
            }
        }
        out
    }
}

/// The AccessControl row parameters of a new bedtime (both models; `ScheduleRef` added by the
/// caller on 2.18 agents).
pub fn access_params(mac: &str, host_name: Option<&str>) -> Vec<(String, String)> {
    access_row("bed", mac, host_name, "Allow")
}

/// Decodes a 2.18 schedule (`sched` with a dot) as a bedtime spec, if it is one (inverse mode,
/// a day list, a valid start, a length under a day).
pub fn decode_schedule(p: &Params, sched: &str) -> Option<(Spec, bool)> {
    if p.bool(sched, "InverseMode") != Some(true) {
        return None;
    }
    let days: Vec<Weekday> = list(p.get(sched, "Day")?).iter().filter_map(|d| weekday(d)).collect();
    let start = parse_hhmm(p.get(sched, "StartTime")?).ok()?;
    let secs = p.uint(sched, "Duration")?;
    if days.is_empty() || secs == 0 || secs % 60 != 0 || secs >= u64::from(DAY_MIN) * 60 {
        return None;
    }
    let mut days = days;
    days.sort();
    days.dedup();
    Some((Spec { days, start, minutes: (secs / 60) as u32 }, p.bool(sched, "Enable").unwrap_or(false)))
}

/// Decodes legacy schedule rows (paths with dots) as a bedtime spec, if they are the complement
/// of one.
pub fn decode_legacy(p: &Params, rows: &[String]) -> Option<Spec> {
    let mut allowed: Vec<(u32, u32)> = Vec::new();
    for r in rows.iter().take(64) {
        if p.bool(r, "Enable") == Some(false) {
            continue;
        }
        let start = parse_hhmm(p.get(r, "StartTime")?).ok()?;
        let secs = p.uint(r, "Duration")?;
        if secs == 0 || secs > u64::from(WEEK_MIN) * 60 {
            return None;
        }
        let mins = (secs / 60) as u32;
        for d in list(p.get(r, "Day").unwrap_or("")) {
            let from = day_index(weekday(&d)?) * DAY_MIN + start;
            allowed.push((from, from + mins));
        }
    }
    if allowed.is_empty() {
        return None;
    }
    // Allowed minutes of the week, then the blocked spans between them.
    let mut minute_allowed = vec![false; WEEK_MIN as usize];
    for (f, t) in allowed {
        for m in f..t.min(f + WEEK_MIN) {
            minute_allowed[(m % WEEK_MIN) as usize] = true;
        }
    }
    if minute_allowed.iter().all(|a| *a) {
        return None;
    }
    // Start scanning at an allowed minute so no blocked span is cut at the week's end.
    let first_allowed = minute_allowed.iter().position(|a| *a)?;
    let mut spans: Vec<(u32, u32)> = Vec::new();
    let mut cur: Option<u32> = None;
    for k in 0..=WEEK_MIN {
        let m = (first_allowed as u32 + k) % WEEK_MIN;
        let blocked = !minute_allowed[m as usize];
        match (blocked, cur) {
            (true, None) => cur = Some(first_allowed as u32 + k),
            (false, Some(s)) => {
                spans.push((s % WEEK_MIN, first_allowed as u32 + k - s));
                cur = None;
            }
            _ => {}
        }
    }
    let (s0, len0) = *spans.first()?;
    let start = s0 % DAY_MIN;
    if len0 >= DAY_MIN || spans.iter().any(|(s, l)| s % DAY_MIN != start || *l != len0) {
        return None;
    }
    let mut days: Vec<Weekday> = spans.iter().map(|(s, _)| Weekday::ALL[(s / DAY_MIN) as usize % 7]).collect();
    days.sort();
    days.dedup();
    (days.len() == spans.len()).then_some(Spec { days, start, minutes: len0 })
}

/// The parental view of one agent: bedtimes and other rules. `name_of` gives a device's display
/// name from its MAC.
pub fn rules(
    agent: &str,
    p: &Params,
    rows: &[AccessRow],
    name_of: &dyn Fn(&str) -> String,
) -> (Vec<Bedtime>, Vec<AccessRule>) {
    let mut bedtimes = Vec::new();
    let mut others = Vec::new();
    for row in rows {
        let Some(mac) = row.mac.clone() else { continue };
        let origin = if row.ours() { RuleOrigin::Ours } else { RuleOrigin::Other };
        let device_name = name_of(&mac);
        let decoded = if row.policy != "Allow" {
            None
        } else if row.schedule_refs.len() == 1 && row.legacy_schedules.is_empty() {
            decode_schedule(p, &row.schedule_refs[0]).map(|(s, en)| (s, en && row.enabled))
        } else if row.schedule_refs.is_empty() && !row.legacy_schedules.is_empty() {
            decode_legacy(p, &row.legacy_schedules).map(|s| (s, row.enabled))
        } else {
            None
        };
        match decoded {
            Some((spec, enabled)) => bedtimes.push(Bedtime {
                id: format!("{agent} {}", row.path.trim_end_matches('.')),
                agent: agent.to_owned(),
                mac,
                device_name,
                days: spec.days.clone(),
                start: hhmm(spec.start),
                end: spec.end(),
                enabled,
                origin,
                extra_until: None,
            }),
            None => others.push(AccessRule {
                agent: agent.to_owned(),
                path: row.path.trim_end_matches('.').to_owned(),
                mac,
                device_name,
                policy: row.policy.clone(),
                enabled: row.enabled,
                origin,
                summary: summary(p, row),
            }),
        }
    }
    (bedtimes, others)
}

/// A short description of a rule we don't edit.
fn summary(p: &Params, row: &AccessRow) -> String {
    if !row.enabled {
        return "Switched off".into();
    }
    if row.policy == "Deny" {
        return "No internet (paused)".into();
    }
    let windows: Vec<String> = row
        .schedule_refs
        .iter()
        .chain(row.legacy_schedules.iter())
        .take(8)
        .filter_map(|s| {
            let days = list(p.get(s, "Day").unwrap_or(""));
            let start = parse_hhmm(p.get(s, "StartTime")?).ok()?;
            let mins = (p.uint(s, "Duration")? / 60).min(u64::from(WEEK_MIN)) as u32;
            let short: Vec<&str> = days.iter().map(|d| d.get(..3).unwrap_or(d)).collect();
            let inverse = if p.bool(s, "InverseMode") == Some(true) { "offline " } else { "" };
            Some(format!("{inverse}{} {}-{}", short.join(","), hhmm(start), hhmm(start + mins)))
        })
        .collect();
    if windows.is_empty() {
        "Always allowed".into()
    } else {
        format!("Online only: {}", windows.join("; "))
    }
}

/// Which model an agent uses, from its supported data model.
pub fn model(has_schedules: bool, has_legacy: bool, has_access_control: bool) -> ScheduleModel {
    if !has_access_control {
        ScheduleModel::None
    } else if has_schedules {
        ScheduleModel::Schedules
    } else if has_legacy {
        ScheduleModel::Legacy
    } else {
        ScheduleModel::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    #[test]
    fn hhmm_validation() {
        assert_eq!(parse_hhmm("21:30"), Ok(21 * 60 + 30));
        assert_eq!(parse_hhmm("00:00"), Ok(0));
        for bad in ["24:00", "7:00", "07:60", "0700", "", "ab:cd", "07:00:00", "-1:00", "٠٧:٠٠"] {
            assert!(parse_hhmm(bad).is_err(), "{bad}");
        }
        assert_eq!(hhmm(23 * 60 + 59), "23:59");
        assert_eq!(hhmm(DAY_MIN + 5), "00:05");
    }

    #[test]
    fn spec_validation_and_overnight() {
        assert!(Spec::new(&[], "21:00", "07:00").expect_err("refused").contains("day"));
        assert!(Spec::new(&[Monday], "21:00", "21:00").is_err());
        assert!(Spec::new(&[Monday], "25:00", "07:00").is_err());
        let s = Spec::new(&[Friday, Monday, Monday], "21:00", "07:00").expect("ok");
        assert_eq!(s.days, [Monday, Friday]);
        assert_eq!(s.minutes, 600);
        assert_eq!(s.end(), "07:00");
        assert_eq!(s.day_list(), "Monday,Friday");
        let p = s.schedule_params("a4:83:e7:10:20:01", "Anna");
        assert!(p.contains(&("Duration".into(), "36000".into())));
        assert!(p.contains(&("StartTime".into(), "21:00".into())));
        assert!(p.contains(&("InverseMode".into(), "true".into())));
        assert!(p.contains(&("Alias".into(), "uh-bed-a483e7102001".into())));
        let day = Spec::new(&[Saturday], "13:00", "15:30").expect("ok");
        assert_eq!(day.minutes, 150);
    }

    #[test]
    fn schedules_round_trip() {
        let s = Spec::new(&[Sunday, Monday, Tuesday, Wednesday, Thursday], "20:00", "07:00").expect("ok");
        let p = Params::new(
            s.schedule_params("aa:bb:cc:dd:ee:ff", "X")
                .into_iter()
                .map(|(k, v)| (format!("Device.Schedules.Schedule.4.{k}"), v)),
        );
        let (back, enabled) = decode_schedule(&p, "Device.Schedules.Schedule.4.").expect("decoded");
        assert_eq!(back, s);
        assert!(enabled);
        // Not ours to decode: not inverse, or garbage.
        let plain = Params::new([
            ("S.1.Day", "Monday"),
            ("S.1.StartTime", "07:00"),
            ("S.1.Duration", "3600"),
            ("S.1.InverseMode", "false"),
            ("S.2.Day", "Funday"),
            ("S.2.StartTime", "07:00"),
            ("S.2.Duration", "3600"),
            ("S.2.InverseMode", "true"),
            ("S.3.Day", "Monday"),
            ("S.3.StartTime", "7"),
            ("S.3.Duration", "99999999999999999999"),
            ("S.3.InverseMode", "true"),
        ]);
        assert_eq!(decode_schedule(&plain, "S.1."), None);
        assert_eq!(decode_schedule(&plain, "S.2."), None);
        assert_eq!(decode_schedule(&plain, "S.3."), None);
    }

    #[test]
    fn legacy_windows_are_the_complement_and_round_trip() {
        let s = Spec::new(&[Monday, Tuesday], "21:00", "07:00").expect("ok");
        let w = s.legacy_windows();
        // Blocked Mon 21:00-Tue 07:00 and Tue 21:00-Wed 07:00: allowed Tue 07:00 (14 h) and
        // Wed 07:00 until Mon 21:00 (5 days 14 h).
        assert_eq!(
            w,
            [(Tuesday, "07:00".to_owned(), 14 * 3600), (Wednesday, "07:00".to_owned(), (5 * 24 + 14) * 3600)]
        );
        let to_params = |w: &[(Weekday, String, u32)]| {
            let mut v = Vec::new();
            for (i, (d, st, dur)) in w.iter().enumerate() {
                let r = format!("Device.Hosts.AccessControl.1.Schedule.{}.", i + 1);
                v.push((format!("{r}Day"), d.as_str().to_owned()));
                v.push((format!("{r}StartTime"), st.clone()));
                v.push((format!("{r}Duration"), dur.to_string()));
                v.push((format!("{r}Enable"), "true".to_owned()));
            }
            Params::new(v)
        };
        let p = to_params(&w);
        let rows = p.instances("Device.Hosts.AccessControl.1.Schedule.");
        assert_eq!(decode_legacy(&p, &rows), Some(s));
        // Every day, across the week's end (Sunday night to Monday morning).
        let all = Spec::new(&Weekday::ALL, "22:30", "06:15").expect("ok");
        let w = all.legacy_windows();
        assert_eq!(w.len(), 7);
        assert_eq!(w[0], (Tuesday, "06:15".to_owned(), (22 * 60 + 30 - (6 * 60 + 15)) * 60));
        assert_eq!(w[6].0, Monday, "Sunday night's span ends on Monday morning");
        let p = to_params(&w);
        assert_eq!(decode_legacy(&p, &p.instances("Device.Hosts.AccessControl.1.Schedule.")), Some(all));
        // Sunday only, overnight into Monday.
        let sun = Spec::new(&[Sunday], "23:00", "01:00").expect("ok");
        let w = sun.legacy_windows();
        assert_eq!(w, [(Monday, "01:00".to_owned(), (7 * 24 - 2) * 3600)]);
        let p = to_params(&w);
        assert_eq!(decode_legacy(&p, &p.instances("Device.Hosts.AccessControl.1.Schedule.")), Some(sun));
    }

    #[test]
    fn legacy_that_is_no_bedtime_is_left_alone() {
        // Online weekdays 07:00-20:00 only, weekends always: the blocked spans differ.
        let p = Params::new([
            ("R.1.Day", "Monday,Tuesday,Wednesday,Thursday,Friday"),
            ("R.1.StartTime", "07:00"),
            ("R.1.Duration", "46800"),
            ("R.2.Day", "Saturday"),
            ("R.2.StartTime", "00:00"),
            ("R.2.Duration", "172800"),
        ]);
        assert_eq!(decode_legacy(&p, &["R.1.".to_owned(), "R.2.".to_owned()]), None);
        let garbage = Params::new([("R.1.Day", "Monday"), ("R.1.StartTime", "x"), ("R.1.Duration", "60")]);
        assert_eq!(decode_legacy(&garbage, &["R.1.".to_owned()]), None);
        let always = Params::new([("R.1.Day", "Monday"), ("R.1.StartTime", "00:00"), ("R.1.Duration", "604800")]);
        assert_eq!(decode_legacy(&always, &["R.1.".to_owned()]), None);
    }

    #[test]
    fn rules_split_bedtimes_from_others() {
        let s = Spec::new(&[Monday], "21:00", "07:00").expect("ok");
        let mut pairs: Vec<(String, String)> = s
            .schedule_params("aa:bb:cc:dd:ee:ff", "X")
            .into_iter()
            .map(|(k, v)| (format!("Device.Schedules.Schedule.3.{k}"), v))
            .collect();
        pairs.extend([
            ("Device.Schedules.Schedule.1.Day".to_owned(), "Monday".to_owned()),
            ("Device.Schedules.Schedule.1.StartTime".to_owned(), "07:00".to_owned()),
            ("Device.Schedules.Schedule.1.Duration".to_owned(), "46800".to_owned()),
        ]);
        let p = Params::new(pairs);
        let rows = vec![
            AccessRow {
                path: "Device.Hosts.AccessControl.2.".into(),
                mac: Some("aa:bb:cc:dd:ee:ff".into()),
                alias: Some("uh-bed-aabbccddeeff".into()),
                enabled: true,
                policy: "Allow".into(),
                schedule_refs: vec!["Device.Schedules.Schedule.3.".into()],
                origin: Some("Controller".into()),
                ..AccessRow::default()
            },
            AccessRow {
                path: "Device.Hosts.AccessControl.1.".into(),
                mac: Some("f0:d4:15:30:40:04".into()),
                enabled: true,
                policy: "Allow".into(),
                schedule_refs: vec!["Device.Schedules.Schedule.1.".into()],
                origin: Some("User".into()),
                ..AccessRow::default()
            },
            AccessRow {
                path: "Device.Hosts.AccessControl.4.".into(),
                mac: Some("02:e2:e0:00:00:01".into()),
                enabled: false,
                policy: "Deny".into(),
                ..AccessRow::default()
            },
        ];
        let (beds, others) = rules("gw", &p, &rows, &|m| format!("dev {m}"));
        assert_eq!(beds.len(), 1);
        assert_eq!(beds[0].id, "gw Device.Hosts.AccessControl.2");
        assert_eq!((beds[0].start.as_str(), beds[0].end.as_str()), ("21:00", "07:00"));
        assert_eq!(beds[0].origin, RuleOrigin::Ours);
        assert_eq!(others.len(), 2);
        assert_eq!(others[0].origin, RuleOrigin::Other);
        assert_eq!(others[0].summary, "Online only: Mon 07:00-20:00");
        // Switched off: the summary says so whatever the policy (the UI shows only this).
        assert!(!others[1].enabled);
        assert_eq!(others[1].summary, "Switched off");
    }
}
