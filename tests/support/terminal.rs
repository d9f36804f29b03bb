//! Runs a program as a person at a terminal starts it, on a pseudo-terminal
//! (`tests/peers/pty_run.py`), where eks-token may decide that someone can log in.

use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::peers::{python, repo_file};
use super::runner::{Run, Sandbox};

/// How long a run on the terminal may take before `pty_run.py` kills it: far above a
/// login through the test browser, so only a hang reaches it.
pub const TERMINAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the program's stdout goes; stdin and stderr are always the terminal.
#[derive(Clone, Copy, Debug)]
pub enum Stdout {
    /// The terminal, as in a shell.
    Terminal,
    /// A pipe read apart, as kubectl runs an exec plugin.
    Pipe,
}

/// `program args` on a new pseudo-terminal with the sandbox's environment, where nothing
/// is typed. Add to the environment with `.env` (it reaches the program), then run it with
/// [`run_in_terminal`].
pub fn terminal_command(
    sandbox: &Sandbox,
    program: impl AsRef<OsStr>,
    args: &[&str],
    stdout: Stdout,
) -> Command {
    answering_terminal_command(sandbox, program, args, stdout, &[])
}

/// A [`terminal_command`] where a person answers prompts: for each `(regex, text)` in
/// order, `text` and Enter are typed once `regex` matches what the terminal showed since
/// the answer before (`pty_run.py --answer`).
pub fn answering_terminal_command(
    sandbox: &Sandbox,
    program: impl AsRef<OsStr>,
    args: &[&str],
    stdout: Stdout,
    answers: &[(&str, &str)],
) -> Command {
    let mut cmd = sandbox.command_of(python(), &[]);
    cmd.arg(repo_file("tests/peers/pty_run.py"))
        .args(["--timeout", &TERMINAL_TIMEOUT.as_secs().to_string()]);
    if let Stdout::Pipe = stdout {
        cmd.arg("--stdout-pipe");
    }
    for (regex, text) in answers {
        cmd.args(["--answer", regex, text]);
    }
    cmd.arg("--").arg(program).args(args);
    cmd
}

/// A run on the terminal, with what the terminal was left like.
pub struct TerminalRun {
    /// As [`run_in_terminal`] gives it.
    pub run: Run,
    /// How many answers were typed.
    pub answered: u64,
    /// Whether the terminal echoed what is typed when the program ended.
    pub echo: bool,
    /// The signal that ended the program, if one did.
    pub signal: Option<i64>,
}

/// Runs a [`terminal_command`]: `stderr` is what the terminal showed (newlines as `\n`),
/// `stdout` what went to the pipe (empty with [`Stdout::Terminal`]), `elapsed` the
/// program's own run time. Panics when the program was still running at the timeout.
pub fn run_in_terminal(cmd: Command) -> Run {
    run_on_terminal(cmd).run
}

/// [`run_in_terminal`], with how many answers were typed and the terminal's echo after.
pub fn run_on_terminal(mut cmd: Command) -> TerminalRun {
    let out = cmd.output().expect("run tests/peers/pty_run.py");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "pty_run.py printed no report: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let terminal = report["terminal"]
        .as_str()
        .expect("terminal")
        .replace("\r\n", "\n");
    assert!(
        report["timed_out"] == false,
        "still running after {TERMINAL_TIMEOUT:?} on the terminal: {terminal}"
    );
    TerminalRun {
        run: Run {
            code: report["code"].as_i64().map_or(-1, |c| c as i32),
            stdout: report["stdout"].as_str().unwrap_or_default().to_owned(),
            stderr: terminal,
            elapsed: Duration::from_secs_f64(report["elapsed"].as_f64().expect("elapsed")),
        },
        answered: report["answered"].as_u64().expect("answered"),
        echo: report["echo"].as_bool().expect("echo"),
        signal: report["signal"].as_i64(),
    }
}
