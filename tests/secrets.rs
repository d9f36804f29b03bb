//! No secret leaks: every credential source is filled with sentinel values, then success
//! paths (with `--verbose`) and error paths run; no sentinel may appear on stderr or in any
//! file the run created or changed (HOME and TMPDIR are the sandbox's).
//!
//! The bearer token itself goes to stdout (and, with the cache, to its 0600 entry) only.
//! An SSO login's secrets (access and refresh tokens, client secret) belong in the SSO
//! cache only; the authorization code and PKCE verifier nowhere at all. So too for `oidc`:
//! its ID, access and refresh tokens belong in its private cache (and the one printed on
//! stdout), the client secret, code and verifier nowhere.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::{
    FakeSso, OIDC_CLIENT_ID, OIDC_LOGIN, OidcProvider, Process, Run, SSO_ACCOUNT,
    SSO_LEGACY_PROFILE, SSO_PROFILE, SSO_ROLE, SSO_SESSION, Sandbox, browser_opens, browser_visits,
    closed_port, count_requests, create_tokens, file_mode, free_port, http_get, oidc_cache_dir,
    oidc_cache_entries, oidc_config, oidc_flags, oidc_redirect, read_sso_login,
    record_browser_visits, sso_cache_files, sso_role_credentials, sso_sandbox, use_oidc_browser,
    utc_in, verify_token, write_json, write_sso_login,
};

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/eks-viewer";

/// The access key ids are not secret; each names the source a token was signed from.
const ENV_AK: &str = "AKIAENVSENTINEL00001";
const PROFILE_AK: &str = "AKIAPROFILESENTINEL1";
const PROCESS_AK: &str = "ASIAPROCESSSENTINEL1";
const SSO_ROLE_AK: &str = "ASIASSOSENTINEL00001";
const CONTAINER_AK: &str = "ASIACONTAINERSENT001";
const STS_AK: &str = "ASIASTSSENTINEL00001";

const ENV_SECRET: &str = "SENTINELenvSecretAccessKey0001";
const ENV_SESSION: &str = "SENTINELenvSessionToken0002";
const PROFILE_SECRET: &str = "SENTINELprofileSecretKey0003";
const PROFILE_SESSION: &str = "SENTINELprofileSessionToken0004";
const PROCESS_SECRET: &str = "SENTINELprocessSecretKey0005";
const PROCESS_SESSION: &str = "SENTINELprocessSessionToken0006";
const SSO_TOKEN: &str = "SENTINELssoAccessToken0007";
const SSO_REFRESH: &str = "SENTINELssoRefreshToken0008";
const SSO_CLIENT_SECRET: &str = "SENTINELssoClientSecret0009";
const SSO_ROLE_SECRET: &str = "SENTINELssoRoleSecret0010";
const CONTAINER_AUTH: &str = "SENTINELcontainerAuthToken0011";
const CONTAINER_SECRET: &str = "SENTINELcontainerSecret0012";
const WEB_IDENTITY: &str = "SENTINELwebIdentityJwt0013";
const STS_SECRET: &str = "SENTINELstsIssuedSecret0014";
const STS_SESSION: &str = "SENTINELstsIssuedSession0015";
/// What SSO-OIDC answers a refresh of the `corp` login with.
const SSO_REFRESHED_TOKEN: &str = "SENTINELssoRefreshedToken0016";
const SSO_NEW_REFRESH: &str = "SENTINELssoNewRefreshToken0017";

const SENTINELS: &[&str] = &[
    ENV_SECRET,
    ENV_SESSION,
    PROFILE_SECRET,
    PROFILE_SESSION,
    PROCESS_SECRET,
    PROCESS_SESSION,
    SSO_TOKEN,
    SSO_REFRESH,
    SSO_CLIENT_SECRET,
    SSO_ROLE_SECRET,
    CONTAINER_AUTH,
    CONTAINER_SECRET,
    WEB_IDENTITY,
    STS_SECRET,
    STS_SESSION,
    SSO_REFRESHED_TOKEN,
    SSO_NEW_REFRESH,
];

/// Where the AWS CLI keeps SSO logins, under HOME.
const SSO_CACHE: &str = ".aws/sso/cache";

/// Where the AWS CLI keeps role sessions, under HOME (eks-token writes the ones it gets
/// there, 0600, for the AWS CLI).
const ROLE_CACHE: &str = ".aws/cli/cache";

/// Every regular file under `root`, with its contents.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.insert(entry.path(), std::fs::read(entry.path()).unwrap());
            }
        }
    }
    files
}

/// A sandbox with every credential source configured with sentinels, and the peers.
struct World {
    sandbox: Sandbox,
    _peers: Vec<Process>,
    sts: String,
}

