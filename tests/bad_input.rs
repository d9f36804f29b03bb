//! The bad-input matrix: every configuration and input mistake gets one error line, a
//! hint with the fix, exit 1 (2 for usage), nothing on stdout, no panic and no hang.
//! (Faults of the network and of AWS endpoints are in `faults.rs`.)

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use serde_json::json;
use support::{
    AK, Process, SK, Sandbox, env_creds, run_command, utc_in, verify_token, write_sso_login,
};

const ACCOUNT: &str = "123456789012";

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn no_credentials_anywhere() {
    let run = Sandbox::new().run(&["token", "-i", "c"]);
    run.assert_error(
        1,
        "no AWS credentials found (tried environment variables, profile default, web identity token, container credentials)",
    );
    assert!(run.hint().contains("`aws configure`"), "{}", run.hint());

    let s = Sandbox::new();
    s.write(".aws/config", "[profile empty]\nregion = eu-west-1\n");
    let run = s.run(&["token", "-i", "c", "--profile", "empty"]);
    run.assert_error(1, "tried profile empty");
    assert!(
        run.hint().starts_with(
            "profile empty has no credentials: add keys (`aws configure --profile empty`)"
        ),
        "{}",
        run.hint()
    );

    let mut s = Sandbox::new();
    s.env("AWS_ACCESS_KEY_ID", AK);
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(
        1,
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
    );
    assert!(run.hint().contains("export AWS_SECRET_ACCESS_KEY"));
}

#[test]
fn unknown_profile_lists_the_profiles_that_exist() {
    let s = Sandbox::new();
    s.write(".aws/config", "[profile dev]\nregion = eu-west-1\n");
    let run = s.run(&["token", "-i", "c", "--profile", "prod"]);
    run.assert_error(1, "profile \"prod\" not found in the AWS config files");
    assert_eq!(run.hint(), "profiles that exist: dev");

    // The default profile is listed too, and AWS_PROFILE is checked like --profile.
    let mut s = Sandbox::new();
    s.write(
        ".aws/config",
        "[profile staging]\nregion = eu-west-1\n[default]\nregion = us-east-1\n",
    );
    let run = s.run(&["token", "-i", "c", "--profile", "prdo"]);
    run.assert_error(1, "profile \"prdo\" not found in the AWS config files");
    assert_eq!(run.hint(), "profiles that exist: default, staging");
    s.env("AWS_PROFILE", "prdo");
    s.run(&["token", "-i", "c"])
        .assert_error(1, "profile \"prdo\" not found in the AWS config files");
}

#[test]
fn source_profile_loops_and_holes() {
    let s = env_creds();
    s.write(
        ".aws/config",
        &format!(
            "[profile a]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/a\nsource_profile = b\n\
         [profile b]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/b\nsource_profile = c\n\
         [profile c]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/c\nsource_profile = a\n\
         [profile d]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/d\nsource_profile = nowhere\n\
         [profile e]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/e\n"
        ),
    );
    let run = s.run(&["token", "-i", "c", "--profile", "a"]);
    run.assert_error(1, "profile loop in source_profile: a → b → c → a");
    assert!(
        run.hint().contains("chain from profile a"),
        "{}",
        run.hint()
    );
    let run = s.run(&["token", "-i", "c", "--profile", "d"]);
    run.assert_error(
        1,
        "profile d has source_profile nowhere, which is not in the AWS config files",
    );
    assert!(
        run.hint().contains("add [profile nowhere]"),
        "{}",
        run.hint()
    );
    let run = s.run(&["token", "-i", "c", "--profile", "e"]);
    run.assert_error(1, "profile e is not usable: ");
    assert!(run.stderr.contains("source_profile"), "{}", run.stderr);
    assert!(
        run.hint().contains("aws configure list --profile e"),
        "{}",
        run.hint()
    );
}

