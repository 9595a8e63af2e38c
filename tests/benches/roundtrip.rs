//! Round trips against usp-sim-home on loopback, with a bare WebSocket echo as the floor.
//!
//! `cargo bench -p usp-home-tests --bench roundtrip` prints:
//! - sequential Get latency p50/p99 through usp-client to a simulated agent;
//! - the same for a bare tokio-tungstenite echo of a Record-sized binary message over
//!   the same loopback (server and client set up the same way): the floor;
//! - their ratio (target ≤ 1.2);
//! - all of that twice: with every thread on one CPU, then as Linux schedules them (see `main`);
//! - pipelined Gets per second on one connection (target ≥ 150,000, issue 12);
//! - as diagnostics, two runs against a server that answers with a ready-made GetResp (no
//!   agent behind it): usp-client, which separates client cost from agent cost; and the least
//!   any USP controller over tokio-tungstenite does (send a Record encoded once, decode the
//!   Record and Msg that come back: no correlation, no timeouts, no second task), which shows
//!   how much of the floor's 20% headroom USP encoding alone uses;
//! - the sequential Get's ratio to that least USP exchange, measured the same way in the same
//!   run (issue 12's target: ≤ 1.15);
//! - the CPU time each kind of round trip costs both its threads (user and kernel, from
//!   `/proc/self/task/*/schedstat`): with every thread on one CPU, latency is about that sum,
//!   so it shows where microseconds go when a change moves the p50 by less than the noise.
//!
//! `ROUNDTRIP_ONLY=0|1|2|3` (Get to the agent, echo, Get to the canned server, least
//! exchange) runs that kind five times as often (the others once a round), with every thread
//! on one CPU only, and skips the pipelined run: for profiling one kind with `perf`.
//!
//! Server and client each run on their own single-threaded runtime and OS thread, for
//! both the agent and the echo, so the comparison is like for like.
// The WebSocket handshake callback type is tungstenite's: its large error is not ours.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use sim_home::home::{Home, HomeConfig};
use sim_home::scenario::Scenario;
use usp_client::{Client, ClientConfig};
use usp_core::request;
use usp_core::EndpointId;
use usp_home_tests::bench::{micros, percentile, runtime};

const WARMUP: usize = 2_000;
const SEQUENTIAL: usize = 20_000;
const PIPELINED: usize = 200_000;
const WINDOW: usize = 2_000;
const PATH: &str = "Device.DeviceInfo.SoftwareVersion";
const CANNED_AGENT: &str = "proto::canned-agent";

/// Starts the simulated home on its own thread; returns the gateway URL.
fn start_agent(me: &EndpointId) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let me = me.clone();
    on_bench_thread(move || async move {
        let mut config = HomeConfig::new(Scenario::builtin());
        config.extra_controllers = vec![(me, "Full Access".to_owned())];
        let home = Home::start(config).await.expect("home");
        tx.send(home.agent("gateway").expect("gateway").url.clone()).expect("send url");
        std::future::pending::<()>().await;
        drop(home);
    });
    rx.recv().expect("agent url")
}

/// The echo is configured like usp-client and usp-sim-home (same read buffer size), so
/// the floor is like for like.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(usp_client::client::READ_BUFFER_SIZE)
}

/// The server side of a handshake that accepts `v1.usp`, configured like the client.
async fn ws_accept(tcp: tokio::net::TcpStream) -> Option<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let cb = |_r: &HsRequest, mut resp: HsResponse| {
        resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async_with_config(tcp, cb, Some(ws_config())).await.ok()
}

