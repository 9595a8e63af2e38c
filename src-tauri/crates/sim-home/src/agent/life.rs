//! Life for demos: each tick, Wi-Fi signals drift, active hosts use the Internet, hosts
//! come and go (including new visitors with random private MAC addresses), the
//! temperature drifts and the door opens now and then. Everything goes through the data
//! model, so subscribers get the notifications a real device would send. Deterministic
//! for a given rng (rows are visited in instance order).

use rand::Rng;

use super::dm::Dm;
use super::edit::derive;
use super::operate::format_decimal;
use super::schema::Schema;
use super::setup::add_row_with;
use super::value;

const HOSTS: &str = "Device.Hosts.Host.";
const IP_INTERFACES: &str = "Device.IP.Interface.";
const APS: &str = "Device.WiFi.AccessPoint.";
const MESH_DEVICES: &str = "Device.WiFi.DataElements.Network.Device.";
/// Most hosts the life loop lets the Hosts table grow to.
const MAX_HOSTS: usize = 24;
const VISITOR_NAMES: &[&str] = &["Visitor-Phone", "Tablet", "Laptop", "Smart-TV", "Game-Console", "E-Reader"];

pub(super) fn tick(schema: &Schema, dm: &mut Dm, rng: &mut impl Rng) {
    wifi_signals(schema, dm, rng);
    mesh(schema, dm, rng);
    let traffic = hosts(schema, dm, rng);
    interfaces(schema, dm, traffic);
    iot(schema, dm, rng);
}

fn num(dm: &Dm, schema: &Schema, obj: &str, name: &str) -> Option<i64> {
    dm.raw_by_name(schema, obj, name)?.parse().ok()
}

fn set(schema: &Schema, dm: &mut Dm, obj: &str, name: &str, v: &str) {
    if !dm.set_by_name(schema, obj, name, v) {
        return;
    }
    if let Some(o) = dm.obj(obj) {
        let loc = super::dm::Loc::new(obj, o.def);
        derive(schema, dm, &loc, name);
    }
}

fn wifi_signals(schema: &Schema, dm: &mut Dm, rng: &mut impl Rng) {
    for ap in dm.rows(APS) {
        for ad in dm.rows(&format!("{ap}AssociatedDevice.")) {
            if !rng.random_bool(0.5) {
                continue;
            }
            let s = num(dm, schema, &ad, "SignalStrength").unwrap_or(-60);
            let s = (s + rng.random_range(-3..=3)).clamp(-90, -30);
            set(schema, dm, &ad, "SignalStrength", &s.to_string());
            let rate = ((s + 95) * 24_000).max(6_000);
            set(schema, dm, &ad, "LastDataDownlinkRate", &rate.to_string());
            set(schema, dm, &ad, "LastDataUplinkRate", &(rate / 2).to_string());
        }
    }
}

fn mesh(schema: &Schema, dm: &mut Dm, rng: &mut impl Rng) {
    if !dm.exists("Device.WiFi.DataElements.Network.") {
        return;
    }
    let now = value::format_datetime(dm.now);
    dm.set_by_name(schema, "Device.WiFi.DataElements.Network.", "TimeStamp", &now);
    for dev in dm.rows(MESH_DEVICES) {
        for radio in dm.rows(&format!("{dev}Radio.")) {
            let u = rng.random_range(5..=60).to_string();
            dm.set_by_name(schema, &radio, "Utilization", &u);
            for bss in dm.rows(&format!("{radio}BSS.")) {
                for sta in dm.rows(&format!("{bss}STA.")) {
                    if !rng.random_bool(0.5) {
                        continue;
                    }
                    let s = num(dm, schema, &sta, "SignalStrength").unwrap_or(120);
                    let s = (s + rng.random_range(-4..=4)).clamp(40, 200);
                    set(schema, dm, &sta, "SignalStrength", &s.to_string());
                }
            }
        }
    }
}

