//! The passcode challenge: `RequestChallenge()` and `ChallengeResponse()` (spec-notes §8.3).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use usp_client::{Client, ClientError};
use usp_core::msg::OperateResp;
use usp_core::request::CommandOutcome;

use super::error::PairingError;
use super::probe::{read_role, RoleSummary};
use super::{CHALLENGE_TABLE, GUESSED_CHALLENGE};
use crate::secret::Secret;

const REQUEST_CHALLENGE: &str = "Device.LocalAgent.ControllerTrust.RequestChallenge()";
const CHALLENGE_RESPONSE: &str = "Device.LocalAgent.ControllerTrust.ChallengeResponse()";
/// Longest instruction accepted (decoded), so a device can't make us hold huge images.
const MAX_INSTRUCTION: usize = 1 << 20;

/// A challenge the agent offers (a row of `ControllerTrust.Challenge.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeInfo {
    /// The row, without the trailing dot (`Device.LocalAgent.ControllerTrust.Challenge.1`):
    /// the `ChallengeRef` of `RequestChallenge()`.
    pub path: String,
    /// `Alias`, when readable.
    pub alias: Option<String>,
    /// `Description` (what to show), when readable.
    pub description: Option<String>,
    /// `Retries` (consecutive failures allowed), when readable.
    pub retries: Option<u32>,
    /// `LockoutPeriod`, when readable.
    pub lockout: Option<Duration>,
}

impl ChallengeInfo {
    /// A row known only by its path.
    pub fn at(path: impl Into<String>) -> Self {
        let path = path.into();
        Self {
            path: path.trim_end_matches('.').to_owned(),
            alias: None,
            description: None,
            retries: None,
            lockout: None,
        }
    }
}

/// What to show the user before they type the passcode.
#[derive(Clone, PartialEq, Eq)]
pub enum Instruction {
    /// Plain text.
    Text(String),
    /// HTML text (`text/html`): show it as markup in a sandbox, or as text.
    Html(String),
    /// An image (`image/jpeg`...).
    Image {
        /// Its media type.
        mime: String,
        /// The image file.
        bytes: Vec<u8>,
    },
}

impl fmt::Debug for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instruction::Text(t) => f.debug_tuple("Text").field(t).finish(),
            Instruction::Html(t) => f.debug_tuple("Html").field(t).finish(),
            Instruction::Image { mime, bytes } => {
                f.debug_struct("Image").field("mime", mime).field("len", &bytes.len()).finish()
            }
        }
    }
}

/// An outstanding challenge: show [`Challenge::instruction`], then [`respond`].
#[derive(Debug)]
pub struct Challenge {
    /// `ChallengeID`.
    pub id: String,
    /// The Challenge row.
    pub info: ChallengeInfo,
    /// What to show.
    pub instruction: Instruction,
    /// What to type (`ValueType`, `text/plain` usually).
    pub value_type: String,
    failures: AtomicU32,
}

