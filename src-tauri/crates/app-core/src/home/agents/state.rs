//! What a connected agent lets us do and says about itself: the pairing probe's answer as the
//! card's state, its DeviceInfo facts and top-level objects, recorded on its entry.

use std::collections::BTreeSet;

use ipc_types::{AgentAuth, Topic};
use usp_client::tls::Fingerprint;
use usp_client::Client;

use super::DeviceFacts;
use crate::home::{device_text, is_wss, Home, MAX_NAME_CHARS, REQUEST_DEADLINE};
use crate::pairing::{self, AuthState, RoleSummary};

/// `Device.DeviceInfo.` parameters read on every connection.
const DEVICE_INFO: [&str; 6] =
    ["FriendlyName", "Manufacturer", "ModelName", "SoftwareVersion", "UpTime", "ProductClass"];

/// The name of a role to show, when the agent lets us know it.
pub(crate) fn role_label(role: &RoleSummary) -> Option<String> {
    if role.names_known() {
        // "Untrusted" inherited beside a real role says nothing a person needs.
        let real: Vec<&str> = role.names.iter().map(String::as_str).filter(|n| *n != "Untrusted").collect();
        Some(if real.is_empty() { role.names.join(", ") } else { real.join(", ") })
    } else if role.full_access {
        Some("Full access".to_owned())
    } else {
        None
    }
}

/// "Can't be reached" in words, with the technical reason in brackets.
pub(super) fn offline_words(reason: &str) -> String {
    let reason = reason.trim().trim_end_matches('.');
    if reason.is_empty() {
        "Can't be reached right now; the app keeps trying.".to_owned()
    } else {
        format!("Can't be reached right now ({reason}); the app keeps trying.")
    }
}

/// What the UI shows for a pairing [`AuthState`], the certificate waiting for a decision, and
/// our role.
pub(crate) fn auth_of(state: &AuthState) -> (AgentAuth, Option<Fingerprint>, Option<RoleSummary>) {
    match state {
        AuthState::Connected { role } => (AgentAuth::Paired { role: role_label(role) }, None, Some(role.clone())),
        AuthState::Untrusted { .. } | AuthState::LockedOut { .. } => (AgentAuth::Untrusted { role: None }, None, None),
        AuthState::NotAuthorised { own_eid } => (
            AgentAuth::NotAuthorised { our_endpoint_id: own_eid.as_str().to_owned(), next_check_secs: None },
            None,
            None,
        ),
        AuthState::CertificateChanged { presented, pinned, .. } => (
            AgentAuth::CertificateChanged { fingerprint: presented.to_string(), pinned: Some(pinned.to_string()) },
            Some(*presented),
            None,
        ),
        AuthState::WrongDevice { .. } => (AgentAuth::WrongDevice, None, None),
        AuthState::FirstUse { fingerprint, .. } => {
            (AgentAuth::FirstUse { fingerprint: fingerprint.to_string() }, Some(*fingerprint), None)
        }
        AuthState::Unreachable { reason } => (AgentAuth::Offline { message: offline_words(reason) }, None, None),
        AuthState::BrokerRefused { reason } => (AgentAuth::Offline { message: reason.clone() }, None, None),
    }
}

/// Reads what the device says about itself.
pub(crate) async fn read_facts(client: &Client) -> Option<DeviceFacts> {
    let paths: Vec<String> = DEVICE_INFO.iter().map(|n| format!("Device.DeviceInfo.{n}")).collect();
    let resp = match tokio::time::timeout(REQUEST_DEADLINE, client.get(&paths, 0)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "DeviceInfo not readable");
            return None;
        }
        Err(_) => {
            tracing::debug!("DeviceInfo: no answer in time");
            return None;
        }
    };
    // The device's own words: plain text, capped.
    let v = |i: usize| resp.value(&paths[i]).map(|s| device_text(s, MAX_NAME_CHARS)).filter(|s| !s.is_empty());
    Some(DeviceFacts {
        friendly_name: v(0),
        manufacturer: v(1),
        model: v(2),
        firmware: v(3),
        uptime_secs: v(4).and_then(|u| u.parse().ok()),
        product_class: v(5),
    })
}

/// The objects right under `Device.` that the device offers (`WiFi`, `Hosts`...), from its
/// supported data model; `None` when it does not say (then every page simply tries).
pub(crate) async fn read_objects(client: &Client) -> Option<BTreeSet<String>> {
    let opts = usp_core::request::SupportedDmOptions {
        first_level_only: true,
        commands: false,
        events: false,
        params: false,
        unique_key_sets: false,
    };
    let resp = tokio::time::timeout(REQUEST_DEADLINE, client.get_supported_dm(&["Device."], opts)).await.ok()?.ok()?;
    top_level_objects(&resp)
}

