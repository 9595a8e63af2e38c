//! The simulated home as a library: start every agent of a [`Scenario`] on 127.0.0.1,
//! reach them by key, change their data behind the controllers' backs, stop them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sim_home::HomeError> {
//! use sim_home::{Home, HomeConfig, scenario::Scenario};
//! let home = Home::start(HomeConfig::new(Scenario::builtin())).await?;
//! let gw = home.agent("gateway").expect("the built-in home has a gateway");
//! println!("{} listens on {}", gw.endpoint_id, gw.url);
//! gw.set("Device.DeviceInfo.FriendlyName", "Attic gateway").await?;
//! home.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use usp_client::mtp::memory::MemoryListener;
use usp_core::eid::EndpointId;
use usp_proto::usp_record::record::RecordType;
use usp_proto::usp_record::WebSocketConnectRecord;

use crate::agent::Agent;
use crate::life;
use crate::scenario::Scenario;
use crate::server::{self, Cmd, RecordPipe};
use crate::spec::ScenarioError;
use crate::spec::UnknownControllerPolicy;
use crate::tls::{ControllerPins, Fingerprint, TlsMode};

/// How long [`Home::shutdown`] waits for connections to close before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What to start.
#[derive(Clone, Debug)]
pub struct HomeConfig {
    /// The agents (ports 0 = ephemeral), their data and the life seed.
    pub scenario: Scenario,
    /// Overrides every agent's `unknown_controllers` policy.
    pub unknown_controllers: Option<UnknownControllerPolicy>,
    /// Controllers provisioned on every agent, with their role name ("Full Access", …).
    pub extra_controllers: Vec<(EndpointId, String)>,
    /// Run a life step on every agent this often.
    pub tick: Option<Duration>,
    /// Serve `wss://` with mutual TLS instead of `ws://` (see [`crate::tls`]).
    pub tls: Option<TlsMode>,
    /// Advertise every agent over mDNS on these interfaces only (see [`crate::advertise`]);
    /// `None` (the default): no mDNS at all.
    pub advertise: Option<crate::advertise::Interfaces>,
}

impl HomeConfig {
    /// The scenario as it is: no override, no extra controller, no life loop.
    pub fn new(scenario: Scenario) -> HomeConfig {
        HomeConfig {
            scenario,
            unknown_controllers: None,
            extra_controllers: Vec::new(),
            tick: None,
            tls: None,
            advertise: None,
        }
    }
}

/// Why the home (or an operation on one of its agents) failed.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The scenario cannot be turned into agents.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// An agent's port is taken (or similar).
    #[error("agent {key:?}: cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        key: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// An agent's TLS identity or configuration cannot be made.
    #[error("agent {key:?}: cannot set up TLS: {reason}")]
    Tls { key: String, reason: String },
    /// The mDNS advertising asked for in [`HomeConfig::advertise`] failed.
    #[error(transparent)]
    Advertise(#[from] crate::advertise::AdvertiseError),
    /// An internal edit was refused by the agent (unknown path, bad value, …).
    #[error("agent {key:?}: {reason}")]
    Agent { key: String, reason: String },
    /// The home was shut down (or dropped).
    #[error("the simulated home is stopped")]
    Stopped,
}

/// A running simulated home. Dropping it stops every task at once (connections are cut
/// without a close frame); [`Home::shutdown`] closes them with 1001 first.
#[derive(Debug)]
pub struct Home {
    agents: Vec<AgentHandle>,
    seed: u64,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    advertiser: Option<crate::advertise::Advertiser>,
}

