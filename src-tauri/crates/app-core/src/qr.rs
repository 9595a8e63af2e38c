//! Sharing a WiFi network: the de-facto standard `WIFI:` text that phone cameras understand
//! (`WIFI:T:WPA;S:<ssid>;P:<passphrase>;H:true;;`), and QR codes as inline SVG.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Escapes a field of the `WIFI:` format: `\`, `;`, `,`, `:` and `"` get a backslash.
fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if matches!(c, '\\' | ';' | ',' | ':' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The authentication type of the `WIFI:` format for a TR-181 `ModeEnabled` value: `nopass` for
/// open networks (`None`, and `OWE`, which needs no passphrase), `WEP` for WEP, and `WPA` for
/// every WPA/WPA2/WPA3 personal mode (phones treat `WPA` as "any WPA passphrase", including SAE).
fn auth_type(security_mode: &str) -> &'static str {
    let m = security_mode.trim();
    if m.is_empty() || m.eq_ignore_ascii_case("None") || m.eq_ignore_ascii_case("OWE") {
        "nopass"
    } else if m.to_ascii_uppercase().starts_with("WEP") {
        "WEP"
    } else {
        "WPA"
    }
}

/// The text to put in a QR code to join `ssid`. Open networks (`security_mode` `None`/`OWE`, or
/// no passphrase) get `T:nopass` and no `P:` field; `H:true` is added for hidden networks.
pub fn wifi_share_text(ssid: &str, passphrase: Option<&str>, security_mode: &str, hidden: bool) -> String {
    let passphrase = passphrase.filter(|p| !p.is_empty());
    let t = match passphrase {
        Some(_) => auth_type(security_mode),
        None => "nopass",
    };
    let mut out = format!("WIFI:T:{t};S:{};", escape(ssid));
    if t != "nopass" {
        if let Some(p) = passphrase {
            out.push_str("P:");
            out.push_str(&escape(p));
            out.push(';');
        }
    }
    if hidden {
        out.push_str("H:true;");
    }
    out.push(';');
    out
}

/// `text` as a QR code: a complete `<svg>` element (no XML declaration) for inline display,
/// black on white, scalable (it has a `viewBox`). Text too long for any QR code gives an SVG
/// that says so instead of a code.
pub fn svg(text: &str) -> String {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L));
    let image = match code {
        Ok(code) => code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => {
            return concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Too long for a QR code" "#,
                r#"viewBox="0 0 200 40"><text x="4" y="24" font-size="12">Too long for a QR code</text></svg>"#
            )
            .to_owned()
        }
    };
    let start = image.find("<svg").unwrap_or(0);
    let svg = &image[start..];
    match svg.strip_prefix("<svg") {
        Some(rest) => format!(r#"<svg role="img" aria-label="QR code"{rest}"#),
        None => svg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_text_standard_format() {
        assert_eq!(
            wifi_share_text("Home-Guest", Some("welcome-guests-2024"), "WPA2-Personal", false),
            "WIFI:T:WPA;S:Home-Guest;P:welcome-guests-2024;;"
        );
        assert_eq!(
            wifi_share_text("Home", Some("abcdefgh"), "WPA3-Personal-Transition", true),
            "WIFI:T:WPA;S:Home;P:abcdefgh;H:true;;"
        );
        assert_eq!(wifi_share_text("Cafe", None, "None", false), "WIFI:T:nopass;S:Cafe;;");
        assert_eq!(wifi_share_text("Cafe", Some("ignored!"), "None", false), "WIFI:T:nopass;S:Cafe;;");
        assert_eq!(wifi_share_text("Old", Some("12345"), "WEP-64", false), "WIFI:T:WEP;S:Old;P:12345;;");
        assert_eq!(wifi_share_text("X", Some(""), "WPA2-Personal", false), "WIFI:T:nopass;S:X;;");
    }

    #[test]
    fn share_text_escapes_special_characters() {
        assert_eq!(
            wifi_share_text(r#"My;Net,"x":\"#, Some(r#"p;a,s:s"\w"#), "WPA2-Personal", false),
            r#"WIFI:T:WPA;S:My\;Net\,\"x\"\:\\;P:p\;a\,s\:s\"\\w;;"#
        );
        // Other characters (spaces, unicode) stay as they are.
        assert_eq!(
            wifi_share_text("Café Wi-Fi", Some("pass word"), "WPA2-Personal", false),
            "WIFI:T:WPA;S:Café Wi-Fi;P:pass word;;"
        );
    }

    #[test]
    fn svg_is_a_complete_inline_element() {
        let s = svg("WIFI:T:WPA;S:Home;P:abcdefgh;;");
        assert!(s.starts_with("<svg role=\"img\""), "{}", &s[..40]);
        assert!(s.ends_with("</svg>"));
        assert!(!s.contains("<?xml"));
        assert!(s.contains("viewBox"));
        assert!(s.contains("<path"));
        // Different text, different code.
        assert_ne!(s, svg("WIFI:T:WPA;S:Home;P:abcdefgi;;"));
        // Far too long for a QR code: a readable placeholder, no panic.
        let huge = "x".repeat(10_000);
        assert!(svg(&huge).contains("Too long"));
    }
}
