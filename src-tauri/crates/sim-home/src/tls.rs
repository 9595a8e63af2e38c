//! `wss://` with mutual TLS for the simulated agents, as real agents serve it (spec notes
//! §8.1, §14.8).
//!
//! With [`crate::HomeConfig::tls`] set, every agent:
//! - presents a certificate for its own Endpoint ID: a fresh self-signed identity
//!   generated at start ([`Identity::generate`], subjectAltName URI
//!   `urn:bbf:usp:id:<agent EID>`), unless [`TlsMode::SelfSigned`] holds an identity for
//!   its scenario key (tests: "the agent comes back with another certificate", "the
//!   certificate names another EID"; such an identity is used as given, unchecked);
//! - requires a client certificate (mutual TLS; a client without one fails the TLS
//!   handshake) that is correctly self-signed and names exactly one Endpoint ID
//!   ([`usp_client::tls::ClientCertPolicy::AnySelfSigned`]);
//! - answers HTTP 403 to a WebSocket request whose `?eid=` is not the EID of the client
//!   certificate (R-SEC.0a); Records must then carry that EID as `from_id`, as before;
//! - remembers, per controller EID, the certificate fingerprint of its first accepted
//!   connection (TOFU, R-SEC.8), in memory, for the life of the agent: a later connection
//!   of the same EID with another certificate gets HTTP 403. This applies to every EID,
//!   provisioned or not; what an unknown controller may do then follows the
//!   `unknown_controllers` policy ([`crate::spec::UnknownControllerPolicy`]): `Ignore`
//!   answers nothing, `Untrusted` gives it a Controller row with the Untrusted role on its
//!   first message (R-SEC.6), which a Challenge can raise (R-SEC.7).
//!
//! [`crate::AgentHandle::controller_certificate`] and
//! [`crate::AgentHandle::forget_controller_certificate`] read and clear that memory.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

pub use usp_client::tls::{Fingerprint, Identity, TlsError};
use usp_core::eid::EndpointId;

/// Controllers whose certificate one agent remembers, at most. Past that, connections of
/// new controller EIDs are refused (HTTP 403), so memory stays bounded.
pub const MAX_REMEMBERED_CONTROLLERS: usize = 1024;

/// How the agents serve `wss://`.
#[derive(Clone, Debug)]
pub enum TlsMode {
    /// Self-signed agent certificates, generated at start, except for the agents whose
    /// scenario key is in `identities` (used as given, even if they name another EID).
    SelfSigned {
        /// Agent key ("gateway") → the identity it presents.
        identities: HashMap<String, Identity>,
    },
}

impl TlsMode {
    /// Every agent generates its own self-signed identity at start.
    pub fn self_signed() -> TlsMode {
        TlsMode::SelfSigned { identities: HashMap::new() }
    }

    /// The agent with this scenario key presents `identity` instead of a fresh one.
    #[must_use]
    pub fn with_identity(mut self, key: impl Into<String>, identity: Identity) -> TlsMode {
        match &mut self {
            TlsMode::SelfSigned { identities } => {
                identities.insert(key.into(), identity);
            }
        }
        self
    }

    /// The identity of the agent `key` whose Endpoint ID is `eid`.
    pub(crate) fn identity_for(&self, key: &str, eid: &EndpointId) -> Result<Identity, TlsError> {
        match self {
            TlsMode::SelfSigned { identities } => match identities.get(key) {
                Some(identity) => Ok(identity.clone()),
                None => Identity::generate(eid),
            },
        }
    }
}

/// One agent's memory of controller certificates (TOFU, R-SEC.8).
#[derive(Debug, Default)]
pub(crate) struct ControllerPins {
    pins: Mutex<HashMap<EndpointId, Fingerprint>>,
}

