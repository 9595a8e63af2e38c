use super::*;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn engine(max: usize) -> Engine {
    Engine::new(Settings::new(vec!["usp".into(), "agent".into()], max))
}

fn post(record: Vec<u8>) -> Post {
    Post {
        path: vec!["usp".into(), "agent".into()],
        reply_to: Some("coap://127.0.0.1:1/usp/c".into()),
        record: record.into(),
    }
}

/// Moves every datagram between `a` (at port 1) and `b` (at port 2) until both are quiet,
/// dropping those `drop` says to. Returns how many datagrams went each way.
fn pump(a: &mut Engine, b: &mut Engine, now: Instant, mut drop: impl FnMut(bool, &[u8]) -> bool) -> (usize, usize) {
    let (mut ab, mut ba) = (0, 0);
    loop {
        let mut moved = false;
        while let Some((to, d)) = a.poll_transmit() {
            assert_eq!(to, addr(2));
            assert!(d.len() <= MAX_PDU, "{} bytes", d.len());
            ab += 1;
            moved = true;
            if !drop(true, &d) {
                b.handle_datagram(addr(1), &d, now);
            }
        }
        while let Some((to, d)) = b.poll_transmit() {
            assert_eq!(to, addr(1));
            ba += 1;
            moved = true;
            if !drop(false, &d) {
                a.handle_datagram(addr(2), &d, now);
            }
        }
        if !moved {
            return (ab, ba);
        }
    }
}

