//! `cargo +nightly fuzz run stomp_frames`: arbitrary bytes from a STOMP broker, cut into
//! pieces where the first byte says. The decoder must answer (a frame, a heart-beat, "more",
//! or an error) without panicking, keep within its limits, and every frame it gives must
//! encode to bytes that decode to the same frame (for the frames whose headers are escaped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use usp_core::stomp::{Decoder, Incoming, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let limits = Limits { max_line: 256, max_headers: 16, max_body: 4096 };
    let step = usize::from(cut).max(1);
    let mut d = Decoder::new(limits);
    for chunk in rest.chunks(step) {
        d.push(chunk);
        loop {
            match d.decode() {
                Ok(Some(Incoming::Frame(f))) => {
                    assert!(f.headers.len() <= limits.max_headers);
                    assert!(f.body.len() <= limits.max_body);
                    if !matches!(f.command.as_str(), "CONNECT" | "CONNECTED") {
                        let mut again = Decoder::new(Limits { max_line: usize::MAX / 2, ..limits });
                        // Re-encoding adds no content-length: only bodies without NUL round-trip.
                        if f.header("content-length").is_some() || !f.body.contains(&0) {
                            again.push(&f.encode());
                            match again.decode() {
                                Ok(Some(Incoming::Frame(g))) => assert_eq!(g, f),
                                other => panic!("re-encoded frame did not decode: {other:?}"),
                            }
                        }
                    }
                }
                Ok(Some(Incoming::HeartBeat)) => {}
                Ok(None) => {
                    // What waits for more bytes is never more than one frame within the limits.
                    let most = (limits.max_headers + 2) * (limits.max_line + 2) + limits.max_body + 2;
                    assert!(d.buffered() <= most, "{} bytes held", d.buffered());
                    break;
                }
                Err(_) => return,
            }
        }
    }
});
