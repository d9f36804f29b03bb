//! eks-token: an Amazon EKS exec credential plugin for kubectl and every client-go tool.
//!
//! The data's path is the module map: [`cli`] arguments → [`credentials`] →
//! [`sts_endpoint`] + [`token`] → [`exec_credential`] on stdout.

pub mod cli;
pub mod command;
pub mod credentials;
pub mod eks_cluster;
pub mod error;
pub mod exec_credential;
pub mod exec_plugin;
pub mod identity;
pub mod kubeconfig;
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
    let cli = match Cli::try_parse_from(cli::normalize(args)) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match &cli.command {
        Command::Token(args) => {
            command::token::run(args, std::env::var_os("KUBERNETES_EXEC_INFO").as_deref())
        }
        Command::Whoami(args) => command::whoami::run(args),
        Command::Kubeconfig(args) => command::kubeconfig::run(args),
        Command::Doctor(args) => {
            // The report is the output even when it lists problems.
            let (report, result) = command::doctor::run(args);
            print(&report);
            result.map(|()| String::new())
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
