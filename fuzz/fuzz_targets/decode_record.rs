//! `cargo +nightly fuzz run decode_record`: arbitrary bytes as a USP Record (and, for a
//! `no_session_context` Record, its payload as a Msg). An `Ok` must re-encode and
//! re-decode to itself and agree with prost (usp-proto).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use usp_core::record::RecordType;
use usp_core::wire::{
    decode_msg, decode_record, encode_msg, encode_record, encoded_record_len, DecodeError, Limits,
};
use usp_proto::usp_record as pr;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match (decode_record(Bytes::copy_from_slice(data), &limits), pr::Record::decode(data)) {
        (Ok(r), Ok(theirs)) => {
            let mut out = Vec::new();
            encode_record(&r, &mut out);
            assert_eq!(out.len(), encoded_record_len(&r));
            let again = decode_record(Bytes::from(out), &limits).expect("re-decode");
            assert_eq!(again, r);
            assert_eq!(pr::Record::from(&r), theirs);
            if let RecordType::NoSessionContext { payload } = r.record_type {
                if let Ok(m) = decode_msg(payload, &limits) {
                    let mut out = Vec::new();
                    encode_msg(&m, &mut out);
                    assert_eq!(decode_msg(Bytes::from(out), &limits).expect("re-decode msg"), m);
                }
            }
        }
        (Ok(r), Err(e)) => panic!("accepted what prost rejects ({e}): {r:?}"),
        (Err(e), Ok(_)) => assert!(
            matches!(
                e,
                DecodeError::EmptyOneof { .. } | DecodeError::TwoOneofMembers { .. } | DecodeError::Group { .. }
                    | DecodeError::PathTooLong { .. }
            ),
            "prost accepts what we reject: {e}"
        ),
        (Err(_), Err(_)) => {}
    }
});
