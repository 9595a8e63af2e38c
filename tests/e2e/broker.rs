//! End to end in the real app window with a device reached through a message broker: a real
//! mosquitto on loopback, usp-sim-home's agents on it (`--mqtt`), and the app, which finds
//! nothing by itself (no WebSocket, no advert) until the person adds the gateway by its broker
//! address and Endpoint ID. The card then says it is carried by MQTT, pairs with the passcode,
//! and the WiFi page reads and changes the gateway over MQTT (checked on the agent with
//! `uspctl` over MQTT too).
//!
//! Screenshots go to `target/e2e/broker-*.png`. Run by `scripts/e2e.sh`.

mod harness;

use std::time::Instant;

use harness::{app_env, patience, spawn_sim, Driver, Paths, Proc, Scratch, Step, Ui, Uspctl};
use ipc_types::dom_id;
use usp_home_tests::mosquitto::{Broker, Options};

const GATEWAY: &str = "os::012345-GW0001";
const GW_PASSCODE: &str = "482913";

/// usp-sim-home with its agents on `broker`, and the gateway's MQTT address from its output.
struct MqttHome {
    gateway: String,
    /// Keeps its stdin open: closing it stops the home (`--exit-on-stdin-close`).
    _stdin: std::process::ChildStdin,
    _proc: Proc,
}

impl MqttHome {
    fn start(paths: &Paths, broker: &Broker) -> MqttHome {
        let (stdin, lines, proc) = spawn_sim(paths, &["--mqtt", &broker.url()], "usp-sim-home-mqtt.log");
        let deadline = Instant::now() + patience();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).expect("usp-sim-home announces its agents' MQTT addresses");
            if let ["MQTT", GATEWAY, address] = line.split_whitespace().collect::<Vec<_>>()[..] {
                return MqttHome { gateway: address.to_owned(), _stdin: stdin, _proc: proc };
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_behind_an_mqtt_broker_in_the_app_window() {
    let paths = Paths::from_env();
    let broker = Broker::start(Options::default());
    let home = MqttHome::start(&paths, &broker);
    let scratch = Scratch::new(&paths.out, "broker");
    let driver = Driver::start(&paths, &app_env(&scratch.0));
    let client = driver.session(&paths.app).await.unwrap_or_else(|e| panic!("{e}"));
    let ui = Ui { client, out: paths.out.clone() };
    let outcome = journey(&ui, &paths, &home).await;
    if outcome.is_err() {
        ui.keep_failure().await;
    }
    let _ = ui.client.close().await;
    drop(driver);
    if let Err(step) = outcome {
        panic!("{step}\n(the window at that moment: {})", paths.out.join("failure.png").display());
    }
}

async fn journey(ui: &Ui, paths: &Paths, home: &MqttHome) -> Step<()> {
    let id = dom_id(GATEWAY);
    ui.resize(1280, 800).await?;
    ui.ready("home").await.map_err(|e| format!("the home page never showed: {e}"))?;

    // Added by its broker address and Endpoint ID, as the router's settings page shows them.
    ui.click("add-by-address-open").await?;
    ui.type_into("add-address", &home.gateway).await?;
    ui.type_into("add-eid", GATEWAY).await?;
    if !ui.exists("add-broker-user").await {
        return Err("a broker address does not offer a broker login".into());
    }
    ui.shot("broker-add").await?;
    ui.click("add-submit").await?;
    ui.find(&format!("agent-{id}")).await.map_err(|e| format!("the gateway's card never appeared: {e}"))?;
    let transport =
        ui.wait_text(&format!("agent-{id}-transport"), "what carries the connection", |t| t.contains("MQTT")).await?;
    if !transport.contains("not protected end to end") {
        return Err(format!("the card says {transport:?} for a device behind a broker"));
    }
    ui.wait_text(&format!("agent-{id}-state"), "not paired", |t| t.starts_with("Not paired")).await?;

    // Paired with its passcode, over MQTT.
    ui.click(&format!("pair-{id}")).await?;
    ui.wait_text("pairing-instruction", "the device's instruction", |t| t.contains("passcode")).await?;
    ui.type_into("passcode-input", GW_PASSCODE).await?;
    ui.click("passcode-submit").await?;
    ui.find("pairing-done").await.map_err(|e| format!("pairing over MQTT did not succeed: {e}"))?;
    ui.click("pairing-close").await?;
    ui.wait_text(&format!("agent-{id}-state"), "paired", |t| t.starts_with("Paired")).await?;
    ui.shot("broker-paired").await?;

    // One page over it: the gateway's WiFi network, switched off and on, each time checked on
    // the agent by uspctl through the same broker.
    let card = dom_id(&format!("{GATEWAY} Device.WiFi.SSID.1"));
    let switch = format!("wifi-enable-{card}");
    ui.open("wifi").await?;
    ui.wait_attr(&switch, "aria-checked", "true").await?;
    let data = paths.out.join(format!("uspctl-broker-{}", std::process::id()));
    let uspctl = Uspctl::new(paths, data.clone());
    // uspctl names the agent in the address: through a broker it does not announce itself.
    let address = format!("{}?agent-id={GATEWAY}", home.gateway);
    let enable = "Device.WiFi.SSID.1.Enable";
    for want in ["false", "true"] {
        ui.click(&switch).await?;
        ui.wait_attr(&switch, "aria-checked", want).await?;
        let on_agent = uspctl.get(&address, &[enable])?;
        if on_agent.get(enable).map(String::as_str) != Some(want) {
            return Err(format!("the WiFi switch shows {want} but the gateway says {on_agent:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    ui.shot("broker-wifi").await?;
    Ok(())
}