/// Starts a bare WebSocket echo server (v1.usp) on its own thread; returns its URL.
fn start_echo() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    on_bench_thread(move || async move {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        tx.send(format!("ws://{}/usp", l.local_addr().expect("addr"))).expect("send url");
        while let Ok((tcp, _)) = l.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let Some(mut ws) = ws_accept(tcp).await else { return };
                while let Some(Ok(m)) = ws.next().await {
                    if let Message::Binary(b) = m {
                        if ws.send(Message::Binary(b)).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    rx.recv().expect("echo url")
}

/// A diagnostic peer: answers every Get with a ready-made one-parameter GetResp (same
/// msg_id), with no data model, permissions or actor behind it. usp-client against it
/// shows what the client side costs on top of the echo floor.
fn start_canned(me: &EndpointId) -> String {
    use usp_core::msg::{self, Body, Msg, Response};
    use usp_core::record::{Record, RecordType};
    use usp_core::wire::{self, Limits};
    let (tx, rx) = std::sync::mpsc::channel();
    let me = me.clone();
    on_bench_thread(move || async move {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        tx.send(format!("ws://{}/usp", l.local_addr().expect("addr"))).expect("send url");
        while let Ok((tcp, _)) = l.accept().await {
            let _ = tcp.set_nodelay(true);
            let me = me.clone();
            tokio::spawn(async move {
                let Some(mut ws) = ws_accept(tcp).await else { return };
                let record = |rt: RecordType| {
                    let mut out = Vec::new();
                    wire::encode_record(&Record::new("1.3", me.as_str(), CANNED_AGENT, rt), &mut out);
                    bytes::Bytes::from(out)
                };
                if ws.send(Message::Binary(record(RecordType::WebSocketConnect))).await.is_err() {
                    return;
                }
                let limits = Limits::default();
                while let Some(Ok(m)) = ws.next().await {
                    let Message::Binary(b) = m else { continue };
                    let Ok(rec) = wire::decode_record(b, &limits) else { continue };
                    let RecordType::NoSessionContext { payload } = rec.record_type else { continue };
                    let Ok(req) = wire::decode_msg(payload, &limits) else { continue };
                    let resp = msg::GetResp {
                        req_path_results: vec![msg::GetRequestedPathResult {
                            requested_path: PATH.into(),
                            err_code: 0,
                            err_msg: "".into(),
                            resolved_path_results: vec![msg::ResolvedPathResult {
                                resolved_path: "Device.DeviceInfo.".into(),
                                result_params: [("SoftwareVersion", "6.2.1")].into_iter().collect(),
                            }],
                        }],
                    };
                    let mut p = Vec::new();
                    wire::encode_msg(&Msg::new(req.msg_id, Body::Response(Response::GetResp(resp))), &mut p);
                    if ws
                        .send(Message::Binary(record(RecordType::NoSessionContext { payload: bytes::Bytes::from(p) })))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    rx.recv().expect("canned url")
}

/// The Record usp-client sends for the benchmark's Get, from `me` to `agent`.
fn get_record(me: &EndpointId, agent: &str) -> bytes::Bytes {
    let mut link = usp_core::engine::Link::new(me.clone(), Some(agent.parse().expect("eid")), Default::default());
    link.send(request::get([PATH]).build().expect("get"), Instant::now()).expect("send");
    link.poll_transmit().expect("record")
}

/// A plain tokio-tungstenite client connection (v1.usp, no delay), configured like usp-client.
async fn ws_connect(url: &str) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let addr = url.trim_start_matches("ws://").split('/').next().expect("host:port").to_owned();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    tcp.set_nodelay(true).expect("nodelay");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).expect("req");
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("v1.usp"));
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, tcp, Some(ws_config())).await.expect("handshake");
    ws
}

/// Sequential round trips over four connections, measured in interleaved rounds so
/// that all four see the same machine load: usp-client to the agent, the bare echo,
/// usp-client to the canned-reply server, and the least USP exchange with the canned-reply
/// server. Returns the four latency lists.
///
/// The measuring loop runs in a spawned task, as the app's callers do, not in the
/// runtime's `block_on` future: tokio's current-thread runtime polls a `block_on` future
/// woken by another task (usp-client's driver, which reads the replies) only after one more
/// non-blocking poll of its I/O driver (an `epoll_wait` of 0 ms), which a task woken by
/// another task does not pay. Measured here: 0.3-0.4 us of each usp-client round trip, and
/// nothing for the echo and the least exchange, whose sockets wake the loop directly.
fn sequential_interleaved(
    agent: &str,
    echo: &str,
    canned: &str,
    me: &EndpointId,
    size: usize,
) -> ([Vec<Duration>; 4], [CpuUse; 4]) {
    const ROUNDS: usize = 20;
    let owned = (agent.to_owned(), echo.to_owned(), canned.to_owned(), me.clone());
    let measure = async move {
        let (agent, echo, canned, me) = (owned.0.as_str(), owned.1.as_str(), owned.2.as_str(), &owned.3);
        let usp = Client::connect(ClientConfig::new(agent, me.clone())).await.expect("connect agent");
        let diag = Client::connect(ClientConfig::new(canned, me.clone())).await.expect("connect canned");
        let mut ws = ws_connect(echo).await;
        // The least exchange: the canned server's WebSocketConnect Record first, then a Get
        // Record encoded once and sent again and again.
        let mut least = ws_connect(canned).await;
        let _connect_record = least.next().await;
        let limits = usp_core::wire::Limits::default();
        let record = get_record(me, CANNED_AGENT);
        let payload = bytes::Bytes::from(vec![0x5au8; size]);
        let req = request::get([PATH]).build().expect("get");
        let mut out: [Vec<Duration>; 4] = Default::default();
        let mut cpu: [CpuUse; 4] = Default::default();
        // The measuring thread is the client of all four; each server has a thread of its own.
        let [client_tid, agent_tid, echo_tid, canned_tid] = bench_tids();
        let servers = [agent_tid, echo_tid, canned_tid, canned_tid];
        // For profiling one kind at a time: ROUNDTRIP_ONLY=0..3 (five times the requests; the
        // others run once a round).
        let only = only_kind();
        let count = |n: usize, k: usize| match only {
            None => n,
            Some(o) if o == k => n * 5,
            Some(_) => 1,
        };
        for round in 0..=ROUNDS {
            // Round 0 is the warm-up and is not kept.
            let n = if round == 0 { WARMUP } else { SEQUENTIAL / ROUNDS };
            let mark = CpuMark::new(client_tid, servers[0]);
            for _ in 0..count(n, 0) {
                let t = Instant::now();
                std::hint::black_box(usp.request(req.clone()).await.expect("get"));
                if round > 0 {
                    out[0].push(t.elapsed());
                }
            }
            mark.add_to(&mut cpu[0], count(n, 0), round > 0);
            let mark = CpuMark::new(client_tid, servers[1]);
            for _ in 0..count(n, 1) {
                let t = Instant::now();
                ws.send(Message::Binary(payload.clone())).await.expect("send");
                loop {
                    if let Some(Ok(Message::Binary(b))) = ws.next().await {
                        std::hint::black_box(b);
                        break;
                    }
                }
                if round > 0 {
                    out[1].push(t.elapsed());
                }
            }
            mark.add_to(&mut cpu[1], count(n, 1), round > 0);
            let mark = CpuMark::new(client_tid, servers[2]);
            for _ in 0..count(n, 2) {
                let t = Instant::now();
                std::hint::black_box(diag.request(req.clone()).await.expect("get"));
                if round > 0 {
                    out[2].push(t.elapsed());
                }
            }
            mark.add_to(&mut cpu[2], count(n, 2), round > 0);
            let mark = CpuMark::new(client_tid, servers[3]);
            for _ in 0..count(n, 3) {
                let t = Instant::now();
                least.send(Message::Binary(record.clone())).await.expect("send");
                loop {
                    if let Some(Ok(Message::Binary(b))) = least.next().await {
                        let record = usp_core::wire::decode_record(b, &limits).expect("record");
                        let usp_core::record::RecordType::NoSessionContext { payload } = record.record_type else {
                            panic!("the canned server answers in no_session_context records");
                        };
                        std::hint::black_box(usp_core::wire::decode_msg(payload, &limits).expect("msg"));
                        break;
                    }
                }
                if round > 0 {
                    out[3].push(t.elapsed());
                }
            }
            mark.add_to(&mut cpu[3], count(n, 3), round > 0);
        }
        usp.close().await;
        diag.close().await;
        (out, cpu)
    };
    runtime().block_on(async { tokio::spawn(measure).await.expect("the measuring task") })
}

fn pipelined_usp(url: &str, me: &EndpointId) -> f64 {
    runtime().block_on(async {
        let client = Client::connect(ClientConfig::new(url, me.clone())).await.expect("connect");
        let req = request::get([PATH]).build().expect("get");
        for _ in 0..WARMUP {
            client.request(req.clone()).await.expect("get");
        }
        let t = Instant::now();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let mut sent = 0usize;
        let mut done = 0usize;
        while done < PIPELINED {
            while sent < PIPELINED && in_flight.len() < WINDOW {
                let c = client.clone();
                let r = req.clone();
                in_flight.push(async move { c.request(r).await });
                sent += 1;
            }
            if let Some(r) = in_flight.next().await {
                r.expect("get");
                done += 1;
            }
        }
        let rate = PIPELINED as f64 / t.elapsed().as_secs_f64();
        client.close().await;
        rate
    })
}

/// CPU time used by the two ends of one kind of round trip, summed over the kept rounds.
#[derive(Default, Clone, Copy)]
struct CpuUse {
    client: Duration,
    server: Duration,
    trips: usize,
}

impl CpuUse {
    /// Mean microseconds of CPU per round trip, both ends together.
    fn per_trip(&self) -> f64 {
        micros(self.client + self.server) / self.trips.max(1) as f64
    }
}

/// The CPU times of a client and a server thread at the start of a batch of round trips.
struct CpuMark {
    tids: (i32, i32),
    at: (Duration, Duration),
}

impl CpuMark {
    fn new(client: i32, server: i32) -> CpuMark {
        CpuMark { tids: (client, server), at: (thread_cpu(client), thread_cpu(server)) }
    }

    /// Adds what each thread used since [`CpuMark::new`] for `trips` round trips to `sum`.
    fn add_to(self, sum: &mut CpuUse, trips: usize, keep: bool) {
        if keep {
            sum.client += thread_cpu(self.tids.0).saturating_sub(self.at.0);
            sum.server += thread_cpu(self.tids.1).saturating_sub(self.at.1);
            sum.trips += trips;
        }
    }
}

/// The time thread `tid` of this process spent on a CPU (user and kernel), from
/// `/proc/self/task/<tid>/schedstat` (nanoseconds); zero when unreadable.
fn thread_cpu(tid: i32) -> Duration {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The measuring thread and the agent, echo and canned-reply server threads, in the order
/// `main` starts them.
fn bench_tids() -> [i32; 4] {
    let threads = THREADS.lock().expect("threads");
    let tid = |i: usize| threads.get(i).copied().unwrap_or(0);
    [tid(0), tid(1), tid(2), tid(3)]
}

/// Bench threads (servers and the measuring thread), by Linux thread id, so that a run can
/// place them all on one CPU and then let them go.
static THREADS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Runs `serve` on a thread of its own with a single-threaded runtime, registered for
/// [`place_threads`].
fn on_bench_thread<F, Fut>(serve: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        register_thread();
        runtime().block_on(serve());
    });
}

fn register_thread() {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    THREADS.lock().expect("threads").push(tid);
}

/// Places every registered thread on CPU 0 (`Some(0)`) or on every CPU (`None`).
fn place_threads(cpu: Option<usize>) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET/sched_setaffinity get valid pointers
    // and the set's own size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        match cpu {
            Some(c) => libc::CPU_SET(c, &mut set),
            None => (0..libc::CPU_SETSIZE as usize).for_each(|c| libc::CPU_SET(c, &mut set)),
        }
        for &tid in THREADS.lock().expect("threads").iter() {
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

fn report(placement: &str, agent: &str, echo: &str, canned: &str, me: &EndpointId, size: usize) {
    println!("{placement}:");
    let ([mut usp, mut floor, mut client_only, mut least], cpu) = sequential_interleaved(agent, echo, canned, me, size);
    for list in [&mut usp, &mut floor, &mut client_only, &mut least] {
        list.sort();
    }
    let (u50, u99) = (percentile(&usp, 0.50), percentile(&usp, 0.99));
    let (f50, f99) = (percentile(&floor, 0.50), percentile(&floor, 0.99));
    println!(
        "  sequential Get (usp-client -> usp-sim-home, {SEQUENTIAL} requests): p50 {:.1} us, p99 {:.1} us",
        micros(u50),
        micros(u99)
    );
    println!(
        "  bare tungstenite echo floor ({size}-byte message): p50 {:.1} us, p99 {:.1} us",
        micros(f50),
        micros(f99)
    );
    println!(
        "  ratio usp/floor: p50 {:.2}, p99 {:.2} (target <= 1.2)",
        micros(u50) / micros(f50),
        micros(u99) / micros(f99)
    );
    let (c50, c99) = (percentile(&client_only, 0.50), percentile(&client_only, 0.99));
    println!(
        "  diagnostic: usp-client against a canned-reply server (no agent logic): p50 {:.1} us, p99 {:.1} us, \
         ratio to the floor p50 {:.2}",
        micros(c50),
        micros(c99),
        micros(c50) / micros(f50)
    );
    let (l50, l99) = (percentile(&least, 0.50), percentile(&least, 0.99));
    println!(
        "  diagnostic: the least USP exchange (a Record encoded once; decode of the reply only) with that server: \
         p50 {:.1} us, p99 {:.1} us, ratio to the floor p50 {:.2}",
        micros(l50),
        micros(l99),
        micros(l50) / micros(f50)
    );
    println!(
        "  ratio usp/least exchange (the sequential Get against the least USP exchange): p50 {:.3} (target <= 1.15)",
        micros(u50) / micros(l50)
    );
    let [a, e, c, l] = cpu.map(|u| u.per_trip());
    println!(
        "  diagnostic: CPU per round trip (both ends' threads, user + kernel, mean): usp-client -> usp-sim-home \
         {a:.2} us, bare echo {e:.2} us, usp-client -> canned {c:.2} us, least exchange {l:.2} us"
    );
}

/// The one kind `ROUNDTRIP_ONLY` asks to profile (0-3), if set. Anything else set there
/// stops the run: it would otherwise run every kind once a round, numbers that look real.
fn only_kind() -> Option<usize> {
    let v = std::env::var("ROUNDTRIP_ONLY").ok()?;
    match v.parse() {
        Ok(k @ 0..=3) => Some(k),
        _ => {
            eprintln!("ROUNDTRIP_ONLY={v:?}: it must be 0 (Get to the agent), 1 (echo), 2 (Get to the canned server) or 3 (least exchange)");
            std::process::exit(2);
        }
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("roundtrip: run with `cargo bench -p usp-home-tests --bench roundtrip`");
        return;
    }
    let _ = only_kind();
    register_thread();
    let me: EndpointId = "self::bench-controller".parse().expect("eid");
    let agent = start_agent(&me);
    let echo = start_echo();
    // The echo carries a message the size of our Get Record.
    let size = get_record(&me, "os::012345-GW0001").len();
    let canned = start_canned(&me);

    // Where Linux places the two ends of a round trip decides much of its time: a wake-up on
    // the same CPU is a context switch, one on another CPU an inter-processor interrupt (in a
    // VM, a trip through the hypervisor). Measured on the 2-core machine, the bare echo ran at
    // 12 us when its ends shared a CPU and 20 us when they did not, and which one a run gets
    // differs between connections. So the comparison is made with every thread on one CPU
    // (like for like), then again as scheduled.
    place_threads(Some(0));
    report("all threads on one CPU (like for like)", &agent, &echo, &canned, &me, size);
    // Profiling one kind: the like-for-like placement only.
    if std::env::var_os("ROUNDTRIP_ONLY").is_some() {
        return;
    }
    place_threads(None);
    report("as Linux schedules them on all CPUs", &agent, &echo, &canned, &me, size);
    let rate = pipelined_usp(&agent, &me);
    println!("pipelined Gets on one connection ({PIPELINED} requests, window {WINDOW}): {rate:.0} per second (target >= 150000)");
}
