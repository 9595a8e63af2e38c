//! `impl Home` for the speed test (TR-143): the device itself downloads a file from the test
//! server (`Device.IP.Diagnostics.DownloadDiagnostics()`), then uploads to it
//! (`UploadDiagnostics()`); the speed comes from the device's own byte counts and its
//! `BOMTime`/`EOMTime` (first to last byte), so it measures the line, not this computer's WiFi.
//! Results are kept in the local history. The server is a setting: usp-home has none of its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipc_types::{LiveEvent, SpeedTestArgs, SpeedTestResult, SpeedTestServer, SpeedTestsView, Topic};
use usp_client::NotifKind;
use usp_core::msg::Params;
use usp_core::request::CommandOutcome;

use crate::home::{AgentConn, AppError, AppResult, Home};

const DOWNLOAD: &str = "Device.IP.Diagnostics.DownloadDiagnostics()";
const UPLOAD: &str = "Device.IP.Diagnostics.UploadDiagnostics()";
/// Bytes each upload test sends.
pub const UPLOAD_BYTES: u64 = 10_000_000;
/// The longest one direction may take before the app stops waiting.
const DIRECTION_DEADLINE: Duration = Duration::from_secs(90);
/// Results shown.
const SHOWN: u32 = 50;

/// `BOMTime`/`EOMTime` (`2026-12-04T21:03:01.123456Z`) as seconds.
fn seconds_of(text: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6)
}

/// Mbit/s of a finished test from its output arguments: `bytes_arg` over `BOMTime`..`EOMTime`.
pub fn mbps(out: &Params, bytes_arg: &str) -> Result<f64, String> {
    let get = |k: &str| out.get(k).map(|v| v.to_string());
    let status = get("Status").unwrap_or_default();
    if status != "Complete" {
        return Err(status_words(&status));
    }
    let bytes: f64 = get(bytes_arg).and_then(|b| b.parse::<u64>().ok()).ok_or("it reported no byte count")? as f64;
    let bom = get("BOMTime").as_deref().and_then(seconds_of).ok_or("it reported no start time")?;
    let eom = get("EOMTime").as_deref().and_then(seconds_of).ok_or("it reported no end time")?;
    let secs = eom - bom;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err("its start and end times make no sense".into());
    }
    Ok(bytes * 8.0 / secs / 1e6)
}

/// What a TR-143 `Status` means, in words.
fn status_words(status: &str) -> String {
    match status {
        "Error_CannotResolveHostName" => "it can't find the test server (the name doesn't resolve)".into(),
        "Error_NoRouteToHost" | "Error_InitConnectionFailed" => "it can't reach the test server".into(),
        "Error_NoResponse" | "Error_Timeout" => "the test server didn't answer in time".into(),
        "Error_TransferFailed"
        | "Error_PasswordRequestFailed"
        | "Error_LoginFailed"
        | "Error_NoTransferMode"
        | "Error_NoPASV"
        | "Error_IncorrectSize" => "the transfer with the test server failed".into(),
        "" => "it gave no result".into(),
        other => format!("it reported {other:?}"),
    }
}

fn valid_url(url: &str) -> bool {
    let u = url.trim();
    (u.starts_with("http://") || u.starts_with("https://"))
        && u.len() <= 1024
        && u.len() > 8
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The server's host for display (`speed.example.net`).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest).chars().take(128).collect()
}

