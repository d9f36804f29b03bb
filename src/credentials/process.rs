//! `credential_process` from the AWS config files, run here rather than by the SDK so a
//! helper that hangs is killed (with everything it started) when the deadline passes, its
//! stderr reaches the error message trimmed, and its stdout never does.
//!
//! Same contract as the SDK's provider: `sh -c COMMAND`, no stdin, exit 0 and a JSON
//! object on stdout with `Version: 1`, `AccessKeyId`, `SecretAccessKey`, optional
//! `SessionToken` and `Expiration` (RFC 3339); keys are matched case-insensitively.

use std::process::Stdio;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use chrono::DateTime;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::message::shown;

/// Credentials JSON is a few hundred bytes; anything past this is not a credential answer.
const MAX_OUTPUT: u64 = 1024 * 1024;

/// Why a `credential_process` gave no credentials. Never holds what it printed on stdout.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProcessError {
    /// `sh` itself could not be started.
    #[error("cannot start it: {0}")]
    Spawn(String),
    /// Non-zero exit; `stderr` is what it printed there, trimmed to one bounded line.
    #[error("{program} exited with {status}{}", stderr_part(.stderr))]
    Exit {
        program: String,
        status: String,
        stderr: String,
    },
    /// Exit 0, but stdout is not a credentials object.
    #[error("{program} printed {what}")]
    Output { program: String, what: String },
}

fn stderr_part(stderr: &str) -> String {
    if stderr.is_empty() {
        " and printed nothing on stderr".into()
    } else {
        format!(": {stderr}")
    }
}

/// The program a command line runs, for messages: arguments and leading `NAME=value`
/// assignments (`TOKEN=… helper`, `env TOKEN=… helper`) may hold secrets, so only the
/// program's own word is ever shown.
pub fn program(command: &str) -> String {
    command
        .split_whitespace()
        .find(|word| *word != "env" && !word.contains('='))
        .unwrap_or("credential_process")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// Runs `command` and reads its credentials. Dropping the future (the deadline passed)
/// kills the process and everything it started.
pub async fn run(command: &str) -> Result<Credentials, ProcessError> {
    let program = program(command);
    #[cfg(target_os = "linux")]
    subreaper();
    // In eks-token's own process group, the terminal's foreground group when run from a
    // shell: a helper can prompt on /dev/tty (MFA codes, passwords) and gets Ctrl-C.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProcessError::Spawn(e.to_string()))?;
    // Declared after `child`, so dropped before it: at the deadline the helper is killed
    // while still unreaped.
    let tree = Tree(child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stderr = tokio::spawn(read_limited(stderr));
    let stdout = read_limited(stdout).await;
    // Past the limit we stopped reading: whatever the helper does next (die of SIGPIPE,
    // status 141 from `sh`) is our doing, not its answer.
    if stdout.len() as u64 > MAX_OUTPUT {
        return Err(ProcessError::Output {
            program,
            what: "more than 1 MiB on stdout".into(),
        });
    }
    let stderr = stderr.await.unwrap_or_default();
    // Until `wait` returns the child is not reaped, so its pid cannot be reused and the
    // tree guard may still kill it.
    let status = child.wait().await;
    tree.reaped();
    let status = status.map_err(|e| ProcessError::Spawn(e.to_string()))?;
    if !status.success() {
        // Redacted before it is cut, so a known secret across the cut cannot half show.
        let stderr = shown(&String::from_utf8_lossy(&stderr));
        let status = match status.code() {
            Some(code) => format!("status {code}"),
            None => "a signal".to_owned(),
        };
        return Err(ProcessError::Exit {
            program,
            status,
            stderr,
        });
    }
    parse(&stdout).map_err(|what| ProcessError::Output { program, what })
}

async fn read_limited(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.take(MAX_OUTPUT + 1).read_to_end(&mut out).await;
    }
    out
}

/// Reads the credentials object; errors name the field, never a value.
pub fn parse(stdout: &[u8]) -> Result<Credentials, String> {
    let text = std::str::from_utf8(stdout).map_err(|_| "output that is not UTF-8".to_owned())?;
    if text.trim().is_empty() {
        return Err("nothing on stdout".into());
    }
    // Only syntax errors can come from parsing into a `Value`, and serde_json words those
    // by position alone, so no secret reaches the message.
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("output that is not JSON ({e})"))?;
    let Value::Object(object) = value else {
        return Err("JSON that is not an object".into());
    };
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    match field("Version") {
        Some(v) if v.as_i64() == Some(1) => {}
        Some(_) => return Err("a Version other than 1".into()),
        None => return Err("JSON without \"Version\": 1".into()),
    }
    let secret = |name: &str| -> Result<Option<SecretString>, String> {
        match field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(SecretString::from(s.as_str()))),
            Some(_) => Err(format!("a {name} that is not a non-empty string")),
        }
    };
    let access_key_id = secret("AccessKeyId")?.ok_or("JSON without AccessKeyId")?;
    let secret_access_key = secret("SecretAccessKey")?.ok_or("JSON without SecretAccessKey")?;
    let session_token = secret("SessionToken")?;
    let expiry = match field("Expiration") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s)
                .map(SystemTime::from)
                .map_err(|_| "an Expiration that is not an RFC 3339 timestamp".to_owned())?,
        ),
        Some(_) => return Err("an Expiration that is not a string".into()),
    };
    Ok(Credentials::new(
        access_key_id.expose_secret(),
        secret_access_key.expose_secret(),
        session_token.map(|t| t.expose_secret().to_owned()),
        expiry,
        "CredentialProcess",
    ))
}

