//! The firmware card's rules, free of I/O: image slots from what a device reported, their state
//! in words, which slot an update goes to, and what a failed download means.

use ipc_types::FirmwareImage;

use crate::home::device_text;
use crate::params::Params;

/// The firmware image table.
pub const TABLE: &str = "Device.DeviceInfo.FirmwareImage.";
/// At most this many images are shown.
const MAX_IMAGES: usize = 32;

/// The parameters [`images`] reads.
pub const PATHS: [&str; 7] = [
    "Device.DeviceInfo.FirmwareImage.*.Name",
    "Device.DeviceInfo.FirmwareImage.*.Version",
    "Device.DeviceInfo.FirmwareImage.*.Status",
    "Device.DeviceInfo.FirmwareImage.*.Available",
    "Device.DeviceInfo.ActiveFirmwareImage",
    "Device.DeviceInfo.BootFirmwareImage",
    "Device.DeviceInfo.SoftwareVersion",
];

/// A TR-181 `FirmwareImage.{i}.Status` in words.
pub fn status_words(status: &str, active: bool) -> String {
    if active {
        return "In use".to_owned();
    }
    match status {
        "NoImage" | "" => "Empty".to_owned(),
        "Active" => "In use".to_owned(),
        "Available" => "Ready".to_owned(),
        "Downloading" => "Receiving an image…".to_owned(),
        "Validating" => "Checking an image…".to_owned(),
        "DownloadFailed" => "Empty: the last transfer failed".to_owned(),
        "ValidationFailed" => "Empty: the last image was refused".to_owned(),
        "InstallationFailed" => "Empty: the last image could not be installed".to_owned(),
        "ActivationFailed" => "Did not start".to_owned(),
        other => device_text(other, 32),
    }
}

/// The device's images from `p` (a Get of [`PATHS`]).
pub fn images(p: &Params) -> Vec<FirmwareImage> {
    let reference =
        |name: &str| p.raw(&format!("Device.DeviceInfo.{name}")).map(|r| r.trim().trim_end_matches('.').to_owned());
    let (active, boot) = (reference("ActiveFirmwareImage"), reference("BootFirmwareImage"));
    p.instances(TABLE)
        .into_iter()
        .take(MAX_IMAGES)
        .map(|row| {
            let path = row.trim_end_matches('.').to_owned();
            let text = |name: &str| p.text(&row, name).map(|v| device_text(&v, 128)).unwrap_or_default();
            let status = text("Status");
            let is_active = active.as_deref() == Some(path.as_str()) || status == "Active";
            // Older agents leave out `Available`: a slot that says it holds an image has one.
            let available = p.bool(&row, "Available").unwrap_or(matches!(status.as_str(), "Available" | "Active"));
            FirmwareImage {
                active: is_active,
                boot: boot.as_deref() == Some(path.as_str()),
                name: text("Name"),
                version: text("Version"),
                state: status_words(&status, is_active),
                available: available && !matches!(status.as_str(), "Downloading" | "Validating"),
                status,
                path,
            }
        })
        .collect()
}

/// The slot a new image goes to: not the one in use, the device's next boot preferred last;
/// `None` when every slot is in use (a device with a single image).
pub fn update_slot(images: &[FirmwareImage]) -> Option<&FirmwareImage> {
    let free = images.iter().filter(|i| !i.active && !matches!(i.status.as_str(), "Downloading" | "Validating"));
    free.min_by_key(|i| (i.boot, i.available))
}

/// What a failed download's TR-181 Status (or a `ValidationFailed: …` reason) means.
pub fn failure_words(status_or_reason: &str) -> &'static str {
    let s = status_or_reason;
    if s.contains("ValidationFailed") {
        "the device checked the image and refused it"
    } else if s.contains("InstallationFailed") {
        "the device could not install the image"
    } else {
        "the transfer of the image to the device failed"
    }
}

/// `12_345_678` bytes → "12.3 MB".
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb < 10.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{mb:.0} MB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().copied())
    }

    #[test]
    fn slots_and_the_one_an_update_goes_to() {
        let p = params(&[
            ("Device.DeviceInfo.FirmwareImage.1.Name", "gw-6.2.1.bin"),
            ("Device.DeviceInfo.FirmwareImage.1.Version", "6.2.1"),
            ("Device.DeviceInfo.FirmwareImage.1.Status", "Active"),
            ("Device.DeviceInfo.FirmwareImage.1.Available", "true"),
            ("Device.DeviceInfo.FirmwareImage.2.Version", "6.0.0"),
            ("Device.DeviceInfo.FirmwareImage.2.Status", "Available"),
            ("Device.DeviceInfo.FirmwareImage.2.Available", "true"),
            ("Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1"),
            ("Device.DeviceInfo.BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.1."),
        ]);
        let i = images(&p);
        assert_eq!(i.len(), 2);
        assert!(i[0].active && i[0].boot && i[0].available);
        assert_eq!((i[0].state.as_str(), i[1].state.as_str()), ("In use", "Ready"));
        assert!(!i[1].active && i[1].available);
        assert_eq!(update_slot(&i).map(|s| s.path.as_str()), Some("Device.DeviceInfo.FirmwareImage.2"));
        assert!(update_slot(&i[..1]).is_none(), "a single image in use leaves no slot");
    }

    #[test]
    fn hostile_values_are_words() {
        let p = params(&[
            ("Device.DeviceInfo.FirmwareImage.1.Status", "\u{202e}weird\u{7}"),
            ("Device.DeviceInfo.FirmwareImage.1.Available", "maybe"),
        ]);
        let i = images(&p);
        assert_eq!(i[0].state, "weird");
        assert!(!i[0].available);
        assert_eq!(status_words("ValidationFailed", false), "Empty: the last image was refused");
        assert_eq!(
            failure_words("ValidationFailed: the checksum does not match"),
            "the device checked the image and refused it"
        );
        assert_eq!(megabytes(3_400_000), "3.4 MB");
    }
}
