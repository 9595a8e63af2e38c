//! Hostile replies through app-core: a real WebSocket agent on loopback answers the
//! pairing probe, a Set and a GetSupportedDM with replies built to make flattening
//! explode (one long path shared by a huge number of entries). Each call must come back
//! within seconds, with an error or a bounded result, and the process must stay small.
// The WebSocket handshake callback type is tungstenite's: its large error is not ours.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use app_core::pairing::{self, AuthState};
use app_core::params::{Params, Supported};
use usp_client::{Backoff, Client, ClientConfig, ClientError};
use usp_core::msg::{self, Body, Msg, OperStatus, Request, Response, Text};
use usp_core::record::{Record, RecordType};
use usp_core::request::{Budget, SupportedDmOptions};
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

const AGENT: &str = "proto::bomb-agent";
const ME: &str = "self::hostile-replies";
/// Every call must be answered within this.
const BOUND: Duration = Duration::from_secs(20);
/// The whole test process must stay under this (VmHWM).
const RSS_LIMIT: u64 = 300 << 20;

type Ws = WebSocketStream<TcpStream>;
/// How the agent answers one request: the reply Msg, or nothing.
type Answer = Arc<dyn Fn(&Msg) -> Option<Msg> + Send + Sync>;

fn record(rt: RecordType, to: &str) -> Bytes {
    let rec = Record::new("1.3", to, AGENT, rt);
    let mut out = Vec::new();
    wire::encode_record(&rec, &mut out);
    Bytes::from(out)
}

fn msg_record(m: &Msg) -> Bytes {
    let mut p = Vec::new();
    wire::encode_msg(m, &mut p);
    record(RecordType::NoSessionContext { payload: Bytes::from(p) }, ME)
}

async fn serve(mut ws: Ws, answer: Answer) {
    if ws.send(Message::Binary(record(RecordType::WebSocketConnect, ME))).await.is_err() {
        return;
    }
    while let Some(Ok(frame)) = ws.next().await {
        let Message::Binary(b) = frame else { continue };
        let Ok(rec) = wire::decode_record(b, &Limits::default()) else { continue };
        let RecordType::NoSessionContext { payload } = rec.record_type else { continue };
        let Ok(m) = wire::decode_msg(payload, &Limits::default()) else { continue };
        if let Some(reply) = answer(&m) {
            // Encoded on a blocking thread: a bomb takes a moment to build.
            let bytes = tokio::task::spawn_blocking(move || msg_record(&reply)).await.expect("encode");
            if ws.send(Message::Binary(bytes)).await.is_err() {
                return;
            }
        }
    }
}

/// A hostile agent on loopback answering every connection with `answer`.
async fn agent(answer: Answer) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("ws://{}/usp", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let cb = |_req: &HsRequest, mut resp: HsResponse| {
                    resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                    Ok(resp)
                };
                let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(64 << 20));
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, cb, Some(config)).await {
                    serve(ws, answer).await;
                }
            });
        }
    });
    url
}

async fn client(url: &str) -> Client {
    let mut config = ClientConfig::new(url, ME.parse::<EndpointId>().expect("eid"));
    config.request_timeout = Duration::from_secs(10);
    config.backoff =
        Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200), multiplier: 2.0, jitter: 0.1 };
    let c = Client::start(config);
    c.wait_connected(BOUND).await.expect("connected");
    c
}

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let start = std::time::Instant::now();
    let out = tokio::time::timeout(BOUND, f).await.unwrap_or_else(|_| panic!("{what}: hung"));
    eprintln!("{what}: {:?}, peak RSS {} MiB", start.elapsed(), peak_rss() >> 20);
    out
}

/// The process's peak resident set (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM");
    kb * 1024
}

fn assert_small() {
    let peak = peak_rss();
    assert!(peak < RSS_LIMIT, "peak RSS {} MiB", peak >> 20);
}

fn paths(m: &Msg) -> Vec<String> {
    match &m.body {
        Body::Request(Request::Get(g)) => g.param_paths.iter().map(|p| p.to_string()).collect(),
        _ => vec![],
    }
}

