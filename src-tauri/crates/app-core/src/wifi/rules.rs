//! WiFi networks: `Device.WiFi.SSID.{i}` joined to the `AccessPoint.{i}` whose `SSIDReference`
//! points at it, the band from `SSID.LowerLayers` → `Radio.{i}.OperatingFrequencyBand`, and the
//! validation of what the user types (name, passphrase, security mode).

use crate::params::{list, obj_ref, Params, Supported};

/// Paths to Get for [`networks`] (one request).
pub const GET_PATHS: [&str; 4] =
    ["Device.WiFi.SSID.", "Device.WiFi.AccessPoint.", "Device.WiFi.Radio.", "Device.WiFi.DataElements.Network.SSID."];

/// One SSID as decoded from an agent's parameters (`Debug` hides the passphrase).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// `Device.WiFi.SSID.{i}.` without the trailing dot (as shown to the UI and used as key).
    pub ssid_path: String,
    /// `Device.WiFi.AccessPoint.{i}` (no trailing dot).
    pub ap_path: Option<String>,
    pub ssid: String,
    pub bands: Vec<String>,
    /// SSID `Enable`.
    pub enabled: bool,
    /// AccessPoint `Enable`, when there is an AccessPoint.
    pub ap_enabled: Option<bool>,
    /// `Security.ModeEnabled`.
    pub security: Option<String>,
    /// `Security.ModesSupported` (all of them).
    pub modes_supported: Vec<String>,
    /// `Security.KeyPassphrase` when readable (non-empty).
    pub passphrase: Option<String>,
    /// The AccessPoint has a `Security.SAEPassphrase` parameter (WPA3).
    pub has_sae: bool,
    /// The AccessPoint has a `Security.PreSharedKey` parameter (64 hex digits).
    pub has_psk: bool,
    /// AccessPoint `IsolationEnable`.
    pub isolation: Option<bool>,
    /// EasyMesh `DataElements.Network.SSID.{i}.Type` (2.19) for this name, e.g. `Guest`.
    pub mesh_type: Option<String>,
    /// Not advertised (`SSIDAdvertisementEnabled` false).
    pub hidden: bool,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("ssid_path", &self.ssid_path)
            .field("ap_path", &self.ap_path)
            .field("ssid", &self.ssid)
            .field("bands", &self.bands)
            .field("enabled", &self.enabled)
            .field("ap_enabled", &self.ap_enabled)
            .field("security", &self.security)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<redacted>"))
            .field("isolation", &self.isolation)
            .field("mesh_type", &self.mesh_type)
            .field("hidden", &self.hidden)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// Both the SSID and its AccessPoint (if any) are enabled.
    pub fn is_on(&self) -> bool {
        self.enabled && self.ap_enabled.unwrap_or(true)
    }

    /// The EasyMesh `Type` says this is a guest network.
    pub fn typed_guest(&self) -> bool {
        self.mesh_type.as_deref().is_some_and(|t| t.to_ascii_lowercase().contains("guest"))
    }
}

/// Strips one trailing dot.
pub fn no_dot(path: &str) -> String {
    path.strip_suffix('.').unwrap_or(path).to_owned()
}

/// Every SSID of an agent, in instance order. Rows without a readable `SSID` name are kept
/// with an empty name (the UI shows "unnamed"); nothing in the data can make this panic.
pub fn networks(p: &Params) -> Vec<Network> {
    // AccessPoint by the SSID it serves.
    let aps: Vec<(String, String)> = p
        .instances("Device.WiFi.AccessPoint.")
        .into_iter()
        .filter_map(|ap| {
            let r = obj_ref(p.get(&ap, "SSIDReference")?)?;
            Some((r, ap))
        })
        .collect();
    let mesh_types: Vec<(String, String)> = p
        .instances("Device.WiFi.DataElements.Network.SSID.")
        .into_iter()
        .filter_map(|row| Some((p.get(&row, "SSID")?.to_owned(), p.text(&row, "Type")?)))
        .collect();
    p.instances("Device.WiFi.SSID.")
        .into_iter()
        .map(|s| {
            let ssid = p.get(&s, "SSID").unwrap_or("").to_owned();
            let mut bands: Vec<String> = Vec::new();
            for lower in list(p.get(&s, "LowerLayers").unwrap_or("")) {
                if let Some(radio) = obj_ref(&lower) {
                    if let Some(band) = p.text(&radio, "OperatingFrequencyBand") {
                        if !bands.contains(&band) {
                            bands.push(band);
                        }
                    }
                }
            }
            let ap = aps.iter().find(|(r, _)| *r == s).map(|(_, ap)| ap.clone());
            let sec = ap.as_ref().map(|ap| format!("{ap}Security."));
            let sec_get = |name: &str| sec.as_ref().and_then(|sec| p.get(sec, name));
            Network {
                ssid_path: no_dot(&s),
                ap_enabled: ap.as_ref().and_then(|ap| p.bool(ap, "Enable")),
                isolation: ap.as_ref().and_then(|ap| p.bool(ap, "IsolationEnable")),
                hidden: ap.as_ref().and_then(|ap| p.bool(ap, "SSIDAdvertisementEnabled")) == Some(false),
                security: sec_get("ModeEnabled").map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned),
                modes_supported: list(sec_get("ModesSupported").unwrap_or("")),
                passphrase: sec_get("KeyPassphrase").filter(|k| !k.is_empty()).map(str::to_owned),
                has_sae: sec_get("SAEPassphrase").is_some(),
                has_psk: sec_get("PreSharedKey").is_some(),
                mesh_type: mesh_types.iter().find(|(n, _)| *n == ssid).map(|(_, t)| t.clone()),
                ap_path: ap.map(|ap| no_dot(&ap)),
                enabled: p.bool(&s, "Enable").unwrap_or(false),
                bands,
                ssid,
            }
        })
        .collect()
}

