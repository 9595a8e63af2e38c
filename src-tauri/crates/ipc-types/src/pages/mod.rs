//! DTOs of the app's pages, one module per page of the UI (`ui/src/pages/<page>.rs`). Every page
//! reads one `*View` (re-fetched when a [`crate::live::LiveEvent::Changed`] names its
//! [`crate::live::Topic`]) and changes things with small commands (declared in
//! [`crate::commands`]). Agents are addressed by their Endpoint ID string (`agent`), objects by
//! their full instance path on that agent (`Device.WiFi.SSID.3`), never by display names.

pub mod agent;
pub mod alerts;
pub mod explorer;
pub mod firmware;
pub mod guest;
pub mod history;
pub mod home;
pub mod hosts;
pub mod mesh;
pub mod pair;
pub mod parental;
pub mod settings;
pub mod smart;
pub mod wifi;
