//! Pairing: what this app may do on an agent, and how a homeowner raises it with the
//! passcode printed on the device (the USP Challenge, spec-notes §8.3).
//!
//! 1. Connect ([`connect`]): over `wss://` the first connection to an agent stops with
//!    [`AuthState::FirstUse`] (the trust-on-first-use question); a changed certificate or a
//!    certificate of another device stops with [`AuthState::CertificateChanged`] /
//!    [`AuthState::WrongDevice`].
//! 2. [`probe`]: a harmless Get tells whether the agent talks to us at all
//!    ([`AuthState::NotAuthorised`] when it silently ignores us, like the reference agent
//!    does with unknown controllers) and with which rights ([`AuthState::Connected`] or
//!    [`AuthState::Untrusted`]).
//! 3. [`challenges`] → [`request_challenge`] → show [`Challenge::instruction`] → [`respond`]
//!    with the passcode; on success the new role comes back as a [`RoleSummary`].
//!
//! Passcodes travel as [`Secret`](crate::secret::Secret) and never reach a log or an error.

mod challenge;
mod error;
mod probe;

pub use challenge::{
    challenges, request_challenge, request_challenge_with, respond, Challenge, ChallengeInfo, Instruction,
};
pub use error::{ErrorClass, PairingError};
pub use probe::{connect, probe, probe_with, read_role, AuthState, ProbeConfig, RoleSummary};

/// `Device.LocalAgent.ControllerTrust.`
pub const CONTROLLER_TRUST: &str = "Device.LocalAgent.ControllerTrust.";
/// The Challenge table.
pub const CHALLENGE_TABLE: &str = "Device.LocalAgent.ControllerTrust.Challenge.";
/// The Challenge row tried blindly when the table can't be read (the Untrusted role of the
/// reference agent may not read it, spec-notes §14.7).
pub const GUESSED_CHALLENGE: &str = "Device.LocalAgent.ControllerTrust.Challenge.1";
/// The name of the role with every right, in TR-181 defaults and the reference agent.
pub const FULL_ACCESS: &str = "Full Access";
