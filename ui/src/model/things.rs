//! Live values for smart-home things: a `LiveEvent::Value` for a parameter under a thing's
//! `IoTCapability.{i}.` path updates the card in place, before the page re-fetches.

use ipc_types::ThingState;

/// Applies `value` of parameter `value_path` to `state` of the thing at `thing_path`, when the
/// parameter is that thing's current value (`<thing>.<Class>.Value` or `<thing>.Value`).
/// Returns whether anything changed.
pub fn apply_value(state: &mut ThingState, thing_path: &str, value_path: &str, value: &str) -> bool {
    let prefix = format!("{}.", thing_path.trim_end_matches('.'));
    let Some(rest) = value_path.strip_prefix(&prefix) else { return false };
    // Only the thing's own value, one or two levels down (not a sub-thing's).
    if !(rest == "Value" || rest.split('.').count() == 2 && rest.ends_with(".Value")) {
        return false;
    }
    match state {
        ThingState::Switch { on } => {
            let want = match value {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return false,
            };
            *on != want && {
                *on = want;
                true
            }
        }
        ThingState::Level { value: current, .. } => match value.parse::<f64>() {
            Ok(v) if v.is_finite() && v != *current => {
                *current = v;
                true
            }
            _ => false,
        },
        ThingState::Choice { value: current, options } if options.iter().any(|o| o == value) => {
            *current != value && {
                *current = value.to_owned();
                true
            }
        }
        ThingState::Choice { .. } => false,
        ThingState::Sensor { value: current, .. } => {
            *current != value && {
                *current = value.to_owned();
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THING: &str = "Device.IoTCapability.1";

    #[test]
    fn updates_only_the_things_own_value() {
        let mut switch = ThingState::Switch { on: false };
        assert!(apply_value(&mut switch, THING, "Device.IoTCapability.1.BinaryControl.Value", "true"));
        assert_eq!(switch, ThingState::Switch { on: true });
        assert!(!apply_value(&mut switch, THING, "Device.IoTCapability.1.BinaryControl.Value", "true"), "no change");
        assert!(
            !apply_value(&mut switch, THING, "Device.IoTCapability.10.BinaryControl.Value", "false"),
            "other thing"
        );
        assert!(!apply_value(&mut switch, THING, "Device.IoTCapability.1.Name", "false"), "not the value");
        assert!(!apply_value(&mut switch, THING, "Device.IoTCapability.1.Node.2.BinaryControl.Value", "false"));
        assert!(!apply_value(&mut switch, THING, "Device.IoTCapability.1.BinaryControl.Value", "maybe"));
    }

    #[test]
    fn levels_choices_sensors() {
        let mut level = ThingState::Level { value: 10.0, unit: None, min: None, max: None, step: None };
        assert!(apply_value(&mut level, "Device.IoTCapability.2.", "Device.IoTCapability.2.LevelControl.Value", "55"));
        assert!(matches!(level, ThingState::Level { value, .. } if value == 55.0));
        assert!(!apply_value(
            &mut level,
            "Device.IoTCapability.2.",
            "Device.IoTCapability.2.LevelControl.Value",
            "NaN"
        ));
        let mut choice = ThingState::Choice { value: "Eco".into(), options: vec!["Eco".into(), "Comfort".into()] };
        assert!(
            !apply_value(&mut choice, THING, "Device.IoTCapability.1.EnumControl.Value", "Turbo"),
            "unknown option"
        );
        assert!(apply_value(&mut choice, THING, "Device.IoTCapability.1.EnumControl.Value", "Comfort"));
        let mut sensor = ThingState::Sensor { value: "20.5".into(), unit: Some("°C".into()), last_change: None };
        assert!(apply_value(&mut sensor, THING, "Device.IoTCapability.1.Value", "21"));
        assert!(matches!(&sensor, ThingState::Sensor { value, .. } if value == "21"));
    }
}