#[test]
fn malformed_config_files_name_file_and_line() {
    let s = env_creds();
    let config = s.write(
        ".aws/config",
        "[default]\nregion = eu-west-1\n[profile broken\nregion = us-east-1\n",
    );
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(
        1,
        &format!(
            "cannot parse {} line 3: profile definition must end with ']'",
            config.display()
        ),
    );
    assert!(
        run.hint()
            .starts_with(&format!("fix line 3 of {}", config.display()))
    );

    // A credentials file with a broken line: the error must not echo the file's secrets.
    let s = env_creds();
    std::fs::remove_file(s.path(".aws/config")).ok();
    let credentials = s.write(
        ".aws/credentials",
        &format!("[default]\naws_access_key_id = {AK}\n{SK}\n"),
    );
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(1, &format!("cannot parse {} line 3", credentials.display()));
    assert!(!run.stderr.contains(SK), "{}", run.stderr);
}

#[test]
fn config_files_that_are_not_files() {
    let s = env_creds();
    std::fs::create_dir_all(s.path(".aws/config")).unwrap();
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(
        1,
        &format!(
            "cannot read the AWS config file {}: it is a directory",
            s.path(".aws/config").display()
        ),
    );
    assert!(
        run.hint().contains("must be a readable file"),
        "{}",
        run.hint()
    );

    // A FIFO would block the SDK's read forever.
    let s = env_creds();
    let fifo = s.path(".aws/credentials");
    mkfifo(&fifo);
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(
        1,
        &format!(
            "cannot read the AWS config file {}: it is not a regular file",
            fifo.display()
        ),
    );
    run.assert_within(Duration::from_secs(5));

    // Token files the SDK reads: a FIFO would stall the run past any deadline.
    let mut s = Sandbox::new();
    let fifo = s.path("token.jwt");
    mkfifo(&fifo);
    s.env("AWS_REGION", "eu-west-1")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", fifo.display().to_string())
        .env("AWS_ROLE_ARN", format!("arn:aws:iam::{ACCOUNT}:role/ci"));
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(
        1,
        &format!(
            "cannot read the web identity token file {}: it is not a regular file",
            fifo.display()
        ),
    );
    run.assert_within(Duration::from_secs(5));

    // AWS_CONFIG_FILE=/dev/null is a known way to say "no config".
    let mut s = env_creds();
    s.env("AWS_CONFIG_FILE", "/dev/null");
    verify_token(&s.run(&["token", "-i", "c"]).token(), "c", SK);
}

#[test]
fn ten_megabyte_config_files() {
    // Valid: thousands of generated profiles, as SSO account sync tools write them.
    let s = Sandbox::new();
    let mut text = String::with_capacity(10 * 1024 * 1024 + 512);
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "[profile p{i}]\nregion = eu-west-1\nsso_account_id = {i:012}\nsso_role_name = ReadOnly\n"
        ));
        i += 1;
    }
    text.push_str(&format!(
        "[profile target]\nregion = eu-west-1\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n"
    ));
    s.write(".aws/config", &text);
    let run = s.run(&["token", "-i", "c", "--profile", "target"]);
    verify_token(&run.token(), "c", SK);
    // Generous: debug builds parse slowly; this guards against a hang, not a speed goal.
    run.assert_within(Duration::from_secs(30));

    // Garbage: a 10 MB line that is no config at all.
    let s = env_creds();
    let config = s.write(".aws/config", &"x".repeat(10 * 1024 * 1024));
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(1, &format!("cannot parse {} line 1", config.display()));
    run.assert_within(Duration::from_secs(30));
}

#[test]
fn credential_process_failures() {
    let script = support::repo_file("fixtures/credential_process.py");
    let python = support::python();
    let s = Sandbox::new();
    s.write(".aws/config", &format!(
        "[profile fails]\nregion = eu-west-1\ncredential_process = {py} {script} --access-key-id A --secret {SK} --fail \"  session expired;   run the login  \"\n\
         [profile garbage]\nregion = eu-west-1\ncredential_process = {py} {script} --access-key-id A --secret {SK} --garbage\n\
         [profile missing]\nregion = eu-west-1\ncredential_process = /nonexistent/helper --token {SK}\n",
        py = python.display(), script = script.display()));
    let mut runs = Vec::new();
    let run = s.run(&["token", "-i", "c", "--profile", "fails"]);
    run.assert_error(
        1,
        &format!(
            "credential_process of profile fails failed: {} exited with status 1: session expired; run the login",
            python.display()
        ),
    );
    assert!(
        run.hint()
            .contains("run the credential_process of profile fails by hand")
    );

    let run = s.run(&["token", "-i", "c", "--profile", "garbage"]);
    run.assert_error(
        1,
        &format!(
            "credential_process of profile garbage failed: {} printed output that is not JSON (",
            python.display()
        ),
    );
    assert!(run.hint().contains("\"Version\": 1"), "{}", run.hint());
    runs.push(run);

    let run = s.run(&["token", "-i", "c", "--profile", "missing"]);
    run.assert_error(
        1,
        "credential_process of profile missing failed: /nonexistent/helper exited with status 127: ",
    );
    runs.push(run);
    // The command's arguments can hold secrets: only the program is ever shown.
    for run in runs {
        assert!(!run.stderr.contains(SK), "{}", run.stderr);
    }
}

