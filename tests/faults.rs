//! The fault matrix: every way an AWS endpoint (or an OpenID provider's discovery and token
//! endpoints) can fail, scripted on 127.0.0.1 (`tests/peers/fault_server.py`,
//! `stub_server.py --hang`, a closed port), through the real binary. Each case checks the
//! exit status, the error and hint, an empty stdout and that the run ends within the
//! deadline plus a margin.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::{
    AK, OIDC_CLIENT_ID, OIDC_LOGIN, OidcProvider, Process, Run, SK, Sandbox, browser_opens,
    closed_port, env_creds, free_port, http_get, oidc_cache_entries, oidc_config, oidc_flags,
    oidc_redirect, process_running, use_oidc_browser, utc_in, verify_token, write_sso_login,
};

const ROLE: &str = "arn:aws:iam::123456789012:role/eks-viewer";

/// `--timeout` for these runs, and the slack allowed past it for process start-up.
const DEADLINE: Duration = Duration::from_secs(2);
const MARGIN: Duration = Duration::from_millis(1500);
/// How far past `--timeout` a run that must stop at the deadline may end: process start
/// and exit on a loaded machine, never a second step's worth of waiting.
const OVERRUN: Duration = Duration::from_millis(600);

const ISSUED_AK: &str = "ASIAFAULTSERVERKEY01";
const ISSUED_SK: &str = "issuedSecret/fault+matrix";

fn issued() -> Value {
    json!({"access_key_id": ISSUED_AK, "secret_access_key": ISSUED_SK,
           "session_token": "issued+session/token="})
}

/// Environment credentials, STS pointed at `sts`.
fn sandbox(sts: &str) -> Sandbox {
    let mut s = env_creds();
    s.env("AWS_ENDPOINT_URL_STS", sts);
    s
}

fn assume(s: &Sandbox) -> Run {
    s.run(&[
        "token",
        "-i",
        "c",
        "--role-arn",
        ROLE,
        "--timeout",
        &DEADLINE.as_secs().to_string(),
    ])
}

fn error_line(run: &Run) -> &str {
    run.stderr
        .lines()
        .find(|l| l.starts_with("eks-token: error: "))
        .unwrap_or_else(|| panic!("no error line in {:?}", run.stderr))
}

#[test]
fn refused_connection_names_the_endpoint_and_is_not_retried() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let mut s = sandbox(&url);
    s.env("EKS_TOKEN_LOG", "debug");
    let run = assume(&s);
    run.assert_error(
        1,
        &format!("cannot reach {url} (connection refused) for STS AssumeRole of {ROLE}"),
    );
    assert!(run.hint().contains("not an AWS address"), "{}", run.hint());
    // Retrying a refused connection only delays the answer: one attempt, logged once.
    let attempts = run
        .stderr
        .lines()
        .filter(|l| l.contains("] http: POST "))
        .count();
    assert_eq!(attempts, 1, "{}", run.stderr);
    run.assert_within(Duration::from_secs(1));
}

#[test]
fn accepted_but_never_answered_times_out_at_the_deadline() {
    // Kernel-level accept, request never read; and a server that reads it and goes quiet.
    let silent = Process::peer("tests/peers/stub_server.py", &["--hang"]);
    let reads = Process::faults(&json!([{"hang": true}]));
    for stub in [&silent, &reads] {
        let run = assume(&sandbox(&stub.url()));
        run.assert_error(
            1,
            &format!(
                "timed out after 2s: STS AssumeRole of {ROLE}: no answer from {}",
                stub.url()
            ),
        );
        assert!(run.hint().contains("--timeout SECONDS"), "{}", run.hint());
        assert!(run.elapsed >= DEADLINE, "{:?}", run.elapsed);
        run.assert_within(DEADLINE + MARGIN);
    }
}

#[test]
fn server_errors_then_success_are_retried_within_the_deadline() {
    let stub = Process::faults(&json!([
        {"status": 500, "body": "Internal Server Error"},
        {"status": 503, "body": "Service Unavailable"},
        {"sts": issued()},
    ]));
    let run = assume(&sandbox(&stub.url()));
    let verdict = verify_token(&run.token(), "c", ISSUED_SK);
    assert_eq!(verdict["access_key_id"], ISSUED_AK);
    assert_eq!(stub.requests(), 3);
    run.assert_within(DEADLINE);
}

#[test]
fn a_dropped_connection_is_retried() {
    let stub = Process::faults(&json!([{"reset": true}, {"sts": issued()}]));
    let run = assume(&sandbox(&stub.url()));
    verify_token(&run.token(), "c", ISSUED_SK);
    assert_eq!(stub.requests(), 2);
}

