//! Helpers for the tests of the home over time: a simulated home in this process, and a
//! usp-client controller connected to one of its agents.

#![allow(dead_code)]

use std::time::Duration;

use sim_home::scenario::Scenario;
use sim_home::{Home, HomeConfig};
use usp_client::{AgentNotification, Client, ClientConfig};
use usp_core::eid::EndpointId;
use usp_core::msg::Notification;

/// Every wait of these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(20);
/// A controller with Full Access on every agent.
pub const ADMIN: &str = "self::history-admin";
/// A controller with the homeowner's role ("Home User") on every agent.
pub const USER: &str = "self::history-user";

/// The built-in home, with [`ADMIN`] and [`USER`] provisioned.
pub async fn home() -> Home {
    let mut config = HomeConfig::new(Scenario::builtin());
    config.extra_controllers = vec![
        (ADMIN.parse().expect("eid"), "Full Access".to_owned()),
        (USER.parse().expect("eid"), "Home User".to_owned()),
    ];
    Home::start(config).await.expect("the home starts")
}

/// A client of the agent `key` as the controller `me`, connected.
pub async fn client(home: &Home, key: &str, me: &str) -> Client {
    let agent = home.agent(key).expect("agent");
    let me: EndpointId = me.parse().expect("eid");
    let mut config = ClientConfig::new(&agent.url, me);
    config.request_timeout = WAIT;
    config.backoff = usp_client::Backoff::doubling(Duration::from_millis(50), Duration::from_millis(200));
    tokio::time::timeout(WAIT, Client::connect(config)).await.expect("connect in time").expect("connect")
}

/// One parameter's value through a Get.
pub async fn get(c: &Client, path: &str) -> Option<String> {
    let r = tokio::time::timeout(WAIT, c.get(&[path], 0)).await.expect("in time").expect("get");
    r.value(path).map(str::to_owned)
}

/// The next notification `pick` accepts (others are skipped), within `within`.
pub async fn next_notification<T>(
    rx: &mut tokio::sync::broadcast::Receiver<AgentNotification>,
    within: Duration,
    mut pick: impl FnMut(&Notification) -> Option<T>,
) -> T {
    tokio::time::timeout(within, async {
        loop {
            match rx.recv().await {
                Ok(n) => {
                    if let Some(t) = pick(&n.notify.notification) {
                        return t;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("notifications ended: {e}"),
            }
        }
    })
    .await
    .expect("the notification in time")
}
