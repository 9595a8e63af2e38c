//! Collection without polling: a TR-181 BulkData profile on each paired agent that has one
//! (`Device.BulkData.Profile.{i}`, `Protocol = USPEventNotif`, JSON), which pushes the hosts'
//! counters as `Push!` events on its own schedule. The app makes the profile once (found again
//! by its alias `uh-usage` after a restart), subscribes to `Push!` with its other live
//! subscriptions, and records each report. An agent without BulkData, or whose role does not
//! let the app make a profile, is asked instead (polling, [`super::COLLECT_EVERY`]); so is one
//! whose reports stop coming.
//!
//! The reference agent (OB-USPA 11) has BulkData but no Hosts, WiFi, IP or Ethernet objects:
//! it leaves the references it can't resolve out of its reports, which then carry only
//! `Device.DeviceInfo.UpTime`. Its global `Device.BulkData.Enable` is false after a factory
//! reset (no profile reports then): the app turns it on with its profile.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use usp_history::Sample;

use crate::agent_io::{add_row, get_params};
use crate::home::{AgentConn, AppResult};
use crate::params::norm_mac;

/// The alias of the profile this app makes.
pub const ALIAS: &str = "uh-usage";
/// What each report carries: the hosts' counters, and the device's own uptime (which every
/// agent has: a report of a device without hosts still shows it reports).
pub const REFERENCES: [&str; 5] = [
    "Device.Hosts.Host.*.PhysAddress",
    "Device.Hosts.Host.*.Active",
    "Device.Hosts.Host.*.WANStats.BytesSent",
    "Device.Hosts.Host.*.WANStats.BytesReceived",
    "Device.DeviceInfo.UpTime",
];
/// The largest report read, in bytes.
const MAX_REPORT: usize = 4 * 1024 * 1024;
/// Hosts read from one report at most.
const MAX_HOSTS: usize = 2000;

/// Makes sure the agent has our profile, reporting every `interval_secs` (at least its
/// `MinReportingInterval`). `Ok(true)`: it has one now.
pub(crate) async fn ensure_profile(conn: &AgentConn, interval_secs: u64) -> AppResult<bool> {
    let p = get_params(conn, &["Device.BulkData."], "read its BulkData profiles").await?;
    if p.get("Device.BulkData.", "Enable").is_none() && p.instances("Device.BulkData.Profile.").is_empty() {
        return Ok(false);
    }
    // Profiles report only while BulkData as a whole is on (OB-USPA's is off after a reset).
    let global_on = p.bool("Device.BulkData.", "Enable") != Some(false);
    let turn_on = || async {
        if global_on {
            Ok(())
        } else {
            let on = [("Device.BulkData.Enable".to_owned(), "true".to_owned())];
            crate::agent_io::set_params(conn, &on, "turn its BulkData on").await
        }
    };
    let min = p.uint("Device.BulkData.", "MinReportingInterval").unwrap_or(1);
    let interval = interval_secs.max(min).max(1).to_string();
    if let Some(row) = p.instances("Device.BulkData.Profile.").into_iter().find(|r| p.get(r, "Alias") == Some(ALIAS)) {
        if p.get(&row, "ReportingInterval") != Some(interval.as_str()) || p.bool(&row, "Enable") != Some(true) {
            let set = [(format!("{row}ReportingInterval"), interval), (format!("{row}Enable"), "true".to_owned())];
            crate::agent_io::set_params(conn, &set, "set its BulkData profile").await?;
        }
        turn_on().await?;
        return Ok(true);
    }
    let action = "make a BulkData profile";
    let profile = add_row(
        conn,
        "Device.BulkData.Profile.",
        &[
            ("Alias".to_owned(), ALIAS.to_owned()),
            ("Protocol".to_owned(), "USPEventNotif".to_owned()),
            ("EncodingType".to_owned(), "JSON".to_owned()),
            ("ReportingInterval".to_owned(), interval),
        ],
        action,
    )
    .await?;
    for reference in REFERENCES {
        add_row(conn, &format!("{profile}Parameter."), &[("Reference".to_owned(), reference.to_owned())], action)
            .await?;
    }
    crate::agent_io::set_params(conn, &[(format!("{profile}Enable"), "true".to_owned())], action).await?;
    turn_on().await?;
    Ok(true)
}

