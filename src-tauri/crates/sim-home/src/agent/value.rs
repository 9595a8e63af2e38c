//! Parameter value checks (TR-106 string forms) and time helpers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::schema::Ty;
use super::{err, UspErr};

/// Checks `value` against the type and returns its canonical form ("1" → "true").
/// Errors are 7011 (not parseable as the type) or 7012 (out of range / not allowed).
/// References ([`Ty::Ref`]) are only checked for syntax here; the data model checks that
/// they point at existing rows.
pub fn check(ty: Ty, value: &str) -> Result<String, UspErr> {
    match ty {
        Ty::Str(min, max) => {
            let n = value.chars().count();
            if n < min as usize || n > max as usize {
                return Err(err(7012, format!("length {n} is outside {min}..{max} characters")));
            }
            Ok(value.to_owned())
        }
        Ty::List(max) => {
            if value.len() > max as usize {
                return Err(err(7012, format!("list longer than {max} characters")));
            }
            Ok(canonical_list(value))
        }
        Ty::Enum(values) => {
            if values.contains(&value) {
                Ok(value.to_owned())
            } else {
                Err(err(7012, format!("{value:?} is not one of {}", values.join(", "))))
            }
        }
        Ty::EnumList(values) => {
            let items = split_list(value);
            for item in &items {
                if !values.contains(item) {
                    return Err(err(7012, format!("list item {item:?} is not one of {}", values.join(", "))));
                }
            }
            Ok(items.join(","))
        }
        Ty::Bool => match value {
            "true" | "1" => Ok("true".to_owned()),
            "false" | "0" => Ok("false".to_owned()),
            _ => Err(err(7011, format!("{value:?} is not a boolean"))),
        },
        Ty::Int(min, max) => {
            let n = parse_int(value).ok_or_else(|| err(7011, format!("{value:?} is not an int")))?;
            if n < min as i128 || n > max as i128 {
                return Err(err(7012, format!("{n} is outside {min}..{max}")));
            }
            Ok(n.to_string())
        }
        Ty::UInt(min, max) => {
            let n = parse_int(value)
                .filter(|n| *n >= 0)
                .ok_or_else(|| err(7011, format!("{value:?} is not an unsignedInt")))?;
            if n < min as i128 || n > max as i128 {
                return Err(err(7012, format!("{n} is outside {min}..{max}")));
            }
            Ok(n.to_string())
        }
        Ty::ULong => {
            let n = parse_int(value)
                .filter(|n| *n >= 0 && *n <= u64::MAX as i128)
                .ok_or_else(|| err(7011, format!("{value:?} is not an unsignedLong")))?;
            Ok(n.to_string())
        }
        Ty::Decimal => {
            if parse_decimal(value).is_none() {
                return Err(err(7011, format!("{value:?} is not a decimal")));
            }
            Ok(value.to_owned())
        }
        Ty::DateTime => {
            if !is_datetime(value) {
                return Err(err(7011, format!("{value:?} is not a dateTime (2024-01-31T08:00:00Z)")));
            }
            Ok(value.to_owned())
        }
        Ty::Base64(max) => {
            let bytes = decode_base64(value).ok_or_else(|| err(7011, format!("{value:?} is not base64")))?;
            if bytes.len() > max as usize {
                return Err(err(7012, format!("more than {max} bytes")));
            }
            Ok(value.to_owned())
        }
        Ty::Mac => {
            if value.is_empty() || is_mac(value) {
                Ok(value.to_ascii_uppercase())
            } else {
                Err(err(7012, format!("{value:?} is not a MAC address (AA:BB:CC:DD:EE:FF)")))
            }
        }
        Ty::Ref(_, list) => {
            let items = split_list(value);
            if !list && items.len() > 1 {
                return Err(err(7012, "a single reference is expected"));
            }
            if value.len() > 4096 {
                return Err(err(7012, "reference list too long"));
            }
            Ok(items.iter().map(|i| i.strip_suffix('.').unwrap_or(i)).collect::<Vec<_>>().join(","))
        }
        Ty::Rwxn => {
            let b = value.as_bytes();
            let ok = b.len() == 4
                && matches!(b[0], b'r' | b'-')
                && matches!(b[1], b'w' | b'-')
                && matches!(b[2], b'x' | b'-')
                && matches!(b[3], b'n' | b'-');
            if ok {
                Ok(value.to_owned())
            } else {
                Err(err(7012, format!("{value:?} is not a permission string like \"rw-n\"")))
            }
        }
        Ty::HhMm => {
            if parse_hhmm(value).is_some() {
                Ok(value.to_owned())
            } else {
                Err(err(7012, format!("{value:?} is not a time of day hh:mm")))
            }
        }
    }
}

