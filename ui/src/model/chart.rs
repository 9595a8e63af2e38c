//! The geometry shared by every chart: marks (bars, lines) in a `W` × `H` box that the page
//! stretches to its width, labels under it (`ticks`, in percent of the width) and beside it
//! (`guides`, in percent of the height). Text stays outside the stretched drawing, so it keeps
//! its size at 360 px and at 1280 px.

use ipc_types::{OnlineSpan, SignalBar, SpeedTestResult, UsageBar, UsageRange};

use super::format::{bytes, signal};
use super::usage::{label, labelled, layout, local_secs};

/// Width and height of a chart's drawing, in its own units.
pub const W: f64 = 1000.0;
pub const H: f64 = 100.0;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One shape; `class` says its colour (`down`, `up`, `band`, `line`, `online`).
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        class: &'static str,
        title: String,
    },
    /// An SVG path (`M x y L x y ...`).
    Path {
        d: String,
        class: &'static str,
    },
}

/// A label under the chart at `at` percent of its width.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub text: String,
}

/// A label beside the chart at `at` percent of its height (0 = top), with a faint line across
/// when `line`; otherwise the label names the zone around it.
#[derive(Clone, Debug, PartialEq)]
pub struct Guide {
    pub at: f64,
    pub text: String,
    pub line: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plot {
    pub marks: Vec<Mark>,
    pub ticks: Vec<Tick>,
    pub guides: Vec<Guide>,
}

/// Least distance between two labels under a chart, percent of its width: an "00:00" at phone
/// width (about 280 px of chart) takes some 12%.
const TICK_GAP: f64 = 14.0;

/// The labels that keep [`TICK_GAP`] from the one before (the first always stays), so labels
/// under narrow bars (today's first hours) do not print over each other.
fn apart(ticks: Vec<Tick>) -> Vec<Tick> {
    let mut kept: Vec<Tick> = Vec::with_capacity(ticks.len());
    for t in ticks {
        if kept.last().is_none_or(|k| t.at - k.at >= TICK_GAP) {
            kept.push(t);
        }
    }
    kept
}

/// A usage chart: a stacked bar (download, upload on top) per bucket, the scale's top and middle.
pub fn usage_plot(bars: &[UsageBar], range: UsageRange) -> Plot {
    let top = bars.iter().map(|b| b.down.saturating_add(b.up)).max().unwrap_or(0);
    // Today's hours so far take their share of the whole day's width (the rest of the day is
    // still to come), so one hour after midnight is one narrow bar, not the whole chart.
    let width = match range {
        UsageRange::Today => W * bars.len().clamp(1, 24) as f64 / 24.0,
        UsageRange::Week | UsageRange::Month => W,
    };
    let laid = layout(bars, range, width, H);
    let ticks = labelled(bars.len())
        .into_iter()
        .filter_map(|i| {
            let b = laid.get(i)?;
            Some(Tick { at: (b.x + b.width / 2.0) / W * 100.0, text: label(bars[i].start_ms, range) })
        })
        .collect();
    let ticks = apart(ticks);
    let mut marks = Vec::with_capacity(laid.len() * 2);
    for b in laid {
        if b.down_h > 0.0 {
            marks.push(Mark::Rect {
                x: b.x,
                y: b.down_y,
                w: b.width,
                h: b.down_h,
                class: "down",
                title: b.title.clone(),
            });
        }
        if b.up_h > 0.0 {
            marks.push(Mark::Rect { x: b.x, y: b.up_y, w: b.width, h: b.up_h, class: "up", title: b.title });
        }
    }
    let guides = if top == 0 {
        Vec::new()
    } else {
        vec![Guide { at: 0.0, text: bytes(top), line: true }, Guide { at: 50.0, text: bytes(top / 2), line: true }]
    };
    Plot { marks, ticks, guides }
}

/// The weakest and strongest signal a chart shows, dBm.
const DBM_LOW: f64 = -90.0;
const DBM_HIGH: f64 = -35.0;

fn dbm_y(dbm: f64) -> f64 {
    (DBM_HIGH - dbm.clamp(DBM_LOW, DBM_HIGH)) / (DBM_HIGH - DBM_LOW) * H
}

fn x_of(ms: i64, from_ms: i64, to_ms: i64) -> f64 {
    let span = (to_ms - from_ms).max(1) as f64;
    ((ms - from_ms) as f64 / span).clamp(0.0, 1.0) * W
}

/// A WiFi client's signal over `[from_ms, to_ms)`: per hour a band from weakest to strongest
/// and a line through the mean (a step per hour; broken where the hour has no sample), with the
/// zones named in words.
pub fn signal_plot(points: &[SignalBar], from_ms: i64, to_ms: i64) -> Plot {
    let mut marks = Vec::new();
    let mut d = String::new();
    let mut last_end = None;
    for p in points {
        let (x0, x1) = (x_of(p.start_ms, from_ms, to_ms), x_of(p.start_ms + HOUR_MS, from_ms, to_ms));
        let (hi, lo) = (dbm_y(f64::from(p.max_dbm)), dbm_y(f64::from(p.min_dbm)));
        let title = format!(
            "{} · {} ({:.0} dBm)",
            label(p.start_ms, UsageRange::Today),
            signal(p.avg_dbm.round() as i32),
            p.avg_dbm
        );
        marks.push(Mark::Rect { x: x0, y: hi, w: x1 - x0, h: (lo - hi).max(0.5), class: "band", title });
        let y = dbm_y(p.avg_dbm);
        let joined = last_end == Some(p.start_ms);
        d.push_str(&format!("{}{x0:.1} {y:.1} L{x1:.1} {y:.1} ", if joined { "L" } else { "M" }));
        last_end = Some(p.start_ms + HOUR_MS);
    }
    if !d.is_empty() {
        marks.push(Mark::Path { d: d.trim_end().to_owned(), class: "line" });
    }
    let pct = |dbm: f64| dbm_y(dbm) / H * 100.0;
    let guides = vec![
        Guide { at: pct(-55.0), text: String::new(), line: true },
        Guide { at: pct(-67.0), text: String::new(), line: true },
        Guide { at: pct(-75.0), text: String::new(), line: true },
        Guide { at: pct(-45.0), text: "Excellent".into(), line: false },
        Guide { at: pct(-61.0), text: "Good".into(), line: false },
        Guide { at: pct(-71.0), text: "Fair".into(), line: false },
        Guide { at: pct(-82.5), text: "Weak".into(), line: false },
    ];
    Plot { marks, ticks: time_ticks(from_ms, to_ms), guides }
}

/// When a device was online in `[from_ms, to_ms)`: a block per period (one still open runs to
/// `now_ms`).
pub fn online_plot(periods: &[OnlineSpan], from_ms: i64, to_ms: i64, now_ms: i64) -> Plot {
    let marks = periods
        .iter()
        .filter_map(|p| {
            let end = p.end_ms.unwrap_or(now_ms).min(to_ms);
            let start = p.start_ms.max(from_ms);
            (end > start).then(|| {
                let (x0, x1) = (x_of(start, from_ms, to_ms), x_of(end, from_ms, to_ms));
                let until = if p.end_ms.is_some() { clock(end) } else { "now".into() };
                Mark::Rect {
                    x: x0,
                    y: 0.0,
                    // At least a few pixels wide: a minute online still shows.
                    w: (x1 - x0).max(W / 250.0),
                    h: H,
                    class: "online",
                    title: format!("Online {}–{until}", clock(start)),
                }
            })
        })
        .collect();
    Plot { marks, ticks: time_ticks(from_ms, to_ms), guides: Vec::new() }
}

/// `14:05`, local time.
fn clock(ms: i64) -> String {
    let s = local_secs(ms.div_euclid(1000)).rem_euclid(86_400);
    format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// Labels under a time axis: every 6 hours over a day or less; else each day's name at its
/// noon (short, so a week fits a phone).
pub fn time_ticks(from_ms: i64, to_ms: i64) -> Vec<Tick> {
    let span = to_ms - from_ms;
    if span <= 0 {
        return Vec::new();
    }
    let week = span > DAY_MS + HOUR_MS;
    let (step, phase) = if week { (DAY_MS, 12 * HOUR_MS) } else { (6 * HOUR_MS, 0) };
    // The first local boundary (06:00, noon...) at or after `from_ms`.
    let offset = (local_secs(from_ms.div_euclid(1000)) - from_ms.div_euclid(1000)) * 1000;
    let local = from_ms + offset - phase;
    let mut t = local + (step - local.rem_euclid(step)).rem_euclid(step) - offset + phase;
    let mut ticks = Vec::new();
    while t < to_ms && ticks.len() < 8 {
        let at = (t - from_ms) as f64 / span as f64 * 100.0;
        // Not so near either end that the label would be cut.
        if (3.0..=97.0).contains(&at) {
            let text = if week {
                label(t, UsageRange::Week).split(' ').next().unwrap_or_default().to_owned()
            } else {
                label(t, UsageRange::Today)
            };
            ticks.push(Tick { at, text });
        }
        t += step;
    }
    ticks
}

/// Mbit/s as shown: `940`, `87.5`.
pub fn mbit(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The most speed tests a chart shows.
pub const SPEED_TESTS_SHOWN: usize = 20;

/// Past speed tests (`results` newest first): per test, oldest left, a download and an upload
/// bar side by side, scaled to the fastest.
pub fn speed_plot(results: &[SpeedTestResult], now_ms: i64) -> Plot {
    let mut shown: Vec<&SpeedTestResult> = results.iter().take(SPEED_TESTS_SHOWN).collect();
    shown.reverse();
    let top = shown.iter().map(|r| r.down_mbps.max(r.up_mbps)).fold(0.0_f64, f64::max);
    if shown.is_empty() || !(top > 0.0 && top.is_finite()) {
        return Plot::default();
    }
    // A slot per test, at most a sixth of the width (a single test is not a wall of colour),
    // centred.
    let slot = W / shown.len().max(6) as f64;
    let left = (W - slot * shown.len() as f64) / 2.0;
    let bar = slot * 0.35;
    let today = local_secs(now_ms.div_euclid(1000)).div_euclid(86_400);
    let when = |ms: i64| {
        if local_secs(ms.div_euclid(1000)).div_euclid(86_400) == today {
            clock(ms)
        } else {
            label(ms, UsageRange::Week)
        }
    };
    let mut marks = Vec::with_capacity(shown.len() * 2);
    for (i, r) in shown.iter().enumerate() {
        let x = left + i as f64 * slot + slot * 0.15;
        let title = format!("{} · ↓ {} ↑ {} Mbit/s", when(r.at_ms), mbit(r.down_mbps), mbit(r.up_mbps));
        for (j, (v, class)) in [(r.down_mbps, "down"), (r.up_mbps, "up")].into_iter().enumerate() {
            let h = (v.max(0.0) / top * H).min(H);
            marks.push(Mark::Rect { x: x + j as f64 * bar, y: H - h, w: bar, h, class, title: title.clone() });
        }
    }
    let ticks = labelled(shown.len())
        .into_iter()
        .filter(|&i| shown.len() <= 4 || i % 2 == 0 || i + 1 == shown.len())
        .map(|i| Tick { at: (left + (i as f64 + 0.5) * slot) / W * 100.0, text: when(shown[i].at_ms) })
        .collect();
    let guides =
        vec![Guide { at: 0.0, text: mbit(top), line: true }, Guide { at: 50.0, text: mbit(top / 2.0), line: true }];
    Plot { marks, ticks, guides }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-04 00:00 UTC (a Friday); the host tests run in UTC.
    const MIDNIGHT: i64 = 1_796_342_400_000;

    #[test]
    fn labels_under_narrow_bars_do_not_overlap() {
        // Two hours after midnight: two bars a 24th of the width each, one label.
        let bars: Vec<UsageBar> = (0..2).map(|h| UsageBar { start_ms: h * 3_600_000, down: 1_000, up: 10 }).collect();
        let plot = usage_plot(&bars, UsageRange::Today);
        assert_eq!(plot.ticks.len(), 1, "{:?}", plot.ticks.iter().map(|t| t.at).collect::<Vec<_>>());
        // A full day: labels, each far enough from the one before.
        let day: Vec<UsageBar> = (0..24).map(|h| UsageBar { start_ms: h * 3_600_000, down: 1_000, up: 10 }).collect();
        let plot = usage_plot(&day, UsageRange::Today);
        assert!(plot.ticks.len() >= 4);
        assert!(plot.ticks.windows(2).all(|w| w[1].at - w[0].at >= TICK_GAP));
    }

    #[test]
    fn usage_bars_and_their_scale() {
        let bars = [
            UsageBar { start_ms: MIDNIGHT, down: 3_000_000, up: 1_000_000 },
            UsageBar { start_ms: MIDNIGHT + HOUR_MS, down: 0, up: 0 },
        ];
        let p = usage_plot(&bars, UsageRange::Today);
        assert_eq!(p.marks.len(), 2, "an empty hour draws nothing");
        assert!(matches!(&p.marks[0], Mark::Rect { class: "down", h, .. } if (*h - 75.0).abs() < 1e-9));
        assert_eq!(p.guides[0].text, "4.0 MB");
        // One label: "01:00" would print over "00:00" under bars this narrow.
        assert_eq!(p.ticks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["00:00"]);
        // Two hours of today: the first twelfth of the width.
        assert!(matches!(&p.marks[0], Mark::Rect { x, w, .. } if *x + *w < W / 24.0));
        assert!((p.ticks[0].at - 0.5 / 24.0 * 100.0).abs() < 1e-9, "{:?}", p.ticks);
        assert!(usage_plot(&bars[1..], UsageRange::Today).guides.is_empty(), "nothing used: no scale");
    }

    #[test]
    fn signal_steps_break_where_an_hour_has_no_sample() {
        let bar = |h: i64, avg: f64| SignalBar {
            start_ms: MIDNIGHT + h * HOUR_MS,
            avg_dbm: avg,
            min_dbm: avg as i32 - 5,
            max_dbm: avg as i32 + 5,
        };
        let p = signal_plot(&[bar(0, -60.0), bar(1, -60.0), bar(5, -80.0)], MIDNIGHT, MIDNIGHT + DAY_MS);
        let Some(Mark::Path { d, .. }) = p.marks.last() else { panic!("a line: {:?}", p.marks) };
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(p.marks.len(), 4, "three bands and the line");
        assert!(matches!(&p.marks[2], Mark::Rect { title, .. } if title == "05:00 · Weak (-80 dBm)"));
        // -35 dBm is the top, -90 the bottom; stronger is higher.
        assert_eq!((dbm_y(-35.0), dbm_y(-90.0), dbm_y(-200.0), dbm_y(-20.0)), (0.0, H, H, 0.0));
        assert_eq!(
            p.guides.iter().filter(|g| !g.line).map(|g| g.text.as_str()).collect::<Vec<_>>(),
            ["Excellent", "Good", "Fair", "Weak"]
        );
        assert!(signal_plot(&[], MIDNIGHT, MIDNIGHT + DAY_MS).marks.is_empty());
    }

    #[test]
    fn online_periods_are_blocks_and_an_open_one_runs_to_now() {
        let periods = [
            OnlineSpan { start_ms: MIDNIGHT + 6 * HOUR_MS, end_ms: Some(MIDNIGHT + 12 * HOUR_MS) },
            OnlineSpan { start_ms: MIDNIGHT + 18 * HOUR_MS, end_ms: None },
        ];
        let p = online_plot(&periods, MIDNIGHT, MIDNIGHT + DAY_MS, MIDNIGHT + 21 * HOUR_MS);
        let spans: Vec<(f64, f64, String)> = p
            .marks
            .iter()
            .map(|m| match m {
                Mark::Rect { x, w, title, .. } => ((x / W * 24.0).round(), ((x + w) / W * 24.0).round(), title.clone()),
                Mark::Path { .. } => panic!("no lines"),
            })
            .collect();
        assert_eq!(spans, [(6.0, 12.0, "Online 06:00–12:00".into()), (18.0, 21.0, "Online 18:00–now".into())]);
        assert_eq!(p.ticks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["06:00", "12:00", "18:00"]);
        // A week: each day's name at its noon.
        let week = time_ticks(MIDNIGHT - 6 * DAY_MS - 5 * HOUR_MS, MIDNIGHT + DAY_MS - 5 * HOUR_MS);
        assert_eq!(
            week.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
            ["Sat", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri"]
        );
        let noon = week.last().map_or(0.0, |t| t.at);
        assert!((noon - (5.0 + 6.0 * 24.0 + 12.0) / 168.0 * 100.0).abs() < 1e-9, "{noon}");
    }

    #[test]
    fn speed_tests_oldest_left_scaled_to_the_fastest() {
        let r = |ago_h: i64, down: f64, up: f64| SpeedTestResult {
            agent: "gw".into(),
            at_ms: MIDNIGHT + 20 * HOUR_MS - ago_h * HOUR_MS,
            down_mbps: down,
            up_mbps: up,
            server: "s".into(),
        };
        let now = MIDNIGHT + 20 * HOUR_MS;
        let p = speed_plot(&[r(0, 500.0, 50.0), r(30, 250.0, 20.0)], now);
        assert_eq!(p.marks.len(), 4);
        assert!(
            matches!(&p.marks[0], Mark::Rect { h, title, .. } if *h == 50.0 && title.starts_with("Thu 3")),
            "{:?}",
            p.marks[0]
        );
        assert!(
            matches!(&p.marks[2], Mark::Rect { h, title, .. } if *h == 100.0 && title == "20:00 · ↓ 500 ↑ 50.0 Mbit/s")
        );
        assert_eq!(p.guides[0].text, "500");
        assert_eq!(p.ticks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["Thu 3", "20:00"]);
        assert!(speed_plot(&[], now).marks.is_empty());
        let many: Vec<SpeedTestResult> = (0..50).map(|i| r(i, 100.0, 10.0)).collect();
        assert_eq!(speed_plot(&many, now).marks.len(), 2 * SPEED_TESTS_SHOWN);
    }
}
