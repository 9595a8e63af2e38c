//! The X display outside the webview, as a person meets it: windows the app opens besides its
//! page (the system's file dialog) found by title and driven with the keyboard (`xdotool`), and
//! screenshots of the whole screen (`xwd`, turned into PNG here): a WebDriver screenshot shows
//! only the page.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Step;

/// The longest one xdotool or xwd call may take (`timeout` ends it).
const CALL: &str = "15";

/// Runs `program args` bounded by [`CALL`] seconds; its standard output.
fn run(program: &str, args: &[&str]) -> Step<Vec<u8>> {
    let out = Command::new("timeout")
        .arg(CALL)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{program} could not run (scripts/setup-deps.sh --e2e installs it): {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} {args:?}: {} {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(out.stdout)
}

/// The X ids of the shown windows titled exactly `title`.
pub(crate) fn windows(title: &str) -> Vec<String> {
    let pattern = format!("^{}$", title.replace('.', "\\."));
    // xdotool exits 1 when nothing matches.
    let out = run("xdotool", &["search", "--onlyvisible", "--name", &pattern]).unwrap_or_default();
    String::from_utf8_lossy(&out).split_whitespace().map(str::to_owned).collect()
}

/// Waits (at most `limit`) for a shown window titled `title`; its X id.
pub(crate) async fn wait_window(title: &str, limit: Duration) -> Step<String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(id) = windows(title).pop() {
            return Ok(id);
        }
        if Instant::now() > deadline {
            return Err(format!("no window {title:?} showed within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most `limit`) until no window titled `title` shows.
pub(crate) async fn wait_closed(title: &str, limit: Duration) -> Step<()> {
    let deadline = Instant::now() + limit;
    while !windows(title).is_empty() {
        if Instant::now() > deadline {
            return Err(format!("the window {title:?} still shows after {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Gives window `id` the keyboard focus (no window manager needed).
pub(crate) fn focus(id: &str) -> Step<()> {
    run("xdotool", &["windowfocus", "--sync", id]).map(drop)
}

/// Presses keys (`ctrl+l`, `Escape`, `Return`) in the focused window.
pub(crate) fn key(keys: &str) -> Step<()> {
    run("xdotool", &["key", "--clearmodifiers", keys]).map(drop)
}

/// Types `text` in the focused window, key by key.
pub(crate) fn type_text(text: &str) -> Step<()> {
    run("xdotool", &["type", "--delay", "25", text]).map(drop)
}

/// Saves the whole screen as `<out>/<name>.png`.
pub(crate) fn screenshot(out: &Path, name: &str) -> Step<PathBuf> {
    let xwd = run("xwd", &["-root", "-silent"])?;
    let (width, height, rgb) = xwd_rgb(&xwd)?;
    let path = out.join(format!("{name}.png"));
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| format!("{name}.png: {e}"))?;
    writer.write_image_data(&rgb).map_err(|e| format!("{name}.png: {e}"))?;
    writer.finish().map_err(|e| format!("{name}.png: {e}"))?;
    Ok(path)
}

/// An XWD screen dump (a TrueColor screen of 4 bytes a pixel, as Xvfb's 24-bit one is) as RGB.
fn xwd_rgb(xwd: &[u8]) -> Step<(u32, u32, Vec<u8>)> {
    let field = |i: usize| -> Step<u32> {
        let b = xwd.get(i * 4..i * 4 + 4).ok_or("xwd: a short header")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (header, width, height, lsb_first) = (field(0)?, field(4)?, field(5)?, field(7)? == 0);
    let (line, masks, colors) = (field(12)? as usize, [field(14)?, field(15)?, field(16)?], field(19)?);
    if line != width as usize * 4 || masks.contains(&0) {
        return Err(format!("xwd: a screen of {} bytes a line for {width} pixels, masks {masks:x?}", line));
    }
    let start = header as usize + colors as usize * 12;
    let data = xwd.get(start..start + line * height as usize).ok_or("xwd: fewer pixels than the header says")?;
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for px in data.chunks_exact(4) {
        let b = [px[0], px[1], px[2], px[3]];
        let v = if lsb_first { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) };
        rgb.extend(masks.map(|m| ((v & m) >> m.trailing_zeros()) as u8));
    }
    Ok((width, height, rgb))
}
