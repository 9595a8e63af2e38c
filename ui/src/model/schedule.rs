//! The bedtime form: `hh:mm` times, days, and the rule it becomes.

use ipc_types::{BedtimeCreate, Weekday};

/// Minutes after midnight of an `hh:mm` (or `hh:mm:ss`, as some time inputs give) string.
pub fn parse_hhmm(text: &str) -> Option<u16> {
    let mut parts = text.trim().split(':');
    let (h, m) = (parts.next()?, parts.next()?);
    if let Some(s) = parts.next() {
        if s.len() != 2 || s.parse::<u8>().ok()? > 59 || parts.next().is_some() {
            return None;
        }
    }
    if !(1..=2).contains(&h.len()) || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// `hh:mm` of minutes after midnight.
pub fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

/// What the user filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedtimeForm {
    /// MAC of the chosen device; empty when none is chosen.
    pub mac: String,
    pub days: Vec<Weekday>,
    pub start: String,
    pub end: String,
}

impl Default for BedtimeForm {
    fn default() -> Self {
        Self { mac: String::new(), days: Weekday::ALL[..5].to_vec(), start: "21:00".into(), end: "07:00".into() }
    }
}

impl BedtimeForm {
    /// Adds or removes a day (kept in Monday-first order, no duplicates).
    pub fn toggle_day(&mut self, day: Weekday, on: bool) {
        self.days.retain(|d| *d != day);
        if on {
            self.days.push(day);
        }
        self.days.sort();
    }

    /// The request to send, or the first problem in words.
    pub fn validate(&self) -> Result<BedtimeCreate, String> {
        if self.mac.trim().is_empty() {
            return Err("Choose a device.".into());
        }
        if self.days.is_empty() {
            return Err("Choose at least one day.".into());
        }
        let start = parse_hhmm(&self.start).ok_or("Enter a start time like 21:00.")?;
        let end = parse_hhmm(&self.end).ok_or("Enter an end time like 07:00.")?;
        if start == end {
            return Err("Start and end are the same time: choose when the internet comes back.".into());
        }
        let mut days = self.days.clone();
        days.sort();
        days.dedup();
        Ok(BedtimeCreate { mac: self.mac.trim().to_owned(), days, start: hhmm(start), end: hhmm(end) })
    }
}

/// Whether a bedtime from `start` to `end` ends the next morning.
pub fn overnight(start: &str, end: &str) -> bool {
    matches!((parse_hhmm(start), parse_hhmm(end)), (Some(s), Some(e)) if e < s)
}

/// `21:00 – 07:00 (next day)` or `13:00 – 15:00`.
pub fn span(start: &str, end: &str) -> String {
    if overnight(start, end) {
        format!("{start} – {end} (next day)")
    } else {
        format!("{start} – {end}")
    }
}

/// `Every day`, `Weekdays`, `Weekends`, or `Mon, Wed, Fri`.
pub fn days_summary(days: &[Weekday]) -> String {
    let mut days = days.to_vec();
    days.sort();
    days.dedup();
    if days.len() == 7 {
        return "Every day".into();
    }
    if days == Weekday::ALL[..5] {
        return "Weekdays".into();
    }
    if days == Weekday::ALL[5..] {
        return "Weekends".into();
    }
    if days.is_empty() {
        return "No days".into();
    }
    days.iter().map(|d| &d.as_str()[..3]).collect::<Vec<_>>().join(", ")
}

/// What follows a rule's device name in "Other access rules": ` · Blocked · …` or
/// ` · Allowed · …`; for a rule that is switched off only app-core's summary (which says so),
/// as its policy does nothing then.
pub fn rule_line(policy: &str, enabled: bool, summary: &str) -> String {
    if !enabled {
        return format!(" · {summary}");
    }
    let policy = if policy == "Deny" { "Blocked" } else { "Allowed" };
    format!(" · {policy} · {summary}")
}

/// The id fragment of a day's checkbox: `bedtime-day-<this>`.
pub fn day_id(day: Weekday) -> String {
    day.as_str().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_other_rules() {
        assert_eq!(rule_line("Deny", true, "No internet (paused)"), " · Blocked · No internet (paused)");
        assert_eq!(rule_line("Allow", true, "Always allowed"), " · Allowed · Always allowed");
        assert_eq!(rule_line("Allow", false, "Switched off"), " · Switched off");
        assert_eq!(rule_line("Deny", false, "Switched off"), " · Switched off");
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_hhmm("21:00"), Some(21 * 60));
        assert_eq!(parse_hhmm("7:05"), Some(7 * 60 + 5));
        assert_eq!(parse_hhmm("07:05:00"), Some(7 * 60 + 5));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("12:60"), None);
        assert_eq!(parse_hhmm("1200"), None);
        assert_eq!(parse_hhmm(""), None);
        assert_eq!(parse_hhmm("12:5"), None);
        assert_eq!(hhmm(7 * 60 + 5), "07:05");
    }

    #[test]
    fn valid_overnight_form() {
        let mut form = BedtimeForm { mac: "aa:bb:cc:dd:ee:ff".into(), ..BedtimeForm::default() };
        form.toggle_day(Weekday::Sunday, true);
        form.toggle_day(Weekday::Monday, false);
        form.toggle_day(Weekday::Sunday, true);
        form.end = "7:30".into();
        let request = form.validate().expect("valid");
        assert_eq!(
            request.days,
            vec![Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday, Weekday::Sunday]
        );
        assert_eq!((request.start.as_str(), request.end.as_str()), ("21:00", "07:30"));
        assert!(overnight(&request.start, &request.end));
        assert_eq!(span("21:00", "07:30"), "21:00 – 07:30 (next day)");
        assert_eq!(span("13:00", "15:00"), "13:00 – 15:00");
    }

    #[test]
    fn invalid_forms_say_why() {
        let form = BedtimeForm::default();
        assert_eq!(form.validate(), Err("Choose a device.".into()));
        let mut form = BedtimeForm { mac: "aa".into(), ..BedtimeForm::default() };
        form.days.clear();
        assert_eq!(form.validate(), Err("Choose at least one day.".into()));
        let form = BedtimeForm { mac: "aa".into(), start: "25:00".into(), ..BedtimeForm::default() };
        assert!(form.validate().is_err_and(|e| e.contains("start time")));
        let form = BedtimeForm { mac: "aa".into(), start: "08:00".into(), end: "08:00".into(), ..Default::default() };
        assert!(form.validate().is_err_and(|e| e.contains("same time")));
    }

    #[test]
    fn day_summaries() {
        assert_eq!(days_summary(&Weekday::ALL), "Every day");
        assert_eq!(days_summary(&Weekday::ALL[..5]), "Weekdays");
        assert_eq!(days_summary(&[Weekday::Sunday, Weekday::Saturday]), "Weekends");
        assert_eq!(days_summary(&[Weekday::Friday, Weekday::Monday, Weekday::Wednesday]), "Mon, Wed, Fri");
        assert_eq!(day_id(Weekday::Thursday), "thursday");
    }
}