/// Hosts come and go and use the Internet; returns the traffic of this tick.
fn hosts(schema: &Schema, dm: &mut Dm, rng: &mut impl Rng) -> [u64; 4] {
    let rows = dm.rows(HOSTS);
    if dm.table(HOSTS).is_none() {
        return [0; 4];
    }
    // Internet usage of the active hosts, which the IP interfaces carry too.
    let mut total = [0u64; 4];
    for h in &rows {
        if dm.raw_by_name(schema, h, "Active") != Some("true") {
            continue;
        }
        let w = format!("{h}WANStats.");
        for (i, (name, lo, hi)) in [
            ("BytesReceived", 20_000u64, 2_000_000u64),
            ("BytesSent", 2_000, 200_000),
            ("PacketsReceived", 20, 1_500),
            ("PacketsSent", 5, 400),
        ]
        .into_iter()
        .enumerate()
        {
            let delta = rng.random_range(lo..hi);
            total[i] = total[i].saturating_add(delta);
            add_counter(schema, dm, &w, name, delta);
        }
    }
    // A host leaves or comes back.
    if !rows.is_empty() && rng.random_bool(0.05) {
        let h = &rows[rng.random_range(0..rows.len())];
        if dm.raw_by_name(schema, h, "Active") == Some("true") {
            leave(schema, dm, h);
        } else {
            join(schema, dm, h, rng);
        }
    }
    // A new visitor joins.
    if rows.len() < MAX_HOSTS && rng.random_bool(0.02) {
        let mac = format!(
            "02:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            rng.random_range(0..=255u8),
            rng.random_range(0..=255u8),
            rng.random_range(0..=255u8),
            rng.random_range(0..=255u8),
            rng.random_range(0..=255u8),
        );
        let name = VISITOR_NAMES[rows.len() % VISITOR_NAMES.len()];
        let ip = (100..250)
            .map(|n| format!("192.168.1.{n}"))
            .find(|ip| !rows.iter().any(|r| dm.raw_by_name(schema, r, "IPAddress") == Some(ip)))
            .unwrap_or_default();
        let row = add_row_with(
            schema,
            dm,
            HOSTS,
            &[
                ("PhysAddress", &mac),
                ("IPAddress", &ip),
                ("HostName", name),
                ("InterfaceType", "Wi-Fi"),
                ("Layer1Interface", "Device.WiFi.SSID.1"),
            ],
        );
        if let Ok(row) = row {
            join(schema, dm, &row, rng);
        }
    }
    total
}

/// Adds `delta` to a counter parameter (unsignedLong, saturating).
pub(super) fn add_counter(schema: &Schema, dm: &mut Dm, obj: &str, name: &str, delta: u64) {
    let cur: u64 = dm.raw_by_name(schema, obj, name).and_then(|v| v.parse().ok()).unwrap_or(0);
    dm.set_by_name(schema, obj, name, &cur.saturating_add(delta).to_string());
}

/// The hosts' traffic of one tick (`[received, sent, packets received, packets sent]` as
/// seen from the Internet side) on the IP interfaces: a `wan…` interface receives what
/// the hosts download; the others (LAN) send it to them, plus a little local traffic.
fn interfaces(schema: &Schema, dm: &mut Dm, total: [u64; 4]) {
    let [rx, tx, prx, ptx] = total;
    for itf in dm.rows(IP_INTERFACES) {
        if dm.raw_by_name(schema, &itf, "Enable") != Some("true") {
            continue;
        }
        let wan = dm.raw_by_name(schema, &itf, "Name").is_some_and(|n| n.to_ascii_lowercase().starts_with("wan"));
        let stats = format!("{itf}Stats.");
        let (r, t, pr, pt) = if wan { (rx, tx, prx, ptx) } else { (tx + tx / 8, rx + rx / 8, ptx + 3, prx + 3) };
        add_counter(schema, dm, &stats, "BytesReceived", r);
        add_counter(schema, dm, &stats, "BytesSent", t);
        add_counter(schema, dm, &stats, "PacketsReceived", pr);
        add_counter(schema, dm, &stats, "PacketsSent", pt);
    }
}

