//! Segmentation and reassembly at a maximum Record size, and Record integrity.

use super::*;
use crate::e2e::integrity::{der_to_pem, leaf_der, signed_input};
use crate::e2e::sar::{segments, Reassembly};

fn with_max_record(own: &str, peer: &str, first: u64, max: usize) -> E2eConfig {
    E2eConfig { max_record_size: max, ..config(own, peer, first) }
}

fn big(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i * 7 + i / 4096) as u8).collect::<Vec<u8>>())
}

#[test]
fn segments_carry_begin_inprocess_complete() {
    let m = big(10);
    assert_eq!(segments(&m, 10), vec![(SAR_NONE, m.clone())]);
    let s = segments(&m, 4);
    assert_eq!(s.iter().map(|(st, _)| *st).collect::<Vec<_>>(), vec![SAR_BEGIN, SAR_INPROCESS, SAR_COMPLETE]);
    assert_eq!(s.iter().map(|(_, b)| b.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
    assert_eq!(s.iter().flat_map(|(_, b)| b.to_vec()).collect::<Vec<_>>(), m.to_vec());
    assert_eq!(segments(&m, 5).iter().map(|(st, _)| *st).collect::<Vec<_>>(), vec![SAR_BEGIN, SAR_COMPLETE]);
}

#[test]
fn reassembly_refuses_broken_sequences() {
    let p = [Bytes::from_static(b"abc")];
    let mut r = Reassembly::default();
    assert_eq!(r.push(4, 4, &p, 100), Err(SarError::UnknownState(4)));
    assert_eq!(r.push(1, 0, &p, 100), Err(SarError::StatesDiffer { payload: 1, payloadrec: 0 }));
    assert_eq!(r.push(2, 2, &p, 100), Err(SarError::NotStarted(2)));
    assert_eq!(r.push(3, 3, &p, 100), Err(SarError::NotStarted(3)));
    assert_eq!(r.push(0, 0, &[p[0].clone(), p[0].clone()], 100), Err(SarError::PayloadCount(2)));
    assert_eq!(r.push(0, 0, &p, 2), Err(SarError::TooLarge { size: 3, limit: 2 }));
    assert_eq!(r.push(1, 1, &p, 100), Ok(None));
    assert_eq!(r.push(1, 1, &p, 100), Err(SarError::Unfinished(1)));
    assert_eq!(r.held(), 0, "an error drops what was held");
    assert_eq!(r.push(1, 1, &p, 100), Ok(None));
    assert_eq!(r.push(0, 0, &p, 100), Err(SarError::Unfinished(0)));
    assert_eq!(r.push(1, 1, &p, 5), Ok(None));
    assert_eq!(r.push(2, 2, &p, 5), Err(SarError::TooLarge { size: 6, limit: 5 }));
    assert_eq!(r.push(1, 1, &p, 100), Ok(None));
    assert_eq!(r.push(2, 2, &p, 100), Ok(None));
    assert_eq!(r.push(3, 3, &p, 100), Ok(Some(Bytes::from_static(b"abcabcabc"))));
    assert_eq!(r.push(0, 0, &[], 100), Ok(None), "an empty record delivers nothing");
}

/// Sends `len` bytes from `tx` to `rx` through `exchange`, checking every Record's size.
fn transfer(tx: &mut E2eSession, rx: &mut E2eSession, len: usize, max: usize) -> (Vec<SessionContext>, Vec<Bytes>) {
    let t0 = Instant::now();
    let m = big(len);
    tx.send(m, t0).expect("send");
    let out = drain(tx);
    let mut seen = Vec::new();
    for r in &out {
        assert!(r.len() <= max, "a {}-byte record over the {max}-byte limit", r.len());
        seen.push(sc(r));
        rx.handle_bytes(r.clone(), t0);
    }
    exchange(tx, rx, t0);
    (seen, delivered(rx))
}

#[test]
fn a_1_mib_message_is_segmented_at_1024_and_reassembled_both_ways() {
    let mut c = E2eSession::new(with_max_record(C, A, 100, 1024));
    let mut a = E2eSession::new(with_max_record(A, C, 9000, 1024));
    let len = 1024 * 1024;
    for reverse in [false, true] {
        let (tx, rx) = if reverse { (&mut a, &mut c) } else { (&mut c, &mut a) };
        let (seen, got) = transfer(tx, rx, len, 1024);
        assert_eq!(got, vec![big(len)]);
        let chunk = tx.segment_size().expect("fits");
        assert!(chunk > 900, "the header takes little room: {chunk}");
        assert_eq!(seen.len(), len.div_ceil(chunk));
        assert_eq!(seen[0].payload_sar_state, SAR_BEGIN);
        assert_eq!(seen.last().map(|s| s.payload_sar_state), Some(SAR_COMPLETE));
        assert!(seen[1..seen.len() - 1].iter().all(|s| s.payload_sar_state == SAR_INPROCESS));
        assert!(seen.iter().all(|s| s.payloadrec_sar_state == s.payload_sar_state && s.payload.len() == 1));
        let seqs: Vec<u64> = seen.iter().map(|s| s.sequence_id).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(tx.poll_timeout(), None, "every segment acknowledged");
    }
}

/// A GetResp of a little over 1 MiB, encoded.
fn big_get_resp() -> Bytes {
    use crate::msg::{Body, GetRequestedPathResult, GetResp, Msg, Response};
    let params: crate::msg::Params = (0..9000).map(|i| (format!("X_Counter{i}"), format!("{i:0>100}"))).collect();
    let resp = GetResp {
        req_path_results: vec![GetRequestedPathResult {
            requested_path: "Device.X_Stats.".into(),
            err_code: 0,
            err_msg: Default::default(),
            resolved_path_results: vec![crate::msg::ResolvedPathResult {
                resolved_path: "Device.X_Stats.".into(),
                result_params: params,
            }],
        }],
    };
    let mut out = Vec::new();
    wire::encode_msg(&Msg::new("big", Body::Response(Response::GetResp(resp))), &mut out);
    assert!(out.len() > 1024 * 1024, "{} bytes", out.len());
    Bytes::from(out)
}

#[test]
fn a_1_mib_get_resp_arrives_whole_and_decodes() {
    let mut a = E2eSession::new(with_max_record(A, C, 9000, 1024));
    let mut c = E2eSession::new(config(C, A, 100));
    let t0 = Instant::now();
    let m = big_get_resp();
    a.send(m.clone(), t0).expect("send");
    let n = exchange(&mut a, &mut c, t0);
    assert!(n > 1000, "{n} records moved");
    let got = delivered(&mut c);
    assert_eq!(got, vec![m]);
    let msg = wire::decode_msg(got[0].clone(), &Limits::default()).expect("a GetResp");
    assert_eq!(&*msg.msg_id, "big");
}

#[test]
fn a_reassembly_over_its_bound_is_refused_and_restarts() {
    let mut c = E2eSession::new(with_max_record(C, A, 100, 1024));
    let mut a = E2eSession::new(E2eConfig { max_message_size: 100_000, ..config(A, C, 9000) });
    let t0 = Instant::now();
    c.send(big(200_000), t0).expect("send");
    for r in drain(&mut c) {
        a.handle_bytes(r, t0);
        assert!(a.buffered_bytes() <= 100_000);
    }
    assert!(delivered(&mut a).is_empty());
    let evs = events(&mut a);
    assert!(
        evs.iter().any(|e| matches!(e, E2eEvent::Restarted {
            old: 100,
            reason: RestartReason::Reassembly(SarError::TooLarge { limit: 100_000, size }),
            ..
        } if *size > 100_000)),
        "{evs:?}"
    );
    // And the sender refuses a Message over its own bound outright.
    let mut small = E2eSession::new(E2eConfig { max_message_size: 10, ..config(C, A, 1) });
    assert_eq!(small.send(big(11), t0), Err(E2eSendError::TooLarge { size: 11, limit: 10 }));
}

#[test]
fn a_record_size_without_room_for_a_payload_is_refused() {
    let mut c = E2eSession::new(with_max_record(C, A, 100, 40));
    assert!(matches!(c.send(big(10), Instant::now()), Err(E2eSendError::RecordSizeTooSmall { limit: 40, .. })));
    assert_eq!(c.session_id(), None);
}

/// The peer's MaxUSPRecordSize learnt after the context started: the next Message is cut
/// to it (and reassembled), a smaller size again later too, 0 sends whole again, and a size
/// without room for a payload is refused as at the start.
#[test]
fn the_record_size_can_change_between_messages() {
    let mut c = E2eSession::new(config(C, A, 100));
    let mut a = E2eSession::new(config(A, C, 9000));
    let (seen, got) = transfer(&mut c, &mut a, 5000, usize::MAX);
    assert_eq!((seen.len(), got), (1, vec![big(5000)]), "whole while no size is known");
    for (max, least) in [(1024, 5), (600, 9)] {
        let chunk = c.set_max_record_size(max).expect("fits");
        assert!(chunk < max);
        let (seen, got) = transfer(&mut c, &mut a, 5000, max);
        assert!(seen.len() >= least, "{} records at {max}", seen.len());
        assert_eq!(seen[0].payload_sar_state, SAR_BEGIN);
        assert_eq!(got, vec![big(5000)]);
    }
    assert_eq!(c.set_max_record_size(0), Ok(usize::MAX));
    assert_eq!(transfer(&mut c, &mut a, 5000, usize::MAX).0.len(), 1);
    assert!(matches!(c.set_max_record_size(40), Err(E2eSendError::RecordSizeTooSmall { limit: 40, .. })));
    assert!(matches!(c.send(big(10), Instant::now()), Err(E2eSendError::RecordSizeTooSmall { .. })));
}

// ---------------------------------------------------------------------------------------
// Integrity

/// A fresh ECDSA P-256 key (PKCS#8 DER) and a self-signed certificate for it (DER).
fn identity(name: &str) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params").self_signed(&key).expect("cert");
    (key.serialize_der(), cert.der().to_vec())
}

fn signing(own: &str, peer: &str, first: u64, me: &(Vec<u8>, Vec<u8>), trust: PeerTrust) -> E2eSession {
    E2eSession::new(E2eConfig {
        signer: Some(RecordSigner::new(&me.0, &me.1).expect("signer")),
        peer_trust: Some(trust),
        ..config(own, peer, first)
    })
}

#[test]
fn signed_records_verify_and_forged_ones_are_dropped_with_a_restart() {
    let (ci, ai) = (identity("controller"), identity("agent"));
    let mut c = signing(C, A, 100, &ci, PeerTrust::Pinned(vec![Bytes::from(ai.1.clone())]));
    let mut a = signing(A, C, 9000, &ai, PeerTrust::Pinned(vec![Bytes::from(ci.1.clone())]));
    let t0 = Instant::now();
    c.send(msg(1, 40), t0).expect("send");
    let out = drain(&mut c);
    let rec = decode(&out[0]);
    assert!(!rec.mac_signature.is_empty() && rec.mac_signature.len() <= 72);
    assert!(rec.sender_cert.starts_with(b"-----BEGIN CERTIFICATE-----\n"), "sender_cert is PEM");
    assert_eq!(leaf_der(&rec.sender_cert).expect("pem"), Bytes::from(ci.1.clone()));
    a.handle_bytes(out[0].clone(), t0);
    exchange(&mut c, &mut a, t0);
    assert_eq!(delivered(&mut a), vec![msg(1, 40)]);
    events(&mut a);

    // A Record altered on the way (a header field): dropped, the context restarted.
    c.send(msg(2, 40), t0).expect("send");
    let out = drain(&mut c);
    let mut forged = decode(&out[0]);
    if let RecordType::SessionContext(s) = &mut forged.record_type {
        s.expected_id += 1;
    }
    a.handle_record(forged, t0);
    assert!(delivered(&mut a).is_empty());
    let evs = events(&mut a);
    assert!(
        matches!(
            &evs[..],
            [E2eEvent::Restarted {
                old: 100,
                new: 9000,
                reason: RestartReason::Integrity(IntegrityError::BadSignature)
            }]
        ),
        "{evs:?}"
    );

    // Unsigned, or signed by a key not trusted: the same.
    let mut unsigned = decode(&out[0]);
    unsigned.mac_signature = Bytes::new();
    a.handle_record(unsigned, t0);
    assert!(matches!(
        &events(&mut a)[..],
        [E2eEvent::Restarted { reason: RestartReason::Integrity(IntegrityError::Unsigned), .. }]
    ));
    let intruder = identity("intruder");
    let mut m = signing(C, A, 100, &intruder, PeerTrust::TrustOnFirstUse);
    m.send(msg(3, 40), t0).expect("send");
    a.handle_bytes(drain(&mut m)[0].clone(), t0);
    assert!(matches!(
        &events(&mut a)[..],
        [E2eEvent::Restarted { reason: RestartReason::Integrity(IntegrityError::Untrusted), .. }]
    ));
    assert!(delivered(&mut a).is_empty());

    // Without a context a forged Record is only dropped.
    let mut fresh = signing(A, C, 9000, &ai, PeerTrust::Pinned(vec![Bytes::from(ci.1.clone())]));
    let mut unsigned = decode(&out[0]);
    unsigned.mac_signature = Bytes::new();
    fresh.handle_record(unsigned, t0);
    assert_eq!(events(&mut fresh), vec![E2eEvent::Dropped(E2eDropped::Integrity(IntegrityError::Unsigned))]);
    assert_eq!(fresh.session_id(), None);
}

#[test]
fn the_payload_is_not_covered_by_the_signature_as_the_spec_says() {
    // SPEC-E2E: "The payload field is not part of the generation or verification process";
    // a PLAINTEXT payload is protected only by the MTP (or by E2E TLS, not implemented).
    let (ci, ai) = (identity("controller"), identity("agent"));
    let mut c = signing(C, A, 100, &ci, PeerTrust::Pinned(vec![Bytes::from(ai.1.clone())]));
    let mut a = signing(A, C, 9000, &ai, PeerTrust::Pinned(vec![Bytes::from(ci.1.clone())]));
    let t0 = Instant::now();
    c.send(msg(1, 40), t0).expect("send");
    let mut rec = decode(&drain(&mut c)[0]);
    if let RecordType::SessionContext(s) = &mut rec.record_type {
        s.payload = vec![msg(666, 40)];
    }
    a.handle_record(rec, t0);
    assert_eq!(delivered(&mut a), vec![msg(666, 40)]);
}

#[test]
fn trust_on_first_use_learns_the_first_certificate_then_requires_it() {
    let (ci, ai, other) = (identity("controller"), identity("agent"), identity("other"));
    let mut c = signing(C, A, 100, &ci, PeerTrust::TrustOnFirstUse);
    let mut a = signing(A, C, 9000, &ai, PeerTrust::TrustOnFirstUse);
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut a, t0);
    assert_eq!(delivered(&mut a), vec![msg(1, 10)]);
    assert!(events(&mut a).contains(&E2eEvent::PeerCertificate(Bytes::from(ci.1.clone()))));
    assert!(events(&mut c).contains(&E2eEvent::PeerCertificate(Bytes::from(ai.1.clone()))));
    let mut m = signing(C, A, 100, &other, PeerTrust::TrustOnFirstUse);
    m.send(msg(2, 10), t0).expect("send");
    a.handle_bytes(drain(&mut m)[0].clone(), t0);
    assert!(matches!(
        &events(&mut a)[..],
        [E2eEvent::Restarted { reason: RestartReason::Integrity(IntegrityError::Untrusted), .. }]
    ));
}

