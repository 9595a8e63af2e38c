//! Discovery: browsing mDNS on the chosen interfaces, and what an advert means for the agents
//! (a new agent, a known one at a new address, or an impostor shown apart).

use ipc_types::{AgentAuth, Topic};
use usp_client::discovery::{DiscoveryEvent, Interfaces, Mtp};

use crate::home::{device_text, interfaces_text, is_wss, lock, DiscoveryRun, Home, MAX_DISCOVERED, MAX_NAME_CHARS};

impl Home {
    /// Starts browsing on `interfaces` (replacing a running browse).
    pub(crate) fn start_discovery(&self, interfaces: Interfaces) {
        *lock(&self.inner.interfaces) = interfaces_text(&interfaces);
        self.stop_discovery();
        if self.is_stopped() {
            return;
        }
        match crate::platform::start_discovery(interfaces) {
            Ok(mut d) => {
                if let Some(mut rx) = d.take_events() {
                    let home = self.clone();
                    let task = tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            home.on_discovery(event);
                        }
                    });
                    *lock(&self.inner.discovery) = Some(DiscoveryRun { discovery: d, task });
                }
            }
            Err(e) => tracing::warn!(error = %e, "discovery is not available; only known agents are used"),
        }
        self.changed(&[Topic::Home]);
    }

    /// Stops browsing (known agents stay).
    pub(crate) fn stop_discovery(&self) {
        let run = lock(&self.inner.discovery).take();
        if let Some(run) = run {
            run.task.abort();
            run.discovery.stop();
        }
    }

    pub(super) fn on_discovery(&self, event: DiscoveryEvent) {
        /// What an advert means for the agents.
        enum Act {
            /// An advert that pretends to be a known agent (a plain-ws advert for a secure one, or
            /// another address for one paired and connected here): refused, shown apart, with why.
            Impostor(&'static str),
            /// A known agent at a new address: reconnect.
            Restart,
            /// Name or subtype changed.
            Changed,
            /// A new agent.
            New,
            /// Too many discovered agents already.
            Full,
        }
        match event {
            DiscoveryEvent::Appeared(a) | DiscoveryEvent::Updated(a) if a.mtp != Mtp::Ws => self.on_other_mtp(a),
            DiscoveryEvent::Appeared(a) | DiscoveryEvent::Updated(a) => {
                let Some(url) = a.url.clone() else {
                    tracing::debug!(eid = %a.endpoint_id, "agent without a usable WebSocket address skipped");
                    return;
                };
                let eid = a.endpoint_id.as_str().to_owned();
                let name = a.name.as_deref().map(|n| device_text(n, MAX_NAME_CHARS)).filter(|n| !n.is_empty());
                let subtypes: Vec<String> = a.subtypes.iter().take(4).map(|s| device_text(s, 64)).collect();
                let act = self.with_agents(|m| {
                    let full = !m.contains_key(&eid) && m.values().filter(|e| e.discovered).count() >= MAX_DISCOVERED;
                    match m.get_mut(&eid) {
                        Some(e) if e.secure && !is_wss(&url) => Act::Impostor("an advert without encryption"),
                        // A paired device is connected right here: an advert for it elsewhere is
                        // not its move (a genuine move comes after it went offline).
                        Some(e) if e.is_paired() && !same_place(&e.url, &url) => {
                            Act::Impostor("an advert at another address while it is connected here")
                        }
                        Some(e) => {
                            e.mdns_name = name.clone().or(e.mdns_name.take());
                            e.subtypes = subtypes.clone();
                            e.announced = true;
                            if e.url != url && !e.connected {
                                e.url = url.clone();
                                Act::Restart
                            } else {
                                Act::Changed
                            }
                        }
                        None if full => Act::Full,
                        None => Act::New,
                    }
                });
                match act {
                    Act::Impostor(how) => self.record_impostor(&eid, &url, how),
                    Act::Restart => {
                        let home = self.clone();
                        tokio::spawn(async move { home.restart_connection(&eid).await });
                        self.changed(&[Topic::Home]);
                    }
                    Act::Changed => self.changed(&[Topic::Home]),
                    Act::Full => {
                        let n = self.inner.dropped_adverts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n == 0 {
                            tracing::warn!(max = MAX_DISCOVERED, "too many devices announce themselves; ignoring more");
                        }
                    }
                    Act::New => {
                        tracing::info!(eid, %url, "agent discovered");
                        self.add_agent(&eid, &url, |e| {
                            e.mdns_name = name;
                            e.subtypes = subtypes;
                            e.announced = true;
                            e.discovered = true;
                        });
                    }
                }
            }
            DiscoveryEvent::Disappeared { endpoint_id, mtp: Mtp::Ws } => {
                let eid = endpoint_id.as_str();
                self.with_agent(eid, |e| {
                    e.announced = false;
                    if !e.connected && matches!(e.auth, AgentAuth::Connecting | AgentAuth::Offline { .. }) {
                        e.auth = AgentAuth::Offline { message: "It no longer announces itself on the network.".into() };
                    }
                });
                self.changed(&[Topic::Home]);
            }
            DiscoveryEvent::Disappeared { endpoint_id, mtp } => {
                if self.with_agent(endpoint_id.as_str(), |e| e.alternates.remove(&mtp).is_some()) == Some(true) {
                    self.changed(&[Topic::Home]);
                }
            }
            DiscoveryEvent::Skipped { instance, reason } => {
                tracing::debug!(instance = %device_text(&instance, 200), reason = %device_text(&reason, 300), "mDNS instance skipped");
            }
        }
    }
}

