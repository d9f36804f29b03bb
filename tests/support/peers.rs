//! The test peers (`tests/peers/`): starting them (moto, the fault server, the stub server,
//! the fake EKS API server), asking them what they saw, and the independent token verifier.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::runner::{ROOT, Sandbox};

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

/// The command line that runs `fixtures/credential_process.py`, for a profile's
/// `credential_process` (its flags follow).
pub fn credential_process_fixture() -> String {
    format!(
        "{} {}",
        python().display(),
        repo_file("fixtures/credential_process.py").display()
    )
}

/// How long a peer may take to report its port, and how many starts it gets.
const PEER_START_TIMEOUT: Duration = Duration::from_secs(20);
const PEER_STARTS: u32 = 2;

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

    /// Starts a Python peer script that prints `{"port": N}` when ready and exits on stdin EOF.
    pub fn peer(script: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(python());
        cmd.arg(repo_file(script)).args(args);
        Self::spawn_peer(cmd, script).0
    }

    /// Starts a peer (`cmd`, called `name` in failures) that prints one JSON line with its
    /// `port` when ready and exits on stdin EOF; returns it and that line.
    pub fn spawn_peer(mut cmd: Command, name: &str) -> (Self, Value) {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Bounded: Node 20 running oidc-provider 9 (which asks for Node 22) has been seen to
        // stall at start-up under load, before it opens a socket; a second start has always
        // come up. A peer that never starts fails the test instead of hanging it.
        for attempt in 1..=PEER_STARTS {
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
            let stdout = child.stdout.take().unwrap();
            let (send, ready) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = send.send(line);
            });
            match ready.recv_timeout(PEER_START_TIMEOUT) {
                Ok(line) => {
                    let ready: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|_| panic!("{name} did not report its port: {line:?}"));
                    let port = ready["port"].as_u64().expect("port") as u16;
                    return (Self { child, port }, ready);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!(
                        "{name} did not start within {PEER_START_TIMEOUT:?} (start {attempt} of {PEER_STARTS})"
                    );
                }
            }
        }
        panic!("{name} did not start within {PEER_START_TIMEOUT:?}, {PEER_STARTS} times")
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

/// A loopback port free right now (for a listener the test tells a program to open).
pub fn free_port() -> u16 {
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

/// A loopback port nothing listens on: connections to it are refused.
pub fn closed_port() -> u16 {
    free_port()
}

/// The independent verifier (`tests/peers/tokencheck.py`): the server's checks plus the
/// signature recomputed with botocore, for `cluster` and `secret`. Panics with the
/// verifier's reason when it rejects the token.
pub fn verify_token(token: &str, cluster: &str, secret: &str) -> Value {
    check_token(token, cluster, secret).unwrap_or_else(|why| panic!("token rejected: {why}"))
}

/// The verifier's verdict on `token` for `cluster` and `secret`, or why it rejects it.
pub fn check_token(token: &str, cluster: &str, secret: &str) -> Result<Value, String> {
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
    if out.status.success() {
        Ok(verdict)
    } else {
        Err(verdict["error"]
            .as_str()
            .unwrap_or_else(|| panic!("tokencheck failed without a reason: {verdict}"))
            .to_owned())
    }
}

/// `GET url` over plain HTTP/1.0 on loopback, returning the body (test peers only).
pub fn http_get(url: &str) -> String {
    http_ok("GET", url, &[], "")
}

/// `POST url` with a JSON body over plain HTTP/1.0 on loopback, returning the JSON
/// answer (test peers only).
pub fn http_post_json(url: &str, body: &Value) -> Value {
    let headers = [("Content-Type", "application/json")];
    let answer = http_ok("POST", url, &headers, &body.to_string());
    serde_json::from_str(&answer).unwrap_or_else(|_| panic!("POST {url}: not JSON: {answer}"))
}

/// [`http_request`] whose answer must be 200: its body.
fn http_ok(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> String {
    let (status, answer) = http_request(method, url, headers, body);
    assert_eq!(status, 200, "{method} {url}: {answer}");
    answer
}

/// One HTTP/1.0 request on loopback with `headers` and `body`: the status and the body
/// of the answer (test peers only).
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{request}\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, answer) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|h| h.get(2..5))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{method} {url}: not an HTTP status line: {head}"));
    (status, answer.to_owned())
}