fn world(sts_plan: Value) -> World {
    let mut s = Sandbox::new();
    std::fs::create_dir(s.path("tmp")).unwrap();
    let tmp = s.path("tmp").display().to_string();
    let sts = Process::faults(&sts_plan);
    let stub_config = write_json(
        &s,
        "stub.json",
        &json!({
            "sso": {"access_token": [SSO_TOKEN, SSO_REFRESHED_TOKEN], "roles": [{"account_id": ACCOUNT,
                "role_name": "Admin", "access_key_id": SSO_ROLE_AK,
                "secret_access_key": SSO_ROLE_SECRET, "session_token": SSO_ROLE_SECRET}]},
            "sso_oidc": {"client_id": "client", "client_secret": SSO_CLIENT_SECRET,
                "refresh_token": SSO_REFRESH, "access_token": SSO_REFRESHED_TOKEN,
                "new_refresh_token": SSO_NEW_REFRESH},
            "container": {"authorization": CONTAINER_AUTH, "access_key_id": CONTAINER_AK,
                "secret_access_key": CONTAINER_SECRET, "token": CONTAINER_SECRET},
        }),
    );
    let stub = Process::peer(
        "tests/peers/stub_server.py",
        &["--config", stub_config.to_str().unwrap()],
    );
    s.write("token.jwt", WEB_IDENTITY);
    let script = support::repo_file("fixtures/credential_process.py");
    let python = support::python();
    s.write(
        ".aws/credentials",
        &format!(
            "[static]\naws_access_key_id = {PROFILE_AK}\naws_secret_access_key = {PROFILE_SECRET}\naws_session_token = {PROFILE_SESSION}\n"
        ),
    );
    s.write(".aws/config", &format!(
        "[default]\nregion = eu-west-1\n\
         [profile static]\nregion = eu-west-1\n\
         [profile chained]\nregion = eu-west-1\nrole_arn = {ROLE}\nsource_profile = static\n\
         [profile loop]\nrole_arn = {ROLE}\nsource_profile = loop2\naws_secret_access_key = {PROFILE_SECRET}\n\
         [profile loop2]\nrole_arn = {ROLE}\nsource_profile = loop\n\
         [profile process]\nregion = eu-west-1\ncredential_process = {py} {script} --access-key-id {PROCESS_AK} --secret {PROCESS_SECRET} --session-token {PROCESS_SESSION}\n\
         [profile process-fails]\nregion = eu-west-1\ncredential_process = {py} {script} --access-key-id A --secret {PROCESS_SECRET} --fail denied\n\
         [profile process-env-secret]\nregion = eu-west-1\ncredential_process = HELPER_PASSWORD={PROCESS_SECRET} {py} {script} --access-key-id A --secret x --fail denied\n\
         [profile process-garbage]\nregion = eu-west-1\ncredential_process = echo '{{\"Version\": 2, \"SecretAccessKey\": \"{PROCESS_SECRET}\"'\n\
         [profile process-chained]\nregion = eu-west-1\nrole_arn = {ROLE}\nsource_profile = process\n\
         [profile sso]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = Admin\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
        py = python.display(), script = script.display()));
    let expires = utc_in(chrono::TimeDelta::hours(1));
    write_sso_login(
        &s,
        "corp",
        &json!({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
            "accessToken": SSO_TOKEN, "expiresAt": expires, "clientId": "client",
            "clientSecret": SSO_CLIENT_SECRET, "refreshToken": SSO_REFRESH,
            "registrationExpiresAt": expires}),
    );
    s.env("TMPDIR", tmp)
        .env("AWS_ENDPOINT_URL_STS", sts.url())
        .env("AWS_ENDPOINT_URL_SSO", stub.url())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", stub.url());
    let sts_url = sts.url();
    World {
        sandbox: s,
        _peers: vec![sts, stub],
        sts: sts_url,
    }
}

/// Runs `token` `args` with `env` added expecting a token signed with the key pair
/// `(access key id, secret)` of the source meant, and checks that no sentinel is shown.
fn check_succeeds(
    world: &World,
    env: &[(&str, String)],
    args: &[&str],
    (access_key_id, secret): (&str, &str),
) -> Run {
    let run = run_checked(world, env, args);
    let label = label(env, args);
    assert_eq!(run.code, 0, "{label}: {}", run.stderr);
    let verdict = verify_token(&run.token(), "c", secret);
    assert_eq!(verdict["access_key_id"], access_key_id, "{label}");
    run
}

fn label(env: &[(&str, String)], args: &[&str]) -> String {
    format!(
        "{args:?} {:?}",
        env.iter().map(|(k, _)| k).collect::<Vec<_>>()
    )
}

/// Runs `args` with `env` added, and checks that no sentinel is on stderr or stdout (the
/// token is base64 there, `doctor`'s report is plain text) or in any new or changed file.
fn run_checked(world: &World, env: &[(&str, String)], args: &[&str]) -> Run {
    let s = &world.sandbox;
    let before = snapshot(s.home.path());
    let mut cmd = s.command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = support::run_command(cmd);
    let label = label(env, args);
    for sentinel in SENTINELS {
        assert!(
            !run.stderr.contains(sentinel),
            "{label}: {sentinel} on stderr:\n{}",
            run.stderr
        );
        assert!(
            !run.stdout.contains(sentinel),
            "{label}: {sentinel} on stdout:\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stderr.contains("k8s-aws-v1."),
        "{label}: token on stderr"
    );
    for (path, contents) in snapshot(s.home.path()) {
        // The SSO cache is the one place an SSO login's secrets belong (a refresh writes
        // them back there); the credential cache's entries (0600, in the private store)
        // and the AWS CLI's role cache (0600) are the places role credentials do.
        let credential_entry = path.starts_with(s.path(".kube/cache/eks-token"))
            && path.extension().is_some_and(|x| x == "credentials");
        let role_session = path.starts_with(s.path(ROLE_CACHE)) && file_mode(&path) == 0o600;
        if before.get(&path) == Some(&contents)
            || path.starts_with(s.path(SSO_CACHE))
            || credential_entry
            || role_session
        {
            continue;
        }
        let text = String::from_utf8_lossy(&contents);
        for sentinel in SENTINELS {
            assert!(
                !text.contains(sentinel),
                "{label}: {sentinel} written to {}",
                path.display()
            );
        }
    }
    run
}

fn env_keys(session: bool) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", ENV_AK.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET.to_owned()),
    ];
    if session {
        env.push(("AWS_SESSION_TOKEN", ENV_SESSION.to_owned()));
    }
    env
}