/// What one `Push!` report held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The hosts' counters and presence, to record.
    pub samples: Vec<Sample>,
    /// Values read (every parameter of every report in it).
    pub values: usize,
    /// Hosts whose counters it carried.
    pub hosts: usize,
    /// The device's `DeviceInfo.UpTime` (seconds), when reported.
    pub uptime: Option<u64>,
    /// When it was collected (Unix seconds): its last `CollectionTime`, else the time received.
    pub at: i64,
}

/// The samples of one `Push!` report (`Data`, NameValuePair or ObjectHierarchy JSON), taken at
/// `now` when the report has no `CollectionTime`. Anything unexpected is skipped.
pub fn samples(data: &str, now: i64) -> Vec<Sample> {
    decode(data, now).samples
}

/// A report's `CollectionTime`: Unix seconds as a number (`Unix-Epoch`, OB-USPA's default and
/// usp-sim-home's) or an RFC 3339 string (`ISO-8601`); absent with `None`.
fn collection_time(v: Option<&Json>) -> Option<i64> {
    let t = match v? {
        Json::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64))
        }
        Json::String(s) if s.len() <= 64 => chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(|d| d.timestamp()),
        _ => None,
    }?;
    (t > 0).then_some(t)
}

/// Reads one `Push!` report; see [`samples`].
pub fn decode(data: &str, now: i64) -> Decoded {
    let mut out = Decoded { at: now, ..Decoded::default() };
    if data.len() > MAX_REPORT {
        return out;
    }
    let Ok(json) = serde_json::from_str::<Json>(data) else { return out };
    let Some(reports) = json.get("Report").and_then(Json::as_array) else { return out };
    for report in reports.iter().take(64) {
        let Some(obj) = report.as_object() else { continue };
        let at = collection_time(obj.get("CollectionTime")).unwrap_or(now);
        out.at = at;
        // Flatten ObjectHierarchy into dotted names.
        let mut flat: BTreeMap<String, &Json> = BTreeMap::new();
        flatten("", report, &mut flat, 0);
        out.values += flat.len();
        if let Some(up) =
            flat.get("Device.DeviceInfo.UpTime").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        {
            out.uptime = Some(up);
        }
        // Per host row: its parameters.
        let mut hosts: BTreeMap<&str, BTreeMap<&str, &Json>> = BTreeMap::new();
        for (name, value) in &flat {
            let Some(rest) = name.strip_prefix("Device.Hosts.Host.") else { continue };
            let Some((index, param)) = rest.split_once('.') else { continue };
            if hosts.len() >= MAX_HOSTS && !hosts.contains_key(index) {
                continue;
            }
            hosts.entry(index).or_default().insert(param, value);
        }
        for params in hosts.values() {
            let Some(mac) = params.get("PhysAddress").and_then(|v| v.as_str()).and_then(norm_mac) else { continue };
            let num = |k: &str| params.get(k).and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
            if let (Some(down), Some(up)) = (num("WANStats.BytesReceived"), num("WANStats.BytesSent")) {
                out.samples.push(Sample::Traffic { key: mac.clone(), at, down_total: down, up_total: up });
                out.hosts += 1;
            }
            let active = params.get("Active").and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")));
            if let Some(online) = active {
                out.samples.push(Sample::Presence { key: mac, at, online });
            }
        }
    }
    out
}

