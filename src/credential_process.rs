//! `credential_process` from the AWS config files, run here rather than by the SDK so a
//! helper that hangs is killed (with its process group) when the deadline passes, its
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
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::single_line;
use crate::sdk_error::bounded;

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
    let mut sh = tokio::process::Command::new("sh");
    sh.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so the group can be killed as a whole.
    #[cfg(unix)]
    sh.process_group(0);
    let mut child = sh.spawn().map_err(|e| ProcessError::Spawn(e.to_string()))?;
    // Declared after `child`, so dropped before it: at the deadline the group dies while
    // its leader is still unreaped.
    let _group = Group(child.id());
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
    let status = child
        .wait()
        .await
        .map_err(|e| ProcessError::Spawn(e.to_string()))?;
    if !status.success() {
        let stderr = bounded(&single_line(&String::from_utf8_lossy(&stderr)));
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
    let secret =
        |name: &str, object: &Map<String, Value>| -> Result<Option<SecretString>, String> {
            match object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
            {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(SecretString::from(s.as_str()))),
                Some(_) => Err(format!("a {name} that is not a non-empty string")),
            }
        };
    let access_key_id = secret("AccessKeyId", &object)?.ok_or("JSON without AccessKeyId")?;
    let secret_access_key =
        secret("SecretAccessKey", &object)?.ok_or("JSON without SecretAccessKey")?;
    let session_token = secret("SessionToken", &object)?;
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

/// The process group a `credential_process` runs in, killed when the run is over: at
/// the deadline, on an error, and after an answer, so nothing it started in the
/// background (`sh -c` forks; `(helper &)` orphans at once) outlives eks-token. A
/// process that leaves the group (`setsid`, a daemon) has asked to be left alone.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(Ok(group)) = self.0.map(libc::pid_t::try_from) {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours. A group
            // id is not reused while the group has members (POSIX); the leader is unreaped
            // or was reaped just now, and an emptied group's id could name another group
            // only after the pid numbers wrap around.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
    }
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
