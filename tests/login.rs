//! `eks-token login` and `logout` against the fake IAM Identity Center
//! (`tests/peers/fake_sso.py`) and the test browser: the authorization code + PKCE and
//! device flows, what the fake saw, the files the AWS CLI v2 would write (so the AWS CLI
//! and botocore share the login), refresh in both directions, and logout.

mod support;

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use support::{
    DEVICE_GRANT, FakeSso, Run, SSO_ACCOUNT, SSO_LEGACY_PROFILE, SSO_LEGACY_START_URL, SSO_PROFILE,
    SSO_REGION, SSO_ROLE, SSO_SCOPES, SSO_SESSION, SSO_START_URL, Sandbox,
    assert_registration_file, assert_sso_login_file, aws_cli_caller, botocore_credentials,
    browser_opens, count_requests, create_tokens, file_mode, http_request, moto_iam_user,
    open_in_browser, parse_expires_at, read_sso_login, sso_cache_files, sso_cache_name,
    sso_login_path, sso_registration_name, sso_role_credentials, sso_sandbox, utc_in, verify_token,
    write_sso_login,
};

/// Bounds every login that should succeed (the fake and the test browser answer in
/// milliseconds): a hung flow fails the test instead of hanging it.
const LOGIN_TIMEOUT: &str = "30";
/// Slack past a deadline for process start-up and exit on a loaded machine.
const MARGIN: Duration = Duration::from_millis(1500);
fn login(s: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["login", "--login-timeout", LOGIN_TIMEOUT, "--timeout", "5"];
    all.extend_from_slice(args);
    s.run(&all)
}

/// Checks that stdout is exactly the success line
/// `Logged in to URL (WHAT) until YYYY-MM-DD HH:MM:SSZ (Xh Ym).` for a token that lives
/// `lifetime`, and returns the time it names.
fn assert_logged_in(run: &Run, start_url: &str, what: &str, lifetime: TimeDelta) -> DateTime<Utc> {
    assert_eq!(run.code, 0, "login failed: {}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout is the success line only: {:?}",
        run.stdout
    );
    let line = lines[0];
    let rest = line
        .strip_prefix(&format!("Logged in to {start_url} ({what}) until "))
        .and_then(|r| r.strip_suffix(")."))
        .unwrap_or_else(|| panic!("not the success line for {start_url} ({what}): {line:?}"));
    let (stamp, left) = rest
        .split_once(" (")
        .unwrap_or_else(|| panic!("no time left in {line:?}"));
    let until = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%SZ")
        .unwrap_or_else(|e| panic!("{stamp:?} in {line:?}: {e}"))
        .and_utc();
    let minutes = match left.split_once("h ") {
        Some((h, m)) => {
            h.parse::<i64>().unwrap() * 60 + m.strip_suffix('m').unwrap().parse::<i64>().unwrap()
        }
        None => left.strip_suffix('m').unwrap().parse().unwrap(),
    };
    let want = lifetime.num_minutes();
    assert!(
        (want - 2..=want).contains(&minutes),
        "{left:?} left in {line:?}, expected about {want}m"
    );
    let from_now = until - Utc::now();
    assert!(
        (lifetime - TimeDelta::minutes(2)..=lifetime).contains(&from_now),
        "{line:?}: until is {from_now} from now"
    );
    until
}

/// The query parameters of `url`.
fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("{url:?}: {e}"))
        .query_pairs()
        .into_owned()
        .collect()
}

