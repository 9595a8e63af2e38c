//! The address of an agent behind an MQTT broker, and the topic rules of the USP MQTT
//! binding that both ends share (the 3.1.1 `/reply-to=` suffix).

use std::fmt;

use crate::mtp::broker_url::{bad, BrokerUrl};

use usp_core::EndpointId;

use crate::error::ConnectError;

/// The MQTT protocol version spoken to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// MQTT 5.0 (the default; what USP requires controllers to implement).
    V5,
    /// MQTT 3.1.1 (the reply-to topic travels as a suffix of the topic name).
    V311,
}

impl Version {
    /// The `MQTTConnectRecord.version` number (V3_1_1 = 0, V5 = 1).
    pub fn record_number(self) -> i32 {
        match self {
            Version::V311 => 0,
            Version::V5 => 1,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V5 => "5",
            Version::V311 => "3.1.1",
        })
    }
}

/// How the bytes reach the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// MQTT over TCP (`mqtt://`, TLS with `mqtts://`).
    Tcp,
    /// MQTT over a WebSocket (`mqtt+ws://`, `mqtt+wss://`), at this HTTP path.
    WebSocket {
        /// The request path (default `/mqtt`).
        path: String,
    },
}

/// An agent address at a broker:
/// `mqtt://[user@]host[:port][/<agent topic>][?agent-id=<EID>&reply-to=<topic>&version=5|3.1.1&client-id=<id>&qos=0|1]`.
///
/// The schemes are `mqtt` (TCP, port 1883), `mqtts` (TLS, 8883), `mqtt+ws` (WebSocket, 80) and
/// `mqtt+wss` (WebSocket over TLS, 443). The path is the agent's topic, written as is
/// (`mqtt://127.0.0.1/usp/agent/gw` is the topic `usp/agent/gw`; `%xx` escapes are decoded).
/// Without it the agent's topic is learnt from its `MQTTConnectRecord` or from the Response
/// Topic of what it publishes. For the WebSocket schemes the HTTP path is the `ws-path`
/// argument (default `/mqtt`). The password never goes in the address: it comes from
/// [`crate::ClientConfig::login`], and a user name there wins over the one in the address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Broker host name or IP address (without brackets).
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// TLS to the broker.
    pub tls: bool,
    /// TCP or WebSocket.
    pub link: Link,
    /// The user name in the address, if any.
    pub username: Option<String>,
    /// The agent's topic, if the address names it.
    pub agent_topic: Option<String>,
    /// The topic we receive on, if the address names it (`reply-to=`).
    pub reply_to: Option<String>,
    /// The MQTT version (`version=`, default 5).
    pub version: Version,
    /// The MQTT client identifier (`client-id=`); default: empty for MQTT 5 (the broker
    /// assigns one, kept across reconnects), our Endpoint ID for 3.1.1.
    pub client_id: Option<String>,
    /// Quality of service of what we publish (`qos=`, default 1).
    pub qos: u8,
    /// The agent's Endpoint ID (`agent-id=`), when the address names it: a controller
    /// cannot learn it from an agent that was connected before it (the agent's
    /// `MQTTConnectRecord` went out then).
    pub agent_id: Option<EndpointId>,
}

impl Address {
    /// Reads an `mqtt://`, `mqtts://`, `mqtt+ws://` or `mqtt+wss://` address.
    ///
    /// # Errors
    /// [`ConnectError::BadUrl`] saying what is wrong (a password in the address among them).
    pub fn parse(url: &str) -> Result<Address, ConnectError> {
        let parts = BrokerUrl::parse(url)?;
        let (tls, ws, default_port) = match parts.scheme.as_str() {
            "mqtt" => (false, false, 1883),
            "mqtts" => (true, false, 8883),
            "mqtt+ws" => (false, true, 80),
            "mqtt+wss" => (true, true, 443),
            _ => return Err(bad(url, "an MQTT address starts with mqtt://, mqtts://, mqtt+ws:// or mqtt+wss://")),
        };
        let (host, port, username) = (parts.host, parts.port.unwrap_or(default_port), parts.user);
        let agent_topic = Some(parts.path.trim_start_matches('/').to_owned()).filter(|t| !t.is_empty());
        if let Some(t) = &agent_topic {
            check_topic(url, t)?;
        }
        let mut address = Address {
            host,
            port,
            tls,
            link: if ws { Link::WebSocket { path: "/mqtt".into() } } else { Link::Tcp },
            username,
            agent_topic,
            reply_to: None,
            version: Version::V5,
            client_id: None,
            qos: 1,
            agent_id: None,
        };
        for (k, v) in parts.args {
            match k.as_str() {
                "reply-to" => {
                    check_topic(url, &v)?;
                    address.reply_to = Some(v);
                }
                "version" => {
                    address.version = match v.as_str() {
                        "5" | "5.0" => Version::V5,
                        "3.1.1" | "4" => Version::V311,
                        _ => return Err(bad(url, "version must be 5 or 3.1.1")),
                    }
                }
                "client-id" => address.client_id = Some(v).filter(|v| !v.is_empty()),
                "agent-id" => address.agent_id = Some(v.parse().map_err(|e| bad(url, format!("agent-id: {e}")))?),
                "qos" => {
                    address.qos = match v.as_str() {
                        "0" => 0,
                        "1" => 1,
                        _ => return Err(bad(url, "qos must be 0 or 1")),
                    }
                }
                "ws-path" if ws => address.link = Link::WebSocket { path: format!("/{}", v.trim_start_matches('/')) },
                other => return Err(bad(url, format!("unknown argument {:?}", usp_core::text::for_log(other)))),
            }
        }
        Ok(address)
    }

