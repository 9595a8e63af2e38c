//! The address of an agent behind a STOMP broker.
//!
//! ```text
//! stomp://[user@]host[:port][/<agent destination>][?reply-to=<our destination>&vhost=<vhost>&agent-id=<agent EID>]
//! stomps://…                                     (TLS to the broker; port 61614 by default)
//! ```
//!
//! - `host[:port]`: the broker (61613 by default; IPv6 in brackets).
//! - `user`: the broker login, when [`crate::ClientConfig::login`] gives none. The password
//!   never goes in the address (an address with `user:password@` is refused): it comes from
//!   `ClientConfig::login`.
//! - the path is the agent's destination as the broker names it, e.g.
//!   `stomp://127.0.0.1/queue/usp.agent.obuspa` sends to `/queue/usp.agent.obuspa`. Without
//!   a path, the agent's destination is learnt from its `STOMPConnectRecord` or from the
//!   `reply-to-dest` of its first message.
//! - `reply-to`: our own destination (where the agent answers and notifies). The broker's
//!   `subscribe-dest` header wins over it; without either, it is derived
//!   ([`derived_destination`]): `/queue/usp.controller.<our EID>.<agent EID>` when the agent
//!   is known (the address's `agent`, or the client's `agent_id`), else
//!   `/queue/usp.controller.<our EID>` (where an agent configured with it sends its
//!   `STOMPConnectRecord`), each EID with characters other than letters, digits, `.`, `-`
//!   and `_` as `_`. A RabbitMQ `/queue/` hands each message to one of its subscribers only:
//!   two connections on one queue would take each other's Records, hence one queue per agent.
//! - `vhost`: the `host` header of the `STOMP` frame (RabbitMQ's virtual host), `/` by default.
//! - `agent`: the agent's Endpoint ID, when known (Records from other agents on a shared
//!   destination are dropped); otherwise the first Record's sender is the agent.
//!
//! Query values and the path are percent-decoded.

use crate::mtp::broker_url::{bad, BrokerUrl};

use usp_core::EndpointId;

use crate::error::ConnectError;

/// The STOMP port without TLS.
pub const DEFAULT_PORT: u16 = 61613;
/// The STOMP port with TLS.
pub const DEFAULT_TLS_PORT: u16 = 61614;
/// Longest destination name accepted in an address or learnt from the agent.
pub const MAX_DESTINATION: usize = 1024;

/// A parsed `stomp://` or `stomps://` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StompAddress {
    /// TLS to the broker (`stomps://`).
    pub tls: bool,
    /// The broker's host name or address (without brackets).
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// The login named in the address, if any.
    pub user: Option<String>,
    /// The agent's destination, if the address gives it.
    pub agent_destination: Option<String>,
    /// Our destination, if the address gives it.
    pub reply_to: Option<String>,
    /// The virtual host.
    pub vhost: String,
    /// The agent's Endpoint ID, if the address gives it.
    pub agent: Option<EndpointId>,
}

/// Checks a destination name: not empty, no control characters, bounded.
pub fn check_destination(d: &str) -> Result<(), String> {
    if d.is_empty() {
        return Err("an empty destination".into());
    }
    if d.len() > MAX_DESTINATION {
        return Err(format!("a destination longer than {MAX_DESTINATION} bytes"));
    }
    if d.chars().any(char::is_control) {
        return Err("a destination with control characters".into());
    }
    Ok(())
}

