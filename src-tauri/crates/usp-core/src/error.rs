//! USP errors: the codes by name with their standard meaning (USP 1.4, section "Error
//! Codes"), and [`UspError`], an Error message (or a per-path failure) as the controller keeps it.

use std::fmt;

use crate::{msg, text};

/// The USP error codes by name (`code::PERMISSION_DENIED` is 7006). Agents may send others:
/// 7200-7299 are data-model errors and 7800-7999 vendor errors.
pub mod code {
    /// 7000: message failed.
    pub const MESSAGE_FAILED: u32 = 7000;
    /// 7001: message not supported.
    pub const MESSAGE_NOT_SUPPORTED: u32 = 7001;
    /// 7002: request denied.
    pub const REQUEST_DENIED: u32 = 7002;
    /// 7003: internal error.
    pub const INTERNAL_ERROR: u32 = 7003;
    /// 7004: invalid arguments.
    pub const INVALID_ARGUMENTS: u32 = 7004;
    /// 7005: resources exceeded.
    pub const RESOURCES_EXCEEDED: u32 = 7005;
    /// 7006: permission denied.
    pub const PERMISSION_DENIED: u32 = 7006;
    /// 7007: invalid configuration.
    pub const INVALID_CONFIGURATION: u32 = 7007;
    /// 7008: invalid path syntax.
    pub const INVALID_PATH_SYNTAX: u32 = 7008;
    /// 7009: parameter action failed.
    pub const PARAMETER_ACTION_FAILED: u32 = 7009;
    /// 7010: unsupported parameter.
    pub const UNSUPPORTED_PARAMETER: u32 = 7010;
    /// 7011: invalid type.
    pub const INVALID_TYPE: u32 = 7011;
    /// 7012: invalid value.
    pub const INVALID_VALUE: u32 = 7012;
    /// 7013: parameter is read-only.
    pub const PARAMETER_READ_ONLY: u32 = 7013;
    /// 7014: value conflict.
    pub const VALUE_CONFLICT: u32 = 7014;
    /// 7015: operation error.
    pub const OPERATION_ERROR: u32 = 7015;
    /// 7016: object does not exist.
    pub const OBJECT_DOES_NOT_EXIST: u32 = 7016;
    /// 7017: object could not be created.
    pub const OBJECT_COULD_NOT_BE_CREATED: u32 = 7017;
    /// 7018: object is not a table.
    pub const OBJECT_NOT_A_TABLE: u32 = 7018;
    /// 7019: object cannot be created.
    pub const OBJECT_CANNOT_BE_CREATED: u32 = 7019;
    /// 7020: object could not be updated.
    pub const OBJECT_COULD_NOT_BE_UPDATED: u32 = 7020;
    /// 7021: required parameter failed.
    pub const REQUIRED_PARAMETER_FAILED: u32 = 7021;
    /// 7022: command failure.
    pub const COMMAND_FAILURE: u32 = 7022;
    /// 7023: command canceled.
    pub const COMMAND_CANCELED: u32 = 7023;
    /// 7024: delete failure.
    pub const DELETE_FAILURE: u32 = 7024;
    /// 7025: duplicate unique key.
    pub const DUPLICATE_UNIQUE_KEY: u32 = 7025;
    /// 7026: invalid path.
    pub const INVALID_PATH: u32 = 7026;
    /// 7027: invalid command arguments.
    pub const INVALID_COMMAND_ARGUMENTS: u32 = 7027;
    /// 7028: register failure.
    pub const REGISTER_FAILURE: u32 = 7028;
    /// 7029: path already in use.
    pub const PATH_ALREADY_IN_USE: u32 = 7029;
    /// 7030: deregister failure.
    pub const DEREGISTER_FAILURE: u32 = 7030;
    /// 7031: path already registered.
    pub const PATH_ALREADY_REGISTERED: u32 = 7031;
    /// 7100: record could not be parsed.
    pub const RECORD_NOT_PARSED: u32 = 7100;
    /// 7101: secure session required.
    pub const SECURE_SESSION_REQUIRED: u32 = 7101;
    /// 7102: secure session not supported.
    pub const SECURE_SESSION_NOT_SUPPORTED: u32 = 7102;
    /// 7103: segmentation not supported.
    pub const SEGMENTATION_NOT_SUPPORTED: u32 = 7103;
    /// 7104: invalid record value.
    pub const INVALID_RECORD_VALUE: u32 = 7104;
    /// 7105: session context terminated.
    pub const SESSION_CONTEXT_TERMINATED: u32 = 7105;
    /// 7106: session context not allowed.
    pub const SESSION_CONTEXT_NOT_ALLOWED: u32 = 7106;
}

/// A USP Error message (whole-message error), with its per-parameter details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UspError {
    /// The USP error code (7000-7999).
    pub code: u32,
    /// The agent's explanation.
    pub message: String,
    /// Per-parameter errors: (path, code, message).
    pub param_errs: Vec<(String, u32, String)>,
}

impl fmt::Display for UspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", error_code_text(self.code), self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        for (path, code, msg) in &self.param_errs {
            write!(f, "; {path}: {} ({code})", error_code_text(*code))?;
            if !msg.is_empty() {
                write!(f, " {msg}")?;
            }
        }
        Ok(())
    }
}

