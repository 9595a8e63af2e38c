//! Decoding a Msg: the header, the Body and its Request, Response and Error members.

use super::*;

#[inline]
pub(in crate::wire) fn msg(buf: &Bytes, limits: &Limits) -> R<Msg> {
    let mut cx = Cx::new(buf, limits)?;
    let end = cx.data.len();
    let cx = &mut cx;
    let mut msg_id = Text::new();
    let mut msg_type = 0i32;
    let mut body: Option<Body> = None;
    let r: R<()> = fields!(cx, 0, end, MSG, |p| {
        0x0a => {
            let (s, e) = cx.len(p, end)?;
            let r: R<()> = fields!(cx, s, e, HEADER, |q| {
                0x0a => set!(msg_id, cx.text(q, e, "msg_id")),
                0x10 => set!(msg_type, cx.enum_i32(q, e)),
            });
            r?;
            e
        },
        0x12 => {
            let (s, e) = cx.len(p, end)?;
            body = Some(dec_body(cx, s, e, body.take())?);
            e
        },
    });
    r?;
    let body = body.ok_or_else(|| Box::new(DecodeError::NoBody))?;
    let msg_type = MsgType::from_number(msg_type).ok_or(msg_type);
    Ok(Msg { msg_id, msg_type, body })
}

pub(super) fn body_field(b: &Body) -> u32 {
    match b {
        Body::Request(_) => 1,
        Body::Response(_) => 2,
        Body::Error(_) => 3,
    }
}

#[inline]
pub(super) fn dec_body(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Body>) -> R<Body> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, BODY, |p| {
        0x0a => {
            let (s, e) = cx.len(p, end)?;
            let prev = match cur.take() {
                None => None,
                Some(Body::Request(r)) => Some(r),
                Some(b) => return Err(two("Body", "msg_body", body_field(&b), 1)),
            };
            cur = Some(Body::Request(dec_request(cx, s, e, prev)?));
            e
        },
        0x12 => {
            let (s, e) = cx.len(p, end)?;
            let prev = match cur.take() {
                None => None,
                Some(Body::Response(r)) => Some(r),
                Some(b) => return Err(two("Body", "msg_body", body_field(&b), 2)),
            };
            cur = Some(Body::Response(dec_response(cx, s, e, prev)?));
            e
        },
        0x1a => {
            let mut err = match cur.take() {
                None => Error::default(),
                Some(Body::Error(err)) => err,
                Some(b) => return Err(two("Body", "msg_body", body_field(&b), 3)),
            };
            let e = cx.merge_msg(&mut err, p, end, dec_error)?;
            cur = Some(Body::Error(err));
            e
        },
    });
    r?;
    cur.ok_or_else(|| empty("Body", "msg_body", "message body"))
}

pub(super) fn dec_error(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Error) -> R<()> {
    fields!(cx, pos, end, ERROR, |p| {
        0x0d => set!(out.err_code, cx.fixed32(p, end)),
        0x12 => set!(out.err_msg, cx.text(p, end, "err_msg")),
        0x1a => cx.push_msg(&mut out.param_errs, p, end, |cx, s, e, pe: &mut ParamError| {
            fields!(cx, s, e, PARAM_ERROR, |q| {
                0x0a => set!(pe.param_path, cx.text(q, e, "param_path")),
                0x15 => set!(pe.err_code, cx.fixed32(q, e)),
                0x1a => set!(pe.err_msg, cx.text(q, e, "err_msg")),
            })
        })?,
    })
}

pub(super) fn request_field(r: &Request) -> u32 {
    match r {
        Request::Get(_) => 1,
        Request::GetSupportedDm(_) => 2,
        Request::GetInstances(_) => 3,
        Request::Set(_) => 4,
        Request::Add(_) => 5,
        Request::Delete(_) => 6,
        Request::Operate(_) => 7,
        Request::Notify(_) => 8,
        Request::GetSupportedProtocol(_) => 9,
        Request::Register(_) => 10,
        Request::Deregister(_) => 11,
    }
}

#[inline]
pub(super) fn dec_request(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Request>) -> R<Request> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, REQUEST, |p| {
        0x0a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Get, 1, dec_get),
        0x12 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::GetSupportedDm, 2, dec_gsdm),
        0x1a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::GetInstances, 3, dec_get_instances),
        0x22 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Set, 4, dec_set),
        0x2a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Add, 5, dec_add),
        0x32 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Delete, 6, dec_delete),
        0x3a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Operate, 7, dec_operate),
        0x42 => {
            let prev = match cur.take() {
                None => None,
                Some(Request::Notify(n)) => Some(n),
                Some(other) => return Err(two("Request", "req_type", request_field(&other), 8)),
            };
            let (s, e) = cx.len(p, end)?;
            cur = Some(Request::Notify(dec_notify(cx, s, e, prev)?));
            e
        },
        0x4a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::GetSupportedProtocol, 9, dec_gsp),
        0x52 => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Register, 10, dec_register),
        0x5a => member!(cx, cur, p, end, "Request", "req_type", request_field, Request::Deregister, 11, dec_deregister),
    });
    r?;
    cur.ok_or_else(|| empty("Request", "req_type", "request type"))
}

pub(super) fn response_field(r: &Response) -> u32 {
    match r {
        Response::GetResp(_) => 1,
        Response::GetSupportedDmResp(_) => 2,
        Response::GetInstancesResp(_) => 3,
        Response::SetResp(_) => 4,
        Response::AddResp(_) => 5,
        Response::DeleteResp(_) => 6,
        Response::OperateResp(_) => 7,
        Response::NotifyResp(_) => 8,
        Response::GetSupportedProtocolResp(_) => 9,
        Response::RegisterResp(_) => 10,
        Response::DeregisterResp(_) => 11,
    }
}

#[inline]
pub(super) fn dec_response(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Response>) -> R<Response> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, RESPONSE, |p| {
        0x0a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetResp, 1, dec_get_resp),
        0x12 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetSupportedDmResp, 2, dec_gsdm_resp),
        0x1a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetInstancesResp, 3, dec_get_instances_resp),
        0x22 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::SetResp, 4, dec_set_resp),
        0x2a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::AddResp, 5, dec_add_resp),
        0x32 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::DeleteResp, 6, dec_delete_resp),
        0x3a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::OperateResp, 7, dec_operate_resp),
        0x42 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::NotifyResp, 8, dec_notify_resp),
        0x4a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::GetSupportedProtocolResp, 9, dec_gsp_resp),
        0x52 => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::RegisterResp, 10, dec_register_resp),
        0x5a => member!(cx, cur, p, end, "Response", "resp_type", response_field, Response::DeregisterResp, 11, dec_deregister_resp),
    });
    r?;
    cur.ok_or_else(|| empty("Response", "resp_type", "response type"))
}