/// The modes offered in the picker: the WPA2/WPA3 personal modes the agent supports (never
/// `None`: this app does not open a network to everyone, and never WEP/WPA1/enterprise).
pub fn offered_modes(supported: &[String]) -> Vec<String> {
    supported
        .iter()
        .filter(|m| {
            let u = m.to_ascii_uppercase();
            (u.contains("WPA2") || u.contains("WPA3")) && u.contains("PERSONAL")
        })
        .cloned()
        .collect()
}

/// Whether the role may change this network (SSID name and the passphrase), from the agent's
/// GetSupportedDM answer; without one (the request failed) we assume yes and let the Set say no.
pub fn writable(net: &Network, dm: Option<&Supported>) -> bool {
    match dm {
        None => true,
        Some(dm) => {
            dm.writable(&format!("{}.SSID", net.ssid_path)) || dm.writable(&format!("{}.Enable", net.ssid_path))
        }
    }
}

/// Checks a new network name: 1-32 bytes (TR-181 SSID is a string of at most 32), no control
/// characters, not only spaces.
///
/// # Errors
/// Words for the user.
pub fn check_ssid(ssid: &str) -> Result<(), String> {
    if ssid.trim().is_empty() {
        return Err("Enter a network name.".into());
    }
    if ssid.len() > 32 {
        return Err(format!("A WiFi name can have at most 32 bytes; this one has {}. Use a shorter name.", ssid.len()));
    }
    if ssid.chars().any(char::is_control) {
        return Err("A WiFi name can't contain control characters.".into());
    }
    Ok(())
}

/// A passphrase as the agent takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassKind {
    /// 8-63 printable ASCII characters → `KeyPassphrase` (and `SAEPassphrase` for WPA3).
    Passphrase,
    /// 64 hexadecimal digits → `PreSharedKey` (WPA2 only: SAE has no raw key).
    HexKey,
}

/// Checks a new passphrase: 8-63 printable ASCII characters, or exactly 64 hex digits (a raw
/// WPA2 key). Never echoes the passphrase in the message.
///
/// # Errors
/// Words for the user.
pub fn check_passphrase(pass: &str) -> Result<PassKind, String> {
    if pass.len() == 64 && pass.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(PassKind::HexKey);
    }
    if !pass.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(
            "Use only letters, digits, spaces and the usual punctuation (printable ASCII) in a WiFi password.".into()
        );
    }
    match pass.len() {
        0..=7 => Err("A WiFi password needs at least 8 characters.".into()),
        8..=63 => Ok(PassKind::Passphrase),
        _ => Err("A WiFi password can have at most 63 characters (or exactly 64 hex digits).".into()),
    }
}

