//! Decoding the messages an agent starts: Notify (and NotifyResp), Register and Deregister.

use super::*;

pub(super) fn notification_field(n: &Notification) -> u32 {
    match n {
        Notification::Event(_) => 3,
        Notification::ValueChange(_) => 4,
        Notification::ObjCreation(_) => 5,
        Notification::ObjDeletion(_) => 6,
        Notification::OperComplete(_) => 7,
        Notification::OnBoardReq(_) => 8,
    }
}

#[inline]
pub(super) fn dec_notify(cx: &mut Cx<'_>, pos: usize, end: usize, prev: Option<Notify>) -> R<Notify> {
    let (mut subscription_id, mut send_resp, mut cur) = match prev {
        Some(n) => (n.subscription_id, n.send_resp, Some(n.notification)),
        None => (Text::new(), false, None),
    };
    let r: R<()> = fields!(cx, pos, end, NOTIFY, |p| {
        0x0a => set!(subscription_id, cx.text(p, end, "subscription_id")),
        0x10 => set!(send_resp, cx.bool(p, end)),
        0x1a => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::Event, 3,
            |cx: &mut Cx<'_>, s, e, ev: &mut Event| {
                fields!(cx, s, e, EVENT, |q| {
                    0x0a => set!(ev.obj_path, cx.text(q, e, "obj_path")),
                    0x12 => set!(ev.event_name, cx.text(q, e, "event_name")),
                    0x1a => cx.push_entry(&mut ev.params, q, e, "params")?,
                })
            }),
        0x22 => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::ValueChange, 4,
            |cx: &mut Cx<'_>, s, e, vc: &mut ValueChangeNotif| {
                fields!(cx, s, e, VALUE_CHANGE, |q| {
                    0x0a => set!(vc.param_path, cx.text(q, e, "param_path")),
                    0x12 => set!(vc.param_value, cx.text(q, e, "param_value")),
                })
            }),
        0x2a => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::ObjCreation, 5,
            |cx: &mut Cx<'_>, s, e, oc: &mut ObjectCreation| {
                fields!(cx, s, e, OBJ_CREATION, |q| {
                    0x0a => set!(oc.obj_path, cx.text(q, e, "obj_path")),
                    0x12 => cx.push_entry(&mut oc.unique_keys, q, e, "unique_keys")?,
                })
            }),
        0x32 => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::ObjDeletion, 6,
            |cx: &mut Cx<'_>, s, e, od: &mut ObjectDeletion| {
                fields!(cx, s, e, OBJ_DELETION, |q| {
                    0x0a => set!(od.obj_path, cx.text(q, e, "obj_path")),
                })
            }),
        0x3a => {
            let prev = match cur.take() {
                None => None,
                Some(Notification::OperComplete(oc)) => Some(oc),
                Some(other) => return Err(two("Notify", "notification", notification_field(&other), 7)),
            };
            let (s, e) = cx.len(p, end)?;
            cur = Some(Notification::OperComplete(dec_oper_complete(cx, s, e, prev)?));
            e
        },
        0x42 => member!(cx, cur, p, end, "Notify", "notification", notification_field, Notification::OnBoardReq, 8,
            |cx: &mut Cx<'_>, s, e, ob: &mut OnBoardRequest| {
                fields!(cx, s, e, ON_BOARD, |q| {
                    0x0a => set!(ob.oui, cx.text(q, e, "oui")),
                    0x12 => set!(ob.product_class, cx.text(q, e, "product_class")),
                    0x1a => set!(ob.serial_number, cx.text(q, e, "serial_number")),
                    0x22 => set!(ob.agent_supported_protocol_versions,
                        cx.text(q, e, "agent_supported_protocol_versions")),
                })
            }),
    });
    r?;
    let notification = cur.ok_or_else(|| empty("Notify", "notification", "notification"))?;
    Ok(Notify { subscription_id, send_resp, notification })
}

