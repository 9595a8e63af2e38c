//! Advertising the simulated agents over mDNS / DNS-SD, as real USP agents do (SPEC-DIS):
//! `<EndpointID>._usp-agt-ws._tcp.local.` with the agent's port, a host
//! `usp-sim-<key>.local.`, TXT `path`, `name` (and `encrypt` for `wss://` agents) and a
//! subtype by kind of device.
//!
//! The daemon is always confined to the [`Interfaces`] given: tests and demos pass
//! [`Interfaces::Loopback`] (or a test namespace's veth), never the real LAN.

use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
pub use usp_client::discovery::Interfaces;
use usp_client::discovery::{DiscoveryError, SERVICE_MQTT, SERVICE_STOMP, SERVICE_WS};

/// How long [`Advertiser::shutdown`] waits for each goodbye to be sent.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Why advertising failed.
#[derive(Debug, thiserror::Error)]
pub enum AdvertiseError {
    /// The daemon could not start or be confined.
    #[error(transparent)]
    Daemon(#[from] DiscoveryError),
    /// A record could not be built or registered.
    #[error("mDNS registration of {instance:?}: {source}")]
    Register {
        /// The instance (Endpoint ID).
        instance: String,
        /// What mdns-sd said.
        #[source]
        source: mdns_sd::Error,
    },
}

/// The DNS-SD subtype label advertised for an agent of the built-in scenario keys.
pub fn subtype_for(key: &str) -> Option<&'static str> {
    match key {
        "gateway" => Some("_gateway"),
        "extender" => Some("_mesh-extender"),
        "hub" => Some("_iot-device"),
        _ => None,
    }
}

/// One advert exactly as any device on the network (or an attacker) may send it: an Endpoint
/// ID as instance name, a `ws://` or `wss://` URL (its IP, port and path; `wss://` adds the
/// TXT `encrypt` key), or a broker's `mqtt(s)://` or `stomp(s)://` URL (`_usp-agt-mqtt._tcp`,
/// `_usp-agt-stomp._tcp`: the broker's IP and port, the agent's topic or destination as the
/// path), and optionally a subtype and a TXT `name`. Nothing needs to listen at the URL. Parsed from `EID=URL[,SUBTYPE][,name=NAME]`, e.g.
/// `os::012345-GW0001=ws://10.0.0.66:8080/usp,_gateway,name=Living room gateway`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAdvert {
    /// The instance name (any Endpoint ID, e.g. a genuine device's).
    pub endpoint_id: String,
    /// Where it says the agent is: `ws[s]://IP:PORT/path` (an IP literal).
    pub url: String,
    /// A DNS-SD subtype label such as `_gateway`.
    pub subtype: Option<String>,
    /// TXT `name`.
    pub name: Option<String>,
}

impl RawAdvert {
    /// The DNS-SD service type of the URL's scheme.
    pub fn service(&self) -> &'static str {
        match self.url.split_once("://").map(|(scheme, _)| scheme) {
            Some("mqtt" | "mqtts") => SERVICE_MQTT,
            Some("stomp" | "stomps") => SERVICE_STOMP,
            _ => SERVICE_WS,
        }
    }

    /// `(encrypt, ip, port, path)` of the URL.
    ///
    /// # Errors
    /// A message when the URL is not `ws[s]://IP:PORT[/path]`.
    pub fn parts(&self) -> Result<(bool, std::net::IpAddr, u16, String), String> {
        let (scheme, rest) = self.url.split_once("://").ok_or("expected ws://IP:PORT/path")?;
        let encrypt = match scheme {
            "ws" | "mqtt" | "stomp" => false,
            "wss" | "mqtts" | "stomps" => true,
            _ => return Err("the scheme must be ws, wss, mqtt, mqtts, stomp or stomps".to_owned()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let addr: std::net::SocketAddr =
            authority.parse().map_err(|_| format!("{authority:?} is not IP:PORT (e.g. 10.0.0.66:8080)"))?;
        Ok((encrypt, addr.ip(), addr.port(), path.to_owned()))
    }
}

impl std::str::FromStr for RawAdvert {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (eid, rest) = s.split_once('=').ok_or("expected EID=URL[,SUBTYPE][,name=NAME]")?;
        let mut fields = rest.split(',');
        let url = fields.next().unwrap_or("").trim().to_owned();
        let mut advert = RawAdvert { endpoint_id: eid.trim().to_owned(), url, subtype: None, name: None };
        for f in fields {
            match f.split_once('=') {
                Some(("name", n)) => advert.name = Some(n.to_owned()),
                Some(_) => return Err(format!("unknown field {f:?}")),
                None => advert.subtype = Some(f.trim().to_owned()),
            }
        }
        advert.parts()?;
        if advert.endpoint_id.is_empty() {
            return Err("the Endpoint ID is empty".to_owned());
        }
        Ok(advert)
    }
}