fn sso_session_sandbox(stub: &Process) -> Sandbox {
    let mut s = Sandbox::new();
    s.env("AWS_ENDPOINT_URL_SSO", stub.url())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", stub.url());
    s.write(".aws/config", &format!(
        "[profile admin]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = Admin\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"));
    s
}

fn sso_login(s: &Sandbox, expires_in_minutes: i64, refreshable: bool) {
    let at = |minutes: i64| utc_in(chrono::TimeDelta::minutes(minutes));
    let mut login = json!({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
        "accessToken": "oldAccessToken", "expiresAt": at(expires_in_minutes)});
    if refreshable {
        login["clientId"] = json!("client-1");
        login["clientSecret"] = json!("clientSecret");
        login["refreshToken"] = json!("refresh-1");
        login["registrationExpiresAt"] = json!(at(60 * 24 * 30));
    }
    write_sso_login(s, "corp", &login);
}

#[test]
fn sso_logins_missing_expired_and_unrefreshable() {
    let config_path = tempfile::NamedTempFile::new().unwrap();
    let config = |refresh_token: &str| {
        std::fs::write(
            config_path.path(),
            json!({
                "sso": {"access_token": "newAccessToken", "roles": [{"account_id": ACCOUNT,
                    "role_name": "Admin", "access_key_id": "ASIASSOREFRESHED0001",
                    "secret_access_key": "refreshedSecret", "session_token": "refreshed+token"}]},
                "sso_oidc": {"client_id": "client-1", "client_secret": "clientSecret",
                    "refresh_token": refresh_token, "access_token": "newAccessToken"}
            })
            .to_string(),
        )
        .unwrap();
    };
    config("refresh-1");
    let stub = Process::peer(
        "tests/peers/stub_server.py",
        &["--config", config_path.path().to_str().unwrap()],
    );

    let s = sso_session_sandbox(&stub);
    let run = s.run(&["token", "-i", "c", "--profile", "admin"]);
    run.assert_error(
        1,
        "the SSO login for profile admin is missing or expired (no cached login)",
    );
    assert_eq!(
        run.hint(),
        "run `eks-token login --profile admin`; there is no terminal to log in from; --login browser logs in without one"
    );

    sso_login(&s, -10, false);
    let run = s.run(&["token", "-i", "c", "--profile", "admin"]);
    run.assert_error(1, "and cannot be refreshed");

    // Refreshable: the SDK refreshes through SSO-OIDC (bounded like every call) …
    sso_login(&s, -10, true);
    let run = s.run(&["token", "-i", "c", "--profile", "admin"]);
    verify_token(&run.token(), "c", "refreshedSecret");

    // … and when SSO-OIDC refuses the refresh token, the login has to be redone.
    // (--no-cache: the token minted above is still cached and still good.)
    config("another-refresh-token");
    sso_login(&s, -10, true);
    let run = s.run(&["token", "-i", "c", "--profile", "admin", "--no-cache"]);
    run.assert_error(1, "and could not be refreshed");
    assert_eq!(
        run.hint(),
        "run `eks-token login --profile admin`; there is no terminal to log in from; --login browser logs in without one"
    );
    assert!(!run.stderr.contains("oldAccessToken"), "{}", run.stderr);
}

