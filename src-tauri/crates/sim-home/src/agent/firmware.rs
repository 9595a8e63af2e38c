//! Firmware: `Device.DeviceInfo.FirmwareImage.{i}.Download()` fetches an image over HTTP
//! ([`crate::transfer`]) from the URL given, with the Username / Password given (Basic
//! authentication; never logged), checks `FileSize` and `CheckSum` (`SHA-1`, `SHA-256`,
//! `SHA-384` or `SHA-512`) when they are given (both optional in TR-181; `FileSize` 0 = not
//! given), and reads the image's version from its first line:
//!
//! ```text
//! usp-sim-home-firmware <version>
//! ```
//!
//! (any bytes may follow the line break). The image's `Status` goes `Downloading` →
//! `Available`, or `DownloadFailed` (unreachable, HTTP error, interrupted transfer, over
//! [`MAX_IMAGE`]) or `ValidationFailed` (size, checksum, not an image), and
//! `Device.LocalAgent.TransferComplete!` reports the outcome (FaultCode 0, or 7022 with
//! the reason in FaultString). The active image cannot be overwritten.
//!
//! `Activate()` (or `AutoActivate`) restarts the agent on the image: the connections are
//! closed (1001), volatile state goes as in Reboot(), `SoftwareVersion`,
//! `ActiveFirmwareImage` and `BootFirmwareImage` follow the image, and `Device.Boot!`
//! (`FirmwareUpdated` true) waits for each controller to reconnect. With two images,
//! activating the other one is "switch back".

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::dm::Loc;
use super::job::{Finish, Job};
use super::operate::arg_u64;
use super::value;
use super::{err, Agent, Caller, PendingOp, UspErr};
use crate::transfer::{self, HttpUrl, Limits, TransferError};

/// The first line of every image: this, a space, the version.
pub const IMAGE_MAGIC: &str = "usp-sim-home-firmware";
/// Largest image accepted.
pub const MAX_IMAGE: u64 = 64 << 20;
/// From Activate() to the restart.
const ACTIVATE_DELAY_MS: u64 = 200;
const LIMITS: Limits =
    Limits { connect: Duration::from_secs(10), total: Duration::from_secs(120), max_body: MAX_IMAGE, stop_after: None };
/// TransferComplete! FaultCode of a failed download.
const FAULT: u32 = 7022;

/// The version in an image's first line, if it is one.
pub fn image_version(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let version = line.strip_prefix(IMAGE_MAGIC)?.strip_prefix(' ')?.trim();
    let ok = !version.is_empty() && version.len() <= 64 && version.chars().all(|c| c.is_ascii_graphic());
    ok.then(|| version.to_owned())
}

