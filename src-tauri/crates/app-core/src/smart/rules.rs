//! Smart home: `IoTCapability.{i}` rows (at `Device.`, under `Device.Node.{i}.`, or under
//! `Device.ProxiedDevice.{i}.` and its Nodes) as controls and sensors, grouped by agent and Node.
//! Each row has a `Class` naming its one sub-object (`BinaryControl`, `LevelControl`, ...).

use ipc_types::{Thing, ThingGroup, ThingState};

use crate::params::{list, Params, Supported, MAX_ROWS};

/// Paths to Get on each agent.
pub const GET_PATHS: [&str; 3] = ["Device.IoTCapability.", "Device.Node.", "Device.ProxiedDevice."];

/// Every capability row path (with its dot) in the parameters: any `…IoTCapability.{n}.` prefix,
/// in path order, at most [`MAX_ROWS`].
pub fn capability_paths(p: &Params) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for root in ["Device.IoTCapability.", "Device.Node.", "Device.ProxiedDevice."] {
        let mut found: Vec<String> = Vec::new();
        collect(p, root, 0, &mut found);
        for cap in found {
            let owner = cap.rsplit_once("IoTCapability.").map(|(o, _)| o.to_owned()).unwrap_or_default();
            if out.len() < MAX_ROWS && !out.iter().any(|(c, _)| *c == cap) {
                out.push((cap, owner));
            }
        }
    }
    out
}

/// Walks `Device.Node.{i}.`, `Device.ProxiedDevice.{i}.[Node.{j}.]` to the capability tables.
fn collect(p: &Params, root: &str, depth: u32, out: &mut Vec<String>) {
    if depth > 3 || out.len() >= MAX_ROWS {
        return;
    }
    if root.ends_with("IoTCapability.") {
        out.extend(p.instances(root));
        return;
    }
    for inst in p.instances(root) {
        collect(p, &format!("{inst}IoTCapability."), depth + 1, out);
        collect(p, &format!("{inst}Node."), depth + 1, out);
    }
}

/// The title of a group: the agent's name, then the Node / ProxiedDevice name.
pub fn group_title(p: &Params, agent_name: &str, owner: &str) -> String {
    if owner == "Device." || owner.is_empty() {
        return agent_name.to_owned();
    }
    let node = ["Name", "Description", "Type", "Alias"].iter().find_map(|n| p.text(owner, n)).unwrap_or_else(|| {
        owner
            .trim_end_matches('.')
            .rsplit('.')
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" ")
    });
    format!("{agent_name} · {node}")
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Words for a binary sensor value by its `Type`.
fn binary_words(kind: Option<&str>, on: bool) -> &'static str {
    let k = kind.unwrap_or("").to_ascii_lowercase();
    if k.contains("door") || k.contains("window") || k.contains("contact") {
        if on {
            "Open"
        } else {
            "Closed"
        }
    } else if k.contains("motion") || k.contains("occupancy") || k.contains("presence") {
        if on {
            "Motion"
        } else {
            "No motion"
        }
    } else if k.contains("smoke") || k.contains("leak") || k.contains("water") || k.contains("alarm") {
        if on {
            "Alarm"
        } else {
            "OK"
        }
    } else if on {
        "On"
    } else {
        "Off"
    }
}

