//! Decoding Get, GetSupportedDM, GetInstances and GetSupportedProtocol and their responses.

use super::*;

pub(super) fn dec_get(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut Get) -> R<()> {
    fields!(cx, pos, end, GET, |p| {
        0x0a => cx.push_text(&mut out.param_paths, p, end, "param_paths")?,
        0x15 => set!(out.max_depth, cx.fixed32(p, end)),
    })
}

pub(super) fn dec_get_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetResp) -> R<()> {
    fields!(cx, pos, end, GET_RESP, |p| {
        0x0a => cx.push_msg(&mut out.req_path_results, p, end, dec_get_req_path)?,
    })
}

pub(super) fn dec_get_req_path(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetRequestedPathResult) -> R<()> {
    fields!(cx, pos, end, GET_REQ_PATH, |p| {
        0x0a => set!(out.requested_path, cx.text(p, end, "requested_path")),
        0x15 => set!(out.err_code, cx.fixed32(p, end)),
        0x1a => set!(out.err_msg, cx.text(p, end, "err_msg")),
        0x22 => cx.push_msg(&mut out.resolved_path_results, p, end, dec_resolved)?,
    })
}

pub(super) fn dec_resolved(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut ResolvedPathResult) -> R<()> {
    fields!(cx, pos, end, RESOLVED, |p| {
        0x0a => set!(out.resolved_path, cx.text(p, end, "resolved_path")),
        0x12 => cx.push_entry(&mut out.result_params, p, end, "result_params")?,
    })
}

// --- GetSupportedDM --------------------------------------------------------------------

pub(super) fn dec_gsdm(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedDm) -> R<()> {
    fields!(cx, pos, end, GSDM, |p| {
        0x0a => cx.push_text(&mut out.obj_paths, p, end, "obj_paths")?,
        0x10 => set!(out.first_level_only, cx.bool(p, end)),
        0x18 => set!(out.return_commands, cx.bool(p, end)),
        0x20 => set!(out.return_events, cx.bool(p, end)),
        0x28 => set!(out.return_params, cx.bool(p, end)),
        0x30 => set!(out.return_unique_key_sets, cx.bool(p, end)),
    })
}

pub(super) fn dec_gsdm_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedDmResp) -> R<()> {
    fields!(cx, pos, end, GSDM_RESP, |p| {
        0x0a => cx.push_msg(&mut out.req_obj_results, p, end, dec_req_obj)?,
    })
}

pub(super) fn dec_req_obj(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut RequestedObjectResult) -> R<()> {
    fields!(cx, pos, end, REQ_OBJ, |p| {
        0x0a => set!(out.req_obj_path, cx.text(p, end, "req_obj_path")),
        0x15 => set!(out.err_code, cx.fixed32(p, end)),
        0x1a => set!(out.err_msg, cx.text(p, end, "err_msg")),
        0x22 => set!(out.data_model_inst_uri, cx.text(p, end, "data_model_inst_uri")),
        0x2a => cx.push_msg(&mut out.supported_objs, p, end, dec_sup_obj)?,
    })
}

pub(super) fn dec_sup_obj(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut SupportedObjectResult) -> R<()> {
    fields!(cx, pos, end, SUP_OBJ, |p| {
        0x0a => set!(out.supported_obj_path, cx.text(p, end, "supported_obj_path")),
        0x10 => set!(out.access, cx.enum_i32(p, end)),
        0x18 => set!(out.is_multi_instance, cx.bool(p, end)),
        0x22 => cx.push_msg(&mut out.supported_commands, p, end, |cx, s, e, c: &mut SupportedCommandResult| {
            fields!(cx, s, e, SUP_CMD, |q| {
                0x0a => set!(c.command_name, cx.text(q, e, "command_name")),
                0x12 => cx.push_text(&mut c.input_arg_names, q, e, "input_arg_names")?,
                0x1a => cx.push_text(&mut c.output_arg_names, q, e, "output_arg_names")?,
                0x20 => set!(c.command_type, cx.enum_i32(q, e)),
            })
        })?,
        0x2a => cx.push_msg(&mut out.supported_events, p, end, |cx, s, e, ev: &mut SupportedEventResult| {
            fields!(cx, s, e, SUP_EVENT, |q| {
                0x0a => set!(ev.event_name, cx.text(q, e, "event_name")),
                0x12 => cx.push_text(&mut ev.arg_names, q, e, "arg_names")?,
            })
        })?,
        0x32 => cx.push_msg(&mut out.supported_params, p, end, |cx, s, e, pr: &mut SupportedParamResult| {
            fields!(cx, s, e, SUP_PARAM, |q| {
                0x0a => set!(pr.param_name, cx.text(q, e, "param_name")),
                0x10 => set!(pr.access, cx.enum_i32(q, e)),
                0x18 => set!(pr.value_type, cx.enum_i32(q, e)),
                0x20 => set!(pr.value_change, cx.enum_i32(q, e)),
            })
        })?,
        0x3a => cx.push_text(&mut out.divergent_paths, p, end, "divergent_paths")?,
        0x42 => cx.push_msg(&mut out.unique_key_sets, p, end, |cx, s, e, u: &mut SupportedUniqueKeySet| {
            fields!(cx, s, e, SUP_UKS, |q| {
                0x0a => cx.push_text(&mut u.key_names, q, e, "key_names")?,
            })
        })?,
    })
}

// --- GetInstances ----------------------------------------------------------------------

pub(super) fn dec_get_instances(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetInstances) -> R<()> {
    fields!(cx, pos, end, GET_INST, |p| {
        0x0a => cx.push_text(&mut out.obj_paths, p, end, "obj_paths")?,
        0x10 => set!(out.first_level_only, cx.bool(p, end)),
    })
}

pub(super) fn dec_get_instances_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetInstancesResp) -> R<()> {
    fields!(cx, pos, end, GET_INST_RESP, |p| {
        0x0a => cx.push_msg(&mut out.req_path_results, p, end, |cx, s, e, r: &mut InstancesRequestedPathResult| {
            fields!(cx, s, e, INST_REQ_PATH, |q| {
                0x0a => set!(r.requested_path, cx.text(q, e, "requested_path")),
                0x15 => set!(r.err_code, cx.fixed32(q, e)),
                0x1a => set!(r.err_msg, cx.text(q, e, "err_msg")),
                0x22 => cx.push_msg(&mut r.curr_insts, q, e, |cx, s2, e2, ci: &mut CurrInstance| {
                    fields!(cx, s2, e2, CURR_INST, |t| {
                        0x0a => set!(ci.instantiated_obj_path, cx.text(t, e2, "instantiated_obj_path")),
                        0x12 => cx.push_entry(&mut ci.unique_keys, t, e2, "unique_keys")?,
                    })
                })?,
            })
        })?,
    })
}

// --- GetSupportedProtocol --------------------------------------------------------------

pub(super) fn dec_gsp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedProtocol) -> R<()> {
    fields!(cx, pos, end, GSP, |p| {
        0x0a => set!(out.controller_supported_protocol_versions,
            cx.text(p, end, "controller_supported_protocol_versions")),
    })
}

pub(super) fn dec_gsp_resp(cx: &mut Cx<'_>, pos: usize, end: usize, out: &mut GetSupportedProtocolResp) -> R<()> {
    fields!(cx, pos, end, GSP_RESP, |p| {
        0x0a => set!(out.agent_supported_protocol_versions,
            cx.text(p, end, "agent_supported_protocol_versions")),
    })
}
