//! One agent's page (a gateway, extender or hub; `Page::Device` in the UI): what it says about itself, restarting it, and a ping from it
//! (`Device.IP.Diagnostics.IPPing()`, asynchronous: its result comes as an
//! OperationComplete notification).

use std::time::Duration;

use ipc_types::{AgentArgs, ControllerEntry, DeviceDetails, FirmwareImage, LiveEvent, PingArgs, PingResult, Topic};
use usp_client::{Client, NotifKind};
use usp_core::msg::Params;
use usp_core::request::{CommandOutcome, SupportedDmOptions};

use crate::home::{device_text, AgentConn, AppError, AppResult, Home};

const IPPING: &str = "Device.IP.Diagnostics.IPPing()";
const REBOOT: &str = "Device.Reboot()";

/// DeviceInfo parameters shown, with their labels, in display order.
const FIELDS: [(&str, &str); 9] = [
    ("FriendlyName", "Name"),
    ("Manufacturer", "Manufacturer"),
    ("ModelName", "Model"),
    ("Description", "Description"),
    ("ProductClass", "Product class"),
    ("SerialNumber", "Serial number"),
    ("HardwareVersion", "Hardware version"),
    ("SoftwareVersion", "Firmware version"),
    ("UpTime", "Running for"),
];

/// What the pages of usp-home need right under `Device.`, in the words the Device page uses.
const FEATURES: [(&str, &str); 4] = [
    ("WiFi", "WiFi settings"),
    ("Hosts", "Connected devices and parental controls"),
    ("Schedules", "Schedules"),
    ("IoTCapability", "Smart-home things"),
];

/// The model or firmware version of a device that leaves it empty.
pub const NOT_GIVEN: &str = "Not given by the device";

/// At most this many firmware images or controllers are shown.
const MAX_ROWS_SHOWN: usize = 32;

/// The device's firmware images, when it has them and our role may read them.
async fn firmware_of(conn: &AgentConn) -> Vec<FirmwareImage> {
    use crate::firmware::rules;
    match crate::agent_io::get_params(conn, &rules::PATHS, "read its firmware images").await {
        Ok(p) => rules::images(&p),
        Err(_) => Vec::new(),
    }
}

/// The controllers the device knows, as far as our role may see them (this app marked).
async fn controllers_of(conn: &AgentConn) -> Vec<ControllerEntry> {
    const TABLE: &str = "Device.LocalAgent.Controller.";
    let paths = [
        "Device.LocalAgent.Controller.*.EndpointID",
        "Device.LocalAgent.Controller.*.Alias",
        "Device.LocalAgent.Controller.*.Enable",
    ];
    let Ok(p) = crate::agent_io::get_params(conn, &paths, "read its controllers").await else { return Vec::new() };
    let own = conn.client.own_id().as_str().to_owned();
    p.instances(TABLE)
        .into_iter()
        .take(MAX_ROWS_SHOWN)
        .filter_map(|row| {
            let endpoint_id = device_text(&p.text(&row, "EndpointID")?, 128);
            Some(ControllerEntry {
                this_app: endpoint_id == own,
                alias: p.text(&row, "Alias").map(|a| device_text(&a, 64)).filter(|a| !a.is_empty()),
                enabled: p.bool(&row, "Enable").unwrap_or(true),
                endpoint_id,
            })
        })
        .collect()
}

/// `93784` → "1 day 2 h 3 min".
pub(crate) fn uptime_words(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let mut parts = Vec::new();
    match d {
        0 => {}
        1 => parts.push("1 day".to_owned()),
        n => parts.push(format!("{n} days")),
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}

/// The commands under `object` our role may see (`Download()`: GetSupportedDM lists only
/// those), or `None` when the device does not say (an error, or no such object in its answer).
pub(crate) async fn supported_commands(client: &Client, object: &str) -> Option<Vec<String>> {
    let opts = SupportedDmOptions {
        first_level_only: true,
        commands: true,
        events: false,
        params: false,
        unique_key_sets: false,
    };
    let resp = client.get_supported_dm(&[object], opts).await.ok()?;
    let mut out: Option<Vec<String>> = None;
    for (_, result) in resp.per_path() {
        for obj in result.ok()? {
            if &*obj.supported_obj_path == object {
                out.get_or_insert_with(Vec::new)
                    .extend(obj.supported_commands.iter().map(|c| (*c.command_name).to_owned()));
            }
        }
    }
    out
}

/// The commands under `object` our role may run, as full paths.
async fn commands_of(client: &Client, object: &str) -> Vec<String> {
    let names = supported_commands(client, object).await.unwrap_or_default();
    names.into_iter().map(|c| format!("{object}{c}")).collect()
}

fn parse_ms(args: &Params, detailed: &str, plain: &str) -> Option<f64> {
    if let Some(us) = args.get(detailed).and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(us / 1000.0);
    }
    args.get(plain).and_then(|v| v.trim().parse::<f64>().ok())
}