impl Home {
    /// Builds every agent, binds every listener, and returns once all of them listen.
    pub async fn start(config: HomeConfig) -> Result<Home, HomeError> {
        let HomeConfig { scenario, unknown_controllers, extra_controllers, tick, tls, advertise } = config;
        let now = SystemTime::now();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut agents = Vec::with_capacity(scenario.agents.len());
        for (index, spec) in scenario.agents.iter().enumerate() {
            let policy = unknown_controllers.unwrap_or(spec.unknown_controllers);
            let mut agent = Agent::new(spec, policy, now)?;
            for (eid, role) in &extra_controllers {
                agent.add_controller(eid.clone(), role)?;
            }
            let endpoint_id = agent.endpoint_id().clone();
            let friendly_name = agent.friendly_name();
            let rng = life::agent_rng(scenario.seed, index);
            let (server_tls, certificate) = match &tls {
                Some(mode) => {
                    let (server_tls, identity) = server_tls(mode, &spec.key, &endpoint_id)?;
                    (Some(server_tls), Some(identity))
                }
                None => (None, None),
            };
            let tls_pins = server_tls.as_ref().map(|t| t.pins.clone());
            let e2e_identity = usp_client::tls::Identity::generate(&endpoint_id)
                .map(Arc::new)
                .map_err(|e| HomeError::Tls { key: spec.key.clone(), reason: e.to_string() })?;
            let started = server::start(agent, rng, spec, shutdown_rx.clone(), &mut tasks, server_tls)
                .await
                .map_err(|source| HomeError::Bind { key: spec.key.clone(), port: spec.port, source })?;
            let scheme = if certificate.is_some() { "wss" } else { "ws" };
            agents.push(AgentHandle {
                key: spec.key.clone(),
                url: format!("{scheme}://{}{}", started.addr, spec.path),
                fingerprint: certificate.as_ref().map(|c| c.fingerprint()),
                certificate_der: certificate.map(|c| c.cert_der().to_vec()),
                tls_pins,
                e2e_identity,
                endpoint_id,
                friendly_name,
                addr: started.addr,
                path: spec.path.clone(),
                cmd: started.cmd,
                connected: started.connected,
            });
        }
        if let Some(period) = tick {
            let cmds = agents.iter().map(|a| a.cmd.clone()).collect();
            tasks.spawn(life::run(period, cmds, shutdown_rx));
        }
        let mut home = Home { agents, seed: scenario.seed, shutdown, tasks, advertiser: None };
        if let Some(interfaces) = &advertise {
            home.advertise(interfaces).await?;
        }
        Ok(home)
    }

    /// Advertises every agent over mDNS on `interfaces` only (see [`crate::advertise`]):
    /// `<EID>._usp-agt-ws._tcp.local.`, host `usp-sim-<key>.local.`, TXT `path`, `name`,
    /// `encrypt` for `wss://` agents, a subtype by key. [`Home::shutdown`] sends the
    /// goodbyes. Calling it again replaces the previous advertising (goodbyes first).
    ///
    /// # Errors
    /// When the mDNS daemon cannot start or a record cannot be registered.
    pub async fn advertise(
        &mut self,
        interfaces: &crate::advertise::Interfaces,
    ) -> Result<(), crate::advertise::AdvertiseError> {
        if let Some(old) = self.advertiser.take() {
            old.shutdown().await;
        }
        let mut advertiser = crate::advertise::Advertiser::start(interfaces)?;
        for agent in &self.agents {
            advertiser.register(&crate::advertise::AgentAdvert {
                key: &agent.key,
                endpoint_id: &agent.endpoint_id,
                url: &agent.url,
                path: &agent.path,
                friendly_name: &agent.friendly_name,
                addr: agent.addr,
            })?;
        }
        self.advertiser = Some(advertiser);
        Ok(())
    }

    /// Serves every agent through a STOMP broker too (see [`crate::server::stomp`]): each
    /// subscribes to [`crate::server::stomp::agent_destination`] of its Endpoint ID and sends a
    /// `STOMPConnectRecord` to each of `broker.controllers`. Returns (agent, its destination)
    /// in scenario order. The agents reconnect to the broker until the home stops.
    pub fn serve_stomp(&mut self, broker: &crate::server::stomp::StompBroker) -> Vec<(EndpointId, String)> {
        let mut served = Vec::new();
        for agent in &self.agents {
            self.tasks.spawn(crate::server::stomp::serve_agent(
                agent.cmd.clone(),
                agent.key.clone(),
                agent.endpoint_id.clone(),
                agent.e2e_identity.clone(),
                broker.clone(),
                self.shutdown.subscribe(),
            ));
            served.push((agent.endpoint_id.clone(), crate::server::stomp::agent_destination(&agent.endpoint_id)));
        }
        served
    }

