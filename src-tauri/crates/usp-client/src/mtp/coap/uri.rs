//! `coap://host[:port]/path` addresses: the agent's resource, and the `reply-to` URI-Query
//! that names ours.

use std::net::{IpAddr, SocketAddr};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// The CoAP default port (RFC 7252 §6.1).
pub const DEFAULT_PORT: u16 = 5683;

/// Characters escaped in a path segment we write (RFC 3986 `pchar` keeps `:` and `@`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A parsed `coap://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoapUri {
    /// The host as written (an IP literal without brackets, or a name).
    pub host: String,
    /// The port (5683 when none is written).
    pub port: u16,
    /// The path's segments, percent-decoded (`/usp/a` gives `["usp", "a"]`).
    pub path: Vec<String>,
}

impl CoapUri {
    /// Parses `coap://host[:port][/path]`. A query or fragment is refused: the agent's
    /// resource is only a path.
    pub fn parse(uri: &str) -> Result<CoapUri, String> {
        let rest = match uri.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("coap") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("coaps") => {
                return Err("coaps:// (CoAP over DTLS) is not supported: use coap:// on a trusted LAN".into())
            }
            _ => return Err("the address must start with coap://".into()),
        };
        if rest.contains(['?', '#']) {
            return Err("a coap:// address takes no query or fragment".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority)?;
        let path = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "the path is not UTF-8 once decoded".to_owned())?;
        Ok(CoapUri { host, port, path })
    }

    /// The URI as text, with the path's segments escaped.
    pub fn to_uri(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let mut s = format!("coap://{host}:{}", self.port);
        for seg in &self.path {
            s.push('/');
            s.extend(utf8_percent_encode(seg, SEGMENT));
        }
        if self.path.is_empty() {
            s.push('/');
        }
        s
    }

    /// The socket address when the host is an IP literal.
    pub fn ip_addr(&self) -> Option<SocketAddr> {
        self.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, self.port))
    }

    /// The URI of `addr` with `path`.
    pub fn of(addr: SocketAddr, path: Vec<String>) -> CoapUri {
        CoapUri { host: addr.ip().to_string(), port: addr.port(), path }
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    if authority.contains('@') {
        return Err("a coap:// address takes no user name".into());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the address has no host".into());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("bad port {p:?}"))?,
    };
    Ok((host.to_owned(), port))
}

/// The value of a `reply-to=` URI-Query option, parsed.
pub fn reply_to(query: &[u8]) -> Option<CoapUri> {
    let text = std::str::from_utf8(query).ok()?;
    let value = text.strip_prefix("reply-to=")?;
    let decoded = percent_decode_str(value).decode_utf8().ok()?;
    CoapUri::parse(&decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let u = CoapUri::parse("coap://127.0.0.1:5690/usp/self::ctl").expect("parses");
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 5690);
        assert_eq!(u.path, ["usp", "self::ctl"]);
        assert_eq!(u.to_uri(), "coap://127.0.0.1:5690/usp/self::ctl");
        let v6 = CoapUri::parse("coap://[::1]/a%20b").expect("parses");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", DEFAULT_PORT));
        assert_eq!(v6.to_uri(), "coap://[::1]:5683/a%20b");
        assert_eq!(v6.ip_addr(), Some("[::1]:5683".parse().expect("addr")));
        for bad in
            ["coaps://h/x", "ws://h", "coap://:5/x", "coap://h:0/x", "coap://h:x/", "coap://h/x?y", "coap://[::1/x"]
        {
            assert!(CoapUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reply_to_query() {
        let u = reply_to(b"reply-to=coap://10.0.0.2:5683/usp").expect("parses");
        assert_eq!(u.ip_addr(), Some("10.0.0.2:5683".parse().expect("addr")));
        assert!(reply_to(b"other=1").is_none());
        assert!(reply_to(b"reply-to=\xff").is_none());
    }
}
