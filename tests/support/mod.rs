//! The one harness every integration test uses: run the real binary the way kubectl does
//! (clean environment, no stdin, `KUBERNETES_EXEC_INFO`), and start the test peers.
//!
//! Peers come from the venv that `tests/run.sh` builds; a missing peer fails the test
//! with the command that sets it up, it never skips.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const BIN: &str = env!("CARGO_BIN_EXE_eks-token");

/// Exec info as kubectl sends it for each exec apiVersion.
pub const EXEC_INFO_V1: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
pub const EXEC_INFO_V1BETA1: &str = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;

/// The test venv's Python (`EKS_TOKEN_TEST_PYTHON`, else `.venv/bin/python`).
pub fn python() -> PathBuf {
    let path = std::env::var_os("EKS_TOKEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join(".venv/bin/python"));
    assert!(
        path.exists(),
        "test peers missing: {} does not exist; run `tests/run.sh` (it builds the venv)",
        path.display()
    );
    path
}

/// A file under `tests/peers/` or `fixtures/`.
pub fn repo_file(relative: &str) -> PathBuf {
    let p = Path::new(ROOT).join(relative);
    assert!(p.exists(), "{} is missing", p.display());
    p
}

/// A kubectl binary of the given minor version (`1.27` … `1.33`).
pub fn kubectl(version: &str) -> PathBuf {
    let p = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"));
    assert!(
        p.exists(),
        "kubectl {version} is required at {}",
        p.display()
    );
    p
}

/// A background process that is killed when the test ends.
pub struct Process {
    child: Child,
    pub port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts a peer script that prints `{"port": N}` when ready and exits on stdin EOF.
    pub fn peer(script: &str, args: &[&str]) -> Self {
        let mut child = Command::new(python())
            .arg(repo_file(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("{script} did not report its port: {line:?}"));
        let port = ready["port"].as_u64().expect("port") as u16;
        Self { child, port }
    }

    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub fn moto() -> Self {
        let port = free_port();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto_server");
        let process = Self { child, port };
        wait_for_port(port, Duration::from_secs(20));
        process
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {limit:?}");
}

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
        let start = Instant::now();
        let out = self.command(args).output().expect("run eks-token");
        Run::from_output(out, start.elapsed())
    }
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
        let error = self
            .stderr
            .lines()
            .find(|l| l.starts_with("eks-token: error: "))
            .unwrap_or_else(|| panic!("no error line in {:?}", self.stderr));
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

    pub fn hint(&self) -> &str {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("hint: "))
            .unwrap_or_else(|| panic!("no hint in {:?}", self.stderr))
    }
}

/// The independent verifier (`tests/peers/tokencheck.py`): the server's checks plus the
/// signature recomputed with botocore, for `cluster` and `secret`.
pub fn verify_token(token: &str, cluster: &str, secret: &str) -> Value {
    let out = Command::new(python())
        .arg(repo_file("tests/peers/tokencheck.py"))
        .args(["--cluster", cluster, "--secret", secret, token])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "tokencheck printed no JSON: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "token rejected: {verdict}");
    verdict
}

/// `GET url` over plain HTTP/1.0 on loopback, returning the body (test peers only).
pub fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "GET {url}: {head}"
    );
    body.to_owned()
}

/// The role session moto issued `access_key_id` for (`sts.AssumedRole[]` in its data dump).
pub fn moto_session(moto: &Process, access_key_id: &str) -> Value {
    let data: Value =
        serde_json::from_str(&http_get(&format!("{}/moto-api/data.json", moto.url()))).unwrap();
    data["sts"]["AssumedRole"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["access_key_id"] == access_key_id)
        .cloned()
        .unwrap_or_else(|| panic!("moto issued no credentials with access key {access_key_id}"))
}

/// Writes `value` as JSON to a temp file that lives as long as the sandbox.
pub fn write_json(sandbox: &Sandbox, relative: &str, value: &Value) -> PathBuf {
    sandbox.write(relative, &value.to_string())
}

