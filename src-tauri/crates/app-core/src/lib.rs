//! What a homeowner does with the agents of a home, independent of Tauri: the use-cases the app
//! shell exposes as commands (inventory, pairing, WiFi, guest network, mesh, devices) and what
//! they rely on, starting with the [`vault`] that keeps this install's secrets (its private key,
//! pinned agent certificates, remembered passcodes, WiFi passphrases) in the platform's keyring or
//! an encrypted file, carried in memory as [`secret::Secret`] values that can't be logged or
//! serialised by accident.

mod agent_io;
pub mod features;
pub mod home;
pub mod identity;
pub mod pairing;
pub mod platform;
pub mod secret;
pub mod vault;
