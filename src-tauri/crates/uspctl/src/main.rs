//! `uspctl`: a command-line USP controller for power users and scripts.
//!
//! Exit status: 0 success, 1 the agent answered with a USP error (code and message are
//! printed), 2 usage error, 3 connection problem or timeout.
//!
//! One module per subcommand family: `dm` (get, set, add, delete, instances, supported,
//! protocol), `subs` (watch, operate), `discover`, `pair`, `identity` (whoami, trust) and
//! `decode`; `cli` is the command line, and `connect`, `failure` and `output` serve them all.

/// Prints a line to standard output. When the reader has gone away (a closed pipe) it
/// returns [`Failure::quiet`] from the enclosing function, which ends uspctl with status 0
/// after its cleanup.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*))? };
}

/// Prints a line to standard error, ignoring a closed standard error.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::err_line(format_args!($($arg)*)) };
}
mod broker;
mod cli;
mod connect;
mod decode;
mod discover;
mod dm;
mod failure;
mod identity;
mod output;
mod pair;
mod subs;

use std::process::ExitCode;

use clap::Parser;
use usp_client::Client;
use usp_core::msg::Request;

use cli::{Cli, Command};
use failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("USPCTL_LOG"))
        .with_writer(std::io::stderr)
        .init();
    move_old_data_folder();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            errln!("uspctl: cannot start: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.code == 0 => ExitCode::SUCCESS,
        Err(f) => {
            errln!("uspctl: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Moves the data folder uspctl used before it shared the app's (once; see
/// [`usp_client::identity::migrate_old_data_dir`]) and says what it did. A failure is said and
/// the command goes on: the old folder stays as it was for a later run.
fn move_old_data_folder() {
    use usp_client::identity::{migrate_old_data_dir, Migration};
    match migrate_old_data_dir() {
        Ok(Migration::NothingToDo) => {}
        Ok(Migration::Moved { from, to, leftover }) => {
            errln!("uspctl: moved its data from {} to {}, the folder it shares with the app", from.display(), to.display());
            if let Some(kept) = leftover {
                errln!("uspctl: files the app's folder already had are kept in {}", kept.display());
            }
        }
        Ok(Migration::KeptApart { from, kept_as }) => errln!(
            "uspctl: now uses the app's data folder and identity; its old folder {} is kept as {} (devices paired only with uspctl need pairing again)",
            from.display(),
            kept_as.display()
        ),
        Err(e) => errln!("uspctl: could not move its old data folder: {e}"),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Decode { msg, file } = &cli.command {
        return decode::decode(*msg, file);
    }
    if let Some(result) = pairing_command(&cli).await {
        return result;
    }
    // Build (and so check) the request before connecting: a typo is a usage error (2)
    // whether or not the agent is reachable.
    let request = dm::build_request(&cli.command)?;
    let client = connect::connect(&cli).await?;
    let result = run_command(&cli, &client, request).await;
    client.close().await;
    result
}

/// Runs `pair`, `whoami` and `trust`; `None` for the other commands.
async fn pairing_command(cli: &Cli) -> Option<Result<(), Failure>> {
    Some(match &cli.command {
        Command::Pair { target, passcode_stdin, trust_first_use } => {
            pair::pair(cli, target, *passcode_stdin, *trust_first_use).await
        }
        Command::Whoami { qr, pem } => identity::whoami(cli, *qr, *pem),
        Command::Trust { action } => identity::trust(cli, action),
        Command::Discover => discover::discover(cli).await,
        _ => return None,
    })
}

async fn run_command(cli: &Cli, client: &Client, request: Option<Request>) -> Result<(), Failure> {
    match &cli.command {
        Command::Get { .. } => dm::get(cli, client, request).await,
        Command::Set { .. } => dm::set(cli, client, request).await,
        Command::Add { .. } => dm::add(cli, client, request).await,
        Command::Delete { .. } => dm::delete(cli, client, request).await,
        Command::Operate { command, key, wait, .. } => subs::operate(cli, client, request, command, key, *wait).await,
        Command::Instances { .. } => dm::instances(cli, client, request).await,
        Command::Supported { .. } => dm::supported(cli, client, request).await,
        Command::Protocol => dm::protocol(cli, client, request).await,
        Command::Watch { path, kind, count } => subs::watch(cli, client, path, *kind, *count).await,
        Command::Decode { .. }
        | Command::Pair { .. }
        | Command::Whoami { .. }
        | Command::Trust { .. }
        | Command::Discover => Ok(()),
    }
}
