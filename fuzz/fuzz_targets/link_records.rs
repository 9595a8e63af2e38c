//! `cargo fuzz run link_records`: sequences of Records, raw frames, requests, timers and
//! connection losses fed to a controller's `usp_core::engine::Link`, the way the driver
//! does. The link must never panic; everything it sends must decode; every request ends
//! exactly once (a reply, an error, a timeout or a lost connection); the typed views of
//! the replies (flattened params, Set failures) stay within their budgets.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use usp_core::engine::{Event, Link, LinkConfig, RequestId};
use usp_core::msg::{self, Body, Msg, Notification, Notify, OperStatus, Request, Response, Text};
use usp_core::record::{Record, RecordType};
use usp_core::request::Budget;
use usp_core::wire::{self, Limits};
use usp_core::EndpointId;

const ME: &str = "self::fuzz-controller";
const AGENT: &str = "proto::fuzz-agent";

/// Reads the fuzzer's bytes as a script.
struct Script<'a>(&'a [u8]);

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.byte().unwrap_or(0)) << 8 | u16::from(self.byte().unwrap_or(0))
    }
    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u16() as usize).min(max).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
    fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }
}

fn encode(rec: &Record) -> Bytes {
    let mut out = Vec::new();
    wire::encode_record(rec, &mut out);
    Bytes::from(out)
}

fn payload(m: &Msg) -> Bytes {
    let mut out = Vec::new();
    wire::encode_msg(m, &mut out);
    Bytes::from(out)
}

fn params(s: &mut Script<'_>) -> msg::Params {
    let mut p = msg::Params::new();
    for _ in 0..(s.byte().unwrap_or(0) % 8) {
        let k = s.text(64);
        let v = s.text(64);
        p.0.push((k.into(), v.into()));
    }
    p
}

