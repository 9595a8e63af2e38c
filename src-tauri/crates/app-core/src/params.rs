//! Flattened parameters of Get results, `(full path, value)`, with tolerant accessors.

use std::collections::BTreeMap;

/// Most instances of one table a decoder looks at: a lying agent may report millions.
pub const MAX_ROWS: usize = 512;

/// Parameters by full path (`Device.WiFi.SSID.1.SSID` → `Home`). `Debug` hides the values of
/// secret-looking parameters (passphrases, keys, passwords), so logging one never leaks them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

/// A parameter whose value must never be printed or shown: TR-181's secured parameters
/// (`KeyPassphrase`, `SAEPassphrase`, `PreSharedKey`, `WEPKey`, `Password`, `RadiusSecret`,
/// `Passcode`, WPS `PIN`, a challenge's `Value`...) and anything named like them.
pub fn is_secret_name(path: &str) -> bool {
    let name = path.rsplit('.').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    ["passphrase", "presharedkey", "password", "passwd", "key", "psk", "secret", "passcode", "credential", "token"]
        .iter()
        .any(|s| lower.contains(s))
        || name.ends_with("PIN")
        || (name == "Value" && path.contains(".ControllerTrust.Challenge."))
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.map.iter().map(|(k, v)| (k, if is_secret_name(k) { "<redacted>" } else { v.as_str() })))
            .finish()
    }
}

impl Params {
    /// From `(path, value)` pairs (later duplicates win).
    pub fn new<I, P, V>(pairs: I) -> Params
    where
        I: IntoIterator<Item = (P, V)>,
        P: Into<String>,
        V: Into<String>,
    {
        Params { map: pairs.into_iter().map(|(p, v)| (p.into(), v.into())).collect() }
    }

    /// Every parameter of a Get response, within usp-core's default flattening budget
    /// (8 MiB of paths, 65,536 parameters): a larger reply is cut there (and logged), so
    /// a hostile reply can't make us allocate more than that.
    pub fn from_get(resp: &usp_core::msg::GetResp) -> Params {
        let flat = resp.params();
        if flat.truncated() {
            tracing::warn!(kept = flat.len(), "a Get reply was too large; only its first parameters are used");
        }
        Params::new(flat.into_iter().map(|p| (p.path, p.value.to_string())))
    }

    /// Adds more parameters.
    pub fn extend(&mut self, other: Params) {
        self.map.extend(other.map);
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No parameter at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A parameter by full path.
    pub fn raw(&self, path: &str) -> Option<&str> {
        self.map.get(path).map(String::as_str)
    }

    /// `obj` (ending in `.`) + `name`.
    pub fn get(&self, obj: &str, name: &str) -> Option<&str> {
        self.map.get(&format!("{obj}{name}")).map(String::as_str)
    }

    /// A non-empty trimmed string.
    pub fn text(&self, obj: &str, name: &str) -> Option<String> {
        self.get(obj, name).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    /// A TR-181 boolean (`true`/`false`/`1`/`0`); anything else is `None`.
    pub fn bool(&self, obj: &str, name: &str) -> Option<bool> {
        parse_bool(self.get(obj, name)?)
    }

    /// An integer (`None` when absent or not a number in range).
    pub fn int(&self, obj: &str, name: &str) -> Option<i64> {
        self.get(obj, name)?.trim().parse().ok()
    }

    /// An unsigned integer.
    pub fn uint(&self, obj: &str, name: &str) -> Option<u64> {
        self.get(obj, name)?.trim().parse().ok()
    }

    /// A finite decimal number.
    pub fn num(&self, obj: &str, name: &str) -> Option<f64> {
        self.get(obj, name)?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// Whether any parameter lies under `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.map.range(prefix.to_owned()..).next().is_some_and(|(k, _)| k.starts_with(prefix))
    }

    /// The instances of table `table` (e.g. `Device.WiFi.SSID.`) present in the parameters, as
    /// object paths `Device.WiFi.SSID.3.`, in numeric order, at most [`MAX_ROWS`].
    pub fn instances(&self, table: &str) -> Vec<String> {
        let mut nums: Vec<u64> = Vec::new();
        let mut last: Option<&str> = None;
        for (k, _) in self.map.range(table.to_owned()..) {
            let Some(rest) = k.strip_prefix(table) else { break };
            let Some((num, _)) = rest.split_once('.') else { continue };
            if last == Some(num) {
                continue;
            }
            last = Some(num);
            if let Ok(n) = num.parse::<u64>() {
                if n > 0 && !nums.contains(&n) {
                    nums.push(n);
                    if nums.len() >= MAX_ROWS {
                        break;
                    }
                }
            }
        }
        nums.sort_unstable();
        nums.into_iter().map(|n| format!("{table}{n}.")).collect()
    }
}

/// What an agent's GetSupportedDM said, as far as feature code needs it: which objects exist
/// and which parameters our role may write. Keys are supported paths (`Device.WiFi.SSID.{i}.`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Supported {
    objects: std::collections::BTreeSet<String>,
    /// Supported parameter path → writable by our role.
    params: BTreeMap<String, bool>,
    /// The reply was larger than the budget and was cut.
    truncated: bool,
}

impl Supported {
    /// From a GetSupportedDM response (failed paths are simply absent), within usp-core's
    /// default flattening [`Budget`](usp_core::request::Budget): every parameter path is a
    /// new string (object path + name), so a reply larger than the budget is cut there
    /// and marked [`truncated`](Self::truncated).
    pub fn from_resp(resp: &usp_core::msg::GetSupportedDmResp) -> Supported {
        Self::from_resp_within(resp, usp_core::request::Budget::default())
    }

