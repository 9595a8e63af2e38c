//! Start at login: the entry each desktop reads when the user logs in, which starts usp-home in
//! the background (`--background`: in the tray, without a window).
//!
//! | platform | the entry                                                                     |
//! |----------|-------------------------------------------------------------------------------|
//! | Linux    | `$XDG_CONFIG_HOME/autostart/org.usphome.app.desktop` (else `~/.config/autostart`), the XDG Autostart specification |
//! | macOS    | `~/Library/LaunchAgents/org.usphome.app.plist`, a LaunchAgent run at load      |
//! | Windows  | the value `usp-home` of `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`   |
//!
//! The entry itself is the setting: it exists or not, so the setting and what the desktop does
//! can never disagree. Phones have no such thing ([`Autostart::for_this_platform`] is `None`).

use std::path::{Path, PathBuf};

/// The argument that starts usp-home in the tray, without a window.
pub const BACKGROUND_ARG: &str = "--background";
/// The app's identifier (as in `tauri.conf.json`): the entry's file name.
pub const APP_ID: &str = "org.usphome.app";
/// The name the desktop shows.
const APP_NAME: &str = "usp-home";

/// Why the entry could not be read or written, in words for the Settings page.
#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    /// No home folder to put the entry in.
    #[error("Start at login is not available: this account has no home folder (HOME is not set).")]
    NoHome,
    /// Reading, writing or removing the entry failed.
    #[error("Start at login could not be changed ({what}): {source}")]
    Io {
        /// The entry, as the user can find it.
        what: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The program's path cannot be written into the entry.
    #[error("Start at login is not available: the program's path {0:?} holds a line break.")]
    BadPath(PathBuf),
}

/// Where this platform keeps the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// An XDG autostart `.desktop` file.
    DesktopFile(PathBuf),
    /// A macOS LaunchAgent property list.
    LaunchAgent(PathBuf),
    /// A value of the Windows `Run` key of the current user.
    #[cfg_attr(not(windows), allow(dead_code))]
    RunKey,
}

/// The start-at-login entry of `program` on this computer.
#[derive(Debug, Clone)]
pub struct Autostart {
    entry: Entry,
    program: PathBuf,
}

impl Autostart {
    /// The entry for `program` (the running executable, or the AppImage it was started from) on
    /// this platform; `None` on phones.
    ///
    /// # Errors
    /// [`AutostartError::NoHome`] when the entry's folder cannot be found.
    pub fn for_this_platform(program: PathBuf) -> Result<Option<Autostart>, AutostartError> {
        let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
        let entry = if cfg!(target_os = "windows") {
            Some(Entry::RunKey)
        } else if cfg!(target_os = "macos") {
            Some(Entry::LaunchAgent(launch_agent_path(var("HOME"))?))
        } else if cfg!(any(target_os = "android", target_os = "ios")) {
            None
        } else {
            Some(Entry::DesktopFile(desktop_file_path(var("XDG_CONFIG_HOME"), var("HOME"))?))
        };
        Ok(entry.map(|entry| Autostart { entry, program }))
    }

    /// Where the entry is, in words ("~/.config/autostart/org.usphome.app.desktop").
    pub fn location(&self) -> String {
        match &self.entry {
            Entry::DesktopFile(path) | Entry::LaunchAgent(path) => path.display().to_string(),
            Entry::RunKey => format!("HKEY_CURRENT_USER\\{RUN_KEY}\\{APP_NAME}"),
        }
    }

    /// Whether usp-home starts at login.
    ///
    /// # Errors
    /// The entry could not be read.
    pub fn is_enabled(&self) -> Result<bool, AutostartError> {
        match &self.entry {
            Entry::DesktopFile(path) | Entry::LaunchAgent(path) => match std::fs::metadata(path) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(source) => Err(self.io(source)),
            },
            Entry::RunKey => run_key::is_set().map_err(|source| self.io(source)),
        }
    }

    /// Adds (or rewrites, for a program that moved) the entry, or removes it.
    ///
    /// # Errors
    /// The entry could not be written or removed.
    pub fn set(&self, enabled: bool) -> Result<(), AutostartError> {
        match (&self.entry, enabled) {
            (Entry::DesktopFile(path), true) => {
                let text = desktop_entry(&self.program)?;
                write_atomically(path, &text).map_err(|source| self.io(source))
            }
            (Entry::LaunchAgent(path), true) => {
                write_atomically(path, &launch_agent(&self.program)).map_err(|source| self.io(source))
            }
            (Entry::DesktopFile(path) | Entry::LaunchAgent(path), false) => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(self.io(source)),
            },
            (Entry::RunKey, true) => run_key::set(&run_command(&self.program)).map_err(|source| self.io(source)),
            (Entry::RunKey, false) => run_key::remove().map_err(|source| self.io(source)),
        }
    }

    fn io(&self, source: std::io::Error) -> AutostartError {
        AutostartError::Io { what: self.location(), source }
    }
}