impl Home {
    /// An advert over another MTP than WebSocket (MQTT or STOMP through a broker, CoAP): for a
    /// known agent, another way to reach it when its address fails; an agent heard only so is
    /// added with it. A secure agent (encrypted, its certificate pinned) is never reached
    /// through a broker, whose path cannot prove who answers.
    fn on_other_mtp(&self, a: usp_client::discovery::DiscoveredAgent) {
        let Some(url) = a.url.clone() else {
            tracing::debug!(eid = %a.endpoint_id, mtp = ?a.mtp, "advert without a usable address skipped");
            return;
        };
        let eid = a.endpoint_id.as_str().to_owned();
        let known = self.with_agents(|m| match m.get_mut(&eid) {
            Some(e) if e.secure => Some(false),
            Some(e) => {
                let changed = e.alternates.get(&a.mtp) != Some(&url);
                e.alternates.insert(a.mtp, url.clone());
                Some(changed)
            }
            None => None,
        });
        match known {
            Some(true) => self.changed(&[Topic::Home]),
            Some(false) => {}
            None => {
                let full = self.with_agents(|m| m.values().filter(|e| e.discovered).count() >= MAX_DISCOVERED);
                if full {
                    self.inner.dropped_adverts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                let name = a.name.as_deref().map(|n| device_text(n, MAX_NAME_CHARS)).filter(|n| !n.is_empty());
                tracing::info!(eid, url = %device_text(&url, 200), "agent discovered (over {:?})", a.mtp);
                self.add_agent(&eid, &url, |e| {
                    e.mdns_name = name;
                    e.announced = true;
                    e.discovered = true;
                });
            }
        }
    }
}

/// Two URLs name the same host and port (`localhost` and 127.0.0.1 count as one).
fn same_place(a: &str, b: &str) -> bool {
    let place = |u: &str| {
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or("").to_ascii_lowercase();
        authority.replace("localhost", "127.0.0.1")
    };
    place(a) == place(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_compare_by_host_and_port() {
        assert!(same_place("ws://127.0.0.1:8080/usp", "ws://localhost:8080/"));
        assert!(same_place("wss://10.0.0.1:443/usp", "ws://10.0.0.1:443/other"));
        assert!(!same_place("ws://10.0.0.1:8080/usp", "ws://10.0.0.2:8080/usp"));
        assert!(!same_place("ws://10.0.0.1:8080/usp", "ws://10.0.0.1:8081/usp"));
    }
}
