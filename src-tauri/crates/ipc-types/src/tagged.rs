//! Reading the three enums that carry their variant in a field ([`AgentAuth`]'s `state`,
//! [`ThingState`]'s `kind`, [`LiveEvent`]'s `event`) through one flat object each.
//!
//! The wire stays what serde's internally tagged form writes (`{"state": "offline", "message":
//! …}`); only the reading differs. serde's own reader for that form first copies the whole object
//! into a buffer of generic values and then runs one reader per variant over it, which weighs
//! about 50 KB in the UI's WebAssembly; a flat object with optional fields, checked afterwards,
//! weighs a fraction of it. Writing stays serde's derived one.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::live::{LiveEvent, Topic};
use crate::pages::home::AgentAuth;
use crate::pages::smart::ThingState;

/// `field` when it was sent, else serde's usual words for a missing field.
fn need<T>(value: Option<T>, field: &'static str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{field}`"))
}

fn unknown(tag: &str, value: &str, expected: &str) -> String {
    format!("unknown {tag} `{value}`, expected one of {expected}")
}

/// [`AgentAuth`] as one object.
#[derive(Deserialize)]
pub(crate) struct AgentAuthWire {
    state: String,
    message: Option<String>,
    fingerprint: Option<String>,
    pinned: Option<String>,
    our_endpoint_id: Option<String>,
    next_check_secs: Option<u64>,
    role: Option<String>,
}

impl TryFrom<AgentAuthWire> for AgentAuth {
    type Error = String;

    fn try_from(w: AgentAuthWire) -> Result<Self, String> {
        Ok(match w.state.as_str() {
            "connecting" => Self::Connecting,
            "offline" => Self::Offline { message: need(w.message, "message")? },
            "first_use" => Self::FirstUse { fingerprint: need(w.fingerprint, "fingerprint")? },
            "certificate_changed" => {
                Self::CertificateChanged { fingerprint: need(w.fingerprint, "fingerprint")?, pinned: w.pinned }
            }
            "wrong_device" => Self::WrongDevice,
            "not_authorised" => Self::NotAuthorised {
                our_endpoint_id: need(w.our_endpoint_id, "our_endpoint_id")?,
                next_check_secs: w.next_check_secs,
            },
            "untrusted" => Self::Untrusted { role: w.role },
            "paired" => Self::Paired { role: w.role },
            other => return Err(unknown(
                "state",
                other,
                "connecting, offline, first_use, certificate_changed, wrong_device, not_authorised, untrusted, paired",
            )),
        })
    }
}

