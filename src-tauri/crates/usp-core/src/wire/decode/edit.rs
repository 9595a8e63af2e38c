//! Decoding the messages that change or run something: Add, Delete, Set and Operate and
//! their responses, with the parts they share (parameter settings, `OperationStatus`).

use super::*;

pub(super) fn dec_param_setting(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut ParamSetting, desc: &Desc) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0a => set!(out.param, cx.text(p, end, "param")),
        0x12 => set!(out.value, cx.text(p, end, "value")),
        0x18 => set!(out.required, cx.bool(p, end)),
    })
}

pub(super) fn dec_parameter_error(
    cx: &mut Cx<'_>,
    pos: usize,
    end: usize,
    out: &mut ParameterError,
    desc: &Desc,
) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0a => set!(out.param, cx.text(p, end, "param")),
        0x15 => set!(out.err_code, cx.fixed32(p, end)),
        0x1a => set!(out.err_msg, cx.text(p, end, "err_msg")),
    })
}

/// Descriptions of one response family's `OperationStatus` messages.
pub(super) struct StatusDescs {
    pub(super) status: &'static Desc,
    pub(super) failure: &'static Desc,
    pub(super) success: &'static Desc,
}

/// An `OperationStatus` message merged into `prev`. The caller checks that the merged
/// `oneof` is not empty once its own message is complete.
pub(super) fn dec_oper_status<S: Default>(
    cx: &mut Cx<'_>,
    pos: usize,
    end: usize,
    prev: Option<OperStatus<S>>,
    d: &StatusDescs,
    success: fn(&mut Cx<'_>, usize, usize, &mut S) -> R<()>,
) -> R<Option<OperStatus<S>>> {
    let mut cur = prev;
    let r: R<()> = fields!(cx, pos, end, *d.status, |p| {
        0x0a => {
            let mut f = match cur.take() {
                None => OperFailure::default(),
                Some(OperStatus::Failure(f)) => f,
                Some(OperStatus::Success(_)) => return Err(two(d.status.name, "oper_status", 2, 1)),
            };
            let e = cx.merge_msg(&mut f, p, end, |cx, s, e, f: &mut OperFailure| {
                fields!(cx, s, e, *d.failure, |q| {
                    0x0d => set!(f.err_code, cx.fixed32(q, e)),
                    0x12 => set!(f.err_msg, cx.text(q, e, "err_msg")),
                    // Only SetResp's OperationFailure has field 3; for the others the
                    // descriptor does not know it and `other` skips it.
                    0x1a => if d.failure.wire.len() > 3 {
                        cx.push_msg(&mut f.updated_inst_failures, q, e, |cx, s2, e2, uf: &mut UpdatedInstanceFailure| {
                            fields!(cx, s2, e2, INST_FAIL, |t| {
                                0x0a => set!(uf.affected_path, cx.text(t, e2, "affected_path")),
                                0x12 => cx.push_msg(&mut uf.param_errs, t, e2, |cx, s3, e3, pe| {
                                    dec_parameter_error(cx, s3, e3, pe, &SET_PARAM_ERR)
                                })?,
                            })
                        })?
                    } else {
                        // Unknown outside SetResp: skipped (the key was one byte).
                        cx.other(d.failure, 0x1a, q - 1, q, e)?
                    },
                })
            })?;
            cur = Some(OperStatus::Failure(f));
            e
        },
        0x12 => {
            let mut v = match cur.take() {
                None => S::default(),
                Some(OperStatus::Success(v)) => v,
                Some(OperStatus::Failure(_)) => return Err(two(d.status.name, "oper_status", 1, 2)),
            };
            let e = cx.merge_msg(&mut v, p, end, success)?;
            cur = Some(OperStatus::Success(v));
            e
        },
    });
    r?;
    Ok(cur)
}

pub(super) fn no_status(d: &StatusDescs) -> Box<DecodeError> {
    empty(d.status.name, "oper_status", "operation status")
}

// --- Add -------------------------------------------------------------------------------

pub(super) fn dec_add(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Add) -> R<()> {
    fields!(cx, pos, end, ADD, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => cx.push_msg(&mut out.create_objs, p, end, |cx, s, e, co: &mut CreateObject| {
            fields!(cx, s, e, CREATE_OBJ, |q| {
                0x0a => set!(co.obj_path, cx.text(q, e, "obj_path")),
                0x12 => cx.push_msg(&mut co.param_settings, q, e, |cx, s2, e2, ps| {
                    dec_param_setting(cx, s2, e2, ps, &CREATE_PARAM)
                })?,
            })
        })?,
    })
}