fn flatten<'a>(prefix: &str, v: &'a Json, out: &mut BTreeMap<String, &'a Json>, depth: usize) {
    if depth > 12 || out.len() > MAX_HOSTS * 8 {
        return;
    }
    match v {
        Json::Object(map) => {
            for (k, child) in map {
                if k == "CollectionTime" && prefix.is_empty() {
                    continue;
                }
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&name, child, out, depth + 1);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_value_pair_reports() {
        let data = r#"{"Report":[{"CollectionTime":1796416267,
            "Device.Hosts.Host.1.PhysAddress":"A4:83:E7:10:20:01","Device.Hosts.Host.1.Active":true,
            "Device.Hosts.Host.1.WANStats.BytesSent":120,"Device.Hosts.Host.1.WANStats.BytesReceived":2300,
            "Device.Hosts.Host.2.PhysAddress":"not a mac","Device.Hosts.Host.2.WANStats.BytesSent":5}]}"#;
        let s = samples(data, 1);
        assert_eq!(
            s,
            vec![
                Sample::Traffic { key: "a4:83:e7:10:20:01".into(), at: 1_796_416_267, down_total: 2300, up_total: 120 },
                Sample::Presence { key: "a4:83:e7:10:20:01".into(), at: 1_796_416_267, online: true },
            ]
        );
    }

    #[test]
    fn object_hierarchy_reports_and_nonsense() {
        let data = r#"{"Report":[{"Device":{"Hosts":{"Host":{"3":{"PhysAddress":"3c:22:fb:50:60:03","Active":"false",
            "WANStats":{"BytesSent":"7","BytesReceived":"9"}}}}}}]}"#;
        let s = samples(data, 42);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(matches!(&s[0], Sample::Traffic { at: 42, down_total: 9, up_total: 7, .. }));
        assert!(matches!(&s[1], Sample::Presence { online: false, .. }));
        for bad in ["", "[]", "{\"Report\":5}", "{\"Report\":[1,2]}", "not json"] {
            assert!(samples(bad, 1).is_empty(), "{bad}");
        }
    }

    /// Reports captured from the reference agent (OB-USPA 11.0.4) with this app's references, as
    /// its `Push!` `Data` carried them, with each `JSONEncoding.ReportTimestamp` it offers: the
    /// Hosts references it lacks are left out; only its uptime remains.
    #[test]
    fn reports_of_the_reference_agent() {
        let epoch = "{\n \"Report\": [\n  {\n   \"CollectionTime\": 1796424611,\n   \"Device.DeviceInfo.UpTime\": 61828\n  }\n ]\n}";
        let iso = "{\n \"Report\": [\n  {\n   \"CollectionTime\": \"2026-12-04T22:50:17Z\",\n   \"Device.DeviceInfo.UpTime\": 61835,\n   \"Device.LocalAgent.Controller.1.EndpointID\": \"self::usp-home-test\"\n  }\n ]\n}";
        let none = "{\n \"Report\": [\n  {\n   \"Device.DeviceInfo.UpTime\": 61836,\n   \"Device.LocalAgent.Controller.1.EndpointID\": \"self::usp-home-test\"\n  }\n ]\n}";
        let d = decode(epoch, 7);
        assert_eq!(d, Decoded { samples: vec![], values: 1, hosts: 0, uptime: Some(61_828), at: 1_796_424_611 });
        let d = decode(iso, 7);
        assert_eq!((d.at, d.uptime, d.values, d.hosts), (1_796_424_617, Some(61_835), 2, 0));
        let d = decode(none, 7);
        assert_eq!((d.at, d.uptime, d.values), (7, Some(61_836), 2), "no CollectionTime: the time received");
        // Its numbers as it might write them, and times that are no times.
        assert_eq!(decode(r#"{"Report":[{"CollectionTime":1.796424611e9}]}"#, 7).at, 1_796_424_611);
        for bad in [r#""yesterday""#, "-5", "true", r#""2026-13-45T99:00:00Z""#, "1e300"] {
            assert_eq!(decode(&format!(r#"{{"Report":[{{"CollectionTime":{bad}}}]}}"#), 7).at, 7, "{bad}");
        }
    }

    #[test]
    fn a_hostile_report_is_bounded() {
        // Too large: nothing read.
        let huge = format!("{{\"Report\":[{{\"x\":\"{}\"}}]}}", "a".repeat(MAX_REPORT));
        assert!(samples(&huge, 1).is_empty());
        // Very many hosts: at most MAX_HOSTS of them.
        let mut many = String::from("{\"Report\":[{");
        for i in 0..(MAX_HOSTS + 500) {
            let mac = format!("02:00:00:{:02x}:{:02x}:{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
            many.push_str(&format!(
                "\"Device.Hosts.Host.{i}.PhysAddress\":\"{mac}\",\"Device.Hosts.Host.{i}.Active\":true,"
            ));
        }
        many.push_str("\"CollectionTime\":5}]}");
        let s = samples(&many, 1);
        assert!(!s.is_empty() && s.len() <= MAX_HOSTS, "{}", s.len());
        // Deep nesting: no stack overflow, nothing read.
        let deep = format!("{{\"Report\":[{}{}]}}", "{\"a\":".repeat(200), "1".to_owned() + &"}".repeat(200));
        assert!(samples(&deep, 1).is_empty());
    }
}
