//! CoAP, the MTP of USP 1.0-1.2 agents (deprecated in USP 1.2, obsolete in 1.3), without
//! DTLS: for agents on a trusted LAN only.
//!
//! Each Record goes to the agent's resource (`coap://host[:port]/path`) in a confirmable
//! POST with Content-Format 42 (application/octet-stream) and a `reply-to=<our coap URI>`
//! URI-Query; the agent acknowledges it 2.04 Changed. The agent sends its answers and
//! Notifies the same way to our own resource, which acknowledges them 2.04. Records larger
//! than a datagram go block-wise (RFC 7959 Block1, 1024-byte blocks, as the reference
//! agent does); lost datagrams are retransmitted (RFC 7252 ACK_TIMEOUT and back-off);
//! duplicates are recognised by message ID. A CoAP ping (an empty confirmable message)
//! is the keepalive: the agent's Reset (or any acknowledgement) is the sign of life.
//!
//! [`engine`] is the sans-IO message layer both ends use (sim-home serves its agents over
//! it); [`CoapConnector`] opens the controller's side, on a socket of its own per session or
//! through a [`CoapEndpoint`] shared by every agent (the app's: devices send Notifies to one
//! fixed address).

pub mod engine;
mod shared;
mod transport;
pub mod uri;

pub use shared::CoapEndpoint;
pub(crate) use transport::open;
pub use transport::CoapConnector;
