//! Pairing with the passcode printed on a device: `pairing_start` asks the agent for a
//! challenge and shows its instruction; `pairing_submit` answers it. The passcode is wrapped in
//! a [`Secret`] as soon as it arrives and never reaches a log or an error.

use std::sync::Arc;

use ipc_types::{AgentArgs, PairingDone, PairingPrompt, PairingSubmit};

use super::agents::{auth_of, read_facts, role_label};
use super::{device_text, is_loopback_url, is_wss, lock, AppError, AppResult, Home, COMMAND_DEADLINE};
use crate::pairing::{self, AuthState, Challenge, Instruction, PairingError};
use crate::secret::Secret;

/// Longest instruction or description shown, in characters (the device writes it).
const MAX_INSTRUCTION_CHARS: usize = 300;

/// What to show for an instruction the dialog can't render as text.
const IMAGE_INSTRUCTION: &str = "Enter the passcode shown on the device or its label.";

/// The device's instruction as plain text, control characters removed, capped.
fn instruction_text(i: &Instruction) -> String {
    let text = instruction_markup_free(i);
    let text = device_text(&text, MAX_INSTRUCTION_CHARS);
    if text.is_empty() {
        IMAGE_INSTRUCTION.to_owned()
    } else {
        text
    }
}

fn instruction_markup_free(i: &Instruction) -> String {
    match i {
        Instruction::Text(t) => t.trim().to_owned(),
        // The dialog shows text only: strip the markup.
        Instruction::Html(h) => {
            let mut out = String::with_capacity(h.len());
            let mut in_tag = false;
            for c in h.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        Instruction::Image { .. } => IMAGE_INSTRUCTION.to_owned(),
    }
}

fn tries_left(ch: &Challenge) -> Option<u32> {
    ch.info.retries.filter(|r| *r > 0).map(|r| r.saturating_sub(ch.failures()))
}

impl Home {
    /// `pairing_start`: requests a passcode challenge from the agent and returns what the
    /// dialog shows. A new start replaces the agent's previous challenge.
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`], [`AppError::Offline`], or [`AppError::Pairing`] (locked out,
    /// not authorised, no passcode pairing offered...).
    pub async fn pairing_start(&self, args: AgentArgs) -> AppResult<PairingPrompt> {
        let agent = args.agent.clone();
        self.within(COMMAND_DEADLINE, Some(&agent), self.pairing_start_inner(args)).await
    }

    async fn pairing_start_inner(&self, args: AgentArgs) -> AppResult<PairingPrompt> {
        let conn = self.conn(&args.agent).await?;
        let url = self.with_agent(&args.agent, |e| e.url.clone()).unwrap_or_default();
        let encrypted = is_wss(&url);
        let fingerprint = if encrypted {
            let pins = self.pins().clone();
            let eid: usp_core::EndpointId = args.agent.parse().map_err(|_| AppError::UnknownAgent)?;
            tokio::task::spawn_blocking(move || usp_client::tls::PinStore::pinned(pins.as_ref(), &eid))
                .await
                .ok()
                .flatten()
                .map(|f| f.to_string())
        } else {
            None
        };
        let list = pairing::challenges(&conn.client).await.map_err(|e| self.pairing_failed(&args.agent, e))?;
        let Some(first) = list.first() else {
            return Err(AppError::Pairing(PairingError::NotOffered));
        };
        let challenge =
            pairing::request_challenge(&conn.client, first).await.map_err(|e| self.pairing_failed(&args.agent, e))?;
        let prompt = PairingPrompt {
            agent: args.agent.clone(),
            name: conn.name.clone(),
            encrypted,
            local: is_loopback_url(&url),
            fingerprint,
            instruction: instruction_text(&challenge.instruction),
            description: challenge
                .info
                .description
                .as_deref()
                .map(|d| device_text(d, MAX_INSTRUCTION_CHARS))
                .filter(|d| !d.is_empty()),
            tries_left: tries_left(&challenge),
        };
        lock(&self.inner.pending).insert(args.agent, Arc::new(challenge));
        Ok(prompt)
    }

    /// `pairing_submit`: answers the agent's challenge with the passcode. On success the agent
    /// is probed again, marked paired, remembered, and every page is told to refresh.
    ///
    /// # Errors
    /// [`AppError::Pairing`]: wrong passcode (with the tries left when known), locked out,
    /// expired (also when no challenge was started); [`AppError::Offline`],
    /// [`AppError::UnknownAgent`].
    pub async fn pairing_submit(&self, args: PairingSubmit) -> AppResult<PairingDone> {
        let PairingSubmit { agent, passcode } = args;
        let passcode = Secret::new(passcode);
        let who = agent.clone();
        self.within(COMMAND_DEADLINE, Some(&who), self.pairing_submit_inner(agent, passcode)).await
    }

    async fn pairing_submit_inner(&self, agent: String, passcode: Secret<String>) -> AppResult<PairingDone> {
        let conn = self.conn(&agent).await?;
        if !conn.secrets_ok {
            return Err(AppError::Unencrypted { name: conn.name.clone(), what: "passcode".into() });
        }
        let challenge = lock(&self.inner.pending).get(&agent).cloned();
        let Some(challenge) = challenge else {
            return Err(AppError::Pairing(PairingError::Expired));
        };
        let role = match pairing::respond(&conn.client, &challenge, &passcode).await {
            Ok(role) => role,
            Err(e) => {
                if matches!(e, PairingError::Expired | PairingError::LockedOut { .. }) {
                    lock(&self.inner.pending).remove(&agent);
                }
                return Err(self.pairing_failed(&agent, e));
            }
        };
        drop(passcode);
        lock(&self.inner.pending).remove(&agent);
        // What the agent lets us do now, read anew.
        let state = match pairing::probe(&conn.client).await {
            AuthState::Connected { role } => AuthState::Connected { role },
            // The role's rights may not be visible through the probe: trust the answer.
            _ => AuthState::Connected { role: role.clone() },
        };
        let (auth, _, role) = auth_of(&state);
        let facts = read_facts(&conn.client).await;
        let objects = super::agents::read_objects(&conn.client).await;
        self.with_agent(&agent, |e| e.objects = objects);
        let label = role.as_ref().and_then(role_label);
        let live = self.apply_connected(&agent, &conn.client, auth, role, facts);
        self.remember(&agent)?;
        // Return once live updates are on, so what changes from now on reaches the UI.
        if let Some(ready) = live {
            if tokio::time::timeout(std::time::Duration::from_secs(10), ready).await.is_err() {
                tracing::warn!(agent, "live updates are slow to start");
            }
        }
        tracing::info!(agent, "paired");
        Ok(PairingDone { agent, role: label })
    }

    /// Classifies a pairing failure and updates the agent's state when it changes it.
    fn pairing_failed(&self, agent: &str, e: PairingError) -> AppError {
        if let Some(state) = AuthState::after(&e) {
            if !matches!(state, AuthState::LockedOut { .. }) {
                let (auth, _, _) = auth_of(&state);
                self.with_agent(agent, |en| en.auth = auth);
                self.changed(&[ipc_types::Topic::Home]);
            }
        }
        AppError::Pairing(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_become_text() {
        assert_eq!(instruction_text(&Instruction::Text(" Enter it ".into())), "Enter it");
        let hostile = format!("Type\nit\u{202e} here{}", "!".repeat(5000));
        let shown = instruction_text(&Instruction::Text(hostile));
        assert!(shown.starts_with("Type it here!"), "{shown}");
        assert_eq!(shown.chars().count(), MAX_INSTRUCTION_CHARS);
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(instruction_text(&Instruction::Text("\u{7}\u{7}".into())), IMAGE_INSTRUCTION);
        assert_eq!(instruction_text(&Instruction::Html("<p>Enter the <b>code</b></p>".into())), "Enter the code");
        assert_eq!(
            instruction_text(&Instruction::Image { mime: "image/png".into(), bytes: vec![1] }),
            IMAGE_INSTRUCTION
        );
    }
}