fn events(e: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

#[test]
fn a_small_record_is_one_post_answered_2_04() {
    let (mut a, mut b) = (engine(1 << 20), engine(1 << 20));
    let now = Instant::now();
    a.send(addr(2), post(b"hello".to_vec()), now).expect("queued");
    let (ab, ba) = pump(&mut a, &mut b, now, |_, _| false);
    assert_eq!((ab, ba), (1, 1));
    match events(&mut b).as_slice() {
        [Event::Record { from, reply_to, record }] => {
            assert_eq!(*from, addr(1));
            assert_eq!(record.as_ref(), b"hello");
            assert_eq!(reply_to.as_ref().and_then(CoapUri::ip_addr), Some(addr(1)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(events(&mut a), [Event::Delivered { to: addr(2) }]);
    assert_eq!(a.next_timeout(), None);
}

#[test]
fn a_large_record_goes_in_1024_byte_blocks_and_is_reassembled() {
    let (mut a, mut b) = (engine(1 << 20), engine(1 << 20));
    let now = Instant::now();
    let record: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    a.send(addr(2), post(record.clone()), now).expect("queued");
    let (ab, _) = pump(&mut a, &mut b, now, |_, _| false);
    assert_eq!(ab, 5, "5000 bytes in 1024-byte blocks");
    assert_eq!(
        events(&mut b),
        [Event::Record {
            from: addr(1),
            reply_to: Some(CoapUri::of(addr(1), vec!["usp".into(), "c".into()])),
            record: record.into()
        }]
    );
    assert_eq!(events(&mut a), [Event::Delivered { to: addr(2) }]);
}

#[test]
fn a_lost_datagram_is_retransmitted_and_a_duplicate_processed_once() {
    let (mut a, mut b) = (engine(1 << 20), engine(1 << 20));
    let t0 = Instant::now();
    a.send(addr(2), post(b"once".to_vec()), t0).expect("queued");
    // The request is lost.
    pump(&mut a, &mut b, t0, |to_b, _| to_b);
    assert!(events(&mut b).is_empty());
    let due = a.next_timeout().expect("a retransmission is due");
    assert!(due >= t0 + ACK_TIMEOUT && due <= t0 + ACK_TIMEOUT.mul_f64(1.5));
    a.handle_timeout(due);
    // Now the acknowledgement is lost: b sees the request, a retransmits again.
    pump(&mut a, &mut b, due, |to_b, _| !to_b);
    assert_eq!(events(&mut b).len(), 1);
    let due2 = a.next_timeout().expect("still waiting");
    assert!(due2 > due);
    a.handle_timeout(due2);
    pump(&mut a, &mut b, due2, |_, _| false);
    assert!(events(&mut b).is_empty(), "the duplicate is not a second Record");
    assert_eq!(b.stats().duplicates, 1);
    assert_eq!(a.stats().retransmissions, 2);
    assert_eq!(events(&mut a), [Event::Delivered { to: addr(2) }]);
}

#[test]
fn silence_fails_after_max_retransmit_and_the_next_record_goes() {
    let mut a = engine(1 << 20);
    let t0 = Instant::now();
    a.send(addr(2), post(b"one".to_vec()), t0).expect("queued");
    a.send(addr(2), post(b"two".to_vec()), t0).expect("queued");
    let mut sent = 0;
    let mut now = t0;
    while let Some(due) = a.next_timeout() {
        while a.poll_transmit().is_some() {
            sent += 1;
        }
        now = due;
        a.handle_timeout(now);
        if a.has_events() {
            break;
        }
    }
    assert_eq!(sent, 1 + MAX_RETRANSMIT as usize);
    assert!(now.duration_since(t0) >= Duration::from_secs(2 + 4 + 8 + 16 + 32));
    assert!(matches!(events(&mut a).as_slice(), [Event::Failed { to, .. }] if *to == addr(2)));
    let (_, next) = a.poll_transmit().expect("the second Record starts");
    assert!(next.ends_with(b"two"));
}

#[test]
fn pings_are_answered_with_a_reset() {
    let (mut a, mut b) = (engine(1 << 20), engine(1 << 20));
    let now = Instant::now();
    a.ping(addr(2), now);
    a.ping(addr(2), now); // one at a time
    let (ab, ba) = pump(&mut a, &mut b, now, |to_b, d| {
        // An empty confirmable message, answered by a Reset with its message ID.
        assert_eq!(d.len(), 4, "{d:?}");
        assert_eq!((d[0], d[1]), if to_b { (0x40, 0x00) } else { (0x70, 0x00) }, "{d:?}");
        false
    });
    assert_eq!((ab, ba), (1, 1));
    assert_eq!(events(&mut a), [Event::Pong { from: addr(2) }]);
    assert!(events(&mut b).is_empty());
}

#[test]
fn errors_are_refusals() {
    let (mut a, mut b) = (engine(1 << 20), engine(2000));
    let now = Instant::now();
    a.send(addr(2), post(vec![1; 5000]), now).expect("queued");
    let mut wrong = post(b"x".to_vec());
    wrong.path = vec!["elsewhere".into()];
    a.send(addr(2), wrong, now).expect("queued");
    pump(&mut a, &mut b, now, |_, _| false);
    assert_eq!(
        events(&mut a),
        [Event::Refused { to: addr(2), code: "4.13".into() }, Event::Refused { to: addr(2), code: "4.04".into() }]
    );
    assert!(events(&mut b).is_empty());
    assert_eq!(a.stats().refused, 2);
}

fn con_post(mid: u16, token: &[u8], options: &[(CoapOption, Vec<u8>)], payload: &[u8]) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Confirmable);
    p.header.code = MessageClass::Request(RequestType::Post);
    p.header.message_id = mid;
    p.set_token(token.to_vec());
    p.add_option(CoapOption::UriPath, b"usp".to_vec());
    p.add_option(CoapOption::UriPath, b"agent".to_vec());
    for (o, v) in options {
        p.add_option(*o, v.clone());
    }
    p.payload = payload.to_vec();
    p.to_bytes_unlimited().expect("encodes")
}

fn answer_code(e: &mut Engine) -> String {
    let (_, d) = e.poll_transmit().expect("an answer");
    Packet::from_bytes(&d).expect("parses").header.get_code()
}

#[test]
fn hostile_datagrams_do_no_harm() {
    let mut b = engine(4096);
    let now = Instant::now();
    let peer = addr(9);
    // Garbage: nothing but a Reset for what looks like a confirmable header.
    for junk in [&b""[..], b"\x00", b"\xff\xff\xff\xff\xff", b"\x48\x02\x00\x01", &[0x40, 2, 0, 7, 0xd0]] {
        b.handle_datagram(peer, junk, now);
    }
    while let Some((_, d)) = b.poll_transmit() {
        assert_eq!(d.len(), 4, "only Resets");
    }
    // A block far beyond anything started, an absurd announced size, a reserved block size.
    b.handle_datagram(
        peer,
        &con_post(1, b"t", &[(CoapOption::Block1, encode_block(1 << 19, true, 6))], &[0; 1024]),
        now,
    );
    assert_eq!(answer_code(&mut b), "4.08");
    b.handle_datagram(peer, &con_post(2, b"t", &[(CoapOption::Size1, encode_uint(u32::MAX))], b"x"), now);
    assert_eq!(answer_code(&mut b), "4.13");
    b.handle_datagram(peer, &con_post(3, b"t", &[(CoapOption::Block1, vec![0x0f])], b"x"), now);
    assert_eq!(answer_code(&mut b), "4.00");
    // Blocks past the record limit end the reassembly.
    for (i, mid) in (10..20).enumerate() {
        b.handle_datagram(
            peer,
            &con_post(mid, b"t", &[(CoapOption::Block1, encode_block(i as u32, true, 6))], &[0; 1024]),
            now,
        );
    }
    let codes: Vec<String> = std::iter::from_fn(|| b.poll_transmit())
        .map(|(_, d)| Packet::from_bytes(&d).expect("parses").header.get_code())
        .collect();
    assert_eq!(&codes[..5], ["2.31", "2.31", "2.31", "2.31", "4.13"]);
    assert!(codes[5..].iter().all(|c| c == "4.08"), "{codes:?}");
    // A flood of distinct requests from many ports: the tables stay bounded.
    for i in 0..20_000u32 {
        let from = addr(10_000 + (i % 50_000) as u16);
        let block = encode_block(0, true, 6);
        b.handle_datagram(from, &con_post(i as u16, b"f", &[(CoapOption::Block1, block)], &[0; 1024]), now);
        while b.poll_transmit().is_some() {}
    }
    assert!(b.seen.len() <= SEEN_CAPACITY + 1, "{}", b.seen.len());
    assert!(b.seen_order.len() <= SEEN_CAPACITY + 1);
    assert!(b.reassembly.len() <= MAX_REASSEMBLIES);
    assert!(events(&mut b).is_empty());
    // An unknown critical option.
    b.handle_datagram(peer, &con_post(7, b"t", &[(CoapOption::Unknown(9), vec![1])], b"x"), now);
    assert_eq!(answer_code(&mut b), "4.02");
    // Only the agent's own host may post, when so configured.
    let mut only = Engine::new(Settings { accept_from: Some([10, 0, 0, 1].into()), ..Settings::new(vec![], 100) });
    only.handle_datagram(
        peer,
        &{
            let mut p = Packet::from_bytes(&con_post(1, b"", &[], b"x")).expect("parses");
            p.clear_option(CoapOption::UriPath);
            p.to_bytes_unlimited().expect("encodes")
        },
        now,
    );
    assert_eq!(answer_code(&mut only), "4.03");
}

#[test]
fn random_bytes_never_panic() {
    let mut b = engine(4096);
    let now = Instant::now();
    for _ in 0..20_000 {
        let len = rand::random::<u8>() as usize % 64;
        let mut d: Vec<u8> = (0..len).map(|_| rand::random()).collect();
        if let Some(first) = d.first_mut() {
            *first = (*first & 0x3f) | 0x40; // version 1, so parsing goes further
        }
        b.handle_datagram(addr(3), &d, now);
        while b.poll_transmit().is_some() {}
        while b.poll_event().is_some() {}
    }
}

#[test]
fn block_values_round_trip() {
    for (num, more, szx) in [(0, false, 0), (1, true, 6), (4095, false, 2), ((1 << 20) - 1, true, 6)] {
        assert_eq!(decode_block(&encode_block(num, more, szx)), Some((num, more, szx)));
    }
    assert_eq!(decode_block(&[0x07]), None);
    assert_eq!(decode_block(&[1, 2, 3, 4]), None);
    assert_eq!(encode_uint(0), Vec::<u8>::new());
    assert_eq!(encode_uint(0x1_0000), vec![1, 0, 0]);
}

#[test]
fn mutated_valid_traffic_never_panics_and_stays_bounded() {
    // Real datagrams of a multi-block exchange, each with a few random bytes changed, fed to
    // both ends in the middle of their transfers.
    let (mut a, mut b) = (engine(1 << 16), engine(1 << 16));
    let now = Instant::now();
    let mut corpus: Vec<(bool, Vec<u8>)> = Vec::new();
    a.send(addr(2), post(vec![5; 6000]), now).expect("queued");
    pump(&mut a, &mut b, now, |to_b, d| {
        corpus.push((to_b, d.to_vec()));
        false
    });
    b.ping(addr(1), now);
    pump(&mut a, &mut b, now, |to_b, d| {
        corpus.push((to_b, d.to_vec()));
        false
    });
    while a.poll_event().is_some() || b.poll_event().is_some() {}
    a.send(addr(2), post(vec![6; 9000]), now).expect("queued");
    for round in 0..30_000usize {
        let (to_b, d) = &corpus[round % corpus.len()];
        let mut d = d.clone();
        for _ in 0..1 + rand::random::<u8>() % 4 {
            let i = rand::random::<u32>() as usize % d.len().max(1);
            if let Some(byte) = d.get_mut(i) {
                *byte = rand::random();
            }
        }
        if rand::random::<u8>().is_multiple_of(8) {
            d.truncate(rand::random::<u32>() as usize % (d.len() + 1));
        }
        if *to_b {
            b.handle_datagram(addr(1), &d, now);
        } else {
            a.handle_datagram(addr(2), &d, now);
        }
        while a.poll_transmit().is_some() || b.poll_transmit().is_some() {}
        while a.poll_event().is_some() || b.poll_event().is_some() {}
    }
    assert!(b.reassembly.len() <= MAX_REASSEMBLIES);
    assert!(b.seen.len() <= SEEN_CAPACITY + 1 && a.seen.len() <= SEEN_CAPACITY + 1);
    assert!(b.reassembly.values().all(|r| r.data.len() <= 1 << 16));
}
