//! Order and words for the connected-devices list.

use ipc_types::{ConnectedDevice, Link};

use super::format;

/// New devices first, then online ones, then by name (case-insensitive), then MAC.
pub fn sort(devices: &mut [ConnectedDevice]) {
    devices.sort_by(|a, b| {
        (!a.new, !a.online, a.name.to_lowercase(), &a.mac).cmp(&(!b.new, !b.online, b.name.to_lowercase(), &b.mac))
    });
}

/// `WiFi · Living room · Good signal`, `Wired · Router`.
pub fn connection(device: &ConnectedDevice) -> String {
    let mut parts = vec![match device.link {
        Link::Wired => "Wired".to_owned(),
        Link::Wifi => "WiFi".to_owned(),
        Link::Unknown => "Connection unknown".to_owned(),
    }];
    if let Some(node) = &device.node {
        parts.push(node.clone());
    }
    if let (Link::Wifi, Some(dbm)) = (device.link, device.signal_dbm) {
        parts.push(format!("{} signal ({dbm} dBm)", format::signal(dbm)));
    }
    parts.join(" · ")
}

/// `Online` or `Offline · last seen 3 h ago`.
pub fn presence(device: &ConnectedDevice, now_secs: i64) -> String {
    if device.online {
        return "Online".into();
    }
    match device.last_seen.as_deref().and_then(|t| format::ago(t, now_secs)) {
        Some(ago) => format!("Offline · last seen {ago}"),
        None => "Offline".into(),
    }
}

/// `↓ 1.2 GB ↑ 80 MB`, when known.
pub fn usage(device: &ConnectedDevice) -> Option<String> {
    match (device.bytes_received, device.bytes_sent) {
        (None, None) => None,
        (down, up) => Some(
            [down.map(|b| format!("↓ {}", format::bytes(b))), up.map(|b| format!("↑ {}", format::bytes(b)))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("  "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(mac: &str, name: &str, online: bool, new: bool) -> ConnectedDevice {
        ConnectedDevice {
            mac: mac.into(),
            name: name.into(),
            labelled: false,
            host_name: None,
            ip: None,
            link: Link::Wifi,
            node: Some("Hall".into()),
            signal_dbm: Some(-60),
            online,
            last_seen: Some("2026-11-27T19:00:00Z".into()),
            bytes_sent: Some(80_000_000),
            bytes_received: None,
            new,
            paused: false,
            paused_until: None,
            agent: "gw".into(),
            watched: false,
        }
    }

    #[test]
    fn order_and_words() {
        let mut list = vec![
            device("03", "zed", true, false),
            device("01", "Alpha", false, false),
            device("02", "beta", true, false),
            device("04", "new tv", false, true),
        ];
        sort(&mut list);
        let names: Vec<_> = list.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["new tv", "beta", "zed", "Alpha"]);
        assert_eq!(connection(&list[0]), "WiFi · Hall · Good signal (-60 dBm)");
        let now = format::parse_rfc3339("2026-11-27T22:00:00Z").expect("time");
        assert_eq!(presence(&list[3], now), "Offline · last seen 3 h ago");
        assert_eq!(presence(&list[1], now), "Online");
        assert_eq!(usage(&list[0]).as_deref(), Some("↑ 80 MB"));
        let mut wired = device("05", "nas", true, false);
        wired.link = Link::Wired;
        wired.bytes_sent = None;
        assert_eq!(connection(&wired), "Wired · Hall");
        assert_eq!(usage(&wired), None);
    }
}
