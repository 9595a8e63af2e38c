//! The Parental page: bedtime schedules and the other access rules, by weekday.

use serde::{Deserialize, Serialize};

/// TR-181 day names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// The TR-181 string (`Monday`).
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }
}

/// Who made an access rule (TR-181 `Origin`, 2.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOrigin {
    /// Created by this app.
    Ours,
    /// Created by another controller, the router's UI or the system.
    Other,
}

/// How the agent stores schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleModel {
    /// `Device.Schedules.Schedule.{i}` + `AccessControl.{i}.ScheduleRef` (TR-181 2.18).
    Schedules,
    /// `Device.Hosts.AccessControl.{i}.Schedule.{i}` (2.14-2.17).
    Legacy,
    /// The agent has no schedules.
    None,
}

/// A bedtime: no internet for `mac` from `start` for `duration_mins` on `days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bedtime {
    /// Stable id for deletion (the AccessControl or Schedule path with its agent).
    pub id: String,
    pub agent: String,
    pub mac: String,
    pub device_name: String,
    pub days: Vec<Weekday>,
    /// `hh:mm` local time.
    pub start: String,
    /// `hh:mm` local time (may be the next day).
    pub end: String,
    pub enabled: bool,
    pub origin: RuleOrigin,
    /// Extra time given tonight: the device's own time (`hh:mm`) when this bedtime starts
    /// after all.
    #[serde(default)]
    pub extra_until: Option<String>,
}

/// A pause or allow rule that is not a bedtime we understand (shown read-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    pub agent: String,
    pub path: String,
    pub mac: String,
    pub device_name: String,
    /// `Allow` or `Deny`.
    pub policy: String,
    pub enabled: bool,
    pub origin: RuleOrigin,
    pub summary: String,
}

/// The Parental page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentalView {
    pub model: ScheduleModel,
    pub bedtimes: Vec<Bedtime>,
    pub other_rules: Vec<AccessRule>,
    /// Names of paired devices that don't offer this page's settings to usp-home (their data
    /// model lacks the objects, or our role may not see them).
    #[serde(default)]
    pub not_offered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedtimeCreate {
    pub mac: String,
    pub days: Vec<Weekday>,
    /// `hh:mm`
    pub start: String,
    /// `hh:mm`; before `start` means the next morning.
    pub end: String,
}

/// More minutes before a bedtime starts tonight (or, during it, from now), enforced by the
/// gateway; the bedtime is back to normal afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedtimeExtra {
    pub id: String,
    /// 1 to 240.
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedtimeDelete {
    pub id: String,
}
