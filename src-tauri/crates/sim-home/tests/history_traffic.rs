//! Traffic counters that grow with the life loop (hosts' WANStats, IP interfaces' Stats),
//! the same for the same seed, and back to 0 when the agent reboots.

mod history;

use history::{client, get, home, ADMIN, WAIT};

const HOST1: &str = "Device.Hosts.Host.1.WANStats.BytesReceived";
const WAN: &str = "Device.IP.Interface.1.Stats.BytesReceived";
const LAN: &str = "Device.IP.Interface.2.Stats.BytesSent";

async fn counter(c: &usp_client::Client, path: &str) -> u64 {
    get(c, path).await.unwrap_or_else(|| panic!("{path} exists")).parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_grow_with_life_and_reset_on_reboot() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    let c = client(&home, "gateway", ADMIN).await;
    assert_eq!(get(&c, "Device.Hosts.Host.1.Active").await.as_deref(), Some("true"), "host 1 is online at start");
    let before = [counter(&c, HOST1).await, counter(&c, WAN).await, counter(&c, LAN).await];
    for _ in 0..5 {
        gw.tick().await.expect("tick");
    }
    let after = [counter(&c, HOST1).await, counter(&c, WAN).await, counter(&c, LAN).await];
    for (b, a) in before.iter().zip(&after) {
        assert!(a > b, "counters grow: {before:?} -> {after:?}");
    }
    // The WAN interface carries at least what host 1 downloaded.
    assert!(after[1] - before[1] >= after[0] - before[0], "{before:?} -> {after:?}");

    // The same seed gives the same counters in another home.
    let other = home_after_ticks(5).await;
    assert_eq!(other, (after[0], after[1]), "deterministic for the seed");

    let r = tokio::time::timeout(WAIT, c.operate("Device.Reboot()", &[], "traffic-test")).await;
    r.expect("in time").expect("reboot");
    assert_eq!(counter(&c, HOST1).await, 0);
    assert_eq!(counter(&c, WAN).await, 0);
    assert_eq!(counter(&c, LAN).await, 0);
    gw.tick().await.expect("tick");
    assert!(counter(&c, WAN).await > 0, "and they grow again");
    c.close().await;
    home.shutdown().await;
}

async fn home_after_ticks(n: usize) -> (u64, u64) {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    for _ in 0..n {
        gw.tick().await.expect("tick");
    }
    let host = gw.get(HOST1).await.expect("host counter").parse().expect("number");
    let wan = gw.get(WAN).await.expect("wan counter").parse().expect("number");
    home.shutdown().await;
    (host, wan)
}