pub(super) fn dec_oper_complete(
    cx: &mut Cx<'_>,
    pos: usize,
    end: usize,
    prev: Option<OperationComplete>,
) -> R<OperationComplete> {
    let (mut obj_path, mut command_name, mut command_key, mut cur) = match prev {
        Some(oc) => (oc.obj_path, oc.command_name, oc.command_key, Some(oc.operation_resp)),
        None => (Text::new(), Text::new(), Text::new(), None),
    };
    let r: R<()> = fields!(cx, pos, end, OPER_COMPLETE, |p| {
        0x0a => set!(obj_path, cx.text(p, end, "obj_path")),
        0x12 => set!(command_name, cx.text(p, end, "command_name")),
        0x1a => set!(command_key, cx.text(p, end, "command_key")),
        0x22 => {
            let mut args = match cur.take() {
                None => Params::new(),
                Some(OperationCompleteResp::ReqOutputArgs(a)) => a,
                Some(OperationCompleteResp::CmdFailure(_)) => {
                    return Err(two("Notify.OperationComplete", "operation_resp", 5, 4))
                }
            };
            let next = cx.merge_msg(&mut args, p, end, |cx, s, e, a| dec_output_args(cx, s, e, a, &COMPLETE_OUT))?;
            cur = Some(OperationCompleteResp::ReqOutputArgs(args));
            next
        },
        0x2a => {
            let mut f = match cur.take() {
                None => CommandFailure::default(),
                Some(OperationCompleteResp::CmdFailure(f)) => f,
                Some(OperationCompleteResp::ReqOutputArgs(_)) => {
                    return Err(two("Notify.OperationComplete", "operation_resp", 4, 5))
                }
            };
            let next = cx.merge_msg(&mut f, p, end, |cx, s, e, f| dec_command_failure(cx, s, e, f, &COMPLETE_FAIL))?;
            cur = Some(OperationCompleteResp::CmdFailure(f));
            next
        },
    });
    r?;
    let operation_resp =
        cur.ok_or_else(|| empty("Notify.OperationComplete", "operation_resp", "operation response"))?;
    Ok(OperationComplete { obj_path, command_name, command_key, operation_resp })
}

pub(super) fn dec_notify_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut NotifyResp) -> R<()> {
    fields!(cx, pos, end, NOTIFY_RESP, |p| {
        0x0a => set!(out.subscription_id, cx.text(p, end, "subscription_id")),
    })
}

// --- Register / Deregister -------------------------------------------------------------

pub(super) fn dec_register(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Register) -> R<()> {
    fields!(cx, pos, end, REGISTER, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut path = Text::new();
            let r: R<()> = fields!(cx, s, e, REG_PATH, |q| {
                0x0a => set!(path, cx.text(q, e, "path")),
            });
            r?;
            out.reg_paths.push(path);
            e
        },
    })
}

pub(super) static REG_DESCS: StatusDescs = StatusDescs { status: &REG_STATUS, failure: &REG_FAIL, success: &REG_OK };

pub(super) fn dec_register_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Text) -> R<()> {
    fields!(cx, pos, end, *REG_DESCS.success, |p| {
        0x0a => set!(*out, cx.text(p, end, "registered_path")),
    })
}

pub(super) fn dec_register_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut RegisterResp) -> R<()> {
    fields!(cx, pos, end, REGISTER_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, REGISTERED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &REG_DESCS, dec_register_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&REG_DESCS))?;
            out.registered_path_results.push(RegisteredPathResult { requested_path, oper_status });
            e
        },
    })
}

pub(super) fn dec_deregister(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Deregister) -> R<()> {
    fields!(cx, pos, end, DEREGISTER, |p| {
        0x0a => cx.push_text(&mut out.paths, p, end, "paths")?,
    })
}

pub(super) static DEREG_DESCS: StatusDescs =
    StatusDescs { status: &DEREG_STATUS, failure: &DEREG_FAIL, success: &DEREG_OK };

pub(super) fn dec_deregister_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Vec<Text>) -> R<()> {
    fields!(cx, pos, end, *DEREG_DESCS.success, |p| {
        0x0a => cx.push_text(out, p, end, "deregistered_path")?,
    })
}

pub(super) fn dec_deregister_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut DeregisterResp) -> R<()> {
    fields!(cx, pos, end, DEREGISTER_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, DEREGISTERED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &DEREG_DESCS, dec_deregister_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&DEREG_DESCS))?;
            out.deregistered_path_results.push(DeregisteredPathResult { requested_path, oper_status });
            e
        },
    })
}
