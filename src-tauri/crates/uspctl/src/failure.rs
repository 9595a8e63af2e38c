//! A failure and the exit status it maps to, and how a USP error reads.

use usp_client::ClientError;
use usp_core::error::{error_code_text, UspError};

/// A failure with the exit status it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// Nothing more to say and nothing went wrong: the reader of our output went away.
    pub(crate) fn quiet() -> Self {
        Self { code: 0, message: String::new() }
    }
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }
    pub(crate) fn usp(e: &UspError) -> Self {
        Self { code: 1, message: format!("error {}: {}", e.code, describe_usp(e)) }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Usp(u) => Failure::usp(&u),
            ClientError::Build(b) => Failure::usage(b.to_string()),
            ClientError::Protocol(p) => Failure { code: 1, message: format!("unexpected answer from the agent: {p}") },
            other => Failure { code: 3, message: other.to_string() },
        }
    }
}

pub(crate) fn describe_usp(e: &UspError) -> String {
    let mut s = if e.message.is_empty() { error_code_text(e.code).to_owned() } else { e.message.clone() };
    for (path, code, m) in &e.param_errs {
        s.push_str(&format!("\n  {path}: error {code}: {}", if m.is_empty() { error_code_text(*code) } else { m }));
    }
    s
}

pub(crate) fn local_failure(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure { code: 3, message: format!("{what}: {e}") }
}
