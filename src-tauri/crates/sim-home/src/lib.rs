//! `sim-home`: a simulated home of real USP agents, each a real WebSocket server on
//! 127.0.0.1, for the demo, the tests and the benchmarks (binary `usp-sim-home`).
//!
//! - [`scenario`]: the home as data (agents, ports, controllers, instance data);
//! - [`spec`]: one agent as data (what the scenario says about it), shared by `scenario` and `agent`;
//! - [`agent`]: one agent's brain, sans-IO (data model, permissions, subscriptions);
//! - [`server`]: one agent on the wire (USP WebSocket MTP, like the reference agent);
//! - [`home`]: start / reach / edit / stop every agent of a scenario ([`Home`]);
//! - [`life`]: the seeded life loop (`--tick`);
//! - [`mqtt`]: an agent served over MQTT through a broker ([`AgentHandle::serve_mqtt`]);
//! - [`advertise`]: mDNS / DNS-SD records of the agents ([`Home::advertise`]);
//! - [`dial`]: an agent that dials its controller's listener (agent-initiated WebSocket);
//! - [`tls`]: `wss://` with mutual TLS and TOFU of controller certificates (`--tls`);
//! - [`transfer`]: the agents' own HTTP transfers (speed tests, firmware downloads).

pub mod advertise;
pub mod agent;
pub mod coap;
pub mod dial;
pub mod home;
pub mod life;
pub mod mqtt;
pub mod scenario;
pub mod server;
pub mod spec;
pub mod tls;
pub mod transfer;

pub use home::{AgentHandle, Home, HomeConfig, HomeError};
pub use tls::TlsMode;