fn issued() -> Value {
    json!({"access_key_id": STS_AK, "secret_access_key": STS_SECRET,
           "session_token": STS_SESSION})
}

/// `token -i c --verbose --timeout SECONDS` followed by `extra`.
fn verbose_token_args(timeout: &'static str, extra: &[&'static str]) -> Vec<&'static str> {
    let base = ["token", "-i", "c", "--verbose", "--timeout", timeout];
    base.iter().chain(extra).copied().collect()
}

/// The environment of a pod with a web identity (EKS IRSA, CI): the token file and role.
fn web_identity_env(w: &World) -> Vec<(&'static str, String)> {
    vec![
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            w.sandbox.path("token.jwt").display().to_string(),
        ),
        ("AWS_ROLE_ARN", ROLE.to_owned()),
    ]
}

/// The environment of a container whose credentials endpoint wants `auth`.
fn container_env(w: &World, auth: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("http://127.0.0.1:{}/creds", w._peers[1].port),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", auth.to_owned()),
    ]
}

#[test]
fn verbose_success_paths_print_no_secret() {
    let w = world(json!([{"sts": issued()}]));
    let with = |extra: &[&'static str]| verbose_token_args("5", extra);
    let assumed = (STS_AK, STS_SECRET);
    let mut env = env_keys(true);
    env.push(("EKS_TOKEN_LOG", "debug".into()));
    let run = check_succeeds(&w, &env, &with(&["--role-arn", ROLE]), assumed);
    assert!(run.stderr.contains("eks-token: debug: "), "{}", run.stderr);
    assert!(
        run.stderr.contains(&w.sts),
        "verbose names the STS endpoint"
    );
    check_succeeds(&w, &env_keys(true), &with(&[]), (ENV_AK, ENV_SECRET));
    check_succeeds(
        &w,
        &env_keys(true),
        &with(&["--role-arn", ROLE, "--forward-session-name"]),
        assumed,
    );
    for (profile, keys) in [
        ("static", (PROFILE_AK, PROFILE_SECRET)),
        ("chained", assumed),
        ("process", (PROCESS_AK, PROCESS_SECRET)),
        ("process-chained", assumed),
        ("sso", (SSO_ROLE_AK, SSO_ROLE_SECRET)),
    ] {
        check_succeeds(&w, &[], &with(&["--profile", profile]), keys);
    }
    check_succeeds(
        &w,
        &container_env(&w, CONTAINER_AUTH),
        &with(&[]),
        (CONTAINER_AK, CONTAINER_SECRET),
    );
    check_succeeds(&w, &web_identity_env(&w), &with(&[]), assumed);

    // Ten minutes left: eks-token refreshes the login through SSO-OIDC (sending the
    // refresh token and client secret, writing the new tokens back) and shows none of them.
    let mut login = read_sso_login(&w.sandbox, "corp");
    login["expiresAt"] = json!(utc_in(chrono::TimeDelta::minutes(10)));
    write_sso_login(&w.sandbox, "corp", &login);
    check_succeeds(
        &w,
        &[],
        &with(&["--profile", "sso", "--no-cache"]),
        (SSO_ROLE_AK, SSO_ROLE_SECRET),
    );
    let refreshed = read_sso_login(&w.sandbox, "corp");
    assert_eq!(
        refreshed["accessToken"], SSO_REFRESHED_TOKEN,
        "not refreshed"
    );
    assert_eq!(refreshed["refreshToken"], SSO_NEW_REFRESH);
}

#[test]
fn error_paths_print_no_secret() {
    let with = |extra: &[&'static str]| verbose_token_args("1", extra);
    let sts_errors = [
        (
            json!([{"sts_error": "ExpiredToken", "status": 403, "message": "expired"}]),
            "(ExpiredToken: expired)",
        ),
        (
            json!([{"sts_error": "InvalidClientTokenId", "status": 403, "message": "invalid"}]),
            "(InvalidClientTokenId: invalid)",
        ),
        (
            json!([{"sts_error": "AccessDenied", "status": 403, "message": "denied"}]),
            "access denied (AccessDenied: denied)",
        ),
        (
            json!([{"sts_error": "Throttling", "status": 400, "message": "Rate exceeded"}]),
            "still throttled after 3 attempts (Throttling: Rate exceeded)",
        ),
        (
            json!([{"status": 503, "body": "unavailable"}]),
            "failed with HTTP 503 on all 3 attempts",
        ),
        (
            json!([{"status": 200, "body": "<AssumeRoleResponse><broken", "content_type": "text/xml"}]),
            "is not what AWS sends",
        ),
        (json!([{"hang": true}]), "timed out after 1s: "),
    ];
    let assume_role = format!("STS AssumeRole of {ROLE}");
    for (plan, fault) in sts_errors {
        let w = world(plan);
        // Each error names the fault, and the call or profile it happened to.
        for (env, args, call) in [
            (
                env_keys(true),
                with(&["--role-arn", ROLE]),
                assume_role.clone(),
            ),
            (vec![], with(&["--profile", "chained"]), assume_role.clone()),
            (
                vec![],
                with(&["--profile", "process-chained"]),
                assume_role.clone(),
            ),
            (
                web_identity_env(&w),
                with(&[]),
                format!("STS AssumeRoleWithWebIdentity of {ROLE}"),
            ),
        ] {
            let run = check_fails_with(&w, &env, &args, fault);
            let error = run.error_line();
            assert!(error.contains(&call), "{error:?} does not name {call:?}");
        }
    }

    let w = world(json!([{"sts": issued()}]));
    let python = support::python();
    for (profile, expected) in [
        (
            "loop",
            "profile loop in source_profile: loop → loop2 → loop".to_owned(),
        ),
        (
            "process-fails",
            format!(
                "credential_process of profile process-fails failed: {} exited with status 1: denied",
                python.display()
            ),
        ),
        (
            "process-env-secret",
            format!(
                "credential_process of profile process-env-secret failed: {} exited with status 1: denied",
                python.display()
            ),
        ),
        (
            "process-garbage",
            "credential_process of profile process-garbage failed: echo printed output that is not JSON"
                .to_owned(),
        ),
    ] {
        check_fails_with(&w, &[], &with(&["--profile", profile]), &expected);
    }
    // An STS endpoint that refuses connections.
    let mut env = env_keys(true);
    let closed = format!("http://127.0.0.1:{}", closed_port());
    env.push(("AWS_ENDPOINT_URL_STS", closed.clone()));
    check_fails_with(
        &w,
        &env,
        &with(&["--role-arn", ROLE]),
        &format!("cannot reach {closed} (connection refused) for {assume_role}"),
    );
    // Credentials the environment half-sets or dates wrongly.
    check_fails_with(
        &w,
        &env_keys(false)[..1],
        &with(&[]),
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
    );
    let mut env = env_keys(true);
    env.push(("AWS_SESSION_EXPIRATION", "2001-01-01T00:00:00Z".into()));
    check_fails_with(
        &w,
        &env,
        &with(&[]),
        "the AWS credentials expired at 2001-01-01 00:00:00 UTC",
    );
    // A container endpoint that rejects the authorization token.
    let run = check_fails_with(
        &w,
        &container_env(&w, &format!("{CONTAINER_AUTH}-wrong")),
        &with(&[]),
        "container credentials: ",
    );
    assert!(run.error_line().contains("403"), "{}", run.stderr);
    // SSO: the portal cannot be reached, then the login has expired.
    let closed = format!("http://127.0.0.1:{}", closed_port());
    check_fails_with(
        &w,
        &[("AWS_ENDPOINT_URL_SSO", closed.clone())],
        &with(&["--profile", "sso"]),
        &format!("cannot reach {closed} (connection refused) for credentials of profile sso"),
    );
    write_sso_login(
        &w.sandbox,
        "corp",
        &json!({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
            "accessToken": SSO_TOKEN, "expiresAt": utc_in(-chrono::TimeDelta::hours(1))}),
    );
    check_fails_with(
        &w,
        &[],
        &with(&["--profile", "sso"]),
        "the SSO login for profile sso is missing or expired (expired at ",
    );
    // A token too long for the server, signed with a huge session token.
    let mut env = env_keys(false);
    env.push((
        "AWS_SESSION_TOKEN",
        format!("{ENV_SESSION}{}", "x".repeat(5000)),
    ));
    check_fails_with(&w, &env, &with(&[]), "the EKS server accepts at most 4096");
}

/// Runs `args` (a `token`, `whoami` or `doctor` command line) expecting it to fail with
/// `expected` in its error — for `doctor`, as a problem in the report — and checks that no
/// sentinel is shown anywhere.
fn check_fails_with(world: &World, env: &[(&str, String)], args: &[&str], expected: &str) -> Run {
    let run = run_checked(world, env, args);
    let label = label(env, args);
    if args[0] == "doctor" {
        assert_eq!(run.code, 1, "{label}: {}", run.stderr);
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with("problem: ") && l.contains(expected)),
            "{label}: no problem with {expected:?} in:\n{}",
            run.stdout
        );
        assert!(
            run.stderr.contains("eks-token: error: doctor found"),
            "{label}: {}",
            run.stderr
        );
    } else {
        run.assert_error(1, expected);
    }
    run
}