fn get_resp(m: &Msg, resolved: Text, params: msg::Params) -> Msg {
    let resp = msg::GetResp {
        req_path_results: vec![msg::GetRequestedPathResult {
            requested_path: paths(m).first().cloned().unwrap_or_default().into(),
            err_code: 0,
            err_msg: Text::new(),
            resolved_path_results: vec![msg::ResolvedPathResult { resolved_path: resolved, result_params: params }],
        }],
    };
    Msg::new(m.msg_id.clone(), Body::Response(Response::GetResp(resp)))
}

fn usp_error(m: &Msg, code: u32) -> Msg {
    Msg::new(m.msg_id.clone(), Body::Error(msg::Error { err_code: code, err_msg: "denied".into(), param_errs: vec![] }))
}

/// `n` parameters named by number, each with `value(i)`.
fn numbered(n: usize, value: impl Fn(usize) -> String) -> msg::Params {
    let mut p = msg::Params::new();
    for i in 0..n {
        let v = value(i);
        p.0.push((i.to_string().into(), v.into()));
    }
    p
}

/// Empty entries (`12 00` on the wire: two bytes each).
fn empty_entries(n: usize) -> msg::Params {
    let mut p = msg::Params::new();
    p.0.resize(n, (Text::new(), Text::new()));
    p
}

