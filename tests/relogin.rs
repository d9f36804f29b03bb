//! Logging in again under kubectl (issue 11): real kubectl 1.33 with `interactiveMode:
//! IfAvailable` on a pseudo-terminal, whose IAM Identity Center login has expired, opens the
//! test browser once and `get pods` works; eight such runs at once share one login; without
//! a person (`Never`, no terminal, `--login never`) eks-token fails at once with the hint and
//! the fake IAM Identity Center sees nothing.

mod support;

use std::path::PathBuf;
use std::sync::Barrier;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use support::{
    BIN, EXEC_INFO_V1, EXEC_INFO_V1_INTERACTIVE, FakeEks, FakeSso, NO_PODS, Run, SSO_ACCOUNT,
    SSO_PROFILE, SSO_REGION, SSO_ROLE, SSO_SCOPES, SSO_SESSION, SSO_START_URL, Sandbox, Stdout,
    assert_registration_file, assert_sso_login_file, browser_opens, count_requests, create_tokens,
    kubectl_get_pods, kubectl_get_pods_in_terminal, parse_expires_at, run_command, run_in_terminal,
    sso_cache_files, sso_device_login, sso_registration_name, sso_role_credentials, sso_sandbox,
    terminal_command, utc_in, verify_token, write_exec_kubeconfig, write_sso_login,
};

const CLUSTER: &str = "relogin-cluster";
const EXEC_V1: &str = "client.authentication.k8s.io/v1";
/// A failure without a person must not wait for anything (the contract: well under 1 s).
const AT_ONCE: Duration = Duration::from_secs(1);
/// The access token of the expired login; it must never be printed.
const EXPIRED_TOKEN: &str = "expiredSsoAccessTokenSentinel";

/// The fake IAM Identity Center, an SSO sandbox on it, and fake EKS knowing the role
/// credentials the fake hands out.
struct Setup {
    sso: FakeSso,
    s: Sandbox,
    api: FakeEks,
    /// Who fake EKS says the role credentials are.
    identity: String,
}

/// How the SSO login stands before the run.
#[derive(Clone, Copy, Debug)]
enum Login {
    /// Never logged in (or logged out): no cache file.
    Missing,
    /// Expired an hour ago, no refresh token: only a new login helps.
    Expired,
}

fn setup(login: Login) -> Setup {
    let sso = FakeSso::start(&json!({}));
    let s = sso_sandbox(&sso);
    let (key, secret, session) = sso_role_credentials(SSO_ACCOUNT, SSO_ROLE);
    let secrets = json!({ &key: {"secret_access_key": secret, "session_token": session} });
    let api = support::fake_eks(&s, CLUSTER, &secrets, None);
    if let Login::Expired = login {
        write_sso_login(
            &s,
            SSO_SESSION,
            &json!({"startUrl": SSO_START_URL, "region": SSO_REGION,
                    "accessToken": EXPIRED_TOKEN, "expiresAt": utc_in(TimeDelta::hours(-1))}),
        );
    }
    Setup {
        sso,
        s,
        api,
        identity: format!("arn:aws:iam::123456789012:user/{key}"),
    }
}

impl Setup {
    /// The kubeconfig whose exec block runs `eks-token token` with the SSO profile.
    fn kubeconfig(&self, interactive_mode: &str) -> PathBuf {
        let args = token_args(&[]);
        write_exec_kubeconfig(&self.s, &self.api, EXEC_V1, Some(interactive_mode), &args)
    }
}

/// `token` for the cluster with the SSO profile, then `extra`.
fn token_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["token", "--cluster-id", CLUSTER, "--profile", SSO_PROFILE];
    args.extend(extra);
    args
}

/// Runs `eks-token token …` with plain pipes (no terminal anywhere) and `exec_info` in
/// KUBERNETES_EXEC_INFO (none: not run by a Kubernetes client).
fn token_piped(s: &Sandbox, exec_info: Option<&str>, extra: &[&str]) -> Run {
    let mut cmd = s.command(&token_args(extra));
    if let Some(info) = exec_info {
        cmd.env("KUBERNETES_EXEC_INFO", info);
    }
    run_command(cmd)
}