#[test]
fn invalid_regions() {
    let s = env_creds();
    for region in ["US_EAST", "eu west 1", "eu-west-1\n", "../../etc"] {
        let run = s.run(&["token", "-i", "c", "--region", region]);
        run.assert_error(1, "invalid region");
        assert!(run.hint().contains("us-west-2"));
    }
    let mut s = env_creds();
    s.env("AWS_REGION", "eu-west-1;rm");
    s.run(&["token", "-i", "c"])
        .assert_error(1, "invalid region");
    let s = Sandbox::new();
    s.write(
        ".aws/config",
        &format!("[default]\nregion = Frankfurt\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n"),
    );
    s.run(&["token", "-i", "c"])
        .assert_error(1, "invalid region \"Frankfurt\"");
}

#[test]
fn invalid_cluster_ids() {
    let s = env_creds();
    for (id, why) in [
        ("", "empty"),
        (&"c".repeat(101), "101 bytes"),
        ("a b", "whitespace"),
        ("a\tb", "whitespace"),
        ("a\u{7}b", "control character"),
        ("clüster", "non-ASCII"),
    ] {
        let run = s.run(&["token", "-i", id]);
        run.assert_error(1, why);
        assert!(run.hint().contains("--cluster-name"));
    }
    verify_token(
        &s.run(&["token", "-i", &"c".repeat(100)]).token(),
        &"c".repeat(100),
        SK,
    );
}

#[test]
fn usage_errors_exit_2_with_one_line_and_the_usage() {
    let s = env_creds();
    for (args, mention) in [
        (&["token", "-i", "c", "--frobnicate"][..], "--frobnicate"),
        (&["token", "-i", "c", "--timeout", "0"], "--timeout"),
        (&["token", "-i", "c", "--timeout", "soon"], "--timeout"),
        (&["token", "-i", "c", "-s", "name"], "--role-arn"),
        (&["token"], "--cluster-id"),
        (&["get-token"], "--oidc-issuer-url"),
        (
            &[
                "eks",
                "get-token",
                "--cluster-name",
                "c",
                "--output",
                "yaml",
            ],
            "yaml",
        ),
    ] {
        let run = s.run(args);
        run.assert_error(2, mention);
        assert!(
            run.hint().starts_with("usage: "),
            "{args:?}: {}",
            run.hint()
        );
    }
    // No subcommand at all, of eks-token or of one that has its own.
    for (args, usage) in [
        (&[][..], "usage: eks-token [OPTIONS] <COMMAND> (see --help)"),
        (
            &["cache"],
            "usage: eks-token cache [OPTIONS] <COMMAND> (see --help)",
        ),
    ] {
        let run = s.run(args);
        run.assert_error(2, "a subcommand is required");
        assert_eq!(run.hint(), usage);
    }
}

