//! TR-143 speed tests: `Device.IP.Diagnostics.DownloadDiagnostics()` and
//! `UploadDiagnostics()` really transfer bytes over HTTP ([`crate::transfer`]) to or from
//! the URL given, on `NumberOfConnections` parallel connections (at most
//! [`MAX_CONNECTIONS`]), and complete with the TR-143 output arguments: `Status`
//! (`Complete` or `Error_…`), `ROMTime`, `BOMTime`, `EOMTime` (microseconds),
//! `TestBytesReceived` / `TestBytesSent`, `TotalBytesReceived`, `TotalBytesSent`, …, and
//! `PerConnectionResult.{i}.…` when `EnablePerConnectionResults` is true. Throughput is
//! the test bytes over EOM − BOM. The bytes also count on the WAN interface's Stats.
//! Bounds: 10 s to connect, 60 s per test, 1 GiB down, 256 MiB up. A download with
//! `TimeBasedTestDuration` (1..=60 s) stops reading after that long and reports what it
//! got as `Complete` (an upload always sends `TestFileLength`).
//!
//! `ServerSelectionDiagnostics()` times `NumberOfRepetitions` TCP connections to each host
//! of `HostList` (`host`, `host:port` or an `http://` URL; port 80 by default), whatever
//! `Protocol` says (the agent sends no ICMP or UDP echo), and names the `FastestHost` by
//! average; times are in microseconds.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::dm::Loc;
use super::job::{Finish, Job};
use super::life::add_counter;
use super::operate::arg_u64;
use super::value;
use super::{err, Agent, Caller, UspErr};
use crate::transfer::{self, HttpUrl, Limits, Times, TransferError};

/// Most parallel connections of one test.
pub const MAX_CONNECTIONS: u64 = 8;
/// Most bytes one download test reads.
pub const MAX_DOWNLOAD: u64 = 1 << 30;
/// Most bytes one upload test sends, and the default size.
pub const MAX_UPLOAD: u64 = 256 << 20;
const DEFAULT_UPLOAD: u64 = 1 << 20;
const LIMITS: Limits = Limits {
    connect: Duration::from_secs(10),
    total: Duration::from_secs(60),
    max_body: MAX_DOWNLOAD,
    stop_after: None,
};
/// Longest time-based download (`TimeBasedTestDuration`, seconds).
pub const MAX_TIME_BASED: u64 = 60;

/// One connection's measurement.
struct Measure {
    times: Times,
    ip_used: String,
    test_bytes: u64,
    total_received: u64,
    total_sent: u64,
}

/// `2026-12-04T19:49:06.123456Z`.
pub(super) fn datetime_us(t: SystemTime) -> String {
    let micros = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_micros()).unwrap_or(0);
    let secs = value::format_datetime(t);
    format!("{}.{micros:06}Z", secs.trim_end_matches('Z'))
}

fn micros_between(a: SystemTime, b: SystemTime) -> u64 {
    b.duration_since(a).map(|d| d.as_micros() as u64).unwrap_or(0)
}

