//! The fake IAM Identity Center (`tests/peers/fake_sso.py`) and the test browser
//! (`tests/peers/test_browser.py`) against a real client: botocore's own `sso-oidc` and
//! `sso` clients and its SSO credential provider (`tests/peers/sso_client_check.py`). The
//! login tests trust the fake only as far as this test shows botocore reads it as it reads
//! the real service: error codes from `x-amzn-errortype`, the `error` field, the shapes.

mod support;

use serde_json::Value;
use support::{
    FakeSso, Run, Sandbox, browser_opens, count_requests, create_tokens, open_in_browser, python,
    repo_file, run_command,
};

#[test]
fn botocore_reads_the_fake_as_the_real_service() {
    let sandbox = Sandbox::new();
    let log_file = sandbox.path("fake-sso.log");
    let fake = FakeSso::with_args(&["--log", &log_file.display().to_string()]);
    let work = sandbox.path("check");
    std::fs::create_dir_all(&work).unwrap();
    let script = repo_file("tests/peers/sso_client_check.py");
    let browser = repo_file("tests/peers/test_browser.py");
    let cmd = sandbox.command_of(
        python(),
        &[
            &script.display().to_string(),
            "--url",
            &fake.url(),
            "--browser",
            &browser.display().to_string(),
            "--dir",
            &work.display().to_string(),
        ],
    );
    let run: Run = run_command(cmd);
    assert_eq!(run.code, 0, "sso_client_check failed: {}", run.stderr);
    let result: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|_| panic!("no JSON on stdout: {:?}", run.stdout));
    assert_eq!(result["ok"], true);
    // Device flow: approve and deny; code flow: wrong verifier, wrong redirect, success, deny.
    assert_eq!(result["browser_opens"], 6);
    let key = result["access_key_id"].as_str().unwrap();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(
        result["provider_access_key_id"], key,
        "same account and role"
    );

    let log = fake.requests();
    assert_eq!(count_requests(&log, "RegisterClient", None), 3);
    assert_eq!(count_requests(&log, "StartDeviceAuthorization", None), 3);
    assert_eq!(count_requests(&log, "Authorize", None), 5);
    assert_eq!(count_requests(&log, "AuthorizeApprove", None), 4);
    assert_eq!(count_requests(&log, "AuthorizeDeny", None), 1);
    assert_eq!(count_requests(&log, "DeviceApprove", None), 1);
    assert_eq!(count_requests(&log, "DeviceDeny", None), 1);
    for error in [
        "AuthorizationPendingException",
        "SlowDownException",
        "InvalidClientException",
    ] {
        assert_eq!(
            count_requests(&log, "CreateToken", Some(error)),
            1,
            "{error}"
        );
    }
    assert_eq!(
        count_requests(&log, "CreateToken", Some("AccessDeniedException")),
        2
    );
    assert_eq!(
        count_requests(&log, "CreateToken", Some("ExpiredTokenException")),
        2
    );
    // Device code reused, refresh token reused, and three authorization code refusals.
    assert_eq!(
        count_requests(&log, "CreateToken", Some("InvalidGrantException")),
        5
    );
    // GetRoleCredentials: two by hand, one by botocore's credential provider, one by the
    // AWS CLI.
    assert_eq!(count_requests(&log, "GetRoleCredentials", None), 4);
    assert_eq!(
        count_requests(&log, "GetRoleCredentials", Some("UnauthorizedException")),
        2
    );
    assert_eq!(count_requests(&log, "Logout", None), 2);
    // botocore's provider refreshed the expired cached token with the refresh_token grant.
    let refreshes = create_tokens(&log, "refresh_token")
        .iter()
        .filter(|r| r.error.is_none())
        .count();
    assert_eq!(refreshes, 2, "one by hand, one by the SSO token provider");

    // The log file holds the same entries and never a token, code, secret or verifier.
    let text = std::fs::read_to_string(&log_file).unwrap();
    assert_eq!(text.lines().count(), log.len());
    for secret in [
        "sso-at-",
        "sso-rt-",
        "fake-code-",
        "fake-secret-",
        "fake-device-",
    ] {
        assert!(!text.contains(secret), "the log holds a {secret}… value");
    }
}

#[test]
fn the_test_browser_records_each_open_and_prints_nothing() {
    let sandbox = Sandbox::new();
    let fake = FakeSso::start(&serde_json::json!({}));
    // Run as `$BROWSER` runs it: the script itself, with the sandbox PATH's python3.
    let open = |url: &str, mode: &str| open_in_browser(&sandbox, url, mode, "browser.log");
    // /authorize without its parameters: the fake answers 400, the browser fails on stderr.
    let missing = open(&format!("{}/authorize", fake.url()), "approve");
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stdout.is_empty(), "{:?}", missing.stdout);
    assert!(
        missing.stderr.starts_with("test_browser: "),
        "{}",
        missing.stderr
    );
    // A person who never looks: nothing is fetched.
    let ignored = open(&format!("{}/device?user_code=X", fake.url()), "ignore");
    assert_eq!(ignored.code, 0, "{}", ignored.stderr);
    assert!(ignored.stdout.is_empty() && ignored.stderr.is_empty());
    assert_eq!(
        browser_opens(&sandbox),
        [
            format!("{}/authorize", fake.url()),
            format!("{}/device?user_code=X", fake.url())
        ]
    );
    let log = fake.requests();
    assert_eq!(log.len(), 1, "only the first open fetched a page: {log:?}");
    let first = &log[0];
    assert_eq!(
        (
            first.op.as_str(),
            first.error.as_deref(),
            first.grant.as_deref()
        ),
        ("Authorize", Some("InvalidRequestException"), None)
    );
    assert_eq!(first.status, 400);
}
