//! eks-token: an Amazon EKS exec credential plugin for kubectl and every client-go tool.
//!
//! The data's path is the module map: [`cli`] arguments → [`credentials`] →
//! [`sts_endpoint`] + [`token`] → [`exec_credential`] on stdout.

pub mod cli;
pub mod command;
pub mod credential_process;
pub mod credentials;
pub mod error;
pub mod exec_credential;
pub mod log;
pub mod network;
pub mod sdk_error;
pub mod sso_cache;
pub mod sts_endpoint;
pub mod token;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command};

/// Runs eks-token with `args` (including the program name) and returns the exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    std::panic::set_hook(Box::new(report_panic));
    let cli = match Cli::try_parse_from(cli::normalize(args)) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    init_log(cli.verbose);
    let result = match &cli.command {
        Command::Token(args) => {
            command::token::run(args, std::env::var_os("KUBERNETES_EXEC_INFO").as_deref())
        }
    };
    match result {
        Ok(out) => print(&out),
        Err(e) => {
            error::report(&e);
            ExitCode::FAILURE
        }
    }
}

/// `--verbose` or `EKS_TOKEN_LOG=debug`; an unknown level is a warning, not a failure.
fn init_log(verbose: bool) {
    let value = std::env::var_os(log::ENV);
    let level = match value.as_deref().map(|v| v.to_str()) {
        None => Some(log::Level::Off),
        Some(Some(v)) => log::Level::from_env_value(Some(v)),
        Some(None) => None,
    };
    if level.is_none() {
        error::warn(&format!("{} must be debug or off; ignoring it", log::ENV));
    }
    log::init(verbose || level == Some(log::Level::Debug));
}

/// A panic is a bug; its message may hold anything, so only the location is shown.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let _ = writeln!(
        io::stderr(),
        "eks-token: error: internal error{at}\nhint: this is a bug in eks-token; please report it with the command you ran"
    );
}

/// Help and version go to stdout; anything else is a one-line usage error, exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return print(&e.render().to_string());
    }
    let rendered = e.render().to_string();
    // clap's first paragraph is the message, sometimes over several lines.
    let message = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.trim_start_matches("error: ");
    let usage = rendered
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or("eks-token --help");
    let _ = writeln!(
        io::stderr(),
        "eks-token: error: {message}\nhint: usage: {usage} (see --help)"
    );
    ExitCode::from(2)
}

/// Writes `out` to stdout; a closed pipe is a graceful end, not an error.
fn print(out: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(
                io::stderr(),
                "eks-token: error: cannot write to stdout: {e}"
            );
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}
