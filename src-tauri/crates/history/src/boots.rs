//! Each router's last known boot, kept across runs of the app, so that a router that restarted
//! while the app was closed is noticed at the next start: [`Store::agent_boot`] and
//! [`Store::record_agent_boot`]. The caller works the boot time out from the device's UpTime.

use rusqlite::{params, OptionalExtension};

use crate::store::MAX_TS;
use crate::{Result, Store};

/// Agents remembered at most; beyond, the least recently seen is forgotten.
pub const MAX_AGENT_BOOTS: u32 = 1000;
/// The longest agent identifier (USP Endpoint ID) kept, in bytes.
const MAX_AGENT_BYTES: usize = 256;

/// What the store remembers of an agent's boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentBoot {
    /// When it booted, Unix seconds (when its UpTime was read, minus that UpTime).
    pub boot: i64,
    /// When it was last seen running since that boot, Unix seconds.
    pub seen: i64,
}

fn valid_agent(agent: &str) -> bool {
    !agent.is_empty() && agent.len() <= MAX_AGENT_BYTES && !agent.chars().any(char::is_control)
}

impl Store {
    /// The last boot recorded for `agent`, if any.
    pub fn agent_boot(&self, agent: &str) -> Result<Option<AgentBoot>> {
        Ok(self
            .conn
            .prepare_cached("SELECT boot, seen FROM agent_boot WHERE agent = ?1")?
            .query_row([agent], |r| Ok(AgentBoot { boot: r.get(0)?, seen: r.get(1)? }))
            .optional()?)
    }

    /// Remembers that `agent` was seen at `b.seen` running since `b.boot`, replacing what was
    /// known. Returns false (nothing kept) for an empty, over-long or control-character agent,
    /// or times outside 1970..3000 or a boot after the time seen. At most [`MAX_AGENT_BOOTS`]
    /// agents are kept: the least recently seen go first.
    pub fn record_agent_boot(&mut self, agent: &str, b: AgentBoot) -> Result<bool> {
        if !valid_agent(agent) || !(0..MAX_TS).contains(&b.seen) || !(0..=b.seen).contains(&b.boot) {
            return Ok(false);
        }
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO agent_boot (agent, boot, seen) VALUES (?1, ?2, ?3) \
             ON CONFLICT (agent) DO UPDATE SET boot = excluded.boot, seen = excluded.seen",
        )?
        .execute(params![agent, b.boot, b.seen])?;
        tx.prepare_cached(
            "DELETE FROM agent_boot WHERE agent IN \
             (SELECT agent FROM agent_boot ORDER BY seen DESC, agent LIMIT -1 OFFSET ?1)",
        )?
        .execute([MAX_AGENT_BOOTS])?;
        tx.commit()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn boots_are_kept_replaced_checked_and_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, _) = Store::open(dir.path(), Config::default(), 0).expect("open");
        assert_eq!(s.agent_boot("gw").expect("read"), None);
        assert!(s.record_agent_boot("gw", AgentBoot { boot: 1000, seen: 5000 }).expect("write"));
        assert!(s.record_agent_boot("gw", AgentBoot { boot: 6000, seen: 7000 }).expect("write"));
        assert_eq!(s.agent_boot("gw").expect("read"), Some(AgentBoot { boot: 6000, seen: 7000 }));
        for (agent, b) in [
            ("", AgentBoot { boot: 1, seen: 2 }),
            ("x\n", AgentBoot { boot: 1, seen: 2 }),
            (&"x".repeat(300), AgentBoot { boot: 1, seen: 2 }),
            ("gw", AgentBoot { boot: -5, seen: 2 }),
            ("gw", AgentBoot { boot: 9, seen: 2 }),
            ("gw", AgentBoot { boot: 1, seen: i64::MAX }),
        ] {
            assert!(!s.record_agent_boot(agent, b).expect("refused, not failed"), "{agent:?} {b:?}");
        }
        assert_eq!(s.agent_boot("gw").expect("read"), Some(AgentBoot { boot: 6000, seen: 7000 }));
        for i in 0..i64::from(MAX_AGENT_BOOTS) + 50 {
            s.record_agent_boot(&format!("a{i}"), AgentBoot { boot: 10, seen: 10_000 + i }).expect("write");
        }
        let n: i64 = s.conn.query_row("SELECT count(*) FROM agent_boot", [], |r| r.get(0)).expect("count");
        assert_eq!(n, i64::from(MAX_AGENT_BOOTS));
        assert_eq!(s.agent_boot("gw").expect("read"), None, "the least recently seen went first");
        assert!(s.agent_boot(&format!("a{}", MAX_AGENT_BOOTS + 49)).expect("read").is_some());
    }
}
