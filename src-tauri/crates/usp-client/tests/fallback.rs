//! One agent with several addresses: the best that answers is used, a dead one falls back to
//! the next, on real sockets against the simulated home.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use sim_home::scenario::Scenario;
use sim_home::{Home, HomeConfig};
use usp_client::mtp::fallback::{preference, Fallback};
use usp_client::{Client, ClientConfig, Mtp};
use usp_core::eid::EndpointId;

fn me() -> EndpointId {
    "self::usp-home-admin".parse().unwrap()
}

async fn client_over(urls: Vec<String>) -> (Client, Arc<Fallback>) {
    let fallback = Arc::new(Fallback::new(urls));
    let mut c = ClientConfig::new("fallback://gateway", me());
    c.connector = Some(fallback.clone());
    c.connect_timeout = Duration::from_secs(4);
    (Client::connect(c).await.unwrap(), fallback)
}

#[tokio::test]
async fn a_dead_address_falls_back_to_the_next_and_the_best_is_tried_first() {
    let home = Home::start(HomeConfig::new(Scenario::builtin())).await.unwrap();
    let gw = home.agent("gateway").unwrap().clone();
    // Nothing listens on loopback's discard port: the first address fails at once.
    let dead = "ws://127.0.0.1:9/usp".to_owned();
    let (client, fallback) = client_over(vec![dead.clone(), gw.url.clone()]).await;
    assert_eq!(fallback.last_used().as_deref(), Some(gw.url.as_str()));
    assert_eq!(client.carrier().map(|c| c.mtp), Some(Mtp::Ws));
    let resp = client.get(&["Device.DeviceInfo.FriendlyName"], 0).await.unwrap();
    assert!(resp.params().iter().any(|p| p.value == gw.friendly_name));
    client.close().await;

    // The working address first: used, the other never tried.
    let (client, fallback) = client_over(vec![gw.url.clone(), dead]).await;
    assert_eq!(fallback.last_used().as_deref(), Some(gw.url.as_str()));
    client.close().await;
    home.shutdown().await;
}

#[tokio::test]
async fn every_address_failing_reports_the_first_reason() {
    let fallback = Fallback::new(vec!["ws://127.0.0.1:9/usp".into(), "ws://127.0.0.1:7/usp".into()]);
    let mut c = ClientConfig::new("fallback://nothing", me());
    c.connect_timeout = Duration::from_secs(2);
    let err = usp_client::mtp::Connector::connect(&fallback, &c).await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    assert!(preference("ws://x/usp") < preference("mqtt://b/t"));
}
