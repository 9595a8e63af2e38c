//! usp-client against usp-sim-home over real WebSockets on loopback: every message type,
//! every notification kind, and permission denials under the Untrusted role.

use std::time::Duration;

use sim_home::spec::UnknownControllerPolicy;
use usp_client::{ClientError, NotifKind};
use usp_core::msg::{self, Notification, ObjAccess, ParamAccess, ValueType};
use usp_core::request::{self, CommandOutcome, SupportedDmOptions};
use usp_home_tests::{bounded, connect, next_notification, start_home, test_eid};

#[tokio::test]
async fn get_set_add_delete_on_the_gateway() {
    let me = test_eid("crud");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let c = connect(&gw.url, &me).await;
    assert_eq!(c.agent_id().as_ref(), Some(&gw.endpoint_id));

    // Get of an object: one resolved result per instance, names relative to it.
    let info = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect("get");
    assert_eq!(info.value("Device.DeviceInfo.FriendlyName"), Some(gw.friendly_name.as_str()));
    assert!(info.value("Device.DeviceInfo.UpTime").is_some());

    // A search path and an invalid path in one Get: the good one succeeds, the other
    // gets its own 7026.
    let r = bounded(c.get(&["Device.WiFi.SSID.*.SSID", "Device.NoSuchThing."], 0)).await.expect("get");
    let ssids: Vec<_> = r.params().into_iter().filter(|p| p.path.ends_with(".SSID")).collect();
    assert!(ssids.len() >= 3, "three SSIDs on the gateway: {ssids:?}");
    let errors = r.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "Device.NoSuchThing.");
    assert_eq!(errors[0].1.code, 7026);

    // max_depth = 1: only the object's own parameters, no sub-objects.
    let shallow = bounded(c.get(&["Device.WiFi."], 1)).await.expect("get");
    assert!(shallow.params().iter().all(|p| !p.path["Device.WiFi.".len()..].contains('.')), "{:?}", shallow.params());
    let deep = bounded(c.get(&["Device.WiFi."], 0)).await.expect("get");
    assert!(deep.params().len() > shallow.params().len() + 20);

    // Set, read back.
    bounded(c.set(&[("Device.DeviceInfo.FriendlyName", "Hall gateway")])).await.expect("set");
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Hall gateway"));
    // A read-only parameter, required, allow_partial=false: whole-message Error.
    let err = bounded(c.set(&[("Device.DeviceInfo.SerialNumber", "X")])).await.expect_err("read-only");
    assert!(matches!(&err, ClientError::Usp(e) if e.param_errs.iter().any(|(_, code, _)| *code == 7013)), "{err}");
    // allow_partial=true: per-object failure in a SetResp, the good object is applied.
    let req = request::set()
        .allow_partial(true)
        .param("Device.DeviceInfo.FriendlyName", "Study gateway", true)
        .param("Device.WiFi.Radio.1.Channel", "not-a-number", true)
        .build()
        .expect("set");
    let resp: msg::SetResp = bounded(c.request(req)).await.expect("set").try_into().expect("SetResp");
    let per = resp.per_object();
    assert_eq!(per.len(), 2);
    assert!(per[0].1.is_ok());
    // The object fails as a whole (7021, required parameter failed), with the reason per
    // parameter (7011, invalid type).
    let bad = per[1].1.as_ref().expect_err("bad channel");
    assert_eq!(bad.code, 7021, "{per:?}");
    assert_eq!(bad.param_errs[0].1, 7011, "{per:?}");
    assert_eq!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("Study gateway"));

    // Add an access-control rule; the unique key comes back; a duplicate key is refused.
    let added = bounded(c.add(
        "Device.Hosts.AccessControl.",
        &[("PhysAddress", "02:00:00:00:00:99"), ("AccessPolicy", "Deny"), ("Enable", "true")],
    ))
    .await
    .expect("add");
    let (_, ok) = added.per_object().into_iter().next().expect("one result");
    let ok = ok.expect("created");
    assert!(ok.instantiated_path.starts_with("Device.Hosts.AccessControl."));
    assert!(ok.unique_keys.get("PhysAddress").is_some_and(|m| m.eq_ignore_ascii_case("02:00:00:00:00:99")));
    let dup = bounded(c.add("Device.Hosts.AccessControl.", &[("PhysAddress", "02:00:00:00:00:99")]))
        .await
        .expect_err("duplicate");
    assert!(matches!(&dup, ClientError::Usp(e) if e.code == 7025 || e.param_errs.iter().any(|p| p.1 == 7025)), "{dup}");
    let policy = format!("{}AccessPolicy", ok.instantiated_path);
    assert_eq!(gw.get(&policy).await.as_deref(), Some("Deny"));

    // Delete it (by unique-key addressing); it is gone.
    let del =
        bounded(c.delete(&["Device.Hosts.AccessControl.[PhysAddress==\"02:00:00:00:00:99\"]."])).await.expect("delete");
    let (_, d) = del.per_object().into_iter().next().expect("one result");
    assert_eq!(
        d.expect("deleted").affected_paths.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        vec![ok.instantiated_path.to_string()]
    );
    assert_eq!(gw.get(&policy).await, None);
    c.close().await;
}