#[test]
fn server_errors_forever_stop_after_three_attempts() {
    let stub = Process::faults(&json!([{"status": 503, "body": "Service Unavailable"}]));
    let run = assume(&sandbox(&stub.url()));
    run.assert_error(
        1,
        &format!(
            "STS AssumeRole of {ROLE}: the endpoint {} failed with HTTP 503 on all 3 attempts",
            stub.url()
        ),
    );
    assert!(run.hint().contains("retry in a minute"), "{}", run.hint());
    assert_eq!(stub.requests(), 3);
    run.assert_within(DEADLINE);
}

#[test]
fn throttling_forever_stops_after_three_attempts() {
    let stub = Process::faults(&json!([
        {"sts_error": "Throttling", "status": 400, "message": "Rate exceeded"}
    ]));
    let run = assume(&sandbox(&stub.url()));
    run.assert_error(
        1,
        &format!(
            "STS AssumeRole of {ROLE}: still throttled after 3 attempts (Throttling: Rate exceeded)"
        ),
    );
    assert!(run.hint().contains("rate-limiting"), "{}", run.hint());
    assert_eq!(stub.requests(), 3);
    run.assert_within(DEADLINE + MARGIN);
}

#[test]
fn malformed_xml_is_an_unreadable_answer() {
    for body in [
        "<AssumeRoleResponse><AssumeRoleResult><Creden",
        "this is not XML <<<",
        "{\"json\": \"instead\"}",
    ] {
        let stub = Process::faults(&json!([
            {"status": 200, "body": body, "content_type": "text/xml"}
        ]));
        let run = assume(&sandbox(&stub.url()));
        run.assert_error(
            1,
            &format!(
                "STS AssumeRole of {ROLE}: the answer from {} is not what AWS sends",
                stub.url()
            ),
        );
        assert!(run.hint().contains("not an AWS endpoint"), "{}", run.hint());
        run.assert_within(DEADLINE + MARGIN);
    }
}

#[test]
fn sts_error_codes_each_get_their_own_message_and_fix() {
    let cases = [
        (
            "ExpiredToken",
            "The security token included in the request is expired",
            "the credentials from environment variables have expired (ExpiredToken: The security token included in the request is expired)",
            "aws-vault exec",
        ),
        (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            "AWS does not recognise the access key in the credentials from environment variables (InvalidClientTokenId:",
            "aws sts get-caller-identity",
        ),
        (
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole",
            "access denied (AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized",
            "trust policy",
        ),
    ];
    for (code, message, error, hint) in cases {
        let stub = Process::faults(&json!([
            {"sts_error": code, "status": 403, "message": message}
        ]));
        let run = assume(&sandbox(&stub.url()));
        run.assert_error(1, &format!("STS AssumeRole of {ROLE}: {error}"));
        assert!(run.hint().contains(hint), "{code}: {}", run.hint());
        // Not retryable: one request.
        assert_eq!(stub.requests(), 1, "{code}");
        run.assert_within(DEADLINE);
    }
}

#[test]
fn web_identity_token_rejections() {
    for (code, hint) in [
        ("ExpiredTokenException", "whatever writes it"),
        ("InvalidIdentityToken", "OIDC provider"),
    ] {
        let stub = Process::faults(&json!([
            {"sts_error": code, "status": 400, "message": "Token rejected"}
        ]));
        let mut s = Sandbox::new();
        let jwt = s.write("token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln");
        s.env("AWS_REGION", "eu-west-1")
            .env("AWS_ENDPOINT_URL_STS", stub.url())
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", jwt.to_str().unwrap())
            .env("AWS_ROLE_ARN", ROLE);
        let run = s.run(&["token", "-i", "c", "--timeout", "2"]);
        run.assert_error(1, &format!("STS AssumeRoleWithWebIdentity of {ROLE}: "));
        assert!(error_line(&run).contains(code), "{}", run.stderr);
        assert!(run.hint().contains(hint), "{code}: {}", run.hint());
        run.assert_within(DEADLINE);
    }
}

#[test]
fn profile_role_chain_access_denied() {
    let stub = Process::faults(&json!([
        {"sts_error": "AccessDenied", "status": 403, "message": "not authorized to perform: sts:AssumeRole"}
    ]));
    let mut s = Sandbox::new();
    s.env("AWS_ENDPOINT_URL_STS", stub.url());
    s.write(".aws/config", &format!(
        "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\nregion = eu-west-1\n\
         [profile dev]\nrole_arn = {ROLE}\nsource_profile = base\nregion = eu-west-1\n"));
    let run = s.run(&["token", "-i", "c", "--profile", "dev", "--timeout", "2"]);
    run.assert_error(
        1,
        &format!("STS AssumeRole of {ROLE}: access denied (AccessDenied: not authorized to perform: sts:AssumeRole)"),
    );
    assert!(run.hint().contains("trust policy"), "{}", run.hint());
}

