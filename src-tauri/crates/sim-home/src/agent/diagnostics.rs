//! TR-143 speed tests: `Device.IP.Diagnostics.DownloadDiagnostics()` and
//! `UploadDiagnostics()` really transfer bytes over HTTP ([`crate::transfer`]) to or from
//! the URL given, on `NumberOfConnections` parallel connections (at most
//! [`MAX_CONNECTIONS`]), and complete with the TR-143 output arguments: `Status`
//! (`Complete` or `Error_…`), `ROMTime`, `BOMTime`, `EOMTime` (microseconds),
//! `TestBytesReceived` / `TestBytesSent`, `TotalBytesReceived`, `TotalBytesSent`, …, and
//! `PerConnectionResult.{i}.…` when `EnablePerConnectionResults` is true. Throughput is
//! the test bytes over EOM − BOM. The bytes also count on the WAN interface's Stats.
//! Bounds: 10 s to connect, 60 s per test, 1 GiB down, 256 MiB up.

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
const LIMITS: Limits =
    Limits { connect: Duration::from_secs(10), total: Duration::from_secs(60), max_body: MAX_DOWNLOAD };

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
        let per_conn = matches!(args.get("EnablePerConnectionResults").map(String::as_str), Some("true" | "1"));
        let job = Job::spawn(async move {
            let tests = (0..conns).map(|_| {
                let url = url.clone();
                async move {
                    if upload {
                        transfer::upload(&url, len, LIMITS).await.map(|u| Measure {
                            times: u.times,
                            ip_used: u.ip_used,
                            test_bytes: u.body_bytes,
                            total_received: u.total_received,
                            total_sent: u.total_sent,
                        })
                    } else {
                        transfer::download(&url, None, None, LIMITS).await.map(|d| Measure {
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