    /// Every agent, in scenario order.
    pub fn agents(&self) -> &[AgentHandle] {
        &self.agents
    }

    /// The agent with this scenario key ("gateway", "extender", "hub").
    pub fn agent(&self, key: &str) -> Option<&AgentHandle> {
        self.agents.iter().find(|a| a.key == key)
    }

    /// The agent with this Endpoint ID.
    pub fn agent_by_eid(&self, eid: &str) -> Option<&AgentHandle> {
        self.agents.iter().find(|a| a.endpoint_id.as_str() == eid)
    }

    /// The life-loop seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Stops listening, closes every connection with 1001 "going away" and waits (at most
    /// a few seconds) for all tasks to end.
    pub async fn shutdown(mut self) {
        // Goodbyes first, so browsers drop the agents before their ports close.
        if let Some(advertiser) = self.advertiser.take() {
            advertiser.shutdown().await;
        }
        self.shutdown.send_replace(true);
        let tasks = &mut self.tasks;
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        // Dropping `self` aborts whatever is left.
    }
}

/// The TLS server side of the agent `key`: its identity and mutual-TLS configuration.
fn server_tls(
    mode: &TlsMode,
    key: &str,
    eid: &EndpointId,
) -> Result<(server::ServerTls, usp_client::tls::Identity), HomeError> {
    let tls_err = |e: usp_client::tls::TlsError| HomeError::Tls { key: key.to_owned(), reason: e.to_string() };
    let identity = mode.identity_for(key, eid).map_err(tls_err)?;
    let config =
        usp_client::tls::server_config(&identity, usp_client::tls::ClientCertPolicy::AnySelfSigned).map_err(tls_err)?;
    let server_tls = server::ServerTls {
        acceptor: tokio_rustls::TlsAcceptor::from(config),
        pins: Arc::new(ControllerPins::default()),
    };
    Ok((server_tls, identity))
}

impl Drop for Home {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        self.tasks.abort_all();
    }
}

/// One running agent. Cheap to clone; its methods go through the agent's actor, so they
/// are ordered with the requests of the controllers, and the Notifies they cause are
/// queued to the connected controllers before they return.
#[derive(Clone, Debug)]
pub struct AgentHandle {
    /// Scenario key ("gateway", …).
    pub key: String,
    /// The agent's Endpoint ID.
    pub endpoint_id: EndpointId,
    /// `ws://127.0.0.1:PORT/usp` (`wss://` with TLS): where a controller connects (add
    /// `?eid=<controller EID>`).
    pub url: String,
    /// With TLS: the certificate the agent presents (DER).
    pub certificate_der: Option<Vec<u8>>,
    /// With TLS: SHA-256 of that certificate, as a user compares it.
    pub fingerprint: Option<Fingerprint>,
    /// `Device.DeviceInfo.FriendlyName` at start.
    pub friendly_name: String,
    /// The listening address (always 127.0.0.1).
    pub addr: SocketAddr,
    /// The WebSocket resource path.
    pub path: String,
    pub(crate) cmd: mpsc::Sender<Cmd>,
    connected: watch::Receiver<Vec<EndpointId>>,
    tls_pins: Option<Arc<ControllerPins>>,
    /// Signs the agent's session-context Records (controllers with `integrity`).
    e2e_identity: Arc<usp_client::tls::Identity>,
}

impl AgentHandle {
    /// The certificate (DER) the agent signs its session-context Records with, for
    /// controllers whose scenario entry asks for `integrity` (a controller pins it).
    pub fn e2e_certificate_der(&self) -> &[u8] {
        self.e2e_identity.cert_der()
    }

