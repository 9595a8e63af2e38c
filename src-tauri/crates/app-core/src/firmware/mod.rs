//! `impl Home` for the Firmware card of a device's page: its firmware images
//! (`Device.DeviceInfo.FirmwareImage.{i}`), an update from an image file on this computer, and
//! the restart on another image.
//!
//! An update: usp-home reads the file (size, SHA-256), offers it once over HTTP on the address
//! this computer uses toward the device ([`serve`]: a random port and an unguessable path,
//! closed after the one transfer), and asks the device to `Download()` it into the slot not in
//! use, with `FileSize`, `CheckSumAlgorithm` `SHA-256` and `CheckSum`, without `AutoActivate`.
//! The end comes as the command's OperationComplete or `Device.LocalAgent.TransferComplete!`
//! (both subscribed for the time of the update), and the slot's `Status` is read every few
//! seconds in case neither arrives. The device keeps running its firmware: `Activate()` of
//! the new image (a separate command, after the person confirmed) restarts it, and usp-home
//! follows it going away and coming back on the new version. Activating the other image of a
//! device with two is "switch back".

pub mod rules;
mod serve;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc_types::{
    AgentArgs, FirmwareActivate, FirmwareFile, FirmwareImage, FirmwareUpdate, FirmwareUpdated, FirmwareView, LiveEvent,
    Topic,
};
use usp_client::{ConnectionState, NotifKind};
use usp_core::msg::{Notification, OperationCompleteResp};
use usp_core::request::CommandOutcome;

use crate::home::{device_text, AgentConn, AppError, AppResult, Home, COMMAND_DEADLINE};
pub use serve::{tamper_next_transfer_for_tests, TestTamper};

/// The longest a device may take to download an image.
const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(600);
/// The longest a device may take to restart on an image and connect again.
const RESTART_DEADLINE: Duration = Duration::from_secs(180);
/// Largest image file usp-home sends.
pub const MAX_FILE: u64 = 512 << 20;
/// How often the slot's Status is read while the device downloads.
const POLL: Duration = Duration::from_secs(3);

/// What to say when our role may not update the device.
fn not_allowed(name: &str) -> AppError {
    AppError::NotAllowed(format!(
        "Your sign-in on {name} may not update its firmware; use the device's own app or admin page."
    ))
}

/// A refusal of Download() or Activate() in words (permission first).
fn refused(conn: &AgentConn, action: &str, e: &usp_client::ClientError) -> AppError {
    match AppError::from_client(&conn.name, action, e) {
        AppError::Permission { .. } => not_allowed(&conn.name),
        AppError::Refused { usp_code, .. } => AppError::Failed(format!(
            "{} did not {action}: {}.",
            conn.name,
            match e {
                usp_client::ClientError::Usp(u) if !u.message.is_empty() => device_text(&u.message, 200),
                _ => usp_core::error::error_code_text(usp_code).to_owned(),
            }
        )),
        other => other,
    }
}

/// Whether our role may see `Download()` on the images (`false`: it certainly may not run it;
/// `true` says little, since a role may see a command it may not run); `None` when the device
/// doesn't say.
async fn may_download(conn: &AgentConn) -> Option<bool> {
    let object = "Device.DeviceInfo.FirmwareImage.{i}.";
    let seen = crate::agent_details::supported_commands(&conn.client, object);
    let commands = tokio::time::timeout(crate::home::REQUEST_DEADLINE, seen).await.ok()??;
    Some(commands.iter().any(|c| c == "Download()"))
}

