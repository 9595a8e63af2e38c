//! Shared helpers for the integration tests: a simulated home on loopback and clients
//! connected to it.

use std::time::Duration;

/// A mosquitto broker as a test peer.
pub mod bench;
pub mod mosquitto;
/// The reference agent (OB-USPA) as a test peer.
pub mod obuspa;

/// A real RabbitMQ with its STOMP plugin, started by the test.
pub mod rabbitmq;
pub mod speed_server;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use usp_client::{AgentNotification, Backoff, Client, ClientConfig};
use usp_core::EndpointId;

/// Upper bound for anything a test waits for: a hang fails the test instead of blocking CI.
pub const BOUND: Duration = Duration::from_secs(20);

/// A fresh Endpoint ID for a test controller.
pub fn test_eid(tag: &str) -> EndpointId {
    let n: u32 = rand_tag();
    format!("self::t-{tag}-{n:08x}").parse().expect("valid eid")
}

fn rand_tag() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ std::process::id().rotate_left(12)
}

/// Starts the built-in three-agent home with `controllers` provisioned (EID, role name).
pub async fn start_home(controllers: &[(&EndpointId, &str)], unknown: Option<UnknownControllerPolicy>) -> Home {
    let mut config = HomeConfig::new(Scenario::builtin());
    config.unknown_controllers = unknown;
    config.extra_controllers = controllers.iter().map(|(e, r)| ((*e).clone(), (*r).to_owned())).collect();
    tokio::time::timeout(BOUND, Home::start(config)).await.expect("home starts in time").expect("home starts")
}

/// Client settings for tests: short timeouts and quick reconnects.
pub fn test_config(url: &str, me: &EndpointId) -> ClientConfig {
    let mut c = ClientConfig::new(url, me.clone());
    c.request_timeout = Duration::from_secs(5);
    c.connect_timeout = Duration::from_secs(5);
    c.backoff =
        Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(500), multiplier: 2.0, jitter: 0.1 };
    c
}

/// Connects `me` to `url`.
pub async fn connect(url: &str, me: &EndpointId) -> Client {
    tokio::time::timeout(BOUND, Client::connect(test_config(url, me)))
        .await
        .expect("connect in time")
        .expect("connects")
}

/// Awaits `f`, failing the test if it takes longer than [`BOUND`].
pub async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f).await.expect("timed out: something hung")
}

/// Waits for the next notification of subscription `sub_id`.
pub async fn next_notification(
    rx: &mut tokio::sync::broadcast::Receiver<AgentNotification>,
    sub_id: &str,
) -> AgentNotification {
    bounded(async {
        loop {
            match rx.recv().await {
                Ok(n) if *n.notify.subscription_id == *sub_id => return n,
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("notification stream ended: {e}"),
            }
        }
    })
    .await
}
