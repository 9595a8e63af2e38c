//! `usp-core`: the sans-IO USP (TR-369) controller engine.
//!
//! No tokio, no sockets, no clock: every input (received bytes, the current time) is an
//! argument, every output (bytes to send, events, the next deadline) is polled. The
//! WebSocket driver in `usp-client` is a thin loop around [`engine::Link`]; tests run a
//! controller and an agent in memory under a virtual clock.
//!
//! - [`msg`] / [`record`]: the USP Message and Record as Rust types;
//! - [`wire`]: their protobuf codec (zero-copy decoding, size limits, strict `oneof`s);
//! - [`path`] / [`eid`]: parsed data-model paths and Endpoint IDs;
//! - [`request`]: typed request builders and typed results;
//! - [`engine`]: msg_id correlation, timeouts as data, notifications, record rules;
//! - [`e2e`]: the end-to-end session context (sequencing, retransmission, segmentation,
//!   record integrity) between Messages and `session_context` Records;
//! - [`stomp`]: STOMP 1.2 framing for the USP STOMP MTP (bounded, incremental);
//! - [`text`]: agent-written text made safe for logs;
//! - `convert` (feature `prost-convert`, for tests and fuzzers): lossless conversions to and
//!   from the prost types of `usp-proto`, the reference the codec is tested against.
#![warn(missing_docs)]

#[cfg(feature = "prost-convert")]
pub mod convert;
pub mod e2e;
pub mod eid;
pub mod engine;
pub mod error;
pub mod msg;
pub mod path;
pub mod record;
pub mod request;
pub mod stomp;
pub mod text;
pub mod wire;
pub use eid::{EidError, EndpointId, Scheme};
pub use error::{code, UspError};
pub use path::{Path, PathError};
