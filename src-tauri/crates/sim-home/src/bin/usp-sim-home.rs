//! `usp-sim-home`: runs a simulated home of USP agents on 127.0.0.1.
//!
//! Once every agent listens it prints one line per agent on stdout and nothing else:
//! `READY <endpoint-id> <ws-url>` (then `COAP <endpoint-id> <coap-url>` per agent with
//! `--coap-port-base`; `wss://` URLs with `--tls`; `--print-fingerprints`
//! then prints `FINGERPRINT <endpoint-id> SHA-256 <AB:CD:…>` per agent on stderr, before
//! the READY lines), and with `--stomp <broker URL>` one `STOMP <endpoint-id> <stomp-url>`
//! line per agent after them (the agents serve through the broker too). Logs go to stderr. It exits on SIGINT, SIGTERM, and
//! (with `--exit-on-stdin-close`) when its stdin is closed, so that a test harness that
//! dies never leaves it behind.
//!
//! This file is also built as the integration test `usp-sim-home-cli` (see Cargo.toml),
//! whose tests run the real executable.
#![cfg_attr(test, allow(dead_code))]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sim_home::scenario::Scenario;
use sim_home::spec::UnknownControllerPolicy;
use sim_home::{Home, HomeConfig};
use usp_core::eid::EndpointId;

/// A simulated home of USP (TR-369) agents, each a WebSocket server on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "usp-sim-home", version)]
struct Cli {
    /// Scenario file (JSON); default: the built-in home (gateway, extender, hub).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Port of the first agent; the next ones get N+1, N+2, … in scenario order
    /// (built-in home: gateway N, extender N+1, hub N+2). 0: any free ports.
    /// Default: the scenario's ports (0 in the built-in home).
    #[arg(long, value_name = "N")]
    port_base: Option<u16>,
    /// What agents do with controllers that are not in their Controller table
    /// (default: each agent's scenario setting).
    #[arg(long, value_enum, value_name = "POLICY")]
    unknown_controllers: Option<Policy>,
    /// Provision a controller on every agent, e.g. `self::usp-home-test=Full Access`
    /// (repeatable).
    #[arg(long = "controller", value_name = "EID=ROLE", value_parser = parse_controller)]
    controllers: Vec<(EndpointId, String)>,
    /// Run a life step on every agent every MS milliseconds.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    tick: Option<u64>,
    /// Seed of the life loop (default: the scenario's).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Log filter for stderr: error, warn, info, debug, trace, or a tracing directive.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log: String,
    /// Exit when stdin is closed (for test harnesses).
    #[arg(long)]
    exit_on_stdin_close: bool,
    /// Serve wss:// with mutual TLS: each agent presents a self-signed certificate for its
    /// EID, made at start, and requires a client certificate naming the `?eid=` EID; it
    /// remembers each controller's certificate on first use and refuses another one.
    #[arg(long)]
    tls: bool,
    /// Print each agent's certificate SHA-256 fingerprint on stderr (needs --tls).
    #[arg(long, requires = "tls")]
    print_fingerprints: bool,
    /// Advertise the agents over mDNS on these interfaces only: `lo` (loopback),
    /// `none`, or interface names `IFNAME[,IFNAME]`.
    #[arg(long, value_name = "lo|none|IFNAMES", default_value = "none")]
    mdns_interfaces: String,
    /// Announce only this advert, as a rogue device would, and start no agent (repeatable;
    /// needs --mdns-interfaces). `EID=URL[,SUBTYPE][,name=NAME]`, where URL is
    /// `ws[s]://IP:PORT/path` (`wss` adds TXT `encrypt`), or a broker's `mqtt[s]://` or
    /// `stomp[s]://IP:PORT/<topic or destination>`; nothing has to listen there. E.g.
    /// `--mdns-interfaces lo --advertise-only 'os::012345-GW0001=ws://127.0.0.1:9/usp,_gateway,name=Living room gateway'`.
    /// Prints `ADVERTISED <EID> <URL>` per advert, then says goodbye on exit.
    #[arg(long = "advertise-only", value_name = "EID=URL[,SUBTYPE][,name=NAME]")]
    advertise_only: Vec<sim_home::advertise::RawAdvert>,
    /// Also serve every agent over CoAP (the legacy USP 1.0-1.2 MTP, plain UDP) on
    /// 127.0.0.1, at `/usp`: agent i on port N+i, or free ports with 0. Prints
    /// `COAP <endpoint-id> <coap-url>` per agent after the READY lines.
    #[arg(long, value_name = "N")]
    coap_port_base: Option<u16>,
    /// Serve every agent through this STOMP broker too, `stomp://[USER@]HOST[:PORT][?vhost=V]`:
    /// each subscribes to `/queue/usp.agent.<its EID>` and sends a STOMPConnectRecord to
    /// each `--controller` at `/queue/usp.controller.<its EID>`. The password comes from
    /// the environment variable USP_SIM_HOME_BROKER_PASSWORD, never from a flag. Prints
    /// `STOMP <endpoint-id> <address for a controller>` per agent after the READY lines.
    #[arg(long, value_name = "URL")]
    stomp: Option<String>,
    /// Also serve every agent over MQTT through this broker (`mqtt://127.0.0.1:1883`, with
    /// `?version=3.1.1` for MQTT 3.1.1; `mqtt://user@host` takes the password from the
    /// environment variable USP_SIM_HOME_BROKER_PASSWORD, never from a flag). Each agent
    /// subscribes to `usp/agent/<key>` and sends an MQTTConnectRecord to
    /// `usp/controller/<EID>` of each `--controller`. Prints `MQTT <endpoint-id> <address
    /// for a controller>` per agent after the READY lines.
    #[arg(long, value_name = "BROKER")]
    mqtt: Option<String>,
    /// Every agent also dials this controller listener, as agents configured with a
    /// controller's address do: `ws://HOST:PORT/PATH`, or `wss://…` (each agent then
    /// presents a self-signed certificate made at start, printed as `DIAL-FINGERPRINT
    /// <endpoint-id> SHA-256 <AB:CD:…>` on stderr, and trusts the controller's certificate
    /// on first use). It dials again with a backoff when the connection drops.
    #[arg(long, value_name = "URL")]
    dial: Option<String>,
    /// The Endpoint ID of the controller that `--dial` reaches (default: the first
    /// `--controller`). It must be provisioned (`--controller`) to be served.
    #[arg(long, value_name = "EID", requires = "dial")]
    dial_controller: Option<EndpointId>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Policy {
    /// No answer at all (like the reference agent).
    Ignore,
    /// Answer with the permissions of the Untrusted role.
    Untrusted,
}

impl From<Policy> for UnknownControllerPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Ignore => UnknownControllerPolicy::Ignore,
            Policy::Untrusted => UnknownControllerPolicy::Untrusted,
        }
    }
}

