//! BulkData (TR-181 `Device.BulkData.`) over the USP event protocol: every enabled
//! profile with `Protocol = USPEventNotif` sends a `Device.BulkData.Profile.{i}.Push!`
//! event on its `ReportingInterval` (phased by `TimeReference` when it is known, else
//! counted from the moment the profile became active), while `Device.BulkData.Enable` is
//! true.
//!
//! The event's one argument `Data` is a JSON report shaped like the reference agent's
//! (OB-USPA, `NameValuePair`, the default there and here):
//! `{"Report":[{"CollectionTime":1733337600,"Device.Hosts.Host.1.WANStats.BytesSent":123}]}`
//! with numbers for numeric types and booleans for booleans. `ObjectHierarchy` nests the
//! same values by path segment. `CollectionTime` follows `JSONEncoding.ReportTimestamp`
//! (`Unix-Epoch`, `ISO-8601` or `None`).
//!
//! `Parameter.{i}.Reference` takes parameter paths, partial paths, wildcards and search
//! expressions; `Parameter.{i}.Name` renames per TR-157 A.3.2 (the instance numbers
//! matched by wildcards stay: `Name = Host`, `Reference = Device.Hosts.Host.*.WANStats.`
//! gives `Host.3.BytesSent`). A profile made by a controller (`Controller` = its row)
//! reports only what that controller may read and pushes only to its subscriptions, as the
//! reference agent does; a profile from the scenario reports everything to every
//! subscriber.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Number, Value as Json};

use super::dm::{Dm, Loc};
use super::perm::PermCtx;
use super::resolve::{self, Target};
use super::schema::{Schema, Ty};
use super::value;
use super::Agent;

const BULKDATA: &str = "Device.BulkData.";
const PROFILES: &str = "Device.BulkData.Profile.";
/// Most parameters one report carries (the rest is left out).
pub const MAX_REPORT_PARAMS: usize = 10_000;

/// When each active profile reports next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schedule {
    /// The data-model stamp the schedule was last checked against.
    stamp: u64,
    /// Profile row → (next report, the ReportingInterval and TimeReference it was computed from).
    due: BTreeMap<String, (SystemTime, u64, String)>,
}

impl Schedule {
    /// The earliest next report.
    pub fn next_due(&self) -> Option<SystemTime> {
        self.due.values().map(|(t, _, _)| *t).min()
    }
}

/// The first report time after `now` of a profile with this interval and reference.
fn first_due(now: SystemTime, interval: u64, reference: &str) -> SystemTime {
    let Some(tref) = value::parse_datetime(reference).filter(|t| value::unix_secs(*t) > 0) else {
        return value::add_secs(now, interval);
    };
    let (now_s, ref_s) = (value::unix_secs(now), value::unix_secs(tref));
    let next = if now_s < ref_s {
        // A reference in the future: count back to the first slot after now.
        ref_s - ((ref_s - now_s) / interval) * interval
    } else {
        now_s + interval - ((now_s - ref_s) % interval)
    };
    value::add_secs(SystemTime::UNIX_EPOCH, next)
}

impl Agent {
    /// Brings the schedule in line with the data model (profiles added, enabled, changed,
    /// removed). Cheap when nothing was stored since the last call.
    pub(super) fn sync_bulkdata(&mut self) {
        let (schema, dm) = (&self.schema, &self.dm);
        if self.bulk.stamp == dm.stamp() {
            return;
        }
        self.bulk.stamp = dm.stamp();
        let on = dm.raw_by_name(schema, BULKDATA, "Enable") == Some("true");
        let mut due = BTreeMap::new();
        for row in dm.rows(PROFILES) {
            let get = |n: &str| dm.raw_by_name(schema, &row, n).unwrap_or("");
            if !on || get("Enable") != "true" || get("Protocol") != "USPEventNotif" {
                continue;
            }
            let interval = get("ReportingInterval").parse::<u64>().unwrap_or(86_400).max(1);
            let reference = get("TimeReference").to_owned();
            let next = match self.bulk.due.get(&row) {
                Some((t, i, r)) if *i == interval && *r == reference => *t,
                _ => first_due(dm.now, interval, &reference),
            };
            due.insert(row, (next, interval, reference));
        }
        self.bulk.due = due;
    }

