//! The passcode dialog as a small state machine: every error state of pairing, and what the
//! dialog allows in each.

use ipc_types::{code, IpcError, PairingDone, PairingPrompt};

use super::errors::{advise, Remedy};

/// Where the passcode dialog is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairPhase {
    /// Asking the device for its prompt.
    Starting,
    /// Waiting for the passcode; `error` is the previous attempt's message (wrong passcode).
    Ready { prompt: PairingPrompt, error: Option<String> },
    /// The passcode is on its way.
    Submitting { prompt: PairingPrompt },
    /// Too many wrong passcodes: submit stays disabled.
    LockedOut { prompt: Option<PairingPrompt>, message: String },
    /// Pairing failed in a way the person can act on (offline, expired...).
    Failed { prompt: Option<PairingPrompt>, message: String, remedy: Remedy },
    /// Paired.
    Done { role: Option<String> },
}

impl PairPhase {
    /// After asking the device for a prompt.
    pub fn started(result: Result<PairingPrompt, IpcError>) -> PairPhase {
        match result {
            Ok(prompt) => PairPhase::Ready { prompt, error: None },
            Err(err) => Self::failure(None, &err),
        }
    }

    /// Sending the passcode for `prompt`.
    pub fn submitting(prompt: PairingPrompt) -> PairPhase {
        PairPhase::Submitting { prompt }
    }

    /// After the device answered the passcode.
    pub fn submitted(prompt: PairingPrompt, result: Result<PairingDone, IpcError>) -> PairPhase {
        match result {
            Ok(done) => PairPhase::Done { role: done.role },
            Err(err) if err.is(code::WRONG_PASSCODE) || err.is(code::INVALID_INPUT) => {
                PairPhase::Ready { prompt, error: Some(advise(&err).message) }
            }
            Err(err) => Self::failure(Some(prompt), &err),
        }
    }

    fn failure(prompt: Option<PairingPrompt>, err: &IpcError) -> PairPhase {
        let advice = advise(err);
        if err.is(code::LOCKED_OUT) {
            PairPhase::LockedOut { prompt, message: advice.message }
        } else {
            // Pairing again is what the dialog does anyway: "Pair" means "start again" here.
            let remedy = if advice.remedy == Remedy::Pair { Remedy::StartAgain } else { advice.remedy };
            PairPhase::Failed { prompt, message: advice.message, remedy }
        }
    }

    /// The device's instruction, when known.
    pub fn instruction(&self) -> Option<&str> {
        self.prompt().map(|p| p.instruction.as_str())
    }

    /// The prompt in effect, when there is one.
    pub fn prompt(&self) -> Option<&PairingPrompt> {
        match self {
            PairPhase::Ready { prompt, .. } | PairPhase::Submitting { prompt } => Some(prompt),
            PairPhase::LockedOut { prompt, .. } | PairPhase::Failed { prompt, .. } => prompt.as_ref(),
            PairPhase::Starting | PairPhase::Done { .. } => None,
        }
    }

