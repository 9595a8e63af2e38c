//! The rule that turns raw cumulative counters into usage.
//!
//! Devices report byte counters that only grow (TR-181 `BytesSent` / `BytesReceived`), until they
//! do not: the device restarts (the counter starts again from zero), the counter wraps (a 32-bit
//! counter after 4 GiB, a 64-bit one after 16 EiB), or a hostile or buggy device reports nonsense.
//! The store keeps, per series, the last raw value and its time, and records for each new sample
//! the bytes used since the previous one, by this rule (each direction on its own):
//!
//! 1. The first sample of a series is a **baseline**: no usage (we cannot know what came before).
//! 2. A sample not newer than the previous one is **stale** and ignored (nothing changes).
//! 3. A counter that went up by `d`: usage `d`.
//! 4. A counter that went down (`cur < prev`):
//!    - a **32-bit wrap** if the series is known to be 32 bits wide ([`crate::Config::wrap_32bit`]),
//!      `prev` was in the upper half of the 32-bit range and `2^32 - prev + cur` is plausible:
//!      usage is that. TR-181's byte counters are 64-bit (`unsignedLong`), and a restart of a
//!      device whose counter stood above 2 GiB looks just like a 32-bit wrap, so this is off
//!      unless the caller knows better: a real 32-bit wrap then counts as a restart, under-counting
//!      once per 4 GiB, never inventing gigabytes;
//!    - a **64-bit wrap** if `prev` was in the upper half of the 64-bit range and
//!      `2^64 - prev + cur` is plausible: usage is that;
//!    - otherwise a **reset** (the device restarted): usage `cur`, the bytes counted since the
//!      restart.
//! 5. "Plausible" means at most `max_rate` bytes per second over the time since the previous
//!    sample (at least one second, at most [`MAX_GAP_SECS`]: a device silent for a month cannot
//!    claim a month of line speed). A usage above that is **implausible**: it counts as zero, and
//!    the new value becomes the baseline. One absurd report cannot add petabytes to a chart.

/// What one new raw counter value means, relative to the previous one of the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterStep {
    /// The counter grew normally by this much.
    Delta(u64),
    /// The counter went down and is taken to have restarted from zero; usage is its new value.
    Reset(u64),
    /// The counter wrapped around (32- or 64-bit); usage is the distance through the wrap.
    Wrap(u64),
    /// The change is more than the line could carry: counted as zero, new baseline.
    Implausible,
}

impl CounterStep {
    /// The bytes this step adds to usage.
    pub fn usage(self) -> u64 {
        match self {
            CounterStep::Delta(d) | CounterStep::Reset(d) | CounterStep::Wrap(d) => d,
            CounterStep::Implausible => 0,
        }
    }

    /// Whether the counter did not simply grow (reset, wrap, or implausible jump).
    pub fn is_discontinuity(self) -> bool {
        !matches!(self, CounterStep::Delta(_))
    }
}

/// The longest gap between samples that plausibility scales with (7 days).
pub const MAX_GAP_SECS: i64 = 7 * 86_400;

const TWO_POW_31: u64 = 1 << 31;
const TWO_POW_32: u64 = 1 << 32;
const TWO_POW_63: u64 = 1 << 63;

