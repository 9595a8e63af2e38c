//! The Settings page: this app's Endpoint ID (with a QR code, to add it on a device by hand),
//! the agent certificates it trusts, the network interfaces used for discovery, the theme.

use std::path::PathBuf;

use ipc_types::{AgentArgs, SetInterfaces, SetTheme, Settings, Theme, Topic, TrustedCertificate};
use usp_client::discovery::Interfaces;
use usp_client::tls::PinStore;
use usp_core::EndpointId;

use crate::home::{AppError, AppResult, Home};
use crate::vault::VaultPersistence;

fn theme_text(t: Theme) -> &'static str {
    match t {
        Theme::System => "system",
        Theme::Light => "light",
        Theme::Dark => "dark",
    }
}

fn theme_of(s: Option<&str>) -> Theme {
    match s {
        Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        _ => Theme::System,
    }
}

impl Home {
    /// `settings`: what the Settings page shows.
    ///
    /// # Errors
    /// None today; the signature leaves room.
    pub async fn settings(&self) -> AppResult<Settings> {
        let endpoint_id = self.identity().eid().as_str().to_owned();
        let backend = self.vault().backend();
        let pins = self.pins().clone();
        let pinned = tokio::task::spawn_blocking(move || pins.list()).await.unwrap_or_default();
        let stored: Vec<(String, String)> =
            self.store().read(|d| d.agents.iter().map(|k| (k.agent.clone(), k.name.clone())).collect());
        let trusted = pinned
            .into_iter()
            .map(|(eid, fp)| {
                let agent = eid.as_str().to_owned();
                let name = self
                    .with_agent(&agent, |e| e.name())
                    .or_else(|| stored.iter().find(|(a, n)| *a == agent && !n.is_empty()).map(|(_, n)| n.clone()));
                TrustedCertificate { agent, name, fingerprint: fp.to_string() }
            })
            .collect();
        Ok(Settings {
            endpoint_id_qr_svg: crate::qr::svg(&endpoint_id),
            endpoint_id,
            trusted,
            interfaces: self.interfaces_setting(),
            theme: theme_of(self.store().read(|d| d.theme.clone()).as_deref()),
            vault_location: backend.describe(),
            vault_persistent: backend.persistence() == VaultPersistence::UntilDeleted,
            vault_warning: backend.warning(),
            identity_renewed: self.identity().renewed(),
            certificate_pem: self.identity().tls().cert_pem(),
            certificate_fingerprint: self.identity().fingerprint().to_string(),
            usage_collection: self.usage_collection().await,
        })
    }

    /// `certificate_save`: writes this app's certificate (PEM, public: no key) into `folder`
    /// (the person's downloads folder; else the app's data folder) and says where. A router's
    /// admin page can then take it as a trusted controller certificate for `wss://` with
    /// mutual TLS.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the file can't be written.
    pub async fn certificate_save(&self, folder: Option<PathBuf>) -> AppResult<String> {
        let folder = folder.filter(|f| f.is_dir()).unwrap_or_else(|| self.identity().data_dir().to_owned());
        let path = folder.join("usp-home-certificate.pem");
        let pem = self.identity().tls().cert_pem();
        let written = path.clone();
        tokio::task::spawn_blocking(move || std::fs::write(&written, pem))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
        tracing::info!(path = %path.display(), "certificate saved");
        Ok(path.display().to_string())
    }

    /// `settings_interfaces`: which network interfaces discovery uses (`all`, `lo`, or names
    /// separated by commas); saved, and discovery restarts on them at once.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a list that can't be used; [`AppError::Internal`] when
    /// the setting can't be saved.
    pub async fn settings_interfaces(&self, args: SetInterfaces) -> AppResult<Settings> {
        let interfaces: Interfaces = args.interfaces.trim().parse().map_err(|_| {
            AppError::InvalidInput(
                "Use \"all\", \"lo\", or interface names separated by commas, like eth0,wlan0.".into(),
            )
        })?;
        let text = crate::home::interfaces_text(&interfaces);
        self.store().update(|d| d.interfaces = Some(text.clone()))?;
        tracing::info!(interfaces = %text, "discovery interfaces changed");
        self.start_discovery(interfaces);
        self.changed(&[Topic::Settings, Topic::Home]);
        self.settings().await
    }

    /// `settings_theme`: light, dark, or as the system says.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the setting can't be saved.
    pub async fn settings_theme(&self, args: SetTheme) -> AppResult<Settings> {
        self.store().update(|d| d.theme = Some(theme_text(args.theme).to_owned()))?;
        self.changed(&[Topic::Settings]);
        self.settings().await
    }

    /// `trust_forget`: stops trusting an agent's certificate. Its next secure connection asks
    /// again (first use), so the user can compare the fingerprint anew.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when no certificate is trusted for it; [`AppError::Internal`]
    /// when the vault fails.
    pub async fn trust_forget(&self, args: AgentArgs) -> AppResult<Settings> {
        let eid: EndpointId =
            args.agent.parse().map_err(|_| AppError::NotFound("No certificate is trusted for that device.".into()))?;
        let pins = self.pins().clone();
        let forgotten = tokio::task::spawn_blocking(move || match pins.pinned(&eid) {
            Some(_) => pins.forget(&eid).map(|()| true),
            None => Ok(false),
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(format!("cannot drop the certificate: {e}")))?;
        if !forgotten {
            return Err(AppError::NotFound("No certificate is trusted for that device.".into()));
        }
        tracing::info!(agent = %args.agent, "certificate no longer trusted");
        // A secure connection in use was made with the old trust: make it again.
        let secure = self.with_agent(&args.agent, |e| e.url.starts_with("wss://")).unwrap_or(false);
        if secure {
            self.restart_connection(&args.agent).await;
        }
        self.changed(&[Topic::Settings, Topic::Home]);
        self.settings().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_round_trip() {
        for t in [Theme::System, Theme::Light, Theme::Dark] {
            assert_eq!(theme_of(Some(theme_text(t))), t);
        }
        assert_eq!(theme_of(None), Theme::System);
        assert_eq!(theme_of(Some("purple")), Theme::System);
    }
}