fn param(url: &str, name: &str) -> String {
    query(url)
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// Checks that the authorization URL is the fake's `/authorize` with what RFC 7636 and
/// the AWS CLI send: S256, a state, the loopback callback and the session's scopes.
fn assert_authorize_url(fake: &FakeSso, url: &str) {
    assert!(
        url.starts_with(&format!("{}/authorize?", fake.url())),
        "{url}"
    );
    assert_eq!(param(url, "response_type"), "code");
    assert_eq!(param(url, "code_challenge_method"), "S256");
    assert_eq!(param(url, "scopes"), SSO_SCOPES.join(" "));
    assert!(!param(url, "state").is_empty());
    let redirect = param(url, "redirect_uri");
    let port = redirect
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/oauth/callback"))
        .unwrap_or_else(|| panic!("redirect_uri {redirect}"));
    port.parse::<u16>()
        .unwrap_or_else(|_| panic!("redirect_uri {redirect}"));
}

/// The one URL in `stderr` that starts with `prefix`.
fn url_on_stderr(stderr: &str, prefix: &str) -> String {
    let urls: Vec<&str> = stderr
        .split_whitespace()
        .filter(|w| w.starts_with(prefix))
        .collect();
    assert_eq!(urls.len(), 1, "one {prefix}… URL on stderr: {stderr}");
    urls[0].to_owned()
}

/// The SSO cache holds the login keyed by `login_key` and the client registration
/// `registration_name`, and nothing else (no temporary file left behind).
fn assert_only_login_and_registration(s: &Sandbox, login_key: &str, registration_name: &str) {
    let mut expected = vec![
        format!("{}.json", sso_cache_name(login_key)),
        format!("{registration_name}.json"),
    ];
    expected.sort();
    assert_eq!(sso_cache_files(s).into_keys().collect::<Vec<_>>(), expected);
}

#[test]
fn authorization_code_login_writes_the_files_the_aws_cli_writes() {
    let fake = FakeSso::start(&json!({"expires_in": 8 * 3600}));
    let mut s = sso_sandbox(&fake);
    // A browser that talks on both streams: none of it may reach eks-token's stdout.
    let browser = s.write(
        "noisy-browser",
        &format!(
            "#!/bin/sh\necho 'browser: opening on stdout'\necho 'browser: warning on stderr' >&2\nexec {} \"$@\"\n",
            support::repo_file("tests/peers/test_browser.py").display()
        ),
    );
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    s.env("BROWSER", browser.display().to_string());

    let run = login(&s, &["--profile", SSO_PROFILE]);
    let until = assert_logged_in(
        &run,
        SSO_START_URL,
        &format!("sso-session {SSO_SESSION}"),
        TimeDelta::hours(8),
    );
    let opens = browser_opens(&s);
    assert_eq!(opens.len(), 1, "{opens:?}");
    assert_authorize_url(&fake, &opens[0]);
    assert!(
        run.stderr.contains(&opens[0]),
        "the URL is on stderr: {}",
        run.stderr
    );
    assert_eq!(
        fake.ops(),
        [
            "RegisterClient",
            "Authorize",
            "AuthorizeApprove",
            "CreateToken"
        ]
    );
    let log = fake.requests();
    let token = create_tokens(&log, "authorization_code");
    assert_eq!(token.len(), 1);
    assert!(token[0].error.is_none(), "{:?}", token[0]);

    let first = assert_sso_login_file(&s, SSO_SESSION, SSO_START_URL);
    assert!(
        first["refreshToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(
        parse_expires_at(first["expiresAt"].as_str().unwrap()),
        until
    );
    let registration_name = sso_registration_name(
        SSO_START_URL,
        SSO_REGION,
        Some(SSO_SCOPES),
        Some(SSO_SESSION),
    );
    let registration = assert_registration_file(&s, &registration_name, &first);
    assert_eq!(registration["scopes"], json!(SSO_SCOPES));
    let grants = registration["grantTypes"].as_array().expect("grantTypes");
    for grant in ["authorization_code", "refresh_token"] {
        assert!(grants.contains(&json!(grant)), "{registration}");
    }
    assert_only_login_and_registration(&s, SSO_SESSION, &registration_name);

    // Logging in again reuses the cached registration, and names the session directly.
    let again = login(&s, &["--sso-session", SSO_SESSION]);
    assert_logged_in(
        &again,
        SSO_START_URL,
        &format!("sso-session {SSO_SESSION}"),
        TimeDelta::hours(8),
    );
    assert_eq!(
        fake.ops(),
        [
            "RegisterClient",
            "Authorize",
            "AuthorizeApprove",
            "CreateToken",
            "Authorize",
            "AuthorizeApprove",
            "CreateToken"
        ]
    );
    let second = assert_sso_login_file(&s, SSO_SESSION, SSO_START_URL);
    assert_ne!(second["accessToken"], first["accessToken"]);
    assert_eq!(second["clientId"], first["clientId"]);
    assert_only_login_and_registration(&s, SSO_SESSION, &registration_name);
}

#[test]
fn device_code_login_waits_out_pending_and_slow_down() {
    let fake = FakeSso::start(&json!({
        "device_polls": ["authorization_pending", "slow_down"], "interval": 1
    }));
    let s = sso_sandbox(&fake);
    let run = login(&s, &["--profile", SSO_PROFILE, "--use-device-code"]);
    assert_logged_in(
        &run,
        SSO_START_URL,
        &format!("sso-session {SSO_SESSION}"),
        TimeDelta::hours(1),
    );
    let opens = browser_opens(&s);
    assert_eq!(opens.len(), 1, "{opens:?}");
    assert!(
        opens[0].starts_with(&format!("{}/device?user_code=", fake.url())),
        "{opens:?}"
    );
    // The verification URL and the user code are on stderr.
    assert!(run.stderr.contains(&opens[0]), "{}", run.stderr);
    assert!(
        run.stderr.contains(&param(&opens[0], "user_code")),
        "{}",
        run.stderr
    );

    let ops = fake.ops();
    assert_eq!(
        ops[..2],
        ["RegisterClient", "StartDeviceAuthorization"],
        "{ops:?}"
    );
    assert!(!ops.iter().any(|op| op.starts_with("Authorize")), "{ops:?}");
    let log = fake.requests();
    let polls = create_tokens(&log, DEVICE_GRANT);
    let errors: Vec<&str> = polls
        .iter()
        .map(|p| p.error.as_deref().unwrap_or("none"))
        .collect();
    assert_eq!(
        errors[..2],
        ["AuthorizationPendingException", "SlowDownException"],
        "{errors:?}"
    );
    assert_eq!(errors.last(), Some(&"none"), "{errors:?}");
    // (The browser approves at once; a third pending poll would only mean it was slow.)
    assert!(
        errors[2..errors.len() - 1]
            .iter()
            .all(|e| *e == "AuthorizationPendingException"),
        "{errors:?}"
    );
    let at = |i: usize| polls[i].time;
    // The interval (1 s), then after slow_down the interval plus 5 s (RFC 8628 3.5).
    assert!(
        at(1) - at(0) >= 0.95,
        "second poll after {:.2}s",
        at(1) - at(0)
    );
    assert!(
        at(2) - at(1) >= 5.9,
        "poll after slow_down after {:.2}s",
        at(2) - at(1)
    );
    assert_sso_login_file(&s, SSO_SESSION, SSO_START_URL);

    // The AWS CLI caches both flows' registrations under one name: the device flow's has
    // no authorization_code grant, so the next browser login registers anew.
    let run = login(&s, &["--profile", SSO_PROFILE]);
    assert_logged_in(
        &run,
        SSO_START_URL,
        &format!("sso-session {SSO_SESSION}"),
        TimeDelta::hours(1),
    );
    assert_eq!(count_requests(&fake.requests(), "RegisterClient", None), 2);
    let login = assert_sso_login_file(&s, SSO_SESSION, SSO_START_URL);
    let name = sso_registration_name(
        SSO_START_URL,
        SSO_REGION,
        Some(SSO_SCOPES),
        Some(SSO_SESSION),
    );
    let registration = assert_registration_file(&s, &name, &login);
    assert!(
        registration["grantTypes"]
            .as_array()
            .is_some_and(|g| g.contains(&json!("authorization_code"))),
        "{registration}"
    );
}

#[test]
fn a_legacy_profile_logs_in_with_the_device_code() {
    let fake = FakeSso::start(&json!({}));
    let s = sso_sandbox(&fake);
    let run = login(&s, &["--profile", SSO_LEGACY_PROFILE]);
    assert_logged_in(
        &run,
        SSO_LEGACY_START_URL,
        &format!("profile {SSO_LEGACY_PROFILE}"),
        TimeDelta::hours(1),
    );
    let ops = fake.ops();
    assert_eq!(
        ops[..2],
        ["RegisterClient", "StartDeviceAuthorization"],
        "{ops:?}"
    );
    assert_eq!(
        count_requests(&fake.requests(), "DeviceApprove", None),
        1,
        "{ops:?}"
    );
    assert_eq!(
        count_requests(&fake.requests(), "CreateToken", None),
        1,
        "{ops:?}"
    );
    // Keyed by the start URL; the registration by the start URL without session or scopes.
    let login = assert_sso_login_file(&s, SSO_LEGACY_START_URL, SSO_LEGACY_START_URL);
    let registration_name = sso_registration_name(SSO_LEGACY_START_URL, SSO_REGION, None, None);
    assert_registration_file(&s, &registration_name, &login);
    assert_only_login_and_registration(&s, SSO_LEGACY_START_URL, &registration_name);
}

#[test]
fn a_denied_or_expired_device_code_fails_without_writing_a_login() {
    for (poll, word) in [("access_denied", "denied"), ("expired_token", "expired")] {
        let fake = FakeSso::start(&json!({"device_polls": [poll]}));
        let mut s = sso_sandbox(&fake);
        s.env("EKS_TOKEN_TEST_BROWSER", "ignore");
        let run = login(&s, &["--profile", SSO_LEGACY_PROFILE]);
        run.without_prompt_urls(&browser_opens(&s))
            .assert_error(1, word);
        run.assert_within(Duration::from_secs(5));
        assert!(!sso_login_path(&s, SSO_LEGACY_START_URL).exists(), "{poll}");
        // One poll, answered with the error: no more.
        let log = fake.requests();
        assert_eq!(create_tokens(&log, DEVICE_GRANT).len(), 1, "{poll}");
    }
}

#[test]
fn no_browser_prints_the_url_and_the_printed_url_works() {
    let fake = FakeSso::start(&json!({}));
    let s = sso_sandbox(&fake);
    for (profile, page, key, start_url, what) in [
        (
            SSO_PROFILE,
            "/authorize?",
            SSO_SESSION,
            SSO_START_URL,
            format!("sso-session {SSO_SESSION}"),
        ),
        (
            SSO_LEGACY_PROFILE,
            "/device?user_code=",
            SSO_LEGACY_START_URL,
            SSO_LEGACY_START_URL,
            format!("profile {SSO_LEGACY_PROFILE}"),
        ),
    ] {
        let mut running = s.spawn(&[
            "login",
            "--profile",
            profile,
            "--no-browser",
            "--login-timeout",
            LOGIN_TIMEOUT,
        ]);
        let prefix = format!("{}{page}", fake.url());
        let line = running.stderr_line(Duration::from_secs(10), |l| l.contains(&prefix));
        let url = url_on_stderr(&line, &prefix);
        // A person copies the URL into a browser.
        let browser = open_in_browser(&s, &url, "approve", "manual-browser.log");
        assert_eq!(browser.code, 0, "the printed URL: {}", browser.stderr);
        let run = running.finish(Duration::from_secs(20));
        assert_logged_in(&run, start_url, &what, TimeDelta::hours(1));
        assert_sso_login_file(&s, key, start_url);
    }
    assert_eq!(
        browser_opens(&s),
        Vec::<String>::new(),
        "$BROWSER was called"
    );
}

#[test]
fn a_denial_in_the_browser_fails_with_denied_and_writes_no_login() {
    let (fake, s) = with_browser("deny");
    let run = login(&s, &["--profile", SSO_PROFILE]);
    run.without_prompt_urls(&browser_opens(&s))
        .assert_error(1, "denied");
    run.assert_within(Duration::from_secs(10));
    assert_eq!(count_requests(&fake.requests(), "AuthorizeDeny", None), 1);
    assert_no_login(&fake, &s);
}

/// The SSO sandbox with its test browser acting as `mode` (approve, deny, ignore).
fn with_browser(mode: &str) -> (FakeSso, Sandbox) {
    let fake = FakeSso::start(&json!({}));
    let mut s = sso_sandbox(&fake);
    s.env("EKS_TOKEN_TEST_BROWSER", mode);
    (fake, s)
}

/// A login that did not finish: the browser was opened once, no code was exchanged and
/// no login was written.
fn assert_no_login(fake: &FakeSso, s: &Sandbox) {
    assert_eq!(browser_opens(s).len(), 1);
    assert!(create_tokens(&fake.requests(), "authorization_code").is_empty());
    assert!(!sso_login_path(s, SSO_SESSION).exists());
}

#[test]
fn an_ignored_browser_tab_times_out_at_the_login_timeout() {
    let (fake, s) = with_browser("ignore");
    let run = s.run(&["login", "--profile", SSO_PROFILE, "--login-timeout", "2"]);
    run.without_prompt_urls(&browser_opens(&s))
        .assert_error(1, "timed out");
    assert!(run.elapsed >= Duration::from_secs(2), "{:?}", run.elapsed);
    run.assert_within(Duration::from_secs(2) + MARGIN);
    assert_no_login(&fake, &s);
}

/// Ctrl-C while the person has not signed in yet: one error line, nothing written.
#[test]
fn ctrl_c_cancels_a_login_cleanly() {
    let (fake, s) = with_browser("ignore");
    let mut running = s.spawn(&["login", "--profile", SSO_PROFILE, "--login-timeout", "30"]);
    // The prompt's URL line comes once the listener is up and the browser was started.
    running.stderr_line(Duration::from_secs(10), |l| l.contains("/authorize?"));
    let pid = running.pid();
    // SAFETY: kill(2) on the child's own pid.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGINT) }, 0);
    let run = running.finish(Duration::from_secs(5));
    run.without_prompt_urls(&browser_opens(&s)).assert_error(
        1,
        "cancelled: the login for sso-session corp was interrupted",
    );
    assert_eq!(
        run.hint(),
        format!("run `eks-token login --profile {SSO_PROFILE}` to try again")
    );
    assert_no_login(&fake, &s);
}

#[test]
fn a_profile_without_sso_is_refused() {
    let fake = FakeSso::start(&json!({}));
    let s = sso_sandbox(&fake);
    s.write(
        ".aws/credentials",
        "[keys]\naws_access_key_id = AKIAEXAMPLEKEYS00001\naws_secret_access_key = secret\n",
    );
    let run = login(&s, &["--profile", "keys"]);
    run.assert_error(1, "profile keys does not use IAM Identity Center");
    assert!(fake.ops().is_empty(), "{:?}", fake.ops());
    assert!(browser_opens(&s).is_empty());
}

/// The SSO login of [`SSO_SESSION`] expires `delta` from now, as far as the file says.
fn rewrite_expires_at(s: &Sandbox, delta: TimeDelta) -> Value {
    let mut login = read_sso_login(s, SSO_SESSION);
    login["expiresAt"] = json!(utc_in(delta));
    write_sso_login(s, SSO_SESSION, &login);
    login
}

/// How many refreshes `fake` answered.
fn refreshes(fake: &FakeSso) -> usize {
    create_tokens(&fake.requests(), "refresh_token")
        .iter()
        .filter(|r| r.error.is_none())
        .count()
}

/// The fake IAM Identity Center handing out the keys of IAM user alice in `moto` as its
/// role's credentials (so STS there tells who signed), and an SSO sandbox on both: the
/// fake, the sandbox, alice's access key id and secret.
fn alice_behind_sso(moto: &support::Process) -> (FakeSso, Sandbox, String, String) {
    let (alice_ak, alice_sk) = moto_iam_user(moto, "alice", "/");
    let fake = FakeSso::start(&json!({"roles": [{"account_id": SSO_ACCOUNT,
        "role_name": SSO_ROLE, "access_key_id": alice_ak, "secret_access_key": alice_sk,
        "session_token": "alice-session"}]}));
    let mut s = sso_sandbox(&fake);
    s.env("AWS_ENDPOINT_URL_STS", moto.url());
    (fake, s, alice_ak, alice_sk)
}

#[test]
fn botocore_uses_eks_tokens_login_and_eks_token_uses_botocores_refresh() {
    let moto = support::Process::moto();
    let (fake, s, alice_ak, alice_sk) = alice_behind_sso(&moto);
    let alice = "arn:aws:iam::123456789012:user/alice";

    assert_logged_in(
        &login(&s, &["--profile", SSO_PROFILE]),
        SSO_START_URL,
        &format!("sso-session {SSO_SESSION}"),
        TimeDelta::hours(1),
    );
    let logged_in = fake.requests().len();
    // The AWS CLI and botocore take the login eks-token wrote: no login of their own.
    assert_eq!(aws_cli_caller(&s, SSO_PROFILE), alice);
    assert_eq!(
        botocore_credentials(&s, SSO_PROFILE)["access_key"],
        alice_ak.as_str()
    );
    let after_cli = fake.requests();
    assert!(
        after_cli[logged_in..]
            .iter()
            .all(|r| r.op == "GetRoleCredentials" && r.error.is_none()),
        "{:?}",
        &after_cli[logged_in..]
    );

    // The login expires; botocore refreshes it and writes the file back.
    fake.expire();
    let before = rewrite_expires_at(&s, -TimeDelta::minutes(1));
    assert_eq!(
        botocore_credentials(&s, SSO_PROFILE)["access_key"],
        alice_ak.as_str()
    );
    assert_eq!(refreshes(&fake), 1);
    let refreshed = read_sso_login(&s, SSO_SESSION);
    assert_ne!(refreshed["accessToken"], before["accessToken"]);
    assert_ne!(refreshed["refreshToken"], before["refreshToken"]);

    // eks-token takes botocore's refreshed login as it is: no login, no second refresh.
    let requests = fake.requests().len();
    let run = s.run(&[
        "token",
        "-i",
        "c",
        "--profile",
        SSO_PROFILE,
        "--timeout",
        "5",
    ]);
    let verdict = verify_token(&run.token(), "c", &alice_sk);
    assert_eq!(verdict["access_key_id"], alice_ak.as_str());
    let whoami = s.run(&["whoami", "--profile", SSO_PROFILE, "--timeout", "5"]);
    assert_eq!(whoami.code, 0, "{}", whoami.stderr);
    assert!(whoami.stdout.contains(alice), "{}", whoami.stdout);
    // whoami signs with the role credentials the token run cached.
    let log = fake.requests();
    assert_eq!(
        log[requests..].iter().map(|r| &r.op).collect::<Vec<_>>(),
        ["GetRoleCredentials"],
        "{:?}",
        &log[requests..]
    );
    assert!(log[requests..].iter().all(|r| r.error.is_none()));
    assert_eq!(
        read_sso_login(&s, SSO_SESSION),
        refreshed,
        "eks-token left the file alone"
    );
    assert_eq!(browser_opens(&s).len(), 1, "one browser login in all");
}

#[test]
fn eks_token_refreshes_a_login_close_to_expiry_and_botocore_uses_it() {
    let fake = FakeSso::start(&json!({}));
    let (role_ak, role_sk, _) = sso_role_credentials(SSO_ACCOUNT, SSO_ROLE);
    let s = sso_sandbox(&fake);
    assert_eq!(login(&s, &["--profile", SSO_PROFILE]).code, 0);
    // Ten minutes left (under the 15-minute refresh window) and a refresh token.
    let before = rewrite_expires_at(&s, TimeDelta::minutes(10));
    let token = || {
        s.run(&[
            "token",
            "-i",
            "c",
            "--profile",
            SSO_PROFILE,
            "--no-cache",
            "--timeout",
            "5",
        ])
    };
    let run = token();
    let verdict = verify_token(&run.token(), "c", &role_sk);
    assert_eq!(verdict["access_key_id"], role_ak.as_str());
    assert_eq!(refreshes(&fake), 1);
    let after = assert_sso_login_file(&s, SSO_SESSION, SSO_START_URL);
    assert_eq!(file_mode(&sso_login_path(&s, SSO_SESSION)), 0o600);
    assert_ne!(after["accessToken"], before["accessToken"]);
    assert_ne!(after["refreshToken"], before["refreshToken"]);
    let left = parse_expires_at(after["expiresAt"].as_str().unwrap()) - Utc::now();
    assert!(
        left > TimeDelta::minutes(55),
        "refreshed login lasts {left}"
    );
    for field in [
        "startUrl",
        "region",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
    ] {
        assert_eq!(after[field], before[field], "{field} kept");
    }
    // botocore takes the refreshed login without refreshing again; so does eks-token.
    assert_eq!(
        botocore_credentials(&s, SSO_PROFILE)["access_key"],
        role_ak.as_str()
    );
    let run = token();
    verify_token(&run.token(), "c", &role_sk);
    assert_eq!(refreshes(&fake), 1);
    assert_eq!(count_requests(&fake.requests(), "RegisterClient", None), 1);
    assert_eq!(browser_opens(&s).len(), 1);
}

#[test]
fn logout_ends_the_login_and_removes_what_was_derived_from_it() {
    let fake = FakeSso::start(&json!({}));
    let s = sso_sandbox(&fake);
    s.write(
        ".aws/credentials",
        &format!(
            "[keys]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            support::AK,
            support::SK
        ),
    );
    assert_eq!(login(&s, &["--profile", SSO_PROFILE]).code, 0);
    let token = read_sso_login(&s, SSO_SESSION)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two tokens derived from the login, one that is not.
    for (cluster, profile) in [("c1", SSO_PROFILE), ("c2", SSO_PROFILE), ("c3", "keys")] {
        let run = s.run(&[
            "token",
            "-i",
            cluster,
            "--profile",
            profile,
            "--region",
            SSO_REGION,
        ]);
        run.token();
    }
    // Three tokens, and the SSO role credentials (after a blank line and a header).
    assert_eq!(s.run(&["cache", "list"]).stdout.lines().count(), 7);

    let run = s.run(&["logout", "--timeout", "5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "Logged out of {SSO_START_URL}.\nRemoved 2 cached tokens and 1 cached credential.\n"
        )
    );
    assert_eq!(count_requests(&fake.requests(), "Logout", None), 1);
    assert!(!sso_login_path(&s, SSO_SESSION).exists());
    let list = s.run(&["cache", "list", "--output", "json"]);
    let left: Value = serde_json::from_str(&list.stdout).unwrap();
    let left: Vec<&Value> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["cluster"])
        .collect();
    assert_eq!(left, [&json!("c3")], "{}", list.stdout);
    // The portal no longer takes the old token.
    let (status, _) = http_request(
        "GET",
        &format!(
            "{}/federation/credentials?role_name={SSO_ROLE}&account_id={SSO_ACCOUNT}",
            fake.url()
        ),
        &[("x-amz-sso_bearer_token", &token)],
        "",
    );
    assert_eq!(status, 401);

    let again = s.run(&["logout", "--timeout", "5"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "No IAM Identity Center logins are cached.\n");
    assert_eq!(count_requests(&fake.requests(), "Logout", None), 1);
}

/// Role credentials a role profile got through the login (its `source_profile` is the SSO
/// profile) are cached beside the tokens; logging out drops both, as the login they came
/// from is gone.
#[test]
fn logout_also_drops_role_credentials_that_came_from_the_login() {
    let moto = support::Process::moto();
    let (_fake, s, _, _) = alice_behind_sso(&moto);
    let config = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    s.write(
        ".aws/config",
        &format!(
            "{config}\n[profile eks-admin]\nrole_arn = arn:aws:iam::123456789012:role/eks-admin\nsource_profile = {SSO_PROFILE}\n"
        ),
    );
    assert_eq!(login(&s, &["--profile", SSO_PROFILE]).code, 0);
    for cluster in ["c1", "c2"] {
        let run = s.run(&[
            "token",
            "-i",
            cluster,
            "--profile",
            "eks-admin",
            "--region",
            SSO_REGION,
        ]);
        run.token();
    }
    let listed = |s: &Sandbox| -> Vec<String> {
        let list = s.run(&["cache", "list", "--output", "json"]);
        let entries: Value = serde_json::from_str(&list.stdout).unwrap();
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("token").to_owned())
            .collect()
    };
    let mut kinds = listed(&s);
    kinds.sort();
    assert_eq!(kinds, ["credentials", "token", "token"]);

    let run = s.run(&["logout", "--timeout", "5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "Logged out of {SSO_START_URL}.\nRemoved 2 cached tokens and 1 cached credential.\n"
        )
    );
    assert!(listed(&s).is_empty());
}
