//! Every byte uspctl prints goes through here, so a reader that goes away (`uspctl ... | head -1`)
//! ends the command quietly with status 0 instead of a panic, and a long-running command
//! (`watch`) still cleans up on its way out.

use std::io::Write;

use crate::failure::Failure;

/// Writes one line to standard output. A closed pipe becomes [`Failure::quiet`]; any other
/// write error is reported.
pub(crate) fn line(args: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).and_then(|()| out.write_all(b"\n")).map_err(write_failure)
}

/// Flushes standard output (a prompt, or a notification a script waits for).
pub(crate) fn flush() -> Result<(), Failure> {
    std::io::stdout().lock().flush().map_err(write_failure)
}

/// Writes text without a newline (a question before its answer).
pub(crate) fn text(args: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    std::io::stdout().lock().write_fmt(args).map_err(write_failure)?;
    flush()
}

/// Writes one line to standard error; a closed standard error is ignored (there is nowhere
/// left to say anything).
pub(crate) fn err_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Prints `v` as pretty JSON.
pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Failure { code: 1, message: e.to_string() })?;
    outln!("{text}");
    Ok(())
}

fn write_failure(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::quiet()
    } else {
        Failure { code: 3, message: format!("cannot write the output: {e}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_a_quiet_success_and_other_errors_are_reported() {
        let f = write_failure(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!((f.code, f.message.as_str()), (0, ""));
        let f = write_failure(std::io::Error::other("disk full"));
        assert_eq!(f.code, 3);
        assert!(f.message.contains("disk full"), "{}", f.message);
    }
}