/// Runs `eks-token token …` as kubectl runs it for a person: stdin and stderr on a
/// terminal, stdout a pipe; `env` added to the environment.
fn token_in_terminal(s: &Sandbox, exec_info: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut cmd = terminal_command(s, BIN, &token_args(&[]), Stdout::Pipe);
    if let Some(info) = exec_info {
        cmd.env("KUBERNETES_EXEC_INFO", info);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_in_terminal(cmd)
}

/// Asserts a failure without a person: at once, exit 1, nothing on stdout, the error
/// naming the profile's login and the hint with the command that logs in.
fn assert_no_person(run: &Run, case: &str) {
    assert_eq!(run.code, 1, "{case}: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{case}: stdout {:?}", run.stdout);
    run.assert_within(AT_ONCE);
    let error = run.error_line();
    assert!(
        error.contains(&format!(
            "the SSO login for profile {SSO_PROFILE} is missing or expired"
        )),
        "{case}: {error}"
    );
    assert!(
        run.hint()
            .contains(&format!("eks-token login --profile {SSO_PROFILE}")),
        "{case}: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(EXPIRED_TOKEN), "{case}: token printed");
}

/// Asserts the login eks-token wrote is what the AWS CLI v2 writes after `aws sso login`
/// for the sso-session: the token file and the client registration for the authorization
/// code grant, and that none of its secrets were shown on `terminal`. Returns the token
/// file.
fn assert_aws_cli_login(s: &Sandbox, terminal: &str) -> Value {
    let login = assert_sso_login_file(s, SSO_SESSION, SSO_START_URL);
    let expires = parse_expires_at(login["expiresAt"].as_str().expect("expiresAt"));
    assert!(expires > Utc::now(), "{login}");
    for field in ["accessToken", "clientSecret", "refreshToken"] {
        let value = login[field].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "no {field} in the login");
        assert!(
            !terminal.contains(value),
            "the {field} was shown on the terminal"
        );
    }
    let name = sso_registration_name(
        SSO_START_URL,
        SSO_REGION,
        Some(SSO_SCOPES),
        Some(SSO_SESSION),
    );
    let registration = assert_registration_file(s, &name, &login);
    assert_eq!(registration["scopes"], json!(SSO_SCOPES));
    let grants = registration["grantTypes"].as_array().expect("grantTypes");
    assert!(
        grants.contains(&json!("authorization_code")),
        "{registration}"
    );
    login
}

/// The runs below on a terminal really have one (else the cases without a person would
/// pass for the wrong reason): stdin and stderr are a terminal, stdout as asked.
#[test]
fn the_terminal_runner_gives_a_terminal() {
    let s = Sandbox::new();
    let check = "test -t 0 && test -t 2 && tty && if test -t 1; then echo out-tty; fi";
    let piped = run_in_terminal(terminal_command(&s, "sh", &["-c", check], Stdout::Pipe));
    assert_eq!(piped.code, 0, "{piped:?}");
    assert!(piped.stdout.starts_with("/dev/pts/"), "{piped:?}");
    assert!(!piped.stdout.contains("out-tty"), "{piped:?}");
    let shell = run_in_terminal(terminal_command(&s, "sh", &["-c", check], Stdout::Terminal));
    assert_eq!(shell.code, 0, "{shell:?}");
    assert!(
        shell.stderr.starts_with("/dev/pts/") && shell.stderr.ends_with("out-tty\n"),
        "{shell:?}"
    );
    let failed = run_in_terminal(terminal_command(
        &s,
        "sh",
        &["-c", "echo gone >&2; exit 3"],
        Stdout::Pipe,
    ));
    assert_eq!((failed.code, failed.stderr.as_str()), (3, "gone\n"));
}

/// The setup is right before any login code runs: a live login (made by hand through the
/// fake) gives kubectl its pods, on a terminal or not, and the browser is never opened.
#[test]
fn with_a_live_login_kubectl_needs_no_browser() {
    let setup = setup(Login::Missing);
    let s = &setup.s;
    let login = write_sso_login(s, SSO_SESSION, &sso_device_login(&setup.sso));
    let before = std::fs::read(&login).unwrap();
    let by_hand = setup.sso.requests().len();
    let config = setup.kubeconfig("IfAvailable");

    let piped = kubectl_get_pods(s, "1.33", &config);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stderr.trim(), NO_PODS);
    let on_terminal = kubectl_get_pods_in_terminal(s, "1.33", &config);
    assert_eq!(on_terminal.code, 0, "{}", on_terminal.stderr);
    assert_eq!(on_terminal.stderr.trim(), NO_PODS);

    assert!(
        setup.api.requests_by(&setup.identity) >= 2,
        "fake EKS saw no role credentials"
    );
    assert!(browser_opens(s).is_empty(), "{:?}", browser_opens(s));
    let log = setup.sso.requests();
    assert!(
        log[by_hand..]
            .iter()
            .all(|r| r.op == "GetRoleCredentials" && r.error.is_none()),
        "{:?}",
        &log[by_hand..]
    );
    assert_eq!(
        std::fs::read(&login).unwrap(),
        before,
        "the login was rewritten"
    );
}