#[test]
fn container_endpoint_faults() {
    let container = |url: String| {
        let mut s = Sandbox::new();
        s.env("AWS_REGION", "eu-west-1")
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{url}/creds"));
        s.run(&["token", "-i", "c", "--timeout", "2"])
    };
    let hang = Process::peer("tests/peers/stub_server.py", &["--hang"]);
    let run = container(hang.url());
    run.assert_error(
        1,
        &format!(
            "timed out after 2s: credentials: container credentials endpoint: no answer from {}",
            hang.url()
        ),
    );
    run.assert_within(DEADLINE + MARGIN);

    let refused = format!("http://127.0.0.1:{}", closed_port());
    let run = container(refused.clone());
    run.assert_error(
        1,
        &format!("cannot reach {refused} (connection refused) for container credentials"),
    );
    run.assert_within(Duration::from_secs(1));

    // The SDK's container provider retries an unparsable answer with its own backoff
    // (up to 1 s + 2 s), so give it the time.
    let garbage = Process::faults(&json!([
        {"status": 200, "body": "{\"AccessKeyId\": ", "content_type": "application/json"}
    ]));
    let mut s = Sandbox::new();
    s.env("AWS_REGION", "eu-west-1").env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/creds", garbage.url()),
    );
    let run = s.run(&["token", "-i", "c", "--timeout", "6"]);
    run.assert_error(1, "container credentials: ");
    assert!(error_line(&run).contains("invalid JSON"), "{}", run.stderr);
    run.assert_within(Duration::from_secs(6) + MARGIN);
}

#[test]
fn sso_portal_faults() {
    let start = "https://example.awsapps.com/start";
    let sso = |url: String| {
        let mut s = Sandbox::new();
        s.env("AWS_ENDPOINT_URL_SSO", url)
            .env("AWS_REGION", "eu-west-1");
        s.write(".aws/config", &format!(
            "[profile dev]\nsso_start_url = {start}\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n"));
        let expires = utc_in(chrono::TimeDelta::hours(1));
        write_sso_login(
            &s,
            start,
            &json!({"startUrl": start, "region": "eu-west-1", "accessToken": "ssoTokenSentinel", "expiresAt": expires}),
        );
        s.run(&["token", "-i", "c", "--profile", "dev", "--timeout", "2"])
    };
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let run = sso(refused.clone());
    run.assert_error(
        1,
        &format!("cannot reach {refused} (connection refused) for credentials of profile dev"),
    );
    run.assert_within(Duration::from_secs(1));

    let garbage = Process::faults(&json!([
        {"status": 200, "body": "{\"roleCredentials\": [", "content_type": "application/json"}
    ]));
    let run = sso(garbage.url());
    run.assert_error(
        1,
        &format!(
            "credentials of profile dev: the answer from {} is not what AWS sends",
            garbage.url()
        ),
    );
    assert!(run.hint().contains("not an AWS endpoint"), "{}", run.hint());
    assert!(!run.stderr.contains("ssoTokenSentinel"), "{}", run.stderr);
    run.assert_within(DEADLINE + MARGIN);

    // A failing portal is not a login to renew.
    let failing = Process::faults(&json!([{"status": 503, "body": ""}]));
    let run = sso(failing.url());
    run.assert_error(
        1,
        &format!(
            "credentials of profile dev: the endpoint {} failed with HTTP 503 on all 3 attempts",
            failing.url()
        ),
    );
    assert!(
        run.hint().contains("the AWS service is failing"),
        "{}",
        run.hint()
    );
    run.assert_within(DEADLINE + MARGIN);

    // A rejected token is.
    let rejecting = Process::faults(&json!([{"status": 401, "content_type": "application/json",
        "headers": {"x-amzn-errortype": "UnauthorizedException"},
        "body": "{\"message\": \"Session token not found or invalid\"}"}]));
    let run = sso(rejecting.url());
    run.assert_error(
        1,
        "the SSO login for profile dev is missing or expired (UnauthorizedException: Session token not found or invalid)",
    );
    assert!(
        run.hint().contains("eks-token login --profile dev"),
        "{}",
        run.hint()
    );
}

/// Profile `proc`, whose `credential_process` writes its pid to `pid_file` and hangs.
fn write_hanging_process(s: &Sandbox, pid_file: &std::path::Path) {
    s.write(
        ".aws/config",
        &format!(
            "[profile proc]\nregion = eu-west-1\ncredential_process = {} --access-key-id A --secret S --hang {}\n",
            support::credential_process_fixture(),
            pid_file.display()
        ),
    );
}

