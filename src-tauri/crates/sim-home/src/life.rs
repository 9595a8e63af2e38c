//! The life loop: every period, one `Agent::tick` per agent (devices join and leave,
//! counters grow, …), each agent with its own rng seeded from the scenario seed, so that
//! a run is the same for the same seed.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::server::{stopped, Cmd};

/// The rng of the agent at `index` in the scenario: `StdRng::seed_from_u64(seed ^ index)`.
pub fn agent_rng(seed: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ index as u64)
}

/// Sends a tick to every agent each `period` until the home shuts down. Ticks are never
/// skipped (a busy agent delays the loop), so every agent sees the same sequence.
pub(crate) async fn run(period: Duration, agents: Vec<mpsc::Sender<Cmd>>, mut shutdown: watch::Receiver<bool>) {
    let period = period.max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => return,
            _ = ticks.tick() => {
                for agent in &agents {
                    if agent.send(Cmd::Tick(None)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn rngs_are_deterministic_and_distinct_per_agent() {
        let a: [u64; 4] = agent_rng(7, 0).random();
        let b: [u64; 4] = agent_rng(7, 0).random();
        let c: [u64; 4] = agent_rng(7, 1).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // seed ^ index: agent 1 of seed 6 is agent 0 of seed 7.
        let d: [u64; 4] = agent_rng(6, 1).random();
        assert_eq!(a, d);
    }
}