/// kubectl 1.33, `interactiveMode: IfAvailable`, typed at a terminal with no live login:
/// eks-token opens the browser once, logs in by authorization code, and kubectl lists the
/// pods; the login is cached as the AWS CLI caches it.
#[test]
fn kubectl_on_a_terminal_logs_in_once_and_gets_pods() {
    for login in [Login::Expired, Login::Missing] {
        let setup = setup(login);
        let s = &setup.s;
        let run = kubectl_get_pods_in_terminal(s, "1.33", &setup.kubeconfig("IfAvailable"));
        assert_eq!(run.code, 0, "{login:?}: {}", run.stderr);
        assert!(run.stderr.contains(NO_PODS), "{login:?}: {}", run.stderr);
        assert!(setup.api.requests_by(&setup.identity) > 0, "{login:?}");

        let opens = browser_opens(s);
        assert_eq!(opens.len(), 1, "{login:?}: {opens:?}");
        let authorize = format!("{}/authorize?", setup.sso.url());
        assert!(opens[0].starts_with(&authorize), "{login:?}: {}", opens[0]);
        assert!(
            run.stderr.contains(&opens[0]),
            "{login:?}: the URL was not shown: {}",
            run.stderr
        );
        for line in run.stderr.lines().filter(|l| !l.contains(NO_PODS)) {
            assert!(
                line.starts_with("eks-token: ")
                    || line.contains(&opens[0])
                    || line.trim().is_empty(),
                "{login:?}: stray line {line:?}"
            );
        }

        let log = setup.sso.requests();
        assert_eq!(
            count_requests(&log, "Authorize", None),
            1,
            "{login:?}: {log:?}"
        );
        assert_eq!(
            count_requests(&log, "AuthorizeApprove", None),
            1,
            "{login:?}"
        );
        let code_grants = create_tokens(&log, "authorization_code");
        assert_eq!(code_grants.len(), 1, "{login:?}: {log:?}");
        assert_eq!(code_grants[0].error, None, "{login:?}");
        assert!(
            !log.iter().any(|r| r.op == "StartDeviceAuthorization"),
            "{login:?}: an sso-session logs in by authorization code"
        );
        assert_aws_cli_login(s, &run.stderr);
        assert!(!run.stderr.contains(EXPIRED_TOKEN), "{login:?}");
    }
}

/// A burst: eight kubectl runs typed at once on eight terminals with the same expired login
/// share one login: one authorization request, one browser tab, and all eight get pods.
#[test]
fn eight_kubectl_runs_at_once_share_one_login() {
    const RUNS: usize = 8;
    let setup = setup(Login::Expired);
    let config = setup.kubeconfig("IfAvailable");
    let start = Barrier::new(RUNS);
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RUNS)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    kubectl_get_pods_in_terminal(&setup.s, "1.33", &config)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.code, 0, "run {i}: {}", run.stderr);
        assert!(run.stderr.contains(NO_PODS), "run {i}: {}", run.stderr);
    }
    let log = setup.sso.requests();
    let authorize = log.iter().filter(|r| r.op == "Authorize").count();
    assert_eq!(authorize, 1, "authorization requests: {log:?}");
    let code_grants = create_tokens(&log, "authorization_code").len();
    assert_eq!(code_grants, 1, "{log:?}");
    assert_eq!(
        browser_opens(&setup.s).len(),
        1,
        "{:?}",
        browser_opens(&setup.s)
    );
    assert!(setup.api.requests_by(&setup.identity) >= RUNS);
    assert_aws_cli_login(&setup.s, "");
}

