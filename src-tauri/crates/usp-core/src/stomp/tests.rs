use super::*;

fn decode_all(bytes: &[u8], limits: Limits) -> Result<Vec<Incoming>, FrameError> {
    let mut d = Decoder::new(limits);
    d.push(bytes);
    let mut out = Vec::new();
    while let Some(i) = d.decode()? {
        out.push(i);
    }
    assert_eq!(d.buffered(), 0, "everything was used");
    Ok(out)
}

fn frames(bytes: &[u8]) -> Vec<Frame> {
    decode_all(bytes, Limits::default())
        .expect("decodes")
        .into_iter()
        .filter_map(|i| match i {
            Incoming::Frame(f) => Some(f),
            Incoming::HeartBeat => None,
        })
        .collect()
}

#[test]
fn the_usp_connect_frame_escapes_the_endpoint_ids_colons() {
    let f = Frame::connect("/", "os::012345-GW0001", Some(("user", "pa:ss")), (10_000, 0));
    let wire = String::from_utf8(f.encode()).expect("utf8");
    assert!(wire.starts_with("STOMP\naccept-version:1.2\nhost:/\n"), "{wire:?}");
    assert!(wire.contains("\nheart-beat:10000,0\n"), "{wire:?}");
    assert!(wire.contains("\nendpoint-id:os\\c\\c012345-GW0001\n"), "{wire:?}");
    assert!(wire.contains("\npasscode:pa\\css\n"), "{wire:?}");
    assert!(wire.ends_with("\n\n\0"));
    // And it reads back as it was.
    assert_eq!(frames(&f.encode()), vec![f]);
}

#[test]
fn a_send_carries_length_type_and_reply_to_and_its_body_may_hold_nul() {
    let record = Bytes::from_static(b"\x0a\x03\x31\x2e\x34\x00\x00\x12\x00tail");
    let f = Frame::send("/queue/agent", "/queue/usp-home", record.clone());
    assert_eq!(f.header("content-type"), Some(USP_CONTENT_TYPE));
    assert_eq!(f.header("content-length"), Some(record.len().to_string().as_str()));
    assert_eq!(f.header("reply-to-dest"), Some("/queue/usp-home"));
    let back = frames(&f.encode());
    assert_eq!(back[0].body, record, "NULs inside the body survive with content-length");
}

#[test]
fn a_brokers_connected_frame_with_crlf_and_heart_beats_between_frames() {
    // CONNECTED is not escaped: a colon in a value stays as it is.
    let wire = b"CONNECTED\r\nversion:1.2\r\nheart-beat:0,10000\r\nsession:session-a:b\r\nsubscribe-dest:/queue/x\r\n\r\n\0\n\r\n\nMESSAGE\ndestination:/queue/usp-home\nsubscription:0\nmessage-id:T_1\\c7\ncontent-length:3\n\nabc\0";
    let got = decode_all(wire, Limits::default()).expect("decodes");
    assert_eq!(got.len(), 5);
    let Incoming::Frame(connected) = &got[0] else { panic!("a frame first") };
    assert_eq!(connected.command, "CONNECTED");
    assert_eq!(connected.header("session"), Some("session-a:b"));
    assert_eq!(connected.header("subscribe-dest"), Some("/queue/x"));
    assert_eq!(got[1..4], [Incoming::HeartBeat, Incoming::HeartBeat, Incoming::HeartBeat]);
    let Incoming::Frame(message) = &got[4] else { panic!("then a frame") };
    assert_eq!(message.header("message-id"), Some("T_1:7"), "unescaped in a MESSAGE");
    assert_eq!(&message.body[..], b"abc");
}

#[test]
fn a_repeated_header_keeps_its_first_value() {
    let f = &frames(b"MESSAGE\nfoo:first\nfoo:second\n\n\0")[0];
    assert_eq!(f.header("foo"), Some("first"));
    assert_eq!(f.headers.len(), 2);
}

#[test]
fn a_body_without_content_length_ends_at_the_first_nul() {
    let got = frames(b"ERROR\nmessage:bad\n\nsomething went wrong\0RECEIPT\nreceipt-id:7\n\n\0");
    assert_eq!(&got[0].body[..], b"something went wrong");
    assert_eq!(got[1].command, "RECEIPT");
}

#[test]
fn bytes_arriving_one_at_a_time_make_the_same_frames() {
    let a = Frame::send("/q/a", "/q/b", Bytes::from_static(b"\0\x01\x02"));
    let b = Frame::subscribe("0", "/queue/usp-home");
    let mut wire = a.encode();
    wire.extend_from_slice(b"\n");
    wire.extend_from_slice(&b.encode());
    let mut d = Decoder::new(Limits::default());
    let mut got = Vec::new();
    for byte in &wire {
        d.push(std::slice::from_ref(byte));
        while let Some(i) = d.decode().expect("decodes") {
            got.push(i);
        }
    }
    assert_eq!(got, vec![Incoming::Frame(a), Incoming::HeartBeat, Incoming::Frame(b)]);
}

