//! Codec benchmark: usp-home's hand-written codec (`usp_core::wire`) against rusp-lib
//! (quick-protobuf), on the same logical messages.
//!
//! One round trip = encode the Msg, wrap it in a `no_session_context` Record, encode the
//! Record to bytes, decode the Record, decode its payload into the library's Msg type.
//! Both sides start from an already-built in-memory Msg and end with a fully decoded Msg
//! (rusp-lib with its validity checks, as our decoder checks its `oneof`s).
//!
//! After criterion's groups, a plain timing loop measures the per-iteration median of
//! each side (alternating samples of the two, so both see the same machine load) and
//! prints one line per case:
//! `<case>: usp-home <ns> ns, rusp-lib <ns> ns, speedup <x.xx>`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;

use usp_core::msg::*;
use usp_core::record::{Record, RecordType};
use usp_core::wire::{decode_msg, decode_record, encode_msg, encode_record, Limits};

use rusp_lib::usp as ru;
use rusp_lib::usp_record as rr;

// ---------------------------------------------------------------------------------------
// The messages

fn get3() -> Msg {
    Msg::new(
        "ctrl-42",
        Body::Request(Request::Get(Get {
            param_paths: vec![
                "Device.DeviceInfo.".into(),
                "Device.WiFi.SSID.*.SSID".into(),
                "Device.Hosts.HostNumberOfEntries".into(),
            ],
            max_depth: 2,
        })),
    )
}