/// The parameters to Set for a new passphrase (and optionally a new mode) on `net`'s
/// AccessPoint. WPA3 modes also get `SAEPassphrase` when the agent has it.
///
/// # Errors
/// Words for the user (bad passphrase, mode not supported, raw key with WPA3...).
pub fn passphrase_params(net: &Network, pass: &str, mode: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let Some(ap) = &net.ap_path else {
        return Err(format!("The network \"{}\" has no access point to set a password on.", net.ssid));
    };
    let kind = check_passphrase(pass)?;
    let mut out = Vec::new();
    let offered = offered_modes(&net.modes_supported);
    let effective = match mode.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => {
            if !offered.iter().any(|o| o == m) {
                return Err(if offered.is_empty() {
                    format!("This access point does not offer {m}.")
                } else {
                    format!("This access point does not offer {m}. Choose one of: {}.", offered.join(", "))
                });
            }
            if net.security.as_deref() != Some(m) {
                out.push((format!("{ap}.Security.ModeEnabled"), m.to_owned()));
            }
            Some(m.to_owned())
        }
        None => net.security.clone(),
    };
    let wpa3 = effective.as_deref().is_some_and(|m| m.to_ascii_uppercase().contains("WPA3"));
    let wpa3_only = effective.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("WPA3-Personal"));
    match kind {
        PassKind::HexKey => {
            if wpa3_only {
                return Err("WPA3 needs a password of 8-63 characters, not a 64-digit key.".into());
            }
            if !net.has_psk {
                return Err("This access point does not take a 64-digit key; use a password of 8-63 characters.".into());
            }
            out.push((format!("{ap}.Security.PreSharedKey"), pass.to_owned()));
        }
        PassKind::Passphrase => {
            out.push((format!("{ap}.Security.KeyPassphrase"), pass.to_owned()));
            if wpa3 && net.has_sae {
                out.push((format!("{ap}.Security.SAEPassphrase"), pass.to_owned()));
            }
        }
    }
    Ok(out)
}