/// `token`, `whoami` and `doctor`, each with `extra` arguments, without and with
/// `--verbose`.
fn every_command(extra: &[&'static str]) -> Vec<Vec<&'static str>> {
    let common = ["--timeout", "2", "--region", "eu-west-1"];
    let commands = [
        &["token", "-i", "c"][..],
        &["whoami"],
        &["doctor", "--cluster-id", "c"],
    ];
    let mut out = Vec::new();
    for head in commands {
        for verbose in [&[][..], &["--verbose"]] {
            out.push(
                head.iter()
                    .chain(verbose)
                    .chain(&common)
                    .chain(extra)
                    .copied()
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn endpoints_that_echo_the_request_get_no_secret_shown() {
    // Every AWS endpoint is the echoing peer: STS (AssumeRole, AssumeRoleWithWebIdentity,
    // GetCallerIdentity), the SSO portal and the container credentials endpoint.
    let w = world(json!([{"echo": true}]));
    let echo = w.sts.clone();
    let assume = format!("STS AssumeRole of {ROLE}: EchoedRequest: ");
    for args in every_command(&["--role-arn", ROLE]) {
        check_fails_with(&w, &env_keys(true), &args, &assume);
    }
    for args in every_command(&["--profile", "process-chained"]) {
        check_fails_with(&w, &[], &args, &assume);
    }
    for args in every_command(&["--profile", "chained"]) {
        check_fails_with(&w, &[], &args, &assume);
    }
    // (`token` signs with these keys locally: it calls no endpoint.)
    for args in every_command(&[]).iter().filter(|a| a[0] != "token") {
        check_fails_with(
            &w,
            &env_keys(true),
            args,
            "STS GetCallerIdentity: EchoedRequest: ",
        );
    }
    let web_identity = web_identity_env(&w);
    for args in every_command(&[]) {
        check_fails_with(
            &w,
            &web_identity,
            &args,
            &format!("STS AssumeRoleWithWebIdentity of {ROLE}: EchoedRequest: "),
        );
    }
    let sso = vec![("AWS_ENDPOINT_URL_SSO", echo.clone())];
    for args in every_command(&["--profile", "sso"]) {
        let run = check_fails_with(&w, &sso, &args, "(EchoedRequest: ");
        // The bearer token is the first header: it was shown, redacted.
        assert!(run.stderr.contains("[redacted]") || run.stdout.contains("[redacted]"));
        // No `Debug` rendering of an SDK error.
        for out in [&run.stderr, &run.stdout] {
            assert!(!out.contains("Error {"), "{out}");
            assert!(!out.contains("code: \""), "{out}");
        }
    }
    let container = vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{echo}/creds"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            CONTAINER_AUTH.to_owned(),
        ),
    ];
    for args in every_command(&[]) {
        let run = check_fails_with(
            &w,
            &container,
            &args,
            "failed to load credentials [EchoedRequest]: GET /creds",
        );
        assert!(run.stderr.contains("[redacted]") || run.stdout.contains("[redacted]"));
    }
}

#[test]
fn container_tokens_with_line_breaks_or_control_characters_are_refused_unseen() {
    let w = world(json!([{"sts": issued()}]));
    let uri = (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("http://127.0.0.1:{}/creds", w._peers[1].port),
    );
    for (token, what) in [
        (format!("{CONTAINER_AUTH}\n"), "a line break"),
        (format!("{CONTAINER_AUTH}\r\n"), "a line break"),
        (format!("{CONTAINER_AUTH}\u{1}x"), "a control character"),
        (format!("{CONTAINER_AUTH}\u{1b}[0m"), "a control character"),
    ] {
        let file = w.sandbox.write("container-token", &token);
        let file_name = file.display().to_string();
        // In the variable, or in a file; each hint says where to fix it.
        for (var, value, place, hint) in [
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                token.clone(),
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                file_name.clone(),
                file_name.as_str(),
                "without a trailing newline",
            ),
        ] {
            let env = vec![uri.clone(), (var, value)];
            for args in every_command(&[]) {
                let run = check_fails_with(
                    &w,
                    &env,
                    &args,
                    &format!("the container authorization token in {place} contains {what}"),
                );
                if args[0] != "doctor" {
                    assert!(run.hint().contains(hint), "{}", run.hint());
                }
            }
        }
    }
    // The same token without the line break works, from the file as from the variable.
    let file = w.sandbox.write("container-token", CONTAINER_AUTH);
    let env = vec![
        uri.clone(),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            file.display().to_string(),
        ),
    ];
    check_succeeds(
        &w,
        &env,
        &verbose_token_args("5", &[]),
        (CONTAINER_AK, CONTAINER_SECRET),
    );
}

#[test]
fn a_secret_across_the_cut_of_a_credential_process_message_is_not_half_shown() {
    let w = world(json!([{"sts": issued()}]));
    // 390 characters, then a secret this run knows: a cut at 400 bytes would keep its
    // first ten if the message were cut before it was redacted.
    w.sandbox.write(
        ".aws/config",
        "[profile leaky]\nregion = eu-west-1\n\
         credential_process = sh -c 'printf \"%0390d\" 0 >&2; printf \"%s\" \"$AWS_SECRET_ACCESS_KEY\" >&2; exit 1'\n",
    );
    let run = check_fails_with(
        &w,
        &env_keys(false),
        &["token", "-i", "c", "--profile", "leaky"],
        "credential_process of profile leaky failed",
    );
    assert!(!run.stderr.contains(&ENV_SECRET[..10]), "{}", run.stderr);
    assert!(run.stderr.contains("[redacted]"), "{}", run.stderr);
}

/// The start of each kind of secret `tests/peers/fake_sso.py` issues: access and refresh
/// tokens, client secrets, authorization codes, device codes, role secret access keys.
/// None may be shown, whatever its value.
const FAKE_SSO_SECRET_PREFIXES: &[&str] = &[
    "sso-at-",
    "sso-rt-",
    "fake-secret-",
    "fake-code-",
    "fake-device-",
    "sso-secret-",
];

/// The tokens and client secrets in the files of `~/.aws/sso/cache` (logins and client
/// registrations).
fn sso_cache_secrets(s: &Sandbox) -> Vec<String> {
    let mut found = Vec::new();
    for contents in sso_cache_files(s).values() {
        let Ok(file) = serde_json::from_slice::<Value>(contents) else {
            continue;
        };
        for field in ["accessToken", "refreshToken", "clientSecret"] {
            if let Some(secret) = file[field].as_str() {
                found.push(secret.to_owned());
            }
        }
    }
    found
}

/// The PKCE challenges of the URLs the test browser was opened at.
fn browser_challenges(s: &Sandbox) -> Vec<String> {
    browser_opens(s)
        .iter()
        .filter_map(|url| {
            url::Url::parse(url)
                .ok()?
                .query_pairs()
                .find_map(|(k, v)| (k == "code_challenge").then(|| v.into_owned()))
        })
        .collect()
}

/// Asserts `text` (from `place`) holds none of `secrets` and no PKCE verifier of
/// `challenges`.
fn assert_no_secret(text: &str, place: &str, secrets: &[&str], challenges: &[String]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{place}: {secret} in:\n{text}");
    }
    for challenge in challenges {
        assert!(
            !holds_verifier(text, challenge),
            "{place}: the PKCE verifier in:\n{text}"
        );
    }
}

/// Whether `text` holds the PKCE verifier of `challenge`: a run of 43 to 128 unreserved
/// characters whose unpadded base64url SHA-256 is the challenge (RFC 7636 4.1, 4.2).
fn holds_verifier(text: &str, challenge: &str) -> bool {
    use base64::Engine;
    use sha2::Digest;
    let s256 =
        |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v));
    let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
    text.split(|c| !unreserved(c))
        .filter(|word| word.len() >= 43)
        .any(|word| {
            (0..=word.len() - 43).any(|start| {
                (start + 43..=word.len().min(start + 128))
                    .any(|end| s256(&word[start..end]) == challenge)
            })
        })
}