#[test]
fn a_hanging_credential_process_is_killed_at_the_deadline() {
    let s = Sandbox::new();
    let pid_file = s.path("helper.pid");
    write_hanging_process(&s, &pid_file);
    let run = s.run(&["token", "-i", "c", "--profile", "proc", "--timeout", "2"]);
    run.assert_error(
        1,
        "timed out after 2s: credentials: credential_process of profile proc",
    );
    assert!(
        run.hint().contains("killed at the deadline"),
        "{}",
        run.hint()
    );
    run.assert_within(DEADLINE + MARGIN);
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the helper started")
        .trim()
        .parse()
        .unwrap();
    // The helper runs under `sh -c`, so it is a grandchild: it must be gone too.
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !process_running(pid)
    });
    assert!(gone, "credential_process helper {pid} still running");
}

/// Reads a pid a test helper wrote, and waits (bounded) for that process to be gone.
fn assert_killed(pid_file: &std::path::Path, what: &str) {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .unwrap_or_else(|_| panic!("{what} did not start"))
        .trim()
        .parse()
        .unwrap();
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !process_running(pid)
    });
    if !gone {
        // Do not leave it behind for the rest of the suite.
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(gone, "{what} {pid} still running");
}

#[test]
fn processes_a_credential_process_started_in_the_background_are_killed_too() {
    let s = Sandbox::new();
    let (hung, left) = (s.path("hung.pid"), s.path("left.pid"));
    // `( … &)` orphans the background process at once: it is no longer below the helper.
    s.write(
        ".aws/config",
        &format!(
            "[profile hangs]\nregion = eu-west-1\ncredential_process = (sleep 300 & echo $! > {hung}); sleep 300\n\
             [profile leaves]\nregion = eu-west-1\ncredential_process = (sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {left}); {} --access-key-id {AK} --secret {SK}\n",
            support::credential_process_fixture(),
            hung = hung.display(),
            left = left.display(),
        ),
    );
    // Still holding stdout at the deadline: everything it started dies with it.
    let run = s.run(&["token", "-i", "c", "--profile", "hangs", "--timeout", "1"]);
    run.assert_error(
        1,
        "timed out after 1s: credentials: credential_process of profile hangs",
    );
    run.assert_within(Duration::from_secs(1) + MARGIN);
    assert_killed(
        &hung,
        "the orphaned grandchild of a timed-out credential_process",
    );

    // Answered, but left a process behind: it does not outlive the run either.
    let run = s.run(&["token", "-i", "c", "--profile", "leaves", "--no-cache"]);
    verify_token(&run.token(), "c", SK);
    assert_killed(&left, "the process a credential_process left behind");
}

#[test]
fn a_credential_process_daemon_in_its_own_session_is_killed_too() {
    let s = Sandbox::new();
    let (daemon, nested) = (s.path("daemon.pid"), s.path("nested.pid"));
    // A daemon leaves the process group (`setsid`); an orphan that has a child of its own
    // is killed before that child, which then is an orphan too.
    s.write(
        ".aws/config",
        &format!(
            "[profile daemon]\nregion = eu-west-1\ncredential_process = setsid sh -c 'echo $$ > {daemon}; exec sleep 300' </dev/null >/dev/null 2>&1 & (sh -c 'sleep 300 & echo $! > {nested}; wait' </dev/null >/dev/null 2>&1 &); {} --access-key-id {AK} --secret {SK}\n",
            support::credential_process_fixture(),
            daemon = daemon.display(),
            nested = nested.display(),
        ),
    );
    let run = s.run(&["token", "-i", "c", "--profile", "daemon", "--no-cache"]);
    verify_token(&run.token(), "c", SK);
    assert_killed(&daemon, "the daemon a credential_process started");
    assert_killed(&nested, "the child of an orphan a credential_process left");
}

#[test]
fn ctrl_c_ends_eks_token_and_its_credential_process() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let s = Sandbox::new();
    let pid_file = s.path("helper.pid");
    write_hanging_process(&s, &pid_file);
    // A terminal's Ctrl-C is SIGINT to its foreground process group: here a group of its
    // own, with SIGINT at its default whatever this test was started with.
    let mut command = s.command(&["token", "-i", "c", "--profile", "proc", "--timeout", "60"]);
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    // SAFETY: signal(2) is async-signal-safe, as the code between fork and exec must be.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let started = (0..250).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.is_empty())
    });
    let group = libc::pid_t::try_from(child.id()).unwrap();
    if !started {
        // SAFETY: kill(2) on the group this test created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        panic!("the helper did not start");
    }
    // SAFETY: as above.
    unsafe { libc::kill(-group, libc::SIGINT) };
    let ended = (0..250).find_map(|_| {
        std::thread::sleep(Duration::from_millis(20));
        child.try_wait().unwrap()
    });
    let Some(status) = ended else {
        // SAFETY: as above.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        panic!("eks-token did not end on Ctrl-C");
    };
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert_killed(&pid_file, "the helper after Ctrl-C");
}