#[tokio::test]
async fn operate_get_supported_dm_get_instances_and_protocol() {
    let me = test_eid("ops");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let c = connect(&gw.url, &me).await;

    // GetSupportedProtocol.
    let proto: msg::GetSupportedProtocolResp =
        bounded(c.request(request::get_supported_protocol())).await.expect("proto").try_into().expect("resp");
    assert!(
        proto.agent_supported_protocol_versions.split(',').any(|v| v == "1.4"),
        "{:?}",
        proto.agent_supported_protocol_versions
    );

    // GetSupportedDM with everything.
    let req = request::get_supported_dm(["Device.WiFi."], SupportedDmOptions::default()).expect("req");
    let dm: msg::GetSupportedDmResp = bounded(c.request(req)).await.expect("gsdm").try_into().expect("resp");
    let objs = dm.per_path().into_iter().next().expect("one").1.expect("ok");
    let ssid = objs.iter().find(|o| &*o.supported_obj_path == "Device.WiFi.SSID.{i}.").expect("SSID table");
    assert!(ssid.is_multi_instance);
    assert!(ObjAccess::from_number(ssid.access).is_some(), "access {}", ssid.access);
    let enable = ssid.supported_params.iter().find(|p| &*p.param_name == "Enable").expect("Enable");
    assert_eq!(ParamAccess::from_number(enable.access), Some(ParamAccess::ReadWrite));
    assert_eq!(ValueType::from_number(enable.value_type), Some(ValueType::Boolean));
    assert!(!ssid.unique_key_sets.is_empty(), "unique keys are reported");
    // first_level_only: the object and its direct children only.
    let req = request::get_supported_dm(
        ["Device.WiFi."],
        SupportedDmOptions { first_level_only: true, ..Default::default() },
    )
    .expect("req");
    let shallow: msg::GetSupportedDmResp = bounded(c.request(req)).await.expect("gsdm").try_into().expect("resp");
    let n_shallow = shallow.per_path()[0].1.as_ref().expect("ok").len();
    assert!(n_shallow < objs.len(), "{n_shallow} < {}", objs.len());

    // GetInstances with unique keys.
    let req = request::get_instances(["Device.Hosts.Host."], true).expect("req");
    let inst: msg::GetInstancesResp = bounded(c.request(req)).await.expect("gi").try_into().expect("resp");
    let hosts = inst.per_path().into_iter().next().expect("one").1.expect("ok");
    assert!(!hosts.is_empty());
    assert!(hosts.iter().all(|h| h.unique_keys.get("PhysAddress").is_some()), "{hosts:?}");

    // A synchronous command with output args, and a missing mandatory argument.
    let op = bounded(c.operate(
        "Device.IP.Diagnostics.IPPing()",
        &[("Host", "192.0.2.1"), ("NumberOfRepetitions", "3")],
        "k1",
    ))
    .await
    .expect("operate");
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    let CommandOutcome::Started(req_path) = outcome else { panic!("IPPing() is asynchronous: {outcome:?}") };
    assert!(req_path.starts_with("Device.LocalAgent.Request."), "{req_path}");
    let op = bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[], "k2")).await.expect("operate");
    let (_, outcome) = op.outcomes().into_iter().next().expect("one");
    assert!(matches!(outcome, CommandOutcome::Failed(ref e) if e.code == 7027), "{outcome:?}");
    // An unknown command.
    let err = bounded(c.operate("Device.NoSuchCommand()", &[], "k3")).await;
    match err {
        Err(ClientError::Usp(e)) => assert_eq!(e.code, 7026),
        Ok(r) => assert!(matches!(r.outcomes()[0].1, CommandOutcome::Failed(ref e) if e.code == 7026)),
        Err(e) => panic!("{e}"),
    }
    c.close().await;
}