impl Challenge {
    /// Wrong passcodes given for this challenge since it was requested.
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The challenges the agent offers: the readable rows of `ControllerTrust.Challenge.`
/// (disabled ones left out), or — when the table can't be read, as with the reference
/// agent's Untrusted role — one guessed row, `Challenge.1`.
///
/// # Errors
/// [`PairingError::Connection`] when the connection fails; [`PairingError::NotOffered`]
/// when the table is readable and every row is disabled.
pub async fn challenges(client: &Client) -> Result<Vec<ChallengeInfo>, PairingError> {
    let resp = match client.get(&[CHALLENGE_TABLE], 0).await {
        Ok(r) => r,
        Err(e) if e.usp_code().is_some() => return Ok(vec![ChallengeInfo::at(GUESSED_CHALLENGE)]),
        Err(e) => return Err(PairingError::from_client(e)),
    };
    let mut rows = Vec::new();
    let mut any = false;
    for (_, result) in resp.per_path() {
        let Ok(objects) = result else { continue };
        for obj in objects {
            let path = obj.resolved_path.trim_end_matches('.');
            let Some(instance) = path.strip_prefix(CHALLENGE_TABLE) else { continue };
            if instance.is_empty() || instance.contains('.') {
                continue;
            }
            any = true;
            let p = &obj.result_params;
            if p.get("Enable") == Some("false") {
                continue;
            }
            let nonempty = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(str::to_owned);
            rows.push(ChallengeInfo {
                path: path.to_owned(),
                alias: nonempty("Alias"),
                description: nonempty("Description"),
                retries: p.get("Retries").and_then(|v| v.trim().parse().ok()),
                lockout: p.get("LockoutPeriod").and_then(|v| v.trim().parse().ok()).map(Duration::from_secs),
            });
        }
    }
    match (rows.is_empty(), any) {
        (false, _) => Ok(rows),
        (true, true) => Err(PairingError::NotOffered),
        (true, false) => Ok(vec![ChallengeInfo::at(GUESSED_CHALLENGE)]),
    }
}

/// [`request_challenge_with`] with the agent's default expiry.
///
/// # Errors
/// See [`request_challenge_with`].
pub async fn request_challenge(client: &Client, challenge: &ChallengeInfo) -> Result<Challenge, PairingError> {
    request_challenge_with(client, challenge, None).await
}

/// Asks the agent for a challenge of row `challenge` (`RequestChallenge()`), valid for
/// `expiration` (whole seconds; `None` = the agent's default, 900 s).
///
/// # Errors
/// [`PairingError::LockedOut`] during a lock-out, [`PairingError::NotAuthorised`] when the
/// agent refuses us the command, [`PairingError::Agent`] for an unknown row, and
/// connection failures.
pub async fn request_challenge_with(
    client: &Client,
    challenge: &ChallengeInfo,
    expiration: Option<Duration>,
) -> Result<Challenge, PairingError> {
    let mut info = challenge.clone();
    if info.retries.is_none() || info.lockout.is_none() {
        // Readable for some roles (not the reference agent's Untrusted one).
        let paths = [format!("{}.Retries", info.path), format!("{}.LockoutPeriod", info.path)];
        if let Ok(resp) = client.get(&paths, 1).await {
            info.retries = info.retries.or_else(|| resp.value(&paths[0]).and_then(|v| v.trim().parse().ok()));
            info.lockout = info
                .lockout
                .or_else(|| resp.value(&paths[1]).and_then(|v| v.trim().parse().ok()).map(Duration::from_secs));
        }
    }
    let secs = expiration.map(|d| d.as_secs().max(1).to_string());
    let mut args: Vec<(&str, &str)> = vec![("ChallengeRef", info.path.as_str())];
    if let Some(s) = &secs {
        args.push(("RequestExpiration", s.as_str()));
    }
    let resp = client.operate(REQUEST_CHALLENGE, &args, "usp-home-pairing").await;
    let out = match outcome(resp) {
        Ok(out) => out,
        Err(Refused::Usp(e)) if e.code == usp_core::code::PERMISSION_DENIED => {
            return Err(PairingError::NotAuthorised { own_eid: client.own_id().clone() })
        }
        Err(Refused::Usp(e)) => return Err(PairingError::from_usp(&e, None, info.lockout)),
        Err(Refused::Other(e)) => return Err(e),
    };
    let get = |k: &str| out.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let id = get("ChallengeID").to_owned();
    if id.is_empty() {
        return Err(PairingError::Unexpected("the device gave no ChallengeID".into()));
    }
    let instruction = decode_instruction(get("Instruction"), get("InstructionType"))?;
    let value_type = match get("ValueType") {
        "" => "text/plain".to_owned(),
        v => v.to_owned(),
    };
    tracing::info!(challenge = %info.path, "challenge requested");
    Ok(Challenge { id, info, instruction, value_type, failures: AtomicU32::new(0) })
}

fn decode_instruction(b64: &str, mime: &str) -> Result<Instruction, PairingError> {
    if b64.len() > MAX_INSTRUCTION * 4 / 3 + 4 {
        return Err(PairingError::Unexpected("the pairing instruction is too large".into()));
    }
    let bytes =
        B64.decode(b64.trim()).map_err(|_| PairingError::Unexpected("the pairing instruction is not base64".into()))?;
    let mime = mime.trim().to_ascii_lowercase();
    let base = mime.split(';').next().unwrap_or("").trim().to_owned();
    let text = || {
        String::from_utf8(bytes.clone())
            .map_err(|_| PairingError::Unexpected("the pairing instruction is not text".into()))
    };
    Ok(match base.as_str() {
        "" | "text/plain" => Instruction::Text(text()?),
        "text/html" => Instruction::Html(text()?),
        m if m.starts_with("image/") => Instruction::Image { mime: base, bytes },
        other => return Err(PairingError::Unexpected(format!("unknown pairing instruction type {other:?}"))),
    })
}

/// Answers `challenge` with `passcode` (`ChallengeResponse()`, `Value` = base64 of it).
/// On success returns the role(s) the agent gave us, read anew.
///
/// # Errors
/// [`PairingError::WrongPasscode`] (with the tries left when the agent shows `Retries`;
/// the failure that uses up the last try gives [`PairingError::LockedOut`]),
/// [`PairingError::LockedOut`], [`PairingError::Expired`] (start again with
/// [`request_challenge`]), connection failures.
pub async fn respond(
    client: &Client,
    challenge: &Challenge,
    passcode: &Secret<String>,
) -> Result<RoleSummary, PairingError> {
    let value = Secret::new(B64.encode(passcode.expose().trim().as_bytes()));
    let resp = client
        .operate(
            CHALLENGE_RESPONSE,
            &[("ChallengeID", challenge.id.as_str()), ("Value", value.expose().as_str())],
            "usp-home-pairing",
        )
        .await;
    drop(value);
    match outcome(resp) {
        Ok(_) => {}
        Err(Refused::Usp(e)) => {
            let info = &challenge.info;
            if e.code == usp_core::code::COMMAND_FAILURE {
                let failures = challenge.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
                tracing::info!(challenge = %info.path, failures, "wrong passcode");
                // Without a lock-out the count of tries means nothing.
                if let (Some(retries), false) = (info.retries, info.lockout == Some(Duration::ZERO)) {
                    if retries > 0 {
                        let left = retries.saturating_sub(failures);
                        return Err(if left == 0 {
                            PairingError::LockedOut { retry_in: info.lockout }
                        } else {
                            PairingError::WrongPasscode { tries_left: Some(left) }
                        });
                    }
                }
                return Err(PairingError::WrongPasscode { tries_left: None });
            }
            return Err(match e.code {
                usp_core::code::PERMISSION_DENIED => PairingError::NotAuthorised { own_eid: client.own_id().clone() },
                _ => PairingError::from_usp(&e, None, info.lockout),
            });
        }
        Err(Refused::Other(e)) => return Err(e),
    }
    challenge.failures.store(0, Ordering::Relaxed);
    tracing::info!(challenge = %challenge.info.path, "paired");
    read_role(client).await.map_err(PairingError::from_client)
}

enum Refused {
    Usp(usp_core::UspError),
    Other(PairingError),
}

/// The output arguments of a synchronous command, or why it failed.
fn outcome(resp: Result<OperateResp, ClientError>) -> Result<Vec<(String, String)>, Refused> {
    let resp = match resp {
        Ok(r) => r,
        Err(ClientError::Usp(e)) => return Err(Refused::Usp(e)),
        Err(e) => return Err(Refused::Other(PairingError::from_client(e))),
    };
    let outcomes = resp.outcomes();
    match outcomes.into_iter().next() {
        Some((_, CommandOutcome::Done(args))) => Ok(args.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()),
        Some((_, CommandOutcome::Failed(e))) => Err(Refused::Usp(e)),
        Some((_, CommandOutcome::Started(p))) => {
            Err(Refused::Other(PairingError::Unexpected(format!("the device ran the command asynchronously ({p})"))))
        }
        None => Err(Refused::Other(PairingError::Unexpected("the device ran no command".into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_are_decoded() {
        let t = decode_instruction(&B64.encode("Enter the code"), "text/plain").expect("text");
        assert_eq!(t, Instruction::Text("Enter the code".into()));
        let i = decode_instruction(&B64.encode([0xff, 0xd8]), "image/jpeg").expect("image");
        assert_eq!(i, Instruction::Image { mime: "image/jpeg".into(), bytes: vec![0xff, 0xd8] });
        assert!(decode_instruction("***", "text/plain").is_err());
        assert!(decode_instruction(&B64.encode([0xff]), "text/plain").is_err());
    }
}