/// `$XDG_CONFIG_HOME/autostart/<id>.desktop`; a relative `XDG_CONFIG_HOME` is ignored, as the
/// specification says, for `$HOME/.config`.
fn desktop_file_path(config_home: Option<PathBuf>, home: Option<PathBuf>) -> Result<PathBuf, AutostartError> {
    let config = match config_home.filter(|p| p.is_absolute()) {
        Some(dir) => dir,
        None => home.filter(|p| p.is_absolute()).ok_or(AutostartError::NoHome)?.join(".config"),
    };
    Ok(config.join("autostart").join(format!("{APP_ID}.desktop")))
}

fn launch_agent_path(home: Option<PathBuf>) -> Result<PathBuf, AutostartError> {
    let home = home.filter(|p| p.is_absolute()).ok_or(AutostartError::NoHome)?;
    Ok(home.join("Library/LaunchAgents").join(format!("{APP_ID}.plist")))
}

/// The `.desktop` file that starts `program --background`.
fn desktop_entry(program: &Path) -> Result<String, AutostartError> {
    let exec = desktop_exec(&[&program.to_string_lossy(), BACKGROUND_ARG])
        .ok_or_else(|| AutostartError::BadPath(program.to_owned()))?;
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name={APP_NAME}\n\
         Comment=Keeps an eye on your home network in the background\n\
         Exec={exec}\n\
         Icon={APP_ID}\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n"
    ))
}

/// An `Exec=` value: each argument quoted when the Desktop Entry specification asks for it, `%`
/// doubled (it starts field codes), and the value's own escapes for `\`. `None` for an argument
/// with a line break, which no `Exec` line can hold.
fn desktop_exec(args: &[&str]) -> Option<String> {
    const RESERVED: &[char] =
        &[' ', '\t', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];
    let mut line = Vec::new();
    for arg in args {
        if arg.contains(['\n', '\r']) {
            return None;
        }
        let arg = arg.replace('%', "%%");
        let quoted = if arg.is_empty() || arg.contains(RESERVED) {
            let mut q = String::from("\"");
            for c in arg.chars() {
                if matches!(c, '"' | '`' | '$' | '\\') {
                    q.push('\\');
                }
                q.push(c);
            }
            q.push('"');
            q
        } else {
            arg
        };
        line.push(quoted);
    }
    // The value is a string: its backslashes are escaped once more.
    Some(line.join(" ").replace('\\', "\\\\"))
}

/// The LaunchAgent that runs `program --background` at login.
fn launch_agent(program: &Path) -> String {
    let xml = |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n\
         \t<key>Label</key>\n\t<string>{APP_ID}</string>\n\
         \t<key>ProgramArguments</key>\n\t<array>\n\t\t<string>{}</string>\n\t\t<string>{BACKGROUND_ARG}</string>\n\t</array>\n\
         \t<key>RunAtLoad</key>\n\t<true/>\n\
         </dict>\n</plist>\n",
        xml(&program.to_string_lossy())
    )
}

/// The `Run` value: the program quoted (paths hold spaces), then the argument.
fn run_command(program: &Path) -> String {
    format!("\"{}\" {BACKGROUND_ARG}", program.display())
}

/// Writes `text` to `path` through a temporary file beside it, so a crash leaves the old entry
/// or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("the entry has no folder"))?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{APP_ID}.tmp-{}", std::process::id()));
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// `HKEY_CURRENT_USER\` + this.
const RUN_KEY: &str = "Software\\Microsoft\\Windows\\CurrentVersion\\Run";

#[cfg(windows)]
mod run_key {
    use winreg::enums::HKEY_CURRENT_USER;
    use winreg::RegKey;

    use super::{APP_NAME, RUN_KEY};