pub(super) static ADD_DESCS: StatusDescs = StatusDescs { status: &ADD_STATUS, failure: &ADD_FAIL, success: &ADD_OK };

pub(super) fn dec_add_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut AddSuccess) -> R<()> {
    fields!(cx, pos, end, *ADD_DESCS.success, |p| {
        0x0a => set!(out.instantiated_path, cx.text(p, end, "instantiated_path")),
        0x12 => cx.push_msg(&mut out.param_errs, p, end, |cx, s, e, pe| {
            dec_parameter_error(cx, s, e, pe, &ADD_PARAM_ERR)
        })?,
        0x1a => cx.push_entry(&mut out.unique_keys, p, end, "unique_keys")?,
    })
}

pub(super) fn dec_add_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut AddResp) -> R<()> {
    fields!(cx, pos, end, ADD_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, CREATED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &ADD_DESCS, dec_add_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&ADD_DESCS))?;
            out.created_obj_results.push(CreatedObjectResult { requested_path, oper_status });
            e
        },
    })
}

// --- Delete ----------------------------------------------------------------------------

pub(super) fn dec_delete(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Delete) -> R<()> {
    fields!(cx, pos, end, DELETE, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => cx.push_text(&mut out.obj_paths, p, end, "obj_paths")?,
    })
}

pub(super) static DEL_DESCS: StatusDescs = StatusDescs { status: &DEL_STATUS, failure: &DEL_FAIL, success: &DEL_OK };

pub(super) fn dec_delete_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut DeleteSuccess) -> R<()> {
    fields!(cx, pos, end, *DEL_DESCS.success, |p| {
        0x0a => cx.push_text(&mut out.affected_paths, p, end, "affected_paths")?,
        0x12 => cx.push_msg(&mut out.unaffected_path_errs, p, end, |cx, s, e, u: &mut UnaffectedPathError| {
            fields!(cx, s, e, UNAFFECTED, |q| {
                0x0a => set!(u.unaffected_path, cx.text(q, e, "unaffected_path")),
                0x15 => set!(u.err_code, cx.fixed32(q, e)),
                0x1a => set!(u.err_msg, cx.text(q, e, "err_msg")),
            })
        })?,
    })
}

pub(super) fn dec_delete_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut DeleteResp) -> R<()> {
    fields!(cx, pos, end, DELETE_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, DELETED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &DEL_DESCS, dec_delete_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&DEL_DESCS))?;
            out.deleted_obj_results.push(DeletedObjectResult { requested_path, oper_status });
            e
        },
    })
}

// --- Set -------------------------------------------------------------------------------

pub(super) fn dec_set(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Set) -> R<()> {
    fields!(cx, pos, end, SET, |p| {
        0x08 => set!(out.allow_partial, cx.bool(p, end)),
        0x12 => cx.push_msg(&mut out.update_objs, p, end, |cx, s, e, uo: &mut UpdateObject| {
            fields!(cx, s, e, UPDATE_OBJ, |q| {
                0x0a => set!(uo.obj_path, cx.text(q, e, "obj_path")),
                0x12 => cx.push_msg(&mut uo.param_settings, q, e, |cx, s2, e2, ps| {
                    dec_param_setting(cx, s2, e2, ps, &UPDATE_PARAM)
                })?,
            })
        })?,
    })
}

pub(super) static SET_DESCS: StatusDescs = StatusDescs { status: &SET_STATUS, failure: &SET_FAIL, success: &SET_OK };

pub(super) fn dec_set_success(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut SetSuccess) -> R<()> {
    fields!(cx, pos, end, *SET_DESCS.success, |p| {
        0x0a => cx.push_msg(&mut out.updated_inst_results, p, end, |cx, s, e, ur: &mut UpdatedInstanceResult| {
            fields!(cx, s, e, INST_RESULT, |q| {
                0x0a => set!(ur.affected_path, cx.text(q, e, "affected_path")),
                0x12 => cx.push_msg(&mut ur.param_errs, q, e, |cx, s2, e2, pe| {
                    dec_parameter_error(cx, s2, e2, pe, &SET_PARAM_ERR)
                })?,
                0x1a => cx.push_entry(&mut ur.updated_params, q, e, "updated_params")?,
            })
        })?,
    })
}