/// Sets every traffic counter (hosts' WANStats, IP interfaces' Stats) back to 0, as a
/// restarting device does.
pub(super) fn reset_counters(schema: &Schema, dm: &mut Dm) {
    let mut objs: Vec<String> = dm.rows(HOSTS).into_iter().map(|h| format!("{h}WANStats.")).collect();
    objs.extend(dm.rows(IP_INTERFACES).into_iter().map(|i| format!("{i}Stats.")));
    for obj in objs {
        for name in ["BytesSent", "BytesReceived", "PacketsSent", "PacketsReceived"] {
            dm.set_by_name(schema, &obj, name, "0");
        }
    }
}

fn leave(schema: &Schema, dm: &mut Dm, host: &str) {
    set(schema, dm, host, "Active", "false");
    let assoc = dm.raw_by_name(schema, host, "AssociatedDevice").unwrap_or("").to_owned();
    if !assoc.is_empty() {
        dm.delete_row(schema, &format!("{}.", assoc.trim_end_matches('.')));
        dm.set_by_name(schema, host, "AssociatedDevice", "");
    }
    let mac = dm.raw_by_name(schema, host, "PhysAddress").unwrap_or("").to_owned();
    for sta in mesh_stations(dm) {
        if dm.raw_by_name(schema, &sta, "MACAddress") == Some(mac.as_str()) {
            dm.delete_row(schema, &sta);
        }
    }
}

fn join(schema: &Schema, dm: &mut Dm, host: &str, rng: &mut impl Rng) {
    set(schema, dm, host, "Active", "true");
    if dm.raw_by_name(schema, host, "InterfaceType") != Some("Wi-Fi") {
        return;
    }
    let mac = dm.raw_by_name(schema, host, "PhysAddress").unwrap_or("").to_owned();
    let name = dm.raw_by_name(schema, host, "HostName").unwrap_or("").to_owned();
    let ip = dm.raw_by_name(schema, host, "IPAddress").unwrap_or("").to_owned();
    let signal: i64 = rng.random_range(-75..=-40);
    let now = value::format_datetime(dm.now);
    let table = format!("{APS}1.AssociatedDevice.");
    if dm.table(&table).is_some() {
        let rate = ((signal + 95) * 24_000).to_string();
        let added = add_row_with(
            schema,
            dm,
            &table,
            &[
                ("MACAddress", &mac),
                ("SignalStrength", &signal.to_string()),
                ("Active", "true"),
                ("AssociationTime", &now),
                ("LastDataDownlinkRate", &rate),
            ],
        );
        if let Ok(row) = added {
            dm.set_by_name(schema, host, "AssociatedDevice", row.trim_end_matches('.'));
        }
    }
    let bss = format!("{MESH_DEVICES}1.Radio.1.BSS.1.STA.");
    if dm.table(&bss).is_some() {
        let rcpi = ((signal + 110) * 2).clamp(0, 220).to_string();
        let _ = add_row_with(
            schema,
            dm,
            &bss,
            &[("MACAddress", &mac), ("Hostname", &name), ("IPV4Address", &ip), ("SignalStrength", &rcpi)],
        );
    }
}

fn mesh_stations(dm: &Dm) -> Vec<String> {
    let mut out = Vec::new();
    for dev in dm.rows(MESH_DEVICES) {
        for radio in dm.rows(&format!("{dev}Radio.")) {
            for bss in dm.rows(&format!("{radio}BSS.")) {
                out.extend(dm.rows(&format!("{bss}STA.")));
            }
        }
    }
    out
}

fn iot(schema: &Schema, dm: &mut Dm, rng: &mut impl Rng) {
    for cap in dm.rows("Device.IoTCapability.") {
        let level = format!("{cap}LevelSensor.");
        if dm.exists(&level) && rng.random_bool(0.7) {
            let v = dm.raw_by_name(schema, &level, "Value").and_then(value::parse_number).unwrap_or(21.0);
            let next = (v + rng.random_range(-3..=3) as f64 * 0.1).clamp(15.0, 30.0);
            let next = format_decimal((next * 10.0).round() / 10.0);
            set(schema, dm, &level, "Value", &next);
        }
        let binary = format!("{cap}BinarySensor.");
        if dm.exists(&binary) && rng.random_bool(0.05) {
            let open = dm.raw_by_name(schema, &binary, "Value") == Some("true");
            set(schema, dm, &binary, "Value", if open { "false" } else { "true" });
        }
    }
}