impl Agent {
    pub(super) fn start_speed_test(
        &mut self,
        caller: &Caller,
        loc: &Loc,
        name: &str,
        key: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<String, UspErr> {
        let upload = name == "UploadDiagnostics";
        let url_arg = if upload { "UploadURL" } else { "DownloadURL" };
        let url = HttpUrl::parse(args.get(url_arg).map(String::as_str).unwrap_or(""))
            .map_err(|e| err(7027, format!("{url_arg}: {e}")))?;
        let conns = arg_u64(args, "NumberOfConnections", 1, 1, MAX_CONNECTIONS)?;
        let len = arg_u64(args, "TestFileLength", DEFAULT_UPLOAD, 1, MAX_UPLOAD)?;
        let time_based = arg_u64(args, "TimeBasedTestDuration", 0, 0, MAX_TIME_BASED)?;
        let limits = if time_based > 0 && !upload {
            let d = Duration::from_secs(time_based);
            Limits { stop_after: Some(d), total: d + LIMITS.total, ..LIMITS }
        } else {
            LIMITS
        };
        let per_conn = matches!(args.get("EnablePerConnectionResults").map(String::as_str), Some("true" | "1"));
        let job = Job::spawn(async move {
            let tests = (0..conns).map(|_| {
                let url = url.clone();
                async move {
                    if upload {
                        transfer::upload(&url, len, limits).await.map(|u| Measure {
                            times: u.times,
                            ip_used: u.ip_used,
                            test_bytes: u.body_bytes,
                            total_received: u.total_received,
                            total_sent: u.total_sent,
                        })
                    } else {
                        transfer::download(&url, None, None, limits).await.map(|d| Measure {
                            times: d.times,
                            ip_used: d.ip_used,
                            test_bytes: d.body_bytes,
                            total_received: d.total_received,
                            total_sent: d.total_sent,
                        })
                    }
                }
            });
            let results = futures_util::future::join_all(tests).await;
            let finish: Finish =
                Box::new(move |agent: &mut Agent| Ok(agent.speed_test_outputs(upload, per_conn, results)));
            finish
        })?;
        self.start_job(caller, loc, name, key, job)
    }

    fn speed_test_outputs(
        &mut self,
        upload: bool,
        per_conn: bool,
        results: Vec<Result<Measure, TransferError>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let measures: Vec<Measure> = match results.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("speed test failed: {e}");
                out.insert("Status".to_owned(), e.tr143_status().to_owned());
                return out;
            }
        };
        let Some(first) = measures.first() else {
            out.insert("Status".to_owned(), "Error_Internal".to_owned());
            return out;
        };
        let min = |f: fn(&Times) -> SystemTime| measures.iter().map(|m| f(&m.times)).min().unwrap_or(first.times.rom);
        let max = |f: fn(&Times) -> SystemTime| measures.iter().map(|m| f(&m.times)).max().unwrap_or(first.times.eom);
        let (rom, bom, eom) = (min(|t| t.rom), min(|t| t.bom), max(|t| t.eom));
        let test: u64 = measures.iter().map(|m| m.test_bytes).sum();
        let rx: u64 = measures.iter().map(|m| m.total_received).sum();
        let tx: u64 = measures.iter().map(|m| m.total_sent).sum();
        let dir = if upload { "Sent" } else { "Received" };
        let mut put = |k: &str, v: String| {
            out.insert(k.to_owned(), v);
        };
        put("Status", "Complete".to_owned());
        put("IPAddressUsed", first.ip_used.clone());
        put("ROMTime", datetime_us(rom));
        put("BOMTime", datetime_us(bom));
        put("EOMTime", datetime_us(eom));
        put("TCPOpenRequestTime", datetime_us(min(|t| t.tcp_open_request)));
        put("TCPOpenResponseTime", datetime_us(max(|t| t.tcp_open_response)));
        put(&format!("TestBytes{dir}"), test.to_string());
        put(&format!("TestBytes{dir}UnderFullLoading"), test.to_string());
        put("TotalBytesReceived", rx.to_string());
        put("TotalBytesSent", tx.to_string());
        put("TotalBytesReceivedUnderFullLoading", rx.to_string());
        put("TotalBytesSentUnderFullLoading", tx.to_string());
        put("PeriodOfFullLoading", micros_between(bom, eom).to_string());
        if per_conn {
            for (i, m) in measures.iter().enumerate() {
                let p = |k: &str| format!("PerConnectionResult.{}.{k}", i + 1);
                put(&p("ROMTime"), datetime_us(m.times.rom));
                put(&p("BOMTime"), datetime_us(m.times.bom));
                put(&p("EOMTime"), datetime_us(m.times.eom));
                put(&p(&format!("TestBytes{dir}")), m.test_bytes.to_string());
                put(&p("TotalBytesReceived"), m.total_received.to_string());
                put(&p("TotalBytesSent"), m.total_sent.to_string());
                put(&p("TCPOpenRequestTime"), datetime_us(m.times.tcp_open_request));
                put(&p("TCPOpenResponseTime"), datetime_us(m.times.tcp_open_response));
            }
        }
        self.count_on_wan(rx, tx);
        out
    }

    pub(super) fn start_server_selection(
        &mut self,
        caller: &Caller,
        loc: &Loc,
        key: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<String, UspErr> {
        let hosts: Vec<String> = value::split_list(args.get("HostList").map(String::as_str).unwrap_or(""))
            .into_iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() || hosts.len() > 10 || hosts.iter().any(|h| h.len() > 256) {
            return Err(err(7027, "HostList must name 1 to 10 hosts"));
        }
        let reps = arg_u64(args, "NumberOfRepetitions", 3, 1, 20)?;
        let timeout = Duration::from_millis(arg_u64(args, "Timeout", 1000, 1, 10_000)?);
        let job = Job::spawn(async move {
            let mut outcomes = Vec::new();
            for host in &hosts {
                outcomes.push(time_host(host, reps, timeout).await);
            }
            let finish: Finish = Box::new(move |_agent: &mut Agent| Ok(selection_outputs(&hosts, outcomes)));
            finish
        })?;
        self.start_job(caller, loc, "ServerSelectionDiagnostics", key, job)
    }

    /// Traffic of the agent itself, on its WAN interface (the first named `wan…`).
    pub(super) fn count_on_wan(&mut self, received: u64, sent: u64) {
        let (schema, dm) = (&self.schema, &mut self.dm);
        let wan = dm
            .rows("Device.IP.Interface.")
            .into_iter()
            .find(|r| dm.raw_by_name(schema, r, "Name").is_some_and(|n| n.to_ascii_lowercase().starts_with("wan")));
        if let Some(wan) = wan {
            let stats = format!("{wan}Stats.");
            add_counter(schema, dm, &stats, "BytesReceived", received);
            add_counter(schema, dm, &stats, "BytesSent", sent);
        }
    }
}