/// SHA-1 hex of `key`: the AWS CLI's SSO cache file name (`~/.aws/sso/cache/<sha1>.json`).
pub fn sso_cache_name(key: &str) -> String {
    let out = Command::new(python())
        .args([
            "-c",
            "import hashlib,sys;print(hashlib.sha1(sys.argv[1].encode()).hexdigest())",
            key,
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
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

/// Runs `code` with boto3 against moto and returns the one JSON value it prints.
/// `code` sees `client(name)`: a boto3 client for moto in `region`.
pub fn boto3(moto: &Process, region: &str, code: &str) -> Value {
    let prelude = format!(
        "import boto3, json\n\
         def client(name):\n    \
             return boto3.client(name, endpoint_url={url:?}, region_name={region:?},\n        \
                 aws_access_key_id='AKIAMOTOSETUP0000001', aws_secret_access_key='setup')\n",
        url = moto.url()
    );
    let out = Command::new(python())
        .args(["-c", &format!("{prelude}{code}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3 snippet failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "boto3 snippet printed no JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Creates an EKS cluster in moto and returns DescribeCluster's `cluster` object.
pub fn moto_cluster(moto: &Process, region: &str, name: &str) -> Value {
    boto3(
        moto,
        region,
        &format!(
            "eks = client('eks')\n\
             eks.create_cluster(name={name:?}, roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={{}})\n\
             print(json.dumps(eks.describe_cluster(name={name:?})['cluster'], default=str))\n"
        ),
    )
}

/// PATH with the eks-token under test first, so a kubeconfig's `command: eks-token` finds it.
pub fn path_with_eks_token() -> String {
    let dir = Path::new(BIN).parent().unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A running `tests/peers/fake_eks.py`.
pub struct FakeEks {
    pub server: Process,
    /// Its CA certificate (PEM).
    pub ca: PathBuf,
    /// One JSON line per request, with the `identity` it authenticated.
    pub log: PathBuf,
}

impl FakeEks {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.port)
    }

    /// How many requests it authorized as `identity` (an ARN).
    pub fn requests_by(&self, identity: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|entry| entry["identity"] == identity)
            .count()
    }
}

/// `tests/peers/fake_eks.py` for `cluster`, knowing `secrets` (access key id → secret)
/// and, with `moto`, the role sessions moto issued.
pub fn fake_eks(
    sandbox: &Sandbox,
    cluster: &str,
    secrets: &Value,
    moto: Option<&Process>,
) -> FakeEks {
    let secrets = sandbox.write("fake-eks/secrets.json", &secrets.to_string());
    let certs = sandbox.path("fake-eks/certs");
    std::fs::create_dir_all(&certs).unwrap();
    let log = sandbox.path("fake-eks/requests.log");
    let mut args = vec![
        "--log".to_owned(),
        log.display().to_string(),
        "--cluster-id".to_owned(),
        cluster.to_owned(),
        "--secrets".to_owned(),
        secrets.display().to_string(),
        "--cert-dir".to_owned(),
        certs.display().to_string(),
    ];
    if let Some(m) = moto {
        args.extend(["--moto".to_owned(), m.url()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Process::peer("tests/peers/fake_eks.py", &args);
    FakeEks {
        server,
        ca: certs.join("ca.pem"),
        log,
    }
}

/// Test-only: points every cluster of the kubeconfig at `server` with `ca_pem` as its CA,
/// leaving users and contexts exactly as they are (moto's DescribeCluster and the
/// fixtures carry made-up endpoints).
pub fn point_clusters_at(kubeconfig: &Path, server: &str, ca_pem: &Path) {
    use base64::Engine;
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(ca_pem).unwrap());
    for entry in doc["clusters"].as_sequence_mut().expect("clusters") {
        let cluster = entry["cluster"].as_mapping_mut().expect("cluster");
        cluster.insert("server".into(), server.into());
        cluster.insert("certificate-authority-data".into(), ca.as_str().into());
    }
    std::fs::write(kubeconfig, yaml_serde::to_string(&doc).unwrap()).unwrap();
}

/// Runs a kubectl version's `get pods` with `kubeconfig` and eks-token on PATH.
pub fn kubectl_get_pods(sandbox: &Sandbox, version: &str, kubeconfig: &Path) -> Run {
    let start = Instant::now();
    let out = sandbox
        .command_of(kubectl(version), &["get", "pods", "--request-timeout=20s"])
        .env("KUBECONFIG", kubeconfig)
        .env("PATH", path_with_eks_token())
        .output()
        .unwrap();
    Run::from_output(out, start.elapsed())
}

/// `kubectl config ARGS --kubeconfig FILE` of a kubectl version: the file alone, no server.
pub fn kubectl_config(sandbox: &Sandbox, version: &str, kubeconfig: &Path, args: &[&str]) -> Run {
    let start = Instant::now();
    let kubeconfig = kubeconfig.to_str().unwrap();
    let mut all = vec!["config"];
    all.extend(args);
    all.extend(["--kubeconfig", kubeconfig]);
    let out = sandbox.command_of(kubectl(version), &all).output().unwrap();
    Run::from_output(out, start.elapsed())
}

/// What kubectl 1.27 and 1.33 read from a kubeconfig (`config view --raw -o json`, the
/// same for both), after checking that both load it and list its contexts.
pub fn kubectl_view(sandbox: &Sandbox, kubeconfig: &Path) -> Value {
    let mut views = Vec::new();
    for version in ["1.27", "1.33"] {
        let contexts = kubectl_config(sandbox, version, kubeconfig, &["get-contexts"]);
        assert_eq!(contexts.code, 0, "kubectl {version}: {}", contexts.stderr);
        let view = kubectl_config(
            sandbox,
            version,
            kubeconfig,
            &["view", "--raw", "-o", "json"],
        );
        assert_eq!(view.code, 0, "kubectl {version}: {}", view.stderr);
        views.push(serde_json::from_str::<Value>(&view.stdout).expect("kubectl prints JSON"));
    }
    assert_eq!(
        views[0], views[1],
        "kubectl 1.27 and 1.33 read it differently"
    );
    views.remove(0)
}

/// What kubectl prints for an empty namespace it was allowed to list.
pub const NO_PODS: &str = "No resources found in default namespace.";

/// Parses a YAML file.
pub fn read_yaml(path: &Path) -> yaml_serde::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// The entry named `name` in a kubeconfig list (`clusters`, `users`, `contexts`).
pub fn named<'a>(doc: &'a yaml_serde::Value, list: &str, name: &str) -> &'a yaml_serde::Value {
    doc[list]
        .as_sequence()
        .unwrap_or_else(|| panic!("no {list} list"))
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {list} entry named {name}"))
}

/// A loopback port nothing listens on: connections to it are refused.
pub fn closed_port() -> u16 {
    free_port()
}

impl Process {
    /// `tests/peers/fault_server.py` following `plan` (see the script for the steps).
    pub fn faults(plan: &Value) -> Self {
        Self::peer(
            "tests/peers/fault_server.py",
            &["--plan", &plan.to_string()],
        )
    }

    /// How many requests a fault server has answered (or held).
    pub fn requests(&self) -> u64 {
        let stats: Value =
            serde_json::from_str(&http_get(&format!("{}/_stats", self.url()))).unwrap();
        stats["requests"].as_u64().expect("requests")
    }
}

impl Run {
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

/// Runs a command built with [`Sandbox::command`] (for arguments or environment values
/// that are not UTF-8) and times it.
pub fn run_command(mut cmd: Command) -> Run {
    let start = Instant::now();
    let out = cmd.output().expect("run eks-token");
    Run::from_output(out, start.elapsed())
}
