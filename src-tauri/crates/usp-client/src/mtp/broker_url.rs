//! The parts every broker address has (`mqtt://`, `stomp://` and their variants):
//! `scheme://[user@]host[:port][/path][?key=value&...]`, percent-decoded, with the rules both
//! broker MTPs share: a password never in the address (refused without repeating it), a host,
//! a port from 1 to 65535, IPv6 in brackets. What the path and the arguments mean is each
//! MTP's own (`mqtt::Address`, `stomp::StompAddress`).

use std::fmt;

use percent_encoding::percent_decode_str;

use crate::error::ConnectError;

/// A broker address cut into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// The scheme, lower case.
    pub scheme: String,
    /// The user name, when the address names one (never a password).
    pub user: Option<String>,
    /// The broker's host name or address (IPv6 without brackets).
    pub host: String,
    /// The port, when the address names one.
    pub port: Option<u16>,
    /// The path, percent-decoded, with its leading `/` ("" when none).
    pub path: String,
    /// The arguments after `?`, percent-decoded, in order.
    pub args: Vec<(String, String)>,
}

/// A [`ConnectError::BadUrl`] naming the address (sanitised) and what is wrong with it.
pub(crate) fn bad(url: &str, why: impl fmt::Display) -> ConnectError {
    ConnectError::BadUrl(format!("{:?}: {why}", usp_core::text::for_log(url)))
}

fn decode(url: &str, s: &str) -> Result<String, ConnectError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| bad(url, "a part is not UTF-8 after percent-decoding"))
}

impl BrokerUrl {
    /// Cuts `url` into its parts.
    ///
    /// # Errors
    /// [`ConnectError::BadUrl`] saying what is wrong; for a password in the address, without
    /// the address (it holds the password).
    pub fn parse(url: &str) -> Result<BrokerUrl, ConnectError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad(url, "no scheme"))?;
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, q),
            None => (rest, ""),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, ""),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, _)) if u.contains(':') => {
                return Err(ConnectError::BadUrl(
                    "a password does not belong in a broker's address: give it as the broker login".into(),
                ))
            }
            Some((u, h)) => (Some(decode(url, u)?).filter(|u| !u.is_empty()), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or_else(|| bad(url, "an IPv6 address without its closing ]"))?;
                match after.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None if after.is_empty() => (h, None),
                    None => return Err(bad(url, "unexpected text after the host")),
                }
            }
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            return Err(bad(url, "no broker host"));
        }
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(url, "the port is not a number from 1 to 65535"))?,
            ),
            None => None,
        };
        let mut args = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            args.push((decode(url, k)?, decode(url, v)?));
        }
        Ok(BrokerUrl {
            scheme: scheme.to_ascii_lowercase(),
            user,
            host: host.to_owned(),
            port,
            path: decode(url, path)?,
            args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_broker_address() {
        let u = BrokerUrl::parse("MQTTS://home@[fd00::1]:8883/usp/agent%2Fgw?agent-id=os::a&x=%41").expect("parses");
        assert_eq!(u.scheme, "mqtts");
        assert_eq!(u.user.as_deref(), Some("home"));
        assert_eq!((u.host.as_str(), u.port), ("fd00::1", Some(8883)));
        assert_eq!(u.path, "/usp/agent/gw");
        assert_eq!(u.args, [("agent-id".into(), "os::a".into()), ("x".into(), "A".into())]);
        let u = BrokerUrl::parse("stomp://b").expect("parses");
        assert_eq!((u.user, u.port, u.path.as_str(), u.args.len()), (None, None, "", 0));
    }

    #[test]
    fn a_password_is_refused_without_repeating_it() {
        let e = BrokerUrl::parse("mqtt://u:s3cret@b/t").expect_err("refused").to_string();
        assert!(e.contains("password") && !e.contains("s3cret"), "{e}");
        for bad in [
            "mqtt:/b",
            "mqtt://",
            "mqtt://:1883/t",
            "mqtt://b:0/t",
            "mqtt://b:70000",
            "mqtt://[::1/t",
            "mqtt://[::1]x/t",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
