//! Numbers and times as people read them.

/// `1536` -> `1.5 KB` (decimal units, as routers and phones show them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// Seconds of uptime as `3 days 4 h`, `2 h 5 min`, `45 s`.
pub fn uptime(secs: u64) -> String {
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// Parses an RFC 3339 / ISO 8601 UTC or offset time (`2026-11-27T22:10:05Z`,
/// `2026-11-27T23:10:05+01:00`, fractions allowed) into seconds since the Unix epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    if date_parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset_secs) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (clock, offset) = rest.split_at(pos);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (oh, om) = offset[1..].split_once(':')?;
        (clock, sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60))
    } else {
        (rest, 0)
    };
    let clock = clock.split('.').next()?;
    let mut clock_parts = clock.split(':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let second: i64 = clock_parts.next().unwrap_or("0").parse().ok()?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How long ago `when` (RFC 3339) was, seen at `now` (seconds since the epoch):
/// `just now`, `5 min ago`, `3 h ago`, `2 days ago`. Unknown or unreadable times give `None`.
/// The TR-181 "unknown time" (year 0001) also gives `None`.
pub fn ago(when: &str, now: i64) -> Option<String> {
    let then = parse_rfc3339(when)?;
    if then < 0 {
        return None;
    }
    Some(ago_secs(then, now))
}

/// How long ago Unix second `then` was at `now`, in words ("5 min ago").
pub fn ago_secs(then: i64, now: i64) -> String {
    let delta = (now - then).max(0);
    match delta {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", delta / 60),
        3600..=86_399 => format!("{} h ago", delta / 3600),
        86_400..=172_799 => "yesterday".into(),
        _ => format!("{} days ago", delta / 86_400),
    }
}

/// A WiFi signal in words, for people who don't read dBm.
pub fn signal(dbm: i32) -> &'static str {
    match dbm {
        -55.. => "Excellent",
        -67..=-56 => "Good",
        -75..=-68 => "Fair",
        _ => "Weak",
    }
}

/// A number without needless decimals: `50`, `21.5`, `0.25`.
pub fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(50.0), "50");
        assert_eq!(number(21.5), "21.5");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(1.0 / 3.0), "0.333");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1536), "1.5 KB");
        assert_eq!(bytes(12_345_678), "12 MB");
        assert_eq!(bytes(3_200_000_000), "3.2 GB");
        assert_eq!(bytes(u64::MAX), "18447 PB");
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime(42), "42 s");
        assert_eq!(uptime(125), "2 min");
        assert_eq!(uptime(2 * 3600 + 5 * 60), "2 h 5 min");
        assert_eq!(uptime(86_400 + 3600), "1 day 1 h");
        assert_eq!(uptime(3 * 86_400 + 4 * 3600 + 59), "3 days 4 h");
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(parse_rfc3339("2026-11-27T23:10:05+01:00"), parse_rfc3339("2026-11-27T22:10:05Z"));
        assert_eq!(parse_rfc3339("2026-11-27T22:10:05.123Z"), parse_rfc3339("2026-11-27T22:10:05Z"));
        assert_eq!(parse_rfc3339("2026-11-27T22:10:05-00:30"), parse_rfc3339("2026-11-27T22:40:05Z"));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn last_seen() {
        let now = parse_rfc3339("2026-11-27T22:00:00Z").expect("valid time");
        assert_eq!(ago("2026-11-27T21:59:30Z", now).as_deref(), Some("just now"));
        assert_eq!(ago("2026-11-27T21:55:00Z", now).as_deref(), Some("5 min ago"));
        assert_eq!(ago("2026-11-27T19:00:00Z", now).as_deref(), Some("3 h ago"));
        assert_eq!(ago("2026-11-26T20:00:00Z", now).as_deref(), Some("yesterday"));
        assert_eq!(ago("2026-11-20T22:00:00Z", now).as_deref(), Some("7 days ago"));
        assert_eq!(ago("2026-11-27T22:05:00Z", now).as_deref(), Some("just now"), "clock skew is not negative");
        assert_eq!(ago("0001-01-01T00:00:00Z", now), None, "TR-181 unknown time");
        assert_eq!(ago("garbage", now), None);
    }

    #[test]
    fn signal_words() {
        assert_eq!(signal(-40), "Excellent");
        assert_eq!(signal(-60), "Good");
        assert_eq!(signal(-70), "Fair");
        assert_eq!(signal(-85), "Weak");
    }
}
