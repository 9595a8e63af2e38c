//! Words for agents on the Home page.

use ipc_types::{AgentAuth, AgentKind, AgentSummary};

/// What the app can do with an agent, in a few words (the `agent-…-state` text).
pub fn auth_text(auth: &AgentAuth) -> String {
    match auth {
        AgentAuth::Connecting => "Connecting…".into(),
        AgentAuth::Offline { message } if message.trim().is_empty() => "Offline".into(),
        AgentAuth::Offline { message } => format!("Offline: {}", message.trim()),
        AgentAuth::FirstUse { .. } => "New device: check and trust its certificate".into(),
        AgentAuth::CertificateChanged { .. } => {
            "Certificate changed: not connected. The app checks again in the background".into()
        }
        AgentAuth::WrongDevice => "Not the device it claims to be: not connected".into(),
        AgentAuth::NotAuthorised { .. } => "Not authorised: add this app on the device first".into(),
        AgentAuth::Untrusted { .. } => "Not paired: pair with the passcode to manage it".into(),
        AgentAuth::Paired { role: Some(role) } => format!("Paired ({role})"),
        AgentAuth::Paired { role: None } => "Paired".into(),
    }
}

/// The state's tone, for a colour: `ok`, `warn`, `bad`, `idle`.
pub fn auth_tone(auth: &AgentAuth) -> &'static str {
    match auth {
        AgentAuth::Paired { .. } => "ok",
        AgentAuth::Untrusted { .. } | AgentAuth::FirstUse { .. } | AgentAuth::NotAuthorised { .. } => "warn",
        AgentAuth::CertificateChanged { .. } | AgentAuth::WrongDevice | AgentAuth::Offline { .. } => "bad",
        AgentAuth::Connecting => "idle",
    }
}

/// Whether the passcode dialog makes sense for this state.
pub fn can_pair(auth: &AgentAuth) -> bool {
    matches!(auth, AgentAuth::Untrusted { .. })
}

/// The certificate fingerprint awaiting the user's trust, if any: only a device's first secure
/// visit. A changed certificate is never trusted with one click ([`changed_certificate`]).
pub fn fingerprint_to_trust(auth: &AgentAuth) -> Option<&str> {
    match auth {
        AgentAuth::FirstUse { fingerprint } => Some(fingerprint),
        _ => None,
    }
}

/// A changed certificate: (the one trusted at pairing, when known; the one shown now).
pub fn changed_certificate(auth: &AgentAuth) -> Option<(Option<&str>, &str)> {
    match auth {
        AgentAuth::CertificateChanged { fingerprint, pinned } => Some((pinned.as_deref(), fingerprint)),
        _ => None,
    }
}

/// The connection in a few words and its tone (the `agent-…-link` badge).
pub fn link_badge(agent: &AgentSummary) -> (&'static str, &'static str) {
    if agent.encrypted && agent.verified {
        ("Encrypted · verified", "ok")
    } else if agent.encrypted {
        ("Encrypted", "idle")
    } else if agent.local {
        ("On this computer", "idle")
    } else {
        ("Not verified · unencrypted", "warn")
    }
}

/// What carries the connection, for the card ("MQTT · not protected end to end").
pub fn transport_text(agent: &AgentSummary) -> String {
    if agent.transport.is_empty() {
        return String::new();
    }
    let crosses_broker = agent.url.starts_with("mqtt") || agent.url.starts_with("stomp");
    match (agent.end_to_end, crosses_broker) {
        // A signed session context: the carrier says so itself ("MQTT, protected end to end").
        (true, _) if agent.transport.contains("protected end to end") => agent.transport.clone(),
        (true, _) => format!("{} · protected end to end", agent.transport),
        (false, true) => format!("{} · through a broker, not protected end to end", agent.transport),
        (false, false) => agent.transport.clone(),
    }
}

/// Whether an address typed in "Add a device" names a message broker (and may need a login).
pub fn is_broker_address(address: &str) -> bool {
    let a = address.trim_start().to_ascii_lowercase();
    ["mqtt://", "mqtts://", "mqtt+ws://", "mqtt+wss://", "stomp://", "stomps://"].iter().any(|s| a.starts_with(s))
}

/// Whether the card offers the "send passcodes and passwords unencrypted" choice.
pub fn offers_consent(agent: &AgentSummary) -> bool {
    !agent.encrypted && !agent.local
}