/// What is announced of one simulated agent (the home builds it from its agent handles).
#[derive(Debug, Clone, Copy)]
pub struct AgentAdvert<'a> {
    /// Scenario key ("gateway", …): the subtype and host name come from it.
    pub key: &'a str,
    /// The instance name.
    pub endpoint_id: &'a usp_core::EndpointId,
    /// `ws://…` or `wss://…` (`encrypt` in the TXT record for the latter).
    pub url: &'a str,
    /// The WebSocket path (TXT `path`).
    pub path: &'a str,
    /// TXT `name`.
    pub friendly_name: &'a str,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

/// A confined mDNS daemon and the agent instances it has registered.
pub struct Advertiser {
    daemon: ServiceDaemon,
    interfaces: Interfaces,
    registered: Vec<String>,
    stopped: bool,
}

impl Advertiser {
    /// Starts a daemon confined to `interfaces`.
    ///
    /// # Errors
    /// When the daemon cannot start or be confined.
    pub fn start(interfaces: &Interfaces) -> Result<Advertiser, AdvertiseError> {
        let daemon = interfaces.daemon()?;
        Ok(Advertiser { daemon, interfaces: interfaces.clone(), registered: Vec::new(), stopped: false })
    }

    /// Registers `agent` (its Endpoint ID as instance name, its port, FriendlyName and
    /// path); `encrypt` is set when its URL is `wss://`.
    ///
    /// # Errors
    /// When the record cannot be built (TXT too long, …) or the daemon is gone.
    pub fn register(&mut self, agent: &AgentAdvert<'_>) -> Result<(), AdvertiseError> {
        let instance = agent.endpoint_id.as_str();
        let err = |source| AdvertiseError::Register { instance: instance.to_owned(), source };
        let ty = match subtype_for(agent.key) {
            Some(sub) => format!("{sub}._sub.{SERVICE_WS}"),
            None => SERVICE_WS.to_owned(),
        };
        let host: String = agent
            .key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let host = format!("usp-sim-{host}.local.");
        let mut txt: Vec<mdns_sd::TxtProperty> =
            vec![("path", agent.path).into(), ("name", agent.friendly_name).into()];
        if agent.url.starts_with("wss://") {
            // A key without `=`: the boolean form of R-DIS.11a.
            txt.push("encrypt".into());
        }
        let port = agent.addr.port();
        let agent_addr = agent.addr;
        let info = match &self.interfaces {
            Interfaces::Loopback => {
                let ip = agent_addr.ip();
                let ip = if ip.is_loopback() { ip } else { std::net::IpAddr::from([127, 0, 0, 1]) };
                ServiceInfo::new(&ty, instance, &host, ip, port, txt).map_err(err)?
            }
            Interfaces::Named(names) => {
                let mut info = ServiceInfo::new(&ty, instance, &host, (), port, txt).map_err(err)?.enable_addr_auto();
                info.set_interfaces(names.iter().map(|n| IfKind::Name(n.clone())).collect());
                info
            }
            Interfaces::AllLan => {
                ServiceInfo::new(&ty, instance, &host, (), port, txt).map_err(err)?.enable_addr_auto()
            }
        };
        let fullname = info.get_fullname().to_owned();
        self.daemon.register(info).map_err(err)?;
        self.registered.push(fullname);
        Ok(())
    }

