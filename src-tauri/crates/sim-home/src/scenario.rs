//! The simulated home, as data: which agents exist, how they are reached, who may talk
//! to them, and the instance data of their data models (`scenarios/*.json`).
//!
//! ```json
//! { "seed": 7,
//!   "agents": [ {
//!     "key": "gateway", "endpoint_id": "os::012345-GW0001", "port": 0, "path": "/usp",
//!     "keep_alive_secs": 30, "unknown_controllers": "untrusted",
//!     "controllers": [ { "endpoint_id": "self::usp-home-admin", "role": "Full Access" } ],
//!     "features": ["wifi", "mesh", "hosts", "schedules", "diagnostics"],
//!     "challenge": { "passcode": "482913", "retries": 3, "lockout_secs": 30,
//!                    "description": "…", "instruction": "…" },
//!     "data": { "Device.DeviceInfo.": { "FriendlyName": "Living room gateway" },
//!               "Device.WiFi.SSID.": [ { "SSID": "Home", "Enable": true } ] } } ] }
//! ```
//!
//! `data` maps absolute object paths to instance data. An object is a JSON object of
//! parameter values (strings, numbers or booleans) and of children: a key ending in `.`
//! is a sub-object (JSON object) or a table (JSON array of rows, numbered 1, 2, …).
//! Parameter names may go through single-instance sub-objects (`"WANStats.BytesSent"`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::spec::{AgentSpec, ScenarioError};

/// The shipped home (three agents), compiled in.
pub const BUILTIN_HOME: &str = include_str!("../scenarios/home.json");

/// A simulated home.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of the life loop (`--tick`).
    #[serde(default)]
    pub seed: u64,
    pub agents: Vec<AgentSpec>,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Io { path: path.display().to_string(), source })?;
        Scenario::from_json(&text)
    }

    /// Parses and checks a scenario (every agent is built once to validate its data).
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_json::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The shipped `scenarios/home.json`.
    pub fn builtin() -> Scenario {
        match Scenario::from_json(BUILTIN_HOME) {
            Ok(s) => s,
            // The shipped file is checked by a unit test; an empty home is the fallback.
            Err(e) => {
                tracing::error!("built-in scenario is invalid: {e}");
                Scenario { seed: 0, agents: Vec::new() }
            }
        }
    }

    /// The agent with this key.
    pub fn agent(&self, key: &str) -> Option<&AgentSpec> {
        self.agents.iter().find(|a| a.key == key)
    }

    /// Checks keys and endpoint ids are unique and builds every agent once.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for (i, a) in self.agents.iter().enumerate() {
            if self.agents[..i].iter().any(|b| b.key == a.key) {
                return Err(ScenarioError::Invalid(format!("duplicate agent key {:?}", a.key)));
            }
            if self.agents[..i].iter().any(|b| b.endpoint_id == a.endpoint_id) {
                return Err(ScenarioError::Invalid(format!("duplicate endpoint id {:?}", a.endpoint_id)));
            }
            crate::agent::Agent::new(a, a.unknown_controllers, std::time::UNIX_EPOCH)?;
        }
        Ok(())
    }
}

