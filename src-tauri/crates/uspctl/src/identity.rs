//! `whoami` and `trust`: this installation's identity, the vault that keeps its secrets,
//! and the agent certificates it trusts.

use serde_json::{json, Value};
use usp_core::EndpointId;

use crate::cli::{Cli, TrustAction};
use crate::failure::{local_failure, Failure};
use crate::output::print_json;

/// The vault of this installation: the platform keyring, else the encrypted file when
/// `USP_HOME_VAULT_PASSPHRASE` is set, else memory. `USP_HOME_VAULT_BACKEND=file` or
/// `memory` skips the keyrings.
pub(crate) fn open_vault() -> Result<std::sync::Arc<app_core::vault::Vault>, Failure> {
    use app_core::vault::VaultBackendKind;
    let mut config = app_core::vault::VaultConfig::new(usp_client::identity::default_data_dir());
    config.passphrase = std::env::var("USP_HOME_VAULT_PASSPHRASE").ok().map(app_core::secret::Secret::new);
    config.prefer = match std::env::var("USP_HOME_VAULT_BACKEND").ok().as_deref() {
        None | Some("" | "auto" | "keyring") => None,
        Some("file") => Some(VaultBackendKind::EncryptedFile),
        Some("memory") => Some(VaultBackendKind::Memory),
        Some(other) => {
            return Err(Failure::usage(format!("USP_HOME_VAULT_BACKEND={other:?}: use auto, file or memory")))
        }
    };
    app_core::vault::Vault::open(config).map(std::sync::Arc::new).map_err(|e| local_failure("cannot open the vault", e))
}

pub(crate) fn load_identity(vault: &app_core::vault::Vault) -> Result<app_core::identity::ControllerIdentity, Failure> {
    app_core::identity::load_or_create(vault, &usp_client::identity::default_data_dir())
        .map_err(|e| local_failure("cannot load this installation's identity", e))
}

pub(crate) fn whoami(cli: &Cli, qr: bool, pem: bool) -> Result<(), Failure> {
    let vault = open_vault()?;
    let me = load_identity(&vault)?;
    let backend = vault.backend();
    if pem && !cli.json {
        // The PEM alone, so that `uspctl whoami --pem > usp-home.pem` is the file a router takes.
        outln!("{}", me.tls().cert_pem().trim_end());
        return Ok(());
    }
    if cli.json {
        return print_json(&json!({
            "endpoint_id": me.eid().as_str(),
            "certificate_sha256": me.fingerprint().to_string(),
            "certificate_pem": me.tls().cert_pem(),
            "vault": backend.kind().to_string(),
            "vault_description": backend.describe(),
        }));
    }
    outln!("Endpoint ID: {}", me.eid());
    outln!("Certificate SHA-256: {}", me.fingerprint());
    outln!("Secrets: {}", backend.describe());
    if qr {
        outln!("{}", qr_text(me.eid().as_str()));
    }
    Ok(())
}

/// `text` as a QR code drawn with Unicode half blocks, for a terminal.
pub(crate) fn qr_text(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build(),
        Err(e) => format!("(no QR code: {e})"),
    }
}

pub(crate) fn trust(cli: &Cli, action: &TrustAction) -> Result<(), Failure> {
    use usp_client::tls::PinStore;
    let pins = app_core::identity::VaultPinStore::new(open_vault()?);
    match action {
        TrustAction::List => {
            let list = pins.list();
            if cli.json {
                let v: Vec<Value> =
                    list.iter().map(|(a, f)| json!({"agent": a.as_str(), "sha256": f.to_string()})).collect();
                return print_json(&v);
            }
            if list.is_empty() {
                outln!("No agent certificate is trusted yet.");
            }
            for (agent, fp) in list {
                outln!("{agent} {fp}");
            }
            Ok(())
        }
        TrustAction::Forget { eid } => {
            let agent: EndpointId = eid.parse().map_err(|e| Failure::usage(format!("{eid}: {e}")))?;
            if pins.pinned(&agent).is_none() {
                return Err(Failure { code: 1, message: format!("no certificate is trusted for {agent}") });
            }
            pins.forget(&agent).map_err(|e| local_failure("cannot forget the certificate", e))?;
            outln!("Forgot the certificate of {agent}; the next connection will ask again.");
            Ok(())
        }
    }
}
