//! Hostile data from agents, through the whole `Home`: a real WebSocket server on loopback plays
//! an agent that answers the explorer with hundreds of thousands of entries and secret values,
//! and floods host-creation notifications with made-up and oversized MACs. The app must stay
//! fast and small, send bounded pages to the window, never show a secret value, and keep
//! `home.json` and its event streams bounded.
// The WebSocket handshake callback type is tungstenite's: its large error is not ours.
#![allow(clippy::result_large_err)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app_core::home::Home;
use bytes::Bytes;
use common::{app, is_paired, proc_status_kib, wait_home, WAIT};
use futures_util::{SinkExt, StreamExt};
use ipc_types::{DmKind, ExploreArgs};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use usp_core::msg::{self, Body, Msg, Request, Response};
use usp_core::record::{Record, RecordType};
use usp_core::wire::{self, Limits};

/// The largest Record the app accepts (5 MiB); replies are built to fit.
const MAX_RECORD: usize = 5 << 20;

/// What the hostile agent answers to one request.
type Answer = Arc<dyn Fn(&Request) -> Body + Send + Sync>;

/// A hostile agent: a WebSocket server on 127.0.0.1 speaking the USP WebSocket MTP, answering
/// with `answer`, and sending whatever Records are pushed through `push` to the connected app.
struct Agent {
    eid: String,
    url: String,
    push: mpsc::Sender<Msg>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn record_bytes(to: &str, from: &str, rt: RecordType) -> Bytes {
    let rec = Record::new("1.3", to, from, rt);
    let mut out = Vec::new();
    wire::encode_record(&rec, &mut out);
    Bytes::from(out)
}

fn msg_record(m: &Msg, to: &str, from: &str) -> Bytes {
    let mut p = Vec::new();
    wire::encode_msg(m, &mut p);
    let rec = record_bytes(to, from, RecordType::NoSessionContext { payload: Bytes::from(p) });
    assert!(rec.len() < MAX_RECORD, "the test's own reply is too big for the app: {} bytes", rec.len());
    rec
}

async fn start_agent(eid: &str, answer: Answer) -> Agent {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("ws://{}/usp", l.local_addr().expect("addr"));
    let (push, pushed) = mpsc::channel::<Msg>(64);
    let pushed = Arc::new(Mutex::new(pushed));
    let me = eid.to_owned();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else { return };
            let (answer, pushed, me) = (answer.clone(), pushed.clone(), me.clone());
            tokio::spawn(async move {
                let controller = Arc::new(std::sync::Mutex::new(String::new()));
                let seen = controller.clone();
                let cb = move |req: &HsRequest, mut resp: HsResponse| {
                    let eid = req
                        .uri()
                        .query()
                        .unwrap_or("")
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("eid="))
                        .map(percent_decode)
                        .unwrap_or_default();
                    *seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = eid;
                    resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else { return };
                let to = controller.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                let connect = record_bytes(&to, &me, RecordType::WebSocketConnect);
                if ws.send(Message::Binary(connect)).await.is_err() {
                    return;
                }
                // One connection at a time takes the pushed Records.
                let mut pushed = pushed.lock().await;
                loop {
                    tokio::select! {
                        frame = ws.next() => {
                            let Some(Ok(frame)) = frame else { return };
                            let Message::Binary(b) = frame else { continue };
                            let Ok(rec) = wire::decode_record(b, &Limits::default()) else { continue };
                            let RecordType::NoSessionContext { payload } = rec.record_type else { continue };
                            let Ok(m) = wire::decode_msg(payload, &Limits::default()) else { continue };
                            let Body::Request(req) = &m.body else { continue };
                            let reply = Msg::new(m.msg_id.clone(), answer(req));
                            if ws.send(Message::Binary(msg_record(&reply, &to, &me))).await.is_err() {
                                return;
                            }
                        }
                        out = pushed.recv() => {
                            let Some(out) = out else { return };
                            if ws.send(Message::Binary(msg_record(&out, &to, &me))).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Agent { eid: eid.to_owned(), url, push, task }
}

fn resolved(path: &str, params: Vec<(String, String)>) -> msg::ResolvedPathResult {
    // Built as is (Params::insert would look for duplicates: quadratic on half a million).
    let params = params.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    msg::ResolvedPathResult { resolved_path: path.to_owned().into(), result_params: msg::Params(params) }
}

fn get_result(requested: &str, results: Vec<msg::ResolvedPathResult>) -> msg::GetRequestedPathResult {
    msg::GetRequestedPathResult {
        requested_path: requested.to_owned().into(),
        err_code: 0,
        err_msg: "".into(),
        resolved_path_results: results,
    }
}

fn error(code: u32, text: &str) -> Body {
    Body::Error(msg::Error { err_code: code, err_msg: text.to_owned().into(), param_errs: Vec::new() })
}

/// The answers that make the app see a paired agent with end-user rights: DeviceInfo and
/// `LocalAgent.EndpointID` readable, subscriptions accepted. `get` answers other Gets (None: an
/// empty result for each path).
fn paired_answers(
    eid: &str,
    get: impl Fn(&str, u32) -> Option<Vec<msg::ResolvedPathResult>> + Send + Sync + 'static,
    gsdm: impl Fn(&msg::GetSupportedDm) -> Option<Body> + Send + Sync + 'static,
    instances: impl Fn(&str) -> Option<Body> + Send + Sync + 'static,
) -> Answer {
    let eid = eid.to_owned();
    let subs = std::sync::atomic::AtomicU32::new(0);
    Arc::new(move |req: &Request| match req {
        Request::Get(g) => {
            let results = g
                .param_paths
                .iter()
                .map(|p| {
                    let p: &str = p;
                    let res = match p {
                        "Device.DeviceInfo.ModelName" => {
                            vec![resolved("Device.DeviceInfo.", vec![("ModelName".into(), "Hostile".into())])]
                        }
                        "Device.LocalAgent.EndpointID" => {
                            vec![resolved("Device.LocalAgent.", vec![("EndpointID".into(), eid.clone())])]
                        }
                        _ => get(p, g.max_depth).unwrap_or_default(),
                    };
                    get_result(p, res)
                })
                .collect();
            Body::Response(Response::GetResp(msg::GetResp { req_path_results: results }))
        }
        Request::GetSupportedDm(g) => gsdm(g).unwrap_or_else(|| error(7026, "nothing")),
        Request::GetInstances(g) => {
            let p: &str = g.obj_paths.first().map(|p| &**p).unwrap_or("");
            instances(p).unwrap_or_else(|| error(7026, "nothing"))
        }
        Request::Add(_) => {
            let n = subs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            Body::Response(Response::AddResp(msg::AddResp {
                created_obj_results: vec![msg::CreatedObjectResult {
                    requested_path: "Device.LocalAgent.Subscription.".into(),
                    oper_status: msg::OperStatus::Success(msg::AddSuccess {
                        instantiated_path: format!("Device.LocalAgent.Subscription.{n}.").into(),
                        param_errs: Vec::new(),
                        unique_keys: msg::Params::new(),
                    }),
                }],
            }))
        }
        _ => error(7004, "not supported here"),
    })
}

/// The app with `agent` as its one configured agent, no discovery.
async fn app_for(dir: &std::path::Path, agent: &Agent) -> Home {
    app(dir, None, vec![(agent.url.clone(), Some(agent.eid.clone()))]).await
}

/// Resident memory of this test process, in MiB.
fn rss_mib() -> u64 {
    proc_status_kib("VmRSS") / 1024
}

/// Peak resident memory of this test process, in MiB.
fn peak_rss_mib() -> u64 {
    proc_status_kib("VmHWM") / 1024
}

/// A short distinct name for `i` (base 36), so half a million of them fit in one Record.
fn short(i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = i;
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    format!("p{}", String::from_utf8_lossy(&out))
}

const PASSPHRASE: &str = "hunter2-correct-horse-KEY";
const PSK: &str = "0123456789abcdef0123456789abcdefPSK";
const RADIUS: &str = "radius-shared-SECRET-42";
/// Parameters, child objects and table rows of the huge answers.
// As large as a controller takes in one Record (usp_core::wire::Limits::controller: 65,536
// repeated elements and map entries); a larger answer is refused whole (`Device.Big.` below).
const HUGE_PARAMS: usize = 45_000;
const HUGE_OBJECTS: usize = 15_000;
const HUGE_ROWS: usize = 60_000;
/// Objects in the answer for `Device.Big.`: more than a controller takes.
const TOO_MANY: usize = 150_000;

fn supported_obj(path: &str, multi: bool, params: Vec<msg::SupportedParamResult>) -> msg::SupportedObjectResult {
    msg::SupportedObjectResult {
        supported_obj_path: path.to_owned().into(),
        is_multi_instance: multi,
        supported_params: params,
        ..Default::default()
    }
}

fn param(name: &str, access: i32) -> msg::SupportedParamResult {
    msg::SupportedParamResult { param_name: name.to_owned().into(), access, value_type: 0, value_change: 0 }
}

fn gsdm_resp(path: &str, objs: Vec<msg::SupportedObjectResult>) -> Body {
    Body::Response(Response::GetSupportedDmResp(msg::GetSupportedDmResp {
        req_obj_results: vec![msg::RequestedObjectResult {
            req_obj_path: path.to_owned().into(),
            err_code: 0,
            err_msg: "".into(),
            data_model_inst_uri: "".into(),
            supported_objs: objs,
        }],
    }))
}

/// The explorer agent: `Device.` has [`HUGE_OBJECTS`] child objects and [`HUGE_PARAMS`]
/// parameters (the first a secret `KeyPassphrase`), `Device.T.` is a table of [`HUGE_ROWS`]
/// rows, `Device.WiFi.AccessPoint.{i}.Security.` holds three secrets beside a plain value.
fn explorer_agent_answers(eid: &str) -> Answer {
    let get = |path: &str, _depth: u32| match path {
        "Device." => {
            let mut params = vec![("KeyPassphrase".to_owned(), PASSPHRASE.to_owned())];
            params.extend((0..HUGE_PARAMS).map(|i| (short(i), "v".to_owned())));
            Some(vec![resolved("Device.", params)])
        }
        "Device.WiFi.AccessPoint.1.Security." => Some(vec![resolved(
            path,
            vec![
                ("ModeEnabled".into(), "WPA2-Personal".into()),
                ("KeyPassphrase".into(), PASSPHRASE.into()),
                ("PreSharedKey".into(), PSK.into()),
                ("RadiusSecret".into(), RADIUS.into()),
            ],
        )]),
        _ => None,
    };
    let gsdm = |g: &msg::GetSupportedDm| {
        let path: &str = g.obj_paths.first().map(|p| &**p).unwrap_or("");
        match path {
            "Device." => {
                let mut params = vec![param("KeyPassphrase", 1)];
                params.extend((0..HUGE_PARAMS).map(|i| param(&short(i), 0)));
                let mut objs = vec![supported_obj("Device.", false, params)];
                objs.push(supported_obj("Device.T.{i}.", true, Vec::new()));
                objs.extend((0..HUGE_OBJECTS).map(|i| supported_obj(&format!("Device.{}.", short(i)), false, vec![])));
                Some(gsdm_resp(path, objs))
            }
            "Device.T." => Some(gsdm_resp(path, vec![supported_obj("Device.T.{i}.", true, Vec::new())])),
            "Device.Big." => Some(gsdm_resp(
                path,
                (0..TOO_MANY).map(|i| supported_obj(&format!("Device.Big.{}.", short(i)), false, vec![])).collect(),
            )),
            "Device.WiFi.AccessPoint.{i}.Security." => Some(gsdm_resp(
                path,
                vec![supported_obj(
                    path,
                    false,
                    vec![
                        param("ModeEnabled", 1),
                        param("KeyPassphrase", 1),
                        param("PreSharedKey", 1),
                        param("RadiusSecret", 1),
                    ],
                )],
            )),
            _ => None,
        }
    };
    let instances = |path: &str| {
        (path == "Device.T.").then(|| {
            // Rows in reverse order, some repeated: the app sorts and pages them.
            let rows = (1..=HUGE_ROWS)
                .rev()
                .map(|n| msg::CurrInstance {
                    instantiated_obj_path: format!("Device.T.{n}.").into(),
                    unique_keys: msg::Params::new(),
                })
                .collect();
            Body::Response(Response::GetInstancesResp(msg::GetInstancesResp {
                req_path_results: vec![msg::InstancesRequestedPathResult {
                    requested_path: path.to_owned().into(),
                    err_code: 0,
                    err_msg: "".into(),
                    curr_insts: rows,
                }],
            }))
        })
    };
    paired_answers(eid, get, gsdm, instances)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_data_model_is_explored_in_bounded_pages_and_secrets_never_reach_the_window() {
    let eid = "proto::hostile-explorer";
    let agent = start_agent(eid, explorer_agent_answers(eid)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app_for(dir.path(), &agent).await;
    wait_home(&home, "the hostile agent paired", |v| is_paired(v, eid)).await;
    let explore =
        |path: &str, offset: u32| home.explore(ExploreArgs { agent: eid.to_owned(), path: path.to_owned(), offset });

    // The root: 15k objects and 45k parameters, values from a 45k-entry Get.
    let t = Instant::now();
    let root = tokio::time::timeout(WAIT, explore("Device.", 0)).await.expect("explore hung").expect("root");
    let took = t.elapsed();
    eprintln!("after root: rss {} peak {}", rss_mib(), peak_rss_mib());
    eprintln!("root level: {} of {} entries in {took:?}", root.entries.len(), root.total);
    assert!(took < Duration::from_secs(10), "the root took {took:?}");
    assert_eq!(root.total as usize, HUGE_OBJECTS + 1 + 1 + HUGE_PARAMS);
    assert_eq!(root.entries.len(), ipc_types::EXPLORER_PAGE as usize);
    assert_eq!(root.next_offset, Some(ipc_types::EXPLORER_PAGE));
    assert!(root.entries.iter().all(|e| matches!(e.kind, DmKind::Object | DmKind::Table)));
    let json = serde_json::to_string(&root).expect("json");
    assert!(json.len() < 200_000, "one page is small: {} bytes", json.len());

    // The page where the parameters start: the secret is masked, the others have values.
    let first_param = (HUGE_OBJECTS + 1) as u32;
    let t = Instant::now();
    let params = tokio::time::timeout(WAIT, explore("Device.", first_param)).await.expect("hung").expect("page");
    eprintln!("parameter page in {:?}; rss {} peak {}", t.elapsed(), rss_mib(), peak_rss_mib());
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(params.offset, first_param);
    let key = params.entries.iter().find(|e| e.name == "KeyPassphrase").expect("the secret is listed");
    assert!(key.secret && key.value.is_none() && key.writable, "{key:?}");
    assert!(params
        .entries
        .iter()
        .filter(|e| e.kind == DmKind::Parameter && !e.secret)
        .all(|e| e.value.as_deref() == Some("v")));
    assert!(!serde_json::to_string(&params).expect("json").contains(PASSPHRASE));
    let last = explore("Device.", root.total - 3).await.expect("last page");
    assert_eq!((last.entries.len(), last.next_offset), (3, None));

    // A table of 60k rows: one sorted page at a time.
    let t = Instant::now();
    let rows = tokio::time::timeout(WAIT, explore("Device.T.", 0)).await.expect("hung").expect("rows");
    eprintln!("table: {} of {} rows in {:?}", rows.entries.len(), rows.total, t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(rows.total as usize, HUGE_ROWS);
    assert_eq!(rows.entries.len(), ipc_types::EXPLORER_PAGE as usize);
    assert_eq!(rows.entries[0].path, "Device.T.1.");
    assert_eq!(rows.entries[499].path, "Device.T.500.");

    // A security object: every secret masked, never in the answer; the plain value shown.
    let sec = explore("Device.WiFi.AccessPoint.1.Security.", 0).await.expect("security");
    let json = serde_json::to_string(&sec).expect("json");
    for secret in [PASSPHRASE, PSK, RADIUS] {
        assert!(!json.contains(secret), "a secret reached the window: {json}");
    }
    let shown: Vec<(&str, bool, Option<&str>)> =
        sec.entries.iter().map(|e| (e.name.as_str(), e.secret, e.value.as_deref())).collect();
    assert_eq!(
        shown,
        [
            ("ModeEnabled", false, Some("WPA2-Personal")),
            ("KeyPassphrase", true, None),
            ("PreSharedKey", true, None),
            ("RadiusSecret", true, None)
        ]
    );

    // 150k objects in one answer (under 5 MiB): more than a controller takes; refused whole, at once.
    let t = Instant::now();
    let big = tokio::time::timeout(WAIT, explore("Device.Big.", 0)).await.expect("hung");
    eprintln!("{TOO_MANY} objects: {big:?} in {:?}", t.elapsed());
    assert!(big.is_err(), "a 150k-object answer was taken: {:?}", big.map(|v| v.total));
    assert!(t.elapsed() < Duration::from_secs(10), "refusing it took {:?}", t.elapsed());

    let peak = peak_rss_mib();
    eprintln!("peak RSS {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
    home.shutdown().await;
}

/// A Notify of a new `Device.Hosts.Host.{row}.` carrying `mac` as its unique key.
fn host_created(row: usize, mac: Option<String>) -> Msg {
    let unique_keys = match mac {
        Some(m) => msg::Params(vec![("PhysAddress".into(), m.into())]),
        None => msg::Params::new(),
    };
    let notify = msg::Notify {
        subscription_id: "hosts".into(),
        send_resp: false,
        notification: msg::Notification::ObjCreation(msg::ObjectCreation {
            obj_path: format!("Device.Hosts.Host.{row}.").into(),
            unique_keys,
        }),
    };
    Msg::new(format!("notify-{row}"), Body::Request(Request::Notify(notify)))
}

const FLOOD: usize = 10_000;
const SENTINEL_ROW: usize = 999_999;
const SENTINEL_MAC: &str = "02:ff:ff:ff:ff:fe";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_new_hosts_with_made_up_macs_keep_home_json_and_memory_bounded() {
    let eid = "proto::hostile-hosts";
    let listening = Arc::new(tokio::sync::Notify::new());
    let heard = listening.clone();
    // Host rows answer a long multi-line HostName (the sentinel a short one), and rows without
    // a MAC in the notification a made-up one.
    let get = move |path: &str, _depth: u32| {
        if path == "Device.Hosts.Host.*.PhysAddress" {
            // The app asks this once its subscriptions are made: from now on it listens.
            heard.notify_one();
            return None;
        }
        let row = path.strip_prefix("Device.Hosts.Host.")?.split('.').next()?.to_owned();
        let obj = format!("Device.Hosts.Host.{row}.");
        if path.ends_with("HostName") {
            let name = if row == SENTINEL_ROW.to_string() {
                "Sentinel".to_owned()
            } else {
                format!("Evil\nINFO forged log line\u{202e}{}", "n".repeat(100_000))
            };
            Some(vec![resolved(&obj, vec![("HostName".into(), name)])])
        } else {
            Some(vec![resolved(&obj, vec![("PhysAddress".into(), "not-a-mac-at-all".repeat(1000))])])
        }
    };
    let agent = start_agent(eid, paired_answers(eid, get, |_| None, |_| None)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let home = app_for(dir.path(), &agent).await;
    tokio::time::timeout(WAIT, listening.notified()).await.expect("the app never started listening");
    let mut events = home.events();

    // 10k new hosts: valid MACs (more than the app keeps), oversized and made-up ones, none.
    let mut valid = 0usize;
    for i in 0..FLOOD {
        let mac = match i % 8 {
            0..=4 => {
                valid += 1;
                Some(format!("02:00:00:{:02X}:{:02x}:{:02x}", i >> 16, (i >> 8) & 0xff, i & 0xff))
            }
            5 if i % 400 == 5 => Some("A".repeat(1 << 20)),
            5 => Some("0".repeat(200)),
            6 => Some(format!("zz:zz:zz:zz:zz:{i}")),
            _ => None,
        };
        agent.push.send(host_created(i, mac)).await.expect("agent connection open");
    }
    agent.push.send(host_created(SENTINEL_ROW, Some(SENTINEL_MAC.to_owned()))).await.expect("sentinel");

    // Every event the app raises is small and clean; the last one is the sentinel.
    let mut joined = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await.expect("the sentinel never came") {
            Ok(ipc_types::LiveEvent::DeviceJoined { mac, name, .. }) => {
                joined += 1;
                assert_eq!(mac.len(), 17, "{mac}");
                assert!(name.chars().count() <= 65 && !name.contains('\n') && !name.contains('\u{202e}'), "{name:?}");
                if mac == SENTINEL_MAC {
                    assert_eq!(name, "Sentinel");
                    break;
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("events closed: {e}"),
        }
    }
    eprintln!("{joined} device-joined events seen of {valid} valid new MACs");

    // home.json gets the known MACs within a second or so (saved together, not per host).
    let path = dir.path().join("home.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    let data = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains(SENTINEL_MAC) {
            break text;
        }
        assert!(Instant::now() < deadline, "home.json never got the new devices");
        // Nothing to await from outside the app: the save is its own, a second after the burst.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let json: serde_json::Value = serde_json::from_str(&data).expect("home.json is JSON");
    let known = json["known_macs"].as_array().expect("known_macs");
    eprintln!("home.json: {} bytes, {} known MACs", data.len(), known.len());
    // Notifications the app could not keep up with are skipped (it refreshes instead), so
    // fewer than all valid MACs may be known; never more than the cap.
    assert!(known.len() <= 4096 && known.len() > 100, "{} known MACs", known.len());
    assert!(known.iter().all(|m| m.as_str().is_some_and(|m| m.len() == 17)));
    assert!(data.len() < 200_000, "home.json is {} bytes", data.len());
    let peak = peak_rss_mib();
    eprintln!("peak RSS {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
    home.shutdown().await;
}
