//! `mfa_serial`: a person at the terminal types the code once (prompted as botocore does,
//! nothing echoed, also under a real kubectl) and it reaches STS; the session, in the AWS
//! CLI's cache, serves the next runs without a prompt. Without a person (plain pipes, kubectl's `interactive: false`,
//! `--login never`) a run fails at once with the command that caches a session, having
//! called nothing; that command (`eks-token whoami` in a terminal) does. The terminal echoes again however the prompt ends (an answer, the
//! timeout, Ctrl-C), and the code shows nowhere, even when an endpoint echoes the request.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    AK, EXEC_INFO_V1, EXEC_INFO_V1_INTERACTIVE, NO_PODS, Process, SK, Sandbox, Stdout, TerminalRun,
    answering_terminal_command, assert_assumed, assume_role_calls, fake_eks, kubectl_get_pods,
    kubectl_get_pods_answering, moto_sessions, run_on_terminal, sts_calls, sts_recorder,
    terminal_command, write_exec_kubeconfig,
};

const SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";
const ROLE: &str = "arn:aws:iam::123456789012:role/mfa-admin";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/mfa-viewer";
/// The code typed, and a sentinel: it must show nowhere.
const CODE: &str = "918273";
const PROMPT: &str = "Enter MFA code for arn:aws:iam::123456789012:mfa/alice: ";
/// What a run without a person is told to do for profile `mfa`.
const HINT: &str = "run `eks-token whoami --profile mfa` in a terminal (or `aws sts get-caller-identity --profile mfa`) to cache a session for 30m";

/// [`mfa_profiles_at`] with STS moto behind a recorder.
fn mfa_profiles(moto: &Process) -> (Sandbox, Process) {
    let mut s = Sandbox::new();
    let recorder = sts_recorder(&s, moto, &json!({}));
    mfa_profiles_at(&mut s, &recorder.url());
    (s, recorder)
}

/// Profiles `mfa` ([`ROLE`], 30-minute sessions) and `viewer` ([`OTHER_ROLE`]) need a code
/// from [`SERIAL`]; STS is at `sts`; runs look like kubectl's in a terminal.
fn mfa_profiles_at(s: &mut Sandbox, sts: &str) {
    s.env("AWS_ENDPOINT_URL_STS", sts)
        .env("AWS_REGION", "eu-west-1")
        .env("KUBERNETES_EXEC_INFO", EXEC_INFO_V1_INTERACTIVE);
    s.write(
        ".aws/config",
        &format!(
            "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
             [profile mfa]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {SERIAL}\nduration_seconds = 1800\n\
             [profile viewer]\nrole_arn = {OTHER_ROLE}\nsource_profile = base\nmfa_serial = {SERIAL}\n"
        ),
    );
}

/// Runs eks-token with `args` on a terminal, typing [`CODE`] at the MFA prompt.
fn typing_the_code(s: &Sandbox, args: &[&str]) -> TerminalRun {
    run_on_terminal(answering_terminal_command(
        s,
        support::BIN,
        args,
        Stdout::Pipe,
        &[(PROMPT, CODE)],
    ))
}

fn assume_roles(recorder: &Process) -> Vec<Value> {
    sts_calls(recorder)
        .into_iter()
        .filter(|c| c["Action"] == "AssumeRole")
        .collect()
}

#[test]
fn one_code_at_the_terminal_serves_ten_later_runs() {
    let moto = Process::moto();
    let (s, recorder) = mfa_profiles(&moto);
    let first = typing_the_code(&s, &["token", "-i", "c0", "--profile", "mfa", "--verbose"]);
    assert_eq!(first.answered, 1);
    let run = &first.run;
    let session = assert_assumed(&moto, &run.token(), "c0", "mfa-admin");
    assert!(run.stderr.contains(PROMPT), "{}", run.stderr);
    assert!(first.echo, "the terminal was left without echo");
    let calls = assume_roles(&recorder);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["RoleArn"], ROLE);
    assert_eq!(calls[0]["SerialNumber"], SERIAL);
    assert_eq!(calls[0]["TokenCode"], CODE);
    assert_eq!(calls[0]["DurationSeconds"], "1800");
    // Not echoed, not logged; nor any secret of the session or its source.
    for shown in [&run.stderr, &run.stdout] {
        for secret in [
            CODE,
            SK,
            session["secret_access_key"].as_str().unwrap(),
            session["session_token"].as_str().unwrap(),
        ] {
            assert!(!shown.contains(secret), "{secret:?} shown: {shown}");
        }
    }

    // New clusters, eks-token's own credential cache off: the AWS CLI's cache serves.
    for i in 1..=10 {
        let cluster = format!("c{i}");
        let later = run_on_terminal(terminal_command(
            &s,
            support::BIN,
            &[
                "token",
                "-i",
                &cluster,
                "--profile",
                "mfa",
                "--no-credential-cache",
                "--login-timeout",
                "2",
            ],
            Stdout::Pipe,
        ));
        assert_assumed(&moto, &later.run.token(), &cluster, "mfa-admin");
        assert!(
            !later.run.stderr.contains("Enter MFA code"),
            "{}",
            later.run.stderr
        );
    }
    assert_eq!(assume_roles(&recorder).len(), 1);
}

