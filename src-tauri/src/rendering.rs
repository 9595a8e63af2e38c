//! How the Linux WebView renders: in software by default, so the app stays small.
//!
//! usp-home's screens are forms, lists and one SVG map; they need no GPU. Left to its defaults,
//! WebKitGTK 2.50 still sets up OpenGL in the app process before the first page loads:
//! - GTK picks GL-capable visuals when it opens the display (GLX);
//! - WebKit asks EGL for the DRM render node it would hand to the page's process, even when the
//!   DMA-BUF renderer that uses it is off.
//!
//! Either loads the system's OpenGL driver into the app process. Without a GPU (a VM, Xvfb)
//! that driver is Mesa's llvmpipe, which maps libLLVM; with a GPU it is the GPU's driver.
//! Measured with `scripts/measure.sh` under Xvfb (2 cores): the app process's resident memory
//! with the home shown went from 160 MB to 104 MB, and start to the home page from 0.66-0.72 s
//! to 0.53 s. The page's own process still renders as WebKit chooses. The settings below keep
//! OpenGL out of the app process:
//! - `GDK_GL=disable`: GTK gives the window no GL visual (the app draws no GL itself).
//! - `WEBKIT_DISABLE_DMABUF_RENDERER=1`: pages reach the window through shared memory instead of
//!   GPU buffers (also the usual fix for blank WebKitGTK windows on some GPU drivers).
//! - `WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/null`: the render node is only used by the DMA-BUF
//!   renderer, which is off; naming a file that is not one spares the EGL query.
//!
//! Each is set only when the user has not set it. `USP_HOME_GPU=1` keeps WebKit's defaults.

/// Environment variables and the values that keep OpenGL out of the app process.
pub const SOFTWARE_RENDERING: [(&str, &str); 3] =
    [("GDK_GL", "disable"), ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"), ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null")];

/// The settings to apply, given a lookup of the current environment: none when `USP_HOME_GPU`
/// asks for WebKit's defaults, and never one the user set already.
pub fn settings_to_apply(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, &'static str)> {
    let gpu = get("USP_HOME_GPU").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"));
    if gpu {
        return Vec::new();
    }
    SOFTWARE_RENDERING.iter().copied().filter(|(name, _)| get(name).is_none()).collect()
}

/// Applies [`settings_to_apply`] to this process. Call first thing in `main`, before GTK starts
/// and before any other thread exists (changing the environment is not thread-safe).
pub fn apply() {
    if !cfg!(all(target_os = "linux", not(target_os = "android"))) {
        return;
    }
    for (name, value) in settings_to_apply(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())) {
        std::env::set_var(name, value);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn software_rendering_by_default() {
        assert_eq!(settings_to_apply(lookup(&[])), SOFTWARE_RENDERING.to_vec());
    }

    #[test]
    fn user_values_win() {
        let applied = settings_to_apply(lookup(&[("WEBKIT_DISABLE_DMABUF_RENDERER", "0"), ("GDK_GL", "gles")]));
        assert_eq!(applied, vec![("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null")]);
    }

    #[test]
    fn usp_home_gpu_keeps_webkit_defaults() {
        assert!(settings_to_apply(lookup(&[("USP_HOME_GPU", "1")])).is_empty());
        assert!(settings_to_apply(lookup(&[("USP_HOME_GPU", "yes")])).is_empty());
        assert_eq!(settings_to_apply(lookup(&[("USP_HOME_GPU", "0")])).len(), 3);
    }
}
