//! The usage chart's geometry: one stacked bar (download, then upload on top) per bucket,
//! scaled to the largest bucket, and the few labels under it.

use ipc_types::{UsageBar, UsageRange};

/// One bar, in chart units (the chart is `width` × `height`, y down).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub width: f64,
    /// Top of the download part, and its height.
    pub down_y: f64,
    pub down_h: f64,
    /// Top of the upload part (above the download), and its height.
    pub up_y: f64,
    pub up_h: f64,
    /// For a tooltip: "14:00 · ↓ 120 MB ↑ 4.1 MB".
    pub title: String,
}

/// The bars of `bars` in a `width` × `height` chart (a bar keeps a gap of a fifth of its slot).
pub fn layout(bars: &[UsageBar], range: UsageRange, width: f64, height: f64) -> Vec<Bar> {
    let top = bars.iter().map(|b| b.down.saturating_add(b.up)).max().unwrap_or(0).max(1) as f64;
    let slot = width / bars.len().max(1) as f64;
    bars.iter()
        .enumerate()
        .map(|(i, b)| {
            let down_h = b.down as f64 / top * height;
            let up_h = b.up as f64 / top * height;
            Bar {
                x: i as f64 * slot + slot * 0.1,
                width: slot * 0.8,
                down_y: height - down_h,
                down_h,
                up_y: height - down_h - up_h,
                up_h,
                title: format!(
                    "{} · ↓ {} ↑ {}",
                    label(b.start_ms, range),
                    super::format::bytes(b.down),
                    super::format::bytes(b.up)
                ),
            }
        })
        .collect()
}

/// A bucket's label: the hour (`14:00`) today, else the day (`Fri 4`), in UTC of the start as
/// the app computed it for the local day (the app sends local bucket starts).
pub fn label(start_ms: i64, range: UsageRange) -> String {
    let secs = start_ms.div_euclid(1000);
    match range {
        UsageRange::Today => {
            let local = local_secs(secs);
            format!("{:02}:00", local.rem_euclid(86_400) / 3600)
        }
        UsageRange::Week | UsageRange::Month => {
            let local_days = local_secs(secs).div_euclid(86_400);
            let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][local_days.rem_euclid(7) as usize];
            format!("{weekday} {}", day_of_month(local_days))
        }
    }
}

/// Seconds in the browser's local time (the WebView's offset); the host tests use UTC.
pub(crate) fn local_secs(secs: i64) -> i64 {
    secs + offset_secs(secs)
}

#[cfg(target_arch = "wasm32")]
fn offset_secs(secs: i64) -> i64 {
    // Date.getTimezoneOffset: minutes to add to local time to get UTC.
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs as f64 * 1000.0));
    -(d.get_timezone_offset() as i64) * 60
}

#[cfg(not(target_arch = "wasm32"))]
fn offset_secs(_secs: i64) -> i64 {
    0
}

/// The day of the month of a day number (days since 1970-01-01).
fn day_of_month(days: i64) -> u32 {
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    (doy - (153 * mp + 2) / 5 + 1) as u32
}

/// Which bars get a label under the chart: the first, the last, and a few between.
pub fn labelled(count: usize) -> Vec<usize> {
    match count {
        0 => Vec::new(),
        1..=8 => (0..count).collect(),
        _ => {
            let step = count.div_ceil(6);
            let mut v: Vec<usize> = (0..count).step_by(step).collect();
            if v.last() != Some(&(count - 1)) {
                if count - 1 - v.last().copied().unwrap_or(0) < step / 2 {
                    v.pop();
                }
                v.push(count - 1);
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(h: i64, down: u64, up: u64) -> UsageBar {
        UsageBar { start_ms: 1_796_342_400_000 + h * 3_600_000, down, up }
    }

    #[test]
    fn bars_are_scaled_to_the_largest_and_stacked() {
        let bars = [bar(0, 100, 0), bar(1, 300, 100), bar(2, 0, 0)];
        let l = layout(&bars, UsageRange::Today, 300.0, 100.0);
        assert_eq!(l.len(), 3);
        assert_eq!((l[1].down_h, l[1].up_h, l[1].up_y), (75.0, 25.0, 0.0), "the largest fills the height");
        assert_eq!((l[0].down_h, l[0].down_y), (25.0, 75.0));
        assert_eq!((l[2].down_h, l[2].up_h), (0.0, 0.0));
        assert_eq!((l[1].x, l[1].width), (110.0, 80.0));
        assert_eq!(l[1].title, "01:00 · ↓ 300 B ↑ 100 B");
        // Nothing used at all: flat, no division by zero.
        assert!(layout(&[bar(0, 0, 0)], UsageRange::Today, 10.0, 10.0)[0].down_h == 0.0);
        assert!(layout(&[], UsageRange::Week, 10.0, 10.0).is_empty());
    }

    #[test]
    fn labels_say_the_hour_or_the_day() {
        // 2026-12-04 00:00 UTC is a Friday.
        assert_eq!(label(1_796_342_400_000, UsageRange::Week), "Fri 4");
        assert_eq!(label(1_796_342_400_000 + 14 * 3_600_000, UsageRange::Today), "14:00");
        assert_eq!(label(1_796_342_400_000 - 86_400_000 * 4, UsageRange::Month), "Mon 30");
    }

    #[test]
    fn a_few_labels_under_many_bars() {
        assert_eq!(labelled(3), [0, 1, 2]);
        let thirty = labelled(30);
        assert_eq!((thirty.first(), thirty.last()), (Some(&0), Some(&29)));
        assert!(thirty.len() <= 7, "{thirty:?}");
        let today = labelled(21);
        assert!(today.len() <= 7 && today.contains(&20), "{today:?}");
    }
}