    /// [`from_resp`](Self::from_resp) within `budget`.
    pub fn from_resp_within(resp: &usp_core::msg::GetSupportedDmResp, budget: usp_core::request::Budget) -> Supported {
        // A map entry costs about its key plus this much (node share, value, String header).
        const ENTRY: usize = 64;
        let mut meter = usp_core::request::Meter::new(budget);
        let mut out = Supported::default();
        'all: for r in resp.req_obj_results.iter().filter(|r| r.err_code == 0) {
            for o in &r.supported_objs {
                let obj: &str = &o.supported_obj_path;
                if !out.objects.contains(obj) {
                    if !meter.take(obj.len() + ENTRY) {
                        out.truncated = true;
                        break 'all;
                    }
                    out.objects.insert(obj.to_owned());
                }
                for p in &o.supported_params {
                    if !meter.take(obj.len() + p.param_name.len() + ENTRY) {
                        out.truncated = true;
                        break 'all;
                    }
                    let mut path = String::with_capacity(obj.len() + p.param_name.len());
                    path.push_str(obj);
                    path.push_str(&p.param_name);
                    // ParamAccess: 0 read-only, 1 read-write, 2 write-only.
                    out.params.insert(path, matches!(p.access, 1 | 2));
                }
            }
        }
        if out.truncated {
            tracing::warn!(
                objects = out.objects.len(),
                params = out.params.len(),
                "a GetSupportedDM reply was too large; only its first entries are used"
            );
        }
        out
    }

    /// Whether the reply was larger than the budget and only its first entries were kept.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// From plain data (tests): objects, and parameters with their writability.
    pub fn new<'a>(
        objects: impl IntoIterator<Item = &'a str>,
        params: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Self {
        Supported {
            objects: objects.into_iter().map(str::to_owned).collect(),
            params: params.into_iter().map(|(p, w)| (p.to_owned(), w)).collect(),
            truncated: false,
        }
    }

    /// The object exists (any instance path or supported path, with trailing dot).
    pub fn has_object(&self, path: &str) -> bool {
        self.objects.contains(&supported_path(path))
    }

    /// The parameter exists in the model.
    pub fn has_param(&self, path: &str) -> bool {
        self.params.contains_key(&supported_path(path))
    }

    /// Our role may write the parameter.
    pub fn writable(&self, path: &str) -> bool {
        self.params.get(&supported_path(path)).copied().unwrap_or(false)
    }
}

/// An instance path as its supported path: `Device.WiFi.SSID.3.SSID` → `Device.WiFi.SSID.{i}.SSID`.
pub fn supported_path(path: &str) -> String {
    path.split('.')
        .map(|seg| if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) { "{i}" } else { seg })
        .collect::<Vec<_>>()
        .join(".")
}

/// A TR-181 boolean.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "true" | "1" | "True" | "TRUE" => Some(true),
        "false" | "0" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A reference as an object path: `Device.WiFi.SSID.1` and `Device.WiFi.SSID.1.` both give
