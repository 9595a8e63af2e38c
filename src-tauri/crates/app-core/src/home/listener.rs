//! Devices that connect to usp-home (agent-initiated WebSocket): the listener setting, the
//! address and Endpoint ID to enter in the device, and dialling devices joining the home like
//! discovered ones. The same trust and pairing flow follows: over `wss://` an unknown
//! certificate is a first use the person compares and trusts (`trust_agent`), a changed one is
//! refused; then the device's passcode pairs the app as for any other device.
//!
//! While it listens, usp-home also opens its CoAP endpoint on the same port number (UDP) and
//! interfaces: the address a CoAP device is configured to send its Notifies to. The sessions
//! with every CoAP device then go through it; without it each session has a socket of its own
//! and a device's Notifies, sent to its configured address, are lost.
//!
//! Over `wss://` the listener presents a certificate of its own: this app's Endpoint ID and key
//! (so a pin of this app's public key holds), naming the addresses it listens on (IP addresses,
//! `localhost` and this computer's host name), since devices check the address they dialled
//! against it. It is kept in the vault beside the identity and made again only when it does not
//! name every address the listener is on (the setting changed, or the computer has a new
//! address), so the copy in a device's trust store stays valid as long as it can.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ipc_types::{ListenerSettings, ListenerView, Topic};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use usp_client::listen::{Listener, ListenerConfig, ListenerEvent, ListenerTls};
use usp_client::mtp::coap::CoapEndpoint;
use usp_client::mtp::Connector;
use usp_client::tls::{AgentTrust, Identity, PinStore};
use usp_core::EndpointId;

use super::{lock, AppResult, Home, ListenerSetting, MAX_DISCOVERED};
use crate::identity::ControllerIdentity;
use crate::secret::Secret;
use crate::vault::{SecretKind, Vault};

/// Vault id (kind [`SecretKind::ControllerKey`], beside this app's certificate and key) of the
/// listener's certificate (DER); its key is the identity's.
pub const LISTENER_CERT_ID: &str = "listener.cert";

/// The running listener (and the task that follows its events) and the certificate it
/// presents, or why it is not running.
#[derive(Default)]
pub(super) struct ListenerState {
    run: Option<(Arc<Listener>, JoinHandle<()>)>,
    certificate: Option<Identity>,
    error: Option<String>,
    /// usp-home's CoAP endpoint (see the module docs), or why it could not open.
    coap: Option<CoapEndpoint>,
    coap_error: Option<String>,
}

/// Our CoAP resource's path (short: the reference agent keeps at most 110 characters of it).
pub const COAP_PATH: &str = "/usp";

/// The port devices dial when the person gives none; TR-181 has no default for the
/// controller's side, and 8443 is the agents' own server default, so another one.
pub const DEFAULT_PORT: u16 = 8444;

impl Home {
    /// `listener`: whether usp-home listens for devices that connect to it, and what to enter
    /// in such a device (the address and usp-home's Endpoint ID).
    ///
    /// # Errors
    /// None today; the result type is the commands'.
    pub async fn listener(&self) -> AppResult<ListenerView> {
        let setting = self.store().read(|d| d.listener).unwrap_or(ListenerSetting {
            enabled: false,
            port: DEFAULT_PORT,
            all_interfaces: false,
        });
        let (listener, certificate, error, coap, coap_error) = {
            let state = lock(&self.inner.listener);
            (
                state.run.as_ref().map(|(l, _)| l.clone()),
                state.certificate.clone(),
                state.error.clone(),
                state.coap.clone(),
                state.coap_error.clone(),
            )
        };
        let (port_in_use, urls) = match &listener {
            Some(l) => (l.local_addr().port(), urls_of(l, setting.all_interfaces)),
            None => (0, Vec::new()),
        };
        let coap_urls = match &coap {
            Some(c) => hosts(setting.all_interfaces).into_iter().map(|ip| c.uri_for(ip)).collect(),
            None => Vec::new(),
        };
        Ok(ListenerView {
            enabled: setting.enabled,
            port: setting.port,
            port_in_use,
            all_interfaces: setting.all_interfaces,
            url_qr_svg: urls.first().map(|u| crate::qr::svg(u)).unwrap_or_default(),
            urls,
            endpoint_id: self.identity().eid().to_string(),
            error,
            coap_urls,
            coap_error,
            coap_sessions: coap.as_ref().map_or(0, CoapEndpoint::sessions),
            certificate_pem: certificate.as_ref().map(Identity::cert_pem).unwrap_or_default(),
            certificate_sha256: certificate.map(|c| c.fingerprint().to_string()).unwrap_or_default(),
        })
    }

