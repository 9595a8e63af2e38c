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
//! it); [`CoapConnector`] opens the controller's side.

pub mod engine;
mod transport;
pub mod uri;

pub(crate) use transport::open;
pub use transport::CoapConnector;

use usp_core::EndpointId;

use crate::discovery::DiscoveredAgent;
use crate::mtp::Mtp;

/// "Add by address" for a `coap://` URL: the agent's Endpoint ID is required (it names
/// the agent in our Records; a CoAP agent never speaks first).
pub(crate) fn manual_agent(url: &str, endpoint_id: Option<EndpointId>) -> Result<DiscoveredAgent, String> {
    let uri = uri::CoapUri::parse(url)?;
    if uri.host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("white space in the host".into());
    }
    let endpoint_id = endpoint_id.ok_or("a CoAP agent's Endpoint ID must be given with its address")?;
    let path = uri.to_uri().split_once("://").and_then(|(_, r)| r.find('/').map(|i| r[i..].to_owned()));
    Ok(DiscoveredAgent {
        endpoint_id,
        endpoint_id_known: true,
        name: None,
        mtp: Mtp::Coap,
        url: Some(uri.to_uri()),
        encrypt: false,
        path,
        subtypes: Vec::new(),
        addresses: uri.ip_addr().map(|a| a.ip()).into_iter().collect(),
        port: uri.port,
    })
}