/// A command run with `--timeout 2` that must end at the deadline with the network hint.
fn assert_timed_out(run: &Run, message: &str) {
    run.assert_error(1, message);
    let hint = run.hint();
    assert!(hint.contains("--timeout SECONDS"), "{hint}");
    assert!(hint.contains("network"), "{hint}");
    run.assert_within(DEADLINE + OVERRUN);
}

#[test]
fn waiting_for_another_runs_cache_lock_counts_against_the_deadline() {
    let silent = Process::faults(&json!([{"hang": true}]));
    let s = sandbox(&silent.url());
    // Another process takes the per-key lock, then waits on STS far past our deadline.
    let mut holder = s
        .command(&["token", "-i", "c", "--role-arn", ROLE, "--timeout", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holding = (0..250).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        silent.requests() > 0
    });
    let run = holding.then(|| assume(&s));
    let _ = holder.kill();
    let _ = holder.wait();
    let run = run.expect("the lock holder never called STS");
    run.assert_error(
        1,
        "timed out after 2s: waiting for the token cache lock held by another eks-token run",
    );
    assert!(run.hint().contains("--timeout SECONDS"), "{}", run.hint());
    // Not the credential_process hint: nothing of ours was waiting for input.
    assert!(run.hint().contains("--no-cache"), "{}", run.hint());
    run.assert_within(DEADLINE + OVERRUN);
    // It waited; it did not mint on a budget of its own.
    assert_eq!(silent.requests(), 1);
}

#[test]
fn whoami_ends_at_the_deadline() {
    let silent = Process::faults(&json!([{"hang": true}]));
    let run = sandbox(&silent.url()).run(&["whoami", "--timeout", "2"]);
    assert_timed_out(
        &run,
        &format!(
            "timed out after 2s: STS GetCallerIdentity: no answer from {}",
            silent.url()
        ),
    );
}