    /// `listener_set`: listen (or stop) for devices that connect to usp-home, on this port, on
    /// this computer only or on every interface; saved, and applied at once.
    ///
    /// # Errors
    /// [`super::AppError::Internal`] when the setting can't be saved. A port that can't be used
    /// is not an error: the view says why it is not listening.
    pub async fn listener_set(&self, args: ListenerSettings) -> AppResult<ListenerView> {
        let setting = ListenerSetting { enabled: args.enabled, port: args.port, all_interfaces: args.all_interfaces };
        self.store().update(|d| d.listener = Some(setting))?;
        self.stop_listener();
        if setting.enabled {
            self.start_listener(setting).await;
        }
        tracing::info!(?setting, "listener for devices that connect to usp-home changed");
        self.restart_dialled().await;
        self.restart_coap().await;
        self.changed(&[Topic::Settings, Topic::Home]);
        self.listener().await
    }

    /// Starts listening with `setting` (`wss://` with this app's identity and the pins of the
    /// vault, and `ws://` on the same port).
    pub(super) async fn start_listener(&self, setting: ListenerSetting) {
        let ip =
            if setting.all_interfaces { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
        let mut config = ListenerConfig::new(SocketAddr::new(ip, setting.port), self.identity().eid().clone());
        let (vault, identity) = (self.inner.vault.clone(), self.identity().clone());
        let all = setting.all_interfaces;
        let certificate = tokio::task::spawn_blocking(move || listener_certificate(&vault, &identity, all))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot make the listener's certificate");
                self.identity().tls().clone()
            });
        config.tls = Some(ListenerTls {
            identity: certificate.clone(),
            trust: AgentTrust::new(self.pins().clone() as Arc<dyn PinStore>),
        });
        config.allow_plain = true;
        let state = match Listener::bind(config).await {
            Ok(listener) => {
                let listener = Arc::new(listener);
                let task = tokio::spawn(self.clone().follow_listener(listener.events()));
                ListenerState {
                    run: Some((listener, task)),
                    certificate: Some(certificate),
                    ..ListenerState::default()
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, port = setting.port, "cannot listen for devices that connect to usp-home");
                ListenerState {
                    error: Some(format!("usp-home cannot listen on port {}: {e}. Choose another port.", setting.port)),
                    ..ListenerState::default()
                }
            }
        };
        // CoAP on the same port number (the one in use when the setting leaves it free).
        let port = state.run.as_ref().map_or(setting.port, |(l, _)| l.local_addr().port());
        let (coap, coap_error) = match CoapEndpoint::bind(
            SocketAddr::new(ip, port),
            COAP_PATH,
            usp_core::wire::Limits::controller(),
        )
        .await
        {
            Ok(endpoint) => (Some(endpoint), None),
            Err(e) => {
                tracing::warn!(error = %e, port, "cannot open usp-home's CoAP endpoint");
                (None, Some(format!("usp-home cannot receive CoAP on UDP port {port}: {e}. Choose another port.")))
            }
        };
        *lock(&self.inner.listener) = ListenerState { coap, coap_error, ..state };
    }

    /// usp-home's CoAP endpoint, while it listens.
    pub(crate) fn coap_endpoint(&self) -> Option<CoapEndpoint> {
        lock(&self.inner.listener).coap.clone()
    }

    /// Reconnects the CoAP devices (the endpoint changed).
    async fn restart_coap(&self) {
        let coap: Vec<String> = self.with_agents(|m| {
            m.values()
                .filter(|e| {
                    std::iter::once(&e.url)
                        .chain(e.alternates.values())
                        .any(|u| usp_client::mtp::carrier_of(u).is_ok_and(|c| c.mtp == usp_client::mtp::Mtp::Coap))
                })
                .map(|e| e.eid.clone())
                .collect()
        });
        for eid in coap {
            self.restart_connection(&eid).await;
        }
    }

    /// Stops listening.
    pub(super) fn stop_listener(&self) {
        let old = std::mem::take(&mut *lock(&self.inner.listener));
        if let Some((_, task)) = old.run {
            task.abort();
        }
    }

    /// Waits for `agent` at the listener, when it runs.
    pub(crate) fn dialled_connector(&self, agent: EndpointId) -> Option<Arc<dyn Connector>> {
        lock(&self.inner.listener).run.as_ref().map(|(l, _)| l.connector_for(agent))
    }

    async fn follow_listener(self, mut events: broadcast::Receiver<ListenerEvent>) {
        loop {
            match events.recv().await {
                Ok(ListenerEvent::Dialled { agent, address, fingerprint, .. }) => {
                    self.on_dialled(&agent, address, fingerprint.is_some())
                }
                Ok(ListenerEvent::Refused { .. }) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// A device connected: a new one joins the home (its card then offers trust and pairing);
    /// a device found otherwise keeps its own address.
    fn on_dialled(&self, agent: &EndpointId, address: SocketAddr, tls: bool) {
        let eid = agent.to_string();
        match self.with_agent(&eid, |e| e.dialled) {
            Some(_) => {}
            None => {
                let dialled = self.with_agents(|m| m.values().filter(|e| e.dialled).count());
                if dialled >= MAX_DISCOVERED && !self.drop_stale_dialled() {
                    tracing::debug!(agent = %eid, "too many devices connect to usp-home; not adding another");
                    return;
                }
                // Its card shows where it connects from.
                let url = format!("{}://{}/", if tls { "wss" } else { "ws" }, SocketAddr::new(address.ip(), 0).ip());
                tracing::info!(agent = %eid, %address, tls, "a device connected to usp-home");
                self.add_agent(&eid, &url, |e| e.dialled = true);
            }
        }
    }

    /// Makes room for a new dialling device: drops one that is neither connected, paired nor
    /// remembered (a device that dialled once, or a made-up one). False when there is none.
    fn drop_stale_dialled(&self) -> bool {
        let candidates: Vec<String> = self.with_agents(|m| {
            m.values().filter(|e| e.dialled && !e.connected && !e.is_paired()).map(|e| e.eid.clone()).collect()
        });
        let Some(stale) = candidates.into_iter().find(|eid| self.saved_url(eid).is_none()) else { return false };
        let client = self.with_agents(|m| m.remove(&stale).and_then(|mut e| e.disconnect()));
        if let Some(client) = client {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), client.close()).await;
            });
        }
        tracing::debug!(agent = %stale, "dropped a device that connected to usp-home once, to make room");
        true
    }

    /// Reconnects the devices that connect to usp-home (the listener changed).
    async fn restart_dialled(&self) {
        let dialled: Vec<String> =
            self.with_agents(|m| m.values().filter(|e| e.dialled).map(|e| e.eid.clone()).collect());
        for eid in dialled {
            self.restart_connection(&eid).await;
        }
    }
}

