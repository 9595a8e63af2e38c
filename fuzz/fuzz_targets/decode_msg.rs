//! `cargo +nightly fuzz run decode_msg`: arbitrary bytes as a USP Msg.
//! An `Ok` must re-encode and re-decode to itself and agree with prost (usp-proto);
//! an `Err` where prost succeeds must be one of our stricter rules (R-ENC.3/4).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use usp_core::wire::{decode_msg, encode_msg, encoded_msg_len, peek_msg_id, DecodeError, Limits};
use usp_proto::usp as pb;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let ours = decode_msg(Bytes::copy_from_slice(data), &limits);
    let _ = peek_msg_id(data);
    match (ours, pb::Msg::decode(data)) {
        (Ok(m), Ok(mut theirs)) => {
            let mut out = Vec::new();
            encode_msg(&m, &mut out);
            assert_eq!(out.len(), encoded_msg_len(&m));
            let again = decode_msg(Bytes::from(out.clone()), &limits).expect("re-decode");
            assert_eq!(again, m);
            let mut out2 = Vec::new();
            encode_msg(&again, &mut out2);
            assert_eq!(out2, out);
            theirs.header.get_or_insert_with(Default::default);
            assert_eq!(pb::Msg::from(&m), theirs);
        }
        (Ok(m), Err(e)) => panic!("accepted what prost rejects ({e}): {m:?}"),
        (Err(e), Ok(_)) => assert!(
            matches!(
                e,
                DecodeError::EmptyOneof { .. }
                    | DecodeError::NoBody
                    | DecodeError::TwoOneofMembers { .. }
                    | DecodeError::Group { .. }
                    | DecodeError::PathTooLong { .. }
            ),
            "prost accepts what we reject: {e}"
        ),
        (Err(_), Err(_)) => {}
    }
});