/// The result of IPPing() from its output arguments.
pub(crate) fn ping_result(args: &Params) -> PingResult {
    let count = |k: &str| args.get(k).and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    let success = count("SuccessCount");
    let time = |d: &str, p: &str| if success > 0 { parse_ms(args, d, p) } else { None };
    PingResult {
        status: args.get("Status").unwrap_or("Complete").to_owned(),
        success,
        failure: count("FailureCount"),
        avg_ms: time("AverageResponseTimeDetailed", "AverageResponseTime"),
        min_ms: time("MinimumResponseTimeDetailed", "MinimumResponseTime"),
        max_ms: time("MaximumResponseTimeDetailed", "MaximumResponseTime"),
    }
}

impl Home {
    /// `device_details`: the device's own description, and whether our role may restart it or
    /// run a ping from it.
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`], [`AppError::Offline`], or the agent's refusal.
    pub async fn device_details(&self, args: AgentArgs) -> AppResult<DeviceDetails> {
        let who = args.agent.clone();
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.device_details_inner(args)).await
    }

    async fn device_details_inner(&self, args: AgentArgs) -> AppResult<DeviceDetails> {
        let conn = self.conn(&args.agent).await?;
        let paths: Vec<String> = FIELDS.iter().map(|(p, _)| format!("Device.DeviceInfo.{p}")).collect();
        let resp =
            conn.client.get(&paths, 0).await.map_err(|e| AppError::from_client(&conn.name, "read its details", &e))?;
        let mut fields = Vec::new();
        for ((param, label), path) in FIELDS.iter().zip(&paths) {
            let Some(v) = resp.value(path).map(str::trim).filter(|v| !v.is_empty()) else {
                // What a person looks for first is shown even when the device leaves it empty.
                if matches!(*param, "ModelName" | "SoftwareVersion") {
                    fields.push(((*label).to_owned(), NOT_GIVEN.to_owned()));
                }
                continue;
            };
            let shown = match (*param, v.parse::<u64>()) {
                ("UpTime", Ok(secs)) => uptime_words(secs),
                _ => v.to_owned(),
            };
            fields.push(((*label).to_owned(), shown));
        }
        fields.push(("Endpoint ID".to_owned(), conn.eid.clone()));
        let root = commands_of(&conn.client, "Device.").await;
        let diag = commands_of(&conn.client, "Device.IP.Diagnostics.").await;
        let (firmware, controllers) = tokio::join!(firmware_of(&conn), controllers_of(&conn));
        let objects = crate::home::read_objects(&conn.client).await;
        let (mut offers, mut lacks) = (Vec::new(), Vec::new());
        if let Some(objects) = &objects {
            for (object, words) in FEATURES {
                if objects.contains(object) {
                    offers.push(words.to_owned());
                } else {
                    lacks.push(words.to_owned());
                }
            }
        }
        if objects.is_some() {
            self.with_agent(&conn.eid, |e| e.objects = objects);
        }
        Ok(DeviceDetails {
            agent: conn.eid.clone(),
            name: conn.name.clone(),
            fields,
            can_reboot: root.iter().any(|c| c == REBOOT),
            can_ping: diag.iter().any(|c| c == IPPING),
            firmware,
            controllers,
            offers,
            lacks,
        })
    }

    /// `device_reboot`: restarts the device (`Device.Reboot()`). It drops off and comes back by
    /// itself; the Home page shows it reconnecting.
    ///
    /// # Errors
    /// [`AppError::Permission`] when our role may not, [`AppError::Offline`], refusals.
    pub async fn device_reboot(&self, args: AgentArgs) -> AppResult<()> {
        let who = args.agent.clone();
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.device_reboot_inner(args)).await
    }

    async fn device_reboot_inner(&self, args: AgentArgs) -> AppResult<()> {
        let conn = self.conn(&args.agent).await?;
        let resp = conn
            .client
            .operate(REBOOT, &[], "usp-home-reboot")
            .await
            .map_err(|e| AppError::from_client(&conn.name, "restart it", &e))?;
        if let Some((_, CommandOutcome::Failed(e))) = resp.outcomes().into_iter().next() {
            return Err(AppError::from_client(&conn.name, "restart it", &usp_client::ClientError::Usp(e)));
        }
        tracing::info!(agent = %conn.eid, "restart requested");
        // A restarting device forgets our subscriptions (and usually drops the connection):
        // connect afresh, which subscribes again once it is back.
        self.restart_connection(&conn.eid).await;
        self.changed(&[Topic::Home, Topic::Agent]);
        Ok(())
    }

    /// `device_ping`: pings `host` from the device `count` times (1-100), reporting progress
    /// as [`LiveEvent::PingProgress`], and returns the result.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for an empty host or a bad count, [`AppError::Timeout`] when
    /// the result does not come, [`AppError::Permission`], [`AppError::Offline`], refusals.
    pub async fn device_ping(&self, args: PingArgs) -> AppResult<PingResult> {
        let who = args.agent.clone();
        self.within(crate::home::PING_DEADLINE, Some(&who), self.device_ping_inner(args)).await
    }

    async fn device_ping_inner(&self, args: PingArgs) -> AppResult<PingResult> {
        let host = args.host.trim().to_owned();
        if host.is_empty() || host.len() > 256 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AppError::InvalidInput("Enter a host name or IP address to ping, without spaces.".into()));
        }
        let count = if args.count == 0 { 3 } else { args.count };
        if count > 100 {
            return Err(AppError::InvalidInput("Ping at most 100 times.".into()));
        }
        let conn = self.conn(&args.agent).await?;
        let progress = |message: String| {
            self.emit(LiveEvent::PingProgress { agent: conn.eid.clone(), message });
        };
        // Listen before starting, so the result can't slip by.
        let mut rx = conn.client.notifications();
        let sub = match conn.client.subscribe(NotifKind::OperationComplete, &[IPPING]).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::debug!(error = %e, "no own OperationComplete subscription; relying on the live one");
                None
            }
        };
        let key = format!("usp-home-ping-{}", uuid::Uuid::new_v4().simple());
        let count_text = count.to_string();
        let outcome = self.run_ping(&conn, &mut rx, &key, &host, &count_text, count, &progress).await;
        if let Some(sub) = sub {
            if let Err(e) = conn.client.unsubscribe(&sub).await {
                tracing::debug!(error = %e, "cannot remove the ping subscription");
            }
        }
        let result = outcome?;
        progress(format!("Done: {} of {} answered.", result.success, result.success + result.failure));
        Ok(result)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_ping(
        &self,
        conn: &AgentConn,
        rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
        key: &str,
        host: &str,
        count_text: &str,
        count: u32,
        progress: &impl Fn(String),
    ) -> AppResult<PingResult> {
        let action = "run a ping";
        let resp = conn
            .client
            .operate(IPPING, &[("Host", host), ("NumberOfRepetitions", count_text)], key)
            .await
            .map_err(|e| AppError::from_client(&conn.name, action, &e))?;
        match resp.outcomes().into_iter().next() {
            Some((_, CommandOutcome::Done(args))) => return Ok(ping_result(args)),
            Some((_, CommandOutcome::Failed(e))) => {
                return Err(AppError::from_client(&conn.name, action, &usp_client::ClientError::Usp(e)))
            }
            Some((_, CommandOutcome::Started(_))) => progress(format!("Pinging {host} from {}…", conn.name)),
            None => return Err(AppError::Internal("the device started no ping".into())),
        }
        // Each echo waits at most its timeout (1 s by default); allow for that and some slack.
        let bound = Duration::from_secs(10 + 2 * u64::from(count)).min(Duration::from_secs(240));
        crate::agent_io::operation_complete(conn, rx, key, bound).await.map(|args| ping_result(&args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_well() {
        assert_eq!(uptime_words(59), "0 min");
        assert_eq!(uptime_words(3_660), "1 h 1 min");
        assert_eq!(uptime_words(93_784), "1 day 2 h 3 min");
        assert_eq!(uptime_words(2 * 86_400), "2 days");
    }

    #[test]
    fn ping_outputs_are_read() {
        let args: Params = [
            ("Status", "Complete"),
            ("SuccessCount", "3"),
            ("FailureCount", "0"),
            ("AverageResponseTime", "1"),
            ("AverageResponseTimeDetailed", "1500"),
            ("MinimumResponseTime", "0"),
            ("MaximumResponseTime", "2"),
        ]
        .into_iter()
        .collect();
        let r = ping_result(&args);
        assert_eq!((r.status.as_str(), r.success, r.failure), ("Complete", 3, 0));
        assert_eq!(r.avg_ms, Some(1.5));
        assert_eq!(r.min_ms, Some(0.0));
        assert_eq!(r.max_ms, Some(2.0));
        let none: Params = [("Status", "Complete"), ("SuccessCount", "0"), ("FailureCount", "3")].into_iter().collect();
        assert_eq!(ping_result(&none).avg_ms, None);
    }
}