#[test]
fn signed_segments_fit_the_record_size_with_certificate_and_signature() {
    let (ci, ai) = (identity("controller"), identity("agent"));
    let mut c = E2eSession::new(E2eConfig {
        signer: Some(RecordSigner::new(&ci.0, &ci.1).expect("signer")),
        max_record_size: 2048,
        ..config(C, A, 100)
    });
    let mut a = signing(A, C, 9000, &ai, PeerTrust::Pinned(vec![Bytes::from(ci.1.clone())]));
    let (_, got) = transfer(&mut c, &mut a, 50_000, 2048);
    assert_eq!(got, vec![big(50_000)]);
}

#[test]
fn the_signed_input_is_the_non_payload_fields_in_field_order() {
    let mut rec = record(
        A,
        C,
        SessionContext {
            session_id: 0x0102,
            sequence_id: 3,
            expected_id: 4,
            retransmit_id: 5,
            payload_sar_state: 1,
            payloadrec_sar_state: 2,
            payload: vec![msg(1, 10)],
        },
    );
    rec.sender_cert = Bytes::from_static(b"CERT");
    rec.mac_signature = Bytes::from_static(b"ignored");
    let mut out = Vec::new();
    signed_input(&rec, &mut out);
    let mut want = Vec::new();
    want.extend_from_slice(b"1.4");
    want.extend_from_slice(C.as_bytes());
    want.extend_from_slice(A.as_bytes());
    want.extend_from_slice(&[0, 0, 0, 0]);
    want.extend_from_slice(b"CERT");
    for v in [0x0102u64, 3, 4, 5] {
        want.extend_from_slice(&v.to_be_bytes());
    }
    want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    assert_eq!(out, want);
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let (a, b) = (identity("a"), identity("b"));
    assert!(matches!(RecordSigner::new(&a.0, &b.1), Err(IntegrityError::BadKey(_))));
    assert!(matches!(RecordSigner::new(b"junk", &a.1), Err(IntegrityError::BadKey(_))));
    assert!(matches!(RecordSigner::new(&a.0, b"junk"), Err(IntegrityError::BadCertificate(_))));
    assert_eq!(leaf_der(&Bytes::from(der_to_pem(&a.1))).expect("pem"), Bytes::from(a.1.clone()));
    assert_eq!(leaf_der(&Bytes::from(a.1.clone())).expect("der"), Bytes::from(a.1.clone()));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any Message at any record size: every Record fits, the Message comes back whole.
    #[test]
    fn any_message_at_any_record_size_fits_and_comes_back(len in 1usize..20_000, max in 200usize..3000) {
        let mut c = E2eSession::new(with_max_record(C, A, 100, max));
        let mut a = E2eSession::new(config(A, C, 9000));
        let (seen, got) = transfer(&mut c, &mut a, len, max);
        proptest::prop_assert_eq!(got, vec![big(len)]);
        let chunk = c.segment_size().expect("fits");
        proptest::prop_assert_eq!(seen.len(), len.div_ceil(chunk));
    }
}