impl ControllerPins {
    /// Admits `eid` presenting the certificate `presented`: pins it on first use, accepts
    /// the same certificate again, refuses another one. The error is the HTTP 403 body.
    pub(crate) fn admit(&self, eid: &EndpointId, presented: Fingerprint) -> Result<(), String> {
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        match pins.get(eid) {
            Some(pinned) if *pinned == presented => Ok(()),
            Some(pinned) => Err(format!(
                "the client certificate of {eid} is not the one this agent accepted for it on first \
                 use (remembered SHA-256 {pinned}, presented {presented}): refused\n"
            )),
            None if pins.len() >= MAX_REMEMBERED_CONTROLLERS => Err(format!(
                "this agent already remembers {MAX_REMEMBERED_CONTROLLERS} controller certificates: \
                 {eid} is refused\n"
            )),
            None => {
                pins.insert(eid.clone(), presented);
                Ok(())
            }
        }
    }

    pub(crate) fn get(&self, eid: &EndpointId) -> Option<Fingerprint> {
        self.pins.lock().unwrap_or_else(PoisonError::into_inner).get(eid).copied()
    }

    pub(crate) fn forget(&self, eid: &EndpointId) -> bool {
        self.pins.lock().unwrap_or_else(PoisonError::into_inner).remove(eid).is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pins_on_first_use_and_refuses_another_certificate() {
        let pins = ControllerPins::default();
        let a: EndpointId = "self::a".parse().unwrap();
        let (one, two) = (Fingerprint::of(b"1"), Fingerprint::of(b"2"));
        assert_eq!(pins.get(&a), None);
        pins.admit(&a, one).unwrap();
        pins.admit(&a, one).unwrap();
        let why = pins.admit(&a, two).unwrap_err();
        assert!(why.contains("self::a") && why.contains(&one.to_string()), "{why}");
        assert_eq!(pins.get(&a), Some(one));
        assert!(pins.forget(&a));
        assert!(!pins.forget(&a));
        pins.admit(&a, two).unwrap();
        assert_eq!(pins.get(&a), Some(two));
    }

    #[test]
    fn memory_is_bounded() {
        let pins = ControllerPins::default();
        for i in 0..MAX_REMEMBERED_CONTROLLERS {
            let eid: EndpointId = format!("self::c{i}").parse().unwrap();
            pins.admit(&eid, Fingerprint::of(b"x")).unwrap();
        }
        let late: EndpointId = "self::late".parse().unwrap();
        assert!(pins.admit(&late, Fingerprint::of(b"x")).is_err());
        // Known ones still get in.
        let first: EndpointId = "self::c0".parse().unwrap();
        pins.admit(&first, Fingerprint::of(b"x")).unwrap();
    }

    // ---- over real sockets: mutual TLS, TOFU on both sides, the Challenge over wss ----

    use std::sync::Arc;
    use std::time::Duration;

    use base64::Engine as _;
    use prost::Message as _;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    use usp_client::error::ConnectError;
    use usp_client::tls::{
        client_config, trust_on_first_use, AgentCertVerifier, AgentTrust, MemoryPinStore, ObservedCert, PinStore,
    };
    use usp_client::ws::{connect, Socket};
    use usp_proto::usp::{self, body::MsgBody, header::MsgType, request::ReqType, response::RespType, Msg};
    use usp_proto::usp_record::record::RecordType;

    use crate::home::{AgentHandle, Home, HomeConfig};
    use crate::scenario::Scenario;
    use crate::server::tests::{get, next_frame, next_record, request, send, wrap};
    use crate::spec::UnknownControllerPolicy;

    const ME: &str = "self::usp-home-pairing-test";
    const WAIT: Duration = Duration::from_secs(10);

    fn eid(s: &str) -> EndpointId {
        s.parse().unwrap()
    }

    async fn tls_home(mode: TlsMode) -> Home {
        let mut config = HomeConfig::new(Scenario::builtin());
        config.tls = Some(mode);
        Home::start(config).await.unwrap()
    }

    /// A controller: its identity and its pins for agents.
    struct Ctrl {
        eid: EndpointId,
        id: Identity,
        pins: Arc<MemoryPinStore>,
    }

    impl Ctrl {
        fn new(eid_text: &str) -> Ctrl {
            let eid = eid(eid_text);
            Ctrl { id: Identity::generate(&eid).unwrap(), eid, pins: Arc::new(MemoryPinStore::new()) }
        }

        /// Connects to `agent` (expecting its EID) with our client verifier.
        async fn connect(&self, agent: &AgentHandle, observed: &Arc<ObservedCert>) -> Result<Socket, ConnectError> {
            let trust = AgentTrust::new(self.pins.clone());
            let config = client_config(&self.id, trust, Some(agent.endpoint_id.clone()), observed.clone()).unwrap();
            let (mut ws, _) = connect(&agent.url, &self.eid, Some(config), WebSocketConfig::default(), WAIT).await?;
            let rec = next_record(&mut ws).await;
            assert!(matches!(rec.record_type, Some(RecordType::WebsocketConnect(_))), "{rec:?}");
            assert_eq!(rec.from_id, agent.endpoint_id.as_str());
            Ok(ws)
        }

        /// First use: refused as untrusted, then pinned after "the user compared it".
        async fn pair(&self, agent: &AgentHandle) -> Socket {
            let observed = ObservedCert::new();
            match self.connect(agent, &observed).await {
                Err(ConnectError::UntrustedCertificate { agent: who, sha256 }) => {
                    assert_eq!(who, agent.endpoint_id);
                    assert_eq!(Some(sha256), agent.fingerprint);
                }
                Err(e) => panic!("expected an untrusted certificate, got {e}"),
                Ok(_) => panic!("expected an untrusted certificate, got a connection"),
            }
            assert_eq!(observed.get().map(|o| o.fingerprint), agent.fingerprint);
            assert_eq!(trust_on_first_use(&*self.pins, &observed).ok(), agent.fingerprint);
            self.connect(agent, &ObservedCert::new()).await.unwrap()
        }
    }

    /// Sends `msg` from `from` to `agent` and returns the reply Msg.
    async fn ask(ws: &mut Socket, from: &EndpointId, agent: &AgentHandle, msg: &Msg) -> Msg {
        send(ws, wrap(from.as_str(), agent.endpoint_id.as_str(), msg)).await;
        let rec = next_record(ws).await;
        assert_eq!(rec.from_id, agent.endpoint_id.as_str());
        match rec.record_type {
            Some(RecordType::NoSessionContext(nsc)) => Msg::decode(&nsc.payload[..]).unwrap(),
            other => panic!("expected no_session_context, got {other:?}"),
        }
    }

    /// Every parameter of a GetResp (none for an Error).
    fn params(msg: &Msg) -> Vec<(String, String)> {
        match msg.body.as_ref().and_then(|b| b.msg_body.as_ref()) {
            Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::GetResp(r)) })) => r
                .req_path_results
                .iter()
                .flat_map(|r| r.resolved_path_results.iter())
                .flat_map(|r| r.result_params.iter().map(|(k, v)| (format!("{}{k}", r.resolved_path), v.clone())))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn set(msg_id: &str, obj: &str, param: &str, value: &str) -> Msg {
        request(
            msg_id,
            MsgType::Set,
            ReqType::Set(usp::Set {
                allow_partial: false,
                update_objs: vec![usp::set::UpdateObject {
                    obj_path: obj.to_owned(),
                    param_settings: vec![usp::set::UpdateParamSetting {
                        param: param.to_owned(),
                        value: value.to_owned(),
                        required: true,
                    }],
                }],
            }),
        )
    }

    fn operate(msg_id: &str, command: &str, args: &[(&str, &str)]) -> Msg {
        request(
            msg_id,
            MsgType::Operate,
            ReqType::Operate(usp::Operate {
                command: command.to_owned(),
                command_key: msg_id.to_owned(),
                send_resp: true,
                input_args: args.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            }),
        )
    }

    fn is_set_resp(msg: &Msg) -> bool {
        matches!(
            msg.body.as_ref().and_then(|b| b.msg_body.as_ref()),
            Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::SetResp(_)) }))
        )
    }

    /// The output args of the only result of an OperateResp (panics on a failure).
    fn output_args(msg: &Msg) -> std::collections::HashMap<String, String> {
        let Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::OperateResp(r)) })) =
            msg.body.as_ref().and_then(|b| b.msg_body.as_ref())
        else {
            panic!("expected an OperateResp, got {msg:?}");
        };
        match r.operation_results.first().and_then(|o| o.operation_resp.as_ref()) {
            Some(usp::operate_resp::operation_result::OperationResp::ReqOutputArgs(o)) => {
                o.output_args.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            other => panic!("expected output args, got {other:?}"),
        }
    }

    fn forbidden(result: Result<Socket, ConnectError>) {
        match result {
            Err(ConnectError::Handshake(why)) => assert!(why.contains("403"), "{why}"),
            Err(e) => panic!("expected HTTP 403, got {e}"),
            Ok(_) => panic!("expected HTTP 403, got a connection"),
        }
    }

    /// The HTTP 403 body the agent answers to `ctrl` (raw TLS + WebSocket handshake).
    async fn refusal_body(ctrl: &Ctrl, agent: &AgentHandle) -> String {
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Error as WsError};
        let config = client_config(
            &ctrl.id,
            AgentTrust::new(ctrl.pins.clone()),
            Some(agent.endpoint_id.clone()),
            ObservedCert::new(),
        )
        .unwrap();
        let tcp = tokio::net::TcpStream::connect(agent.addr).await.unwrap();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
        let mut req = usp_client::ws::request_uri(&agent.url, &ctrl.eid).unwrap().into_client_request().unwrap();
        req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
        match tokio::time::timeout(WAIT, tokio_tungstenite::client_async(req, tls)).await.unwrap() {
            Err(WsError::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 403);
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned()
            }
            Err(e) => panic!("expected HTTP 403, got {e}"),
            Ok(_) => panic!("expected HTTP 403, got a connection"),
        }
    }

    #[tokio::test]
    async fn pairing_over_wss_then_untrusted_role_then_challenge() {
        let home = tls_home(TlsMode::self_signed()).await;
        let gw = home.agent("gateway").unwrap();
        assert!(gw.url.starts_with("wss://127.0.0.1:") && gw.url.ends_with("/usp"), "{}", gw.url);
        let der = gw.certificate_der.as_deref().unwrap();
        assert_eq!(usp_client::tls::endpoint_id_of(der).unwrap(), gw.endpoint_id);
        assert_eq!(gw.fingerprint, Some(Fingerprint::of(der)));
        // Every agent has its own certificate.
        let fps: std::collections::HashSet<_> = home.agents().iter().map(|a| a.fingerprint.unwrap()).collect();
        assert_eq!(fps.len(), home.agents().len());

        let me = Ctrl::new(ME);
        let mut ws = me.pair(gw).await;
        assert_eq!(gw.controller_certificate(&me.eid), Some(me.id.fingerprint()));

        // Untrusted role: Device.DeviceInfo. yes, Device.WiFi. nothing.
        let info = params(&ask(&mut ws, &me.eid, gw, &get("info", "Device.DeviceInfo.")).await);
        assert!(info.iter().any(|(k, v)| k.ends_with("FriendlyName") && v == "Living room gateway"), "{info:?}");
        let wifi = params(&ask(&mut ws, &me.eid, gw, &get("wifi", "Device.WiFi.")).await);
        assert!(wifi.is_empty(), "{wifi:?}");
        let denied = ask(&mut ws, &me.eid, gw, &set("s1", "Device.WiFi.SSID.3.", "Enable", "false")).await;
        assert!(!is_set_resp(&denied), "{denied:?}");
        assert_eq!(gw.get("Device.WiFi.SSID.3.Enable").await.as_deref(), Some("true"));

        // The Challenge with the label passcode: Home User.
        let rc = ask(
            &mut ws,
            &me.eid,
            gw,
            &operate(
                "rc",
                "Device.LocalAgent.ControllerTrust.RequestChallenge()",
                &[("ChallengeRef", "Device.LocalAgent.ControllerTrust.Challenge.1")],
            ),
        )
        .await;
        let id = output_args(&rc).remove("ChallengeID").unwrap();
        let value = base64::engine::general_purpose::STANDARD.encode("482913");
        let cr = ask(
            &mut ws,
            &me.eid,
            gw,
            &operate(
                "cr",
                "Device.LocalAgent.ControllerTrust.ChallengeResponse()",
                &[("ChallengeID", &id), ("Value", &value)],
            ),
        )
        .await;
        assert!(output_args(&cr).is_empty());
        let allowed = ask(&mut ws, &me.eid, gw, &set("s2", "Device.WiFi.SSID.3.", "Enable", "false")).await;
        assert!(is_set_resp(&allowed), "{allowed:?}");
        assert_eq!(gw.get("Device.WiFi.SSID.3.Enable").await.as_deref(), Some("false"));
        home.shutdown().await;
    }

    #[tokio::test]
    async fn a_client_certificate_for_another_eid_is_refused() {
        let home = tls_home(TlsMode::self_signed()).await;
        let gw = home.agent("gateway").unwrap();
        let me = Ctrl::new(ME);
        drop(me.pair(gw).await);
        // Same pins, but a certificate naming someone else than our ?eid=.
        let liar = Ctrl {
            eid: me.eid.clone(),
            id: Identity::generate(&eid("self::someone-else")).unwrap(),
            pins: me.pins.clone(),
        };
        forbidden(liar.connect(gw, &ObservedCert::new()).await);
        let body = refusal_body(&liar, gw).await;
        assert!(body.contains("belongs to self::someone-else") && body.contains(ME), "{body}");
        assert_eq!(gw.controller_certificate(&eid("self::someone-else")), None);
        assert_eq!(gw.controller_certificate(&me.eid), Some(me.id.fingerprint()));
        home.shutdown().await;
    }

    #[tokio::test]
    async fn the_same_controller_eid_with_a_new_key_is_refused_by_the_agent() {
        let home = tls_home(TlsMode::self_signed()).await;
        let gw = home.agent("gateway").unwrap();
        let me = Ctrl::new(ME);
        let mut ws = me.pair(gw).await;
        let info = params(&ask(&mut ws, &me.eid, gw, &get("g", "Device.DeviceInfo.FriendlyName")).await);
        assert_eq!(info.len(), 1);
        drop(ws);
        let thief = Ctrl { eid: me.eid.clone(), id: Identity::generate(&me.eid).unwrap(), pins: me.pins.clone() };
        forbidden(thief.connect(gw, &ObservedCert::new()).await);
        let body = refusal_body(&thief, gw).await;
        assert!(body.contains("first use") && body.contains(&me.id.fingerprint().to_string()), "{body}");
        // The real one still gets in.
        drop(me.connect(gw, &ObservedCert::new()).await.unwrap());
        // After the agent forgets (a reset), the new key is a first use again.
        assert!(gw.forget_controller_certificate(&me.eid));
        drop(thief.connect(gw, &ObservedCert::new()).await.unwrap());
        assert_eq!(gw.controller_certificate(&me.eid), Some(thief.id.fingerprint()));
        home.shutdown().await;
    }

    #[tokio::test]
    async fn a_restarted_agent_with_a_new_identity_is_refused_by_our_client() {
        let gw_eid = eid("os::012345-GW0001");
        let gw_id = Identity::generate(&gw_eid).unwrap();
        let me = Ctrl::new(ME);
        let home = tls_home(TlsMode::self_signed().with_identity("gateway", gw_id.clone())).await;
        let gw = home.agent("gateway").unwrap().clone();
        assert_eq!(gw.fingerprint, Some(gw_id.fingerprint()));
        drop(me.pair(&gw).await);
        home.shutdown().await;

        // Restarted with a fresh certificate: CertificateChanged.
        let home = tls_home(TlsMode::self_signed()).await;
        let gw = home.agent("gateway").unwrap();
        let observed = ObservedCert::new();
        match me.connect(gw, &observed).await {
            Err(ConnectError::CertificateChanged { agent, pinned_sha256, presented_sha256 }) => {
                assert_eq!(agent, gw_eid);
                assert_eq!(pinned_sha256, gw_id.fingerprint());
                assert_eq!(Some(presented_sha256), gw.fingerprint);
            }
            Err(e) => panic!("expected CertificateChanged, got {e}"),
            Ok(_) => panic!("expected CertificateChanged, got a connection"),
        }
        // Trusting it again is refused too: the user must forget the pairing first.
        assert!(trust_on_first_use(&*me.pins, &observed).is_err());
        home.shutdown().await;

        // Restarted with the same certificate: accepted.
        let home = tls_home(TlsMode::self_signed().with_identity("gateway", gw_id)).await;
        drop(me.connect(home.agent("gateway").unwrap(), &ObservedCert::new()).await.unwrap());
        home.shutdown().await;
    }

    #[tokio::test]
    async fn an_agent_certificate_for_another_eid_is_refused_by_our_client() {
        let impostor = Identity::generate(&eid("os::012345-IMPOSTOR")).unwrap();
        let home = tls_home(TlsMode::self_signed().with_identity("gateway", impostor)).await;
        let gw = home.agent("gateway").unwrap();
        let me = Ctrl::new(ME);
        match me.connect(gw, &ObservedCert::new()).await {
            Err(ConnectError::CertificateEidMismatch { expected, in_certificate }) => {
                assert_eq!(expected, gw.endpoint_id);
                assert_eq!(in_certificate.as_str(), "os::012345-IMPOSTOR");
            }
            Err(e) => panic!("expected CertificateEidMismatch, got {e}"),
            Ok(_) => panic!("expected CertificateEidMismatch, got a connection"),
        }
        home.shutdown().await;
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_fails_the_tls_handshake() {
        use tokio_rustls::rustls;
        let home = tls_home(TlsMode::self_signed()).await;
        let gw = home.agent("gateway").unwrap();
        let pins = Arc::new(MemoryPinStore::new());
        pins.pin(&gw.endpoint_id, gw.fingerprint.unwrap()).unwrap();
        let verifier = AgentCertVerifier::new(AgentTrust::new(pins), Some(gw.endpoint_id.clone()), ObservedCert::new());
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let me = eid(ME);
        let result = connect(&gw.url, &me, Some(Arc::new(config)), WebSocketConfig::default(), WAIT).await;
        assert!(matches!(result, Err(ConnectError::Tls(_) | ConnectError::Handshake(_))), "{:?}", result.err());
        assert!(gw.connected_controllers().is_empty());
        assert_eq!(gw.controller_certificate(&me), None);
        // Plain ws:// on a wss agent fails too.
        let plain = gw.url.replacen("wss://", "ws://", 1);
        let result = connect(&plain, &me, None, WebSocketConfig::default(), WAIT).await;
        assert!(result.is_err());
        home.shutdown().await;
    }

    #[tokio::test]
    async fn under_ignore_an_unknown_controller_gets_nothing_but_the_admin_does() {
        let mut config = HomeConfig::new(Scenario::builtin());
        config.tls = Some(TlsMode::self_signed());
        config.unknown_controllers = Some(UnknownControllerPolicy::Ignore);
        let home = Home::start(config).await.unwrap();
        let gw = home.agent("gateway").unwrap();
        let stranger = Ctrl::new(ME);
        let mut ws = stranger.pair(gw).await;
        send(&mut ws, wrap(ME, gw.endpoint_id.as_str(), &get("nothing", "Device.DeviceInfo."))).await;
        // Nothing comes back (a short, bounded wait: absence cannot be awaited otherwise).
        let silent = tokio::time::timeout(Duration::from_millis(300), next_frame(&mut ws)).await;
        assert!(silent.is_err(), "{silent:?}");
        let admin = Ctrl::new("self::usp-home-admin");
        let mut ws = admin.pair(gw).await;
        let wifi = params(&ask(&mut ws, &admin.eid, gw, &get("wifi", "Device.WiFi.SSID.3.SSID")).await);
        assert_eq!(wifi, vec![("Device.WiFi.SSID.3.SSID".to_owned(), "Home-Guest".to_owned())]);
        home.shutdown().await;
    }

    #[test]
    fn given_identities_override_generated_ones() {
        let gw: EndpointId = "proto::gw".parse().unwrap();
        let other: EndpointId = "proto::other".parse().unwrap();
        let given = Identity::generate(&other).unwrap();
        let mode = TlsMode::self_signed().with_identity("gw", given.clone());
        assert_eq!(mode.identity_for("gw", &gw).unwrap().fingerprint(), given.fingerprint());
        let fresh = mode.identity_for("hub", &gw).unwrap();
        assert_eq!(fresh.eid(), &gw);
        assert_ne!(fresh.fingerprint(), given.fingerprint());
    }
}
