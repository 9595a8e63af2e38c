use super::*;
use crate::msg::{GetRequestedPathResult, GetResp, ParameterError, ResolvedPathResult};

/// One resolved path of `path_len` bytes shared by `n` empty parameters: the shape
/// that makes flattening explode (each full path copies the resolved path).
fn shared_path(path_len: usize, n: usize) -> GetResp {
    let mut params = Params::new();
    for i in 0..n {
        params.0.push((i.to_string().into(), Text::new()));
    }
    GetResp {
        req_path_results: vec![GetRequestedPathResult {
            requested_path: "Device.".into(),
            err_code: 0,
            err_msg: Text::new(),
            resolved_path_results: vec![ResolvedPathResult {
                resolved_path: "a".repeat(path_len).into(),
                result_params: params,
            }],
        }],
    }
}

#[test]
fn params_stop_at_the_byte_budget() {
    // 4 KiB × 60,000 = 240 MiB if flattened whole.
    let resp = shared_path(4096, 60_000);
    let flat = resp.params();
    assert!(flat.truncated());
    let made: usize = flat.iter().map(|p| p.path.len()).sum();
    assert!(made <= Budget::default().max_bytes, "{made}");
    assert!(flat.len() > 1000, "{}", flat.len());
    assert_eq!(flat.clone().all(), Err(TooLarge { kept: flat.len() }));
    // A small reply is whole.
    let small = shared_path(10, 100).params();
    assert!(!small.truncated());
    assert_eq!(small.len(), 100);
    assert_eq!(small[0].path, format!("{}0", "a".repeat(10)));
    assert_eq!(small.all().map(|v| v.len()), Ok(100));
}

#[test]
fn params_stop_at_the_item_budget() {
    let resp = shared_path(1, 100);
    let flat = resp.params_within(Budget { max_bytes: usize::MAX, max_items: 10 });
    assert!(flat.truncated());
    assert_eq!(flat.len(), 10);
}

fn failure_with(n: usize, path_len: usize) -> msg::OperFailure {
    msg::OperFailure {
        err_code: 7004,
        err_msg: "nope".into(),
        updated_inst_failures: vec![msg::UpdatedInstanceFailure {
            affected_path: "a".repeat(path_len).into(),
            param_errs: (0..n)
                .map(|i| ParameterError { param: i.to_string().into(), err_code: 7012, err_msg: "x".into() })
                .collect(),
        }],
    }
}

#[test]
fn set_failures_are_capped() {
    let resp = msg::SetResp {
        updated_obj_results: (0..100)
            .map(|i| msg::UpdatedObjectResult {
                requested_path: format!("Device.X.{i}.").into(),
                oper_status: OperStatus::Failure(failure_with(50_000, 4096)),
            })
            .collect(),
    };
    let per = resp.per_object();
    assert_eq!(per.len(), 100);
    let mut made = 0;
    for (_, r) in &per {
        let e = r.as_ref().expect_err("failed");
        assert!(e.param_errs.len() <= MAX_PARAM_ERRS);
        assert!(e.message.contains("more parameter errors not shown"), "{}", e.message);
        made += e.param_errs.iter().map(|p| p.0.len() + p.2.len()).sum::<usize>();
    }
    assert!(made <= Budget::default().max_bytes, "{made}");
    // A short failure is whole and its message untouched.
    let one = msg::SetResp {
        updated_obj_results: vec![msg::UpdatedObjectResult {
            requested_path: "Device.X.".into(),
            oper_status: OperStatus::Failure(failure_with(2, 5)),
        }],
    };
    let (_, r) = one.per_object().into_iter().next().expect("one");
    let e = r.expect_err("failed");
    assert_eq!(e.message, "nope");
    assert_eq!(
        e.param_errs,
        vec![("aaaaa0".to_owned(), 7012, "x".to_owned()), ("aaaaa1".to_owned(), 7012, "x".to_owned())]
    );
}

#[test]
fn set_param_errors_stop_at_the_budget() {
    let resp = msg::SetResp {
        updated_obj_results: vec![msg::UpdatedObjectResult {
            requested_path: "Device.X.".into(),
            oper_status: OperStatus::Success(msg::SetSuccess {
                updated_inst_results: vec![msg::UpdatedInstanceResult {
                    affected_path: "a".repeat(4096).into(),
                    param_errs: (0..60_000)
                        .map(|i| ParameterError { param: i.to_string().into(), err_code: 1, err_msg: Text::new() })
                        .collect(),
                    updated_params: Params::new(),
                }],
            }),
        }],
    };
    let errs = resp.param_errors();
    assert!(errs.truncated());
    assert!(errs.iter().map(|e| e.0.len()).sum::<usize>() <= Budget::default().max_bytes);
}
