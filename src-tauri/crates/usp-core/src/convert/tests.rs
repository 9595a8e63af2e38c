#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn empty_oneofs_do_not_convert() {
    let no_body = pb::Msg { header: None, body: None };
    assert_eq!(Msg::try_from(no_body).unwrap_err(), ConvertError("Msg.body"));
    let empty_req = pb::Msg {
        header: None,
        body: Some(pb::Body { msg_body: Some(pb::body::MsgBody::Request(pb::Request { req_type: None })) }),
    };
    assert_eq!(Msg::try_from(empty_req).unwrap_err().to_string(), "Request.req_type is empty");
    let no_status = pb::Msg {
        header: None,
        body: Some(pb::Body {
            msg_body: Some(pb::body::MsgBody::Response(pb::Response {
                resp_type: Some(pb::response::RespType::AddResp(pb::AddResp {
                    created_obj_results: vec![pb::add_resp::CreatedObjectResult {
                        requested_path: "Device.X.".into(),
                        oper_status: None,
                    }],
                })),
            })),
        }),
    };
    assert!(Msg::try_from(no_status).is_err());
    let rec = pr::Record { record_type: None, ..Default::default() };
    assert_eq!(Record::try_from(rec).unwrap_err(), ConvertError("Record.record_type"));
}

#[test]
fn missing_header_reads_as_defaults_and_maps_sort() {
    let m = pb::Msg {
        header: None,
        body: Some(pb::Body {
            msg_body: Some(pb::body::MsgBody::Request(pb::Request {
                req_type: Some(pb::request::ReqType::Operate(pb::Operate {
                    command: "Device.Reboot()".into(),
                    input_args: [("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into(),
                    ..Default::default()
                })),
            })),
        }),
    };
    let ours = Msg::try_from(m).unwrap();
    assert_eq!(&*ours.msg_id, "");
    assert_eq!(ours.msg_type, Ok(MsgType::Error));
    let Body::Request(Request::Operate(op)) = &ours.body else { panic!() };
    assert_eq!(op.input_args.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "2")]);
    // Duplicate keys: the last one wins, as when protobuf decodes a map.
    let dup = Params(vec![("k".into(), "1".into()), ("k".into(), "2".into())]);
    assert_eq!(map(&dup).get("k").map(String::as_str), Some("2"));
}

#[test]
fn unknown_msg_type_survives() {
    let m = Msg { msg_id: "x".into(), msg_type: Err(77), body: Body::Error(Error::default()) };
    let p = pb::Msg::from(&m);
    assert_eq!(p.header.as_ref().unwrap().msg_type, 77);
    assert_eq!(Msg::try_from(p).unwrap(), m);
}