    /// Registers a [`RawAdvert`] (what a rogue device would announce), on this advertiser's
    /// interfaces. Host names are `usp-adv-<n>.local.`, one per advert.
    ///
    /// # Errors
    /// A bad URL, or a record mdns-sd refuses.
    pub fn register_raw(&mut self, advert: &RawAdvert) -> Result<(), AdvertiseError> {
        let instance = advert.endpoint_id.as_str();
        let err = |source| AdvertiseError::Register { instance: instance.to_owned(), source };
        let (encrypt, ip, port, path) =
            advert.parts().map_err(|m| err(mdns_sd::Error::Msg(format!("bad advert URL {:?}: {m}", advert.url))))?;
        let ty = match &advert.subtype {
            Some(sub) => format!("{sub}._sub.{}", advert.service()),
            None => advert.service().to_owned(),
        };
        let host = format!("usp-adv-{}.local.", self.registered.len());
        let mut txt: Vec<mdns_sd::TxtProperty> = vec![("path", path.as_str()).into()];
        if let Some(name) = &advert.name {
            txt.push(("name", name.as_str()).into());
        }
        if encrypt {
            txt.push("encrypt".into());
        }
        let mut info = ServiceInfo::new(&ty, instance, &host, ip, port, txt).map_err(err)?;
        if let Interfaces::Named(names) = &self.interfaces {
            info.set_interfaces(names.iter().map(|n| IfKind::Name(n.clone())).collect());
        }
        // A rogue device does not probe for a name that is taken (and then rename itself, as a
        // polite responder does): it announces the genuine device's name as its own.
        info.set_requires_probe(false);
        let fullname = info.get_fullname().to_owned();
        // Many adverts at once fill the daemon's command queue: wait for it (bounded).
        let mut tries = 0u32;
        loop {
            match self.daemon.register(info.clone()) {
                Err(mdns_sd::Error::Again) if tries < 2000 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
                other => {
                    other.map_err(err)?;
                    break;
                }
            }
        }
        self.registered.push(fullname);
        Ok(())
    }

    /// The full names registered so far.
    pub fn registered(&self) -> &[String] {
        &self.registered
    }

    /// Unregisters every instance (sending goodbye packets), waits for them to go out
    /// (at most a couple of seconds each), then stops the daemon.
    pub async fn shutdown(mut self) {
        for fullname in std::mem::take(&mut self.registered) {
            match self.daemon.unregister(&fullname) {
                Ok(status) => {
                    if tokio::time::timeout(GOODBYE_WAIT, status.recv_async()).await.is_err() {
                        tracing::warn!(%fullname, "mDNS goodbye not confirmed in time");
                    }
                }
                Err(e) => tracing::warn!(%fullname, "mDNS unregister: {e}"),
            }
        }
        self.stop_daemon();
    }

