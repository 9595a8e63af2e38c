//! `usp-client`: the tokio side of usp-home's USP controller.
//!
//! A thin driver around the sans-IO [`usp_core::engine::Link`]: it opens the WebSocket
//! MTP (`ws://`, `wss://` with rustls) or the MQTT MTP through a broker (`mqtt://`,
//! `mqtts://`, `mqtt+ws://`, `mqtt+wss://`; [`mtp::mqtt`]), keeps it alive (pings, reconnect with jittered
//! exponential backoff), routes replies to the callers and notifications to a stream,
//! and keeps the subscriptions it made alive across reconnects.
//!
//! ```no_run
//! # async fn demo() -> Result<(), usp_client::ClientError> {
//! use usp_client::{Client, ClientConfig};
//! let me = usp_client::identity::load_or_create_endpoint_id(&usp_client::identity::default_data_dir())
//!     .expect("identity");
//! let client = Client::connect(ClientConfig::new("ws://127.0.0.1:8080/usp", me)).await?;
//! let resp = client.get(&["Device.DeviceInfo."], 0).await?;
//! for p in resp.params() {
//!     println!("{p}");
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod client;
pub mod discovery;
pub mod error;
pub mod identity;
pub mod listen;
pub mod mtp;
pub mod tls;
pub mod ws;

pub use client::{AgentNotification, Backoff, Client, ClientConfig, ConnectionState, Login, NotifKind, Subscription};
pub use error::{ClientError, ConnectError};
pub use mtp::{Carrier, Mtp};
