//! Why a pairing step failed, in words the homeowner understands.

use std::fmt;
use std::time::Duration;

use usp_client::ClientError;
use usp_core::EndpointId;
use usp_core::{code, UspError};

/// What kind of failure it is, for the app to pick how to show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The person typed something wrong (passcode); they can try again.
    UserInput,
    /// The device refused for a reason of its own (lock-out, expired request, error code).
    DeviceRefused,
    /// The device does not let this app do it (not authorised).
    Permission,
    /// The connection failed.
    Network,
    /// The device or this app misbehaved (unexpected answer).
    Bug,
}

/// Why a pairing step failed. `Display` is the message to show; no variant holds a passcode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// The passcode was wrong (USP 7022). `tries_left` when the device says how many
    /// consecutive failures it allows (`Challenge.{i}.Retries` readable).
    #[error("{}", wrong_passcode(*tries_left))]
    WrongPasscode {
        /// Attempts left before the device locks pairing for a while.
        tries_left: Option<u32>,
    },
    /// Too many wrong passcodes: the device refuses pairing for a while (USP 7002).
    #[error("{}", locked_out(*retry_in))]
    LockedOut {
        /// How long to wait (`Challenge.{i}.LockoutPeriod` when readable).
        retry_in: Option<Duration>,
    },
    /// The pairing request expired or the device forgot it (USP 7012 / 7004).
    #[error("The pairing request expired. Start again.")]
    Expired,
    /// The device ignores this app or does not let it pair.
    #[error(
        "The device does not let this app pair with it. Add this app's ID {own_eid} as a controller \
         in the device's admin page, then try again."
    )]
    NotAuthorised {
        /// Our Endpoint ID, for the device's admin page.
        own_eid: EndpointId,
    },
    /// The device offers no passcode pairing.
    #[error("This device offers no pairing with a passcode.")]
    NotOffered,
    /// The connection failed.
    #[error("The connection to the device failed: {0}")]
    Connection(ClientError),
    /// The device refused with another USP error.
    #[error("The device refused: {message} (error {code}).")]
    Agent {
        /// The USP error code.
        code: u32,
        /// The device's explanation.
        message: String,
    },
    /// The device answered something this app did not expect.
    #[error("The device gave an unexpected answer: {0}")]
    Unexpected(String),
}

fn wrong_passcode(tries_left: Option<u32>) -> String {
    match tries_left {
        Some(1) => "Wrong passcode, 1 try left.".to_owned(),
        Some(n) => format!("Wrong passcode, {n} tries left."),
        None => "Wrong passcode. Check it and try again.".to_owned(),
    }
}

fn locked_out(retry_in: Option<Duration>) -> String {
    match retry_in {
        Some(d) => format!("Too many wrong passcodes. Try again in {}.", HumanDuration(d)),
        None => "Too many wrong passcodes. Wait a while, then try again.".to_owned(),
    }
}

/// A duration in words: "30 seconds", "1 minute", "2 minutes 5 seconds".
pub(crate) struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
        let (m, s) = (secs / 60, secs % 60);
        match (m, s) {
            (0, s) => f.write_str(&plural(s, "second")),
            (m, 0) => f.write_str(&plural(m, "minute")),
            (m, s) => write!(f, "{} {}", plural(m, "minute"), plural(s, "second")),
        }
    }
}

impl PairingError {
    /// What kind of failure this is.
    pub fn class(&self) -> ErrorClass {
        match self {
            PairingError::WrongPasscode { .. } => ErrorClass::UserInput,
            PairingError::LockedOut { .. }
            | PairingError::Expired
            | PairingError::NotOffered
            | PairingError::Agent { .. } => ErrorClass::DeviceRefused,
            PairingError::NotAuthorised { .. } => ErrorClass::Permission,
            PairingError::Connection(_) => ErrorClass::Network,
            PairingError::Unexpected(_) => ErrorClass::Bug,
        }
    }

    /// The USP error code behind it, when there is one.
    pub fn usp_code(&self) -> Option<u32> {
        match self {
            PairingError::WrongPasscode { .. } => Some(code::COMMAND_FAILURE),
            PairingError::LockedOut { .. } => Some(code::REQUEST_DENIED),
            PairingError::Agent { code, .. } => Some(*code),
            PairingError::Connection(e) => e.usp_code(),
            _ => None,
        }
    }

    /// The USP error of a challenge command, classified. `tries_left` / `lockout` are what
    /// is known about the Challenge row.
    pub(crate) fn from_usp(e: &UspError, tries_left: Option<u32>, lockout: Option<Duration>) -> PairingError {
        match e.code {
            code::COMMAND_FAILURE => PairingError::WrongPasscode { tries_left },
            code::REQUEST_DENIED => PairingError::LockedOut { retry_in: lockout },
            code::INVALID_VALUE | code::INVALID_ARGUMENTS => PairingError::Expired,
            code => PairingError::Agent { code, message: e.message.clone() },
        }
    }

    /// A client failure during pairing.
    pub(crate) fn from_client(e: ClientError) -> PairingError {
        match e {
            ClientError::Usp(u) => PairingError::from_usp(&u, None, None),
            ClientError::Protocol(p) => PairingError::Unexpected(p),
            other => PairingError::Connection(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        assert_eq!(PairingError::WrongPasscode { tries_left: Some(2) }.to_string(), "Wrong passcode, 2 tries left.");
        assert_eq!(PairingError::WrongPasscode { tries_left: Some(1) }.to_string(), "Wrong passcode, 1 try left.");
        assert_eq!(
            PairingError::LockedOut { retry_in: Some(Duration::from_secs(30)) }.to_string(),
            "Too many wrong passcodes. Try again in 30 seconds."
        );
        assert_eq!(
            PairingError::LockedOut { retry_in: Some(Duration::from_secs(125)) }.to_string(),
            "Too many wrong passcodes. Try again in 2 minutes 5 seconds."
        );
        assert_eq!(PairingError::Expired.to_string(), "The pairing request expired. Start again.");
        assert_eq!(PairingError::Expired.class(), ErrorClass::DeviceRefused);
    }

    #[test]
    fn usp_codes_are_classified() {
        let e = |code| UspError { code, message: "m".into(), param_errs: Vec::new() };
        assert_eq!(
            PairingError::from_usp(&e(7022), Some(1), None),
            PairingError::WrongPasscode { tries_left: Some(1) }
        );
        assert_eq!(PairingError::from_usp(&e(7002), None, None), PairingError::LockedOut { retry_in: None });
        assert_eq!(PairingError::from_usp(&e(7012), None, None), PairingError::Expired);
        assert_eq!(PairingError::from_usp(&e(7004), None, None), PairingError::Expired);
        assert!(matches!(PairingError::from_usp(&e(7027), None, None), PairingError::Agent { code: 7027, .. }));
    }
}