/// No person there: `interactiveMode: Never` (on a terminal or not), kubectl without a
/// terminal, KUBERNETES_EXEC_INFO `interactive: false` and `--login never` each fail at
/// once with the hint, and no request reaches IAM Identity Center.
#[test]
fn without_a_person_it_fails_at_once_with_the_hint() {
    let setup = setup(Login::Expired);
    let s = &setup.s;
    let hint = format!("eks-token login --profile {SSO_PROFILE}");

    let never = setup.kubeconfig("Never");
    let on_terminal = kubectl_get_pods_in_terminal(s, "1.33", &never);
    let piped = kubectl_get_pods(s, "1.33", &never);
    let if_available_piped = kubectl_get_pods(s, "1.33", &setup.kubeconfig("IfAvailable"));
    for (case, run) in [
        ("Never on a terminal", &on_terminal),
        ("Never", &piped),
        ("IfAvailable without a terminal", &if_available_piped),
    ] {
        assert_ne!(run.code, 0, "{case}: {}", run.stderr);
        assert!(!run.stderr.contains(NO_PODS), "{case}");
        assert!(run.stderr.contains(&hint), "{case}: {}", run.stderr);
        assert!(
            run.stderr.contains("missing or expired"),
            "{case}: {}",
            run.stderr
        );
    }

    // The eks-token part of those runs, timed on its own.
    assert_no_person(
        &token_in_terminal(s, Some(EXEC_INFO_V1), &[]),
        "interactive false on a terminal",
    );
    assert_no_person(
        &token_piped(s, Some(EXEC_INFO_V1), &[]),
        "interactive false",
    );
    assert_no_person(
        &token_in_terminal(
            s,
            Some(EXEC_INFO_V1_INTERACTIVE),
            &[("EKS_TOKEN_LOGIN", "never")],
        ),
        "EKS_TOKEN_LOGIN=never on a terminal",
    );
    assert_no_person(
        &token_piped(s, Some(EXEC_INFO_V1_INTERACTIVE), &["--login", "never"]),
        "--login never",
    );

    assert_eq!(
        setup.sso.requests(),
        [],
        "IAM Identity Center saw a request"
    );
    assert!(browser_opens(s).is_empty(), "{:?}", browser_opens(s));
}

/// kube-rs sends `interactive: true` for `IfAvailable` with no terminal at all (and a
/// caller may send no exec info): eks-token sees no terminal itself, so no login starts.
#[test]
fn interactive_exec_info_without_a_terminal_does_not_log_in() {
    let setup = setup(Login::Expired);
    let s = &setup.s;
    assert_no_person(
        &token_piped(s, Some(EXEC_INFO_V1_INTERACTIVE), &[]),
        "interactive true, pipes",
    );
    assert_no_person(&token_piped(s, None, &[]), "no exec info, pipes");
    assert_eq!(
        setup.sso.requests(),
        [],
        "IAM Identity Center saw a request"
    );
    assert!(browser_opens(s).is_empty(), "{:?}", browser_opens(s));
}

/// `--login browser` (or EKS_TOKEN_LOGIN=browser), as a GUI tool asks: no terminal, no
/// interactive exec info, and still a login through the browser and a credential.
#[test]
fn login_browser_logs_in_without_a_terminal() {
    let (_, secret, session) = sso_role_credentials(SSO_ACCOUNT, SSO_ROLE);
    for (case, flag, env) in [
        ("--login browser", true, false),
        ("EKS_TOKEN_LOGIN=browser", false, true),
    ] {
        let mut setup = setup(Login::Missing);
        if env {
            setup.s.env("EKS_TOKEN_LOGIN", "browser");
        }
        let s = &setup.s;
        let extra: &[&str] = if flag { &["--login", "browser"] } else { &[] };
        let run = token_piped(s, Some(EXEC_INFO_V1), extra);
        let verdict = verify_token(&run.token(), CLUSTER, &secret);
        assert_eq!(verdict["session_token"], session, "{case}");
        assert_eq!(browser_opens(s).len(), 1, "{case}");
        let log = setup.sso.requests();
        assert_eq!(
            count_requests(&log, "AuthorizeApprove", None),
            1,
            "{case}: {log:?}"
        );
        assert_aws_cli_login(s, &run.stderr);
    }
}

