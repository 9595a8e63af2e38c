//! What a homeowner does with the agents of a home, independent of Tauri: the use-cases the app
//! shell exposes as commands (inventory, pairing, WiFi, guest network, mesh, devices) and what
//! they rely on, starting with the [`vault`] that keeps this install's secrets (its private key,
//! pinned agent certificates, remembered passcodes, WiFi passphrases) in the platform's keyring or
//! an encrypted file, carried in memory as [`secret::Secret`] values that can't be logged or
//! serialised by accident.
//!
//! One folder per feature (`wifi`, `guest`, `hosts` for the devices on the LAN, `parental`,
//! `mesh`, `smart`): its `mod.rs` holds the page's use-cases (`impl Home`, the requests) and its
//! `rules.rs` the logic free of I/O, unit-tested on plain data: from the parameters an agent
//! reported to the DTOs the UI shows, and from the user's intent to the parameters to set. Every
//! rule reads agent data through [`params::Params`], which tolerates anything an agent may send
//! (missing parameters, values of the wrong type, absurdly long tables): it skips what it can't
//! understand (or shows it as unknown) and never panics. [`home`] is the app state (agents,
//! connections, pairing, live updates, the settings file); `agent_io` the requests every feature
//! makes to an agent. *Agent* = a gateway, extender or hub we talk USP to; *host* = a device on
//! the LAN that an agent reports.

mod agent_details;
mod agent_io;
pub mod alerts;
pub mod autostart;
mod explorer;
pub mod firmware;
pub mod guest;
pub mod home;
pub mod hosts;
pub mod identity;
pub mod instance;
pub mod mesh;
pub mod pairing;
pub mod params;
pub mod parental;
pub mod platform;
pub mod qr;
pub mod secret;
mod settings;
pub mod smart;
pub mod speedtest;
pub mod usage;
pub mod vault;
pub mod wifi;