/// Splits a comma-separated list, trimming items and dropping empty ones.
pub fn split_list(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
}

fn canonical_list(value: &str) -> String {
    split_list(value).join(",")
}

/// An integer in TR-106 form (optional leading '-', digits only).
pub fn parse_int(value: &str) -> Option<i128> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A decimal number (`-12`, `3.25`).
pub fn parse_decimal(value: &str) -> Option<f64> {
    let body = value.strip_prefix('-').unwrap_or(value);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let ok_int = !int.is_empty() && int.len() <= 30 && int.bytes().all(|b| b.is_ascii_digit());
    let ok_frac = frac.is_none_or(|f| !f.is_empty() && f.len() <= 30 && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok_int || !ok_frac {
        return None;
    }
    value.parse().ok()
}

/// A number in any of the numeric forms (used by search comparisons).
pub fn parse_number(value: &str) -> Option<f64> {
    parse_decimal(value.trim())
}

fn is_mac(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `hh:mm` → minutes after midnight.
pub fn parse_hhmm(value: &str) -> Option<u32> {
    let (h, m) = value.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Base64 (standard alphabet, padding optional).
pub fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(value.trim()).ok()
}

/// Standard base64 with padding.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ----------------------------------------------------------------------------------------
// Time

/// `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`.
pub fn is_datetime(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(|c| c.is_ascii_digit());
    let fixed = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !fixed {
        return false;
    }
    let num = |r: std::ops::Range<usize>| value[r].parse::<u32>().unwrap_or(99);
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut rest = &value[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    if rest == "Z" {
        return true;
    }
    let rb = rest.as_bytes();
    rb.len() == 6
        && (rb[0] == b'+' || rb[0] == b'-')
        && rb[1..3].iter().all(|c| c.is_ascii_digit())
        && rb[3] == b':'
        && rb[4..6].iter().all(|c| c.is_ascii_digit())
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ISO 8601 UTC text of a time, whole seconds (`2024-05-01T12:00:00Z`).
pub fn format_datetime(t: SystemTime) -> String {
    let secs = unix_secs(t) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", sod / 3600, (sod / 60) % 60, sod % 60)
}

/// Weekday (0 = Monday) and minute of the day of a time (UTC is the local time here).
pub fn weekday_and_minute(t: SystemTime) -> (u32, u32) {
    let secs = unix_secs(t);
    let days = secs / 86_400;
    // 1970-01-01 was a Thursday (index 3 with Monday = 0).
    let weekday = ((days + 3) % 7) as u32;
    let minute = ((secs % 86_400) / 60) as u32;
    (weekday, minute)
}

/// `t + ms` milliseconds.
pub fn add_ms(t: SystemTime, ms: u64) -> SystemTime {
    t.checked_add(Duration::from_millis(ms)).unwrap_or(t)
}

/// `t + secs` seconds (saturating at `t` on overflow).
pub fn add_secs(t: SystemTime, secs: u64) -> SystemTime {
    t.checked_add(Duration::from_secs(secs)).unwrap_or(t)
}

/// Parses the text of [`format_datetime`] (only the `Z` form) back to a time.
pub fn parse_datetime(value: &str) -> Option<SystemTime> {
    if !is_datetime(value) || !value.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| value.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // days_from_civil
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    if secs < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<String, UspErr>) -> u32 {
        match r {
            Ok(_) => 0,
            Err(e) => e.code,
        }
    }

    #[test]
    fn booleans_and_numbers() {
        assert_eq!(check(Ty::Bool, "1").ok().as_deref(), Some("true"));
        assert_eq!(check(Ty::Bool, "false").ok().as_deref(), Some("false"));
        assert_eq!(code(check(Ty::Bool, "True")), 7011);
        assert_eq!(code(check(Ty::Bool, "yes")), 7011);
        assert_eq!(code(check(Ty::Int(-1, 100), "101")), 7012);
        assert_eq!(code(check(Ty::Int(-1, 100), "-1")), 0);
        assert_eq!(code(check(Ty::Int(-1, 100), "1.5")), 7011);
        assert_eq!(code(check(Ty::UInt(0, 10), "-1")), 7011);
        assert_eq!(code(check(Ty::UInt(1, 10), "0")), 7012);
        assert_eq!(code(check(Ty::ULong, "18446744073709551615")), 0);
        assert_eq!(code(check(Ty::ULong, "18446744073709551616")), 7011);
        assert_eq!(code(check(Ty::Decimal, "21.5")), 0);
        assert_eq!(code(check(Ty::Decimal, "21.")), 7011);
        assert_eq!(code(check(Ty::Decimal, "abc")), 7011);
    }

    #[test]
    fn strings_enums_and_others() {
        assert_eq!(code(check(Ty::Str(8, 63), "short")), 7012);
        assert_eq!(code(check(Ty::Str(8, 63), "long enough")), 0);
        assert_eq!(code(check(Ty::Enum(&["Allow", "Deny"]), "Deny")), 0);
        assert_eq!(code(check(Ty::Enum(&["Allow", "Deny"]), "deny")), 7012);
        assert_eq!(
            check(Ty::EnumList(&["Monday", "Tuesday"]), "Monday, Tuesday").ok().as_deref(),
            Some("Monday,Tuesday")
        );
        assert_eq!(code(check(Ty::EnumList(&["Monday"]), "Funday")), 7012);
        assert_eq!(code(check(Ty::DateTime, "2024-02-30T08:00:00Z")), 0);
        assert_eq!(code(check(Ty::DateTime, "2024-13-01T08:00:00Z")), 7011);
        assert_eq!(code(check(Ty::DateTime, "2024-01-01 08:00:00")), 7011);
        assert_eq!(code(check(Ty::DateTime, "2024-01-01T08:00:00.123+02:00")), 0);
        assert_eq!(code(check(Ty::Base64(16), "c2VjcmV0")), 0);
        assert_eq!(code(check(Ty::Base64(16), "not base64!")), 7011);
        assert_eq!(code(check(Ty::Mac, "aa:bb:cc:dd:ee:ff")), 0);
        assert_eq!(code(check(Ty::Mac, "aa:bb:cc")), 7012);
        assert_eq!(code(check(Ty::Rwxn, "r-xn")), 0);
        assert_eq!(code(check(Ty::Rwxn, "rwx")), 7012);
        assert_eq!(code(check(Ty::HhMm, "21:30")), 0);
        assert_eq!(code(check(Ty::HhMm, "24:00")), 7012);
    }

    #[test]
    fn time_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(1_717_243_200); // 2024-06-01T12:00:00Z
        assert_eq!(format_datetime(t), "2024-06-01T12:00:00Z");
        assert_eq!(parse_datetime("2024-06-01T12:00:00Z"), Some(t));
        // 2024-06-01 was a Saturday.
        assert_eq!(weekday_and_minute(t), (5, 720));
        assert_eq!(format_datetime(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