    /// The WebSocket URL of the broker (for the WebSocket schemes).
    pub fn websocket_url(&self) -> Option<String> {
        let Link::WebSocket { path } = &self.link else { return None };
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        Some(format!("{scheme}://{host}:{}{path}", self.port))
    }
}

/// Whether `topic` is one we can publish to: not empty, no wildcards, no NUL, at most 1024
/// bytes.
pub fn is_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0']) && topic.len() <= 1024
}

fn check_topic(url: &str, topic: &str) -> Result<(), ConnectError> {
    if !is_topic_name(topic) {
        return Err(bad(url, "a topic must be a plain topic name without + or #"));
    }
    Ok(())
}

/// The topic we receive on when neither the broker nor the address names one:
/// `usp/controller/<own Endpoint ID>` (characters MQTT gives a meaning, `/ + #`, become `_`).
pub fn derived_reply_topic(own_id: &EndpointId) -> String {
    let eid: String = own_id.as_str().chars().map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c }).collect();
    format!("usp/controller/{eid}")
}

/// The topic name for an MQTT 3.1.1 PUBLISH to `topic` whose reply-to is `reply_to`
/// (R-MQTT.24/25): `<topic>/reply-to=<reply_to with "/" written as %2F>`.
pub fn with_reply_suffix(topic: &str, reply_to: &str) -> String {
    format!("{topic}/reply-to={}", reply_to.replace('/', "%2F"))
}

/// Splits an MQTT 3.1.1 topic name into the topic and the reply-to topic its last level
/// carries, if it has one.
pub fn split_reply_suffix(topic: &str) -> (&str, Option<String>) {
    match topic.rsplit_once("/reply-to=") {
        Some((t, r)) if !r.contains('/') && !r.is_empty() => (t, Some(r.replace("%2F", "/").replace("%2f", "/"))),
        _ => (topic, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_addresses() {
        let a = Address::parse("mqtt://127.0.0.1:28883/usp/agent/gw?reply-to=usp/ctl/me&version=3.1.1&client-id=c1")
            .expect("parses");
        assert_eq!((a.host.as_str(), a.port, a.tls), ("127.0.0.1", 28883, false));
        assert_eq!(a.agent_topic.as_deref(), Some("usp/agent/gw"));
        assert_eq!(a.reply_to.as_deref(), Some("usp/ctl/me"));
        assert_eq!(a.version, Version::V311);
        assert_eq!(a.client_id.as_deref(), Some("c1"));
        let a = Address::parse("mqtt://b/t?agent-id=proto%3A%3Agw-1").expect("parses");
        assert_eq!(a.agent_id.map(|e| e.to_string()).as_deref(), Some("proto::gw-1"));
        assert_eq!(a.link, Link::Tcp);
        let a = Address::parse("mqtt+wss://alice@[::1]/a%2Fb?ws-path=broker").expect("parses");
        assert_eq!((a.host.as_str(), a.port, a.tls), ("::1", 443, true));
        assert_eq!(a.username.as_deref(), Some("alice"));
        assert_eq!(a.agent_topic.as_deref(), Some("a/b"));
        assert_eq!(a.websocket_url().as_deref(), Some("wss://[::1]:443/broker"));
        let a = Address::parse("mqtts://broker").expect("parses");
        assert_eq!((a.port, a.tls, a.version, a.agent_topic, a.qos), (8883, true, Version::V5, None, 1));
        assert_eq!(
            Address::parse("mqtt+ws://b:9001").expect("parses").websocket_url().as_deref(),
            Some("ws://b:9001/mqtt")
        );
    }

    #[test]
    fn bad_addresses_say_why() {
        for (bad, words) in [
            ("mqtt://u:secret@b/t", "password"),
            ("mqtt://b/a/+", "wildcard"),
            ("mqtt://b:x/t", "port"),
            ("mqtt:///t", "host"),
            ("mqtt://b/t?version=6", "version"),
            ("mqtt://b/t?colour=red", "unknown"),
            ("ws://b", "mqtt://"),
        ] {
            let e = Address::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(words) || (words == "wildcard" && e.contains("+ or #")), "{bad}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn reply_to_suffix_round_trips() {
        let t = with_reply_suffix("usp/agent/gw", "usp/controller/self::me");
        assert_eq!(t, "usp/agent/gw/reply-to=usp%2Fcontroller%2Fself::me");
        assert_eq!(split_reply_suffix(&t), ("usp/agent/gw", Some("usp/controller/self::me".into())));
        assert_eq!(split_reply_suffix("usp/agent/gw"), ("usp/agent/gw", None));
        let eid: EndpointId = "self::a.b".parse().expect("eid");
        assert_eq!(derived_reply_topic(&eid), "usp/controller/self::a.b");
    }
}