/// One capability row as a [`Thing`]; `None` for classes we can't show (BlobSensor, unknown).
/// `dm`: what our role may write (controls are read-only when it says so).
pub fn thing(p: &Params, agent: &str, cap: &str, dm: Option<&Supported>) -> Option<Thing> {
    let class = p.text(cap, "Class")?;
    let sub = format!("{cap}{class}.");
    let kind_hint = p.text(&sub, "Type");
    let name = p
        .text(cap, "Name")
        .or_else(|| p.text(&sub, "Description"))
        .or_else(|| kind_hint.clone())
        .unwrap_or_else(|| class.clone());
    let value_path = format!("{sub}Value");
    let may_write = dm.is_none_or(|d| d.writable(&value_path));
    let last_change = p.text(&sub, "LastChange").filter(|t| !t.starts_with("0001-"));
    let unit = p.text(&sub, "Unit");
    let (state, writable) = match class.as_str() {
        "BinaryControl" => match p.bool(&sub, "Value") {
            Some(on) => (ThingState::Switch { on }, may_write),
            None => (ThingState::Sensor { value: "unknown".into(), unit: None, last_change }, false),
        },
        "LevelControl" => match p.num(&sub, "Value") {
            Some(value) => (
                ThingState::Level {
                    value,
                    unit,
                    min: p.num(&sub, "MinValue"),
                    max: p.num(&sub, "MaxValue"),
                    step: p.num(&sub, "StepValue").filter(|s| *s > 0.0),
                },
                may_write,
            ),
            None => (ThingState::Sensor { value: "unknown".into(), unit, last_change }, false),
        },
        "EnumControl" => {
            let options = list(p.get(&sub, "ValidValues").unwrap_or(""));
            let value = p.get(&sub, "Value").unwrap_or("").trim().to_owned();
            let ok = !options.is_empty();
            (ThingState::Choice { value, options }, may_write && ok)
        }
        "BinarySensor" => {
            let value = match p.bool(&sub, "Value") {
                Some(on) => binary_words(kind_hint.as_deref(), on).to_owned(),
                None => "unknown".to_owned(),
            };
            (ThingState::Sensor { value, unit: None, last_change }, false)
        }
        "LevelSensor" => {
            let value = p.num(&sub, "Value").map_or_else(|| "unknown".to_owned(), fmt_num);
            (ThingState::Sensor { value, unit, last_change }, false)
        }
        "MultiLevelSensor" => {
            let values = list(p.get(&sub, "Values").unwrap_or(""));
            let names = list(p.get(&sub, "ValueNames").unwrap_or(""));
            let value = if values.is_empty() {
                "unknown".to_owned()
            } else {
                values
                    .iter()
                    .take(16)
                    .enumerate()
                    .map(|(i, v)| match names.get(i) {
                        Some(n) => format!("{n} {v}"),
                        None => v.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            (ThingState::Sensor { value, unit, last_change }, false)
        }
        "EnumSensor" => {
            let value = p.text(&sub, "Value").unwrap_or_else(|| "unknown".to_owned());
            (ThingState::Sensor { value, unit: None, last_change }, false)
        }
        _ => return None,
    };
    Some(Thing {
        agent: agent.to_owned(),
        path: cap.trim_end_matches('.').to_owned(),
        name,
        class,
        kind_hint,
        state,
        writable,
    })
}

/// The groups of one agent: the capabilities at `Device.` first, then one group per Node.
pub fn groups(p: &Params, agent: &str, agent_name: &str, dm: Option<&Supported>) -> Vec<ThingGroup> {
    let mut out: Vec<(String, ThingGroup)> = Vec::new();
    for (cap, owner) in capability_paths(p) {
        let Some(t) = thing(p, agent, &cap, dm) else { continue };
        match out.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, g)) => g.things.push(t),
            None => {
                out.push((owner.clone(), ThingGroup { title: group_title(p, agent_name, &owner), things: vec![t] }))
            }
        }
    }
    out.into_iter().map(|(_, g)| g).collect()
}