/// What the consent choice means, next to it.
pub const CONSENT_EXPLANATION: &str = "This device's connection is not encrypted and the app cannot check that \
    it really is the device it claims to be. Anyone on your network could read a passcode or WiFi password sent to \
    it. Allow this only on a network where you trust every device.";

/// `Gateway`, `Extender`...
pub fn kind_label(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::Gateway => "Router",
        AgentKind::Extender => "Extender",
        AgentKind::Hub => "Smart home hub",
        AgentKind::Other => "Device",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_per_state() {
        assert_eq!(auth_text(&AgentAuth::Paired { role: Some("Home User".into()) }), "Paired (Home User)");
        assert!(auth_text(&AgentAuth::Untrusted { role: None }).starts_with("Not paired"));
        assert_eq!(auth_text(&AgentAuth::Offline { message: " no answer ".into() }), "Offline: no answer");
        assert_eq!(auth_text(&AgentAuth::Offline { message: String::new() }), "Offline");
        assert_eq!(auth_tone(&AgentAuth::WrongDevice), "bad");
        assert!(can_pair(&AgentAuth::Untrusted { role: Some("Untrusted".into()) }));
        assert!(!can_pair(&AgentAuth::Paired { role: None }));
        let first = AgentAuth::FirstUse { fingerprint: "AB:CD".into() };
        assert_eq!(fingerprint_to_trust(&first), Some("AB:CD"));
        assert_eq!(fingerprint_to_trust(&AgentAuth::Connecting), None);
        assert_eq!(kind_label(AgentKind::Hub), "Smart home hub");
    }

    fn summary(encrypted: bool, verified: bool, local: bool) -> AgentSummary {
        AgentSummary {
            agent: "os::012345-GW0001".into(),
            name: "Gateway".into(),
            kind: AgentKind::Gateway,
            manufacturer: None,
            model: None,
            firmware: None,
            uptime_secs: None,
            url: "ws://10.0.0.1/usp".into(),
            auth: AgentAuth::Paired { role: None },
            remembered: true,
            encrypted,
            verified,
            local,
            allow_unencrypted: false,
            transport: String::new(),
            end_to_end: false,
        }
    }

    #[test]
    fn the_card_says_what_carries_the_connection() {
        let mut a = summary(false, false, false);
        assert_eq!(transport_text(&a), "", "nothing while not connected");
        a.transport = "WebSocket".into();
        assert_eq!(transport_text(&a), "WebSocket");
        a.url = "mqtt://10.0.0.1:1883/usp/agent/gw".into();
        a.transport = "MQTT".into();
        assert_eq!(transport_text(&a), "MQTT · through a broker, not protected end to end");
        a.end_to_end = true;
        assert_eq!(transport_text(&a), "MQTT · protected end to end");
        a.transport = "MQTT, protected end to end".into();
        assert_eq!(transport_text(&a), "MQTT, protected end to end", "said once");
        assert!(is_broker_address(" MQTT+WSS://b/x") && is_broker_address("stomp://b/q"));
        assert!(!is_broker_address("ws://10.0.0.1/usp") && !is_broker_address("coap://h/usp"));
    }

    #[test]
    fn a_changed_certificate_is_never_one_click() {
        let changed = AgentAuth::CertificateChanged { fingerprint: "NEW".into(), pinned: Some("OLD".into()) };
        assert_eq!(fingerprint_to_trust(&changed), None, "no trust button for a changed certificate");
        assert_eq!(changed_certificate(&changed), Some((Some("OLD"), "NEW")));
        assert_eq!(changed_certificate(&AgentAuth::FirstUse { fingerprint: "X".into() }), None);
        assert!(!auth_text(&changed).contains("keeps trying"));
        assert_eq!(auth_tone(&changed), "bad");
    }

    #[test]
    fn the_link_is_said_plainly() {
        assert_eq!(link_badge(&summary(false, false, false)), ("Not verified · unencrypted", "warn"));
        assert!(offers_consent(&summary(false, false, false)));
        assert_eq!(link_badge(&summary(true, true, false)).0, "Encrypted · verified");
        assert!(!offers_consent(&summary(true, true, false)));
        assert_eq!(link_badge(&summary(false, false, true)).0, "On this computer");
        assert!(!offers_consent(&summary(false, false, true)));
    }
}
