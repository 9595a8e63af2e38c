//! From an [`IpcError`] to words and one thing the person can do about it.

use ipc_types::{code, IpcError};

/// The one action offered next to an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Run the same request again (the device may be back).
    Retry,
    /// Open the passcode dialog for the agent.
    Pair,
    /// Pairing expired: ask the device for a new prompt.
    StartAgain,
    /// Go to the Home page to review the device's certificate.
    ReviewCertificate,
    /// Reload the page's data (the thing is gone or renamed).
    Refresh,
    /// Nothing to press: fix the input, wait, or accept the answer.
    None,
}

impl Remedy {
    /// The button text for this remedy, if it has a button.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Remedy::Retry => Some("Try again"),
            Remedy::Pair => Some("Pair"),
            Remedy::StartAgain => Some("Start again"),
            Remedy::ReviewCertificate => Some("Review on Home"),
            Remedy::Refresh => Some("Refresh"),
            Remedy::None => None,
        }
    }
}

/// What to show for an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// One sentence the person can read and act on.
    pub message: String,
    pub remedy: Remedy,
}

/// Maps an error to a message and a remedy. The app's own errors already carry human messages
/// (made once at the shell boundary); the shell's and the bridge's own errors do not, so they get
/// fixed wording here and their technical text is dropped.
pub fn advise(err: &IpcError) -> Advice {
    let own = |remedy| Advice { message: sentence(&err.message), remedy };
    match err.code.as_str() {
        code::NO_SHELL => Advice {
            message: "This page only works inside the usp-home app. Open the app to manage your home.".into(),
            remedy: Remedy::None,
        },
        code::SHELL => Advice {
            message: "The app refused this request. Restart usp-home; if it happens again, please report it.".into(),
            remedy: Remedy::Retry,
        },
        code::PROTOCOL => Advice {
            message: "The app and its window do not understand each other (different versions?). Restart usp-home."
                .into(),
            remedy: Remedy::None,
        },
        code::OFFLINE | code::TIMEOUT => own(Remedy::Retry),
        code::PERMISSION => own(Remedy::Pair),
        code::PAIRING_EXPIRED => own(Remedy::StartAgain),
        code::CERTIFICATE | code::UNENCRYPTED => own(Remedy::ReviewCertificate),
        code::UNKNOWN_AGENT | code::NOT_FOUND => own(Remedy::Refresh),
        // The app words its own failures ("Something went wrong inside the app: …"): one owner.
        code::INTERNAL => own(Remedy::Retry),
        // wrong_passcode, locked_out, invalid_input, unsupported, refused and unknown codes: the
        // message says it all.
        _ => own(Remedy::None),
    }
}

/// The message as a sentence: trimmed, first letter upper case, ending with a full stop.
fn sentence(message: &str) -> String {
    let trimmed = message.trim();
    if trimmed.is_empty() {
        return "Something went wrong.".into();
    }
    let mut chars = trimmed.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> IpcError {
        IpcError::new(code, message)
    }

    #[test]
    fn offline_offers_retry_with_the_apps_words() {
        let advice = advise(&err(code::OFFLINE, "the living-room extender is not reachable"));
        assert_eq!(advice.message, "The living-room extender is not reachable.");
        assert_eq!(advice.remedy, Remedy::Retry);
        assert_eq!(advice.remedy.label(), Some("Try again"));
    }

    #[test]
    fn permission_offers_pairing() {
        let advice = advise(&err(code::PERMISSION, "Pair with the gateway to change this."));
        assert_eq!(advice.remedy, Remedy::Pair);
        assert_eq!(advice.message, "Pair with the gateway to change this.");
    }

    #[test]
    fn technical_errors_get_fixed_wording() {
        let advice = advise(&err(code::PROTOCOL, "cannot decode the result of wifi: missing field `x`"));
        assert!(!advice.message.contains("missing field"), "{}", advice.message);
        let shell = advise(&err(code::SHELL, "Command wifi not found"));
        assert!(!shell.message.contains("Command wifi"), "{}", shell.message);
        assert_eq!(advise(&err(code::NO_SHELL, "no window.__TAURI__")).remedy, Remedy::None);
        assert!(advise(&err(code::NO_SHELL, "x")).message.contains("usp-home app"));
    }

    #[test]
    fn pairing_codes() {
        assert_eq!(advise(&err(code::WRONG_PASSCODE, "Wrong passcode, 2 tries left")).remedy, Remedy::None);
        assert_eq!(advise(&err(code::PAIRING_EXPIRED, "the pairing expired")).remedy, Remedy::StartAgain);
        assert_eq!(advise(&err(code::CERTIFICATE, "certificate changed")).remedy, Remedy::ReviewCertificate);
        assert_eq!(advise(&err(code::NOT_FOUND, "gone")).remedy.label(), Some("Refresh"));
        assert_eq!(advise(&err(code::INVALID_INPUT, "too short")).remedy.label(), None);
    }

    #[test]
    fn internal_errors_are_worded_once() {
        let advice = advise(&err(code::INTERNAL, "Something went wrong inside the app: the disk is full"));
        assert_eq!(advice.message, "Something went wrong inside the app: the disk is full.");
        assert_eq!(advice.message.matches("Something went wrong").count(), 1);
        assert_eq!(advice.remedy, Remedy::Retry);
        // The shell's own failures say what failed, as a sentence.
        assert_eq!(
            advise(&err(code::INTERNAL, "the vault could not be opened")).message,
            "The vault could not be opened."
        );
    }

    #[test]
    fn sentences_are_tidy() {
        assert_eq!(sentence("  done already! "), "Done already!");
        assert_eq!(sentence(""), "Something went wrong.");
        assert_eq!(sentence("über alles"), "Über alles.");
    }
}