/// A reply (or request) the agent might send for `msg_id`, shaped by the script.
fn body(s: &mut Script<'_>) -> Body {
    let path: Text = s.text(5000).into();
    match s.byte().unwrap_or(0) % 8 {
        0 => Body::Response(Response::GetResp(msg::GetResp {
            req_path_results: vec![msg::GetRequestedPathResult {
                requested_path: "Device.".into(),
                err_code: u32::from(s.byte().unwrap_or(0) % 2) * 7000,
                err_msg: s.text(64).into(),
                resolved_path_results: (0..s.byte().unwrap_or(0) % 4)
                    .map(|_| msg::ResolvedPathResult { resolved_path: path.clone(), result_params: params(s) })
                    .collect(),
            }],
        })),
        1 => {
            let errs = (0..s.byte().unwrap_or(0) % 8)
                .map(|_| msg::ParameterError { param: s.text(32).into(), err_code: 7012, err_msg: s.text(32).into() })
                .collect();
            let status = if s.byte().unwrap_or(0) % 2 == 0 {
                OperStatus::Failure(msg::OperFailure {
                    err_code: 7004,
                    err_msg: s.text(64).into(),
                    updated_inst_failures: vec![msg::UpdatedInstanceFailure { affected_path: path, param_errs: errs }],
                })
            } else {
                OperStatus::Success(msg::SetSuccess {
                    updated_inst_results: vec![msg::UpdatedInstanceResult {
                        affected_path: path,
                        param_errs: errs,
                        updated_params: params(s),
                    }],
                })
            };
            Body::Response(Response::SetResp(msg::SetResp {
                updated_obj_results: vec![msg::UpdatedObjectResult { requested_path: "Device.X.".into(), oper_status: status }],
            }))
        }
        2 => Body::Error(msg::Error {
            err_code: 7000 + u32::from(s.byte().unwrap_or(0)),
            err_msg: s.text(256).into(),
            param_errs: (0..s.byte().unwrap_or(0) % 4)
                .map(|_| msg::ParamError { param_path: s.text(64).into(), err_code: 7010, err_msg: s.text(64).into() })
                .collect(),
        }),
        3 | 4 => Body::Request(Request::Notify(Notify {
            subscription_id: s.text(32).into(),
            send_resp: s.byte().unwrap_or(0) % 2 == 0,
            notification: Notification::ValueChange(msg::ValueChangeNotif {
                param_path: path,
                param_value: s.text(64).into(),
            }),
        })),
        5 => Body::Request(Request::Get(msg::Get { param_paths: vec![path], max_depth: 0 })),
        6 => Body::Response(Response::GetSupportedDmResp(msg::GetSupportedDmResp::default())),
        _ => Body::Response(Response::AddResp(msg::AddResp::default())),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Script(data);
    let own: EndpointId = ME.parse().expect("eid");
    let known_agent = s.byte().unwrap_or(0) % 2 == 0;
    let agent: Option<EndpointId> = known_agent.then(|| AGENT.parse().expect("eid"));
    let config = LinkConfig {
        request_timeout: Duration::from_millis(500),
        limits: Limits { max_record_size: 64 * 1024, max_items: 512, ..Limits::controller() },
        max_outstanding: 64,
        ..LinkConfig::default()
    };
    let mut link = Link::new(own, agent, config);
    let t0 = Instant::now();
    let mut now = t0;
    let mut pending: Vec<RequestId> = Vec::new();
    let mut ended: HashSet<RequestId> = HashSet::new();
    let mut steps = 0;
    while let Some(op) = s.byte() {
        steps += 1;
        if steps > 256 {
            break;
        }
        match op % 10 {
            // A raw frame.
            0 => link.handle_record(Bytes::copy_from_slice(s.bytes(8192)), now),
            // A Record around a raw payload, from the agent or someone else.
            1 => {
                let to = if s.byte().unwrap_or(0) % 8 == 0 { s.text(64) } else { ME.to_owned() };
                let from = if s.byte().unwrap_or(0) % 8 == 0 { s.text(64) } else { AGENT.to_owned() };
                let payload = Bytes::copy_from_slice(s.bytes(8192));
                link.handle_record(encode(&Record::new("1.4", to.as_str(), from.as_str(), RecordType::NoSessionContext { payload })), now);
            }
            // Another kind of Record.
            2 => {
                let rt = match s.byte().unwrap_or(0) % 4 {
                    0 => RecordType::WebSocketConnect,
                    1 => RecordType::Disconnect { reason: s.text(256).into(), reason_code: 7105 },
                    2 => RecordType::SessionContext(Default::default()),
                    _ => RecordType::UdsConnect,
                };
                link.handle_record(encode(&Record::new("1.4", ME, AGENT, rt)), now);
            }
            // A well-formed message for an outstanding request (or a made-up id).
            3 | 4 => {
                let id: Text = match pending.get(s.byte().unwrap_or(0) as usize % (pending.len() + 1)) {
                    Some(id) => id.0.clone(),
                    None => s.text(32).into(),
                };
                let m = Msg::new(id, body(&mut s));
                let rt = RecordType::NoSessionContext { payload: payload(&m) };
                link.handle_record(encode(&Record::new("1.4", ME, AGENT, rt)), now);
            }
            // A broken payload whose header carries an outstanding msg_id.
            5 => {
                if let Some(id) = pending.first() {
                    let mut p = payload(&Msg::new(id.0.clone(), Body::Response(Response::AddResp(Default::default()))));
                    let cut = (s.byte().unwrap_or(0) as usize).min(p.len());
                    let mut v = p.split_to(p.len() - cut).to_vec();
                    v.extend_from_slice(s.bytes(64));
                    let rt = RecordType::NoSessionContext { payload: Bytes::from(v) };
                    link.handle_record(encode(&Record::new("1.4", ME, AGENT, rt)), now);
                }
            }
            // We send a request.
            6 => {
                let req = match s.byte().unwrap_or(0) % 3 {
                    0 => usp_core::request::get(["Device.DeviceInfo."]).build(),
                    1 => usp_core::request::set().param("Device.X.1.Y", &s.text(64), true).build(),
                    _ => Ok(usp_core::request::get_supported_protocol()),
                };
                if let Ok(req) = req {
                    let timeout = Duration::from_millis(u64::from(s.byte().unwrap_or(0)) * 10);
                    if let Ok(id) = link.send_with_timeout(req, timeout, now) {
                        assert!(!pending.contains(&id) && !ended.contains(&id), "msg_id reused: {id}");
                        pending.push(id);
                    }
                }
            }
            // Time passes.
            7 => {
                now += Duration::from_millis(u64::from(s.u16()));
                link.handle_timeout(now);
            }
            // The connection is lost.
            8 => link.connection_lost("fuzz"),
            // We say goodbye.
            _ => link.send_disconnect(7105, "fuzz"),
        }
        // Drain like the driver does, checking what comes out.
        while let Some(out) = link.poll_transmit() {
            let rec = wire::decode_record(out, &Limits::default()).expect("we send valid records");
            assert_eq!(&*rec.from_id, ME);
            if let RecordType::NoSessionContext { payload } = rec.record_type {
                wire::decode_msg(payload, &Limits::default()).expect("we send valid messages");
            }
        }
        while let Some(ev) = link.poll_event() {
            match ev {
                Event::Completed { id, result } => {
                    let at = pending.iter().position(|p| *p == id).expect("completes a request we made, once");
                    pending.remove(at);
                    ended.insert(id);
                    match result {
                        Ok(Response::GetResp(r)) => {
                            let budget = Budget { max_bytes: 1 << 16, max_items: 256 };
                            let flat = r.params_within(budget);
                            assert!(flat.len() <= 256);
                            assert!(flat.iter().map(|p| p.path.len()).sum::<usize>() <= 1 << 16);
                            let _ = r.errors();
                        }
                        Ok(Response::SetResp(r)) => {
                            for (_, res) in r.per_object() {
                                if let Err(e) = res {
                                    assert!(e.param_errs.len() <= usp_core::request::MAX_PARAM_ERRS);
                                    let _ = e.to_string();
                                }
                            }
                            let _ = r.param_errors();
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = e.to_string();
                        }
                    }
                }
                Event::Dropped(why) => {
                    assert!(why.to_string().len() < 4096, "a drop reason is short");
                }
                Event::Disconnect { reason, .. } => assert!(reason.len() <= 1024 + 4),
                Event::Notification { .. } | Event::Connected { .. } => {}
            }
        }
        assert_eq!(link.outstanding(), pending.len(), "the link and we agree on what is outstanding");
        if let Some(t) = link.poll_timeout() {
            assert!(!pending.is_empty(), "a timer without a request");
            let _ = t;
        }
    }
});