#[test]
fn garbage_exec_info_falls_back_with_a_warning() {
    let deep = format!("{}{}", "[".repeat(60_000), "]".repeat(60_000));
    let huge = format!(
        "{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"pad\":\"{}\"}}",
        "x".repeat(120_000)
    );
    for info in [
        "{",
        "{not json",
        "null",
        "42",
        r#"{"apiVersion": 5}"#,
        r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":"nope"}"#,
        "\u{1}\u{2}\u{7f}",
        deep.as_str(),
    ] {
        let mut s = env_creds();
        s.env("KUBERNETES_EXEC_INFO", info);
        let run = s.run(&["token", "-i", "c"]);
        let cred = run.credential();
        assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert!(
            run.stderr
                .starts_with("eks-token: warning: KUBERNETES_EXEC_INFO is not valid JSON"),
            "{:?}: {}",
            &info[..info.len().min(20)],
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    // Large (near the kernel's 128 KiB limit for one variable) but valid: used as is.
    let mut s = env_creds();
    s.env("KUBERNETES_EXEC_INFO", huge);
    let run = s.run(&["token", "-i", "c"]);
    assert_eq!(
        run.credential()["apiVersion"],
        "client.authentication.k8s.io/v1"
    );

    // Not UTF-8.
    let mut cmd = env_creds().command(&["token", "-i", "c"]);
    cmd.env(
        "KUBERNETES_EXEC_INFO",
        OsStr::from_bytes(b"{\"apiVersion\":\xff}"),
    );
    let run = run_command(cmd);
    run.credential();
    assert!(
        run.stderr
            .contains("KUBERNETES_EXEC_INFO is not valid UTF-8")
    );
}

#[test]
fn non_utf8_arguments_and_environment() {
    let bad = OsStr::from_bytes(b"c\xffd");
    for flag in ["-i", "--profile", "--region", "--role-arn"] {
        let args: &[&str] = if flag == "-i" {
            &["token"]
        } else {
            &["token", "-i", "c"]
        };
        let mut cmd = env_creds().command(args);
        cmd.arg(flag).arg(bad);
        run_command(cmd).assert_error(2, "invalid UTF-8");
    }
    let mut cmd = env_creds().command(&["token"]);
    cmd.env("KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID", bad);
    run_command(cmd).assert_error(2, "invalid UTF-8");

    for var in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
    ] {
        let mut cmd = env_creds().command(&["token", "-i", "c"]);
        let value = [SK.as_bytes(), b"\xff"].concat();
        cmd.env(var, OsStr::from_bytes(&value));
        let run = run_command(cmd);
        run.assert_error(1, &format!("environment variable {var} is not valid UTF-8"));
        assert_eq!(run.hint(), format!("fix or unset {var}"));
        assert!(!run.stderr.contains(SK), "{}", run.stderr);
    }

    // Not ours to judge: other variables pass through.
    let mut cmd = env_creds().command(&["token", "-i", "c"]);
    cmd.env("LANG", bad);
    verify_token(&run_command(cmd).token(), "c", SK);

    // An unreadable log level is a warning.
    let mut cmd = env_creds().command(&["token", "-i", "c"]);
    cmd.env("EKS_TOKEN_LOG", bad);
    let run = run_command(cmd);
    run.credential();
    assert!(run.stderr.contains("EKS_TOKEN_LOG must be debug or off"));
}

#[test]
fn a_credential_process_printing_100_mb_is_over_the_limit_whatever_its_status() {
    let s = Sandbox::new();
    s.write(
        ".aws/config",
        // `head` dies of SIGPIPE once eks-token stops reading (status 141 from `sh`);
        // one byte over may all be written before that and exit 0: the same error.
        "[profile huge]\nregion = eu-west-1\ncredential_process = yes | head -c 104857600\n\
         [profile just-over]\nregion = eu-west-1\ncredential_process = head -c 1048577 /dev/zero\n",
    );
    for (profile, program) in [("huge", "yes"), ("just-over", "head")] {
        let run = s.run(&["token", "-i", "c", "--profile", profile]);
        run.assert_error(
            1,
            &format!(
                "credential_process of profile {profile} failed: {program} printed more than 1 MiB on stdout"
            ),
        );
        assert!(run.hint().contains("\"Version\": 1"), "{}", run.hint());
        run.assert_within(Duration::from_secs(10));
    }
}

#[test]
fn long_source_profile_chains_work_and_a_self_reference_without_keys_is_a_loop() {
    const HOPS: usize = 20;
    const ISSUED_SK: &str = "chainIssuedSecret/0123456789";
    let sts = Process::faults(&json!([{"sts": {"access_key_id": "ASIACHAINISSUED00001",
        "secret_access_key": ISSUED_SK, "session_token": "chain+session/token="}}]));
    let mut s = Sandbox::new();
    s.env("AWS_ENDPOINT_URL_STS", sts.url())
        .env("AWS_REGION", "eu-west-1");
    let mut config = format!(
        "[profile keys]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
         [profile process]\ncredential_process = {} {} --access-key-id {AK} --secret {SK}\n\
         [profile selfish]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/selfish\nsource_profile = selfish\n\
         [profile own-keys]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/own\nsource_profile = own-keys\n\
         aws_access_key_id = {AK}\naws_secret_access_key = {SK}\n",
        support::python().display(),
        support::repo_file("fixtures/credential_process.py").display(),
    );
    // hop1 → hop2 → … → hop20 → keys or → process.
    for root in ["keys", "process"] {
        for i in 1..=HOPS {
            let next = if i == HOPS {
                root.to_owned()
            } else {
                format!("{root}-hop{}", i + 1)
            };
            // Roles of their own per root: the AWS CLI's role cache, keyed by the role
            // alone, would otherwise serve the second chain from the first's sessions.
            config.push_str(&format!(
                "[profile {root}-hop{i}]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/{root}-r{i}\nsource_profile = {next}\n"
            ));
        }
    }
    s.write(".aws/config", &config);

    let mut assumed = 0;
    for root in ["keys", "process"] {
        let run = s.run(&["token", "-i", "c", "--profile", &format!("{root}-hop1")]);
        verify_token(&run.token(), "c", ISSUED_SK);
        assumed += HOPS as u64;
        assert_eq!(
            sts.requests(),
            assumed,
            "one AssumeRole per hop from {root}"
        );
    }

    // botocore: a profile may name itself to assume its role with its own keys
    // (`_validate_source_profile`); aws-config's repr.rs reads it as its base credentials.
    let run = s.run(&["token", "-i", "c", "--profile", "own-keys"]);
    verify_token(&run.token(), "c", ISSUED_SK);
    assert_eq!(sts.requests(), assumed + 1);

    // Without credentials of its own, naming itself goes round in a circle.
    let run = s.run(&["token", "-i", "c", "--profile", "selfish"]);
    run.assert_error(1, "profile loop in source_profile: selfish → selfish");
    assert!(
        run.hint().contains("chain from profile selfish"),
        "{}",
        run.hint()
    );
    assert_eq!(sts.requests(), assumed + 1);
}

#[test]
fn ten_thousand_profiles_make_a_short_hint() {
    let s = Sandbox::new();
    let config: String = (0..10_000)
        .map(|i| format!("[profile p{i:05}]\nregion = eu-west-1\n"))
        .collect();
    s.write(".aws/config", &config);
    let first_five = "p00000, p00001, p00002, p00003, p00004 … and 9,995 more";

    let run = s.run(&["token", "-i", "c", "--profile", "nope"]);
    run.assert_error(1, "profile \"nope\" not found in the AWS config files");
    assert_eq!(run.hint(), format!("profiles that exist: {first_five}"));

    let run = s.run(&["token", "-i", "c", "--region", "eu-west-1"]);
    run.assert_error(1, "no AWS credentials found");
    assert_eq!(
        run.hint(),
        format!(
            "choose a profile with --profile or AWS_PROFILE (configured: {first_five}), or run under `aws-vault exec <profile> --`"
        )
    );
    assert!(run.stderr.len() < 400, "{}", run.stderr);
}

/// `token`, `token --role-arn`, `whoami` and `doctor`, each with `extra` arguments; AWS
/// API calls go to a closed port, so nothing leaves the machine.
fn credential_commands(extra: &[&'static str]) -> Vec<Vec<&'static str>> {
    let role = "arn:aws:iam::123456789012:role/r";
    [
        &["token", "-i", "c"][..],
        &["token", "-i", "c", "--role-arn", role],
        &["whoami"],
        &["doctor", "--cluster-id", "c"],
    ]
    .iter()
    .map(|head| head.iter().chain(extra).copied().collect())
    .collect()
}

/// Asserts a run failed on malformed credentials: `doctor` lists the problem in its
/// report, the others end with the error and its hint; the value is never shown.
fn assert_malformed(run: &support::Run, expected: &str, hint: &str, value: &str) {
    if run.stdout.starts_with("cluster id") {
        assert_eq!(run.code, 1, "{}", run.stderr);
        let problem = run
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("problem: "))
            .collect::<Vec<_>>();
        assert!(
            problem.first().is_some_and(|l| l.contains(expected)),
            "{}",
            run.stdout
        );
        assert!(
            problem.get(1).is_some_and(|l| l.contains(hint)),
            "{}",
            run.stdout
        );
        assert!(
            run.stderr
                .contains("eks-token: error: doctor found 1 problem"),
            "{}",
            run.stderr
        );
    } else {
        run.assert_error(1, expected);
        assert!(run.hint().contains(hint), "{}", run.hint());
    }
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(value), "{value:?} shown: {out}");
    }
}