    /// Serves one controller over a connection of any MTP (see [`RecordPipe`]) until either
    /// side ends it. Spawned on the current runtime; the task ends with the agent too.
    pub fn attach(&self, pipe: RecordPipe) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::server::serve_pipe(
            self.cmd.clone(),
            self.key.clone(),
            self.endpoint_id.clone(),
            self.e2e_identity.clone(),
            pipe,
        ))
    }

    /// Serves this agent over CoAP too, on `addr` (port 0: a free one) at `path`, until
    /// the returned server is dropped (see [`crate::coap`]).
    ///
    /// # Errors
    /// When the UDP socket cannot be bound.
    pub async fn serve_coap(&self, addr: SocketAddr, path: &str) -> std::io::Result<crate::coap::CoapServer> {
        crate::coap::serve(self, addr, path).await
    }

    /// Serves every connection made through the in-memory transport's `listener` (tests on
    /// a virtual clock), until its connectors are gone.
    pub fn serve_memory(&self, mut listener: MemoryListener) -> tokio::task::JoinHandle<()> {
        let agent = self.clone();
        tokio::spawn(async move {
            while let Some(peer) = listener.accept().await {
                let (controller, to_client, mut from_client) = peer.into_parts();
                let (in_tx, incoming) = mpsc::channel(64);
                let (outgoing, mut out_rx) = mpsc::channel::<Bytes>(64);
                // Bridge the unbounded memory channels; a keepalive is answered at once.
                let answer = to_client.clone();
                tokio::spawn(async move {
                    while let Some(b) = from_client.recv().await {
                        if b.is_empty() {
                            let _ = answer.send(Bytes::new());
                        } else if in_tx.send(b).await.is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    while let Some(b) = out_rx.recv().await {
                        if to_client.send(b).is_err() {
                            break;
                        }
                    }
                });
                let connect_record = Some(RecordType::WebsocketConnect(WebSocketConnectRecord {}));
                agent.attach(RecordPipe { controller, incoming, outgoing, connect_record });
            }
        })
    }

    /// Runs `f` on the agent (inside its actor), then routes the Notifies it caused.
    pub async fn with_agent<R, F>(&self, f: F) -> Result<R, HomeError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Agent, SystemTime) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let call: server::AgentCall = Box::new(move |agent: &mut Agent, now: SystemTime| {
            let _ = tx.send(f(agent, now));
        });
        self.cmd.send(Cmd::Call(call)).await.map_err(|_| HomeError::Stopped)?;
        rx.await.map_err(|_| HomeError::Stopped)
    }

    /// Sets a parameter as the device itself would (no permission check): `set_internal`.
    pub async fn set(&self, path: &str, value: &str) -> Result<(), HomeError> {
        let (path, value) = (path.to_owned(), value.to_owned());
        self.with_agent(move |agent, now| agent.set_internal(&path, &value, now))
            .await?
            .map_err(|reason| self.refused(reason))
    }

    /// Adds a row to a table (`Device.Hosts.Host.`) and returns its instance path.
    pub async fn add(&self, table: &str, params: &[(&str, &str)]) -> Result<String, HomeError> {
        let table = table.to_owned();
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.with_agent(move |agent, now| {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            agent.add_internal(&table, &params, now)
        })
        .await?
        .map_err(|reason| self.refused(reason))
    }

    /// Deletes a row (`Device.Hosts.Host.3.`).
    pub async fn delete(&self, instance_path: &str) -> Result<(), HomeError> {
        let path = instance_path.to_owned();
        self.with_agent(move |agent, now| agent.delete_internal(&path, now))
            .await?
            .map_err(|reason| self.refused(reason))
    }

    /// A parameter's current value (`None`: no such parameter, or the home is stopped).
    pub async fn get(&self, param_path: &str) -> Option<String> {
        let path = param_path.to_owned();
        self.with_agent(move |agent, _| agent.get_internal(&path)).await.ok().flatten()
    }

    /// Closes every controller connection to this agent with 1001 "going away", as a
    /// rebooting agent does. The agent keeps listening; controllers may reconnect.
    ///
    /// # Errors
    /// [`HomeError::Stopped`] when the home is stopped.
    pub async fn disconnect_all(&self) -> Result<(), HomeError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::CloseAll(tx)).await.map_err(|_| HomeError::Stopped)?;
        rx.await.map_err(|_| HomeError::Stopped)
    }

    /// Restarts the agent as a power cut would ([`Agent::power_cycle`]): UpTime starts over,
    /// every controller connection closes, `Device.Boot!` waits for the reconnection.
    ///
    /// # Errors
    /// [`HomeError::Stopped`] when the home is stopped.
    pub async fn power_cycle(&self) -> Result<(), HomeError> {
        self.with_agent(|agent, now| agent.power_cycle(now)).await
    }

    /// Sends `Device.Boot!` again without restarting ([`Agent::resend_boot`]).
    ///
    /// # Errors
    /// [`HomeError::Stopped`] when the home is stopped.
    pub async fn resend_boot(&self) -> Result<(), HomeError> {
        self.with_agent(|agent, now| agent.resend_boot(now)).await
    }

    /// Makes the agent report `text` as its UpTime (`None`: the truth again), for tests of
    /// hostile data ([`Agent::lie_about_uptime`]).
    ///
    /// # Errors
    /// [`HomeError::Stopped`] when the home is stopped.
    pub async fn lie_about_uptime(&self, text: Option<&str>) -> Result<(), HomeError> {
        let text = text.map(str::to_owned);
        self.with_agent(move |agent, _| agent.lie_about_uptime(text)).await
    }

    /// One life step (the same seeded rng as the `tick` loop).
    pub async fn tick(&self) -> Result<(), HomeError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::Tick(Some(tx))).await.map_err(|_| HomeError::Stopped)?;
        rx.await.map_err(|_| HomeError::Stopped)
    }

    /// The controllers connected right now (sorted).
    pub fn connected_controllers(&self) -> Vec<EndpointId> {
        self.connected.borrow().clone()
    }

    /// Waits (at most `within`) until `eid` is connected; its WebSocketConnect Record is
    /// then queued. Returns whether it is.
    pub async fn wait_connected(&self, eid: &EndpointId, within: Duration) -> bool {
        let mut connected = self.connected.clone();
        let found = matches!(tokio::time::timeout(within, connected.wait_for(|c| c.contains(eid))).await, Ok(Ok(_)));
        found
    }

    /// Waits (at most `within`) until `eid` is no longer connected. Returns whether it is not.
    pub async fn wait_disconnected(&self, eid: &EndpointId, within: Duration) -> bool {
        let mut connected = self.connected.clone();
        let found = matches!(tokio::time::timeout(within, connected.wait_for(|c| !c.contains(eid))).await, Ok(Ok(_)));
        found
    }

    /// With TLS: the certificate fingerprint this agent remembers for the controller `eid`
    /// (pinned on its first accepted connection).
    pub fn controller_certificate(&self, eid: &EndpointId) -> Option<Fingerprint> {
        self.tls_pins.as_ref()?.get(eid)
    }

    /// With TLS: forgets the certificate remembered for `eid` (as an agent's reset would),
    /// so its next connection is a first use again. Returns whether one was remembered.
    pub fn forget_controller_certificate(&self, eid: &EndpointId) -> bool {
        self.tls_pins.as_ref().is_some_and(|p| p.forget(eid))
    }

    fn refused(&self, reason: String) -> HomeError {
        HomeError::Agent { key: self.key.clone(), reason }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use futures_util::StreamExt;
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use usp_proto::usp::{self, body::MsgBody, header::MsgType, request::ReqType, response::RespType};

    use super::*;
    use crate::server::tests::{
        addr, connect, connect_as, get, next_frame, next_msg, notify_in, request, scenario, send,
        value_change_subscription, wrap, AGENT, CTRL, WAIT,
    };

    const ADMIN: &str = "self::usp-home-admin";

    #[tokio::test]
    async fn builtin_home_starts_three_agents() {
        let home = Home::start(HomeConfig::new(Scenario::builtin())).await.unwrap();
        let keys: Vec<&str> = home.agents().iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["gateway", "extender", "hub"]);
        let mut ports: Vec<u16> = home.agents().iter().map(|a| a.addr.port()).collect();
        ports.dedup();
        assert_eq!(ports.len(), 3);
        for a in home.agents() {
            assert!(a.addr.ip().is_loopback());
            assert_eq!(a.url, format!("ws://127.0.0.1:{}/usp", a.addr.port()));
            assert!(!a.friendly_name.is_empty());
            assert_eq!(home.agent_by_eid(a.endpoint_id.as_str()).unwrap().key, a.key);
            assert_eq!(a.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some(a.friendly_name.as_str()));
        }
        assert!(home.agent("gateway").is_some());
        assert!(home.agent("garage").is_none());
        assert_eq!(home.seed(), Scenario::builtin().seed);
        home.shutdown().await;
    }

    #[tokio::test]
    async fn internal_edits_go_through_the_actor() {
        let home = Home::start(HomeConfig::new(Scenario::builtin())).await.unwrap();
        let gw = home.agent("gateway").unwrap();
        gw.set("Device.DeviceInfo.FriendlyName", "Attic").await.unwrap();
        assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Attic"));
        let row = gw
            .add("Device.Hosts.Host.", &[("PhysAddress", "02:00:00:00:00:42"), ("HostName", "test-box")])
            .await
            .unwrap();
        assert!(row.starts_with("Device.Hosts.Host."), "{row}");
        let name = format!("{}.HostName", row.trim_end_matches('.'));
        assert_eq!(gw.get(&name).await.as_deref(), Some("test-box"));
        gw.delete(&row).await.unwrap();
        assert_eq!(gw.get(&name).await, None);
        let e = gw.set("Device.Nope.Thing", "1").await.unwrap_err();
        assert!(matches!(&e, HomeError::Agent { key, .. } if key == "gateway"), "{e}");
        assert!(gw.delete(&row).await.is_err());
        assert!(gw.add("Device.NoTable.", &[]).await.is_err());
        assert_eq!(gw.get("Device.Nope.Thing").await, None);
        let eid = gw.with_agent(|agent, _| agent.endpoint_id().clone()).await.unwrap();
        assert_eq!(eid, gw.endpoint_id);
        let handle = gw.clone();
        home.shutdown().await;
        assert!(matches!(handle.set("Device.DeviceInfo.FriendlyName", "x").await, Err(HomeError::Stopped)));
        assert_eq!(handle.get("Device.DeviceInfo.FriendlyName").await, None);
        assert!(matches!(handle.tick().await, Err(HomeError::Stopped)));
    }

    #[tokio::test]
    async fn extra_controllers_are_provisioned_on_every_agent() {
        let mut config = HomeConfig::new(Scenario::builtin());
        config.extra_controllers = vec![("self::extra-ctrl".parse().unwrap(), "Full Access".to_owned())];
        let home = Home::start(config).await.unwrap();
        for a in home.agents() {
            let rows = a
                .with_agent(|agent, now| {
                    let eid: EndpointId = ADMIN.parse().unwrap();
                    agent.handle_msg(&eid, get("c", "Device.LocalAgent.Controller.*.EndpointID"), now)
                })
                .await
                .unwrap()
                .unwrap();
            assert!(format!("{rows:?}").contains("self::extra-ctrl"), "{}: {rows:?}", a.key);
        }
        let bad = HomeConfig {
            extra_controllers: vec![("self::x".parse().unwrap(), "No Such Role".to_owned())],
            ..HomeConfig::new(Scenario::builtin())
        };
        assert!(matches!(Home::start(bad).await, Err(HomeError::Scenario(_))));
    }

    #[tokio::test]
    async fn a_taken_port_is_a_bind_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut s = Scenario::builtin();
        s.agents[1].port = taken.local_addr().unwrap().port();
        let e = Home::start(HomeConfig::new(s)).await.unwrap_err();
        assert!(matches!(&e, HomeError::Bind { key, .. } if key == "extender"), "{e}");
    }

    /// Host names and MACs of the gateway after `ticks` life steps with `seed`.
    async fn hosts_after(seed: u64, ticks: usize) -> BTreeMap<String, String> {
        let mut s = Scenario::builtin();
        s.seed = seed;
        let home = Home::start(HomeConfig::new(s)).await.unwrap();
        let gw = home.agent("gateway").unwrap();
        for _ in 0..ticks {
            gw.tick().await.unwrap();
        }
        let reply = gw
            .with_agent(|agent, now| {
                let eid: EndpointId = ADMIN.parse().unwrap();
                let paths = ["Device.Hosts.Host.*.PhysAddress", "Device.Hosts.Host.*.Active", "Device.WiFi."];
                let msg = request(
                    "h",
                    MsgType::Get,
                    ReqType::Get(usp::Get { param_paths: paths.map(String::from).to_vec(), max_depth: 0 }),
                );
                agent.handle_msg(&eid, msg, now)
            })
            .await
            .unwrap()
            .unwrap();
        home.shutdown().await;
        let Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::GetResp(resp)) })) =
            reply.body.and_then(|b| b.msg_body)
        else {
            panic!("GetResp expected");
        };
        let mut out = BTreeMap::new();
        for r in resp.req_path_results {
            for rp in r.resolved_path_results {
                for (k, v) in rp.result_params {
                    if !k.contains("Last") && !k.contains("Time") {
                        out.insert(format!("{}{k}", rp.resolved_path), v);
                    }
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn life_is_deterministic_for_a_seed() {
        let a = hosts_after(11, 30).await;
        let b = hosts_after(11, 30).await;
        assert!(!a.is_empty());
        assert_eq!(a, b);
        let start = hosts_after(11, 0).await;
        assert_ne!(a, start, "30 ticks change something");
    }

    #[tokio::test]
    async fn the_tick_loop_runs_and_notifies() {
        let mut config = HomeConfig::new(scenario(30));
        config.tick = Some(Duration::from_millis(5));
        let home = Home::start(config).await.unwrap();
        let mut ws = connect(addr(&home)).await;
        // Every change under Device.DeviceInfo. (the uptime moves on each tick or not;
        // the FriendlyName is changed below in any case) and under Device.LocalAgent.
        let add = value_change_subscription("all", "Device.DeviceInfo.");
        send(&mut ws, wrap(CTRL, AGENT, &add)).await;
        assert_eq!(next_msg(&mut ws).await.header.unwrap().msg_id, "sub");
        // Ticks are running concurrently with this edit; its Notify arrives anyway.
        home.agents()[0].set("Device.DeviceInfo.FriendlyName", "Ticking").await.unwrap();
        loop {
            let Some(n) = notify_in(next_msg(&mut ws).await) else {
                continue;
            };
            if let Some(usp::notify::Notification::ValueChange(vc)) = n.notification {
                if vc.param_value == "Ticking" {
                    break;
                }
            }
        }
    }

    #[tokio::test]
    async fn dropping_the_home_stops_everything() {
        let home = Home::start(HomeConfig::new(scenario(30))).await.unwrap();
        let a = addr(&home);
        let (mut ws, _) = connect_as(a, CTRL).await;
        let handle = home.agents()[0].clone();
        drop(home);
        // The connection is cut (a close frame may or may not make it) …
        loop {
            match next_frame(&mut ws).await {
                None => break,
                Some(WsMessage::Close(_)) => {}
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
        // … the listener goes away …
        tokio::time::timeout(WAIT, async {
            while TcpStream::connect(a).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        // … and so does the actor.
        assert!(matches!(handle.tick().await, Err(HomeError::Stopped)));
        assert!(ws.next().await.is_none());
    }
}