/// As a person uses it: kubectl 1.33 on a terminal (`interactiveMode: IfAvailable`) runs
/// eks-token, which asks for the code once and gets pods; the session then serves the next
/// kubectl run without a question. The same kubeconfig with `Never` on plain pipes fails at
/// once with the hint.
#[test]
fn kubectl_on_a_terminal_asks_for_the_code_once_and_gets_pods() {
    const CLUSTER: &str = "mfa-cluster";
    const EXEC_V1: &str = "client.authentication.k8s.io/v1";
    let args = ["token", "-i", CLUSTER, "--profile", "mfa"];
    let moto = Process::moto();
    let (mut s, recorder) = mfa_profiles(&moto);
    let api = fake_eks(&s, CLUSTER, &json!({}), Some(&moto));

    // Before any session is cached: only a typed code could have helped.
    let never = write_exec_kubeconfig(&s, &api, EXEC_V1, Some("Never"), &args);
    let run = kubectl_get_pods(&s, "1.33", &never);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains(NO_PODS), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no one is at a terminal to type the code: kubectl said no one is there"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("hint: {HINT}")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Enter MFA code"), "{}", run.stderr);
    run.assert_within(Duration::from_secs(2));
    assert_eq!(sts_calls(&recorder), Vec::<Value>::new());
    assert_eq!(assume_role_calls(&moto), 0);

    let config = write_exec_kubeconfig(&s, &api, EXEC_V1, Some("IfAvailable"), &args);
    let first = kubectl_get_pods_answering(&s, "1.33", &config, &[(PROMPT, CODE)]);
    // The terminal shows kubectl's output and eks-token's prompt alike.
    let shown = &first.run.stderr;
    assert_eq!(first.run.code, 0, "{shown}");
    assert!(shown.contains(NO_PODS), "{shown}");
    assert_eq!(first.answered, 1, "{shown}");
    assert_eq!(shown.matches("Enter MFA code").count(), 1, "{shown}");
    assert!(shown.contains(PROMPT), "{shown}");
    assert!(!shown.contains(CODE), "the code was echoed: {shown}");
    assert!(first.echo, "the terminal was left without echo");
    let calls = assume_roles(&recorder);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["RoleArn"], ROLE);
    assert_eq!(calls[0]["SerialNumber"], SERIAL);
    assert_eq!(calls[0]["TokenCode"], CODE);
    let sessions = moto_sessions(&moto);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let identity = sessions[0]["arn"].as_str().unwrap();
    assert!(identity.contains("assumed-role/mfa-admin/"), "{identity}");
    let authorized = api.requests_by(identity);
    assert!(authorized > 0, "fake EKS saw no request as {identity}");

    // A fresh eks-token cache: neither its token nor its credentials are there, only the
    // session in the AWS CLI's cache.
    let fresh = s.path("fresh-cache");
    s.env("EKS_TOKEN_CACHE_DIR", fresh.display().to_string());
    let second = kubectl_get_pods_answering(&s, "1.33", &config, &[]);
    let shown = &second.run.stderr;
    assert_eq!(second.run.code, 0, "{shown}");
    assert!(shown.contains(NO_PODS), "{shown}");
    assert!(!shown.contains("Enter MFA code"), "{shown}");
    assert!(second.echo, "the terminal was left without echo");
    assert!(api.requests_by(identity) > authorized);
    assert!(fresh.exists(), "the run did not use the fresh cache");
    assert_eq!(assume_roles(&recorder).len(), 1);
    assert_eq!(assume_role_calls(&moto), 1);
}