/// `WhenSigned`: a peer that signs nothing is heard (unverified); once a signed Record of
/// the peer's came, its certificate is required: an unsigned Record then restarts the context.
#[test]
fn when_signed_takes_unsigned_records_until_the_peer_signs_then_requires_it() {
    let (ci, ai) = (identity("controller"), identity("agent"));
    let mut c = signing(C, A, 100, &ci, PeerTrust::WhenSigned);
    let mut plain = E2eSession::new(config(A, C, 9000));
    let t0 = Instant::now();
    c.send(msg(1, 10), t0).expect("send");
    exchange(&mut c, &mut plain, t0);
    assert_eq!(delivered(&mut plain), vec![msg(1, 10)], "the unsigned peer ignores our signature");
    plain.send(msg(2, 10), t0).expect("send");
    exchange(&mut plain, &mut c, t0);
    assert_eq!(delivered(&mut c), vec![msg(2, 10)]);
    assert!(c.is_established() && !c.peer_verified(), "heard, not verified");

    let mut a = signing(A, C, 9100, &ai, PeerTrust::TrustOnFirstUse);
    a.send(msg(3, 10), t0).expect("send");
    exchange(&mut a, &mut c, t0);
    assert_eq!(delivered(&mut c), vec![msg(3, 10)]);
    assert!(events(&mut c).contains(&E2eEvent::PeerCertificate(Bytes::from(ai.1.clone()))));
    assert!(c.peer_verified());
    let sid = c.session_id();

    // Unsigned again (a broker stripping signatures): dropped, the context restarted.
    let mut stripped = E2eSession::new(config(A, C, 9100));
    stripped.send(msg(4, 10), t0).expect("send");
    c.handle_bytes(drain(&mut stripped)[0].clone(), t0);
    assert!(delivered(&mut c).is_empty());
    assert!(matches!(
        &events(&mut c)[..],
        [E2eEvent::Restarted { reason: RestartReason::Integrity(IntegrityError::Unsigned), .. }]
    ));
    assert_ne!(c.session_id(), sid);
    assert!(c.peer_verified(), "still requires the learnt certificate");
}