/// One `Device.Hosts.Host.{i}.` with up to ten realistic parameters.
fn host_params(i: usize, n: usize) -> Params {
    let all = [
        ("PhysAddress", format!("aa:bb:cc:{:02x}:{:02x}:{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)),
        ("IPAddress", format!("192.168.{}.{}", (i / 250) % 256, 2 + i % 250)),
        ("HostName", format!("host-{i}.lan")),
        ("Active", if matches!(i % 3, 0) { "false".to_owned() } else { "true".to_owned() }),
        ("LeaseTimeRemaining", format!("{}", 86_400 - (i * 37) % 86_400)),
        ("AddressSource", "DHCP".to_owned()),
        ("Layer1Interface", format!("Device.WiFi.SSID.{}.", 1 + i % 4)),
        ("Layer3Interface", "Device.IP.Interface.1.".to_owned()),
        ("InterfaceType", if matches!(i % 2, 0) { "Wi-Fi".to_owned() } else { "Ethernet".to_owned() }),
        ("Alias", format!("cpe-host-{i}")),
    ];
    Params(all.into_iter().take(n).map(|(k, v)| (Text::from(k), Text::from(v))).collect())
}

/// A GetResp with `n` parameters, one resolved path per (up to) ten parameters.
fn get_resp(n: usize) -> Msg {
    let mut resolved = Vec::new();
    let mut left = n;
    let mut i = 1;
    while left > 0 {
        let k = left.min(10);
        resolved.push(ResolvedPathResult {
            resolved_path: format!("Device.Hosts.Host.{i}.").into(),
            result_params: host_params(i, k),
        });
        left -= k;
        i += 1;
    }
    Msg::new(
        "ctrl-43",
        Body::Response(Response::GetResp(GetResp {
            req_path_results: vec![GetRequestedPathResult {
                requested_path: "Device.Hosts.Host.*.".into(),
                err_code: 0,
                err_msg: "".into(),
                resolved_path_results: resolved,
            }],
        })),
    )
}

/// A GetSupportedDMResp: 40 objects x 10 parameters, commands, events, unique keys.
fn gsdm_resp() -> Msg {
    let names = [
        "Enable",
        "Status",
        "Alias",
        "Name",
        "LastChange",
        "LowerLayers",
        "Upstream",
        "MACAddress",
        "MaxBitRate",
        "Stats.BytesSent",
    ];
    let mut objs = Vec::new();
    for o in 0..40 {
        let multi = o % 2 == 0;
        let path = if multi {
            format!("Device.Area{}.Table{}.{{i}}.", o / 4, o)
        } else {
            format!("Device.Area{}.Object{}.", o / 4, o)
        };
        let supported_params = names
            .iter()
            .enumerate()
            .map(|(k, n)| SupportedParamResult {
                param_name: (*n).into(),
                access: (k % 3) as i32,
                value_type: (1 + k % 10) as i32,
                value_change: (k % 3) as i32,
            })
            .collect();
        let supported_commands = if o % 4 == 0 {
            vec![
                SupportedCommandResult {
                    command_name: "Reset()".into(),
                    input_arg_names: vec![],
                    output_arg_names: vec![],
                    command_type: 1,
                },
                SupportedCommandResult {
                    command_name: "Diagnose()".into(),
                    input_arg_names: vec!["Interval".into(), "Count".into()],
                    output_arg_names: vec!["Status".into(), "Result.{i}.Value".into()],
                    command_type: 2,
                },
            ]
        } else {
            vec![]
        };
        let supported_events = if o % 5 == 0 {
            vec![SupportedEventResult { event_name: "Changed!".into(), arg_names: vec!["Reason".into(), "Old".into()] }]
        } else {
            vec![]
        };
        let unique_key_sets = if multi {
            vec![
                SupportedUniqueKeySet { key_names: vec!["Alias".into()] },
                SupportedUniqueKeySet { key_names: vec!["Name".into()] },
            ]
        } else {
            vec![]
        };
        objs.push(SupportedObjectResult {
            supported_obj_path: path.into(),
            access: if multi { 1 } else { 0 },
            is_multi_instance: multi,
            supported_commands,
            supported_events,
            supported_params,
            divergent_paths: vec![],
            unique_key_sets,
        });
    }
    Msg::new(
        "ctrl-44",
        Body::Response(Response::GetSupportedDmResp(GetSupportedDmResp {
            req_obj_results: vec![RequestedObjectResult {
                req_obj_path: "Device.".into(),
                err_code: 0,
                err_msg: "".into(),
                data_model_inst_uri: "urn:broadband-forum-org:tr-181-2-19-1".into(),
                supported_objs: objs,
            }],
        })),
    )
}

fn notify_value_change() -> Msg {
    Msg::new(
        "ValueChange-2026-11-27T19:05:37Z-1",
        Body::Request(Request::Notify(Notify {
            subscription_id: "vec-vc-1".into(),
            send_resp: true,
            notification: Notification::ValueChange(ValueChangeNotif {
                param_path: "Device.LocalAgent.Controller.1.ProvisioningCode".into(),
                param_value: "vec-pc-1".into(),
            }),
        })),
    )
}

// ---------------------------------------------------------------------------------------
// The same messages as rusp-lib types

fn r(t: &Text) -> String {
    t.to_string()
}

fn rv(v: &[Text]) -> Vec<String> {
    v.iter().map(r).collect()
}

fn to_rusp(m: &Msg) -> ru::Msg {
    use ru::mod_Body::OneOfmsg_body as B;
    let body = match &m.body {
        Body::Request(Request::Get(g)) => B::request(ru::Request {
            req_type: ru::mod_Request::OneOfreq_type::get(ru::Get {
                param_paths: rv(&g.param_paths),
                max_depth: g.max_depth,
            }),
        }),
        Body::Request(Request::Notify(n)) => {
            let Notification::ValueChange(vc) = &n.notification else { unimplemented!() };
            B::request(ru::Request {
                req_type: ru::mod_Request::OneOfreq_type::notify(ru::Notify {
                    subscription_id: r(&n.subscription_id),
                    send_resp: n.send_resp,
                    notification: ru::mod_Notify::OneOfnotification::value_change(ru::mod_Notify::ValueChange {
                        param_path: r(&vc.param_path),
                        param_value: r(&vc.param_value),
                    }),
                }),
            })
        }
        Body::Response(Response::GetResp(g)) => B::response(ru::Response {
            resp_type: ru::mod_Response::OneOfresp_type::get_resp(ru::GetResp {
                req_path_results: g
                    .req_path_results
                    .iter()
                    .map(|x| ru::mod_GetResp::RequestedPathResult {
                        requested_path: r(&x.requested_path),
                        err_code: x.err_code,
                        err_msg: r(&x.err_msg),
                        resolved_path_results: x
                            .resolved_path_results
                            .iter()
                            .map(|y| ru::mod_GetResp::ResolvedPathResult {
                                resolved_path: r(&y.resolved_path),
                                result_params: y
                                    .result_params
                                    .iter()
                                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            }),
        }),
        Body::Response(Response::GetSupportedDmResp(g)) => {
            use ru::mod_GetSupportedDMResp as q;
            B::response(ru::Response {
                resp_type: ru::mod_Response::OneOfresp_type::get_supported_dm_resp(ru::GetSupportedDMResp {
                    req_obj_results: g
                        .req_obj_results
                        .iter()
                        .map(|x| q::RequestedObjectResult {
                            req_obj_path: r(&x.req_obj_path),
                            err_code: x.err_code,
                            err_msg: r(&x.err_msg),
                            data_model_inst_uri: r(&x.data_model_inst_uri),
                            supported_objs: x
                                .supported_objs
                                .iter()
                                .map(|o| q::SupportedObjectResult {
                                    supported_obj_path: r(&o.supported_obj_path),
                                    access: o.access.into(),
                                    is_multi_instance: o.is_multi_instance,
                                    supported_commands: o
                                        .supported_commands
                                        .iter()
                                        .map(|c| q::SupportedCommandResult {
                                            command_name: r(&c.command_name),
                                            input_arg_names: rv(&c.input_arg_names),
                                            output_arg_names: rv(&c.output_arg_names),
                                            command_type: c.command_type.into(),
                                        })
                                        .collect(),
                                    supported_events: o
                                        .supported_events
                                        .iter()
                                        .map(|e| q::SupportedEventResult {
                                            event_name: r(&e.event_name),
                                            arg_names: rv(&e.arg_names),
                                        })
                                        .collect(),
                                    supported_params: o
                                        .supported_params
                                        .iter()
                                        .map(|p| q::SupportedParamResult {
                                            param_name: r(&p.param_name),
                                            access: p.access.into(),
                                            value_type: p.value_type.into(),
                                            value_change: p.value_change.into(),
                                        })
                                        .collect(),
                                    divergent_paths: rv(&o.divergent_paths),
                                    unique_key_sets: o
                                        .unique_key_sets
                                        .iter()
                                        .map(|u| q::SupportedUniqueKeySet { key_names: rv(&u.key_names) })
                                        .collect(),
                                })
                                .collect(),
                        })
                        .collect(),
                }),
            })
        }
        _ => unimplemented!("not a benchmark case"),
    };
    ru::Msg {
        header: Some(ru::Header { msg_id: r(&m.msg_id), msg_type: m.body.msg_type().number().into() }),
        body: Some(ru::Body { msg_body: body }),
    }
}

// ---------------------------------------------------------------------------------------
// The round trips

const VERSION: &str = "1.3";
const TO_ID: &str = "proto::obuspa-test-agent";
const FROM_ID: &str = "self::usp-home-test";

#[inline(never)]
fn usp_home_round_trip(m: &Msg, limits: &Limits) -> Msg {
    let mut payload = Vec::new();
    encode_msg(m, &mut payload);
    let rec = Record::new(
        Text::from_static(VERSION),
        Text::from_static(TO_ID),
        Text::from_static(FROM_ID),
        RecordType::NoSessionContext { payload: Bytes::from(payload) },
    );
    let mut wire = Vec::new();
    encode_record(&rec, &mut wire);
    let rec = decode_record(Bytes::from(wire), limits).expect("our record decodes");
    let RecordType::NoSessionContext { payload } = rec.record_type else { unreachable!() };
    decode_msg(payload, limits).expect("our msg decodes")
}

#[inline(never)]
fn rusp_round_trip(m: &ru::Msg) -> ru::Msg {
    let payload = m.to_vec().expect("rusp-lib encodes its msg");
    let rec = rr::Record {
        version: VERSION.into(),
        to_id: TO_ID.into(),
        from_id: FROM_ID.into(),
        record_type: rr::mod_Record::OneOfrecord_type::no_session_context(rr::NoSessionContextRecord { payload }),
        ..Default::default()
    };
    let wire = rec.to_vec().expect("rusp-lib encodes its record");
    let rec = rr::Record::from_bytes(&wire).expect("rusp-lib decodes its record");
    let rr::mod_Record::OneOfrecord_type::no_session_context(n) = rec.record_type else { unreachable!() };
    ru::Msg::from_bytes(&n.payload).expect("rusp-lib decodes its msg")
}

struct Case {
    name: &'static str,
    ours: Msg,
    theirs: ru::Msg,
}

fn cases() -> Vec<Case> {
    let mk = |name, ours: Msg| {
        let theirs = to_rusp(&ours);
        Case { name, ours, theirs }
    };
    vec![
        mk("get_3_paths", get3()),
        mk("get_resp_1_param", get_resp(1)),
        mk("get_resp_100_params", get_resp(100)),
        mk("get_resp_10000_params", get_resp(10_000)),
        mk("get_supported_dm_resp_40x10", gsdm_resp()),
        mk("notify_value_change", notify_value_change()),
    ]
}

/// Both sides must carry the same logical message: rusp-lib decodes our bytes to its
/// version of the message, and both round trips give their input back.
fn sanity(c: &Case, limits: &Limits) {
    let mut ours = Vec::new();
    encode_msg(&c.ours, &mut ours);
    assert_eq!(ru::Msg::from_bytes(&ours).ok().as_ref(), Some(&c.theirs), "{}", c.name);
    assert_eq!(Some(ours.len()), c.theirs.to_vec().ok().map(|v| v.len()), "{}", c.name);
    assert_eq!(usp_home_round_trip(&c.ours, limits), c.ours, "{}", c.name);
    assert_eq!(rusp_round_trip(&c.theirs), c.theirs, "{}", c.name);
}

/// The per-iteration medians of `a` and `b`, measured in alternating samples (so both
/// see the same machine load), after a warm-up; each sample is a batch of iterations
/// sized to about 1 ms.
fn medians_ns(mut a: impl FnMut(), mut b: impl FnMut(), budget: Duration) -> (f64, f64) {
    fn calibrate(f: &mut impl FnMut(), warm: Duration) -> f64 {
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < warm || n < 3 {
            f();
            n += 1;
        }
        t.elapsed().as_secs_f64() / n as f64
    }
    fn sample(f: &mut impl FnMut(), batch: u64) -> f64 {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        t.elapsed().as_nanos() as f64 / batch as f64
    }
    let per_a = calibrate(&mut a, budget / 10);
    let per_b = calibrate(&mut b, budget / 10);
    let batch_a = ((0.001 / per_a).ceil() as u64).max(1);
    let batch_b = ((0.001 / per_b).ceil() as u64).max(1);
    let pair = per_a * batch_a as f64 + per_b * batch_b as f64;
    let samples = ((budget.as_secs_f64() * 0.8 / pair) as usize).clamp(11, 401);
    let (mut ta, mut tb) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for _ in 0..samples {
        ta.push(sample(&mut a, batch_a));
        tb.push(sample(&mut b, batch_b));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        v[v.len() / 2]
    };
    (median(ta), median(tb))
}

fn main() {
    let limits = Limits::default();
    let cases = cases();
    // Profiling hook (e.g. under `valgrind --tool=callgrind`):
    // `CODEC_PROFILE=<case>:<usp-home|rusp-lib>:<iterations>` runs one loop and exits.
    if let Ok(spec) = std::env::var("CODEC_PROFILE") {
        let mut it = spec.split(':');
        let (name, side) = (it.next().unwrap_or(""), it.next().unwrap_or("usp-home"));
        let n: u64 = it.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
        let c = cases.iter().find(|c| c.name == name).expect("no such case");
        for _ in 0..n {
            if side == "rusp-lib" {
                drop(black_box(rusp_round_trip(black_box(&c.theirs))));
            } else {
                drop(black_box(usp_home_round_trip(black_box(&c.ours), &limits)));
            }
        }
        return;
    }

    for c in &cases {
        sanity(c, &limits);
    }

    // Short windows keep the whole run (six cases, two libraries) well under three minutes;
    // command-line options (e.g. `--quick`, `--measurement-time`) still apply.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    for c in &cases {
        let mut g = criterion.benchmark_group(c.name);
        g.bench_function("usp-home", |b| b.iter(|| usp_home_round_trip(black_box(&c.ours), &limits)));
        g.bench_function("rusp-lib", |b| b.iter(|| rusp_round_trip(black_box(&c.theirs))));
        g.finish();
    }
    criterion.final_summary();

    // `cargo bench` passes `--bench`; under `cargo test` the harness only smoke-tests.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 1500 } else { 4000 });
    for c in &cases {
        let (ours, theirs) = medians_ns(
            || drop(black_box(usp_home_round_trip(black_box(&c.ours), &limits))),
            || drop(black_box(rusp_round_trip(black_box(&c.theirs)))),
            budget,
        );
        println!("{}: usp-home {:.0} ns, rusp-lib {:.0} ns, speedup {:.2}", c.name, ours, theirs, theirs / ours);
    }
}