/// The most top-level object names kept from one device, and the longest name kept.
const MAX_OBJECTS: usize = 256;
const MAX_OBJECT_NAME: usize = 64;

/// The names right under `Device.` in a GetSupportedDM answer, at most [`MAX_OBJECTS`] of at
/// most [`MAX_OBJECT_NAME`] bytes; `None` when it lists not even `DeviceInfo` (such a device
/// does not really say what it has).
fn top_level_objects(resp: &usp_core::msg::GetSupportedDmResp) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for (_, result) in resp.per_path() {
        for obj in result.unwrap_or_default() {
            let rest = obj.supported_obj_path.strip_prefix("Device.").unwrap_or("");
            if let Some(name) = rest.split('.').next().filter(|n| !n.is_empty() && n.len() <= MAX_OBJECT_NAME) {
                if names.len() < MAX_OBJECTS {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    names.contains("DeviceInfo").then_some(names)
}

impl Home {
    pub(super) fn set_auth(&self, eid: &str, auth: AgentAuth) {
        self.with_agent(eid, |e| e.auth = auth);
        self.changed(&[Topic::Home]);
    }

    pub(super) fn on_lost(&self, eid: &str, auth: AgentAuth, presented: Option<Fingerprint>) {
        self.alert_input(crate::alerts::Input::Gone { agent: eid.to_owned() });
        let was_paired = self
            .with_agent(eid, |e| {
                let was = e.is_paired();
                e.connected = false;
                e.auth = auth;
                e.presented = presented;
                was
            })
            .unwrap_or(false);
        if was_paired {
            self.changed(&Topic::ALL);
        } else {
            self.changed(&[Topic::Home]);
        }
    }

    /// Probes what the agent lets us do, reads its DeviceInfo and starts live updates. A device
    /// that ignores us is shown so as soon as the probe knows it: it is not asked for its
    /// DeviceInfo (it would not answer that either, and the card would wait for nothing).
    pub(super) async fn on_connected(&self, eid: &str, client: &Client) {
        let state = match tokio::time::timeout(REQUEST_DEADLINE, pairing::probe(client)).await {
            Ok(s) => s,
            Err(_) => AuthState::Unreachable { reason: "no answer in time".into() },
        };
        let (auth, presented, role) = auth_of(&state);
        if matches!(auth, AgentAuth::Offline { .. }) {
            self.on_lost(eid, auth, presented);
            return;
        }
        // The probe was the first exchange: a session context asked for across a broker is up
        // by now, or the agent went on without one.
        if let Some(k) = client.carrier().filter(|k| k.mtp.crosses_broker() && !k.session_context) {
            let first = self.with_agent(eid, |e| !std::mem::replace(&mut e.e2e_refused, true)).unwrap_or(false);
            if first {
                tracing::info!(eid, carrier = %k, "the device works without an end-to-end session context; not asked again");
            }
        }
        // The certificate it signs with, once it did: required on its next connections.
        self.with_agent(eid, |e| {
            if let Some(cert) = e.e2e_integrity.as_ref().and_then(|i| i.learnt_peer_certificate()) {
                e.e2e_peer_cert = Some(cert);
            }
        });
        // In one: our Messages are cut to the device's MaxUSPRecordSize from now on, when our
        // role may read it.
        if client.carrier().is_some_and(|k| k.session_context) {
            if let Some(size) = super::e2e::read_record_size(client).await {
                tracing::debug!(eid, size, "the device's MaxUSPRecordSize");
                self.with_agent(eid, |e| e.e2e_record_size.set(size));
            }
        }
        // Another answer than before: the checks start over.
        self.with_agent(eid, |e| {
            if std::mem::discriminant(&e.auth) != std::mem::discriminant(&auth) {
                e.checks = 0;
                e.next_check = None;
            }
        });
        if matches!(auth, AgentAuth::NotAuthorised { .. }) {
            let _ = self.apply_connected(eid, client, auth, role, None);
            return;
        }
        // It answers: its facts come in a moment, with the state (so a card is never shown
        // untrusted under a bare Endpoint ID).
        let facts = read_facts(client).await;
        if matches!(auth, AgentAuth::Paired { .. }) {
            let objects = read_objects(client).await;
            self.with_agent(eid, |e| e.objects = objects);
        }
        let _ = self.apply_connected(eid, client, auth, role, facts);
    }

    /// Records a connected agent's state; starts live updates when paired (the receiver
    /// completes once they are on).
    pub(crate) fn apply_connected(
        &self,
        eid: &str,
        client: &Client,
        auth: AgentAuth,
        role: Option<RoleSummary>,
        facts: Option<DeviceFacts>,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let paired = matches!(auth, AgentAuth::Paired { .. });
        let start_live = self
            .with_agent(eid, |e| {
                e.connected = true;
                e.auth = auth;
                e.role = role;
                e.presented = None;
                // Connected over wss: the certificate was the pinned one (or a CA's), so from
                // now on this agent is reached only over wss.
                if is_wss(&e.url) {
                    e.secure = true;
                }
                if let Some(f) = facts {
                    e.facts = f;
                }
                paired && e.live.is_none()
            })
            .unwrap_or(false);
        let mut live_ready = None;
        if start_live {
            let (task, ready) = self.start_live(eid, client.clone());
            live_ready = Some(ready);
            let stale = self.with_agent(eid, |e| e.live.replace(task));
            if let Some(Some(t)) = stale {
                t.abort();
            }
        }
        // A remembered agent keeps its last address and name. A secure agent's address is
        // saved only when this connection was authenticated (wss with the pin).
        let (url, name, secure) = self.with_agent(eid, |e| (e.url.clone(), e.name(), e.secure)).unwrap_or_default();
        let updated = self.store().update(|d| {
            if let Some(k) = d.agents.iter_mut().find(|k| k.agent == eid) {
                if !secure || is_wss(&url) {
                    k.url = url;
                }
                k.secure |= secure;
                k.name = name;
            }
        });
        if let Err(e) = updated {
            tracing::warn!(error = %e, "cannot save the agent's address");
        }
        if paired {
            self.changed(&Topic::ALL);
        } else {
            self.changed(&[Topic::Home]);
        }
        live_ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inherited_untrusted_role_beside_a_real_one_is_not_shown() {
        let role =
            |names: &[&str]| RoleSummary { names: names.iter().map(|n| (*n).to_owned()).collect(), full_access: false };
        assert_eq!(role_label(&role(&["Full Access", "Untrusted"])).as_deref(), Some("Full Access"));
        assert_eq!(role_label(&role(&["Home User", "Parent"])).as_deref(), Some("Home User, Parent"));
        assert_eq!(role_label(&role(&["Untrusted"])).as_deref(), Some("Untrusted"));
        assert_eq!(role_label(&role(&[])), None);
    }

    fn answer(paths: impl IntoIterator<Item = String>) -> usp_core::msg::GetSupportedDmResp {
        use usp_core::msg::{GetSupportedDmResp, RequestedObjectResult, SupportedObjectResult};
        GetSupportedDmResp {
            req_obj_results: vec![RequestedObjectResult {
                req_obj_path: "Device.".into(),
                supported_objs: paths
                    .into_iter()
                    .map(|p| SupportedObjectResult { supported_obj_path: p.into(), ..Default::default() })
                    .collect(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_devices_top_level_objects() {
        let objects = |paths: &[&str]| top_level_objects(&answer(paths.iter().map(|p| (*p).to_owned())));
        let found = objects(&["Device.", "Device.DeviceInfo.", "Device.LocalAgent.", "Device.WiFi.SSID.{i}."]);
        assert_eq!(
            found.expect("DeviceInfo is listed").into_iter().collect::<Vec<_>>(),
            ["DeviceInfo", "LocalAgent", "WiFi"]
        );
        assert_eq!(objects(&["Device.", "Device.WiFi."]), None, "no DeviceInfo: the device says nothing");
    }

    /// A hostile device listing 100,000 made-up objects with long names: the app keeps at most
    /// 256 names of at most 64 bytes.
    #[test]
    fn a_flood_of_top_level_objects_is_bounded() {
        let flood = std::iter::once("Device.DeviceInfo.".to_owned())
            .chain((0..100_000).map(|i| format!("Device.Obj{i}{}.", "x".repeat(i % 200))));
        let found = top_level_objects(&answer(flood)).expect("DeviceInfo is listed");
        assert_eq!(found.len(), MAX_OBJECTS);
        assert!(found.iter().all(|n| n.len() <= MAX_OBJECT_NAME));
    }
}
