//! Why a use-case failed: typed, classified, in words a homeowner can act on. The shell turns it
//! into an `ipc_types::IpcError` exactly once (`code()` + `to_string()`).

use crate::pairing::PairingError;

/// A failed use-case. `Display` is the message to show; no variant holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// No agent with that Endpoint ID is known.
    #[error("That device is not part of your home (any more).")]
    UnknownAgent,
    /// The agent can't be reached now.
    #[error("{name} can't be reached right now. Check that it is switched on and try again.")]
    Offline {
        /// Display name of the agent.
        name: String,
    },
    /// The agent answered too late.
    #[error("{name} did not answer in time. Check that it is switched on and connected, then try again.")]
    Timeout {
        /// Display name of the agent.
        name: String,
    },
    /// Our role may not do this.
    #[error("{name} does not let this app {action}. Pair with its passcode first.")]
    Permission {
        /// Display name of the agent.
        name: String,
        /// What was attempted, e.g. "change WiFi settings".
        action: String,
    },
    /// Our role may not do this, and pairing again would not change it; the message says what
    /// to do instead.
    #[error("{0}")]
    NotAllowed(String),
    /// The device tried and it did not work (a firmware image refused, a transfer cut...); the
    /// message says what happened and where things stand.
    #[error("{0}")]
    Failed(String),
    /// The agent refused with a USP error.
    #[error("{name} refused: {message}")]
    Refused {
        /// Display name of the agent.
        name: String,
        /// The agent's explanation, cleaned up.
        message: String,
        /// The USP error code.
        usp_code: u32,
    },
    /// A secret (passcode, password, secured setting) would go over an unencrypted link to a
    /// device on the network, and the person has not allowed that for this device.
    #[error(
        "The connection to {name} is not encrypted: someone on your network could read the {what}. Use the \
         device's encrypted (wss://) address if it has one, or, if you trust everyone on this network, allow \
         \"Send passcodes and passwords unencrypted\" on its card and try again."
    )]
    Unencrypted {
        /// Display name of the agent.
        name: String,
        /// What would have been sent, e.g. "passcode".
        what: String,
    },
    /// Invalid user input; the message says what is expected.
    #[error("{0}")]
    InvalidInput(String),
    /// The agent (or home) does not offer this.
    #[error("{0}")]
    Unsupported(String),
    /// The thing no longer exists.
    #[error("{0}")]
    NotFound(String),
    /// A certificate problem (changed, or not the one the user confirmed).
    #[error("{0}")]
    Certificate(String),
    /// Pairing failed (wrong passcode, locked out, expired...).
    #[error(transparent)]
    Pairing(PairingError),
    /// A local failure (vault, disk) or a bug; the message is for a bug report.
    #[error("Something went wrong inside the app: {0}")]
    Internal(String),
}

impl AppError {
    /// The stable code for the UI (`ipc_types::code::*`).
    pub fn code(&self) -> &'static str {
        use ipc_types::code;
        match self {
            AppError::UnknownAgent => code::UNKNOWN_AGENT,
            AppError::Offline { .. } => code::OFFLINE,
            AppError::Timeout { .. } => code::TIMEOUT,
            AppError::Permission { .. } | AppError::NotAllowed(_) => code::PERMISSION,
            AppError::Refused { .. } | AppError::Failed(_) => code::REFUSED,
            AppError::Unencrypted { .. } => code::UNENCRYPTED,
            AppError::InvalidInput(_) => code::INVALID_INPUT,
            AppError::Unsupported(_) => code::UNSUPPORTED,
            AppError::NotFound(_) => code::NOT_FOUND,
            AppError::Certificate(_) => code::CERTIFICATE,
            AppError::Pairing(e) => match e {
                PairingError::WrongPasscode { .. } => code::WRONG_PASSCODE,
                PairingError::LockedOut { .. } => code::LOCKED_OUT,
                PairingError::Expired => code::PAIRING_EXPIRED,
                PairingError::NotAuthorised { .. } | PairingError::NotOffered => code::PERMISSION,
                PairingError::Connection(_) => code::OFFLINE,
                PairingError::Agent { .. } => code::REFUSED,
                PairingError::Unexpected(_) => code::INTERNAL,
            },
            AppError::Internal(_) => code::INTERNAL,
        }
    }
}

/// As an error crosses the IPC boundary: its code and its words, nothing else.
impl From<AppError> for ipc_types::IpcError {
    fn from(e: AppError) -> Self {
        ipc_types::IpcError::new(e.code(), e.to_string())
    }
}

/// Result of a use-case.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// Classifies a request failure on agent `name` while trying to `action` (e.g. "change WiFi
    /// settings"): timeouts, lost connections, permission errors (USP 7006) and other refusals.
    pub fn from_client(name: &str, action: &str, err: &usp_client::ClientError) -> AppError {
        if err.is_timeout() {
            return AppError::Timeout { name: name.to_owned() };
        }
        if err.is_connection() {
            return AppError::Offline { name: name.to_owned() };
        }
        match err.usp_code() {
            Some(usp_core::code::PERMISSION_DENIED) => {
                AppError::Permission { name: name.to_owned(), action: action.to_owned() }
            }
            Some(code) => AppError::Refused {
                name: name.to_owned(),
                message: usp_core::error::error_code_text(code).to_owned(),
                usp_code: code,
            },
            None => AppError::Internal(err.to_string()),
        }
    }
}
