//! eks-token: an Amazon EKS exec credential plugin for kubectl and every client-go tool.
//!
//! The data's path is the module map: [`cli`] arguments → [`cache`] (fast path) →
//! [`credentials`] → [`sts_endpoint`] + [`token`] → [`cache`] → [`exec_credential`] on stdout.

pub mod aws_files;
pub mod cache;
pub mod cli;
pub mod command;
pub mod credentials;
pub mod eks_cluster;
pub mod error;
pub mod exec_credential;
pub mod exec_plugin;
pub mod identity;
pub mod kubeconfig;
pub mod log;
pub mod login;
pub mod message;
pub mod network;
pub mod oidc;
pub mod secrets;
pub mod store;
pub mod sts_endpoint;
pub mod token;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::error::ErrorKind;

use crate::cli::{Cli, OtherCommand};
use crate::error::Error;

/// Starts a run: installs the panic hook, parses the command line and turns on debug
/// lines. On a usage error (or help) the message is already printed and the exit status
/// is returned instead.
pub fn start(args: impl IntoIterator<Item = OsString>) -> Result<Cli, ExitCode> {
    std::panic::set_hook(Box::new(report_panic));
    let cli = Cli::parse_args(cli::normalize(args)).map_err(usage_error)?;
    init_log(cli.verbose);
    Ok(cli)
}

/// Runs every command but `token`, which `main` runs itself, fast path first.
pub fn run(command: &OtherCommand) -> Result<String, Error> {
    match command {
        OtherCommand::Cache(c) => command::cache::run(c, chrono::Utc::now()),
        OtherCommand::Whoami(args) => command::whoami::run(args),
        OtherCommand::Kubeconfig(args) => command::kubeconfig::run(args),
        OtherCommand::Login(args) => command::login::run(args),
        OtherCommand::Logout(args) => command::logout::run(args),
        OtherCommand::Oidc(command) => command::oidc::run(command),
        OtherCommand::Completions(args) => Ok(command::completions::run(args)),
        OtherCommand::Man(args) => command::man::run(args),
        OtherCommand::Complete(what) => Ok(command::completions::names(*what)),
        OtherCommand::Doctor(args) => {
            // The report is the output even when it lists problems.
            let (report, result) = command::doctor::run(args);
            match result {
                Ok(()) => Ok(report),
                Err(e) => {
                    print(&report);
                    Err(e)
                }
            }
        }
    }
}

/// Prints a command's result: its output on stdout, or the error on stderr.
pub fn finish(result: Result<String, Error>) -> ExitCode {
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
        message::warn(&format!("{} must be debug or off; ignoring it", log::ENV));
    }
    log::init(verbose || level == Some(log::Level::Debug));
}

/// A panic is a bug; its message may hold anything, so only the location is shown.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    message::error(
        &format!("internal error{at}"),
        Some("this is a bug in eks-token; please report it with the command you ran"),
    );
    // Exit 1 like every other error, rather than the abort of `panic = "abort"`.
    std::process::exit(1);
}

/// Help and version go to stdout; anything else is a one-line usage error, exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return print(&e.render().to_string());
    }
    let rendered = e.render().to_string();
    // clap's first paragraph is the message, sometimes over several lines; a missing
    // subcommand renders the whole help instead.
    let message = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        "a subcommand is required".to_owned()
    } else {
        rendered
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let message = message.trim_start_matches("error: ");
    let usage = rendered
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or("eks-token --help");
    // Through the one writer: clap repeats the user's argument, control characters and all.
    message::error(message, Some(&format!("usage: {usage} (see --help)")));
    ExitCode::from(2)
}

/// Writes `out` to stdout. A reader that went away (EPIPE, `| head`) is a graceful end,
/// as in ripgrep; a stdout that was closed (EBADF, `>&-`) is an error: the output, a
/// credential for kubectl, went nowhere.
pub fn print(out: &str) -> ExitCode {
    let written = if STDOUT_CLOSED.load(Ordering::Relaxed) {
        Err(io::Error::from_raw_os_error(libc::EBADF))
    } else {
        let mut stdout = io::stdout().lock();
        stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
    };
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let hint = (e.raw_os_error() == Some(libc::EBADF)).then_some(
                "run eks-token with its standard output open (kubectl reads the credential there)",
            );
            message::error(&format!("cannot write to stdout: {e}"), hint);
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Whether stdout was closed when the process started. Rust's runtime reopens a closed
/// standard descriptor on `/dev/null` before `main` (std `sys/pal/unix/mod.rs`,
/// `sanitize_standard_fds`), so the output would vanish and the run succeed; the C
/// runtime calls [`record_closed_stdout`] from `.init_array` before that.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_CLOSED_STDOUT: extern "C" fn() = record_closed_stdout;

#[cfg(target_os = "linux")]
extern "C" fn record_closed_stdout() {
    // SAFETY: fcntl(F_GETFD) only reads the descriptor's flags; no memory is touched.
    let closed = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1
        && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
    STDOUT_CLOSED.store(closed, Ordering::Relaxed);
}
