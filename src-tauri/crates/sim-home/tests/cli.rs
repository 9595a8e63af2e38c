//! The usp-sim-home executable as the demo and tests run it.

mod common;

use std::process::{Child, Command, Stdio};

use common::{lines_of, wait_exit, Guard, EXE};

fn spawn(args: &[&str]) -> Guard {
    let child = Command::new(EXE)
        .args(args)
        .arg("--exit-on-stdin-close")
        .arg("--log")
        .arg("warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn usp-sim-home");
    Guard(child)
}

/// Reads up to `n` stdout lines, each within 20 s (fewer if stdout ends).
fn read_lines(child: &mut Child, n: usize) -> Vec<String> {
    lines_of(child.stdout.take().expect("stdout"), n, |_| true)
}

/// Connects to `url` as `controller`, sends one Get of the FriendlyName and returns
/// the value (a raw tokio-tungstenite client, as a controller would).
fn get_friendly_name(url: &str, agent: &str, controller: &str) -> String {
    use futures_util::{SinkExt, StreamExt};
    use prost::Message as _;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use usp_proto::usp::{self, body::MsgBody, header::MsgType, request::ReqType, response::RespType};
    use usp_proto::usp_record::{record::RecordType, NoSessionContextRecord, Record};

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let addr = url.trim_start_matches("ws://").split('/').next().expect("host:port").to_owned();
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("{url}?eid={controller}").into_client_request().expect("request");
        req.headers_mut().insert("Sec-WebSocket-Protocol", "v1.usp".parse().expect("header"));
        let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.expect("handshake");
        let get = usp::Msg {
            header: Some(usp::Header { msg_id: "cli-1".into(), msg_type: MsgType::Get as i32 }),
            body: Some(usp::Body {
                msg_body: Some(MsgBody::Request(usp::Request {
                    req_type: Some(ReqType::Get(usp::Get {
                        param_paths: vec!["Device.DeviceInfo.FriendlyName".into()],
                        max_depth: 0,
                    })),
                })),
            }),
        };
        let record = Record {
            version: "1.3".into(),
            to_id: agent.into(),
            from_id: controller.into(),
            record_type: Some(RecordType::NoSessionContext(NoSessionContextRecord { payload: get.encode_to_vec() })),
            ..Default::default()
        };
        ws.send(WsMessage::Binary(record.encode_to_vec().into())).await.expect("send");
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
                .await
                .expect("a reply in time")
                .expect("open")
                .expect("frame");
            let WsMessage::Binary(bytes) = frame else { continue };
            let record = Record::decode(&bytes[..]).expect("record");
            let Some(RecordType::NoSessionContext(nsc)) = record.record_type else {
                continue; // the WebSocketConnect Record
            };
            let msg = usp::Msg::decode(&nsc.payload[..]).expect("msg");
            assert_eq!(msg.header.as_ref().map(|h| h.msg_id.as_str()), Some("cli-1"));
            let Some(MsgBody::Response(usp::Response { resp_type: Some(RespType::GetResp(resp)) })) =
                msg.body.and_then(|b| b.msg_body)
            else {
                panic!("expected a GetResp");
            };
            return resp.req_path_results[0].resolved_path_results[0].result_params["FriendlyName"].clone();
        }
    })
}

#[test]
fn prints_ready_lines_and_exits_when_stdin_closes() {
    let mut guard = spawn(&["--seed", "3"]);
    let child = &mut guard.0;
    let lines = read_lines(child, 3);
    let mut eids = Vec::new();
    for line in &lines {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line:?}");
        assert_eq!(parts[0], "READY", "{line:?}");
        assert!(parts[2].starts_with("ws://127.0.0.1:"), "{line:?}");
        assert!(parts[2].ends_with("/usp"), "{line:?}");
        eids.push(parts[1].to_owned());
        // The agent really listens.
        let addr = parts[2].trim_start_matches("ws://").trim_end_matches("/usp");
        std::net::TcpStream::connect(addr).expect("agent listens");
    }
    eids.sort();
    eids.dedup();
    assert_eq!(eids.len(), 3);
    drop(child.stdin.take());
    let status = wait_exit(child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn port_base_and_controllers() {
    // A free block of three ports: ask the OS for one, hope the next two are free too
    // (retry a few times otherwise).
    for _ in 0..5 {
        let base = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        if base > 65_000 {
            continue;
        }
        let base_arg = base.to_string();
        let mut guard = spawn(&[
            "--port-base",
            &base_arg,
            "--controller",
            "self::cli-test=Full Access",
            "--unknown-controllers",
            "ignore",
            "--tick",
            "50",
        ]);
        let child = &mut guard.0;
        let rest = read_lines(child, 3);
        if rest.is_empty() {
            // A port was taken: the process failed; try another block.
            let _ = wait_exit(child);
            continue;
        }
        assert_eq!(rest.len(), 3, "{rest:?}");
        for (i, line) in rest.iter().enumerate() {
            let want = format!("ws://127.0.0.1:{}/usp", u32::from(base) + i as u32);
            assert!(line.trim_end().ends_with(&want), "{line:?} vs {want}");
        }
        // The provisioned controller is answered (unknown ones would not be).
        let fields: Vec<&str> = rest[0].split(' ').collect();
        let reply = get_friendly_name(fields[2], fields[1], "self::cli-test");
        assert!(!reply.is_empty());
        drop(child.stdin.take());
        assert!(wait_exit(child).success());
        return;
    }
    panic!("no free block of ports found");
}

#[cfg(unix)]
#[test]
fn exits_cleanly_on_sigterm() {
    let mut guard = spawn(&[]);
    let child = &mut guard.0;
    assert_eq!(read_lines(child, 3).len(), 3);
    // stdin stays open: only the signal can stop it.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
    assert!(status.success());
    let status = wait_exit(child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_arguments_fail_cleanly() {
    let exe = EXE;
    let out = Command::new(exe).args(["--controller", "no-equals-sign"]).stdin(Stdio::null()).output().expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
    let out =
        Command::new(exe).args(["--scenario", "/nonexistent/home.json"]).stdin(Stdio::null()).output().expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/home.json"));
}
