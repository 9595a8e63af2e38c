//! A synthetic history, for the benchmark and the memory measurement (the app never uses it):
//! many devices over two years as retention leaves them (per-minute samples for the last week,
//! hourly ones back to 90 days, daily ones back to two years), WiFi signal for every other
//! device, online periods and speed tests. Deterministic: the same keys give the same history.

use crate::{Result, Sample, SpeedTest, Store};

const MIN: i64 = 60;
const H: i64 = 3600;
const D: i64 = 86_400;

/// How far back each resolution of the history goes, in days.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Days of one sample a minute.
    pub raw_days: i64,
    /// Days of one sample an hour (before those).
    pub hourly_days: i64,
    /// Days of one sample a day (before those).
    pub daily_days: i64,
}

impl Scale {
    /// Two years as the default retention keeps them: 7 days raw, 90 hourly, 730 daily.
    pub const TWO_YEARS: Scale = Scale { raw_days: 7, hourly_days: 90, daily_days: 730 };
}

/// A deterministic per-device, per-step traffic amount (bytes), a few MB a minute at most.
fn amount(device: u64, step: i64) -> u64 {
    let x = (device.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (step as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)) >> 40;
    x % 4_000_000
}

/// Cumulative counters of a set of devices that grow batch after batch.
#[derive(Debug)]
pub struct Feeder {
    keys: Vec<String>,
    down: Vec<u64>,
    up: Vec<u64>,
    step: i64,
}

impl Feeder {
    /// Counters from zero for the devices `keys`.
    pub fn new(keys: Vec<String>) -> Self {
        let n = keys.len();
        Feeder { keys, down: vec![0; n], up: vec![0; n], step: 0 }
    }

    /// One batch at `at`: every device's counters (grown by up to `scale_factor` × 4 MB), and
    /// the signal of every other device when `signal`.
    pub fn batch(&mut self, at: i64, scale_factor: u64, signal: bool) -> Vec<Sample> {
        self.step += 1;
        let mut out = Vec::with_capacity(self.keys.len() * 2);
        for (d, key) in self.keys.iter().enumerate() {
            let a = amount(d as u64, self.step).saturating_mul(scale_factor);
            self.down[d] = self.down[d].wrapping_add(a);
            self.up[d] = self.up[d].wrapping_add(a / 8);
            out.push(Sample::Traffic { key: key.clone(), at, down_total: self.down[d], up_total: self.up[d] });
            if signal && d % 2 == 0 {
                out.push(Sample::Signal { key: key.clone(), at, dbm: -40 - (amount(d as u64, self.step) % 45) as i32 });
            }
        }
        out
    }
}

/// Fills `store` with the history of `keys` over `scale` up to `now` (Unix seconds), oldest
/// first, then applies retention ([`Store::maintain`]) as at `now`.
///
/// # Errors
/// When the store can't be written.
pub fn two_years(store: &mut Store, keys: &[String], scale: &Scale, now: i64) -> Result<()> {
    let mut f = Feeder::new(keys.to_vec());
    let mut at = now - scale.daily_days * D;
    while at < now - scale.hourly_days * D {
        store.record(&f.batch(at, 1000, true))?;
        at += D;
    }
    while at < now - scale.raw_days * D {
        store.record(&f.batch(at, 60, true))?;
        at += H;
    }
    let mut m = 0;
    while at < now {
        // Signal every 5 minutes for the recent week.
        store.record(&f.batch(at, 1, m % 5 == 0))?;
        at += MIN;
        m += 1;
    }
    // Online 07:00 to 23:00 every day of the hourly retention; speed tests 4 times a day.
    for day in 0..scale.hourly_days {
        let base = now - (day + 1) * D;
        let batch: Vec<Sample> = keys
            .iter()
            .flat_map(|k| {
                [
                    Sample::Presence { key: k.clone(), at: base + 7 * H, online: true },
                    Sample::Presence { key: k.clone(), at: base + 23 * H, online: false },
                ]
            })
            .collect();
        store.record(&batch)?;
    }
    for i in 0..(scale.daily_days * 4) {
        store.record_speed_test(&SpeedTest {
            at: now - i * 6 * H,
            source: "gateway".into(),
            server: "http://127.0.0.1:8080/speed".into(),
            down_mbps: 300.0 + (i % 50) as f64,
            up_mbps: 40.0,
        })?;
    }
    store.maintain(now)?;
    Ok(())
}
