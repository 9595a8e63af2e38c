//! Text and addresses that come from devices: [`device_text`] (the one rule for device text shown
//! to people) and what a `ws[s]://` URL says (loopback, TLS).

/// Text a device wrote about itself (a name, an instruction), made safe to show: control and
/// invisible formatting characters removed (bidi overrides included), runs of white space made
/// one space, at most `max_chars` characters (an ellipsis marks a cut, and counts). The app's one
/// rule for device text shown to people: cards, the pairing dialog, live events, notifications.
pub fn device_text(raw: &str, max_chars: usize) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    let mut out = String::new();
    let mut count = 0usize;
    for word in raw.split(|c: char| c.is_whitespace() || hidden(c)).filter(|w| !w.is_empty()) {
        let sep = usize::from(count > 0);
        if count + sep >= max_chars {
            out.push('…');
            return out;
        }
        if sep == 1 {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count + 1 >= max_chars {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// The host of a `ws[s]://host:port/path` URL is this computer (127.0.0.0/8, ::1, localhost).
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The URL is `wss://` (TLS).
pub(crate) fn is_wss(url: &str) -> bool {
    url.trim_start().get(..6).is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_text_is_plain_and_capped() {
        assert_eq!(device_text("  Living\nroom\t gateway ", 64), "Living room gateway");
        assert_eq!(device_text("evil\u{202e}gnp.exe\u{7}", 64), "evil gnp.exe");
        let long = "x".repeat(500);
        let cut = device_text(&long, 64);
        assert_eq!(cut.chars().count(), 64);
        assert!(cut.ends_with('…'));
        assert_eq!(device_text("ab cd", 3), "ab…");
        assert_eq!(device_text("", 5), "");
    }

    #[test]
    fn loopback_and_tls_urls() {
        assert!(is_loopback_url("ws://127.0.0.1:8080/usp"));
        assert!(is_loopback_url("ws://127.9.9.9/usp"));
        assert!(is_loopback_url("ws://[::1]:80/"));
        assert!(is_loopback_url("ws://localhost:80/"));
        assert!(!is_loopback_url("ws://10.0.0.1:80/usp"));
        assert!(!is_loopback_url("ws://127.0.0.1.evil.example:80/usp"));
        assert!(!is_loopback_url("ws://[fd00::1]:80/"));
        assert!(is_wss("wss://10.0.0.1/"));
        assert!(is_wss("WSS://10.0.0.1/"));
        assert!(!is_wss("ws://10.0.0.1/"));
    }
}
