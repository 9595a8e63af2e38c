//! Known-answer tests over the real Records in `shared/vectors/`, captured from the
//! Broadband Forum reference agent (OB-USPA 11.0.4).
//!
//! The `.txt` beside each `.bin` is Google protobuf's text-format decoding. We parse it
//! with an independent text-format parser (prost-reflect, over the descriptors of our
//! own `proto/` files) and compare:
//! - agent vectors: our decoder's result equals what the `.txt` says (maps as maps);
//! - controller vectors: our encoder, given the request the `.txt` describes, writes the
//!   captured bytes exactly.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use usp_core::msg::Msg;
use usp_core::record::{Record, RecordType};
use usp_core::wire::{self, Limits};
use usp_proto::{usp, usp_record};

fn vectors_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = here.join("../../shared/vectors");
    assert!(dir.is_dir(), "shared/vectors not found at {}", dir.display());
    dir
}

fn pool() -> DescriptorPool {
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let fds = protox::compile([proto.join("usp-record-1-4.proto"), proto.join("usp-msg-1-4.proto")], [&proto])
        .expect("our proto files compile");
    DescriptorPool::from_file_descriptor_set(fds).expect("descriptor pool")
}

/// The text-format sections of a vector's `.txt`: the Record, then each Msg.
fn sections(txt: &str) -> (String, Vec<String>) {
    let mut record = String::new();
    let mut msgs: Vec<String> = Vec::new();
    let mut current: Option<usize> = None; // None = before any section, Some(0) = record, Some(n) = msg n-1
    for line in txt.lines() {
        if line.starts_with("# ---- usp_record.Record") {
            current = Some(0);
            continue;
        }
        if line.starts_with("# ---- usp.Msg") {
            msgs.push(String::new());
            current = Some(msgs.len());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        match current {
            Some(0) => {
                record.push_str(line);
                record.push('\n');
            }
            Some(n) => {
                msgs[n - 1].push_str(line);
                msgs[n - 1].push('\n');
            }
            None => {}
        }
    }
    (record, msgs)
}

fn parse<M: prost::Message + Default>(pool: &DescriptorPool, name: &str, text: &str) -> M {
    let desc = pool.get_message_by_name(name).expect("message in pool");
    let dynamic = DynamicMessage::parse_text_format(desc, text).expect("text format parses");
    M::decode(dynamic.encode_to_vec().as_slice()).expect("re-decodes")
}

struct Vector {
    name: String,
    bin: Vec<u8>,
    record: usp_record::Record,
    msgs: Vec<usp::Msg>,
}

fn load(kind: &str) -> Vec<Vector> {
    let pool = pool();
    let dir = vectors_dir().join(kind);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("vector dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no vectors in {}", dir.display());
    names
        .into_iter()
        .map(|bin_path| {
            let txt = std::fs::read_to_string(bin_path.with_extension("txt")).expect("txt beside bin");
            let (rec_text, msg_texts) = sections(&txt);
            Vector {
                name: bin_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                bin: std::fs::read(&bin_path).expect("bin"),
                record: parse(&pool, "usp_record.Record", &rec_text),
                msgs: msg_texts.iter().map(|t| parse(&pool, "usp.Msg", t)).collect(),
            }
        })
        .collect()
}

/// Our Record, as prost types, for comparison with the text-format reference.
fn to_prost_record(r: &Record) -> usp_record::Record {
    usp_record::Record::from(r)
}

#[test]
fn every_agent_vector_decodes_to_what_its_txt_says() {
    let vectors = load("agent");
    assert_eq!(vectors.len(), 21);
    let limits = Limits::default();
    for v in vectors {
        let rec = wire::decode_record(Bytes::from(v.bin.clone()), &limits)
            .unwrap_or_else(|e| panic!("{}: record does not decode: {e}", v.name));
        assert_eq!(to_prost_record(&rec), v.record, "{}: record differs from its .txt", v.name);
        let payloads: Vec<Bytes> = match &rec.record_type {
            RecordType::NoSessionContext { payload } => vec![payload.clone()],
            RecordType::SessionContext(s) => s.payload.clone(),
            _ => vec![],
        };
        assert_eq!(payloads.len(), v.msgs.len(), "{}: number of messages", v.name);
        for (payload, expected) in payloads.into_iter().zip(&v.msgs) {
            let msg: Msg =
                wire::decode_msg(payload, &limits).unwrap_or_else(|e| panic!("{}: msg does not decode: {e}", v.name));
            assert_eq!(&usp::Msg::from(&msg), expected, "{}: msg differs from its .txt", v.name);
        }
    }
}

#[test]
fn every_controller_vector_is_reproduced_byte_for_byte() {
    let vectors = load("controller");
    assert_eq!(vectors.len(), 19);
    for v in vectors {
        // Build our Record from the .txt: the Msg(s) through our own encoder.
        let reference = &v.record;
        let mut rec = Record::try_from(reference.clone()).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        match &mut rec.record_type {
            RecordType::NoSessionContext { payload } => {
                let ours = Msg::try_from(v.msgs[0].clone()).unwrap_or_else(|e| panic!("{}: {e}", v.name));
                let mut out = Vec::new();
                wire::encode_msg(&ours, &mut out);
                assert_eq!(&out[..], &payload[..], "{}: our Msg encoding differs", v.name);
                *payload = Bytes::from(out);
            }
            RecordType::SessionContext(s) => {
                for (slot, m) in s.payload.iter_mut().zip(&v.msgs) {
                    let ours = Msg::try_from(m.clone()).unwrap_or_else(|e| panic!("{}: {e}", v.name));
                    let mut out = Vec::new();
                    wire::encode_msg(&ours, &mut out);
                    *slot = Bytes::from(out);
                }
            }
            _ => {}
        }
        let mut out = Vec::new();
        wire::encode_record(&rec, &mut out);
        assert_eq!(out, v.bin, "{}: our Record encoding differs from the captured bytes", v.name);
    }
}

#[test]
fn reference_agent_quirks_are_read_correctly() {
    let limits = Limits::default();
    let read = |name: &str| {
        let bin = std::fs::read(vectors_dir().join("agent").join(name)).expect("vector");
        wire::decode_record(Bytes::from(bin), &limits).expect("record")
    };
    // `websocket_connect {}` is on the wire as 4a 00 and selects the case.
    let rec = read("01-websocket-connect.bin");
    assert_eq!(rec.record_type, RecordType::WebSocketConnect);
    assert_eq!(&*rec.from_id, "proto::obuspa-test-agent");
    // Map entries without a value field read as "".
    let RecordType::NoSessionContext { payload } = read("02-get-resp-deviceinfo.bin").record_type else { panic!() };
    let msg = wire::decode_msg(payload, &limits).expect("msg");
    let usp_core::msg::Body::Response(usp_core::msg::Response::GetResp(resp)) = msg.body else { panic!() };
    assert_eq!(resp.value("Device.DeviceInfo.SoftwareVersion"), Some(""));
    assert_eq!(resp.value("Device.DeviceInfo.ModelName"), Some("USP Agent"));
    assert_eq!(resp.params().len(), 8);
    // Wire order of map entries is kept (the agent's data-model order).
    assert_eq!(resp.params()[0].path, "Device.DeviceInfo.SoftwareVersion");
    // An empty `req_output_args {}` is a success, not a missing oneof.
    let RecordType::NoSessionContext { payload } = read("20-operate-resp-challenge-ok.bin").record_type else {
        panic!()
    };
    let msg = wire::decode_msg(payload, &limits).expect("msg");
    let usp_core::msg::Body::Response(usp_core::msg::Response::OperateResp(op)) = msg.body else { panic!() };
    assert!(matches!(op.outcomes()[0].1, usp_core::request::CommandOutcome::Done(args) if args.is_empty()));
    // Error messages carry no msg_type on the wire (ERROR = 0).
    let RecordType::NoSessionContext { payload } = read("12-error-set-param-errs.bin").record_type else { panic!() };
    let msg = wire::decode_msg(payload, &limits).expect("msg");
    assert_eq!(msg.msg_type, Ok(usp_core::msg::MsgType::Error));
    let usp_core::msg::Body::Error(e) = msg.body else { panic!() };
    assert_eq!((e.err_code, e.param_errs[0].err_code), (7004, 7010));
    // Disconnect 7106 answers a session context record.
    let rec = read("16-disconnect-7106.bin");
    assert!(matches!(rec.record_type, RecordType::Disconnect { reason_code: 7106, .. }));
}