    /// Sends the Push! of every profile whose time has come.
    pub(super) fn push_due_reports(&mut self, now: SystemTime) {
        self.sync_bulkdata();
        let due: Vec<String> =
            self.bulk.due.iter().filter(|(_, (t, _, _))| *t <= now).map(|(r, _)| r.clone()).collect();
        for row in due {
            let data = profile_report(&self.schema, &self.dm, &row, now);
            let controller = self.dm.raw_by_name(&self.schema, &row, "Controller").unwrap_or("").to_owned();
            let recipient = if controller.is_empty() {
                None
            } else {
                let cont_row = format!("{}.", controller.trim_end_matches('.'));
                Some(self.dm.raw_by_name(&self.schema, &cont_row, "EndpointID").unwrap_or("").to_owned())
            };
            let params = BTreeMap::from([("Data".to_owned(), data)]);
            self.emit_event_to(&row, "Push", params, recipient.as_deref());
            if let Some((t, interval, _)) = self.bulk.due.get_mut(&row) {
                // Reports missed while the agent was busy are skipped, not sent in a burst.
                while *t <= now {
                    *t = value::add_secs(*t, *interval);
                }
            }
        }
    }
}

/// The JSON report (`Data`) of the profile at `row`.
pub(super) fn profile_report(schema: &Schema, dm: &Dm, row: &str, now: SystemTime) -> String {
    let controller = dm.raw_by_name(schema, row, "Controller").unwrap_or("");
    let perms = (!controller.is_empty())
        .then(|| PermCtx::for_controller(schema, dm, &format!("{}.", controller.trim_end_matches('.'))));
    let json_obj = format!("{row}JSONEncoding.");
    let format = dm.raw_by_name(schema, &json_obj, "ReportFormat").unwrap_or("NameValuePair");
    let stamp = dm.raw_by_name(schema, &json_obj, "ReportTimestamp").unwrap_or("Unix-Epoch");
    let mut pairs: Vec<(String, Json)> = Vec::new();
    for prow in dm.rows(&format!("{row}Parameter.")) {
        let reference = dm.raw_by_name(schema, &prow, "Reference").unwrap_or("").trim().to_owned();
        let name = dm.raw_by_name(schema, &prow, "Name").unwrap_or("").to_owned();
        if reference.is_empty() {
            continue;
        }
        for (path, v) in collect(schema, dm, &reference, perms.as_ref(), MAX_REPORT_PARAMS - pairs.len()) {
            pairs.push((reduce_to_alt_name(&reference, &path, &name), v));
        }
        if pairs.len() >= MAX_REPORT_PARAMS {
            tracing::debug!(profile = row, "bulk data report cut at {MAX_REPORT_PARAMS} parameters");
            break;
        }
    }
    let mut element = Map::new();
    match stamp {
        "Unix-Epoch" => {
            element.insert("CollectionTime".into(), Json::from(value::unix_secs(now)));
        }
        "ISO-8601" => {
            element.insert("CollectionTime".into(), Json::from(value::format_datetime(now)));
        }
        _ => {}
    }
    if format == "ObjectHierarchy" {
        for (path, v) in pairs {
            insert_nested(&mut element, &path, v);
        }
    } else {
        element.extend(pairs);
    }
    let report = Json::Object(Map::from_iter([("Report".to_owned(), Json::Array(vec![Json::Object(element)]))]));
    report.to_string()
}

/// Every readable parameter a Reference names (parameter, object, partial or search
/// path), as (full path, JSON value), at most `cap`.
fn collect(schema: &Schema, dm: &Dm, reference: &str, perms: Option<&PermCtx>, cap: usize) -> Vec<(String, Json)> {
    let Ok(parsed) = resolve::parse(reference) else {
        return Vec::new();
    };
    let can_read = |p: &str, _d: usize, n: &str| perms.is_none_or(|c| c.read_param(schema, dm, p, n));
    let Ok(res) = resolve::resolve(schema, dm, &parsed, &can_read) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let add = |loc: &Loc, idx: usize, out: &mut Vec<(String, Json)>| {
        let p = &schema.obj(loc.def).params[idx];
        let v = match perms {
            Some(c) => c.visible_value(schema, dm, loc, idx),
            None => dm.value(schema, &loc.path, idx),
        };
        if let Some(v) = v {
            out.push((format!("{}{}", loc.path, p.name), typed(p.ty, v)));
        }
    };
    for t in &res.targets {
        let bases: Vec<Loc> = match t {
            Target::Param(loc, idx) => {
                add(loc, *idx, &mut out);
                continue;
            }
            Target::Obj(l) => vec![l.clone()],
            Target::Table(t) => dm.rows(&t.path).into_iter().map(|r| Loc::new(r, t.def)).collect(),
            Target::Command(..) | Target::Event(..) => continue,
        };
        for base in bases {
            let mut objs = Vec::new();
            dm.walk(schema, &base, 0, &mut objs, cap);
            for (loc, _) in objs {
                for idx in 0..schema.obj(loc.def).params.len() {
                    add(&loc, idx, &mut out);
                }
            }
        }
        if out.len() >= cap {
            out.truncate(cap);
            break;
        }
    }
    out
}

