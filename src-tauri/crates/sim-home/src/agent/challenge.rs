//! The passcode challenge (`ControllerTrust.RequestChallenge()` / `ChallengeResponse()`,
//! spec-notes §8.3): one outstanding challenge per controller, base64 values, consecutive
//! failures counted per Challenge row across controllers, lock-out, expiry.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::dm::is_row_path;
use super::value::{self, split_list};
use super::{err, Agent, Caller, UspErr};

const CHALLENGES: &str = "Device.LocalAgent.ControllerTrust.Challenge.";
/// Default `RequestExpiration` (seconds).
pub const DEFAULT_EXPIRATION: u64 = 900;

/// Challenge state that is not part of the data model.
#[derive(Clone, Debug, Default)]
pub struct Challenges {
    pending: Vec<Pending>,
    rows: BTreeMap<String, RowState>,
    seq: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    id: String,
    /// Controller row that asked.
    controller: String,
    /// Challenge row.
    challenge: String,
    expires: Option<SystemTime>,
}

#[derive(Clone, Debug, Default)]
struct RowState {
    failures: u32,
    locked_until: Option<SystemTime>,
}

impl Challenges {
    /// Earliest expiry of an outstanding challenge.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        self.pending.iter().filter_map(|p| p.expires).min()
    }

    /// Forgets expired challenges.
    pub fn expire(&mut self, now: SystemTime) {
        self.pending.retain(|p| p.expires.is_none_or(|e| e > now));
    }

    fn locked(&mut self, challenge: &str, now: SystemTime) -> bool {
        let Some(st) = self.rows.get_mut(challenge) else {
            return false;
        };
        match st.locked_until {
            Some(t) if t > now => true,
            Some(_) => {
                st.locked_until = None;
                false
            }
            None => false,
        }
    }
}

impl Agent {
    pub(super) fn request_challenge(
        &mut self,
        caller: &Caller,
        args: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, UspErr> {
        let now = self.now();
        let reference = args.get("ChallengeRef").map(String::as_str).unwrap_or("");
        let row = format!("{}.", reference.trim().trim_end_matches('.'));
        let (schema, dm) = (&self.schema, &self.dm);
        let valid = row.starts_with(CHALLENGES)
            && is_row_path(&row)
            && dm.exists(&row)
            && dm.raw_by_name(schema, &row, "Enable") == Some("true");
        if !valid {
            return Err(err(7012, format!("ChallengeRef {reference:?} is not an enabled Challenge instance")));
        }
        let expiration = match args.get("RequestExpiration") {
            None => DEFAULT_EXPIRATION,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| err(7027, format!("RequestExpiration {v:?} is not a number of seconds")))?
                .min(u32::MAX as u64),
        };
        let get = |n: &str| dm.raw_by_name(schema, &row, n).unwrap_or("").to_owned();
        let out = BTreeMap::from([
            ("Instruction".to_owned(), get("Instruction")),
            ("InstructionType".to_owned(), get("InstructionType")),
            ("ValueType".to_owned(), get("ValueType")),
        ]);
        let st = &mut self.challenges;
        if st.locked(&row, now) {
            return Err(err(7002, "too many failed attempts: challenge locked, try again later"));
        }
        st.expire(now);
        if st.pending.iter().any(|p| p.controller == caller.row && p.challenge != row) {
            return Err(err(7002, "another challenge is already outstanding for this controller"));
        }
        st.pending.retain(|p| p.controller != caller.row);
        st.seq += 1;
        let id = format!("Challenge-{}-{}", value::unix_secs(now), st.seq);
        st.pending.push(Pending {
            id: id.clone(),
            controller: caller.row.clone(),
            challenge: row,
            expires: (expiration > 0).then(|| value::add_secs(now, expiration)),
        });
        let mut out = out;
        out.insert("ChallengeID".to_owned(), id);
        Ok(out)
    }

    pub(super) fn challenge_response(
        &mut self,
        caller: &Caller,
        args: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, UspErr> {
        let now = self.now();
        let id = args.get("ChallengeID").map(String::as_str).unwrap_or("");
        self.challenges.expire(now);
        let Some(pending) = self.challenges.pending.iter().find(|p| p.id == id && p.controller == caller.row).cloned()
        else {
            return Err(err(7012, format!("unknown or expired ChallengeID {id:?}")));
        };
        if self.challenges.locked(&pending.challenge, now) {
            return Err(err(7002, "too many failed attempts: challenge locked, try again later"));
        }
        let given = args.get("Value").map(String::as_str).unwrap_or("");
        let given = value::decode_base64(given).ok_or_else(|| err(7027, "Value is not base64"))?;
        let (schema, dm) = (&self.schema, &self.dm);
        let get = |n: &str| dm.raw_by_name(schema, &pending.challenge, n).unwrap_or("").to_owned();
        let expected = value::decode_base64(&get("Value")).unwrap_or_default();
        if expected.is_empty() || given != expected {
            let retries: u32 = get("Retries").parse().unwrap_or(0);
            let lockout: u64 = get("LockoutPeriod").parse().unwrap_or(0);
            let st = self.challenges.rows.entry(pending.challenge.clone()).or_default();
            st.failures += 1;
            if retries > 0 && st.failures >= retries && lockout > 0 {
                st.failures = 0;
                st.locked_until = Some(value::add_secs(now, lockout));
                let locked = pending.challenge.clone();
                self.challenges.pending.retain(|p| p.challenge != locked);
            }
            return Err(err(7022, "invalid passcode"));
        }
        // Success: the challenge's roles replace the untrusted role.
        let roles_granted = get("Role");
        let untrusted: Vec<String> =
            split_list(dm.raw_by_name(schema, "Device.LocalAgent.ControllerTrust.", "UntrustedRole").unwrap_or(""))
                .iter()
                .map(|r| r.trim_end_matches('.').to_owned())
                .collect();
        let current = dm.raw_by_name(schema, &caller.row, "AssignedRole").unwrap_or("").to_owned();
        let mut roles: Vec<String> = split_list(&current)
            .iter()
            .map(|r| r.trim_end_matches('.').to_owned())
            .filter(|r| !untrusted.contains(r))
            .collect();
        for r in split_list(&roles_granted) {
            let r = r.trim_end_matches('.').to_owned();
            if !roles.contains(&r) {
                roles.push(r);
            }
        }
        self.challenges.rows.remove(&pending.challenge);
        self.challenges.pending.retain(|p| p.id != pending.id);
        self.dm.set_by_name(&self.schema, &caller.row, "AssignedRole", &roles.join(","));
        Ok(BTreeMap::new())
    }
}
