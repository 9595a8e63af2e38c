//! Client-side checks mirroring the app's own validation, so mistakes show before a round trip.

/// Why a passphrase is refused, in words.
pub fn passphrase_problem(passphrase: &str) -> Option<&'static str> {
    if passphrase.chars().any(|c| !(' '..='~').contains(&c)) {
        return Some("Use only letters, digits, spaces and common symbols (no accents or emoji).");
    }
    match passphrase.len() {
        0 => Some("Enter a password."),
        1..=7 => Some("The password needs at least 8 characters."),
        8..=63 => None,
        _ => Some("The password can have at most 63 characters."),
    }
}

/// Why a network name is refused, in words.
pub fn ssid_problem(ssid: &str) -> Option<&'static str> {
    if ssid.trim().is_empty() {
        Some("Enter a network name.")
    } else if ssid.len() > 32 {
        Some("The network name can have at most 32 bytes (fewer with accents or emoji).")
    } else {
        None
    }
}

/// A friendlier label for a TR-181 security mode.
pub fn mode_label(mode: &str) -> String {
    match mode {
        "None" => "Open (no password)".into(),
        "WPA2-Personal" => "WPA2".into(),
        "WPA3-Personal" => "WPA3".into(),
        "WPA2-WPA3-Personal" => "WPA2 + WPA3 (compatible)".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrases() {
        assert_eq!(passphrase_problem("short"), Some("The password needs at least 8 characters."));
        assert_eq!(passphrase_problem(""), Some("Enter a password."));
        assert_eq!(passphrase_problem("correct horse"), None);
        assert_eq!(passphrase_problem(&"x".repeat(63)), None);
        assert!(passphrase_problem(&"x".repeat(64)).is_some());
        assert!(passphrase_problem("päßwörter-lang").is_some_and(|p| p.contains("accents")));
        assert!(passphrase_problem("tab\tinside").is_some());
    }

    #[test]
    fn ssids() {
        assert_eq!(ssid_problem("Home"), None);
        assert!(ssid_problem("  ").is_some());
        assert!(ssid_problem(&"é".repeat(17)).is_some(), "34 bytes");
        assert_eq!(ssid_problem(&"a".repeat(32)), None);
    }

    #[test]
    fn modes() {
        assert_eq!(mode_label("WPA2-WPA3-Personal"), "WPA2 + WPA3 (compatible)");
        assert_eq!(mode_label("WEP-64"), "WEP-64");
    }
}