/// With `peer_cert_names_peer`, a certificate is learnt only when it names the peer's
/// Endpoint ID (subjectAltName URI): one that does not fails the check.
#[test]
fn a_learnt_certificate_must_name_the_peer_when_asked() {
    let urn_identity = |eid: &str| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = vec![rcgen::SanType::URI(format!("urn:bbf:usp:id:{eid}").try_into().expect("uri"))];
        (key.serialize_der(), params.self_signed(&key).expect("cert").der().to_vec())
    };
    let t0 = Instant::now();
    for (cert_of, heard) in [(A, true), ("proto::someone-else", false)] {
        let mut c = E2eSession::new(E2eConfig {
            peer_trust: Some(PeerTrust::WhenSigned),
            peer_cert_names_peer: true,
            ..config(C, A, 100)
        });
        let mut a = signing(A, C, 9000, &urn_identity(cert_of), PeerTrust::TrustOnFirstUse);
        a.send(msg(1, 10), t0).expect("send");
        for r in drain(&mut a) {
            c.handle_bytes(r, t0);
        }
        assert_eq!(!delivered(&mut c).is_empty(), heard, "certificate of {cert_of}");
        assert_eq!(c.peer_verified(), heard);
        if !heard {
            assert_eq!(events(&mut c), vec![E2eEvent::Dropped(E2eDropped::Integrity(IntegrityError::Untrusted))]);
        }
    }
}