    fn stop_daemon(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = self.daemon.shutdown();
        }
    }
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertiser")
            .field("interfaces", &self.interfaces)
            .field("registered", &self.registered)
            .finish()
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Instant;

    use mdns_sd::ServiceEvent;

    use super::*;
    use crate::scenario::Scenario;
    use crate::{Home, HomeConfig};

    /// The first browse event that `wanted` picks, before `deadline`.
    async fn next_event<T>(
        events: &mdns_sd::Receiver<ServiceEvent>,
        deadline: Instant,
        mut wanted: impl FnMut(ServiceEvent) -> Option<T>,
    ) -> T {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(found) = wanted(tokio::time::timeout(left, events.recv_async()).await.unwrap().unwrap()) {
                return found;
            }
        }
    }

    /// The service `fullname`, once resolved (before `deadline`).
    async fn resolved(
        events: &mdns_sd::Receiver<ServiceEvent>,
        deadline: Instant,
        fullname: &str,
    ) -> Box<mdns_sd::ResolvedService> {
        next_event(events, deadline, |e| match e {
            ServiceEvent::ServiceResolved(s) if s.fullname == fullname => Some(s),
            _ => None,
        })
        .await
    }

    #[test]
    fn raw_adverts_parse() {
        let a: RawAdvert =
            "os::012345-GW0001=ws://10.0.0.66:8080/usp,_gateway,name=Living room gateway".parse().unwrap();
        assert_eq!(a.endpoint_id, "os::012345-GW0001");
        assert_eq!(a.subtype.as_deref(), Some("_gateway"));
        assert_eq!(a.name.as_deref(), Some("Living room gateway"));
        let (enc, ip, port, path) = a.parts().unwrap();
        assert_eq!((enc, ip.to_string().as_str(), port, path.as_str()), (false, "10.0.0.66", 8080, "/usp"));
        assert!("x=wss://[::1]:443/".parse::<RawAdvert>().unwrap().parts().unwrap().0);
        let broker: RawAdvert = "x=mqtts://10.0.0.66:8883/usp/agent/gw".parse().unwrap();
        assert_eq!((broker.service(), broker.parts().unwrap().0), (SERVICE_MQTT, true));
        for bad in [
            "nourl",
            "e=http://1.2.3.4:1/",
            "e=coap://1.2.3.4:1/",
            "e=ws://host:80/",
            "=ws://1.2.3.4:1/",
            "e=ws://1.2.3.4:1/,x=y",
        ] {
            assert!(bad.parse::<RawAdvert>().is_err(), "{bad}");
        }
    }

    #[test]
    fn subtypes_by_key() {
        assert_eq!(subtype_for("gateway"), Some("_gateway"));
        assert_eq!(subtype_for("hub"), Some("_iot-device"));
        assert_eq!(subtype_for("garage"), None);
    }

    /// The records on loopback, read with a bare mdns-sd browser (also confined).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agents_are_advertised_on_loopback_and_leave_on_shutdown() {
        let mut scenario = Scenario::builtin();
        scenario.agents.truncate(1);
        let eid = format!("proto::usph-adv-{}", std::process::id());
        scenario.agents[0].endpoint_id = eid.clone();
        let browser = Interfaces::Loopback.daemon().unwrap();
        let events = browser.browse(SERVICE_WS).unwrap();
        let mut config = HomeConfig::new(scenario);
        config.advertise = Some(Interfaces::Loopback);
        let home = Home::start(config).await.unwrap();
        let gw = home.agents()[0].clone();
        let fullname = format!("{eid}.{SERVICE_WS}");
        let deadline = Instant::now() + Duration::from_secs(5);
        let resolved = resolved(&events, deadline, &fullname).await;
        assert_eq!(resolved.port, gw.addr.port());
        assert_eq!(resolved.host, "usp-sim-gateway.local.");
        assert_eq!(resolved.txt_properties.get_property_val_str("path"), Some("/usp"));
        assert_eq!(resolved.txt_properties.get_property_val_str("name"), Some(gw.friendly_name.as_str()));
        assert!(resolved.txt_properties.get("encrypt").is_none());
        assert_eq!(resolved.sub_ty_domain.as_deref(), Some("_gateway._sub._usp-agt-ws._tcp.local."));
        let addrs: Vec<_> = resolved.addresses.iter().map(mdns_sd::ScopedIp::to_ip_addr).collect();
        assert_eq!(addrs, [std::net::IpAddr::from([127, 0, 0, 1])]);
        home.shutdown().await;
        next_event(&events, deadline, |e| match e {
            ServiceEvent::ServiceRemoved(_, name) if name == fullname => Some(()),
            _ => None,
        })
        .await;
        let _ = browser.shutdown();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wss_agents_advertise_encrypt() {
        let mut scenario = Scenario::builtin();
        scenario.agents.retain(|a| a.key == "hub");
        let eid = format!("proto::usph-adv-tls-{}", std::process::id());
        scenario.agents[0].endpoint_id = eid.clone();
        let browser = Interfaces::Loopback.daemon().unwrap();
        let events = browser.browse(SERVICE_WS).unwrap();
        let mut config = HomeConfig::new(scenario);
        config.tls = Some(crate::TlsMode::self_signed());
        config.advertise = Some(Interfaces::Loopback);
        let mut home = Home::start(config).await.unwrap();
        assert!(home.agents()[0].url.starts_with("wss://"));
        let fullname = format!("{eid}.{SERVICE_WS}");
        let deadline = Instant::now() + Duration::from_secs(5);
        let resolved = resolved(&events, deadline, &fullname).await;
        assert_eq!(resolved.txt_properties.get_property_val("encrypt"), Some(None));
        assert_eq!(resolved.sub_ty_domain.as_deref(), Some("_iot-device._sub._usp-agt-ws._tcp.local."));
        // Advertising again replaces the records (goodbyes first), then shutdown says goodbye.
        home.advertise(&Interfaces::Loopback).await.unwrap();
        home.shutdown().await;
        let _ = browser.shutdown();
    }
}
