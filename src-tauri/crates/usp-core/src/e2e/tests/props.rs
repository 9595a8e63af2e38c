//! Property: two layers joined by a channel that loses, reorders and duplicates Records
//! (driven by a seed from proptest) deliver every Message exactly once, in order, both ways.

use proptest::prelude::*;

use super::*;

/// A small deterministic generator (xorshift64*), seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn percent(&mut self, p: u32) -> bool {
        self.below(100) < u64::from(p)
    }
}

struct Channel {
    loss: u32,
    dup: u32,
    /// Records in flight; a random one is delivered next (reordering).
    flight: Vec<Bytes>,
}

impl Channel {
    fn put(&mut self, rng: &mut Rng, r: Bytes) {
        if rng.percent(self.loss) {
            return;
        }
        if rng.percent(self.dup) {
            self.flight.push(r.clone());
        }
        self.flight.push(r);
    }
}

fn layer(own: &str, peer: &str, first: u64, max_record_size: usize) -> E2eSession {
    E2eSession::new(E2eConfig {
        max_record_size,
        // Enough tries that a loss rate of up to 30 % each way never exhausts them.
        max_retransmit_tries: 60,
        max_in_flight_bytes: 8 * 1024,
        ..config(own, peer, first)
    })
}

fn no_failures(evs: &[E2eEvent]) -> Result<(), TestCaseError> {
    for e in evs {
        if let E2eEvent::Restarted { reason, .. } = e {
            prop_assert_eq!(reason, &RestartReason::PeerNewSession, "only the start-up race may restart");
        }
    }
    Ok(())
}

/// Runs one exchange; returns the controller's and the agent's counters.
fn run(
    seed: u64,
    loss: u32,
    dup: u32,
    sizes: &[usize],
    both_start: bool,
    max_record_size: usize,
) -> Result<(E2eStats, E2eStats), TestCaseError> {
    let mut rng = Rng(seed | 1);
    let mut c = layer(C, A, 100, max_record_size);
    let mut a = layer(A, C, 9000, max_record_size);
    let mut to_a = Channel { loss, dup, flight: Vec::new() };
    let mut to_c = Channel { loss, dup, flight: Vec::new() };
    let t0 = Instant::now();
    let mut now = t0;
    let from_c: Vec<Bytes> = sizes.iter().enumerate().map(|(i, &n)| msg(i, n)).collect();
    let from_a: Vec<Bytes> = sizes.iter().enumerate().map(|(i, &n)| msg(1000 + i, n / 2 + 1)).collect();
    let (mut next_c, mut next_a) = (0, 0);
    if !both_start {
        // The agent speaks only after the controller's context is under way.
        next_a = usize::MAX;
    }
    let (mut got_a, mut got_c) = (Vec::new(), Vec::new());
    let (mut evs_a, mut evs_c) = (Vec::new(), Vec::new());
    for _ in 0..400_000 {
        // Messages are handed in one by one, between deliveries.
        if next_c < from_c.len() && rng.percent(30) {
            c.send(from_c[next_c].clone(), now).expect("send");
            next_c += 1;
        }
        if next_a == usize::MAX && !got_a.is_empty() {
            next_a = 0;
        }
        if next_a < from_a.len() && rng.percent(30) {
            a.send(from_a[next_a].clone(), now).expect("send");
            next_a += 1;
        }
        while let Some(r) = c.poll_transmit() {
            to_a.put(&mut rng, r);
        }
        while let Some(r) = a.poll_transmit() {
            to_c.put(&mut rng, r);
        }
        got_a.extend(std::iter::from_fn(|| a.poll_delivered()));
        got_c.extend(std::iter::from_fn(|| c.poll_delivered()));
        evs_a.extend(std::iter::from_fn(|| a.poll_event()));
        evs_c.extend(std::iter::from_fn(|| c.poll_event()));
        let all_sent = next_c == from_c.len() && next_a != usize::MAX && next_a == from_a.len();
        if to_a.flight.is_empty() && to_c.flight.is_empty() {
            let next = [c.poll_timeout(), a.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) => {
                    now = now.max(t);
                    c.handle_timeout(now);
                    a.handle_timeout(now);
                }
                None if all_sent => break,
                None => now += Duration::from_millis(10),
            }
            continue;
        }
        // Deliver one random Record from one random direction.
        let towards_a = to_c.flight.is_empty() || (!to_a.flight.is_empty() && rng.percent(50));
        let ch = if towards_a { &mut to_a } else { &mut to_c };
        let i = rng.below(ch.flight.len() as u64) as usize;
        let r = ch.flight.swap_remove(i);
        now += Duration::from_millis(rng.below(50));
        if towards_a {
            a.handle_bytes(r, now);
        } else {
            c.handle_bytes(r, now);
        }
    }
    no_failures(&evs_a)?;
    no_failures(&evs_c)?;
    prop_assert_eq!(got_a.len(), from_c.len(), "controller → agent: every message, once");
    prop_assert_eq!(&got_a, &from_c, "in order");
    prop_assert_eq!(got_c.len(), from_a.len(), "agent → controller: every message, once");
    prop_assert_eq!(&got_c, &from_a, "in order");
    prop_assert_eq!(c.session_id(), a.session_id());
    prop_assert_eq!(c.buffered_bytes() + a.buffered_bytes(), 0);
    Ok((c.stats(), a.stats()))
}

proptest! {
    // 48 cases by default; PROPTEST_CASES=n asks for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_lossy_reordering_duplicating_channel_delivers_everything_once_in_order(
        seed in any::<u64>(),
        loss in 0u32..=30,
        dup in 0u32..=20,
        sizes in prop::collection::vec(1usize..3000, 1..12),
        both_start in any::<bool>(),
        max_record_size in prop_oneof![Just(0usize), Just(600usize), Just(1024usize)],
    ) {
        run(seed, loss, dup, &sizes, both_start, max_record_size)?;
    }
}

#[test]
fn a_perfect_channel_and_a_terrible_one_both_deliver() {
    let (c, a) = run(1, 0, 0, &[10, 2000, 5], true, 600).expect("perfect");
    assert_eq!(c.records_resent + a.records_resent, 0, "nothing lost, nothing resent");
    let (c, a) = run(7, 30, 20, &[2999; 8], true, 600).expect("terrible");
    // The terrible channel really was: Records were resent, asked for and seen twice.
    assert!(c.records_resent > 0 && a.records_resent > 0, "{c:?} {a:?}");
    assert!(a.retransmit_requests + c.retransmit_requests > 0, "{c:?} {a:?}");
    assert!(a.duplicates > 0 && c.duplicates > 0, "{c:?} {a:?}");
}