/// One host of a server selection: its connect times (µs) and the local address used, or
/// None when its name does not resolve.
type HostTimes = Option<(Vec<u64>, String)>;

/// `host`, `host:port` or `http://host:port/…` → (host, port).
fn host_port(entry: &str) -> Option<(String, u16)> {
    if entry.starts_with("http://") {
        return HttpUrl::parse(entry).ok().map(|u| (u.host, u.port));
    }
    HttpUrl::parse(&format!("http://{entry}/")).ok().map(|u| (u.host, u.port))
}

async fn time_host(entry: &str, reps: u64, timeout: Duration) -> HostTimes {
    let (host, port) = host_port(entry)?;
    let addr =
        tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port))).await.ok()?.ok()?.next()?;
    let mut times = Vec::new();
    let mut ip_used = String::new();
    for _ in 0..reps {
        let start = std::time::Instant::now();
        if let Ok(Ok(tcp)) = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            times.push(start.elapsed().as_micros() as u64);
            ip_used = tcp.local_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        }
    }
    Some((times, ip_used))
}

fn selection_outputs(hosts: &[String], outcomes: Vec<HostTimes>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if outcomes.iter().all(Option::is_none) {
        out.insert("Status".to_owned(), "Error_CannotResolveHostName".to_owned());
        return out;
    }
    let best = hosts
        .iter()
        .zip(&outcomes)
        .filter_map(|(h, o)| {
            let (times, ip) = o.as_ref()?;
            let avg = times.iter().sum::<u64>().checked_div(times.len() as u64)?;
            Some((avg, h, times, ip))
        })
        .min_by_key(|(avg, ..)| *avg);
    let Some((avg, host, times, ip)) = best else {
        out.insert("Status".to_owned(), "Error_Other".to_owned());
        return out;
    };
    for (k, v) in [
        ("Status", "Complete".to_owned()),
        ("FastestHost", host.clone()),
        ("AverageResponseTime", avg.to_string()),
        ("MinimumResponseTime", times.iter().min().copied().unwrap_or(0).to_string()),
        ("MaximumResponseTime", times.iter().max().copied().unwrap_or(0).to_string()),
        ("IPAddressUsed", ip.clone()),
    ] {
        out.insert(k.to_owned(), v);
    }
    out
}