#[test]
fn without_a_person_it_fails_at_once_with_the_command_that_caches_a_session() {
    let moto = Process::moto();
    let (mut s, recorder) = mfa_profiles(&moto);
    let error = |why: &str| {
        format!(
            "eks-token: error: profile mfa assumes {ROLE} with MFA (mfa_serial {SERIAL}), and no one is at a terminal to type the code: {why}"
        )
    };

    // kube-rs says interactive even without a terminal: plain pipes.
    let run = s.run(&["token", "-i", "c", "--profile", "mfa"]);
    run.assert_error(1, "no one is at a terminal");
    assert_eq!(
        run.error_line(),
        error("stdin and stderr are not both a terminal")
    );
    assert_eq!(run.hint(), HINT);
    run.assert_within(Duration::from_secs(1));

    // On a terminal, but kubectl says no one is there (interactiveMode Never).
    let on_terminal = |exec_info: &str, extra: &[&str]| {
        let mut args = vec!["token", "-i", "c", "--profile", "mfa"];
        args.extend_from_slice(extra);
        let mut cmd = terminal_command(&s, support::BIN, &args, Stdout::Pipe);
        cmd.env("KUBERNETES_EXEC_INFO", exec_info);
        let on = run_on_terminal(cmd);
        assert_eq!(on.run.code, 1, "{}", on.run.stderr);
        assert!(
            !on.run.stderr.contains("Enter MFA code"),
            "{}",
            on.run.stderr
        );
        on.run.assert_within(Duration::from_secs(1));
        on.run
    };
    let run = on_terminal(EXEC_INFO_V1, &[]);
    assert!(
        run.stderr.contains(&error(
            "kubectl said no one is there (interactiveMode Never, or its stdin is not a terminal)"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("hint: {HINT}")),
        "{}",
        run.stderr
    );
    let run = on_terminal(EXEC_INFO_V1_INTERACTIVE, &["--login", "never"]);
    assert!(
        run.stderr
            .contains(&error("--login never: eks-token asks for nothing")),
        "{}",
        run.stderr
    );

    // Nothing can cache a session for later without the AWS CLI's cache; STS's default
    // hour for a profile without duration_seconds.
    s.env("EKS_TOKEN_NO_AWS_CLI_CACHE", "1");
    let run = s.run(&["token", "-i", "c", "--profile", "viewer"]);
    run.assert_error(1, &format!("profile viewer assumes {OTHER_ROLE} with MFA"));
    assert!(
        run.hint()
            .starts_with("run kubectl in a terminal, or turn the AWS CLI's role cache back on")
            && run.hint().ends_with(
                "run `eks-token whoami --profile viewer` in a terminal to cache a session for 1h 0m"
            ),
        "{}",
        run.hint()
    );

    assert_eq!(
        sts_calls(&recorder),
        Vec::<Value>::new(),
        "an AWS call was made"
    );
    assert_eq!(assume_role_calls(&moto), 0);
}

/// What the hint says works: `eks-token whoami` in a terminal asks for the code once, and
/// the session it caches serves kubectl's runs that have no one to ask.
#[test]
fn whoami_in_a_terminal_caches_a_session_for_runs_without_a_person() {
    let moto = Process::moto();
    let (s, recorder) = mfa_profiles(&moto);
    let whoami = typing_the_code(&s, &["whoami", "--profile", "mfa"]);
    assert_eq!(whoami.run.code, 0, "{}", whoami.run.stderr);
    assert!(
        whoami.run.stdout.contains("assumed-role/mfa-admin/"),
        "{}",
        whoami.run.stdout
    );
    assert_eq!(assume_roles(&recorder)[0]["TokenCode"], CODE);

    let run = s.run(&["token", "-i", "c", "--profile", "mfa"]);
    assert_assumed(&moto, &run.token(), "c", "mfa-admin");
    assert_eq!(assume_roles(&recorder).len(), 1);
}

#[test]
fn the_terminal_echoes_again_after_a_timeout_and_after_ctrl_c() {
    let moto = Process::moto();
    let (s, recorder) = mfa_profiles(&moto);
    let args = [
        "token",
        "-i",
        "c",
        "--profile",
        "mfa",
        "--login-timeout",
        "1",
    ];
    let silent = run_on_terminal(terminal_command(&s, support::BIN, &args, Stdout::Pipe));
    assert_eq!(silent.run.code, 1, "{}", silent.run.stderr);
    assert!(
        silent.run.stderr.contains(&format!(
            "eks-token: error: no MFA code for {SERIAL}: none was typed within 1s (--login-timeout)"
        )),
        "{}",
        silent.run.stderr
    );
    assert!(silent.echo, "echo left off after the timeout");
    assert!(silent.run.elapsed >= Duration::from_secs(1));
    silent.run.assert_within(Duration::from_secs(3));

    let interrupted = run_on_terminal(answering_terminal_command(
        &s,
        support::BIN,
        &args,
        Stdout::Pipe,
        &[(PROMPT, "\u{3}")],
    ));
    assert_eq!(interrupted.answered, 1);
    assert_eq!(interrupted.signal, Some(2), "{}", interrupted.run.stderr);
    assert!(interrupted.echo, "echo left off after Ctrl-C");
    assert_eq!(sts_calls(&recorder), Vec::<Value>::new());
}

/// An endpoint that echoes the request (a proxy's error page) sends `TokenCode=…` back: it
/// is shown redacted.
#[test]
fn a_code_echoed_by_an_endpoint_is_redacted() {
    let echo = Process::faults(&json!([{"echo": true}]));
    let mut s = Sandbox::new();
    mfa_profiles_at(&mut s, &echo.url());
    let on = typing_the_code(&s, &["token", "-i", "c", "--profile", "mfa", "--verbose"]);
    let run = &on.run;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "eks-token: error: STS AssumeRole of {ROLE}: EchoedRequest: "
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("SerialNumber="), "{}", run.stderr);
    assert!(run.stderr.contains("[redacted]"), "{}", run.stderr);
    assert!(!run.stderr.contains(CODE), "{}", run.stderr);
    // No session was cached from a failed call.
    assert!(!s.path(".aws/cli/cache").exists());
}
