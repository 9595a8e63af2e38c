//! Words for agents on the Home page.

use ipc_types::{AgentAuth, AgentKind};

/// What the app can do with an agent, in a few words (the `agent-…-state` text).
pub fn auth_text(auth: &AgentAuth) -> String {
    match auth {
        AgentAuth::Connecting => "Connecting…".into(),
        AgentAuth::Offline { message } if message.trim().is_empty() => "Offline".into(),
        AgentAuth::Offline { message } => format!("Offline: {}", message.trim()),
        AgentAuth::FirstUse { .. } => "New device: check and trust its certificate".into(),
        AgentAuth::CertificateChanged { .. } => "Certificate changed: check before trusting it again".into(),
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

/// The certificate fingerprint awaiting the user's trust, if any.
pub fn fingerprint_to_trust(auth: &AgentAuth) -> Option<&str> {
    match auth {
        AgentAuth::FirstUse { fingerprint } | AgentAuth::CertificateChanged { fingerprint } => Some(fingerprint),
        _ => None,
    }
}

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
}