/// The vault id of a passphrase this app set: agent Endpoint ID and SSID path, made safe for
/// every vault backend (no control characters, `:` and `/` replaced).
pub fn vault_id(agent: &str, ssid_path: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
    };
    format!("{}__{}", safe(agent), safe(ssid_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn gateway_params() -> Params {
        Params::new([
            ("Device.WiFi.Radio.1.OperatingFrequencyBand", "2.4GHz"),
            ("Device.WiFi.Radio.2.OperatingFrequencyBand", "5GHz"),
            ("Device.WiFi.SSID.1.SSID", "Home"),
            ("Device.WiFi.SSID.1.Enable", "true"),
            ("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.1"),
            ("Device.WiFi.SSID.2.SSID", "Home"),
            ("Device.WiFi.SSID.2.Enable", "true"),
            ("Device.WiFi.SSID.2.LowerLayers", "Device.WiFi.Radio.2."),
            ("Device.WiFi.SSID.3.SSID", "Home-Guest"),
            ("Device.WiFi.SSID.3.Enable", "false"),
            ("Device.WiFi.SSID.3.LowerLayers", "Device.WiFi.Radio.1,Device.WiFi.Radio.9"),
            ("Device.WiFi.AccessPoint.1.SSIDReference", "Device.WiFi.SSID.1"),
            ("Device.WiFi.AccessPoint.1.Enable", "true"),
            ("Device.WiFi.AccessPoint.1.IsolationEnable", "false"),
            ("Device.WiFi.AccessPoint.1.Security.ModeEnabled", "WPA3-Personal-Transition"),
            (
                "Device.WiFi.AccessPoint.1.Security.ModesSupported",
                "None,WEP-64,WPA2-Personal,WPA3-Personal,WPA3-Personal-Transition,WPA2-Enterprise",
            ),
            ("Device.WiFi.AccessPoint.1.Security.KeyPassphrase", ""),
            ("Device.WiFi.AccessPoint.1.Security.SAEPassphrase", ""),
            ("Device.WiFi.AccessPoint.3.SSIDReference", "Device.WiFi.SSID.3"),
            ("Device.WiFi.AccessPoint.3.Enable", "true"),
            ("Device.WiFi.AccessPoint.3.IsolationEnable", "true"),
            ("Device.WiFi.AccessPoint.3.SSIDAdvertisementEnabled", "false"),
            ("Device.WiFi.AccessPoint.3.Security.ModeEnabled", "WPA2-Personal"),
            ("Device.WiFi.AccessPoint.3.Security.ModesSupported", "None,WPA2-Personal"),
            ("Device.WiFi.AccessPoint.3.Security.KeyPassphrase", "welcome-guests"),
            ("Device.WiFi.AccessPoint.3.Security.PreSharedKey", ""),
        ])
    }

    #[test]
    fn decodes_networks_with_bands_and_access_points() {
        let nets = networks(&gateway_params());
        assert_eq!(nets.len(), 3);
        assert_eq!(nets[0].ssid_path, "Device.WiFi.SSID.1");
        assert_eq!(nets[0].ap_path.as_deref(), Some("Device.WiFi.AccessPoint.1"));
        assert_eq!(nets[0].bands, ["2.4GHz"]);
        assert_eq!(nets[1].bands, ["5GHz"]);
        assert_eq!(nets[1].ap_path, None);
        assert_eq!(nets[0].passphrase, None, "secured: reads empty");
        assert!(nets[0].has_sae);
        assert_eq!(
            offered_modes(&nets[0].modes_supported),
            ["WPA2-Personal", "WPA3-Personal", "WPA3-Personal-Transition"]
        );
        let guest = &nets[2];
        assert_eq!(guest.bands, ["2.4GHz"], "a dangling radio reference is skipped");
        assert_eq!(guest.passphrase.as_deref(), Some("welcome-guests"));
        assert_eq!(guest.isolation, Some(true));
        assert!(guest.hidden);
        assert!(!guest.is_on());
    }

    #[test]
    fn garbage_never_panics() {
        let p = Params::new([
            ("Device.WiFi.SSID.1.Enable", "maybe"),
            ("Device.WiFi.SSID.1.LowerLayers", ",,,"),
            ("Device.WiFi.AccessPoint.1.SSIDReference", ""),
            ("Device.WiFi.AccessPoint.2.SSIDReference", "Device.WiFi.SSID.1"),
            ("Device.WiFi.AccessPoint.2.Security.ModesSupported", ""),
            ("Device.WiFi.SSID.99999999999999999999999.SSID", "overflow"),
        ]);
        let nets = networks(&p);
        assert_eq!(nets.len(), 1);
        assert!(!nets[0].enabled);
        assert_eq!(nets[0].ssid, "");
        assert!(offered_modes(&nets[0].modes_supported).is_empty());
    }

    #[test]
    fn ssid_validation() {
        assert!(check_ssid("Home").is_ok());
        assert!(check_ssid(&"a".repeat(32)).is_ok());
        assert!(check_ssid(&"a".repeat(33)).is_err());
        // 11 × 3-byte characters = 33 bytes.
        assert!(check_ssid(&"€".repeat(11)).expect_err("refused").contains("33"));
        assert!(check_ssid("   ").is_err());
        assert!(check_ssid("a\nb").is_err());
    }

    #[test]
    fn passphrase_validation_and_params() {
        assert_eq!(check_passphrase("12345678"), Ok(PassKind::Passphrase));
        assert!(check_passphrase("1234567").is_err());
        assert!(check_passphrase(&"x".repeat(63)).is_ok());
        assert!(check_passphrase(&"x".repeat(64)).is_err());
        assert_eq!(check_passphrase(&"aB".repeat(32)), Ok(PassKind::HexKey));
        assert!(check_passphrase("pässword-1").is_err());
        let err = check_passphrase("short").expect_err("refused");
        assert!(!err.contains("short"), "never echo the secret");

        let nets = networks(&gateway_params());
        let main = &nets[0];
        let ps = passphrase_params(main, "new-password-1", None).expect("ok");
        assert_eq!(
            ps,
            [
                ("Device.WiFi.AccessPoint.1.Security.KeyPassphrase".to_owned(), "new-password-1".to_owned()),
                ("Device.WiFi.AccessPoint.1.Security.SAEPassphrase".to_owned(), "new-password-1".to_owned()),
            ]
        );
        let ps = passphrase_params(main, "new-password-1", Some("WPA2-Personal")).expect("ok");
        assert_eq!(ps[0], ("Device.WiFi.AccessPoint.1.Security.ModeEnabled".to_owned(), "WPA2-Personal".to_owned()));
        assert_eq!(ps.len(), 2, "WPA2 sets no SAE passphrase");
        assert!(passphrase_params(main, "new-password-1", Some("None"))
            .expect_err("refused")
            .contains("does not offer"));
        assert!(passphrase_params(main, "new-password-1", Some("OWE")).is_err());
        // Raw key: not for WPA3-only, not without PreSharedKey.
        assert!(passphrase_params(main, &"ab".repeat(32), Some("WPA3-Personal")).is_err());
        assert!(passphrase_params(main, &"ab".repeat(32), None).is_err());
        let ps = passphrase_params(&nets[2], &"ab".repeat(32), None).expect("guest has a PSK");
        assert_eq!(ps[0].0, "Device.WiFi.AccessPoint.3.Security.PreSharedKey");
        assert!(passphrase_params(&nets[1], "new-password-1", None).is_err(), "no access point");
    }

    #[test]
    fn debug_hides_the_passphrase() {
        let nets = networks(&gateway_params());
        let shown = format!("{:?}", nets[2]);
        assert!(!shown.contains("welcome-guests"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn vault_ids_are_safe() {
        assert_eq!(vault_id("os::012345-GW0001", "Device.WiFi.SSID.3"), "os__012345-GW0001__Device.WiFi.SSID.3");
    }
}
