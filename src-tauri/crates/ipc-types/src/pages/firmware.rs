//! The Firmware card of the Device page: a device's firmware images
//! (`DeviceInfo.FirmwareImage.{i}`), an update from an image file on this computer, and the
//! restart on another image (the new one, or back to the previous one) after a confirmation.

use serde::{Deserialize, Serialize};

use super::agent::FirmwareImage;

/// A device's firmware, as far as our role may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareView {
    pub agent: String,
    /// The device's display name.
    pub name: String,
    /// What it runs now (`DeviceInfo.SoftwareVersion`), or "" when it doesn't say.
    pub running: String,
    /// Its image slots, in table order.
    pub images: Vec<FirmwareImage>,
    /// Whether usp-home may put a new image on it (a slot not in use, and `Download()` allowed).
    pub can_update: bool,
    /// Why it can't, or anything else to know, in words.
    pub note: Option<String>,
}

/// Update from a file: the image file on this computer (a full path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareUpdate {
    pub agent: String,
    pub file: String,
}

/// An image file the person chose in the system's file dialog (`firmware_pick`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareFile {
    /// Its full path, as `FirmwareUpdate::file` takes it.
    pub path: String,
    /// Its file name ("router-7.0.bin").
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The size in words ("2.0 MB").
    pub size_text: String,
}

/// A finished download: the image waits in `image` until the person confirms the restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareUpdated {
    /// The slot that holds the new image (`Device.DeviceInfo.FirmwareImage.2`).
    pub image: String,
    /// Its version, as the device read it.
    pub version: String,
    /// What happened and what comes next, in words.
    pub message: String,
    pub view: FirmwareView,
}

/// Restart the device on one of its images (the new one, or back to the previous one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareActivate {
    pub agent: String,
    /// `Device.DeviceInfo.FirmwareImage.N`.
    pub image: String,
}