/// A parameter value as JSON: numbers for numeric types, booleans for booleans.
fn typed(ty: Ty, v: String) -> Json {
    match ty {
        Ty::Bool => Json::Bool(v == "true"),
        Ty::Int(..) => v.parse::<i64>().map(Json::from).unwrap_or(Json::String(v)),
        Ty::UInt(..) | Ty::ULong => v.parse::<u64>().map(Json::from).unwrap_or(Json::String(v)),
        Ty::Decimal => v.parse::<f64>().ok().and_then(Number::from_f64).map(Json::Number).unwrap_or(Json::String(v)),
        _ => Json::String(v),
    }
}

/// `Device.Hosts.Host.3.WANStats.BytesSent` → `{"Device":{"Hosts":{"Host":{"3":…}}}}`.
fn insert_nested(map: &mut Map<String, Json>, path: &str, v: Json) {
    let mut parts: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    let Some(last) = parts.pop() else { return };
    let mut cur = map;
    for part in parts {
        let entry = cur.entry(part.to_owned()).or_insert_with(|| Json::Object(Map::new()));
        let Json::Object(next) = entry else { return };
        cur = next;
    }
    cur.insert(last.to_owned(), v);
}

/// TR-157 A.3.2 alternative names: without `alt` the full path; with it, `alt` followed by
/// what the path adds to the reference (instance numbers at wildcards and search
/// expressions, and whatever lies below a partial path).
pub(super) fn reduce_to_alt_name(reference: &str, path: &str, alt: &str) -> String {
    if alt.is_empty() {
        return path.to_owned();
    }
    let (r, p) = (reference.as_bytes(), path.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let mut out = format!("{alt}.");
    while j < p.len() {
        if i < r.len() && r[i] == p[j] {
            i += 1;
            j += 1;
        } else if i < r.len() && (r[i] == b'*' || r[i] == b'[') {
            // Copy the instance number the wildcard or search expression matched.
            while j < p.len() && p[j] != b'.' {
                out.push(p[j] as char);
                j += 1;
            }
            out.push('.');
            i = if r[i] == b'[' {
                r[i..].iter().position(|&c| c == b']').map_or(r.len(), |k| i + k + 1)
            } else {
                i + 1
            };
        } else {
            // Past the end of a partial path: copy the rest (without doubled dots).
            if !(out.ends_with('.') && p[j] == b'.') {
                out.push(p[j] as char);
            }
            j += 1;
        }
    }
    while out.ends_with('.') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::spec::UnknownControllerPolicy;

    /// The Push! events in the outbox: (profile, Data).
    fn pushes(a: &mut Agent) -> Vec<(String, String)> {
        use usp_proto::usp::{body::MsgBody, notify::Notification, request::ReqType};
        a.drain_outbox()
            .into_iter()
            .filter_map(|o| match o.msg.body?.msg_body? {
                MsgBody::Request(r) => match r.req_type? {
                    ReqType::Notify(n) => match n.notification? {
                        Notification::Event(e) if e.event_name == "Push!" => {
                            Some((e.obj_path, e.params.get("Data").cloned().unwrap_or_default()))
                        }
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn reports_follow_the_agent_clock() {
        let at = |s: u64| value::add_secs(SystemTime::UNIX_EPOCH, 1_717_243_200 + s);
        let spec = Scenario::builtin().agent("gateway").cloned().expect("gateway");
        let mut a = Agent::new(&spec, UnknownControllerPolicy::Ignore, at(0)).expect("agent");
        a.add_internal(
            "Device.LocalAgent.Subscription.",
            &[
                ("Recipient", "Device.LocalAgent.Controller.1"),
                ("Enable", "true"),
                ("NotifType", "Event"),
                ("ReferenceList", "Device.BulkData.Profile.*.Push!"),
            ],
            at(0),
        )
        .expect("subscription");
        let reference = value::format_datetime(at(5));
        let row = a
            .add_internal(
                PROFILES,
                &[("Enable", "true"), ("ReportingInterval", "60"), ("TimeReference", &reference)],
                at(0),
            )
            .expect("profile");
        a.add_internal(&format!("{row}Parameter."), &[("Reference", "Device.IP.Interface.*.Stats.BytesSent")], at(0))
            .expect("parameter");
        assert_eq!(a.next_deadline(), Some(at(5)), "phased by TimeReference (here 5 s ahead)");
        a.handle_timeout(at(4));
        assert!(pushes(&mut a).is_empty());
        a.handle_timeout(at(5));
        let p = pushes(&mut a);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, row);
        let json: Json = serde_json::from_str(&p[0].1).expect("json");
        assert_eq!(json["Report"][0]["CollectionTime"], Json::from(value::unix_secs(at(5))));
        assert_eq!(a.next_deadline(), Some(at(65)));
        assert!(json["Report"][0]["Device.IP.Interface.2.Stats.BytesSent"].is_u64(), "{json}");
        // A long pause: the missed reports are skipped, not sent in a burst.
        a.handle_timeout(at(400));
        assert_eq!(pushes(&mut a).len(), 1);
        assert_eq!(a.next_deadline(), Some(at(425)));
        // Off with the whole BulkData switch.
        a.set_internal("Device.BulkData.Enable", "false", at(401)).expect("off");
        assert_eq!(a.next_deadline(), None);
    }

    #[test]
    fn alternative_names_follow_tr157() {
        let path = "Device.Hosts.Host.3.WANStats.BytesSent";
        assert_eq!(reduce_to_alt_name("Device.Hosts.Host.*.WANStats.BytesSent", path, ""), path);
        assert_eq!(reduce_to_alt_name("Device.Hosts.Host.*.WANStats.BytesSent", path, "Sent"), "Sent.3");
        assert_eq!(reduce_to_alt_name("Device.Hosts.Host.*.WANStats.", path, "Host"), "Host.3.BytesSent");
        assert_eq!(reduce_to_alt_name("Device.Hosts.Host.[Active==true].WANStats.", path, "Up"), "Up.3.BytesSent");
        assert_eq!(reduce_to_alt_name("Device.Hosts.Host.3.WANStats.BytesSent", path, "Phone"), "Phone");
        assert_eq!(reduce_to_alt_name("Device.Hosts.", path, "H"), "H.Host.3.WANStats.BytesSent");
    }

    #[test]
    fn first_report_follows_the_time_reference() {
        let at = |s: u64| value::add_secs(SystemTime::UNIX_EPOCH, s);
        // Unknown reference: one interval from now.
        assert_eq!(first_due(at(1_000), 60, "0001-01-01T00:00:00Z"), at(1_060));
        // Known reference in the past: the next multiple after now.
        let tref = value::format_datetime(at(900));
        assert_eq!(first_due(at(1_000), 60, &tref), at(1_020));
        assert_eq!(first_due(at(1_020), 60, &tref), at(1_080));
        // In the future: the first slot after now, counted back from it.
        let tref = value::format_datetime(at(5_000));
        assert_eq!(first_due(at(1_000), 60, &tref), at(1_040));
    }

    #[test]
    fn values_keep_their_json_types() {
        assert_eq!(typed(Ty::ULong, "18446744073709551615".into()), Json::from(u64::MAX));
        assert_eq!(typed(Ty::Int(-200, 0), "-61".into()), Json::from(-61));
        assert_eq!(typed(Ty::Bool, "true".into()), Json::Bool(true));
        assert_eq!(typed(Ty::Str(0, 64), "12".into()), Json::from("12"));
        let mut m = Map::new();
        insert_nested(&mut m, "Device.Hosts.Host.3.Active", Json::Bool(true));
        insert_nested(&mut m, "Device.Hosts.Host.3.HostName", Json::from("tv"));
        assert_eq!(
            Json::Object(m).to_string(),
            r#"{"Device":{"Hosts":{"Host":{"3":{"Active":true,"HostName":"tv"}}}}}"#
        );
    }
}