#[test]
fn kubeconfig_ends_at_the_deadline_with_the_network_hint() {
    let silent = Process::faults(&json!([{"hang": true}]));
    let mut s = sandbox(&silent.url());
    s.env("AWS_ENDPOINT_URL_EKS", silent.url());
    let kubeconfig = s.path("kubeconfig");
    let run = s.run(&[
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--timeout",
        "2",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_timed_out(
        &run,
        &format!(
            "timed out after 2s: EKS DescribeCluster of prod in eu-west-1: no answer from {}",
            silent.url()
        ),
    );
    assert!(
        !run.hint().contains("eks:DescribeCluster"),
        "{}",
        run.hint()
    );
    assert!(!kubeconfig.exists());
}

#[test]
fn doctor_ends_at_the_deadline() {
    let silent = Process::faults(&json!([{"hang": true}]));
    let run = sandbox(&silent.url()).run(&["doctor", "--region", "eu-west-1", "--timeout", "2"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let problem = format!(
        "problem: timed out after 2s: STS GetCallerIdentity: no answer from {}\n  fix: check the network",
        silent.url()
    );
    assert!(run.stdout.contains(&problem), "{}", run.stdout);
    assert!(run.stdout.contains("--timeout SECONDS"), "{}", run.stdout);
    run.assert_within(DEADLINE + OVERRUN);
}

/// The largest peak RSS, in KiB, of the children this test process has waited for.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss
}

#[test]
fn an_endless_answer_is_cut_off_at_one_mib() {
    let endless = [
        json!({"endless": true, "status": 200}),
        json!({"endless": true, "status": 503}),
        json!({"endless": true, "status": 200, "content_length": 1u64 << 40}),
    ];
    for step in endless {
        let stub = Process::faults(&json!([step]));
        let run = assume(&sandbox(&stub.url()));
        run.assert_error(
            1,
            &format!(
                "STS AssumeRole of {ROLE}: the answer from {} is larger than 1 MiB",
                stub.url()
            ),
        );
        assert!(run.hint().contains("not an AWS endpoint"), "{}", run.hint());
        // A larger answer next time does not help: one attempt.
        assert_eq!(stub.requests(), 1, "{step}");
        run.assert_within(DEADLINE);
    }
    // Every credential source reads through the same limit.
    let stub = Process::faults(&json!([{"endless": true, "status": 200}]));
    let mut s = Sandbox::new();
    s.env("AWS_REGION", "eu-west-1").env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/creds", stub.url()),
    );
    let run = s.run(&["token", "-i", "c", "--timeout", "2"]);
    run.assert_error(
        1,
        &format!(
            "container credentials: the answer from {} is larger than 1 MiB",
            stub.url()
        ),
    );
    run.assert_within(DEADLINE);
    let peak = children_peak_rss_kib();
    assert!(peak < 50 * 1024, "a child peaked at {peak} KiB");
}

#[test]
fn huge_config_and_token_files_are_refused_before_they_are_read() {
    let huge = |s: &Sandbox, name: &str| {
        let path = s.path(name);
        // Sparse: a gigabyte to read, nothing on disk.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        path
    };
    let mut s = sandbox(&format!("http://127.0.0.1:{}", closed_port()));
    let config = huge(&s, "huge-config");
    s.env("AWS_CONFIG_FILE", config.to_str().unwrap());
    let run = s.run(&["token", "-i", "c", "--timeout", "2"]);
    run.assert_error(
        1,
        &format!(
            "cannot read the AWS config file {}: it is larger than 16 MiB",
            config.display()
        ),
    );
    run.assert_within(Duration::from_millis(500));

    let mut s = Sandbox::new();
    let token = huge(&s, "huge-token");
    s.env("AWS_REGION", "eu-west-1")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap())
        .env("AWS_ROLE_ARN", ROLE);
    let run = s.run(&["token", "-i", "c", "--timeout", "2"]);
    run.assert_error(
        1,
        &format!(
            "cannot read the web identity token file {}: it is larger than 16 MiB",
            token.display()
        ),
    );
    run.assert_within(Duration::from_millis(500));
    let peak = children_peak_rss_kib();
    assert!(peak < 50 * 1024, "a child peaked at {peak} KiB");
}

/// The faults an SSO-OIDC call meets (besides a refused connection), each with what its
/// error says: a server that goes quiet (kernel-accepted only, or read and never
/// answered), one failing with 5xx, one answering JSON cut off after `"field": `.
fn sso_oidc_faults(field: &str) -> Vec<(Process, Vec<String>)> {
    let mut faults = Vec::new();
    let silent = Process::peer("tests/peers/stub_server.py", &["--hang"]);
    let reads = Process::faults(&json!([{"hang": true}]));
    for stub in [silent, reads] {
        let words = vec!["timed out after 2s".to_owned(), stub.url()];
        faults.push((stub, words));
    }
    let failing = Process::faults(&json!([{"status": 503, "body": "Service Unavailable"}]));
    let words = vec![failing.url(), "HTTP 503".to_owned()];
    faults.push((failing, words));
    let cut = Process::faults(&json!([{"status": 200, "content_type": "application/json",
        "body": format!("{{\"{field}\": ")}]));
    let words = vec![format!(
        "the answer from {} is not what AWS sends",
        cut.url()
    )];
    faults.push((cut, words));
    faults
}

/// Checks a failed SSO-OIDC call: one error line naming the operation and `words`, exit 1,
/// nothing on stdout, ended within `limit`.
/// `run` (given an SSO-OIDC endpoint URL) against a refused port and each of
/// [`sso_oidc_faults`] (answers cut off after `field`): each fails as
/// [`assert_sso_oidc_error`] says, naming `operation`.
fn assert_sso_oidc_fault_matrix(operation: &str, field: &str, run: &dyn Fn(&str) -> Run) {
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let words = [refused.clone(), "connection refused".to_owned()];
    assert_sso_oidc_error(&run(&refused), operation, &words, Duration::from_secs(1));
    for (stub, words) in sso_oidc_faults(field) {
        assert_sso_oidc_error(&run(&stub.url()), operation, &words, DEADLINE + MARGIN);
    }
}

fn assert_sso_oidc_error(run: &Run, operation: &str, words: &[String], limit: Duration) {
    run.assert_error(1, operation);
    let error = error_line(run);
    for word in words {
        assert!(error.contains(word.as_str()), "{error:?} lacks {word:?}");
    }
    run.assert_within(limit);
}

#[test]
fn sso_oidc_register_client_faults() {
    let login = |url: &str| {
        let s = support::sso_sandbox_at(url);
        let run = s.run(&[
            "login",
            "--profile",
            support::SSO_PROFILE,
            "--no-browser",
            "--timeout",
            "2",
            "--login-timeout",
            "20",
        ]);
        let files = support::sso_cache_files(&s);
        assert!(files.is_empty(), "{:?}", files.keys());
        run
    };
    assert_sso_oidc_fault_matrix("RegisterClient", "clientId", &login);
    // Well-formed JSON without the registration in it.
    let empty = Process::faults(&json!([{"status": 200, "content_type": "application/json",
        "body": "{}"}]));
    assert_sso_oidc_error(&login(&empty.url()), "RegisterClient", &[], DEADLINE);
}

#[test]
fn sso_oidc_create_token_faults_while_polling_a_device_code() {
    // SSO-OIDC registers the client and starts the device authorization, then fails.
    let now = chrono::Utc::now().timestamp();
    let answer = |body: Value| {
        json!({"status": 200, "content_type": "application/json",
        "body": body.to_string()})
    };
    let before = [
        answer(
            json!({"clientId": "fault-client", "clientSecret": "fault-client-secret",
            "clientIdIssuedAt": now, "clientSecretExpiresAt": now + 90 * 86400}),
        ),
        answer(
            json!({"deviceCode": "fault-device", "userCode": "FALT-CODE",
            "verificationUri": "http://127.0.0.1:9/device",
            "verificationUriComplete": "http://127.0.0.1:9/device?user_code=FALT-CODE",
            "expiresIn": 600, "interval": 1}),
        ),
    ];
    let steps = [
        json!({"hang": true}),
        json!({"status": 503, "body": "Service Unavailable"}),
        json!({"status": 200, "content_type": "application/json", "body": "{\"accessToken\": "}),
    ];
    for step in steps {
        let mut plan = before.to_vec();
        plan.push(step.clone());
        let stub = Process::faults(&Value::Array(plan));
        let s = support::sso_sandbox_at(&stub.url());
        let run = s.run(&[
            "login",
            "--profile",
            support::SSO_LEGACY_PROFILE,
            "--no-browser",
            "--timeout",
            "2",
            "--login-timeout",
            "20",
        ]);
        let words = match step.get("status").and_then(Value::as_u64) {
            None => vec!["timed out after 2s".to_owned(), stub.url()],
            Some(503) => vec![stub.url(), "HTTP 503".to_owned()],
            Some(_) => vec![format!(
                "the answer from {} is not what AWS sends",
                stub.url()
            )],
        };
        // The first poll comes after the 1 s interval.
        let limit = Duration::from_secs(1) + DEADLINE + MARGIN;
        let prompt = ["http://127.0.0.1:9/device?user_code=FALT-CODE".to_owned()];
        assert_sso_oidc_error(
            &run.without_prompt_urls(&prompt),
            "CreateToken",
            &words,
            limit,
        );
        assert!(!support::sso_login_path(&s, support::SSO_LEGACY_START_URL).exists());
    }
}

#[test]
fn sso_oidc_create_token_faults_while_refreshing_a_login() {
    // An sso-session login that expired a minute ago, with all a refresh needs.
    let token = |url: &str| {
        let s = support::sso_sandbox_at(url);
        let login = json!({"startUrl": support::SSO_START_URL, "region": support::SSO_REGION,
            "accessToken": "expiredAccessToken", "expiresAt": utc_in(-chrono::TimeDelta::minutes(1)),
            "clientId": "client", "clientSecret": "clientSecret", "refreshToken": "refreshToken",
            "registrationExpiresAt": utc_in(chrono::TimeDelta::days(80))});
        write_sso_login(&s, support::SSO_SESSION, &login);
        let run = s.run(&[
            "token",
            "-i",
            "c",
            "--profile",
            support::SSO_PROFILE,
            "--login",
            "never",
            "--timeout",
            "2",
        ]);
        assert_eq!(
            support::read_sso_login(&s, support::SSO_SESSION),
            login,
            "left as it was"
        );
        run
    };
    assert_sso_oidc_fault_matrix("CreateToken", "accessToken", &token);
}

/// A provider's endpoint failing each way (besides a refused connection): quiet
/// (kernel-accepted only, or read and never answered), 5xx, JSON cut off after `"field": `;
/// `first` answers the requests before it. Each with what its error says.
fn oidc_faults(first: &[Value], field: &str) -> Vec<(Process, Vec<String>)> {
    let plan = |fault: Value| {
        let mut plan = first.to_vec();
        plan.push(fault);
        Process::faults(&Value::Array(plan))
    };
    let mut faults = Vec::new();
    if first.is_empty() {
        let silent = Process::peer("tests/peers/stub_server.py", &["--hang"]);
        let words = vec!["timed out after 2s".to_owned(), silent.url()];
        faults.push((silent, words));
    }
    let reads = plan(json!({"hang": true}));
    let words = vec!["timed out after 2s".to_owned(), reads.url()];
    faults.push((reads, words));
    let failing = plan(json!({"status": 503, "body": "Service Unavailable"}));
    let words = vec![failing.url(), "HTTP 503".to_owned()];
    faults.push((failing, words));
    let cut = plan(json!({"status": 200, "content_type": "application/json",
        "body": format!("{{\"{field}\": ")}));
    let words = vec![cut.url()];
    faults.push((cut, words));
    faults
}

/// A sandbox whose test browser signs in at a real provider that takes the callback on the
/// returned port.
fn oidc_sandbox() -> (Sandbox, OidcProvider, u16) {
    let mut s = Sandbox::new();
    let port = free_port();
    let provider = OidcProvider::start(&s, &oidc_config(&[oidc_redirect(port)]));
    use_oidc_browser(&mut s, &provider, OIDC_LOGIN);
    (s, provider, port)
}

/// `eks-token oidc` for `issuer`, a person there, `--timeout` the deadline.
fn oidc_get_token(s: &Sandbox, issuer: &str, port: u16) -> Run {
    let mut args = vec!["oidc".to_owned()];
    args.extend(oidc_flags(issuer, OIDC_CLIENT_ID, port));
    args.extend([
        "--login=browser".to_owned(),
        "--login-timeout=20".to_owned(),
        format!("--timeout={}", DEADLINE.as_secs()),
    ]);
    s.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Checks a failed OIDC run: its prompt aside, one error line with `words`, exit 1,
/// nothing on stdout or in the cache, ended within `limit`. Its error line is added to
/// `without_hint` when no hint follows it (checked once every case has run).
fn assert_oidc_error(
    s: &Sandbox,
    run: &Run,
    words: &[String],
    limit: Duration,
    without_hint: &mut Vec<String>,
) {
    let run = run.without_prompt_urls(&browser_opens(s));
    run.assert_error(1, "");
    let error = error_line(&run);
    for word in words {
        assert!(error.contains(word.as_str()), "{error:?} lacks {word:?}");
    }
    if !run.stderr.lines().any(|l| l.starts_with("hint: ")) {
        without_hint.push(error.to_owned());
    }
    run.assert_within(limit);
    assert!(oidc_cache_entries(s).is_empty());
}

/// Discovery (`/.well-known/openid-configuration`) refused, quiet, failing or cut off: the
/// run ends at the deadline at the latest, naming the issuer, and no browser opens.
#[test]
fn oidc_discovery_faults() {
    let (s, _provider, port) = oidc_sandbox();
    let mut without_hint = Vec::new();
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let run = oidc_get_token(&s, &refused, port);
    let words = [refused.clone(), "connection refused".to_owned()];
    assert_oidc_error(&s, &run, &words, Duration::from_secs(1), &mut without_hint);
    for (stub, mut words) in oidc_faults(&[], "issuer") {
        let run = oidc_get_token(&s, &stub.url(), port);
        if words[0].starts_with("timed out") {
            assert!(run.elapsed >= DEADLINE, "{:?}", run.elapsed);
            words.push("OIDC discovery".to_owned());
        } else {
            words.push(format!("the OIDC discovery of {} failed", stub.url()));
        }
        assert_oidc_error(&s, &run, &words, DEADLINE + MARGIN, &mut without_hint);
    }
    assert!(browser_opens(&s).is_empty(), "{:?}", browser_opens(&s));
    assert!(without_hint.is_empty(), "no hint: {without_hint:#?}");
}

/// The token endpoint refused, quiet, failing or cut off after the person signed in at the
/// provider (its discovery, as the fault server serves it, points the token endpoint at
/// the fault): the run ends within the deadline of that one call.
#[test]
fn oidc_token_endpoint_faults() {
    let (s, provider, port) = oidc_sandbox();
    let discovery = http_get(&format!(
        "{}/.well-known/openid-configuration",
        provider.issuer
    ));
    let discovery = |token_endpoint: &str| {
        let mut document: Value = serde_json::from_str(&discovery).unwrap();
        document["issuer"] = "$SELF".into();
        document["token_endpoint"] = token_endpoint.into();
        json!({"status": 200, "content_type": "application/json", "body": document.to_string()})
    };
    // The login takes its own time before the call: the browser signs in on loopback.
    let login = Duration::from_secs(3);
    let mut without_hint = Vec::new();
    let refused = format!("http://127.0.0.1:{}", closed_port());
    let stub = Process::faults(&json!([discovery(&format!("{refused}/token"))]));
    let run = oidc_get_token(&s, &stub.url(), port);
    let words = [refused.clone(), "connection refused".to_owned()];
    let limit = login + Duration::from_secs(1);
    assert_oidc_error(&s, &run, &words, limit, &mut without_hint);
    let mut logins = 1;
    for (stub, mut words) in oidc_faults(&[discovery("$SELF/token")], "access_token") {
        let run = oidc_get_token(&s, &stub.url(), port);
        logins += 1;
        assert_eq!(browser_opens(&s).len(), logins, "{}", run.stderr);
        words.push(format!("{}/token", stub.url()));
        let limit = DEADLINE + MARGIN + login;
        assert_oidc_error(&s, &run, &words, limit, &mut without_hint);
        if words[0].starts_with("timed out") {
            assert!(run.elapsed >= DEADLINE, "{:?}", run.elapsed);
        }
        assert_eq!(stub.requests(), 2, "discovery, then one token request");
    }
    assert_eq!(provider.logins(), logins);
    assert!(without_hint.is_empty(), "no hint: {without_hint:#?}");
}