#[test]
fn what_is_not_stomp_is_refused_with_a_reason() {
    let limits = Limits { max_line: 32, max_headers: 2, max_body: 8 };
    let cases: &[(&[u8], FrameError)] = &[
        (b"MESSAGE\nno-colon-here\n\n\0", FrameError::HeaderWithoutColon("no-colon-here".into())),
        (b"MESSAGE\na:b\\t\n\n\0", FrameError::BadEscape("b\\\\t".into())),
        (b"MESSAGE\na:b\\\n\n\0", FrameError::BadEscape("b\\\\".into())),
        (b"MESSAGE\ncontent-length:x\n\n\0", FrameError::BadContentLength("x".into())),
        (b"MESSAGE\ncontent-length:9\n\n123456789\0", FrameError::BodyTooLarge(8)),
        (b"MESSAGE\n\n123456789\0", FrameError::BodyTooLarge(8)),
        (b"MESSAGE\ncontent-length:2\n\nabc\0", FrameError::MissingNul),
        (b"MESSAGE\na:1\nb:2\nc:3\n\n\0", FrameError::TooManyHeaders(2)),
        (b"MESSAGE\nname:0123456789012345678901234567890123456789\n\n\0", FrameError::LineTooLong(32)),
        (b"MESSAGE\na:\xff\n\n\0", FrameError::NotUtf8),
        (b"\r\rMESSAGE\n\n\0", FrameError::NoCommand),
        (b"MESSAGE\r\r\n\n\0", FrameError::BadCommand("MESSAGE\\r".into())),
        (b"SEND 1\n\n\0", FrameError::BadCommand("SEND 1".into())),
    ];
    for (wire, want) in cases {
        assert_eq!(decode_all(wire, limits).as_ref().err(), Some(want), "{:?}", String::from_utf8_lossy(wire));
    }
}

#[test]
fn a_peer_that_never_ends_a_line_or_a_body_is_stopped_at_the_limits() {
    let limits = Limits { max_line: 16, max_headers: 4, max_body: 64 };
    let mut d = Decoder::new(limits);
    d.push(&[b'A'; 17]);
    assert_eq!(d.decode(), Err(FrameError::LineTooLong(16)));

    let mut d = Decoder::new(limits);
    d.push(b"MESSAGE\n\n");
    d.push(&[b'x'; 64]);
    assert_eq!(d.decode(), Ok(None), "at the limit: still waiting");
    d.push(b"x");
    assert_eq!(d.decode(), Err(FrameError::BodyTooLarge(64)));

    // A content-length far beyond the limit is refused before any body arrives.
    let mut d = Decoder::new(Limits { max_line: 64, ..limits });
    d.push(b"MESSAGE\ncontent-length:18446744073709551615\n\n");
    assert_eq!(d.decode(), Err(FrameError::BodyTooLarge(64)));
}

#[test]
fn heart_beats_are_negotiated_as_stomp_says() {
    assert_eq!(parse_heart_beat("0,10000"), Some((0, 10_000)));
    assert_eq!(parse_heart_beat(" 5000 , 0 "), Some((5_000, 0)));
    assert_eq!(parse_heart_beat("5000"), None);
    assert_eq!(parse_heart_beat("a,b"), None);
    let ms = |n| Some(Duration::from_millis(n));
    // We offer to send every 10 s and want to hear every 20 s; the server sends every 5 s and
    // wants to hear every 15 s.
    assert_eq!(
        negotiate((10_000, 20_000), (5_000, 15_000)),
        HeartBeats { send_every: ms(15_000), expect_every: ms(20_000) }
    );
    // Zero on either side turns that direction off.
    assert_eq!(negotiate((0, 20_000), (5_000, 15_000)), HeartBeats { send_every: None, expect_every: ms(20_000) });
    assert_eq!(negotiate((10_000, 0), (0, 0)), HeartBeats { send_every: None, expect_every: None });
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn header_text() -> impl Strategy<Value = String> {
        // Any characters, with the ones STOMP escapes made likely.
        proptest::collection::vec(prop_oneof![Just(':'), Just('\\'), Just('\r'), Just('\n'), any::<char>()], 0..12)
            .prop_map(|v| v.into_iter().collect())
    }

    fn frame() -> impl Strategy<Value = Frame> {
        (
            prop_oneof![Just("SEND"), Just("MESSAGE"), Just("STOMP"), Just("SUBSCRIBE"), Just("ERROR")],
            proptest::collection::vec((header_text().prop_filter("a name", |n| !n.is_empty()), header_text()), 0..6),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(command, mut headers, body)| {
                // A body with NULs travels with its length; the decoder reads the first one.
                headers.retain(|(n, _)| n != "content-length");
                headers.insert(0, ("content-length".to_owned(), body.len().to_string()));
                Frame { command: command.to_owned(), headers, body: Bytes::from(body) }
            })
    }

    proptest! {
        /// Any frames, heart-beats between them, cut into any pieces: the same frames come out.
        #[test]
        fn frames_survive_any_cut(list in proptest::collection::vec((frame(), 0usize..3), 1..5), cuts in proptest::collection::vec(1usize..40, 1..20)) {
            let mut wire = Vec::new();
            let mut want = Vec::new();
            for (f, beats) in &list {
                for _ in 0..*beats {
                    wire.extend_from_slice(b"\r\n");
                    want.push(Incoming::HeartBeat);
                }
                wire.extend_from_slice(&f.encode());
                want.push(Incoming::Frame(f.clone()));
            }
            let mut d = Decoder::new(Limits::default());
            let mut got = Vec::new();
            let mut at = 0;
            for cut in cuts.iter().cycle() {
                if at >= wire.len() { break; }
                let end = (at + cut).min(wire.len());
                d.push(&wire[at..end]);
                at = end;
                while let Some(i) = d.decode().expect("decodes") { got.push(i); }
            }
            prop_assert_eq!(got, want);
            prop_assert_eq!(d.buffered(), 0);
        }

        /// Whatever a broker sends, the decoder answers without panicking and holds no more
        /// than the limits allow.
        #[test]
        fn any_bytes_are_answered(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let limits = Limits { max_line: 64, max_headers: 8, max_body: 128 };
            let mut d = Decoder::new(limits);
            d.push(&bytes);
            for _ in 0..bytes.len() + 1 {
                match d.decode() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
