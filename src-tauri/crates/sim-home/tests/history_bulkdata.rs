//! BulkData over USP events: a profile made by the homeowner's role pushes
//! `Device.BulkData.Profile.{i}.Push!` on its ReportingInterval with a JSON report in the
//! reference agent's NameValuePair shape, with only what that role may read.

mod history;

use std::time::{Duration, Instant};

use history::{client, get, home, next_notification, ADMIN, USER, WAIT};
use serde_json::Value as Json;
use usp_client::{Client, NotifKind};
use usp_core::msg::Notification;

/// Creates an enabled USPEventNotif profile with these Parameter rows (Name, Reference).
async fn add_profile(c: &Client, interval: &str, params: &[(&str, &str)]) -> String {
    let r = tokio::time::timeout(
        WAIT,
        c.add(
            "Device.BulkData.Profile.",
            &[
                ("Alias", "history"),
                ("Protocol", "USPEventNotif"),
                ("EncodingType", "JSON"),
                ("ReportingInterval", interval),
            ],
        ),
    )
    .await
    .expect("in time")
    .expect("the homeowner may create a profile");
    let row = r.per_object()[0].1.as_ref().expect("created").instantiated_path.to_string();
    for (name, reference) in params {
        let t = format!("{row}Parameter.");
        tokio::time::timeout(WAIT, c.add(&t, &[("Name", name), ("Reference", reference)]))
            .await
            .expect("in time")
            .expect("parameter row");
    }
    tokio::time::timeout(WAIT, c.set(&[(&format!("{row}Enable"), "true")])).await.expect("in time").expect("enable");
    row
}