/// Checks a value for a control and gives the parameter to Set and the value in TR-181 form.
///
/// # Errors
/// Words for the user: a sensor, not a boolean, out of range, off the step grid, not an option.
pub fn set_value(thing: &Thing, value: &str) -> Result<(String, String), String> {
    let path = format!("{}.{}.Value", thing.path, thing.class);
    let v = value.trim();
    if matches!(thing.state, ThingState::Sensor { .. }) {
        return Err(format!("{} is a sensor; it can't be set.", thing.name));
    }
    if !thing.writable {
        return Err(format!("{} can't be changed from this app.", thing.name));
    }
    match &thing.state {
        ThingState::Switch { .. } => {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" => "true",
                "false" | "0" | "off" => "false",
                _ => return Err(format!("{} is a switch: choose on or off.", thing.name)),
            };
            Ok((path, b.to_owned()))
        }
        ThingState::Level { min, max, step, unit, .. } => {
            let n: f64 = v
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| format!("Enter a number for {}.", thing.name))?;
            let u = unit.as_deref().unwrap_or("");
            if let Some(lo) = min {
                if n < *lo {
                    return Err(format!("{} can't go below {}{u}.", thing.name, fmt_num(*lo)));
                }
            }
            if let Some(hi) = max {
                if n > *hi {
                    return Err(format!("{} can't go above {}{u}.", thing.name, fmt_num(*hi)));
                }
            }
            if let Some(st) = step.filter(|s| *s > 0.0) {
                let base = min.unwrap_or(0.0);
                let k = (n - base) / st;
                if (k - k.round()).abs() > 1e-6 {
                    return Err(format!("{} moves in steps of {}{u}.", thing.name, fmt_num(st)));
                }
            }
            Ok((path, fmt_num(n)))
        }
        ThingState::Choice { options, .. } => match options.iter().find(|o| o.as_str() == v) {
            Some(o) => Ok((path, o.clone())),
            None => Err(format!("Choose one of: {}.", options.join(", "))),
        },
        ThingState::Sensor { .. } => Err(format!("{} is a sensor; it can't be set.", thing.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Params {
        Params::new([
            ("Device.IoTCapability.1.Name", "Kitchen light"),
            ("Device.IoTCapability.1.Class", "BinaryControl"),
            ("Device.IoTCapability.1.BinaryControl.Type", "OnOff"),
            ("Device.IoTCapability.1.BinaryControl.Value", "false"),
            ("Device.IoTCapability.2.Name", "Dimmer"),
            ("Device.IoTCapability.2.Class", "LevelControl"),
            ("Device.IoTCapability.2.LevelControl.Value", "60"),
            ("Device.IoTCapability.2.LevelControl.Unit", "%"),
            ("Device.IoTCapability.2.LevelControl.MinValue", "0"),
            ("Device.IoTCapability.2.LevelControl.MaxValue", "100"),
            ("Device.IoTCapability.2.LevelControl.StepValue", "10"),
            ("Device.IoTCapability.3.Name", "Front door"),
            ("Device.IoTCapability.3.Class", "BinarySensor"),
            ("Device.IoTCapability.3.BinarySensor.Type", "Door"),
            ("Device.IoTCapability.3.BinarySensor.Value", "true"),
            ("Device.IoTCapability.3.BinarySensor.LastChange", "2024-06-01T07:40:00Z"),
            ("Device.IoTCapability.4.Class", "BlobSensor"),
            ("Device.IoTCapability.5.Name", "Broken"),
            ("Device.IoTCapability.5.Class", "LevelControl"),
            ("Device.IoTCapability.5.LevelControl.Value", "warm"),
            ("Device.Node.1.Description", "Garden"),
            ("Device.Node.1.IoTCapability.1.Name", "Sprinkler mode"),
            ("Device.Node.1.IoTCapability.1.Class", "EnumControl"),
            ("Device.Node.1.IoTCapability.1.EnumControl.Value", "Off"),
            ("Device.Node.1.IoTCapability.1.EnumControl.ValidValues", "Off,Eco,Full"),
            ("Device.ProxiedDevice.1.Name", "Zigbee sensor"),
            ("Device.ProxiedDevice.1.Node.1.IoTCapability.1.Name", "Temp"),
            ("Device.ProxiedDevice.1.Node.1.IoTCapability.1.Class", "MultiLevelSensor"),
            ("Device.ProxiedDevice.1.Node.1.IoTCapability.1.MultiLevelSensor.Values", "21.5,40"),
            ("Device.ProxiedDevice.1.Node.1.IoTCapability.1.MultiLevelSensor.ValueNames", "Temperature,Humidity"),
        ])
    }

    #[test]
    fn groups_and_states() {
        let g = groups(&hub(), "hub", "Kitchen hub", None);
        let titles: Vec<&str> = g.iter().map(|g| g.title.as_str()).collect();
        assert_eq!(titles, ["Kitchen hub", "Kitchen hub · Garden", "Kitchen hub · Node 1"]);
        let top = &g[0].things;
        assert_eq!(top.len(), 4, "BlobSensor skipped");
        assert_eq!(top[0].state, ThingState::Switch { on: false });
        assert!(top[0].writable);
        assert_eq!(top[0].path, "Device.IoTCapability.1");
        assert_eq!(
            top[1].state,
            ThingState::Level {
                value: 60.0,
                unit: Some("%".into()),
                min: Some(0.0),
                max: Some(100.0),
                step: Some(10.0)
            }
        );
        assert_eq!(
            top[2].state,
            ThingState::Sensor { value: "Open".into(), unit: None, last_change: Some("2024-06-01T07:40:00Z".into()) }
        );
        assert!(!top[2].writable);
        assert!(matches!(&top[3].state, ThingState::Sensor { value, .. } if value == "unknown"), "garbage level");
        assert!(!top[3].writable);
        assert_eq!(
            g[1].things[0].state,
            ThingState::Choice { value: "Off".into(), options: vec!["Off".into(), "Eco".into(), "Full".into()] }
        );
        assert!(
            matches!(&g[2].things[0].state, ThingState::Sensor { value, .. } if value == "Temperature 21.5, Humidity 40")
        );
        // Read-only for our role.
        let dm = Supported::new([], [("Device.IoTCapability.{i}.BinaryControl.Value", false)]);
        let g = groups(&hub(), "hub", "Kitchen hub", Some(&dm));
        assert!(!g[0].things[0].writable);
    }

    #[test]
    fn set_validation() {
        let g = groups(&hub(), "hub", "Kitchen hub", None);
        let (sw, lvl, door) = (&g[0].things[0], &g[0].things[1], &g[0].things[2]);
        assert_eq!(set_value(sw, "on"), Ok(("Device.IoTCapability.1.BinaryControl.Value".into(), "true".into())));
        assert_eq!(set_value(sw, "false").map(|v| v.1), Ok("false".into()));
        assert!(set_value(sw, "dim").is_err());
        assert_eq!(set_value(lvl, "70"), Ok(("Device.IoTCapability.2.LevelControl.Value".into(), "70".into())));
        assert!(set_value(lvl, "75").expect_err("refused").contains("steps of 10%"));
        assert!(set_value(lvl, "110").expect_err("refused").contains("above 100%"));
        assert!(set_value(lvl, "-10").is_err());
        assert!(set_value(lvl, "NaN").is_err());
        assert!(set_value(lvl, "inf").is_err());
        assert!(set_value(door, "true").expect_err("refused").contains("sensor"));
        let choice = &g[1].things[0];
        assert_eq!(set_value(choice, "Eco").map(|v| v.1), Ok("Eco".into()));
        assert!(set_value(choice, "eco").expect_err("refused").contains("Off, Eco, Full"));
    }
}