/// A sandbox logging in through the fake IAM Identity Center, and every secret its SSO
/// cache has held so far.
struct LoginWorld {
    sandbox: Sandbox,
    secrets: Vec<String>,
}

/// Runs `args` with `env` and debug lines on, then checks that no SSO secret (any the SSO
/// cache has held, any value of the fake's kinds, the PKCE verifier of any authorization
/// the browser was sent to) is on stdout, stderr or in a new or changed file outside the
/// SSO cache.
fn run_login_checked(w: &mut LoginWorld, env: &[(&str, String)], args: &[&str]) -> Run {
    let s = &w.sandbox;
    let before = snapshot(s.home.path());
    let mut cmd = s.command(args);
    cmd.env("EKS_TOKEN_LOG", "debug");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = support::run_command(cmd);
    let label = label(env, args);
    assert!(
        run.stderr.contains("eks-token: debug: "),
        "{label}: no debug lines: {}",
        run.stderr
    );
    w.secrets.extend(sso_cache_secrets(s));
    let challenges = browser_challenges(s);
    let secrets: Vec<&str> = w
        .secrets
        .iter()
        .map(String::as_str)
        .chain(FAKE_SSO_SECRET_PREFIXES.iter().copied())
        .collect();
    let check = |text: &str, place: &str| {
        assert_no_secret(text, &format!("{label}: {place}"), &secrets, &challenges);
    };
    check(&run.stderr, "stderr");
    check(&run.stdout, "stdout");
    for (path, contents) in snapshot(s.home.path()) {
        if before.get(&path) == Some(&contents) || path.starts_with(s.path(SSO_CACHE)) {
            continue;
        }
        check(
            &String::from_utf8_lossy(&contents),
            &path.display().to_string(),
        );
    }
    run
}