fn parse_controller(arg: &str) -> Result<(EndpointId, String), String> {
    let (eid, role) =
        arg.split_once('=').ok_or_else(|| format!("expected EID=ROLE, e.g. self::me=Full Access, got {arg:?}"))?;
    let eid = EndpointId::from_str(eid.trim()).map_err(|e| format!("bad endpoint id {eid:?}: {e}"))?;
    let role = role.trim();
    if role.is_empty() {
        return Err("the role name is empty".to_owned());
    }
    Ok((eid, role.to_owned()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("usp-sim-home: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usp-sim-home: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--advertise-only`: adverts and nothing else, until asked to exit.
async fn advertise_only(cli: &Cli) -> Result<(), String> {
    let interfaces = match cli.mdns_interfaces.trim() {
        "none" | "" => return Err("--advertise-only needs --mdns-interfaces (lo or interface names)".to_owned()),
        list => list.parse::<sim_home::advertise::Interfaces>().map_err(|e| e.to_string())?,
    };
    let exit = ExitSignals::install(cli.exit_on_stdin_close)?;
    let mut advertiser = sim_home::advertise::Advertiser::start(&interfaces).map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        for advert in &cli.advertise_only {
            advertiser.register_raw(advert).map_err(|e| e.to_string())?;
            writeln!(out, "ADVERTISED {} {}", advert.endpoint_id, advert.url).map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())?;
    }
    let reason = exit.wait().await;
    tracing::info!("{reason}: saying goodbye");
    advertiser.shutdown().await;
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    if !cli.advertise_only.is_empty() {
        return advertise_only(&cli).await;
    }
    let mut scenario = match &cli.scenario {
        Some(path) => Scenario::load(path).map_err(|e| e.to_string())?,
        None => Scenario::builtin(),
    };
    if scenario.agents.is_empty() {
        return Err("the scenario has no agent".to_owned());
    }
    if let Some(seed) = cli.seed {
        scenario.seed = seed;
    }
    if let Some(base) = cli.port_base {
        for (i, agent) in scenario.agents.iter_mut().enumerate() {
            agent.port = if base == 0 {
                0
            } else {
                u16::try_from(i)
                    .ok()
                    .and_then(|i| base.checked_add(i))
                    .ok_or_else(|| format!("--port-base {base} leaves no port for agent {}", agent.key))?
            };
        }
    }
    let controllers: Vec<EndpointId> = cli.controllers.iter().map(|(e, _)| e.clone()).collect();
    let config = HomeConfig {
        scenario,
        unknown_controllers: cli.unknown_controllers.map(Into::into),
        extra_controllers: cli.controllers.clone(),
        tick: cli.tick.map(Duration::from_millis),
        tls: cli.tls.then(sim_home::TlsMode::self_signed),
        advertise: match cli.mdns_interfaces.trim() {
            "none" | "" => None,
            list => Some(list.parse::<sim_home::advertise::Interfaces>().map_err(|e| e.to_string())?),
        },
    };
    let dial_controller = cli.dial_controller.clone().or_else(|| config.extra_controllers.first().map(|c| c.0.clone()));
    let exit = ExitSignals::install(cli.exit_on_stdin_close)?;
    let home = Home::start(config).await.map_err(|e| e.to_string())?;
    let _diallers = match &cli.dial {
        Some(url) => {
            let controller = dial_controller.ok_or("--dial needs --dial-controller or a --controller")?;
            dial_all(&home, url, &controller)?
        }
        None => Vec::new(),
    };
    if cli.print_fingerprints {
        let mut err = std::io::stderr().lock();
        for agent in home.agents() {
            if let Some(fp) = agent.fingerprint {
                writeln!(err, "FINGERPRINT {} SHA-256 {fp}", agent.endpoint_id).map_err(|e| e.to_string())?;
            }
        }
        err.flush().map_err(|e| e.to_string())?;
    }
    let mut coap = Vec::new();
    if let Some(base) = cli.coap_port_base {
        for (i, agent) in home.agents().iter().enumerate() {
            let port = match base {
                0 => 0,
                _ => u16::try_from(i)
                    .ok()
                    .and_then(|i| base.checked_add(i))
                    .ok_or_else(|| format!("--coap-port-base {base} leaves no port for agent {}", agent.key))?,
            };
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let server = agent.serve_coap(addr, "/usp").await.map_err(|e| format!("CoAP on {addr}: {e}"))?;
            coap.push((agent.endpoint_id.clone(), server));
        }
    }
    let mut home = home;
    let served = match &cli.stomp {
        Some(url) => serve_stomp(&mut home, url, &controllers)?,
        None => Vec::new(),
    };
    let mut mqtt_addresses = Vec::new();
    let mut serving = Vec::new();
    if let Some(broker) = &cli.mqtt {
        usp_client::mtp::mqtt::Address::parse(broker).map_err(|e| format!("--mqtt: {e}"))?;
        let login = std::env::var("USP_SIM_HOME_BROKER_PASSWORD")
            .ok()
            .map(|p| usp_client::Login { username: String::new(), password: p.into() });
        for agent in home.agents() {
            let serve = sim_home::mqtt::MqttServe {
                broker: broker.clone(),
                topic: format!("usp/agent/{}", agent.key),
                controllers: cli
                    .controllers
                    .iter()
                    .map(|(eid, _)| (eid.clone(), sim_home::mqtt::controller_topic(eid)))
                    .collect(),
                login: login.clone(),
                tls: None,
            };
            mqtt_addresses.push(serve.agent_address());
            serving.push(agent.serve_mqtt(serve));
        }
        for s in &mut serving {
            if !s.wait_up(Duration::from_secs(15)).await {
                return Err(format!("--mqtt: the agents could not subscribe at {broker} within 15 s"));
            }
        }
    }
    {
        let mut out = std::io::stdout().lock();
        for agent in home.agents() {
            writeln!(out, "READY {} {}", agent.endpoint_id, agent.url).map_err(|e| e.to_string())?;
        }
        for (agent, address) in home.agents().iter().zip(&mqtt_addresses) {
            writeln!(out, "MQTT {} {address}", agent.endpoint_id).map_err(|e| e.to_string())?;
        }
        for (eid, server) in &coap {
            writeln!(out, "COAP {eid} {}", server.url).map_err(|e| e.to_string())?;
        }
        for (eid, address) in &served {
            writeln!(out, "STOMP {eid} {address}").map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())?;
    }
    let reason = exit.wait().await;
    drop(coap);
    tracing::info!("{reason}: shutting down");
    drop(serving);
    home.shutdown().await;
    Ok(())
}

/// `--stomp`: every agent through the broker too; (agent, the address a controller uses).
fn serve_stomp(home: &mut Home, url: &str, controllers: &[EndpointId]) -> Result<Vec<(EndpointId, String)>, String> {
    let address = usp_client::mtp::stomp::StompAddress::parse(url).map_err(|e| format!("--stomp: {e}"))?;
    if address.tls {
        return Err("--stomp: stomps:// is not offered here (no broker trust settings); use stomp://".to_owned());
    }
    let mut broker = sim_home::server::stomp::StompBroker::new(url, controllers);
    if let Ok(password) = std::env::var("USP_SIM_HOME_BROKER_PASSWORD") {
        let username = address.user.clone().unwrap_or_else(|| "guest".to_owned());
        broker.login = Some(usp_client::Login { username, password: password.into() });
    }
    let host = if address.host.contains(':') { format!("[{}]", address.host) } else { address.host.clone() };
    let vhost = if address.vhost == "/" { String::new() } else { format!("&vhost={}", address.vhost) };
    Ok(home
        .serve_stomp(&broker)
        .into_iter()
        .map(|(eid, dest)| {
            let url = format!("stomp://{host}:{}{dest}?agent-id={eid}{vhost}", address.port);
            (eid, url)
        })
        .collect())
}

/// Starts every agent dialling `url` (see `--dial`).
fn dial_all(home: &Home, url: &str, controller: &EndpointId) -> Result<Vec<sim_home::dial::Dialler>, String> {
    let secure = url.to_ascii_lowercase().starts_with("wss://");
    let mut diallers = Vec::new();
    let mut err = std::io::stderr().lock();
    for agent in home.agents() {
        let mut config = sim_home::dial::DialConfig::new(url, controller.clone());
        if secure {
            let identity = usp_client::tls::Identity::generate(&agent.endpoint_id).map_err(|e| e.to_string())?;
            writeln!(err, "DIAL-FINGERPRINT {} SHA-256 {}", agent.endpoint_id, identity.fingerprint())
                .map_err(|e| e.to_string())?;
            config.identity = Some(identity);
        }
        diallers.push(agent.dial(config));
    }
    Ok(diallers)
}

/// What stops the process: SIGINT, SIGTERM and (if asked) the end of stdin. Installed
/// before the READY lines, so that a signal sent right after them is not fatal.
struct ExitSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    stdin_closed: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl ExitSignals {
    fn install(exit_on_stdin_close: bool) -> Result<ExitSignals, String> {
        #[cfg(unix)]
        let (interrupt, terminate) = {
            use tokio::signal::unix::{signal, SignalKind};
            let interrupt = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
            let terminate = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
            (interrupt, terminate)
        };
        let stdin_closed = if exit_on_stdin_close {
            // A plain thread: a tokio blocking read of stdin would delay the runtime's exit.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("stdin-watch".to_owned())
                .spawn(move || {
                    use std::io::Read;
                    let mut stdin = std::io::stdin().lock();
                    let mut buf = [0u8; 1024];
                    loop {
                        match stdin.read(&mut buf) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                    let _ = tx.send(());
                })
                .map_err(|e| format!("cannot watch stdin: {e}"))?;
            Some(rx)
        } else {
            None
        };
        Ok(ExitSignals {
            #[cfg(unix)]
            interrupt,
            #[cfg(unix)]
            terminate,
            stdin_closed,
        })
    }

    /// Resolves on the first of them, with its name.
    async fn wait(mut self) -> &'static str {
        let stdin_closed = async {
            match self.stdin_closed.take() {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
                () = stdin_closed => "stdin closed",
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                () = stdin_closed => "stdin closed",
            }
        }
    }
}
