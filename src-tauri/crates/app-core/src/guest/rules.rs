//! Finding the guest network among every agent's WiFi networks, and what to share.
//!
//! TR-181 has no "guest" flag except the free-text EasyMesh `Type` of 2.19. So, in this order:
//! 1. an SSID whose EasyMesh `DataElements.Network.SSID.{i}.Type` mentions "guest";
//! 2. an SSID whose AccessPoint has `IsolationEnable` true (the classic guest set-up);
//! 3. the SSID the user marked by hand (kept in the settings file).
//!
//! The guest network usually exists on several radios (and agents) under one name: every
//! network with the same name found the same way is a "sibling" and is switched and re-keyed
//! together with it.

use ipc_types::GuestSource;

use crate::wifi::rules::Network;

/// A network with the agent it lives on (Endpoint ID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentNetwork {
    pub agent: String,
    pub net: Network,
}

/// The user's mark: agent + SSID path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark<'a> {
    pub agent: &'a str,
    pub ssid_path: &'a str,
}

/// The guest network found: index of the main one in the input, how, and the indices of every
/// network that belongs to it (the main one included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub main: usize,
    pub source: GuestSource,
    pub siblings: Vec<usize>,
}

/// Finds the guest network (see the module doc for the order). `nets` are in display order
/// (gateway first), so the first match is the main one.
pub fn find(nets: &[AgentNetwork], mark: Option<Mark<'_>>) -> Option<Found> {
    let by = |source: GuestSource, pred: &dyn Fn(&AgentNetwork) -> bool| -> Option<Found> {
        let main = nets.iter().position(pred)?;
        let name = &nets[main].net.ssid;
        let siblings =
            nets.iter().enumerate().filter(|(_, n)| pred(n) && n.net.ssid == *name).map(|(i, _)| i).collect();
        Some(Found { main, source, siblings })
    };
    if let Some(f) = by(GuestSource::Type, &|n| n.net.typed_guest()) {
        return Some(f);
    }
    if let Some(f) = by(GuestSource::Isolation, &|n| n.net.isolation == Some(true)) {
        return Some(f);
    }
    let mark = mark?;
    let main = nets.iter().position(|n| n.agent == mark.agent && n.net.ssid_path == mark.ssid_path)?;
    Some(Found { main, source: GuestSource::Marked, siblings: vec![main] })
}

/// Networks the user may mark as guest when none was found: one entry per agent and network
/// name (the same name on two radios of one agent is one choice).
pub fn candidates(nets: &[AgentNetwork]) -> Vec<usize> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for (i, n) in nets.iter().enumerate() {
        let key = (n.agent.as_str(), n.net.ssid.as_str());
        if !seen.contains(&key) {
            seen.push(key);
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(agent: &str, path: &str, ssid: &str, isolation: Option<bool>, ty: Option<&str>) -> AgentNetwork {
        AgentNetwork {
            agent: agent.into(),
            net: Network {
                ssid_path: path.into(),
                ssid: ssid.into(),
                isolation,
                mesh_type: ty.map(Into::into),
                ..Network::default()
            },
        }
    }

    #[test]
    fn type_then_isolation_then_mark() {
        let nets = vec![
            net("gw", "Device.WiFi.SSID.1", "Home", Some(false), Some("Fronthaul")),
            net("gw", "Device.WiFi.SSID.3", "Visitors", Some(true), None),
            net("gw", "Device.WiFi.SSID.4", "Visitors", Some(true), None),
            net("ex", "Device.WiFi.SSID.3", "Visitors", Some(true), None),
            net("gw", "Device.WiFi.SSID.5", "Party", Some(false), Some("Guest")),
        ];
        let f = find(&nets, None).expect("found");
        assert_eq!((f.main, f.source), (4, GuestSource::Type));
        assert_eq!(f.siblings, [4]);
        let f = find(&nets[..4], None).expect("found");
        assert_eq!((f.main, f.source), (1, GuestSource::Isolation));
        assert_eq!(f.siblings, [1, 2, 3]);
        let plain =
            vec![net("gw", "Device.WiFi.SSID.1", "Home", None, None), net("gw", "Device.WiFi.SSID.2", "B", None, None)];
        assert_eq!(find(&plain, None), None);
        let f = find(&plain, Some(Mark { agent: "gw", ssid_path: "Device.WiFi.SSID.2" })).expect("marked");
        assert_eq!((f.main, f.source), (1, GuestSource::Marked));
        assert_eq!(find(&plain, Some(Mark { agent: "gw", ssid_path: "Device.WiFi.SSID.9" })), None, "stale mark");
        assert_eq!(candidates(&plain), [0, 1]);
    }
}
