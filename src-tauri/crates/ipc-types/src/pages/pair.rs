//! The passcode dialog (`ui/src/pages/pair.rs`): the challenge an agent asks, the passcode sent back.

use serde::{Deserialize, Serialize};

/// What to show in the passcode dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingPrompt {
    /// The device's Endpoint ID (shown in the dialog).
    pub agent: String,
    /// The device's name (plain text, at most 64 characters).
    #[serde(default)]
    pub name: String,
    /// The link is encrypted (`wss://`).
    #[serde(default)]
    pub encrypted: bool,
    /// The device is on this computer (loopback).
    #[serde(default)]
    pub local: bool,
    /// `wss://`: the fingerprint of the certificate the device proved it holds.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The device's own words ("Enter the 6-digit passcode printed on the label"): plain text,
    /// control characters removed, at most 300 characters. Show it as what the device says.
    pub instruction: String,
    /// Longer description of the challenge, if any.
    pub description: Option<String>,
    /// Tries left before the agent locks pairing for a while, when known.
    pub tries_left: Option<u32>,
}

/// Submit the passcode for the prompt last started on `agent`. The passcode is a secret: the
/// shell never logs it and drops it after use.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingSubmit {
    pub agent: String,
    pub passcode: String,
}

impl std::fmt::Debug for PairingSubmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingSubmit").field("agent", &self.agent).field("passcode", &"<redacted>").finish()
    }
}

/// Successful pairing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingDone {
    pub agent: String,
    /// The role now held, e.g. "Home User".
    pub role: Option<String>,
}