fn digest_algorithm(name: &str) -> Result<&'static ring::digest::Algorithm, UspErr> {
    match name.trim() {
        "SHA-1" => Ok(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
        "SHA-256" => Ok(&ring::digest::SHA256),
        "SHA-384" => Ok(&ring::digest::SHA384),
        "SHA-512" => Ok(&ring::digest::SHA512),
        other => {
            Err(err(7027, format!("CheckSumAlgorithm {other:?} is not supported (SHA-1, SHA-256, SHA-384, SHA-512)")))
        }
    }
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// What a download must be, kept for its end.
struct Expect {
    image: String,
    url: String,
    size: u64,
    /// `None`: no CheckSum was given.
    checksum: Option<Vec<u8>>,
    auto_activate: bool,
    requestor: String,
    command: String,
    key: String,
    start: SystemTime,
}

impl Agent {
    pub(super) fn start_firmware_download(
        &mut self,
        caller: &Caller,
        loc: &Loc,
        key: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<String, UspErr> {
        let image = loc.path.trim_end_matches('.').to_owned();
        let active = self.dm.raw_by_name(&self.schema, "Device.DeviceInfo.", "ActiveFirmwareImage").unwrap_or("");
        if active.trim_end_matches('.') == image {
            return Err(err(7022, format!("{image} is the active image: download to the other one")));
        }
        if self.ops.iter().any(|o| o.obj == loc.path) {
            return Err(err(7022, format!("{image} is busy with another download or activation")));
        }
        let get = |n: &str| args.get(n).map(String::as_str).unwrap_or("");
        let url_text = get("URL");
        let url = HttpUrl::parse(url_text).map_err(|e| err(7027, format!("URL: {e}")))?;
        let auto_activate = match get("AutoActivate") {
            "true" | "1" => true,
            "false" | "0" | "" => false,
            other => return Err(err(7027, format!("AutoActivate {other:?} is not a boolean"))),
        };
        let size = arg_u64(args, "FileSize", 0, 0, MAX_IMAGE)?;
        // Both or neither (TR-181: optional; without them only the image's own header is checked).
        let checksum = match (get("CheckSumAlgorithm").trim(), get("CheckSum").trim()) {
            ("", "") => None,
            (_, "") => return Err(err(7027, "CheckSumAlgorithm without a CheckSum")),
            ("", _) => return Err(err(7027, "a CheckSum needs its CheckSumAlgorithm")),
            (name, sum) => {
                let algorithm = digest_algorithm(name)?;
                let sum = parse_hex(sum)
                    .filter(|c| c.len() == algorithm.output_len())
                    .ok_or_else(|| err(7027, format!("CheckSum must be {} hex digits", algorithm.output_len() * 2)))?;
                Some((algorithm, sum))
            }
        };
        let algorithm = checksum.as_ref().map(|(a, _)| *a);
        let checksum = checksum.map(|(_, c)| c);
        let (user, pass) = (get("Username").to_owned(), get("Password").to_owned());
        let control = user.chars().chain(pass.chars()).any(char::is_control);
        if user.len() > 256 || pass.len() > 256 || user.contains(':') || control {
            return Err(err(7027, "Username and Password: at most 256 characters, no ':' in the user name"));
        }
        let expect = Expect {
            image: image.clone(),
            url: url_text.trim().to_owned(),
            size,
            checksum,
            auto_activate,
            requestor: caller.row.trim_end_matches('.').to_owned(),
            command: format!("{}Download()", loc.path),
            key: key.to_owned(),
            start: self.now(),
        };
        let job = Job::spawn(async move {
            let auth = (!user.is_empty() || !pass.is_empty()).then_some((user.as_str(), pass.as_str()));
            let got = transfer::download(&url, auth, algorithm, LIMITS).await;
            let finish: Finish = Box::new(move |agent: &mut Agent| agent.finish_download(expect, got));
            finish
        })?;
        let row = self.start_job(caller, loc, "Download", key, job)?;
        self.dm.set_by_name(&self.schema, &loc.path, "Status", "Downloading");
        self.dm.set_by_name(&self.schema, &loc.path, "Available", "false");
        Ok(row)
    }

    fn finish_download(
        &mut self,
        x: Expect,
        got: Result<transfer::Download, TransferError>,
    ) -> Result<BTreeMap<String, String>, UspErr> {
        let path = format!("{}.", x.image);
        let outcome = match got {
            Err(e) => Err(("DownloadFailed", e.to_string())),
            Ok(d) if x.size > 0 && d.body_bytes != x.size => {
                Err(("ValidationFailed", format!("the file has {} bytes, not the {} announced", d.body_bytes, x.size)))
            }
            Ok(d) if x.checksum.is_some() && d.digest != x.checksum => {
                Err(("ValidationFailed", "the checksum does not match the file".to_owned()))
            }
            Ok(d) => image_version(&d.head).ok_or((
                "ValidationFailed",
                format!("not a firmware image (its first line must be \"{IMAGE_MAGIC} <version>\")"),
            )),
        };
        let (fault, fault_string) = match &outcome {
            Ok(version) => {
                let file = x.url.rsplit('/').next().unwrap_or("").split('?').next().unwrap_or("");
                let name: String = if file.is_empty() { version.clone() } else { file.chars().take(64).collect() };
                for (k, v) in
                    [("Name", name.as_str()), ("Version", version), ("Status", "Available"), ("Available", "true")]
                {
                    self.dm.set_by_name(&self.schema, &path, k, v);
                }
                self.dm.set_by_name(&self.schema, &path, "BootFailureLog", "");
                (0, String::new())
            }
            Err((status, why)) => {
                for (k, v) in [("Name", ""), ("Version", ""), ("Status", *status), ("Available", "false")] {
                    self.dm.set_by_name(&self.schema, &path, k, v);
                }
                (FAULT, format!("{status}: {why}"))
            }
        };
        let params = BTreeMap::from(
            [
                ("Command", x.command.clone()),
                ("CommandKey", x.key.clone()),
                ("Requestor", x.requestor.clone()),
                ("TransferType", "Download".to_owned()),
                ("Affected", x.image.clone()),
                ("TransferURL", x.url.clone()),
                ("StartTime", value::format_datetime(x.start)),
                ("CompleteTime", value::format_datetime(self.now())),
                ("FaultCode", fault.to_string()),
                ("FaultString", fault_string.clone()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        self.emit_event("Device.LocalAgent.", "TransferComplete", params);
        if outcome.is_err() {
            return Err(err(FAULT, fault_string));
        }
        if x.auto_activate {
            self.schedule_activation(&path, &x.key, None);
        }
        Ok(BTreeMap::new())
    }

    pub(super) fn start_activate(&mut self, caller: &Caller, loc: &Loc, key: &str) -> Result<String, UspErr> {
        let get = |n: &str| self.dm.raw_by_name(&self.schema, &loc.path, n).unwrap_or("");
        if get("Status") != "Available" || get("Available") != "true" {
            return Err(err(7022, format!("{} holds no valid image to activate", loc.path.trim_end_matches('.'))));
        }
        if self.ops.iter().any(|o| o.obj == loc.path) {
            return Err(err(7022, format!("{} is busy with a download or activation", loc.path.trim_end_matches('.'))));
        }
        let row = super::setup::add_row_with(
            &self.schema,
            &mut self.dm,
            "Device.LocalAgent.Request.",
            &[
                ("Originator", &caller.eid),
                ("Command", &format!("{}Activate()", loc.path)),
                ("CommandKey", key),
                ("Status", "Active"),
            ],
        )
        .map_err(|e| err(7005, e))?;
        self.schedule_activation(&loc.path, key, Some((row.clone(), caller)));
        Ok(row)
    }

    /// The restart on `image` in a moment; with a Request row, Activate() completes first.
    fn schedule_activation(&mut self, image: &str, key: &str, request: Option<(String, &Caller)>) {
        let (request, eid, msg_id) = match request {
            Some((row, c)) => (row, c.eid.clone(), c.msg_id.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        self.ops.push(PendingOp {
            due: value::add_ms(self.now(), ACTIVATE_DELAY_MS),
            request,
            obj: image.to_owned(),
            command: "Activate".to_owned(),
            command_key: key.to_owned(),
            eid,
            msg_id,
            result: Ok(BTreeMap::new()),
            job: None,
            activate: Some(image.to_owned()),
        });
    }

    /// Images left `Downloading` by a download that no longer runs (Cancel(), a reboot)
    /// become `DownloadFailed`.
    pub(super) fn abandon_downloads(&mut self) {
        for row in self.dm.rows("Device.DeviceInfo.FirmwareImage.") {
            let downloading = self.dm.raw_by_name(&self.schema, &row, "Status") == Some("Downloading");
            if downloading && !self.ops.iter().any(|o| o.obj == row) {
                self.dm.set_by_name(&self.schema, &row, "Status", "DownloadFailed");
                self.dm.set_by_name(&self.schema, &row, "Available", "false");
            }
        }
    }

    /// Restarts the agent on the image at `image` (a FirmwareImage row path).
    pub(super) fn restart_on_image(&mut self, image: &str, key: &str) {
        let version = self.dm.raw_by_name(&self.schema, image, "Version").unwrap_or("").to_owned();
        self.reboot_away("RemoteReboot", key, "firmware activated", true);
        let di = "Device.DeviceInfo.";
        let reference = image.trim_end_matches('.');
        self.dm.set_by_name(&self.schema, di, "SoftwareVersion", &version);
        self.dm.set_by_name(&self.schema, di, "ActiveFirmwareImage", reference);
        self.dm.set_by_name(&self.schema, di, "BootFirmwareImage", reference);
        // A device coming back up does not report these as changes.
        self.dm.take_changes();
        self.restart = true;
        tracing::info!(agent = %self.spec.key, version, "restarting on new firmware");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_header() {
        assert_eq!(image_version(b"usp-sim-home-firmware 7.0.1\nrest").as_deref(), Some("7.0.1"));
        assert_eq!(image_version(b"usp-sim-home-firmware 7.0.1\r\n").as_deref(), Some("7.0.1"));
        assert_eq!(image_version(b"usp-sim-home-firmware 7.0.1").as_deref(), Some("7.0.1"));
        assert_eq!(image_version(b"usp-sim-home-firmware \n"), None);
        assert_eq!(image_version(b"usp-sim-home-firmware7\n"), None);
        assert_eq!(image_version(b"ELF\x7f..."), None);
        assert_eq!(image_version(b"usp-sim-home-firmware a b\n"), None);
    }

    #[test]
    fn checksums() {
        assert_eq!(parse_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(parse_hex("0"), None);
        assert_eq!(parse_hex("zz"), None);
        assert!(digest_algorithm("SHA-256").is_ok());
        assert_eq!(digest_algorithm("MD5").map(|_| ()).expect_err("MD5").code, 7027);
    }
}