/// The process a `credential_process` started and everything below it, killed when the
/// run is over: at the deadline, on an error, and after an answer. `sh -c` forks for
/// anything but the simplest command, so killing the shell alone would leave the helper
/// running, and `(cmd &)` or a daemon orphans what it starts at once.
struct Tree(Option<u32>);

impl Tree {
    /// The helper was reaped, so its pid is no longer ours; what it left behind is not.
    fn reaped(mut self) {
        self.0 = None;
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        kill_below_us(self.0);
        // Without a subreaper, a process the helper orphaned is reparented to init and
        // escapes: only what is still attached below the unreaped helper is found.
        #[cfg(not(target_os = "linux"))]
        if let Some(root) = self.0 {
            let mut doomed = descendants(root);
            doomed.insert(0, root);
            for pid in doomed {
                kill(pid);
            }
        }
    }
}

/// Makes eks-token a child subreaper (prctl(2) `PR_SET_CHILD_SUBREAPER`, Linux 3.4): what
/// the helper orphans (`(cmd &)`, a double fork, a `setsid` daemon) is reparented to
/// eks-token instead of init, so it is still below us when the run is over. Should it
/// fail, orphans escape as they do elsewhere.
#[cfg(target_os = "linux")]
fn subreaper() {
    // SAFETY: prctl(2) with integer arguments sets an attribute of this process only; it
    // is not inherited by children.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Kills every process below eks-token, one generation at a time: our children (the
/// helper while unreaped, what it orphaned), then, once they are dead, their children,
/// which the kernel has just made ours. Only unreaped children of ours are signalled, and
/// nothing else in eks-token reaps them (tokio waits for the helper's pid alone, not
/// during this), so no pid can be reused between listing and killing; a grandchild
/// listed while its parent lived could be reaped by it and its number handed out again.
/// Only this run's credential_process has children here (doctor's child, which runs the
/// live checks, is started by a run that runs no helper itself); threads are not listed.
#[cfg(target_os = "linux")]
fn kill_below_us(helper: Option<u32>) {
    let me = std::process::id();
    let mut killed: Vec<u32> = Vec::new();
    // Bounded: a process stuck in the kernel (uninterruptible sleep) may not die, and a
    // fork bomb under a hung helper makes a new generation each round.
    for _ in 0..100 {
        let alive: Vec<u32> = process_table()
            .into_iter()
            .filter(|&(pid, ppid)| ppid == me && !exited(pid))
            .map(|(pid, _)| pid)
            .collect();
        if alive.is_empty() {
            break;
        }
        for &pid in &alive {
            kill(pid);
            if !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        // Time for them to die and hand their children over.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Reaped only now that they are killed; the helper is tokio's to reap.
    for pid in killed.into_iter().filter(|&pid| Some(pid) != helper) {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: waitpid(2) on a child of ours with a null status pointer, not
            // blocking: one still dying stays a zombie until eks-token exits.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
    }
}

/// Whether our child `pid` has exited (a zombie), leaving it unreaped; a pid that is not
/// our child (any more) counts as exited, so it is never signalled.
#[cfg(target_os = "linux")]
fn exited(pid: u32) -> bool {
    // SAFETY: waitid(2) writes into the zeroed `info` we own; WNOWAIT leaves the child as
    // it is, and si_pid stays 0 (WNOHANG) while it runs.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) != 0
            || info.si_pid() != 0
    }
}

#[cfg(unix)]
fn kill(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. On Linux the
    // pids are unreaped children of ours (so not reused); elsewhere our child (not yet
    // reaped) and processes found below it.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill(_pid: u32) {}

/// Processes below `root`, where there is no subreaper.
#[cfg(not(target_os = "linux"))]
fn descendants(root: u32) -> Vec<u32> {
    let parents = process_table();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
        // Bounded: a process table is finite, but a fork bomb under a hung helper is not.
        if found.len() > 10_000 {
            break;
        }
    }
    found.remove(0);
    found
}

/// `(pid, parent pid)` for every visible process.
fn process_table() -> Vec<(u32, u32)> {
    if let Ok(entries) = std::fs::read_dir("/proc") {
        return entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
                let after = &stat[stat.rfind(')')? + 1..];
                let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
                Some((pid, ppid))
            })
            .collect();
    }
    std::process::Command::new("ps")
        .args(["-A", "-o", "pid=", "-o", "ppid="])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace().map(str::parse::<u32>);
                    Some((it.next()?.ok()?, it.next()?.ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_contract_case_insensitively() {
        let c = parse(
            br#"{"version":1,"accessKeyId":"AK","SECRETACCESSKEY":"SK","SessionToken":"T","Expiration":"2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id(), "AK");
        assert_eq!(c.secret_access_key(), "SK");
        assert_eq!(c.session_token(), Some("T"));
        assert!(c.expiry().is_some());
    }

    #[test]
    fn bad_output_is_described_without_its_values() {
        for (out, want) in [
            (&b""[..], "nothing on stdout"),
            (b"not json sentinelSecret", "not JSON"),
            (b"[1]", "not an object"),
            (br#"{"AccessKeyId":"a","SecretAccessKey":"sentinelSecret"}"#, "Version"),
            (br#"{"Version":2,"AccessKeyId":"a","SecretAccessKey":"sentinelSecret"}"#, "Version other than 1"),
            (br#"{"Version":1,"AccessKeyId":"a"}"#, "without SecretAccessKey"),
            (br#"{"Version":1,"AccessKeyId":"a","SecretAccessKey":5}"#, "SecretAccessKey that is not"),
            (br#"{"Version":1,"AccessKeyId":"a","SecretAccessKey":"sentinelSecret","Expiration":"sentinelSecret"}"#, "Expiration"),
            (b"\xff\xfe", "not UTF-8"),
        ] {
            let err = parse(out).unwrap_err();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
            assert!(!err.contains("sentinelSecret"), "{err:?}");
        }
    }

    #[test]
    fn only_the_program_is_shown() {
        assert_eq!(
            program("/usr/bin/helper --password hunter2"),
            "/usr/bin/helper"
        );
        assert_eq!(
            program("SECRET_PW=hunter2 /usr/bin/helper --x"),
            "/usr/bin/helper"
        );
        assert_eq!(program("env A=1 SECRET_PW=hunter2 helper"), "helper");
        assert_eq!(program("SECRET_PW=hunter2"), "credential_process");
    }
}