/// The role sessions moto has issued, in order (`sts.AssumedRole[]` in its data dump:
/// `arn`, `access_key_id`, `secret_access_key`, `session_token` …).
pub fn moto_sessions(moto: &Process) -> Vec<Value> {
    let data: Value =
        serde_json::from_str(&http_get(&format!("{}/moto-api/data.json", moto.url()))).unwrap();
    data["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// How many AssumeRole calls moto has answered.
pub fn assume_role_calls(moto: &Process) -> usize {
    moto_sessions(moto).len()
}

/// The role session moto issued `access_key_id` for.
pub fn moto_session(moto: &Process, access_key_id: &str) -> Value {
    moto_sessions(moto)
        .into_iter()
        .find(|r| r["access_key_id"] == access_key_id)
        .unwrap_or_else(|| panic!("moto issued no credentials with access key {access_key_id}"))
}

/// The token's access key must be one moto issued for `role`, and the token must verify
/// with its secret; returns moto's record of that session.
pub fn assert_assumed(moto: &Process, token: &str, cluster: &str, role: &str) -> Value {
    let url = eks_token::token::decode(token).unwrap();
    let ak = url
        .split("X-Amz-Credential=")
        .nth(1)
        .unwrap()
        .split("%2F")
        .next()
        .unwrap()
        .to_owned();
    let session = moto_session(moto, &ak);
    assert!(
        session["arn"]
            .as_str()
            .unwrap()
            .contains(&format!("assumed-role/{role}/")),
        "{session}"
    );
    let verdict = verify_token(
        token,
        cluster,
        session["secret_access_key"].as_str().unwrap(),
    );
    assert_eq!(verdict["session_token"], session["session_token"]);
    session
}

/// `tests/peers/stub_server.py` relaying STS to `moto` and recording each call's
/// parameters ([`sts_calls`]); point `AWS_ENDPOINT_URL_STS` at it. `more` adds sections
/// of its config (`{"sso": …}`) for the endpoints it stands in for besides.
pub fn sts_recorder(sandbox: &Sandbox, moto: &Process, more: &Value) -> Process {
    let mut config = serde_json::json!({"sts": {"upstream": moto.url()}});
    for (name, section) in more.as_object().into_iter().flatten() {
        config[name] = section.clone();
    }
    let config = sandbox.write("sts-recorder.json", &config.to_string());
    Process::peer(
        "tests/peers/stub_server.py",
        &["--config", config.to_str().unwrap()],
    )
}

/// The parameters of each STS call an [`sts_recorder`] relayed, in order (`Action`,
/// `RoleArn`, `SerialNumber`, `TokenCode`, `DurationSeconds` …).
pub fn sts_calls(recorder: &Process) -> Vec<Value> {
    let answer: Value =
        serde_json::from_str(&http_get(&format!("{}/_sts", recorder.url()))).unwrap();
    answer["calls"].as_array().expect("calls").clone()
}

/// Runs `code` with boto3 against `server` (moto, or a stub that speaks the same
/// protocols, to prove it faithful) and returns the one JSON value it prints. `code` sees
/// `client(name)`: a boto3 client for `server` in `region`, and `ClientError`.
pub fn boto3(server: &Process, region: &str, code: &str) -> Value {
    let prelude = format!(
        "import boto3, json\n\
         from botocore.exceptions import ClientError\n\
         def client(name):\n    \
             return boto3.client(name, endpoint_url={url:?}, region_name={region:?},\n        \
                 aws_access_key_id='AKIAMOTOSETUP0000001', aws_secret_access_key='setup')\n",
        url = server.url()
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

/// Creates IAM user `name` under `path` (`/` or `/eng/`) in moto and returns an access
/// key id and secret of hers.
pub fn moto_iam_user(moto: &Process, name: &str, path: &str) -> (String, String) {
    let key = boto3(
        moto,
        "eu-west-1",
        &format!(
            "iam = client('iam')\n\
             iam.create_user(UserName={name:?}, Path={path:?})\n\
             k = iam.create_access_key(UserName={name:?})['AccessKey']\n\
             print(json.dumps([k['AccessKeyId'], k['SecretAccessKey']]))\n"
        ),
    );
    (
        key[0].as_str().unwrap().to_owned(),
        key[1].as_str().unwrap().to_owned(),
    )
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

/// A running `tests/peers/fake_eks.py`.
pub struct FakeEks {
    pub server: Process,
    /// Its CA certificate (PEM).
    pub ca: PathBuf,
    /// One JSON line per request, with the `identity` it authenticated or the `error`
    /// it rejected the token for.
    pub log: PathBuf,
}

impl FakeEks {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.port)
    }

    fn logged(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }

    /// How many requests it authorized as `identity` (an ARN, or an OIDC username).
    pub fn requests_by(&self, identity: &str) -> usize {
        self.logged()
            .iter()
            .filter(|entry| entry["identity"] == identity && entry["error"].is_null())
            .count()
    }

    /// The groups of each request it authenticated as OIDC user `identity`, in order.
    pub fn groups_of(&self, identity: &str) -> Vec<Vec<String>> {
        self.logged()
            .iter()
            .filter(|entry| entry["identity"] == identity)
            .map(|entry| {
                entry["groups"]
                    .as_array()
                    .expect("an OIDC request logs its groups")
                    .iter()
                    .map(|g| g.as_str().unwrap().to_owned())
                    .collect()
            })
            .collect()
    }

    /// Why it rejected each request it did not authorize (401, or 403 for an OIDC user
    /// outside the allowed groups), in order.
    pub fn rejections(&self) -> Vec<String> {
        self.logged()
            .iter()
            .filter_map(|entry| entry["error"].as_str().map(str::to_owned))
            .collect()
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
    let mut args = vec!["--secrets".to_owned(), secrets.display().to_string()];
    if let Some(m) = moto {
        args.extend(["--moto".to_owned(), m.url()]);
    }
    start_fake_eks(sandbox, cluster, args)
}

/// `tests/peers/fake_eks.py` for `cluster` with `args` besides its log and certificates.
pub fn start_fake_eks(sandbox: &Sandbox, cluster: &str, mut args: Vec<String>) -> FakeEks {
    let certs = sandbox.path("fake-eks/certs");
    std::fs::create_dir_all(&certs).unwrap();
    let log = sandbox.path("fake-eks/requests.log");
    args.extend([
        "--log".to_owned(),
        log.display().to_string(),
        "--cluster-id".to_owned(),
        cluster.to_owned(),
        "--cert-dir".to_owned(),
        certs.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Process::peer("tests/peers/fake_eks.py", &args);
    FakeEks {
        server,
        ca: certs.join("ca.pem"),
        log,
    }
}

/// `tests/peers/test_browser.py`, for `$BROWSER` or `--browser-command`.
pub fn test_browser() -> PathBuf {
    repo_file("tests/peers/test_browser.py")
}

/// Makes the test browser the sandbox's `$BROWSER`, logging each open (see
/// [`browser_opens`]); its mode (`EKS_TOKEN_TEST_BROWSER`) is left to the test.
pub fn use_test_browser(s: &mut Sandbox) {
    let log = s.path("browser.log");
    s.env("BROWSER", test_browser().display().to_string())
        .env("EKS_TOKEN_TEST_BROWSER_LOG", log.display().to_string());
}

/// The URLs the test browser of a sandbox ([`use_test_browser`]) was opened at, in order.
pub fn browser_opens(s: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(s.path("browser.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Makes the test browser of a sandbox also note every URL it requests, redirects too
/// (see [`browser_visits`]): the callbacks with the codes the provider sent.
pub fn record_browser_visits(s: &mut Sandbox) {
    let log = s.path("browser-visits.log");
    s.env("EKS_TOKEN_TEST_BROWSER_VISITS", log.display().to_string());
}

/// Every URL the test browser requested ([`record_browser_visits`]), in order.
pub fn browser_visits(s: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(s.path("browser-visits.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