/// Denied in the browser, on a terminal: one clear error, the cached login untouched,
/// and the next run starts a fresh login that succeeds.
#[test]
fn denied_in_the_browser_then_approved_on_the_next_run() {
    let setup = setup(Login::Expired);
    let s = &setup.s;
    let before = sso_cache_files(s);

    let denied = token_in_terminal(
        s,
        Some(EXEC_INFO_V1_INTERACTIVE),
        &[("EKS_TOKEN_TEST_BROWSER", "deny")],
    );
    assert_eq!(denied.code, 1, "{}", denied.stderr);
    assert!(denied.stdout.is_empty(), "{:?}", denied.stdout);
    let errors: Vec<_> = denied
        .stderr
        .lines()
        .filter(|l| l.starts_with("eks-token: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", denied.stderr);
    assert!(errors[0].contains("denied"), "{}", errors[0]);
    let log = setup.sso.requests();
    assert_eq!(count_requests(&log, "AuthorizeDeny", None), 1, "{log:?}");
    assert!(!log.iter().any(|r| r.op == "CreateToken"), "{log:?}");
    // The login file is untouched; only the client registration (reusable, as botocore
    // keeps it) may have been added.
    let registration = sso_registration_name(
        SSO_START_URL,
        SSO_REGION,
        Some(SSO_SCOPES),
        Some(SSO_SESSION),
    );
    let mut after = sso_cache_files(s);
    after.remove(&format!("{registration}.json"));
    assert_eq!(after, before, "the SSO cache changed");

    let approved = token_in_terminal(s, Some(EXEC_INFO_V1_INTERACTIVE), &[]);
    let (_, secret, _) = sso_role_credentials(SSO_ACCOUNT, SSO_ROLE);
    verify_token(&approved.token(), CLUSTER, &secret);
    let log = setup.sso.requests();
    assert_eq!(count_requests(&log, "Authorize", None), 2, "{log:?}");
    assert_eq!(count_requests(&log, "AuthorizeApprove", None), 1, "{log:?}");
    assert_eq!(browser_opens(s).len(), 2);
    assert_aws_cli_login(s, &approved.stderr);
}

/// `doctor` checks a context as kubectl would run it: with `interactiveMode: Never` it
/// says the login is not renewed by itself and why, and asks nothing of IAM Identity
/// Center; in a terminal with `IfAvailable` its live check logs in again, once, as the
/// plugin would.
#[test]
fn doctor_checks_the_login_as_kubectl_would_run_the_plugin() {
    let setup = setup(Login::Expired);
    let kubeconfig = setup.kubeconfig("Never");
    let mut cmd = setup.s.command(&["doctor"]);
    cmd.env("KUBECONFIG", &kubeconfig);
    let run = run_command(cmd);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "not renewed by itself: kubectl logs in by itself only with interactiveMode IfAvailable (or Always) in a terminal"
        ),
        "{}",
        run.stdout
    );
    assert!(setup.sso.ops().is_empty(), "{:?}", setup.sso.ops());
    assert!(browser_opens(&setup.s).is_empty());

    let kubeconfig = setup.kubeconfig("IfAvailable");
    let mut cmd = terminal_command(&setup.s, BIN, &["doctor"], Stdout::Pipe);
    cmd.env("KUBECONFIG", &kubeconfig);
    let run = run_in_terminal(cmd);
    assert_eq!(browser_opens(&setup.s).len(), 1, "{}", run.stderr);
    assert_eq!(count_requests(&setup.sso.requests(), "Authorize", None), 1);
    assert_sso_login_file(&setup.s, SSO_SESSION, SSO_START_URL);
    let sso_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("sso login"))
        .unwrap_or_else(|| panic!("no sso login line: {}", run.stdout));
    assert!(sso_line.contains("valid until"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("renewed by itself when needed: a person is at this terminal"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(EXPIRED_TOKEN) && !run.stderr.contains(EXPIRED_TOKEN));
}
