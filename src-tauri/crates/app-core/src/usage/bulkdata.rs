//! Collection without polling: a TR-181 BulkData profile on each paired agent that has one
//! (`Device.BulkData.Profile.{i}`, `Protocol = USPEventNotif`, JSON), which pushes the hosts'
//! counters as `Push!` events on its own schedule. The app makes the profile once (found again
//! by its alias `uh-usage` after a restart), subscribes to `Push!` with its other live
//! subscriptions, and records each report. An agent without BulkData, or whose role does not
//! let the app make a profile, is asked instead (polling, [`super::COLLECT_EVERY`]); so is one
//! whose reports stop coming.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use usp_history::Sample;

use crate::agent_io::{add_row, get_params};
use crate::home::{AgentConn, AppResult};
use crate::params::norm_mac;

/// The alias of the profile this app makes.
pub const ALIAS: &str = "uh-usage";
/// What each report carries.
const REFERENCES: [&str; 4] = [
    "Device.Hosts.Host.*.PhysAddress",
    "Device.Hosts.Host.*.Active",
    "Device.Hosts.Host.*.WANStats.BytesSent",
    "Device.Hosts.Host.*.WANStats.BytesReceived",
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
    let min = p.uint("Device.BulkData.", "MinReportingInterval").unwrap_or(1);
    let interval = interval_secs.max(min).max(1).to_string();
    if let Some(row) = p.instances("Device.BulkData.Profile.").into_iter().find(|r| p.get(r, "Alias") == Some(ALIAS)) {
        if p.get(&row, "ReportingInterval") != Some(interval.as_str()) || p.bool(&row, "Enable") != Some(true) {
            let set = [(format!("{row}ReportingInterval"), interval), (format!("{row}Enable"), "true".to_owned())];
            crate::agent_io::set_params(conn, &set, "set its BulkData profile").await?;
        }
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
    Ok(true)
}

/// The samples of one `Push!` report (`Data`, NameValuePair or ObjectHierarchy JSON), taken at
/// `now` when the report has no `CollectionTime`. Anything unexpected is skipped.
pub fn samples(data: &str, now: i64) -> Vec<Sample> {
    if data.len() > MAX_REPORT {
        return Vec::new();
    }
    let Ok(json) = serde_json::from_str::<Json>(data) else { return Vec::new() };
    let Some(reports) = json.get("Report").and_then(Json::as_array) else { return Vec::new() };
    let mut out = Vec::new();
    for report in reports.iter().take(64) {
        let Some(obj) = report.as_object() else { continue };
        let at = obj.get("CollectionTime").and_then(Json::as_i64).filter(|t| *t > 0).unwrap_or(now);
        // Flatten ObjectHierarchy into dotted names.
        let mut flat: BTreeMap<String, &Json> = BTreeMap::new();
        flatten("", report, &mut flat, 0);
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
                out.push(Sample::Traffic { key: mac.clone(), at, down_total: down, up_total: up });
            }
            let active = params.get("Active").and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")));
            if let Some(online) = active {
                out.push(Sample::Presence { key: mac, at, online });
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
