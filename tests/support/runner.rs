//! Runs the binary under test as kubectl does, in a private HOME, and checks what it printed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const BIN: &str = env!("CARGO_BIN_EXE_eks-token");

/// Exec info as kubectl sends it for each exec apiVersion.
pub const EXEC_INFO_V1: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
/// Exec info as kubectl sends it when a person is there (`interactiveMode: IfAvailable`
/// and stdin a terminal), and as kube-rs sends it for `IfAvailable` even without one.
pub const EXEC_INFO_V1_INTERACTIVE: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#;
pub const EXEC_INFO_V1BETA1: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;

/// A private HOME with its own `~/.aws`, and the environment the binary runs with.
pub struct Sandbox {
    pub home: TempDir,
    env: Vec<(String, String)>,
}

/// What a run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Sandbox {
    pub fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        Self {
            home,
            env: Vec::new(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }

    /// Writes a file under HOME (parents created), returning its path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn env(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Environment pointing every AWS API call at a local server (never the token).
    pub fn endpoint(&mut self, url: &str) -> &mut Self {
        self.env("AWS_ENDPOINT_URL", url)
    }

    /// Environment as `aws-vault exec --ecs-server` sets it: credentials from `{url}/creds`,
    /// asked for with `authorization`.
    pub fn container_endpoint(&mut self, url: &str, authorization: &str) -> &mut Self {
        self.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{url}/creds"))
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", authorization)
    }

    /// The command as kubectl would start it: clean environment, no stdin.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(BIN, args)
    }

    /// Any program with the sandbox's clean environment and no stdin.
    pub fn command_of(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args))
    }

    /// Starts the binary with `args` in the background, to talk to it while it runs.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        Spawned::start(self.command(args))
    }
}

/// A run in the background whose stderr the test reads line by line as it comes; killed
/// if the test ends first.
pub struct Spawned {
    child: std::process::Child,
    start: Instant,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Vec<String>,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl Spawned {
    pub fn start(mut cmd: Command) -> Self {
        use std::io::{BufRead, BufReader, Read};
        let start = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eks-token");
        let (send, lines) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let (send, stdout) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            let _ = send.send(text);
        });
        Self {
            child,
            start,
            lines,
            stderr: Vec::new(),
            stdout,
        }
    }

    /// The process id, to signal it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to `limit`) for a stderr line that `wanted` accepts, and returns it.
    pub fn stderr_line(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no such stderr line within {limit:?}; stderr so far: {:?}",
                    self.stderr
                ),
            }
        }
    }

    /// Waits (up to `limit`, else kills it and fails) for the run to end.
    pub fn finish(mut self, limit: Duration) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if self.start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("still running after {limit:?}; stderr: {:?}", self.stderr);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.start.elapsed();
        // The pipes reach EOF once the process and anything it left holding them are gone.
        let eof = Instant::now() + Duration::from_secs(10);
        let left = || eof.saturating_duration_since(Instant::now());
        let stdout = self
            .stdout
            .recv_timeout(left())
            .expect("stdout still open 10 s after the run ended: a child of it holds it");
        while let Ok(line) = self.lines.recv_timeout(left()) {
            self.stderr.push(line);
        }
        let mut stderr = self.stderr.join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
            elapsed,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command built with [`Sandbox::command`] (for arguments or environment values
/// that are not UTF-8) and times it.
pub fn run_command(mut cmd: Command) -> Run {
    let start = Instant::now();
    let out = cmd.output().expect("run eks-token");
    Run::from_output(out, start.elapsed())
}

/// Runs a helper program (not the binary under test) and returns what it printed on
/// stdout; the test fails, with its stderr, unless it succeeds.
pub fn stdout_of(mut cmd: Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Run {
    pub fn from_output(out: Output, elapsed: Duration) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// Asserts success and returns the printed ExecCredential.
    pub fn credential(&self) -> Value {
        assert_eq!(self.code, 0, "eks-token failed: {}", self.stderr);
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "stdout is one line: {:?}",
            self.stdout
        );
        serde_json::from_str(&self.stdout).expect("stdout is JSON")
    }

    /// Asserts success and returns the token.
    pub fn token(&self) -> String {
        self.credential()["status"]["token"]
            .as_str()
            .expect("status.token")
            .to_owned()
    }

    /// Asserts the error format: one `eks-token: error:` line, an optional `hint:`,
    /// the exit status, and nothing on stdout.
    pub fn assert_error(&self, code: i32, contains: &str) {
        assert_eq!(self.code, code, "stderr: {}", self.stderr);
        assert!(
            self.stdout.is_empty(),
            "stdout not empty: {:?}",
            self.stdout
        );
        let error = self.error_line();
        assert!(
            error.contains(contains),
            "{error:?} does not contain {contains:?}"
        );
        for line in self.stderr.lines() {
            assert!(
                line.starts_with("eks-token: ") || line.starts_with("hint: "),
                "stray stderr line {line:?}"
            );
        }
    }

    /// This run with the login prompt's URL lines (`  URL`, each on a line of its own so it
    /// can be copied) set aside, so [`Run::assert_error`] can check the rest.
    pub fn without_prompt_urls(&self, urls: &[String]) -> Run {
        let stderr: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| {
                !urls
                    .iter()
                    .any(|url| line.strip_prefix("  ") == Some(url.as_str()))
            })
            .collect();
        Run {
            code: self.code,
            stdout: self.stdout.clone(),
            stderr: stderr.iter().map(|l| format!("{l}\n")).collect(),
            elapsed: self.elapsed,
        }
    }

    /// The `eks-token: error: …` line.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("eks-token: error: "))
            .unwrap_or_else(|| panic!("no error line in {:?}", self.stderr))
    }

    pub fn hint(&self) -> &str {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("hint: "))
            .unwrap_or_else(|| panic!("no hint in {:?}", self.stderr))
    }

    /// Asserts the run ended within `limit` (a bound on a failure path that must not hang).
    pub fn assert_within(&self, limit: Duration) {
        assert!(
            self.elapsed < limit,
            "took {:?}, more than {limit:?}: {}",
            self.elapsed,
            self.stderr
        );
    }
}

/// Writes `value` as JSON to a temp file that lives as long as the sandbox.
pub fn write_json(sandbox: &Sandbox, relative: &str, value: &Value) -> PathBuf {
    sandbox.write(relative, &value.to_string())
}

/// The JSON in the file at `path`.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The permission bits of `path` (`0o600` for a private file).
pub fn file_mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Whether `path` is an ELF executable without a program interpreter (statically linked).
pub fn is_static_elf(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(elf[4], 2, "64-bit ELF expected");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).all(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) != PT_INTERP
    })
}

/// Whether `pid` is a live process (a zombie is not).
pub fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
    }
}