/// Applies the rule of this module to one direction of one series.
///
/// `dt_secs` is the time since the previous sample (the caller has already rejected stale
/// samples, so it is at least 1; smaller values are treated as 1). `max_rate` is the plausible
/// maximum in bytes per second; `wrap32` says the counter is 32 bits wide.
pub fn counter_step(prev: u64, cur: u64, dt_secs: i64, max_rate: u64, wrap32: bool) -> CounterStep {
    let dt = u64::try_from(dt_secs.clamp(1, MAX_GAP_SECS)).unwrap_or(1);
    let bound = max_rate.saturating_mul(dt);
    if cur >= prev {
        let d = cur - prev;
        return if d <= bound { CounterStep::Delta(d) } else { CounterStep::Implausible };
    }
    if wrap32 && (TWO_POW_31..TWO_POW_32).contains(&prev) {
        let d = (TWO_POW_32 - prev).saturating_add(cur);
        if d <= bound {
            return CounterStep::Wrap(d);
        }
    }
    if prev >= TWO_POW_63 {
        // 2^64 - prev + cur, without overflow: (u64::MAX - prev) + 1 + cur.
        let d = (u64::MAX - prev).saturating_add(1).saturating_add(cur);
        if d <= bound {
            return CounterStep::Wrap(d);
        }
    }
    if cur <= bound {
        CounterStep::Reset(cur)
    } else {
        CounterStep::Implausible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u64 = 1_250_000_000; // 10 Gbit/s

    #[test]
    fn growth_is_the_difference() {
        assert_eq!(counter_step(1000, 1500, 60, RATE, true), CounterStep::Delta(500));
        assert_eq!(counter_step(7, 7, 60, RATE, true), CounterStep::Delta(0));
    }

    #[test]
    fn a_restart_counts_what_was_counted_since() {
        // A device at 10 GB restarts and reports 3 MB a minute later.
        let s = counter_step(10_000_000_000, 3_000_000, 60, RATE, true);
        assert_eq!(s, CounterStep::Reset(3_000_000));
        assert!(s.is_discontinuity());
        // A small 32-bit counter (lower half) going down is a restart, not a wrap.
        assert_eq!(counter_step(1_000_000, 10, 60, RATE, true), CounterStep::Reset(10));
    }

    #[test]
    fn a_32_bit_wrap_counts_through_the_top() {
        let prev = u64::from(u32::MAX) - 99; // 100 bytes below the top
        assert_eq!(counter_step(prev, 50, 60, RATE, true), CounterStep::Wrap(150));
    }

    #[test]
    fn a_64_bit_wrap_counts_through_the_top() {
        let prev = u64::MAX - 9; // 10 bytes below the top
        assert_eq!(counter_step(prev, 5, 60, RATE, true), CounterStep::Wrap(15));
    }

    #[test]
    fn a_wrap_needing_more_than_the_line_can_carry_is_a_restart() {
        // Upper half of 32 bits, but 2^32 - prev + cur is more than 10 bytes/s for 1 s allows.
        let prev = TWO_POW_31 + 5;
        assert_eq!(counter_step(prev, 3, 1, 10, true), CounterStep::Reset(3));
        // Not known to be 32 bits wide: the same drop is a restart.
        assert_eq!(counter_step(prev, 50, 60, RATE, false), CounterStep::Reset(50));
    }

    #[test]
    fn absurd_jumps_count_as_nothing() {
        assert_eq!(counter_step(0, 1 << 62, 60, RATE, true), CounterStep::Implausible);
        assert_eq!(CounterStep::Implausible.usage(), 0);
        // Going down to an absurd value that is neither a wrap nor a plausible restart.
        assert_eq!(counter_step(u64::MAX / 4, u64::MAX / 8, 60, RATE, true), CounterStep::Implausible);
    }

    #[test]
    fn no_overflow_at_the_edges() {
        for &(p, c) in &[(0, u64::MAX), (u64::MAX, 0), (u64::MAX, u64::MAX), (TWO_POW_32, 0)] {
            for &dt in &[i64::MIN, -1, 0, 1, i64::MAX] {
                let _ = counter_step(p, c, dt, u64::MAX, true);
                let _ = counter_step(p, c, dt, 0, true);
            }
        }
        // An unbounded rate accepts a full 64-bit wrap distance.
        assert_eq!(counter_step(u64::MAX, 0, 1, u64::MAX, true), CounterStep::Wrap(1));
    }

    #[test]
    fn a_long_silence_does_not_widen_plausibility_without_end() {
        let week = 1_000 * MAX_GAP_SECS as u64;
        assert_eq!(counter_step(0, week, MAX_GAP_SECS, 1000, true), CounterStep::Delta(week));
        assert_eq!(counter_step(0, week + 1, i64::MAX, 1000, true), CounterStep::Implausible);
    }

    proptest::proptest! {
        #[test]
        fn usage_never_exceeds_what_the_line_can_carry(
            prev: u64,
            cur: u64,
            dt in -10i64..10_000_000,
            rate in 0u64..100_000_000_000,
        ) {
            let bound = rate.saturating_mul(dt.clamp(1, MAX_GAP_SECS) as u64);
            proptest::prop_assert!(counter_step(prev, cur, dt, rate, true).usage() <= bound);
        }

        #[test]
        fn steady_growth_adds_up_through_a_32_bit_wrap(
            start in 0u64..(1u64 << 32),
            steps in proptest::collection::vec(0u64..50_000_000, 1..60),
        ) {
            // A 32-bit counter read every minute, wrapping any number of times: the usage sums
            // to what was really sent.
            let mut raw = start;
            let mut used = 0u64;
            for s in &steps {
                let next = (raw + s) % (1u64 << 32);
                used += counter_step(raw, next, 60, RATE, true).usage();
                raw = next;
            }
            // Each step is far below 2^31, so a wrap always comes from the upper half.
            proptest::prop_assert_eq!(used, steps.iter().sum::<u64>());
        }
    }
}