#[test]
fn malformed_credentials_are_refused_where_they_enter() {
    let closed = format!("http://127.0.0.1:{}", support::closed_port());
    // From the environment: a pasted key id with a line break, a secret or session token
    // with a control character.
    for (var, value, what) in [
        ("AWS_ACCESS_KEY_ID", "ASIA\nBADKEYID", "the access key id"),
        ("AWS_ACCESS_KEY_ID", "ASIA BADKEYID", "the access key id"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "badSecret\u{7f}Value",
            "the secret access key",
        ),
        (
            "AWS_SESSION_TOKEN",
            "badSession\u{1}Token",
            "the session token",
        ),
    ] {
        let problem = if value.contains(' ') {
            "contains a space"
        } else {
            "contains a control character"
        };
        for args in credential_commands(&[]) {
            let mut s = env_creds();
            s.env(var, value).env("AWS_ENDPOINT_URL", &closed);
            let run = s.run(&args);
            assert_malformed(
                &run,
                &format!("{what} from environment variables {problem}"),
                &format!("export {var} again"),
                value.trim(),
            );
        }
    }

    // From a credential_process (JSON can carry any character) and from a profile's keys,
    // also as the source of a role the SDK assumes itself.
    let s = Sandbox::new();
    s.write(
        ".aws/config",
        &format!(
            "[default]\nregion = eu-west-1\n\
             [profile process]\nregion = eu-west-1\n\
             credential_process = printf %s '{{\"Version\": 1, \"AccessKeyId\": \"ASIA\\u0001BADKEYID\", \"SecretAccessKey\": \"{SK}\"}}'\n\
             [profile keys]\nregion = eu-west-1\naws_access_key_id = ASIA\u{1}BADKEYID\naws_secret_access_key = {SK}\n\
             [profile chained]\nregion = eu-west-1\nrole_arn = arn:aws:iam::{ACCOUNT}:role/r\nsource_profile = keys\n"
        ),
    );
    for (profile, source, hint) in [
        (
            "process",
            "the credential_process of profile process",
            "the credential_process of profile process must print",
        ),
        ("keys", "profile keys", "aws_access_key_id of profile keys"),
        (
            "chained",
            "profile keys",
            "aws_access_key_id of profile keys",
        ),
    ] {
        for args in credential_commands(&["--profile", profile]) {
            let mut s2 = Sandbox::new();
            std::fs::copy(s.path(".aws/config"), s2.path(".aws/config")).unwrap();
            s2.env("AWS_ENDPOINT_URL", &closed);
            let run = s2.run(&args);
            assert_malformed(
                &run,
                &format!("the access key id from {source} contains a control character"),
                hint,
                "ASIA\u{1}BADKEYID",
            );
        }
    }
}