/// A home of one agent, "gateway" (`os::012345-GW0001`, `self::usp-home-admin` with Full
/// Access), whose EasyMesh view (`Device.WiFi.DataElements.Network.`) holds `stations`
/// associated stations with long host names: a data model as large as a test or a
/// benchmark needs (about 500 bytes of GetResp per station; at most 16 × 4 × 8 × 128).
pub fn crowded_mesh(stations: usize) -> Scenario {
    use serde_json::{json, Map, Value};
    const STA_PER_BSS: usize = 128;
    const BSS_PER_RADIO: usize = 8;
    const RADIOS: usize = 4;
    let per_device = STA_PER_BSS * BSS_PER_RADIO * RADIOS;
    let stations = stations.min(16 * per_device);
    let mac = |kind: u8, n: usize| {
        format!(
            "02:{kind:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            (n >> 24) & 0xff,
            (n >> 16) & 0xff,
            (n >> 8) & 0xff,
            n & 0xff
        )
    };
    let mut devices = Vec::new();
    let mut n = 0;
    for d in 0..stations.div_ceil(per_device).max(1) {
        let mut radios = Vec::new();
        for r in 0..RADIOS {
            let mut bsss = Vec::new();
            for b in 0..BSS_PER_RADIO {
                let mut stas = Vec::new();
                while stas.len() < STA_PER_BSS && n < stations {
                    stas.push(json!({
                        "MACAddress": mac(0xAA, n),
                        "Hostname": format!("station-{n:06}-of-a-rather-crowded-home-network-for-tests"),
                        "IPV4Address": format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff),
                        "SignalStrength": (n % 200) as u64,
                        "BytesSent": (n as u64) * 1_000_003,
                        "BytesReceived": (n as u64) * 7_000_001,
                    }));
                    n += 1;
                }
                let i = (d * RADIOS + r) * BSS_PER_RADIO + b;
                bsss.push(json!({ "BSSID": mac(0xBB, i), "SSID": "Crowded", "Enabled": true, "STA.": stas }));
            }
            radios.push(json!({ "ID": mac(0xCC, d * RADIOS + r), "Enabled": true, "BSS.": bsss }));
        }
        devices.push(json!({ "ID": mac(0xDD, d), "Manufacturer": "Example Networks", "Radio.": radios }));
    }
    let mut data = Map::new();
    data.insert("Device.DeviceInfo.".into(), json!({ "FriendlyName": "Crowded gateway" }));
    data.insert(
        "Device.WiFi.DataElements.Network.".into(),
        json!({ "ID": "crowded-mesh", "Device.": Value::Array(devices) }),
    );
    let spec = serde_json::from_value(json!({
        "key": "gateway",
        "endpoint_id": "os::012345-GW0001",
        "controllers": [ { "endpoint_id": "self::usp-home-admin", "role": "Full Access" } ],
        "features": ["wifi", "mesh"],
        "data": data,
    }));
    match spec {
        Ok(spec) => Scenario { seed: 0, agents: vec![spec] },
        Err(e) => {
            tracing::error!("crowded scenario is invalid: {e}");
            Scenario { seed: 0, agents: Vec::new() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_context_policy_per_controller() {
        let text = |size: u32| {
            format!(
                r#"{{"agents": [{{"key": "a", "endpoint_id": "self::a", "controllers": [
                {{"endpoint_id": "self::c", "role": "Full Access",
                  "e2e": {{"mode": "require", "max_record_size": {size}, "integrity": true}}}},
                {{"endpoint_id": "self::d", "role": "Full Access"}}]}}]}}"#
            )
        };
        let e = Scenario::from_json(&text(100)).expect_err("too small");
        assert!(e.to_string().contains("at least 512"), "{e}");
        let s = Scenario::from_json(&text(1024)).expect("valid");
        let a = crate::agent::Agent::new(&s.agents[0], s.agents[0].unknown_controllers, std::time::UNIX_EPOCH)
            .expect("agent");
        let p = a.e2e_policy("self::c");
        assert_eq!((p.mode, p.max_record_size, p.signed), (crate::spec::SessionMode::Require, 1024, true));
        assert_eq!(a.get_internal("Device.LocalAgent.Controller.1.E2ESession.SessionMode").as_deref(), Some("Require"));
        // Without a word in the scenario: allowed, unsegmented, unsigned; unknown ones too.
        let d = a.e2e_policy("self::d");
        assert_eq!((d.mode, d.max_record_size, d.signed), (crate::spec::SessionMode::Allow, 0, false));
        assert_eq!(a.e2e_policy("self::stranger").mode, crate::spec::SessionMode::Allow);
    }

    #[test]
    fn crowded_mesh_is_valid() {
        let s = crowded_mesh(1500);
        s.validate().expect("valid");
        assert_eq!(s.agents.len(), 1);
    }

    #[test]
    fn builtin_home_loads() {
        let s = Scenario::from_json(BUILTIN_HOME).expect("home.json is valid");
        let keys: Vec<_> = s.agents.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["gateway", "extender", "hub"]);
        assert_eq!(Scenario::builtin(), s);
        assert!(s.agent("hub").is_some());
    }

    #[test]
    fn errors_are_readable() {
        let e = Scenario::from_json("{\"agents\": [{\"key\": 1}]}").expect_err("bad");
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let dup = r#"{"agents": [
            {"key": "a", "endpoint_id": "self::a"}, {"key": "a", "endpoint_id": "self::b"}]}"#;
        let e = Scenario::from_json(dup).expect_err("dup");
        assert!(e.to_string().contains("duplicate agent key"), "{e}");
        let bad_eid = r#"{"agents": [{"key": "a", "endpoint_id": "not an eid"}]}"#;
        let e = Scenario::from_json(bad_eid).expect_err("eid");
        assert!(e.to_string().contains("agent \"a\""), "{e}");
        let bad_value = r#"{"agents": [{"key": "a", "endpoint_id": "self::a",
            "data": {"Device.DeviceInfo.": {"UpTime": "x"}}}]}"#;
        let e = Scenario::from_json(bad_value).expect_err("value");
        assert!(e.to_string().contains("Device.DeviceInfo.UpTime"), "{e}");
        let bad_path = r#"{"agents": [{"key": "a", "endpoint_id": "self::a",
            "data": {"Device.WiFi.": {}}}]}"#;
        let e = Scenario::from_json(bad_path).expect_err("feature");
        assert!(e.to_string().contains("Device.WiFi."), "{e}");
        let e = Scenario::load("/nonexistent/home.json").expect_err("io");
        assert!(e.to_string().contains("/nonexistent/home.json"), "{e}");
    }
}
