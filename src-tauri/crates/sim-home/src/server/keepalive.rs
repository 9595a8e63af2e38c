//! The keep-alive clock of one agent server: a thread that, every keep-alive period, queues
//! [`Out::Ping`] to each connection of the agent.
//!
//! Why a thread and not a tokio interval in each connection loop: a tokio runtime with any
//! timer armed parks with a timeout (the clock read and the timer wheel visited on every
//! park, a kernel timer on every `epoll_wait`), and the connection loop parks once per
//! request of a controller that waits for each answer. Measured with `cargo bench -p
//! usp-home-tests --bench roundtrip` on the 2-core machine: 0.4-0.5 us of each 22 us Get
//! round trip. The thread keeps the agent's runtime free of timers while nothing else
//! needs one.

use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Weak;
use std::time::Duration;

use tracing::warn;

use super::actor::AgentCore;

/// Starts the clock for `core`, ticking every `period`; it stops when the returned sender
/// is dropped or the agent is gone. `None` when no thread could be started (no Pings then).
pub(super) fn start_clock(core: Weak<AgentCore>, period: Duration, key: &str) -> Option<Sender<()>> {
    let (stop, stopped) = channel::<()>();
    let spawned = std::thread::Builder::new().name(format!("keep-alive {key}")).spawn(move || loop {
        match stopped.recv_timeout(period) {
            Err(RecvTimeoutError::Timeout) => match core.upgrade() {
                Some(core) => core.queue_pings(),
                None => return,
            },
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    });
    match spawned {
        Ok(_) => Some(stop),
        Err(e) => {
            warn!(agent = key, "no keep-alive clock (no Pings will be sent): {e}");
            None
        }
    }
}