/// The longest agent text kept from one error message or reason, in bytes.
pub const MAX_AGENT_TEXT: usize = 1024;
/// The most parameter errors kept from one Error message.
pub const MAX_ERROR_PARAMS: usize = 256;

impl From<&msg::Error> for UspError {
    /// Keeps at most [`MAX_ERROR_PARAMS`] parameter errors and [`MAX_AGENT_TEXT`] bytes of
    /// each text: an agent's error can be megabytes, and it ends up in messages and logs.
    fn from(e: &msg::Error) -> Self {
        Self {
            code: e.err_code,
            message: text::capped(&e.err_msg, MAX_AGENT_TEXT),
            param_errs: e
                .param_errs
                .iter()
                .take(MAX_ERROR_PARAMS)
                .map(|p| {
                    (text::capped(&p.param_path, MAX_AGENT_TEXT), p.err_code, text::capped(&p.err_msg, MAX_AGENT_TEXT))
                })
                .collect(),
        }
    }
}

/// The standard meaning of a USP error code, in a few words.
pub fn error_code_text(code: u32) -> &'static str {
    match code {
        code::MESSAGE_FAILED => "message failed",
        code::MESSAGE_NOT_SUPPORTED => "message not supported",
        code::REQUEST_DENIED => "request denied",
        code::INTERNAL_ERROR => "internal error",
        code::INVALID_ARGUMENTS => "invalid arguments",
        code::RESOURCES_EXCEEDED => "resources exceeded",
        code::PERMISSION_DENIED => "permission denied",
        code::INVALID_CONFIGURATION => "invalid configuration",
        code::INVALID_PATH_SYNTAX => "invalid path syntax",
        code::PARAMETER_ACTION_FAILED => "parameter action failed",
        code::UNSUPPORTED_PARAMETER => "unsupported parameter",
        code::INVALID_TYPE => "invalid type",
        code::INVALID_VALUE => "invalid value",
        code::PARAMETER_READ_ONLY => "parameter is read-only",
        code::VALUE_CONFLICT => "value conflict",
        code::OPERATION_ERROR => "operation error",
        code::OBJECT_DOES_NOT_EXIST => "object does not exist",
        code::OBJECT_COULD_NOT_BE_CREATED => "object could not be created",
        code::OBJECT_NOT_A_TABLE => "object is not a table",
        code::OBJECT_CANNOT_BE_CREATED => "object cannot be created",
        code::OBJECT_COULD_NOT_BE_UPDATED => "object could not be updated",
        code::REQUIRED_PARAMETER_FAILED => "required parameter failed",
        code::COMMAND_FAILURE => "command failure",
        code::COMMAND_CANCELED => "command canceled",
        code::DELETE_FAILURE => "delete failure",
        code::DUPLICATE_UNIQUE_KEY => "duplicate unique key",
        code::INVALID_PATH => "invalid path",
        code::INVALID_COMMAND_ARGUMENTS => "invalid command arguments",
        code::REGISTER_FAILURE => "register failure",
        code::PATH_ALREADY_IN_USE => "path already in use",
        code::DEREGISTER_FAILURE => "deregister failure",
        code::PATH_ALREADY_REGISTERED => "path already registered",
        code::RECORD_NOT_PARSED => "record could not be parsed",
        code::SECURE_SESSION_REQUIRED => "secure session required",
        code::SECURE_SESSION_NOT_SUPPORTED => "secure session not supported",
        code::SEGMENTATION_NOT_SUPPORTED => "segmentation not supported",
        code::INVALID_RECORD_VALUE => "invalid record value",
        code::SESSION_CONTEXT_TERMINATED => "session context terminated",
        code::SESSION_CONTEXT_NOT_ALLOWED => "session context not allowed",
        7200..=7299 => "data-model error",
        7800..=7999 => "vendor error",
        _ => "unknown error",
    }
}

impl UspError {
    /// The agent already has what was asked for: "duplicate unique key" (7025), or "invalid
    /// arguments" (7004) carrying a 7025 parameter error, as the reference agent answers a
    /// duplicate subscription ID.
    pub fn is_duplicate(&self) -> bool {
        self.code == code::DUPLICATE_UNIQUE_KEY
            || (self.code == code::INVALID_ARGUMENTS
                && self.param_errs.iter().any(|(_, c, _)| *c == code::DUPLICATE_UNIQUE_KEY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(code: u32, params: Vec<(String, u32, String)>) -> UspError {
        UspError { code, message: String::new(), param_errs: params }
    }

    #[test]
    fn codes_have_their_words() {
        assert_eq!(error_code_text(code::PERMISSION_DENIED), "permission denied");
        assert_eq!(error_code_text(7026), "invalid path");
        assert_eq!(error_code_text(7250), "data-model error");
        assert_eq!(error_code_text(7900), "vendor error");
        assert_eq!(error_code_text(6999), "unknown error");
        assert_eq!(e(7006, vec![]).to_string(), "permission denied (7006)");
    }

    #[test]
    fn duplicates_as_agents_say_them() {
        assert!(e(7025, vec![]).is_duplicate());
        assert!(e(7004, vec![("Device.LocalAgent.Subscription.".into(), 7025, "dup".into())]).is_duplicate());
        assert!(!e(7004, vec![("x".into(), 7012, String::new())]).is_duplicate());
        assert!(!e(7006, vec![]).is_duplicate());
    }
}