    pub fn is_set() -> std::io::Result<bool> {
        let run = RegKey::predef(HKEY_CURRENT_USER).open_subkey(RUN_KEY)?;
        match run.get_value::<String, _>(APP_NAME) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn set(command: &str) -> std::io::Result<()> {
        let (run, _) = RegKey::predef(HKEY_CURRENT_USER).create_subkey(RUN_KEY)?;
        run.set_value(APP_NAME, &command)
    }

    pub fn remove() -> std::io::Result<()> {
        let (run, _) = RegKey::predef(HKEY_CURRENT_USER).create_subkey(RUN_KEY)?;
        match run.delete_value(APP_NAME) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(not(windows))]
mod run_key {
    fn unsupported() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::Unsupported, "no Run key outside Windows")
    }
    pub fn is_set() -> std::io::Result<bool> {
        Err(unsupported())
    }
    pub fn set(_command: &str) -> std::io::Result<()> {
        Err(unsupported())
    }
    pub fn remove() -> std::io::Result<()> {
        Err(unsupported())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_config_home_wins_over_home_and_a_relative_one_is_ignored() {
        let path = desktop_file_path(Some("/x/config".into()), Some("/home/u".into())).expect("a path");
        assert_eq!(path, Path::new("/x/config/autostart/org.usphome.app.desktop"));
        let path = desktop_file_path(Some("rel".into()), Some("/home/u".into())).expect("a path");
        assert_eq!(path, Path::new("/home/u/.config/autostart/org.usphome.app.desktop"));
        assert!(matches!(desktop_file_path(None, None), Err(AutostartError::NoHome)));
        assert!(matches!(launch_agent_path(Some("".into())), Err(AutostartError::NoHome)));
    }

    #[test]
    fn exec_lines_quote_what_the_specification_reserves() {
        assert_eq!(
            desktop_exec(&["/usr/bin/usp-home", "--background"]).as_deref(),
            Some("/usr/bin/usp-home --background")
        );
        // Quoted, `$` and `"` escaped inside the quotes, then every `\` doubled for the string value.
        assert_eq!(
            desktop_exec(&["/opt/my apps/a$b\"c%d", "--background"]).as_deref(),
            Some(r#""/opt/my apps/a\\$b\\"c%%d" --background"#)
        );
        assert_eq!(desktop_exec(&["/tmp/a\nb"]), None);
    }

    /// The entry is written under an isolated config folder, read back, rewritten for a program
    /// that moved, and removed; removing twice is fine.
    #[test]
    fn enabling_writes_the_desktop_entry_and_disabling_removes_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config");
        let entry = Entry::DesktopFile(desktop_file_path(Some(config.clone()), None).expect("a path"));
        let autostart = Autostart { entry, program: "/opt/usp home/usp-home".into() };
        let file = config.join("autostart/org.usphome.app.desktop");
        assert!(!autostart.is_enabled().expect("readable"));
        autostart.set(true).expect("written");
        assert!(autostart.is_enabled().expect("readable"));
        let text = std::fs::read_to_string(&file).expect("the entry exists");
        assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
        assert!(text.contains("\nExec=\"/opt/usp home/usp-home\" --background\n"), "{text}");
        assert!(text.contains("\nType=Application\n"));
        let moved = Autostart { program: "/usr/bin/usp-home".into(), ..autostart.clone() };
        moved.set(true).expect("rewritten");
        let text = std::fs::read_to_string(&file).expect("the entry exists");
        assert!(text.contains("\nExec=/usr/bin/usp-home --background\n"), "{text}");
        let left: Vec<_> = std::fs::read_dir(file.parent().expect("folder")).expect("listable").collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
        autostart.set(false).expect("removed");
        assert!(!file.exists());
        assert!(!autostart.is_enabled().expect("readable"));
        autostart.set(false).expect("removing again is fine");
    }

    #[test]
    fn launch_agents_run_the_program_in_the_background_at_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        let entry = Entry::LaunchAgent(launch_agent_path(Some(dir.path().to_owned())).expect("a path"));
        let autostart = Autostart { entry, program: "/Applications/usp-home.app/Contents/MacOS/usp<home>&".into() };
        autostart.set(true).expect("written");
        let file = dir.path().join("Library/LaunchAgents/org.usphome.app.plist");
        let text = std::fs::read_to_string(file).expect("the agent exists");
        assert!(
            text.contains("<string>/Applications/usp-home.app/Contents/MacOS/usp&lt;home&gt;&amp;</string>"),
            "{text}"
        );
        assert!(text.contains("<string>--background</string>") && text.contains("<key>RunAtLoad</key>\n\t<true/>"));
        assert!(autostart.is_enabled().expect("readable"));
        autostart.set(false).expect("removed");
        assert!(!autostart.is_enabled().expect("readable"));
    }

    #[test]
    fn the_run_value_quotes_the_program() {
        assert_eq!(
            run_command(Path::new(r"C:\Program Files\usp-home\usp-home.exe")),
            r#""C:\Program Files\usp-home\usp-home.exe" --background"#
        );
    }
}