/// The probe of an agent that refuses the rights Get and answers the Challenge table
/// Get with the bomb `challenge`.
async fn probe_against(challenge: fn(&Msg) -> Msg) -> AuthState {
    let answer: Answer = Arc::new(move |m: &Msg| {
        let p = paths(m);
        let first = p.first().map(String::as_str).unwrap_or_default();
        Some(if first == "Device.DeviceInfo.ModelName" {
            get_resp(m, "Device.DeviceInfo.".into(), [("ModelName", "Bomb")].into_iter().collect())
        } else if first.starts_with("Device.LocalAgent.ControllerTrust.Challenge.") {
            challenge(m)
        } else {
            usp_error(m, 7006)
        })
    });
    let url = agent(answer).await;
    let c = client(&url).await;
    let state = bounded("probe", pairing::probe(&c)).await;
    c.close().await;
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_survives_a_4_mib_path_shared_by_400k_entries() {
    // 4 MiB + 400k × 2 bytes: under the 5 MiB record limit; flattened as it was, 1.6 TB.
    let state = probe_against(|m| get_resp(m, "D".repeat(4 << 20).into(), empty_entries(400_000))).await;
    assert_eq!(state, AuthState::Untrusted { can_pair: true }, "{state:?}");
    assert_small();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_survives_a_long_path_under_the_item_limit() {
    // Within every codec limit (a 4096-byte path, 60k entries): 240 MiB if flattened.
    let state = probe_against(|m| {
        let path = format!("Device.LocalAgent.ControllerTrust.Challenge.1.{}.", "x".repeat(4000));
        get_resp(m, path.into(), empty_entries(60_000))
    })
    .await;
    assert_eq!(state, AuthState::Untrusted { can_pair: true }, "{state:?}");
    assert_small();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_reply_with_many_distinct_roles_is_bounded() {
    // The rights are readable, so the probe reads our role: 60k distinct role references
    // under a 4 KiB path (as it was: 240 MiB of paths and a quadratic de-duplication).
    let answer: Answer = Arc::new(|m: &Msg| {
        let p = paths(m);
        let first = p.first().map(String::as_str).unwrap_or_default();
        Some(if first.starts_with("Device.LocalAgent.Controller.[") {
            let path = format!("Device.LocalAgent.Controller.1.{}.", "y".repeat(4000));
            get_resp(m, path.into(), numbered(60_000, |i| format!("Device.LocalAgent.ControllerTrust.Role.{i}")))
        } else if first.ends_with(".Name") {
            usp_error(m, 7006)
        } else {
            get_resp(m, "Device.LocalAgent.".into(), [("EndpointID", AGENT)].into_iter().collect())
        })
    });
    let url = agent(answer).await;
    let c = client(&url).await;
    let state = bounded("probe with a role bomb", pairing::probe(&c)).await;
    match &state {
        AuthState::Connected { role } => assert!(role.names.len() <= 8, "{:?}", role.names.len()),
        other => panic!("{other:?}"),
    }
    c.close().await;
    assert_small();
}

fn set_failure(m: &Msg, path_len: usize, n: usize, code: u32) -> Msg {
    let failure = msg::OperFailure {
        err_code: 7004,
        err_msg: "no".into(),
        updated_inst_failures: vec![msg::UpdatedInstanceFailure {
            affected_path: "S".repeat(path_len).into(),
            param_errs: (0..n)
                .map(|_| msg::ParameterError { param: Text::new(), err_code: code, err_msg: Text::new() })
                .collect(),
        }],
    };
    let resp = msg::SetResp {
        updated_obj_results: vec![msg::UpdatedObjectResult {
            requested_path: "Device.X.".into(),
            oper_status: OperStatus::Failure(failure),
        }],
    };
    Msg::new(m.msg_id.clone(), Body::Response(Response::SetResp(resp)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_failures_with_many_param_errors_are_bounded() {
    let answer: Answer = Arc::new(|m: &Msg| {
        let Body::Request(Request::Set(s)) = &m.body else { return Some(usp_error(m, 7004)) };
        Some(if s.update_objs[0].param_settings[0].value == *"huge" {
            // 4 MiB affected path × 400k empty parameter errors: 1.6 TB flattened as it was.
            set_failure(m, 4 << 20, 400_000, 0)
        } else {
            set_failure(m, 4096, 60_000, 7012)
        })
    });
    let url = agent(answer).await;
    let c = client(&url).await;
    let huge = bounded("set, 4 MiB path", c.set(&[("Device.X.1.Y", "huge")])).await;
    assert!(matches!(huge, Err(ClientError::Usp(ref e)) if e.code == 7100), "{huge:?}");
    assert_small();
    let resp = bounded("set, 4 KiB path", c.set(&[("Device.X.1.Y", "long")])).await.expect("a SetResp");
    let per = resp.per_object();
    let (_, r) = per.first().expect("one object");
    let e = r.as_ref().expect_err("the object failed");
    assert!(e.param_errs.len() <= usp_core::request::MAX_PARAM_ERRS, "{}", e.param_errs.len());
    assert!(e.message.contains("more parameter errors not shown"), "{}", e.message);
    assert!(e.to_string().len() < 2 << 20);
    assert!(resp.param_errors().is_empty());
    c.close().await;
    assert_small();
}

/// A distinct name of at most 4 characters for every `i` below 62^4.
fn short_name(mut i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut s = String::new();
    loop {
        s.push(DIGITS[i % 62] as char);
        i /= 62;
        if i == 0 {
            return s;
        }
    }
}

fn supported(m: &Msg, path_len: usize, n: usize) -> Msg {
    let obj = msg::SupportedObjectResult {
        supported_obj_path: format!("Device.{}.", "G".repeat(path_len)).into(),
        supported_params: (0..n)
            .map(|i| msg::SupportedParamResult {
                param_name: short_name(i).into(),
                access: i32::from(i < 1000),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let resp = msg::GetSupportedDmResp {
        req_obj_results: vec![msg::RequestedObjectResult {
            req_obj_path: "Device.".into(),
            supported_objs: vec![obj],
            ..Default::default()
        }],
    };
    Msg::new(m.msg_id.clone(), Body::Response(Response::GetSupportedDmResp(resp)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_supported_dm_with_500k_params_is_bounded() {
    let answer: Answer = Arc::new(|m: &Msg| {
        let Body::Request(Request::GetSupportedDm(g)) = &m.body else { return Some(usp_error(m, 7004)) };
        Some(if g.first_level_only { supported(m, 4000, 60_000) } else { supported(m, 4000, 500_000) })
    });
    let url = agent(answer).await;
    let c = client(&url).await;
    let gsdm = |first_level_only| {
        usp_core::request::get_supported_dm(["Device."], SupportedDmOptions { first_level_only, ..Default::default() })
            .expect("request")
    };
    // 500k parameters of a 4 KiB object: 2 GB of paths as it was; over the item limit now.
    let r = bounded("GetSupportedDM, 500k params", c.request(gsdm(false))).await;
    assert!(matches!(r, Err(ClientError::Usp(ref e)) if e.code == 7100), "{:?}", r.as_ref().err());
    assert_small();
    // 60k parameters of a 4 KiB object (within the codec's limits): cut at the budget.
    let r = bounded("GetSupportedDM, 60k params", c.request(gsdm(true))).await.expect("a reply");
    let resp = msg::GetSupportedDmResp::try_from(r).expect("GetSupportedDmResp");
    let s = bounded("Supported::from_resp", async { Supported::from_resp(&resp) }).await;
    assert!(s.truncated());
    assert!(s.writable(&format!("Device.{}.{}", "G".repeat(4000), short_name(10))), "the first entries are kept");
    assert!(!s.has_param(&format!("Device.{}.{}", "G".repeat(4000), short_name(59_999))), "the last ones are not");
    let small = Supported::from_resp_within(&resp, Budget { max_bytes: usize::MAX, max_items: 10 });
    assert!(small.truncated());
    c.close().await;
    assert_small();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_from_a_long_shared_path_are_bounded() {
    let answer: Answer = Arc::new(|m: &Msg| {
        Some(get_resp(m, format!("Device.{}.", "P".repeat(4000)).into(), numbered(60_000, |_| String::new())))
    });
    let url = agent(answer).await;
    let c = client(&url).await;
    let resp = bounded("get", c.get(&["Device."], 0)).await.expect("a GetResp");
    let p = bounded("Params::from_get", async { Params::from_get(&resp) }).await;
    assert!(p.len() < 60_000 && p.len() > 100, "{}", p.len());
    c.close().await;
    assert_small();
}

/// A pin in the vault that cannot be read (damaged) must not turn into "no pin": the
/// connection is refused with a reason, never offered as a first use to trust.
#[tokio::test]
async fn an_unreadable_pin_is_no_first_use() {
    use app_core::identity::VaultPinStore;
    use app_core::secret::Secret;
    use app_core::vault::{SecretKind, Vault, VaultBackendKind, VaultConfig};
    use sim_home::tls::TlsMode;
    use usp_client::tls::{self, AgentTrust, Identity, ObservedCert, PinStore};

    let mut config = sim_home::HomeConfig::new(sim_home::scenario::Scenario::builtin());
    config.tls = Some(TlsMode::self_signed());
    let home = sim_home::Home::start(config).await.expect("home");
    let gw = home.agent("gateway").expect("gateway");
    let dir = tempfile::tempdir().expect("dir");
    let mut vc = VaultConfig::new(dir.path());
    vc.prefer = Some(VaultBackendKind::Memory);
    let vault = Arc::new(Vault::open(vc).expect("vault"));
    vault
        .put(SecretKind::PinnedCert, gw.endpoint_id.as_str(), &Secret::from_slice(b"\xff garbage"))
        .expect("a damaged pin");
    let pins = Arc::new(VaultPinStore::new(vault));
    let me = Identity::generate(&EndpointId::generate_installation()).expect("identity");
    let seen = ObservedCert::new();
    let mut c = ClientConfig::new(&gw.url, me.eid().clone());
    c.connect_timeout = Duration::from_secs(5);
    c.agent_id = Some(gw.endpoint_id.clone());
    let trust = AgentTrust::new(pins.clone() as Arc<dyn PinStore>);
    c.tls = Some(tls::client_config(&me, trust, Some(gw.endpoint_id.clone()), seen.clone()).expect("tls"));
    let state = bounded("connect", pairing::connect(c)).await.expect_err("refused");
    assert!(!matches!(state, AuthState::FirstUse { .. }), "{state:?}");
    let text = state.to_string();
    assert!(text.contains("cannot read the trusted certificates"), "{text}");
    assert!(seen.get().is_none(), "nothing offered to trust");
    assert!(tls::trust_on_first_use(pins.as_ref(), &seen).is_err());
}