impl StompAddress {
    /// Parses `url`.
    ///
    /// # Errors
    /// [`ConnectError::BadUrl`] saying what is wrong.
    pub fn parse(url: &str) -> Result<StompAddress, ConnectError> {
        let parts = BrokerUrl::parse(url)?;
        let tls = match parts.scheme.as_str() {
            "stomp" => false,
            "stomps" => true,
            _ => return Err(bad(url, "the address must start with stomp:// or stomps://")),
        };
        let port = parts.port.unwrap_or(if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT });
        let path = parts.path;
        let agent_destination = match path.as_str() {
            "" | "/" => None,
            d => {
                check_destination(d).map_err(|e| bad(url, format!("the agent's destination: {e}")))?;
                Some(d.to_owned())
            }
        };
        let mut address = StompAddress {
            tls,
            host: parts.host,
            port,
            user: parts.user,
            agent_destination,
            reply_to: None,
            vhost: "/".into(),
            agent: None,
        };
        for (k, v) in parts.args {
            match k.as_str() {
                "reply-to" => {
                    check_destination(&v).map_err(|e| bad(url, format!("reply-to: {e}")))?;
                    address.reply_to = Some(v);
                }
                "vhost" => address.vhost = v,
                "agent-id" => {
                    address.agent =
                        Some(v.parse().map_err(|e| bad(url, format!("agent-id: not an Endpoint ID ({e})")))?)
                }
                other => {
                    return Err(bad(
                        url,
                        format!(
                            "unknown setting {:?} (reply-to, vhost and agent-id are known)",
                            usp_core::text::for_log(other)
                        ),
                    ))
                }
            }
        }
        Ok(address)
    }
}

/// `eid` as part of a RabbitMQ queue name: every character a queue name or destination
/// would trip on (anything but ASCII letters, digits, `.`, `-`, `_`) as `_`, at most 100.
pub fn queue_name_part(eid: &EndpointId) -> String {
    eid.as_str()
        .chars()
        .take(100)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect()
}

/// Our destination when neither the broker nor the address names one:
/// `/queue/usp.controller.<own EID>`, and `.<agent EID>` after it when the agent is known
/// (see [`queue_name_part`]).
pub fn derived_destination(own: &EndpointId, agent: Option<&EndpointId>) -> String {
    match agent {
        Some(a) => format!("/queue/usp.controller.{}.{}", queue_name_part(own), queue_name_part(a)),
        None => format!("/queue/usp.controller.{}", queue_name_part(own)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_address() {
        let a = StompAddress::parse(
            "stomp://guest@127.0.0.1:28613/queue/usp.agent.obuspa?reply-to=/queue/usp.controller.me&vhost=%2Fhome&agent-id=proto::a",
        )
        .expect("parses");
        assert!(!a.tls);
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 28613));
        assert_eq!(a.user.as_deref(), Some("guest"));
        assert_eq!(a.agent_destination.as_deref(), Some("/queue/usp.agent.obuspa"));
        assert_eq!(a.reply_to.as_deref(), Some("/queue/usp.controller.me"));
        assert_eq!(a.vhost, "/home");
        assert_eq!(a.agent.map(|e| e.to_string()).as_deref(), Some("proto::a"));
    }

    #[test]
    fn defaults() {
        let a = StompAddress::parse("stomps://[::1]").expect("parses");
        assert!(a.tls);
        assert_eq!((a.host.as_str(), a.port), ("::1", DEFAULT_TLS_PORT));
        assert_eq!((a.user, a.agent_destination, a.reply_to, a.agent), (None, None, None, None));
        assert_eq!(a.vhost, "/");
        assert_eq!(StompAddress::parse("stomp://b/").expect("parses").port, DEFAULT_PORT);
    }

    #[test]
    fn refusals_say_why() {
        for (url, why) in [
            ("stomp://u:secret@b/q", "password does not belong in a broker's address"),
            ("mqtt://b", "stomp://"),
            ("stomp:///queue/x", "no broker host"),
            ("stomp://b:0", "port"),
            ("stomp://b:99999", "port"),
            ("stomp://b/q?x=1", "unknown setting"),
            ("stomp://b/q?agent-id=nope", "agent-id"),
            ("stomp://b/a%0Ab", "control"),
        ] {
            match StompAddress::parse(url) {
                Err(ConnectError::BadUrl(e)) => assert!(e.contains(why), "{url}: {e}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        // The refusal of a password does not repeat it.
        let Err(e) = StompAddress::parse("stomp://u:secret@b") else { panic!("refused") };
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn derived_destinations_are_one_rabbitmq_queue_name() {
        let me: EndpointId = "self::usp-home-1".parse().expect("eid");
        assert_eq!(derived_destination(&me, None), "/queue/usp.controller.self__usp-home-1");
        let agent: EndpointId = "os::012345-AB%3A1".parse().expect("eid");
        assert_eq!(derived_destination(&me, Some(&agent)), "/queue/usp.controller.self__usp-home-1.os__012345-AB_3A1");
    }
}
