//! `impl Home` for the Smart home page: `IoTCapability` rows of every paired agent as switches,
//! sliders, choices and sensors, grouped by agent and Node; `thing_set` changes one control.

pub mod rules;

use ipc_types::{SmartHomeView, Thing, ThingSet, Topic};

use crate::agent_io::{get_params, per_agent, set_params, supported};
use crate::home::{AppError, AppResult, Home};
use crate::smart::rules as logic;

/// `Device.IoTCapability.3`, `Device.Node.1.IoTCapability.2`, ... only.
fn check_thing_path(path: &str) -> AppResult<()> {
    let ok = path.starts_with("Device.")
        && path.len() <= 256
        && path
            .rsplit_once(".IoTCapability.")
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && path.split('.').all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!("\"{path}\" is not a smart-home control.")))
    }
}

impl Home {
    /// `smart_home`: every control and sensor, grouped by agent / Node.
    ///
    /// # Errors
    /// None in practice (agents that fail are left out).
    pub async fn smart_home(&self) -> AppResult<SmartHomeView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.smart_home_inner()).await
    }

    async fn smart_home_inner(&self) -> AppResult<SmartHomeView> {
        let loaded = per_agent(self.paired().await, "smart home", |conn| async move {
            let p = get_params(&conn, &logic::GET_PATHS, "show smart-home devices").await?;
            if logic::capability_paths(&p).is_empty() {
                return Ok(Vec::new());
            }
            let dm = supported(&conn, &logic::GET_PATHS).await;
            Ok(logic::groups(&p, &conn.eid, &conn.name, dm.as_ref()))
        })
        .await;
        Ok(SmartHomeView {
            groups: loaded.into_iter().flat_map(|(_, g)| g).collect(),
            not_offered: self.not_offering("IoTCapability"),
        })
    }

    /// `thing_set`: validates the value against the control (on/off, number within min/max on
    /// the step grid, one of the options), sets `Value`, and returns the control as read back.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] with what is expected; agent errors in words.
    pub async fn thing_set(&self, args: ThingSet) -> AppResult<Thing> {
        let who = args.agent.clone();
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.thing_set_inner(args)).await
    }

    async fn thing_set_inner(&self, args: ThingSet) -> AppResult<Thing> {
        check_thing_path(&args.path)?;
        let conn = self.conn(&args.agent).await?;
        let obj = format!("{}.", args.path);
        let read = |action| {
            let (conn, obj) = (conn.clone(), obj.clone());
            async move { get_params(&conn, &[obj.as_str()], action).await }
        };
        let p = read("read smart-home devices").await?;
        let dm = supported(&conn, &[obj.as_str()]).await;
        let thing_in = |p: &crate::params::Params| {
            logic::thing(p, &conn.eid, &obj, dm.as_ref())
                .ok_or_else(|| AppError::NotFound("That smart-home control no longer exists.".into()))
        };
        let thing = thing_in(&p)?;
        let (param, value) = logic::set_value(&thing, &args.value).map_err(AppError::InvalidInput)?;
        set_params(&conn, &[(param, value)], "control smart-home devices").await?;
        let fresh = thing_in(&read("read smart-home devices").await?)?;
        self.changed(&[Topic::SmartHome]);
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_capability_paths_are_accepted() {
        assert!(check_thing_path("Device.IoTCapability.3").is_ok());
        assert!(check_thing_path("Device.Node.1.IoTCapability.2").is_ok());
        for bad in [
            "Device.IoTCapability.",
            "Device.WiFi.SSID.1",
            "Device.IoTCapability.[Name==\"x\"]",
            "Device.IoTCapability.1.BinaryControl",
        ] {
            assert!(check_thing_path(bad).is_err(), "{bad}");
        }
    }
}