#[tokio::test]
async fn every_notification_kind_arrives() {
    let me = test_eid("notify");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let gw = home.agent("gateway").expect("gateway");
    let c = connect(&gw.url, &me).await;
    let mut rx = c.notifications();

    // ValueChange.
    let vc = bounded(c.subscribe(NotifKind::ValueChange, &["Device.WiFi.SSID.3.Enable"])).await.expect("subscribe");
    gw.set("Device.WiFi.SSID.3.Enable", "false").await.expect("set");
    let n = next_notification(&mut rx, &vc.id).await;
    assert_eq!(
        n.notify.notification,
        Notification::ValueChange(msg::ValueChangeNotif {
            param_path: "Device.WiFi.SSID.3.Enable".into(),
            param_value: "false".into()
        })
    );

    // ObjectCreation and ObjectDeletion.
    let oc = bounded(c.subscribe(NotifKind::ObjectCreation, &["Device.Hosts.Host."])).await.expect("subscribe");
    let od = bounded(c.subscribe(NotifKind::ObjectDeletion, &["Device.Hosts.Host."])).await.expect("subscribe");
    let new_host = gw
        .add(
            "Device.Hosts.Host.",
            &[("PhysAddress", "02:aa:bb:cc:dd:ee"), ("HostName", "new-phone"), ("Active", "true")],
        )
        .await
        .expect("add");
    let n = next_notification(&mut rx, &oc.id).await;
    let Notification::ObjCreation(created) = n.notify.notification else { panic!("{n:?}") };
    assert_eq!(&*created.obj_path, new_host.as_str());
    assert!(
        created.unique_keys.get("PhysAddress").is_some_and(|m| m.eq_ignore_ascii_case("02:aa:bb:cc:dd:ee")),
        "{created:?}"
    );
    gw.delete(&new_host).await.expect("delete");
    let n = next_notification(&mut rx, &od.id).await;
    assert_eq!(
        n.notify.notification,
        Notification::ObjDeletion(msg::ObjectDeletion { obj_path: new_host.as_str().into() })
    );

    // OperationComplete of an asynchronous command.
    let ocmp = bounded(c.subscribe(NotifKind::OperationComplete, &["Device.IP.Diagnostics.IPPing()"]))
        .await
        .expect("subscribe");
    bounded(c.operate("Device.IP.Diagnostics.IPPing()", &[("Host", "192.0.2.7")], "ping-1")).await.expect("operate");
    let n = next_notification(&mut rx, &ocmp.id).await;
    let Notification::OperComplete(done) = n.notify.notification else { panic!("{n:?}") };
    assert_eq!(&*done.command_key, "ping-1");
    let msg::OperationCompleteResp::ReqOutputArgs(out) = done.operation_resp else { panic!("failed: {done:?}") };
    assert!(out.get("SuccessCount").is_some(), "{out:?}");

    // Event: Device.Boot! after Reboot(). A reboot drops non-persistent subscriptions, so
    // this one is persistent.
    bounded(c.add(
        "Device.LocalAgent.Subscription.",
        &[
            ("Enable", "true"),
            ("ID", "boot-watch"),
            ("NotifType", "Event"),
            ("ReferenceList", "Device.Boot!"),
            ("Persistent", "true"),
        ],
    ))
    .await
    .expect("subscribe to Boot!");
    bounded(c.operate("Device.Reboot()", &[], "reboot-1")).await.expect("reboot");
    let n = next_notification(&mut rx, "boot-watch").await;
    let Notification::Event(e) = n.notify.notification else { panic!("{n:?}") };
    assert_eq!((&*e.obj_path, &*e.event_name), ("Device.", "Boot!"));

    // OnBoardRequest: send_resp is true, and the client answers with NotifyResp
    // (the agent would otherwise retry).
    let mine =
        bounded(c.get(&[format!("Device.LocalAgent.Controller.[EndpointID==\"{me}\"].Alias")], 0)).await.expect("get");
    let row = mine.params().first().map(|p| p.path.trim_end_matches("Alias").to_owned()).expect("our controller row");
    bounded(c.operate(&format!("{row}SendOnBoardRequest()"), &[], "ob")).await.expect("operate");
    let ob = bounded(async {
        loop {
            let n = rx.recv().await.expect("stream");
            if let Notification::OnBoardReq(o) = n.notify.notification {
                assert!(n.notify.send_resp);
                assert_eq!(&*n.notify.subscription_id, "");
                return o;
            }
        }
    })
    .await;
    assert!(!ob.agent_supported_protocol_versions.is_empty());

    // Unsubscribe: the row is gone.
    bounded(c.unsubscribe(&vc)).await.expect("unsubscribe");
    let subs = bounded(c.get(&["Device.LocalAgent.Subscription.*.ID"], 0)).await.expect("get");
    assert!(subs.params().iter().all(|p| *p.value != *vc.id), "{:?}", subs.params());
    c.close().await;
}