    /// The message to show in `pairing-error`.
    pub fn error(&self) -> Option<&str> {
        match self {
            PairPhase::Ready { error, .. } => error.as_deref(),
            PairPhase::LockedOut { message, .. } | PairPhase::Failed { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether the submit button is enabled (given a non-empty passcode).
    pub fn can_submit(&self) -> bool {
        matches!(self, PairPhase::Ready { .. })
            || matches!(self, PairPhase::Failed { prompt: Some(_), remedy: Remedy::Retry, .. })
    }

    /// Whether the passcode field is shown.
    pub fn wants_passcode(&self) -> bool {
        !matches!(self, PairPhase::Starting | PairPhase::Done { .. }) && self.prompt().is_some()
    }

    /// Whether a request is running.
    pub fn busy(&self) -> bool {
        matches!(self, PairPhase::Starting | PairPhase::Submitting { .. })
    }

    /// The offered action besides submit/close, if any.
    pub fn remedy(&self) -> Remedy {
        match self {
            PairPhase::Failed { remedy, .. } => *remedy,
            _ => Remedy::None,
        }
    }
}

/// The device's own instruction, shown as its words (plain text; app-core caps its length).
pub fn device_says(prompt: &PairingPrompt) -> String {
    format!("The device says: \u{201c}{}\u{201d}", prompt.instruction.trim())
}

/// The link in the dialog (`pairing-link`): encrypted or not, in words.
pub fn link_words(prompt: &PairingPrompt) -> &'static str {
    if prompt.encrypted {
        "Encrypted connection: the device proved it holds the certificate below."
    } else if prompt.local {
        "Connection on this computer (not over the network)."
    } else {
        "Not encrypted: the app cannot check that this is really the device, and others on your network could read \
         the passcode."
    }
}

/// `"Wrong passcode, 2 tries left"` without the prompt: tries as words, for the dialog's hint.
pub fn tries_hint(tries_left: Option<u32>) -> Option<String> {
    match tries_left? {
        0 => Some("No tries left.".into()),
        1 => Some("Last try before pairing is locked for a while.".into()),
        n => Some(format!("{n} tries left.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt() -> PairingPrompt {
        PairingPrompt {
            agent: "os::012345-GW0001".into(),
            name: "Living room gateway".into(),
            encrypted: false,
            local: false,
            fingerprint: None,
            instruction: "Enter the 6-digit passcode printed on the label".into(),
            description: None,
            tries_left: Some(3),
        }
    }

    #[test]
    fn wrong_then_right_passcode() {
        let phase = PairPhase::started(Ok(prompt()));
        assert!(phase.can_submit() && phase.wants_passcode() && phase.error().is_none());
        assert_eq!(phase.instruction(), Some("Enter the 6-digit passcode printed on the label"));
        let busy = PairPhase::submitting(prompt());
        assert!(busy.busy() && !busy.can_submit());
        let wrong =
            PairPhase::submitted(prompt(), Err(IpcError::new(code::WRONG_PASSCODE, "Wrong passcode, 2 tries left")));
        assert_eq!(wrong.error(), Some("Wrong passcode, 2 tries left."));
        assert!(wrong.can_submit(), "the dialog stays open for another try");
        let done = PairPhase::submitted(
            prompt(),
            Ok(PairingDone { agent: "os::012345-GW0001".into(), role: Some("Home User".into()) }),
        );
        assert_eq!(done, PairPhase::Done { role: Some("Home User".into()) });
        assert!(!done.wants_passcode());
    }

    #[test]
    fn locked_out_disables_submit() {
        let phase = PairPhase::submitted(prompt(), Err(IpcError::new(code::LOCKED_OUT, "Locked for 5 minutes")));
        assert!(!phase.can_submit());
        assert_eq!(phase.error(), Some("Locked for 5 minutes."));
        assert!(phase.wants_passcode(), "the field stays, disabled, so the layout does not jump");
        let at_start = PairPhase::started(Err(IpcError::new(code::LOCKED_OUT, "locked")));
        assert!(!at_start.can_submit() && !at_start.wants_passcode());
    }

    #[test]
    fn offline_and_expired_offer_actions() {
        let offline = PairPhase::submitted(prompt(), Err(IpcError::new(code::OFFLINE, "The gateway went offline")));
        assert_eq!(offline.remedy(), Remedy::Retry);
        assert!(offline.can_submit(), "retry submits the same passcode prompt again");
        let expired = PairPhase::submitted(prompt(), Err(IpcError::new(code::PAIRING_EXPIRED, "Pairing expired")));
        assert_eq!(expired.remedy(), Remedy::StartAgain);
        assert!(!expired.can_submit());
        let refused = PairPhase::started(Err(IpcError::new(code::PERMISSION, "not allowed")));
        assert_eq!(refused.remedy(), Remedy::StartAgain);
    }

    #[test]
    fn the_dialog_names_the_device_and_its_link() {
        let mut p = prompt();
        assert_eq!(device_says(&p), "The device says: \u{201c}Enter the 6-digit passcode printed on the label\u{201d}");
        assert!(link_words(&p).starts_with("Not encrypted"));
        p.local = true;
        assert!(link_words(&p).contains("this computer"));
        p.encrypted = true;
        p.fingerprint = Some("AB:CD".into());
        assert!(link_words(&p).starts_with("Encrypted"));
        let unencrypted = PairPhase::submitted(prompt(), Err(IpcError::new(code::UNENCRYPTED, "not encrypted")));
        assert_eq!(unencrypted.error(), Some("Not encrypted."));
        assert!(!unencrypted.can_submit(), "nothing to retry until the person allows it on the card");
    }

    #[test]
    fn tries_hints() {
        assert_eq!(tries_hint(None), None);
        assert_eq!(tries_hint(Some(1)).as_deref(), Some("Last try before pairing is locked for a while."));
        assert_eq!(tries_hint(Some(3)).as_deref(), Some("3 tries left."));
    }
}