impl Home {
    /// `speed_tests`: past results (newest first) and the server setting.
    ///
    /// # Errors
    /// When the history can't be read.
    pub async fn speed_tests(&self) -> AppResult<SpeedTestsView> {
        let server = self.store().read(|d| d.speed_test.clone());
        let results = match self.history_store().await {
            Ok(store) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                store
                    .call(move |s| s.speed_tests(0, now + 1, SHOWN))
                    .await
                    .map_err(|e| AppError::Internal(format!("the speed test history could not be read: {e}")))?
                    .into_iter()
                    .map(|t| SpeedTestResult {
                        agent: t.source,
                        at_ms: t.at.saturating_mul(1000),
                        down_mbps: t.down_mbps,
                        up_mbps: t.up_mbps,
                        server: t.server,
                    })
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        Ok(SpeedTestsView { server, results })
    }

    /// `speed_test_server_set`: where speed tests download from and upload to.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for URLs that are not `http(s)://`.
    pub async fn speed_test_server_set(&self, args: SpeedTestServer) -> AppResult<SpeedTestsView> {
        if !valid_url(&args.download_url) || !valid_url(&args.upload_url) {
            return Err(AppError::InvalidInput(
                "The test server's download and upload addresses start with http:// or https://.".into(),
            ));
        }
        let server = SpeedTestServer {
            download_url: args.download_url.trim().into(),
            upload_url: args.upload_url.trim().into(),
        };
        self.store().update(|d| d.speed_test = Some(server))?;
        self.changed(&[Topic::Agent]);
        self.speed_tests().await
    }

    /// `speed_test`: the device downloads from the test server, then uploads to it; progress as
    /// [`LiveEvent::PingProgress`]; the result is kept in the history.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] without a server, [`AppError::Refused`] with the device's
    /// reason when a direction fails, [`AppError::Timeout`], [`AppError::Offline`].
    pub async fn speed_test(&self, args: SpeedTestArgs) -> AppResult<SpeedTestResult> {
        let who = args.agent.clone();
        self.within(2 * DIRECTION_DEADLINE + Duration::from_secs(10), Some(&who), self.speed_test_inner(args)).await
    }

    async fn speed_test_inner(&self, args: SpeedTestArgs) -> AppResult<SpeedTestResult> {
        let server = self.store().read(|d| d.speed_test.clone()).ok_or_else(|| {
            AppError::InvalidInput("Choose a test server first (its download and upload addresses).".into())
        })?;
        let conn = self.conn(&args.agent).await?;
        let progress = |message: String| self.emit(LiveEvent::PingProgress { agent: conn.eid.clone(), message });
        let host = host_of(&server.download_url);
        let failed = |what: &str, why: String| AppError::Refused {
            name: conn.name.clone(),
            message: format!("the {what} test did not complete: {why}."),
            usp_code: usp_core::code::COMMAND_FAILURE,
        };
        progress(format!("Measuring the download from {host}…"));
        let out = self.run_diagnostic(&conn, DOWNLOAD, &[("DownloadURL", server.download_url.as_str())]).await?;
        let down = mbps(&out, "TestBytesReceived").map_err(|e| failed("download", e))?;
        progress(format!("Download {down:.1} Mbit/s. Measuring the upload to {}…", host_of(&server.upload_url)));
        let length = UPLOAD_BYTES.to_string();
        let out = self
            .run_diagnostic(&conn, UPLOAD, &[("UploadURL", server.upload_url.as_str()), ("TestFileLength", &length)])
            .await?;
        let up = mbps(&out, "TestBytesSent").map_err(|e| failed("upload", e))?;
        progress(format!("Done: {down:.1} Mbit/s down, {up:.1} Mbit/s up."));
        let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let result =
            SpeedTestResult { agent: conn.eid.clone(), at_ms: at * 1000, down_mbps: down, up_mbps: up, server: host };
        if let Ok(store) = self.history_store().await {
            let t = usp_history::SpeedTest {
                at,
                source: result.agent.clone(),
                server: result.server.clone(),
                down_mbps: down,
                up_mbps: up,
            };
            if let Err(e) = store.call(move |s| s.record_speed_test(&t)).await {
                tracing::warn!(error = %e, "a speed test result could not be kept");
            }
        }
        self.alert_input(crate::alerts::Input::Speed { agent: conn.eid.clone(), down_mbps: down });
        self.changed(&[Topic::Agent]);
        Ok(result)
    }

    /// Runs an asynchronous command and waits for its OperationComplete (its own
    /// subscription, removed afterwards): the output arguments.
    async fn run_diagnostic(&self, conn: &AgentConn, command: &str, args: &[(&str, &str)]) -> AppResult<Params> {
        let action = "run a speed test";
        let mut rx = conn.client.notifications();
        let sub = conn.client.subscribe(NotifKind::OperationComplete, &[command]).await.ok();
        let key = format!("usp-home-speed-{}", uuid::Uuid::new_v4().simple());
        let outcome = async {
            let resp = conn
                .client
                .operate(command, args, &key)
                .await
                .map_err(|e| AppError::from_client(&conn.name, action, &e))?;
            match resp.outcomes().into_iter().next() {
                Some((_, CommandOutcome::Done(out))) => return Ok(out.clone()),
                Some((_, CommandOutcome::Failed(e))) => {
                    return Err(AppError::from_client(&conn.name, action, &usp_client::ClientError::Usp(e)))
                }
                Some((_, CommandOutcome::Started(_))) => {}
                None => return Err(AppError::Internal("the device started no test".into())),
            }
            crate::agent_io::operation_complete(conn, &mut rx, &key, DIRECTION_DEADLINE).await
        }
        .await;
        if let Some(sub) = sub {
            if let Err(e) = conn.client.unsubscribe(&sub).await {
                tracing::debug!(error = %e, "cannot remove the speed test subscription");
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn speed_from_the_devices_own_counts_and_times() {
        let o = out(&[
            ("Status", "Complete"),
            ("TestBytesReceived", "12500000"),
            ("BOMTime", "2026-12-04T21:03:01.000000Z"),
            ("EOMTime", "2026-12-04T21:03:02.000000Z"),
        ]);
        assert_eq!(mbps(&o, "TestBytesReceived"), Ok(100.0));
        let half = out(&[
            ("Status", "Complete"),
            ("TestBytesSent", "1000000"),
            ("BOMTime", "2026-12-04T21:03:01.250000Z"),
            ("EOMTime", "2026-12-04T21:03:01.750000Z"),
        ]);
        assert_eq!(mbps(&half, "TestBytesSent"), Ok(16.0));
    }

    #[test]
    fn failures_and_nonsense_are_words() {
        let e = mbps(&out(&[("Status", "Error_InitConnectionFailed")]), "TestBytesReceived").expect_err("failed");
        assert_eq!(e, "it can't reach the test server");
        let backwards = out(&[
            ("Status", "Complete"),
            ("TestBytesReceived", "5"),
            ("BOMTime", "2026-12-04T21:03:02Z"),
            ("EOMTime", "2026-12-04T21:03:01Z"),
        ]);
        assert!(mbps(&backwards, "TestBytesReceived").is_err());
        assert!(mbps(&out(&[("Status", "Complete")]), "TestBytesReceived").is_err());
    }

    #[test]
    fn server_addresses() {
        assert!(valid_url("http://192.168.1.10:8080/file.bin"));
        assert!(!valid_url("ftp://x/y") && !valid_url("http://a b") && !valid_url("http://"));
        assert_eq!(host_of("https://speed.example.net:8443/10MB?x=1"), "speed.example.net:8443");
    }
}