#[test]
fn verbose_lines_show_control_characters_escaped() {
    let mut s = env_creds();
    s.env("AWS_PROFILE", "dev\u{1b}[31mred\u{7}\nnext");
    s.write(".aws/config", "[profile other]\nregion = eu-west-1\n");
    let run = s.run(&["token", "-i", "c", "--verbose", "--no-cache"]);
    run.credential();
    assert!(
        run.stderr
            .contains(r"profile dev\u{1b}[31mred\u{7}\nnext (AWS_PROFILE)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        run.stderr
    );
}

#[test]
fn a_closed_stdout_is_an_error_and_a_broken_pipe_is_not() {
    use std::os::unix::process::CommandExt;
    // Closed (EBADF): the credential never reached kubectl.
    let s = env_creds();
    let mut cmd = s.command(&["token", "-i", "c", "--no-cache"]);
    // SAFETY: close(2) is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let run = run_command(cmd);
    run.assert_error(1, "cannot write to stdout: Bad file descriptor");
    assert!(
        run.hint().contains("standard output open"),
        "{}",
        run.hint()
    );

    // Broken pipe (EPIPE): the reader is gone (`| head -c0`), which is its business.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = s.command(&["token", "-i", "c", "--no-cache"]);
    cmd.stdout(writer);
    let run = run_command(cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn usage_errors_show_control_characters_escaped() {
    let run = Sandbox::new().run(&["token", "-i", "c", "--timeout", "1\rZ\u{1b}[2J"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        run.stderr
    );
    assert!(
        run.stderr.contains("invalid value '1 Z"),
        "{:?}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 2, "{:?}", run.stderr);
}