pub(super) fn dec_set_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut SetResp) -> R<()> {
    fields!(cx, pos, end, SET_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut requested_path = Text::new();
            let mut status = None;
            let r: R<()> = fields!(cx, s, e, UPDATED, |q| {
                0x0a => set!(requested_path, cx.text(q, e, "requested_path")),
                0x12 => {
                    let (s2, e2) = cx.len(q, e)?;
                    status = dec_oper_status(cx, s2, e2, status.take(), &SET_DESCS, dec_set_success)?;
                    e2
                },
            });
            r?;
            let oper_status = status.ok_or_else(|| no_status(&SET_DESCS))?;
            out.updated_obj_results.push(UpdatedObjectResult { requested_path, oper_status });
            e
        },
    })
}

// --- Operate ---------------------------------------------------------------------------

pub(super) fn dec_operate(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Operate) -> R<()> {
    fields!(cx, pos, end, OPERATE, |p| {
        0x0a => set!(out.command, cx.text(p, end, "command")),
        0x12 => set!(out.command_key, cx.text(p, end, "command_key")),
        0x18 => set!(out.send_resp, cx.bool(p, end)),
        0x22 => cx.push_entry(&mut out.input_args, p, end, "input_args")?,
    })
}

/// An `OutputArgs` message (`output_args` map = field 1), merged into `out`.
pub(super) fn dec_output_args(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Params, desc: &Desc) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0a => cx.push_entry(out, p, end, "output_args")?,
    })
}

pub(super) fn dec_command_failure(
    cx: &mut Cx<'_>,
    pos: usize,
    end: usize,
    out: &mut CommandFailure,
    desc: &Desc,
) -> R<()> {
    fields!(cx, pos, end, *desc, |p| {
        0x0d => set!(out.err_code, cx.fixed32(p, end)),
        0x12 => set!(out.err_msg, cx.text(p, end, "err_msg")),
    })
}

pub(super) fn operation_resp_field(r: &OperationResp) -> u32 {
    match r {
        OperationResp::ReqObjPath(_) => 2,
        OperationResp::ReqOutputArgs(_) => 3,
        OperationResp::CmdFailure(_) => 4,
    }
}

pub(super) fn dec_operate_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut OperateResp) -> R<()> {
    fields!(cx, pos, end, OPERATE_RESP, |p| {
        0x0a => {
            cx.item()?;
            let (s, e) = cx.len(p, end)?;
            let mut executed_command = Text::new();
            let mut cur: Option<OperationResp> = None;
            let r: R<()> = fields!(cx, s, e, OPER_RESULT, |q| {
                0x0a => set!(executed_command, cx.text(q, e, "executed_command")),
                0x12 => {
                    if let Some(other) = &cur {
                        if !matches!(other, OperationResp::ReqObjPath(_)) {
                            return Err(two("OperateResp.OperationResult", "operation_resp",
                                operation_resp_field(other), 2));
                        }
                    }
                    let (t, next) = cx.text(q, e, "req_obj_path")?;
                    cur = Some(OperationResp::ReqObjPath(t));
                    next
                },
                0x1a => {
                    let mut args = match cur.take() {
                        None => Params::new(),
                        Some(OperationResp::ReqOutputArgs(a)) => a,
                        Some(other) => return Err(two("OperateResp.OperationResult", "operation_resp",
                            operation_resp_field(&other), 3)),
                    };
                    let next = cx.merge_msg(&mut args, q, e, |cx, s2, e2, a| dec_output_args(cx, s2, e2, a, &OPER_OUT))?;
                    cur = Some(OperationResp::ReqOutputArgs(args));
                    next
                },
                0x22 => {
                    let mut f = match cur.take() {
                        None => CommandFailure::default(),
                        Some(OperationResp::CmdFailure(f)) => f,
                        Some(other) => return Err(two("OperateResp.OperationResult", "operation_resp",
                            operation_resp_field(&other), 4)),
                    };
                    let next = cx.merge_msg(&mut f, q, e, |cx, s2, e2, f| dec_command_failure(cx, s2, e2, f, &OPER_FAIL))?;
                    cur = Some(OperationResp::CmdFailure(f));
                    next
                },
            });
            r?;
            let operation_resp = cur.ok_or_else(|| {
                empty("OperateResp.OperationResult", "operation_resp", "operation response")
            })?;
            out.operation_results.push(OperationResult { executed_command, operation_resp });
            e
        },
    })
}