/// What the listener's certificate must name: the IP addresses it listens on (127.0.0.1, and
/// with `all_interfaces` ::1 and every address of this computer but link-local ones), and
/// `localhost` with this computer's host name (and `NAME.local`) when it has one.
fn listen_names(all_interfaces: bool) -> (Vec<IpAddr>, Vec<String>) {
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if all_interfaces {
        ips.push(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST));
        if let Ok(ifs) = if_addrs::get_if_addrs() {
            ips.extend(ifs.iter().filter(|i| !i.is_link_local()).map(|i| i.ip()));
        }
    }
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.dedup();
    let mut names = vec!["localhost".to_owned()];
    if let Some(host) = host_name() {
        names.push(format!("{host}.local"));
        names.push(host);
    }
    names.retain(|n| rustls::pki_types::ServerName::try_from(n.as_str()).is_ok());
    names.dedup();
    (ips, names)
}

/// This computer's host name, when the system says it simply (Linux); lower case, without a
/// domain.
fn host_name() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = raw.trim().split('.').next()?.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name != "localhost"
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(name)
}

/// The certificate the listener presents (blocks on the vault): the one kept in the vault when
/// it is still this identity's and names every address of [`listen_names`]; else a new one with
/// the same key, kept for next time. Falls back to the identity's own certificate (with words
/// in the log) when none can be made.
pub fn listener_certificate(vault: &Vault, identity: &ControllerIdentity, all_interfaces: bool) -> Identity {
    let (ips, names) = listen_names(all_interfaces);
    let own = identity.tls();
    let key = own.private_key_der();
    let kept = match vault.get(SecretKind::ControllerKey, LISTENER_CERT_ID) {
        Ok(Some(der)) => Identity::from_der(identity.eid(), der.expose(), key.expose_secret()).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the listener's certificate");
            None
        }
    };
    if let Some(kept) = kept.filter(|c| c.names_all(&ips, &names)) {
        return kept;
    }
    match own.with_addresses(&ips, &names) {
        Ok(made) => {
            if let Err(e) = vault.put(SecretKind::ControllerKey, LISTENER_CERT_ID, &Secret::from_slice(made.cert_der()))
            {
                tracing::warn!(error = %e, "cannot keep the listener's certificate; a new one is made next time");
            }
            tracing::info!(fingerprint = %made.fingerprint(), addresses = ?ips, "made the listener's certificate");
            made
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot make the listener's certificate; it presents this app's own");
            own.clone()
        }
    }
}

/// The URLs to enter in a device: `wss://` then `ws://`, for every address of this computer
/// (loopback only when not listening on every interface).
fn urls_of(listener: &Listener, all_interfaces: bool) -> Vec<String> {
    let secure: Vec<String> = hosts(all_interfaces).iter().map(|h| listener.url(&h.to_string())).collect();
    let plain: Vec<String> = secure.iter().map(|u| u.replacen("wss://", "ws://", 1)).collect();
    secure.into_iter().chain(plain).collect()
}

/// The addresses of this computer a device may reach it at (loopback only when not listening
/// on every interface).
fn hosts(all_interfaces: bool) -> Vec<IpAddr> {
    let mut hosts: Vec<IpAddr> = Vec::new();
    if all_interfaces {
        if let Ok(ifs) = if_addrs::get_if_addrs() {
            hosts = ifs.iter().filter(|i| !i.is_loopback() && !i.is_link_local()).map(|i| i.ip()).collect();
        }
        hosts.sort_by_key(|ip| (ip.is_ipv6(), *ip));
        hosts.dedup();
    }
    if hosts.is_empty() {
        hosts.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    hosts
}