/// The SHA-256 of a file, in hex.
fn sha256_hex(file: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(file)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// The image file at `path` as the Firmware card shows it, checked as
/// [`Home::firmware_update`] checks it before sending: a full path to a file this app may read,
/// of 1 byte to [`MAX_FILE`].
///
/// # Errors
/// [`AppError::InvalidInput`], in words for the person who chose the file.
pub async fn image_file(path: &Path) -> AppResult<FirmwareFile> {
    let shown = device_text(&path.display().to_string(), 200);
    if !path.is_absolute() {
        return Err(AppError::InvalidInput(
            "Give the image file's full path (for example /home/you/Downloads/router-7.0.bin).".into(),
        ));
    }
    // Opened, not only looked at: a file this app may not read is said to be so now.
    let opened = tokio::fs::File::open(path).await;
    let meta = match opened {
        Ok(f) => f.metadata().await,
        Err(e) => Err(e),
    };
    let meta = meta.map_err(|e| {
        AppError::InvalidInput(match e.kind() {
            std::io::ErrorKind::PermissionDenied => format!("usp-home is not allowed to read {shown}."),
            std::io::ErrorKind::NotFound => format!("There is no file {shown}: check the file's name."),
            _ => format!("usp-home can't read {shown}: check the file's name."),
        })
    })?;
    let size = meta.len();
    if !meta.is_file() || size == 0 || size > MAX_FILE {
        let what = if meta.is_dir() { "is a folder, " } else { "" };
        return Err(AppError::InvalidInput(format!(
            "{shown} {what}is not a firmware image usp-home can send (a file of 1 byte to {}).",
            rules::megabytes(MAX_FILE)
        )));
    }
    let name = path.file_name().map(|n| device_text(&n.to_string_lossy(), 200)).unwrap_or_else(|| shown.clone());
    Ok(FirmwareFile { path: path.display().to_string(), name, size, size_text: rules::megabytes(size) })
}

/// How a download ended, as the device said.
enum Ended {
    Done,
    /// The device's reason.
    Failed(String),
}

impl Home {
    /// `firmware`: a device's firmware images, and whether usp-home may update it.
    ///
    /// # Errors
    /// [`AppError::UnknownAgent`], [`AppError::Offline`], [`AppError::Permission`] when our role
    /// may not read them.
    pub async fn firmware(&self, args: AgentArgs) -> AppResult<FirmwareView> {
        let who = args.agent.clone();
        self.within(COMMAND_DEADLINE, Some(&who), async {
            let conn = self.conn(&args.agent).await?;
            Ok(self.firmware_state(&conn).await?.0)
        })
        .await
    }

    /// The view, and why an update can't be done (if so).
    async fn firmware_state(&self, conn: &AgentConn) -> AppResult<(FirmwareView, Option<AppError>)> {
        let p = crate::agent_io::get_params(conn, &rules::PATHS, "read its firmware").await?;
        let images = rules::images(&p);
        let running = p.raw("Device.DeviceInfo.SoftwareVersion").map(|v| device_text(v, 64)).unwrap_or_default();
        let name = &conn.name;
        let why_not = if images.is_empty() {
            Some(AppError::Unsupported(format!(
                "{name} does not show its firmware images to usp-home, so its firmware can't be updated from here; use the device's own app or admin page."
            )))
        } else if may_download(conn).await == Some(false) {
            Some(not_allowed(name))
        } else if rules::update_slot(&images).is_none() {
            Some(AppError::Unsupported(format!(
                "{name} has a single firmware image, in use: usp-home can't put a new one beside it. Use the device's own app or admin page."
            )))
        } else {
            None
        };
        let view = FirmwareView {
            agent: conn.eid.clone(),
            name: name.clone(),
            running,
            images,
            can_update: why_not.is_none(),
            note: why_not.as_ref().map(ToString::to_string),
        };
        Ok((view, why_not))
    }

    /// `firmware_update`: puts the image file on the device's slot not in use (progress as
    /// [`LiveEvent::PingProgress`]); the device keeps running its firmware until
    /// [`Home::firmware_activate`].
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a file that can't be an image, [`AppError::NotAllowed`]
    /// when our role may not, [`AppError::Unsupported`] without a free slot, [`AppError::Failed`]
    /// when the device refused the image or the transfer broke off (the device still runs what
    /// it ran), [`AppError::Timeout`], [`AppError::Offline`].
    pub async fn firmware_update(&self, args: FirmwareUpdate) -> AppResult<FirmwareUpdated> {
        let who = args.agent.clone();
        self.within(DOWNLOAD_DEADLINE + Duration::from_secs(60), Some(&who), self.firmware_update_inner(args)).await
    }

    async fn firmware_update_inner(&self, args: FirmwareUpdate) -> AppResult<FirmwareUpdated> {
        let file = PathBuf::from(args.file.trim());
        let shown = device_text(&file.display().to_string(), 200);
        let size = image_file(&file).await?.size;
        let conn = self.conn(&args.agent).await?;
        let (view, why_not) = self.firmware_state(&conn).await?;
        if let Some(e) = why_not {
            return Err(e);
        }
        let slot =
            rules::update_slot(&view.images).cloned().ok_or_else(|| AppError::Internal("no free slot".into()))?;
        let progress = |message: String| self.emit(LiveEvent::PingProgress { agent: conn.eid.clone(), message });
        progress(format!("Reading the image ({})…", rules::megabytes(size)));
        let hashed = file.clone();
        let checksum = tokio::task::spawn_blocking(move || sha256_hex(&hashed))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|_| AppError::InvalidInput(format!("usp-home can't read {shown}.")))?;
        let url = self.with_agent(&conn.eid, |e| e.url.clone()).unwrap_or_default();
        let ip = serve::local_address_toward(&url).await.map_err(|e| {
            AppError::Failed(format!("usp-home can't tell its own address toward {} ({e}).", conn.name))
        })?;
        let served = serve::serve_once(&file, size, ip, DOWNLOAD_DEADLINE)
            .await
            .map_err(|e| AppError::Failed(format!("usp-home could not offer the image to {} ({e}).", conn.name)))?;
        let command = format!("{}.Download()", slot.path);
        let key = format!("usp-home-firmware-{}", uuid::Uuid::new_v4().simple());
        let mut rx = conn.client.notifications();
        let mut subs = Vec::new();
        for (kind, path) in [(NotifKind::OperationComplete, command.as_str()), (NotifKind::Event, TRANSFER_COMPLETE)] {
            if let Ok(Ok(s)) = crate::agent_io::bounded(&conn, conn.client.subscribe(kind, &[path])).await {
                subs.push(s);
            }
        }
        let size_text = size.to_string();
        let dl_args = [
            ("URL", served.url.as_str()),
            ("AutoActivate", "false"),
            ("FileSize", size_text.as_str()),
            ("CheckSumAlgorithm", "SHA-256"),
            ("CheckSum", checksum.as_str()),
        ];
        progress(format!("Sending the image to {}…", conn.name));
        let ended = self.download(&conn, &command, &dl_args, &key, &slot.path, &mut rx, &served, size).await;
        for s in subs {
            if let Err(e) = conn.client.unsubscribe(&s).await {
                tracing::debug!(error = %e, "cannot remove a firmware subscription");
            }
        }
        let sent = *served.progress.borrow();
        drop(served);
        let (view, _) = self.firmware_state(&conn).await?;
        self.changed(&[Topic::Agent]);
        let still = if view.running.is_empty() { String::new() } else { format!(" It still runs {}.", view.running) };
        match ended? {
            Ended::Failed(reason) => {
                let cut = sent.started && sent.finished != Some(true);
                let how = if cut {
                    format!(
                        "the transfer of the image broke off after {} of {}",
                        rules::megabytes(sent.bytes),
                        rules::megabytes(size)
                    )
                } else {
                    rules::failure_words(&reason).to_owned()
                };
                let reason = if reason.is_empty() { String::new() } else { format!(" (it said: {reason})") };
                let message = format!("{} did not take the new firmware: {how}{reason}.{still}", conn.name);
                progress(message.clone());
                Err(AppError::Failed(message))
            }
            Ended::Done => {
                let image = view.images.iter().find(|i| i.path == slot.path).cloned().unwrap_or(slot);
                let version =
                    if image.version.is_empty() { "the new version".to_owned() } else { image.version.clone() };
                let message = format!(
                    "{} received firmware {version} and checked it.{still} Restart it on {version} when it suits you: \
                     its network goes away for a minute or two.",
                    conn.name
                );
                progress(message.clone());
                Ok(FirmwareUpdated { image: image.path, version, message, view })
            }
        }
    }

    /// Runs Download() and waits for its end (see the module docs).
    #[allow(clippy::too_many_arguments)]
    async fn download(
        &self,
        conn: &AgentConn,
        command: &str,
        args: &[(&str, &str)],
        key: &str,
        slot: &str,
        rx: &mut tokio::sync::broadcast::Receiver<usp_client::AgentNotification>,
        served: &serve::Served,
        size: u64,
    ) -> AppResult<Ended> {
        let action = "update its firmware";
        let resp = crate::agent_io::bounded(conn, conn.client.operate(command, args, key))
            .await?
            .map_err(|e| refused(conn, action, &e))?;
        match resp.outcomes().into_iter().next() {
            Some((_, CommandOutcome::Done(_))) => return Ok(Ended::Done),
            Some((_, CommandOutcome::Failed(e))) => {
                return Err(refused(conn, action, &usp_client::ClientError::Usp(e)))
            }
            Some((_, CommandOutcome::Started(_))) => {}
            None => return Err(AppError::Failed(format!("{} started no download.", conn.name))),
        }
        let mut progress = served.progress.clone();
        let mut serving = true;
        let mut shown_tenth = 0u64;
        let mut poll = tokio::time::interval(POLL);
        poll.tick().await;
        let until = tokio::time::Instant::now() + DOWNLOAD_DEADLINE;
        let status_path = format!("{slot}.Status");
        loop {
            tokio::select! {
                n = rx.recv() => match n {
                    Ok(n) => if let Some(ended) = end_of(&n.notify.notification, key) { return Ok(ended) },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        return Err(AppError::Offline { name: conn.name.clone() })
                    }
                },
                changed = progress.changed(), if serving => {
                    if changed.is_err() {
                        // The server closed; the device's word is still to come.
                        serving = false;
                        continue;
                    }
                    let bytes = progress.borrow_and_update().bytes;
                    let tenth = bytes.saturating_mul(10) / size.max(1);
                    if tenth > shown_tenth {
                        shown_tenth = tenth;
                        let message = if bytes >= size {
                            format!("{} received the image; it is checking it…", conn.name)
                        } else {
                            format!("Sending the image to {}: {} of {}", conn.name, rules::megabytes(bytes), rules::megabytes(size))
                        };
                        self.emit(LiveEvent::PingProgress { agent: conn.eid.clone(), message });
                    }
                }
                _ = poll.tick() => {
                    let status = crate::agent_io::get_params(conn, &[status_path.as_str()], "read its firmware").await
                        .ok().and_then(|p| p.raw(&status_path).map(str::to_owned)).unwrap_or_default();
                    match status.as_str() {
                        "Available" => return Ok(Ended::Done),
                        s if s.ends_with("Failed") => return Ok(Ended::Failed(s.to_owned())),
                        _ => {}
                    }
                }
                _ = tokio::time::sleep_until(until) => return Err(AppError::Timeout { name: conn.name.clone() }),
            }
        }
    }

    /// `firmware_activate`: restarts the device on one of its images (the new one, or back to
    /// the previous one) and waits for it to come back on it.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for an image that is in use or holds nothing to start,
    /// [`AppError::NotAllowed`], [`AppError::Failed`] when the device came back on another
    /// image or did not come back in time.
    pub async fn firmware_activate(&self, args: FirmwareActivate) -> AppResult<FirmwareView> {
        let who = args.agent.clone();
        self.within(RESTART_DEADLINE + Duration::from_secs(30), Some(&who), self.firmware_activate_inner(args)).await
    }

    async fn firmware_activate_inner(&self, args: FirmwareActivate) -> AppResult<FirmwareView> {
        crate::agent_io::check_instance(&args.image, rules::TABLE)?;
        let conn = self.conn(&args.agent).await?;
        let (view, _) = self.firmware_state(&conn).await?;
        let name = conn.name.clone();
        let image: FirmwareImage = view
            .images
            .iter()
            .find(|i| i.path == args.image)
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("{name} has no such firmware image.")))?;
        if image.active {
            return Err(AppError::InvalidInput(format!("{name} already runs that image.")));
        }
        if !image.available {
            return Err(AppError::InvalidInput(format!("That image slot of {name} holds no firmware it could start.")));
        }
        let version = if image.version.is_empty() { "the other image".to_owned() } else { image.version.clone() };
        let mut state = conn.client.state();
        state.mark_unchanged();
        let key = format!("usp-home-activate-{}", uuid::Uuid::new_v4().simple());
        let command = format!("{}.Activate()", image.path);
        let action = "restart on another firmware";
        let resp = crate::agent_io::bounded(&conn, conn.client.operate(&command, &[], &key))
            .await?
            .map_err(|e| refused(&conn, action, &e))?;
        if let Some((_, CommandOutcome::Failed(e))) = resp.outcomes().into_iter().next() {
            return Err(refused(&conn, action, &usp_client::ClientError::Usp(e)));
        }
        let progress = |message: String| self.emit(LiveEvent::PingProgress { agent: conn.eid.clone(), message });
        progress(format!("{name} is restarting on firmware {version}…"));
        let until = tokio::time::Instant::now() + RESTART_DEADLINE;
        let mut went_away = false;
        let mut back_on_other = 0;
        let paths = ["Device.DeviceInfo.ActiveFirmwareImage"];
        loop {
            went_away |= state.has_changed().unwrap_or(true)
                && !matches!(*state.borrow_and_update(), ConnectionState::Connected { .. });
            if let Ok(c) = self.conn(&args.agent).await {
                let active = crate::agent_io::get_params(&c, &paths, "read its firmware")
                    .await
                    .ok()
                    .and_then(|p| p.raw(paths[0]).map(|r| r.trim().trim_end_matches('.').to_owned()));
                match active {
                    Some(a) if a == image.path => break,
                    Some(_) if went_away => back_on_other += 1,
                    _ => {}
                }
            } else {
                went_away = true;
            }
            if back_on_other >= 3 {
                let message =
                    format!("{name} restarted but did not start firmware {version}: it went back to the image it had.");
                progress(message.clone());
                self.changed(&[Topic::Agent]);
                return Err(AppError::Failed(message));
            }
            if tokio::time::Instant::now() >= until {
                return Err(AppError::Failed(format!(
                    "{name} has not come back on firmware {version} within {} minutes. It may still be starting: \
                     look again in a while, and if it stays away, switch it off and on.",
                    RESTART_DEADLINE.as_secs() / 60
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let conn = self.conn(&args.agent).await?;
        let (view, _) = self.firmware_state(&conn).await?;
        progress(format!(
            "{name} is back, running firmware {}.",
            if view.running.is_empty() { &version } else { &view.running }
        ));
        self.changed(&[Topic::Agent, Topic::Home]);
        Ok(view)
    }
}

const TRANSFER_COMPLETE: &str = "Device.LocalAgent.TransferComplete!";

/// The end of the download started with `key`, if `n` is it.
fn end_of(n: &Notification, key: &str) -> Option<Ended> {
    match n {
        Notification::OperComplete(c) if &*c.command_key == key => Some(match &c.operation_resp {
            OperationCompleteResp::ReqOutputArgs(_) => Ended::Done,
            OperationCompleteResp::CmdFailure(f) => Ended::Failed(device_text(&f.err_msg, 200)),
        }),
        Notification::Event(e) if &*e.event_name == "TransferComplete!" => {
            let p = e.params.to_btree();
            if p.get("CommandKey").map(String::as_str) != Some(key) {
                return None;
            }
            match p.get("FaultCode").map(|c| c.trim()) {
                Some("0") | Some("") | None => Some(Ended::Done),
                Some(_) => Some(Ended::Failed(device_text(p.get("FaultString").map_or("", String::as_str), 200))),
            }
        }
        _ => None,
    }
}