#[tokio::test]
async fn the_untrusted_role_may_read_device_info_and_nothing_else() {
    let stranger = test_eid("untrusted");
    let home = start_home(&[], Some(UnknownControllerPolicy::Untrusted)).await;
    let gw = home.agent("gateway").expect("gateway");
    let c = connect(&gw.url, &stranger).await;
    let info = bounded(c.get(&["Device.DeviceInfo.ModelName"], 0)).await.expect("DeviceInfo is readable");
    assert!(info.value("Device.DeviceInfo.ModelName").is_some());
    // Unreadable objects look absent (R-GET.1): 7026 or an empty result, never data.
    let wifi = bounded(c.get(&["Device.WiFi."], 0)).await.expect("get answered");
    assert!(wifi.params().is_empty(), "the untrusted role sees no WiFi data: {:?}", wifi.params());
    // Writing and subscribing are refused with 7006.
    let err = bounded(c.set(&[("Device.DeviceInfo.FriendlyName", "pwned")])).await.expect_err("denied");
    assert!(matches!(&err, ClientError::Usp(e) if e.code == 7006 || e.param_errs.iter().any(|p| p.1 == 7006)), "{err}");
    let err = bounded(c.subscribe(NotifKind::ValueChange, &["Device.DeviceInfo."])).await.expect_err("denied");
    assert_eq!(err.usp_code(), Some(7006), "{err}");
    let err = bounded(c.operate("Device.Reboot()", &[], "x")).await;
    let denied = match err {
        Err(ClientError::Usp(e)) => e.code == 7006,
        Ok(r) => matches!(r.outcomes()[0].1, CommandOutcome::Failed(ref e) if e.code == 7006),
        Err(_) => false,
    };
    assert!(denied, "Reboot() is refused");
    assert_ne!(gw.get("Device.DeviceInfo.FriendlyName").await.as_deref(), Some("pwned"));
    c.close().await;
}

#[tokio::test]
async fn an_agent_that_ignores_unknown_controllers_gives_timeouts() {
    let stranger = test_eid("ignored");
    let home = start_home(&[], Some(UnknownControllerPolicy::Ignore)).await;
    let gw = home.agent("gateway").expect("gateway");
    let mut config = usp_home_tests::test_config(&gw.url, &stranger);
    config.request_timeout = Duration::from_millis(500);
    let c = bounded(usp_client::Client::connect(config)).await.expect("the WebSocket still opens");
    let err = bounded(c.get(&["Device.DeviceInfo."], 0)).await.expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    c.close().await;
}

#[tokio::test]
async fn subscriptions_survive_a_reconnect() {
    let me = test_eid("resub");
    let home = start_home(&[(&me, "Full Access")], None).await;
    let hub = home.agent("hub").expect("hub");
    let c = connect(&hub.url, &me).await;
    let mut rx = c.notifications();
    let lights = bounded(c.get(&["Device.IoTCapability.*.BinaryControl.Value"], 0)).await.expect("get");
    let light = lights.params().first().map(|p| p.path.clone()).expect("a switch on the hub");
    let sub = bounded(c.subscribe(NotifKind::ValueChange, &[light.as_str()])).await.expect("subscribe");
    // The agent drops the subscription (as after a reboot) and the connection.
    let sub_row = sub.instance.clone();
    hub.delete(&sub_row).await.expect("drop subscription");
    let mut state = c.state();
    home.agent("hub").expect("hub").disconnect_all().await.expect("disconnect");
    bounded(async {
        loop {
            state.changed().await.expect("state");
            if !matches!(*state.borrow(), usp_client::ConnectionState::Connected { .. }) {
                break;
            }
        }
    })
    .await;
    bounded(c.wait_connected(Duration::from_secs(10))).await.expect("reconnects");
    // The client re-created it on reconnect, before anything else it sends, so the
    // very next request already sees it.
    let ids = bounded(c.get(&["Device.LocalAgent.Subscription.*.ID"], 0)).await.expect("get");
    assert!(ids.params().iter().any(|p| *p.value == *sub.id), "{:?}", ids.params());
    hub.set(&light, "true").await.expect("set");
    let n = next_notification(&mut rx, &sub.id).await;
    assert!(matches!(n.notify.notification, Notification::ValueChange(ref v) if *v.param_path == *light));
    c.close().await;
}