/// The next Push! of `profile`: (its report element, when it came).
async fn next_push(
    rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
    profile: &str,
) -> (serde_json::Map<String, Json>, Instant) {
    let data = next_notification(rx, WAIT, |n| match n {
        Notification::Event(e) if &*e.obj_path == profile && &*e.event_name == "Push!" => {
            e.params.get("Data").map(str::to_owned)
        }
        _ => None,
    })
    .await;
    let json: Json = serde_json::from_str(&data).expect("Data is JSON");
    let report = json["Report"].as_array().expect("a Report array");
    assert_eq!(report.len(), 1, "{data}");
    (report[0].as_object().expect("an object").clone(), Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeowner_profile_pushes_reports_on_its_interval() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    let c = client(&home, "gateway", USER).await;
    assert_eq!(get(&c, "Device.BulkData.Protocols").await.as_deref(), Some("USPEventNotif"));
    assert_eq!(get(&c, "Device.BulkData.EncodingTypes").await.as_deref(), Some("JSON"));
    assert_eq!(get(&c, "Device.BulkData.Status").await.as_deref(), Some("Enabled"));
    let mut rx = c.notifications();
    tokio::time::timeout(WAIT, c.subscribe(NotifKind::Event, &["Device.BulkData.Profile.*.Push!"]))
        .await
        .expect("in time")
        .expect("subscribe");
    let profile = add_profile(
        &c,
        "1",
        &[
            ("", "Device.Hosts.Host.*.WANStats."),
            ("WAN", "Device.IP.Interface.1.Stats.BytesReceived"),
            ("", "Device.LocalAgent.ControllerTrust.Challenge."),
        ],
    )
    .await;
    assert_eq!(
        get(&c, &format!("{profile}Controller")).await.as_deref(),
        Some("Device.LocalAgent.Controller.3"),
        "the profile belongs to its creator"
    );

    let (first, t1) = next_push(&mut rx, &profile).await;
    assert!(first["CollectionTime"].as_u64().is_some_and(|t| t > 1_700_000_000), "{first:?}");
    let host1 = "Device.Hosts.Host.1.WANStats.BytesReceived";
    let b1 = first[host1].as_u64().unwrap_or_else(|| panic!("{host1} is a number: {first:?}"));
    assert!(first["Device.Hosts.Host.1.WANStats.PacketsSent"].is_u64(), "{first:?}");
    assert!(first["WAN"].is_u64(), "the alternative name: {first:?}");
    assert!(
        !first.keys().any(|k| k.contains("ControllerTrust")),
        "the homeowner may not read the challenge, so its report leaves it out: {first:?}"
    );
    for _ in 0..3 {
        gw.tick().await.expect("tick");
    }
    let (second, t2) = next_push(&mut rx, &profile).await;
    let b2 = second[host1].as_u64().expect("number");
    assert!(b2 > b1, "the counters grew between reports: {b1} -> {b2}");
    assert!(t2.duration_since(t1) >= Duration::from_millis(500), "about one interval apart");

    // Disabled: no more reports.
    tokio::time::timeout(WAIT, c.set(&[(&format!("{profile}Enable"), "false")])).await.expect("in time").expect("off");
    while rx.try_recv().is_ok() {}
    let quiet = tokio::time::timeout(Duration::from_millis(2500), async {
        loop {
            if let Ok(n) = rx.recv().await {
                if matches!(&n.notify.notification, Notification::Event(e) if &*e.event_name == "Push!") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a disabled profile stays quiet");
    c.close().await;
    home.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_limits_format_and_other_controllers() {
    let home = home().await;
    let gw = home.agent("gateway").expect("gateway");
    gw.set("Device.BulkData.MinReportingInterval", "30").await.expect("set internally");
    let user = client(&home, "gateway", USER).await;
    let admin = client(&home, "gateway", ADMIN).await;
    let e = tokio::time::timeout(WAIT, user.add("Device.BulkData.Profile.", &[("ReportingInterval", "5")]))
        .await
        .expect("in time")
        .expect_err("below MinReportingInterval");
    assert!(e.to_string().contains("MinReportingInterval"), "{e}");
    let e = tokio::time::timeout(WAIT, user.add("Device.BulkData.Profile.", &[("Protocol", "HTTP")]))
        .await
        .expect("in time")
        .expect_err("only USP events");
    assert!(e.to_string().contains("HTTP"), "{e}");
    gw.set("Device.BulkData.MinReportingInterval", "1").await.expect("set internally");

    // The admin subscribes to every Push!, the user makes an ObjectHierarchy profile:
    // only the user gets it.
    let mut admin_rx = admin.notifications();
    tokio::time::timeout(WAIT, admin.subscribe(NotifKind::Event, &["Device.BulkData.Profile.*.Push!"]))
        .await
        .expect("in time")
        .expect("subscribe");
    let mut rx = user.notifications();
    tokio::time::timeout(WAIT, user.subscribe(NotifKind::Event, &["Device.BulkData."]))
        .await
        .expect("in time")
        .expect("subscribe");
    let profile = add_profile(&user, "1", &[("Up", "Device.Hosts.Host.[Active==true].HostName")]).await;
    let fmt = format!("{profile}JSONEncoding.");
    tokio::time::timeout(
        WAIT,
        user.set(&[(&format!("{fmt}ReportFormat"), "ObjectHierarchy"), (&format!("{fmt}ReportTimestamp"), "ISO-8601")]),
    )
    .await
    .expect("in time")
    .expect("format");
    // Reports made before the format change may still come: wait for the hierarchy.
    let mut report = next_push(&mut rx, &profile).await.0;
    if report.contains_key("Up.1") {
        report = next_push(&mut rx, &profile).await.0;
    }
    assert!(report["CollectionTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{report:?}");
    let up = report["Up"].as_object().unwrap_or_else(|| panic!("nested by name: {report:?}"));
    assert!(up.values().any(|v| v.is_string()), "{report:?}");
    let leak = tokio::time::timeout(Duration::from_millis(1500), async {
        loop {
            if let Ok(n) = admin_rx.recv().await {
                if matches!(&n.notify.notification, Notification::Event(e) if &*e.event_name == "Push!") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(leak.is_err(), "another controller's profile is not pushed to the admin");

    // The whole BulkData switch stops every profile.
    tokio::time::timeout(WAIT, admin.set(&[("Device.BulkData.Enable", "false")])).await.expect("in time").expect("off");
    assert_eq!(get(&admin, "Device.BulkData.Status").await.as_deref(), Some("Disabled"));
    user.close().await;
    admin.close().await;
    home.shutdown().await;
}