#[test]
fn logins_their_refresh_and_logout_show_no_sso_secret() {
    let fake = FakeSso::start(&json!({}));
    let mut s = sso_sandbox(&fake);
    std::fs::create_dir(s.path("tmp")).unwrap();
    s.env("TMPDIR", s.path("tmp").display().to_string());
    let mut w = LoginWorld {
        sandbox: s,
        secrets: Vec::new(),
    };
    // The authorization code flow (code, verifier) and the device flow (device code).
    for profile in [SSO_PROFILE, SSO_LEGACY_PROFILE] {
        let args = ["login", "--profile", profile, "--login-timeout", "30"];
        let run = run_login_checked(&mut w, &[], &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(browser_opens(&w.sandbox).len(), 2);
    let token = [
        "token",
        "-i",
        "c",
        "--profile",
        SSO_PROFILE,
        "--verbose",
        "--no-cache",
        "--timeout",
        "5",
    ];
    let expiring = |w: &LoginWorld| {
        let mut login = read_sso_login(&w.sandbox, SSO_SESSION);
        login["expiresAt"] = json!(utc_in(chrono::TimeDelta::minutes(10)));
        write_sso_login(&w.sandbox, SSO_SESSION, &login);
    };
    // A refresh sends the refresh token and the client secret, and writes new tokens.
    expiring(&w);
    let run = run_login_checked(&mut w, &[], &token);
    let (_, role_secret, _) = sso_role_credentials(SSO_ACCOUNT, SSO_ROLE);
    verify_token(&run.token(), "c", &role_secret);
    let log = fake.requests();
    assert_eq!(create_tokens(&log, "refresh_token").len(), 1, "refreshed");

    // SSO-OIDC echoes each request back (its body holds the secrets) in its error.
    let echo = Process::faults(&json!([{"echo": true}]));
    let env = [("AWS_ENDPOINT_URL_SSO_OIDC", echo.url())];
    expiring(&w);
    run_login_checked(&mut w, &env, &token);
    assert_eq!(
        echo.requests(),
        1,
        "the refresh went to the echoing endpoint"
    );
    // The legacy login's cached registration: StartDeviceAuthorization sends its secret.
    let run = run_login_checked(
        &mut w,
        &env,
        &[
            "login",
            "--profile",
            SSO_LEGACY_PROFILE,
            "--timeout",
            "5",
            "--login-timeout",
            "10",
        ],
    );
    run.assert_error(1, "EchoedRequest");
    assert!(run.stderr.contains("[redacted]"), "{}", run.stderr);

    let run = run_login_checked(&mut w, &[], &["logout", "--timeout", "5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count_requests(&fake.requests(), "Logout", None), 2);
}

#[test]
fn the_verifier_check_finds_a_verifier_anywhere_in_a_line() {
    // RFC 7636 Appendix B's pair.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert!(holds_verifier(
        &format!("debug: code_verifier={verifier}&x"),
        challenge
    ));
    assert!(holds_verifier(
        &format!("debug: v.{verifier}.tail"),
        challenge
    ));
    assert!(!holds_verifier(
        &format!("debug: {}", &verifier[1..]),
        challenge
    ));
    assert!(!holds_verifier(
        &format!("code_challenge={challenge}"),
        challenge
    ));
}

/// A confidential client of the OpenID Provider, and its secret.
const OIDC_CONFIDENTIAL_CLIENT: &str = "eks-confidential";
const OIDC_CLIENT_SECRET: &str = "SENTINELoidcClientSecret0018";

/// A sandbox signing in at the OpenID Provider, and every secret it has been sent so far.
struct OidcWorld {
    sandbox: Sandbox,
    provider: OidcProvider,
    port: u16,
    secrets: Vec<String>,
}

impl OidcWorld {
    /// `eks-token --verbose oidc` for `issuer` and `client_id` with `extra`, checked by
    /// [`OidcWorld::check`].
    fn run(&mut self, issuer: &str, client_id: &str, extra: &[&str]) -> Run {
        let mut args = vec!["--verbose".to_owned(), "oidc".to_owned()];
        args.extend(oidc_flags(issuer, client_id, self.port));
        args.extend(["--login-timeout=20", "--timeout=5"].map(str::to_owned));
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let s = &self.sandbox;
        let before = snapshot(s.home.path());
        let run = s.run(&args);
        self.check(&run, &format!("{extra:?}"), &before);
        run
    }

    /// Checks that no token, code, client secret or PKCE verifier the run could know is on
    /// its stderr, that stdout holds at most the token it printed, and that no file outside
    /// the OIDC cache (and the peers' own logs) holds any.
    fn check(&mut self, run: &Run, label: &str, before: &BTreeMap<PathBuf, Vec<u8>>) {
        let s = &self.sandbox;
        assert!(
            run.stderr.contains("eks-token: debug: "),
            "{label}: no debug lines: {}",
            run.stderr
        );
        for entry in oidc_cache_entries(s) {
            for field in ["token", "refresh_token"] {
                if let Some(secret) = entry[field].as_str() {
                    self.secrets.push(secret.to_owned());
                }
            }
        }
        // The codes the provider sent to the loopback callback.
        let callback = format!("{}/?", oidc_redirect(self.port));
        for url in browser_visits(s)
            .iter()
            .filter(|u| u.starts_with(&callback))
        {
            let url = url::Url::parse(url).unwrap();
            if let Some((_, code)) = url.query_pairs().find(|(k, _)| k == "code") {
                self.secrets.push(code.into_owned());
            }
        }
        let challenges = browser_challenges(s);
        let printed = serde_json::from_str::<Value>(&run.stdout)
            .ok()
            .and_then(|c| c["status"]["token"].as_str().map(str::to_owned));
        let check = |text: &str, place: &str| {
            // The token printed on stdout is the job; every other secret is not.
            let secrets: Vec<&str> = self
                .secrets
                .iter()
                .filter(|secret| !(place == "stdout" && printed.as_ref() == Some(*secret)))
                .map(String::as_str)
                .collect();
            assert_no_secret(text, &format!("{label}: {place}"), &secrets, &challenges);
        };
        check(&run.stderr, "stderr");
        // Any JWT at all (an ID token starts with the base64url of `{"`).
        assert!(!run.stderr.contains("eyJ"), "{label}: a JWT on stderr");
        check(&run.stdout, "stdout");
        let own_logs = [
            oidc_cache_dir(s),
            s.path("browser-visits.log"),
            s.path("oidc"),
        ];
        for (path, contents) in snapshot(s.home.path()) {
            if before.get(&path) == Some(&contents) || own_logs.iter().any(|p| path.starts_with(p))
            {
                continue;
            }
            check(
                &String::from_utf8_lossy(&contents),
                &path.display().to_string(),
            );
        }
    }
}

/// The confidential client's secret as sent: plain, and in its HTTP Basic credentials.
fn oidc_client_secrets() -> Vec<String> {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{OIDC_CONFIDENTIAL_CLIENT}:{OIDC_CLIENT_SECRET}"));
    vec![OIDC_CLIENT_SECRET.to_owned(), basic]
}

/// `eks-token oidc`'s logins (public and confidential client, ID or access token), their
/// refreshes, a refused refresh, a refused ID token and a token endpoint that echoes the
/// request: no token, code, client secret or verifier on stderr or in `--verbose` lines;
/// the cache is a 0700 directory of 0600 files.
#[test]
fn oidc_logins_refreshes_and_errors_show_no_token_code_or_client_secret() {
    let mut s = Sandbox::new();
    let port = free_port();
    let mut config = oidc_config(&[oidc_redirect(port)]);
    config["clients"].as_array_mut().unwrap().push(json!({
        "client_id": OIDC_CONFIDENTIAL_CLIENT,
        "client_secret": OIDC_CLIENT_SECRET,
        "redirect_uris": [oidc_redirect(port)],
    }));
    let provider = OidcProvider::start(&s, &config);
    use_oidc_browser(&mut s, &provider, OIDC_LOGIN);
    record_browser_visits(&mut s);
    std::fs::create_dir(s.path("tmp")).unwrap();
    s.env("TMPDIR", s.path("tmp").display().to_string());
    // Under a minute: every run after a login refreshes.
    provider.set_ttl(&json!({"IdToken": 30, "AccessToken": 30}));
    let mut w = OidcWorld {
        sandbox: s,
        provider,
        port,
        secrets: oidc_client_secrets(),
    };
    let issuer = w.provider.issuer.clone();
    let secret = format!("--oidc-client-secret={OIDC_CLIENT_SECRET}");
    for (client, extra) in [
        (OIDC_CLIENT_ID, vec![]),
        (OIDC_CONFIDENTIAL_CLIENT, vec![secret.as_str()]),
        (OIDC_CLIENT_ID, vec!["--oidc-use-access-token"]),
    ] {
        let mut login = extra.clone();
        login.push("--login=browser");
        w.run(&issuer, client, &login).token();
        w.run(&issuer, client, &extra).token();
    }
    assert_eq!(w.provider.logins(), 3);
    assert_eq!(w.provider.refreshes(), 3);
    assert!(w.secrets.len() >= 2 + 6 + 3, "{}", w.secrets.len());

    // A refused refresh (it sent the refresh token and the client secret).
    assert!(w.provider.revoke(None, None) >= 3);
    let run = w.run(
        &issuer,
        OIDC_CONFIDENTIAL_CLIENT,
        &[&secret, "--login=never"],
    );
    run.assert_error(1, "the refresh token was refused: invalid_grant");
    // An ID token refused on arrival.
    w.provider.set_wrong_jwks(true);
    let run = w.run(
        &issuer,
        OIDC_CLIENT_ID,
        &["--force-refresh", "--login=browser"],
    );
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("is not valid"), "{}", run.stderr);
    w.provider.set_wrong_jwks(false);

    // A token endpoint that puts the whole request (code, verifier, Basic credentials) in
    // its OAuth error; sign-in at the real provider.
    let discovery = http_get(&format!("{issuer}/.well-known/openid-configuration"));
    let mut discovery: Value = serde_json::from_str(&discovery).unwrap();
    discovery["issuer"] = "$SELF".into();
    discovery["token_endpoint"] = "$SELF/token".into();
    let echo = Process::faults(&json!([
        {"status": 200, "body": discovery.to_string(), "content_type": "application/json"},
        {"echo": true},
    ]));
    let run = w.run(
        &echo.url(),
        OIDC_CONFIDENTIAL_CLIENT,
        &[&secret, "--login=browser"],
    );
    let opens = browser_opens(&w.sandbox);
    run.without_prompt_urls(&opens).assert_error(
        1,
        "the OIDC provider refused the authorization code: invalid_request",
    );
    assert_eq!(echo.requests(), 2, "the code went to the echoing endpoint");
    assert!(run.stderr.contains("[redacted]"), "{}", run.stderr);
    // Five codes reached the callback (and were looked for): three logins, the refused ID
    // token's and the echoed one.
    let callback = format!("{}/?code=", oidc_redirect(port));
    let codes = browser_visits(&w.sandbox)
        .iter()
        .filter(|url| url.starts_with(&callback))
        .count();
    assert_eq!(codes, 5);

    let dir = oidc_cache_dir(&w.sandbox);
    assert_eq!(file_mode(&dir), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        assert_eq!(file_mode(&file), 0o600, "{}", file.display());
    }
}