/// `Device.WiFi.SSID.1.`; empty gives `None`.
pub fn obj_ref(reference: &str) -> Option<String> {
    let r = reference.trim();
    if r.is_empty() {
        return None;
    }
    Some(if r.ends_with('.') { r.to_owned() } else { format!("{r}.") })
}

/// The items of a comma-separated list (trimmed, empty items dropped), at most [`MAX_ROWS`].
pub fn list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).take(MAX_ROWS).map(str::to_owned).collect()
}

/// A MAC address normalised to lower case `aa:bb:cc:dd:ee:ff` (`-` separators and bare 12-hex
/// forms accepted); anything else is `None`.
pub fn norm_mac(v: &str) -> Option<String> {
    // The longest accepted form is `aa:bb:cc:dd:ee:ff` with some blanks around: refuse an
    // agent's megabyte-long "MAC" before copying it.
    if v.len() > 64 {
        return None;
    }
    let hex: String = v.trim().chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    let parts: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    Some(parts.join(":"))
}

/// TR-181 EasyMesh RCPI (0-220) to dBm; 255 ("not measured") and out-of-range give `None`.
pub fn rcpi_to_dbm(rcpi: u64) -> Option<i32> {
    (rcpi <= 220).then(|| i32::try_from(rcpi).map(|r| r / 2 - 110).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_numeric_sorted_and_bounded() {
        let p = Params::new([
            ("Device.WiFi.SSID.10.SSID", "a"),
            ("Device.WiFi.SSID.2.SSID", "b"),
            ("Device.WiFi.SSID.2.Enable", "true"),
            ("Device.WiFi.SSID.x.SSID", "junk"),
            ("Device.WiFi.SSIDNumberOfEntries", "2"),
            ("Device.WiFi.SSID.0.SSID", "zero"),
        ]);
        assert_eq!(p.instances("Device.WiFi.SSID."), ["Device.WiFi.SSID.2.", "Device.WiFi.SSID.10."]);
        let many = Params::new((1..5000).map(|i| (format!("Device.Hosts.Host.{i}.Active"), "true".to_owned())));
        assert_eq!(many.instances("Device.Hosts.Host.").len(), MAX_ROWS);
    }

    #[test]
    fn debug_hides_secrets() {
        let p = Params::new([
            ("Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "hunter2-secret"),
            ("Device.WiFi.AccessPoint.1.Security.PreSharedKey", "abcdef"),
            ("Device.WiFi.SSID.1.SSID", "Home"),
        ]);
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("abcdef"), "{shown}");
        assert!(shown.contains("Home"));
    }

    #[test]
    fn tolerant_accessors() {
        let p = Params::new([("O.B", "yes"), ("O.N", "12x"), ("O.T", "  "), ("O.F", "NaN"), ("O.G", "1")]);
        assert_eq!(p.bool("O.", "B"), None);
        assert_eq!(p.bool("O.", "G"), Some(true));
        assert_eq!(p.int("O.", "N"), None);
        assert_eq!(p.text("O.", "T"), None);
        assert_eq!(p.num("O.", "F"), None);
        assert_eq!(p.get("O.", "missing"), None);
        assert!(p.has_prefix("O."));
        assert!(!p.has_prefix("P."));
    }

    #[test]
    fn macs_refs_and_rcpi() {
        assert_eq!(norm_mac("A4:83:E7:10:20:01").as_deref(), Some("a4:83:e7:10:20:01"));
        assert_eq!(norm_mac("a4-83-e7-10-20-01").as_deref(), Some("a4:83:e7:10:20:01"));
        assert_eq!(norm_mac("nonsense"), None);
        assert_eq!(norm_mac(&format!("{}a4:83:e7:10:20:01", " ".repeat(100))), None);
        assert_eq!(norm_mac("ÄÄ:83:E7:10:20:01"), None);
        assert_eq!(obj_ref("Device.WiFi.SSID.1").as_deref(), Some("Device.WiFi.SSID.1."));
        assert_eq!(obj_ref(" "), None);
        assert_eq!(rcpi_to_dbm(116), Some(-52));
        assert_eq!(rcpi_to_dbm(255), None);
        assert_eq!(list("a, b,,c"), ["a", "b", "c"]);
        assert_eq!(supported_path("Device.WiFi.SSID.3.SSID"), "Device.WiFi.SSID.{i}.SSID");
        assert_eq!(
            supported_path("Device.Hosts.AccessControl.2.Schedule."),
            "Device.Hosts.AccessControl.{i}.Schedule."
        );
    }
}