/// A `value` that is a number (a level) or text (a choice, a sensor reading).
enum NumberOrText {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for NumberOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumberOrText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Text(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// [`ThingState`] as one object.
#[derive(Deserialize)]
pub(crate) struct ThingStateWire {
    kind: String,
    on: Option<bool>,
    value: Option<NumberOrText>,
    unit: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    step: Option<f64>,
    options: Option<Vec<String>>,
    last_change: Option<String>,
}

impl TryFrom<ThingStateWire> for ThingState {
    type Error = String;

    fn try_from(w: ThingStateWire) -> Result<Self, String> {
        let text = |value: Option<NumberOrText>| match need(value, "value")? {
            NumberOrText::Text(text) => Ok(text),
            NumberOrText::Number(_) => Err("invalid type: number, expected a string".to_owned()),
        };
        Ok(match w.kind.as_str() {
            "switch" => Self::Switch { on: need(w.on, "on")? },
            "level" => Self::Level {
                value: match need(w.value, "value")? {
                    NumberOrText::Number(value) => value,
                    NumberOrText::Text(_) => return Err("invalid type: string, expected f64".to_owned()),
                },
                unit: w.unit,
                min: w.min,
                max: w.max,
                step: w.step,
            },
            "choice" => Self::Choice { value: text(w.value)?, options: need(w.options, "options")? },
            "sensor" => Self::Sensor { value: text(w.value)?, unit: w.unit, last_change: w.last_change },
            other => return Err(unknown("kind", other, "switch, level, choice, sensor")),
        })
    }
}

/// [`LiveEvent`] as one object.
#[derive(Deserialize)]
pub(crate) struct LiveEventWire {
    event: String,
    topics: Option<Vec<Topic>>,
    agent: Option<String>,
    path: Option<String>,
    value: Option<String>,
    mac: Option<String>,
    name: Option<String>,
    message: Option<String>,
}

impl TryFrom<LiveEventWire> for LiveEvent {
    type Error = String;

    fn try_from(w: LiveEventWire) -> Result<Self, String> {
        Ok(match w.event.as_str() {
            "changed" => Self::Changed { topics: need(w.topics, "topics")? },
            "value" => Self::Value {
                agent: need(w.agent, "agent")?,
                path: need(w.path, "path")?,
                value: need(w.value, "value")?,
            },
            "device_joined" => Self::DeviceJoined {
                mac: need(w.mac, "mac")?,
                name: need(w.name, "name")?,
                agent: need(w.agent, "agent")?,
            },
            "ping_progress" => {
                Self::PingProgress { agent: need(w.agent, "agent")?, message: need(w.message, "message")? }
            }
            other => return Err(unknown("event", other, "changed, value, device_joined, ping_progress")),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::*;

    /// What serde's derived writer writes reads back as the same value.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(values: &[T]) {
        for value in values {
            let json = serde_json::to_string(value).expect("serialise");
            let back: T = serde_json::from_str(&json).unwrap_or_else(|err| panic!("{json}: {err}"));
            assert_eq!(&back, value, "{json}");
        }
    }

    fn error<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
        serde_json::from_str::<T>(json).expect_err(json).to_string()
    }

    #[test]
    fn agent_auth_reads_every_state() {
        round_trip(&[
            AgentAuth::Connecting,
            AgentAuth::Offline { message: "No answer".into() },
            AgentAuth::FirstUse { fingerprint: "AB:CD".into() },
            AgentAuth::CertificateChanged { fingerprint: "AB".into(), pinned: Some("CD".into()) },
            AgentAuth::CertificateChanged { fingerprint: "AB".into(), pinned: None },
            AgentAuth::WrongDevice,
            AgentAuth::NotAuthorised { our_endpoint_id: "self::usp-home".into(), next_check_secs: Some(30) },
            AgentAuth::NotAuthorised { our_endpoint_id: "self::usp-home".into(), next_check_secs: None },
            AgentAuth::Untrusted { role: Some("Untrusted".into()) },
            AgentAuth::Paired { role: None },
        ]);
        // Optional fields may be left out; extra fields are ignored, as before.
        let auth: AgentAuth =
            serde_json::from_str(r#"{"state":"certificate_changed","fingerprint":"AB","extra":1}"#).expect("reads");
        assert_eq!(auth, AgentAuth::CertificateChanged { fingerprint: "AB".into(), pinned: None });
        assert_eq!(
            serde_json::from_str::<AgentAuth>(r#"{"state":"paired"}"#).expect("reads"),
            AgentAuth::Paired { role: None }
        );
        assert!(error::<AgentAuth>(r#"{"state":"offline"}"#).contains("missing field `message`"));
        assert!(error::<AgentAuth>(r#"{"state":"haunted"}"#).contains("unknown state `haunted`"));
        assert!(error::<AgentAuth>(r#"{"message":"x"}"#).contains("missing field `state`"));
    }

    #[test]
    fn thing_state_reads_every_kind() {
        round_trip(&[
            ThingState::Switch { on: true },
            ThingState::Level { value: 42.5, unit: Some("%".into()), min: Some(0.0), max: Some(100.0), step: None },
            ThingState::Level { value: 3.0, unit: None, min: None, max: None, step: Some(0.5) },
            ThingState::Choice { value: "Eco".into(), options: vec!["Eco".into(), "Comfort".into()] },
            ThingState::Sensor { value: "21.5".into(), unit: Some("°C".into()), last_change: Some("now".into()) },
        ]);
        // A whole number is a level too.
        let level: ThingState = serde_json::from_str(r#"{"kind":"level","value":7}"#).expect("reads");
        assert_eq!(level, ThingState::Level { value: 7.0, unit: None, min: None, max: None, step: None });
        assert!(error::<ThingState>(r#"{"kind":"level","value":"7"}"#).contains("invalid type: string"));
        assert!(error::<ThingState>(r#"{"kind":"sensor","value":7}"#).contains("invalid type: number"));
        assert!(error::<ThingState>(r#"{"kind":"choice","value":"a"}"#).contains("missing field `options`"));
        assert!(error::<ThingState>(r#"{"kind":"switch"}"#).contains("missing field `on`"));
        assert!(error::<ThingState>(r#"{"kind":"lamp"}"#).contains("unknown kind `lamp`"));
    }

    #[test]
    fn live_event_reads_every_event() {
        round_trip(&[
            LiveEvent::Changed { topics: vec![Topic::Home, Topic::Hosts, Topic::History] },
            LiveEvent::Changed { topics: vec![] },
            LiveEvent::Value { agent: "a".into(), path: "Device.X.".into(), value: "1".into() },
            LiveEvent::DeviceJoined { mac: "AA:BB".into(), name: "Phone".into(), agent: "a".into() },
            LiveEvent::PingProgress { agent: "a".into(), message: "3 of 4".into() },
        ]);
        assert!(error::<LiveEvent>(r#"{"event":"value","agent":"a","path":"p"}"#).contains("missing field `value`"));
        assert!(error::<LiveEvent>(r#"{"event":"changed","topics":["nowhere"]}"#).contains("unknown variant"));
        assert!(error::<LiveEvent>(r#"{"event":"reboot"}"#).contains("unknown event `reboot`"));
    }
}
