//! Pairing with the passcode printed on a device: `pairing_start` asks the agent for a
//! challenge and shows its instruction; `pairing_submit` answers it. The passcode is wrapped in
//! a [`Secret`] as soon as it arrives and never reaches a log or an error.

use std::sync::Arc;

use ipc_types::{AgentArgs, PairingDone, PairingPrompt, PairingSubmit};

use super::agents::{auth_of, read_facts, role_label};
use super::{lock, AppError, AppResult, Home};
use crate::pairing::{self, AuthState, Challenge, Instruction, PairingError};
use crate::secret::Secret;

/// What to show for an instruction the dialog can't render as text.
const IMAGE_INSTRUCTION: &str = "Enter the passcode shown on the device or its label.";

fn instruction_text(i: &Instruction) -> String {
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
        let conn = self.conn(&args.agent).await?;
        let list = pairing::challenges(&conn.client).await.map_err(|e| self.pairing_failed(&args.agent, e))?;
        let Some(first) = list.first() else {
            return Err(AppError::Pairing(PairingError::NotOffered));
        };
        let challenge =
            pairing::request_challenge(&conn.client, first).await.map_err(|e| self.pairing_failed(&args.agent, e))?;
        let prompt = PairingPrompt {
            agent: args.agent.clone(),
            instruction: instruction_text(&challenge.instruction),
            description: challenge.info.description.clone(),
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
        let conn = self.conn(&agent).await?;
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
        assert_eq!(instruction_text(&Instruction::Html("<p>Enter the <b>code</b></p>".into())), "Enter the code");
        assert_eq!(
            instruction_text(&Instruction::Image { mime: "image/png".into(), bytes: vec![1] }),
            IMAGE_INSTRUCTION
        );
    }
}
